// Package deploy checks the container image and the compose stack statically
// (no Docker engine needed): compose.yaml loads with the Compose
// specification's own loader, every service has what operations rely on, and
// no secret has a default an operator could forget to change.
package deploy

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// exampleEnv is .env.example as compose would read it.
func exampleEnv(t *testing.T) map[string]string {
	t.Helper()
	env, err := dotenv.Read(filepath.Join(repoRoot(), ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func load(t *testing.T, env map[string]string, profiles ...string) (*types.Project, error) {
	t.Helper()
	root := repoRoot()
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "compose.yaml")}},
		Environment: env,
	}, func(o *loader.Options) {
		o.SetProjectName("agente-hotel", true)
		o.Profiles = profiles
	})
}

// A variable holds a secret when its name says so.
var secretName = regexp.MustCompile(`(?i)(SECRET|PASSWORD|TOKEN|_KEY$|WEBHOOK_URL|REDISCLI_AUTH)`)

func TestComposeLoadsWithTheExampleEnvironment(t *testing.T) {
	p, err := load(t, exampleEnv(t), "qloapps")
	if err != nil {
		t.Fatalf("compose.yaml with .env.example: %v", err)
	}
	var names []string
	for name := range p.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	want := []string{"agente-caddy", "alertmanager", "alertmanager-config", "backup", "grafana", "jaeger", "mysql", "postgres", "prometheus", "qloapps", "redis", "slo-rules"}
	if !slices.Equal(names, want) {
		t.Errorf("services %v, want %v", names, want)
	}
	// Without the profile, QloApps and MySQL stay off, and their secrets
	// are not needed.
	env := exampleEnv(t)
	delete(env, "MYSQL_ROOT_PASSWORD")
	delete(env, "QLOAPPS_DB_PASSWORD")
	p, err = load(t, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, on := p.Services["qloapps"]; on {
		t.Error("qloapps runs without the qloapps profile")
	}
	if _, on := p.Services["mysql"]; on {
		t.Error("mysql runs without the qloapps profile")
	}
}

func TestComposeRefusesMissingSecrets(t *testing.T) {
	for _, name := range []string{"JWT_SECRET_KEY", "POSTGRES_PASSWORD", "WHATSAPP_APP_SECRET", "GRAFANA_PASSWORD", "DOMAIN"} {
		env := exampleEnv(t)
		delete(env, name)
		if _, err := load(t, env); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: %v, want an error naming it", name, err)
		}
	}
}

// interpolation matches ${NAME}, ${NAME:-default}, ${NAME-default},
// ${NAME:?message}, ${NAME?message}.
var interpolation = regexp.MustCompile(`\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}`)

// composeWithoutComments is compose.yaml minus its comment lines.
func composeWithoutComments(t *testing.T) string {
	var b strings.Builder
	for _, line := range strings.Split(read(t, "compose.yaml"), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func TestNoSecretHasADefault(t *testing.T) {
	raw := composeWithoutComments(t)
	secrets := 0
	for _, m := range interpolation.FindAllStringSubmatch(raw, -1) {
		name, op, arg := m[1], m[2], m[3]
		if !secretName.MatchString(name) {
			continue
		}
		secrets++
		if strings.HasSuffix(op, "-") && arg != "" {
			t.Errorf("%s: secret %s has the default %q; use ${%s:?...} or an empty default", m[0], name, arg, name)
		}
	}
	if secrets < 10 {
		t.Errorf("only %d secret interpolations found in compose.yaml", secrets)
	}
	// Nor a literal value: every secret in an environment block is interpolated.
	var doc struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	for svc, s := range doc.Services {
		for k, v := range s.Environment {
			if secretName.MatchString(k) && !strings.HasPrefix(v, "${") {
				t.Errorf("%s: %s is set literally in compose.yaml", svc, k)
			}
		}
	}
}

func TestEnvExampleHoldsOnlyPlaceholderSecrets(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot(), ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	placeholders := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf(".env.example: %q is not NAME=value", line)
			continue
		}
		if secretName.MatchString(name) || name == "DOMAIN" {
			if value != "" && !strings.HasPrefix(value, "CHANGE_ME") {
				t.Errorf(".env.example: %s=%q is not a CHANGE_ME placeholder", name, value)
			}
			if strings.HasPrefix(value, "CHANGE_ME") {
				placeholders++
			}
		}
	}
	if placeholders < 10 {
		t.Errorf("only %d CHANGE_ME placeholders", placeholders)
	}
	// Every variable compose requires is in the example.
	env := exampleEnv(t)
	for _, m := range interpolation.FindAllStringSubmatch(composeWithoutComments(t), -1) {
		if strings.Contains(m[2], "?") {
			if _, ok := env[m[1]]; !ok {
				t.Errorf("compose.yaml requires %s but .env.example lacks it", m[1])
			}
		}
	}
	if !strings.Contains(read(t, ".gitignore"), "/.env") {
		t.Error(".gitignore does not keep .env out of git")
	}
}

