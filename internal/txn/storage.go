package txn

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/replica"
)

// ReplicaStorage is the coordinator's Storage on a broker: the partitions of
// __transaction_state it leads, through the replica manager, so its writes take the
// producers' path (leader epoch, ISR, high watermark).
type ReplicaStorage struct {
	replicas *replica.Manager
}

// NewReplicaStorage returns the Storage over replicas.
func NewReplicaStorage(replicas *replica.Manager) *ReplicaStorage {
	return &ReplicaStorage{replicas: replicas}
}

// Append writes one record as its own batch and waits until it is committed.
func (s *ReplicaStorage) Append(ctx context.Context, p int32, key, value []byte) error {
	part, err := s.replicas.Partition(Topic, p)
	if err != nil {
		return err
	}
	batch, err := record.NewBuilder(record.CodecNone).Add(time.Now().UnixMilli(), key, value).Build(nil)
	if err != nil {
		return fmt.Errorf("build %s record: %w", Topic, err)
	}
	res, err := part.Append(batch)
	if err != nil {
		return err
	}
	return part.WaitCommitted(ctx, res.LastOffset+1)
}

// Load reads every record of partition p, skipping control batches.
func (s *ReplicaStorage) Load(ctx context.Context, p int32, fn func(key, value []byte) error) error {
	return s.replicas.Scan(ctx, Topic, p, func(h *record.Header, batch []byte) error {
		if h.Control() {
			return nil
		}
		return record.Iterate(batch, func(r *record.Record) error { return fn(r.Key, r.Value) })
	})
}
