package storage

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

func TestOffsetCheckpointFormat(t *testing.T) {
	m := map[TopicPartition]int64{{"b", 1}: 7, {"a.b-c", 10}: 0, {"a.b-c", 2}: 123456789012}
	data := encodeOffsetCheckpoint(m)
	if want := "0\n3\na.b-c 2 123456789012\na.b-c 10 0\nb 1 7\n"; string(data) != want {
		t.Fatalf("encoded:\n%q\nwant\n%q", data, want)
	}
	got, err := decodeOffsetCheckpoint(data)
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{"", "1\n0\n", "0\n2\na 0 1\n", "0\n1\na 0\n", "0\n1\na x 1\n", "0\n1\na 0 y\n", "0\n-1\n"} {
		if _, err := decodeOffsetCheckpoint([]byte(bad)); err == nil {
			t.Errorf("accepted malformed checkpoint %q", bad)
		}
	}
	if _, err := decodeEpochCheckpoint([]byte("0\n2\n3 10\n2 20\n")); err == nil {
		t.Error("accepted epochs out of order")
	}
	id := [16]byte{0xfe, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff}
	back, err := decodePartitionMetadata(encodePartitionMetadata(id))
	if err != nil || back != id {
		t.Fatalf("partition metadata round trip: %x %v", back, err)
	}
}

