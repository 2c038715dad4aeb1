package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/fakegraph"
	"github.com/agentehotel/agente-caddy/test/loadgen"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// BenchmarkInstanceCPU measures what the staircase's rates only hint at on
// a shared machine: the CPU time (user + system, from /proc/<pid>/stat) the
// instance's process spends per 10,000 webhooks, from the first request of
// a fixed load until every accepted message is processed (replies at the
// fake Graph API). CPU time counts only what the process ran, so other
// people's work on the cores moves it much less than it moves a rate.
//
// CPU_STAGE picks the instance: "shipped" (default: the shipped Caddyfile,
// memory inbox and limiter, workers on, as the staircase's "shipped,
// memory inbox"), "respond" (plain Caddy), or a staircase file
// ("1-routes", "2-hmac", "3-tenant", "4-ratelimit"), or "postgres-edge"
// (the staircase's "edge without workers, Postgres + Redis": acks only,
// and each round also prints the database server's CPU for those acks; it
// needs a Postgres that commits durably, as the staircase does:
// SERVICES_DURABLE=1 in front of test/services).
// CPU_N requests a round
// (default 10,000), CPU_ROUNDS rounds (default 3; each one's figure is
// printed), CPU_CONNS connections (default 16), after a warm-up of 2,000;
// CPU_GUESTS guests (default 256; the rounds go on through them, so with
// as many guests as requests every message is a new conversation);
// CPU_ENV adds to the instance's environment. Each round also prints the
// instance's live heap after it (a collection forced outside the CPU
// window): what the memory mode keeps per conversation shows there.
//
// CPU_PROFILE_DIR, when set, saves from the instance's admin endpoint a CPU
// profile (cpu.pprof) of CPU_PROFILE_SECONDS (default 10) of continuous
// load, and the allocation profiles before and after it (allocs-0.pprof,
// allocs-1.pprof: `go tool pprof -sample_index=alloc_space -base
// allocs-0.pprof allocs-1.pprof` is the load's). The workers' goroutines
// carry the pprof label role=worker, so `-tagfocus role=worker` /
// `-tagignore role=worker` split the profile into workers and edge.
func BenchmarkInstanceCPU(b *testing.B) {
	if b.N > 1 {
		b.Skip("one run is the measurement")
	}
	n := envInt("CPU_N", 10_000)
	rounds := envInt("CPU_ROUNDS", 3)
	conns := envInt("CPU_CONNS", 16)
	guests := envInt("CPU_GUESTS", 256)
	stage := os.Getenv("CPU_STAGE")
	if stage == "" {
		stage = "shipped"
	}
	// CPU_ENV adds K=V[,K=V...] to the instance's environment (GOGC=200,
	// to see what the collector costs).
	env := benchmarkEnv("CPU_ENV")
	var in *Instance
	var graph *fakegraph.Server
	var stack *agentStack
	switch stage {
	case "postgres-edge":
		requireDurablePostgres(b)
		env["AGENTE_WORKERS"] = "off"
		env["FEATURE_FLAGS"] = noReadReceipts["FEATURE_FLAGS"]
		stack = startAgentStack(b, env)
		in = stack.in
	case "shipped":
		graph = fakegraph.Start(b, agentGraphToken)
		graph.AllowPhoneNumberIDs(agentPhoneNumberID)
		env["WHATSAPP_API_BASE"] = graph.BaseURL()
		env["WHATSAPP_ACCESS_TOKEN"] = agentGraphToken
		env["WHATSAPP_PHONE_NUMBER_ID"] = agentPhoneNumberID
		env["FEATURE_FLAGS"] = noReadReceipts["FEATURE_FLAGS"]
		in = Start(b, Options{Env: env})
	case "respond":
		in = Start(b, Options{Config: "test/e2e/testdata/respond.Caddyfile", Env: env, ReadyPath: "/"})
	default:
		in = Start(b, Options{Config: "test/e2e/testdata/staircase/" + stage + ".Caddyfile", Env: env, ReadyPath: "/"})
	}
	pid := strconv.Itoa(in.cmd.Process.Pid)
	processed := 0
	writers := loadgen.Guests{N: guests}
	load := func(count int, tag string) loadgen.Result {
		reqs := writers.Bodies(count, devSecret, agentPhoneNumberID, fmt.Sprintf("cpu-%s-%d", tag, time.Now().UnixNano()), "hola")
		return allAnswered(b, loadgen.Config{URL: in.URL("/webhooks/whatsapp"), Requests: reqs, Connections: conns})
	}
	drain := func(count int) (atEnd int, wait time.Duration) {
		if graph == nil {
			return 0, 0
		}
		atEnd = len(graph.Messages()) - processed
		start := time.Now()
		processed += count
		if _, err := graph.WaitForMessages(processed, 2*time.Minute); err != nil {
			b.Fatal(err)
		}
		return atEnd, time.Since(start)
	}
	load(2000, "warm")
	drain(2000)

	var out strings.Builder
	fmt.Fprintf(&out, "\ninstance CPU, stage %s: %d requests a round, %d connections, %d guests; load average before: %s\n\n", stage, n, conns, guests, loadAvg())
	fmt.Fprintf(&out, "| round | CPU s per 10,000 | user s | system s | KB allocated per webhook | allocations per webhook | live heap after, MB | req/s | p50 | p99 | processed when the load ended | drained after | Postgres CPU s per 10,000 | load average after |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	// The Go runtime's allocation counters of the instance (its /metrics on
	// the admin endpoint), read outside the CPU window: what a round
	// allocated, edge and workers, exactly.
	allocs := func() (bytes, count float64) {
		m := scrape(b, in.AdminURL("/metrics"))
		bytes, _ = m.value("go_memstats_alloc_bytes_total")
		count, _ = m.value("go_memstats_mallocs_total")
		return bytes, count
	}
	// liveHeap collects (the heap profile's gc=1) and reads what is left.
	liveHeap := func() float64 {
		resp, err := http.Get(in.AdminURL("/debug/pprof/heap?gc=1"))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		v, _ := scrape(b, in.AdminURL("/metrics")).value("go_memstats_heap_alloc_bytes")
		return v
	}
	var per10k []float64
	for r := range rounds {
		var pg0 map[int]time.Duration
		if stack != nil {
			pg0 = testservices.PostgresCPU(b, stack.db)
		}
		ab0, ac0 := allocs()
		u0, s0 := processCPU(pid)
		res := load(n, strconv.Itoa(r))
		atEnd, wait := drain(n)
		u1, s1 := processCPU(pid)
		ab1, ac1 := allocs()
		live := liveHeap()
		pgCPU := "—"
		if stack != nil {
			var d time.Duration
			for pid, t := range testservices.PostgresCPU(b, stack.db) {
				d += t - pg0[pid]
			}
			pgCPU = fmt.Sprintf("%.2f", d.Seconds()*10_000/float64(n))
		}
		cpu := (u1 - u0) + (s1 - s0)
		f := cpu.Seconds() * 10_000 / float64(n)
		per10k = append(per10k, f)
		proc := "—"
		if graph != nil {
			proc = fmt.Sprintf("%d of %d", atEnd, n)
		}
		fmt.Fprintf(&out, "| %d | %.2f | %.2f | %.2f | %.1f | %.0f | %.1f | %.0f | %v | %v | %s | %.1f s | %s | %s |\n", r+1, f, (u1 - u0).Seconds(), (s1 - s0).Seconds(),
			(ab1-ab0)/1000/float64(n), (ac1-ac0)/float64(n), live/1e6, res.RPS(), res.P50.Round(10*time.Microsecond), res.P99.Round(10*time.Microsecond), proc, wait.Seconds(), pgCPU, loadAvg())
	}
	slices.Sort(per10k)
	fmt.Fprintf(&out, "\nmedian CPU s per 10,000 webhooks: %.2f\n", per10k[len(per10k)/2])

	if dir := os.Getenv("CPU_PROFILE_DIR"); dir != "" {
		secs := envInt("CPU_PROFILE_SECONDS", 10)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		save := func(path, name string) {
			resp, err := http.Get(in.AdminURL(path))
			if err != nil {
				b.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("%s: %d", path, resp.StatusCode)
			}
			f, err := os.Create(filepath.Join(dir, name))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			if _, err := io.Copy(f, resp.Body); err != nil {
				b.Fatal(err)
			}
		}
		save("/debug/pprof/allocs", "allocs-0.pprof")
		done := make(chan struct{})
		go func() {
			defer close(done)
			save(fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), "cpu.pprof")
		}()
		sent := 0
	profile:
		for {
			select {
			case <-done:
				break profile
			default:
			}
			load(2000, "profile")
			sent += 2000
		}
		save("/debug/pprof/allocs", "allocs-1.pprof")
		atEnd, wait := drain(sent)
		fmt.Fprintf(&out, "profiled %d s: %d requests, %d processed when the load ended, the rest drained %.1f s after; profiles in %s\n",
			secs, sent, atEnd, wait.Seconds(), dir)
	}
	fmt.Print(out.String())
	b.ReportMetric(0, "ns/op")
}

func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
