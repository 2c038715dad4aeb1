// Command services gives a command real Postgres and Redis servers and a
// real QloApps, and exports where they are to it (POSTGRES_URL, REDIS_URL;
// QLOAPPS_URL, QLOAPPS_WS_KEY, QLOAPPS_ERROR_LOG, QLOAPPS_DB_DSN):
//
//	go run ./test/services -- go test ./...
//
// A server named by POSTGRES_URL or REDIS_URL (a QloApps named by all four
// QLOAPPS_ variables) is reused when it answers. Otherwise a throwaway one is
// started from the local binaries on a free port (initdb into a temporary
// directory; redis-server --save ""; QloApps with test/testservices/
// qloappsserver), after installing the Debian packages when the binaries are
// missing and we run as root. Throwaway servers are stopped and their files
// removed afterwards. QloApps is the one optional service: when it cannot be
// started (no tarball: QLOAPPS_TARBALL), the command runs without it and
// QLOAPPS_UNAVAILABLE says why, so the tests that need it skip locally and
// fail under CI=true. The exit status is the command's.
//
// A throwaway Postgres runs with fsync, synchronous_commit and
// full_page_writes off (tests do not need durability and run faster);
// SERVICES_DURABLE=1 keeps them on, for benchmarks whose Postgres figures
// are to count durable commits (make bench).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/agentehotel/agente-caddy/test/testservices/localserver"
	"github.com/agentehotel/agente-caddy/test/testservices/qloappsserver"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: services -- command [args...]")
		os.Exit(2)
	}
	os.Exit(run(args))
}

func run(args []string) int {
	var teardown []func()
	defer func() {
		for i := len(teardown) - 1; i >= 0; i-- {
			teardown[i]()
		}
	}()

	pgURL, stopPG, err := postgres()
	if err != nil {
		logf("postgres: %v", err)
		return 1
	}
	teardown = append(teardown, stopPG)
	redisURL, stopRedis, err := redisServer()
	if err != nil {
		logf("redis: %v", err)
		return 1
	}
	teardown = append(teardown, stopRedis)
	ensureTools()
	ensureDovecot()
	qloEnv, stopQlo := qloApps()
	teardown = append(teardown, stopQlo)

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "POSTGRES_URL="+pgURL, "REDIS_URL="+redisURL)
	cmd.Env = append(cmd.Env, qloEnv...)
	if err := cmd.Start(); err != nil {
		logf("starting %s: %v", args[0], err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return max(exit.ExitCode(), 1)
	default:
		logf("%s: %v", args[0], err)
		return 1
	}
}

func logf(format string, a ...any) { fmt.Fprintf(os.Stderr, "test/services: "+format+"\n", a...) }

// postgres returns a reachable server's URL and how to stop it.
func postgres() (string, func(), error) {
	if u := os.Getenv("POSTGRES_URL"); u != "" {
		if err := pingPostgres(u); err == nil {
			logf("using Postgres from POSTGRES_URL")
			return u, func() {}, nil
		} else {
			logf("POSTGRES_URL does not answer (%v); starting a throwaway server", err)
		}
	}
	bin, err := localserver.PostgresBinDir()
	if err != nil {
		if err := localserver.AptInstall(os.Stderr, "postgresql"); err != nil {
			return "", nil, fmt.Errorf("initdb/pg_ctl not found and could not be installed: %w", err)
		}
		if bin, err = localserver.PostgresBinDir(); err != nil {
			return "", nil, err
		}
	}
	settings := []string{"max_connections = 300"}
	if os.Getenv("SERVICES_DURABLE") != "" {
		// Later lines of postgresql.conf win over the throwaway defaults.
		settings = append(settings, "fsync = on", "synchronous_commit = on", "full_page_writes = on")
	}
	pg, err := localserver.InitPostgres(bin, settings...)
	if err != nil {
		return "", nil, err
	}
	if err := pg.Start(); err != nil {
		pg.Remove()
		return "", nil, err
	}
	logf("started a throwaway Postgres at %s (durable: %v)", pg.URL(), os.Getenv("SERVICES_DURABLE") != "")
	return pg.URL(), func() {
		_ = pg.Stop("immediate")
		pg.Remove()
	}, nil
}

