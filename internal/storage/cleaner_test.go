package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// ---- helpers shared by the retention and cleaner tests ----

// cenv is a Manager over a filesystem with a fake clock and the cleaner
// settings a test chooses; background goroutines are off unless asked.
type cenv struct {
	t     testing.TB
	fs    vfs.FS
	clock *fakeClock
	cfg   ManagerConfig
	m     *Manager
}

func newCleanEnv(t testing.TB, fsys vfs.FS, tweak func(*ManagerConfig)) *cenv {
	t.Helper()
	if fsys == nil {
		fsys = vfs.NewMem()
	}
	e := &cenv{t: t, fs: fsys, clock: newFakeClock()}
	e.cfg = ManagerConfig{
		Dirs:                   []string{"/data"},
		FS:                     fsys,
		Logger:                 quietLogger,
		Now:                    e.clock.Now,
		SchedulerInterval:      -1,
		RetentionCheckInterval: time.Second,
	}
	if tweak != nil {
		tweak(&e.cfg)
	}
	e.open()
	t.Cleanup(func() {
		if e.m != nil {
			_ = e.m.Close()
		}
	})
	return e
}

func (e *cenv) open() {
	e.t.Helper()
	cfg := e.cfg
	cfg.FS = e.fs
	m, err := OpenManager(context.Background(), cfg)
	if err != nil {
		e.t.Fatalf("OpenManager: %v", err)
	}
	e.m = m
}

func (e *cenv) reopen() {
	e.t.Helper()
	if err := e.m.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.open()
}

// crash simulates a power loss on the MemFS and reopens what it kept.
func (e *cenv) crash() {
	e.t.Helper()
	mem := e.fs.(*vfs.MemFS)
	e.fs = mem.Crash()
	e.m = nil // the old Manager's files are dead
	e.open()
}

func (e *cenv) log(cfg Config) *Log {
	e.t.Helper()
	l, err := e.m.GetOrCreate(testTP, [16]byte{1, 2, 3}, cfg)
	if err != nil {
		e.t.Fatalf("GetOrCreate: %v", err)
	}
	return l
}

// ckKV is one record of a test batch: a nil value is a ckTombstone, a nil key
// a record without key.
type ckKV struct {
	key, value []byte
	ts         int64
}

func ckRec(key, value string, ts int64) ckKV {
	r := ckKV{key: []byte(key), ts: ts}
	if value != "\x00" {
		r.value = []byte(value)
	}
	return r
}

// ckTombstone is ckRec's spelling of a nil value.
const ckTombstone = "\x00"

type ckOpts struct {
	codec         record.Codec
	pid           int64
	epoch         int16
	seq           int32
	transactional bool
}

func ckBatch(t testing.TB, o ckOpts, recs ...ckKV) []byte {
	t.Helper()
	b := record.NewBuilder(o.codec)
	if o.pid > 0 {
		b.SetProducer(o.pid, o.epoch, o.seq)
	}
	b.SetTransactional(o.transactional)
	for _, r := range recs {
		b.Add(r.ts, r.key, r.value)
	}
	out, err := b.Build(nil)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return out
}

func ckAppend(t testing.TB, l *Log, batch []byte) AppendResult {
	t.Helper()
	r, err := l.Append(batch, 0)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return r
}

// ckRecord is a record read back with its batch's header.
type ckRecord struct {
	offset     int64
	key, value []byte
	ts         int64
	h          record.Header
}

