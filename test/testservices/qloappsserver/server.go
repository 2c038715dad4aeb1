package qloappsserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/agentehotel/agente-caddy/test/testservices/localserver"
)

// routerPHP stands in, under `php -S`, for QloApps' .htaccess rule that
// sends /api/... to webservice/dispatcher.php.
//
//go:embed router.php
var routerPHP []byte

// phpWorkers is PHP_CLI_SERVER_WORKERS: the built-in server answers one
// request at a time per worker.
const phpWorkers = 4

// Options configure Start. The zero value is the usual configuration.
type Options struct {
	// Tarball is the QloApps 1.6.1 source tarball; empty: TarballPath().
	Tarball string
	// CacheDir keeps installed trees between runs; empty: DefaultCacheDir().
	CacheDir string
	// Log receives progress lines (installing, started in ...); nil discards.
	Log io.Writer
}

// Server is a running QloApps with its private MariaDB, in a temporary
// directory of its own. Stop ends both and removes the directory.
type Server struct {
	Instance
	// Installed reports that this Start installed QloApps into the cache
	// (the slow first start for a tarball) rather than copying it.
	Installed bool
	// StartDuration is how long Start took.
	StartDuration time.Duration

	base     string
	guardian *guardian
	mariadb  *mariaDB
	php      *process
	stopOnce sync.Once
}

// Start runs a QloApps: from the cache entry of the tarball (installing it
// first when there is none), copied into a temporary directory, with its
// own MariaDB and PHP server on free ports of 127.0.0.1. It returns when
// the webservice answers the key. Should this process die without Stop,
// the servers are killed and the directory removed all the same; so do
// they once the Server is garbage collected (the guardian's pipe closes
// with it): keep it referenced for as long as the servers are wanted.
func Start(ctx context.Context, opts Options) (_ *Server, err error) {
	started := time.Now()
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	tarball := opts.Tarball
	if tarball == "" {
		if tarball, err = TarballPath(); err != nil {
			return nil, err
		}
	}
	cacheRoot := opts.CacheDir
	if cacheRoot == "" {
		cacheRoot = DefaultCacheDir()
	}
	entry, installed, err := cacheEntry(ctx, tarball, cacheRoot, log)
	if err != nil {
		return nil, err
	}

	base, err := os.MkdirTemp(instanceParentDir(), "agente-qloapps-")
	if err != nil {
		return nil, err
	}
	g, err := newGuardian(base)
	if err != nil {
		os.RemoveAll(base)
		return nil, err
	}
	s := &Server{Installed: installed, base: base, guardian: g}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	tree, data := filepath.Join(base, cachedTree), filepath.Join(base, cachedData)
	stage := time.Now()
	if err := copyTree(ctx, filepath.Join(entry, cachedTree), tree); err != nil {
		return nil, err
	}
	if err := copyTree(ctx, filepath.Join(entry, cachedData), data); err != nil {
		return nil, err
	}
	copied := time.Since(stage)
	stage = time.Now()
	if s.mariadb, err = startMariaDB(ctx, data, base, g); err != nil {
		return nil, err
	}
	mariadbUp := time.Since(stage)
	if err := pointTreeAtDatabase(tree, s.mariadb.port); err != nil {
		return nil, err
	}
	s.DBDSN = s.mariadb.qloDSN()
	db, err := sql.Open("mysql", s.DBDSN)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if s.WebserviceKey, err = enableWebservice(ctx, db); err != nil {
		return nil, err
	}
	if err := showPricesTaxIncluded(ctx, db); err != nil {
		return nil, err
	}
	if err := addSpanish(ctx, db); err != nil {
		return nil, err
	}
	routerPath := filepath.Join(base, "router.php")
	if err := os.WriteFile(routerPath, routerPHP, 0o644); err != nil {
		return nil, err
	}
	s.ErrorLogPath = filepath.Join(base, "php-error.log")
	stage = time.Now()
	if err := s.startPHP(ctx, db, tree, routerPath); err != nil {
		return nil, err
	}
	phpUp := time.Since(stage)
	s.StartDuration = time.Since(started)
	how := "copied from the cache"
	if installed {
		how = "installed into the cache, then copied"
	}
	round := func(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
	fmt.Fprintf(log, "QloApps at %s (%s) in %v: copy %v, MariaDB up %v, webservice up %v\n",
		s.BaseURL, how, round(s.StartDuration), round(copied), round(mariadbUp), round(phpUp))
	return s, nil
}

// instanceParentDir is where instances get their temporary directory:
// /dev/shm when it is a writable tmpfs with room to spare, since a copy
// there takes a fraction of the time on a busy disk (the tree is ten
// thousand files) and the instance is thrown away anyway; else the usual
// temporary directory.
func instanceParentDir() string {
	const shm = "/dev/shm"
	var st syscall.Statfs_t
	if err := syscall.Statfs(shm, &st); err != nil || st.Type != tmpfsMagic {
		return ""
	}
	if free := st.Bavail * uint64(st.Bsize); free < 2<<30 {
		return ""
	}
	if syscall.Access(shm, 2 /* W_OK */) != nil {
		return ""
	}
	return shm
}

// tmpfsMagic is statfs(2)'s f_type of a tmpfs.
const tmpfsMagic = 0x01021994

// startPHP serves tree with PHP's built-in server on a free port, once the
// shop's domain is that address, and waits for the webservice to answer. A
// port taken between choosing and binding it is retried with another.
func (s *Server) startPHP(ctx context.Context, db *sql.DB, tree, routerPath string) error {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := localserver.FreePort()
		if err != nil {
			return err
		}
		host := fmt.Sprintf("127.0.0.1:%d", port)
		if err := pointShopAt(ctx, db, host); err != nil {
			return err
		}
		cmd := exec.Command("php",
			"-d", "log_errors=1",
			"-d", "error_log="+s.ErrorLogPath,
			"-d", "display_errors=0",
			"-S", host, "-t", tree, routerPath)
		cmd.Dir = tree
		cmd.Env = append(os.Environ(), fmt.Sprintf("PHP_CLI_SERVER_WORKERS=%d", phpWorkers),
			"QLOAPPS_CALL_LOG="+filepath.Join(s.base, callLog))
		p, err := startProcess(cmd, filepath.Join(s.base, "php-server.log"), s.guardian)
		if err != nil {
			return err
		}
		s.php = p
		s.BaseURL = "http://" + host
		lastErr = s.waitReady(ctx, p, 60*time.Second)
		if lastErr == nil {
			return nil
		}
		p.kill()
		s.php = nil
		if !strings.Contains(lastErr.Error(), "in use") {
			break
		}
	}
	return lastErr
}

