package limiter

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentehotel/agente-caddy/test/testservices"
)

// BenchmarkDecision measures one decision per backend, with one zone and with
// two zones decided atomically. Keys rotate over 1000 so that most requests
// are admitted and windows keep a realistic size.
//
//	go test -run '^$' -bench Decision -benchmem ./internal/limiter
func BenchmarkDecision(b *testing.B) {
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "zone:" + strconv.Itoa(i)
	}
	limit := Limit{Events: 1 << 20, Window: time.Minute}
	run := func(b *testing.B, l Limiter, zones int) {
		ctx := context.Background()
		reqs := make([]Request, zones)
		out := make([]Decision, zones)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			for z := range reqs {
				reqs[z] = Request{Key: keys[(i+z*7)%len(keys)], Limit: limit}
			}
			if _, err := l.AllowAll(ctx, reqs, out); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("memory", func(b *testing.B) { run(b, NewMemory(MemoryOptions{}), 1) })
	b.Run("memory/2zones", func(b *testing.B) { run(b, NewMemory(MemoryOptions{}), 2) })
	b.Run("memory/parallel", func(b *testing.B) {
		m := NewMemory(MemoryOptions{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := m.Allow(context.Background(), keys[i%len(keys)], limit); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
	b.Run("redis", func(b *testing.B) {
		client, prefix := testservices.RedisClient(b)
		run(b, NewRedis(client, RedisOptions{KeyPrefix: prefix}), 1)
	})
	// 16 goroutines deciding at once, as the requests of 16 connections:
	// the limiter (decisions asked together share a pipeline) against one
	// script call per decision as it was before (go-redis's Script.Run).
	// Each reports the CPU time per decision of this process and of the
	// Redis server (its process_id from INFO), from /proc.
	parallel := func(b *testing.B, client *redis.Client, decide func(ctx context.Context, key string) error) {
		b.SetParallelism(8)
		b.ReportAllocs()
		server, err := client.InfoMap(context.Background(), "server").Result()
		if err != nil {
			b.Fatal(err)
		}
		serverPID := server["Server"]["process_id"]
		self0, server0 := procCPU(b, "self"), procCPU(b, serverPID)
		defer func() {
			ops := float64(b.N)
			b.ReportMetric(float64(procCPU(b, "self")-self0)/ops, "client-cpu-ns/op")
			b.ReportMetric(float64(procCPU(b, serverPID)-server0)/ops, "redis-cpu-ns/op")
		}()
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				if err := decide(ctx, keys[int(n.Add(1))%len(keys)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("redis/parallel", func(b *testing.B) {
		client, prefix := testservices.RedisClient(b)
		r := NewRedis(client, RedisOptions{KeyPrefix: prefix})
		parallel(b, client, func(ctx context.Context, key string) error {
			_, err := r.Allow(ctx, key, limit)
			return err
		})
	})
	b.Run("redis/parallel/one-call-each", func(b *testing.B) {
		client, prefix := testservices.RedisClient(b)
		var seq atomic.Uint64
		parallel(b, client, func(ctx context.Context, key string) error {
			args := []any{"m-" + strconv.FormatUint(seq.Add(1), 36), limit.Events, limit.Window.Microseconds()}
			return slidingWindow.Run(ctx, client, []string{prefix + key}, args...).Err()
		})
	})
	b.Run("redis/2zones", func(b *testing.B) {
		client, prefix := testservices.RedisClient(b)
		run(b, NewRedis(client, RedisOptions{KeyPrefix: prefix}), 2)
	})
}

// procCPU is the user and system CPU time process pid ("self" for this one)
// has used, from /proc/<pid>/stat (in clock ticks of 10 ms).
func procCPU(b *testing.B, pid string) time.Duration {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		b.Skipf("no CPU time for process %s: %v", pid, err)
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(ut+st) * 10 * time.Millisecond
}