// ckReadLog reads the whole log from its start, checking what any consumer
// relies on: whole batches with valid CRCs, batch offsets increasing,
// records inside their batch's [base, last] with increasing offsets, and
// every segment ending where the next begins. It returns the records and
// the batch headers.
func ckReadLog(t testing.TB, l *Log) ([]ckRecord, []record.Header) {
	t.Helper()
	var recs []ckRecord
	var hs []record.Header
	off, prevLast := l.LogStartOffset(), int64(-1)
	for off < l.LogEndOffset() {
		r, err := l.Read(off, 1<<20, -1, true)
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		b, err := r.Bytes()
		r.Release()
		if err != nil {
			t.Fatalf("bytes at %d: %v", off, err)
		}
		if len(b) == 0 {
			t.Fatalf("empty read at %d below the log end %d", off, l.LogEndOffset())
		}
		for len(b) > 0 {
			batch, rest, ok, err := record.NextBatch(b)
			if err != nil || !ok {
				t.Fatalf("partial batch at %d: %v", off, err)
			}
			h, err := record.ParseHeader(batch)
			if err != nil {
				t.Fatalf("header at %d: %v", off, err)
			}
			if !record.CheckCRC(batch) {
				t.Fatalf("batch at %d fails its CRC", h.BaseOffset)
			}
			if h.BaseOffset <= prevLast || h.LastOffset() < h.BaseOffset {
				t.Fatalf("batch [%d, %d] after %d", h.BaseOffset, h.LastOffset(), prevLast)
			}
			prevRec := h.BaseOffset - 1
			err = record.Iterate(batch, func(x *record.Record) error {
				o := x.Offset(&h)
				if o <= prevRec || o > h.LastOffset() {
					return fmt.Errorf("record offset %d in batch [%d, %d] after %d", o, h.BaseOffset, h.LastOffset(), prevRec)
				}
				prevRec = o
				recs = append(recs, ckRecord{offset: o, key: bytes.Clone(x.Key), value: bytes.Clone(x.Value), ts: x.Timestamp(&h), h: h})
				return nil
			})
			if err != nil {
				t.Fatalf("records of batch %d: %v", h.BaseOffset, err)
			}
			hs = append(hs, h)
			prevLast = h.LastOffset()
			off = h.LastOffset() + 1
			b = rest
		}
	}
	// Segments end where the next one starts (recovery checks it).
	segs := l.snapshotSegments()
	defer releaseAll(segs)
	for i := 0; i+1 < len(segs); i++ {
		last := segs[i].base - 1
		for _, h := range hs {
			if h.BaseOffset >= segs[i].base && h.BaseOffset < segs[i+1].base {
				last = h.LastOffset()
			}
		}
		if last != segs[i+1].base-1 && segs[i].size.Load() > 0 {
			t.Fatalf("segment %d ends at %d, the next starts at %d", segs[i].base, last, segs[i+1].base)
		}
	}
	return recs, hs
}

// ckView folds records by key, the newest winning: what a consumer of a
// compacted topic builds. Tombstones remove the key.
func ckView(recs []ckRecord) map[string]string {
	out := map[string]string{}
	for _, r := range recs {
		if r.key == nil {
			continue
		}
		if r.value == nil {
			delete(out, string(r.key))
		} else {
			out[string(r.key)] = string(r.value)
		}
	}
	return out
}

func ckCompactCfg() Config {
	c := DefaultConfig()
	c.CleanupPolicy = CleanupCompact
	c.SegmentBytes = 2048
	c.IndexIntervalBytes = 256
	return c
}

// settle waits for the roll finishers: a rolled segment becomes cleanable
// once its files are durable.
func settle(ls ...*Log) {
	for _, l := range ls {
		l.finishers.Wait()
	}
}

// ckCleanOnce is Manager.CleanOnce once every log settled.
func ckCleanOnce(m *Manager) (*CleanStats, error) {
	settle(m.Logs()...)
	return m.CleanOnce(context.Background())
}

func ckCompact(t testing.TB, l *Log) *CleanStats {
	t.Helper()
	settle(l)
	st, err := l.Compact(context.Background())
	if err != nil {
		t.Fatalf("compact: %v", err)
	}
	return st
}

// ckFill appends n single-record batches cycling over keys k0..k<keys-1>,
// values "v<offset>", one ms apart from ts0; it returns the expected view.
func ckFill(t testing.TB, l *Log, n, keys int, ts0 int64, view map[string]string) {
	t.Helper()
	for i := 0; i < n; i++ {
		o := l.LogEndOffset()
		k, v := fmt.Sprintf("k%d", i%keys), fmt.Sprintf("v%d", o)
		ckAppend(t, l, ckBatch(t, ckOpts{}, ckRec(k, v, ts0+int64(i))))
		view[k] = v
	}
}

// ---- tests ----

