// Command tracewaits reads a Go execution trace of an instance under load
// (make bench with STAIRCASE_TRACE_DIR) and prints where its goroutines
// waited for a CPU:
//
//   - for each kind of goroutine (named by the function it started in), how
//     long it stayed runnable before it ran, p50/p90/p99/max; net/http's
//     per-request background reader is shown apart for its first run;
//
//   - for each webhook served over HTTP/1.1, how long the connection's
//     goroutine waited at the end of the request for that background reader
//     (net/http's abortPendingRead, a sync.Cond wait), split by which
//     goroutines the request readied after its body was read: a goroutine
//     readied then takes the processor's next slot, the background reader
//     goes to the back of the run queue, and the connection's next request
//     waits behind everything queued;
//
//   - the collector's concurrent mark phases (how many, how much of the
//     trace), and the connection goroutines' waits to run split by whether
//     a mark phase overlapped them: while it marks, the collector's worker
//     holds one of the processors for milliseconds at a time and the
//     goroutines that allocate help it mark (assists), so on two cores a
//     request that becomes runnable then waits longer.
//
//     go run ./test/tracewaits /tmp/traces/stage-0.trace
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

const (
	serveConn      = "net/http.(*conn).serve"
	backgroundRead = "net/http.(*connReader).backgroundRead"
	// gcMarkPhase is the runtime's name for the range of a collection's
	// concurrent mark phase.
	gcMarkPhase = "GC concurrent mark phase"
	inMark      = "during a mark phase"
	outsideMark = "outside mark phases"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tracewaits FILE.trace")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	w, err := read(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w.print(os.Stdout)
}

// request is one webhook on a connection's goroutine, from the creation of
// its background reader to the end of abortPendingRead.
type request struct {
	readied []string // kinds of goroutine readied after the body was read
	condAt  trace.Time
}

type waits struct {
	span time.Duration
	// marking is the time in the collector's concurrent mark phases, over
	// marks of them.
	marking  time.Duration
	marks    int
	started  map[string]int             // goroutines started, by kind
	runnable map[string][]time.Duration // by goroutine kind
	condWait map[string][]time.Duration // by what the request readied
	// connRunnable is the connection goroutines' waits to run, by whether
	// a mark phase overlapped the wait (inMark, outsideMark).
	connRunnable map[string][]time.Duration
}

func read(r io.Reader) (*waits, error) {
	tr, err := trace.NewReader(r)
	if err != nil {
		return nil, err
	}
	w := &waits{started: map[string]int{}, runnable: map[string][]time.Duration{}, condWait: map[string][]time.Duration{},
		connRunnable: map[string][]time.Duration{}}
	kind := map[trace.GoID]string{}
	runnableSince := map[trace.GoID]trace.Time{}
	firstRun := map[trace.GoID]bool{}
	open := map[trace.GoID]*request{}
	var first, last trace.Time
	// markSince is when the mark phase in progress began (0: none);
	// markEnded when the last one ended.
	var markSince, markEnded trace.Time
	for {
		ev, err := tr.ReadEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if first == 0 {
			first = ev.Time()
		}
		last = ev.Time()
		if (ev.Kind() == trace.EventRangeBegin || ev.Kind() == trace.EventRangeEnd) && ev.Range().Name == gcMarkPhase {
			if ev.Kind() == trace.EventRangeBegin {
				markSince = ev.Time()
			} else {
				if markSince != 0 {
					w.marking += ev.Time().Sub(markSince)
					w.marks++
				}
				markSince, markEnded = 0, ev.Time()
			}
		}
		if ev.Kind() != trace.EventStateTransition {
			continue
		}
		st := ev.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			continue
		}
		id := st.Resource.Goroutine()
		actor := ev.Goroutine()
		// The transition's own stack is the goroutine's; the event's stack
		// is the actor's, so it names the goroutine only when they are one.
		stack := st.Stack
		if stack == trace.NoStack && actor == id {
			stack = ev.Stack()
		}
		if kind[id] == "" && stack != trace.NoStack {
			kind[id] = startedIn(stack)
		}
		from, to := st.Goroutine()
		if from == trace.GoNotExist {
			w.started[orUnknown(kind[id])]++
		}
		// One transition can be two of these at once (the background
		// reader readying the connection's goroutine), so each is its own
		// test.
		if from == trace.GoNotExist && kind[id] == backgroundRead && kind[actor] == serveConn {
			open[actor] = &request{}
		}
		if from == trace.GoWaiting && to == trace.GoRunnable && actor != trace.NoGoroutine && actor != id {
			if q := open[actor]; q != nil && q.condAt == 0 {
				q.readied = append(q.readied, orUnknown(kind[id]))
			}
		}
		if to == trace.GoWaiting && st.Reason == "sync.(*Cond).Wait" && kind[id] == serveConn {
			if q := open[id]; q != nil {
				q.condAt = ev.Time()
			}
		}
		if from == trace.GoWaiting && kind[id] == serveConn {
			if q := open[id]; q != nil && q.condAt != 0 {
				k := strings.Join(q.readied, ", ")
				w.condWait[k] = append(w.condWait[k], ev.Time().Sub(q.condAt))
				delete(open, id)
			}
		}
		if to == trace.GoRunnable {
			runnableSince[id] = ev.Time()
			firstRun[id] = from == trace.GoNotExist
		}
		if from == trace.GoRunnable && to == trace.GoRunning && runnableSince[id] != 0 {
			k := orUnknown(kind[id])
			if firstRun[id] && k == backgroundRead {
				k += " (first run)"
			}
			d := ev.Time().Sub(runnableSince[id])
			w.runnable[k] = append(w.runnable[k], d)
			if k == serveConn {
				during := outsideMark
				if markSince != 0 || markEnded > runnableSince[id] {
					during = inMark
				}
				w.connRunnable[during] = append(w.connRunnable[during], d)
			}
		}
	}
	w.span = last.Sub(first)
	return w, nil
}

