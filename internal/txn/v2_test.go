package txn

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Transactions v2 (KIP-890): partitions added by the partition leaders, an epoch bump
// at every EndTxn, a new producer id once the epochs run out.

func TestV2EpochBumpPerTransaction(t *testing.T) {
	store, markers := &memStorage{}, &memMarkers{sent: make(chan struct{}, 8)}
	c := newTestCoordinator(t, store, markers)
	ctx := context.Background()
	pid, epoch, err := c.InitProducerID(ctx, "t", 60000)
	if err != nil || epoch != 0 {
		t.Fatalf("init: %d %d %v", pid, epoch, err)
	}
	// The partition leader adds the partitions at the producer's first writes.
	if err := c.AddImplicit(ctx, "t", pid, 0, []TopicPartition{{"a", 0}}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddImplicit(ctx, "t", pid, 0, []TopicPartition{{"a", 1}}); err != nil {
		t.Fatal(err)
	}
	if d, _ := c.DescribeTxn("t"); d.State != kmsg.TransactionStateOngoing || len(d.Partitions) != 2 {
		t.Fatalf("after two implicit adds: %+v", d)
	}
	gotPID, gotEpoch, err := c.EndTxnV2(ctx, "t", pid, 0, true)
	if err != nil || gotPID != pid || gotEpoch != 1 {
		t.Fatalf("EndTxn v5: %d %d %v, want the same id at epoch 1", gotPID, gotEpoch, err)
	}
	<-markers.sent
	waitFor(t, "the commit to complete", func() bool { return state(t, c, "t") == kmsg.TransactionStateCompleteCommit })
	if got := markers.got[0]; got != (marker{pid, 1, true, 2}) {
		t.Fatalf("markers %+v, want a commit at the bumped epoch 1 in 2 partitions", got)
	}

	// A retry of that EndTxn carries the epoch before the bump.
	if p, e, err := c.EndTxnV2(ctx, "t", pid, 0, true); err != nil || p != pid || e != 1 {
		t.Fatalf("retried EndTxn v5: %d %d %v, want success with epoch 1", p, e, err)
	}
	if _, _, err := c.EndTxnV2(ctx, "t", pid, 0, false); !errors.Is(err, kerr.InvalidTxnState) {
		t.Fatalf("an abort with the epoch of the committed transaction: %v, want INVALID_TXN_STATE", err)
	}
	// The old epoch is fenced everywhere else.
	if err := c.AddImplicit(ctx, "t", pid, 0, []TopicPartition{{"a", 0}}); !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("a late write of the committed transaction: %v, want PRODUCER_FENCED", err)
	}
	if _, err := c.Verify("t", pid, 0, []TopicPartition{{"a", 0}}); !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("verifying a late write: %v, want PRODUCER_FENCED", err)
	}
	// The delayed EndTxn Jepsen reproduced: a retry of the commit that arrives once
	// the next transaction is open would, under v1, end that one. Its epoch is the
	// one before the bump, so it is fenced and the next transaction stays open.
	if err := c.AddImplicit(ctx, "t", pid, 1, []TopicPartition{{"a", 0}}); err != nil {
		t.Fatal(err)
	}
	for _, commit := range []bool{true, false} {
		if _, _, err := c.EndTxnV2(ctx, "t", pid, 0, commit); !errors.Is(err, kerr.ProducerFenced) {
			t.Fatalf("a delayed EndTxn (commit %v) of the previous transaction: %v, want PRODUCER_FENCED", commit, err)
		}
	}
	if d, _ := c.DescribeTxn("t"); d.State != kmsg.TransactionStateOngoing || d.Epoch != 1 {
		t.Fatalf("the next transaction after a delayed EndTxn: %+v, want it ongoing at epoch 1", d)
	}
	if _, e, err := c.EndTxnV2(ctx, "t", pid, 1, false); err != nil || e != 2 {
		t.Fatalf("abort of the next transaction: epoch %d %v, want 2", e, err)
	}
	<-markers.sent
	waitFor(t, "the abort to complete", func() bool { return state(t, c, "t") == kmsg.TransactionStateCompleteAbort })
	if got := markers.got[1]; got != (marker{pid, 2, false, 1}) {
		t.Fatalf("abort markers %+v, want epoch 2 in 1 partition", got)
	}

	// A commit with nothing open is refused; an abort is allowed and bumps the epoch.
	if _, _, err := c.EndTxnV2(ctx, "t", pid, 2, true); !errors.Is(err, kerr.InvalidTxnState) {
		t.Fatalf("an empty commit: %v, want INVALID_TXN_STATE", err)
	}
	if p, e, err := c.EndTxnV2(ctx, "t", pid, 2, false); err != nil || p != pid || e != 3 {
		t.Fatalf("an empty abort: %d %d %v, want epoch 3", p, e, err)
	}
	if s := state(t, c, "t"); s != kmsg.TransactionStateCompleteAbort {
		t.Fatalf("after an empty abort: %v", s)
	}

	// A v1 EndTxn of the same producer keeps its epoch.
	if err := c.AddPartitions(ctx, "t", pid, 3, []TopicPartition{{"a", 0}}); err != nil {
		t.Fatal(err)
	}
	if err := c.EndTxn(ctx, "t", pid, 3, false); err != nil {
		t.Fatal(err)
	}
	<-markers.sent
	waitFor(t, "the v1 abort to complete", func() bool { return state(t, c, "t") == kmsg.TransactionStateCompleteAbort })
	if got := markers.got[2]; got != (marker{pid, 3, false, 1}) {
		t.Fatalf("v1 markers %+v, want an abort at the unchanged epoch 3", got)
	}
	// The markers say which protocol they close (WriteTxnMarkers v2, KIP-1228).
	if want := []int16{2, 2, 0}; !slices.Equal(markers.tvs, want) {
		t.Fatalf("markers' transaction versions %v, want %v", markers.tvs, want)
	}

	// Another v2 transaction, then a reload: the state records the protocol, so a
	// retried EndTxn is still recognised.
	if err := c.AddImplicit(ctx, "t", pid, 3, []TopicPartition{{"b", 0}}); err != nil {
		t.Fatal(err)
	}
	if _, e, err := c.EndTxnV2(ctx, "t", pid, 3, false); err != nil || e != 4 {
		t.Fatalf("abort: epoch %d %v, want 4", e, err)
	}
	<-markers.sent
	waitFor(t, "the abort to complete", func() bool { return state(t, c, "t") == kmsg.TransactionStateCompleteAbort })
	c2 := newTestCoordinator(t, store, markers)
	if p, e, err := c2.EndTxnV2(ctx, "t", pid, 3, false); err != nil || p != pid || e != 4 {
		t.Fatalf("a retried EndTxn after a reload: %d %d %v, want success with epoch 4", p, e, err)
	}
	if err := c2.AddImplicit(ctx, "t", pid, 3, []TopicPartition{{"b", 0}}); !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("a late write after a reload: %v, want PRODUCER_FENCED", err)
	}
}
func TestV2VerifyAndConcurrentTransactions(t *testing.T) {
	store, markers := &memStorage{}, &memMarkers{sent: make(chan struct{}, 8)}
	c := newTestCoordinator(t, store, markers)
	ctx := context.Background()
	pid, _, err := c.InitProducerID(ctx, "t", 60000)
	if err != nil {
		t.Fatal(err)
	}
	a0, a1 := TopicPartition{"a", 0}, TopicPartition{"a", 1}
	// Verification (a v1 producer's write): only what the producer added.
	if errs, err := c.Verify("t", pid, 0, []TopicPartition{a0}); err != nil || !errors.Is(errs[0], kerr.TransactionAbortable) {
		t.Fatalf("verify with no transaction: %v %v, want TRANSACTION_ABORTABLE", errs, err)
	}
	if err := c.AddPartitions(ctx, "t", pid, 0, []TopicPartition{a0}); err != nil {
		t.Fatal(err)
	}
	errs, err := c.Verify("t", pid, 0, []TopicPartition{a0, a1})
	if err != nil || errs[0] != nil || !errors.Is(errs[1], kerr.TransactionAbortable) {
		t.Fatalf("verify an added and a missing partition: %v %v", errs, err)
	}
	if _, err := c.Verify("t", pid+1, 0, []TopicPartition{a0}); !errors.Is(err, kerr.InvalidProducerIDMapping) {
		t.Fatalf("verify another producer id: %v", err)
	}
	if _, err := c.Verify("t", pid, 1, []TopicPartition{a0}); !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("verify another epoch: %v, want PRODUCER_FENCED", err)
	}
	if len(store.recs[c.PartitionFor("t")]) != 2 {
		t.Fatalf("verification wrote to the log: %d records", len(store.recs[c.PartitionFor("t")]))
	}

	// While the decision's markers are written, the next transaction's first write
	// waits (LeaderAdd retries CONCURRENT_TRANSACTIONS) and then goes ahead.
	markers.mu.Lock()
	markers.fail = 5 // the completion takes 1.5 s of retries
	markers.mu.Unlock()
	_, epoch, err := c.EndTxnV2(ctx, "t", pid, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddImplicit(ctx, "t", pid, epoch, []TopicPartition{a1}); !errors.Is(err, kerr.ConcurrentTransactions) {
		t.Fatalf("an implicit add while the markers are written: %v, want CONCURRENT_TRANSACTIONS", err)
	}
	// The next transaction ends (an abort of nothing, as franz-go sends when none of
	// its writes succeeded) before the previous one is complete: retry.
	if _, _, err := c.EndTxnV2(ctx, "t", pid, epoch, false); !errors.Is(err, kerr.ConcurrentTransactions) {
		t.Fatalf("EndTxn of the next transaction while the markers are written: %v, want CONCURRENT_TRANSACTIONS", err)
	}
	if errs := c.LeaderAdd(ctx, "t", pid, epoch, []TopicPartition{a1}, true); errs[0] != nil {
		t.Fatalf("LeaderAdd across the completion: %v", errs[0])
	}
	if d, _ := c.DescribeTxn("t"); d.State != kmsg.TransactionStateOngoing || d.Epoch != 1 || len(d.Partitions) != 1 {
		t.Fatalf("the next transaction: %+v", d)
	}
	// A verification of a write of the committed transaction: fenced.
	if errs := c.LeaderAdd(ctx, "t", pid, 0, []TopicPartition{a0}, false); !errors.Is(errs[0], kerr.ProducerFenced) {
		t.Fatalf("LeaderAdd of the old epoch: %v, want PRODUCER_FENCED", errs[0])
	}
}

