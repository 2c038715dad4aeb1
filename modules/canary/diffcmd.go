package canary

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	"github.com/agentehotel/agente-caddy/internal/canary"
	"github.com/agentehotel/agente-caddy/internal/judge"
)

// Exit codes of canary-diff.
const (
	ExitPass         = 0
	ExitFail         = 1
	ExitInconclusive = 2
	// ExitSourceError: the admin API or Prometheus could not be reached or
	// answered something unusable, the flags were wrong, or the report could
	// not be written. No verdict.
	ExitSourceError = 3
)

// DefaultReportPath is where canary-diff writes the report when no other
// path is given.
const DefaultReportPath = ".playbook/canary_diff_report.json"

func init() {
	fs := flag.NewFlagSet("canary-diff", flag.ExitOnError)
	fs.String("name", "", "canary name (with --admin: optional when the proxy has exactly one canary)")
	fs.String("admin", "", "admin API address of the running proxy (default $CADDY_ADMIN or localhost:2019)")
	fs.String("prometheus", "", "Prometheus base URL; when set, the report is computed from PromQL instead of the admin API")
	fs.String("baseline-range", "", "PromQL range for the baseline (default $BASELINE_RANGE or 5m)")
	fs.String("canary-range", "", "PromQL range for the canary (default $CANARY_RANGE or 5m)")
	fs.String("out", DefaultReportPath, "report path")
	fs.Duration("timeout", 10*time.Second, "timeout of each request to the source")
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "canary-diff",
		Usage: "[--name <canary>] [--admin <addr> | --prometheus <url> [--baseline-range 5m] [--canary-range 5m]] [--out <path>]",
		Short: "Writes the baseline-vs-canary report; exits 0 PASS, 1 FAIL, 2 INCONCLUSIVE, 3 source error",
		Long: `
Writes the canary report (` + DefaultReportPath + ` by default):
{"status":"PASS|FAIL|INCONCLUSIVE","fail_reasons":[...],"baseline":{"requests":N,
"error_rate":x,"p95_seconds":y},"canary":{...},"limits":{...}}.

Source: by default the running proxy's admin API (GET /canary/<name>): the
verdict of the proxy's own judge over its window, with the proxy's limits.

With --prometheus URL, the per-arm numbers come from these instant queries
(R is BASELINE_RANGE for the baseline, CANARY_RANGE for the canary):
  sum(increase(canary_requests_total{name="<name>",arm="<arm>"}[R]))
  sum(increase(canary_errors_total{name="<name>",arm="<arm>"}[R]))
  sum by (le) (increase(canary_request_duration_seconds_bucket{name="<name>",arm="<arm>"}[R]))
p95 is interpolated from the buckets as histogram_quantile(0.95, ...) does,
the Mann-Whitney test runs on the bucket counts, and the limits come from
P95_INCREASE_LIMIT, ERR_INCREASE_LIMIT and ERR_ABS_MIN (defaults 1.10, 1.50,
0.005; 50 samples per arm; alpha 0.05).

Exit status: 0 PASS, 1 FAIL, 2 INCONCLUSIVE, 3 source unreachable or
unusable, bad flags, or report not written.
`,
		Flags: fs,
		Func:  cmdCanaryDiff,
	})
}

func cmdCanaryDiff(fl caddycmd.Flags) (int, error) {
	o := diffOptions{
		name:          fl.String("name"),
		admin:         fl.String("admin"),
		prometheus:    fl.String("prometheus"),
		baselineRange: fl.String("baseline-range"),
		canaryRange:   fl.String("canary-range"),
		out:           fl.String("out"),
		timeout:       fl.Duration("timeout"),
		getenv:        os.Getenv,
	}
	v, err := o.run(context.Background())
	if err != nil {
		return ExitSourceError, fmt.Errorf("canary-diff: %w", err)
	}
	fmt.Fprintf(os.Stderr, "canary-diff: %s (baseline %d requests, canary %d) → %s\n", v.Status, v.Baseline.Requests, v.Canary.Requests, o.out)
	for _, r := range v.FailReasons {
		fmt.Fprintf(os.Stderr, "  - %s\n", r)
	}
	code := exitCode(v.Status)
	if code == ExitFail {
		// Caddy's command wrapper turns status 1 without an error into 0.
		return code, errors.New("canary-diff: FAIL")
	}
	return code, nil
}

func exitCode(s judge.Status) int {
	switch s {
	case judge.Pass:
		return ExitPass
	case judge.Fail:
		return ExitFail
	}
	return ExitInconclusive
}

type diffOptions struct {
	name, admin, prometheus    string
	baselineRange, canaryRange string
	out                        string
	timeout                    time.Duration
	getenv                     func(string) string
}

