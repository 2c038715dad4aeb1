package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// consoleInstance runs test/e2e/testdata/console.Caddyfile: the shipped site
// (console included) and the console-shop canary in front of two upstreams
// on loopback, with env added.
func consoleInstance(t *testing.T, env map[string]string) *Instance {
	t.Helper()
	all := map[string]string{
		"BASELINE_UPSTREAM": canaryUpstream(t, "baseline", 2*time.Millisecond, 0),
		"CANARY_UPSTREAM":   canaryUpstream(t, "canary", 4*time.Millisecond, 25),
		"JWT_SECRET_KEY":    adminSecret,
	}
	for k, v := range env {
		all[k] = v
	}
	return Start(t, Options{Config: "test/e2e/testdata/console.Caddyfile", Env: all})
}

// signIn opens the console and signs in with token.
func (b *browser) signIn(in *Instance, token string) {
	b.t.Helper()
	b.do("open the console", chromedp.Navigate(in.URL("/console/")))
	b.wait("the sign-in form", `document.querySelector('#token')`, 10*time.Second)
	b.do("paste the token", chromedp.SetValue(chromedp.ID("token"), token), chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)))
	b.wait("signed in", `document.querySelector('#nav a') && !document.querySelector('#token')`, 10*time.Second)
}

// goTo follows a link of the console's navigation.
func (b *browser) goTo(hash, ready string) {
	b.t.Helper()
	b.do("go to "+hash, chromedp.Evaluate[chromedp.Void](`location.hash = `+jsString(hash)))
	b.wait(hash, ready, 10*time.Second)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// apiJSON calls the admin API with token and decodes its answer.
func apiJSON(t *testing.T, in *Instance, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	status, raw := adminCall(t, in, token, method, path, body)
	var out map[string]any
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("%s %s: %d %s", method, path, status, raw)
	}
	return status, out
}

// TestConsolePageWeight loads the console as a first-time visitor: what the
// browser transfers, and that every request stays on the instance.
func TestConsolePageWeight(t *testing.T) {
	in := consoleInstance(t, nil)
	b := newBrowser(t, 1280, 900)
	b.do("first load", chromedp.Navigate(in.URL("/console/")))
	b.wait("the page's script ran", `document.querySelector('#token')`, 10*time.Second)
	b.do("settle", chromedp.Sleep(500*time.Millisecond))
	reqs := b.takeRequests()
	self := fmt.Sprintf("127.0.0.1:%d", in.SitePort)
	var total float64
	for _, r := range reqs {
		if !r.Done || r.Failed != "" {
			t.Errorf("request %s: done %v, failed %q", r.URL, r.Done, r.Failed)
		}
		if h := hostOf(r.URL); h != self {
			t.Errorf("request left the instance: %s (host %q)", r.URL, h)
		}
		total += r.Bytes
		t.Logf("%7.0f B  %s", r.Bytes, r.URL)
	}
	t.Logf("first load: %d requests, %.0f bytes transferred (limit 200 KB)", len(reqs), total)
	if len(reqs) < 3 {
		t.Fatalf("only %d requests recorded: the page, its script and stylesheet expected", len(reqs))
	}
	if total <= 0 || total > 200*1000 {
		t.Fatalf("first load transferred %.0f bytes, want (0, 200 KB]", total)
	}
	b.screenshot("console-sign-in")
}

