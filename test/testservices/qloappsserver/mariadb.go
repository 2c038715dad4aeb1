package qloappsserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/agentehotel/agente-caddy/test/testservices/localserver"
)

// QloApps' database and the MariaDB account it uses. The server listens on
// 127.0.0.1 only, on a port chosen at each start, and holds test data only.
const (
	dbName     = "qloapps"
	dbUser     = "qloapps"
	dbPassword = "qloapps"
)

// mariadbSettings are the server options of every private MariaDB, given
// to mariadb-install-db too so the data directory matches them: small
// memory and redo log (the machine is shared), no durability (the data is
// thrown away), and no O_DIRECT, which a tmpfs (instanceParentDir) refuses.
var mariadbSettings = []string{
	"--innodb-buffer-pool-size=64M",
	"--innodb-log-file-size=16M",
	"--innodb-flush-log-at-trx-commit=0",
	"--innodb-doublewrite=0",
	"--innodb-flush-method=fsync",
	"--skip-log-bin",
	"--skip-name-resolve",
	"--max-connections=100",
}

// mariadbBinary finds a MariaDB server program: on $PATH, else in
// /usr/sbin and /usr/bin (Debian puts mariadbd in /usr/sbin, which a
// non-root $PATH often lacks).
func mariadbBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// asRootArgs is --user=root when we run as root: mariadbd refuses to run
// as root unless told to, and the data directory is ours.
func asRootArgs() []string {
	if os.Geteuid() == 0 {
		return []string{"--user=root"}
	}
	return nil
}

// initMariaDB creates an empty MariaDB data directory whose root account
// has no password (a throwaway server on 127.0.0.1).
func initMariaDB(ctx context.Context, dataDir, logPath string) error {
	bin, err := mariadbBinary("mariadb-install-db")
	if err != nil {
		return err
	}
	args := append([]string{"--no-defaults"}, asRootArgs()...)
	args = append(args, "--datadir="+dataDir, "--auth-root-authentication-method=normal", "--skip-test-db")
	args = append(args, mariadbSettings...)
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.CombinedOutput()
	_ = os.WriteFile(logPath, out, 0o644)
	if err != nil {
		return fmt.Errorf("mariadb-install-db: %v\n%s", err, tail(out, 2000))
	}
	return nil
}

// mariaDB is a running private mariadbd.
type mariaDB struct {
	*process
	port int
}

// rootDSN is the DSN of the server's root account, no database selected.
func (m *mariaDB) rootDSN() string { return fmt.Sprintf("root@tcp(127.0.0.1:%d)/", m.port) }

// qloDSN is the DSN of QloApps' database and account.
func (m *mariaDB) qloDSN() string {
	return fmt.Sprintf("%s:%s@tcp(127.0.0.1:%d)/%s", dbUser, dbPassword, m.port, dbName)
}

// startMariaDB serves dataDir on a free port of 127.0.0.1 (its socket, pid
// file and log in runDir) and waits until root can connect. A port taken
// between choosing and binding it is retried with another.
func startMariaDB(ctx context.Context, dataDir, runDir string, g *guardian) (*mariaDB, error) {
	bin, err := mariadbBinary("mariadbd")
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := localserver.FreePort()
		if err != nil {
			return nil, err
		}
		args := append([]string{"--no-defaults"}, asRootArgs()...)
		args = append(args,
			"--datadir="+dataDir,
			"--port="+strconv.Itoa(port),
			"--bind-address=127.0.0.1",
			"--socket="+filepath.Join(runDir, "mariadb.sock"),
			"--pid-file="+filepath.Join(runDir, "mariadb.pid"),
			"--tmpdir="+runDir,
		)
		args = append(args, mariadbSettings...)
		p, err := startProcess(exec.Command(bin, args...), filepath.Join(runDir, "mariadb.log"), g)
		if err != nil {
			return nil, err
		}
		m := &mariaDB{process: p, port: port}
		lastErr = m.waitReady(ctx, 60*time.Second)
		if lastErr == nil {
			return m, nil
		}
		m.kill()
		if !strings.Contains(lastErr.Error(), "already in use") {
			break
		}
	}
	return nil, lastErr
}

// waitReady polls the server until root can connect, it exits, or within
// elapses.
func (m *mariaDB) waitReady(ctx context.Context, within time.Duration) error {
	db, err := sql.Open("mysql", m.rootDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		err := db.PingContext(ctx)
		if err == nil {
			return nil
		}
		if m.exited() {
			return fmt.Errorf("mariadbd exited: %w", m.exitErr())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("mariadbd did not accept connections within %v: %w", within, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// createQloDatabase creates QloApps' empty database and its account.
func (m *mariaDB) createQloDatabase(ctx context.Context) error {
	db, err := sql.Open("mysql", m.rootDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	for _, stmt := range []string{
		"CREATE DATABASE " + dbName + " CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
		fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'", dbUser, dbPassword),
		fmt.Sprintf("GRANT ALL ON %s.* TO '%s'@'127.0.0.1'", dbName, dbUser),
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}

// shutdown stops the server cleanly, so its data directory can be copied.
func (m *mariaDB) shutdown() error {
	if err := m.terminate(60 * time.Second); err != nil {
		return errors.Join(errors.New("stopping mariadbd"), err)
	}
	return nil
}

// tail is the last n bytes of out, for error messages.
func tail(out []byte, n int) string {
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.TrimSpace(string(out))
}