func TestCheckpointsWrittenAndClamped(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	appendN(t, l, 5, 2, 10, e.clock.Ms())
	l.SetHighWatermark(6)
	if err := l.AdvanceLogStartOffset(2); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := e.m.WriteCheckpoints(); err != nil {
		t.Fatal(err)
	}
	read := func(name string) map[TopicPartition]int64 {
		c, err := readOffsetCheckpoint(e.fs, filepath.Join("/data", name))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if got := read(HighWatermarkCheckpointFile)[testTP]; got != 6 {
		t.Fatalf("high watermark checkpoint %d, want 6", got)
	}
	if got := read(LogStartCheckpointFile)[testTP]; got != 2 {
		t.Fatalf("log start checkpoint %d, want 2", got)
	}
	if got := read(RecoveryPointCheckpointFile)[testTP]; got != 10 {
		t.Fatalf("recovery point checkpoint %d, want 10", got)
	}
	// Checkpoints beyond the log are clamped at load.
	if err := writeFileAtomic(e.fs, filepath.Join("/data", HighWatermarkCheckpointFile),
		encodeOffsetCheckpoint(map[TopicPartition]int64{testTP: 999})); err != nil {
		t.Fatal(err)
	}
	e.crash()
	l = e.log(DefaultConfig())
	if l.HighWatermark() != l.LogEndOffset() || l.LogStartOffset() != 2 {
		t.Fatalf("HW %d (LEO %d), start %d", l.HighWatermark(), l.LogEndOffset(), l.LogStartOffset())
	}
}

func TestCheckpointsOnTick(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	appendN(t, l, 1, 3, 10, e.clock.Ms())
	l.SetHighWatermark(3)
	e.m.Tick()
	c, _ := readOffsetCheckpoint(e.fs, filepath.Join("/data", HighWatermarkCheckpointFile))
	if c[testTP] == 3 {
		t.Fatal("checkpoint written before its interval")
	}
	e.clock.Advance(5 * time.Second)
	e.m.Tick()
	c, _ = readOffsetCheckpoint(e.fs, filepath.Join("/data", HighWatermarkCheckpointFile))
	if c[testTP] != 3 {
		t.Fatalf("high watermark checkpoint %d after the interval, want 3", c[testTP])
	}
}

func TestHighWatermark(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	appendN(t, l, 2, 5, 10, e.clock.Ms())
	ch := l.Wait()
	l.SetHighWatermark(100)
	if l.HighWatermark() != 10 {
		t.Fatalf("HW %d, want clamped to the log end 10", l.HighWatermark())
	}
	select {
	case <-ch:
	default:
		t.Fatal("Wait channel not closed when the HW advanced")
	}
	ch = l.Wait()
	l.SetHighWatermark(4) // moving back (a follower) wakes nobody
	select {
	case <-ch:
		t.Fatal("Wait channel closed when the HW went back")
	default:
	}
	ach := l.WaitAppend()
	appendN(t, l, 1, 1, 10, e.clock.Ms())
	select {
	case <-ach:
	default:
		t.Fatal("WaitAppend channel not closed by an append")
	}
}

func TestManagerDirsAndTopicIDs(t *testing.T) {
	mem := vfs.NewMem()
	e := &testEnv{t: t, fs: mem, clock: newFakeClock(), dirs: []string{"/d1", "/d2"}}
	e.open()
	t.Cleanup(func() { _ = e.m.Close() })
	id := [16]byte{7}
	for p := int32(0); p < 4; p++ {
		if _, err := e.m.GetOrCreate(TopicPartition{"t", p}, id, DefaultConfig()); err != nil {
			t.Fatal(err)
		}
	}
	per := map[string]int{}
	for _, l := range e.m.Logs() {
		per[filepath.Dir(l.Dir())]++
	}
	if per["/d1"] != 2 || per["/d2"] != 2 {
		t.Fatalf("partitions per dir %v, want balanced", per)
	}
	if _, err := e.m.GetOrCreate(TopicPartition{"t", 0}, [16]byte{8}, DefaultConfig()); !errors.Is(err, kerr.InconsistentTopicID) {
		t.Fatalf("other topic id: %v", err)
	}
	for _, bad := range []TopicPartition{{"", 0}, {"a/b", 0}, {"..", 0}, {"t", -1}} {
		if _, err := e.m.GetOrCreate(bad, id, DefaultConfig()); err == nil {
			t.Errorf("created %v", bad)
		}
	}
	bad := DefaultConfig()
	bad.CompressionType = "brotli"
	if _, err := e.m.GetOrCreate(TopicPartition{"t", 9}, id, bad); err == nil {
		t.Error("accepted an unknown compression.type")
	}
	// Unrelated directories are ignored, the log directories reload.
	if err := mem.MkdirAll("/d1/not_a_partition", 0o755); err != nil {
		t.Fatal(err)
	}
	e.reopen()
	if n := len(e.m.Logs()); n != 4 {
		t.Fatalf("%d logs after reopen", n)
	}
	for _, tc := range []struct {
		name string
		tp   TopicPartition
		ok   bool
	}{{"a-0", TopicPartition{"a", 0}, true}, {"a-b-12", TopicPartition{"a-b", 12}, true}, {"a", TopicPartition{}, false}, {"a-", TopicPartition{}, false}, {"-1", TopicPartition{}, false}, {"a-x", TopicPartition{}, false}} {
		tp, ok := parsePartitionDir(tc.name)
		if ok != tc.ok || (ok && tp != tc.tp) {
			t.Errorf("parsePartitionDir(%q) = %v %v", tc.name, tp, ok)
		}
	}
}

// Readers running beside a writer only ever see whole, valid batches, and
// offsets below the log end they observed.
func TestConcurrentReadersSeeWholeBatches(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.SegmentBytes = 8 << 10
	cfg.IndexIntervalBytes = 512
	l := e.log(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var reads atomic.Int64
	errc := make(chan error, 8)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				leo := l.LogEndOffset()
				if leo == 0 {
					continue
				}
				off := int64(reads.Add(1)) % leo
				rr, err := l.Read(off, 4096, -1, true)
				if err != nil {
					errc <- err
					return
				}
				b, err := rr.Bytes()
				rr.Release()
				if err != nil {
					errc <- err
					return
				}
				for len(b) > 0 {
					batch, rest, ok, err := record.NextBatch(b)
					if err != nil || !ok || !record.CheckCRC(batch) {
						errc <- errors.New("reader saw a partial or corrupt batch")
						return
					}
					b = rest
				}
			}
		}()
	}
	for i := 0; i < 400; i++ {
		if _, err := l.Append(build(t, batchSpec{n: 1 + i%3, ts: e.clock.Ms(), valueSize: 100 + i%200}), 0); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			if err := l.TruncateTo(l.LogEndOffset() - 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "readers to read", func() bool { return reads.Load() > 1000 })
	cancel()
	wg.Wait()
	close(errc)
	for err := range errc {
		// A read racing a truncation may find its region shortened; that
		// is reported, never served.
		if err != nil && !errors.Is(err, kerr.OffsetOutOfRange) && !isShrunk(err) {
			t.Fatal(err)
		}
	}
}

func isShrunk(err error) bool {
	return errors.Is(err, ErrRegionTruncated)
}
