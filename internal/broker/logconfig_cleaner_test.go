package broker

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/storage"
)

// Retention and compaction settings reach the storage engine: broker
// defaults, topic overrides over them, and Kafka's zeros.
func TestStorageConfigRetentionAndCompaction(t *testing.T) {
	b, _, err := config.Load("", []string{
		"log.dirs=/tmp/x", "log.retention.hours=2", "log.retention.bytes=1000000",
		"log.cleaner.delete.retention.ms=5000", "log.cleaner.min.cleanable.ratio=0.3",
		"log.retention.check.interval.ms=1000", "log.cleaner.threads=3", "log.cleaner.backoff.ms=250",
		"log.cleaner.dedupe.buffer.size=1048576", "log.cleaner.io.max.bytes.per.second=5000000",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := config.TopicConfig(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := StorageConfig(&tc).Normalize()
	if c.RetentionMs != 2*3600*1000 || c.RetentionBytes != 1000000 || c.CleanupPolicy != storage.CleanupDelete ||
		c.DeleteRetentionMs != 5000 || c.MinCleanableDirtyRatio != 0.3 || c.Compacted {
		t.Fatalf("broker defaults: %+v", c)
	}
	tc, err = config.TopicConfig(b, map[string]string{
		"cleanup.policy": "compact,delete", "retention.ms": "-1", "delete.retention.ms": "0",
		"min.compaction.lag.ms": "100", "max.compaction.lag.ms": "200", "min.cleanable.dirty.ratio": "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	c = StorageConfig(&tc).Normalize()
	if c.CleanupPolicy != storage.CleanupCompactDelete || !c.Compacted || c.RetentionMs != -1 || c.DeleteRetentionMs != 1 ||
		c.MinCompactionLagMs != 100 || c.MaxCompactionLagMs != 200 || c.MinCleanableDirtyRatio <= 0 || c.MinCleanableDirtyRatio > 1e-6 {
		t.Fatalf("topic overrides: %+v", c)
	}
	mc := withCleanerConfig(b, storage.ManagerConfig{})
	if mc.RetentionCheckInterval != time.Second || mc.CleanerThreads != 3 || mc.CleanerBackoff != 250*time.Millisecond ||
		mc.CleanerDedupeBufferSize != 1<<20 || mc.CleanerIOMaxBytesPerSecond != 5e6 || mc.CleanerIOBufferSize != 524288 {
		t.Fatalf("manager config: %+v", mc)
	}
	b2, _, err := config.Load("", []string{"log.dirs=/tmp/x", "log.cleaner.enable=false"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if mc := withCleanerConfig(b2, storage.ManagerConfig{}); mc.CleanerThreads >= 0 || mc.CleanerIOMaxBytesPerSecond != 0 {
		t.Fatalf("log.cleaner.enable=false: %+v", mc)
	}
}
