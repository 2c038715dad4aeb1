// Package synthetic is the original system's external health check
// (synthetic monitoring): it asks a deployment's /health/live (critical), /health/ready
// (important) and /metrics (optional), retrying each, and reports the worst
// outcome with Nagios-style exit codes so cron, Docker and monitoring agents
// can all use it. With a Slack webhook it also posts a message when the
// result is not OK, at most once per cooldown per base URL and status.
package synthetic

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Status is the outcome, ordered by severity; its value is the exit code.
type Status int

const (
	// OK: the critical and important checks passed (a failed optional check
	// is reported but does not change the status).
	OK Status = 0
	// Degraded: an important check failed (the service lives but is not ready).
	Degraded Status = 1
	// Down: a critical check failed.
	Down Status = 2
	// Unknown: the check could not run (bad configuration).
	Unknown Status = 3
)

func (s Status) String() string {
	switch s {
	case OK:
		return "OK"
	case Degraded:
		return "DEGRADED"
	case Down:
		return "DOWN"
	}
	return "UNKNOWN"
}

// Importance of one endpoint.
type Importance string

const (
	Critical  Importance = "critical"
	Important Importance = "important"
	Optional  Importance = "optional"
)

// Endpoint is one path to check.
type Endpoint struct {
	Path       string
	Importance Importance
	// Expect checks a 2xx answer's body: a status alone is no proof, since
	// a server answering for another host (or a proxy's placeholder page)
	// says 200 with nothing behind it.
	Expect func(body []byte) error `json:"-"`
}

// Endpoints are the three the original system's check asked.
var Endpoints = []Endpoint{
	{"/health/live", Critical, expectJSONField("status", "alive")},
	{"/health/ready", Important, expectJSONField("ready", true)},
	{"/metrics", Optional, expectPrometheusText},
}

// expectJSONField wants a JSON object whose key is want.
func expectJSONField(key string, want any) func([]byte) error {
	return func(body []byte) error {
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			return fmt.Errorf("body is not a JSON object: %q", abbreviate(body))
		}
		if got, ok := doc[key]; !ok || got != want {
			return fmt.Errorf("body has %s=%v, want %v: %q", key, got, want, abbreviate(body))
		}
		return nil
	}
}

// expectPrometheusText wants the text exposition format: metric
// descriptions (# HELP / # TYPE lines).
func expectPrometheusText(body []byte) error {
	if !bytes.Contains(body, []byte("# TYPE ")) {
		return fmt.Errorf("body is not Prometheus metrics: %q", abbreviate(body))
	}
	return nil
}

func abbreviate(b []byte) string {
	const max = 120
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// Guardrails kept from the original system's check: whatever is configured,
// at most 10 retries, a 60 s timeout, 1 s between requests, 5 min between
// alerts.
const (
	MaxRetriesCap  = 10
	MaxTimeout     = 60 * time.Second
	MinRetryDelay  = time.Second
	DefaultTimeout = 10 * time.Second
	DefaultRetries = 3
	AlertCooldown  = 5 * time.Minute
)

// Config is one run.
type Config struct {
	// BaseURL is HEALTH_CHECK_URL, e.g. https://api.hotel.example.
	BaseURL string
	// Timeout of each request (TIMEOUT; "10" or "10s").
	Timeout time.Duration
	// MaxRetries (MAX_RETRIES) is how many attempts an endpoint gets.
	MaxRetries int
	// SlackWebhook (SLACK_WEBHOOK) receives a message when the result is not OK.
	SlackWebhook string
	// StateDir keeps the alert cooldown's lock files (default os.TempDir()).
	StateDir string

	// Client, Sleep and Now are injected by tests.
	Client *http.Client
	Sleep  func(time.Duration)
	Now    func() time.Time
}

// Lookup is os.LookupEnv's shape.
type Lookup func(string) (string, bool)

// FromEnv reads HEALTH_CHECK_URL (default http://localhost:8080), TIMEOUT,
// MAX_RETRIES and SLACK_WEBHOOK, clamping them to the guardrails.
func FromEnv(lookup Lookup) (Config, error) {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	c := Config{BaseURL: get("HEALTH_CHECK_URL"), Timeout: DefaultTimeout, MaxRetries: DefaultRetries, SlackWebhook: get("SLACK_WEBHOOK")}
	if c.BaseURL == "" {
		c.BaseURL = "http://localhost:8080"
	}
	var errs []error
	if v := get("TIMEOUT"); v != "" {
		d, err := ParseTimeout(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("TIMEOUT: %w", err))
		}
		c.Timeout = d
	}
	if v := get("MAX_RETRIES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("MAX_RETRIES: %q must be a whole number >= 1", v))
		}
		c.MaxRetries = n
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, c.normalize()
}

// ParseTimeout accepts seconds ("10", the original system's form) or a Go
// duration ("10s").
func ParseTimeout(v string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n <= 0 {
			return 0, fmt.Errorf("%q must be positive", v)
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is neither seconds nor a positive duration", v)
	}
	return d, nil
}

