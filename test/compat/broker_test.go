package compat

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	// readyTimeout bounds how long a starting broker may take to answer ApiVersions. The
	// broker is meant to answer within 200 ms; the margin is for a loaded CI machine.
	readyTimeout = 30 * time.Second
	// stopTimeout bounds a graceful shutdown after SIGTERM.
	stopTimeout = 20 * time.Second
)

// brokerCommand is the one place that knows how to start a Sluice broker: adjust the flags
// here when the CLI changes.
func brokerCommand(bin, dataDir, addr string) *exec.Cmd {
	return exec.Command(bin, "server",
		"--set", "log.dirs="+dataDir,
		"--set", "listeners=PLAINTEXT://"+addr,
		"--set", "node.id=1",
		// A free port for the metrics endpoint, so brokers never compete for the default.
		"--set", "http.addr=127.0.0.1:0",
	)
}

// brokerBinary returns the broker binary under test: $SLUICE_BIN, or bin/sluice at the
// repository root. A missing binary fails the test: nothing is skipped silently.
func brokerBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("SLUICE_BIN")
	if bin == "" {
		// go test runs in the package directory, test/compat.
		abs, err := filepath.Abs(filepath.Join("..", "..", "bin", "sluice"))
		if err != nil {
			t.Fatalf("locate bin/sluice: %v", err)
		}
		bin = abs
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("broker binary %s not found (%v): run `make build` first, or set SLUICE_BIN, "+
			"or SLUICE_COMPAT_BROKER=host:port to use a running broker", bin, err)
	}
	return bin
}

// broker is a Sluice broker under test: either a process this test started, or (with
// SLUICE_COMPAT_BROKER) an external one that the test only talks to.
type broker struct {
	// Addr is the host:port clients bootstrap from.
	Addr string

	external bool
	bin      string
	dataDir  string
	logPath  string

	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd.Wait returns
	waitErr error         // cmd.Wait's result, valid after exited is closed
	killed  bool          // the test killed the process on purpose
}

// startBroker gives the test a broker that answers ApiVersions: the external one from
// SLUICE_COMPAT_BROKER, or a fresh bin/sluice in a temporary data dir on a free port,
// stopped when the test ends.
func startBroker(t testing.TB) *broker {
	t.Helper()
	if addr := os.Getenv("SLUICE_COMPAT_BROKER"); addr != "" {
		b := &broker{Addr: addr, external: true}
		ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
		defer cancel()
		if err := waitReady(ctx, addr, nil); err != nil {
			t.Fatalf("SLUICE_COMPAT_BROKER=%s does not answer ApiVersions: %v", addr, err)
		}
		return b
	}
	return startOwnBroker(t, t.TempDir(), freeAddr(t))
}

// startOwnBroker starts the broker binary on dataDir and addr, waits until it answers
// ApiVersions, and registers a cleanup that stops it with SIGTERM (SIGKILL after
// stopTimeout) and shows its log if the test failed.
func startOwnBroker(t testing.TB, dataDir, addr string) *broker {
	t.Helper()
	b := &broker{
		Addr:    addr,
		bin:     brokerBinary(t),
		dataDir: dataDir,
		logPath: filepath.Join(t.TempDir(), "sluice.log"),
	}
	b.launch(t)
	t.Cleanup(func() { b.stop(t) })
	return b
}

func (b *broker) launch(t testing.TB) {
	t.Helper()
	logFile, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("open broker log: %v", err)
	}
	fmt.Fprintf(logFile, "=== %s: starting broker on %s, data in %s\n",
		time.Now().Format(time.RFC3339Nano), b.Addr, b.dataDir)
	cmd := brokerCommand(b.bin, b.dataDir, b.Addr)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Its own process group, so a terminal's Ctrl-C reaches the test first and the
	// test decides how the broker ends; and killed with the test process if that dies
	// without cleaning up (a -timeout panic, a SIGKILL), so no broker outlives its test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", strings.Join(cmd.Args, " "), err)
	}
	b.cmd = cmd
	b.killed = false
	b.exited = make(chan struct{})
	exited := b.exited
	go func() {
		b.waitErr = cmd.Wait()
		logFile.Close()
		close(exited)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := waitReady(ctx, b.Addr, exited); err != nil {
		t.Fatalf("broker %s (pid %d) not ready: %v\n%s", strings.Join(cmd.Args, " "),
			cmd.Process.Pid, err, b.logTail())
	}
	t.Logf("broker pid %d answers ApiVersions on %s after %v", cmd.Process.Pid, b.Addr,
		time.Since(start).Round(time.Millisecond))
}

// kill9 kills the broker process with SIGKILL, as `kill -9` does, and waits for it to be gone.
func (b *broker) kill9(t testing.TB) {
	t.Helper()
	if b.external {
		t.Fatal("cannot kill an external broker (SLUICE_COMPAT_BROKER)")
	}
	b.killed = true
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 broker pid %d: %v", b.cmd.Process.Pid, err)
	}
	select {
	case <-b.exited:
	case <-time.After(stopTimeout):
		t.Fatalf("broker pid %d still running %v after SIGKILL", b.cmd.Process.Pid, stopTimeout)
	}
	t.Logf("broker pid %d killed with SIGKILL", b.cmd.Process.Pid)
}