func TestComposeServices(t *testing.T) {
	p, err := load(t, exampleEnv(t), "qloapps")
	if err != nil {
		t.Fatal(err)
	}
	oneShot := map[string]bool{"slo-rules": true, "alertmanager-config": true}
	for name, s := range p.Services {
		if oneShot[name] {
			if s.Restart != "no" || s.NetworkMode != "none" {
				t.Errorf("%s: a one-shot renderer should not restart (%q) nor have a network (%q)", name, s.Restart, s.NetworkMode)
			}
			continue
		}
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 || s.HealthCheck.Disable {
			t.Errorf("%s: no healthcheck", name)
		}
		if s.Restart != "unless-stopped" {
			t.Errorf("%s: restart %q", name, s.Restart)
		}
		if s.Image != "" && strings.HasSuffix(s.Image, ":latest") && name != "qloapps" {
			t.Errorf("%s: image %s is not pinned", name, s.Image)
		}
	}

	edge := p.Services["agente-caddy"]
	if hc := strings.Join(edge.HealthCheck.Test, " "); !strings.Contains(hc, "agente-caddy healthcheck") {
		t.Errorf("agente-caddy healthcheck %q does not use the binary's own check", hc)
	}
	if !edge.ReadOnly || !slices.Contains(edge.CapDrop, "ALL") || !slices.Contains(edge.SecurityOpt, "no-new-privileges:true") {
		t.Errorf("agente-caddy is not hardened: read_only=%v cap_drop=%v security_opt=%v", edge.ReadOnly, edge.CapDrop, edge.SecurityOpt)
	}
	for dep, cond := range map[string]string{"postgres": "service_healthy", "redis": "service_healthy"} {
		if edge.DependsOn[dep].Condition != cond {
			t.Errorf("agente-caddy depends on %s with %q, want %s", dep, edge.DependsOn[dep].Condition, cond)
		}
	}
	for svc, want := range map[string][2]string{
		"prometheus":   {"slo-rules", "service_completed_successfully"},
		"alertmanager": {"alertmanager-config", "service_completed_successfully"},
		"grafana":      {"prometheus", "service_healthy"},
		"qloapps":      {"mysql", "service_healthy"},
	} {
		if got := p.Services[svc].DependsOn[want[0]].Condition; got != want[1] {
			t.Errorf("%s depends on %s with %q, want %s", svc, want[0], got, want[1])
		}
	}
	for k, want := range map[string]string{
		"ENVIRONMENT":                 "staging",
		"POSTGRES_URL":                "postgres://agente:CHANGE_ME@postgres:5432/agente?sslmode=disable",
		"REDIS_URL":                   "redis://:CHANGE_ME@redis:6379/0",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318",
		"INTERNAL_ADDRESS":            ":9180",
	} {
		if v := edge.Environment[k]; v == nil || *v != want {
			t.Errorf("agente-caddy %s = %v, want %q", k, v, want)
		}
	}
	// The internal listener is what Prometheus scrapes.
	if !strings.Contains(read(t, "observability/prometheus/prometheus.yml"), `"agente-caddy:9180"`) {
		t.Error("prometheus.yml does not scrape agente-caddy:9180")
	}
}

