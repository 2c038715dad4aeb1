package qloappsserver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a server (mariadbd, php) started in a process group of its
// own: PHP's built-in server forks its workers, and killing the group ends
// them all; a Ctrl-C meant for `go test` does not reach it either.
type process struct {
	cmd     *exec.Cmd
	logPath string // where its stdout and stderr go
	done    chan struct{}
	err     error // Wait's answer, once done is closed
}

// startProcess starts cmd with its output appended to logPath, and has the
// guardian kill its group should this process die without stopping it.
func startProcess(cmd *exec.Cmd, logPath string, g *guardian) (*process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	p := &process{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := g.watch(cmd.Process.Pid); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitErr is how the process ended, with the end of its log.
func (p *process) exitErr() error {
	<-p.done
	return fmt.Errorf("%s: %v\n%s", p.cmd.Path, p.err, logTail(p.logPath, 2000))
}

// kill ends the process group at once and waits for the process.
func (p *process) kill() {
	if !p.exited() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-p.done
}

// terminate asks the process to shut down cleanly (SIGTERM) and kills it
// if it has not within grace.
func (p *process) terminate(grace time.Duration) error {
	if p.exited() {
		return p.exitErr()
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		p.kill()
		return fmt.Errorf("%s did not stop within %v of SIGTERM; killed", p.cmd.Path, grace)
	}
}

// logTail is the last n bytes of a log file, for error messages.
func logTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, 0)
	}
	b := make([]byte, n)
	k, _ := f.Read(b)
	return strings.TrimSpace(string(b[:k]))
}

// guardianScript reads process group ids, one a line, until its input
// closes: then it kills those groups and removes the directories it was
// given. A line "release" makes it exit doing nothing. (kill is given one
// negative id at a time, after "--": dash's kill takes nothing else.)
const guardianScript = `pgs=
while read -r line; do
	case $line in
	release) exit 0 ;;
	*) pgs="$pgs $line" ;;
	esac
done
for pg in $pgs; do kill -s KILL -- "-$pg" 2>/dev/null; done
rm -rf -- "$@"`

// guardian is a small shell process that cleans up after this one if it
// dies (a test binary killed by its timeout, a panic, Ctrl-C) without
// stopping its servers: it holds the read end of a pipe whose write end
// only this process has, so the pipe closes exactly when this process
// ends. Normal paths stop the servers and remove the directories
// themselves, then release the guardian.
type guardian struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	w   *os.File // nil once released
}

// newGuardian starts a guardian for dirs.
func newGuardian(dirs ...string) (*guardian, error) {
	r, w, err := os.Pipe() // both ends close-on-exec: no other child inherits w
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("sh", append([]string{"-c", guardianScript, "qloapps-guardian"}, dirs...)...)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("starting the clean-up guardian: %w", err)
	}
	return &guardian{cmd: cmd, w: w}, nil
}

// watch has the guardian kill process group pgid if this process dies.
func (g *guardian) watch(pgid int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.w == nil {
		return errors.New("guardian already released")
	}
	_, err := fmt.Fprintf(g.w, "%d\n", pgid)
	return err
}

// release tells the guardian everything was cleaned up and waits for it.
func (g *guardian) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.w == nil {
		return
	}
	_, _ = g.w.WriteString("release\n")
	g.w.Close()
	g.w = nil
	_ = g.cmd.Wait()
}
