// Package producerstate is the per-partition state of idempotent and
// transactional producers: Kafka's ProducerStateManager and
// ProducerAppendInfo.
//
// For every producer id that has written to the partition, the state keeps
// the producer's epoch and the metadata of its last five batches. With it the
// leader answers a retried batch with the offsets it was first written at
// (instead of writing it twice), refuses batches from a fenced (older) epoch,
// and refuses batches whose sequence numbers leave a gap. The state is
// rebuilt on restart from the newest snapshot file and the log after it.
//
// The rules follow Apache Kafka 3.x/4.x for batches from clients:
//
//   - Only batches with a producer id (>= 0) are tracked.
//   - A batch whose epoch, first and last sequence equal one of the last
//     five batches cached for its producer is a duplicate: the caller
//     answers it with the cached offsets and appends nothing.
//   - An epoch older than the producer's current one is refused with
//     INVALID_PRODUCER_EPOCH (47). Kafka answered PRODUCER_FENCED before
//     2.7; since KIP-588 the produce path returns INVALID_PRODUCER_EPOCH so
//     that the client can abort and retry rather than die.
//   - A newer epoch must start at sequence 0, unless the producer has no
//     epoch yet; otherwise OUT_OF_ORDER_SEQUENCE_NUMBER (45).
//   - The same epoch must continue at the last sequence plus one, wrapping
//     from MaxInt32 to 0; otherwise OUT_OF_ORDER_SEQUENCE_NUMBER. A sequence
//     below the cached window is therefore out of order, not a duplicate.
//   - A producer the partition does not know (never seen, expired, or its
//     state lost) may start at any sequence: since KIP-360 Kafka no longer
//     answers UNKNOWN_PRODUCER_ID for it.
package producerstate

import (
	"fmt"
	"math"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/record"
)

// NumBatchesToRetain is how many of a producer's most recent batches are
// kept for duplicate detection. It matches the producer's limit of five
// in-flight requests per connection (max.in.flight.requests.per.connection).
const NumBatchesToRetain = 5

// DefaultProducerIDExpirationMs is Kafka's producer.id.expiration.ms default
// (one day).
const DefaultProducerIDExpirationMs int64 = 86400000

// BatchMeta is what the state remembers of one batch of a producer.
type BatchMeta struct {
	FirstSeq     int32
	LastSeq      int32
	FirstOffset  int64
	LastOffset   int64
	MaxTimestamp int64
}

// Entry is a copy of one producer's state.
type Entry struct {
	ProducerID int64
	Epoch      int16
	// Batches are the last NumBatchesToRetain batches, oldest first.
	Batches []BatchMeta
	// CoordinatorEpoch is the epoch of the transaction coordinator that wrote
	// the producer's last transaction marker, or -1.
	CoordinatorEpoch int32
	// CurrentTxnFirstOffset is the offset of the first batch of the
	// producer's open transaction, or -1 when none is open.
	CurrentTxnFirstOffset int64
	// LastTimestamp is the max timestamp of the producer's last batch or
	// marker; expiration counts from it.
	LastTimestamp int64
}

// producer is the internal form of an Entry: a fixed array keeps Update free
// of allocation on the produce path.
type producer struct {
	epoch                 int16
	n                     int // batches in use, batches[:n] oldest first
	batches               [NumBatchesToRetain]BatchMeta
	coordinatorEpoch      int32
	currentTxnFirstOffset int64
	lastTimestamp         int64
}

func newProducer() *producer {
	return &producer{
		epoch:                 record.NoProducerEpoch,
		coordinatorEpoch:      -1,
		currentTxnFirstOffset: -1,
		lastTimestamp:         record.NoTimestamp,
	}
}

func (p *producer) lastSeq() int32 {
	if p.n == 0 {
		return record.NoSequence
	}
	return p.batches[p.n-1].LastSeq
}

// setEpoch moves the producer to epoch; a change of epoch forgets the cached
// batches, whose sequences belonged to the old one.
func (p *producer) setEpoch(epoch int16) {
	if p.epoch != epoch {
		p.epoch = epoch
		p.n = 0
	}
}

