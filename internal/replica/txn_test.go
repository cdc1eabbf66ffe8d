package replica

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/storage"
)

func txnBatch(t *testing.T, pid int64, seq int32, values ...string) []byte {
	t.Helper()
	b := record.NewBuilder(record.CodecNone).SetProducer(pid, 0, seq).SetTransactional(true)
	for _, v := range values {
		b.Add(time.Now().UnixMilli(), nil, []byte(v))
	}
	out, err := b.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWriteMarker: a leader writes markers, and its last stable offset follows
// the high watermark and the open transactions; the marker is committed once the
// in-sync follower has it.
func TestWriteMarker(t *testing.T) {
	p, _ := leaderPartition(t, []int32{1, 2}, 1)
	now := time.Now()
	if _, err := p.Append(batch(t, "a")); err != nil { // 0
		t.Fatal(err)
	}
	if _, err := p.Append(txnBatch(t, 3, 0, "t1", "t2")); err != nil { // 1-2
		t.Fatal(err)
	}
	p.UpdateFollower(2, 3, now)
	if hw, lso := p.log.HighWatermark(), p.LastStableOffset(); hw != 3 || lso != 1 {
		t.Fatalf("high watermark %d, LSO %d with producer 3 open from 1; want 3 and 1", hw, lso)
	}
	off, err := p.WriteMarker(3, 0, 0, false)
	if err != nil || off != 3 {
		t.Fatalf("abort marker at %d, %v; want 3", off, err)
	}
	// Not committed until follower 2 has it: the LSO waits with the high watermark.
	if lso := p.LastStableOffset(); lso != 3 {
		t.Fatalf("LSO %d before the follower fetched the marker, want 3", lso)
	}
	done := make(chan error, 1)
	go func() { done <- p.WaitCommitted(context.Background(), off+1) }()
	p.UpdateFollower(2, 4, now)
	if err := <-done; err != nil {
		t.Fatalf("WaitCommitted after the follower fetched the marker: %v", err)
	}
	if lso := p.LastStableOffset(); lso != 4 {
		t.Fatalf("LSO %d once the marker is committed, want 4", lso)
	}
	want := []storage.AbortedTxn{{ProducerID: 3, FirstOffset: 1, LastOffset: 3}}
	if got := p.Log().AbortedTransactions(0, 4); !slices.Equal(got, want) {
		t.Fatalf("aborted transactions %v, want %v", got, want)
	}
	if _, err := p.WriteMarker(3, 0, -1, true); !errors.Is(err, kerr.TransactionCoordinatorFenced) {
		t.Fatalf("marker from an older coordinator: %v, want TRANSACTION_COORDINATOR_FENCED", err)
	}

	// A follower does not write markers.
	p.applyState(partitionState{leader: 2, leaderEpoch: 2, replicas: []int32{1, 2, 3}, isr: []int32{1, 2}, minISR: 1}, now)
	if _, err := p.WriteMarker(3, 0, 0, true); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("marker on a follower: %v, want NOT_LEADER_OR_FOLLOWER", err)
	}
}
