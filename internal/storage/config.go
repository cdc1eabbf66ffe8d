package storage

import (
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string {
	return tp.Topic + "-" + strconv.FormatInt(int64(tp.Partition), 10)
}

// Timestamp types, as message.timestamp.type spells them.
const (
	CreateTime    = "CreateTime"
	LogAppendTime = "LogAppendTime"
)

// Config is a topic's log settings, under Kafka's names. Start from
// DefaultConfig; a field at or below zero takes its default (Normalize).
type Config struct {
	// SegmentBytes is segment.bytes: a batch that would take the active
	// segment past it goes to a new segment.
	SegmentBytes int64
	// SegmentMs is segment.ms: the active segment rolls once the newest
	// batch is this much younger than its first batch (or, without
	// timestamps, once the segment is this old).
	SegmentMs int64
	// SegmentJitterMs is segment.jitter.ms: a random amount up to it is
	// taken off SegmentMs per segment, so that many partitions created
	// together do not all roll at once. Zero disables it.
	SegmentJitterMs int64
	// SegmentIndexBytes is segment.index.bytes: the size an offset or time
	// index may reach; a full index rolls the segment.
	SegmentIndexBytes int
	// IndexIntervalBytes is index.interval.bytes: bytes of batches between
	// two offset index entries.
	IndexIntervalBytes int
	// FlushMessages is flush.messages: fsync once this many messages are
	// unflushed. 1 is durable mode: the produce path waits (WaitFlushed)
	// for an fsync, shared by every append that waits at once (group
	// commit), before it acknowledges.
	FlushMessages int64
	// FlushMs is flush.ms: fsync once the oldest unflushed message is this
	// old (checked by Manager.Tick).
	FlushMs int64

	// MaxMessageBytes is max.message.bytes: the largest batch accepted.
	MaxMessageBytes int
	// TimestampType is message.timestamp.type: CreateTime or LogAppendTime.
	TimestampType string
	// TimestampBeforeMaxMs is message.timestamp.before.max.ms: how far in
	// the past a CreateTime timestamp may be.
	TimestampBeforeMaxMs int64
	// TimestampAfterMaxMs is message.timestamp.after.max.ms: how far in
	// the future a CreateTime timestamp may be.
	TimestampAfterMaxMs int64
	// CompressionType is compression.type: "producer" keeps the producer's
	// codec; "uncompressed", "gzip", "snappy", "lz4" or "zstd" recompress
	// batches that differ.
	CompressionType string
	// Compacted is set when cleanup.policy includes compact: records
	// without a key are refused.
	Compacted bool

	// FileDeleteDelayMs is file.delete.delay.ms: how long a removed
	// segment's files wait (renamed *.deleted) before they are deleted,
	// counted from the moment the last reader releases them.
	FileDeleteDelayMs int64

	// Retention and compaction (see retention.go and cleaner.go).

	// CleanupPolicy is cleanup.policy: "delete", "compact" or
	// "compact,delete". Empty means "compact" when Compacted is set, else
	// "delete"; Normalize sets Compacted to match.
	CleanupPolicy string
	// RetentionMs is retention.ms: closed segments whose newest record is
	// older than this are deleted. Negative keeps them forever; zero takes
	// the default (7 days).
	RetentionMs int64
	// RetentionBytes is retention.bytes: the oldest closed segments are
	// deleted while the log is larger than this. Zero or negative: no
	// limit.
	RetentionBytes int64
	// DeleteRetentionMs is delete.retention.ms: how long a compacted
	// topic's tombstones stay after the cleaner first sees them. Zero takes
	// the default (1 day).
	DeleteRetentionMs int64
	// MinCleanableDirtyRatio is min.cleanable.dirty.ratio: the share of
	// the log not yet cleaned above which the cleaner compacts it. Zero
	// takes the default (0.5).
	MinCleanableDirtyRatio float64
	// MinCompactionLagMs is min.compaction.lag.ms: records younger than
	// this stay uncompacted.
	MinCompactionLagMs int64
	// MaxCompactionLagMs is max.compaction.lag.ms: a log with records
	// uncompacted for longer is cleaned whatever its dirty ratio, and its
	// active segment rolls by then. Zero takes the default (no limit).
	MaxCompactionLagMs int64
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:         1 << 30,
		SegmentMs:            7 * 24 * 3600 * 1000,
		SegmentIndexBytes:    10 << 20,
		IndexIntervalBytes:   4096,
		FlushMessages:        math.MaxInt64,
		FlushMs:              math.MaxInt64,
		MaxMessageBytes:      1048588,
		TimestampType:        CreateTime,
		TimestampBeforeMaxMs: math.MaxInt64,
		// Kafka 4.0 lowered message.timestamp.after.max.ms to one hour.
		TimestampAfterMaxMs: 3600000,
		CompressionType:     "producer",
		FileDeleteDelayMs:   60000,
	}
}