// The backup service runs the binary's backup loop with retention into its
// own volume, on the backend network only, from an image whose pg_dump has
// the compose Postgres's major version.
func TestComposeBackupService(t *testing.T) {
	p, err := load(t, exampleEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	b, ok := p.Services["backup"]
	if !ok {
		t.Fatal("no backup service")
	}
	if b.Build == nil || b.Build.Target != "backup" {
		t.Errorf("backup builds %+v, want the Dockerfile's backup target", b.Build)
	}
	cmd := strings.Join(b.Command, " ")
	for _, want := range []string{"backup --dir /backups", "--every 24h", "--keep 7"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("backup command %q lacks %q", cmd, want)
		}
	}
	if hc := strings.Join(b.HealthCheck.Test, " "); !strings.Contains(hc, "agente-caddy backup-status --dir /backups --max-age 26h") {
		t.Errorf("backup healthcheck %q does not check the newest backup's age", hc)
	}
	var volume bool
	for _, v := range b.Volumes {
		volume = volume || (v.Type == "volume" && v.Source == "backups" && v.Target == "/backups")
	}
	if !volume {
		t.Errorf("backup volumes %+v, want the backups volume at /backups", b.Volumes)
	}
	if _, ok := p.Volumes["backups"]; !ok {
		t.Error("no backups volume")
	}
	edge := p.Services["agente-caddy"]
	for _, k := range []string{"POSTGRES_URL", "REDIS_URL", "REDIS_KEY_PREFIX"} {
		if b.Environment[k] == nil || edge.Environment[k] == nil || *b.Environment[k] != *edge.Environment[k] {
			t.Errorf("backup's %s differs from agente-caddy's", k)
		}
	}
	for dep, cond := range map[string]string{"postgres": "service_healthy", "redis": "service_healthy"} {
		if b.DependsOn[dep].Condition != cond {
			t.Errorf("backup depends on %s with %q, want %s", dep, b.DependsOn[dep].Condition, cond)
		}
	}
	if _, front := b.Networks["frontend"]; front || len(b.Networks) != 1 {
		t.Errorf("backup on %v, want the backend network only", b.Networks)
	}
	if !b.ReadOnly || !slices.Contains(b.CapDrop, "ALL") {
		t.Errorf("backup is not hardened: read_only=%v cap_drop=%v", b.ReadOnly, b.CapDrop)
	}

	// pg_dump refuses a server of a newer major version than its own.
	major := regexp.MustCompile(`^postgres:(\d+)`)
	server := major.FindStringSubmatch(p.Services["postgres"].Image)
	client := regexp.MustCompile(`(?m)^FROM postgres:(\d+)\S* AS backup$`).FindStringSubmatch(read(t, "Dockerfile"))
	if server == nil || client == nil || server[1] != client[1] {
		t.Errorf("compose's Postgres image %q and the Dockerfile's backup stage (%v) do not share a major version", p.Services["postgres"].Image, client)
	}
}

func TestComposeNetworks(t *testing.T) {
	p, err := load(t, exampleEnv(t), "qloapps")
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := p.Networks["backend"]; !ok || !n.Internal {
		t.Errorf("backend network missing or not internal: %+v", n)
	}
	if _, ok := p.Networks["frontend"]; !ok {
		t.Error("frontend network missing")
	}
	on := func(svc string) []string {
		var out []string
		for n := range p.Services[svc].Networks {
			out = append(out, n)
		}
		slices.Sort(out)
		return out
	}
	for _, svc := range []string{"postgres", "redis", "mysql"} {
		if got := on(svc); !slices.Equal(got, []string{"backend"}) {
			t.Errorf("%s on %v, want only the internal backend", svc, got)
		}
		if len(p.Services[svc].Ports) != 0 {
			t.Errorf("%s publishes ports", svc)
		}
	}
	if got := on("agente-caddy"); !slices.Equal(got, []string{"backend", "frontend"}) {
		t.Errorf("agente-caddy on %v", got)
	}
	// Only the edge listens publicly; the ops UIs bind to the host's loopback.
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if name != "agente-caddy" && port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s on %q, want 127.0.0.1", name, port.Published, port.HostIP)
			}
		}
	}
}

func TestDockerfile(t *testing.T) {
	df := read(t, "Dockerfile")
	if n := len(regexp.MustCompile(`(?m)^FROM `).FindAllString(df, -1)); n < 2 {
		t.Errorf("%d stages, want a multi-stage build", n)
	}
	for _, want := range []string{
		"CGO_ENABLED=0",
		"USER 1000:1000",
		`"--config", "/etc/agente-caddy/Caddyfile.staging"`,
		"COPY caddy/ /etc/agente-caddy/caddy/",
		"FROM gcr.io/distroless/static",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	// The runtime image has no shell or curl: the healthcheck is the binary's own.
	healthcheck := regexp.MustCompile(`(?m)^HEALTHCHECK (?:.*\\\n)*.*$`).FindString(df)
	if !strings.HasSuffix(healthcheck, `CMD ["/usr/local/bin/agente-caddy", "healthcheck"]`) {
		t.Errorf("HEALTHCHECK %q does not run `agente-caddy healthcheck` (exec form)", healthcheck)
	}
	ignore := read(t, ".dockerignore")
	for _, want := range []string{".env", ".git", "bin"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(ignore) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}
