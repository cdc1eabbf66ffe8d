package storage

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// retentionCfg is a delete-policy log of small segments.
func retentionCfg() Config {
	c := DefaultConfig()
	c.SegmentBytes = 1024
	c.IndexIntervalBytes = 256
	return c
}

// appendAt appends n batches of one 100-byte record stamped ts.
func appendAt(t testing.TB, l *Log, n int, ts int64) {
	t.Helper()
	for i := 0; i < n; i++ {
		ckAppend(t, l, ckBatch(t, ckOpts{}, ckRec("k", strings.Repeat("v", 100), ts)))
	}
}

func TestRetentionByTime(t *testing.T) {
	e := newCleanEnv(t, nil, nil)
	cfg := retentionCfg()
	cfg.RetentionMs = int64(time.Hour / time.Millisecond)
	l := e.log(cfg)
	old := e.clock.Ms()
	appendAt(t, l, 40, old) // several segments, all stamped now
	e.clock.Advance(30 * time.Minute)
	appendAt(t, l, 40, e.clock.Ms())
	settle(l)
	l.SetHighWatermark(l.LogEndOffset())
	bases := l.SegmentBaseOffsets()

	// Within retention.ms nothing goes.
	e.clock.Advance(29 * time.Minute)
	e.m.Tick()
	if got := l.SegmentBaseOffsets(); len(got) != len(bases) {
		t.Fatalf("segments deleted before retention.ms: %v -> %v", bases, got)
	}
	// Past it, the old segments go, the log start moves to the first
	// segment left, and it is checkpointed.
	e.clock.Advance(2 * time.Minute)
	e.m.Tick()
	got := l.SegmentBaseOffsets()
	if len(got) >= len(bases) || got[0] == 0 {
		t.Fatalf("old segments kept: %v -> %v", bases, got)
	}
	if l.LogStartOffset() != got[0] {
		t.Fatalf("log start %d, first segment %d", l.LogStartOffset(), got[0])
	}
	for _, s := range l.snapshotSegments() {
		ts, _, err := s.maxTimestamp()
		s.release()
		if err != nil {
			t.Fatal(err)
		}
		if s.base < got[len(got)-1] && ts < old+int64(30*time.Minute/time.Millisecond) && s.base != got[0] {
			t.Fatalf("segment %d with max timestamp %d kept", s.base, ts)
		}
	}
	ck, err := readOffsetCheckpoint(e.fs, filepath.Join("/data", LogStartCheckpointFile))
	if err != nil || ck[testTP] != got[0] {
		t.Fatalf("log start checkpoint %v %v, want %d", ck, err, got[0])
	}
	// Long after, every closed segment goes but the active one never does.
	e.clock.Advance(24 * time.Hour)
	e.m.Tick()
	if got := l.SegmentBaseOffsets(); len(got) != 1 || l.LogStartOffset() != got[0] {
		t.Fatalf("segments %v, log start %d", got, l.LogStartOffset())
	}
	if l.Size() == 0 {
		t.Fatal("the active segment's data went")
	}
	ckAppend(t, l, ckBatch(t, ckOpts{}, ckRec("k", "v", e.clock.Ms())))
}

func TestRetentionBySize(t *testing.T) {
	e := newCleanEnv(t, nil, nil)
	cfg := retentionCfg()
	cfg.RetentionMs = -1
	cfg.RetentionBytes = 5000
	l := e.log(cfg)
	appendAt(t, l, 100, e.clock.Ms())
	settle(l)
	l.SetHighWatermark(l.LogEndOffset())
	e.clock.Advance(time.Second)
	e.m.Tick()
	// Kafka's rule: a segment goes only if the log stays at or above the
	// limit without it; the log keeps at most a segment over it.
	if l.Size() < 5000 || l.NumSegments() > 8 {
		t.Fatalf("log of %d bytes in %d segments for retention.bytes 5000", l.Size(), l.NumSegments())
	}
	segs := l.snapshotSegments()
	first := segs[0].size.Load()
	releaseAll(segs)
	if l.Size()-first >= 5000 {
		t.Fatalf("log of %d bytes could lose its first segment (%d) and stay above 5000", l.Size(), first)
	}
	if l.LogStartOffset() != l.SegmentBaseOffsets()[0] {
		t.Fatal("log start not moved")
	}
}

