package distributed

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connect/converter"
	"github.com/sluicehq/sluice/connect/offsets"
	"github.com/sluicehq/sluice/connect/runtime"
)

// offsetStore keeps source offsets in the offset topic
// (offset.storage.topic, 25 partitions, compacted), as Kafka Connect's
// KafkaOffsetBackingStore: the key is the schemaless JSON
// ["<connector>",{<source partition>}], the value the offset's JSON, or
// null once reset. Every worker reads the whole topic, so a task that moves
// to another worker finds the offsets its last worker stored.
type offsetStore struct {
	log  *kafkaLog
	l    *slog.Logger
	conv *converter.JSON

	mu      sync.Mutex
	entries map[string]offsetEntry // by the canonical key JSON
	pending map[string]*kgo.Record // written at the next Flush
}

type offsetEntry struct {
	connector string
	partition map[string]any
	offset    map[string]any
}

var _ runtime.OffsetStore = (*offsetStore)(nil)

func newOffsetStore(l *slog.Logger) (*offsetStore, error) {
	conv := &converter.JSON{}
	if err := conv.Configure(map[string]string{converter.SchemasEnable: "false"}, false); err != nil {
		return nil, err
	}
	return &offsetStore{l: l, conv: conv, entries: map[string]offsetEntry{}, pending: map[string]*kgo.Record{}}, nil
}

// key encodes a connector's source partition as Kafka's offset key.
func (s *offsetStore) key(connector string, partition map[string]any) ([]byte, error) {
	k, err := s.conv.FromConnectData("", nil, nil, []any{connector, partition})
	if err != nil {
		return nil, fmt.Errorf("encode source partition %v: %w", partition, err)
	}
	return k, nil
}

// apply reads one record of the offset topic. Keys written by other
// implementations may order a partition's fields differently: they are
// decoded and encoded again so the same partition has one key.
func (s *offsetStore) apply(r *kgo.Record) {
	_, k, err := s.conv.ToConnectData("", nil, r.Key)
	pair, ok := k.([]any)
	if err != nil || !ok || len(pair) != 2 {
		s.l.Warn("connect: offset record with a key that is not [connector, partition], ignored", "key", string(r.Key))
		return
	}
	name, _ := pair[0].(string)
	part, _ := pair[1].(map[string]any)
	canon, err := s.key(name, part)
	if err != nil {
		return
	}
	var off map[string]any
	if r.Value != nil {
		_, v, err := s.conv.ToConnectData("", nil, r.Value)
		if err != nil {
			s.l.Warn("connect: unreadable offset, ignored", "key", string(r.Key), "error", err)
			return
		}
		off, _ = v.(map[string]any)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if off == nil {
		delete(s.entries, string(canon))
		return
	}
	s.entries[string(canon)] = offsetEntry{connector: name, partition: part, offset: off}
}

// Get returns a partition's offset as last read from the topic.
func (s *offsetStore) Get(connector string, partition map[string]any) (map[string]any, error) {
	k, err := s.key(connector, partition)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries[string(k)].offset, nil
}

// Set queues offsets for the next Flush.
func (s *offsetStore) Set(connector string, entries []offsets.Entry) error {
	recs := make([]*kgo.Record, 0, len(entries))
	for _, e := range entries {
		k, err := s.key(connector, e.Partition)
		if err != nil {
			return err
		}
		var v []byte
		if e.Offset != nil {
			if v, err = s.conv.FromConnectData("", nil, nil, e.Offset); err != nil {
				return fmt.Errorf("encode source offset %v: %w", e.Offset, err)
			}
		}
		recs = append(recs, &kgo.Record{Key: k, Value: v})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.pending[string(r.Key)] = r
	}
	return nil
}

// Flush writes the queued offsets and waits until Kafka has them and
// they are read back; on failure they stay queued, unless newer ones
// replaced them.
func (s *offsetStore) Flush() error {
	s.mu.Lock()
	recs := make([]*kgo.Record, 0, len(s.pending))
	for _, r := range s.pending {
		recs = append(recs, r)
	}
	clear(s.pending)
	s.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.log.sendAll(ctx, recs)
	if err == nil {
		want := map[int32]int64{}
		for _, r := range recs {
			want[r.Partition] = max(want[r.Partition], r.Offset+1)
		}
		err = s.log.waitFor(ctx, want)
	}
	if err != nil {
		s.mu.Lock()
		for _, r := range recs {
			if _, newer := s.pending[string(r.Key)]; !newer {
				s.pending[string(r.Key)] = &kgo.Record{Key: r.Key, Value: r.Value}
			}
		}
		s.mu.Unlock()
		return fmt.Errorf("store source offsets: %w", err)
	}
	return nil
}

// Entries returns a connector's offsets, sorted by key.
func (s *offsetStore) Entries(connector string) []offsets.Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k, e := range s.entries {
		if e.connector == connector {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]offsets.Entry, len(keys))
	for i, k := range keys {
		out[i] = offsets.Entry{Partition: s.entries[k].partition, Offset: s.entries[k].offset}
	}
	return out
}

// write stores offsets at once (a nil offset deletes), for the REST API's
// offset changes.
func (s *offsetStore) write(connector string, entries []offsets.Entry) error {
	if err := s.Set(connector, entries); err != nil {
		return err
	}
	return s.Flush()
}
