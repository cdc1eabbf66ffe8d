package txn

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

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ioTimeout bounds every wait on the broker: its start, an answer, its exit.
const ioTimeout = 20 * time.Second

// broker is a bin/sluice process on a temporary data directory.
type broker struct {
	t       *testing.T
	addr    string
	dir     string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// startBroker starts the broker binary ($SLUICE_BIN, or bin/sluice at the repository
// root) and waits until it answers; the test's end stops it.
func startBroker(t *testing.T) *broker {
	t.Helper()
	bin := os.Getenv("SLUICE_BIN")
	if bin == "" {
		abs, err := filepath.Abs(filepath.Join("..", "..", "bin", "sluice"))
		if err != nil {
			t.Fatal(err)
		}
		bin = abs
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("broker binary %s missing (%v): run `make build` first, or set SLUICE_BIN", bin, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	b := &broker{t: t, addr: addr, dir: t.TempDir(), logPath: filepath.Join(t.TempDir(), "sluice.log")}
	b.launch(bin)
	t.Cleanup(b.stop)
	return b
}

func (b *broker) launch(bin string) {
	b.t.Helper()
	logf, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.t.Fatal(err)
	}
	cmd := exec.Command(bin, "server", "--set", "log.dirs="+b.dir, "--set", "listeners=PLAINTEXT://"+b.addr,
		"--set", "node.id=1", "--set", "http.addr=127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		b.t.Fatalf("start broker: %v", err)
	}
	b.cmd, b.exited = cmd, make(chan struct{})
	exited := b.exited
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	deadline := time.Now().Add(ioTimeout)
	for {
		c, err := tryDial(b.addr)
		if err == nil {
			_, err = c.roundTrip(kmsg.NewPtrApiVersionsRequest())
			c.conn.Close()
		}
		if err == nil {
			return
		}
		select {
		case <-exited:
			b.t.Fatalf("broker exited before answering: %v\n%s", err, b.log())
		default:
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("broker not answering on %s: %v\n%s", b.addr, err, b.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill9 kills the broker with SIGKILL and starts it again on the same data: what it
// had not shut down cleanly, recovery sorts out.
func (b *broker) kill9AndRestart() {
	b.t.Helper()
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		b.t.Fatal(err)
	}
	select {
	case <-b.exited:
	case <-time.After(ioTimeout):
		b.t.Fatal("broker still running after SIGKILL")
	}
	b.launch(b.cmd.Path)
}

func (b *broker) stop() {
	select {
	case <-b.exited:
		return
	default:
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(ioTimeout):
		_ = b.cmd.Process.Kill()
		<-b.exited
	}
	if b.t.Failed() {
		b.t.Logf("broker log:\n%s", b.log())
	}
}

func (b *broker) log() string {
	data, err := os.ReadFile(b.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) > 80 {
		lines = lines[len(lines)-80:]
	}
	return strings.Join(lines, "\n")
}

// client is a raw Kafka connection: requests at the exact version set on them.
type client struct {
	conn net.Conn
	corr int32
}

func tryDial(addr string) (*client, error) {
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, err
	}
	return &client{conn: conn}, nil
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := tryDial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.conn.Close() })
	return c
}

// do sends req and decodes its answer, failing the test on any error.
func (c *client) do(t *testing.T, req kmsg.Request) kmsg.Response {
	t.Helper()
	resp, err := c.roundTrip(req)
	if err != nil {
		t.Fatalf("%s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp
}

func (c *client) roundTrip(req kmsg.Request) (kmsg.Response, error) {
	c.corr++
	client := "sluice-txn-test"
	frame := []byte{0, 0, 0, 0}
	frame = kbin.AppendInt16(frame, req.Key())
	frame = kbin.AppendInt16(frame, req.GetVersion())
	frame = kbin.AppendInt32(frame, c.corr)
	frame = kbin.AppendNullableString(frame, &client)
	if req.IsFlexible() {
		frame = append(frame, 0)
	}
	frame = req.AppendTo(frame)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	c.conn.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := c.conn.Write(frame); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(c.conn, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 64<<20 {
		return nil, fmt.Errorf("response size %d", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.conn, body); err != nil {
		return nil, err
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != c.corr {
		return nil, fmt.Errorf("correlation id %d, want %d", got, c.corr)
	}
	body = body[4:]
	resp := req.ResponseKind()
	if req.Key() != 18 && resp.IsFlexible() {
		if len(body) == 0 || body[0] != 0 {
			return nil, errors.New("response header with tags")
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return resp, nil
}

// waitFor polls cond until it holds or ioTimeout passes.
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
