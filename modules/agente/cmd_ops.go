package agente

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/agentehotel/agente-caddy/internal/alertmanager"
	"github.com/agentehotel/agente-caddy/internal/slo"
	"github.com/agentehotel/agente-caddy/internal/synthetic"
)

// The operations subcommands: what the original system did with shell
// entrypoints (rendering Prometheus and Alertmanager configuration from the
// environment, the synthetic health check), plus the container's own health
// check.
func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "slo-rules",
		Usage: "[--target <percent>] [--budget-fraction <f>] [--traffic-floor <rps>] [--period <30d>] [--out <file>]",
		Short: "Renders the orchestrator SLO recording rules for Prometheus",
		Long: `
Renders the SLO recording rules (error budget, multi-window burn rates,
budget used/remaining and hours to exhaustion) for an SLO target. Flags
override the environment: --target SLO_TARGET (percent, default 99.0),
--budget-fraction ERROR_BUDGET_FRACTION (overrides 1 - target/100),
--traffic-floor SLO_TRAFFIC_FLOOR (msg/s under which SLO alerts stay quiet,
default 0.5), --period SLO_PERIOD (default 30d). Writes to stdout, or to
--out atomically.

  agente-caddy slo-rules --target 99.5 --out observability/prometheus/generated/slo_rules.yml`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("target", "", "SLO target in percent (default $SLO_TARGET or 99.0)")
			cmd.Flags().String("budget-fraction", "", "error budget fraction (default $ERROR_BUDGET_FRACTION or 1 - target/100)")
			cmd.Flags().String("traffic-floor", "", "global msg/s below which SLO alerts stay quiet (default $SLO_TRAFFIC_FLOOR or 0.5)")
			cmd.Flags().String("period", "", "SLO period, e.g. 30d or 720h (default $SLO_PERIOD or 30d)")
			cmd.Flags().String("out", "", "write here instead of stdout")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdSLORules)
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "alertmanager-config",
		Usage: "[--out <file> [--mode 0600]]",
		Short: "Renders the Alertmanager configuration from the environment",
		Long: `
Renders Alertmanager's configuration: the original system's routing tree
(security bloqueantes to security-team, critical to critical-alerts,
performance and availability to devops-team, other warnings to
warning-alerts) under a "null" default receiver. Integrations come from
the environment and are left off when their variables are missing, never
failing:
  SLACK_WEBHOOK_URL                       Slack on every receiver but "null"
  ALERT_EMAIL_TO + SMTP_HOST              email (ALERT_EMAIL_FROM, default SMTP_USER;
  [SMTP_PORT 587, SMTP_USER,              SMTP_REQUIRE_TLS default true)
   SMTP_PASSWORD, SMTP_REQUIRE_TLS]
Writes to stdout, or to --out atomically with --mode (default 0600: it
holds secrets; compose.yaml uses 0644 so Alertmanager, another user, can
read it from their private volume).`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("out", "", "write here instead of stdout")
			cmd.Flags().String("mode", "0600", "permissions of the --out file (octal)")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdAlertmanagerConfig)
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "synthetic-health-check",
		Usage: "[--url <base url>] [--timeout <10s>] [--max-retries <3>]",
		Short: "Checks a deployment from outside; exits 0 OK, 1 degraded, 2 down, 3 unknown",
		Long: `
The original system's synthetic monitor, for cron or an external prober.
Asks, with retries (exponential backoff from 1 s):
  /health/live   critical   failure: DOWN (exit 2)
  /health/ready  important  failure: DEGRADED (exit 1)
  /metrics       optional   failure is reported, exit unchanged
Exit 0 OK, 1 DEGRADED, 2 DOWN, 3 UNKNOWN (bad configuration).

Environment (flags override): HEALTH_CHECK_URL (default http://localhost:8080),
TIMEOUT per request (seconds or a duration, default 10, at most 60),
MAX_RETRIES attempts per endpoint (default 3, at most 10), SLACK_WEBHOOK
(optional: posts when not OK, at most once per 5 minutes per URL and status).`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("url", "", "base URL (default $HEALTH_CHECK_URL or http://localhost:8080)")
			cmd.Flags().String("timeout", "", "timeout of each request (default $TIMEOUT or 10s)")
			cmd.Flags().String("max-retries", "", "attempts per endpoint (default $MAX_RETRIES or 3)")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdSyntheticHealthCheck)
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "healthcheck",
		Usage: "[--url <url>] [--timeout <3s>]",
		Short: "Exits 0 when the liveness URL answers 2xx (the image's HEALTHCHECK)",
		Long: `
One GET of the liveness URL: exit 0 on a 2xx answer, 1 otherwise. The
container image has no shell or curl, so its HEALTHCHECK runs this. The URL
defaults to $HEALTHCHECK_URL, else http://127.0.0.1:9180/health/live (the
internal listener of Caddyfile.staging).`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("url", "", "liveness URL (default $HEALTHCHECK_URL or "+defaultHealthcheckURL+")")
			cmd.Flags().Duration("timeout", 3*time.Second, "give up after this long")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdHealthcheck)
		},
	})
}

