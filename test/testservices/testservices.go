// Package testservices gives integration tests their real Postgres and Redis.
//
// `make test` (test/services) exports POSTGRES_URL and REDIS_URL, reusing the
// servers they name or starting throwaway ones. Run directly with `go test`,
// the package falls back to the conventional local servers. When no server
// answers, the test is skipped locally and fails under CI=true: an integration
// test never silently skips in CI. Eventually is the polling loop they share.
package testservices

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/agentehotel/agente-caddy/test/testservices/localserver"
)

const (
	localPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	localRedis    = "redis://127.0.0.1:6379/0"
)

// FreePort is localserver.FreePort for a test: a port of 127.0.0.1 that was
// free a moment ago, for a server the test starts and cannot hand
// 127.0.0.1:0 (Caddy's admin and site addresses, a private redis-server).
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := localserver.FreePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return port
}

// randomName returns a lowercase identifier unique enough for test databases and key prefixes.
func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// PostgresServerURL is the URL of the test Postgres server's maintenance database.
func PostgresServerURL() string {
	if u := os.Getenv("POSTGRES_URL"); u != "" {
		return u
	}
	return localPostgres
}

// Postgres creates an empty database for this test on the test server and
// returns its URL; the database is dropped when the test ends.
func Postgres(t testing.TB) string {
	t.Helper()
	server := PostgresServerURL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		Require(t, "Postgres", err)
	}
	defer conn.Close(ctx)
	name := randomName("t_")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Logf("dropping test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("dropping test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("parsing POSTGRES_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// redisServerURL is the URL of the test Redis server.
func redisServerURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return localRedis
}

// Redis returns the test Redis URL and a key prefix unique to this test
// (ending in ':'). Tests must keep every key under the prefix; those keys are
// deleted when the test ends.
func Redis(t testing.TB) (redisURL, keyPrefix string) {
	t.Helper()
	redisURL = redisServerURL()
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatalf("parsing REDIS_URL: %v", err)
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		Require(t, "Redis", err)
	}
	keyPrefix = randomName("test:") + ":"
	t.Cleanup(func() {
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, keyPrefix+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			client.Del(ctx, keys...)
		}
	})
	return redisURL, keyPrefix
}

// RedisClient is Redis with a ready client closed at the end of the test.
func RedisClient(t testing.TB) (*redis.Client, string) {
	t.Helper()
	u, prefix := Redis(t)
	opts, _ := redis.ParseURL(u)
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c, prefix
}

// Require is the rule for a service or tool a test cannot do without: when
// err says it cannot be had, the test is skipped locally and fails under
// CI=true, so an integration test never silently skips in CI. A nil err
// lets the test go on.
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true but is unreachable: %v", what, err)
	}
	t.Skipf("%s unreachable (%v); run `make test` to start one", what, err)
}

// Tool returns the path of a command-line tool a test needs (promtool,
// prometheus, amtool), installing the Debian package that ships it when it
// is missing and the test runs as root. Like the servers above, a tool that
// cannot be had skips the test locally and fails it under CI=true.
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	toolMu.Lock()
	defer toolMu.Unlock()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	var out bytes.Buffer
	if err := localserver.AptInstall(&out, debianPackage); err != nil {
		Require(t, name, fmt.Errorf("not installed: %v\n%s", err, out.Bytes()))
	}
	p, err := exec.LookPath(name)
	if err != nil {
		Require(t, name, fmt.Errorf("still missing after installing %s: %w", debianPackage, err))
	}
	return p
}

var toolMu sync.Mutex