func TestRetentionStopsAtHighWatermark(t *testing.T) {
	e := newCleanEnv(t, nil, nil)
	cfg := retentionCfg()
	cfg.RetentionMs = 1000
	l := e.log(cfg)
	appendAt(t, l, 40, e.clock.Ms())
	settle(l)
	bases := l.SegmentBaseOffsets()
	l.SetHighWatermark(bases[2] + 1) // inside the third segment
	e.clock.Advance(time.Hour)
	e.m.Tick()
	if got := l.SegmentBaseOffsets(); got[0] != bases[2] {
		t.Fatalf("segments %v -> %v with the high watermark at %d", bases, got, bases[2]+1)
	}
}

func TestRetentionPolicies(t *testing.T) {
	for _, c := range []struct {
		policy  string
		deletes bool
	}{{CleanupDelete, true}, {CleanupCompact, false}, {CleanupCompactDelete, true}} {
		t.Run(c.policy, func(t *testing.T) {
			e := newCleanEnv(t, nil, nil)
			cfg := retentionCfg()
			cfg.CleanupPolicy = c.policy
			cfg.RetentionMs = 1000
			l := e.log(cfg)
			appendAt(t, l, 40, e.clock.Ms())
			settle(l)
			l.SetHighWatermark(l.LogEndOffset())
			n := l.NumSegments()
			e.clock.Advance(time.Hour)
			e.m.Tick()
			if deleted := l.NumSegments() < n; deleted != c.deletes {
				t.Fatalf("cleanup.policy %s: deleted %v", c.policy, deleted)
			}
		})
	}
}

func TestRetentionWaitsForCheckInterval(t *testing.T) {
	e := newCleanEnv(t, nil, func(c *ManagerConfig) { c.RetentionCheckInterval = 5 * time.Minute })
	cfg := retentionCfg()
	cfg.RetentionMs = 1000
	l := e.log(cfg)
	appendAt(t, l, 40, e.clock.Ms())
	settle(l)
	l.SetHighWatermark(l.LogEndOffset())
	n := l.NumSegments()
	e.clock.Advance(4 * time.Minute)
	e.m.Tick()
	if l.NumSegments() != n {
		t.Fatal("retention ran before log.retention.check.interval.ms")
	}
	e.clock.Advance(time.Minute)
	e.m.Tick()
	if l.NumSegments() == n {
		t.Fatal("retention did not run after log.retention.check.interval.ms")
	}
}

