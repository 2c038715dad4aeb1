package e2e

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listeners are the local addresses of the TCP sockets listening on port,
// as the kernel lists them in /proc/net/tcp and /proc/net/tcp6 (what `ss
// -ltn` reads).
func listeners(t *testing.T, port int) []string {
	t.Helper()
	var out []string
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if os.IsNotExist(err) && file == "/proc/net/tcp6" {
			continue // no IPv6 in this kernel
		}
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local_address rem_address st ...; st 0A is LISTEN.
			if len(fields) < 4 || fields[3] != "0A" {
				continue
			}
			hexIP, hexPort, _ := strings.Cut(fields[1], ":")
			p, _ := strconv.ParseUint(hexPort, 16, 16)
			if int(p) != port {
				continue
			}
			out = append(out, procIP(t, hexIP).String())
		}
		f.Close()
	}
	slices.Sort(out)
	return out
}

// procIP decodes /proc/net/tcp's address: 32-bit words in host (little
// endian) order.
func procIP(t *testing.T, h string) net.IP {
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+4 <= len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b)
}

// TestSiteAddressBindsItsHost: SITE_ADDRESS=127.0.0.1:PORT listens on
// 127.0.0.1 only, and a request naming another host gets the JSON 404,
// never Caddy's empty 200 (not even an unsigned webhook).
func TestSiteAddressBindsItsHost(t *testing.T) {
	in := Start(t, Options{}) // the harness sets SITE_ADDRESS=127.0.0.1:<port>
	if got := listeners(t, in.SitePort); !slices.Equal(got, []string{"127.0.0.1"}) {
		t.Fatalf("listening on %v for port %d, want [127.0.0.1] only", got, in.SitePort)
	}
	t.Logf("port %d: listening on %v", in.SitePort, listeners(t, in.SitePort))

	asHost := func(method, path, host string) (int, string) {
		req, _ := http.NewRequest(method, in.URL(path), strings.NewReader(`{"object":"whatsapp_business_account","entry":[]}`))
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct{ method, path string }{{"GET", "/health/live"}, {"GET", "/"}, {"POST", "/webhooks/whatsapp"}, {"GET", "/metrics"}} {
		for _, host := range []string{"localhost", fmt.Sprintf("localhost:%d", in.SitePort), "evil.example"} {
			status, body := asHost(c.method, c.path, host)
			if status != 404 || !strings.Contains(body, `"status":404`) {
				t.Errorf("%s %s for Host %s: %d %q, want the JSON 404", c.method, c.path, host, status, body)
			}
		}
	}
	if status, body := asHost("GET", "/health/live", fmt.Sprintf("127.0.0.1:%d", in.SitePort)); status != 200 || !strings.Contains(body, "alive") {
		t.Errorf("its own host: %d %s", status, body)
	}

	// The synthetic check through another name for the same address is
	// told the truth.
	out, code := Run(t, nil, "synthetic-health-check", "--url", fmt.Sprintf("http://localhost:%d", in.SitePort), "--max-retries", "1")
	if code != 2 || !strings.Contains(out, "DOWN") {
		t.Errorf("synthetic check for another host: exit %d, want 2 (DOWN)\n%s", code, out)
	}
}