func TestV2EpochExhaustion(t *testing.T) {
	store, markers := &memStorage{}, &memMarkers{sent: make(chan struct{}, 8)}
	c := newTestCoordinator(t, store, markers)
	ctx := context.Background()
	pid, _, err := c.InitProducerID(ctx, "t", 60000)
	if err != nil {
		t.Fatal(err)
	}
	last := int16(math.MaxInt16 - 1)
	_, _, _, m, _ := c.meta("t")
	m.mu.Lock()
	m.epoch = last // as if 32766 transactions had gone before
	m.mu.Unlock()
	if err := c.AddImplicit(ctx, "t", pid, last, []TopicPartition{{"a", 0}}); err != nil {
		t.Fatal(err)
	}
	markers.mu.Lock()
	markers.fail = 1 // hold the completion back for one retry
	markers.mu.Unlock()
	next, epoch, err := c.EndTxnV2(ctx, "t", pid, last, true)
	if err != nil || next == pid || epoch != 0 {
		t.Fatalf("EndTxn with the epochs exhausted: %d %d %v, want a new producer id at epoch 0", next, epoch, err)
	}
	<-markers.sent
	if got := markers.got[0]; got != (marker{pid, math.MaxInt16, true, 1}) {
		t.Fatalf("markers %+v, want the old producer id at epoch %d", got, math.MaxInt16)
	}
	waitFor(t, "the commit to complete", func() bool { return state(t, c, "t") == kmsg.TransactionStateCompleteCommit })
	if d, _ := c.DescribeTxn("t"); d.ProducerID != next || d.Epoch != 0 {
		t.Fatalf("after completion: %+v, want producer %d epoch 0", d, next)
	}
	if p, e, err := c.EndTxnV2(ctx, "t", pid, last, true); err != nil || p != next || e != 0 {
		t.Fatalf("a retried EndTxn of the old producer id: %d %d %v", p, e, err)
	}
	// A reload keeps the rotation.
	c2 := newTestCoordinator(t, store, markers)
	if p, e, err := c2.EndTxnV2(ctx, "t", pid, last, true); err != nil || p != next || e != 0 {
		t.Fatalf("a retried EndTxn after a reload: %d %d %v", p, e, err)
	}
	if err := c2.AddImplicit(ctx, "t", next, 0, []TopicPartition{{"a", 0}}); err != nil {
		t.Fatalf("the new producer id's first write: %v", err)
	}
	if err := c2.AddImplicit(ctx, "t", pid, last, []TopicPartition{{"a", 0}}); !errors.Is(err, kerr.InvalidProducerIDMapping) {
		t.Fatalf("the old producer id: %v, want INVALID_PRODUCER_ID_MAPPING", err)
	}
}

