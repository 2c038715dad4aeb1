package limiter

import (
	"context"
	"strconv"
	"testing"
	"time"

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
	b.Run("redis/2zones", func(b *testing.B) {
		client, prefix := testservices.RedisClient(b)
		run(b, NewRedis(client, RedisOptions{KeyPrefix: prefix}), 2)
	})
}
