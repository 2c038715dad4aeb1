package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/agentehotel/agente-caddy/test/testservices"
)

// browser is one tab of a real headless Chromium (Debian's chromium,
// installed when missing and root; skipped locally, failed under CI=true
// when it cannot be had), with a fresh profile. It records every console
// error and uncaught exception of the page (the test fails on any when it
// ends) and every request the page makes with the bytes it transferred.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	errors   []string
	requests map[network.RequestID]*pageRequest
	order    []network.RequestID
}

// pageRequest is one request of the page as the network domain saw it.
type pageRequest struct {
	URL    string
	Bytes  float64 // encoded bytes received (headers and body), once finished
	Done   bool
	Failed string
}

// newBrowser starts Chromium with a width×height window.
func newBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	bin := testservices.Tool(t, "chromium", "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx, requests: map[network.RequestID]*pageRequest{}}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	messages := chromedp.Console(ctx)
	if err := chromedp.Listen(ctx, b.record); err != nil {
		testservices.Require(t, "a running chromium", err)
	}
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				b.mu.Unlock()
			}
		}
	}()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("Network.enable: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("Log.enable: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdpruntime.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("Runtime.enable: %v", err)
	}
	// A headless window never has the focus; the page acts as if it had,
	// so that keys move the focus as they would for a person.
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatalf("Emulation.setFocusEmulationEnabled: %v", err)
	}
	t.Cleanup(func() {
		// Messages arrive from another goroutine: give the last ones a moment.
		time.Sleep(200 * time.Millisecond)
		if errs := b.consoleErrors(); len(errs) > 0 {
			t.Errorf("the browser's console has %d errors:\n%s", len(errs), strings.Join(errs, "\n"))
		}
	})
	return b
}

// record runs on chromedp's reading goroutine: quick, no commands.
func (b *browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		if _, seen := b.requests[e.RequestID]; !seen {
			b.order = append(b.order, e.RequestID)
		}
		b.requests[e.RequestID] = &pageRequest{URL: e.Request.URL}
	case *network.EventLoadingFinished:
		if r := b.requests[e.RequestID]; r != nil {
			r.Bytes, r.Done = e.EncodedDataLength, true
		}
	case *network.EventLoadingFailed:
		if r := b.requests[e.RequestID]; r != nil {
			r.Failed, r.Done = e.ErrorText, true
		}
	}
}

func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// takeRequests returns the requests recorded so far, in order, and forgets them.
func (b *browser) takeRequests() []pageRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]pageRequest, 0, len(b.order))
	for _, id := range b.order {
		out = append(out, *b.requests[id])
	}
	b.requests, b.order = map[network.RequestID]*pageRequest{}, nil
	return out
}

// do runs steps, failing the test with what the page shows on error.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\npage text: %s\nconsole errors: %v", what, err, b.text(), b.consoleErrors())
	}
}

// wait polls a JavaScript condition until it is truthy.
func (b *browser) wait(what, condition string, within time.Duration) {
	b.t.Helper()
	b.do(what, chromedp.Poll[chromedp.Void](condition, chromedp.WithPollingTimeout(within), chromedp.WithPollingInterval(50*time.Millisecond)))
}

// eval evaluates a JavaScript expression into T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// text is what the page's main area says (for failure messages).
func (b *browser) text() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// screenshot saves the whole page as <artifacts>/<name>.png.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(artifactDir(b.t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s (%d bytes)", path, len(png))
	return path
}

// artifactDir is where tests leave screenshots: $TEST_ARTIFACTS, else
// test/e2e/testdata/out (ignored by git).
func artifactDir(t testing.TB) string {
	dir := os.Getenv("TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), "test", "e2e", "testdata", "out")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// hostOf is the host:port of a URL ("" for data: and the like).
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "unparsable"
	}
	return u.Host
}
