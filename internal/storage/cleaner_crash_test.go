package storage

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// Crash tests of the cleaner on the strict in-memory filesystem. A log of
// compacted and dirty segments, all durable, is cloned for every trial; the
// trial opens it, lets a clean run until the filesystem "crashes" at a
// random mutating operation (a write or fsync of a .cleaned file, a rename
// to .swap, the rename of an old segment to .deleted, the final renames, a
// directory sync, the cleaner checkpoint...), and takes what a restarted
// process would find: only synced state, or (torn) synced state plus a
// random prefix of the unsynced changes. Reopened, the log must:
//
//   - open, with no .cleaned or .swap file left;
//   - validate end to end (CRCs, offsets, segments ending where the next
//     begins) and hold every record exactly as appended at its offset;
//   - give the model's view (newest value per key): no latest value lost,
//     no older one resurrected;
//   - end at the same log end offset;
//   - compact to the same view when cleaned again.
func TestCleanerCrashes(t *testing.T) {
	trials := 520
	if os.Getenv("SLUICE_LONG") == "1" {
		trials = 5000
	}
	image, cfg, want, wantRecs, leo := cleanerCrashImage(t)

	// Count the mutating operations of a whole clean, to spread the crash
	// points over all of them.
	probe := image.Clone()
	pe := openCrashEnv(t, probe, cfg)
	pl, _ := pe.Get(testTP)
	before := probe.Ops()
	if st, err := pl.Compact(context.Background()); err != nil || st == nil || st.SegmentsWritten == 0 {
		t.Fatalf("probe clean: %+v %v", st, err)
	}
	ops := probe.Ops() - before
	_ = pe.Close()
	if ops < 10 {
		t.Fatalf("a clean of %d mutating operations: too few to test", ops)
	}

	rng := rand.New(rand.NewPCG(7, 11))
	hit := map[vfs.OpKind]int{}
	for trial := 0; trial < trials; trial++ {
		fsys := image.Clone()
		m := openCrashEnv(t, fsys, cfg)
		l, _ := m.Get(testTP)
		k := rng.Int64N(ops + 1)
		fsys.CrashAfter(k)
		_, err := l.Compact(context.Background())
		if op, ok := fsys.CrashPoint(); ok {
			hit[op.Kind]++
		} else if err != nil {
			t.Fatalf("trial %d: clean failed without a crash: %v", trial, err)
		}
		var after *vfs.MemFS
		if rng.IntN(2) == 0 {
			after = fsys.Crash()
		} else {
			after = fsys.CrashTorn(rng)
		}
		what := fmt.Sprintf("trial %d (crash after %d of %d operations)", trial, k, ops)
		m2 := openCrashEnv(t, after, cfg)
		l2, ok := m2.Get(testTP)
		if !ok {
			t.Fatalf("%s: log gone", what)
		}
		ents, err := after.ReadDir(l2.Dir())
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ents {
			if strings.HasSuffix(d.Name(), cleanedSuffix) || strings.HasSuffix(d.Name(), swapSuffix) {
				t.Fatalf("%s: %s left after recovery", what, d.Name())
			}
		}
		checkCrashLog(t, what, l2, want, wantRecs, leo)
		// The recovered log compacts on.
		l2.SetHighWatermark(l2.LogEndOffset())
		if _, err := l2.Compact(context.Background()); err != nil {
			t.Fatalf("%s: clean after recovery: %v", what, err)
		}
		checkCrashLog(t, what+" and a clean", l2, want, wantRecs, leo)
		if err := m2.Close(); err != nil {
			t.Fatalf("%s: close: %v", what, err)
		}
	}
	t.Logf("%d crashes over %d mutating operations of a clean; crash points by kind: %v", trials, ops, hit)
}

func checkCrashLog(t *testing.T, what string, l *Log, want map[string]string, wantRecs map[int64]ckKV, leo int64) {
	t.Helper()
	if l.LogEndOffset() != leo {
		t.Fatalf("%s: log end %d, want %d", what, l.LogEndOffset(), leo)
	}
	recs, _ := ckReadLog(t, l)
	for _, r := range recs {
		w, ok := wantRecs[r.offset]
		if !ok || !bytes.Equal(w.key, r.key) || !bytes.Equal(w.value, r.value) || (w.value == nil) != (r.value == nil) {
			t.Fatalf("%s: offset %d holds %q=%q, appended %q=%q", what, r.offset, r.key, r.value, w.key, w.value)
		}
	}
	if got := ckView(recs); !ckMapsEqual(got, want) {
		t.Fatalf("%s: view\n got %v\nwant %v", what, got, want)
	}
}

func openCrashEnv(t *testing.T, fsys vfs.FS, cfg Config) *Manager {
	t.Helper()
	m, err := OpenManager(context.Background(), ManagerConfig{
		Dirs:              []string{"/data"},
		FS:                fsys,
		Logger:            quietLogger,
		Now:               func() time.Time { return time.UnixMilli(1_700_000_100_000) },
		SchedulerInterval: -1,
		DefaultConfig:     cfg,
	})
	if err != nil {
		t.Fatalf("OpenManager: %v", err)
	}
	return m
}

// cleanerCrashImage builds a durable log: segments compacted once, then
// more records (new values, tombstones, a producer's batches) so that the
// next clean rewrites, merges and drops. It returns the filesystem, the
// config, the expected view, every record by offset and the log end.
func cleanerCrashImage(t *testing.T) (*vfs.MemFS, Config, map[string]string, map[int64]ckKV, int64) {
	fsys := vfs.NewMem()
	e := newCleanEnv(t, fsys, nil)
	cfg := DefaultConfig()
	cfg.CleanupPolicy = CleanupCompact
	cfg.SegmentBytes = 1500
	cfg.IndexIntervalBytes = 200
	cfg.DeleteRetentionMs = 1 << 40 // tombstones stay: the view tells them apart from lost values
	l := e.log(cfg)
	recs := map[int64]ckKV{}
	view := map[string]string{}
	rng := rand.New(rand.NewPCG(3, 5))
	codecs := []record.Codec{record.CodecNone, record.CodecZstd, record.CodecLZ4}
	seq := int32(0)
	add := func(n int) {
		for i := 0; i < n; i++ {
			var batch []ckKV
			for j := 0; j < 1+rng.IntN(3); j++ {
				k := fmt.Sprintf("key-%d", rng.IntN(25))
				v := fmt.Sprintf("value-%d-%d-%s", i, j, strings.Repeat("x", rng.IntN(60)))
				if rng.IntN(8) == 0 {
					v = ckTombstone
				}
				batch = append(batch, ckRec(k, v, e.clock.Ms()))
			}
			o := ckOpts{codec: codecs[rng.IntN(len(codecs))]}
			if rng.IntN(3) == 0 {
				o.pid, o.epoch, o.seq = 77, 0, seq
				seq += int32(len(batch))
			}
			res := ckAppend(t, l, ckBatch(t, o, batch...))
			for j, r := range batch {
				recs[res.BaseOffset+int64(j)] = r
				if r.value == nil {
					delete(view, string(r.key))
				} else {
					view[string(r.key)] = string(r.value)
				}
			}
		}
	}
	add(120)
	settle(l)
	l.SetHighWatermark(l.LogEndOffset())
	ckCompact(t, l)
	add(120)
	settle(l)
	l.SetHighWatermark(l.LogEndOffset())
	leo := l.LogEndOffset()
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}
	e.m = nil
	return fsys, cfg, view, recs, leo
}
