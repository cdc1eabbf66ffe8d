package group

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/producerstate"
	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/replica"
)

// ReplicaStorage is the Storage of a broker: the partitions of
// __consumer_offsets it leads, through the replica manager, so the
// coordinator's writes take the same path (validation, leader epoch, high
// watermark, durability) as a producer's.
type ReplicaStorage struct {
	replicas *replica.Manager
	txnMu    sync.Mutex // see AppendTransactional
}

// NewReplicaStorage returns the Storage over replicas.
func NewReplicaStorage(replicas *replica.Manager) *ReplicaStorage {
	return &ReplicaStorage{replicas: replicas}
}

// Append builds one uncompressed batch of recs and appends it as the
// leader. The wait ends once the batch is committed: in every in-sync replica and,
// on a durable topic, fsynced.
func (s *ReplicaStorage) Append(p int32, recs []Record) (int64, func(context.Context) error, error) {
	part, err := s.replicas.Partition(Topic, p)
	if err != nil {
		return 0, nil, err
	}
	return appendBatch(part, record.NewBuilder(record.CodecNone), recs)
}

// AppendTransactional appends recs as one transactional batch of the
// producer, as Kafka's coordinator writes a TxnOffsetCommit.
//
// Kafka appends such a batch with base sequence 0 and an origin
// (COORDINATOR) that skips the log's sequence checks. Sluice's log applies
// a client's checks to every batch with a producer id, so the batch carries
// the sequence that follows the producer's last batch in this partition
// instead: the coordinator is the only writer of that producer here (its
// data goes to other topics), so the next sequence is known, and the log's
// epoch check still fences a stale producer with INVALID_PRODUCER_EPOCH.
// txnMu keeps the reading of the last sequence and the append together.
func (s *ReplicaStorage) AppendTransactional(p int32, producerID int64, producerEpoch int16, recs []Record) (int64, func(context.Context) error, error) {
	part, err := s.replicas.Partition(Topic, p)
	if err != nil {
		return 0, nil, err
	}
	s.txnMu.Lock()
	defer s.txnMu.Unlock()
	seq := int32(0)
	part.Log().ProducerState(func(ps *producerstate.State) {
		if e, ok := ps.Entry(producerID); ok && e.Epoch == producerEpoch && len(e.Batches) > 0 {
			seq = nextSequence(e.Batches[len(e.Batches)-1].LastSeq)
		}
	})
	b := record.NewBuilder(record.CodecNone).SetProducer(producerID, producerEpoch, seq).SetTransactional(true)
	return appendBatch(part, b, recs)
}

// nextSequence is the sequence after last, wrapping from MaxInt32 to 0 as
// producers do.
func nextSequence(last int32) int32 {
	if last == math.MaxInt32 {
		return 0
	}
	return last + 1
}

// appendBatch adds recs to b, appends the batch to part as its leader and
// returns the last offset with the wait for the batch to be committed.
func appendBatch(part *replica.Partition, b *record.Builder, recs []Record) (int64, func(context.Context) error, error) {
	now := time.Now().UnixMilli()
	for _, r := range recs {
		b.Add(now, r.Key, r.Value)
	}
	batch, err := b.Build(nil)
	if err != nil {
		return 0, nil, fmt.Errorf("build __consumer_offsets batch: %w", err)
	}
	res, err := part.Append(batch)
	if err != nil {
		return 0, nil, err
	}
	if !part.NeedsWait() {
		return res.LastOffset, nil, nil
	}
	end := res.LastOffset + 1
	return res.LastOffset, func(ctx context.Context) error { return part.WaitCommitted(ctx, end) }, nil
}

// Load reads partition p from its log start to its log end. A transaction
// marker comes as one LoadedRecord with Control set; control batches that
// are not transaction markers are skipped.
func (s *ReplicaStorage) Load(ctx context.Context, p int32, fn func(LoadedRecord) error) error {
	return s.replicas.Scan(ctx, Topic, p, func(h *record.Header, batch []byte) error {
		if err := loadBatch(batch, h, fn); err != nil {
			return fmt.Errorf("load %s-%d batch at %d: %w", Topic, p, h.BaseOffset, err)
		}
		return nil
	})
}

// loadBatch hands one batch's records to fn: each record of a data batch,
// tagged with its producer when the batch is transactional, or the marker
// of a control batch.
func loadBatch(batch []byte, h *record.Header, fn func(LoadedRecord) error) error {
	if h.Control() {
		commit, _, err := record.ParseControl(batch)
		if errors.Is(err, record.ErrNotControl) {
			return nil // another kind of control record
		}
		if err != nil {
			return err
		}
		return fn(LoadedRecord{Offset: h.BaseOffset, ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch, Control: true, Commit: commit})
	}
	pid := int64(-1)
	if h.Transactional() {
		pid = h.ProducerID
	}
	return record.Iterate(batch, func(r *record.Record) error {
		return fn(LoadedRecord{Offset: r.Offset(h), Key: r.Key, Value: r.Value, ProducerID: pid, ProducerEpoch: h.ProducerEpoch})
	})
}

// ApplyImage points the coordinator at the partitions of __consumer_offsets
// that node leads in img, and deletes the committed offsets of topics that
// are gone (deleted, or deleted and created again under a new ID), as Kafka
// 4 does. Call it with every new metadata image; it returns at once.
func (c *Coordinator) ApplyImage(img *metadata.Image, node int32) {
	c.img.Store(img)
	if gone := c.topicsGone(img); len(gone) > 0 {
		c.goBackground(func() { c.DeleteTopicOffsets(gone) })
	}
	t := img.Topics[Topic]
	if t == nil {
		c.Lead([16]byte{}, 0, nil)
		return
	}
	var led []int32
	for i, p := range t.Partitions {
		if p.Leader == node {
			led = append(led, int32(i))
		}
	}
	c.Lead(t.ID, int32(len(t.Partitions)), led)
}

// ConfigFromBroker takes the coordinator's settings from the broker's.
func ConfigFromBroker(b *config.Broker) Config {
	c := DefaultConfig()
	c.MinSessionTimeout = time.Duration(b.GroupMinSessionTimeoutMs) * time.Millisecond
	c.MaxSessionTimeout = time.Duration(b.GroupMaxSessionTimeoutMs) * time.Millisecond
	c.InitialRebalanceDelay = time.Duration(b.GroupInitialRebalanceDelayMs) * time.Millisecond
	c.MaxSize = int(b.GroupMaxSize)
	c.OffsetsRetention = time.Duration(b.OffsetsRetentionMinutes) * time.Minute
	c.RetentionCheckInterval = time.Duration(b.OffsetsRetentionCheckIntervalMs) * time.Millisecond
	c.CommitTimeout = time.Duration(b.OffsetsCommitTimeoutMs) * time.Millisecond
	c.ConsumerProtocol = b.GroupConsumerProtocol
	c.ConsumerSessionTimeout = time.Duration(b.GroupConsumerSessionTimeoutMs) * time.Millisecond
	c.ConsumerHeartbeatInterval = time.Duration(b.GroupConsumerHeartbeatIntervalMs) * time.Millisecond
	c.ConsumerMaxSize = int(b.GroupConsumerMaxSize)
	c.ConsumerAssignors = b.GroupConsumerAssignors
	c.MigrationPolicy = b.GroupConsumerMigrationPolicy
	return c
}
