package metadata

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func partitionState(p *Partition) string {
	return fmt.Sprintf("replicas=%v isr=%v leader=%d adding=%v removing=%v", p.Replicas, p.ISR, p.Leader, p.AddingReplicas, p.RemovingReplicas)
}

// TestReassignment follows Kafka's adding/removing replica semantics: the target joins
// first, the removed replicas go once every added one is in sync, and a cancel returns
// to the replicas from before.
func TestReassignment(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	for id := int32(2); id <= 4; id++ {
		registerBroker(t, s, id)
	}
	ctx := context.Background()
	if _, err := s.CreateTopic(ctx, TopicSpec{Name: "t", Assignments: [][]int32{{1, 2, 3}}}); err != nil {
		t.Fatal(err)
	}
	p := func() *Partition { return s.Image().Partition("t", 0) }
	alter := func(isr ...int32) error {
		q := p()
		return s.AlterPartition(ctx, s.Image().Topics["t"].ID, 0, q.LeaderEpoch, q.PartitionEpoch, isr)
	}
	if err := alter(1, 2, 3); err != nil { // followers caught up
		t.Fatal(err)
	}

	// {1,2,3} -> {2,3,4}: 4 is added, 1 (the leader) stays until 4 is in sync.
	if err := s.ReassignPartition(ctx, "t", 0, []int32{2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if got, want := partitionState(p()), "replicas=[2 3 4 1] isr=[1 2 3] leader=1 adding=[4] removing=[1]"; got != want {
		t.Fatalf("reassigning: %s, want %s", got, want)
	}
	if !p().Reassigning() || fmt.Sprint(p().TargetReplicas()) != "[2 3 4]" || fmt.Sprint(p().OriginalReplicas()) != "[2 3 1]" {
		t.Fatalf("target %v original %v", p().TargetReplicas(), p().OriginalReplicas())
	}
	// 4 catches up and joins: the reassignment completes, leadership leaves 1.
	if err := alter(1, 2, 3, 4); err != nil {
		t.Fatal(err)
	}
	if got, want := partitionState(p()), "replicas=[2 3 4] isr=[2 3 4] leader=2 adding=[] removing=[]"; got != want {
		t.Fatalf("completed: %s, want %s", got, want)
	}
	if p().LeaderEpoch != 1 {
		t.Fatalf("leader epoch %d after the leader moved, want 1", p().LeaderEpoch)
	}

	// Start {2,3,4} -> {1,3,4}, then cancel: back to 2, 3 and 4 with 1 dropped (in the
	// order of the reassigning replica set less the added ones, as Kafka reverts).
	if err := s.ReassignPartition(ctx, "t", 0, []int32{1, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if got, want := partitionState(p()), "replicas=[1 3 4 2] isr=[2 3 4] leader=2 adding=[1] removing=[2]"; got != want {
		t.Fatalf("second reassignment: %s, want %s", got, want)
	}
	if err := s.ReassignPartition(ctx, "t", 0, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := partitionState(p()), "replicas=[3 4 2] isr=[2 3 4] leader=2 adding=[] removing=[]"; got != want {
		t.Fatalf("cancelled: %s, want %s", got, want)
	}
	if err := s.ReassignPartition(ctx, "t", 0, nil); !errors.Is(err, kerr.NoReassignmentInProgress) {
		t.Fatalf("second cancel: %v, want NO_REASSIGNMENT_IN_PROGRESS", err)
	}

	// A pure removal applies at once.
	if err := s.ReassignPartition(ctx, "t", 0, []int32{3, 4}); err != nil {
		t.Fatal(err)
	}
	if got, want := partitionState(p()), "replicas=[3 4] isr=[3 4] leader=3 adding=[] removing=[]"; got != want {
		t.Fatalf("removal: %s, want %s", got, want)
	}

	// Broker 1 and 2 host nothing now and can be unregistered; 3 cannot.
	if err := s.UnregisterBroker(ctx, 3); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("unregister broker 3 hosting a replica: %v, want INVALID_REQUEST", err)
	}
	if err := s.UnregisterBroker(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if s.Image().Brokers[2] != nil {
		t.Fatal("broker 2 still registered")
	}
	// The snapshot carries a reassignment in progress.
	if err := s.ReassignPartition(ctx, "t", 0, []int32{3, 4, 1}); err != nil {
		t.Fatal(err)
	}
	restored, err := decodeSnapshot(mustEncodeSnapshot(t, s.Image()))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := partitionState(restored.Partition("t", 0)), partitionState(p()); got != want {
		t.Fatalf("restored %s, want %s", got, want)
	}
}

func TestElectLeaders(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	registerBroker(t, s, 2)
	ctx := context.Background()
	if _, err := s.CreateTopic(ctx, TopicSpec{Name: "t", Assignments: [][]int32{{1, 2}}}); err != nil {
		t.Fatal(err)
	}
	id := s.Image().Topics["t"].ID
	if err := s.AlterPartition(ctx, id, 0, 0, 0, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := s.ElectLeaders(ctx, "t", 0, false); !errors.Is(err, kerr.ElectionNotNeeded) {
		t.Fatalf("preferred election with the preferred leading: %v", err)
	}
	// Broker 1 is fenced: 2 leads; once 1 is back, a preferred election returns it.
	if err := s.fence(ctx, 1, true); err != nil {
		t.Fatal(err)
	}
	if l := s.Image().Partition("t", 0).Leader; l != 2 {
		t.Fatalf("leader %d after fencing 1, want 2", l)
	}
	if err := s.ElectLeaders(ctx, "t", 0, false); !errors.Is(err, kerr.PreferredLeaderNotAvailable) {
		t.Fatalf("preferred election with 1 fenced: %v", err)
	}
	if err := s.fence(ctx, 1, false); err != nil {
		t.Fatal(err)
	}
	p := s.Image().Partition("t", 0)
	if err := s.AlterPartition(ctx, id, 0, p.LeaderEpoch, p.PartitionEpoch, []int32{2, 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.ElectLeaders(ctx, "t", 0, false); err != nil {
		t.Fatal(err)
	}
	if l := s.Image().Partition("t", 0).Leader; l != 1 {
		t.Fatalf("leader %d after the preferred election, want 1", l)
	}
	if err := s.ElectLeaders(ctx, "t", 0, true); !errors.Is(err, kerr.ElectionNotNeeded) {
		t.Fatalf("unclean election with a live leader: %v", err)
	}
}

// TestRebalanceLeaders: a broker back from a failure gets back the leaderships it is
// the preferred replica of once it is in sync again.
func TestRebalanceLeaders(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.LeaderImbalancePercent = 10
	s := openWithBroker(t, cfg)
	registerBroker(t, s, 2)
	ctx := context.Background()
	if _, err := s.CreateTopic(ctx, TopicSpec{Name: "t", Assignments: [][]int32{{1, 2}, {1, 2}, {2, 1}}}); err != nil {
		t.Fatal(err)
	}
	tp := s.Image().Topics["t"]
	for i := range int32(3) {
		p := s.Image().Partition("t", i)
		if err := s.AlterPartition(ctx, tp.ID, i, p.LeaderEpoch, p.PartitionEpoch, []int32{p.Leader, p.Replicas[1]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.fence(ctx, 1, true); err != nil {
		t.Fatal(err)
	}
	if err := s.fence(ctx, 1, false); err != nil {
		t.Fatal(err)
	}
	for i := range int32(2) {
		p := s.Image().Partition("t", i)
		if p.Leader != 2 {
			t.Fatalf("partition %d led by %d after 1 was fenced, want 2", i, p.Leader)
		}
		if err := s.AlterPartition(ctx, tp.ID, i, p.LeaderEpoch, p.PartitionEpoch, []int32{2, 1}); err != nil {
			t.Fatal(err)
		}
	}
	s.rebalanceLeaders(ctx)
	for i, want := range []int32{1, 1, 2} {
		if l := s.Image().Partition("t", int32(i)).Leader; l != want {
			t.Fatalf("partition %d led by %d after the rebalance, want %d", i, l, want)
		}
	}
}

// TestStalePartitionChangeRefused: a partition change planned on an image that has
// moved on (a leader cut off from the quorum asking to shrink its ISR after the
// controller moved its leadership) is refused, not applied over the newer state.
func TestStalePartitionChangeRefused(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	registerBroker(t, s, 2)
	ctx := context.Background()
	if _, err := s.CreateTopic(ctx, TopicSpec{Name: "t", Assignments: [][]int32{{1, 2}}}); err != nil {
		t.Fatal(err)
	}
	id := s.Image().Topics["t"].ID
	if err := s.AlterPartition(ctx, id, 0, 0, 0, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	stale := *s.Image().Partition("t", 0) // as broker 1 last saw it
	if err := s.fence(ctx, 1, true); err != nil {
		t.Fatal(err)
	}
	if l := s.Image().Partition("t", 0).Leader; l != 2 {
		t.Fatalf("leader %d after fencing 1, want 2", l)
	}
	// Broker 1 plans an ISR shrink on its stale image and forwards the record.
	_, err := s.propose(ctx, []Record{&PartitionChangeRecord{TopicID: id, Partition: 0, PartitionEpoch: stale.PartitionEpoch, Leader: 1, ISR: []int32{1}}})
	if !errors.Is(err, kerr.InvalidUpdateVersion) {
		t.Fatalf("a change planned at partition epoch %d: %v, want INVALID_UPDATE_VERSION", stale.PartitionEpoch, err)
	}
	if p := s.Image().Partition("t", 0); p.Leader != 2 {
		t.Fatalf("the stale change took effect: %+v", p)
	}
}
