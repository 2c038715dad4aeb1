package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/test/testservices"
)

// The cluster's certificate, end to end: three instances of the binary share
// one Postgres storage (caddy.storage.postgres) and one name, and get its
// certificate from Caddy's own ACME server (testdata/certcluster/ca.Caddyfile)
// over HTTP-01.
//
// The name is an IP address in 127.0.0.0/8 chosen per run: the ACME server
// validates HTTP-01 by fetching http://<name>:80/.well-known/acme-challenge/…
// with the system resolver (its `resolvers` only serve DNS-01), so a DNS name
// would need the machine's /etc/hosts, while an IP identifier needs nothing
// and never collides with another run. Port 80 on that address is the test's
// TCP load balancer in front of the instances' HTTP ports — as in
// production, the CA's validation may reach any instance, which answers from
// the challenge the solver left in the shared storage. Binding port 80 needs
// root (or CAP_NET_BIND_SERVICE).
//
// The load balancer holds the CA's first validation until the test lets it
// through: the instance holding the order's lock is then mid-order (the
// order exists at the CA, its challenge is being validated) and the others
// are waiting for the lock.
func TestClusterSharesOneCertificate(t *testing.T) {
	t.Run("three instances, one order", func(t *testing.T) { certCluster(t, false) })
	t.Run("holder killed mid-order, another finishes", func(t *testing.T) { certCluster(t, true) })
}

const clusterLockTTL = 4 * time.Second

