package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// BenchmarkCleaner measures the cleaner's throughput on a real filesystem:
// a log of SLUICE_CLEAN_BENCH_BYTES (default 1 GiB) of 100-byte values
// under 16-byte keys, in batches of 100 uncompressed records, whose keys
// are drawn uniformly from a set of a tenth as many keys as records (10%
// unique keys), is compacted once, from dirty to clean. MB/s counts the
// bytes of the log before the clean per second of the clean (both passes:
// the key map, then the rewrite). Building the log is not timed. Run:
//
//	go test ./internal/storage -run '^$' -bench BenchmarkCleaner -benchtime 1x
func BenchmarkCleaner(b *testing.B) {
	size := int64(1 << 30)
	if s := os.Getenv("SLUICE_CLEAN_BENCH_BYTES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatalf("SLUICE_CLEAN_BENCH_BYTES: %v", err)
		}
		size = n
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		clock := newFakeClock()
		m, err := OpenManager(context.Background(), ManagerConfig{
			Dirs:              []string{dir},
			FS:                vfs.OS(),
			Logger:            quietLogger,
			Now:               clock.Now,
			SchedulerInterval: -1,
		})
		if err != nil {
			b.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.CleanupPolicy = CleanupCompact
		cfg.SegmentBytes = min(128<<20, max(size/8, 1<<20))
		l, err := m.GetOrCreate(testTP, [16]byte{1}, cfg)
		if err != nil {
			b.Fatal(err)
		}
		records, keys := fillBenchLog(b, l, size, clock.Ms())
		settle(l)
		l.SetHighWatermark(l.LogEndOffset())
		if err := l.Flush(); err != nil {
			b.Fatal(err)
		}
		logBytes := l.Size()
		b.SetBytes(logBytes)
		b.StartTimer()
		began := time.Now()
		st, err := l.Compact(context.Background())
		took := time.Since(began)
		b.StopTimer()
		if err != nil || st == nil {
			b.Fatalf("clean: %+v %v", st, err)
		}
		b.ReportMetric(float64(st.SourceBytes)/1e6/took.Seconds(), "MB/s")
		b.ReportMetric(float64(st.BytesWritten)/1e6, "MB-written")
		b.Logf("log %d bytes, %d records, %d keys; clean took %v: read %d bytes (both passes), wrote %d bytes in %d segments (from %d), kept %d of %d records, %d records mapped%s",
			logBytes, records, keys, took.Round(time.Millisecond), st.BytesRead, st.BytesWritten, st.SegmentsWritten, st.SegmentsRead,
			st.RecordsKept, st.RecordsRead, st.MappedRecords, map[bool]string{true: " (full)"}[st.MapFull])
		if err := m.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// fillBenchLog appends batches until the log holds size bytes and returns
// the records appended and the number of distinct keys drawn from.
func fillBenchLog(b *testing.B, l *Log, size, ts int64) (int64, int64) {
	const perBatch, valueSize, keySize = 100, 100, 16
	// A record takes about keySize+valueSize+8 bytes in a batch.
	total := size / (keySize + valueSize + 8)
	keys := max(total/10, 1)
	rng := rand.New(rand.NewPCG(1, 2))
	value := make([]byte, valueSize)
	key := make([]byte, keySize)
	bld := record.NewBuilder(record.CodecNone)
	var buf []byte
	var n int64
	for l.Size() < size {
		bld.Reset(record.CodecNone)
		for j := 0; j < perBatch; j++ {
			k := rng.Int64N(keys)
			binary.BigEndian.PutUint64(key, uint64(k))
			copy(key[8:], "key-pad!")
			binary.BigEndian.PutUint64(value, uint64(n))
			bld.Add(ts, key, value)
			n++
		}
		var err error
		if buf, err = bld.Build(buf[:0]); err != nil {
			b.Fatal(err)
		}
		if _, err := l.Append(buf, 0); err != nil {
			b.Fatal(fmt.Errorf("append: %w", err))
		}
	}
	return n, keys
}
