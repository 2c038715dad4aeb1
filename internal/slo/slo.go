// Package slo renders the orchestrator's SLO recording rules (the original
// system's SLO parametrisation) from a target, so the error budget, burn
// rates and exhaustion forecasts always agree with the SLO an operator chose.
//
// The rules are a template with three inputs: the target (SLO_TARGET, in
// percent), the error budget fraction (1 - target/100, or ERROR_BUDGET_FRACTION
// when set) and the traffic floor below which SLO alerts stay quiet
// (SLO_TRAFFIC_FLOOR, messages per second). The alerts in
// observability/prometheus/alerts.yml only compare these recorded series with
// multiples of the budget, so they never need rendering.
package slo

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Defaults, the original system's.
const (
	DefaultTarget       = 99.0
	DefaultTrafficFloor = 0.5
	DefaultPeriod       = 30 * 24 * time.Hour
)

// Params are the inputs of the rules.
type Params struct {
	// Target is the share of orchestrator messages that must succeed, in
	// percent (0 < Target < 100).
	Target float64
	// BudgetFraction is the share of messages allowed to fail. Zero means
	// 1 - Target/100.
	BudgetFraction float64
	// TrafficFloor is the global message rate (per second) under which SLO
	// alerts do not fire: a handful of messages cannot say much about a
	// percentage.
	TrafficFloor float64
	// Period is the SLO period over which the whole budget is spent (the
	// "30 days" of "99% over 30 days"); the exhaustion forecasts use it.
	Period time.Duration
}

// Default returns the original system's parameters: 99% over 30 days, floor
// 0.5 msg/s.
func Default() Params {
	return Params{Target: DefaultTarget, TrafficFloor: DefaultTrafficFloor, Period: DefaultPeriod}
}

// Lookup is os.LookupEnv's shape.
type Lookup func(string) (string, bool)

// FromEnv reads SLO_TARGET, ERROR_BUDGET_FRACTION, SLO_TRAFFIC_FLOOR and
// SLO_PERIOD over the defaults. A malformed value is an error naming the
// variable.
func FromEnv(lookup Lookup) (Params, error) {
	p := Default()
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	var errs []error
	number := func(k string, dst *float64) {
		if v := get(k); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a number", k, v))
				return
			}
			*dst = f
		}
	}
	number("SLO_TARGET", &p.Target)
	number("ERROR_BUDGET_FRACTION", &p.BudgetFraction)
	number("SLO_TRAFFIC_FLOOR", &p.TrafficFloor)
	if v := get("SLO_PERIOD"); v != "" {
		d, err := ParsePeriod(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("SLO_PERIOD: %w", err))
		} else {
			p.Period = d
		}
	}
	if err := errors.Join(errs...); err != nil {
		return p, err
	}
	return p, p.Validate()
}

// ParsePeriod reads a duration that may be written in days ("30d", "7d") as
// well as in Go's units ("720h").
func ParsePeriod(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%q is not a whole number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 30d, 720h)", s)
	}
	return d, nil
}

// Validate rejects parameters that would make every rule meaningless, naming
// the variable an operator sets.
func (p Params) Validate() error {
	var errs []error
	if !(p.Target > 0 && p.Target < 100) {
		errs = append(errs, fmt.Errorf("SLO_TARGET: %v must be a percentage strictly between 0 and 100", p.Target))
	}
	if p.BudgetFraction != 0 && !(p.BudgetFraction > 0 && p.BudgetFraction < 1) {
		errs = append(errs, fmt.Errorf("ERROR_BUDGET_FRACTION: %v must be strictly between 0 and 1", p.BudgetFraction))
	}
	if p.TrafficFloor < 0 || math.IsNaN(p.TrafficFloor) || math.IsInf(p.TrafficFloor, 0) {
		errs = append(errs, fmt.Errorf("SLO_TRAFFIC_FLOOR: %v must be a rate >= 0", p.TrafficFloor))
	}
	if p.Period < time.Hour || p.Period%time.Minute != 0 {
		errs = append(errs, fmt.Errorf("SLO_PERIOD: %v must be at least 1h, in whole minutes", p.Period))
	}
	return errors.Join(errs...)
}

// Budget is the effective error budget fraction.
func (p Params) Budget() float64 {
	if p.BudgetFraction != 0 {
		return p.BudgetFraction
	}
	// (100 - t) / 100 rather than 1 - t/100: fewer rounding digits to trim.
	return (100 - p.Target) / 100
}

