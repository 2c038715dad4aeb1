// Command services gives a command real Postgres and Redis servers and
// exports their URLs to it (POSTGRES_URL, REDIS_URL):
//
//	go run ./test/services -- go test ./...
//
// A server named by POSTGRES_URL or REDIS_URL is reused when it answers.
// Otherwise a throwaway one is started from the local binaries on a free
// port (initdb into a temporary directory; redis-server --save ”), after
// installing the Debian packages when the binaries are missing and we run as
// root. Throwaway servers are stopped and their files removed afterwards.
// The exit status is the command's.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
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

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "POSTGRES_URL="+pgURL, "REDIS_URL="+redisURL)
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
	bin, err := postgresBinDir()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "agente-pg-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	asUser, err := postgresOSUser(dir)
	if err != nil {
		cleanup()
		return "", nil, err
	}
	port, err := freePort()
	if err != nil {
		cleanup()
		return "", nil, err
	}
	data := filepath.Join(dir, "data")
	if out, err := asUser(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300", port, dir)
	if out, err := asUser(filepath.Join(bin, "pg_ctl"), "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		cleanup()
		return "", nil, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	u := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	logf("started a throwaway Postgres on 127.0.0.1:%d", port)
	return u, func() {
		_ = asUser(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop").Run()
		cleanup()
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

// postgresBinDir finds initdb and pg_ctl, installing the Debian package when
// they are missing and we may.
func postgresBinDir() (string, error) {
	find := func() string {
		if p, err := exec.LookPath("initdb"); err == nil {
			if _, err := exec.LookPath("pg_ctl"); err == nil {
				return filepath.Dir(p)
			}
		}
		dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		for i := len(dirs) - 1; i >= 0; i-- {
			if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
				return dirs[i]
			}
		}
		return ""
	}
	if d := find(); d != "" {
		return d, nil
	}
	if err := aptInstall("postgresql"); err != nil {
		return "", fmt.Errorf("initdb/pg_ctl not found and could not be installed: %w", err)
	}
	if d := find(); d != "" {
		return d, nil
	}
	return "", errors.New("initdb not found after installing postgresql")
}

// postgresOSUser returns a command builder that runs as a user Postgres
// accepts: itself, or the postgres account when we are root (Postgres refuses
// to run as root).
func postgresOSUser(dir string) (func(name string, args ...string) *exec.Cmd, error) {
	if os.Geteuid() != 0 {
		return exec.Command, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres OS user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(name, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		cmd.Dir = dir
		return cmd
	}, nil
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
		if err := aptInstall("redis-server"); err != nil {
			return "", nil, fmt.Errorf("redis-server not found and could not be installed: %w", err)
		}
		if bin, err = exec.LookPath("redis-server"); err != nil {
			return "", nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no")
	cmd.Dir = os.TempDir()
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	u := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	deadline := time.Now().Add(10 * time.Second)
	for pingRedis(u) != nil {
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.New("throwaway redis-server did not answer within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	logf("started a throwaway Redis on 127.0.0.1:%d", port)
	return u, stop, nil
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

// ensureTools installs the Prometheus tools the observability tests run
// (promtool, prometheus, amtool) once, before the tests start in parallel.
// A failure is only logged: those tests then skip locally and fail in CI.
func ensureTools() {
	var missing []string
	for tool, pkg := range map[string]string{"promtool": "prometheus", "amtool": "prometheus-alertmanager"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return
	}
	if err := aptInstall(missing...); err != nil {
		logf("Prometheus tools not installed (%v); the observability tests will need them", err)
	}
}

func aptInstall(pkgs ...string) error {
	if os.Geteuid() != 0 {
		return errors.New("not root, so cannot install " + strings.Join(pkgs, " ") + "; install it or set the URL")
	}
	logf("installing %s from Debian packages", strings.Join(pkgs, " "))
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	update := exec.Command("apt-get", "update", "-q")
	update.Env, update.Stdout, update.Stderr = env, os.Stderr, os.Stderr
	if err := update.Run(); err != nil {
		return fmt.Errorf("apt-get update: %w", err)
	}
	install := exec.Command("apt-get", append([]string{"install", "-y", "-q", "--no-install-recommends"}, pkgs...)...)
	install.Env, install.Stdout, install.Stderr = env, os.Stderr, os.Stderr
	return install.Run()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
