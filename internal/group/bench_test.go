package group

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkRebalance measures one whole rebalance of a stable group inside
// the coordinator: every member rejoins, the leader gets everyone's
// metadata, sends the assignment, the assignment is stored, and every
// member gets its part. No network, no disk (an in-memory store), real
// clock: this is the coordinator's own cost, which the wire benchmark in
// test/compat adds the network to.
func BenchmarkRebalance(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) { benchRebalance(b, n) })
	}
}

func benchRebalance(b *testing.B, n int) {
	cfg := DefaultConfig()
	cfg.InitialRebalanceDelay = 0
	c := New(cfg, newMemStore(), SystemClock(), nil)
	defer c.Stop()
	c.Start()
	c.Lead([16]byte{1}, 1, []int32{0})
	if err := c.waitLoaded(b.Context(), 0); err != nil {
		b.Fatal(err)
	}
	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = []string{"orders"}
	meta := md.AppendTo(nil)
	join := func(id string) JoinRequest {
		return JoinRequest{
			Group: "bench", MemberID: id, ClientID: "bench", ClientHost: "/127.0.0.1",
			SessionTimeout: time.Minute, RebalanceTimeout: time.Minute, ProtocolType: "consumer",
			Protocols: []Protocol{{Name: "range", Metadata: meta}},
		}
	}
	// Form the group: the first member's join completes at once (an empty
	// group, no delay); the others' joins start a rebalance that completes
	// when the first member rejoins too.
	chans := make([]<-chan JoinResult, n)
	for i := range n {
		chans[i] = c.JoinGroup(join(""))
	}
	first := <-chans[0]
	chans[0] = c.JoinGroup(join(first.MemberID))
	ids := make([]string, 0, n)
	for _, ch := range chans {
		r := <-ch
		if r.Err != nil {
			b.Fatal(r.Err)
		}
		ids = append(ids, r.MemberID)
	}
	assignments := make([]Assignment, n)
	for i, id := range ids {
		a := kmsg.NewConsumerMemberAssignment()
		a.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: "orders", Partitions: []int32{int32(i)}}}
		assignments[i] = Assignment{MemberID: id, Assignment: a.AppendTo(nil)}
	}
	rebalance := func() {
		chans := make([]<-chan JoinResult, n)
		for i, id := range ids {
			chans[i] = c.JoinGroup(join(id))
		}
		var gen int32
		var leader string
		for _, ch := range chans {
			r := <-ch
			if r.Err != nil {
				b.Fatal(r.Err)
			}
			gen, leader = r.Generation, r.Leader
		}
		syncs := make([]<-chan SyncResult, 0, n)
		for _, id := range ids {
			if id != leader {
				syncs = append(syncs, c.SyncGroup(SyncRequest{Group: "bench", Generation: gen, MemberID: id}))
			}
		}
		syncs = append(syncs, c.SyncGroup(SyncRequest{Group: "bench", Generation: gen, MemberID: leader, Assignments: assignments}))
		for _, ch := range syncs {
			if r := <-ch; r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	rebalance() // the group is stable from here
	b.ResetTimer()
	for b.Loop() {
		rebalance()
	}
}
