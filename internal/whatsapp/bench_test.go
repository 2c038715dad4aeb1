package whatsapp

import (
	"encoding/json"
	"testing"
	"time"
)

// Each benchmark also decodes the same body into `any` with encoding/json,
// untimed, and reports Normalize's time as a multiple of it
// (x_unmarshal_any): a ratio that survives noisy shared machines.
func benchNormalize(b *testing.B, body []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.StopTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
	}
	ref := time.Since(start)
	b.StartTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Normalize(body, NormalizeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed())/float64(ref), "x_unmarshal_any")
}

func BenchmarkNormalize(b *testing.B) {
	b.Run("1_message", func(b *testing.B) { benchNormalize(b, batchBody(1)) })
	b.Run("50_messages", func(b *testing.B) { benchNormalize(b, batchBody(50)) })
}
