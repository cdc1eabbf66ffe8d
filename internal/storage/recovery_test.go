package storage

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// crash simulates a power loss: the Manager is abandoned and a new one
// opens what the disk would hold.
func (e *testEnv) crash() {
	e.t.Helper()
	mem, ok := e.fs.(*vfs.MemFS)
	if !ok {
		e.t.Fatal("crash needs a MemFS")
	}
	old := e.m
	e.fs = mem.Crash()
	e.m = nil
	e.open()
	// The abandoned Manager keeps writing to the old filesystem only.
	e.t.Cleanup(func() { _ = old.Close() })
}

// patchFile overwrites bytes of a file durably.
func patchFile(t testing.TB, fsys vfs.FS, name string, off int64, b []byte) {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t testing.TB, fsys vfs.FS, name string) int64 {
	t.Helper()
	st, err := fsys.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func TestCrashKeepsDurableAppends(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.FlushMessages = 1
	cfg.SegmentBytes = 2000
	l := e.log(cfg)
	var acked int64
	for i := 0; i < 20; i++ {
		r := mustAppend(t, l, batchSpec{n: 2, ts: e.clock.Ms(), valueSize: 100})
		if err := l.WaitFlushed(context.Background(), r.LastOffset+1); err != nil {
			t.Fatal(err)
		}
		acked = r.LastOffset + 1
	}
	// Unacknowledged appends may or may not survive.
	appendN(t, l, 3, 2, 100, e.clock.Ms())
	e.crash()
	l = e.log(cfg)
	if l.LogEndOffset() < acked {
		t.Fatalf("LEO %d after crash, below the acknowledged %d", l.LogEndOffset(), acked)
	}
	hs := readAll(t, l, 0)
	if hs[len(hs)-1].LastOffset()+1 != l.LogEndOffset() {
		t.Fatal("log end does not match the last batch")
	}
	// The log keeps working.
	r := mustAppend(t, l, batchSpec{n: 1, ts: e.clock.Ms()})
	if r.BaseOffset != l.LogEndOffset()-1 {
		t.Fatalf("append after recovery at %d", r.BaseOffset)
	}
}

func TestCrashLosesUnsyncedTail(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	appendN(t, l, 5, 1, 10, e.clock.Ms())
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 5, 1, 10, e.clock.Ms())
	e.crash()
	l = e.log(DefaultConfig())
	if l.LogEndOffset() != 5 {
		t.Fatalf("LEO %d after losing the unsynced tail, want 5", l.LogEndOffset())
	}
	readAll(t, l, 0)
}

func TestTornTailTruncated(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	appendN(t, l, 4, 2, 50, e.clock.Ms())
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(l.Dir(), segmentName(0, logSuffix))
	good := fileSize(t, e.fs, name)
	// Half of a fifth batch reaches the disk.
	torn := build(t, batchSpec{n: 2, ts: e.clock.Ms(), valueSize: 50})
	patchFile(t, e.fs, name, good, torn[:len(torn)/2])
	e.crash()
	l = e.log(DefaultConfig())
	if l.LogEndOffset() != 8 {
		t.Fatalf("LEO %d, want 8", l.LogEndOffset())
	}
	if got := fileSize(t, e.fs, name); got != good {
		t.Fatalf("segment %d bytes after recovery, want %d", got, good)
	}
	if n := len(readAll(t, l, 0)); n != 4 {
		t.Fatalf("%d batches, want 4", n)
	}
	if r := mustAppend(t, l, batchSpec{n: 1, ts: e.clock.Ms()}); r.BaseOffset != 8 {
		t.Fatalf("append after recovery at %d, want 8", r.BaseOffset)
	}
}

