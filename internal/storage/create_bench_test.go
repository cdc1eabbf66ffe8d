package storage_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/storage"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// BenchmarkCreateLog measures creating partition logs on the real
// filesystem, one after another as the broker does when a topic of many
// partitions appears (issue #6: 10,000 partitions took 14-104 s to create).
// It reports how long closing the manager with all those logs takes
// (close-ms), and the fsyncs (files and directories) per log over the whole
// run: creation, the background creation syncer and the close (which writes
// each log's index files and producer snapshot).
func BenchmarkCreateLog(b *testing.B) {
	counting := vfs.Counting(vfs.OS())
	m, err := storage.OpenManager(context.Background(), storage.ManagerConfig{
		Dirs:   []string{benchDir(b)},
		FS:     counting,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	syncs := counting.Syncs() + counting.SyncDirs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := m.GetOrCreate(storage.TopicPartition{Topic: fmt.Sprintf("t%d", i/1000), Partition: int32(i % 1000)}, testTopicID, storage.Config{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	start := time.Now()
	if err := m.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds()), "close-ms")
	b.ReportMetric(float64(counting.Syncs()+counting.SyncDirs()-syncs)/float64(b.N), "fsyncs/op")
}