func pingPostgres(u string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// redisServer returns a reachable server's URL and how to stop it.
func redisServer() (string, func(), error) {
	if u := os.Getenv("REDIS_URL"); u != "" {
		if err := pingRedis(u); err == nil {
			logf("using Redis from REDIS_URL")
			return u, func() {}, nil
		} else {
			logf("REDIS_URL does not answer (%v); starting a throwaway server", err)
		}
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if err := localserver.AptInstall(os.Stderr, "redis-server"); err != nil {
			return "", nil, fmt.Errorf("redis-server not found and could not be installed: %w", err)
		}
		if bin, err = exec.LookPath("redis-server"); err != nil {
			return "", nil, err
		}
	}
	srv, err := localserver.NewRedis(bin)
	if err != nil {
		return "", nil, err
	}
	if err := srv.Start(); err != nil {
		return "", nil, err
	}
	logf("started a throwaway Redis at %s", srv.URL())
	return srv.URL(), srv.Stop, nil
}

func pingRedis(u string) error {
	opts, err := redis.ParseURL(u)
	if err != nil {
		return err
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// qloApps returns the environment naming a QloApps for the command (an
// answering one named by the environment, else a throwaway one), and how to
// stop it. When none can be had, the environment is QLOAPPS_UNAVAILABLE
// with the reason.
func qloApps() (env []string, stop func()) {
	if inst, ok := qloappsserver.InstanceFromEnv(); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := inst.Check(ctx)
		cancel()
		if err == nil {
			logf("using QloApps from %s", qloappsserver.EnvURL)
			return inst.Environ(), func() {}
		}
		logf("%s does not answer (%v); starting a throwaway QloApps", qloappsserver.EnvURL, err)
	}
	unavailable := func(err error) ([]string, func()) {
		logf("no QloApps (%v); the tests that need it skip, or fail under CI=true", err)
		return []string{qloappsserver.EnvUnavailable + "=" + err.Error()}, func() {}
	}
	tarball, err := qloappsserver.TarballPath()
	if err != nil {
		return unavailable(err)
	}
	if err := qloappsserver.EnsureBinaries(os.Stderr); err != nil {
		return unavailable(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv, err := qloappsserver.Start(ctx, qloappsserver.Options{Tarball: tarball, Log: logWriter{}})
	if err != nil {
		return unavailable(err)
	}
	return srv.Environ(), func() {
		// What the run asked of the real QloApps, and whether any of it
		// made QloApps warn (every call of ours must leave the log empty).
		if calls, errLines, err := srv.Summary(); err == nil {
			logf("QloApps answered %d webservice calls; PHP error log: %d lines", calls, errLines)
		}
		srv.Stop()
	}
}

// logWriter writes progress lines through logf.
type logWriter struct{}

func (logWriter) Write(p []byte) (int, error) {
	logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// ensureTools installs the Prometheus tools the observability tests run
// (promtool, prometheus, amtool) and the browser of the console's tests
// (chromium) once, before the tests start in parallel.
// A failure is only logged: those tests then skip locally and fail in CI.
func ensureTools() {
	var missing []string
	for tool, pkg := range map[string]string{"promtool": "prometheus", "amtool": "prometheus-alertmanager", "chromium": "chromium"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return
	}
	if err := localserver.AptInstall(os.Stderr, missing...); err != nil {
		logf("%s not installed (%v); the tests that run them will need them", strings.Join(missing, ", "), err)
	}
}

// ensureDovecot installs Debian's Dovecot (dovecot-imapd) once, before the
// tests start in parallel: each email test starts its own throwaway server
// from it (test/testservices.StartDovecot). A failure is only logged: those
// tests then skip locally and fail in CI.
func ensureDovecot() {
	if _, err := localserver.DovecotBinary(); err == nil {
		return
	}
	if err := localserver.AptInstall(os.Stderr, "dovecot-imapd"); err != nil {
		logf("Dovecot not installed (%v); the email tests will need it", err)
	}
}
