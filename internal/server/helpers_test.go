package server

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ioTimeout bounds every network wait in these tests; none is expected to
// come close to it.
const ioTimeout = 10 * time.Second

// logRecorder is a slog.Handler that keeps every record, so tests can
// assert that a bad request left its log line and that nothing panicked.
type logRecorder struct {
	mu   sync.Mutex
	recs []logLine
}

type logLine struct {
	level slog.Level
	msg   string
	attrs string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var sb strings.Builder
	r.Attrs(func(a slog.Attr) bool {
		sb.WriteString(a.String())
		sb.WriteByte(' ')
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, logLine{r.Level, r.Message, sb.String()})
	l.mu.Unlock()
	return nil
}

// count returns how many records at level or above contain substr in their
// message or attributes.
func (l *logRecorder) count(level slog.Level, substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.level >= level && (strings.Contains(r.msg, substr) || strings.Contains(r.attrs, substr)) {
			n++
		}
	}
	return n
}

func (l *logRecorder) dump() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var sb strings.Builder
	for _, r := range l.recs {
		sb.WriteString(r.level.String() + " " + r.msg + " " + r.attrs + "\n")
	}
	return sb.String()
}

// waitLog polls until a record matching level and substr appears.
func (l *logRecorder) waitLog(t *testing.T, level slog.Level, substr string) {
	t.Helper()
	waitFor(t, func() bool { return l.count(level, substr) > 0 }, "log line %q at %v; have:\n%s", substr, level, l)
}

func (l *logRecorder) String() string { return l.dump() }

// waitFor polls cond until it holds or ioTimeout passes.
func waitFor(t testing.TB, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+format, args...)
		}
		time.Sleep(time.Millisecond)
	}
}

// stubApiVersions answers ApiVersions from a Mux the way api.ApiVersions
// does (that package cannot be imported here); the tests of this package
// check the server's part: routing, the v0 header, the connection staying
// open.
func stubApiVersions(m *Mux) func(context.Context, *Request) *Reply {
	return func(_ context.Context, req *Request) *Reply {
		min, max, _ := m.VersionRange(18)
		resp := kmsg.NewPtrApiVersionsResponse()
		if req.Version < min || req.Version > max {
			resp.SetVersion(0)
			resp.ErrorCode = kerr.UnsupportedVersion.Code
			resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{{ApiKey: 18, MinVersion: min, MaxVersion: max}}
			return &Reply{Msg: resp}
		}
		resp.SetVersion(req.Version)
		resp.ApiKeys = m.ApiKeys()
		return &Reply{Msg: resp}
	}
}

// newTestMux serves ApiVersions 0-4 and, with a stub, Metadata 0-12
// (answering with this broker alone and no topics), so that real clients
// can connect.
func newTestMux(t testing.TB) *Mux {
	m := NewMux()
	m.Register(18, 0, 4, stubApiVersions(m))
	return m
}

type testServer struct {
	*Server
	addr string
	logs *logRecorder
	// panicsExpected turns off the end-of-test check that no panic was
	// logged.
	panicsExpected bool
}

// startServer starts a Server on a free loopback port; it is closed when
// the test ends.
func startServer(t testing.TB, h Handler, tweak func(*Config)) *testServer {
	t.Helper()
	logs := &logRecorder{}
	cfg := Config{
		Listeners: []Listener{{Name: "PLAINTEXT", Addr: "127.0.0.1:0"}},
		Handler:   h,
		Logger:    slog.New(logs),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, addr: s.Addrs()[0].String(), logs: logs}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if n := logs.count(slog.LevelError, "panic"); n > 0 && !ts.panicsExpected {
			t.Errorf("%d panics logged:\n%s", n, logs.dump())
		}
	})
	return ts
}

// rawClient speaks the Kafka framing by hand.
type rawClient struct {
	t    testing.TB
	c    net.Conn
	corr int32
}

func dial(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c}
}