func certCluster(t *testing.T, killHolder bool) {
	certIP := fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), 1+rand.IntN(250), 1+rand.IntN(250))
	ln, err := net.Listen("tcp", certIP+":80")
	if err != nil {
		testservices.Require(t, "port 80 on a loopback address (root or CAP_NET_BIND_SERVICE)", err)
	}
	pgURL := testservices.Postgres(t)

	// The CA.
	caDir := t.TempDir()
	caPort := testservices.FreePort(t)
	Start(t, Options{Config: "test/e2e/testdata/certcluster/ca.Caddyfile", Env: map[string]string{
		"CA_DIR": caDir, "CA_PORT": strconv.Itoa(caPort), "CA_HTTP_PORT": strconv.Itoa(testservices.FreePort(t)),
	}})
	caRoot := filepath.Join(caDir, "pki", "authorities", "local", "root.crt")
	rootPEM, err := os.ReadFile(caRoot)
	if err != nil {
		t.Fatalf("the CA's root: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)

	// The load balancer on certIP:80, closed until the test opens it.
	const n = 3
	httpPorts, httpsPorts := make([]int, n), make([]int, n)
	backends := make([]string, n)
	for i := range n {
		httpPorts[i], httpsPorts[i] = testservices.FreePort(t), testservices.FreePort(t)
		backends[i] = fmt.Sprintf("127.0.0.1:%d", httpPorts[i])
	}
	gate := newChallengeGate(ln, backends)
	t.Cleanup(gate.Close)

	instances := make([]*Instance, n)
	for i := range n {
		instances[i] = Start(t, Options{Config: "test/e2e/testdata/certcluster/instance.Caddyfile", Env: map[string]string{
			"POSTGRES_URL": pgURL, "LOCK_TTL": clusterLockTTL.String(),
			"HTTP_PORT": strconv.Itoa(httpPorts[i]), "HTTPS_PORT": strconv.Itoa(httpsPorts[i]),
			"CERT_IP": certIP, "CA_PORT": strconv.Itoa(caPort), "CA_ROOT": caRoot,
			"INSTANCE": strconv.Itoa(i + 1), "XDG_DATA_HOME": t.TempDir(), "XDG_CONFIG_HOME": t.TempDir(),
		}})
	}

	// Mid-order: the CA is validating the lock holder's challenge, and every
	// instance has asked for the lock.
	select {
	case <-gate.arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the CA never came to validate a challenge")
	}
	asked := fmt.Sprintf(`"msg":"acquiring lock","identifier":"%s"`, certIP)
	untilNil(t, 15*time.Second, func() error {
		for i, in := range instances {
			if !strings.Contains(in.Logs(), asked) {
				return fmt.Errorf("instance %d has not asked for the lock yet", i+1)
			}
		}
		return nil
	})
	pool, err := pgxpool.New(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	lockName := "issue_cert_" + certIP
	holderOwner := lockOwner(t, pool, lockName)
	holder := instanceByOwner(t, instances, holderOwner)
	t.Logf("%s holds %s mid-order (instance %d); the other two wait", holderOwner, lockName, holder+1)

	survivors := instances
	if killHolder {
		instances[holder].Kill()
		killed := time.Now()
		gate.Open(true) // the held validation fails: that order is abandoned
		var taker string
		untilNil(t, clusterLockTTL+10*time.Second, func() error {
			var err error
			taker, err = lockOwnerNow(pool, lockName)
			if err != nil || taker == "" || taker == holderOwner {
				var exp, now time.Time
				_ = pool.QueryRow(context.Background(), `SELECT expires_at, now() FROM certmagic_locks WHERE name = $1`, lockName).Scan(&exp, &now)
				_, perr := os.Stat(fmt.Sprintf("/proc/%d", instances[holder].cmd.Process.Pid))
				return fmt.Errorf("lock still %q (%v) exp %v now %v proc %v", taker, err, exp, now, perr)
			}
			return nil
		})
		took := time.Since(killed)
		t.Logf("after kill -9 of instance %d, %s took the lock %s later (lock_ttl %s)", holder+1, taker, took.Round(10*time.Millisecond), clusterLockTTL)
		if took > clusterLockTTL+2*time.Second {
			t.Errorf("the dead holder's lock was taken over after %s, beyond lock_ttl %s", took, clusterLockTTL)
		}
		survivors = nil
		for i, in := range instances {
			if i != holder {
				survivors = append(survivors, in)
			}
		}
	} else {
		// The held validation goes to another instance than the solver: it
		// answers from the challenge the solver left in the shared storage.
		gate.StartAt(holder + 1)
		gate.Open(false)
	}

	// Every live instance serves the same certificate for certIP.
	serials := map[string]int{}
	for _, in := range survivors {
		port := httpsPortOf(t, in, instances, httpsPorts)
		var serial string
		untilNil(t, 60*time.Second, func() error {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp",
				fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{ServerName: certIP, RootCAs: roots})
			if err != nil {
				return err
			}
			defer conn.Close()
			serial = conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
			return nil
		})
		t.Logf("instance on :%d serves %s with serial %s", port, certIP, serial)
		serials[serial]++
	}
	if len(serials) != 1 {
		t.Errorf("the instances serve %d different certificates: %v", len(serials), serials)
	}

	counts := caRequests(t, filepath.Join(caDir, "access.log"))
	answered := gate.Answered()
	t.Logf("the CA saw: %d new-order, %d finalize, %d certificate downloads; the load balancer held %d validation(s) and forwarded %d, answered by instance(s) %v",
		counts.newOrder, counts.finalize, counts.certificate, gate.heldCount(), len(answered), answered)
	if !killHolder && (len(answered) != 1 || answered[0] == holder+1) {
		t.Errorf("the validation was answered by instance(s) %v; want one answer by an instance other than the solver (%d)", answered, holder+1)
	}
	wantOrders := 1
	if killHolder {
		wantOrders = 2 // the dead holder's, abandoned at validation, and the one finished
	}
	if counts.newOrder != wantOrders || counts.finalize != 1 || counts.certificate != 1 {
		t.Errorf("want %d new-order, 1 finalize and 1 certificate at the CA; got %+v", wantOrders, counts)
	}
}

// challengeGate is the load balancer in front of the instances' HTTP ports:
// round robin over the backends that accept a connection. Until Open, it
// holds what arrives.
type challengeGate struct {
	ln       net.Listener
	backends []string
	arrived  chan struct{}

	mu       sync.Mutex
	open     bool
	held     []net.Conn
	nheld    int
	answered []int // 1-based instance numbers, one per forwarded connection
	next     int
	conns    []net.Conn
}

// StartAt makes backend i the next one tried.
func (g *challengeGate) StartAt(i int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.next = i
}

// Answered lists which instance (1-based) took each forwarded connection.
func (g *challengeGate) Answered() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.answered...)
}

