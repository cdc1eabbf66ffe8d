package chaos

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStopHungNodeQuits checks what the harness does with a node that ignores SIGTERM:
// after the grace period it sends SIGQUIT, which makes a Go program write its
// goroutines to its log, and reports the hung shutdown. The node here is a shell
// script that stands in for such a broker.
func TestStopHungNodeQuits(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "hung")
	body := "#!/bin/sh\ntrap '' TERM\ntrap 'echo goroutine 1 [chan receive]; exit 2' QUIT\necho started\nwhile :; do sleep 0.05; done\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	n := &Node{
		ID: 1, Roles: []string{roleBroker}, DataDir: filepath.Join(dir, "data"), LogPath: filepath.Join(dir, "node.log"),
		binary: script, net: Loopback{}, logger: slog.New(slog.NewTextHandler(io.Discard, nil)), state: Stopped,
	}
	if err := n.launch(); err != nil {
		t.Fatal(err)
	}
	// The shell must have set its traps before the signals come.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := WaitFor(ctx, "the script to start", func(context.Context) (bool, error) {
		b, err := os.ReadFile(n.LogPath)
		return strings.Contains(string(b), "started"), err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = n.Stop(ctx, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not stop within") {
		t.Fatalf("Stop of a node that ignores SIGTERM = %v, want a hung-shutdown error", err)
	}
	if n.State() != Stopped {
		t.Errorf("node %s after Stop", n.State())
	}
	if n.Kills() != 0 {
		t.Errorf("%d SIGKILLs: SIGQUIT alone should have ended it", n.Kills())
	}
	if b, _ := os.ReadFile(n.LogPath); !strings.Contains(string(b), "goroutine 1 [chan receive]") {
		t.Errorf("the node's log lacks what it wrote on SIGQUIT:\n%s", b)
	}
	if len(n.Crashes()) != 0 {
		t.Errorf("an exit the harness asked for counted as a crash: %v", n.Crashes())
	}
}
