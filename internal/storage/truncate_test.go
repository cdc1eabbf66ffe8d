package storage

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/producerstate"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

func TestTruncateTo(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.SegmentBytes = 1200
	l := e.log(cfg)
	ts := e.clock.Ms()
	var batches [][]byte
	// Epoch 1 writes offsets 0..9, epoch 2 10..19, epoch 3 20..29; one
	// idempotent producer throughout, 2 records per batch.
	for i := 0; i < 15; i++ {
		epoch := int32(1 + (2*i)/10)
		b := build(t, batchSpec{n: 2, ts: ts + int64(i), pid: 5, seq: int32(2 * i), valueSize: 100})
		batches = append(batches, append([]byte(nil), b...))
		if _, err := l.Append(b, epoch); err != nil {
			t.Fatal(err)
		}
	}
	l.SetHighWatermark(30)
	segs := bases(l)
	if len(segs) < 4 {
		t.Fatalf("segments %v", segs)
	}
	if err := l.TruncateTo(14); err != nil {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 14 || l.HighWatermark() != 14 {
		t.Fatalf("LEO %d HW %d after truncation to 14", l.LogEndOffset(), l.HighWatermark())
	}
	got := l.SegmentBaseOffsets()
	if got[len(got)-1] > 14 {
		t.Fatalf("segments %v after truncation to 14", got)
	}
	for _, b := range segs {
		_, err := e.fs.Stat(filepath.Join(l.Dir(), segmentName(b, logSuffix)))
		if exists := err == nil; exists != (b < 14) {
			t.Fatalf("segment %d exists=%v after truncation to 14", b, exists)
		}
	}
	if hs := readAll(t, l, 0); hs[len(hs)-1].LastOffset() != 13 {
		t.Fatalf("last batch ends at %d", hs[len(hs)-1].LastOffset())
	}
	// The epoch cache no longer knows epoch 3.
	if ep, end := l.EndOffsetForEpoch(2); ep != 2 || end != 14 {
		t.Fatalf("EndOffsetForEpoch(2) = %d,%d, want 2,14", ep, end)
	}
	if ep, end := l.EndOffsetForEpoch(3); ep != -1 || end != -1 {
		t.Fatalf("EndOffsetForEpoch(3) = %d,%d after truncation, want -1,-1", ep, end)
	}
	// Producer state: the truncated batch is new again, not a duplicate.
	r, err := l.Append(append([]byte(nil), batches[7]...), 4)
	if err != nil || r.Duplicate || r.BaseOffset != 14 {
		t.Fatalf("re-append of a truncated batch: %+v %v", r, err)
	}
	// And the batch before it is still a duplicate.
	dup, err := l.Append(append([]byte(nil), batches[6]...), 4)
	if err != nil || !dup.Duplicate || dup.BaseOffset != 12 {
		t.Fatalf("retry of a kept batch: %+v %v", dup, err)
	}
	// No producer snapshot above the log end survives.
	snaps, _ := producerstate.ListSnapshots(e.fs, l.Dir())
	for _, s := range snaps {
		if s > 16 {
			t.Fatalf("snapshot %d above the log end", s)
		}
	}
	// Consistent after a crash and after a clean reopen.
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	e.crash()
	l = e.log(cfg)
	if l.LogEndOffset() != 16 {
		t.Fatalf("LEO after crash %d, want 16", l.LogEndOffset())
	}
	e.reopen()
	l = e.log(cfg)
	if l.LogEndOffset() != 16 {
		t.Fatalf("LEO after reopen %d, want 16", l.LogEndOffset())
	}
	if ep, end := l.EndOffsetForEpoch(2); ep != 2 || end != 14 {
		t.Fatalf("EndOffsetForEpoch(2) after reopen = %d,%d", ep, end)
	}
}

func TestTruncateMidBatchAndWithinActive(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	appendN(t, l, 4, 5, 10, e.clock.Ms()) // [0,4] [5,9] [10,14] [15,19]
	if err := l.TruncateTo(12); err != nil {
		t.Fatal(err)
	}
	// The batch holding 12 goes whole.
	if l.LogEndOffset() != 10 {
		t.Fatalf("LEO %d, want 10", l.LogEndOffset())
	}
	if err := l.TruncateTo(50); err != nil || l.LogEndOffset() != 10 {
		t.Fatalf("truncation above the end changed the log: %d %v", l.LogEndOffset(), err)
	}
	r := mustAppend(t, l, batchSpec{n: 1, ts: e.clock.Ms()})
	if r.BaseOffset != 10 {
		t.Fatalf("append at %d", r.BaseOffset)
	}
	if n := len(readAll(t, l, 0)); n != 3 {
		t.Fatalf("%d batches", n)
	}
}

func TestTruncateFully(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.SegmentBytes = 500
	l := e.log(cfg)
	appendN(t, l, 5, 1, 300, e.clock.Ms())
	if err := l.TruncateTo(0); err != nil {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 0 || l.NumSegments() != 1 || l.Size() != 0 {
		t.Fatalf("after TruncateTo(0): LEO %d segments %d size %d", l.LogEndOffset(), l.NumSegments(), l.Size())
	}
	appendN(t, l, 2, 1, 10, e.clock.Ms())
	if err := l.TruncateFullyAndStartAt(100); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != 100 || l.LogEndOffset() != 100 || l.HighWatermark() != 100 {
		t.Fatalf("start %d end %d hw %d", l.LogStartOffset(), l.LogEndOffset(), l.HighWatermark())
	}
	if r := mustAppend(t, l, batchSpec{n: 1, ts: e.clock.Ms()}); r.BaseOffset != 100 {
		t.Fatalf("append at %d", r.BaseOffset)
	}
	e.reopen()
	l = e.log(cfg)
	if l.LogStartOffset() != 100 || l.LogEndOffset() != 101 {
		t.Fatalf("after reopen: start %d end %d", l.LogStartOffset(), l.LogEndOffset())
	}
}

func TestAdvanceLogStartOffset(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.SegmentBytes = 1000
	cfg.FileDeleteDelayMs = 1 // removal waits for Tick
	l := e.log(cfg)
	appendN(t, l, 10, 1, 300, e.clock.Ms())
	l.SetHighWatermark(5)
	segs := bases(l)
	if err := l.AdvanceLogStartOffset(segs[1] + 1); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != segs[1]+1 {
		t.Fatalf("log start %d", l.LogStartOffset())
	}
	if got := l.SegmentBaseOffsets(); got[0] != segs[1] {
		t.Fatalf("segments %v, want the first removed", got)
	}
	if _, err := l.Read(segs[1], 100, -1, true); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("read below the log start: %v", err)
	}
	first := filepath.Join(l.Dir(), segmentName(segs[0], logSuffix))
	if _, err := e.fs.Stat(first); err == nil {
		t.Fatal("removed segment keeps its name")
	}
	if _, err := e.fs.Stat(first + deletedSuffix); err != nil {
		t.Fatalf("removed segment not renamed .deleted: %v", err)
	}
	e.m.Tick() // file.delete.delay.ms has not passed on the fake clock
	if _, err := e.fs.Stat(first + deletedSuffix); err != nil {
		t.Fatalf("removed before file.delete.delay.ms: %v", err)
	}
	e.clock.Advance(1e6)
	e.m.Tick()
	if _, err := e.fs.Stat(first + deletedSuffix); err == nil {
		t.Fatal(".deleted file not removed after the delay")
	}
	if err := l.AdvanceLogStartOffset(11); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("advance past the end: %v", err)
	}
	// The new start survives a crash (its checkpoint is written at once).
	e.crash()
	l = e.log(cfg)
	if l.LogStartOffset() != segs[1]+1 {
		t.Fatalf("log start after crash %d, want %d", l.LogStartOffset(), segs[1]+1)
	}
}

