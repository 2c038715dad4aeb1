package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentehotel/agente-caddy/test/fakegraph"
	"github.com/agentehotel/agente-caddy/test/loadgen"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// BenchmarkStaircase is `make bench`: the webhook's acknowledgement rate at
// each step from plain Caddy `respond` to the shipped configuration, every
// stage as a ratio to `respond` served by the same binary in the same run,
// interleaved (respond, stage, respond, stage… in STAIRCASE_ROUNDS rounds),
// with p50/p99 and, where the shipped handler stores messages, how many of
// the accepted were processed (replies at the fake Graph API) when the
// stage's load ended, and how long the rest took to drain. Then each stage
// again at half the rate it reached, paced (open loop; a request sent late
// because every connection was busy counts from when it was due): the p50
// and p99 a client sees when the instance is not saturated, beside plain
// `respond` paced at that same rate (this machine's and the load
// generator's own share of the tail). "Answered/s"
// is the accepted messages over the load and the drain together: a stage
// whose workers keep up acks more slowly than one leaving its work for
// after the load, and this column compares what each does for guests.
//
// Then the edge without workers (AGENTE_WORKERS=off) leaves its backlog to
// 1, then 2, `agente-caddy worker` processes, and their processing rate is
// printed.
//
// STAIRCASE_ONLY=workers skips every stage but the edge without workers,
// so only the workers' table is measured (the edge's stage still fills the
// first backlog). Each worker row also shows the database's commits per
// message over the drain (pg_stat_database.xact_commit: the workers', the
// senders' and the edge's idle loops').
//
// STAIRCASE_ONLY=memory measures only the shipped memory stage (and its
// `respond`), no Postgres stage and no workers' table: for trying the
// memory mode's settings quickly.
//
// STAIRCASE_ONLY=postgres measures the shipped Postgres stages (edge and
// workers in one process), the edge without workers and the workers'
// table: the staircase without its memory stages.
//
// STAIRCASE_WORKERS=2,1 drains with the worker process counts in that
// order (default 1,2).
//
// STAIRCASE_WORKER_ENV=K=V[,K=V...] adds to the worker processes'
// environment (INBOX_WORKERS=16), to measure their settings;
// STAIRCASE_ENV=K=V[,K=V...] adds to every stage's instance (not to plain
// `respond`'s): GOGC=200, SENDERS=8.
//
// STAIRCASE_LOG_STATEMENTS=1 has the server log every statement of the
// worker processes with its duration (the session's
// log_min_duration_statement = 0), to count and time them per message.
// STAIRCASE_PG_OPTIONS adds server settings to the worker processes'
// sessions ("-c session_preload_libraries=auto_explain -c …"), likewise.
//
// The fake Graph API the shipped stages reply through runs in a process of
// its own, as Meta's servers are not in the client's (on the same cores,
// though); STAIRCASE_GRAPH=inprocess runs it in this process instead, beside
// the load generator, whose requests then wait behind its goroutines too.
//
// STAIRCASE_TRACE_DIR=dir saves each stage instance's Go execution trace
// over its run at half rate (dir/stage-N.trace, from Caddy's admin
// /debug/pprof/trace), for `go tool trace` to say where a slow request
// waited.
//
// STAIRCASE_N requests per stage (default 10,000, each a new signed message
// from one of STAIRCASE_GUESTS guests, default 256, each a conversation of
// its own), STAIRCASE_CONNS connections (default 16). Rate limits stay on
// with ceilings no run reaches, so their cost is measured.
func BenchmarkStaircase(b *testing.B) {
	if b.N > 1 {
		b.Skip("one run is the measurement")
	}
	n := envInt("STAIRCASE_N", 10_000)
	conns := envInt("STAIRCASE_CONNS", 16)
	guests := envInt("STAIRCASE_GUESTS", 256)
	rounds := envInt("STAIRCASE_ROUNDS", 2)
	limits := benchmarkEnv("STAIRCASE_ENV")
	only := os.Getenv("STAIRCASE_ONLY")
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range limits {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	// The fake Graph API each shipped stage answers through runs in a
	// process of its own (graphprocess_test.go), or with
	// STAIRCASE_GRAPH=inprocess in this one, beside the load generator.
	inProcess := os.Getenv("STAIRCASE_GRAPH") == "inprocess"
	newGraph := func() replies {
		if inProcess {
			g := fakegraph.Start(b, agentGraphToken)
			g.AllowPhoneNumberIDs(agentPhoneNumberID)
			return localReplies{g}
		}
		return startGraphProcess(b)
	}
	// stack starts the shipped Caddyfile on Postgres (startAgentStack), its
	// replies going to a fake Graph API of newGraph's.
	stack := func(env map[string]string) (*agentStack, replies) {
		if inProcess {
			s := startAgentStack(b, env)
			return s, localReplies{s.graph}
		}
		g := newGraph()
		env["WHATSAPP_API_BASE"] = g.BaseURL()
		return startAgentStack(b, env), g
	}
	shipped := func(extra map[string]string) (*Instance, replies) {
		graph := newGraph()
		env := with(map[string]string{
			"WHATSAPP_API_BASE":        graph.BaseURL(),
			"WHATSAPP_ACCESS_TOKEN":    agentGraphToken,
			"WHATSAPP_PHONE_NUMBER_ID": agentPhoneNumberID,
			"FEATURE_FLAGS":            noReadReceipts["FEATURE_FLAGS"],
		})
		for k, v := range extra {
			env[k] = v
		}
		return Start(b, Options{Env: env}), graph
	}
	postgres := func(redisURL string) (*Instance, replies) {
		s, g := stack(with(map[string]string{"REDIS_URL": redisURL, "FEATURE_FLAGS": noReadReceipts["FEATURE_FLAGS"]}))
		return s.in, g
	}
	redisURL, _ := testservices.Redis(b)
	durable := requireDurablePostgres(b)

	type stage struct {
		name  string
		in    *Instance
		graph replies
	}
	ref := Start(b, Options{Config: "test/e2e/testdata/respond.Caddyfile", ReadyPath: "/"})
	stairs := func(file string) *Instance {
		return Start(b, Options{Config: "test/e2e/testdata/staircase/" + file, Env: with(nil), ReadyPath: "/"})
	}
	var stages []stage
	add := func(name string, in *Instance, g replies) { stages = append(stages, stage{name, in, g}) }
	if only == "memory" {
		in, g := shipped(nil)
		add("shipped, memory inbox", in, g)
	}
	if only == "" {
		add("+ Caddy's global metrics", stairs("0a-metrics.Caddyfile"), nil)
		add("+ request_metrics", stairs("0b-request-metrics.Caddyfile"), nil)
		add("+ security headers", stairs("0c-headers.Caddyfile"), nil)
		add("+ request_metrics, headers, routes", stairs("1-routes.Caddyfile"), nil)
		add("+ hmac_webhook", stairs("2-hmac.Caddyfile"), nil)
		add("+ tenant_resolve", stairs("3-tenant.Caddyfile"), nil)
		add("+ ratelimit (memory)", stairs("4-ratelimit.Caddyfile"), nil)
		in, g := shipped(nil)
		add("shipped, memory inbox", in, g)
		in, g = shipped(map[string]string{"REDIS_URL": redisURL})
		add("shipped, Redis limiter", in, g)
	}
	if only == "" || only == "postgres" {
		in, g := postgres("")
		add("shipped, Postgres inbox", in, g)
		in, g = postgres(redisURL)
		add("shipped, Postgres inbox + Redis", in, g)
	}
	var edgeStack *agentStack
	var edgeGraph replies
	if only != "memory" {
		edgeStack, edgeGraph = stack(with(map[string]string{"REDIS_URL": redisURL, "AGENTE_WORKERS": "off",
			"FEATURE_FLAGS": noReadReceipts["FEATURE_FLAGS"]}))
		add("edge without workers, Postgres + Redis", edgeStack.in, nil)
	}

	type totals struct {
		sent, ok       int
		elapsed        time.Duration
		p50, p99       []time.Duration
		processedAtEnd int
		turnsAtEnd     int
		drain          time.Duration
		drained        bool
	}
	refTotals := make([]totals, len(stages))
	stTotals := make([]totals, len(stages))
	run := func(url string, reqs []loadgen.Request, t *totals) {
		res := allAnswered(b, loadgen.Config{URL: url, Requests: reqs, Connections: conns})
		t.sent += res.Sent
		t.ok += res.OK
		t.elapsed += res.Elapsed
		t.p50 = append(t.p50, res.P50)
		t.p99 = append(t.p99, res.P99)
	}
	per := n / rounds
	// Each stage's instance goes on through the guests from one batch to
	// the next, so STAIRCASE_GUESTS at least STAIRCASE_N gives every
	// message of the stage a conversation of its own.
	stageGuests := make([]loadgen.Guests, len(stages))
	for i := range stageGuests {
		stageGuests[i].N = guests
	}
	stageBodies := func(i, count int, prefix string) []loadgen.Request {
		return stageGuests[i].Bodies(count, devSecret, agentPhoneNumberID, prefix, "hola")
	}
	for r := range rounds {
		for i, st := range stages {
			prefix := fmt.Sprintf("stair-%d-%d-%d", time.Now().UnixNano(), r, i)
			reqs := stageBodies(i, per, prefix)
			run(ref.URL("/webhooks/whatsapp"), loadgen.Bodies(per, guests, devSecret, agentPhoneNumberID, prefix+"-ref", "hola"), &refTotals[i])
			base, turns := 0, 0.0
			if st.graph != nil {
				base = st.graph.MessageCount()
				turns = metric(b, st.in, `inbox_processed_total{result="ok"}`)
			}
			run(st.in.URL("/webhooks/whatsapp"), reqs, &stTotals[i])
			if st.graph != nil {
				t := &stTotals[i]
				t.processedAtEnd += st.graph.MessageCount() - base
				t.turnsAtEnd += int(metric(b, st.in, `inbox_processed_total{result="ok"}`) - turns)
				start := time.Now()
				err := st.graph.WaitForMessages(base+per, 60*time.Second)
				t.drain += time.Since(start)
				t.drained = err == nil
			}
		}
	}
	// Then each stage at half the rate it just reached, paced (open loop):
	// the latency a client sees when the instance is not saturated. Plain
	// `respond` is paced at the same rate just before it: the latency this
	// machine and load generator give a request that costs next to
	// nothing, the floor the stage's figure is read against.
	half := make([]paced, len(stages))
	refHalf := make([]paced, len(stages))
	for i, st := range stages {
		t := stTotals[i]
		rate := float64(t.ok) / t.elapsed.Seconds()
		base := 0
		if st.graph != nil {
			base = st.graph.MessageCount()
		}
		prefix := fmt.Sprintf("stair-half-%d-%d", time.Now().UnixNano(), i)
		res := allAnswered(b, loadgen.Config{URL: ref.URL("/webhooks/whatsapp"), Connections: conns, Rate: rate / 2,
			Requests: loadgen.Bodies(per, guests, devSecret, agentPhoneNumberID, prefix+"-ref", "hola")})
		refHalf[i] = paced{res.P50, res.P99}
		reqs := stageBodies(i, per, prefix)
		stopTrace := traceInstance(b, st.in, i, float64(per)/(rate/2))
		res = allAnswered(b, loadgen.Config{URL: st.in.URL("/webhooks/whatsapp"), Requests: reqs, Connections: conns, Rate: rate / 2})
		stopTrace()
		half[i] = paced{res.P50, res.P99}
		if st.graph != nil {
			// Drained before the next stage, which shares the cores.
			_ = st.graph.WaitForMessages(base+per, 60*time.Second)
		}
	}

	var out strings.Builder
	fmt.Fprintf(&out, "\nstaircase: %d requests per stage in %d interleaved rounds, %d connections, %d guests; nproc %d, load average %s; Postgres %s\n\n",
		per*rounds, rounds, conns, guests, runtime.NumCPU(), loadAvg(), durable)
	fmt.Fprintf(&out, "| stage | ratio to `respond` | req/s | `respond` req/s | p50 | p99 | p50 / p99 at half its rate | `respond` paced alike: p50 / p99 | processed when the load ended | agent's turns when the load ended | drained after | answered/s, load and drain |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i, st := range stages {
		rt, t := refTotals[i], stTotals[i]
		rate := float64(t.ok) / t.elapsed.Seconds()
		refRate := float64(rt.ok) / rt.elapsed.Seconds()
		processed, turns, drained, answered := "—", "—", "—", "—"
		if st.graph != nil {
			// Accepted and answered at the fake Graph API over the load
			// and the drain after it: what the stage does for a guest,
			// whichever share of the work it leaves until after the load.
			answered = fmt.Sprintf("%.0f", float64(t.ok)/(t.elapsed+t.drain).Seconds())
			processed = fmt.Sprintf("%d of %d (%.0f%%)", t.processedAtEnd, t.ok, 100*float64(t.processedAtEnd)/float64(t.ok))
			turns = fmt.Sprintf("%d (%.0f%%)", t.turnsAtEnd, 100*float64(t.turnsAtEnd)/float64(t.ok))
			drained = fmt.Sprintf("%.1f s", t.drain.Seconds())
			if !t.drained {
				drained = "not within 60 s"
			}
		}
		fmt.Fprintf(&out, "| %s | %.2f | %.0f | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |\n", st.name, rate/refRate, rate, refRate,
			worst(t.p50), worst(t.p99), half[i], refHalf[i], processed, turns, drained, answered)
	}

	// The edge's backlog, processed by 1 and then 2 `agente-caddy worker`
	// processes on the same Postgres: messages per second until drained.
	if edgeStack == nil {
		fmt.Print(out.String())
		b.ReportMetric(0, "ns/op")
		return
	}
	edge := edgeStack.in
	fmt.Fprintf(&out, "\n| `agente-caddy worker` processes | messages processed | time | messages/s | commits per message | worker CPU per message | Postgres CPU per message |\n|---|---|---|---|---|---|---|\n")
	done := 0
	// STAIRCASE_WORKERS lists the worker process counts in the order they
	// drain (default "1,2"); "2,1" tells what the order does, since each
	// later drain finds the tables the earlier ones left.
	counts := []int{1, 2}
	if v := os.Getenv("STAIRCASE_WORKERS"); v != "" {
		counts = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				b.Fatalf("STAIRCASE_WORKERS=%q: want counts such as 1,2", v)
			}
			counts = append(counts, n)
		}
	}
	for i, workers := range counts {
		if i > 0 {
			// A fresh backlog for each later drain.
			reqs := stageBodies(len(stages)-1, per*rounds, fmt.Sprintf("stair-w%d-%d", i, time.Now().UnixNano()))
			var t totals
			run(edge.URL("/webhooks/whatsapp"), reqs, &t)
		}
		backlog := per * rounds
		before := edgeStack.databaseStat("xact_commit")
		pgBefore := testservices.PostgresCPU(b, edgeStack.db)
		start := time.Now()
		for range workers {
			startWorker(b, edge)
		}
		if err := edgeGraph.WaitForMessages(done+backlog, 10*time.Minute); err != nil {
			b.Fatalf("%d worker(s): %v", workers, err)
		}
		d := time.Since(start)
		done += backlog
		pgAfter := testservices.PostgresCPU(b, edgeStack.db)
		workerCPU := stopWorkers(b)
		after := edgeStack.databaseStat("xact_commit")
		var pgCPU time.Duration
		for pid, t := range pgAfter {
			pgCPU += t - pgBefore[pid]
		}
		fmt.Fprintf(&out, "| %d | %d | %.1f s | %.0f | %.1f | %.2f ms | %.2f ms |\n", workers, backlog, d.Seconds(), float64(backlog)/d.Seconds(),
			float64(after-before)/float64(backlog), perMessage(workerCPU, backlog), perMessage(pgCPU, backlog))
	}
	fmt.Print(out.String())
	b.ReportMetric(0, "ns/op")
}

