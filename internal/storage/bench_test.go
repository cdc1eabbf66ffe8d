package storage_test

// Benchmarks of the append path against baselines measured in the same
// run, on the same disk, with the same bytes:
//
//   BenchmarkAppend/batch=16KiB|1MiB/writers=1|8/durable=off|on
//       the engine: 1 KiB records in batches of 16 KiB or 1 MiB, 1 or 8
//       goroutines each appending to its own partition; durable=on is
//       flush.messages=1 with WaitFlushed after every append.
//   BenchmarkBaselineWrite/batch=.../writers=...
//       plain sequential os.File writes of the same batches, one file per
//       writer.
//   BenchmarkBaselineWriteFsync/batch=.../writers=...
//       the same with an fsync after every batch: the cadence of durable
//       mode with one waiter per partition.
//   BenchmarkFsyncLatency
//       a 4 KiB write and an fsync, repeated: the disk's fsync latency.
//
// Every benchmark reports MB/s (b.SetBytes is one batch). The targets are
// ratios within a run: append >= 80% of the write baseline, durable with 8
// writers >= 70% of the write+fsync baseline. docs/benchmarks.md has the
// commands and figures. TestReopenManyPartitions (in this file) checks the
// reopen time of many partitions after a clean shutdown.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/storage"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// benchDir is where benchmarks write: SLUICE_BENCH_DIR, or the test's
// temporary directory.
func benchDir(b testing.TB) string {
	if d := os.Getenv("SLUICE_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "bench")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

var benchShapes = []struct {
	name    string
	records int
}{
	{"16KiB", 16},
	{"1MiB", 1024},
}

var benchWriters = []int{1, 8}

// benchBatch is a batch of n records of 1 KiB values stamped now.
func benchBatch(n int) []byte {
	return testBatch(n, 1024, time.Now().UnixMilli(), 42)
}

// runWriters runs b.N operations spread over writers goroutines, each
// calling op with its own index.
func runParallel(b *testing.B, writers int, op func(w int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	b.ResetTimer()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := op(w); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	select {
	case err := <-errc:
		b.Fatal(err)
	default:
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, shape := range benchShapes {
		for _, writers := range benchWriters {
			for _, durable := range []bool{false, true} {
				name := fmt.Sprintf("batch=%s/writers=%d/durable=%s", shape.name, writers, map[bool]string{false: "off", true: "on"}[durable])
				b.Run(name, func(b *testing.B) { benchAppend(b, shape.records, writers, durable) })
			}
		}
	}
}

func benchAppend(b *testing.B, records, writers int, durable bool) {
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
	cfg := storage.Config{MaxMessageBytes: 4 << 20}
	if durable {
		cfg.FlushMessages = 1
	}
	logs := make([]*storage.Log, writers)
	batches := make([][]byte, writers)
	for w := range writers {
		if logs[w], err = m.GetOrCreate(storage.TopicPartition{Topic: "bench", Partition: int32(w)}, testTopicID, cfg); err != nil {
			b.Fatal(err)
		}
		// Append patches offsets in place; the buffer is reused with its
		// base offset reset to 0, as a producer sends it.
		batches[w] = benchBatch(records)
	}
	b.SetBytes(int64(len(batches[0])))
	syncs := counting.Syncs()
	runParallel(b, writers, func(w int) error {
		record.SetBaseOffset(batches[w], 0)
		res, err := logs[w].Append(batches[w], 1)
		if err != nil {
			return err
		}
		if durable {
			return logs[w].WaitFlushed(context.Background(), res.LastOffset+1)
		}
		return nil
	})
	b.ReportMetric(float64(counting.Syncs()-syncs)/float64(b.N), "fsyncs/op")
}

// baselineFiles opens one plain file per writer.
func baselineFiles(b *testing.B, writers int) []*os.File {
	dir := benchDir(b)
	files := make([]*os.File, writers)
	for w := range files {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("baseline-%d", w)), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		files[w] = f
	}
	return files
}

func benchBaseline(b *testing.B, fsync bool) {
	for _, shape := range benchShapes {
		for _, writers := range benchWriters {
			b.Run(fmt.Sprintf("batch=%s/writers=%d", shape.name, writers), func(b *testing.B) {
				files := baselineFiles(b, writers)
				batch := benchBatch(shape.records)
				b.SetBytes(int64(len(batch)))
				runParallel(b, writers, func(w int) error {
					if _, err := files[w].Write(batch); err != nil {
						return err
					}
					if fsync {
						return files[w].Sync()
					}
					return nil
				})
			})
		}
	}
}

func BenchmarkBaselineWrite(b *testing.B) { benchBaseline(b, false) }

func BenchmarkBaselineWriteFsync(b *testing.B) { benchBaseline(b, true) }

func BenchmarkFsyncLatency(b *testing.B) {
	f := baselineFiles(b, 1)[0]
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for range b.N {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReopenManyPartitions: many partitions, clean shutdown, reopen under
// 2 s. SLUICE_LONG=1 is the storage issue's case: 1,000 partitions holding
// 10 GiB (10 MiB each, in 1 MiB segments: about 14,000 segments). The
// default run keeps the shape small enough for every `go test`: 200
// partitions of 64 KiB (creating and closing a partition costs a handful
// of fsyncs, which dominate here).
func TestReopenManyPartitions(t *testing.T) {
	partitions, perPartition := 200, int64(64<<10)
	if longRun() {
		partitions, perPartition = 1000, 10<<20
	}
	if testing.Short() {
		partitions = 50
	}
	dir := benchDir(t)
	open := func() (*storage.Manager, time.Duration) {
		t.Helper()
		start := time.Now()
		m, err := storage.OpenManager(context.Background(), storage.ManagerConfig{
			Dirs:              []string{dir},
			Logger:            slog.New(slog.DiscardHandler),
			SchedulerInterval: -1,
		})
		if err != nil {
			t.Fatal(err)
		}
		return m, time.Since(start)
	}
	cfg := storage.Config{SegmentBytes: 1 << 20, MaxMessageBytes: 4 << 20}
	m, _ := open()
	// 1 KiB records in batches of up to 256 KiB.
	batch := benchBatch(min(256, int(perPartition>>10)))
	start := time.Now()
	var written int64
	for p := range partitions {
		l, err := m.GetOrCreate(storage.TopicPartition{Topic: "reopen", Partition: int32(p)}, testTopicID, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for n := int64(0); n < perPartition; n += int64(len(batch)) {
			record.SetBaseOffset(batch, 0)
			if _, err := l.Append(batch, 1); err != nil {
				t.Fatal(err)
			}
			written += int64(len(batch))
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d partitions, %.1f MiB, in %v (clean shutdown included)", partitions, float64(written)/(1<<20), time.Since(start).Round(time.Millisecond))

	m, took := open()
	defer m.Close()
	if got := len(m.Logs()); got != partitions {
		t.Fatalf("reopened %d partitions, want %d", got, partitions)
	}
	var segments, size int64
	for _, l := range m.Logs() {
		segments += int64(l.NumSegments())
		size += l.Size()
	}
	if size != written {
		t.Fatalf("reopened logs hold %d bytes, %d were written", size, written)
	}
	t.Logf("reopened %d partitions (%d segments, %.1f MiB) in %v", partitions, segments, float64(size)/(1<<20), took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("reopen took %v, want under 2s", took)
	}
}
