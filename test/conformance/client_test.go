// Package conformance drives an in-process Sluice broker over raw TCP with
// requests built by kmsg at exact versions, and checks that every advertised
// version of every API answers with that version's Kafka semantics
// (conformance_test.go, admin_test.go, groups_test.go; an advertised API
// without a test fails TestEveryAdvertisedAPIIsCovered), that bad input gets
// Kafka's answer without harming the broker or its data (badinput_test.go),
// and that no byte sequence can take the broker down (fuzz_test.go).
//
// Run the fuzzer with a count, not a duration: Go 1.26's coordinator can
// fail a duration-bounded run with "context deadline exceeded" and no
// crasher (go.dev/issue/75804):
//
//	go test ./test/conformance -run '^$' -fuzz FuzzBrokerRequest -fuzztime 150000x -fuzzminimizetime 2s
//
// The client here is deliberately raw: it writes the request header itself,
// so that the version on the wire is exactly the one under test, and it
// refuses responses with a wrong correlation id, a wrong header shape or
// trailing bytes, which a real client might tolerate.
package conformance

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/broker"
	"github.com/sluicehq/sluice/internal/config"
)

// ioTimeout bounds every network wait; no healthy answer comes close to it.
const ioTimeout = 10 * time.Second

// maxResponseBytes bounds a response frame the client accepts.
const maxResponseBytes = 64 << 20

// clientID is what the raw client sends in request headers.
var clientID = "sluice-conformance"

// errClosed reports that the broker closed the connection instead of
// answering.
var errClosed = errors.New("connection closed by the broker")

// appendRequest appends one request frame: the size, the request header
// (v1, or v2 with an empty tag section for flexible versions; the client id
// is a nullable non-compact string in both) and the body at req's version.
func appendRequest(dst []byte, req kmsg.Request, corr int32, client *string) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = kbin.AppendInt16(dst, req.Key())
	dst = kbin.AppendInt16(dst, req.GetVersion())
	dst = kbin.AppendInt32(dst, corr)
	dst = kbin.AppendNullableString(dst, client)
	if req.IsFlexible() {
		dst = append(dst, 0) // no tagged fields
	}
	dst = req.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// readFrame reads one size-prefixed frame.
func readFrame(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, closedOr(err)
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > maxResponseBytes {
		return nil, fmt.Errorf("response frame size %d is out of range", n)
	}
	frame := make([]byte, n)
	if _, err := io.ReadFull(r, frame); err != nil {
		return nil, fmt.Errorf("read %d-byte response frame: %w", n, closedOr(err))
	}
	return frame, nil
}

// closedOr turns the errors of a connection the peer closed into errClosed.
func closedOr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "connection reset by peer") || strings.Contains(err.Error(), "broken pipe") {
		return fmt.Errorf("%w (%v)", errClosed, err)
	}
	return err
}

// decodeResponse checks a response frame against the request it answers
// and decodes the body with kmsg at the request's version. ApiVersions'
// response header is always v0 (no tag section); other flexible responses
// have response header v1, whose tag section must be empty here since
// Sluice defines no header tags. ApiVersions answers a version it does not
// serve in v0, which the caller signals with respVersion.
func decodeResponse(req kmsg.Request, respVersion int16, corr int32, frame []byte) (kmsg.Response, error) {
	r := kbin.Reader{Src: frame}
	got := r.Int32()
	if !r.Ok() {
		return nil, fmt.Errorf("response frame of %d bytes has no correlation id", len(frame))
	}
	if got != corr {
		return nil, fmt.Errorf("correlation id %d, want %d", got, corr)
	}
	resp := req.ResponseKind()
	resp.SetVersion(respVersion)
	if req.Key() != 18 && resp.IsFlexible() {
		n := r.Uvarint()
		if !r.Ok() || n != 0 {
			return nil, fmt.Errorf("%s v%d response header: want an empty tag section, got %d tags (ok=%v)",
				kmsg.NameForKey(req.Key()), respVersion, n, r.Ok())
		}
	}
	body := r.Src
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode %s v%d response (%d bytes): %w", kmsg.NameForKey(req.Key()), respVersion, len(body), err)
	}
	// kmsg does not report unread input: re-encoding the decoded response
	// gives the length of what was parsed, so anything past it is trailing
	// garbage (Sluice encodes with kmsg, whose encodings are canonical).
	if n := len(resp.AppendTo(nil)); n != len(body) {
		return nil, fmt.Errorf("%s v%d response: %d bytes parsed of %d (trailing bytes or a mis-framed field)",
			kmsg.NameForKey(req.Key()), respVersion, n, len(body))
	}
	return resp, nil
}

