package mailbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/mailfixtures"
	"github.com/agentehotel/agente-caddy/test/testservices"
	"github.com/agentehotel/agente-caddy/test/testservices/localserver"
)

// testCert writes a self-signed certificate for 127.0.0.1 and returns its
// files and a pool that trusts it.
func testCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dovecot test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile, pool
}

// TestWorkerUpgradesWithStartTLS: a server that offers STARTTLS is only
// logged into after the upgrade, and its certificate is verified.
func TestWorkerUpgradesWithStartTLS(t *testing.T) {
	certFile, keyFile, pool := testCert(t)
	dc := testservices.StartDovecotWith(t, localserver.DovecotOptions{CertFile: certFile, KeyFile: keyFile}, "hotel")
	dc.Append("hotel", mailfixtures.Raw("gmail_reply"))
	cfg := Config{TenantID: "bcn", Addr: dc.Addr(), Username: "hotel", Password: testservices.DovecotPassword,
		AuthservID: mailfixtures.AuthservID}
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&syncWriter{b: &logs}, nil))

	// Not trusting the certificate: nothing is read, and the password was
	// never sent (the login comes after the failed upgrade).
	untrusting := &collected{}
	w, _ := NewWorker(cfg, &MemoryState{}, untrusting.accept, log)
	stop := runWorker(t, w)
	time.Sleep(2 * time.Second)
	stop()
	if len(untrusting.ids()) != 0 || !strings.Contains(logs.String(), "STARTTLS") {
		t.Fatalf("read %v without a trusted certificate; logs:\n%s", untrusting.ids(), logs.String())
	}

	cfg.TLSConfig = &tls.Config{RootCAs: pool}
	col := &collected{}
	w, _ = NewWorker(cfg, &MemoryState{}, col.accept, log)
	stop = runWorker(t, w)
	defer stop()
	testservices.Eventually(t, 10*time.Second, "mail read over STARTTLS", func() bool {
		return slices.Equal(col.ids(), []string{"CAF1gmail-reply-0001@mail.gmail.test"})
	})
}

// TestWorkerPollsWithoutIdle: a server without IDLE is polled.
func TestWorkerPollsWithoutIdle(t *testing.T) {
	dc := testservices.StartDovecotWith(t, localserver.DovecotOptions{NoIdle: true}, "hotel")
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&syncWriter{b: &logs}, nil))
	col := &collected{}
	w, _ := NewWorker(Config{TenantID: "bcn", Addr: dc.Addr(), Username: "hotel", Password: testservices.DovecotPassword,
		PollInterval: 500 * time.Millisecond}, &MemoryState{}, col.accept, log)
	stop := runWorker(t, w)
	defer stop()
	testservices.Eventually(t, 10*time.Second, "the session opens", func() bool { return strings.Contains(logs.String(), "IMAP session open") })
	if !strings.Contains(logs.String(), "idle=false") {
		t.Fatalf("the server announced IDLE:\n%s", logs.String())
	}
	dc.Append("hotel", mailfixtures.Raw("apple_mail_reply"))
	took := testservices.Eventually(t, 10*time.Second, "mail read by polling", func() bool { return len(col.ids()) == 1 })
	t.Logf("read %v after delivery, polling every 500ms", took.Round(time.Millisecond))
}