// fwdMarkers forwards a partition leader's AddPartitionsToTxn to another coordinator,
// through its kmsg request, as a broker would.
type fwdMarkers struct {
	memMarkers
	to   *Coordinator
	reqs []*kmsg.AddPartitionsToTxnRequest
}

func (f *fwdMarkers) AddPartitionsToTxn(ctx context.Context, p int32, req *kmsg.AddPartitionsToTxnRequest) (*kmsg.AddPartitionsToTxnResponse, error) {
	f.reqs = append(f.reqs, req)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	for _, tx := range req.Transactions {
		var parts []TopicPartition
		for _, rt := range tx.Topics {
			for _, p := range rt.Partitions {
				parts = append(parts, TopicPartition{rt.Topic, p})
			}
		}
		errs := make([]error, len(parts))
		var err error
		if tx.VerifyOnly {
			var perPart []error
			if perPart, err = f.to.Verify(tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, parts); err == nil {
				errs = perPart
			}
		} else {
			err = f.to.AddImplicit(ctx, tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, parts)
		}
		for i := range errs {
			if err != nil {
				errs[i] = err
			}
		}
		rt := kmsg.NewAddPartitionsToTxnResponseTransaction()
		rt.TransactionalID = tx.TransactionalID
		i := 0
		for _, t := range tx.Topics {
			tt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
			tt.Topic = t.Topic
			for _, p := range t.Partitions {
				tp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
				tp.Partition = p
				var ke *kerr.Error
				if errors.As(errs[i], &ke) {
					tp.ErrorCode = ke.Code
				}
				tt.Partitions = append(tt.Partitions, tp)
				i++
			}
			rt.Topics = append(rt.Topics, tt)
		}
		resp.Transactions = append(resp.Transactions, rt)
	}
	return resp, nil
}

