package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/broker"
	"github.com/sluicehq/sluice/internal/config"
)

// sluiceBin returns the binary under test, failing clearly when it is
// missing.
func sluiceBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SLUICE_BIN"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "bin", "sluice")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the sluice binary is missing (%v): build it first with `make build` (or go build -o bin/sluice ./cmd/sluice), or set SLUICE_BIN", err)
	}
	return p
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit code %d\nstdout:\n%s\nstderr:\n%s", r.code, clip(r.stdout), clip(r.stderr))
}

func clip(s string) string {
	if len(s) > 4000 {
		return s[:2000] + "\n...\n" + s[len(s)-2000:]
	}
	return s
}

// run runs sluice with args against the broker at addr (empty: none set),
// with stdin, and returns what it printed and its exit code.
func run(t testing.TB, addr string, stdin []byte, args ...string) result {
	t.Helper()
	var env []string
	if addr != "" {
		env = append(env, "SLUICE_BROKERS="+addr)
	}
	return runEnv(t, env, stdin, args...)
}

// runEnv runs sluice with args and the variables of env (NAME=value) on
// top of PATH and HOME, with stdin, and returns what it printed and its
// exit code.
func runEnv(t testing.TB, env []string, stdin []byte, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sluiceBin(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("run sluice %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("sluice %s did not finish within 3 minutes\n%s", strings.Join(args, " "), r)
	}
	return r
}

// ok runs sluice and fails unless it exits 0.
func ok(t testing.TB, addr string, stdin []byte, args ...string) result {
	t.Helper()
	r := run(t, addr, stdin, args...)
	if r.code != 0 {
		t.Fatalf("sluice %s: want exit code 0\n%s", strings.Join(args, " "), r)
	}
	return r
}

// fails runs sluice and fails unless it exits non-zero with stderr
// containing every one of want.
func fails(t testing.TB, addr string, stdin []byte, want []string, args ...string) result {
	t.Helper()
	r := run(t, addr, stdin, args...)
	if r.code == 0 {
		t.Fatalf("sluice %s: want a non-zero exit code\n%s", strings.Join(args, " "), r)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Fatalf("sluice %s: stderr lacks %q\n%s", strings.Join(args, " "), w, r)
		}
	}
	return r
}

// logBuffer collects the broker's log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// startBroker starts a broker in-process on a free port and returns its
// address; it stops when the test ends.
func startBroker(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	cfg, _, err := config.Load("", []string{"listeners=PLAINTEXT://127.0.0.1:0", "log.dirs=" + dir, "http.addr=127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	b, err := broker.New(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("broker did not stop within 30s")
		}
		if t.Failed() {
			logs.mu.Lock()
			t.Logf("broker log:\n%s", clip(logs.buf.String()))
			logs.mu.Unlock()
		}
	})
	select {
	case <-b.Ready():
	case err := <-done:
		t.Fatalf("broker stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("broker not ready within 30s")
	}
	ep := b.Endpoints()[0]
	return net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port)))
}

var topicSeq atomic.Int64

// topicName is a unique topic name for the test.
func topicName(t testing.TB) string {
	var b strings.Builder
	for _, c := range t.Name() {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	return fmt.Sprintf("%s-%d", b.String(), topicSeq.Add(1))
}

// lines splits output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}
