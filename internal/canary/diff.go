package canary

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/agentehotel/agente-caddy/internal/judge"
)

// DefaultReportPath is where canary-diff writes the report when no other
// path is given.
const DefaultReportPath = ".playbook/canary_diff_report.json"

// AdminEndpoint is where a running proxy's admin API listens.
type AdminEndpoint struct {
	// Address is the address as given, for messages.
	Address string
	// Network and Dial are what to dial: "tcp" and host:port, or "unix" and
	// a socket path.
	Network, Dial string
	// Unix is set for a Unix socket: the requests then go to a placeholder
	// host and carry no Origin header.
	Unix bool
}

// Diff is one run of canary-diff: where the numbers of a canary's baseline
// and canary arms come from, and where the report goes.
type Diff struct {
	// Name is the canary. With the admin API it may be empty when the proxy
	// has exactly one canary.
	Name string
	// Admin is the source unless Prometheus is set: the proxy's own verdict
	// over its window, with its limits (GET /canary/<name>).
	Admin AdminEndpoint
	// Prometheus is a Prometheus base URL; when set, the numbers come from
	// PromQL over the canary metrics, judged with the environment's limits.
	Prometheus string
	// BaselineRange and CanaryRange are the PromQL ranges of each arm.
	// Empty: $BASELINE_RANGE and $CANARY_RANGE, else 5m.
	BaselineRange, CanaryRange string
	// Out is the report's path. Default DefaultReportPath.
	Out string
	// Timeout bounds each request to the source. Default 10s.
	Timeout time.Duration
	// Getenv reads the environment; nil reads the process's.
	Getenv func(string) string
}

// Run computes the verdict from the chosen source and writes the report.
func (d Diff) Run(ctx context.Context) (judge.Verdict, error) {
	if d.Timeout <= 0 {
		d.Timeout = 10 * time.Second
	}
	if d.Getenv == nil {
		d.Getenv = os.Getenv
	}
	var (
		v   judge.Verdict
		err error
	)
	if d.Prometheus != "" {
		v, err = d.fromPrometheus(ctx)
	} else {
		v, err = d.fromAdmin(ctx)
	}
	if err != nil {
		return v, err
	}
	if d.Out == "" {
		d.Out = DefaultReportPath
	}
	if dir := filepath.Dir(d.Out); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return v, fmt.Errorf("writing report: %w", err)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // fail reasons say "p < alpha"
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return v, err
	}
	if err := os.WriteFile(d.Out, buf.Bytes(), 0o644); err != nil {
		return v, fmt.Errorf("writing report: %w", err)
	}
	return v, nil
}

// fromAdmin reads GET /canary/<name> of the running proxy.
func (d Diff) fromAdmin(ctx context.Context) (judge.Verdict, error) {
	ep := d.Admin
	origin := "http://" + ep.Dial
	if ep.Unix {
		origin = "http://127.0.0.1"
	}
	client := &http.Client{
		Timeout: d.Timeout,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dialer net.Dialer
			return dialer.DialContext(ctx, ep.Network, ep.Dial)
		}},
	}
	get := func(path string, into any) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, origin+path, nil)
		if err != nil {
			return err
		}
		if !ep.Unix {
			req.Header.Set("Origin", origin)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("admin API at %s: %w", ep.Address, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("admin API GET %s: HTTP %d: %s", path, resp.StatusCode, strings.TrimSpace(string(body)))
		}
		if err := json.Unmarshal(body, into); err != nil {
			return fmt.Errorf("admin API GET %s: %w", path, err)
		}
		return nil
	}

	name := d.Name
	if name == "" {
		var all struct {
			Canaries []struct {
				Name string `json:"name"`
			} `json:"canaries"`
		}
		if err := get("/canary/", &all); err != nil {
			return judge.Verdict{}, err
		}
		if len(all.Canaries) != 1 {
			names := make([]string, len(all.Canaries))
			for i, c := range all.Canaries {
				names[i] = c.Name
			}
			return judge.Verdict{}, fmt.Errorf("the proxy has %d canaries %v; choose one with --name", len(names), names)
		}
		name = all.Canaries[0].Name
	}
	var one struct {
		Verdict *judge.Verdict `json:"verdict"`
	}
	if err := get("/canary/"+url.PathEscape(name), &one); err != nil {
		return judge.Verdict{}, err
	}
	if one.Verdict == nil || one.Verdict.Status == "" {
		return judge.Verdict{}, fmt.Errorf("admin API answered no verdict for canary %q", name)
	}
	if one.Verdict.FailReasons == nil {
		one.Verdict.FailReasons = []string{}
	}
	return *one.Verdict, nil
}