func TestCorruptBatchTruncatesAndDropsLaterSegments(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.SegmentBytes = 1000
	l := e.log(cfg)
	appendN(t, l, 12, 1, 300, e.clock.Ms()) // 2 per segment
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	segs := bases(l)
	if len(segs) < 4 || segs[2]-segs[1] < 2 {
		t.Fatalf("segments %v", segs)
	}
	// Flip a byte in the second batch of the second segment, and lose the
	// recovery point so that recovery scans everything.
	size := int64(len(build(t, batchSpec{n: 1, ts: e.clock.Ms(), valueSize: 300})))
	patchFile(t, e.fs, filepath.Join(l.Dir(), segmentName(segs[1], logSuffix)), size+100, []byte{0xff})
	if err := e.fs.Remove(filepath.Join("/data", RecoveryPointCheckpointFile)); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.SyncDir("/data"); err != nil {
		t.Fatal(err)
	}
	e.crash()
	l = e.log(cfg)
	if got := l.LogEndOffset(); got != segs[1]+1 {
		t.Fatalf("LEO %d, want %d (truncated at the corrupt batch)", got, segs[1]+1)
	}
	if got := l.SegmentBaseOffsets(); len(got) != 2 {
		t.Fatalf("segments after recovery %v, want the first two", got)
	}
	for _, b := range segs[2:] {
		if _, err := e.fs.Stat(filepath.Join(l.Dir(), segmentName(b, logSuffix))); err == nil {
			t.Fatalf("segment %d survived a corrupt batch before it", b)
		}
	}
	readAll(t, l, 0)
}

func TestRecoveryStartsAtRecoveryPoint(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.SegmentBytes = 1000
	l := e.log(cfg)
	appendN(t, l, 12, 1, 300, e.clock.Ms())
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	segs := bases(l)
	if l.RecoveryPoint() < segs[2] {
		t.Fatalf("recovery point %d below segment %d", l.RecoveryPoint(), segs[2])
	}
	if err := e.m.WriteCheckpoints(); err != nil {
		t.Fatal(err)
	}
	// Damage a batch below the recovery point: recovery does not look at it.
	patchFile(t, e.fs, filepath.Join(l.Dir(), segmentName(segs[0], logSuffix)), 100, []byte{0xff})
	e.crash()
	l = e.log(cfg)
	if l.LogEndOffset() != 12 {
		t.Fatalf("LEO %d: recovery scanned below the recovery point", l.LogEndOffset())
	}
}

func TestCleanShutdownTrustsFiles(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	appendN(t, l, 6, 1, 100, e.clock.Ms())
	dir := l.Dir()
	e.reopen()
	if _, err := e.fs.Stat(filepath.Join("/data", CleanShutdownFile)); err == nil {
		t.Fatal("clean-shutdown marker still present after open")
	}
	// Closing writes the marker.
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Stat(filepath.Join("/data", CleanShutdownFile)); err != nil {
		t.Fatalf("no clean-shutdown marker after Close: %v", err)
	}
	// Corrupt the third batch's records at rest: a clean open does not scan
	// them, recovery does.
	size := int64(len(build(t, batchSpec{n: 1, ts: e.clock.Ms(), valueSize: 100})))
	patchFile(t, e.fs, filepath.Join(dir, segmentName(0, logSuffix)), 2*size+80, []byte{0xff})
	e.m = nil
	e.open()
	l = e.log(DefaultConfig())
	if l.LogEndOffset() != 6 {
		t.Fatalf("clean open LEO %d, want 6 (files trusted)", l.LogEndOffset())
	}
	// Now an unclean stop: recovery from the recovery point (the whole
	// active segment) finds the bad batch.
	e.crash()
	l = e.log(DefaultConfig())
	if l.LogEndOffset() != 2 {
		t.Fatalf("recovered LEO %d, want 2", l.LogEndOffset())
	}
}

func TestCleanMarkerWithTornTailFallsBackToRecovery(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	appendN(t, l, 3, 1, 100, e.clock.Ms())
	dir := l.Dir()
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, segmentName(0, logSuffix))
	patchFile(t, e.fs, name, fileSize(t, e.fs, name), []byte{0, 0, 0, 0, 0, 0, 0, 9, 0, 0})
	e.m = nil
	e.open()
	l = e.log(DefaultConfig())
	if l.LogEndOffset() != 3 {
		t.Fatalf("LEO %d, want 3", l.LogEndOffset())
	}
	readAll(t, l, 0)
	if r := mustAppend(t, l, batchSpec{n: 1, ts: e.clock.Ms()}); r.BaseOffset != 3 {
		t.Fatalf("append at %d", r.BaseOffset)
	}
}

