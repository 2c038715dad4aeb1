// Package localserver runs throwaway Postgres and Redis servers from the
// binaries installed on this machine, and installs Debian packages for the
// tools tests need. It does not import testing: `make test` (test/services)
// uses it to start the shared servers, and tests that stop and restart a
// server of their own use it too (through test/testservices for
// Postgres).
package localserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// PostgresBinDir finds initdb and pg_ctl: $PG_BIN, `pg_config --bindir`, the
// newest /usr/lib/postgresql/*/bin, then $PATH.
func PostgresBinDir() (string, error) {
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
	sort.Slice(dirs, func(i, j int) bool { return majorVersion(dirs[i]) > majorVersion(dirs[j]) })
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

// majorVersion is the 16 of /usr/lib/postgresql/16/bin.
func majorVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Postgres is a database cluster in a temporary directory, served on a free
// 127.0.0.1 port to user postgres with trust authentication and durability
// off: for tests only.
type Postgres struct {
	bin  string
	base string // temporary directory: data/ and server.log
	port int
	// cred runs the server binaries as the postgres OS user when we are
	// root (Postgres refuses to run as root); nil otherwise.
	cred *syscall.Credential
}

// InitPostgres creates a cluster with initdb from bin (see PostgresBinDir);
// settings are extra postgresql.conf lines, e.g. "max_connections = 300".
// Start serves it; Remove deletes it.
func InitPostgres(bin string, settings ...string) (*Postgres, error) {
	base, err := os.MkdirTemp("", "agente-pg-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{bin: bin, base: base}
	if err := p.init(settings); err != nil {
		p.Remove()
		return nil, err
	}
	return p, nil
}

func (p *Postgres) init(settings []string) error {
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root needs the postgres OS user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(p.base, uid, gid); err != nil {
			return err
		}
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if out, err := p.command("initdb", "-D", p.dataDir(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := FreePort()
	if err != nil {
		return err
	}
	p.port = port
	// In postgresql.conf rather than on pg_ctl's command line, so a restart
	// finds the same port.
	conf := append([]string{
		"", "# agente-caddy throwaway server",
		fmt.Sprintf("port = %d", port),
		"listen_addresses = '127.0.0.1'",
		"unix_socket_directories = ''",
		"fsync = off", "synchronous_commit = off", "full_page_writes = off",
	}, settings...)
	f, err := os.OpenFile(filepath.Join(p.dataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strings.Join(conf, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (p *Postgres) dataDir() string { return filepath.Join(p.base, "data") }
func (p *Postgres) logFile() string { return filepath.Join(p.base, "server.log") }

// URL is the connection URL of the server's postgres database.
func (p *Postgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Start starts the server and waits until it accepts connections.
func (p *Postgres) Start() error {
	if out, err := p.command("pg_ctl", "-D", p.dataDir(), "-l", p.logFile(), "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(p.logFile())
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		c, err := pgx.Connect(ctx, p.URL())
		if err == nil {
			return c.Close(ctx)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("throwaway Postgres did not accept connections: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server: "fast" disconnects clients and shuts down cleanly,
// "immediate" just ends every process.
func (p *Postgres) Stop(mode string) error {
	if out, err := p.command("pg_ctl", "-D", p.dataDir(), "-m", mode, "-w", "-t", "60", "stop").CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// Remove deletes the cluster's directory; stop the server first.
func (p *Postgres) Remove() { _ = os.RemoveAll(p.base) }

func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Dir = p.base
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return cmd
}

// Redis is a redis-server on a free 127.0.0.1 port that keeps nothing on
// disk. Stop and Start again serve an empty server on the same port.
type Redis struct {
	bin  string
	port int
	cmd  *exec.Cmd
}

// NewRedis picks the port of a server run from bin (the path of
// redis-server); Start serves it.
func NewRedis(bin string) (*Redis, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	return &Redis{bin: bin, port: port}, nil
}

// URL is the server's redis:// URL (database 0).
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// Start starts the server and waits until it answers PING.
func (r *Redis) Start() error {
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no")
	r.cmd.Dir = os.TempDir()
	if err := r.cmd.Start(); err != nil {
		return err
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.Stop()
			return errors.New("throwaway redis-server did not answer within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// Stop kills the server, as a crash would.
func (r *Redis) Stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// FreePort returns a TCP port that was free a moment ago on every
// interface, for a server that cannot be handed 127.0.0.1:0.
//
// The port is drawn at random from below the kernel's ephemeral range: a port
// the kernel hands out for :0 is also what it hands the next outgoing
// connection, and with test packages running side by side one of those took
// a port between our check and the server's bind. Below the range only
// another explicit bind can take it.
func FreePort() (int, error) {
	lo := ephemeralLow()
	if lo-1 > portFloor+1000 {
		for range 64 {
			port := portFloor + rand.IntN(lo-portFloor)
			if !claimPort(port) {
				continue
			}
			if l, err := net.Listen("tcp", ":"+strconv.Itoa(port)); err == nil {
				l.Close()
				return port, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// claimPort records that this process hands out port, so that no other test
// process of the run hands it out too in the moment before its server binds
// it (test packages run side by side, each drawing ports). A claim is a
// file created exclusively; one older than portClaimTTL is stale and taken
// over.
func claimPort(port int) bool {
	dir := filepath.Join(os.TempDir(), "agente-caddy-test-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return true // no claims possible: the bind check alone decides
	}
	path := filepath.Join(dir, strconv.Itoa(port))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
	if err == nil {
		f.Close()
		return true
	}
	if fi, serr := os.Stat(path); serr == nil && time.Since(fi.ModTime()) > portClaimTTL {
		now := time.Now()
		return os.Chtimes(path, now, now) == nil
	}
	return false
}

// portClaimTTL is how long a claimed port is not handed out again: longer
// than any test keeps a server, shorter than it takes to run out of ports.
const portClaimTTL = 30 * time.Minute

// portFloor is the lowest port FreePort draws: under it live the well-known
// and registered services a developer's machine may run.
const portFloor = 20000

// ephemeralLow is the first port of the kernel's ephemeral range, or the
// usual Linux default where it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				return n
			}
		}
	}
	return 32768
}

// AptInstall installs Debian packages (apt-get update, then install without
// recommends), writing apt's output to out. It needs root, and waits for
// another apt run's lock.
func AptInstall(out io.Writer, pkgs ...string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("not root, so cannot install Debian's %s", strings.Join(pkgs, " "))
	}
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	for _, args := range [][]string{
		{"-o", "DPkg::Lock::Timeout=300", "update", "-q"},
		append([]string{"-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q", "--no-install-recommends"}, pkgs...),
	} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, out, out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %s: %w", strings.Join(args, " "), err)
		}
	}
	return nil
}
