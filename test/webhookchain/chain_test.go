// Package webhookchain runs the shipped site (caddy/site.caddy) in this
// process and follows one signed WhatsApp webhook through it, counting how
// often its body is read and decoded.
package webhookchain

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	_ "github.com/agentehotel/agente-caddy"
	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/internal/signature"
	"github.com/agentehotel/agente-caddy/modules/agente"
	"github.com/agentehotel/agente-caddy/test/testservices"
	"github.com/agentehotel/agente-caddy/test/whatsapptest"
)

func init() {
	caddy.RegisterModule(probe{})
	httpcaddyfile.RegisterHandlerDirective("webhook_probe", func(httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
		return new(probe), nil
	})
}

// probe runs first in the site: it counts what the chain reads of the body
// off the connection, and after the chain it keeps the request's webhook
// record (agente.Webhook), which counts every read and decode.
type probe struct{}

var probed struct {
	sync.Mutex
	network *countingBody
	webhook *agente.Webhook
}

func (probe) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.webhook_probe", New: func() caddy.Module { return new(probe) }}
}

func (probe) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	body := &countingBody{ReadCloser: r.Body}
	r.Body = body
	err := next.ServeHTTP(w, r)
	probed.Lock()
	defer probed.Unlock()
	probed.network = body
	probed.webhook, _ = caddyhttp.GetVar(r.Context(), agente.VarWebhook).(*agente.Webhook)
	return err
}

type countingBody struct {
	io.ReadCloser
	bytes, eofs int
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.bytes += n
	if err == io.EOF {
		b.eofs++
	}
	return n, err
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// serve loads site (a site block's body) as the only site, on a free port,
// with the agente app in memory, and returns its base URL.
func serve(t *testing.T, site string) string {
	t.Helper()
	for _, k := range []string{"POSTGRES_URL", "REDIS_URL", "ENVIRONMENT", "WHATSAPP_ACCESS_TOKEN"} {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", dir)
	port, admin := testservices.FreePort(t), testservices.FreePort(t)
	caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%d
	persist_config off
	order webhook_probe first
	log {
		output discard
	}
	agente {
		tenants_file caddy/dev-tenants.yaml
		import caddy/agente.caddy
	}
}

http://127.0.0.1:%d {
	webhook_probe
	%s
}
`, admin, port, site)
	// Imports resolve next to the file the Caddyfile claims to be.
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": filepath.Join(repoRoot(), "Caddyfile.test")})
	if err != nil {
		t.Fatalf("adapting: %v", err)
	}
	if len(warnings) > 0 {
		t.Fatalf("adapter warnings: %v", warnings)
	}
	wd, _ := os.Getwd()
	if err := os.Chdir(repoRoot()); err != nil { // tenants_file is relative to the repository
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chdir(wd) })
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("loading: %v", err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

func post(t *testing.T, url string, body []byte, signed bool) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if signed {
		req.Header.Set("X-Hub-Signature-256", signature.Sign(config.DevDefaults["WHATSAPP_APP_SECRET"], body))
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// histogramCount is how many WhatsApp payloads were normalised in this
// process: every decode records its latency in
// message_normalization_latency_seconds{canal="whatsapp"}.
func histogramCount(t *testing.T) uint64 {
	t.Helper()
	var m dto.Metric
	if err := chat.NormalizationLatency.WithLabelValues(string(chat.WhatsApp)).(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// checkOnce asserts that the last request's body came off the connection
// once, and was read once and decoded once in all.
func checkOnce(t *testing.T, body []byte, decodedBefore uint64) {
	t.Helper()
	probed.Lock()
	defer probed.Unlock()
	if probed.network == nil || probed.webhook == nil {
		t.Fatalf("the probe saw no webhook record (network %v, webhook %v)", probed.network, probed.webhook)
	}
	if n, eofs := probed.network.bytes, probed.network.eofs; n != len(body) || eofs != 1 {
		t.Errorf("off the connection: %d bytes and %d EOFs, want %d bytes read to EOF once", n, eofs, len(body))
	}
	if r := probed.webhook.Reads(); r != 1 {
		t.Errorf("body read %d times, want 1", r)
	}
	if d := probed.webhook.Decodes(); d != 1 {
		t.Errorf("body decoded %d times, want 1", d)
	}
	if d := histogramCount(t) - decodedBefore; d != 1 {
		t.Errorf("message_normalization_latency_seconds{canal=whatsapp} counted %d decodes, want 1", d)
	}
}

// One signed webhook through the shipped chain: hmac_webhook, tenant_resolve,
// ratelimit and whatsapp_webhook read the body once and decode it once.
func TestShippedChainReadsAndDecodesOnce(t *testing.T) {
	base := serve(t, "import caddy/site.caddy")
	body := []byte(whatsapptest.Message{PhoneNumberID: "106540352242922", From: "34600111222", ID: "wamid.chain-1", Text: "Hola"}.JSON())
	before := histogramCount(t)
	status, got := post(t, base+"/webhooks/whatsapp", body, true)
	if status != 200 || got != `{"status":"ok"}` {
		t.Fatalf("signed webhook: %d %s", status, got)
	}
	checkOnce(t, body, before)
}

// The handler alone (no matcher, no tenant_resolve in front) reads and
// decodes the body itself, once.
func TestHandlerAloneReadsAndDecodesOnce(t *testing.T) {
	base := serve(t, "whatsapp_webhook\n\thandle_errors {\n\t\tjson_error\n\t}")
	body := []byte(whatsapptest.Message{PhoneNumberID: "106540352242922", From: "34600111222", ID: "wamid.chain-2", Text: "Hola"}.JSON())
	before := histogramCount(t)
	status, got := post(t, base+"/", body, false)
	if status != 200 || got != `{"status":"ok"}` {
		t.Fatalf("webhook: %d %s", status, got)
	}
	checkOnce(t, body, before)
}
