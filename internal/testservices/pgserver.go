package testservices

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresServer is a private, throwaway Postgres server a test owns, so it
// may stop and restart it (outage tests). The shared test server must never
// be stopped; use this instead.
type PostgresServer struct {
	t       testing.TB
	bin     string
	dir     string // data directory
	logFile string
	port    int
	asUser  string // run server binaries as this user (root cannot run Postgres)

	mu      sync.Mutex
	running bool
}

// postgresBinDir finds initdb/pg_ctl: $PG_BIN, `pg_config --bindir`, then
// the newest /usr/lib/postgresql/*/bin.
func postgresBinDir() (string, error) {
	if d := os.Getenv("PG_BIN"); d != "" {
		return d, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("initdb not found (set PG_BIN to Postgres' bin directory)")
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// StartPostgres initialises a Postgres cluster in a temporary directory and
// starts it on a free 127.0.0.1 port, trust auth, user postgres. Running as
// root, the server runs as the "postgres" OS user (via runuser). It is
// stopped and removed when the test ends. Skips locally (fails under
// CI=true) when the Postgres server binaries are not installed.
func StartPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	bin, err := postgresBinDir()
	if err != nil {
		unavailable(t, "Postgres server binaries", err)
	}
	s := &PostgresServer{t: t, bin: bin}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			unavailable(t, "OS user postgres (Postgres refuses to run as root)", err)
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			unavailable(t, "runuser", err)
		}
		s.asUser = "postgres"
	}
	base, err := os.MkdirTemp("", "agente-pg-")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	s.dir = filepath.Join(base, "data")
	s.logFile = filepath.Join(base, "server.log")
	if s.asUser != "" {
		u, _ := user.Lookup(s.asUser)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(base, 0o755); err != nil {
			t.Fatalf("chmod: %v", err)
		}
		if err := os.Mkdir(s.dir, 0o700); err != nil {
			t.Fatalf("mkdir: %v", err)
		}
		for _, p := range []string{s.dir} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatalf("chown %s: %v", p, err)
			}
		}
		f, err := os.Create(s.logFile)
		if err != nil {
			t.Fatalf("log file: %v", err)
		}
		f.Close()
		_ = os.Chown(s.logFile, uid, gid)
	}
	if out, err := s.run("initdb", "-D", s.dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s.port = FreePort(t)
	conf := fmt.Sprintf("\n# agente-caddy test server\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"+
		"fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 30\nshared_buffers = 16MB\n", s.port)
	f, err := os.OpenFile(filepath.Join(s.dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("postgresql.conf: %v", err)
	}
	_, _ = f.WriteString(conf)
	f.Close()
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.running {
			_, _ = s.run("pg_ctl", "-D", s.dir, "-m", "immediate", "-w", "stop")
			s.running = false
		}
	})
	s.Start()
	return s
}

// URL is the connection URL of the server's postgres database.
func (s *PostgresServer) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Start starts (or restarts) the server and waits until it accepts connections.
func (s *PostgresServer) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return
	}
	if out, err := s.run("pg_ctl", "-D", s.dir, "-l", s.logFile, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(s.logFile)
		s.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	s.running = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		c, err := pgx.Connect(ctx, s.URL())
		if err == nil {
			c.Close(ctx)
			return
		}
		if ctx.Err() != nil {
			s.t.Fatalf("private Postgres did not accept connections: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server (fast shutdown: clients are disconnected).
func (s *PostgresServer) Stop() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return
	}
	if out, err := s.run("pg_ctl", "-D", s.dir, "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		s.t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
	s.running = false
}

func (s *PostgresServer) run(name string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = os.TempDir()
	return cmd.CombinedOutput()
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago, for
// a server a test starts itself and cannot hand 127.0.0.1:0 (Postgres,
// redis-server, Caddy's admin and site addresses).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
