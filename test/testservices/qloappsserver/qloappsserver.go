// Package qloappsserver runs a real QloApps 1.6.1 for tests, so the PMS
// adapter (internal/pms/qloapps) is tested against the real webservice
// rather than a fake written from its documentation.
//
// Start extracts the QloApps source tarball, installs it with its CLI
// installer into a private MariaDB (mariadbd on a free 127.0.0.1 port, data
// in a temporary directory), turns the webservice on with a key holding
// exactly WebservicePermissions, and serves the tree with PHP's built-in
// server on another free 127.0.0.1 port. Installing takes tens of seconds,
// so the installed tree and MariaDB's data directory are kept once per
// tarball checksum in the user's cache directory; every Start copies them
// into a fresh temporary directory and points them at its new ports.
//
// The package does not import testing: test/services starts one instance
// for a whole `make test` and exports its coordinates to the tests
// (Instance.Environ: QLOAPPS_URL, QLOAPPS_WS_KEY, QLOAPPS_ERROR_LOG,
// QLOAPPS_DB_DSN), and test/testservices.QloApps hands it to tests.
//
// Facts about QloApps 1.6.1 this package relies on (checked on Debian 12,
// PHP 8.2, MariaDB 10.11):
//   - The tarball holds the tree at its top level (no enclosing directory).
//   - The CLI installer needs no web server; `--country=us` keeps it
//     offline (es or fr also download language packs). It leaves demo data:
//     hotel 1 "The Hotel Prime", room types (products) 1-4, 20 rooms, USD.
//   - The installer writes the database address into config/settings.inc.php
//     and the shop's host:port into qlo_shop_url and the PS_SHOP_DOMAIN(_SSL)
//     configuration; a request for another host is redirected (302) to it.
//   - The webservice is off after installing; it is turned on, and keys are
//     made, with plain SQL.
//   - The webservice turns any PHP warning or notice into an HTTP 500 answer,
//     sometimes after the operation went through; PHP's error log (see
//     Instance.ErrorLogPath) says which.
package qloappsserver

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"time"

	// The MySQL driver for database/sql: Instance.OpenDB, and the setup
	// statements Start runs.
	_ "github.com/go-sql-driver/mysql"
)

// Environment variables naming a running instance (Instance.Environ,
// InstanceFromEnv), the tarball, and why test/services could not start one.
const (
	// EnvURL is the shop root, http://127.0.0.1:PORT; the webservice is
	// under /api/.
	EnvURL = "QLOAPPS_URL"
	// EnvWebserviceKey is the webservice key (HTTP Basic user, empty
	// password).
	EnvWebserviceKey = "QLOAPPS_WS_KEY"
	// EnvErrorLog is the path of PHP's error log.
	EnvErrorLog = "QLOAPPS_ERROR_LOG"
	// EnvDBDSN is the go-sql-driver/mysql DSN of QloApps' database.
	EnvDBDSN = "QLOAPPS_DB_DSN"
	// EnvTarball overrides the path of the QloApps 1.6.1 source tarball
	// (DefaultTarball).
	EnvTarball = "QLOAPPS_TARBALL"
	// EnvUnavailable is set by test/services, instead of the four above,
	// to the reason it could not start QloApps, so tests report that reason
	// rather than each trying (and failing) again.
	EnvUnavailable = "QLOAPPS_UNAVAILABLE"
)

// TablePrefix prefixes every QloApps table (qlo_orders,
// qlo_htl_booking_detail, ...).
const TablePrefix = "qlo_"

// WebservicePermissions is what the webservice key may do: resource →
// HTTP methods, exactly the calls internal/pms/qloapps makes (room types'
// occupancy from hotel_room_types, names, tax groups and linked services
// from room_types, which of those services QloApps adds on its own from
// services; hotel_ari is POSTed an XML search; a booking is found by its
// reference, and its status read, through the core orders resource).
var WebservicePermissions = map[string][]string{
	"hotels":           {"GET"},
	"hotel_room_types": {"GET"},
	"room_types":       {"GET"},
	"services":         {"GET"},
	"orders":           {"GET"},
	"hotel_ari":        {"POST"},
	"bookings":         {"GET", "POST", "PUT"},
	"languages":        {"GET"},
}