var promRange = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)

// fromPrometheus computes the verdict from the canary metrics in Prometheus.
func (d Diff) fromPrometheus(ctx context.Context) (judge.Verdict, error) {
	if d.Name == "" {
		return judge.Verdict{}, errors.New("--name is required with --prometheus")
	}
	ranges := map[string]string{BaselineArm: d.BaselineRange, CanaryArm: d.CanaryRange}
	for arm, env := range map[string]string{BaselineArm: "BASELINE_RANGE", CanaryArm: "CANARY_RANGE"} {
		if ranges[arm] == "" {
			ranges[arm] = d.Getenv(env)
		}
		if ranges[arm] == "" {
			ranges[arm] = "5m"
		}
		if !promRange.MatchString(ranges[arm]) {
			return judge.Verdict{}, fmt.Errorf("%s %q is not a PromQL duration (e.g. 5m)", env, ranges[arm])
		}
	}
	limits, err := judge.LimitsFromEnv(d.Getenv)
	if err != nil {
		return judge.Verdict{}, err
	}
	base, err := url.Parse(strings.TrimRight(d.Prometheus, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return judge.Verdict{}, fmt.Errorf("--prometheus %q is not an http(s) URL", d.Prometheus)
	}
	pc := promClient{base: base.String(), client: &http.Client{Timeout: d.Timeout}}

	samples := map[string]judge.ArmSample{}
	for _, arm := range []string{BaselineArm, CanaryArm} {
		sel := fmt.Sprintf(`{name=%s,arm=%s}`, strconv.Quote(d.Name), strconv.Quote(arm))
		r := ranges[arm]
		req, err := pc.scalar(ctx, fmt.Sprintf(`sum(increase(canary_requests_total%s[%s]))`, sel, r))
		if err != nil {
			return judge.Verdict{}, err
		}
		errs, err := pc.scalar(ctx, fmt.Sprintf(`sum(increase(canary_errors_total%s[%s]))`, sel, r))
		if err != nil {
			return judge.Verdict{}, err
		}
		h, err := pc.buckets(ctx, fmt.Sprintf(`sum by (le) (increase(canary_request_duration_seconds_bucket%s[%s]))`, sel, r))
		if err != nil {
			return judge.Verdict{}, err
		}
		samples[arm] = judge.ArmSample{Requests: count(req), Errors: min(count(errs), count(req)), Latency: h}
	}
	b, c := samples[BaselineArm], samples[CanaryArm]
	// An arm without traffic has no buckets; give it the other's bins.
	if len(b.Latency.Upper) == 0 {
		b.Latency = judge.Histogram{Upper: c.Latency.Upper, Counts: make([]uint64, len(c.Latency.Upper))}
	}
	if len(c.Latency.Upper) == 0 {
		c.Latency = judge.Histogram{Upper: b.Latency.Upper, Counts: make([]uint64, len(b.Latency.Upper))}
	}
	return judge.Judge(limits, b, c), nil
}

// count rounds an increase() (extrapolated, so fractional) to a count.
func count(f float64) uint64 {
	if !(f > 0) || math.IsInf(f, 0) {
		return 0
	}
	return uint64(math.Round(f))
}
