package canary

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
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

func init() {
	fs := flag.NewFlagSet("canary-diff", flag.ExitOnError)
	fs.String("name", "", "canary name (with --admin: optional when the proxy has exactly one canary)")
	fs.String("admin", "", "admin API address of the running proxy (default $CADDY_ADMIN or localhost:2019)")
	fs.String("prometheus", "", "Prometheus base URL; when set, the report is computed from PromQL instead of the admin API")
	fs.String("baseline-range", "", "PromQL range for the baseline (default $BASELINE_RANGE or 5m)")
	fs.String("canary-range", "", "PromQL range for the canary (default $CANARY_RANGE or 5m)")
	fs.String("out", canary.DefaultReportPath, "report path")
	fs.Duration("timeout", 10*time.Second, "timeout of each request to the source")
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "canary-diff",
		Usage: "[--name <canary>] [--admin <addr> | --prometheus <url> [--baseline-range 5m] [--canary-range 5m]] [--out <path>]",
		Short: "Writes the baseline-vs-canary report; exits 0 PASS, 1 FAIL, 2 INCONCLUSIVE, 3 source error",
		Long: `
Writes the canary report (` + canary.DefaultReportPath + ` by default):
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
		Diff: canary.Diff{
			Name:          fl.String("name"),
			Prometheus:    fl.String("prometheus"),
			BaselineRange: fl.String("baseline-range"),
			CanaryRange:   fl.String("canary-range"),
			Out:           fl.String("out"),
			Timeout:       fl.Duration("timeout"),
			Getenv:        os.Getenv,
		},
		admin: fl.String("admin"),
	}
	v, err := o.run(context.Background())
	if err != nil {
		return ExitSourceError, fmt.Errorf("canary-diff: %w", err)
	}
	fmt.Fprintf(os.Stderr, "canary-diff: %s (baseline %d requests, canary %d) → %s\n", v.Status, v.Baseline.Requests, v.Canary.Requests, o.Out)
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

// diffOptions are canary-diff's flags.
type diffOptions struct {
	canary.Diff
	// admin is the admin API address as Caddy takes it (a network address,
	// unix/ for a socket); empty: $CADDY_ADMIN or localhost:2019. Unused
	// with Prometheus.
	admin string
}

// run computes the verdict from the chosen source and writes the report.
func (o diffOptions) run(ctx context.Context) (judge.Verdict, error) {
	if o.Prometheus == "" {
		addr := o.admin
		if addr == "" {
			addr = caddy.DefaultAdminListen // $CADDY_ADMIN or localhost:2019
		}
		na, err := caddy.ParseNetworkAddress(addr)
		if err != nil || na.PortRangeSize() != 1 {
			return judge.Verdict{}, fmt.Errorf("--admin %q is not a single admin address", addr)
		}
		o.Admin = canary.AdminEndpoint{Address: addr, Network: na.Network, Dial: na.JoinHostPort(0), Unix: na.IsUnixNetwork()}
	}
	return o.Diff.Run(ctx)
}
