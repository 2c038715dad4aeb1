package pgstorage

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestValidateNamesTheBadField(t *testing.T) {
	for _, c := range []struct {
		s    Storage
		want string
	}{
		{Storage{LockTTL: caddy.Duration(time.Second)}, "lock_ttl"},
		{Storage{LockTTL: caddy.Duration(-time.Minute)}, "lock_ttl"},
		{Storage{LockPollInterval: caddy.Duration(time.Minute)}, "lock_poll_interval"},
		{Storage{LockTTL: caddy.Duration(5 * time.Second), LockPollInterval: caddy.Duration(5 * time.Second)}, "lock_poll_interval"},
		{Storage{LockPollInterval: caddy.Duration(-time.Second)}, "lock_poll_interval"},
	} {
		err := c.s.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", c.s, err, c.want)
		}
	}
	if err := (&Storage{}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if err := (&Storage{LockTTL: caddy.Duration(3 * time.Second), LockPollInterval: caddy.Duration(100 * time.Millisecond)}).Validate(); err != nil {
		t.Errorf("3s/100ms: %v", err)
	}
}

func TestProvisionRefusesAnEmptyOrMalformedConnectionString(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	for _, cs := range []string{"{env.AGENTE_TEST_NEVER_SET_VARIABLE}", "", "postgres://user:secret@host:notaport/db"} {
		s := &Storage{ConnectionString: cs}
		err := s.Provision(ctx)
		if err == nil || !strings.Contains(err.Error(), "connection_string") {
			t.Errorf("Provision(%q) = %v, want an error naming connection_string", cs, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Provision(%q) error shows the password: %v", cs, err)
		}
	}
}

func TestCaddyfileErrors(t *testing.T) {
	for _, in := range []string{
		"postgres",
		"postgres {\n}",
		"postgres a b",
		"postgres a {\nconnection_string b\n}",
		"postgres a {\nlock_ttl soon\n}",
		"postgres a {\nbogus 1\n}",
		"postgres a {\nlock_ttl 5s 6s\n}",
	} {
		var s Storage
		if err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
}