func TestCompactKeepsLatestPerKey(t *testing.T) {
	e := newCleanEnv(t, nil, nil)
	l := e.log(ckCompactCfg())
	view := map[string]string{}
	ckFill(t, l, 400, 10, e.clock.Ms(), view)
	l.SetHighWatermark(l.LogEndOffset())
	before := l.NumSegments()
	sizeBefore := l.Size()
	st := ckCompact(t, l)
	if st == nil || st.SegmentsRead == 0 {
		t.Fatalf("nothing cleaned: %+v", st)
	}
	recs, _ := ckReadLog(t, l)
	if got := ckView(recs); !ckMapsEqual(got, view) {
		t.Fatalf("view after compaction\n got %v\nwant %v", got, view)
	}
	// Below the map's end no key appears twice, and every record kept is
	// the one appended at its offset.
	seen := map[string]int64{}
	for _, r := range recs {
		if want := fmt.Sprintf("v%d", r.offset); string(r.value) != want {
			t.Fatalf("offset %d holds %q, appended %q", r.offset, r.value, want)
		}
		if r.offset >= st.EndOffset {
			continue
		}
		if prev, dup := seen[string(r.key)]; dup {
			t.Fatalf("key %s kept at %d and %d below the end %d", r.key, prev, r.offset, st.EndOffset)
		}
		seen[string(r.key)] = r.offset
	}
	if l.Size() >= sizeBefore/2 {
		t.Fatalf("bytes %d -> %d: nothing removed", sizeBefore, l.Size())
	}
	// The first clean groups segments by their size before it; the next
	// one merges the small cleaned segments.
	ckFill(t, l, 100, 10, e.clock.Ms(), view)
	l.SetHighWatermark(l.LogEndOffset())
	ckCompact(t, l)
	if l.NumSegments() >= before/2 {
		t.Fatalf("segments %d -> %d: small cleaned segments not merged", before, l.NumSegments())
	}
	recs, _ = ckReadLog(t, l)
	if got := ckView(recs); !ckMapsEqual(got, view) {
		t.Fatalf("view after the second compaction\n got %v\nwant %v", got, view)
	}
	// No producer snapshot is left at the base of a merged-away segment.
	ents, err := e.fs.ReadDir(l.Dir())
	if err != nil {
		t.Fatal(err)
	}
	bases := l.SegmentBaseOffsets()
	for _, d := range ents {
		if off, ok := parseSegmentName(d.Name(), ".snapshot"); ok && off < bases[len(bases)-1] && !slices.Contains(bases, off) {
			t.Fatalf("snapshot %s left for a merged segment (segments %v)", d.Name(), bases)
		}
	}
	// The log is sound after a crash too: every batch, every index.
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	e.crash()
	l = e.log(ckCompactCfg())
	recs2, _ := ckReadLog(t, l)
	if !slices.EqualFunc(recs, recs2, func(a, b ckRecord) bool { return a.offset == b.offset && bytes.Equal(a.value, b.value) }) {
		t.Fatalf("log differs after a crash and recovery: %d records, then %d; log %d-%d; segments %v", len(recs), len(recs2), l.LogStartOffset(), l.LogEndOffset(), l.SegmentBaseOffsets())
	}
	// Offsets still resolve: reading at any offset gives the batch holding
	// it or the next one.
	for _, r := range recs {
		res, err := l.Read(r.offset, 1, -1, true)
		if err != nil {
			t.Fatal(err)
		}
		if res.FirstOffset > r.offset {
			t.Fatalf("read at %d starts at %d", r.offset, res.FirstOffset)
		}
		res.Release()
	}
}

func ckMapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestCompactNeverTouchesActiveSegmentOrAboveHighWatermark(t *testing.T) {
	e := newCleanEnv(t, nil, nil)
	cfg := ckCompactCfg()
	l := e.log(cfg)
	ckFill(t, l, 200, 5, e.clock.Ms(), map[string]string{})
	bases := l.SegmentBaseOffsets()
	if len(bases) < 5 {
		t.Fatalf("want several segments, have %v", bases)
	}
	// High watermark inside the third segment: only the first two may go.
	l.SetHighWatermark(bases[2] + 1)
	st := ckCompact(t, l)
	if st == nil || st.CleanedEnd > bases[2] {
		t.Fatalf("cleaned up to %+v, high watermark in segment %d", st, bases[2])
	}
	recs, _ := ckReadLog(t, l)
	for o := bases[2]; o < l.LogEndOffset(); o++ {
		if !slices.ContainsFunc(recs, func(r ckRecord) bool { return r.offset == o }) {
			t.Fatalf("offset %d above the cleanable end %d was removed", o, bases[2])
		}
	}
	// With the high watermark at the end, the active segment still stays.
	l.SetHighWatermark(l.LogEndOffset())
	ckCompact(t, l)
	act := l.SegmentBaseOffsets()
	active := act[len(act)-1]
	recs, _ = ckReadLog(t, l)
	for o := active; o < l.LogEndOffset(); o++ {
		if !slices.ContainsFunc(recs, func(r ckRecord) bool { return r.offset == o }) {
			t.Fatalf("offset %d of the active segment was removed", o)
		}
	}
}