const defaultHealthcheckURL = "http://127.0.0.1:9180/health/live"

// flagsOverEnv looks a variable up in the flag that overrides it when that
// flag was given, else in the environment.
func flagsOverEnv(fl caddycmd.Flags, flagForVar map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if f, ok := flagForVar[name]; ok && fl.Changed(f) {
			return fl.String(f), true
		}
		return os.LookupEnv(name)
	}
}

func cmdSLORules(fl caddycmd.Flags) (int, error) {
	p, err := slo.FromEnv(flagsOverEnv(fl, map[string]string{
		"SLO_TARGET": "target", "ERROR_BUDGET_FRACTION": "budget-fraction",
		"SLO_TRAFFIC_FLOOR": "traffic-floor", "SLO_PERIOD": "period",
	}))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	rules, err := slo.Render(p)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	return output(fl.String("out"), rules, 0o644)
}

func cmdAlertmanagerConfig(fl caddycmd.Flags) (int, error) {
	s, err := alertmanager.FromEnv(os.LookupEnv)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	for _, w := range s.Warnings {
		fmt.Fprintln(os.Stderr, "alertmanager-config: "+w)
	}
	mode, err := strconv.ParseUint(fl.String("mode"), 8, 32)
	if err != nil || mode > 0o777 {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("--mode %q is not an octal permission like 0600", fl.String("mode"))
	}
	cfg, err := alertmanager.Render(s)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	return output(fl.String("out"), cfg, os.FileMode(mode))
}

// output writes to stdout, or replaces path atomically so a reader (Prometheus,
// Alertmanager) never loads half a file.
func output(path string, body []byte, mode os.FileMode) (int, error) {
	if path == "" {
		_, err := os.Stdout.Write(body)
		if err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
		return 0, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return caddy.ExitCodeFailedStartup, err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return caddy.ExitCodeFailedStartup, err
	}
	if err := tmp.Close(); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	return 0, nil
}

func cmdSyntheticHealthCheck(fl caddycmd.Flags) (int, error) {
	cfg, err := synthetic.FromEnv(flagsOverEnv(fl, map[string]string{
		"HEALTH_CHECK_URL": "url", "TIMEOUT": "timeout", "MAX_RETRIES": "max-retries",
	}))
	if err != nil {
		return int(synthetic.Unknown), err
	}
	rep, err := synthetic.Run(context.Background(), cfg)
	if err != nil {
		return int(synthetic.Unknown), err
	}
	rep.Write(os.Stdout)
	if rep.Status == synthetic.OK {
		return 0, nil
	}
	// Caddy's command wrapper turns exit status 1 into 0 unless an error
	// comes with it.
	return int(rep.Status), fmt.Errorf("%s is %s", rep.BaseURL, rep.Status)
}

func cmdHealthcheck(fl caddycmd.Flags) (int, error) {
	url := fl.String("url")
	if url == "" {
		url = os.Getenv("HEALTHCHECK_URL")
	}
	if url == "" {
		url = defaultHealthcheckURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), fl.Duration("timeout"))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 1, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 1, err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 1, errors.New(url + ": " + resp.Status)
	}
	return 0, nil
}
