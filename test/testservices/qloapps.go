package testservices

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/testservices/qloappsserver"
)

// QloAppsHandle is a real QloApps 1.6.1 a test talks to: its shop root
// (BaseURL; the webservice is BaseURL+"/api/"), webservice key, PHP error
// log and database. Tests may share it with other tests and packages, so
// they create what they need (bookings with their own references) rather
// than expect an untouched demo shop.
type QloAppsHandle struct {
	qloappsserver.Instance
	t testing.TB
}

// QloApps returns the QloApps the environment names (QLOAPPS_URL,
// QLOAPPS_WS_KEY, QLOAPPS_ERROR_LOG, QLOAPPS_DB_DSN, exported by
// `make test`), or, when it names none, one started for this test process
// (installing PHP and MariaDB first when running as root, and QloApps into
// the user's cache directory the first time: tens of seconds, then a few
// seconds per process); it is stopped when the process exits. Like the
// other services, QloApps that cannot be had (no tarball: put it at
// ../shared/qloapps/qloapps-1.6.1.tar.gz from the repository root, or set
// QLOAPPS_TARBALL) skips the test locally and fails it under CI=true.
func QloApps(t testing.TB) *QloAppsHandle {
	t.Helper()
	inst, err := qloAppsInstance(t)
	Require(t, "QloApps", err)
	return &QloAppsHandle{Instance: inst, t: t}
}

// qloApps is this process's QloApps: the environment's, checked once, or
// a private one started once.
var qloApps struct {
	sync.Mutex
	done bool
	inst qloappsserver.Instance
	err  error
	// private is the server started for this process, held for the
	// process's life: its guardian's pipe is closed when the server is
	// garbage collected, and a closed pipe kills the server.
	private *qloappsserver.Server
}

func qloAppsInstance(t testing.TB) (qloappsserver.Instance, error) {
	qloApps.Lock()
	defer qloApps.Unlock()
	if !qloApps.done {
		qloApps.inst, qloApps.err = findQloApps(t)
		qloApps.done = true
	}
	return qloApps.inst, qloApps.err
}

func findQloApps(t testing.TB) (qloappsserver.Instance, error) {
	if reason := os.Getenv(qloappsserver.EnvUnavailable); reason != "" {
		return qloappsserver.Instance{}, errors.New(reason)
	}
	if inst, ok := qloappsserver.InstanceFromEnv(); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := inst.Check(ctx); err != nil {
			return inst, fmt.Errorf("%s names a QloApps that does not answer: %w", qloappsserver.EnvURL, err)
		}
		return inst, nil
	}
	tarball, err := qloappsserver.TarballPath()
	if err != nil {
		return qloappsserver.Instance{}, err
	}
	var out bytes.Buffer
	if err := qloappsserver.EnsureBinaries(&out); err != nil {
		return qloappsserver.Instance{}, fmt.Errorf("%w\n%s", err, out.Bytes())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Never stopped explicitly: other tests of this process use it, and
	// the server's guardian ends it when the process exits.
	srv, err := qloappsserver.Start(ctx, qloappsserver.Options{Tarball: tarball, Log: testLogWriter{t}})
	if err != nil {
		return qloappsserver.Instance{}, err
	}
	qloApps.private = srv
	return srv.Instance, nil
}

// testLogWriter writes each line through t.Logf.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Logf("qloapps: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// DB opens QloApps' database (tables prefixed qlo_), closed when the test
// ends.
func (h *QloAppsHandle) DB() *sql.DB {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := h.OpenDB(ctx)
	if err != nil {
		h.t.Fatalf("QloApps database: %v", err)
	}
	h.t.Cleanup(func() { db.Close() })
	return db
}

// ErrorLogMark is the PHP error log's current end, for ErrorLogSince.
func (h *QloAppsHandle) ErrorLogMark() int64 {
	h.t.Helper()
	n, err := h.ErrorLogSize()
	if err != nil {
		h.t.Fatalf("QloApps PHP error log: %v", err)
	}
	return n
}

// ErrorLogSince returns what PHP logged after mark (ErrorLogMark): the
// warnings behind the webservice's 500 answers, with file and line.
func (h *QloAppsHandle) ErrorLogSince(mark int64) []string {
	h.t.Helper()
	lines, err := h.ErrorLogLinesFrom(mark)
	if err != nil {
		h.t.Fatalf("QloApps PHP error log: %v", err)
	}
	return lines
}
