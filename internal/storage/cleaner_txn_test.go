package storage

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/producerstate"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// TestCompactTransactions: compaction drops an aborted transaction's data (which
// shadows nothing), keeps committed data by the usual key rules, and removes the
// markers of transactions with no data left once delete.retention.ms has passed
// since a clean first found them so: stamped first, removed by a later clean,
// with the aborted transaction's index entry.
func TestCompactTransactions(t *testing.T) {
	e := newCleanEnv(t, nil, nil)
	cfg := ckCompactCfg()
	cfg.DeleteRetentionMs = 60_000
	l := e.log(cfg)
	now := e.clock.Ms()
	wantView := map[string]string{"a": "committed", "b": "txn", "c": "new", "d": "later", "e": "later"}
	// Filler of distinct keys: compaction leaves its segments full, so that
	// they are not merged and their producer snapshots stay.
	fill := func(n int) {
		for range n {
			k := fmt.Sprintf("z%d", len(wantView))
			ckAppend(t, l, ckBatch(t, ckOpts{}, ckRec(k, strings.Repeat("v", 60), now)))
			wantView[k] = strings.Repeat("v", 60)
		}
	}
	marker := func(pid int64, commit bool) int64 {
		t.Helper()
		off, err := l.AppendMarker(pid, 0, 0, commit, 0)
		if err != nil {
			t.Fatal(err)
		}
		return off
	}
	ckAppend(t, l, ckBatch(t, ckOpts{}, ckRec("a", "committed", now)))
	abortedAt := ckAppend(t, l, ckBatch(t, ckOpts{pid: 5, seq: 0, transactional: true}, ckRec("a", "aborted", now))).BaseOffset
	ckAppend(t, l, ckBatch(t, ckOpts{pid: 6, seq: 0, transactional: true}, ckRec("b", "txn", now)))
	ckAppend(t, l, ckBatch(t, ckOpts{pid: 7, seq: 0, transactional: true}, ckRec("c", "old", now)))
	fill(20) // a roll: a producer snapshot with the three transactions open
	settle(l)
	openSnaps, err := producerstate.ListSnapshots(e.fs, l.Dir())
	if err != nil || len(openSnaps) == 0 {
		t.Fatalf("no producer snapshot taken while the transactions were open: %v %v", openSnaps, err)
	}
	abort5 := marker(5, false)
	commit6 := marker(6, true)
	commit7 := marker(7, true)
	ckAppend(t, l, ckBatch(t, ckOpts{}, ckRec("c", "new", now)))
	// Producers 5 and 7 write on, so that their first batches are not their
	// last (which compaction keeps, empty, for their sequence numbers, and
	// with them their markers, as Kafka does).
	ckAppend(t, l, ckBatch(t, ckOpts{pid: 5, seq: 1, transactional: true}, ckRec("d", "later", now)))
	marker(5, true)
	ckAppend(t, l, ckBatch(t, ckOpts{pid: 7, seq: 1}, ckRec("e", "later", now)))
	fill(60)
	l.SetHighWatermark(l.LogEndOffset())

	view := func() (map[string]string, map[int64]bool) {
		recs, hs := ckReadLog(t, l)
		var data []ckRecord
		for _, r := range recs {
			if !r.h.Control() {
				data = append(data, r)
			}
		}
		markers := map[int64]bool{}
		for _, h := range hs {
			if h.Control() && h.NumRecords > 0 {
				_, stamped := BatchDeleteHorizon(&h)
				markers[h.BaseOffset] = stamped
			}
		}
		return ckView(data), markers
	}
	abortedTxn := []AbortedTxn{{ProducerID: 5, FirstOffset: abortedAt, LastOffset: abort5}}

	// Clean 1: the aborted value goes and does not shadow the committed one.
	ckCompact(t, l)
	got, markers := view()
	if !ckMapsEqual(got, wantView) {
		t.Fatalf("after the first clean: %v, want %v", got, wantView)
	}
	for _, o := range []int64{abort5, commit6, commit7} {
		if stamped, ok := markers[o]; !ok || stamped {
			t.Fatalf("marker at %d after the first clean: present %v, stamped %v; want present (its data was there when the clean began)", o, ok, stamped)
		}
	}
	if got := l.AbortedTransactions(0, math.MaxInt64); !slices.Equal(got, abortedTxn) {
		t.Fatalf("aborted transactions %v, want %v", got, abortedTxn)
	}

	// Clean 2 (more data came): the markers of 5's aborted and 7's superseded
	// transactions have no data left and get a delete horizon; 6's stays as is.
	fill(30)
	l.SetHighWatermark(l.LogEndOffset())
	ckCompact(t, l)
	got, markers = view()
	if !ckMapsEqual(got, wantView) {
		t.Fatalf("after the second clean: %v, want %v", got, wantView)
	}
	if !markers[abort5] || !markers[commit7] || markers[commit6] {
		t.Fatalf("markers after the second clean (offset: stamped) %v; want %d and %d stamped, %d not", markers, abort5, commit7, commit6)
	}
	if got := l.AbortedTransactions(0, math.MaxInt64); !slices.Equal(got, abortedTxn) {
		t.Fatalf("aborted transactions %v before the horizon, want %v", got, abortedTxn)
	}

	// Before the horizon a clean keeps them; after it, they go.
	e.clock.Advance(30 * time.Second)
	if st, err := ckCleanOnce(e.m); err != nil || st != nil {
		t.Fatalf("clean before the horizon: %+v %v; want nothing to do", st, err)
	}
	e.clock.Advance(31 * time.Second)
	st, err := ckCleanOnce(e.m)
	if err != nil || st == nil {
		t.Fatalf("clean after the horizon: %+v %v", st, err)
	}
	got, markers = view()
	if !ckMapsEqual(got, wantView) {
		t.Fatalf("after the horizon: %v, want %v", got, wantView)
	}
	if _, ok := markers[abort5]; ok {
		t.Fatalf("abort marker at %d kept past its horizon: %v", abort5, markers)
	}
	if _, ok := markers[commit7]; ok {
		t.Fatalf("commit marker at %d kept past its horizon: %v", commit7, markers)
	}
	if stamped, ok := markers[commit6]; !ok || stamped {
		t.Fatalf("marker at %d of a transaction with data: present %v, stamped %v", commit6, ok, stamped)
	}
	if got := l.AbortedTransactions(0, math.MaxInt64); len(got) != 0 {
		t.Fatalf("aborted transactions %v after their marker went, want none", got)
	}
	// No producer snapshot that may hold a transaction open without its
	// marker in the log is left for a recovery to start from.
	snaps, err := producerstate.ListSnapshots(e.fs, l.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range snaps {
		if o <= commit7 {
			t.Fatalf("producer snapshot at %d, at or below the dropped markers (%d, %d): %v", o, abort5, commit7, snaps)
		}
	}
	// A crash, and a recovery of the whole log: no transaction is left open.
	crashed := openCrashEnv(t, e.fs.(*vfs.MemFS).Clone().Crash(), cfg)
	cl, _ := crashed.Get(testTP)
	if o, open := cl.FirstUnstableOffset(); open {
		t.Fatalf("a transaction open at %d after recovery", o)
	}
	_ = crashed.Close()
	e.reopen()
	l = e.log(cfg)
	if got := l.AbortedTransactions(0, math.MaxInt64); len(got) != 0 {
		t.Fatalf("aborted transactions %v after a reopen, want none", got)
	}
	checkTxnIndex(t, "after the cleans and a reopen", l)
}