func (p *producer) addBatch(b BatchMeta) {
	if p.n == NumBatchesToRetain {
		copy(p.batches[:], p.batches[1:])
		p.n--
	}
	p.batches[p.n] = b
	p.n++
}

func (p *producer) entry(pid int64) Entry {
	e := Entry{
		ProducerID:            pid,
		Epoch:                 p.epoch,
		CoordinatorEpoch:      p.coordinatorEpoch,
		CurrentTxnFirstOffset: p.currentTxnFirstOffset,
		LastTimestamp:         p.lastTimestamp,
	}
	if p.n > 0 {
		e.Batches = append([]BatchMeta(nil), p.batches[:p.n]...)
	}
	return e
}

// State is the producer state of one partition. It is not safe for
// concurrent use: the log's writer lock guards it.
type State struct {
	producers map[int64]*producer
}

// New returns an empty State.
func New() *State {
	return &State{producers: make(map[int64]*producer)}
}

// Check validates a batch from a client against the producer's state before
// it is appended. It returns:
//
//   - nil, nil: append the batch (also for batches without a producer id);
//   - dup, nil: the batch duplicates a cached one; answer with dup's
//     offsets and append nothing;
//   - nil, err: refuse the batch. err wraps kerr.InvalidProducerEpoch,
//     kerr.OutOfOrderSequenceNumber, or kerr.InvalidRecord for a data batch
//     with a producer id but no sequence (Kafka's LogValidator rule);
//     use errors.Is or errors.As.
//
// Check does not change the state; call Update once the batch is appended.
// Control batches (transaction markers) are checked for their epoch only.
func (s *State) Check(h *record.Header) (*BatchMeta, error) {
	if !h.Idempotent() {
		return nil, nil
	}
	if !h.Control() && h.BaseSequence < 0 {
		return nil, fmt.Errorf("producer %d: batch without a sequence number: %w", h.ProducerID, kerr.InvalidRecord)
	}
	p, known := s.producers[h.ProducerID]
	if !known {
		// Unknown producer: any epoch, any sequence.
		return nil, nil
	}
	if !h.Control() && h.ProducerEpoch == p.epoch {
		first, last := h.BaseSequence, h.LastSequence()
		for i := 0; i < p.n; i++ {
			if b := p.batches[i]; b.FirstSeq == first && b.LastSeq == last {
				dup := b
				return &dup, nil
			}
		}
	}
	if h.ProducerEpoch < p.epoch {
		return nil, fmt.Errorf("producer %d: epoch %d is older than the current epoch %d: %w",
			h.ProducerID, h.ProducerEpoch, p.epoch, kerr.InvalidProducerEpoch)
	}
	if h.Control() {
		return nil, nil
	}
	if h.ProducerEpoch != p.epoch {
		// A new epoch restarts the sequence at 0, unless the producer had no
		// epoch at all.
		if h.BaseSequence != 0 && p.epoch != record.NoProducerEpoch {
			return nil, fmt.Errorf("producer %d: new epoch %d (current %d) starts at sequence %d, not 0: %w",
				h.ProducerID, h.ProducerEpoch, p.epoch, h.BaseSequence, kerr.OutOfOrderSequenceNumber)
		}
		return nil, nil
	}
	if p.epoch == record.NoProducerEpoch {
		return nil, nil
	}
	if last := p.lastSeq(); !inSequence(last, h.BaseSequence) {
		return nil, fmt.Errorf("producer %d epoch %d: sequence %d does not follow the last sequence %d: %w",
			h.ProducerID, h.ProducerEpoch, h.BaseSequence, last, kerr.OutOfOrderSequenceNumber)
	}
	return nil, nil
}

// inSequence reports whether next directly follows last. With no batch
// cached (last is NoSequence) only 0 follows.
func inSequence(last, next int32) bool {
	return int64(next) == int64(last)+1 || (next == 0 && last == math.MaxInt32)
}