func TestLeaderAddForwardsToTheCoordinator(t *testing.T) {
	ctx := context.Background()
	coord := newTestCoordinator(t, &memStorage{}, &memMarkers{sent: make(chan struct{}, 8)})
	fwd := &fwdMarkers{to: coord}
	leader := New(Config{NumPartitions: 4}, &memStorage{}, fwd, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	pid, _, err := coord.InitProducerID(ctx, "t", 60000)
	if err != nil {
		t.Fatal(err)
	}
	a0, b1 := TopicPartition{"a", 0}, TopicPartition{"b", 1}
	errs := leader.LeaderAdd(ctx, "t", pid, 0, []TopicPartition{a0, b1}, false)
	if !errors.Is(errs[0], kerr.TransactionAbortable) || !errors.Is(errs[1], kerr.TransactionAbortable) {
		t.Fatalf("verify before any add: %v", errs)
	}
	if errs := leader.LeaderAdd(ctx, "t", pid, 0, []TopicPartition{a0, b1}, true); errs[0] != nil || errs[1] != nil {
		t.Fatalf("implicit add: %v", errs)
	}
	if d, _ := coord.DescribeTxn("t"); d.State != kmsg.TransactionStateOngoing || len(d.Partitions) != 2 {
		t.Fatalf("the coordinator after a forwarded add: %+v", d)
	}
	if errs := leader.LeaderAdd(ctx, "t", pid, 0, []TopicPartition{b1}, false); errs[0] != nil {
		t.Fatalf("verify after the add: %v", errs)
	}
	last := fwd.reqs[len(fwd.reqs)-1]
	if last.Version != 5 || len(last.Transactions) != 1 || !last.Transactions[0].VerifyOnly || last.Transactions[0].ProducerID != pid {
		t.Fatalf("forwarded request %+v", last)
	}
	if fwd.reqs[1].Transactions[0].VerifyOnly {
		t.Fatalf("the implicit add was sent with VerifyOnly")
	}
}