func TestCompactTombstonesAfterDeleteRetention(t *testing.T) {
	e := newCleanEnv(t, nil, nil)
	cfg := ckCompactCfg()
	cfg.DeleteRetentionMs = 60_000
	l := e.log(cfg)
	now := e.clock.Ms()
	ckAppend(t, l, ckBatch(t, ckOpts{}, ckRec("a", "1", now), ckRec("b", "1", now), ckRec("c", "1", now)))
	ckAppend(t, l, ckBatch(t, ckOpts{}, ckRec("a", ckTombstone, now), ckRec("b", "2", now)))
	for i := 0; i < 60; i++ { // roll past them
		ckAppend(t, l, ckBatch(t, ckOpts{}, ckRec(fmt.Sprintf("x%d", i%3), strings.Repeat("v", 40), now)))
	}
	l.SetHighWatermark(l.LogEndOffset())
	st := ckCompact(t, l)
	recs, hs := ckReadLog(t, l)
	tomb := slices.IndexFunc(recs, func(r ckRecord) bool { return string(r.key) == "a" })
	if tomb < 0 || recs[tomb].value != nil {
		t.Fatalf("ckTombstone of a gone on the first clean (or its old value kept): %v", recs)
	}
	var horizon int64
	for _, h := range hs {
		if h.BaseOffset <= recs[tomb].offset && recs[tomb].offset <= h.LastOffset() {
			hz, ok := BatchDeleteHorizon(&h)
			if !ok {
				t.Fatal("batch keeping a ckTombstone has no delete horizon")
			}
			horizon = hz
		}
	}
	if horizon != e.clock.Ms()+cfg.DeleteRetentionMs {
		t.Fatalf("delete horizon %d, want now+%d", horizon, cfg.DeleteRetentionMs)
	}
	if recs[tomb].ts != now {
		t.Fatalf("ckTombstone timestamp %d, appended %d", recs[tomb].ts, now)
	}
	// Before the horizon another clean keeps it.
	e.clock.Advance(59 * time.Second)
	ckCompact(t, l)
	recs, _ = ckReadLog(t, l)
	if !slices.ContainsFunc(recs, func(r ckRecord) bool { return string(r.key) == "a" }) {
		t.Fatal("ckTombstone removed before delete.retention.ms")
	}
	// Past it, CleanOnce wants the log (tombstones due) and removes it.
	e.clock.Advance(2 * time.Second)
	st, err := ckCleanOnce(e.m)
	if err != nil || st == nil {
		t.Fatalf("CleanOnce past the delete horizon: %v %v", st, err)
	}
	recs, _ = ckReadLog(t, l)
	if slices.ContainsFunc(recs, func(r ckRecord) bool { return string(r.key) == "a" }) {
		t.Fatal("ckTombstone kept past delete.retention.ms")
	}
	if got := ckView(recs); got["b"] != "2" || got["c"] != "1" || len(got) != 5 {
		t.Fatalf("view %v", got)
	}
}

