// Package alertmanager renders the Alertmanager configuration of the
// agente-caddy stack from the environment (as the original system did: Slack
// when SLACK_WEBHOOK_URL is set, email when ALERT_EMAIL_TO and SMTP_* are set,
// and always a "null" default receiver so a missing variable never breaks
// Alertmanager) with the original system's routing tree (security bloqueantes
// to the security team, critical to the on-call channel, performance and
// availability to DevOps).
//
// Receivers exist whether or not a channel is configured: a receiver with no
// integrations drops what it gets, exactly like "null", so the routing tree
// is the same in every environment and only the integrations change.
package alertmanager

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Lookup is os.LookupEnv's shape.
type Lookup func(string) (string, bool)

// Settings are the channels alerts may reach.
type Settings struct {
	// SlackWebhookURL (SLACK_WEBHOOK_URL) enables Slack.
	SlackWebhookURL string
	// Email is enabled when To and SMTPHost are set.
	EmailTo, EmailFrom     string // ALERT_EMAIL_TO, ALERT_EMAIL_FROM (default SMTP_USER)
	SMTPHost               string // SMTP_HOST
	SMTPPort               int    // SMTP_PORT, default 587
	SMTPUser, SMTPPassword string // SMTP_USER, SMTP_PASSWORD
	SMTPRequireTLS         bool   // SMTP_REQUIRE_TLS, default true
	// Warnings say which half-configured channel was left off.
	Warnings []string
}

// Receiver names of the routing tree.
const (
	NullReceiver     = "null"
	CriticalReceiver = "critical-alerts"
	SecurityReceiver = "security-team"
	DevOpsReceiver   = "devops-team"
	WarningReceiver  = "warning-alerts"
)

// Slack channels of the original system's routing.
var slackChannels = map[string]string{
	CriticalReceiver: "#agente-hotel-alerts",
	SecurityReceiver: "#security-alerts",
	DevOpsReceiver:   "#devops-alerts",
	WarningReceiver:  "#agente-hotel-alerts",
}

// FromEnv reads the settings. Missing variables leave a channel off and are
// never an error (as in the original system); a half-configured channel is
// left off with a warning saying what is missing; only a value that is
// present but malformed is an error, naming the variable.
func FromEnv(lookup Lookup) (Settings, error) {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	s := Settings{
		SlackWebhookURL: get("SLACK_WEBHOOK_URL"),
		EmailTo:         get("ALERT_EMAIL_TO"),
		EmailFrom:       get("ALERT_EMAIL_FROM"),
		SMTPHost:        get("SMTP_HOST"),
		SMTPPort:        587,
		SMTPUser:        get("SMTP_USER"),
		SMTPPassword:    get("SMTP_PASSWORD"),
		SMTPRequireTLS:  true,
	}
	var errs []error
	if v := get("SMTP_PORT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("SMTP_PORT: %q is not a port number", v))
		}
		s.SMTPPort = n
	}
	if v := get("SMTP_REQUIRE_TLS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("SMTP_REQUIRE_TLS: %q is not a boolean", v))
		}
		s.SMTPRequireTLS = b
	}
	if s.SlackWebhookURL != "" {
		u, err := url.Parse(s.SlackWebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, errors.New("SLACK_WEBHOOK_URL: not an http(s) URL"))
		}
	}
	switch {
	case s.EmailTo == "" && s.SMTPHost == "":
	case s.EmailTo == "":
		s.Warnings = append(s.Warnings, "SMTP_HOST is set but ALERT_EMAIL_TO is not: email alerts are off")
	case s.SMTPHost == "":
		s.Warnings = append(s.Warnings, "ALERT_EMAIL_TO is set but SMTP_HOST is not: email alerts are off")
	default:
		if s.EmailFrom == "" {
			s.EmailFrom = s.SMTPUser
		}
		if _, err := mail.ParseAddressList(s.EmailTo); err != nil {
			errs = append(errs, fmt.Errorf("ALERT_EMAIL_TO: %q is not a list of addresses", s.EmailTo))
		}
		switch {
		case s.EmailFrom == "":
			s.Warnings = append(s.Warnings, "neither ALERT_EMAIL_FROM nor SMTP_USER is set: email alerts are off")
		default:
			if _, err := mail.ParseAddress(s.EmailFrom); err != nil {
				errs = append(errs, fmt.Errorf("ALERT_EMAIL_FROM (or SMTP_USER): %q is not an address", s.EmailFrom))
			}
		}
		if strings.ContainsAny(s.SMTPHost, ":/ ") {
			errs = append(errs, fmt.Errorf("SMTP_HOST: %q must be a host name without port (the port is SMTP_PORT)", s.SMTPHost))
		}
	}
	return s, errors.Join(errs...)
}

// SlackEnabled reports whether alerts go to Slack.
func (s Settings) SlackEnabled() bool { return s.SlackWebhookURL != "" }

// EmailEnabled reports whether alerts are also mailed: they need a
// recipient, a server and a sender.
func (s Settings) EmailEnabled() bool {
	return s.EmailTo != "" && s.SMTPHost != "" && s.EmailFrom != ""
}

// The subset of Alertmanager's configuration we write; field names are
// Alertmanager's.
type config struct {
	Global       global        `yaml:"global"`
	Route        route         `yaml:"route"`
	InhibitRules []inhibitRule `yaml:"inhibit_rules"`
	Receivers    []receiver    `yaml:"receivers"`
}

type global struct {
	ResolveTimeout string `yaml:"resolve_timeout"`
}

