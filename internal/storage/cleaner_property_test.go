package storage

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/record"
)

// Property test of compaction against an in-memory model. Random runs
// append batches of keyed records and tombstones (random codecs, some from
// an idempotent producer), advance the fake clock, compact (forced or by
// CleanOnce), and close or crash and reopen. After every step that can
// change the log, reading it must show:
//
//   - a sound log: CRCs, offsets increasing within and across batches,
//     segments ending where the next begins;
//   - every record kept exactly as appended at its offset;
//   - the consumer's view (newest record per key, tombstones removing the
//     key) equal to the model's;
//   - after a clean, no key twice below the offset where its key map ended;
//   - tombstones respected by their age: one below that offset is kept
//     while the clean's time is before its delete horizon (the time of the
//     first clean that rewrote it plus delete.retention.ms) and is gone
//     once the time reaches it.
func TestCompactionProperty(t *testing.T) {
	runs, steps := 40, 250
	if os.Getenv("SLUICE_LONG") == "1" {
		runs, steps = 400, 600
	}
	for run := 0; run < runs; run++ {
		seed := uint64(run)*7919 + 17
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			propertyRun(t, seed, steps)
		})
	}
}

type modelRec struct {
	key, value []byte // value nil: tombstone
	ts         int64
}

type compactionModel struct {
	recs map[int64]modelRec
	// firstCovered is, for each tombstone offset, the time of the first
	// clean that rewrote its batch.
	firstCovered map[int64]int64
	leo          int64
}