func TestCompactKeepsBatchFields(t *testing.T) {
	for _, codec := range []record.Codec{record.CodecNone, record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			e := newCleanEnv(t, nil, nil)
			cfg := ckCompactCfg()
			l := e.log(cfg)
			now := e.clock.Ms()
			// Producer 7: batch 1 loses its first record to batch 2.
			r1 := ckAppend(t, l, ckBatch(t, ckOpts{codec: codec, pid: 7, epoch: 3, seq: 0},
				ckRec("a", "1", now), ckRec("b", "1", now+1), ckRec("c", "1", now+2)))
			ckAppend(t, l, ckBatch(t, ckOpts{codec: codec, pid: 7, epoch: 3, seq: 3}, ckRec("a", "2", now+3)))
			for i := 0; i < 40; i++ {
				ckAppend(t, l, ckBatch(t, ckOpts{}, ckRec("z", strings.Repeat("v", 60), now+10)))
			}
			l.SetHighWatermark(l.LogEndOffset())
			var before record.Header
			_, hs := ckReadLog(t, l)
			before = hs[0]
			ckCompact(t, l)
			recs, hs := ckReadLog(t, l)
			h := hs[0]
			if h.BaseOffset != r1.BaseOffset || h.LastOffsetDelta != before.LastOffsetDelta ||
				h.ProducerID != 7 || h.ProducerEpoch != 3 || h.BaseSequence != 0 ||
				h.Codec() != codec || h.NumRecords != 2 || h.PartitionLeaderEpoch != before.PartitionLeaderEpoch {
				t.Fatalf("rebuilt batch header %+v from %+v", h, before)
			}
			if recs[0].offset != 1 || string(recs[0].key) != "b" || recs[0].ts != now+1 || recs[1].ts != now+2 {
				t.Fatalf("records %+v", recs[:2])
			}
			if h.MaxTimestamp != now+2 {
				t.Fatalf("max timestamp %d", h.MaxTimestamp)
			}
		})
	}
}

func TestCompactKeepsProducerLastBatchEmpty(t *testing.T) {
	e := newCleanEnv(t, nil, nil)
	cfg := ckCompactCfg()
	l := e.log(cfg)
	now := e.clock.Ms()
	// Producer 9's only batch is entirely superseded by later records
	// without producer: the batch stays, empty, with its sequence.
	ckAppend(t, l, ckBatch(t, ckOpts{pid: 9, epoch: 1, seq: 0}, ckRec("a", "1", now), ckRec("b", "1", now)))
	for i := 0; i < 40; i++ {
		ckAppend(t, l, ckBatch(t, ckOpts{}, ckRec([]string{"a", "b"}[i%2], strings.Repeat("v", 60), now+1)))
	}
	l.SetHighWatermark(l.LogEndOffset())
	ckCompact(t, l)
	_, hs := ckReadLog(t, l)
	if hs[0].ProducerID != 9 || hs[0].NumRecords != 0 || hs[0].BaseOffset != 0 || hs[0].LastOffset() != 1 || hs[0].BaseSequence != 0 {
		t.Fatalf("producer's last batch %+v", hs[0])
	}
	// After a crash the producer state rebuilt from the log still knows
	// the producer's sequence: its retry is a duplicate, its next batch in
	// order.
	e.crash()
	l = e.log(cfg)
	res := ckAppend(t, l, ckBatch(t, ckOpts{pid: 9, epoch: 1, seq: 0}, ckRec("a", "1", now), ckRec("b", "1", now)))
	if !res.Duplicate || res.BaseOffset != 0 {
		t.Fatalf("retry of the compacted batch: %+v", res)
	}
	if _, err := l.Append(ckBatch(t, ckOpts{pid: 9, epoch: 1, seq: 5}, ckRec("a", "x", now)), 0); !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("out-of-order sequence after compaction: %v", err)
	}
	ckAppend(t, l, ckBatch(t, ckOpts{pid: 9, epoch: 1, seq: 2}, ckRec("a", "x", now)))
}

func TestCompactRefusesKeylessRecords(t *testing.T) {
	e := newCleanEnv(t, nil, nil)
	l := e.log(ckCompactCfg())
	_, err := l.Append(ckBatch(t, ckOpts{}, ckKV{value: []byte("v"), ts: e.clock.Ms()}), 0)
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("keyless record on a compacted log: %v", err)
	}
	if l.LogEndOffset() != 0 {
		t.Fatal("refused batch appended")
	}
	cfg := ckCompactCfg()
	cfg.CleanupPolicy = CleanupCompactDelete
	if err := l.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ckBatch(t, ckOpts{}, ckKV{value: []byte("v"), ts: e.clock.Ms()}), 0); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("keyless record under compact,delete: %v", err)
	}
	cfg.CleanupPolicy = CleanupDelete
	if err := l.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	ckAppend(t, l, ckBatch(t, ckOpts{}, ckKV{value: []byte("v"), ts: e.clock.Ms()}))
}

