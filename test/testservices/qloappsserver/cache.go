package qloappsserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DefaultTarball is where the QloApps 1.6.1 source tarball is looked for,
// relative to the repository root, when EnvTarball is unset.
const DefaultTarball = "../shared/qloapps/qloapps-1.6.1.tar.gz"

// ErrNoTarball is the error (wrapped) when the tarball is not where it is
// looked for.
var ErrNoTarball = errors.New("QloApps tarball not found")

// TarballPath is EnvTarball; else DefaultTarball under the repository root
// (the nearest directory holding go.mod, from the working directory up), or
// under any directory above it, so a checkout one level deeper finds it too;
// else the copy kept in the cache directory the last time it was found, so
// a checkout elsewhere on the same machine (a CI run's) still has it. A
// tarball found beside a checkout is copied into the cache. A missing file
// is an ErrNoTarball saying where to put it.
func TarballPath() (string, error) {
	if p := os.Getenv(EnvTarball); p != "" {
		if _, err := os.Stat(p); err != nil {
			return p, fmt.Errorf("%w at %s: put QloApps 1.6.1's source tarball there, or set %s to its path", ErrNoTarball, p, EnvTarball)
		}
		return p, nil
	}
	root, err := repositoryRoot()
	if err != nil {
		return "", err
	}
	want := filepath.Clean(filepath.Join(root, DefaultTarball))
	kept := filepath.Join(DefaultCacheDir(), filepath.Base(DefaultTarball))
	for dir := filepath.Dir(root); ; dir = filepath.Dir(dir) {
		p := filepath.Join(dir, strings.TrimPrefix(DefaultTarball, "../"))
		if _, err := os.Stat(p); err == nil {
			keepCopy(p, kept)
			return p, nil
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	if _, err := os.Stat(kept); err == nil {
		return kept, nil
	}
	return want, fmt.Errorf("%w at %s: put QloApps 1.6.1's source tarball there, or set %s to its path", ErrNoTarball, want, EnvTarball)
}

// keepCopy copies the tarball into the cache directory once (best effort:
// without it a later run elsewhere only needs the tarball beside it).
func keepCopy(src, dst string) {
	if _, err := os.Stat(dst); err == nil {
		return
	}
	in, err := os.Open(src)
	if err != nil {
		return
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tarball-*")
	if err != nil {
		return
	}
	_, err = io.Copy(tmp, in)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
}

func repositoryRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory, so no repository root to find the QloApps tarball from")
		}
		dir = parent
	}
}

// DefaultCacheDir is where installed QloApps trees are kept:
// os.UserCacheDir() ($XDG_CACHE_HOME, else ~/.cache)/agente-caddy, or the
// temporary directory when there is no home.
func DefaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "agente-caddy")
	}
	return filepath.Join(os.TempDir(), "agente-caddy-cache")
}

// cacheLayout names what a cache entry holds and how it was made; a change
// to the installer's arguments or to mariadbSettings must change it, so
// old entries are not used (and are removed when the new one is made).
const cacheLayout = "v2"

// Cache entry layout: the installed tree and MariaDB's data directory
// (cleanly shut down), and a file whose presence says both are complete.
const (
	cachedTree     = "tree"
	cachedData     = "data"
	cachedComplete = "complete"
)

// cacheEntry returns the cache entry of tarball under cacheRoot, installing
// QloApps into it first when there is none (built reports that). Concurrent
// processes wait for one another's install through a lock file.
func cacheEntry(ctx context.Context, tarball, cacheRoot string, log io.Writer) (dir string, built bool, err error) {
	sum, err := fileSHA256(tarball)
	if err != nil {
		return "", false, err
	}
	name := "qloapps-" + sum[:12] + "-" + cacheLayout
	dir = filepath.Join(cacheRoot, name)
	if _, err := os.Stat(filepath.Join(dir, cachedComplete)); err == nil {
		return dir, false, nil
	}
	if err := os.MkdirAll(cacheRoot, 0o755); err != nil {
		return "", false, err
	}
	unlock, err := lockFile(filepath.Join(cacheRoot, name+".lock"))
	if err != nil {
		return "", false, err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, cachedComplete)); err == nil {
		return dir, false, nil // installed by another process while we waited
	}
	_ = os.RemoveAll(dir) // an incomplete entry
	building, err := os.MkdirTemp(cacheRoot, name+".building-")
	if err != nil {
		return "", false, err
	}
	fmt.Fprintf(log, "installing QloApps from %s into %s (once per tarball)\n", tarball, dir)
	start := time.Now()
	if err := install(ctx, tarball, building, log); err != nil {
		_ = os.RemoveAll(building)
		return "", false, fmt.Errorf("installing QloApps: %w", err)
	}
	if err := os.Rename(building, dir); err != nil {
		_ = os.RemoveAll(building)
		return "", false, err
	}
	fmt.Fprintf(log, "QloApps installed in %v\n", time.Since(start).Round(100*time.Millisecond))
	removeOtherLayouts(cacheRoot, "qloapps-"+sum[:12]+"-", name)
	return dir, true, nil
}

