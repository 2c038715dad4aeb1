package alertmanager

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func env(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func render(t *testing.T, m map[string]string) (config, Settings) {
	t.Helper()
	s, err := FromEnv(env(m))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	var c config
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, b)
	}
	return c, s
}

func receiverByName(c config, name string) (receiver, bool) {
	for _, r := range c.Receivers {
		if r.Name == name {
			return r, true
		}
	}
	return receiver{}, false
}

func TestNoVariablesMeansNullDefaultAndEmptyReceivers(t *testing.T) {
	c, s := render(t, nil)
	if c.Route.Receiver != "null" {
		t.Errorf("default receiver %q, want null", c.Route.Receiver)
	}
	if s.SlackEnabled() || s.EmailEnabled() || len(s.Warnings) != 0 {
		t.Errorf("channels on with no variables: %+v", s)
	}
	for _, name := range []string{NullReceiver, CriticalReceiver, SecurityReceiver, DevOpsReceiver, WarningReceiver} {
		r, ok := receiverByName(c, name)
		if !ok {
			t.Errorf("receiver %s missing: the routing tree must be the same everywhere", name)
		}
		if len(r.SlackConfigs)+len(r.EmailConfigs) != 0 {
			t.Errorf("receiver %s has integrations with no variables set", name)
		}
	}
}

func TestSlackOnlyWhenURLSet(t *testing.T) {
	const hook = "https://hooks.slack.com/services/T000/B000/XXXX"
	c, _ := render(t, map[string]string{"SLACK_WEBHOOK_URL": hook})
	for name, channel := range map[string]string{CriticalReceiver: "#agente-hotel-alerts", SecurityReceiver: "#security-alerts", DevOpsReceiver: "#devops-alerts"} {
		r, _ := receiverByName(c, name)
		if len(r.SlackConfigs) != 1 || r.SlackConfigs[0].APIURL != hook || r.SlackConfigs[0].Channel != channel {
			t.Errorf("%s: slack %+v, want %s on %s", name, r.SlackConfigs, hook, channel)
		}
		if len(r.EmailConfigs) != 0 {
			t.Errorf("%s: email configured without ALERT_EMAIL_TO", name)
		}
	}
	if r, _ := receiverByName(c, NullReceiver); len(r.SlackConfigs) != 0 {
		t.Error(`"null" receiver got Slack`)
	}
	if !strings.Contains(c.Receivers[1].SlackConfigs[0].Text, "{{ .Annotations.description }}") {
		t.Error("Slack text lost the Alertmanager template")
	}
}

func TestEmailNeedsRecipientAndSMTPHost(t *testing.T) {
	full := map[string]string{
		"ALERT_EMAIL_TO": "oncall@hotel.example", "ALERT_EMAIL_FROM": "alertmanager@hotel.example",
		"SMTP_HOST": "smtp.hotel.example", "SMTP_PORT": "2525", "SMTP_USER": "am@hotel.example", "SMTP_PASSWORD": "pw",
	}
	c, s := render(t, full)
	if !s.EmailEnabled() {
		t.Fatal("email off with every variable set")
	}
	r, _ := receiverByName(c, WarningReceiver)
	if len(r.EmailConfigs) != 1 {
		t.Fatalf("warning receiver: %+v", r)
	}
	e := r.EmailConfigs[0]
	if e.To != "oncall@hotel.example" || e.From != "alertmanager@hotel.example" || e.Smarthost != "smtp.hotel.example:2525" || e.AuthUsername != "am@hotel.example" || e.AuthPassword != "pw" || !e.RequireTLS {
		t.Errorf("email config %+v", e)
	}
	if r, _ := receiverByName(c, SecurityReceiver); len(r.EmailConfigs) != 0 {
		t.Error("security team is mailed twice (its alerts continue to the critical/warning routes)")
	}

	for _, missing := range []string{"ALERT_EMAIL_TO", "SMTP_HOST"} {
		m := map[string]string{}
		for k, v := range full {
			if k != missing {
				m[k] = v
			}
		}
		_, s := render(t, m)
		if s.EmailEnabled() || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], missing) {
			t.Errorf("without %s: enabled=%v warnings=%q", missing, s.EmailEnabled(), s.Warnings)
		}
	}
	// From defaults to SMTP_USER, port to 587.
	_, s = render(t, map[string]string{"ALERT_EMAIL_TO": "a@b.example", "SMTP_HOST": "smtp.b.example", "SMTP_USER": "u@b.example"})
	if !s.EmailEnabled() || s.EmailFrom != "u@b.example" || s.SMTPPort != 587 {
		t.Errorf("defaults: %+v", s)
	}
}

func TestMalformedValuesNameTheVariable(t *testing.T) {
	for k, v := range map[string]string{
		"SLACK_WEBHOOK_URL": "hooks.slack.com/no-scheme",
		"SMTP_PORT":         "smtp",
		"SMTP_REQUIRE_TLS":  "maybe",
	} {
		if _, err := FromEnv(env(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%q: %v", k, v, err)
		}
	}
	_, err := FromEnv(env(map[string]string{"ALERT_EMAIL_TO": "not an address", "SMTP_HOST": "smtp.x", "SMTP_USER": "u@x.example"}))
	if err == nil || !strings.Contains(err.Error(), "ALERT_EMAIL_TO") {
		t.Errorf("bad recipient: %v", err)
	}
	_, err = FromEnv(env(map[string]string{"ALERT_EMAIL_TO": "a@x.example", "SMTP_HOST": "smtp.x:587", "SMTP_USER": "u@x.example"}))
	if err == nil || !strings.Contains(err.Error(), "SMTP_HOST") {
		t.Errorf("host with port: %v", err)
	}
}

func TestRoutingTreeIsSeed003s(t *testing.T) {
	c, _ := render(t, nil)
	routes := c.Route.Routes
	if len(routes) != 4 {
		t.Fatalf("routes: %+v", routes)
	}
	if routes[0].Receiver != SecurityReceiver || !routes[0].Continue {
		t.Error("the security route must come first and continue, so critical security alerts also page on-call")
	}
	if routes[1].Receiver != CriticalReceiver || routes[1].Continue {
		t.Error("critical route")
	}
	if strings.Join(c.Route.GroupBy, ",") != "alertname,component,bloqueante" {
		t.Errorf("group_by %v", c.Route.GroupBy)
	}
	if len(c.InhibitRules) != 2 {
		t.Errorf("inhibit rules: %+v", c.InhibitRules)
	}
}