// client is one raw connection to the broker.
type client struct {
	t    testing.TB
	addr string
	conn net.Conn
	corr int32
}

// dial opens a raw connection; the test fails if it cannot.
func dial(t testing.TB, addr string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, addr: addr, conn: conn, corr: 1000}
}

// send writes req at its version and returns its correlation id.
func (c *client) send(req kmsg.Request) int32 {
	c.t.Helper()
	c.corr++
	c.write(appendRequest(nil, req, c.corr, &clientID))
	return c.corr
}

// write writes raw bytes.
func (c *client) write(b []byte) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("write %d bytes: %v", len(b), err)
	}
}

// writeLoose writes raw bytes, ignoring a failure: bad input may be cut
// off by the broker closing the connection, which the caller checks.
func (c *client) writeLoose(b []byte) {
	c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	c.conn.Write(b)
}

// tryRecv reads the response to req sent with corr.
func (c *client) tryRecv(req kmsg.Request, corr int32) (kmsg.Response, error) {
	version := req.GetVersion()
	if req.Key() == 18 {
		if _, max := apiVersionsRange(); version > max {
			version = 0 // answered in v0 with UNSUPPORTED_VERSION
		}
	}
	c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	frame, err := readFrame(c.conn)
	if err != nil {
		return nil, err
	}
	return decodeResponse(req, version, corr, frame)
}

// recv is tryRecv failing the test on error.
func (c *client) recv(req kmsg.Request, corr int32) kmsg.Response {
	c.t.Helper()
	resp, err := c.tryRecv(req, corr)
	if err != nil {
		c.t.Fatalf("%s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp
}

// do sends req and returns its response.
func (c *client) do(req kmsg.Request) kmsg.Response {
	c.t.Helper()
	return c.recv(req, c.send(req))
}

// expectClosed asserts that the broker closes the connection without
// sending anything more.
func (c *client) expectClosed(what string) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	var b [1]byte
	n, err := c.conn.Read(b[:])
	switch {
	case n > 0:
		c.t.Fatalf("%s: want the connection closed, got response bytes", what)
	case err == nil:
		c.t.Fatalf("%s: want the connection closed, got a zero-byte read", what)
	case isTimeout(err):
		c.t.Fatalf("%s: want the connection closed, still open after %v", what, ioTimeout)
	case !errors.Is(closedOr(err), errClosed):
		c.t.Fatalf("%s: want the connection closed, got %v", what, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// versioned returns req with its version set, for table building.
func versioned[R kmsg.Request](req R, v int16) R {
	req.SetVersion(v)
	return req
}

// fixture is the broker every test of the package shares, started once in
// TestMain so that the package runs in well under a minute.
type fixture struct {
	dir     string // log.dirs
	addr    string
	host    string
	port    int32
	logs    *logRecorder
	ranges  map[int16][2]int16 // API key -> advertised min, max
	cleanup func()
}

var shared *fixture

func TestMain(m *testing.M) {
	removeStaleDirs()
	// A new group's first join answers at once instead of after Kafka's
	// default 3 s delay, so that the group tests stay fast.
	f, err := startBroker([]string{"group.initial.rebalance.delay.ms=0"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start broker:", err)
		os.Exit(1)
	}
	shared = f
	code := m.Run()
	f.cleanup()
	if n := f.logs.count(slog.LevelError, "panic"); n > 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "the broker logged %d panics:\n%s", n, f.logs.matching(slog.LevelError, "panic"))
		code = 1
	}
	os.Exit(code)
}

// startBroker starts a broker in-process on a free loopback port with its
// own data directory, with extra settings in --set form, and asks it for
// its ApiVersions ranges.
func startBroker(sets []string) (*fixture, error) {
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", dirPrefix, os.Getpid()))
	if err != nil {
		return nil, err
	}
	// http.addr off: several brokers share this process, and the tests
	// speak only the Kafka protocol.
	all := append([]string{"listeners=PLAINTEXT://127.0.0.1:0", "log.dirs=" + dir, "node.id=1", "http.addr="}, sets...)
	cfg, _, err := config.Load("", all, nil)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("config: %w", err)
	}
	logs := &logRecorder{}
	b, err := broker.New(cfg, slog.New(logs))
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("broker.New: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			fmt.Fprintln(os.Stderr, "broker did not stop within 30s")
		}
		os.RemoveAll(dir)
	}
	select {
	case <-b.Ready():
	case err := <-done:
		cancel()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("broker stopped before it was ready: %v\n%s", err, logs.dump())
	case <-time.After(30 * time.Second):
		stop()
		return nil, errors.New("broker not ready within 30s")
	}
	eps := b.Endpoints()
	if len(eps) == 0 {
		stop()
		return nil, errors.New("broker reports no endpoints")
	}
	f := &fixture{
		dir:     dir,
		host:    eps[0].Host,
		port:    eps[0].Port,
		addr:    net.JoinHostPort(eps[0].Host, strconv.Itoa(int(eps[0].Port))),
		logs:    logs,
		cleanup: stop,
	}
	f.ranges, err = fetchRanges(f.addr)
	if err != nil {
		stop()
		return nil, err
	}
	return f, nil
}

// dirPrefix starts the name of every data directory this package makes,
// followed by the owning process id.
const dirPrefix = "sluice-conformance-"

// removeStaleDirs removes the data directories of test processes that are
// gone without cleaning up: fuzz workers are killed, not stopped.
func removeStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*-*"))
	for _, d := range dirs {
		pidText, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(d), dirPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
			continue // still running
		}
		os.RemoveAll(d)
	}
}

