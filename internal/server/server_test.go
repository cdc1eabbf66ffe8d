package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// TestResponseHeaders checks the response header of every ApiVersions
// version (always v0: no tag section) and of flexible and non-flexible
// versions of another API (v1 with a tag section when flexible).
func TestResponseHeaders(t *testing.T) {
	ts := startServer(t, badInputMux(t), nil)
	c := dial(t, ts.addr)
	for v := int16(0); v <= 4; v++ {
		resp := c.apiVersions(v) // decode fails if a tag byte were present
		if resp.ErrorCode != 0 || len(resp.ApiKeys) != 2 {
			t.Errorf("ApiVersions v%d: error %d, keys %+v", v, resp.ErrorCode, resp.ApiKeys)
		}
	}
	for v := int16(0); v <= 12; v++ {
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(v)
		resp := c.roundTrip(req) // recv checks the tag section from v9
		if resp.GetVersion() != v {
			t.Errorf("Metadata v%d answered as v%d", v, resp.GetVersion())
		}
	}
}

// TestPipelining sends many requests without waiting and checks that the
// handler sees them in order, one at a time, and that the replies come
// back in order, including when earlier replies are deferred with Then and
// resolve after later ones.
func TestPipelining(t *testing.T) {
	var (
		mu      sync.Mutex
		seen    []int32
		active  atomic.Int32
		overlap atomic.Bool
	)
	m := newTestMux(t)
	m.Register(3, 0, 12, func(ctx context.Context, req *Request) *Reply {
		if active.Add(1) != 1 {
			overlap.Store(true)
		}
		defer active.Add(-1)
		mu.Lock()
		seen = append(seen, req.CorrelationID)
		mu.Unlock()
		resp := req.Msg.ResponseKind().(*kmsg.MetadataResponse)
		resp.ThrottleMillis = req.CorrelationID
		if req.CorrelationID%3 != 0 {
			return &Reply{Msg: resp}
		}
		// Every third reply resolves later, after a delay that shrinks
		// with the correlation id, so later replies are ready first.
		delay := time.Duration(300-req.CorrelationID) * 20 * time.Microsecond
		return &Reply{Then: func(ctx context.Context) *Reply {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			return &Reply{Msg: resp}
		}}
	})
	ts := startServer(t, m, nil)
	c := dial(t, ts.addr)
	const n = 300
	var out []byte
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(9)
	id := "pipe"
	for i := int32(1); i <= n; i++ {
		out = append(out, frame(req, i, &id)...)
	}
	go c.c.Write(out) // the server reads while we read
	for i := int32(1); i <= n; i++ {
		resp := c.recv(req, i).(*kmsg.MetadataResponse)
		if resp.ThrottleMillis != i {
			t.Fatalf("reply %d carries the answer to request %d", i, resp.ThrottleMillis)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, corr := range seen {
		if corr != int32(i+1) {
			t.Fatalf("handler saw request %d at position %d", corr, i)
		}
	}
	if overlap.Load() {
		t.Error("Handle ran for two requests of one connection at once")
	}
}

// TestThenRunsConcurrently checks that a deferred reply does not hold up
// the handling (or the deferred work) of the requests behind it, while the
// replies still leave in order.
func TestThenRunsConcurrently(t *testing.T) {
	release := make(chan struct{})
	secondRan := make(chan struct{})
	m := newTestMux(t)
	m.Register(3, 0, 12, func(ctx context.Context, req *Request) *Reply {
		resp := req.Msg.ResponseKind()
		switch req.CorrelationID {
		case 1:
			return &Reply{Then: func(ctx context.Context) *Reply {
				<-release
				return &Reply{Msg: resp}
			}}
		case 2:
			return &Reply{Then: func(ctx context.Context) *Reply {
				close(secondRan)
				return &Reply{Msg: resp}
			}}
		}
		return &Reply{Msg: resp}
	})
	ts := startServer(t, m, nil)
	c := dial(t, ts.addr)
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(1)
	c.send(req)
	c.send(req)
	c.send(req)
	select {
	case <-secondRan:
	case <-time.After(ioTimeout):
		t.Fatal("the second request's Then did not run while the first was waiting")
	}
	// Nothing may be written before the first reply.
	c.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _ := c.c.Read(make([]byte, 1)); n > 0 {
		t.Fatal("a reply was written before the first one")
	}
	close(release)
	for i := int32(1); i <= 3; i++ {
		c.recv(req, i)
	}
}

// TestBackpressure checks that a connection stops reading once MaxInFlight
// replies are waiting to be written.
func TestBackpressure(t *testing.T) {
	release := make(chan struct{})
	var handled atomic.Int32
	m := newTestMux(t)
	m.Register(3, 0, 12, func(ctx context.Context, req *Request) *Reply {
		handled.Add(1)
		resp := req.Msg.ResponseKind()
		if req.CorrelationID == 1 {
			return &Reply{Then: func(ctx context.Context) *Reply {
				<-release
				return &Reply{Msg: resp}
			}}
		}
		return &Reply{Msg: resp}
	})
	const inflight = 3
	ts := startServer(t, m, func(c *Config) { c.MaxInFlight = inflight })
	c := dial(t, ts.addr)
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(1)
	const n = 50
	for range n {
		c.send(req)
	}
	// The writer holds request 1, the queue holds `inflight` more, and the
	// reader is blocked with one more handled: inflight+2 in all.
	waitFor(t, func() bool { return handled.Load() == inflight+2 }, "%d requests handled (have %d)", inflight+2, handled.Load())
	time.Sleep(50 * time.Millisecond) // give an unbounded reader the chance to go on
	if got := handled.Load(); got != inflight+2 {
		t.Fatalf("%d requests handled while the first reply is held; want %d", got, inflight+2)
	}
	close(release)
	for i := int32(1); i <= n; i++ {
		c.recv(req, i)
	}
	if got := handled.Load(); got != n {
		t.Fatalf("handled %d, want %d", got, n)
	}
}

// memFile is a vfs.File without a descriptor, which forces the copy path.
type memFile struct {
	vfs.File
	data []byte
}

func (f memFile) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(f.data).ReadAt(p, off)
}

// TestChunksBody sends a hand-framed body mixing byte slices and file
// regions, through sendfile (a real file) and through the copy path (a file
// without a descriptor), and checks the bytes, the framing and that every
// region is released exactly once.
func TestChunksBody(t *testing.T) {
	content := make([]byte, 3<<20+123)
	for i := range content {
		content[i] = byte(i * 7)
	}
	path := filepath.Join(t.TempDir(), "segment")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	osf, err := vfs.OS().OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer osf.Close()
	files := map[string]vfs.File{"sendfile": osf, "copy": memFile{data: content}}

	var releases atomic.Int32
	m := newTestMux(t)
	m.Register(3, 0, 12, func(ctx context.Context, req *Request) *Reply {
		f := files[*req.ClientID]
		body := &Chunks{}
		body.AppendBytes([]byte("head"))
		body.AppendFile(f, 10, 1000, func() { releases.Add(1) })
		body.AppendBytes([]byte("mid"))
		body.AppendFile(f, 5000, len(content)-5000, func() { releases.Add(1) })
		body.AppendFile(f, 0, 0, func() { releases.Add(1) }) // empty: released at once
		body.AppendBytes([]byte("tail"))
		return &Reply{Body: body}
	})
	ts := startServer(t, m, nil)
	want := append([]byte("head"), content[10:1010]...)
	want = append(want, "mid"...)
	want = append(want, content[5000:]...)
	want = append(want, "tail"...)
	for _, name := range []string{"sendfile", "copy"} {
		t.Run(name, func(t *testing.T) {
			before := ts.sendfileBytes.Load()
			releases.Store(0)
			c := dial(t, ts.addr)
			req := kmsg.NewPtrMetadataRequest()
			req.SetVersion(9) // flexible: the header has a tag byte
			for i := int32(1); i <= 2; i++ {
				c.write(frame(req, i, &name))
			}
			for i := int32(1); i <= 2; i++ {
				b, err := c.readFrame()
				if err != nil {
					t.Fatal(err)
				}
				if got := int32(binary.BigEndian.Uint32(b)); got != i {
					t.Fatalf("correlation id %d, want %d", got, i)
				}
				if b[4] != 0 {
					t.Fatalf("tag section %x, want 0", b[4])
				}
				if !bytes.Equal(b[5:], want) {
					t.Fatalf("body differs: got %d bytes, want %d", len(b)-5, len(want))
				}
			}
			waitFor(t, func() bool { return releases.Load() == 6 }, "6 releases, have %d", releases.Load())
			sent := ts.sendfileBytes.Load() - before
			if name == "sendfile" && sent != 2*int64(len(content)-5000+1000) {
				t.Errorf("sendfile sent %d bytes, want %d", sent, 2*(len(content)-5000+1000))
			}
			if name == "copy" && sent != 0 {
				t.Errorf("sendfile used for a file without a descriptor")
			}
		})
	}
}

// TestChunksReleasedWhenDropped checks that a body whose connection closes
// before it is written is still released.
func TestChunksReleasedWhenDropped(t *testing.T) {
	var releases, handled atomic.Int32
	m := newTestMux(t)
	m.Register(3, 0, 12, func(ctx context.Context, req *Request) *Reply {
		handled.Add(1)
		return &Reply{Then: func(ctx context.Context) *Reply {
			<-ctx.Done() // a long poll, ended by the client leaving
			body := &Chunks{}
			body.AppendFile(memFile{data: []byte("xyz")}, 0, 3, func() { releases.Add(1) })
			return &Reply{Body: body}
		}}
	})
	ts := startServer(t, m, nil)
	c := dial(t, ts.addr)
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(1)
	c.send(req)
	c.send(req) // the second waits behind the first
	waitFor(t, func() bool { return handled.Load() == 2 }, "both requests handled")
	c.c.Close()
	waitFor(t, func() bool { return releases.Load() == 2 }, "both bodies released after the client left (have %d)", releases.Load())
}

// TestNoResponseAndClose covers acks=0 style replies: nothing written, and
// an error closing the connection.
func TestNoResponseAndClose(t *testing.T) {
	m := newTestMux(t)
	m.Register(3, 0, 12, func(ctx context.Context, req *Request) *Reply {
		switch *req.ClientID {
		case "silent":
			return &Reply{NoResponse: true}
		case "close":
			return &Reply{NoResponse: true, Close: true}
		case "answer-then-close":
			return &Reply{Msg: req.Msg.ResponseKind(), Close: true}
		}
		return &Reply{Msg: req.Msg.ResponseKind()}
	})
	var handled atomic.Int32
	ts := startServer(t, HandlerFunc(func(ctx context.Context, req *Request) *Reply {
		handled.Add(1)
		return m.Handle(ctx, req)
	}), nil)
	_ = ts
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(1)

	c := dial(t, ts.addr)
	silent, normal := "silent", "normal"
	c.write(frame(req, 1, &silent))
	c.write(frame(req, 2, &normal))
	c.recv(req, 2) // the first wrote nothing

	c = dial(t, ts.addr)
	closing := "close"
	handled.Store(0)
	c.write(append(frame(req, 1, &closing), frame(req, 2, &normal)...))
	c.expectClosed()
	if got := handled.Load(); got != 1 {
		t.Errorf("%d requests handled; a reply that closes must stop the connection's reading", got)
	}

	c = dial(t, ts.addr)
	atc := "answer-then-close"
	c.write(frame(req, 7, &atc))
	c.recv(req, 7)
	c.expectClosed()
}

// TestHandlerPanic checks that a panicking handler closes only its own
// connection, with the stack in the log.
func TestHandlerPanic(t *testing.T) {
	m := newTestMux(t)
	m.Register(3, 0, 12, func(ctx context.Context, req *Request) *Reply {
		if *req.ClientID == "boom" {
			var p *Request
			_ = p.Key // nil dereference
		}
		if *req.ClientID == "late-boom" {
			return &Reply{Then: func(context.Context) *Reply { panic("deferred") }}
		}
		if *req.ClientID == "nil" {
			return nil
		}
		return &Reply{Msg: req.Msg.ResponseKind()}
	})
	ts := startServer(t, m, nil)
	ts.panicsExpected = true
	bystander := dial(t, ts.addr)
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(1)
	for _, id := range []string{"boom", "late-boom", "nil"} {
		c := dial(t, ts.addr)
		c.write(frame(req, 1, &id))
		c.expectClosed()
		bystander.roundTrip(req)
	}
	ts.logs.waitLog(t, slog.LevelError, "panic in request handler")
	ts.logs.waitLog(t, slog.LevelError, "panic in deferred reply")
	ts.logs.waitLog(t, slog.LevelError, "returned no reply")
	if ts.logs.count(slog.LevelError, "goroutine") == 0 {
		t.Errorf("no stack trace logged:\n%s", ts.logs)
	}
}

// TestGracefulShutdown checks that Close lets a deferred reply finish and
// that a reply still waiting at the deadline is cut off.
func TestGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	m := newTestMux(t)
	m.Register(3, 0, 12, func(ctx context.Context, req *Request) *Reply {
		resp := req.Msg.ResponseKind()
		return &Reply{Then: func(ctx context.Context) *Reply {
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return &Reply{Msg: resp}
		}}
	})
	s, err := New(Config{Listeners: []Listener{{Name: "PLAINTEXT", Addr: "127.0.0.1:0"}}, Handler: m, Logger: slog.New(&logRecorder{})})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addrs()[0].String()
	c := dial(t, addr)
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(1)
	corr := c.send(req)
	<-started
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	// New connections are refused once shutdown has begun.
	waitFor(t, func() bool {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			nc.Close()
		}
		return err != nil
	}, "the listener to close")
	close(release)
	c.recv(req, corr)
	c.expectClosed()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Deadline reached: the waiting reply is dropped, Shutdown says so.
	s2, err := New(Config{Listeners: []Listener{{Name: "PLAINTEXT", Addr: "127.0.0.1:0"}}, Handler: m, Logger: slog.New(&logRecorder{})})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(); err != nil {
		t.Fatal(err)
	}
	release = make(chan struct{}) // never closed
	c2 := dial(t, s2.Addrs()[0].String())
	c2.send(req)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s2.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown past its deadline: %v", err)
	}
	c2.expectClosed()
}