// Windows of the multi-window burn rates. The original system names four
// series (orchestrator_burn_rate_fast, _slow, _fast2, _slow2); the windows
// are the classic multiwindow pairs: a warning needs fast (30m) > 2 and
// slow (6h) > 1, a page needs fast2 (5m) > 14.4 and slow2 (1h) > 6.
var burnWindows = []struct{ Name, Window string }{
	{"fast", "30m"},
	{"slow", "6h"},
	{"fast2", "5m"},
	{"slow2", "1h"},
}

// Render returns the rule file for p.
func Render(p Params) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	budget := p.Budget()
	data := map[string]any{
		"Target":      num(p.Target),
		"TargetRatio": num(1 - budget),
		"Budget":      num(budget),
		"Floor":       num(p.TrafficFloor),
		"Period":      promDuration(p.Period),
		"PeriodHours": num(p.Period.Hours()),
		"Windows":     []string{"5m", "30m", "1h", "6h"},
		"Burn":        burnWindows,
		"Override":    p.BudgetFraction != 0,
	}
	var buf bytes.Buffer
	if err := rulesTemplate.Execute(&buf, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// num writes a number without float noise (0.005, not 0.0050000000000000044).
func num(f float64) string {
	return strconv.FormatFloat(f, 'g', 10, 64)
}

// promDuration writes d in Prometheus's syntax, in the largest whole unit.
func promDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	default:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
}

var rulesTemplate = template.Must(template.New("slo").Parse(`# Orchestrator SLO recording rules.
# GENERATED by ` + "`agente-caddy slo-rules`" + ` (internal/slo); do not edit by hand.
# Inputs: SLO target {{.Target}}%{{if .Override}} (budget overridden by ERROR_BUDGET_FRACTION){{end}}, error budget fraction {{.Budget}},
# traffic floor {{.Floor}} msg/s, SLO period {{.Period}}.
#
# Burn rate = error ratio over a window / error budget fraction: 1 spends the
# budget exactly over the period, 14.4 spends 2% of a 30-day budget in 1h.
groups:
  - name: orchestrator_slo
    interval: 30s
    rules:
      # The inputs, as series, for dashboards and for alerts that compare with them.
      - record: orchestrator_slo_target
        expr: vector({{.TargetRatio}})
      - record: orchestrator_error_budget_fraction
        expr: vector({{.Budget}})
      - record: orchestrator_slo_traffic_floor
        expr: vector({{.Floor}})
      - record: orchestrator_slo_period_hours
        expr: vector({{.PeriodHours}})
      # Global message rate; SLO alerts need it above the traffic floor.
      - record: orchestrator_message_rate_all
        expr: sum(rate(orchestrator_messages_total[5m]))
{{- range .Windows}}
      - record: orchestrator_error_ratio_{{.}}
        expr: (sum(rate(orchestrator_messages_total{status="error"}[{{.}}])) or vector(0)) / clamp_min(sum(rate(orchestrator_messages_total[{{.}}])), 0.000001)
{{- end}}
      - record: orchestrator_success_ratio_5m
        expr: 1 - orchestrator_error_ratio_5m
{{- range .Burn}}
      - record: orchestrator_burn_rate_{{.Name}}
        expr: orchestrator_error_ratio_{{.Window}} / {{$.Budget}}
{{- end}}
      # Share of the budget the last 30 minutes used (1 = exactly their allowance).
      - record: orchestrator_error_budget_used_ratio_30m
        expr: orchestrator_error_ratio_30m / {{.Budget}}
      - record: orchestrator_error_budget_remaining_ratio_30m
        expr: clamp_min(1 - orchestrator_error_budget_used_ratio_30m, 0)
      # Hours until the budget left in the period is gone at the current burn
      # rate: remaining share x period hours / burn rate.
      - record: orchestrator_error_budget_hours_to_exhaust_fast
        expr: orchestrator_error_budget_remaining_ratio_period * {{.PeriodHours}} / clamp_min(orchestrator_burn_rate_fast, 0.000001)
      - record: orchestrator_error_budget_hours_to_exhaust_slow
        expr: orchestrator_error_budget_remaining_ratio_period * {{.PeriodHours}} / clamp_min(orchestrator_burn_rate_slow, 0.000001)

  # The whole period is a long range: evaluated less often, in its own group.
  - name: orchestrator_slo_period
    interval: 1m
    rules:
      - record: orchestrator_error_ratio_period
        expr: (sum(increase(orchestrator_messages_total{status="error"}[{{.Period}}])) or vector(0)) / clamp_min(sum(increase(orchestrator_messages_total[{{.Period}}])), 0.000001)
      - record: orchestrator_error_budget_remaining_ratio_period
        expr: clamp_min(1 - orchestrator_error_ratio_period / {{.Budget}}, 0)
`))
