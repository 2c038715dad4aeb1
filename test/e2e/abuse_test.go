package e2e

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/signature"
)

// The abuse scenario's sizes. ABUSE_STALLED sets the stalled connections
// (default 2000, the figure).
const (
	abuseDefaultStalled = 2000
	// Each stalled connection announces the largest accepted body and
	// sends all of it but the last few bytes.
	abuseBody      = 1 << 20
	abuseStallGap  = 16
	abuseFlooders  = 16
	readBodyLimit  = 10 * time.Second // caddy/servers.caddy's read_body
	signedRequests = 300
	rssLimitBytes  = 300 << 20
)

// TestAbuse is the edge under attack, in one run on loopback: stalled
// connections that each send almost the largest accepted body and wait,
// plus a flood of 1 MiB bodies with a wrong signature from one address,
// while a second client sends signed webhooks. The instance's RSS stays
// under 300 MB, the stalled connections are closed (by the read_body
// timeout, or refused at once when the webhook memory is full), the flood
// gets 429s, and the signed client's p99 stays within 2x its p99 without
// the attack (printed; enforced when other processes left the host alone,
// or with ABUSE_STRICT_P99=1, see the end).
// Every figure is printed.
//
// Addresses: the signed client is 127.0.0.1, the flood 127.0.0.2, the
// stalled connections come from 127.0.0.10-13 (four addresses, each held
// to its share of the webhook memory; an attacker with eight or more
// addresses could fill it, and signed webhooks would then get 503 until
// the stalled reads time out).
func TestAbuse(t *testing.T) {
	stalled := abuseDefaultStalled
	if v := os.Getenv("ABUSE_STALLED"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("ABUSE_STALLED=%q", v)
		}
		stalled = n
	}
	raiseFileLimit(t, uint64(2*stalled+1024))
	in := Start(t, Options{Env: map[string]string{
		// The signed client's requests must never meet the hotel's limit.
		"RATE_LIMIT_WEBHOOK_POST": "1000000",
	}})
	pid := in.cmd.Process.Pid
	t.Logf("instance pid %d, RSS at start %s", pid, mb(rss(t, pid)))

	// Warm up, then the signed client alone.
	signedLatencies(t, in, 50, 0)
	cpuQuiet := readCPU(pid)
	quiet := signedLatencies(t, in, signedRequests, 20*time.Millisecond)
	cpuAttack := readCPU(pid)
	quietP99 := percentile(quiet.latencies, 0.99)
	t.Logf("without the attack: %d signed webhooks, statuses %v, p50 %s p99 %s", len(quiet.latencies), quiet.statuses,
		percentile(quiet.latencies, 0.5), quietP99)

	// RSS sampled every 50 ms through the whole attack.
	var maxRSS atomic.Int64
	rssDone := make(chan struct{})
	rssCtx, stopRSS := context.WithCancel(context.Background())
	go func() {
		defer close(rssDone)
		for rssCtx.Err() == nil {
			if v := rss(t, pid); v > maxRSS.Load() {
				maxRSS.Store(v)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	// The attackers run in a child process at the lowest CPU priority
	// (nice 19): on this 2-core host the load generator would otherwise
	// take the CPU an instance under a real (remote) attack keeps, and the
	// test would measure its own load generator.
	profiled := profileAttack(t, in)
	attackStart := time.Now()
	attacker := exec.Command("nice", "-n", "19", os.Args[0], "-test.run=^$")
	attacker.Env = append(os.Environ(), "ABUSE_ATTACKER_PORT="+strconv.Itoa(in.SitePort), "ABUSE_STALLED="+strconv.Itoa(stalled))
	var attackOut bytes.Buffer
	attacker.Stdout, attacker.Stderr = &attackOut, &attackOut
	if err := attacker.Start(); err != nil {
		t.Fatal(err)
	}
	attackDone := make(chan error, 1)
	go func() { attackDone <- attacker.Wait() }()

	// The signed client during the attack.
	time.Sleep(500 * time.Millisecond) // the stalled connections are in
	attacked := signedLatencies(t, in, signedRequests, 20*time.Millisecond)
	attackedP99 := percentile(attacked.latencies, 0.99)
	if dir := os.Getenv("ABUSE_PROFILE"); dir != "" {
		// Each attacked request's send time (Unix ns) and latency, to
		// place it on the execution trace's clock.
		var b strings.Builder
		for i, s := range attacked.starts {
			fmt.Fprintf(&b, "%d %d %d\n", i, s.UnixNano(), attacked.latencies[i].Nanoseconds())
		}
		_ = os.WriteFile(filepath.Join(dir, "signed.txt"), []byte(b.String()), 0o644)
	}

	if err := <-attackDone; err != nil {
		t.Fatalf("attacker: %v\n%s", err, attackOut.String())
	}
	stopRSS()
	<-rssDone
	attackTime := time.Since(attackStart)
	cpuAfter := readCPU(pid)
	<-profiled
	var report attackReport
	line := attackOut.Bytes()
	if i := bytes.LastIndex(line, []byte("ATTACK ")); i >= 0 {
		line = line[i+len("ATTACK "):]
	}
	if err := json.Unmarshal(bytes.TrimSpace(line), &report); err != nil {
		t.Fatalf("attacker's report: %v\n%s", err, attackOut.String())
	}
	outcomes, floodStatuses := report.Stalled, report.Flood

	// Figures.
	byStatus := map[string]int{}
	var closedLate, neverClosed int
	var longest time.Duration
	for _, o := range outcomes {
		byStatus[o.Result]++
		longest = max(longest, o.Held)
		if o.Result == "still open" {
			neverClosed++
		}
		if o.Held > readBodyLimit+3*time.Second {
			closedLate++
		}
	}
	t.Logf("attack: %s; %d stalled connections of %d bytes (%d sent) from 127.0.0.10-13; %d flooders from 127.0.0.2",
		attackTime.Round(time.Millisecond), stalled, abuseBody, abuseBody-abuseStallGap, abuseFlooders)
	t.Logf("stalled connections: outcomes %v; longest held open %s (read_body %s)", byStatus, longest.Round(time.Millisecond), readBodyLimit)
	t.Logf("flood (wrong signature, 1 MiB bodies): statuses %v", floodStatuses)
	t.Logf("signed client during the attack: %d webhooks, statuses %v, p50 %s p99 %s (%.2fx the quiet p99 %s)",
		len(attacked.latencies), attacked.statuses, percentile(attacked.latencies, 0.5), attackedP99,
		float64(attackedP99)/float64(quietP99), quietP99)
	t.Logf("signed client's slowest during the attack (request index: latency): %s", slowest(attacked.latencies, 5))
	t.Logf("instance CPU without the attack: %s; during it: %s; the attacker's: user %s system %s",
		cpuAttack.sub(cpuQuiet), cpuAfter.sub(cpuAttack),
		attacker.ProcessState.UserTime().Round(time.Millisecond), attacker.ProcessState.SystemTime().Round(time.Millisecond))
	t.Logf("instance RSS: max %s during the attack (limit %s), %s after", mb(maxRSS.Load()), mb(rssLimitBytes), mb(rss(t, pid)))

	if maxRSS.Load() >= rssLimitBytes {
		t.Errorf("RSS reached %s, limit %s", mb(maxRSS.Load()), mb(rssLimitBytes))
	}
	if neverClosed > 0 || closedLate > 0 {
		t.Errorf("stalled connections: %d never closed, %d closed after read_body+3s", neverClosed, closedLate)
	}
	if floodStatuses[http.StatusTooManyRequests] == 0 {
		t.Errorf("the flood got no 429: %v", floodStatuses)
	}
	if attacked.statuses[200] != signedRequests || quiet.statuses[200] != signedRequests {
		t.Errorf("signed webhooks not all 200: quiet %v, attacked %v", quiet.statuses, attacked.statuses)
	}
	// The 2x p99 goal is met on a quiet host since refusals skip net/http's
	// drain of the unread body and linger 50 ms, not 500 (json_error,
	// agente.CloseAfterAnswer), but not when other jobs take the shared
	// 2-core host's CPU during the run: the attack's first second, 2,000
	// connections to refuse, then queues with the first signed requests
	// (README, "The edge under attack"). So it is enforced when the host
	// gave the run its cores (other processes used under a quarter of a
	// core in both phases, from /proc/stat), and always with
	// ABUSE_STRICT_P99=1; otherwise the figure is printed with the load
	// that voids it.
	steady := attacked.latencies[min(len(attacked.latencies), 100):]
	t.Logf("signed p99 after the first 100 requests of the attack (about 2.5 s): %s", percentile(steady, 0.99))
	othersQuiet := cpuAttack.othersLoad(cpuQuiet, 0)
	othersAttack := cpuAfter.othersLoad(cpuAttack, attacker.ProcessState.UserTime()+attacker.ProcessState.SystemTime())
	quietHost := othersQuiet < 0.25 && othersAttack < 0.25
	t.Logf("other processes on the host: %.2f cores without the attack, %.2f during it (the p99 goal is enforced below 0.25)", othersQuiet, othersAttack)
	if attackedP99 > 2*quietP99 {
		msg := fmt.Sprintf("signed p99 %s under attack is %.1fx the quiet %s (goal: at most 2x)", attackedP99, float64(attackedP99)/float64(quietP99), quietP99)
		if quietHost || os.Getenv("ABUSE_STRICT_P99") != "" {
			t.Error(msg)
		} else {
			t.Log("NOT MET, and not enforced on a host this busy: " + msg)
		}
	}
}

// attackReport is what the attacker process measured.
type attackReport struct {
	Stalled []stallOutcome `json:"stalled"`
	Flood   map[int]int    `json:"flood"`
}

// init runs the attack instead of the tests when the test binary is started
// as the attacker (ABUSE_ATTACKER_PORT set): the stalled connections and,
// until they are all closed, the flood; then it prints its figures as one
// JSON line after "ATTACK " and exits.
func init() {
	port, err := strconv.Atoi(os.Getenv("ABUSE_ATTACKER_PORT"))
	if err != nil {
		return
	}
	stalled, _ := strconv.Atoi(os.Getenv("ABUSE_STALLED"))
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	report := attackReport{Stalled: make([]stallOutcome, stalled), Flood: map[int]int{}}
	var stallWG sync.WaitGroup
	for i := range stalled {
		stallWG.Add(1)
		go func() {
			defer stallWG.Done()
			report.Stalled[i] = stall(port, fmt.Sprintf("127.0.0.%d", 10+i%4))
		}()
	}
	floodCtx, stopFlood := context.WithCancel(context.Background())
	var floodMu sync.Mutex
	var floodWG sync.WaitGroup
	for range abuseFlooders {
		floodWG.Add(1)
		go func() {
			defer floodWG.Done()
			for floodCtx.Err() == nil {
				code := floodOnce(port)
				floodMu.Lock()
				report.Flood[code]++
				floodMu.Unlock()
			}
		}()
	}
	stallWG.Wait()
	stopFlood()
	floodWG.Wait()
	out, _ := json.Marshal(report)
	fmt.Printf("ATTACK %s\n", out)
	os.Exit(0)
}

type signedRun struct {
	latencies []time.Duration
	starts    []time.Time // when each timed request was sent (for ABUSE_PROFILE)
	statuses  map[int]int
}

// signedLatencies sends n signed webhooks from 127.0.0.1, one every gap,
// each on a kept-alive connection as Meta's are, and times them.
func signedLatencies(t *testing.T, in *Instance, n int, gap time.Duration) signedRun {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	hdr := signed(envelope)
	run := signedRun{statuses: map[int]int{}}
	for range n {
		req, _ := http.NewRequest("POST", in.URL("/webhooks/whatsapp"), strings.NewReader(envelope))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			run.statuses[-1]++
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		run.latencies = append(run.latencies, time.Since(start))
		run.starts = append(run.starts, start)
		run.statuses[resp.StatusCode]++
		time.Sleep(gap)
	}
	return run
}

type stallOutcome struct {
	Result string        `json:"result"` // the status answered, "closed" without an answer, or "still open"
	Held   time.Duration `json:"held"`   // from the connection's start until the server ended it
}

// stall opens a connection from src, announces a 1 MiB webhook with a
// well-formed signature, sends all but the last bytes and waits for the
// server to answer or close.
func stall(port int, src string) stallOutcome {
	start := time.Now()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	conn, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return stallOutcome{Result: "dial failed", Held: time.Since(start)}
	}
	defer conn.Close()
	head := fmt.Sprintf("POST /webhooks/whatsapp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"+
		"X-Hub-Signature-256: sha256=%s\r\nContent-Length: %d\r\n\r\n", port, strings.Repeat("ab", 32), abuseBody)
	// The server may refuse before taking the whole body: a write error is
	// part of the outcome, read below.
	go func() {
		_, _ = conn.Write([]byte(head))
		_, _ = conn.Write(stallBody)
	}()
	_ = conn.SetReadDeadline(time.Now().Add(readBodyLimit + 20*time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	var ne net.Error
	switch {
	case err == nil:
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return stallOutcome{Result: strconv.Itoa(resp.StatusCode), Held: time.Since(start)}
	case errors.As(err, &ne) && ne.Timeout():
		return stallOutcome{Result: "still open", Held: time.Since(start)}
	default:
		return stallOutcome{Result: "closed", Held: time.Since(start)}
	}
}

// The attackers' bodies, made once and shared (read-only), so that the
// load generator spends its CPU on sending, not on allocating and signing.
var (
	stallBody   = bytes.Repeat([]byte("a"), abuseBody-abuseStallGap)
	floodBody   = bytes.Repeat([]byte("b"), abuseBody-100)
	floodSig    = signature.Sign("not-the-app-secret", floodBody)
	floodDialer = net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	floodClient = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DialContext: floodDialer.DialContext, DisableKeepAlives: true}}
)

// floodOnce posts a 1 MiB body with a wrong signature from 127.0.0.2 and
// returns the status (-1 when the connection failed before one).
func floodOnce(port int) int {
	req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/webhooks/whatsapp", port), bytes.NewReader(floodBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", floodSig)
	client := floodClient
	resp, err := client.Do(req)
	if err != nil {
		return -1
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// cpuTimes are a process's user and system CPU time, the host's softirq
// time (where loopback's receive path is often charged), the host's busy
// time on all cores (user, nice, system, irq, softirq, steal), this test
// process's own CPU time, and when they were read.
type cpuTimes struct {
	user, system, softirq, hostBusy, self time.Duration
	at                                    time.Time
}

// othersLoad is how many cores, on average between o and c, the host spent
// on anything but the instance, this test process, extra (the attacker's
// CPU time, when it ran then) and softirq (mostly loopback traffic, ours):
// other people's jobs on a shared host.
func (c cpuTimes) othersLoad(o cpuTimes, extra time.Duration) float64 {
	ours := (c.user + c.system - o.user - o.system) + (c.self - o.self) + (c.softirq - o.softirq) + extra
	return max(0, float64(c.hostBusy-o.hostBusy-ours)/float64(c.at.Sub(o.at)))
}

func (c cpuTimes) sub(o cpuTimes) string {
	return fmt.Sprintf("user %s system %s (host softirq %s)", c.user-o.user, c.system-o.system, c.softirq-o.softirq)
}

// readCPU reads /proc/<pid>/stat and /proc/stat (clock ticks, 100 a second).
func readCPU(pid int) cpuTimes {
	c := cpuTimes{at: time.Now()}
	c.user, c.system = processCPU(strconv.Itoa(pid))
	selfUser, selfSystem := processCPU("self")
	c.self = selfUser + selfSystem
	if raw, err := os.ReadFile("/proc/stat"); err == nil {
		// cpu  user nice system idle iowait irq softirq steal ...
		f := strings.Fields(strings.SplitN(string(raw), "\n", 2)[0])
		if len(f) >= 9 {
			tick := func(i int) time.Duration { n, _ := strconv.Atoi(f[i]); return time.Duration(n) * 10 * time.Millisecond }
			c.softirq = tick(7)
			c.hostBusy = tick(1) + tick(2) + tick(3) + tick(6) + tick(7) + tick(8)
		}
	}
	return c
}

// processCPU is the user and system CPU time of /proc/<pid>/stat.
func processCPU(pid string) (user, system time.Duration) {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, 0
	}
	// After the command (which may hold spaces) utime and stime are the
	// 12th and 13th fields.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	if len(f) < 13 {
		return 0, 0
	}
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(ut) * 10 * time.Millisecond, time.Duration(st) * 10 * time.Millisecond
}