var (
	workerMu    sync.Mutex
	workerProcs []*exec.Cmd
)

// databaseStat is one of pg_stat_database's counters for s's database
// (xact_commit, blks_hit + blks_read…) once the backends have reported
// what they did: they report when idle, at most once a second, and the
// worker processes' as they exit.
func (s *agentStack) databaseStat(expr string) int64 {
	s.t.Helper()
	ctx := context.Background()
	time.Sleep(1500 * time.Millisecond)
	if _, err := s.db.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
		s.t.Fatal(err)
	}
	var n int64
	if err := s.db.QueryRow(ctx, `SELECT `+expr+` FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// startWorker runs `agente-caddy worker` with in's configuration and
// environment, stopped at the end of the benchmark.
func startWorker(b testing.TB, in *Instance) {
	cmd := exec.Command(Binary(b), "worker", "--config", in.opts.Config, "--adapter", "caddyfile")
	cmd.Dir = RepoRoot()
	cmd.Env = append(in.env(), "AGENTE_WORKERS=on")
	// STAIRCASE_WORKER_ENV adds K=V[,K=V...] to the worker processes'
	// environment (INBOX_WORKERS=16, SENDERS=64), to try their settings.
	for k, v := range envSettings("STAIRCASE_WORKER_ENV") {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var options []string
	if os.Getenv("STAIRCASE_LOG_STATEMENTS") != "" {
		// Every statement the worker sends is in the server's log with its
		// duration, to be counted there (the edge's are not).
		options = append(options, "-c log_min_duration_statement=0")
	}
	if o := os.Getenv("STAIRCASE_PG_OPTIONS"); o != "" {
		// Settings of the workers' sessions only, e.g. auto_explain's.
		options = append(options, o)
	}
	if len(options) > 0 {
		cmd.Env = append(cmd.Env, "POSTGRES_URL="+in.opts.Env["POSTGRES_URL"]+"&options="+strings.ReplaceAll(url.QueryEscape(strings.Join(options, " ")), "+", "%20"))
	}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	workerMu.Lock()
	workerProcs = append(workerProcs, cmd)
	workerMu.Unlock()
	b.Cleanup(func() { _ = stopWorkers(b) })
}

// stopWorkers stops the worker processes and returns the CPU time they
// used (user and system).
func stopWorkers(b testing.TB) time.Duration {
	workerMu.Lock()
	defer workerMu.Unlock()
	var cpu time.Duration
	for _, cmd := range workerProcs {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if cmd.ProcessState != nil {
			cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
	}
	workerProcs = nil
	return cpu
}

func perMessage(d time.Duration, n int) float64 {
	return float64(d) / float64(time.Millisecond) / float64(n)
}

// worst is the highest of the rounds' figures, rounded for the table.
func worst(ds []time.Duration) string {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m.Round(10 * time.Microsecond).String()
}

// benchmarkEnv is a benchmark instance's environment: the secret the load
// is signed with, rate limits no run reaches (so that their cost is in the
// figures), and the settings in the variable named (envSettings).
func benchmarkEnv(settings string) map[string]string {
	env := map[string]string{
		"WHATSAPP_APP_SECRET":         devSecret,
		"RATE_LIMIT_WEBHOOK_POST":     "100000000",
		"RATE_LIMIT_WEBHOOK_RECEIPTS": "100000000",
	}
	maps.Copy(env, envSettings(settings))
	return env
}

// envSettings reads the variable name as K=V[,K=V...]; an item without
// "=" is ignored.
func envSettings(name string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(os.Getenv(name), ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// requireDurablePostgres fails the benchmark unless the test Postgres
// commits durably (fsync and synchronous_commit on): the Postgres
// figures are for an ack that is a durable row, and test/services' own
// throwaway server turns both off for the tests' speed unless
// SERVICES_DURABLE is set (make bench sets it). It returns the settings as
// printed with the figures.
func requireDurablePostgres(b *testing.B) string {
	conn, err := pgx.Connect(context.Background(), testservices.Postgres(b))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	var fsync, syncCommit string
	if err := conn.QueryRow(context.Background(), `SELECT current_setting('fsync'), current_setting('synchronous_commit')`).Scan(&fsync, &syncCommit); err != nil {
		b.Fatal(err)
	}
	if fsync != "on" || syncCommit != "on" {
		b.Fatalf("Postgres has fsync %s, synchronous_commit %s: the Postgres stages measure durable acks; run make bench (SERVICES_DURABLE=1) or point POSTGRES_URL at a server that commits durably", fsync, syncCommit)
	}
	return "fsync on, synchronous_commit on"
}

// allAnswered runs the load and fails the benchmark unless every request
// got a 2xx.
func allAnswered(b testing.TB, cfg loadgen.Config) loadgen.Result {
	res, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	if res.OK != res.Sent {
		b.Fatalf("%s: %d of %d answered 2xx (statuses %v, %d errors)", cfg.URL, res.OK, res.Sent, res.Statuses, res.Errors)
	}
	return res
}

// paced is the p50 and p99 of a run paced at a set rate.
type paced struct{ p50, p99 time.Duration }

func (p paced) String() string {
	return fmt.Sprintf("%v / %v", p.p50.Round(10*time.Microsecond), p.p99.Round(10*time.Microsecond))
}

// traceInstance fetches the instance's execution trace for about secs
// seconds into STAIRCASE_TRACE_DIR, when set; the returned func waits for
// the trace to be written.
func traceInstance(b *testing.B, in *Instance, stage int, secs float64) func() {
	dir := os.Getenv("STAIRCASE_TRACE_DIR")
	if dir == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		url := in.AdminURL(fmt.Sprintf("/debug/pprof/trace?seconds=%d", max(1, int(secs))))
		resp, err := http.Get(url)
		if err != nil {
			b.Logf("trace of stage %d: %v", stage, err)
			return
		}
		defer resp.Body.Close()
		path := filepath.Join(dir, fmt.Sprintf("stage-%d.trace", stage))
		f, err := os.Create(path)
		if err == nil {
			_, err = io.Copy(f, resp.Body)
			err = errors.Join(err, f.Close())
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Logf("trace of stage %d: %s %v", stage, resp.Status, err)
			return
		}
		b.Logf("trace of stage %d: %s", stage, path)
	}()
	return func() { <-done }
}
