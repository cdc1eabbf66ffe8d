package group

import (
	"context"
	"time"
)

// Config holds the coordinator's settings, named after Kafka's.
type Config struct {
	// MinSessionTimeout and MaxSessionTimeout bound a member's session
	// timeout (group.min/max.session.timeout.ms).
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// InitialRebalanceDelay is how long the first rebalance of an empty
	// group waits for more members (group.initial.rebalance.delay.ms).
	InitialRebalanceDelay time.Duration
	// MaxSize is the most members of one group (group.max.size).
	MaxSize int
	// OffsetsRetention is how long committed offsets are kept: after the
	// group became empty, or after the commit for groups without a
	// protocol (offsets.retention.minutes).
	OffsetsRetention time.Duration
	// RetentionCheckInterval is how often expired offsets and groups are
	// looked for (offsets.retention.check.interval.ms).
	RetentionCheckInterval time.Duration
	// CommitTimeout bounds the wait for an offset commit to be durable
	// (offsets.commit.timeout.ms).
	CommitTimeout time.Duration
	// MaxMetadataBytes is the most bytes of commit metadata per partition
	// (Kafka's offset.metadata.max.bytes, 4096).
	MaxMetadataBytes int
	// NewMemberJoinTimeout bounds how long a new member may wait in
	// JoinGroup (Kafka's fixed 5 minutes).
	NewMemberJoinTimeout time.Duration

	// The consumer protocol (KIP-848), named after Kafka's group.consumer.*
	// settings. ConsumerProtocol is whether it is served at all
	// (group.coordinator.rebalance.protocols lists "consumer").
	ConsumerProtocol          bool
	ConsumerSessionTimeout    time.Duration
	ConsumerHeartbeatInterval time.Duration
	ConsumerMaxSize           int
	// ConsumerAssignors are the server-side assignors offered; the first
	// is the default.
	ConsumerAssignors []string
	// MigrationPolicy is group.consumer.migration.policy: whether classic
	// groups upgrade to, and consumer groups downgrade from, the consumer
	// protocol while they have members.
	MigrationPolicy string
}

// DefaultConfig is Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		MinSessionTimeout:      6 * time.Second,
		MaxSessionTimeout:      30 * time.Minute,
		InitialRebalanceDelay:  3 * time.Second,
		MaxSize:                1<<31 - 1,
		OffsetsRetention:       7 * 24 * time.Hour,
		RetentionCheckInterval: 10 * time.Minute,
		CommitTimeout:          5 * time.Second,
		MaxMetadataBytes:       4096,
		NewMemberJoinTimeout:   5 * time.Minute,

		ConsumerProtocol:          true,
		ConsumerSessionTimeout:    45 * time.Second,
		ConsumerHeartbeatInterval: 5 * time.Second,
		ConsumerMaxSize:           1<<31 - 1,
		ConsumerAssignors:         []string{"uniform", "range"},
		MigrationPolicy:           MigrationBidirectional,
	}
}

// Storage is where the coordinator keeps its state: the partitions of
// __consumer_offsets. The coordinator appends under a group's lock, so one
// group's records reach the log in the order it decided them.
type Storage interface {
	// Append writes recs to partition p of __consumer_offsets as one batch,
	// as its leader. It returns the offset of the last record, and a wait
	// that returns once the records are acknowledged as the topic's
	// durability policy asks; a nil wait means they already are.
	Append(p int32, recs []Record) (last int64, wait func(context.Context) error, err error)
	// AppendTransactional writes recs as Append does, but as one
	// transactional batch of producer producerID at producerEpoch
	// (TxnOffsetCommit): the records count only once a commit marker of
	// that producer follows them in the partition. The log refuses a stale
	// epoch with INVALID_PRODUCER_EPOCH.
	AppendTransactional(p int32, producerID int64, producerEpoch int16, recs []Record) (last int64, wait func(context.Context) error, err error)
	// Load calls fn with every record of partition p, from the start of
	// the log to its end, in offset order, transaction markers included.
	Load(ctx context.Context, p int32, fn func(LoadedRecord) error) error
}

// LoadedRecord is one record of __consumer_offsets as Load reads it: a
// key and value, or a transaction marker.
type LoadedRecord struct {
	Offset     int64
	Key, Value []byte
	// ProducerID is the producer of a transactional record or of a
	// marker, and -1 for a record written outside a transaction.
	ProducerID    int64
	ProducerEpoch int16
	// Control marks a transaction marker (no key or value): Commit says
	// whether it commits or aborts ProducerID's transaction.
	Control bool
	Commit  bool
}
