package group

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func txnReq(group string, pid int64, epoch int16, offs ...CommitOffset) TxnCommitRequest {
	return TxnCommitRequest{TransactionalID: "tx", Group: group, ProducerID: pid, ProducerEpoch: epoch, Generation: -1, Offsets: offs}
}

// txnCommit commits offs in pid's transaction and fails on any error.
func (h *harness) txnCommit(group string, pid int64, epoch int16, offs ...CommitOffset) {
	h.t.Helper()
	for i, err := range now(h.t, h.c.TxnOffsetCommit(txnReq(group, pid, epoch, offs...))) {
		wantErr(h.t, "txn commit partition "+offs[i].Topic, err, nil)
	}
}

// endTxn writes pid's marker to the partition and reports it, as the
// WriteTxnMarkers handler does.
func (h *harness) endTxn(pid int64, epoch int16, commit bool) {
	h.t.Helper()
	h.store.marker(0, pid, epoch, commit)
	if err := h.c.CompleteTransaction(0, pid, epoch, commit); err != nil {
		h.t.Fatalf("complete transaction of %d: %v", pid, err)
	}
}

// stable fetches offsets with require_stable.
func (h *harness) stable(group, topic string, ps ...int32) []FetchedOffset {
	h.t.Helper()
	out, err := h.c.FetchOffsets(group, []TopicPartitions{{Topic: topic, Partitions: ps}}, true)
	if err != nil {
		h.t.Fatalf("fetch stable offsets of %s: %v", group, err)
	}
	return out[0].Partitions
}

func wantOffsets(t *testing.T, h *harness, what, group, topic string, want map[int32]int64) {
	t.Helper()
	for p, w := range want {
		if got := h.offsetOf(group, topic, p); got != w {
			t.Fatalf("%s: %s %s/%d = %d, want %d", what, group, topic, p, got, w)
		}
	}
}

// TestTxnOffsetsVisibleOnlyOnCommit: offsets committed in a transaction
// are invisible to OffsetFetch (UNSTABLE_OFFSET_COMMIT with require_stable)
// until the commit marker, and are written as the producer's transactional
// records.
func TestTxnOffsetsVisibleOnlyOnCommit(t *testing.T) {
	h := newHarness(t, nil)
	now(t, h.c.CommitOffsets(commitReq("g", -1, "", co("t", 0, 5))))
	h.txnCommit("g", 7, 3, co("t", 0, 10), co("t", 1, 20))

	wantOffsets(t, h, "before the marker", "g", "t", map[int32]int64{0: 5, 1: -1})
	for _, f := range h.stable("g", "t", 0, 1, 2) {
		switch f.Partition {
		case 0, 1:
			wantErr(t, "require_stable on a partition with a pending offset", f.Err, kerr.UnstableOffsetCommit)
			if f.Offset != -1 {
				t.Fatalf("unstable partition %d answered offset %d, want -1", f.Partition, f.Offset)
			}
		case 2:
			wantErr(t, "require_stable on a partition without one", f.Err, nil)
		}
	}
	all, err := h.c.FetchOffsets("g", nil, true)
	if err != nil || len(all) != 1 || len(all[0].Partitions) != 1 || all[0].Partitions[0].Err != kerr.UnstableOffsetCommit {
		t.Fatalf("all offsets with require_stable: %+v %v, want t/0 unstable only", all, err)
	}
	all = h.fetch("g")
	if len(all) != 1 || len(all[0].Partitions) != 1 || all[0].Partitions[0].Offset != 5 {
		t.Fatalf("all offsets: %+v, want t/0 at 5 only", all)
	}

	recs := h.store.parts[0][len(h.store.parts[0])-2:]
	for _, r := range recs {
		if r.pid != 7 || r.epoch != 3 {
			t.Fatalf("transactional record written with producer %d epoch %d, want 7 and 3", r.pid, r.epoch)
		}
	}

	h.endTxn(7, 3, true)
	wantOffsets(t, h, "after the commit marker", "g", "t", map[int32]int64{0: 10, 1: 20})
	for _, f := range h.stable("g", "t", 0, 1) {
		wantErr(t, "require_stable after the commit", f.Err, nil)
	}
}

