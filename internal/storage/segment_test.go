package storage

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/producerstate"
)

// bases returns the log's segment base offsets after its roll finishers ran.
func bases(l *Log) []int64 {
	l.finishers.Wait()
	return l.SegmentBaseOffsets()
}

func TestRollBySegmentBytes(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.SegmentBytes = 3000
	l := e.log(cfg)
	one := len(build(t, batchSpec{n: 2, ts: e.clock.Ms(), valueSize: 400}))
	res := appendN(t, l, 10, 2, 400, e.clock.Ms())
	perSeg := int(cfg.SegmentBytes) / one
	got := bases(l)
	want := []int64{}
	for i := 0; i < 10; i += perSeg {
		want = append(want, res[i].BaseOffset)
	}
	if len(got) != len(want) {
		t.Fatalf("segments %v, want %v (batch %d bytes, %d per segment)", got, want, one, perSeg)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("segments %v, want %v", got, want)
		}
	}
	// No segment exceeds segment.bytes.
	for _, s := range l.snapshotSegments() {
		if s.size.Load() > cfg.SegmentBytes {
			t.Fatalf("segment %d holds %d bytes > %d", s.base, s.size.Load(), cfg.SegmentBytes)
		}
		s.release()
	}
	// A producer snapshot is written at each new segment's base.
	snaps, err := producerstate.ListSnapshots(e.fs, l.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range got[1:] {
		found := false
		for _, s := range snaps {
			found = found || s == b
		}
		if !found {
			t.Fatalf("no producer snapshot at roll offset %d (have %v)", b, snaps)
		}
	}
	if n := len(readAll(t, l, 0)); n != 10 {
		t.Fatalf("read %d batches across segments, want 10", n)
	}
}

func TestRollBySegmentMs(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.SegmentMs = 1000
	l := e.log(cfg)
	ts := e.clock.Ms()
	// By record timestamps: the first batch's timestamp starts the clock.
	mustAppend(t, l, batchSpec{n: 1, ts: ts})
	mustAppend(t, l, batchSpec{n: 1, ts: ts + 1000}) // exactly segment.ms: no roll
	if got := bases(l); len(got) != 1 {
		t.Fatalf("rolled at exactly segment.ms: %v", got)
	}
	mustAppend(t, l, batchSpec{n: 1, ts: ts + 1001})
	if got := bases(l); len(got) != 2 || got[1] != 2 {
		t.Fatalf("segments %v, want [0 2]", got)
	}
}

func mustAppend(t testing.TB, l *Log, s batchSpec) AppendResult {
	t.Helper()
	r, err := l.Append(build(t, s), 0)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return r
}

func TestRollBySegmentMsWithoutTimestamps(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.SegmentMs = 1000
	l := e.log(cfg)
	b := func() []byte {
		return build(t, batchSpec{timestamps: []int64{-1}})
	}
	if _, err := l.Append(b(), 0); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(1000 * time.Millisecond)
	if _, err := l.Append(b(), 0); err != nil {
		t.Fatal(err)
	}
	if got := bases(l); len(got) != 1 {
		t.Fatalf("rolled at exactly segment.ms: %v", got)
	}
	e.clock.Advance(1 * time.Millisecond)
	if _, err := l.Append(b(), 0); err != nil {
		t.Fatal(err)
	}
	if got := bases(l); len(got) != 2 || got[1] != 2 {
		t.Fatalf("segments %v, want [0 2]", got)
	}
}

func TestRollByIndexFull(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 1 // an entry for every batch but the first
	cfg.SegmentIndexBytes = 4 * timeEntrySize
	l := e.log(cfg)
	ts := e.clock.Ms()
	for i := 0; i < 12; i++ {
		mustAppend(t, l, batchSpec{n: 1, ts: ts + int64(i)})
	}
	// The time index (12-byte entries) fills at 4 entries: 5 batches per
	// segment (the first batch gets no entry).
	got := bases(l)
	want := []int64{0, 5, 10}
	if len(got) != len(want) || got[1] != 5 || got[2] != 10 {
		t.Fatalf("segments %v, want %v", got, want)
	}
}