// startedIn is the outermost function of a goroutine's stack: the one it
// was started in.
func startedIn(s trace.Stack) string {
	name := ""
	for f := range s.Frames() {
		name = f.Func
	}
	return name
}

func orUnknown(kind string) string {
	if kind == "" {
		return "(started before the trace)"
	}
	return kind
}

func (w *waits) print(out io.Writer) {
	fmt.Fprintf(out, "trace of %v\n\ngoroutines started (at least 10):\n", w.span.Round(time.Millisecond))
	kinds := make([]string, 0, len(w.started))
	for k, n := range w.started {
		if n >= 10 {
			kinds = append(kinds, k)
		}
	}
	slices.SortFunc(kinds, func(a, b string) int { return w.started[b] - w.started[a] })
	for _, k := range kinds {
		fmt.Fprintf(out, "%7d  %s\n", w.started[k], k)
	}
	fmt.Fprintf(out, "\nrunnable before running, by the function a goroutine started in (at least 100 waits):\n")
	printTable(out, w.runnable, 100)
	fmt.Fprintf(out, "\nconnection goroutine's wait for net/http's background reader at the end of a request, by what the request readied after its body (at least 20 requests):\n")
	printTable(out, w.condWait, 20)
	share := 0.0
	if w.span > 0 {
		share = 100 * float64(w.marking) / float64(w.span)
	}
	fmt.Fprintf(out, "\nthe collector: %d concurrent mark phases, %v in all (%.1f %% of the trace)\n", w.marks, w.marking.Round(time.Millisecond), share)
	fmt.Fprintf(out, "connection goroutine's wait to run, by whether a mark phase overlapped it (at least 1):\n")
	printTable(out, w.connRunnable, 1)
}

func printTable(out io.Writer, by map[string][]time.Duration, least int) {
	keys := make([]string, 0, len(by))
	for k := range by {
		if len(by[k]) >= least {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int { return len(by[b]) - len(by[a]) })
	fmt.Fprintf(out, "%7s %10s %10s %10s %10s  %s\n", "n", "p50", "p90", "p99", "max", "")
	for _, k := range keys {
		ds := by[k]
		slices.Sort(ds)
		n := len(ds)
		label := k
		if label == "" {
			label = "(nothing)"
		}
		fmt.Fprintf(out, "%7d %10v %10v %10v %10v  %s\n", n, ds[n/2], ds[n*9/10], ds[n*99/100], ds[n-1], label)
	}
}
