package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/trace"
	"strings"
	"testing"
)

// A traced HTTP/1.1 server whose handler wakes a waiting goroutine after
// reading the body, as the memory inbox's accept wakes its loop: the trace
// names net/http's background reader among the goroutines started, and
// the connection's waits for it are counted under what the request readied.
func TestReadsTheBackgroundReadersWaitsFromATrace(t *testing.T) {
	// The woken goroutine answers each wake before it waits again, so the
	// next request (a whole round trip later) finds it parked however busy
	// the machine is: a buffered, best-effort wake left that to the
	// scheduler, and a loaded CI machine counted 96 of 200.
	wake, woken := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() { // the woken goroutine, started before the trace
		for {
			select {
			case <-wake:
				woken <- struct{}{}
			case <-done:
				return
			}
		}
	}()
	defer close(done)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		wake <- struct{}{}
		<-woken
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	client := srv.Client()
	post := func() {
		resp, err := client.Post(srv.URL, "application/json", strings.NewReader(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	post() // the connection, before the trace

	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Fatal(err)
	}
	// Collections run back to back while the first half of the requests
	// is served, so mark phases overlap some of the connection's waits.
	stopGC, gcDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(gcDone)
		for {
			select {
			case <-stopGC:
				return
			default:
				runtime.GC()
			}
		}
	}()
	const requests = 200
	for i := range requests {
		if i == requests/2 {
			close(stopGC)
			<-gcDone
		}
		post()
	}
	trace.Stop()

	w, err := read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n := w.started[backgroundRead]; n < requests {
		t.Errorf("%d background readers started for %d requests; started: %v", n, requests, w.started)
	}
	if len(w.runnable[serveConn]) == 0 {
		t.Errorf("no runnable waits of the connection's goroutine: %v", keys(w.runnable))
	}
	// Most requests find the woken goroutine waiting, and ready it.
	woke := 0
	for k, ds := range w.condWait {
		if strings.Contains(k, "TestReadsTheBackgroundReadersWaitsFromATrace.func1") {
			woke += len(ds)
		}
	}
	var out bytes.Buffer
	w.print(&out)
	if woke < requests/2 {
		t.Errorf("%d of %d requests counted as having readied the woken goroutine:\n%s", woke, requests, out.String())
	}
	if w.marks == 0 || w.marking <= 0 {
		t.Errorf("no mark phase read from a trace with collections running: %d phases, %v", w.marks, w.marking)
	}
	if len(w.connRunnable[inMark]) == 0 || len(w.connRunnable[outsideMark]) == 0 {
		t.Errorf("the connection's waits are not split by the mark phases (half the requests ran during collections):\n%s", out.String())
	}
	if !strings.Contains(out.String(), backgroundRead) {
		t.Errorf("the report does not name the background reader:\n%s", out.String())
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
