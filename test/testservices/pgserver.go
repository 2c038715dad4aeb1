package testservices

import (
	"sync"
	"testing"

	"github.com/agentehotel/agente-caddy/test/testservices/localserver"
)

// PostgresServer is a private, throwaway Postgres server a test owns, so it
// may stop and restart it (outage tests). The shared test server must never
// be stopped; use this instead.
type PostgresServer struct {
	t  testing.TB
	pg *localserver.Postgres

	mu      sync.Mutex
	running bool
}

// StartPostgres initialises a Postgres cluster in a temporary directory and
// starts it on a free 127.0.0.1 port, trust auth, user postgres. Running as
// root, the server runs as the "postgres" OS user. It is stopped and removed
// when the test ends. Skips locally (fails under CI=true) when the Postgres
// server binaries are not installed.
func StartPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	bin, err := localserver.PostgresBinDir()
	Require(t, "Postgres server binaries", err)
	pg, err := localserver.InitPostgres(bin, "max_connections = 30", "shared_buffers = 16MB")
	if err != nil {
		t.Fatal(err)
	}
	s := &PostgresServer{t: t, pg: pg}
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.running {
			_ = pg.Stop("immediate")
			s.running = false
		}
		pg.Remove()
	})
	s.Start()
	return s
}

// URL is the connection URL of the server's postgres database.
func (s *PostgresServer) URL() string { return s.pg.URL() }

// Start starts (or restarts) the server and waits until it accepts connections.
func (s *PostgresServer) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return
	}
	if err := s.pg.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.running = true
}

// Stop stops the server (fast shutdown: clients are disconnected).
func (s *PostgresServer) Stop() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return
	}
	if err := s.pg.Stop("fast"); err != nil {
		s.t.Fatal(err)
	}
	s.running = false
}
