package runtime

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connect/builtin"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/offsets"
)

// The KIP-618 connector settings are checked as Kafka checks them: the
// per-connector offset topic is refused always (not supported); with
// exactly-once sources on, required support must be declared by the
// connector, and connector-defined boundaries are refused.
func TestValidateExactlyOnce(t *testing.T) {
	reg := builtin.Registry()
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
	if _, err := newTxnState(spec, parse(map[string]string{"transaction.boundary": "connector"}), time.Hour); err == nil {
		t.Fatal("transaction.boundary=connector is refused")
	}
}

type offsetRecordsStub struct{}

func (offsetRecordsStub) records(string, []offsets.Entry) ([]*kgo.Record, error) { return nil, nil }