// TestConsoleOperations drives the operations pages as an operator would:
// the dashboard, a hotel added, given an identifier and deactivated, a flag
// set and turned off, and the canary promoted from its page, each checked
// through the admin API; in English and in Spanish, by keyboard, on a phone.
func TestConsoleOperations(t *testing.T) {
	in := consoleInstance(t, nil)
	// Traffic in three of the window's 4 s buckets, so the charts draw lines.
	for i := 0; i < 3; i++ {
		if i > 0 {
			time.Sleep(4100 * time.Millisecond)
		}
		if codes := send(t, in, "/shop/x", 80, 8); codes[200]+codes[500] != 80 {
			t.Fatalf("canary traffic: %v", codes)
		}
	}
	token := mintAdminToken(t, adminSecret, "ops-console", "1h")
	b := newBrowser(t, 1280, 900)
	b.signIn(in, token)

	t.Run("keyboard reaches the skip link first, then the sections", func(t *testing.T) {
		// A fresh load (another URL, so not a same-document navigation; the
		// token stays in the tab's sessionStorage), so that Tab starts from
		// the top of the document.
		b.do("reload", chromedp.Navigate(in.URL("/console/?reloaded#/dashboard")))
		b.wait("signed in again", `document.querySelector('#nav a') && document.querySelectorAll('main .card').length >= 4`, 10*time.Second)
		b.do("tab", chromedp.KeyEvent(kb.Tab))
		b.wait("the skip link focused", `document.activeElement && document.activeElement.className === 'skip'`, 2*time.Second)
		b.do("tab", chromedp.KeyEvent(kb.Tab))
		b.wait("the first section focused", `document.activeElement && document.activeElement.closest('#nav')`, 2*time.Second)
		b.do("blur", chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`))
	})

	t.Run("dashboard", func(t *testing.T) {
		b.goTo("#/dashboard", `document.querySelectorAll('main .card').length >= 4`)
		text := b.text()
		for _, want := range []string{"PMS", "closed", "console-shop", "Queues"} {
			if !strings.Contains(text, want) {
				t.Errorf("dashboard lacks %q:\n%s", want, text)
			}
		}
		b.screenshot("console-dashboard")
	})

	t.Run("hotels", func(t *testing.T) {
		b.goTo("#/hotels", `document.querySelector('input[name="tenant_id"]')`)
		b.do("add a hotel",
			chromedp.SetValue(chromedp.CSS(`input[name="tenant_id"]`), "hotel_console"),
			chromedp.SetValue(chromedp.CSS(`input[name="name"]`), "Hotel Consola"),
			chromedp.Click(chromedp.CSS(`form.inline button[type="submit"]`)))
		b.wait("the new hotel listed", `[...document.querySelectorAll('main td a')].some(a => a.textContent === 'hotel_console')`, 10*time.Second)
		b.screenshot("console-hotels")
		b.goTo("#/hotels/hotel_console", `document.querySelector('input[name="identifier"]')`)
		b.do("add an identifier",
			chromedp.SetValue(chromedp.CSS(`input[name="identifier"]`), "+34 600 555 123"),
			chromedp.Click(chromedp.CSS(`form.inline button[type="submit"]`)))
		b.wait("the identifier listed", `document.querySelector('main').innerText.includes('+34600555123')`, 10*time.Second)
		b.do("deactivate", chromedp.Click(chromedp.CSS(`main section.card button.danger`)))
		b.wait("shown inactive", `document.querySelector('main section.card .badge.inactive')`, 10*time.Second)
		b.screenshot("console-hotel")

		status, got := apiJSON(t, in, token, "GET", "/admin/tenants/hotel_console", "")
		ids, _ := json.Marshal(got["identifiers"])
		if status != 200 || got["name"] != "Hotel Consola" || got["status"] != "inactive" || !strings.Contains(string(ids), "+34600555123") {
			t.Fatalf("the API shows %d %v", status, got)
		}
	})

	t.Run("flags", func(t *testing.T) {
		b.goTo("#/flags", `document.querySelector('input[name="flag"]')`)
		b.do("set a flag", chromedp.SetValue(chromedp.CSS(`input[name="flag"]`), "console_test"),
			chromedp.Click(chromedp.CSS(`form.inline button[type="submit"]`)))
		b.wait("the flag on", `document.querySelector('[data-flag="console_test"][aria-checked="true"]')`, 10*time.Second)
		b.do("turn it off", chromedp.Click(chromedp.CSS(`[data-flag="console_test"]`)))
		b.wait("the flag off", `document.querySelector('[data-flag="console_test"][aria-checked="false"]')`, 10*time.Second)
		b.screenshot("console-flags")
		_, got := apiJSON(t, in, token, "GET", "/admin/feature-flags", "")
		if flags, _ := got["flags"].(map[string]any); flags["console_test"] != false {
			t.Fatalf("the API shows flags %v", got)
		}
	})

	t.Run("canary promoted from its page", func(t *testing.T) {
		b.goTo("#/canaries", `document.querySelector('[data-canary="console-shop"] svg path')`)
		if n := eval[int](b, `document.querySelectorAll('[data-canary="console-shop"] figure.chart').length`); n != 2 {
			t.Fatalf("%d charts, want latency and error rate", n)
		}
		text := b.text()
		for _, want := range []string{"baseline", "canary", "p95", "Verdict", "Promote", "Roll back", "Pause"} {
			if !strings.Contains(text, want) {
				t.Errorf("canary page lacks %q", want)
			}
		}
		b.screenshot("console-canaries")
		_, before := apiJSON(t, in, token, "GET", "/admin/canaries", "")
		if w := canaryWeight(t, before, "console-shop"); w != 10 {
			t.Fatalf("canary weight before promotion %v", w)
		}
		b.do("promote", chromedp.Click(chromedp.CSS(`[data-canary="console-shop"] button[data-action="promote"]`)))
		b.wait("promoted on the page", `document.querySelector('[data-canary="console-shop"] .badge.promoted')`, 10*time.Second)
		_, after := apiJSON(t, in, token, "GET", "/admin/canaries", "")
		if w := canaryWeight(t, after, "console-shop"); w != 100 {
			t.Fatalf("GET /admin/canaries after promotion: canary weight %v", w)
		}
		b.do("pause", chromedp.Click(chromedp.CSS(`[data-canary="console-shop"] button[data-action="pause"]`)))
		b.wait("paused on the page", `document.querySelector('[data-canary="console-shop"] .badge.paused')`, 10*time.Second)
	})

	t.Run("in Spanish", func(t *testing.T) {
		b.do("choose Spanish", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('lang'); s.value = 'es'; s.dispatchEvent(new Event('change')); })()`))
		b.wait("the page in Spanish", `document.documentElement.lang === 'es' && document.querySelector('#nav').innerText.includes('Canarios')`, 10*time.Second)
		b.wait("the canary page in Spanish", `document.querySelector('main').innerText.includes('Promover')`, 10*time.Second)
		b.screenshot("console-canaries-es")
		b.do("back to English", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('lang'); s.value = 'en'; s.dispatchEvent(new Event('change')); })()`))
		b.wait("the page in English", `document.querySelector('#nav').innerText.includes('Canaries')`, 10*time.Second)
	})

	t.Run("on a phone", func(t *testing.T) {
		b.do("phone viewport", chromedp.EmulateViewport(390, 844))
		b.goTo("#/dashboard", `document.querySelectorAll('main .card').length >= 4`)
		if overflow := eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth + 1`); overflow {
			t.Errorf("the dashboard scrolls sideways on a 390 px screen (%v px)", eval[float64](b, `document.documentElement.scrollWidth`))
		}
		b.screenshot("console-dashboard-phone")
		b.goTo("#/canaries", `document.querySelector('[data-canary="console-shop"] svg path')`)
		if overflow := eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth + 1`); overflow {
			t.Errorf("the canary page scrolls sideways on a 390 px screen")
		}
		b.screenshot("console-canaries-phone")
	})

	// The page holds no data of its own: without a token the API it calls refuses.
	if status, _, _ := Do(t, http.MethodGet, in.URL("/admin/canaries"), nil, nil); status != http.StatusUnauthorized {
		t.Fatalf("GET /admin/canaries without a token: %d", status)
	}
}

// canaryWeight is the canary arm's weight of the named canary in a
// GET /admin/canaries answer.
func canaryWeight(t *testing.T, list map[string]any, name string) float64 {
	t.Helper()
	all, _ := list["canaries"].([]any)
	for _, c := range all {
		c := c.(map[string]any)
		if c["name"] == name {
			return c["weights"].(map[string]any)["canary"].(float64)
		}
	}
	t.Fatalf("no canary %s in %v", name, list)
	return 0
}