func TestCorruptIndexRebuilt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, fsys vfs.FS, idx string)
	}{
		{"size not a multiple", func(t *testing.T, fsys vfs.FS, idx string) {
			patchFile(t, fsys, idx, fileSize(t, fsys, idx), []byte{1, 2, 3})
		}},
		{"entries not increasing", func(t *testing.T, fsys vfs.FS, idx string) {
			patchFile(t, fsys, idx, 0, []byte{0, 0, 0, 9, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 1})
		}},
		{"position beyond the file", func(t *testing.T, fsys vfs.FS, idx string) {
			patchFile(t, fsys, idx, 4, []byte{0x7f, 0, 0, 0})
		}},
		{"missing", func(t *testing.T, fsys vfs.FS, idx string) {
			if err := fsys.Remove(idx); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			cfg := DefaultConfig()
			cfg.SegmentBytes = 4000
			cfg.IndexIntervalBytes = 1
			l := e.log(cfg)
			res := appendN(t, l, 20, 1, 300, e.clock.Ms())
			dir := l.Dir()
			segs := bases(l)
			e.reopen()
			for _, b := range []int64{segs[0], segs[len(segs)-1]} {
				tc.corrupt(t, e.fs, filepath.Join(dir, segmentName(b, indexSuffix)))
			}
			if err := e.m.Close(); err != nil {
				t.Fatal(err)
			}
			e.m = nil
			e.open()
			l = e.log(cfg)
			if l.LogEndOffset() != 20 {
				t.Fatalf("LEO %d, want 20", l.LogEndOffset())
			}
			for _, r := range res {
				rr, err := l.Read(r.BaseOffset, 1, -1, true)
				if err != nil || rr.FirstOffset != r.BaseOffset {
					t.Fatalf("read %d: first %d err %v", r.BaseOffset, rr.FirstOffset, err)
				}
				rr.Release()
			}
			// The closed segment's index was rewritten soundly.
			s := l.segmentAt(segs[0])
			defer s.release()
			idx, _, ok, err := s.indexFiles()
			if err != nil || !ok || idx.n == 0 {
				t.Fatalf("rebuilt index: n=%d ok=%v err=%v", idx.n, ok, err)
			}
			if got := fileSize(t, e.fs, filepath.Join(dir, segmentName(segs[0], indexSuffix))); got%offsetEntrySize != 0 || got == 0 {
				t.Fatalf("rebuilt index of %d bytes", got)
			}
		})
	}
}

func TestCrashRebuildsProducerState(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.SegmentBytes = 600
	l := e.log(cfg)
	ts := e.clock.Ms()
	var batches [][]byte
	var res []AppendResult
	for i := 0; i < 10; i++ {
		b := build(t, batchSpec{n: 2, ts: ts, pid: 42, epoch: 1, seq: int32(2 * i), valueSize: 100})
		batches = append(batches, append([]byte(nil), b...))
		r, err := l.Append(b, 3)
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, r)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	e.crash()
	l = e.log(cfg)
	// The last batches are still known as duplicates, and the next sequence
	// is accepted.
	dup, err := l.Append(append([]byte(nil), batches[9]...), 3)
	if err != nil || !dup.Duplicate || dup.BaseOffset != res[9].BaseOffset {
		t.Fatalf("retry after crash: %+v %v", dup, err)
	}
	if _, err := l.Append(build(t, batchSpec{n: 1, ts: ts, pid: 42, epoch: 1, seq: 20}), 3); err != nil {
		t.Fatalf("next sequence after crash: %v", err)
	}
	if epoch, ok := l.LatestEpoch(); !ok || epoch != 3 {
		t.Fatalf("latest epoch %d %v", epoch, ok)
	}
}