// profileAttack, with ABUSE_PROFILE set to a directory, records the
// instance's execution trace and CPU profile over the attack's first
// seconds from Caddy's admin endpoint (ABUSE_PROFILE_SECONDS, default 4)
// into trace.out and cpu.pprof there, for `go tool trace` and `go tool
// pprof`. The returned channel is closed when both are written (at once
// without ABUSE_PROFILE). A diagnostic: the figures of a profiled run are
// not the test's.
func profileAttack(t *testing.T, in *Instance) <-chan struct{} {
	done := make(chan struct{})
	dir := os.Getenv("ABUSE_PROFILE")
	if dir == "" {
		close(done)
		return done
	}
	secs := cmp.Or(os.Getenv("ABUSE_PROFILE_SECONDS"), "4")
	var wg sync.WaitGroup
	for path, file := range map[string]string{"/debug/pprof/trace": "trace.out", "/debug/pprof/profile": "cpu.pprof"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(in.AdminURL(path + "?seconds=" + secs))
			if err != nil {
				t.Logf("profile %s: %v", path, err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
				t.Logf("profile %s: %v", path, err)
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	time.Sleep(50 * time.Millisecond) // both are recording
	return done
}

// rss is the process's resident set size in bytes (VmRSS).
func rss(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// raiseFileLimit lifts this process's open-file limit (inherited by the
// instance it starts) to at least n, or as far as the hard limit allows.
func raiseFileLimit(t *testing.T, n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	lim.Cur = min(max(n, lim.Cur), lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < n {
		t.Fatalf("open-file limit %d (hard limit) is below the %d this test needs; lower ABUSE_STALLED", lim.Cur, n)
	}
}

// slowest lists the n longest latencies with their position in the run.
func slowest(ds []time.Duration, n int) string {
	idx := make([]int, len(ds))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return int(ds[b] - ds[a]) })
	var parts []string
	for _, i := range idx[:min(n, len(idx))] {
		parts = append(parts, fmt.Sprintf("%d: %s", i, ds[i].Round(100*time.Microsecond)))
	}
	return strings.Join(parts, ", ")
}

// TestWebhookRefusedUnreadIsAnsweredAtOnce: a webhook refused before its
// body is read (here 401, no signature) that announced a large body is
// answered as soon as its headers are in, with Connection: close, even
// though the client has not sent a byte of the body. Caddy wraps request
// bodies, so net/http would otherwise read up to 256 KiB of the body
// before the answer, waiting for a client that sends slowly (or never)
// until read_body.
func TestWebhookRefusedUnreadIsAnsweredAtOnce(t *testing.T) {
	in := Start(t, Options{})
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", in.SitePort))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /webhooks/whatsapp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		in.SitePort, abuseBody)
	_ = conn.SetReadDeadline(time.Now().Add(readBodyLimit + 5*time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer after %s: %v", time.Since(start), err)
	}
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Fatalf("status %d, Connection: close %v; want 401 and close", resp.StatusCode, resp.Close)
	}
	// Answered from the headers alone: nothing waits for the body.
	if took > 2*time.Second {
		t.Fatalf("answered after %s, want at once (read_body is %s)", took, readBodyLimit)
	}
	t.Logf("401 with Connection: close after %s", took.Round(time.Millisecond))
}
