package metadata

import (
	"fmt"
	"slices"
	"testing"
)

func brokersN(n int) []*Broker {
	bs := make([]*Broker, n)
	for i := range bs {
		bs[i] = &Broker{NodeID: int32(100 + i)}
	}
	return bs
}

// TestRoundRobin checks Kafka's placement properties for many shapes: replicas distinct,
// leaders spread evenly, and every broker carrying an even share of replicas.
func TestRoundRobin(t *testing.T) {
	for n := 1; n <= 6; n++ {
		for rf := 1; rf <= n; rf++ {
			for start := 0; start < n; start++ {
				brokers := brokersN(n)
				parts := 4 * n
				got := roundRobin(start, start*7)(brokers, 0, int32(parts), rf)
				leaders, load := map[int32]int{}, map[int32]int{}
				for p, replicas := range got {
					if len(replicas) != rf {
						t.Fatalf("n=%d rf=%d p=%d: %v", n, rf, p, replicas)
					}
					for i, r := range replicas {
						if slices.Contains(replicas[:i], r) {
							t.Fatalf("n=%d rf=%d p=%d: %v repeats a broker", n, rf, p, replicas)
						}
						load[r]++
					}
					leaders[replicas[0]]++
				}
				for _, b := range brokers {
					if leaders[b.NodeID] != 4 || load[b.NodeID] != 4*rf {
						t.Fatalf("n=%d rf=%d start=%d: leaders %v, load %v", n, rf, start, leaders, load)
					}
				}
			}
		}
	}
	// Partitions added later continue the pattern where it left off.
	all := roundRobin(1, 2)(brokersN(3), 0, 6, 2)
	tail := roundRobin(1, 2)(brokersN(3), 4, 2, 2)
	if fmt.Sprint(all[4:]) != fmt.Sprint(tail) {
		t.Fatalf("partitions 4-5: %v, alone: %v", all[4:], tail)
	}
}

func TestValidateTopicName(t *testing.T) {
	for name, ok := range map[string]bool{
		"a": true, "A-z_0.9": true, "...": true, string(make([]byte, 0)): false,
		".": false, "..": false, "a b": false, "a\x00": false, "a:b": false, "ä": false,
	} {
		if err := ValidateTopicName(name); (err == nil) != ok {
			t.Errorf("ValidateTopicName(%q) = %v", name, err)
		}
	}
}

func TestUUID(t *testing.T) {
	seen := map[UUID]bool{}
	for i := 0; i < 1000; i++ {
		u := NewUUID()
		s := u.String()
		if u.IsZero() || seen[u] || len(s) != 22 || s[0] == '-' || u[6]>>4 != 4 {
			t.Fatalf("NewUUID() = %s", s)
		}
		seen[u] = true
		back, err := ParseUUID(s)
		if err != nil || back != u {
			t.Fatalf("ParseUUID(%s) = %v, %v", s, back, err)
		}
	}
	for _, bad := range []string{"", "short", "AAAAAAAAAAAAAAAAAAAAA=", "!AAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAB"} {
		if _, err := ParseUUID(bad); err == nil {
			t.Errorf("ParseUUID(%q) succeeded", bad)
		}
	}
}

// TestRackAware: with brokers on several racks, every partition's replicas span
// min(rf, racks) racks, leaders spread evenly over brokers, and replicas stay distinct.
func TestRackAware(t *testing.T) {
	racks := []string{"a", "a", "b", "b", "c", "c", "c"}
	brokers := make([]*Broker, len(racks))
	for i := range brokers {
		r := racks[i]
		brokers[i] = &Broker{NodeID: int32(i + 1), Rack: &r}
	}
	for rf := 1; rf <= 3; rf++ {
		for start := range len(brokers) {
			parts := 2 * len(brokers)
			got := rackAware(start, start*3)(brokers, 0, int32(parts), rf)
			leaders := map[int32]int{}
			for p, replicas := range got {
				seenRack := map[string]bool{}
				for i, r := range replicas {
					if slices.Contains(replicas[:i], r) {
						t.Fatalf("rf=%d p=%d: %v repeats a broker", rf, p, replicas)
					}
					seenRack[racks[r-1]] = true
				}
				if len(replicas) != rf || len(seenRack) != rf {
					t.Fatalf("rf=%d p=%d: replicas %v span racks %v, want %d racks", rf, p, replicas, seenRack, rf)
				}
				leaders[replicas[0]]++
			}
			for _, b := range brokers {
				if leaders[b.NodeID] != 2 {
					t.Fatalf("rf=%d start=%d: leaders %v, want 2 each", rf, start, leaders)
				}
			}
		}
	}
}

// TestPlanLeaderChanges: a broker that cannot serve loses its leaderships to live ISR
// members, leaves ISRs it is not the last member of, and a leaderless partition is led
// again as soon as an ISR member is live.
func TestPlanLeaderChanges(t *testing.T) {
	img := emptyImage()
	for id := int32(1); id <= 3; id++ {
		img.Brokers[id] = &Broker{NodeID: id}
	}
	id := NewUUID()
	img.Topics["t"] = &Topic{Name: "t", ID: id, Partitions: []Partition{
		{Index: 0, Leader: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}},
		{Index: 1, Leader: 1, Replicas: []int32{1, 2}, ISR: []int32{1}},
		{Index: 2, Leader: -1, Replicas: []int32{3, 1}, ISR: []int32{3}},
		{Index: 3, Leader: 2, Replicas: []int32{2, 1}, ISR: []int32{2, 1}},
	}}
	img.TopicsByID[id] = img.Topics["t"]
	down := func(ids ...int32) func(int32) bool {
		return func(n int32) bool { return !slices.Contains(ids, n) }
	}
	got := map[int32]string{}
	for _, r := range planLeaderChanges(img, down(1)) {
		c := r.(*PartitionChangeRecord)
		got[c.Partition] = fmt.Sprintf("leader=%d isr=%v", c.Leader, c.ISR)
	}
	want := map[int32]string{
		0: "leader=2 isr=[2 3]", // moves to the next live ISR member
		1: "leader=-1 isr=[1]",  // its only ISR member is down: no leader, and it stays in the ISR
		2: "leader=3 isr=[3]",   // led again: its ISR member 3 is live
		3: "leader=2 isr=[2]",   // keeps its leader, drops the follower that is down
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	next, err := applyBatch(img, 1, planLeaderChanges(img, down(1)))
	if err != nil {
		t.Fatal(err)
	}
	if p := next.Topics["t"].Partitions[0]; p.LeaderEpoch != 1 || p.PartitionEpoch != 1 {
		t.Fatalf("after a leader change: %+v, want leader epoch and partition epoch 1", p)
	}
	if p := next.Topics["t"].Partitions[3]; p.LeaderEpoch != 0 || p.PartitionEpoch != 1 {
		t.Fatalf("after an ISR change: %+v, want leader epoch 0, partition epoch 1", p)
	}
	if len(planLeaderChanges(next, down(1))) != 0 {
		t.Fatal("planning again on the result changes more")
	}
}
