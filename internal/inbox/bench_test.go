package inbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
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
}