// frame encodes req at its version with a request header (v2 when the
// version is flexible) and the given correlation id.
func frame(req kmsg.Request, corr int32, clientID *string) []byte {
	b := make([]byte, 4, 64)
	b = kbin.AppendInt16(b, req.Key())
	b = kbin.AppendInt16(b, req.GetVersion())
	b = kbin.AppendInt32(b, corr)
	b = kbin.AppendNullableString(b, clientID)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func (r *rawClient) write(b []byte) {
	r.t.Helper()
	r.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// send writes req and returns its correlation id.
func (r *rawClient) send(req kmsg.Request) int32 {
	r.t.Helper()
	r.corr++
	id := "test"
	r.write(frame(req, r.corr, &id))
	return r.corr
}

// readFrame reads one size-prefixed frame.
func (r *rawClient) readFrame() ([]byte, error) {
	r.c.SetReadDeadline(time.Now().Add(ioTimeout))
	var hdr [4]byte
	if _, err := io.ReadFull(r.c, hdr[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	_, err := io.ReadFull(r.c, b)
	return b, err
}

// recv reads the reply to a request of kind req sent with corr and
// decodes it. The response header has a tag section when the request's
// version is flexible, except for ApiVersions.
func (r *rawClient) recv(req kmsg.Request, corr int32) kmsg.Response {
	r.t.Helper()
	b, err := r.readFrame()
	if err != nil {
		r.t.Fatalf("read response to %s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return r.decode(b, req, corr)
}

func (r *rawClient) decode(b []byte, req kmsg.Request, corr int32) kmsg.Response {
	r.t.Helper()
	if got := int32(binary.BigEndian.Uint32(b)); got != corr {
		r.t.Fatalf("correlation id %d, want %d", got, corr)
	}
	b = b[4:]
	if req.IsFlexible() && req.Key() != 18 {
		if len(b) == 0 || b[0] != 0 {
			r.t.Fatalf("flexible response header: want an empty tag section, got % x", b[:min(len(b), 8)])
		}
		b = b[1:]
	}
	resp := req.ResponseKind()
	if err := resp.ReadFrom(b); err != nil {
		r.t.Fatalf("decode %s v%d response: %v", kmsg.NameForKey(req.Key()), resp.GetVersion(), err)
	}
	return resp
}

func (r *rawClient) roundTrip(req kmsg.Request) kmsg.Response {
	r.t.Helper()
	return r.recv(req, r.send(req))
}

// expectClosed checks that the server closes the connection: the next read
// ends with EOF or a reset, not a timeout and not data.
func (r *rawClient) expectClosed() {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(ioTimeout))
	b := make([]byte, 1)
	n, err := r.c.Read(b)
	if n > 0 {
		r.t.Fatalf("expected the server to close the connection, got data %x", b[:n])
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		r.t.Fatalf("expected the server to close the connection; it stayed open")
	}
	if err == nil {
		r.t.Fatalf("expected the server to close the connection")
	}
}

// apiVersions sends ApiVersions at version v and returns the response.
func (r *rawClient) apiVersions(v int16) *kmsg.ApiVersionsResponse {
	r.t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(v)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "sluice-test", "1.0"
	corr := r.send(req)
	b, err := r.readFrame()
	if err != nil {
		r.t.Fatalf("read ApiVersions v%d response: %v", v, err)
	}
	respVersion := v
	if v < 0 || v > 4 {
		respVersion = 0
	}
	probe := kmsg.NewPtrApiVersionsRequest()
	probe.SetVersion(respVersion)
	return r.decode(b, probe, corr).(*kmsg.ApiVersionsResponse)
}

// checkServing checks that a fresh connection still gets ApiVersions.
func checkServing(t *testing.T, addr string) {
	t.Helper()
	c := dial(t, addr)
	resp := c.apiVersions(3)
	if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("fresh connection: ApiVersions error %d, %d keys", resp.ErrorCode, len(resp.ApiKeys))
	}
	c.c.Close()
}