func TestCleanupPolicyNormalize(t *testing.T) {
	for _, c := range []struct {
		in            Config
		policy        string
		compact, dele bool
	}{
		{Config{}, CleanupDelete, false, true},
		{Config{Compacted: true}, CleanupCompact, true, false},
		{Config{CleanupPolicy: "compact"}, CleanupCompact, true, false},
		{Config{CleanupPolicy: "delete, compact"}, CleanupCompactDelete, true, true},
		{Config{CleanupPolicy: "compact,delete"}, CleanupCompactDelete, true, true},
	} {
		n := c.in.Normalize()
		if n.CleanupPolicy != c.policy || n.Compacted != c.compact || c.in.CompactPolicy() != c.compact || c.in.DeletePolicy() != c.dele {
			t.Errorf("%+v: policy %q compacted %v", c.in, n.CleanupPolicy, n.Compacted)
		}
	}
	n := Config{}.Normalize()
	if n.RetentionMs != DefaultRetentionMs || n.RetentionBytes != -1 || n.DeleteRetentionMs != DefaultDeleteRetentionMs ||
		n.MinCleanableDirtyRatio != 0.5 || n.MaxCompactionLagMs <= 0 {
		t.Fatalf("defaults %+v", n)
	}
	if n := (Config{RetentionMs: -5}).Normalize(); n.RetentionMs != -1 {
		t.Fatalf("negative retention.ms %d", n.RetentionMs)
	}
}