// Resources is the sorted list of WebservicePermissions' resources, which is
// what GET /api/?output_format=JSON answers with the key.
func Resources() []string {
	rs := make([]string, 0, len(WebservicePermissions))
	for r := range WebservicePermissions {
		rs = append(rs, r)
	}
	sort.Strings(rs)
	return rs
}

// Instance is where a running QloApps is: what tests need to talk to it.
type Instance struct {
	// BaseURL is the shop root, http://127.0.0.1:PORT (no trailing slash).
	BaseURL string
	// WebserviceKey is the key, 32 characters of [A-Z0-9].
	WebserviceKey string
	// ErrorLogPath is PHP's error log: a 500 from the webservice is often a
	// PHP warning, and the log keeps it with its file and line.
	ErrorLogPath string
	// DBDSN is the go-sql-driver/mysql DSN of QloApps' database (tables
	// prefixed TablePrefix), e.g. for reading qlo_orders.
	DBDSN string
}

// InstanceFromEnv reads an Instance from EnvURL, EnvWebserviceKey,
// EnvErrorLog and EnvDBDSN; ok is false unless all four are set.
func InstanceFromEnv() (inst Instance, ok bool) {
	inst = Instance{
		BaseURL:       os.Getenv(EnvURL),
		WebserviceKey: os.Getenv(EnvWebserviceKey),
		ErrorLogPath:  os.Getenv(EnvErrorLog),
		DBDSN:         os.Getenv(EnvDBDSN),
	}
	ok = inst.BaseURL != "" && inst.WebserviceKey != "" && inst.ErrorLogPath != "" && inst.DBDSN != ""
	return inst, ok
}

// Environ is the instance as environment variables (NAME=value) for
// os/exec.Cmd.Env; InstanceFromEnv reads them back.
func (i Instance) Environ() []string {
	return []string{
		EnvURL + "=" + i.BaseURL,
		EnvWebserviceKey + "=" + i.WebserviceKey,
		EnvErrorLog + "=" + i.ErrorLogPath,
		EnvDBDSN + "=" + i.DBDSN,
	}
}

// Check asks the webservice for the key's resources
// (GET /api/?output_format=JSON) and reports whether it answered 200.
func (i Instance) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, i.BaseURL+"/api/?output_format=JSON", nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(i.WebserviceKey, "")
	client := http.Client{
		// A redirect means the shop's domain is not this address: not ready.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s/api/: HTTP %d: %s", i.BaseURL, resp.StatusCode, body)
	}
	return nil
}

// OpenDB opens QloApps' database (DBDSN) and checks it answers.
func (i Instance) OpenDB(ctx context.Context) (*sql.DB, error) {
	db, err := sql.Open("mysql", i.DBDSN)
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// ErrorLogSize is the PHP error log's current size, a mark for
// ErrorLogLinesFrom; a log PHP has not created yet has size 0.
func (i Instance) ErrorLogSize() (int64, error) {
	st, err := os.Stat(i.ErrorLogPath)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// ErrorLogLines returns every line of the PHP error log.
func (i Instance) ErrorLogLines() ([]string, error) { return i.ErrorLogLinesFrom(0) }

// ErrorLogLinesFrom returns the PHP error log's lines from byte offset on
// (an ErrorLogSize taken earlier), so a test sharing the instance sees only
// what was logged since.
func (i Instance) ErrorLogLinesFrom(offset int64) ([]string, error) {
	f, err := os.Open(i.ErrorLogPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}

// waitReady polls Check until it succeeds, the process exits, or within
// elapses.
func (i Instance) waitReady(ctx context.Context, p *process, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 10*time.Second)
		err := i.Check(attempt)
		cancelAttempt()
		if err == nil {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("php exited: %v", p.exitErr())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("QloApps' webservice did not answer within %v: %w", within, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