func TestRecoveryRebuildsLostEpochCheckpoint(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	for epoch := int32(1); epoch <= 3; epoch++ {
		if _, err := l.Append(build(t, batchSpec{n: 2, ts: e.clock.Ms()}), epoch); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Remove(filepath.Join(l.Dir(), LeaderEpochCheckpointFile)); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.SyncDir(l.Dir()); err != nil {
		t.Fatal(err)
	}
	e.crash()
	l = e.log(DefaultConfig())
	want := []EpochEntry{{1, 0}, {2, 2}, {3, 4}}
	got := l.LeaderEpochs()
	if len(got) != len(want) {
		t.Fatalf("epochs %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("epochs %v, want %v", got, want)
		}
	}
}

func TestRecoveryDropsSegmentsAfterAHole(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.SegmentBytes = 1000
	l := e.log(cfg)
	appendN(t, l, 8, 1, 300, e.clock.Ms()) // 2 batches per segment
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	segs := bases(l)
	if len(segs) < 3 {
		t.Fatalf("segments %v", segs)
	}
	// The second segment loses its last batch whole (unsynced when the
	// power went) while the third kept its data: a hole at segs[2]-1.
	name := filepath.Join(l.Dir(), segmentName(segs[1], logSuffix))
	one := int64(len(build(t, batchSpec{n: 1, ts: e.clock.Ms(), valueSize: 300})))
	f, err := e.fs.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(fileSize(t, e.fs, name) - one); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := e.fs.Remove(filepath.Join("/data", RecoveryPointCheckpointFile)); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.SyncDir("/data"); err != nil {
		t.Fatal(err)
	}
	e.crash()
	l = e.log(cfg)
	if l.LogEndOffset() != segs[2]-1 {
		t.Fatalf("LEO %d, want %d: nothing may follow the hole", l.LogEndOffset(), segs[2]-1)
	}
	if got := l.SegmentBaseOffsets(); len(got) != 2 {
		t.Fatalf("segments %v after recovery", got)
	}
	readAll(t, l, 0)
	if r := mustAppend(t, l, batchSpec{n: 1, ts: e.clock.Ms()}); r.BaseOffset != segs[2]-1 {
		t.Fatalf("append at %d", r.BaseOffset)
	}
}

// The recovery point can reach the end of the active segment just before it
// rolls, so that it equals the new segment's base while the old segment's
// indexes are not yet durable: recovery must still rebuild the old one.
func TestRecoveryPointAtRollBoundary(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.SegmentBytes = 1000
	cfg.IndexIntervalBytes = 1
	l := e.log(cfg)
	ts := e.clock.Ms()
	appendN(t, l, 2, 1, 300, ts)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	// The recovery point is the log end, inside the active segment.
	l.finishers.Wait()
	if l.RecoveryPoint() != 2 || l.NumSegments() != 1 {
		t.Fatalf("recovery point %d, %d segments", l.RecoveryPoint(), l.NumSegments())
	}
	if err := e.m.WriteCheckpoints(); err != nil {
		t.Fatal(err)
	}
	// Roll, and crash before the old segment's indexes reach the disk:
	// hold its finisher by crashing the filesystem copy right away.
	mustAppend(t, l, batchSpec{n: 1, ts: ts + 10, valueSize: 300})
	if got := l.SegmentBaseOffsets(); len(got) != 2 || got[1] != 2 {
		t.Fatalf("segments %v, want a roll at 2", got)
	}
	mem := e.fs.(*vfs.MemFS)
	durable := mem.Clone()
	l.finishers.Wait()
	// Pretend the finisher never ran: the old segment's index files hold
	// only what the active segment had written of them (here: nothing), as
	// after a crash before its fsyncs. An empty index is a sound one.
	for _, suf := range []string{indexSuffix, timeIndexSuffix} {
		f, err := durable.OpenFile(filepath.Join(l.Dir(), segmentName(0, suf)), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(0); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if err := durable.SyncDir(l.Dir()); err != nil {
		t.Fatal(err)
	}
	old := e.m
	e.fs = durable.Crash()
	e.open()
	t.Cleanup(func() { _ = old.Close() })
	l = e.log(cfg)
	// Segment 0 was rebuilt by recovery (not left without its indexes), so
	// the time lookup and the reads find its records.
	if o, _, ok, err := l.OffsetForTimestamp(ts); err != nil || !ok || o != 0 {
		t.Fatalf("OffsetForTimestamp = %d %v %v, want 0", o, ok, err)
	}
	if got := fileSize(t, e.fs, filepath.Join(l.Dir(), segmentName(0, timeIndexSuffix))); got == 0 {
		t.Fatal("segment 0's time index not rebuilt")
	}
}
