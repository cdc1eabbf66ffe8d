package broker

import (
	"math"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/storage"
)

// StorageConfig maps a topic's effective settings to its log's.
func StorageConfig(t *config.Topic) storage.Config {
	return storage.Config{
		SegmentBytes:         int64(t.SegmentBytes),
		SegmentMs:            t.SegmentMs,
		SegmentJitterMs:      t.SegmentJitterMs,
		SegmentIndexBytes:    int(t.SegmentIndexBytes),
		IndexIntervalBytes:   int(t.IndexIntervalBytes),
		FlushMessages:        t.FlushMessages,
		FlushMs:              t.FlushMs,
		MaxMessageBytes:      int(t.MaxMessageBytes),
		TimestampType:        t.MessageTimestampType,
		TimestampBeforeMaxMs: t.MessageTimestampBeforeMaxMs,
		TimestampAfterMaxMs:  t.MessageTimestampAfterMaxMs,
		CompressionType:      t.CompressionType,
		Compacted:            t.Compact(),
		FileDeleteDelayMs:    t.FileDeleteDelayMs,

		CleanupPolicy:          strings.Join(t.CleanupPolicy, ","),
		RetentionMs:            nonZero(t.RetentionMs),
		RetentionBytes:         nonZero(t.RetentionBytes),
		DeleteRetentionMs:      nonZero(t.DeleteRetentionMs),
		MinCleanableDirtyRatio: max(t.MinCleanableDirtyRatio, smallestRatio),
		MinCompactionLagMs:     t.MinCompactionLagMs,
		MaxCompactionLagMs:     t.MaxCompactionLagMs,
	}
}

// The storage Config takes zero as "the default"; Kafka's zero (delete at
// once, keep no tombstone, clean at any dirt) is the smallest value that
// is not zero.
const smallestRatio = 1e-9

func nonZero(v int64) int64 {
	if v == 0 {
		return 1
	}
	return v
}

// withCleanerConfig fills the retention and cleaner settings of the
// storage manager from the broker's: log.retention.check.interval.ms and
// log.cleaner.* (log.cleaner.enable=false or 0 threads turn the cleaner
// off).
func withCleanerConfig(cfg *config.Broker, mc storage.ManagerConfig) storage.ManagerConfig {
	mc.RetentionCheckInterval = time.Duration(cfg.LogRetentionCheckIntervalMs) * time.Millisecond
	mc.CleanerThreads = int(cfg.LogCleanerThreads)
	if !cfg.LogCleanerEnable || cfg.LogCleanerThreads <= 0 {
		mc.CleanerThreads = -1
	}
	mc.CleanerBackoff = time.Duration(cfg.LogCleanerBackoffMs) * time.Millisecond
	if v, ok := cfg.Get("log.cleaner.dedupe.buffer.size"); ok {
		if n, ok := v.(int64); ok {
			mc.CleanerDedupeBufferSize = n
		}
	}
	if v, ok := cfg.Get("log.cleaner.io.buffer.size"); ok {
		if n, ok := v.(int32); ok {
			mc.CleanerIOBufferSize = int(n)
		}
	}
	if v, ok := cfg.Get("log.cleaner.io.max.bytes.per.second"); ok {
		if f, ok := v.(float64); ok && f < math.MaxFloat64 {
			mc.CleanerIOMaxBytesPerSecond = f
		}
	}
	return mc
}