func (m *compactionModel) view() map[string]string {
	out := map[string]string{}
	for o := int64(0); o < m.leo; o++ {
		r, ok := m.recs[o]
		if !ok {
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

// latestOffset returns the offset of key's newest record in [0, below).
func (m *compactionModel) newerInRange(key []byte, after, below int64) bool {
	for o := after + 1; o < below; o++ {
		if r, ok := m.recs[o]; ok && bytes.Equal(r.key, key) {
			return true
		}
	}
	return false
}

func propertyRun(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	e := newCleanEnv(t, nil, func(c *ManagerConfig) {
		if rng.IntN(3) == 0 {
			c.CleanerDedupeBufferSize = int64(64+rng.IntN(200)) * mapSlotBytes // the map fills
		}
	})
	cfg := DefaultConfig()
	cfg.CleanupPolicy = CleanupCompact
	cfg.SegmentBytes = int64(400 + rng.IntN(3000))
	cfg.IndexIntervalBytes = 64 + rng.IntN(512)
	cfg.DeleteRetentionMs = int64(1000 + rng.IntN(20_000))
	cfg.MinCleanableDirtyRatio = 0.05 + rng.Float64()*0.5
	l := e.log(cfg)
	keys := 3 + rng.IntN(40)
	codecs := []record.Codec{record.CodecNone, record.CodecNone, record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd}
	m := &compactionModel{recs: map[int64]modelRec{}, firstCovered: map[int64]int64{}}
	pidSeq := int32(0)

	check := func(what string, st *CleanStats, cleanAt int64) {
		t.Helper()
		recs, _ := ckReadLog(t, l)
		for _, r := range recs {
			want, ok := m.recs[r.offset]
			if !ok || !bytes.Equal(r.key, want.key) || !bytes.Equal(r.value, want.value) || (r.value == nil) != (want.value == nil) || r.ts != want.ts {
				t.Fatalf("%s: offset %d holds %q=%q@%d, appended %q=%q@%d", what, r.offset, r.key, r.value, r.ts, want.key, want.value, want.ts)
			}
		}
		if got, want := ckView(recs), m.view(); !ckMapsEqual(got, want) {
			t.Fatalf("%s: view\n got %v\nwant %v", what, got, want)
		}
		if l.LogEndOffset() != m.leo {
			t.Fatalf("%s: log end %d, model %d", what, l.LogEndOffset(), m.leo)
		}
		if st == nil {
			return
		}
		present := map[int64]bool{}
		for _, r := range recs {
			present[r.offset] = true
			if r.offset >= st.EndOffset {
				continue
			}
			if m.newerInRange(r.key, r.offset, st.EndOffset) {
				t.Fatalf("%s: offset %d (key %s) kept though its key recurs below %d", what, r.offset, r.key, st.EndOffset)
			}
		}
		// Tombstones by age.
		for o, r := range m.recs {
			if r.value != nil || o >= st.EndOffset {
				continue
			}
			first, ok := m.firstCovered[o]
			if !ok {
				t.Fatalf("%s: tombstone at %d below the map end %d never covered by a clean", what, o, st.EndOffset)
			}
			latest := !m.newerInRange(r.key, o, m.leo)
			due := cleanAt >= first+cfg.DeleteRetentionMs
			switch {
			case present[o] && due:
				t.Fatalf("%s: tombstone at %d first cleaned at %d kept at %d past delete.retention.ms %d", what, o, first, cleanAt, cfg.DeleteRetentionMs)
			case !present[o] && !due && latest:
				t.Fatalf("%s: tombstone at %d first cleaned at %d gone at %d before delete.retention.ms %d", what, o, first, cleanAt, cfg.DeleteRetentionMs)
			}
		}
	}
	// cover records the first clean of every tombstone below end.
	cleans := 0
	cover := func(st *CleanStats, at int64) {
		if st == nil {
			return
		}
		cleans++
		for o, r := range m.recs {
			if r.value == nil && o < st.CleanedEnd {
				if _, ok := m.firstCovered[o]; !ok {
					m.firstCovered[o] = at
				}
			}
		}
	}
	for step := 0; step < steps; step++ {
		switch x := rng.IntN(100); {
		case x < 70:
			n := 1 + rng.IntN(4)
			now := e.clock.Ms()
			var recs []ckKV
			for i := 0; i < n; i++ {
				k := fmt.Sprintf("key-%d", rng.IntN(keys))
				v := fmt.Sprintf("%d/%d/%s", step, i, bytes.Repeat([]byte{'x'}, rng.IntN(80)))
				if rng.IntN(6) == 0 {
					v = ckTombstone
				}
				recs = append(recs, ckRec(k, v, now+int64(i)))
			}
			o := ckOpts{codec: codecs[rng.IntN(len(codecs))]}
			if rng.IntN(4) == 0 {
				o.pid, o.epoch, o.seq = 42, 1, pidSeq
				pidSeq += int32(n)
			}
			res := ckAppend(t, l, ckBatch(t, o, recs...))
			for i, r := range recs {
				m.recs[res.BaseOffset+int64(i)] = modelRec{key: r.key, value: r.value, ts: r.ts}
			}
			m.leo = res.LastOffset + 1
			if rng.IntN(10) != 0 {
				l.SetHighWatermark(m.leo)
			}
		case x < 80:
			e.clock.Advance(time.Duration(rng.IntN(5000)) * time.Millisecond)
		case x < 90:
			settle(l)
			at := e.clock.Ms()
			st, err := l.Compact(context.Background())
			if err != nil {
				t.Fatalf("step %d: compact: %v", step, err)
			}
			cover(st, at)
			check(fmt.Sprintf("step %d compact", step), st, at)
		case x < 95:
			settle(l)
			at := e.clock.Ms()
			st, err := e.m.CleanOnce(context.Background())
			if err != nil {
				t.Fatalf("step %d: CleanOnce: %v", step, err)
			}
			cover(st, at)
			check(fmt.Sprintf("step %d CleanOnce", step), st, at)
		case x < 97:
			e.reopen()
			l = e.log(cfg)
			l.SetHighWatermark(m.leo)
			check(fmt.Sprintf("step %d reopen", step), nil, 0)
		default:
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			e.crash()
			l = e.log(cfg)
			l.SetHighWatermark(m.leo)
			check(fmt.Sprintf("step %d crash", step), nil, 0)
		}
	}
	settle(l)
	at := e.clock.Ms()
	st, err := l.Compact(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cover(st, at)
	check("final", st, at)
	recs, _ := ckReadLog(t, l)
	t.Logf("appended %d records, %d kept, %d cleans, %d tombstones cleaned at least once, %d segments", m.leo, len(recs), cleans, len(m.firstCovered), l.NumSegments())
}