// TestTxnAbortDropsOffsets: an abort marker drops the pending offsets, and
// only those of its producer.
func TestTxnAbortDropsOffsets(t *testing.T) {
	h := newHarness(t, nil)
	now(t, h.c.CommitOffsets(commitReq("g", -1, "", co("t", 0, 5))))
	h.txnCommit("g", 7, 0, co("t", 0, 10))
	h.txnCommit("g", 8, 0, co("t", 1, 30))
	h.txnCommit("other", 7, 0, co("t", 0, 40))

	h.endTxn(7, 0, false)
	wantOffsets(t, h, "after the abort", "g", "t", map[int32]int64{0: 5})
	wantOffsets(t, h, "after the abort", "other", "t", map[int32]int64{0: -1})
	wantErr(t, "t/0 after the abort", h.stable("g", "t", 0)[0].Err, nil)
	wantErr(t, "another producer's pending t/1", h.stable("g", "t", 1)[0].Err, kerr.UnstableOffsetCommit)

	h.endTxn(8, 0, true)
	wantOffsets(t, h, "after the other producer's commit", "g", "t", map[int32]int64{0: 5, 1: 30})
	// A marker without pending offsets changes nothing.
	h.endTxn(7, 0, true)
	wantOffsets(t, h, "after a marker without pending offsets", "g", "t", map[int32]int64{0: 5, 1: 30})
}

// TestTxnCommitAgainstPlainCommits: the commit that comes later in the log
// wins, transactional or not.
func TestTxnCommitAgainstPlainCommits(t *testing.T) {
	h := newHarness(t, nil)
	h.txnCommit("g", 7, 0, co("t", 0, 10))
	now(t, h.c.CommitOffsets(commitReq("g", -1, "", co("t", 0, 15))))
	now(t, h.c.CommitOffsets(commitReq("g", -1, "", co("t", 1, 15))))
	h.txnCommit("g", 7, 0, co("t", 1, 10))
	h.endTxn(7, 0, true)
	wantOffsets(t, h, "after the commit", "g", "t", map[int32]int64{0: 15, 1: 10})
	h.start()
	wantOffsets(t, h, "after a reload", "g", "t", map[int32]int64{0: 15, 1: 10})
}

// TestTxnCommitValidation: who may commit in a transaction (KIP-447's
// group metadata) and which producer epochs are fenced.
func TestTxnCommitValidation(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 2)
	inst := "inst-1"
	sr := joinReq("s", "")
	sr.InstanceID = &inst
	js := now(t, h.c.JoinGroup(sr))
	now(t, h.c.SyncGroup(SyncRequest{Group: "s", Generation: js.Generation, MemberID: js.MemberID, InstanceID: &inst, Assignments: assignments(js.MemberID)}))

	member := func(group string, gen int32, id string, instance *string) TxnCommitRequest {
		r := txnReq(group, 7, 0, co("t", 0, 1))
		r.Generation, r.MemberID, r.InstanceID = gen, id, instance
		return r
	}
	other := "inst-2"
	for _, tc := range []struct {
		name string
		req  TxnCommitRequest
		want error
	}{
		{"member of the generation", member("g", gen, ids[1], nil), nil},
		{"old generation", member("g", gen-1, ids[1], nil), kerr.IllegalGeneration},
		{"unknown member", member("g", gen, "nobody", nil), kerr.UnknownMemberID},
		{"no group metadata into an active group (v0-2)", member("g", -1, "", nil), nil},
		{"static member", member("s", js.Generation, js.MemberID, &inst), nil},
		{"fenced instance", member("s", js.Generation, "old-id", &inst), kerr.FencedInstanceID},
		{"unknown instance", member("s", js.Generation, js.MemberID, &other), kerr.UnknownMemberID},
		{"generation of a group that does not exist", member("none", 1, "someone", nil), kerr.IllegalGeneration},
		{"no group: a simple group", member("simple", -1, "", nil), nil},
		{"no producer id", func() TxnCommitRequest { r := member("simple", -1, "", nil); r.ProducerID = -1; return r }(), kerr.InvalidProducerIDMapping},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := now(t, h.c.TxnOffsetCommit(tc.req))
			wantErr(t, tc.name, errs[0], tc.want)
		})
	}
	if _, err := h.c.DescribeGroup("none"); err != kerr.GroupIDNotFound {
		t.Fatalf("a refused commit created a group: %v", err)
	}

	// Mid-rebalance, between the join and the sync, a transactional
	// commit of the current generation is taken (OffsetCommit's are not).
	ch := h.c.JoinGroup(joinReq("g", ids[0]))
	notYet(t, ch)
	ch1 := h.c.JoinGroup(joinReq("g", ids[1]))
	j := now(t, ch)
	now(t, ch1)
	wantErr(t, "plain commit between join and sync", now(t, h.c.CommitOffsets(commitReq("g", j.Generation, ids[1], co("t", 0, 2))))[0], kerr.RebalanceInProgress)
	wantErr(t, "txn commit between join and sync", now(t, h.c.TxnOffsetCommit(member("g", j.Generation, ids[1], nil)))[0], nil)

	// Metadata too large, beside a good partition.
	big := strings.Repeat("x", h.cfg.MaxMetadataBytes+1)
	errs := now(t, h.c.TxnOffsetCommit(txnReq("simple", 7, 0, CommitOffset{Topic: "t", Partition: 0, Offset: 9, Metadata: &big}, co("t", 1, 9))))
	wantErr(t, "metadata too large", errs[0], kerr.OffsetMetadataTooLarge)
	wantErr(t, "good partition beside it", errs[1], nil)
}

