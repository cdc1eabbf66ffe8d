package replica

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/storage"
)

// leaderPartition returns partition t-0 led by broker 1 with replicas 1, 2, 3 and the
// given ISR, and the ISR changes it asks the controller for.
func leaderPartition(t *testing.T, isr []int32, minISR int) (*Partition, *[][]int32) {
	t.Helper()
	f := newFixture(t, nil)
	l, err := f.logs.GetOrCreate(storage.TopicPartition{Topic: "t", Partition: 0}, [16]byte{1}, storage.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var asked [][]int32
	p := &Partition{tp: storage.TopicPartition{Topic: "t"}, topicID: [16]byte{1}, log: l, self: 1, leader: -2}
	p.alter = func(isr []int32) {
		mu.Lock()
		asked = append(asked, isr)
		mu.Unlock()
	}
	p.applyState(partitionState{leader: 1, leaderEpoch: 1, replicas: []int32{1, 2, 3}, isr: isr, minISR: minISR}, time.Now())
	return p, &asked
}

func TestHighWatermarkFollowsTheISR(t *testing.T) {
	p, asked := leaderPartition(t, []int32{1}, 1)
	if _, err := p.Append(batch(t, "a", "b", "c")); err != nil {
		t.Fatal(err)
	}
	if hw := p.log.HighWatermark(); hw != 3 {
		t.Fatalf("high watermark %d with the leader alone in the ISR, want 3", hw)
	}
	if p.NeedsWait() {
		t.Fatal("acks=all waits with the leader alone in the ISR")
	}

	now := time.Now()
	p.UpdateFollower(2, 0, now)
	if len(*asked) != 0 {
		t.Fatalf("follower 2 at offset 0 (below the high watermark 3) asked to join: %v", *asked)
	}
	p.UpdateFollower(2, 3, now)
	if fmt.Sprint(*asked) != "[[1 2]]" {
		t.Fatalf("ISR changes asked %v, want [[1 2]] once follower 2 reached the high watermark", *asked)
	}
	// While the change is in flight, the high watermark already waits for follower 2.
	if _, err := p.Append(batch(t, "d", "e", "f")); err != nil {
		t.Fatal(err)
	}
	if hw := p.log.HighWatermark(); hw != 3 {
		t.Fatalf("high watermark %d before follower 2 has the new records, want 3", hw)
	}
	if !p.NeedsWait() {
		t.Fatal("acks=all does not wait with follower 2 joining the ISR")
	}
	done := make(chan error, 1)
	go func() { done <- p.WaitCommitted(context.Background(), 6) }()
	select {
	case err := <-done:
		t.Fatalf("WaitCommitted(6) returned %v before follower 2 fetched offset 6", err)
	case <-time.After(50 * time.Millisecond):
	}
	p.UpdateFollower(2, 6, now)
	if err := <-done; err != nil {
		t.Fatalf("WaitCommitted(6) after follower 2 fetched it: %v", err)
	}
	if hw := p.log.HighWatermark(); hw != 6 {
		t.Fatalf("high watermark %d, want 6", hw)
	}
	// Follower 3, not in the ISR, does not hold the high watermark back.
	p.UpdateFollower(3, 0, now)
	if hw := p.log.HighWatermark(); hw != 6 {
		t.Fatalf("high watermark %d after a fetch by follower 3 outside the ISR, want 6", hw)
	}
}

func TestISRShrinksAfterLag(t *testing.T) {
	p, asked := leaderPartition(t, []int32{1, 2, 3}, 2)
	start := time.Now()
	if _, err := p.Append(batch(t, "a")); err != nil {
		t.Fatal(err)
	}
	p.UpdateFollower(2, 1, start) // caught up
	p.UpdateFollower(3, 0, start) // behind
	if isr := p.shrinkISR(start.Add(time.Second), 5*time.Second); isr != nil {
		t.Fatalf("shrank to %v within the lag window", isr)
	}
	// Follower 3's last caught-up time is the leadership start: after the window it goes.
	if isr := p.shrinkISR(start.Add(10*time.Second), 5*time.Second); fmt.Sprint(isr) != "[1]" {
		// follower 2 last caught up at start too, so both lag by now
		t.Fatalf("shrank to %v, want [1]", isr)
	}
	if fmt.Sprint(*asked) != "[[1]]" {
		t.Fatalf("asked %v", *asked)
	}
	p.alterDone(false)
	p.applyState(partitionState{leader: 1, leaderEpoch: 1, partitionEpoch: 1, replicas: []int32{1, 2, 3}, isr: []int32{1}, minISR: 2}, time.Now())
	if err := p.CheckMinISR(); !errors.Is(err, kerr.NotEnoughReplicas) {
		t.Fatalf("CheckMinISR with ISR [1] and min.insync.replicas=2: %v, want NOT_ENOUGH_REPLICAS", err)
	}
}

func TestWaitCommittedEndsWhenLeadershipMoves(t *testing.T) {
	p, _ := leaderPartition(t, []int32{1, 2}, 1)
	if _, err := p.Append(batch(t, "a")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.WaitCommitted(context.Background(), 1) }()
	p.applyState(partitionState{leader: 2, leaderEpoch: 2, replicas: []int32{1, 2, 3}, isr: []int32{2}, minISR: 1}, time.Now())
	select {
	case err := <-done:
		if !errors.Is(err, kerr.NotLeaderForPartition) {
			t.Fatalf("WaitCommitted after losing leadership: %v, want NOT_LEADER_OR_FOLLOWER", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitCommitted still waits 5 s after leadership moved")
	}
}
