package storage

import (
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/producerstate"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// Data that was fsynced can still be lost: a file truncated by hand, a disk
// that acknowledged a flush it did not make. The log then ends below what
// the checkpoints and the producer snapshots describe. These tests cut a
// partition's .log files below the newest producer snapshot (the one at the
// recovery point) and check that the broker opens the log, and that the
// producer state knows only the batches the log still holds: a retry of a
// batch that survived is a duplicate, a retry of a lost one is written
// again. A state that remembered a lost batch would answer its retry as a
// duplicate at an offset the log no longer has: an acknowledged write lost.

// idempotentLog appends n batches of 2 records from producer 42, epoch 1,
// sequences 0, 2, 4, ..., and returns their results.
func idempotentLog(t *testing.T, e *testEnv, cfg Config, n int) (*Log, []AppendResult) {
	t.Helper()
	l := e.log(cfg)
	var res []AppendResult
	for i := range n {
		r, err := l.Append(producerBatch(t, e, i), 1)
		if err != nil {
			t.Fatalf("append batch %d: %v", i, err)
		}
		res = append(res, r)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	l.finishers.Wait()
	return l, res
}

// producerBatch is batch i of idempotentLog, built afresh (Append patches
// the bytes it is given).
func producerBatch(t *testing.T, e *testEnv, i int) []byte {
	t.Helper()
	return build(t, batchSpec{n: 2, ts: e.clock.Ms() + int64(10*i), pid: 42, epoch: 1, seq: int32(2 * i), valueSize: 100})
}

// truncateDurably cuts a file to size and fsyncs it: the loss survives the
// next crash.
func truncateDurably(t *testing.T, e *testEnv, name string, size int64) {
	t.Helper()
	f, err := e.fs.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkProducerStateAt checks a log that kept the first kept batches of
// idempotentLog: it ends after them, the time index knows no lost record,
// no producer snapshot lies above the log end, the last kept batch is a
// duplicate, and the first lost batch is appended at the log end.
func checkProducerStateAt(t *testing.T, e *testEnv, l *Log, res []AppendResult, kept int) {
	t.Helper()
	leo := int64(0)
	if kept > 0 {
		leo = res[kept-1].LastOffset + 1
	}
	if got := l.LogEndOffset(); got != leo {
		t.Fatalf("log end offset %d, want %d (%d batches kept)", got, leo, kept)
	}
	readAll(t, l, 0)
	// The time index knows only the records that are left.
	wantOff, wantTs := int64(-1), int64(-1)
	if kept > 0 {
		wantOff, wantTs = leo-1, e.clock.Ms()+int64(10*(kept-1))+1
	}
	if off, ts, err := l.MaxTimestamp(); err != nil || off != wantOff || ts != wantTs {
		t.Fatalf("MaxTimestamp = %d at %d (%v), want %d at %d", ts, off, err, wantTs, wantOff)
	}
	if kept < len(res) {
		lost := e.clock.Ms() + int64(10*kept)
		if off, _, ok, err := l.OffsetForTimestamp(lost); err != nil || ok {
			t.Fatalf("OffsetForTimestamp(%d) of a lost batch = %d, %v, %v; want none", lost, off, ok, err)
		}
	}
	snaps, err := producerstate.ListSnapshots(e.fs, l.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps {
		if s > leo {
			t.Fatalf("producer snapshot at %d survives above the log end %d (snapshots %v)", s, leo, snaps)
		}
	}
	if kept > 0 {
		dup, err := l.Append(producerBatch(t, e, kept-1), 1)
		if err != nil || !dup.Duplicate || dup.BaseOffset != res[kept-1].BaseOffset {
			t.Fatalf("retry of the last kept batch: %+v, %v; want a duplicate at %d", dup, err, res[kept-1].BaseOffset)
		}
	}
	if kept < len(res) {
		r, err := l.Append(producerBatch(t, e, kept), 1)
		if err != nil {
			t.Fatalf("retry of the first lost batch: %v", err)
		}
		if r.Duplicate || r.BaseOffset != leo {
			t.Fatalf("retry of the first lost batch: %+v; want it written at the log end %d", r, leo)
		}
	}
}

func TestRecoveryBelowProducerSnapshot(t *testing.T) {
	// Batches of 2 records of 100 bytes: 3 to a 1000-byte segment.
	const batches = 11
	tests := []struct {
		name         string
		segmentBytes int64
		indexBytes   int
		clean        bool // a clean shutdown before the loss, else a crash
		// segment is the index (in the segments before the loss) of the
		// .log file cut; keep is how many of its batches stay, plus half
		// of the next one when torn.
		segment int
		keep    int
		torn    bool
		kept    int // batches of the log that stay in all
	}{
		{name: "one segment, cut at a batch boundary", segmentBytes: 1 << 20, keep: 4, kept: 4},
		{name: "one segment, torn inside a batch", segmentBytes: 1 << 20, keep: 4, torn: true, kept: 4},
		{name: "one segment, emptied", segmentBytes: 1 << 20, keep: 0, kept: 0},
		{name: "last of several segments, a snapshot below the cut", segmentBytes: 1000, segment: 3, keep: 1, kept: 10},
		{name: "last segment emptied, a snapshot exactly at the log end", segmentBytes: 1000, segment: 3, keep: 0, kept: 9},
		{name: "after a clean shutdown, the index past the cut", segmentBytes: 1 << 20, indexBytes: 1, clean: true, keep: 5, kept: 5},
		{name: "after a clean shutdown, no index entry past the cut", segmentBytes: 1 << 20, clean: true, keep: 5, kept: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			cfg := DefaultConfig()
			cfg.SegmentBytes = tt.segmentBytes
			if tt.indexBytes > 0 {
				cfg.IndexIntervalBytes = tt.indexBytes
			}
			l, res := idempotentLog(t, e, cfg, batches)
			segs := bases(l)
			dir := l.Dir()
			one := int64(len(producerBatch(t, e, 0)))
			if tt.clean {
				// A clean shutdown writes a snapshot at the log end and the
				// recovery point there.
				if err := e.m.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				// Recovery after a crash writes a snapshot at the log end,
				// and the recovery point is checkpointed there.
				e.crash()
				l = e.log(cfg)
				if l.LogEndOffset() != res[batches-1].LastOffset+1 {
					t.Fatalf("log end offset %d after a crash that lost nothing", l.LogEndOffset())
				}
			}
			if snaps, err := producerstate.ListSnapshots(e.fs, dir); err != nil || len(snaps) == 0 || snaps[len(snaps)-1] != res[batches-1].LastOffset+1 {
				t.Fatalf("snapshots %v (%v), want one at the log end %d", snaps, err, res[batches-1].LastOffset+1)
			}
			if tt.segment >= len(segs) {
				t.Fatalf("segments %v: no segment %d", segs, tt.segment)
			}
			size := int64(tt.keep) * one
			if tt.torn {
				size += one / 2
			}
			truncateDurably(t, e, filepath.Join(dir, segmentName(segs[tt.segment], logSuffix)), size)
			if tt.clean {
				e.m = nil
				e.open()
			} else {
				e.crash()
			}
			l = e.log(cfg)
			checkProducerStateAt(t, e, l, res, tt.kept)

			// The state written at the new end is sound: a crash now
			// recovers the same log, and the producer's next sequence
			// after what was just appended is accepted.
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			leo := l.LogEndOffset()
			e.crash()
			l = e.log(cfg)
			if l.LogEndOffset() != leo {
				t.Fatalf("log end offset %d after another crash, want %d", l.LogEndOffset(), leo)
			}
			if _, err := l.Append(producerBatch(t, e, tt.kept+1), 1); err != nil {
				t.Fatalf("next sequence after another crash: %v", err)
			}
			if _, err := l.Append(producerBatch(t, e, tt.kept+3), 1); !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
				t.Fatalf("a sequence gap after another crash: %v, want OUT_OF_ORDER_SEQUENCE_NUMBER", err)
			}
		})
	}
}

// crashAfterLoss crashes, as idempotentLog's tests do, so that recovery
// writes a producer snapshot at the log end and checkpoints the recovery
// point there.
func crashAfterLoss(t *testing.T, e *testEnv, cfg Config, leo int64) *Log {
	t.Helper()
	e.crash()
	l := e.log(cfg)
	if l.LogEndOffset() != leo {
		t.Fatalf("log end offset %d after a crash that lost nothing, want %d", l.LogEndOffset(), leo)
	}
	snaps, err := producerstate.ListSnapshots(e.fs, l.Dir())
	if err != nil || len(snaps) == 0 || snaps[len(snaps)-1] != leo {
		t.Fatalf("snapshots %v (%v), want one at the log end %d", snaps, err, leo)
	}
	return l
}

// A truncation (a follower after a leader change) rewrites the segment
// durably and then deletes the snapshots above the new end. A crash between
// the two leaves snapshots above the log end, with the recovery point
// checkpoint above it too.
func TestCrashDuringTruncationLeavesSnapshotAboveLogEnd(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	l, res := idempotentLog(t, e, cfg, 11)
	l = crashAfterLoss(t, e, cfg, 22)
	mem := e.fs.(*vfs.MemFS)
	mem.SetHook(func(op vfs.Op) error {
		if op.Kind == vfs.OpRemove && strings.HasSuffix(op.Path, ".snapshot") {
			return vfs.ErrCrashed
		}
		return nil
	})
	if err := l.TruncateTo(res[5].BaseOffset); err == nil {
		t.Fatal("truncation succeeded though its snapshot deletion failed")
	}
	mem.SetHook(nil)
	e.crash()
	l = e.log(cfg)
	checkProducerStateAt(t, e, l, res, 5)
}

// A partition directory can hold producer snapshots and no segment at all:
// a crash in a full truncation between removing the old segments and
// creating the new one. The empty log that recovery starts must not keep
// them: a later recovery would load one as the state of a log that has
// since been written anew.
func TestRecoveryWithoutSegmentsDropsSnapshots(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	l, _ := idempotentLog(t, e, cfg, 11)
	l = crashAfterLoss(t, e, cfg, 22)
	dir := l.Dir()
	ents, err := e.fs.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range ents {
		if _, ok := parseSegmentName(de.Name(), filepath.Ext(de.Name())); ok && !strings.HasSuffix(de.Name(), ".snapshot") {
			if err := e.fs.Remove(filepath.Join(dir, de.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.fs.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	e.crash()
	l = e.log(cfg)
	if l.LogEndOffset() != 0 {
		t.Fatalf("log end offset %d without segments, want 0", l.LogEndOffset())
	}
	if snaps, err := producerstate.ListSnapshots(e.fs, dir); err != nil || len(snaps) != 0 {
		t.Fatalf("snapshots %v (%v) left beside an empty log", snaps, err)
	}
	if got := l.LeaderEpochs(); len(got) != 0 {
		t.Fatalf("leader epochs %v kept for an empty log", got)
	}

	// The producer writes the log anew with a new epoch, past the old
	// snapshot's offset, and the broker crashes once the recovery point is
	// checkpointed there. Its recent batches are still known as duplicates.
	var res []AppendResult
	for i := range 12 {
		b := build(t, batchSpec{n: 2, ts: e.clock.Ms() + int64(10*i), pid: 42, epoch: 2, seq: int32(2 * i), valueSize: 100})
		r, err := l.Append(b, 1)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		res = append(res, r)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := e.m.WriteCheckpoints(); err != nil {
		t.Fatal(err)
	}
	e.crash()
	l = e.log(cfg)
	for i := 12 - producerstate.NumBatchesToRetain; i < 12; i++ {
		b := build(t, batchSpec{n: 2, ts: e.clock.Ms() + int64(10*i), pid: 42, epoch: 2, seq: int32(2 * i), valueSize: 100})
		r, err := l.Append(b, 1)
		if err != nil || !r.Duplicate || r.BaseOffset != res[i].BaseOffset {
			t.Fatalf("retry of batch %d after the crash: %+v, %v; want a duplicate at %d", i, r, err, res[i].BaseOffset)
		}
	}
}

// A clean open that finds the active segment unsound falls back to
// recovery, which opens the .log again: the handle the clean path opened
// must be closed, or every such partition holds two descriptors until the
// garbage collector finalizes the first: at restart, when every partition
// opens at once, that can run past the descriptor limit.
func TestCleanOpenFallbackKeepsOneDescriptor(t *testing.T) {
	const partitions = 200
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("no /proc/self/fd to count descriptors: %v", err)
		}
		return len(ents)
	}
	e := newEnv(t, vfs.OS())
	_ = e.m.Close()
	e.m = nil
	e.dirs = []string{t.TempDir()}
	e.open()
	var dirs []string
	for i := range partitions {
		l, err := e.m.GetOrCreate(TopicPartition{Topic: "fd", Partition: int32(i)}, [16]byte{1}, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(build(t, batchSpec{n: 2, ts: e.clock.Ms(), valueSize: 10}), 0); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, l.Dir())
	}
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}
	e.m = nil
	// A torn header after each log's end: the clean path refuses it.
	for _, d := range dirs {
		name := filepath.Join(d, segmentName(0, logSuffix))
		patchFile(t, e.fs, name, fileSize(t, e.fs, name), []byte{0, 0, 0, 0, 0, 0, 0, 9, 0, 0})
	}
	// With the collector off, only an explicit Close releases a handle.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	before := fds()
	e.open()
	if got := fds() - before; got > partitions+20 {
		t.Fatalf("%d descriptors for %d partitions after a clean open fell back to recovery, want about one each", got, partitions)
	}
	for _, l := range e.m.Logs() {
		if l.LogEndOffset() != 2 {
			t.Fatalf("%v: log end %d, want 2", l.TopicPartition(), l.LogEndOffset())
		}
	}
}
