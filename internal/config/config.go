// Package config reads agente-caddy's environment (the variables README.md
// "Configuration" lists) and decides whether it is fit to start.
//
// One Caddyfile serves every environment; what changes between them is the
// environment. Development and test run with no other service and with
// documented development secrets; staging and production refuse to start on a
// missing, placeholder or too-short secret, or without Postgres and Redis.
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/agentehotel/agente-caddy/internal/mailbox"
	"github.com/agentehotel/agente-caddy/internal/slo"
)

// Environment is where the binary runs.
type Environment string

const (
	Development Environment = "development"
	Test        Environment = "test"
	Staging     Environment = "staging"
	Production  Environment = "production"
)

// Strict reports whether the environment serves real guests: secrets must be
// real and state must be durable.
func (e Environment) Strict() bool { return e == Staging || e == Production }

// ParseEnvironment reads ENVIRONMENT; empty means development.
func ParseEnvironment(s string) (Environment, error) {
	switch e := Environment(strings.ToLower(strings.TrimSpace(s))); e {
	case "":
		return Development, nil
	case Development, Test, Staging, Production:
		return e, nil
	default:
		return "", fmt.Errorf("ENVIRONMENT: %q is not one of development, test, staging, production", s)
	}
}

// MinKeyLength is the shortest SECRET_KEY / JWT_SECRET_KEY accepted in staging and production.
const MinKeyLength = 32

// DevDefaults are the secrets development and test use when the variable is
// unset. They are public (README.md lists them), so staging and production
// reject every one of them.
var DevDefaults = map[string]string{
	"SECRET_KEY":            "dev-secret-key-not-for-production-000000",
	"JWT_SECRET_KEY":        "dev-jwt-secret-key-not-for-production-00",
	"WHATSAPP_APP_SECRET":   "dev-whatsapp-app-secret",
	"WHATSAPP_VERIFY_TOKEN": "dev-verify-token",
	"GMAIL_WEBHOOK_SECRET":  "dev-gmail-webhook-secret",
	"DEFAULT_TENANT_ID":     "default",
}

// Settings is the parsed environment. An empty WhatsAppAPIBase means the
// sender's own default (whatsapp.DefaultBaseURL).
type Settings struct {
	Environment           Environment
	Debug                 bool
	SecretKey             string
	JWTSecretKey          string
	PostgresURL           string
	RedisURL              string
	WhatsAppAccessToken   string
	WhatsAppPhoneNumberID string
	WhatsAppVerifyToken   string
	WhatsAppAppSecret     string
	WhatsAppAPIBase       string
	PMSType               string
	PMSBaseURL            string
	PMSAPIKey             string
	GmailUsername         string
	GmailAppPassword      string
	GmailWebhookSecret    string
	SMTPAddr              string
	// IMAPAddr is the server of the GMAIL_USERNAME mailbox (IMAP_ADDR):
	// imap.gmail.com:993 when unset, except in ENVIRONMENT=test, where the
	// mailbox is only read at an address given.
	IMAPAddr string
	// IMAPAuthservID names the receiving server whose Authentication-Results
	// are trusted (IMAP_AUTHSERV_ID); empty: mx.google.com for Gmail, else
	// IMAP_ADDR's host.
	IMAPAuthservID string
	// IMAPTenantID is the hotel the GMAIL_USERNAME mailbox belongs to
	// (IMAP_TENANT_ID); empty: DEFAULT_TENANT_ID.
	IMAPTenantID string
	// HandoffChannels is HANDOFF_CHANNELS: per hotel, how staff hear of a
	// guest waiting for a person (JSON, read by the application).
	HandoffChannels string
	// ConsoleBaseURL (CONSOLE_BASE_URL) starts the console links in
	// handoff notices.
	ConsoleBaseURL string
	// HandoffWaitAlert (HANDOFF_WAIT_ALERT) is how long a guest may wait for
	// a person before the alert fires; 0: the application's default.
	HandoffWaitAlert time.Duration
	// DataRetention (DATA_RETENTION) is how long a guest's finished
	// messages, replies, statuses, expired sessions and idle conversations
	// are kept; 0: the application's default.
	DataRetention time.Duration
	SLOTarget     float64
	// DefaultTenantID receives what no identifier resolves; empty: nothing does.
	DefaultTenantID string
	// Traces says whether the application's spans are exported: when
	// OTEL_TRACES_EXPORTER names an exporter (otlp, console) or, unset, an
	// OTLP endpoint is given (OTEL_EXPORTER_OTLP_ENDPOINT or
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); never with OTEL_SDK_DISABLED=true.
	// The exporter reads the OTEL_* variables itself.
	Traces bool

	lookup Lookup
}

// Lookup is os.LookupEnv's shape, so tests can pass a map.
type Lookup func(string) (string, bool)

// FromOS reads the process environment.
func FromOS() (Settings, error) { return Load(os.LookupEnv) }

