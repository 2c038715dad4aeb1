package qloappsserver

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// When this process dies without stopping its servers, the pipe to the
// guardian closes: the guardian kills the servers' process groups and
// removes their directory. Closing the pipe here stands in for dying.
func TestGuardianCleansUpWhenThisProcessDies(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "server")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	g, err := newGuardian(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A server that forks, as PHP's built-in server does its workers.
	p, err := startProcess(exec.Command("sh", "-c", "sleep 60 & sleep 60; wait"), filepath.Join(dir, "log"), g)
	if err != nil {
		t.Fatal(err)
	}
	g.w.Close()
	_ = g.cmd.Wait()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill()
		t.Fatal("the guardian did not kill the server's process group")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the guardian left %s behind (stat: %v)", dir, err)
	}
}

// Released, the guardian leaves servers and directories alone: they were
// stopped and removed by Stop.
func TestReleasedGuardianDoesNothing(t *testing.T) {
	dir := t.TempDir()
	g, err := newGuardian(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := startProcess(exec.Command("sleep", "60"), filepath.Join(dir, "log"), g)
	if err != nil {
		t.Fatal(err)
	}
	defer p.kill()
	g.release()
	time.Sleep(100 * time.Millisecond)
	if p.exited() {
		t.Error("a released guardian killed the server")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("a released guardian removed %s: %v", dir, err)
	}
}
