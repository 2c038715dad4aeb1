package inbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/test/testservices"
	"github.com/jackc/pgx/v5/pgxpool"
)

// BenchmarkAccept measures the webhook's ack path: one Accept per op of one
// message, or of a batch of ten. Each sub-benchmark also reports its cost
// against a reference measured in the same run on the same machine:
// memory against json.Marshal of the same batch (the cost of handling the
// payload at all), Postgres against a plain one-row INSERT committed on the
// same pool (the floor for anything durable: one round trip and one WAL
// flush) and against a bare `SELECT 1` round trip.
func BenchmarkAccept(b *testing.B) {
	for _, batch := range []int{1, 10} {
		b.Run(fmt.Sprintf("memory/batch=%d", batch), func(b *testing.B) {
			ib := inbox.NewMemory(inbox.Options{Logger: testLogger()})
			msgs := benchMessages(b.N, batch)
			ref := measure(200, func(i int) { _, _ = json.Marshal(msgs[i%len(msgs)]) })
			benchAccept(b, ib, msgs, batch, ref, "x_json_marshal")
		})
	}
	for _, batch := range []int{1, 10} {
		b.Run(fmt.Sprintf("postgres/batch=%d", batch), func(b *testing.B) {
			pool := benchPool(b)
			ib := inbox.NewPostgres(pool, inbox.Options{Logger: testLogger()})
			msgs := benchMessages(b.N, batch)
			ctx := context.Background()
			// Warm the statement cache so the first op does not pay for it.
			if _, err := ib.Accept(ctx, []chat.Message{guestMsg("1", "warm-up", 0)}, nil); err != nil {
				b.Fatal(err)
			}
			if _, err := pool.Exec(ctx, "CREATE TABLE IF NOT EXISTS bench_ref (id bigserial PRIMARY KEY, v text NOT NULL)"); err != nil {
				b.Fatal(err)
			}
			roundTrip := measure(300, func(int) {
				var one int
				if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
					b.Fatal(err)
				}
			})
			insertCommit := measure(300, func(i int) {
				if _, err := pool.Exec(ctx, "INSERT INTO bench_ref (v) VALUES ($1)", "x"); err != nil {
					b.Fatal(err)
				}
			})
			benchAccept(b, ib, msgs, batch, insertCommit, "x_insert_commit")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(roundTrip.Nanoseconds()), "x_select1")
		})
	}
}

func benchAccept(b *testing.B, ib *inbox.Inbox, msgs [][]chat.Message, batch int, ref time.Duration, unit string) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := ib.Accept(ctx, msgs[i], nil)
		if err != nil {
			b.Fatal(err)
		}
		if res.New != batch {
			b.Fatalf("accepted %+v, want %d new", res, batch)
		}
	}
	b.StopTimer()
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp/float64(ref.Nanoseconds()), unit)
	b.ReportMetric(float64(batch)*1e9/perOp, "msgs/s")
}

// benchMessages builds n batches of distinct messages (ids unique across
// the run) from ten guests.
func benchMessages(n, batch int) [][]chat.Message {
	out := make([][]chat.Message, n)
	id := 0
	for i := range out {
		out[i] = make([]chat.Message, batch)
		for j := range out[i] {
			id++
			m := guestMsg("3460000"+strconv.Itoa(id%10), "wamid.HBgLMzQ2MDAwMDAwMDAVAgASGBQz"+strconv.Itoa(id), j)
			m.Name = "Guest"
			out[i][j] = m
		}
	}
	return out
}

// measure is the mean time of n calls of f.
func measure(n int, f func(i int)) time.Duration {
	start := time.Now()
	for i := range n {
		f(i)
	}
	return time.Since(start) / time.Duration(n)
}

func benchPool(b *testing.B) *pgxpool.Pool {
	b.Helper()
	url := testservices.Postgres(b)
	ctx := context.Background()
	pool, err := store.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if _, err := store.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	return pool
}

// BenchmarkAcceptParallel is the ack path under concurrency (16 callers,
// one message each per op): on Postgres the accepts that arrive together
// share a statement and a commit (group commit). x_insert_commit compares
// with one plain INSERT committed alone, measured in the same run.
func BenchmarkAcceptParallel(b *testing.B) {
	pool := benchPool(b)
	ib := inbox.NewPostgres(pool, inbox.Options{Logger: testLogger()})
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE TABLE IF NOT EXISTS bench_ref (id bigserial PRIMARY KEY, v text NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	insertCommit := measure(100, func(i int) {
		if _, err := pool.Exec(ctx, "INSERT INTO bench_ref (v) VALUES ($1)", "x"); err != nil {
			b.Fatal(err)
		}
	})
	msgs := benchMessages(b.N, 1)
	var next atomic.Int64
	b.SetParallelism(8) // 16 callers on 2 CPUs
	b.ReportAllocs()
	pg0, cpu0, commits0 := testservices.PostgresCPU(b, pool), processCPU(), serverCommits(b, pool)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			if _, err := ib.Accept(ctx, msgs[i], nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(1e9/perOp, "msgs/s")
	b.ReportMetric(perOp/float64(insertCommit.Nanoseconds()), "x_insert_commit")
	// CPU time per message, ours and the server's: on a shared machine the
	// figures to compare, where the rate moves with other people's work.
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	if len(pg0) > 0 {
		var d time.Duration
		for pid, t := range testservices.PostgresCPU(b, pool) {
			d += t - pg0[pid]
		}
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "pg-cpu-ns/op")
	}
	b.ReportMetric(float64(serverCommits(b, pool)-commits0)/float64(b.N), "commits/op")
}

// serverCommits is the database's count of committed transactions. A
// server process reports its counts when idle, at most once a second, so
// it waits that long first.
func serverCommits(b *testing.B, pool *pgxpool.Pool) int64 {
	time.Sleep(1100 * time.Millisecond)
	var n int64
	if err := pool.QueryRow(context.Background(), `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkMemoryLoop is the memory inbox's workers taking b.N accepted
// messages of 256 guests through a handler that answers each with one
// reply, as the staircase's workers do: claim, run, complete. The handler
// recurses to use some stack, as the orchestrator's calls do.
func BenchmarkMemoryLoop(b *testing.B) {
	ib := inbox.NewMemory(inbox.Options{Logger: testLogger(), PollInterval: time.Millisecond})
	var done atomic.Int64
	var deep func(n int) int
	deep = func(n int) int {
		var pad [256]byte
		pad[n%256] = byte(n)
		if n == 0 {
			return int(pad[0])
		}
		return deep(n-1) + int(pad[n%256])
	}
	h := func(ctx context.Context, m chat.Message) ([]inbox.OutboundReply, error) {
		_ = deep(40)
		done.Add(1)
		return textReply("ok"), nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = ib.Run(ctx, h) }()
	msgs := make([]chat.Message, b.N)
	for i := range msgs {
		msgs[i] = guestMsg(strconv.Itoa(i%256), "loop-"+strconv.Itoa(i), i)
	}
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	for i := 0; i < len(msgs); i += 64 {
		if _, err := ib.Accept(ctx, msgs[i:min(i+64, len(msgs))], nil); err != nil {
			b.Fatal(err)
		}
	}
	for done.Load() < int64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	// CPU time, not wall time, is the figure to compare on a shared
	// machine: the wall clock counts the waits for other people's work.
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	cancel()
	<-stopped
}

// processCPU is the user and system CPU time the test process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
