package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/fakegraph"
)

// graphProcessEnv, set in the environment of this test binary, makes it run
// a fake Graph API instead of tests (graphProcessMain, called by TestMain).
const graphProcessEnv = "E2E_FAKEGRAPH_PROCESS"

// replies is where a benchmark counts the replies a stage sent: the fake
// Graph API in this process, or one in a process of its own.
type replies interface {
	BaseURL() string
	MessageCount() int
	WaitForMessages(n int, timeout time.Duration) error
}

type localReplies struct{ *fakegraph.Server }

func (l localReplies) WaitForMessages(n int, timeout time.Duration) error {
	_, err := l.Server.WaitForMessages(n, timeout)
	return err
}

// graphProcess is a fake Graph API (accepting agentGraphToken for
// agentPhoneNumberID) running in a process of its own: this test binary
// again, as graphProcessMain. A load generator in the same Go process as
// the fake would see its requests wait behind the fake's goroutines (two
// thousand replies a second, each with net/http's handoffs); Meta's
// servers are not in the client's process, only, here, on the same cores.
type graphProcess struct {
	base, control string
}

func startGraphProcess(t testing.TB) *graphProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), graphProcessEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Closing its stdin stops it; so does this process's end.
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	g := &graphProcess{}
	for _, into := range []*string{&g.base, &g.control} {
		if !lines.Scan() {
			t.Fatalf("fake Graph API process: no address (%v)", lines.Err())
		}
		*into = lines.Text()
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return g
}

func (g *graphProcess) BaseURL() string { return g.base }

// MessageCount asks the process; -1 when it does not answer.
func (g *graphProcess) MessageCount() int {
	resp, err := http.Get(g.control + "/messages")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	n, err := strconv.Atoi(strings.TrimSpace(string(body)))
	if err != nil {
		return -1
	}
	return n
}

func (g *graphProcess) WaitForMessages(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		got := g.MessageCount()
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("fake Graph API process: %d of %d messages after %s", got, n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// graphProcessMain serves a fake Graph API and, on a second loopback port,
// GET /messages: how many messages it accepted. It prints the API's base
// URL and the control URL, one a line, and stops when its stdin closes.
func graphProcessMain() {
	g := fakegraph.New(agentGraphToken)
	defer g.Close()
	g.AllowPhoneNumberIDs(agentPhoneNumberID)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, g.MessageCount())
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown(context.Background())
	fmt.Printf("%s\nhttp://%s\n", g.BaseURL(), ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
}