// callLog is where router.php writes a line per webservice request (PHP's
// built-in server does not log the requests a router script answers).
const callLog = "webservice-calls.log"

// Summary is how many webservice requests QloApps was sent so far and how
// many lines PHP's error log holds (every warning QloApps raised).
func (s *Server) Summary() (calls, errorLines int, err error) {
	raw, err := os.ReadFile(filepath.Join(s.base, callLog))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, 0, err
	}
	calls = bytes.Count(raw, []byte("\n"))
	lines, err := s.ErrorLogLines()
	return calls, len(lines), err
}

// Stop kills PHP and MariaDB and removes the temporary directory. It may be
// called more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.php != nil {
			s.php.kill()
		}
		if s.mariadb != nil {
			s.mariadb.kill()
		}
		_ = os.RemoveAll(s.base)
		s.guardian.release()
	})
}

// dbServerLine is config/settings.inc.php's database address line.
var dbServerLine = regexp.MustCompile(`define\('_DB_SERVER_', '[^']*'\);`)

// pointTreeAtDatabase rewrites the database address the installer wrote
// into config/settings.inc.php to this start's MariaDB port.
func pointTreeAtDatabase(tree string, port int) error {
	path := filepath.Join(tree, "config", "settings.inc.php")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !dbServerLine.Match(b) {
		return fmt.Errorf("%s has no _DB_SERVER_ line", path)
	}
	b = dbServerLine.ReplaceAll(b, fmt.Appendf(nil, "define('_DB_SERVER_', '127.0.0.1:%d');", port))
	return os.WriteFile(path, b, 0o644)
}

// pointShopAt makes host (127.0.0.1:PORT) the shop's domain, the one the
// installer recorded in qlo_shop_url and PS_SHOP_DOMAIN(_SSL): QloApps
// redirects a request for any other host to its domain, the webservice
// included.
func pointShopAt(ctx context.Context, db *sql.DB, host string) error {
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"UPDATE " + TablePrefix + "shop_url SET domain = ?, domain_ssl = ?", []any{host, host}},
		{"UPDATE " + TablePrefix + "configuration SET value = ?, date_upd = NOW() WHERE name IN ('PS_SHOP_DOMAIN', 'PS_SHOP_DOMAIN_SSL')", []any{host}},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			return fmt.Errorf("pointing the shop at %s: %w", host, err)
		}
	}
	return nil
}

