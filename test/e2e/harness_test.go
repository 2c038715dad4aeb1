package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/testservices"
)

// The end-to-end tests run the real agente-caddy binary: AGENTE_CADDY_BIN
// when set (make test builds bin/agente-caddy first), otherwise one built
// here once per run.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// TestMain removes the binary built here (about 90 MB) after the run. Run
// with graphProcessEnv set, the binary is a fake Graph API instead.
func TestMain(m *testing.M) {
	if os.Getenv(graphProcessEnv) != "" {
		graphProcessMain()
		return
	}
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary returns the path of the binary under test.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("AGENTE_CADDY_BIN"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "agente-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "agente-caddy")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/agente-caddy")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Options describe one instance.
type Options struct {
	// Config is the Caddyfile path, relative to the repository root
	// (default "Caddyfile"), run from the repository root so its imports resolve.
	Config string
	// Env is added to a minimal environment (PATH, HOME, ENVIRONMENT=development).
	Env map[string]string
	// SitePort and AdminPort default to free ports.
	SitePort, AdminPort int
	// ReadyPath is polled until it answers; default /health/live.
	ReadyPath string
}

// Instance is a running binary.
type Instance struct {
	t         testing.TB
	cmd       *exec.Cmd
	done      chan struct{}
	logs      *syncBuffer
	SitePort  int
	AdminPort int
	opts      Options
}

// Start runs the binary with opts and waits until it serves.
func Start(t testing.TB, opts Options) *Instance {
	t.Helper()
	if opts.Config == "" {
		opts.Config = "Caddyfile"
	}
	if opts.ReadyPath == "" {
		opts.ReadyPath = "/health/live"
	}
	if opts.SitePort == 0 {
		opts.SitePort = testservices.FreePort(t)
	}
	if opts.AdminPort == 0 {
		opts.AdminPort = testservices.FreePort(t)
	}
	in := &Instance{t: t, SitePort: opts.SitePort, AdminPort: opts.AdminPort, opts: opts}
	// Registered first: a start that fails (Fatalf) leaves no process behind.
	t.Cleanup(in.Stop)
	in.start()
	return in
}

func (in *Instance) env() []string {
	env := map[string]string{
		"PATH":         os.Getenv("PATH"),
		"HOME":         os.TempDir(),
		"ENVIRONMENT":  "development",
		"SITE_ADDRESS": fmt.Sprintf("127.0.0.1:%d", in.SitePort),
		"CADDY_ADMIN":  fmt.Sprintf("127.0.0.1:%d", in.AdminPort),
	}
	for k, v := range in.opts.Env {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func (in *Instance) start() {
	t := in.t
	t.Helper()
	in.logs = &syncBuffer{}
	in.cmd = exec.Command(Binary(t), "run", "--config", in.opts.Config, "--adapter", "caddyfile")
	in.cmd.Dir = RepoRoot()
	in.cmd.Env = in.env()
	in.cmd.Stdout, in.cmd.Stderr = in.logs, in.logs
	in.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in.done = make(chan struct{})
	go func() { _ = in.cmd.Wait(); close(in.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-in.done:
			t.Fatalf("agente-caddy exited during start:\n%s", in.logs.String())
		default:
		}
		resp, err := http.Get(in.URL(in.opts.ReadyPath))
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			// Only our binary answers its liveness this way: a server of
			// another test that held the port a moment ago does not.
			ours := in.opts.ReadyPath != "/health/live" || strings.Contains(string(body), "alive")
			if resp.StatusCode < 500 && ours {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("agente-caddy did not serve %s within 30s:\n%s", in.opts.ReadyPath, in.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL is the site URL of path.
func (in *Instance) URL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", in.SitePort, path)
}

// AdminURL is the Caddy admin API URL of path.
func (in *Instance) AdminURL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", in.AdminPort, path)
}

// Logs is everything the process wrote so far.
func (in *Instance) Logs() string { return in.logs.String() }

// Stop ends the process gracefully (SIGTERM, then SIGKILL after 10s).
func (in *Instance) Stop() {
	if in.done == nil { // never started
		return
	}
	select {
	case <-in.done:
		return
	default:
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
		<-in.done
	}
	if in.t.Failed() {
		in.t.Logf("agente-caddy logs (site %d):\n%s", in.SitePort, in.logs.String())
	}
}

// Kill ends the process with SIGKILL, as a crash would.
func (in *Instance) Kill() {
	_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
	<-in.done
}

// Restart starts the process again with the same options after Stop or Kill.
func (in *Instance) Restart() { in.start() }

// Reload posts a Caddyfile to the admin API's /load, as `caddy reload` does.
func (in *Instance) Reload(caddyfile []byte) {
	in.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, in.AdminURL("/load"), bytes.NewReader(caddyfile))
	req.Header.Set("Content-Type", "text/caddyfile")
	// Caddy skips a /load whose config equals the running one unless asked.
	req.Header.Set("Cache-Control", "must-revalidate")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		in.t.Fatalf("reload: %d %s\n%s", resp.StatusCode, b, in.Logs())
	}
}

// Run runs a subcommand of the binary and returns its combined output and exit code.
func Run(t testing.TB, env map[string]string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	cmd.Dir = RepoRoot()
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	for k, v := range env {
		base = append(base, k+"="+v)
	}
	cmd.Env = base
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return string(out), code
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Do sends a request and returns status, headers and body.
func Do(t testing.TB, method, url string, body []byte, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body = http.NoBody
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, strings.TrimSpace(string(b))
}
