package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/broker"
	"github.com/sluicehq/sluice/internal/config"
)

// node is one in-process broker.
type node struct {
	t    testing.TB
	dir  string
	sets []string
	// defaultHTTP leaves http.addr at its default instead of a free port.
	defaultHTTP bool
	addr        string
	b           *broker.Broker
	logs        *logBuffer

	stop func()
}

// logBuffer collects the broker's log for failure messages.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startNode starts a broker on a free port with data in a fresh temporary
// directory, plus any extra settings; it is stopped when the test ends.
func startNode(t testing.TB, sets ...string) *node {
	t.Helper()
	n := &node{t: t, dir: t.TempDir(), sets: sets}
	n.start()
	t.Cleanup(n.shutdown)
	return n
}

func (n *node) start() {
	n.t.Helper()
	if err := n.tryStart(); err != nil {
		n.t.Fatal(err)
	}
}

// tryStart starts the broker and returns why it did not become ready.
func (n *node) tryStart() error {
	t := n.t
	t.Helper()
	all := []string{"listeners=PLAINTEXT://127.0.0.1:0", "log.dirs=" + n.dir}
	if !n.defaultHTTP {
		all = append(all, "http.addr=127.0.0.1:0")
	}
	all = append(all, n.sets...)
	cfg, _, err := config.Load("", all, nil)
	if err != nil {
		return fmt.Errorf("config: %v", err)
	}
	n.logs = &logBuffer{}
	logger := slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b, err := broker.New(cfg, logger)
	if err != nil {
		return fmt.Errorf("broker.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var once sync.Once
	n.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("broker stopped with: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("broker did not stop within 30s")
			}
		})
	}
	select {
	case <-b.Ready():
	case err := <-done:
		cancel()
		n.stop = nil
		return fmt.Errorf("broker stopped before it was ready: %v\n%s", err, n.logs)
	case <-time.After(30 * time.Second):
		n.stop()
		return fmt.Errorf("broker not ready within 30s\n%s", n.logs)
	}
	ep := b.Endpoints()[0]
	n.addr = net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port)))
	n.b = b
	return nil
}

func (n *node) shutdown() {
	if n.stop != nil {
		n.stop()
	}
	if n.t.Failed() || os.Getenv("SLUICE_TEST_BROKER_LOG") != "" {
		n.t.Logf("broker log:\n%s", n.logs)
	}
}

// restart stops the broker and starts it again on the same data.
func (n *node) restart() {
	n.t.Helper()
	n.stop()
	n.start()
}

// client returns a kgo client and a kadm client on it, closed at the end
// of the test.
func (n *node) client(t testing.TB, opts ...kgo.Opt) (*kgo.Client, *kadm.Client) {
	t.Helper()
	// Records go to the partition they name.
	opts = append([]kgo.Opt{kgo.SeedBrokers(n.addr), kgo.RequestRetries(2), kgo.RetryTimeout(5 * time.Second),
		kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var topicSeq atomic.Int64

// topicName returns a unique valid topic name derived from the test name.
func topicName(t testing.TB) string {
	var b strings.Builder
	for _, c := range t.Name() {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	return fmt.Sprintf("%s-%d", b.String(), topicSeq.Add(1))
}

// createTopic creates a topic and fails the test on error.
func createTopic(t testing.TB, adm *kadm.Client, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	resp, err := adm.CreateTopic(ctxT(t), partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

func ptr[T any](v T) *T { return &v }

// produce writes n records of size bytes to a partition, in batches of
// perBatch records, and fails on the first error.
func produce(t testing.TB, cl *kgo.Client, topic string, partition int32, n, size int) {
	t.Helper()
	ctx := ctxT(t)
	recs := make([]*kgo.Record, 0, n)
	for i := 0; i < n; i++ {
		v := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		recs = append(recs, &kgo.Record{Topic: topic, Partition: partition, Key: []byte(strconv.Itoa(i)), Value: v})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce %d records to %s-%d: %v", n, topic, partition, err)
	}
}

// wantErr fails unless err is (or wraps) the Kafka error want; nil want
// means no error.
func wantErr(t testing.TB, what string, err error, want *kerr.Error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: %v, want no error", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: got %v, want %s", what, err, want.Message)
	}
}

// wantCode fails unless the code is want's.
func wantCode(t testing.TB, what string, got int16, want *kerr.Error) {
	t.Helper()
	w := int16(0)
	if want != nil {
		w = want.Code
	}
	if got != w {
		t.Fatalf("%s: error code %d (%v), want %d (%v)", what, got, kerr.ErrorForCode(got), w, kerr.ErrorForCode(w))
	}
}

// request sends a kmsg request through kgo and fails on a transport error.
func request[R kmsg.Response](t testing.TB, cl *kgo.Client, req kmsg.Request) R {
	t.Helper()
	resp, err := cl.Request(ctxT(t), req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	r, ok := resp.(R)
	if !ok {
		t.Fatalf("%s: response type %T", kmsg.NameForKey(req.Key()), resp)
	}
	return r
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func fmtInt(i int64) string { return strconv.FormatInt(i, 10) }