// TestTxnProducerFencing: once a producer's newer epoch has committed
// offsets, or its marker carried a newer epoch (the abort that fences a
// zombie), commits of older epochs are refused; the latest epoch survives
// a reload.
func TestTxnProducerFencing(t *testing.T) {
	h := newHarness(t, nil)
	h.txnCommit("g", 7, 1, co("t", 0, 10))
	wantErr(t, "older epoch", now(t, h.c.TxnOffsetCommit(txnReq("g", 7, 0, co("t", 0, 11))))[0], kerr.InvalidProducerEpoch)
	wantErr(t, "other group, same partition", now(t, h.c.TxnOffsetCommit(txnReq("other", 7, 0, co("t", 0, 11))))[0], kerr.InvalidProducerEpoch)
	wantErr(t, "another producer", now(t, h.c.TxnOffsetCommit(txnReq("g", 8, 0, co("t", 1, 1))))[0], nil)

	h.endTxn(7, 2, false) // a new instance's InitProducerId aborted epoch 1's transaction
	wantErr(t, "zombie after the fencing abort", now(t, h.c.TxnOffsetCommit(txnReq("g", 7, 1, co("t", 0, 12))))[0], kerr.InvalidProducerEpoch)
	wantOffsets(t, h, "after the fencing abort", "g", "t", map[int32]int64{0: -1})

	h.start()
	wantErr(t, "zombie after a reload", now(t, h.c.TxnOffsetCommit(txnReq("g", 7, 1, co("t", 0, 12))))[0], kerr.InvalidProducerEpoch)
	h.txnCommit("g", 7, 2, co("t", 0, 13))
	h.endTxn(7, 2, true)
	wantOffsets(t, h, "the new epoch's commit", "g", "t", map[int32]int64{0: 13})
}