func TestCleanOnceDirtyRatioAndLags(t *testing.T) {
	e := newCleanEnv(t, nil, nil)
	cfg := ckCompactCfg()
	cfg.MinCleanableDirtyRatio = 0.99
	cfg.MaxCompactionLagMs = 3_600_000
	l := e.log(cfg)
	ckFill(t, l, 200, 10, e.clock.Ms(), map[string]string{})
	l.SetHighWatermark(l.LogEndOffset())
	// A first clean of an all-dirty log: ratio 1 > 0.99.
	if st, err := ckCleanOnce(e.m); err != nil || st == nil {
		t.Fatalf("first clean: %v %v", st, err)
	}
	ckFill(t, l, 100, 10, e.clock.Ms(), map[string]string{})
	l.SetHighWatermark(l.LogEndOffset())
	if st, err := ckCleanOnce(e.m); err != nil || st != nil {
		t.Fatalf("clean below min.cleanable.dirty.ratio: %+v %v", st, err)
	}
	// Past max.compaction.lag.ms the oldest dirty record forces a clean.
	e.clock.Advance(time.Hour + time.Second)
	if st, err := ckCleanOnce(e.m); err != nil || st == nil {
		t.Fatalf("clean past max.compaction.lag.ms: %v %v", st, err)
	}

	// min.compaction.lag.ms: nothing younger is compacted.
	cfg.MinCleanableDirtyRatio = 0.01
	cfg.MinCompactionLagMs = 600_000
	if err := l.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	leo := l.LogEndOffset()
	ckFill(t, l, 200, 10, e.clock.Ms(), map[string]string{})
	l.SetHighWatermark(l.LogEndOffset())
	st, err := l.Compact(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st != nil && st.EndOffset > leo {
		t.Fatalf("compacted records younger than min.compaction.lag.ms: %+v", st)
	}
	e.clock.Advance(11 * time.Minute)
	if st := ckCompact(t, l); st == nil || st.EndOffset <= leo {
		t.Fatalf("records past min.compaction.lag.ms not compacted: %+v", st)
	}
}

func TestMaxCompactionLagRollsActiveSegment(t *testing.T) {
	e := newCleanEnv(t, nil, nil)
	cfg := ckCompactCfg()
	cfg.SegmentBytes = 1 << 20
	cfg.MaxCompactionLagMs = 1000
	l := e.log(cfg)
	now := e.clock.Ms()
	ckAppend(t, l, ckBatch(t, ckOpts{}, ckRec("a", "1", now)))
	ckAppend(t, l, ckBatch(t, ckOpts{}, ckRec("a", "2", now+500)))
	if l.NumSegments() != 1 {
		t.Fatal("rolled early")
	}
	ckAppend(t, l, ckBatch(t, ckOpts{}, ckRec("a", "3", now+1500)))
	if l.NumSegments() != 2 {
		t.Fatalf("active segment did not roll by max.compaction.lag.ms: %d segments", l.NumSegments())
	}
}

func TestCompactWithSmallKeyMap(t *testing.T) {
	// A key map of minMapSlots holds ~57 keys: each clean stops where the
	// map filled, and repeated cleans reach the same result.
	e := newCleanEnv(t, nil, func(c *ManagerConfig) { c.CleanerDedupeBufferSize = 1 })
	cfg := ckCompactCfg()
	l := e.log(cfg)
	view := map[string]string{}
	ckFill(t, l, 1500, 300, e.clock.Ms(), view)
	l.SetHighWatermark(l.LogEndOffset())
	var fulls int
	for i := 0; i < 100; i++ {
		st := ckCompact(t, l)
		if st == nil {
			break
		}
		if st.MapFull {
			fulls++
		}
		recs, _ := ckReadLog(t, l)
		if got := ckView(recs); !ckMapsEqual(got, view) {
			t.Fatalf("view after clean %d differs", i)
		}
	}
	if fulls == 0 {
		t.Fatal("the key map never filled")
	}
	recs, _ := ckReadLog(t, l)
	seen := map[string]bool{}
	act := l.SegmentBaseOffsets()
	for _, r := range recs {
		if r.offset >= act[len(act)-1] {
			break
		}
		if seen[string(r.key)] {
			t.Fatalf("key %s twice after cleaning to the end", r.key)
		}
		seen[string(r.key)] = true
	}
}

func TestCompactThrottled(t *testing.T) {
	e := newCleanEnv(t, nil, func(c *ManagerConfig) { c.CleanerIOMaxBytesPerSecond = 100_000 })
	th := e.m.cleaner.throttle
	th.sleep = func(_ context.Context, d time.Duration) error {
		e.clock.Advance(d)
		return nil
	}
	l := e.log(ckCompactCfg())
	ckFill(t, l, 1000, 10, e.clock.Ms(), map[string]string{})
	l.SetHighWatermark(l.LogEndOffset())
	start := e.clock.Now()
	st := ckCompact(t, l)
	took := e.clock.Now().Sub(start)
	io := st.BytesRead + st.BytesWritten
	want := time.Duration(float64(io) / 100_000 * float64(time.Second))
	if took < want*9/10 || took > want*11/10+time.Second {
		t.Fatalf("%d bytes of IO took %v on the clock at 100 kB/s, want about %v", io, took, want)
	}
}

func TestCompactReaderKeepsReplacedSegment(t *testing.T) {
	e := newCleanEnv(t, nil, nil)
	cfg := ckCompactCfg()
	cfg.FileDeleteDelayMs = 1000
	l := e.log(cfg)
	ckFill(t, l, 300, 5, e.clock.Ms(), map[string]string{})
	l.SetHighWatermark(l.LogEndOffset())
	r, err := l.Read(0, 1<<20, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	want, err := r.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(l.Dir(), segmentName(0, logSuffix)+deletedSuffix)
	ckCompact(t, l)
	got, err := r.Bytes()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("region of a replaced segment changed under its reader: %v", err)
	}
	if _, err := e.fs.Stat(first); err != nil {
		t.Fatalf("replaced segment's file gone while read: %v", err)
	}
	e.clock.Advance(time.Hour)
	e.m.Tick()
	if _, err := e.fs.Stat(first); err != nil {
		t.Fatalf("replaced segment's file removed before its reader released it: %v", err)
	}
	r.Release()
	e.m.Tick()
	if _, err := e.fs.Stat(first); err != nil {
		t.Fatal("removed before file.delete.delay.ms after the release")
	}
	e.clock.Advance(2 * time.Second)
	e.m.Tick()
	if _, err := e.fs.Stat(first); err == nil {
		t.Fatal("replaced segment never removed")
	}
}

func TestCleanerCheckpointSurvivesRestart(t *testing.T) {
	e := newCleanEnv(t, nil, nil)
	cfg := ckCompactCfg()
	l := e.log(cfg)
	ckFill(t, l, 200, 5, e.clock.Ms(), map[string]string{})
	l.SetHighWatermark(l.LogEndOffset())
	st := ckCompact(t, l)
	ck, err := readOffsetCheckpoint(e.fs, filepath.Join("/data", CleanerCheckpointFile))
	if err != nil || ck[testTP] != st.EndOffset {
		t.Fatalf("checkpoint %v (%v), want %d", ck, err, st.EndOffset)
	}
	e.reopen()
	l = e.log(cfg)
	if got := e.m.cleaner.firstDirty(l, e.m.cleaner.state(l)); got != st.EndOffset {
		t.Fatalf("first dirty offset after restart %d, want %d", got, st.EndOffset)
	}
	// Nothing new: nothing to clean.
	if st, err := ckCleanOnce(e.m); st != nil || err != nil {
		t.Fatalf("clean of a clean log: %+v %v", st, err)
	}
	// A truncation below it resets it.
	if err := l.TruncateTo(10); err != nil {
		t.Fatal(err)
	}
	if got := e.m.cleaner.firstDirty(l, e.m.cleaner.state(l)); got != l.LogStartOffset() {
		t.Fatalf("first dirty offset after truncation %d", got)
	}
}

func TestCompactTxnFilterHook(t *testing.T) {
	var seen []int64
	e := newCleanEnv(t, nil, func(c *ManagerConfig) {
		c.CleanerTxnFilter = func(tp TopicPartition, h *record.Header, nowMs int64) bool {
			seen = append(seen, h.BaseOffset)
			return h.ProducerID == 5 // producer 5 aborted
		}
	})
	cfg := ckCompactCfg()
	l := e.log(cfg)
	now := e.clock.Ms()
	ckAppend(t, l, ckBatch(t, ckOpts{}, ckRec("a", "committed", now)))
	ckAppend(t, l, ckBatch(t, ckOpts{pid: 5, seq: 0, transactional: true}, ckRec("a", "aborted", now)))
	ckAppend(t, l, ckBatch(t, ckOpts{pid: 6, seq: 0, transactional: true}, ckRec("b", "txn", now)))
	for i := 0; i < 40; i++ {
		ckAppend(t, l, ckBatch(t, ckOpts{}, ckRec("z", strings.Repeat("v", 60), now)))
	}
	// The open transactions hold the last stable offset at 1; for the test
	// end them with markers from the producers.
	for _, pid := range []int64{5, 6} {
		b := record.NewBuilder(record.CodecNone).SetProducer(pid, 0, -1).SetTransactional(true).SetControl(true)
		b.SetBaseOffset(l.LogEndOffset())
		b.Add(now, []byte{0, 0, 0, 0}, []byte{0, 0, 0, 0, 0, 0})
		m, err := b.Build(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.AppendReplicated(m); err != nil {
			t.Fatalf("marker: %v", err)
		}
	}
	for i := 0; i < 40; i++ {
		ckAppend(t, l, ckBatch(t, ckOpts{}, ckRec("z", strings.Repeat("v", 60), now)))
	}
	l.SetHighWatermark(l.LogEndOffset())
	ckCompact(t, l)
	recs, hs := ckReadLog(t, l)
	view := ckView(recs)
	if view["a"] != "committed" || view["b"] != "txn" {
		t.Fatalf("aborted data shadowed or kept: %v", view)
	}
	if !slices.Contains(seen, 1) || !slices.Contains(seen, 2) {
		t.Fatalf("filter not asked about the transactional batches: %v", seen)
	}
	// Producer 5's aborted batch is its last data batch: kept, empty.
	if i := slices.IndexFunc(hs, func(h record.Header) bool { return h.BaseOffset == 1 }); i < 0 || hs[i].NumRecords != 0 {
		t.Fatalf("aborted last batch of its producer: %v", hs)
	}
}

func TestBackgroundCleanerCompacts(t *testing.T) {
	e := newCleanEnv(t, nil, func(c *ManagerConfig) {
		c.SchedulerInterval = time.Hour // the scheduler runs; Tick is not needed here
		c.CleanerBackoff = 10 * time.Millisecond
		c.CleanerThreads = 2
	})
	l := e.log(ckCompactCfg())
	view := map[string]string{}
	ckFill(t, l, 400, 10, e.clock.Ms(), view)
	l.SetHighWatermark(l.LogEndOffset())
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs, _ := ckReadLog(t, l)
		if len(recs) < 150 {
			if got := ckView(recs); !ckMapsEqual(got, view) {
				t.Fatalf("view %v", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background cleaner did not compact: %d records", len(recs))
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}
	e.m = nil
}
