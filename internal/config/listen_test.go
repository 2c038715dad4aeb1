package config

import (
	"fmt"
	"testing"
)

func TestApplyListenAddresses(t *testing.T) {
	for _, c := range []struct{ addr, host, port string }{
		{":8080", "", "8080"},
		{"127.0.0.1:9000", "127.0.0.1", "9000"},
		{"[::1]:9000", "::1", "9000"},
		{"localhost", "localhost", "80"},
	} {
		env := map[string]string{"SITE_ADDRESS": c.addr}
		set := ApplyListenAddresses(func(k string) (string, bool) { v, ok := env[k]; return v, ok },
			func(k, v string) error { env[k] = v; return nil })
		if env["SITE_HOST"] != c.host || env["SITE_PORT"] != c.port || fmt.Sprint(set) != "[SITE_HOST SITE_PORT]" {
			t.Errorf("%q: host %q port %q (set %v), want %q %q", c.addr, env["SITE_HOST"], env["SITE_PORT"], set, c.host, c.port)
		}
		if _, ok := env["INTERNAL_HOST"]; ok {
			t.Errorf("%q: INTERNAL_HOST set without INTERNAL_ADDRESS", c.addr)
		}
	}
}