// removeOtherLayouts removes the cache entries of the same tarball made
// with another cacheLayout, and their lock files.
func removeOtherLayouts(cacheRoot, prefix, keep string) {
	entries, _ := os.ReadDir(cacheRoot)
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, prefix) && n != keep && n != keep+".lock" && !strings.Contains(n, ".building-") {
			_ = os.RemoveAll(filepath.Join(cacheRoot, n))
		}
	}
}

// install fills dir with a cache entry: the tarball extracted, a MariaDB
// data directory, QloApps' CLI installer run into it, the server shut down.
func install(ctx context.Context, tarball, dir string, log io.Writer) error {
	tree, data := filepath.Join(dir, cachedTree), filepath.Join(dir, cachedData)
	runDir, err := os.MkdirTemp("", "agente-qloapps-install-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(runDir)
	g, err := newGuardian(dir, runDir)
	if err != nil {
		return err
	}
	defer g.release()

	if err := os.Mkdir(tree, 0o755); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "tar", "-xzf", tarball, "-C", tree, "--no-same-owner").CombinedOutput(); err != nil {
		return fmt.Errorf("extracting %s: %v\n%s", tarball, err, tail(out, 2000))
	}
	if err := initMariaDB(ctx, data, filepath.Join(runDir, "mariadb-install-db.log")); err != nil {
		return err
	}
	db, err := startMariaDB(ctx, data, runDir, g)
	if err != nil {
		return err
	}
	defer db.kill() // after a clean shutdown, a no-op
	if err := db.createQloDatabase(ctx); err != nil {
		return err
	}
	fmt.Fprintln(log, "running QloApps' CLI installer")
	if err := runInstaller(ctx, tree, db.port, runDir); err != nil {
		return err
	}
	// Smarty templates compiled while installing name the tree's absolute
	// path; each copy compiles its own.
	if err := clearCompiledTemplates(tree); err != nil {
		return err
	}
	if err := db.shutdown(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, cachedComplete), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
}

// installerDomain is the shop address the installer records; Start points
// every copy at its own port (pointShopAt).
const installerDomain = "127.0.0.1:8080"

// runInstaller runs QloApps' CLI installer in tree against the database on
// port. Country us: es and fr would also download language packs, which
// fails offline.
func runInstaller(ctx context.Context, tree string, port int, runDir string) error {
	logPath := filepath.Join(runDir, "installer.log")
	cmd := exec.CommandContext(ctx, "php", "-d", "memory_limit=1024M", "install/index_cli.php",
		"--domain="+installerDomain,
		fmt.Sprintf("--db_server=127.0.0.1:%d", port),
		"--db_user="+dbUser, "--db_password="+dbPassword, "--db_name="+dbName,
		"--prefix="+TablePrefix,
		"--language=en", "--country=us", "--timezone=Europe/Madrid",
		"--firstname=Admin", "--lastname=Test", "--email=admin@example.com", "--password=Admin12345",
		"--newsletter=0", "--send_email=0")
	cmd.Dir = tree
	out, err := cmd.CombinedOutput()
	_ = os.WriteFile(logPath, out, 0o644)
	if err != nil {
		return fmt.Errorf("QloApps installer: %v\n%s", err, tail(out, 3000))
	}
	if _, err := os.Stat(filepath.Join(tree, "config", "settings.inc.php")); err != nil {
		return fmt.Errorf("QloApps installer wrote no config/settings.inc.php:\n%s", tail(out, 3000))
	}
	return nil
}

// clearCompiledTemplates empties cache/smarty/{compile,cache}, keeping the
// index.php files QloApps ships there.
func clearCompiledTemplates(tree string) error {
	for _, d := range []string{"compile", "cache"} {
		dir := filepath.Join(tree, "cache", "smarty", d)
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Name() == "index.php" {
				continue
			}
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// lockFile takes an exclusive lock on path, waiting for other holders, and
// returns how to release it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// copyTree copies directory src to dst (which must not exist), keeping
// modes and times.
func copyTree(ctx context.Context, src, dst string) error {
	if out, err := exec.CommandContext(ctx, "cp", "-a", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("copying %s: %v\n%s", src, err, tail(out, 2000))
	}
	return nil
}