func TestRetentionKeepsSegmentsBeingRead(t *testing.T) {
	e := newCleanEnv(t, nil, nil)
	cfg := retentionCfg()
	cfg.RetentionMs = 1000
	cfg.FileDeleteDelayMs = 10_000
	l := e.log(cfg)
	appendAt(t, l, 40, e.clock.Ms())
	settle(l)
	l.SetHighWatermark(l.LogEndOffset())
	r, err := l.Read(0, 1<<20, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	want, err := r.Bytes()
	if err != nil || len(want) == 0 {
		t.Fatalf("read: %v", err)
	}
	name := filepath.Join(l.Dir(), segmentName(0, logSuffix))
	e.clock.Advance(time.Hour)
	e.m.Tick()
	if l.LogStartOffset() == 0 {
		t.Fatal("retention did not run")
	}
	// Out of the log, renamed, but whole for its reader.
	if _, err := e.fs.Stat(name + deletedSuffix); err != nil {
		t.Fatalf("segment being read not kept as .deleted: %v", err)
	}
	e.clock.Advance(time.Hour)
	e.m.Tick()
	got, err := r.Bytes()
	if err != nil || string(got) != string(want) {
		t.Fatalf("reader's region changed: %v", err)
	}
	if _, err := e.fs.Stat(name + deletedSuffix); err != nil {
		t.Fatalf("segment removed while read: %v", err)
	}
	r.Release()
	// file.delete.delay.ms counts from the release.
	e.m.Tick()
	if _, err := e.fs.Stat(name + deletedSuffix); err != nil {
		t.Fatal("removed before file.delete.delay.ms")
	}
	e.clock.Advance(11 * time.Second)
	e.m.Tick()
	if _, err := e.fs.Stat(name + deletedSuffix); err == nil {
		t.Fatal("released segment never removed")
	}
}

func TestRetentionKeepsProducerStateAndLogStart(t *testing.T) {
	e := newCleanEnv(t, nil, nil)
	cfg := retentionCfg()
	cfg.RetentionMs = 1000
	l := e.log(cfg)
	ts := e.clock.Ms()
	seq := int32(0)
	for i := 0; i < 40; i++ {
		ckAppend(t, l, ckBatch(t, ckOpts{pid: 11, epoch: 2, seq: seq}, ckRec("k", strings.Repeat("v", 100), ts)))
		seq++
	}
	settle(l)
	l.SetHighWatermark(l.LogEndOffset())
	e.clock.Advance(time.Hour)
	e.m.Tick()
	start := l.LogStartOffset()
	if start == 0 {
		t.Fatal("retention did not run")
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	e.crash()
	l = e.log(cfg)
	if l.LogStartOffset() != start || l.SegmentBaseOffsets()[0] != start {
		t.Fatalf("after a crash: log start %d (was %d), segments %v", l.LogStartOffset(), start, l.SegmentBaseOffsets())
	}
	// No producer snapshot is left below the log's first segment.
	snaps, err := e.fs.ReadDir(l.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range snaps {
		if off, ok := parseSegmentName(d.Name(), ".snapshot"); ok && off < start {
			t.Fatalf("producer snapshot %s below the log start %d", d.Name(), start)
		}
	}
	// The producer's sequence survived: its last batch is a duplicate, its
	// next one in order.
	res := ckAppend(t, l, ckBatch(t, ckOpts{pid: 11, epoch: 2, seq: seq - 1}, ckRec("k", strings.Repeat("v", 100), ts)))
	if !res.Duplicate {
		t.Fatalf("retry of the last batch after retention and a crash: %+v", res)
	}
	ckAppend(t, l, ckBatch(t, ckOpts{pid: 11, epoch: 2, seq: seq}, ckRec("k", "v", ts)))
}

// TestRetentionAlongsideAppends runs retention and compaction while a
// writer appends and a reader reads (for the race detector): appends never
// fail and reads never see a torn or out-of-order batch.
func TestRetentionAlongsideAppends(t *testing.T) {
	e := newCleanEnv(t, nil, nil)
	cfg := retentionCfg()
	cfg.CleanupPolicy = CleanupCompactDelete
	cfg.RetentionMs = 60_000
	l := e.log(cfg)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	writerDone := make(chan struct{})
	go func() {
		defer wg.Done()
		defer close(writerDone)
		for i := 0; i < 3000; i++ {
			r, err := l.Append(ckBatch(t, ckOpts{}, ckRec(string(rune('a'+i%7)), strings.Repeat("v", 50), e.clock.Ms())), 0)
			if err != nil {
				t.Errorf("append: %v", err)
				return
			}
			l.SetHighWatermark(r.LastOffset + 1)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			off := l.LogStartOffset()
			r, err := l.Read(off, 4096, -1, true)
			if err != nil {
				continue // the log start moved under us
			}
			if _, err := r.Bytes(); err != nil {
				t.Errorf("read at %d: %v", off, err)
			}
			r.Release()
		}
	}()
	for i := 0; ; i++ {
		e.clock.Advance(20 * time.Second)
		e.m.Tick()
		if _, err := l.Compact(t.Context()); err != nil {
			t.Errorf("compact: %v", err)
		}
		select {
		case <-writerDone:
		default:
			continue
		}
		if i >= 10 {
			break
		}
	}
	close(stop)
	wg.Wait()
	ckReadLog(t, l)
}