func newChallengeGate(ln net.Listener, backends []string) *challengeGate {
	g := &challengeGate{ln: ln, backends: backends, arrived: make(chan struct{})}
	go g.serve()
	return g
}

func (g *challengeGate) serve() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		g.conns = append(g.conns, c)
		if !g.open {
			g.held = append(g.held, c)
			g.nheld++
			if g.nheld == 1 {
				close(g.arrived)
			}
			g.mu.Unlock()
			continue
		}
		g.mu.Unlock()
		go g.forward(c)
	}
}

// Open lets connections through; the held ones are dropped (the CA's
// validation of them fails) or forwarded.
func (g *challengeGate) Open(drop bool) {
	g.mu.Lock()
	held := g.held
	g.held, g.open = nil, true
	g.mu.Unlock()
	for _, c := range held {
		if drop {
			c.Close()
		} else {
			go g.forward(c)
		}
	}
}

func (g *challengeGate) forward(c net.Conn) {
	defer c.Close()
	g.mu.Lock()
	start := g.next
	g.next++
	g.mu.Unlock()
	for i := range g.backends {
		b := (start + i) % len(g.backends)
		up, err := net.DialTimeout("tcp", g.backends[b], time.Second)
		if err != nil {
			continue // a dead instance
		}
		defer up.Close()
		g.mu.Lock()
		g.answered = append(g.answered, b+1)
		g.mu.Unlock()
		go func() { _, _ = io.Copy(up, c) }()
		_, _ = io.Copy(c, up)
		return
	}
}

func (g *challengeGate) heldCount() int { g.mu.Lock(); defer g.mu.Unlock(); return g.nheld }

func (g *challengeGate) Close() {
	g.ln.Close()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.conns {
		c.Close()
	}
}

func lockOwnerNow(pool *pgxpool.Pool, name string) (string, error) {
	var owner string
	err := pool.QueryRow(context.Background(),
		`SELECT coalesce((SELECT owner FROM certmagic_locks WHERE name = $1 AND expires_at > now()), '')`, name).Scan(&owner)
	return owner, err
}

func lockOwner(t *testing.T, pool *pgxpool.Pool, name string) string {
	t.Helper()
	owner, err := lockOwnerNow(pool, name)
	if err != nil || owner == "" {
		t.Fatalf("lock %s has no live holder (%v)", name, err)
	}
	return owner
}

// instanceByOwner finds the instance whose process id the lock owner names
// (certstore's owner is host/pid/random).
func instanceByOwner(t *testing.T, instances []*Instance, owner string) int {
	t.Helper()
	parts := strings.Split(owner, "/")
	if len(parts) != 3 {
		t.Fatalf("lock owner %q is not host/pid/random", owner)
	}
	pid, _ := strconv.Atoi(parts[1])
	for i, in := range instances {
		if in.cmd.Process.Pid == pid {
			return i
		}
	}
	t.Fatalf("lock owner %q is none of the instances", owner)
	return -1
}

func httpsPortOf(t *testing.T, in *Instance, instances []*Instance, ports []int) int {
	t.Helper()
	for i, x := range instances {
		if x == in {
			return ports[i]
		}
	}
	t.Fatal("unknown instance")
	return 0
}

type caCounts struct{ newOrder, finalize, certificate int }

// caRequests counts the ACME requests in the CA's JSON access log.
func caRequests(t *testing.T, file string) caCounts {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c caCounts
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Request struct {
				Method string `json:"method"`
				URI    string `json:"uri"`
			} `json:"request"`
			Status int `json:"status"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Request.Method != "POST" || line.Status >= 400 {
			continue
		}
		switch uri := line.Request.URI; {
		case uri == "/acme/local/new-order":
			c.newOrder++
		case strings.HasSuffix(uri, "/finalize"):
			c.finalize++
		case strings.HasPrefix(uri, "/acme/local/certificate/"):
			c.certificate++
		}
	}
	return c
}

// untilNil polls cond until it returns nil, failing with its last error
// after within.
func untilNil(t *testing.T, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
