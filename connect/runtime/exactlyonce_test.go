package runtime

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/builtin"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/offsets"
)

// The KIP-618 connector settings are checked as Kafka checks them: the
// per-connector offset topic is refused always (not supported); with
// exactly-once sources on, required support must be declared by the
// connector, and so must connector-defined boundaries.
func TestValidateExactlyOnce(t *testing.T) {
	reg := builtin.Registry()
	reg.MustRegister(connect.Plugin{Class: "test.BoundarySource", Type: connect.SourcePlugin, Version: "1",
		New: func() any { return boundarySource{} }})
	worker := map[string]string{"key.converter": "StringConverter", "value.converter": "StringConverter"}
	errs := func(eos bool, extra map[string]string) []string {
		t.Helper()
		h := &Herder{reg: reg, worker: worker, eos: eos}
		props := map[string]string{"name": "s", "connector.class": "FileStreamSource", "topic": "t", "file": "/tmp/in"}
		for k, v := range extra {
			props[k] = v
		}
		v, err := h.ValidateConnector(props)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for k := range v.Errors {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys
	}
	cases := []struct {
		eos   bool
		extra map[string]string
		want  []string
	}{
		{true, map[string]string{"exactly.once.support": "required"}, nil},
		{true, map[string]string{"exactly.once.support": "required", "file": ""}, []string{"exactly.once.support"}}, // stdin
		{false, map[string]string{"exactly.once.support": "required", "file": ""}, nil},                             // not checked
		{true, map[string]string{"exactly.once.support": "sometimes"}, []string{"exactly.once.support"}},
		{true, map[string]string{"transaction.boundary": "interval", "transaction.boundary.interval.ms": "100"}, nil},
		{true, map[string]string{"transaction.boundary": "connector"}, []string{"transaction.boundary"}},
		{false, map[string]string{"transaction.boundary": "connector"}, nil},
		{false, map[string]string{"offsets.storage.topic": "mine"}, []string{"offsets.storage.topic"}},
		{true, map[string]string{"connector.class": "BoundarySource", "transaction.boundary": "connector", "boundaries": "yes"}, nil},
		{true, map[string]string{"connector.class": "BoundarySource", "transaction.boundary": "connector", "boundaries": "no"}, []string{"transaction.boundary"}},
		{true, map[string]string{"connector.class": "BoundarySource", "boundaries": "no"}, nil},
	}
	for _, c := range cases {
		if got := errs(c.eos, c.extra); !slices.Equal(got, c.want) {
			t.Errorf("eos=%v %v: errors on %v, want %v", c.eos, c.extra, got, c.want)
		}
	}
}

// A transaction ends after each poll that gave records (poll), or once the
// interval has passed (interval, offset.flush.interval.ms when not set).
func TestTransactionBoundaries(t *testing.T) {
	parse := func(props map[string]string) *configdef.Values {
		props["name"], props["connector.class"] = "s", "FileStreamSource"
		v, err := ConnectorConfig(false).Parse(props)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	spec := Transactional{ID: "g-s-0", OffsetRecords: (&offsetRecordsStub{}).records}
	poll, err := newTxnState(spec, parse(map[string]string{}), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if poll.due(false) || !poll.due(true) {
		t.Fatal("poll: a transaction ends after a poll with records, and only then")
	}
	poll.open = true
	if !poll.due(false) {
		t.Fatal("poll: an open transaction (records dropped by transforms) ends at the next poll")
	}

	iv, err := newTxnState(spec, parse(map[string]string{"transaction.boundary": "interval", "transaction.boundary.interval.ms": "50"}), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if iv.interval != 50*time.Millisecond || iv.due(true) {
		t.Fatalf("interval: %v, due at once", iv.interval)
	}
	iv.last = time.Now().Add(-time.Second)
	if !iv.due(false) {
		t.Fatal("interval: due once the interval has passed, records or not")
	}
	def, err := newTxnState(spec, parse(map[string]string{"transaction.boundary": "interval"}), 7*time.Second)
	if err != nil || def.interval != 7*time.Second {
		t.Fatalf("interval without transaction.boundary.interval.ms: %v %v", def.interval, err)
	}
	conn, err := newTxnState(spec, parse(map[string]string{"transaction.boundary": "connector"}), time.Hour)
	if err != nil || conn.tctx == nil {
		t.Fatalf("transaction.boundary=connector: no TransactionContext (%v)", err)
	}
	conn.open = true
	if conn.due(true) {
		t.Fatal("connector: a transaction ends only when the task asks")
	}
	if poll.tctx != nil || iv.tctx != nil {
		t.Fatal("a TransactionContext only with transaction.boundary=connector")
	}
	if (sourceContext{&sourceTask{txn: poll}}).TransactionContext() != nil || (sourceContext{&sourceTask{}}).TransactionContext() != nil {
		t.Fatal("the task's TransactionContext is nil unless the connector defines boundaries")
	}
	if (sourceContext{&sourceTask{txn: conn}}).TransactionContext() == nil {
		t.Fatal("no TransactionContext with transaction.boundary=connector")
	}
}

// A request tied to a record is taken once, when that record was sent; a
// request without a record at the end of the batch; a commit and an abort
// of the same record or batch fail the task.
func TestTransactionContextRequests(t *testing.T) {
	c := newTxnContext()
	r1, r2, r3 := &connect.SourceRecord{}, &connect.SourceRecord{}, &connect.SourceRecord{}
	c.CommitTransactionAfter(r1)
	c.AbortTransactionAfter(r2)
	c.CommitTransactionAfter(nil)
	for _, step := range []struct {
		r    *connect.SourceRecord
		want boundaryAction
	}{{r3, keepOpen}, {r1, commitNow}, {r1, keepOpen}, {r2, abortNow}, {r2, keepOpen}} {
		if a, err := c.forRecord(step.r); err != nil || a != step.want {
			t.Fatalf("forRecord: %v %v, want %v", a, err, step.want)
		}
	}
	if a, err := c.forBatch(); err != nil || a != keepOpen {
		t.Fatalf("forBatch with no request: %v %v", a, err)
	}
	c.CommitTransaction()
	if a, _ := c.forBatch(); a != commitNow {
		t.Fatalf("forBatch after CommitTransaction: %v", a)
	}
	c.AbortTransaction()
	if a, _ := c.forBatch(); a != abortNow {
		t.Fatalf("forBatch after AbortTransaction: %v", a)
	}
	c.CommitTransactionAfter(r3)
	c.AbortTransactionAfter(r3)
	if _, err := c.forRecord(r3); err == nil {
		t.Fatal("commit and abort of the same record: no error")
	}
	c.CommitTransaction()
	c.AbortTransaction()
	if _, err := c.forBatch(); err == nil {
		t.Fatal("commit and abort of the same batch: no error")
	}
}

// boundarySource is a source connector that says whether it defines
// transaction boundaries as its "boundaries" setting says.
type boundarySource struct{ connect.SourceConnector }

func (boundarySource) Config() *configdef.Def { return configdef.New() }
func (boundarySource) CanDefineTransactionBoundaries(props map[string]string) connect.ConnectorTransactionBoundaries {
	if props["boundaries"] == "yes" {
		return connect.TransactionBoundariesSupported
	}
	return connect.TransactionBoundariesUnsupported
}

type offsetRecordsStub struct{}

func (offsetRecordsStub) records(string, []offsets.Entry) ([]*kgo.Record, error) { return nil, nil }