func TestIndexLookupsClosedAndActive(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.SegmentBytes = 16 << 10
	cfg.IndexIntervalBytes = 2048
	l := e.log(cfg)
	ts := e.clock.Ms()
	var res []AppendResult
	for i := 0; i < 100; i++ {
		n := 1 + i%4
		res = append(res, mustAppend(t, l, batchSpec{n: n, ts: ts + int64(i), valueSize: 300}))
	}
	segs := bases(l)
	if len(segs) < 3 {
		t.Fatalf("want several segments, got %v", segs)
	}
	check := func() {
		t.Helper()
		for _, r := range res {
			for off := r.BaseOffset; off <= r.LastOffset; off++ {
				rr, err := l.Read(off, 1, -1, true)
				if err != nil {
					t.Fatalf("read %d: %v", off, err)
				}
				if rr.FirstOffset != r.BaseOffset {
					t.Fatalf("read %d started at batch %d, want %d", off, rr.FirstOffset, r.BaseOffset)
				}
				rr.Release()
			}
		}
	}
	check()
	// Closed segments' indexes are in their files, sound and non-empty.
	for _, s := range l.snapshotSegments()[:len(segs)-1] {
		s.imu.RLock()
		mem := s.memIndex
		s.imu.RUnlock()
		if mem {
			t.Fatalf("closed segment %d keeps its index in memory", s.base)
		}
		idx, _, ok, err := s.indexFiles()
		if err != nil || !ok || idx.n == 0 {
			t.Fatalf("segment %d index: n=%d ok=%v err=%v", s.base, idx.n, ok, err)
		}
		s.release()
	}
	// After a clean reopen, the same lookups hold.
	e.reopen()
	l = e.log(cfg)
	check()
}

func TestOffsetForTimestamp(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.SegmentBytes = 8 << 10
	cfg.IndexIntervalBytes = 1024
	l := e.log(cfg)
	base := e.clock.Ms() - 100_000
	// Timestamps rise by 10 per record, with one batch out of order.
	var all []int64
	for i := 0; i < 60; i++ {
		tss := []int64{base + int64(i*30), base + int64(i*30+10), base + int64(i*30+20)}
		if i == 20 {
			tss = []int64{base + 5, base + 6, base + 7} // late records
		}
		all = append(all, tss...)
		if _, err := l.Append(build(t, batchSpec{timestamps: tss, valueSize: 200}), 0); err != nil {
			t.Fatal(err)
		}
	}
	if len(bases(l)) < 3 {
		t.Fatal("want several segments")
	}
	want := func(ts int64) (int64, int64, bool) {
		for i, x := range all {
			if x >= ts {
				return int64(i), x, true
			}
		}
		return -1, -1, false
	}
	check := func() {
		t.Helper()
		for _, ts := range []int64{0, base, base + 1, base + 6, base + 10, base + 15, base + 599, base + 600, base + 601, base + 1790, base + 1791, base + 99999} {
			o, rts, ok, err := l.OffsetForTimestamp(ts)
			if err != nil {
				t.Fatal(err)
			}
			wo, wts, wok := want(ts)
			if o != wo || rts != wts || ok != wok {
				t.Fatalf("OffsetForTimestamp(%d) = (%d,%d,%v), want (%d,%d,%v)", ts-base, o, rts-base, ok, wo, wts-base, wok)
			}
		}
		o, ts, err := l.MaxTimestamp()
		if err != nil || o != int64(len(all)-1) || ts != all[len(all)-1] {
			t.Fatalf("MaxTimestamp = (%d,%d,%v), want (%d,%d)", o, ts, err, len(all)-1, all[len(all)-1])
		}
	}
	check()
	e.reopen()
	l = e.log(cfg)
	check()
	// The log start offset bounds the answer.
	if err := l.AdvanceLogStartOffset(100); err != nil {
		t.Fatal(err)
	}
	o, _, ok, err := l.OffsetForTimestamp(0)
	if err != nil || !ok || o != 100 {
		t.Fatalf("OffsetForTimestamp(0) after start 100: %d %v %v", o, ok, err)
	}
}

func TestMaxTimestampFirstOfTies(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	ts := e.clock.Ms()
	mustAppend(t, l, batchSpec{timestamps: []int64{ts - 5, ts, ts - 1}})
	mustAppend(t, l, batchSpec{timestamps: []int64{ts, ts - 3}})
	o, mts, err := l.MaxTimestamp()
	if err != nil || o != 1 || mts != ts {
		t.Fatalf("MaxTimestamp = (%d,%d,%v), want (1,%d)", o, mts, err, ts)
	}
	empty, err := e.m.GetOrCreate(TopicPartition{"empty", 0}, [16]byte{}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if o, ts, err := empty.MaxTimestamp(); o != -1 || ts != -1 || err != nil {
		t.Fatalf("empty log MaxTimestamp (%d,%d,%v)", o, ts, err)
	}
	if _, _, ok, _ := empty.OffsetForTimestamp(0); ok {
		t.Fatal("empty log found a timestamp")
	}
}

func TestSegmentFileNames(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.SegmentBytes = 500
	l := e.log(cfg)
	appendN(t, l, 3, 1, 400, e.clock.Ms())
	bases(l)
	for _, name := range []string{"00000000000000000000.log", "00000000000000000000.index", "00000000000000000000.timeindex",
		"00000000000000000001.log", "00000000000000000002.log", "00000000000000000001.snapshot", LeaderEpochCheckpointFile, PartitionMetadataFile} {
		if _, err := e.fs.Stat(filepath.Join(l.Dir(), name)); err != nil {
			t.Errorf("missing %s: %v", name, err)
		}
	}
	if l.Dir() != "/data/events-0" {
		t.Fatalf("dir %s", l.Dir())
	}
}