// enableWebservice turns the webservice on (PS_WEBSERVICE, off after
// installing) and creates an active key for shop 1 with exactly
// WebservicePermissions, returning the key.
func enableWebservice(ctx context.Context, db *sql.DB) (key string, err error) {
	key = newWebserviceKey()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	p := TablePrefix
	if _, err = tx.ExecContext(ctx, "DELETE FROM "+p+"configuration WHERE name = 'PS_WEBSERVICE'"); err != nil {
		return "", err
	}
	if _, err = tx.ExecContext(ctx, "INSERT INTO "+p+"configuration (name, value, date_add, date_upd) VALUES ('PS_WEBSERVICE', '1', NOW(), NOW())"); err != nil {
		return "", err
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO "+p+"webservice_account (`key`, description, class_name, is_module, active) VALUES (?, 'agente-caddy tests', 'WebserviceRequest', 0, 1)", key)
	if err != nil {
		return "", err
	}
	account, err := res.LastInsertId()
	if err != nil {
		return "", err
	}
	if _, err = tx.ExecContext(ctx, "INSERT INTO "+p+"webservice_account_shop (id_webservice_account, id_shop) VALUES (?, 1)", account); err != nil {
		return "", err
	}
	for _, resource := range Resources() {
		for _, method := range WebservicePermissions[resource] {
			if _, err = tx.ExecContext(ctx, "INSERT INTO "+p+"webservice_permission (resource, method, id_webservice_account) VALUES (?, ?, ?)", resource, method, account); err != nil {
				return "", err
			}
		}
	}
	if err = tx.Commit(); err != nil {
		return "", err
	}
	return key, nil
}

// newWebserviceKey is a random key in QloApps' format: 32 of [A-Z0-9].
func newWebserviceKey() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// showPricesTaxIncluded makes every customer group show prices tax
// included (qlo_group.price_display_method = 0; the installer's us defaults
// show them tax excluded, 1). A hotel running this adapter needs the same
// setting: with prices shown tax excluded, QloApps 1.6.1 answers
// GET /api/bookings/{id} with HTTP 500 "Undefined variable $useTax".
func showPricesTaxIncluded(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, "UPDATE "+TablePrefix+"group SET price_display_method = 0"); err != nil {
		return errors.Join(errors.New("showing prices tax included"), err)
	}
	return nil
}

// SpanishRoomTypeNames are the Spanish names addSpanish gives the demo
// data's room types (products 1-4), by product id.
var SpanishRoomTypeNames = map[int]string{
	1: "Habitaciones generales",
	2: "Habitaciones de lujo",
	3: "Habitaciones ejecutivas",
	4: "Habitaciones premium",
}

// addSpanish gives the shop a second language, Spanish (es), the way
// QloApps adds one (Language::copyLanguageData): a qlo_lang row for the
// shop, and a copy of the English row of every multilingual table
// (qlo_*_lang with an id_lang column) for it; then the room types get
// their SpanishRoomTypeNames. The installer cannot add it offline (a
// country es install downloads the language pack), and the webservice
// answers multilingual fields in every active language, so names differ
// per language as in a hotel that translated them. It does nothing when
// the shop has Spanish already.
func addSpanish(ctx context.Context, db *sql.DB) (err error) {
	defer func() {
		if err != nil {
			err = errors.Join(errors.New("adding Spanish to QloApps"), err)
		}
	}()
	p := TablePrefix
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+p+"lang WHERE iso_code = 'es'").Scan(&n); err != nil || n > 0 {
		return err
	}
	rows, err := db.QueryContext(ctx, `SELECT table_name, GROUP_CONCAT(column_name ORDER BY ordinal_position)
		FROM information_schema.columns
		WHERE table_schema = DATABASE() AND table_name LIKE ? AND table_name <> ?
		GROUP BY table_name HAVING SUM(column_name = 'id_lang') = 1`, strings.ReplaceAll(p, "_", `\_`)+`%\_lang`, p+"lang")
	if err != nil {
		return err
	}
	tables := map[string][]string{}
	for rows.Next() {
		var table, cols string
		if err := rows.Scan(&table, &cols); err != nil {
			rows.Close()
			return err
		}
		tables[table] = strings.Split(cols, ",")
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(tables) == 0 {
		return errors.New("no multilingual tables found")
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "INSERT INTO "+p+"lang (name, active, iso_code, language_code, date_format_lite, date_format_full, is_rtl) "+
		"VALUES ('Español (Spanish)', 1, 'es', 'es-es', 'd/m/Y', 'd/m/Y H:i:s', 0)")
	if err != nil {
		return err
	}
	es, err := res.LastInsertId()
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+p+"lang_shop (id_lang, id_shop) VALUES (?, 1)", es); err != nil {
		return err
	}
	for table, cols := range tables {
		sel := make([]string, len(cols))
		for i, c := range cols {
			sel[i] = "`" + c + "`"
			if c == "id_lang" {
				sel[i] = "?"
			}
		}
		q := fmt.Sprintf("INSERT IGNORE INTO `%s` (`%s`) SELECT %s FROM `%s` WHERE id_lang = 1",
			table, strings.Join(cols, "`, `"), strings.Join(sel, ", "), table)
		if _, err := tx.ExecContext(ctx, q, es); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	for id, name := range SpanishRoomTypeNames {
		if _, err := tx.ExecContext(ctx, "UPDATE "+p+"product_lang SET name = ? WHERE id_product = ? AND id_lang = ?", name, id, es); err != nil {
			return err
		}
	}
	return tx.Commit()
}