func TestSegmentNotRemovedWhileRead(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.SegmentBytes = 1000
	cfg.FileDeleteDelayMs = 0
	l := e.log(cfg)
	appendN(t, l, 6, 1, 300, e.clock.Ms())
	segs := bases(l)
	r, err := l.Read(0, 1<<20, -1, true)
	if err != nil || r.Size() == 0 {
		t.Fatalf("read: %v", err)
	}
	if err := l.AdvanceLogStartOffset(segs[2]); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(l.Dir(), segmentName(0, logSuffix)) + deletedSuffix
	if _, err := e.fs.Stat(name); err != nil {
		t.Fatalf("segment removed under a reader: %v", err)
	}
	b, err := r.Bytes()
	if err != nil || len(b) != r.Size() {
		t.Fatalf("reading a removed segment's region: %d bytes, %v", len(b), err)
	}
	// Retention of the second segment (unread) is immediate.
	if _, err := e.fs.Stat(filepath.Join(l.Dir(), segmentName(segs[1], logSuffix)) + deletedSuffix); err == nil {
		t.Fatal("unread removed segment still present")
	}
	r.Release()
	r.Release() // idempotent
	if _, err := e.fs.Stat(name); err == nil {
		t.Fatal("segment not removed after its last reader released it")
	}
}