// fetchRanges asks ApiVersions v0 (which every broker serves) for the
// advertised ranges.
func fetchRanges(addr string) (map[int16][2]int16, error) {
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(ioTimeout))
	req := versioned(kmsg.NewPtrApiVersionsRequest(), 0)
	if _, err := conn.Write(appendRequest(nil, req, 1, &clientID)); err != nil {
		return nil, err
	}
	frame, err := readFrame(conn)
	if err != nil {
		return nil, fmt.Errorf("ApiVersions v0: %w", err)
	}
	resp, err := decodeResponse(req, 0, 1, frame)
	if err != nil {
		return nil, err
	}
	av := resp.(*kmsg.ApiVersionsResponse)
	if av.ErrorCode != 0 {
		return nil, fmt.Errorf("ApiVersions v0: error code %d", av.ErrorCode)
	}
	ranges := make(map[int16][2]int16)
	for _, k := range av.ApiKeys {
		ranges[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	return ranges, nil
}

// apiVersionsRange is the shared broker's advertised ApiVersions range.
func apiVersionsRange() (min, max int16) {
	r := shared.ranges[18]
	return r[0], r[1]
}

// logRecorder is a slog.Handler that keeps the broker's records, so that
// tests can check that bad input left a log line and never a panic.
type logRecorder struct {
	mu   sync.Mutex
	recs []logLine
}

type logLine struct {
	level slog.Level
	text  string // message and attributes
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrHandler{l: l, attrs: as}
}
func (l *logRecorder) WithGroup(string) slog.Handler { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.add(r, nil)
	return nil
}

func (l *logRecorder) add(r slog.Record, pre []slog.Attr) {
	var sb strings.Builder
	sb.WriteString(r.Message)
	for _, a := range pre {
		sb.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		sb.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, logLine{r.Level, sb.String()})
	l.mu.Unlock()
}

// attrHandler carries the attributes of Logger.With into the recorder.
type attrHandler struct {
	l     *logRecorder
	attrs []slog.Attr
}

func (h *attrHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *attrHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrHandler{l: h.l, attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}
func (h *attrHandler) WithGroup(string) slog.Handler { return h }
func (h *attrHandler) Handle(_ context.Context, r slog.Record) error {
	h.l.add(r, h.attrs)
	return nil
}

// count returns how many records at level or above contain substr.
func (l *logRecorder) count(level slog.Level, substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.level >= level && strings.Contains(r.text, substr) {
			n++
		}
	}
	return n
}

// matching returns the records at level or above containing substr.
func (l *logRecorder) matching(level slog.Level, substr string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var sb strings.Builder
	for _, r := range l.recs {
		if r.level >= level && strings.Contains(r.text, substr) {
			sb.WriteString(r.level.String() + " " + r.text + "\n")
		}
	}
	return sb.String()
}

func (l *logRecorder) dump() string { return l.matching(slog.LevelDebug, "") }