// restart starts the broker again on the same data dir and address.
func (b *broker) restart(t testing.TB) {
	t.Helper()
	select {
	case <-b.exited:
	default:
		t.Fatal("restart: broker is still running")
	}
	b.launch(t)
}

// stop ends the broker gracefully. A broker that died on its own, ignores SIGTERM or exits
// with an error fails the test, and a failed test shows the broker's log.
func (b *broker) stop(t testing.TB) {
	t.Helper()
	if b.external || b.cmd == nil {
		return
	}
	select {
	case <-b.exited:
		if !b.killed {
			t.Errorf("broker pid %d exited during the test: %v", b.cmd.Process.Pid, b.waitErr)
		}
	default:
		if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("SIGTERM broker pid %d: %v", b.cmd.Process.Pid, err)
		}
		select {
		case <-b.exited:
			if b.waitErr != nil {
				t.Errorf("broker pid %d exited with %v after SIGTERM", b.cmd.Process.Pid, b.waitErr)
			}
		case <-time.After(stopTimeout):
			t.Errorf("broker pid %d did not exit within %v of SIGTERM; killing it",
				b.cmd.Process.Pid, stopTimeout)
			_ = b.cmd.Process.Kill()
			<-b.exited
		}
	}
	if t.Failed() {
		t.Logf("broker log:\n%s", b.logTail())
	}
}

// logTail returns the last lines of the broker's output, for failure messages.
func (b *broker) logTail() string {
	const maxLines = 150
	data, err := os.ReadFile(b.logPath)
	if err != nil {
		return fmt.Sprintf("(no broker log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > maxLines {
		lines = append([]string{fmt.Sprintf("... (%d earlier lines in %s)",
			len(lines)-maxLines, b.logPath)}, lines[len(lines)-maxLines:]...)
	}
	return "--- broker output ---\n" + strings.Join(lines, "\n") + "\n--- end of broker output ---"
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("release port %s: %v", addr, err)
	}
	return addr
}

// waitReady polls addr with an ApiVersions v0 request until it gets a valid answer, the
// context ends, or exited (if not nil) is closed because the process died.
func waitReady(ctx context.Context, addr string, exited <-chan struct{}) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
		lastErr = probeAPIVersions(attempt, addr)
		cancel()
		if lastErr == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("broker process exited before answering: %w", lastErr)
		case <-ctx.Done():
			return fmt.Errorf("no ApiVersions answer on %s: %w (last attempt: %v)", addr, ctx.Err(), lastErr)
		case <-tick.C:
		}
	}
}

// probeAPIVersions sends one ApiVersions v0 request over a fresh connection and checks the
// answer: matching correlation id, no error, a non-empty list of APIs.
func probeAPIVersions(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			return err
		}
	}

	const correlationID = 7
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(0)
	clientID := "sluice-compat-probe"
	// Request header v1: api key, api version, correlation id, nullable client id.
	frame := binary.BigEndian.AppendUint32(nil, 0) // size, patched below
	frame = binary.BigEndian.AppendUint16(frame, uint16(req.Key()))
	frame = binary.BigEndian.AppendUint16(frame, uint16(req.GetVersion()))
	frame = binary.BigEndian.AppendUint32(frame, correlationID)
	frame = binary.BigEndian.AppendUint16(frame, uint16(len(clientID)))
	frame = append(frame, clientID...)
	frame = req.AppendTo(frame)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	if _, err := conn.Write(frame); err != nil {
		return fmt.Errorf("send ApiVersions: %w", err)
	}

	var sizeBuf [4]byte
	if _, err := io.ReadFull(conn, sizeBuf[:]); err != nil {
		return fmt.Errorf("read ApiVersions response size: %w", err)
	}
	size := binary.BigEndian.Uint32(sizeBuf[:])
	if size < 4 || size > 1<<20 {
		return fmt.Errorf("ApiVersions response size %d out of range", size)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(conn, body); err != nil {
		return fmt.Errorf("read ApiVersions response: %w", err)
	}
	if got := binary.BigEndian.Uint32(body); got != correlationID {
		return fmt.Errorf("ApiVersions response correlation id %d, want %d", got, correlationID)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	if err := resp.ReadFrom(body[4:]); err != nil {
		return fmt.Errorf("decode ApiVersions v0 response: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fmt.Errorf("ApiVersions error: %w", err)
	}
	if len(resp.ApiKeys) == 0 {
		return errors.New("ApiVersions response lists no APIs")
	}
	return nil
}

// tail returns the last n bytes of b, for showing a client's long output.
func tail(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return append([]byte("...\n"), b[len(b)-n:]...)
}
