package broker

import (
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
	}
}