// TestIdleConnectionClosed checks connections.max.idle.
func TestIdleConnectionClosed(t *testing.T) {
	ts := startServer(t, newTestMux(t), func(c *Config) { c.ConnectionsMaxIdle = 100 * time.Millisecond })
	c := dial(t, ts.addr)
	c.apiVersions(0)
	c.expectClosed()
	ts.logs.waitLog(t, slog.LevelInfo, "idle")
}

// countingMetrics records what the server reports.
type countingMetrics struct {
	opened, closed, done, rejected, written atomic.Int32
}

func (m *countingMetrics) ConnectionOpened(string) { m.opened.Add(1) }
func (m *countingMetrics) ConnectionClosed(string) { m.closed.Add(1) }
func (m *countingMetrics) RequestDone(_ string, _, _ int16, _ time.Duration, _, _ int, written bool) {
	m.done.Add(1)
	if written {
		m.written.Add(1)
	}
}
func (m *countingMetrics) RequestRejected(string, int16) { m.rejected.Add(1) }

func TestMetrics(t *testing.T) {
	met := &countingMetrics{}
	ts := startServer(t, newTestMux(t), func(c *Config) { c.Metrics = met })
	c := dial(t, ts.addr)
	for v := int16(0); v < 4; v++ {
		c.apiVersions(v)
	}
	c.write(sized(header(9999, 0, 1, nil, false)))
	c.expectClosed()
	waitFor(t, func() bool { return met.closed.Load() == 1 }, "the connection closed in the metrics")
	if met.opened.Load() != 1 || met.done.Load() != 4 || met.written.Load() != 4 || met.rejected.Load() != 1 {
		t.Errorf("opened %d done %d written %d rejected %d; want 1 4 4 1",
			met.opened.Load(), met.done.Load(), met.written.Load(), met.rejected.Load())
	}
}