// Update records a batch that has been appended: h must carry the assigned
// BaseOffset. It applies to batches from clients (after Check) as well as to
// batches replicated from the leader or replayed from the log at recovery,
// which are never refused. Batches without a producer id are ignored.
//
// A data batch is added to the producer's cache (dropping the oldest beyond
// NumBatchesToRetain); a transactional one opens the producer's transaction
// if none is open. A control batch (a transaction marker) closes it. Either
// moves the producer to the batch's epoch, which forgets the cached batches
// when it changes.
func (s *State) Update(h *record.Header) {
	if !h.Idempotent() {
		return
	}
	p := s.producers[h.ProducerID]
	if p == nil {
		p = newProducer()
		s.producers[h.ProducerID] = p
	}
	p.setEpoch(h.ProducerEpoch)
	p.lastTimestamp = h.MaxTimestamp
	if h.Control() {
		p.currentTxnFirstOffset = -1
		return
	}
	if h.BaseSequence >= 0 {
		p.addBatch(BatchMeta{
			FirstSeq:     h.BaseSequence,
			LastSeq:      h.LastSequence(),
			FirstOffset:  h.BaseOffset,
			LastOffset:   h.LastOffset(),
			MaxTimestamp: h.MaxTimestamp,
		})
	}
	if h.Transactional() && p.currentTxnFirstOffset < 0 {
		p.currentTxnFirstOffset = h.BaseOffset
	}
}

// SetCoordinatorEpoch records the coordinator epoch carried by a
// transaction marker of producer pid (the header alone does not hold it).
// It does nothing for an unknown producer.
func (s *State) SetCoordinatorEpoch(pid int64, coordinatorEpoch int32) {
	if p := s.producers[pid]; p != nil {
		p.coordinatorEpoch = coordinatorEpoch
	}
}

// Entry returns a copy of producer pid's state.
func (s *State) Entry(pid int64) (Entry, bool) {
	p, ok := s.producers[pid]
	if !ok {
		return Entry{}, false
	}
	return p.entry(pid), true
}

// Txn returns producer pid's epoch and whether it has a transaction open in the
// partition, without copying its state (the produce path asks it for every
// transactional batch); known is false for a producer the partition does not know.
func (s *State) Txn(pid int64) (epoch int16, open, known bool) {
	p, ok := s.producers[pid]
	if !ok {
		return record.NoProducerEpoch, false, false
	}
	return p.epoch, p.currentTxnFirstOffset >= 0, true
}

// Entries returns a copy of every producer's state, by producer id (for
// DescribeProducers and snapshots).
func (s *State) Entries() []Entry {
	out := make([]Entry, 0, len(s.producers))
	for pid, p := range s.producers {
		out = append(out, p.entry(pid))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProducerID < out[j].ProducerID })
	return out
}

// Len is the number of producers tracked.
func (s *State) Len() int { return len(s.producers) }

// FirstUnstableOffset returns the smallest first offset of an open
// transaction, if any is open: the last stable offset cannot pass it.
func (s *State) FirstUnstableOffset() (int64, bool) {
	first, ok := int64(0), false
	for _, p := range s.producers {
		if o := p.currentTxnFirstOffset; o >= 0 && (!ok || o < first) {
			first, ok = o, true
		}
	}
	return first, ok
}

// RemoveExpired forgets producers with no open transaction whose last
// timestamp is at least expirationMs (producer.id.expiration.ms) before
// nowMs, as Kafka does.
func (s *State) RemoveExpired(nowMs int64, expirationMs int64) {
	for pid, p := range s.producers {
		if p.currentTxnFirstOffset < 0 && nowMs-p.lastTimestamp >= expirationMs {
			delete(s.producers, pid)
		}
	}
}

// Remove forgets producer pid.
func (s *State) Remove(pid int64) { delete(s.producers, pid) }

// Clone returns an independent copy of the state.
func (s *State) Clone() *State {
	c := &State{producers: make(map[int64]*producer, len(s.producers))}
	for pid, p := range s.producers {
		cp := *p
		c.producers[pid] = &cp
	}
	return c
}

// put installs an entry, as read from a snapshot.
func (s *State) put(e Entry) {
	p := newProducer()
	p.epoch = e.Epoch
	p.coordinatorEpoch = e.CoordinatorEpoch
	p.currentTxnFirstOffset = e.CurrentTxnFirstOffset
	p.lastTimestamp = e.LastTimestamp
	for _, b := range e.Batches {
		p.addBatch(b)
	}
	s.producers[e.ProducerID] = p
}