type route struct {
	Receiver       string   `yaml:"receiver"`
	GroupBy        []string `yaml:"group_by,omitempty"`
	GroupWait      string   `yaml:"group_wait,omitempty"`
	GroupInterval  string   `yaml:"group_interval,omitempty"`
	RepeatInterval string   `yaml:"repeat_interval,omitempty"`
	Matchers       []string `yaml:"matchers,omitempty"`
	Continue       bool     `yaml:"continue,omitempty"`
	Routes         []route  `yaml:"routes,omitempty"`
}

type inhibitRule struct {
	SourceMatchers []string `yaml:"source_matchers"`
	TargetMatchers []string `yaml:"target_matchers"`
	Equal          []string `yaml:"equal"`
}

type receiver struct {
	Name         string        `yaml:"name"`
	SlackConfigs []slackConfig `yaml:"slack_configs,omitempty"`
	EmailConfigs []emailConfig `yaml:"email_configs,omitempty"`
}

type slackConfig struct {
	APIURL       string `yaml:"api_url"`
	Channel      string `yaml:"channel"`
	SendResolved bool   `yaml:"send_resolved"`
	Title        string `yaml:"title"`
	Text         string `yaml:"text"`
}

type emailConfig struct {
	To           string            `yaml:"to"`
	From         string            `yaml:"from"`
	Smarthost    string            `yaml:"smarthost"`
	AuthUsername string            `yaml:"auth_username,omitempty"`
	AuthPassword string            `yaml:"auth_password,omitempty"`
	RequireTLS   bool              `yaml:"require_tls"`
	SendResolved bool              `yaml:"send_resolved"`
	Headers      map[string]string `yaml:"headers,omitempty"`
}

// Alertmanager templates (Go templates evaluated by Alertmanager, not here).
const (
	slackTitle = `{{ if eq .CommonLabels.severity "critical" }}CRITICAL{{ else }}{{ .CommonLabels.severity | toUpper }}{{ end }}: {{ .GroupLabels.alertname }}{{ if eq .Status "resolved" }} (resolved){{ end }}`
	slackText  = `*Alert:* {{ .GroupLabels.alertname }}
*Severity:* {{ .CommonLabels.severity }}
*Component:* {{ .CommonLabels.component }}
{{ if .CommonLabels.bloqueante }}*Bloqueante:* #{{ .CommonLabels.bloqueante }}
{{ end }}{{ range .Alerts }}*Description:* {{ .Annotations.description }}
{{ if .Annotations.runbook }}*Runbook:* {{ .Annotations.runbook }}
{{ end }}{{ end }}`
	emailSubject = `[{{ .CommonLabels.severity | toUpper }}] agente-caddy: {{ .GroupLabels.alertname }}`
)

// Render returns the Alertmanager configuration for s.
func Render(s Settings) ([]byte, error) {
	c := config{
		Global: global{ResolveTimeout: "5m"},
		Route: route{
			Receiver:       NullReceiver,
			GroupBy:        []string{"alertname", "component", "bloqueante"},
			GroupWait:      "10s",
			GroupInterval:  "5m",
			RepeatInterval: "3h",
			Routes: []route{
				// Security bloqueantes reach the security team and go on to
				// the routes below, so a critical one also pages on-call.
				{Receiver: SecurityReceiver, Matchers: []string{`component="security"`, `bloqueante=~"[1-4]"`}, Continue: true},
				{Receiver: CriticalReceiver, Matchers: []string{`severity="critical"`}},
				{Receiver: DevOpsReceiver, Matchers: []string{`component=~"performance|availability"`}},
				{Receiver: WarningReceiver, Matchers: []string{`severity="warning"`}},
			},
		},
		InhibitRules: []inhibitRule{
			// As in the original system: a critical alert silences the warning of the same name and component.
			{SourceMatchers: []string{`severity="critical"`}, TargetMatchers: []string{`severity="warning"`}, Equal: []string{"alertname", "component"}},
			// Our Warning/Critical pairs have different names and share a
			// `family` label: the critical one silences its warning twin
			// (per intent where the pair is per intent).
			{SourceMatchers: []string{`severity="critical"`, `family=~".+"`}, TargetMatchers: []string{`severity="warning"`, `family=~".+"`}, Equal: []string{"family", "intent"}},
		},
	}
	names := []string{NullReceiver, CriticalReceiver, SecurityReceiver, DevOpsReceiver, WarningReceiver}
	for _, name := range names {
		r := receiver{Name: name}
		if name != NullReceiver {
			if s.SlackEnabled() {
				r.SlackConfigs = []slackConfig{{APIURL: s.SlackWebhookURL, Channel: slackChannels[name], SendResolved: true, Title: slackTitle, Text: slackText}}
			}
			// The security team hears by Slack; its alerts are mailed by
			// the critical or warning route they continue to.
			if s.EmailEnabled() && name != SecurityReceiver {
				r.EmailConfigs = []emailConfig{{
					To: s.EmailTo, From: s.EmailFrom,
					Smarthost:    net.JoinHostPort(s.SMTPHost, strconv.Itoa(s.SMTPPort)),
					AuthUsername: s.SMTPUser, AuthPassword: s.SMTPPassword,
					RequireTLS: s.SMTPRequireTLS, SendResolved: true,
					Headers: map[string]string{"Subject": emailSubject},
				}}
			}
		}
		c.Receivers = append(c.Receivers, r)
	}
	body, err := yaml.Marshal(c)
	if err != nil {
		return nil, err
	}
	var channels []string
	if s.SlackEnabled() {
		channels = append(channels, "slack")
	}
	if s.EmailEnabled() {
		channels = append(channels, "email")
	}
	if len(channels) == 0 {
		channels = append(channels, `none (every receiver drops alerts, like "null")`)
	}
	head := "# generated by `agente-caddy alertmanager-config` from the environment; do not edit.\n" +
		"# Channels: " + strings.Join(channels, ", ") + ".\n"
	return append([]byte(head), body...), nil
}