// Normalize returns c with every unset (<= 0, or empty) field at its
// default. IndexIntervalBytes 0 is taken as unset: use 1 to index every
// batch.
func (c Config) Normalize() Config {
	d := DefaultConfig()
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = d.SegmentBytes
	}
	if c.SegmentMs <= 0 {
		c.SegmentMs = d.SegmentMs
	}
	if c.SegmentJitterMs < 0 {
		c.SegmentJitterMs = 0
	}
	if c.SegmentIndexBytes <= 0 {
		c.SegmentIndexBytes = d.SegmentIndexBytes
	}
	// An index must hold at least one entry of each kind.
	if c.SegmentIndexBytes < timeEntrySize {
		c.SegmentIndexBytes = timeEntrySize
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = d.IndexIntervalBytes
	}
	if c.FlushMessages <= 0 {
		c.FlushMessages = d.FlushMessages
	}
	if c.FlushMs <= 0 {
		c.FlushMs = d.FlushMs
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.TimestampType == "" {
		c.TimestampType = d.TimestampType
	}
	if c.TimestampBeforeMaxMs <= 0 {
		c.TimestampBeforeMaxMs = d.TimestampBeforeMaxMs
	}
	if c.TimestampAfterMaxMs <= 0 {
		c.TimestampAfterMaxMs = d.TimestampAfterMaxMs
	}
	if c.CompressionType == "" {
		c.CompressionType = d.CompressionType
	}
	if c.FileDeleteDelayMs < 0 {
		c.FileDeleteDelayMs = 0
	}
	c.normalizeCleanup()
	return c
}

// Durable reports whether the log is in durable mode (flush.messages=1):
// the produce path must WaitFlushed before it acknowledges.
func (c Config) Durable() bool { return c.FlushMessages == 1 }

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// Dirs are the log directories (log.dirs).
	Dirs []string
	// FS is the filesystem; nil means the operating system's.
	FS vfs.FS
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// MaxOpenSegments bounds how many closed (inactive) segments keep their
	// files open across the Manager; the least recently read are closed
	// first (never one being read). Active segments are not counted.
	// Zero means 1024.
	MaxOpenSegments int
	// Now is the clock; nil means time.Now. Tests inject a fake one and call
	// Manager.Tick.
	Now func() time.Time
	// DefaultConfig is the config of logs found on disk at open, until
	// GetOrCreate gives them their topic's. Zero means DefaultConfig().
	DefaultConfig Config
	// SchedulerInterval is how often a background goroutine runs Tick
	// (time-based flushes, delayed file deletions, checkpoints). Zero means
	// one second; negative disables the goroutine (tests call Tick).
	SchedulerInterval time.Duration
	// CheckpointInterval is how often Tick writes the recovery-point,
	// log-start and high-watermark checkpoints. Zero means 5 seconds.
	CheckpointInterval time.Duration
	// RecoveryThreads is how many logs are loaded at once at open. Zero
	// means 2 per CPU.
	RecoveryThreads int
	// Skip names directories inside the log dirs that are not partition
	// logs although their names look like one, such as KRaft's
	// __cluster_metadata-0, which holds the Raft metadata log.
	Skip []string

	// RetentionCheckInterval is log.retention.check.interval.ms: how often
	// Tick applies retention.ms and retention.bytes. Zero means 5 minutes.
	RetentionCheckInterval time.Duration
	// CleanerThreads is log.cleaner.threads: logs compacted at once by
	// background cleaners. Zero means 1; negative disables them
	// (log.cleaner.enable=false). They run only with the scheduler
	// (SchedulerInterval > 0); tests call Manager.CleanOnce or Log.Compact.
	CleanerThreads int
	// CleanerDedupeBufferSize is log.cleaner.dedupe.buffer.size: the
	// memory of the cleaners' key maps, shared by the threads. Zero means
	// 128 MiB.
	CleanerDedupeBufferSize int64
	// CleanerIOBufferSize is log.cleaner.io.buffer.size: the read and
	// write buffers of a cleaner. Zero means 512 KiB.
	CleanerIOBufferSize int
	// CleanerIOMaxBytesPerSecond is log.cleaner.io.max.bytes.per.second:
	// the cleaners' reads plus writes, all threads together. Zero or
	// negative: unthrottled.
	CleanerIOMaxBytesPerSecond float64
	// CleanerBackoff is log.cleaner.backoff.ms: how long an idle cleaner
	// waits before it looks for a log to clean again. Zero means 15 s.
	CleanerBackoff time.Duration
	// CleanerTxnFilter lets the transactions layer have the cleaner drop
	// aborted data and expired markers; nil keeps them (see TxnCleanFilter).
	CleanerTxnFilter TxnCleanFilter
}