// TestTxnStateSurvivesReload: a reload replays transactional records and
// markers from the log: committed transactions are visible, aborted ones
// are not, and an open one stays pending until its marker comes.
func TestTxnStateSurvivesReload(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 1)
	now(t, h.c.CommitOffsets(commitReq("g", gen, ids[0], co("t", 0, 1), co("t", 1, 1), co("t", 2, 1))))
	h.txnCommit("g", 10, 0, co("t", 0, 100)) // committed
	h.txnCommit("g", 11, 0, co("t", 1, 200)) // aborted
	h.txnCommit("g", 12, 0, co("t", 2, 300)) // still open
	h.txnCommit("simple", 12, 0, co("u", 0, 5))
	h.endTxn(10, 0, true)
	h.endTxn(11, 0, false)
	h.txnCommit("g", 10, 0, co("t", 0, 101)) // the producer's next transaction, open

	h.start()
	wantOffsets(t, h, "after a reload", "g", "t", map[int32]int64{0: 100, 1: 1, 2: 1})
	wantOffsets(t, h, "after a reload", "simple", "u", map[int32]int64{0: -1})
	for _, f := range h.stable("g", "t", 0, 1, 2) {
		want := error(nil)
		if f.Partition != 1 {
			want = kerr.UnstableOffsetCommit
		}
		wantErr(t, "require_stable after a reload", f.Err, want)
	}
	if d, err := h.c.DescribeGroup("simple"); err != nil || d.State != "Empty" {
		t.Fatalf("a group with only pending offsets after a reload: %+v %v", d, err)
	}
	h.endTxn(12, 0, true)
	h.endTxn(10, 0, false)
	wantOffsets(t, h, "after the markers", "g", "t", map[int32]int64{0: 100, 1: 1, 2: 300})
	wantOffsets(t, h, "after the markers", "simple", "u", map[int32]int64{0: 5})
	h.start()
	wantOffsets(t, h, "after a second reload", "g", "t", map[int32]int64{0: 100, 1: 1, 2: 300})
	wantOffsets(t, h, "after a second reload", "simple", "u", map[int32]int64{0: 5})
}

// TestTxnMarkerDuringLoad: a marker reported while the partition loads is
// applied once the load ends, even if the load read the log before it.
func TestTxnMarkerDuringLoad(t *testing.T) {
	h := newHarness(t, nil)
	h.txnCommit("g", 7, 0, co("t", 0, 10))
	h.c.Stop()

	h.store.loadGate = make(chan struct{})
	c := New(h.cfg, h.store, h.clock, nil)
	t.Cleanup(c.Stop)
	c.Start()
	c.Lead([16]byte{1}, 1, []int32{0})
	if !c.Loading(0) {
		t.Fatal("partition 0 not loading")
	}
	// The marker is not in the store the load reads: as if it was
	// appended after the load reached the log end.
	if err := c.CompleteTransaction(0, 7, 0, true); err != nil {
		t.Fatalf("complete a transaction during the load: %v", err)
	}
	close(h.store.loadGate)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.waitLoaded(ctx, 0); err != nil {
		t.Fatal(err)
	}
	h.c = c
	wantOffsets(t, h, "after the load", "g", "t", map[int32]int64{0: 10})

	wantErr(t, "a partition not led here", c.CompleteTransaction(3, 7, 0, true), kerr.NotCoordinator)
}

// TestTxnOffsetsDeleted: tombstones (OffsetDelete, DeleteGroups) drop
// pending offsets, so a later commit marker does not bring them back, now
// or after a reload; the expiry sweep keeps a group while it has pending
// offsets.
func TestTxnOffsetsDeleted(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.OffsetsRetention = time.Hour
		c.RetentionCheckInterval = time.Minute
	})
	h.txnCommit("g", 7, 0, co("t", 0, 10), co("t", 1, 10))
	h.txnCommit("gone", 7, 0, co("t", 0, 10))

	res := now(t, h.c.DeleteOffsets("g", []TopicPartitions{{Topic: "t", Partitions: []int32{0}}}))
	wantErr(t, "delete a pending offset", res.Partitions[0][0], nil)
	wantErr(t, "require_stable after the deletion", h.stable("g", "t", 0)[0].Err, nil)
	errs := now(t, h.c.DeleteGroups([]string{"gone"}))
	wantErr(t, "delete a group with pending offsets", errs[0], nil)

	h.clock.Advance(2 * time.Hour) // sweeps: the groups are kept for the open transaction
	if _, err := h.c.DescribeGroup("g"); err != nil {
		t.Fatalf("a group with pending offsets expired: %v", err)
	}
	h.endTxn(7, 0, true)
	wantOffsets(t, h, "after the commit", "g", "t", map[int32]int64{0: -1, 1: 10})
	wantOffsets(t, h, "after the commit", "gone", "t", map[int32]int64{0: -1})
	h.start()
	wantOffsets(t, h, "after a reload", "g", "t", map[int32]int64{0: -1, 1: 10})
	if _, err := h.c.DescribeGroup("gone"); err != kerr.GroupIDNotFound {
		t.Fatalf("a deleted group after a reload: %v", err)
	}
}