// normalize checks the URL and applies the guardrails.
func (c *Config) normalize() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("HEALTH_CHECK_URL: %q is not an http(s) URL", c.BaseURL)
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	if c.SlackWebhook != "" {
		if u, err := url.Parse(c.SlackWebhook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("SLACK_WEBHOOK: not an http(s) URL")
		}
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	c.Timeout = min(c.Timeout, MaxTimeout)
	if c.MaxRetries < 1 {
		c.MaxRetries = DefaultRetries
	}
	c.MaxRetries = min(c.MaxRetries, MaxRetriesCap)
	if c.Client == nil {
		c.Client = &http.Client{}
	}
	if c.Sleep == nil {
		c.Sleep = time.Sleep
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.StateDir == "" {
		c.StateDir = os.TempDir()
	}
	return nil
}

// Result of one endpoint.
type Result struct {
	Endpoint
	OK       bool
	Attempts int
	Code     int    // last HTTP status, 0 when no answer
	Error    string // why the last attempt failed
	Latency  time.Duration
}

// Report is the whole run.
type Report struct {
	BaseURL string
	Status  Status
	Results []Result
	// Alerted says whether a Slack message was sent; AlertError why not.
	Alerted    bool
	AlertError string
}

// Run checks every endpoint and, when the result is not OK, alerts Slack.
func Run(ctx context.Context, c Config) (Report, error) {
	if err := c.normalize(); err != nil {
		return Report{Status: Unknown}, err
	}
	rep := Report{BaseURL: c.BaseURL, Status: OK}
	for _, ep := range Endpoints {
		res := check(ctx, c, ep)
		rep.Results = append(rep.Results, res)
		if res.OK {
			continue
		}
		switch ep.Importance {
		case Critical:
			rep.Status = max(rep.Status, Down)
		case Important:
			rep.Status = max(rep.Status, Degraded)
		}
	}
	if rep.Status != OK && c.SlackWebhook != "" {
		sent, err := alert(ctx, c, rep)
		rep.Alerted = sent
		if err != nil {
			rep.AlertError = err.Error()
		}
	}
	return rep, nil
}

func check(ctx context.Context, c Config, ep Endpoint) Result {
	res := Result{Endpoint: ep}
	for attempt := 1; attempt <= c.MaxRetries; attempt++ {
		if attempt > 1 {
			// Exponential backoff from the guardrail's 1 s minimum.
			c.Sleep(MinRetryDelay << (attempt - 2))
		}
		res.Attempts = attempt
		start := c.Now()
		code, err := get(ctx, c, c.BaseURL+ep.Path, ep.Expect)
		res.Latency = c.Now().Sub(start)
		res.Code = code
		if err == nil {
			res.OK, res.Error = true, ""
			return res
		}
		res.Error = err.Error()
		if ctx.Err() != nil {
			break
		}
	}
	return res
}

func get(ctx context.Context, c Config, u string, expect func([]byte) error) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "agente-caddy-synthetic-health-check")
	resp, err := c.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if err != nil {
		return resp.StatusCode, fmt.Errorf("reading the body: %w", err)
	}
	if expect != nil {
		if err := expect(body); err != nil {
			return resp.StatusCode, fmt.Errorf("HTTP %d but %w", resp.StatusCode, err)
		}
	}
	return resp.StatusCode, nil
}

// alert posts to Slack unless the same base URL and status alerted within the
// cooldown (a lock file's modification time marks the last alert).
func alert(ctx context.Context, c Config, rep Report) (bool, error) {
	sum := sha256.Sum256([]byte(rep.BaseURL + "|" + rep.Status.String()))
	lock := filepath.Join(c.StateDir, "agente-synthetic-"+hex.EncodeToString(sum[:8])+".lock")
	if st, err := os.Stat(lock); err == nil && c.Now().Sub(st.ModTime()) < AlertCooldown {
		return false, nil
	}
	var lines []string
	for _, r := range rep.Results {
		if !r.OK {
			lines = append(lines, fmt.Sprintf("• %s (%s): %s after %d attempt(s)", r.Path, r.Importance, r.Error, r.Attempts))
		}
	}
	body, _ := json.Marshal(map[string]string{
		"text": fmt.Sprintf("agente-caddy synthetic check: %s is %s\n%s", rep.BaseURL, rep.Status, strings.Join(lines, "\n")),
	})
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.SlackWebhook, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Client.Do(req)
	if err != nil {
		return false, fmt.Errorf("slack: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return false, fmt.Errorf("slack: HTTP %d", resp.StatusCode)
	}
	now := c.Now()
	if err := os.WriteFile(lock, nil, 0o600); err == nil {
		_ = os.Chtimes(lock, now, now)
	}
	return true, nil
}

// Write prints the report, one line per endpoint, then the status.
func (r Report) Write(w io.Writer) {
	for _, res := range r.Results {
		state := "ok"
		if !res.OK {
			state = "FAIL " + res.Error
		}
		fmt.Fprintf(w, "%-14s %-9s %s (attempts %d, %s)\n", res.Path, res.Importance, state, res.Attempts, res.Latency.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "%s: %s\n", r.BaseURL, r.Status)
	if r.Alerted {
		fmt.Fprintln(w, "alert sent to Slack")
	}
	if r.AlertError != "" {
		fmt.Fprintln(w, "alert not sent: "+r.AlertError)
	}
}
