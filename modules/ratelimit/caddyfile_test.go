package ratelimit

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/adapttest"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// TestAdaptGolden adapts testdata/*.caddyfiletest (Caddyfile, a line of
// dashes, the expected JSON) as Caddy's own adapt tests do.
func TestAdaptGolden(t *testing.T) {
	// The golden JSON holds the {$VAR:default} defaults.
	for _, v := range []string{"RATE_LIMIT_WEBHOOK_POST", "RATE_LIMIT_WEBHOOK_GET"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	adapttest.Run(t, "testdata/*.caddyfiletest")
}

// TestEventsFromEnvironment: `events {$RATE_LIMIT_WEBHOOK_POST:120}` takes the
// variable when set, the default in the Caddyfile (the original system's
// 120 per minute) when not.
func TestEventsFromEnvironment(t *testing.T) {
	cf, _ := adapttest.Split(t, "testdata/webhook.caddyfiletest")
	eventsOf := func() []int {
		t.Helper()
		out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			Apps struct {
				HTTP struct {
					Servers map[string]struct {
						Routes []struct {
							Handle []struct {
								Routes []struct {
									Handle []Handler `json:"handle"`
								} `json:"routes"`
							} `json:"handle"`
						} `json:"routes"`
					} `json:"servers"`
				} `json:"http"`
			} `json:"apps"`
		}
		if err := json.Unmarshal(out, &cfg); err != nil {
			t.Fatal(err)
		}
		var events []int
		for _, z := range cfg.Apps.HTTP.Servers["srv0"].Routes[0].Handle[0].Routes[0].Handle[0].Zones {
			events = append(events, z.Events)
		}
		return events
	}
	t.Setenv("RATE_LIMIT_WEBHOOK_POST", "")
	os.Unsetenv("RATE_LIMIT_WEBHOOK_POST")
	t.Setenv("RATE_LIMIT_WEBHOOK_GET", "7")
	if got := eventsOf(); len(got) != 2 || got[0] != 120 || got[1] != 7 {
		t.Fatalf("events %v, want [120 (default) 7 (from env)]", got)
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`ratelimit {
		zone a {
			key {remote_host}
			events 3
			window 1m
			match {
				method POST
				path /x
			}
		}
		zone b {
			key static
			events 10
			window 1h
		}
		backend redis redis://127.0.0.1:6379/0
		key_prefix p:
		on_backend_error deny
		timeout 50ms
		enabled false
	}`)
	var h Handler
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if len(h.Zones) != 2 || h.Zones[0].Name != "a" || h.Zones[0].Events != 3 || time.Duration(h.Zones[0].Window) != time.Minute ||
		len(h.Zones[0].MatcherSetsRaw) != 1 || len(h.Zones[0].MatcherSetsRaw[0]) != 2 || h.Zones[1].Key != "static" {
		t.Fatalf("zones %+v", h.Zones)
	}
	if h.Backend != "redis" || h.RedisURL != "redis://127.0.0.1:6379/0" || h.KeyPrefix != "p:" ||
		h.OnBackendError != "deny" || time.Duration(h.Timeout) != 50*time.Millisecond || h.Enabled != "false" {
		t.Fatalf("handler %+v", h)
	}

	// An unset {$REDIS_URL} leaves `backend redis` without a URL: memory.
	h = Handler{}
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("ratelimit {\n zone a {\n key k\n events 1\n window 1s\n }\n backend redis\n}")); err != nil {
		t.Fatal(err)
	}
	if h.Backend != "redis" || h.RedisURL != "" {
		t.Fatalf("backend %q url %q", h.Backend, h.RedisURL)
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	for _, tc := range []struct{ input, want string }{
		{"ratelimit {\n bogus 1\n}", `unrecognized ratelimit subdirective "bogus"`},
		{"ratelimit {\n zone a {\n key k\n limit 3\n }\n}", `zone a: unrecognized subdirective "limit"`},
		{"ratelimit {\n zone a {\n events many\n }\n}", `zone a: events: "many" is not an integer`},
		{"ratelimit {\n zone a {\n window soon\n }\n}", "zone a: window:"},
		{"ratelimit {\n zone {\n }\n}", "zone: a name is required"},
		{"ratelimit {\n backend etcd\n}", `backend: must be memory or redis, got "etcd"`},
		{"ratelimit {\n backend memory extra\n}", "wrong argument count"},
		{"ratelimit {\n on_backend_error maybe\n}", `on_backend_error: must be allow or deny, got "maybe"`},
		{"ratelimit {\n timeout forever\n}", "timeout:"},
		{"ratelimit extra {\n}", "wrong argument count"},
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want it to contain %q", tc.input, err, tc.want)
		}
	}
}

func TestValidateNamesTheField(t *testing.T) {
	zone := func(mod func(z *Zone)) *Zone {
		z := &Zone{Name: "webhook_post", Key: "{remote_host}", Events: 120, Window: caddy.Duration(time.Minute)}
		if mod != nil {
			mod(z)
		}
		return z
	}
	for _, tc := range []struct {
		h    Handler
		want string
	}{
		{Handler{}, "zones: at least one zone is required"},
		{Handler{Zones: []*Zone{zone(func(z *Zone) { z.Events = 0 })}}, "zone webhook_post: events must be > 0"},
		{Handler{Zones: []*Zone{zone(func(z *Zone) { z.Window = 0 })}}, "zone webhook_post: window must be > 0"},
		{Handler{Zones: []*Zone{zone(func(z *Zone) { z.Key = "" })}}, "zone webhook_post: key is required"},
		{Handler{Zones: []*Zone{zone(func(z *Zone) { z.Name = "" })}}, "zones[0]: name is required"},
		{Handler{Zones: []*Zone{zone(nil), zone(nil)}}, "zone webhook_post: defined twice"},
		{Handler{Zones: []*Zone{zone(nil)}, Backend: "etcd"}, "backend: must be memory or redis"},
		{Handler{Zones: []*Zone{zone(nil)}, RedisURL: "redis://x"}, "redis_url: set, but backend is not redis"},
		{Handler{Zones: []*Zone{zone(nil)}, OnBackendError: "maybe"}, "on_backend_error: must be allow or deny"},
		{Handler{Zones: []*Zone{zone(nil)}, Timeout: -1}, "timeout: must be >= 0"},
	} {
		err := tc.h.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err %v, want it to contain %q", err, tc.want)
		}
	}
	if err := (&Handler{Zones: []*Zone{zone(nil)}, Backend: "redis", RedisURL: "{env.REDIS_URL}"}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestCeilSeconds(t *testing.T) {
	for _, tc := range []struct {
		d     time.Duration
		least int64
		want  int64
	}{
		{0, 1, 1}, {time.Millisecond, 1, 1}, {time.Second, 1, 1}, {time.Second + 1, 1, 2}, {59500 * time.Millisecond, 0, 60}, {0, 0, 0},
	} {
		if got := ceilSeconds(tc.d, tc.least); got != tc.want {
			t.Errorf("ceilSeconds(%s, %d) = %d, want %d", tc.d, tc.least, got, tc.want)
		}
	}
}