// Load parses the environment. Malformed values are errors that name the
// variable. TENANCY_DYNAMIC_ENABLED and FEATURE_FLAGS are internal/flags'
// (flags.DefaultsFromEnv reads and checks them). In development and test an
// unset development secret (DevDefaults) reads as its documented value, in
// these Settings and through Settings.Getenv; staging and production see
// only the process's environment.
func Load(lookup Lookup) (Settings, error) {
	envName, _ := lookup("ENVIRONMENT")
	if env, err := ParseEnvironment(envName); err == nil && !env.Strict() {
		lookup = withDevDefaults(lookup)
	}
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	var errs []error
	boolean := func(k string, def bool) bool {
		v := get(k)
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a boolean", k, v))
		}
		return b
	}
	env, err := ParseEnvironment(get("ENVIRONMENT"))
	if err != nil {
		errs = append(errs, err)
	}
	s := Settings{
		Environment:           env,
		Debug:                 boolean("DEBUG", false),
		SecretKey:             get("SECRET_KEY"),
		JWTSecretKey:          get("JWT_SECRET_KEY"),
		PostgresURL:           get("POSTGRES_URL"),
		RedisURL:              get("REDIS_URL"),
		WhatsAppAccessToken:   get("WHATSAPP_ACCESS_TOKEN"),
		WhatsAppPhoneNumberID: get("WHATSAPP_PHONE_NUMBER_ID"),
		WhatsAppVerifyToken:   get("WHATSAPP_VERIFY_TOKEN"),
		WhatsAppAppSecret:     get("WHATSAPP_APP_SECRET"),
		WhatsAppAPIBase:       get("WHATSAPP_API_BASE"),
		PMSType:               strings.ToLower(get("PMS_TYPE")),
		PMSBaseURL:            get("PMS_BASE_URL"),
		PMSAPIKey:             get("PMS_API_KEY"),
		GmailUsername:         get("GMAIL_USERNAME"),
		GmailAppPassword:      get("GMAIL_APP_PASSWORD"),
		GmailWebhookSecret:    get("GMAIL_WEBHOOK_SECRET"),
		SMTPAddr:              get("SMTP_ADDR"),
		IMAPAddr:              get("IMAP_ADDR"),
		IMAPAuthservID:        get("IMAP_AUTHSERV_ID"),
		IMAPTenantID:          get("IMAP_TENANT_ID"),
		HandoffChannels:       get("HANDOFF_CHANNELS"),
		ConsoleBaseURL:        get("CONSOLE_BASE_URL"),
		SLOTarget:             99.0,
		DefaultTenantID:       get("DEFAULT_TENANT_ID"),
		lookup:                lookup,
	}
	if s.PMSType == "" {
		s.PMSType = "demo"
	}
	if s.IMAPAddr == "" && env != Test {
		s.IMAPAddr = mailbox.DefaultAddr
	}
	if s.PMSType != "demo" && s.PMSType != "qloapps" {
		errs = append(errs, fmt.Errorf("PMS_TYPE: %q is not one of demo, qloapps", s.PMSType))
	}
	if v := get("HANDOFF_WAIT_ALERT"); v != "" {
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("HANDOFF_WAIT_ALERT: %q is not a positive duration such as 15m", v))
		} else {
			s.HandoffWaitAlert = d
		}
	}
	if v := get("DATA_RETENTION"); v != "" {
		if d, err := slo.ParsePeriod(strings.TrimSpace(v)); err != nil || d < MinDataRetention {
			errs = append(errs, fmt.Errorf("DATA_RETENTION: %q must be a duration of at least 7 days, such as 30d or 720h: Meta redelivers a webhook for up to 7 days, and the rows are what recognises it", v))
		} else {
			s.DataRetention = d
		}
	}
	switch exporter := strings.ToLower(get("OTEL_TRACES_EXPORTER")); exporter {
	case "otlp", "console":
		s.Traces = true
	case "":
		s.Traces = get("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	case "none":
	default:
		errs = append(errs, fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not one of otlp, console, none", exporter))
	}
	if boolean("OTEL_SDK_DISABLED", false) {
		s.Traces = false
	}
	if v := get("SLO_TARGET"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f >= 100 {
			errs = append(errs, fmt.Errorf("SLO_TARGET: %q must be a percentage between 0 and 100", v))
		} else {
			s.SLOTarget = f
		}
	}
	return s, errors.Join(errs...)
}

// secret is one variable the startup check looks at.
type secret struct {
	name     string
	value    string
	minLen   int
	required bool
}

func (s Settings) secrets() []secret {
	return []secret{
		{"SECRET_KEY", s.SecretKey, MinKeyLength, true},
		{"JWT_SECRET_KEY", s.JWTSecretKey, MinKeyLength, true},
		{"WHATSAPP_APP_SECRET", s.WhatsAppAppSecret, 0, true},
		{"WHATSAPP_VERIFY_TOKEN", s.WhatsAppVerifyToken, 0, true},
		{"WHATSAPP_ACCESS_TOKEN", s.WhatsAppAccessToken, 0, true},
		{"GMAIL_WEBHOOK_SECRET", s.GmailWebhookSecret, 0, true},
		{"PMS_API_KEY", s.PMSAPIKey, 0, s.PMSType == "qloapps"},
		{"GMAIL_APP_PASSWORD", s.GmailAppPassword, 0, s.GmailUsername != ""},
	}
}

// Check decides whether the settings may serve real guests. Development and
// test always pass. Staging and production fail, naming every offending
// variable, on a missing, placeholder or too-short secret, on a missing
// POSTGRES_URL or REDIS_URL (in-memory stores are refused there), and on a
// QloApps PMS without PMS_BASE_URL.
func (s Settings) Check() error {
	if !s.Environment.Strict() {
		return nil
	}
	var errs []error
	for _, sec := range s.secrets() {
		switch {
		case sec.value == "":
			if sec.required {
				errs = append(errs, fmt.Errorf("%s is required in %s", sec.name, s.Environment))
			}
		case IsPlaceholder(sec.value):
			errs = append(errs, fmt.Errorf("%s is a placeholder or development value; set a real secret", sec.name))
		case len(sec.value) < sec.minLen:
			errs = append(errs, fmt.Errorf("%s is %d bytes; at least %d are required in %s", sec.name, len(sec.value), sec.minLen, s.Environment))
		}
	}
	if s.PostgresURL == "" {
		errs = append(errs, fmt.Errorf("POSTGRES_URL is required in %s (in-memory stores lose accepted messages on restart)", s.Environment))
	}
	if s.RedisURL == "" {
		errs = append(errs, fmt.Errorf("REDIS_URL is required in %s (rate limits must be shared by every instance)", s.Environment))
	}
	if s.PMSType == "qloapps" && s.PMSBaseURL == "" {
		errs = append(errs, fmt.Errorf("PMS_BASE_URL is required when PMS_TYPE=qloapps"))
	}
	return errors.Join(errs...)
}

// Getenv is the variable name as the application sees it: the process's
// value, or in development and test the development default of an unset
// secret. Configuration placeholders ({env.NAME}) resolve through it, so a
// Caddyfile value and a setting can never disagree.
func (s Settings) Getenv(name string) string {
	if s.lookup == nil {
		return ""
	}
	v, _ := s.lookup(name)
	return v
}

// emptyMeansNone are the DevDefaults that a variable set to the empty string
// turns off rather than defaults: DEFAULT_TENANT_ID= runs development as
// production does, with no hotel for events nobody else owns.
var emptyMeansNone = map[string]bool{"DEFAULT_TENANT_ID": true}

// withDevDefaults is lookup with DevDefaults for unset or empty variables
// (unset only, for emptyMeansNone).
func withDevDefaults(lookup Lookup) Lookup {
	return func(k string) (string, bool) {
		if v, ok := lookup(k); ok && (strings.TrimSpace(v) != "" || emptyMeansNone[k]) {
			return v, true
		}
		if d, ok := DevDefaults[k]; ok {
			return d, true
		}
		return lookup(k)
	}
}

// IsPlaceholder reports whether v is a value nobody should run real guests on:
// a CHANGE_ME marker, a development default, or an obvious dummy.
func IsPlaceholder(v string) bool {
	l := strings.ToLower(strings.TrimSpace(v))
	if strings.HasPrefix(l, "change_me") || strings.HasPrefix(l, "changeme") || strings.HasPrefix(l, "your-") || strings.HasPrefix(l, "your_") {
		return true
	}
	switch l {
	case "secret", "dummy", "test", "password", "changeit", "xxx", "todo":
		return true
	}
	for _, d := range DevDefaults {
		if v == d {
			return true
		}
	}
	return false
}

// ApplyLogLevel sets LOG_LEVEL, which the shipped Caddyfiles give Caddy's
// default logger, to DEBUG when DEBUG is true and LOG_LEVEL is unset, so the
// original system's DEBUG switch keeps working. It reports whether it did.
func ApplyLogLevel(lookup Lookup, set func(k, v string) error) bool {
	if v, ok := lookup("LOG_LEVEL"); ok && strings.TrimSpace(v) != "" {
		return false
	}
	v, _ := lookup("DEBUG")
	if debug, err := strconv.ParseBool(strings.TrimSpace(v)); err != nil || !debug {
		return false
	}
	return set("LOG_LEVEL", "DEBUG") == nil
}

// ParseSize reads a byte size as a plain number of bytes or with a unit
// (1MiB, 512KB, 1048576), as Caddyfile options such as max_body take it.
func ParseSize(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: %v", s, err)
	}
	return int64(n), nil
}

// MinDataRetention is the shortest DATA_RETENTION: a finished message's row
// is what recognises Meta's redelivery of it, for up to 7 days.
const MinDataRetention = 7 * 24 * time.Hour