// run computes the verdict from the chosen source and writes the report.
func (o diffOptions) run(ctx context.Context) (judge.Verdict, error) {
	if o.timeout <= 0 {
		o.timeout = 10 * time.Second
	}
	if o.getenv == nil {
		o.getenv = os.Getenv
	}
	var (
		v   judge.Verdict
		err error
	)
	if o.prometheus != "" {
		v, err = o.fromPrometheus(ctx)
	} else {
		v, err = o.fromAdmin(ctx)
	}
	if err != nil {
		return v, err
	}
	if o.out == "" {
		o.out = DefaultReportPath
	}
	if dir := filepath.Dir(o.out); dir != "." {
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
	if err := os.WriteFile(o.out, buf.Bytes(), 0o644); err != nil {
		return v, fmt.Errorf("writing report: %w", err)
	}
	return v, nil
}

// fromAdmin reads GET /canary/<name> of the running proxy.
func (o diffOptions) fromAdmin(ctx context.Context) (judge.Verdict, error) {
	addr := o.admin
	if addr == "" {
		addr = caddy.DefaultAdminListen // $CADDY_ADMIN or localhost:2019
	}
	na, err := caddy.ParseNetworkAddress(addr)
	if err != nil || na.PortRangeSize() != 1 {
		return judge.Verdict{}, fmt.Errorf("--admin %q is not a single admin address", addr)
	}
	origin := "http://" + na.JoinHostPort(0)
	if na.IsUnixNetwork() {
		origin = "http://127.0.0.1"
	}
	client := &http.Client{
		Timeout: o.timeout,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, na.Network, na.JoinHostPort(0))
		}},
	}
	get := func(path string, into any) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, origin+path, nil)
		if err != nil {
			return err
		}
		if !na.IsUnixNetwork() {
			req.Header.Set("Origin", origin)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("admin API at %s: %w", addr, err)
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

	name := o.name
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
func (o diffOptions) fromPrometheus(ctx context.Context) (judge.Verdict, error) {
	if o.name == "" {
		return judge.Verdict{}, errors.New("--name is required with --prometheus")
	}
	ranges := map[string]string{canary.BaselineArm: o.baselineRange, canary.CanaryArm: o.canaryRange}
	for arm, env := range map[string]string{canary.BaselineArm: "BASELINE_RANGE", canary.CanaryArm: "CANARY_RANGE"} {
		if ranges[arm] == "" {
			ranges[arm] = o.getenv(env)
		}
		if ranges[arm] == "" {
			ranges[arm] = "5m"
		}
		if !promRange.MatchString(ranges[arm]) {
			return judge.Verdict{}, fmt.Errorf("%s %q is not a PromQL duration (e.g. 5m)", env, ranges[arm])
		}
	}
	limits, err := judge.LimitsFromEnv(o.getenv)
	if err != nil {
		return judge.Verdict{}, err
	}
	base, err := url.Parse(strings.TrimRight(o.prometheus, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return judge.Verdict{}, fmt.Errorf("--prometheus %q is not an http(s) URL", o.prometheus)
	}
	pc := promClient{base: base.String(), client: &http.Client{Timeout: o.timeout}}

	samples := map[string]judge.ArmSample{}
	for _, arm := range []string{canary.BaselineArm, canary.CanaryArm} {
		sel := fmt.Sprintf(`{name=%s,arm=%s}`, strconv.Quote(o.name), strconv.Quote(arm))
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
	b, c := samples[canary.BaselineArm], samples[canary.CanaryArm]
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

type promClient struct {
	base   string
	client *http.Client
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant query that must answer a vector.
func (p promClient) query(ctx context.Context, q string) ([]promSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	var doc struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("prometheus: HTTP %d, unreadable answer to %s: %v", resp.StatusCode, q, err)
	}
	if doc.Status != "success" {
		return nil, fmt.Errorf("prometheus: query %s: %s (HTTP %d)", q, doc.Error, resp.StatusCode)
	}
	if doc.Data.ResultType != "vector" {
		return nil, fmt.Errorf("prometheus: query %s answered a %s, want a vector", q, doc.Data.ResultType)
	}
	return doc.Data.Result, nil
}

func sampleValue(s promSample) (float64, error) {
	str, ok := s.Value[1].(string)
	if !ok {
		return 0, fmt.Errorf("prometheus: sample value %v is not a string", s.Value[1])
	}
	return strconv.ParseFloat(str, 64)
}

// scalar is the single value of a sum(); no series (no data) is 0.
func (p promClient) scalar(ctx context.Context, q string) (float64, error) {
	res, err := p.query(ctx, q)
	if err != nil || len(res) == 0 {
		return 0, err
	}
	if len(res) > 1 {
		return 0, fmt.Errorf("prometheus: query %s answered %d series, want 1", q, len(res))
	}
	return sampleValue(res[0])
}

// buckets turns cumulative `le` buckets into a histogram of per-bin counts.
func (p promClient) buckets(ctx context.Context, q string) (judge.Histogram, error) {
	res, err := p.query(ctx, q)
	if err != nil {
		return judge.Histogram{}, err
	}
	type bucket struct{ le, cum float64 }
	bs := make([]bucket, 0, len(res))
	for _, s := range res {
		le, err := strconv.ParseFloat(s.Metric["le"], 64)
		if err != nil {
			return judge.Histogram{}, fmt.Errorf("prometheus: bucket le %q: %v", s.Metric["le"], err)
		}
		v, err := sampleValue(s)
		if err != nil {
			return judge.Histogram{}, err
		}
		bs = append(bs, bucket{le, v})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	h := judge.Histogram{Upper: make([]float64, len(bs)), Counts: make([]uint64, len(bs))}
	var prev uint64
	for i, b := range bs {
		h.Upper[i] = b.le
		c := count(b.cum)
		if c > prev {
			h.Counts[i] = c - prev
			prev = c
		}
	}
	return h, nil
}
