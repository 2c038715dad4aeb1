package config

import (
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func realProduction() map[string]string {
	return map[string]string{
		"ENVIRONMENT":           "production",
		"SECRET_KEY":            strings.Repeat("s", 40),
		"JWT_SECRET_KEY":        strings.Repeat("j", 40),
		"WHATSAPP_APP_SECRET":   "9f8e7d6c5b4a",
		"WHATSAPP_VERIFY_TOKEN": "verify-7d1c",
		"WHATSAPP_ACCESS_TOKEN": "EAAG-real-token",
		"GMAIL_WEBHOOK_SECRET":  "gmail-4e2a",
		"POSTGRES_URL":          "postgres://agente@db/agente",
		"REDIS_URL":             "redis://cache:6379/0",
	}
}

func TestProductionCheckNamesOffendingVariable(t *testing.T) {
	cases := []struct {
		name, key, value, want string
	}{
		{"missing secret", "WHATSAPP_APP_SECRET", "", "WHATSAPP_APP_SECRET is required"},
		{"change me", "SECRET_KEY", "CHANGE_ME_to_something_long_enough_123456", "SECRET_KEY is a placeholder"},
		{"dev default", "WHATSAPP_VERIFY_TOKEN", DevDefaults["WHATSAPP_VERIFY_TOKEN"], "WHATSAPP_VERIFY_TOKEN is a placeholder"},
		{"short jwt", "JWT_SECRET_KEY", "short-but-real-7e1", "JWT_SECRET_KEY is 18 bytes; at least 32"},
		{"no postgres", "POSTGRES_URL", "", "POSTGRES_URL is required"},
		{"no redis", "REDIS_URL", "", "REDIS_URL is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kv := realProduction()
			kv[c.key] = c.value
			s, err := Load(env(kv))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Check()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Check() = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestRealProductionPasses(t *testing.T) {
	s, err := Load(env(realProduction()))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("real production settings rejected: %v", err)
	}
}

func TestQloAppsNeedsKeyAndURL(t *testing.T) {
	kv := realProduction()
	kv["PMS_TYPE"] = "qloapps"
	s, _ := Load(env(kv))
	err := s.Check()
	if err == nil || !strings.Contains(err.Error(), "PMS_API_KEY") || !strings.Contains(err.Error(), "PMS_BASE_URL") {
		t.Fatalf("Check() = %v, want PMS_API_KEY and PMS_BASE_URL named", err)
	}
}

func TestDevelopmentNeedsNothing(t *testing.T) {
	s, err := Load(env(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Environment != Development || s.PMSType != "demo" || s.WhatsAppAPIBase != "" {
		t.Fatalf("defaults = %+v", s)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("development must start with nothing set: %v", err)
	}
}

func TestLoadRejectsMalformedValues(t *testing.T) {
	_, err := Load(env(map[string]string{"ENVIRONMENT": "prod", "DEBUG": "maybe", "SLO_TARGET": "101", "PMS_TYPE": "opera", "HANDOFF_WAIT_ALERT": "30d",
		"DATA_RETENTION": "3d"}))
	for _, name := range []string{"ENVIRONMENT", "DEBUG", "SLO_TARGET", "PMS_TYPE", "HANDOFF_WAIT_ALERT", "DATA_RETENTION"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Load error %v does not name %s", err, name)
		}
	}
}

func TestDataRetention(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 0, "30d": 30 * 24 * time.Hour, "720h": 30 * 24 * time.Hour, "7d": MinDataRetention} {
		s, err := Load(env(map[string]string{"DATA_RETENTION": v}))
		if err != nil || s.DataRetention != want {
			t.Errorf("DATA_RETENTION=%q: %v %v, want %v", v, s.DataRetention, err, want)
		}
	}
	for _, v := range []string{"6d", "1h", "soon", "-30d", "d"} {
		if _, err := Load(env(map[string]string{"DATA_RETENTION": v})); err == nil || !strings.Contains(err.Error(), "DATA_RETENTION") {
			t.Errorf("DATA_RETENTION=%q: %v, want an error naming it", v, err)
		}
	}
}

func TestDevDefaults(t *testing.T) {
	s, err := Load(env(map[string]string{"WHATSAPP_APP_SECRET": "mine"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.WhatsAppAppSecret != "mine" || s.Getenv("WHATSAPP_APP_SECRET") != "mine" {
		t.Fatal("a set variable was overwritten")
	}
	for k, v := range DevDefaults {
		if k != "WHATSAPP_APP_SECRET" && s.Getenv(k) != v {
			t.Errorf("development %s = %q, want its default %q", k, s.Getenv(k), v)
		}
	}
	if s.WhatsAppVerifyToken != DevDefaults["WHATSAPP_VERIFY_TOKEN"] || s.DefaultTenantID != DevDefaults["DEFAULT_TENANT_ID"] {
		t.Fatalf("settings without their development defaults: %+v", s)
	}
	// An empty secret still reads as its default; an empty DEFAULT_TENANT_ID
	// says there is no default hotel.
	s, err = Load(env(map[string]string{"ENVIRONMENT": "development", "WHATSAPP_VERIFY_TOKEN": "", "DEFAULT_TENANT_ID": ""}))
	if err != nil || s.WhatsAppVerifyToken != DevDefaults["WHATSAPP_VERIFY_TOKEN"] || s.DefaultTenantID != "" {
		t.Fatalf("empty variables in development: verify token %q, default tenant %q, %v", s.WhatsAppVerifyToken, s.DefaultTenantID, err)
	}
	prod, _ := Load(env(map[string]string{"ENVIRONMENT": "production"}))
	for k := range DevDefaults {
		if prod.Getenv(k) != "" {
			t.Errorf("production must get no defaults, got %s=%q", k, prod.Getenv(k))
		}
	}
}

func TestDevDefaultsAreLongEnoughForDevelopmentButRejectedInProduction(t *testing.T) {
	for k, v := range DevDefaults {
		if !IsPlaceholder(v) {
			t.Errorf("dev default of %s is not recognised as a placeholder", k)
		}
	}
	if len(DevDefaults["JWT_SECRET_KEY"]) < MinKeyLength || len(DevDefaults["SECRET_KEY"]) < MinKeyLength {
		t.Error("dev keys should be long enough that only the placeholder rule rejects them")
	}
}

// TENANCY_DYNAMIC_ENABLED and FEATURE_FLAGS belong to internal/flags, which
// reads them with its own syntax (yes/on/1...); Load must not refuse a value
// that package accepts.
func TestLoadLeavesFlagVariablesToFlags(t *testing.T) {
	for _, v := range []string{"yes", "on", "no", "off", "1"} {
		if _, err := Load(env(map[string]string{"TENANCY_DYNAMIC_ENABLED": v})); err != nil {
			t.Errorf("TENANCY_DYNAMIC_ENABLED=%s: %v", v, err)
		}
	}
}

func TestApplyLogLevel(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"DEBUG": "true"}, "DEBUG"},
		{map[string]string{"DEBUG": "1"}, "DEBUG"},
		{map[string]string{"DEBUG": "false"}, ""},
		{map[string]string{"DEBUG": "maybe"}, ""},
		{map[string]string{}, ""},
		{map[string]string{"DEBUG": "true", "LOG_LEVEL": "WARN"}, "WARN"},
	} {
		kv := c.env
		ApplyLogLevel(env(kv), func(k, v string) error { kv[k] = v; return nil })
		if kv["LOG_LEVEL"] != c.want {
			t.Errorf("%v: LOG_LEVEL %q, want %q", c.env, kv["LOG_LEVEL"], c.want)
		}
	}
}

func TestTracesFollowTheOTELVariables(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "console"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, false},
	} {
		s, err := Load(env(c.env))
		if err != nil {
			t.Fatalf("%v: %v", c.env, err)
		}
		if s.Traces != c.want {
			t.Errorf("%v: Traces %v, want %v", c.env, s.Traces, c.want)
		}
	}
	_, err := Load(env(map[string]string{"OTEL_TRACES_EXPORTER": "jaeger"}))
	if err == nil || !strings.Contains(err.Error(), "OTEL_TRACES_EXPORTER") {
		t.Errorf("an unknown exporter: %v, want an error naming OTEL_TRACES_EXPORTER", err)
	}
}
