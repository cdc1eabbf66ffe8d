package distributed

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connect/offsets"
)

// tasks-fencing-<name> records, as Kafka writes them, give the task count
// the next fencing covers; a deleted connector forgets it, and records of
// other shapes are ignored.
func TestConfigStoreReadsTaskCountRecords(t *testing.T) {
	c := newConfigStore(quiet, nil)
	off := int64(0)
	put := func(key, value string) {
		r := &kgo.Record{Key: []byte(key), Offset: off}
		if value != "" {
			r.Value = []byte(value)
		}
		off++
		c.apply(r)
	}
	put("connector-src", `{"properties":{"connector.class":"FileStreamSource"}}`)
	put("task-src-0", `{"properties":{"file":"a"}}`)
	put("commit-src", `{"tasks":1}`)
	put("tasks-fencing-src", `{"task-count":1}`)
	if got := c.snapshot().FenceCounts["src"]; got != 1 {
		t.Fatalf("fence count %d, want 1", got)
	}
	put("tasks-fencing-src", `{"tasks":3}`) // not Kafka's shape: ignored
	if got := c.snapshot().FenceCounts["src"]; got != 1 {
		t.Fatalf("fence count %d after an unreadable record, want 1", got)
	}
	put("tasks-fencing-src", `{"task-count":3}`)
	if got := c.snapshot().FenceCounts["src"]; got != 3 {
		t.Fatalf("fence count %d, want 3", got)
	}
	put("connector-src", "")
	if _, ok := c.snapshot().FenceCounts["src"]; ok {
		t.Fatal("a deleted connector keeps its fence count")
	}
}

// Kafka's transactional ids of source tasks, and the offset records a
// transaction carries: keyed as the offset store keys them, to the offset
// topic, a nil offset a tombstone.
func TestTransactionalIDsAndOffsetRecords(t *testing.T) {
	if got := transactionalID("connect-cluster", "my-src", 2); got != "connect-cluster-my-src-2" {
		t.Fatalf("transactional id %q", got)
	}
	s, err := newOffsetStore(quiet)
	if err != nil {
		t.Fatal(err)
	}
	s.log = &kafkaLog{topic: "connect-offsets"}
	recs, err := s.records("my-src", []offsets.Entry{
		{Partition: map[string]any{"filename": "/a"}, Offset: map[string]any{"position": int64(42)}},
		{Partition: map[string]any{"filename": "/b"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	if r := recs[0]; r.Topic != "connect-offsets" || string(r.Key) != `["my-src",{"filename":"/a"}]` || string(r.Value) != `{"position":42}` {
		t.Fatalf("offset record %s %s = %s", r.Topic, r.Key, r.Value)
	}
	if r := recs[1]; r.Value != nil || string(r.Key) != `["my-src",{"filename":"/b"}]` {
		t.Fatalf("reset record %s = %q", r.Key, r.Value)
	}
	// What the transaction wrote reads back as the offset store's.
	s.apply(&kgo.Record{Key: recs[0].Key, Value: recs[0].Value})
	if off, _ := s.Get("my-src", map[string]any{"filename": "/a"}); off["position"] != int64(42) {
		t.Fatalf("read back %v", off)
	}
}
