package runtime

import (
	"reflect"
	"sync"

	"github.com/sluicehq/sluice/connect/converter"
	"github.com/sluicehq/sluice/connect/offsets"
)

// submitted tracks the source records sent to Kafka per source partition,
// in the order the task produced them, as Kafka's SubmittedRecords: a
// partition's offset may be stored only up to the last record before the
// first one not yet acknowledged, so a restart never skips a record that
// did not reach Kafka.
type submitted struct {
	mu     sync.Mutex
	parts  map[string]*partitionQueue
	keyEnc *converter.JSON

	// A task usually shares one partition map between its records: the
	// last one's key is kept to spare encoding it again.
	lastPtr uintptr
	lastKey string
}

type partitionQueue struct {
	partition map[string]any
	queue     []*submission
	// committable is the offset to store next, nil when unchanged.
	committable map[string]any
}

type submission struct {
	offset map[string]any
	acked  bool
	q      *partitionQueue
	s      *submitted
}

func newSubmitted() *submitted {
	enc := &converter.JSON{}
	_ = enc.Configure(map[string]string{converter.SchemasEnable: "false"}, false)
	return &submitted{parts: map[string]*partitionQueue{}, keyEnc: enc}
}

// add records a submission; nil when the record has no source partition or
// offset (nothing to store).
func (s *submitted) add(partition, offset map[string]any) *submission {
	if partition == nil || offset == nil {
		return nil
	}
	ptr := reflect.ValueOf(partition).Pointer()
	s.mu.Lock()
	defer s.mu.Unlock()
	key := s.lastKey
	if ptr != s.lastPtr || key == "" {
		b, err := s.keyEnc.FromConnectData("", nil, nil, partition)
		if err != nil {
			return nil
		}
		key, s.lastPtr, s.lastKey = string(b), ptr, string(b)
	}
	q := s.parts[key]
	if q == nil {
		q = &partitionQueue{partition: partition}
		s.parts[key] = q
	}
	sub := &submission{offset: offset, q: q, s: s}
	q.queue = append(q.queue, sub)
	return sub
}

// ack marks the submission as in Kafka (or dropped on purpose).
func (sub *submission) ack() {
	if sub == nil {
		return
	}
	sub.s.mu.Lock()
	defer sub.s.mu.Unlock()
	sub.acked = true
	q := sub.q
	n := 0
	for n < len(q.queue) && q.queue[n].acked {
		q.committable = q.queue[n].offset
		n++
	}
	if n > 0 {
		q.queue = q.queue[n:]
	}
}

// committable returns the offsets that may be stored now and forgets them,
// with how many records are still waiting for Kafka.
func (s *submitted) committable() ([]offsets.Entry, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []offsets.Entry
	pending := 0
	for _, q := range s.parts {
		if q.committable != nil {
			out = append(out, offsets.Entry{Partition: q.partition, Offset: q.committable})
			q.committable = nil
		}
		pending += len(q.queue)
	}
	return out, pending
}
