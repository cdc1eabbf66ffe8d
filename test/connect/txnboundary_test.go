package connect

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	sconnect "github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/builtin"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/offsets"
	"github.com/sluicehq/sluice/connect/runtime"
)

// A source connector that defines its own transactions
// (transaction.boundary=connector, KIP-618) runs in an exactly-once
// worker's runtime against the broker. The connector exists only in this
// test: it is registered in the test's registry, not in the binary's.
//
// Its task sends r0..r23 in batches of four and asks, batch by batch:
//
//	batch 0 (r0-r3):   commit after r1        -> r0 r1 committed; r2 r3 stay open
//	batch 1 (r4-r7):   abort after r7         -> r2..r7 aborted
//	batch 2 (r8-r11):  commit after the batch -> r8..r11 committed
//	batch 3 (r12-r15): abort after the batch  -> r12..r15 aborted
//	batch 4 (r16-r19): commit after r19       -> r16..r19 committed
//	batch 5 (r20-r23): nothing                -> aborted when the task stops
//
// A read_committed consumer sees r0 r1 r8..r11 r16..r19, each once; all 24
// records are in the log. As in Kafka, an abort is followed by a commit of
// the aborted records' offsets on their own, so the committed source
// offsets are, in order, 1 7 11 15 19: never 23, whose transaction the
// task never ended.
func TestConnectorDefinedTransactions(t *testing.T) {
	addr := broker(t)
	name := uniqueName(t, "txnsrc")
	topic, offTopic := name+"-out", name+"-offsets"
	createTopic(t, topic, 1)
	createTopic(t, offTopic, 1)

	polled := make(chan struct{})
	reg := builtin.Registry()
	reg.MustRegister(sconnect.Plugin{Class: "test.BoundarySource", Type: sconnect.SourcePlugin, Version: "1",
		New: func() any { return &boundarySource{polledAll: polled} }})

	dir := t.TempDir()
	ctx := context.Background()
	h, err := runtime.NewHerder(ctx, runtime.Options{
		Registry: reg,
		Worker: map[string]string{
			"bootstrap.servers":            addr,
			"key.converter":                "StringConverter",
			"value.converter":              "StringConverter",
			"offset.storage.file.filename": filepath.Join(dir, "offsets"),
		},
		WorkerID:          "test-worker",
		Log:               slog.New(slog.NewTextHandler(io.Discard, nil)),
		ExactlyOnceSource: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop()

	conn := map[string]string{"name": name, "connector.class": "test.BoundarySource", "tasks.max": "1",
		"transaction.boundary": "connector", "topic": topic}
	v, err := h.ValidateConnector(conn)
	if err != nil || len(v.Errors) > 0 {
		t.Fatalf("validation: %v %v", v, err)
	}
	// The offsets of each transaction, as the distributed worker writes
	// them to its offset topic: here one JSON value per entry.
	offsetRecords := func(connector string, entries []offsets.Entry) ([]*kgo.Record, error) {
		var recs []*kgo.Record
		for _, e := range entries {
			b, err := json.Marshal(e.Offset["n"])
			if err != nil {
				return nil, err
			}
			recs = append(recs, &kgo.Record{Topic: offTopic, Key: []byte(connector), Value: b})
		}
		return recs, nil
	}
	task, err := h.StartTask(runtime.TaskSpec{Connector: name, ID: 0, ConnectorConfig: conn, TaskConfig: map[string]string{"topic": topic},
		Transactional: &runtime.Transactional{ID: name + "-0", OffsetRecords: offsetRecords}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-polled:
	case <-task.Done():
		st, trace := task.State()
		t.Fatalf("the task stopped before sending its records: %s %s", st, trace)
	case <-time.After(60 * time.Second):
		t.Fatal("the task did not send its records within 60s")
	}
	// All 24 records reach the log, the last four in the transaction the
	// task leaves open.
	all := readValues(t, topic, kgo.ReadUncommitted(), 24)
	if len(all) != 24 {
		t.Fatalf("read_uncommitted: %d records, want 24: %v", len(all), all)
	}
	if !task.Stop(60 * time.Second) {
		t.Fatal("the task did not stop within 60s")
	}
	if st, trace := task.State(); st == runtime.StateFailed {
		t.Fatalf("the task failed: %s", trace)
	}

	var want []string
	for _, i := range []int{0, 1, 8, 9, 10, 11, 16, 17, 18, 19} {
		want = append(want, "r"+strconv.Itoa(i))
	}
	if got := readValues(t, topic, kgo.ReadCommitted(), len(want)); !slices.Equal(got, want) {
		t.Fatalf("read_committed: %v, want %v", got, want)
	}
	if got := readValues(t, offTopic, kgo.ReadCommitted(), 5); !slices.Equal(got, []string{"1", "7", "11", "15", "19"}) {
		t.Fatalf("committed source offsets: %v, want [1 7 11 15 19]", got)
	}
}

// readValues reads a topic's values from the start with an isolation level
// until the end it can see (the last stable offset for read_committed):
// at least n records, and then whatever else arrives within a second.
func readValues(t *testing.T, topic string, iso kgo.IsolationLevel, n int) []string {
	t.Helper()
	cl := newClient(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(iso), kgo.FetchMaxWait(100*time.Millisecond))
	var out []string
	deadline := time.Now().Add(30 * time.Second)
	quiet := time.Time{}
	for {
		pctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		f := cl.PollFetches(pctx)
		cancel()
		f.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
		if len(out) >= n && quiet.IsZero() {
			quiet = time.Now().Add(time.Second)
		}
		if !quiet.IsZero() && time.Now().After(quiet) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("read %s: %d records within 30s, want %d: %v", topic, len(out), n, out)
		}
	}
}

// boundarySource is the test's source connector: one task that defines
// its transactions as the test's comment says.
type boundarySource struct {
	props     map[string]string
	polledAll chan struct{}
}

func (c *boundarySource) Version() string        { return "1" }
func (c *boundarySource) Config() *configdef.Def { return configdef.New() }
func (c *boundarySource) Start(_ sconnect.ConnectorContext, props map[string]string) error {
	c.props = props
	return nil
}
func (c *boundarySource) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{c.props}, nil
}
func (c *boundarySource) Stop() error { return nil }
func (c *boundarySource) NewTask() sconnect.SourceTask {
	return &boundaryTask{polledAll: c.polledAll}
}
func (c *boundarySource) CanDefineTransactionBoundaries(map[string]string) sconnect.ConnectorTransactionBoundaries {
	return sconnect.TransactionBoundariesSupported
}

type boundaryTask struct {
	topic     string
	txn       sconnect.TransactionContext
	next      int
	polledAll chan struct{}
	once      sync.Once
}

func (t *boundaryTask) Version() string { return "1" }
func (t *boundaryTask) Start(ctx sconnect.SourceTaskContext, props map[string]string) error {
	t.topic, t.txn = props["topic"], ctx.TransactionContext()
	if t.txn == nil {
		return sconnect.ConfigErrorf("no TransactionContext with transaction.boundary=connector")
	}
	return nil
}

var boundaryPartition = map[string]any{"p": "0"}

func (t *boundaryTask) Poll(ctx context.Context) ([]*sconnect.SourceRecord, error) {
	const batch, total = 4, 24
	if t.next >= total {
		t.once.Do(func() { close(t.polledAll) })
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
		return nil, nil
	}
	var recs []*sconnect.SourceRecord
	for range batch {
		r := &sconnect.SourceRecord{SourcePartition: boundaryPartition, SourceOffset: map[string]any{"n": t.next}}
		r.Topic, r.Value = t.topic, "r"+strconv.Itoa(t.next)
		recs = append(recs, r)
		t.next++
	}
	switch t.next/batch - 1 {
	case 0:
		t.txn.CommitTransactionAfter(recs[1])
	case 1:
		t.txn.AbortTransactionAfter(recs[3])
	case 2:
		t.txn.CommitTransaction()
	case 3:
		t.txn.AbortTransaction()
	case 4:
		t.txn.CommitTransactionAfter(recs[3])
	}
	return recs, nil
}
func (t *boundaryTask) Commit() error { return nil }
func (t *boundaryTask) Stop() error   { return nil }