// TestFranzGoClient talks to the server with a real client: kgo negotiates
// ApiVersions (it asks for a version above 4 first and must retry after
// UNSUPPORTED_VERSION), then issues a flexible Metadata request.
func TestFranzGoClient(t *testing.T) {
	var addr atomic.Value
	m := newTestMux(t)
	m.Register(3, 0, 12, func(ctx context.Context, req *Request) *Reply {
		resp := req.Msg.ResponseKind().(*kmsg.MetadataResponse)
		host, port, _ := net.SplitHostPort(addr.Load().(string))
		p, _ := strconv.Atoi(port)
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port = 0, host, int32(p)
		resp.Brokers = append(resp.Brokers, b)
		resp.ControllerID = 0
		return &Reply{Msg: resp}
	})
	var mu sync.Mutex
	var apiVersions []int16
	ts := startServer(t, HandlerFunc(func(ctx context.Context, req *Request) *Reply {
		if req.Key == 18 {
			mu.Lock()
			apiVersions = append(apiVersions, req.Version)
			mu.Unlock()
		}
		return m.Handle(ctx, req)
	}), nil)
	addr.Store(ts.addr)
	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Version != 12 || len(resp.Brokers) != 1 {
		t.Fatalf("Metadata v%d with %d brokers; want v12 (the highest served) and 1", resp.Version, len(resp.Brokers))
	}
	if ts.logs.count(slog.LevelWarn, "") != 0 {
		t.Errorf("warnings logged:\n%s", ts.logs)
	}
	mu.Lock()
	defer mu.Unlock()
	// kgo v1.22.2 asks for v5 first, gets UNSUPPORTED_VERSION with 0-4,
	// and retries at v4 on the same connection.
	if len(apiVersions) < 2 || apiVersions[0] != 5 || apiVersions[1] != 4 {
		t.Errorf("ApiVersions versions asked: %v; want 5 then 4", apiVersions)
	}
}
