package testservices

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresCPU is the CPU time (user and system, from /proc) each server
// process of the pool's database has used so far, by process id: the
// figure to compare on a shared machine, where rates move with other
// people's work. It is empty where /proc does not show those processes (a
// server in another container or machine). Clock ticks are 10 ms, so a
// difference needs a run of thousands of operations.
func PostgresCPU(tb testing.TB, pool *pgxpool.Pool) map[int]time.Duration {
	tb.Helper()
	rows, err := pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		tb.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		tb.Fatal(err)
	}
	out := map[int]time.Duration{}
	for _, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// After the command (which may hold spaces), utime and stime are
		// the 12th and 13th fields, in clock ticks of 10 ms.
		f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.Atoi(f[11])
		st, _ := strconv.Atoi(f[12])
		out[pid] = time.Duration(ut+st) * 10 * time.Millisecond
	}
	return out
}