func TestLRUBoundsOpenSegments(t *testing.T) {
	const partitions, maxOpen = 2000, 100
	e := newEnv(t, vfs.NewMem())
	// Reopen with a small bound.
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}
	e.max = maxOpen
	e.open()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 200
	ts := e.clock.Ms()
	batch := build(t, batchSpec{n: 1, ts: ts, valueSize: 120})
	logs := make([]*Log, partitions)
	for p := range logs {
		l, err := e.m.GetOrCreate(TopicPartition{"many", int32(p)}, [16]byte{}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if _, err := l.Append(append([]byte(nil), batch...), 0); err != nil {
				t.Fatal(err)
			}
		}
		logs[p] = l
	}
	for _, l := range logs {
		l.finishers.Wait()
		if l.NumSegments() != 3 {
			t.Fatalf("%d segments", l.NumSegments())
		}
	}
	if n := e.m.OpenSegments(); n > maxOpen {
		t.Fatalf("%d closed segments open, bound %d", n, maxOpen)
	}
	// Read every partition's closed segments; held reads may exceed the
	// bound, released ones may not.
	for round := 0; round < 2; round++ {
		for _, l := range logs {
			for off := int64(0); off < 2; off++ {
				r, err := l.Read(off, 1<<20, -1, true)
				if err != nil {
					t.Fatal(err)
				}
				if r.FirstOffset != off {
					t.Fatalf("read %d got %d", off, r.FirstOffset)
				}
				if _, err := r.Bytes(); err != nil {
					t.Fatal(err)
				}
				r.Release()
			}
			if n := e.m.OpenSegments(); n > maxOpen {
				t.Fatalf("%d closed segments open, bound %d", n, maxOpen)
			}
		}
	}
	// Segments being read are never closed, even beyond the bound.
	var held []*ReadResult
	for _, l := range logs[:maxOpen+20] {
		r, err := l.Read(0, 1<<20, -1, true)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, r)
	}
	for _, r := range held {
		if _, err := r.Bytes(); err != nil {
			t.Fatalf("held read lost its file: %v", err)
		}
		r.Release()
	}
	// One more read brings the count back under the bound.
	r, _ := logs[0].Read(1, 1<<20, -1, true)
	r.Release()
	if n := e.m.OpenSegments(); n > maxOpen {
		t.Fatalf("%d closed segments open after releases, bound %d", n, maxOpen)
	}
}

func TestDeleteLog(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.SegmentBytes = 500
	l := e.log(cfg)
	appendN(t, l, 4, 1, 300, e.clock.Ms())
	bases(l)
	r, err := l.Read(0, 1<<20, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	dir := l.Dir()
	if err := e.m.Delete(testTP); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.m.Get(testTP); ok {
		t.Fatal("deleted log still listed")
	}
	if _, err := e.fs.Stat(dir); err == nil {
		t.Fatal("directory not renamed")
	}
	renamed := l.Dir()
	if filepath.Ext(renamed) == "" || renamed[len(renamed)-7:] != "-delete" {
		t.Fatalf("renamed to %s", renamed)
	}
	if _, err := l.Append(build(t, batchSpec{n: 1, ts: e.clock.Ms()}), 0); err == nil {
		t.Fatal("append to a deleted log succeeded")
	}
	// The reader still reads; the directory goes once it releases.
	if _, err := r.Bytes(); err != nil {
		t.Fatalf("read after delete: %v", err)
	}
	if _, err := e.fs.Stat(renamed); err != nil {
		t.Fatalf("directory removed under a reader: %v", err)
	}
	r.Release()
	waitFor(t, "the directory's removal", func() bool { _, err := e.fs.Stat(renamed); return err != nil })
	// A fresh log of the same name starts empty, also after a restart.
	l = e.log(cfg)
	if l.LogEndOffset() != 0 {
		t.Fatalf("recreated log LEO %d", l.LogEndOffset())
	}
	if err := e.m.Delete(TopicPartition{"nope", 0}); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("delete of an unknown log: %v", err)
	}
}
