package group

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/metadata"
)

// setTopics gives the coordinator an image with these topics (name ->
// partition count); IDs are derived from the names.
func (h *harness) setTopics(topics map[string]int) {
	img := &metadata.Image{Topics: map[string]*metadata.Topic{}, TopicsByID: map[[16]byte]*metadata.Topic{}}
	for name, n := range topics {
		t := &metadata.Topic{Name: name, ID: topicIDOf(name), Partitions: make([]metadata.Partition, n)}
		img.Topics[name], img.TopicsByID[t.ID] = t, t
	}
	h.c.img.Store(img)
}

func topicIDOf(name string) [16]byte {
	var id [16]byte
	copy(id[:], "t:"+name)
	return id
}

// client is a consumer-protocol member as a client keeps it: its epoch and
// the partitions it consumes. It follows franz-go: it drops what an
// assignment no longer has, takes what it adds, and reports what it owns.
type client848 struct {
	id       string
	instance *string
	epoch    int32
	owned    assignment
	topics   []string
	assignor string
}

func (h *harness) heartbeat848(g string, cl *client848, join bool) ConsumerHeartbeatResult {
	h.t.Helper()
	req := ConsumerHeartbeatRequest{
		Version: 1, Group: g, MemberID: cl.id, MemberEpoch: cl.epoch, InstanceID: cl.instance,
		RebalanceTimeout: 30 * time.Second, SubscribedTopicNames: cl.topics,
		Owned: toTopicIDPartitions(cl.owned, nil),
	}
	if cl.assignor != "" {
		req.ServerAssignor = &cl.assignor
	}
	if join {
		req.MemberEpoch, req.Owned = 0, []TopicIDPartitions{}
	}
	res := eventually(h.t, h.c.ConsumerGroupHeartbeat(req))
	if res.Err != nil {
		return res
	}
	cl.epoch = res.MemberEpoch
	if res.Assignment != nil {
		cl.owned = make(assignment)
		for _, t := range *res.Assignment {
			for _, p := range t.Partitions {
				cl.owned.add(t.TopicID, p)
			}
		}
	}
	return res
}

// checkExclusive fails if two clients consume one partition.
func checkExclusive(t *testing.T, clients []*client848, when string) {
	t.Helper()
	holder := make(map[topicPart]string)
	for _, cl := range clients {
		for tid, ps := range cl.owned {
			for _, p := range ps {
				tp := topicPart{tid, p}
				if other, ok := holder[tp]; ok {
					t.Fatalf("%s: partition %d of %q consumed by %s and %s at once", when, p, tid[2:], other, cl.id)
				}
				holder[tp] = cl.id
			}
		}
	}
}

// settle heartbeats every client until nothing changes, and returns how
// many rounds that took.
func (h *harness) settle(g string, clients []*client848) int {
	h.t.Helper()
	for round := 1; round <= 50; round++ {
		changed := false
		for _, cl := range clients {
			before, beforeOwned := cl.epoch, cl.owned.clone()
			if res := h.heartbeat848(g, cl, false); res.Err != nil {
				h.t.Fatalf("heartbeat of %s: %v", cl.id, res.Err)
			}
			checkExclusive(h.t, clients, fmt.Sprintf("settling round %d", round))
			if cl.epoch != before || !cl.owned.equal(beforeOwned) {
				changed = true
			}
		}
		if !changed {
			return round
		}
	}
	h.t.Fatal("the group did not settle in 50 rounds")
	return 0
}

// TestConsumerGroupNoDoubleOwnership drives random joins, leaves,
// heartbeats, topic growth and coordinator restarts, checking after every
// answer that no partition is consumed by two members, and at the end that
// the group converges: every partition consumed once, evenly, all members
// at the group epoch.
func TestConsumerGroupNoDoubleOwnership(t *testing.T) {
	for _, assignor := range []string{"uniform", "range"} {
		t.Run(assignor, func(t *testing.T) {
			for seed := range uint64(20) {
				rng := rand.New(rand.NewPCG(seed, 848))
				h := newHarness(t, nil)
				topics := map[string]int{"a": 7, "b": 5}
				h.setTopics(topics)
				var clients []*client848
				next := 0
				join := func() {
					next++
					cl := &client848{id: fmt.Sprintf("m%02d", next), topics: []string{"a", "b"}, assignor: assignor, owned: make(assignment)}
					if res := h.heartbeat848("g", cl, true); res.Err != nil {
						t.Fatalf("seed %d: join: %v", seed, res.Err)
					}
					clients = append(clients, cl)
				}
				join()
				for step := range 200 {
					switch op := rng.IntN(20); {
					case op < 3 && len(clients) < 8:
						join()
					case op < 5 && len(clients) > 1:
						i := rng.IntN(len(clients))
						cl := clients[i]
						cl.epoch = leaveEpoch
						if res := h.heartbeat848("g", cl, false); res.Err != nil {
							t.Fatalf("seed %d: leave: %v", seed, res.Err)
						}
						clients = slices.Delete(clients, i, i+1)
					case op == 5 && topics["a"] < 12:
						topics["a"]++
						h.setTopics(topics)
					case op == 6:
						h.start() // the coordinator moves: the group is loaded from its snapshot
						h.setTopics(topics)
					default:
						cl := clients[rng.IntN(len(clients))]
						if res := h.heartbeat848("g", cl, false); res.Err != nil {
							t.Fatalf("seed %d step %d: heartbeat of %s: %v", seed, step, cl.id, res.Err)
						}
					}
					checkExclusive(t, clients, fmt.Sprintf("seed %d step %d", seed, step))
				}
				h.settle("g", clients)
				d := h.c.DescribeConsumerGroup("g")
				if d.State != "Stable" {
					t.Fatalf("seed %d: state %s after settling, want Stable", seed, d.State)
				}
				total, lo, hi := 0, 1<<30, 0
				for _, cl := range clients {
					if cl.epoch != d.Epoch {
						t.Errorf("seed %d: %s at epoch %d, group at %d", seed, cl.id, cl.epoch, d.Epoch)
					}
					n := cl.owned.count()
					total += n
					lo, hi = min(lo, n), max(hi, n)
				}
				if want := topics["a"] + topics["b"]; total != want {
					t.Fatalf("seed %d: %d partitions consumed, want %d", seed, total, want)
				}
				if assignor == "uniform" && hi-lo > 1 {
					t.Errorf("seed %d: uneven: members hold between %d and %d partitions", seed, lo, hi)
				}
			}
		})
	}
}

// TestConsumerGroupJoinMovesOnlyWhatItMust checks that a join moves only
// the partitions the newcomer gets: the others stay with their owners
// throughout, never revoked.
func TestConsumerGroupJoinMovesOnlyWhatItMust(t *testing.T) {
	h := newHarness(t, nil)
	h.setTopics(map[string]int{"a": 12})
	var clients []*client848
	for i := range 3 {
		cl := &client848{id: fmt.Sprintf("m%d", i), topics: []string{"a"}, owned: make(assignment)}
		h.heartbeat848("g", cl, true)
		clients = append(clients, cl)
		h.settle("g", clients)
	}
	before := make(map[string]assignment)
	for _, cl := range clients {
		before[cl.id] = cl.owned.clone()
	}
	newcomer := &client848{id: "m3", topics: []string{"a"}, owned: make(assignment)}
	h.heartbeat848("g", newcomer, true)
	clients = append(clients, newcomer)
	for range 3 {
		for _, cl := range clients[:3] {
			h.heartbeat848("g", cl, false)
			// Each old member keeps a subset of what it had: nothing
			// is taken from one member and given to another old one.
			for tid, ps := range cl.owned {
				for _, p := range ps {
					if !before[cl.id].has(tid, p) {
						t.Fatalf("%s was given partition %d, which it did not have", cl.id, p)
					}
				}
			}
		}
		h.heartbeat848("g", newcomer, false)
		checkExclusive(t, clients, "after the join")
	}
	h.settle("g", clients)
	for _, cl := range clients {
		if n := cl.owned.count(); n != 3 {
			t.Errorf("%s holds %d partitions, want 3", cl.id, n)
		}
	}
}

func TestConsumerGroupHeartbeatErrors(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MigrationPolicy = MigrationDisabled })
	h.setTopics(map[string]int{"a": 2})
	bad := "nope"
	for _, tc := range []struct {
		name string
		req  ConsumerHeartbeatRequest
		want error
	}{
		{"no group", ConsumerHeartbeatRequest{Version: 1, MemberID: "x", RebalanceTimeout: time.Second, SubscribedTopicNames: []string{"a"}}, kerr.InvalidRequest},
		{"v1 without member id", ConsumerHeartbeatRequest{Version: 1, Group: "g", RebalanceTimeout: time.Second, SubscribedTopicNames: []string{"a"}}, kerr.InvalidRequest},
		{"join without subscription", ConsumerHeartbeatRequest{Version: 1, Group: "g", MemberID: "x", RebalanceTimeout: time.Second}, kerr.InvalidRequest},
		{"join without rebalance timeout", ConsumerHeartbeatRequest{Version: 1, Group: "g", MemberID: "x", RebalanceTimeout: -1, SubscribedTopicNames: []string{"a"}}, kerr.InvalidRequest},
		{"join owning partitions", ConsumerHeartbeatRequest{Version: 1, Group: "g", MemberID: "x", RebalanceTimeout: time.Second, SubscribedTopicNames: []string{"a"}, Owned: []TopicIDPartitions{{TopicID: topicIDOf("a"), Partitions: []int32{0}}}}, kerr.InvalidRequest},
		{"unknown assignor", ConsumerHeartbeatRequest{Version: 1, Group: "g", MemberID: "x", RebalanceTimeout: time.Second, SubscribedTopicNames: []string{"a"}, ServerAssignor: &bad}, kerr.UnsupportedAssignor},
		{"bad regex", ConsumerHeartbeatRequest{Version: 1, Group: "g", MemberID: "x", RebalanceTimeout: time.Second, SubscribedTopicRegex: strPtr("[")}, kerr.InvalidRegularExpression},
		{"epoch below -2", ConsumerHeartbeatRequest{Version: 1, Group: "g", MemberID: "x", MemberEpoch: -3}, kerr.InvalidRequest},
		{"static leave without instance", ConsumerHeartbeatRequest{Version: 1, Group: "g", MemberID: "x", MemberEpoch: -2}, kerr.InvalidRequest},
		{"unknown member of unknown group", ConsumerHeartbeatRequest{Version: 1, Group: "nogroup", MemberID: "x", MemberEpoch: 3}, kerr.GroupIDNotFound},
	} {
		res := eventually(t, h.c.ConsumerGroupHeartbeat(tc.req))
		if !errors.Is(res.Err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, res.Err, tc.want)
		}
	}

	a := &client848{id: "a", topics: []string{"a"}, owned: make(assignment)}
	h.heartbeat848("g", a, true)
	ahead := *a
	ahead.epoch += 5
	if res := h.heartbeat848("g", &ahead, false); !errors.Is(res.Err, kerr.FencedMemberEpoch) {
		t.Errorf("epoch ahead: %v, want FENCED_MEMBER_EPOCH", res.Err)
	}
	ghost := &client848{id: "ghost", epoch: 1, topics: []string{"a"}, owned: make(assignment)}
	if res := h.heartbeat848("g", ghost, false); !errors.Is(res.Err, kerr.UnknownMemberID) {
		t.Errorf("unknown member: %v, want UNKNOWN_MEMBER_ID", res.Err)
	}

	// Offset commits check the member epoch.
	commit := func(epoch int32) error {
		return eventually(t, h.c.CommitOffsets(CommitRequest{Group: "g", Generation: epoch, MemberID: "a", Retention: -1,
			Offsets: []CommitOffset{{Topic: "a", Partition: 0, Offset: 1, LeaderEpoch: -1}}}))[0]
	}
	if err := commit(a.epoch); err != nil {
		t.Errorf("commit at the member's epoch: %v", err)
	}
	if err := commit(a.epoch - 1); !errors.Is(err, kerr.StaleMemberEpoch) {
		t.Errorf("commit at an older epoch: %v, want STALE_MEMBER_EPOCH", err)
	}
	if err := commit(a.epoch + 1); !errors.Is(err, kerr.FencedMemberEpoch) {
		t.Errorf("commit at a newer epoch: %v, want FENCED_MEMBER_EPOCH", err)
	}

	// A classic member cannot join a consumer group with members, and a
	// consumer member cannot join a classic group with members.
	jr := joinReq("g", "")
	if res := eventually(t, h.c.JoinGroup(jr)); !errors.Is(res.Err, kerr.InconsistentGroupProtocol) {
		t.Errorf("classic join of a consumer group: %v, want INCONSISTENT_GROUP_PROTOCOL", res.Err)
	}
	h.stableGroup("classic", 1)
	cc := &client848{id: "c", topics: []string{"a"}, owned: make(assignment)}
	if res := h.heartbeat848("classic", cc, true); !errors.Is(res.Err, kerr.GroupIDNotFound) {
		t.Errorf("consumer join of a classic group: %v, want GROUP_ID_NOT_FOUND", res.Err)
	}
}

func TestConsumerGroupStaticMembers(t *testing.T) {
	h := newHarness(t, nil)
	h.setTopics(map[string]int{"a": 4})
	inst := "i1"
	a := &client848{id: "a1", instance: &inst, topics: []string{"a"}, owned: make(assignment)}
	b := &client848{id: "b", topics: []string{"a"}, owned: make(assignment)}
	h.heartbeat848("g", a, true)
	h.heartbeat848("g", b, true)
	h.settle("g", []*client848{a, b})
	epoch, owned := a.epoch, a.owned.clone()

	dup := &client848{id: "a2", instance: &inst, topics: []string{"a"}, owned: make(assignment)}
	if res := h.heartbeat848("g", dup, true); !errors.Is(res.Err, kerr.UnreleasedInstanceID) {
		t.Fatalf("a second member with the instance id: %v, want UNRELEASED_INSTANCE_ID", res.Err)
	}
	// The static member leaves for now (-2): its partitions stay its own.
	a.epoch = staticLeaveEpoch
	if res := h.heartbeat848("g", a, false); res.Err != nil || res.MemberEpoch != staticLeaveEpoch {
		t.Fatalf("static leave: %+v", res)
	}
	h.heartbeat848("g", b, false)
	if b.owned.count() != 2 {
		t.Fatalf("b holds %d partitions while a is away, want its own 2", b.owned.count())
	}
	// Its next incarnation takes its place, epoch and partitions, with no
	// rebalance.
	res := h.heartbeat848("g", dup, true)
	if res.Err != nil {
		t.Fatalf("static rejoin: %v", res.Err)
	}
	if dup.epoch != epoch || !dup.owned.equal(owned) {
		t.Fatalf("static rejoin got epoch %d %v, want its previous %d %v", dup.epoch, dup.owned, epoch, owned)
	}
	if d := h.c.DescribeConsumerGroup("g"); d.Epoch != epoch || len(d.Members) != 2 {
		t.Fatalf("group epoch %d with %d members after the static rejoin, want %d and 2", d.Epoch, len(d.Members), epoch)
	}
}

func TestConsumerGroupTimeouts(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ConsumerSessionTimeout = 10 * time.Second })
	h.setTopics(map[string]int{"a": 4})
	a := &client848{id: "a", topics: []string{"a"}, owned: make(assignment)}
	b := &client848{id: "b", topics: []string{"a"}, owned: make(assignment)}
	h.heartbeat848("g", a, true)
	h.settle("g", []*client848{a})

	// b joins; a, which must revoke half, never heartbeats again: its
	// session (10 s, shorter than its 30 s rebalance timeout) ends it.
	h.heartbeat848("g", b, true)
	h.clock.Advance(9 * time.Second)
	h.heartbeat848("g", b, false)
	if d := h.c.DescribeConsumerGroup("g"); len(d.Members) != 2 {
		t.Fatalf("%d members before a's session ends, want 2", len(d.Members))
	}
	h.clock.Advance(2 * time.Second)
	d := h.c.DescribeConsumerGroup("g")
	if len(d.Members) != 1 || d.Members[0].MemberID != "b" {
		t.Fatalf("members after a's session ended: %+v, want only b", d.Members)
	}
	h.heartbeat848("g", b, false)
	if b.owned.count() != 4 {
		t.Fatalf("b holds %d partitions after a was fenced, want 4", b.owned.count())
	}

	// A member that keeps heartbeating but never revokes is fenced after
	// its rebalance timeout.
	h2 := newHarness(t, func(c *Config) { c.ConsumerSessionTimeout = time.Hour })
	h2.setTopics(map[string]int{"a": 4})
	x := &client848{id: "x", topics: []string{"a"}, owned: make(assignment)}
	y := &client848{id: "y", topics: []string{"a"}, owned: make(assignment)}
	h2.heartbeat848("g", x, true)
	h2.heartbeat848("g", y, true)
	stubborn := x.owned.clone()
	for range 4 {
		h2.heartbeat848("g", x, false)
		x.owned = stubborn.clone() // it does not let go
		h2.clock.Advance(10 * time.Second)
	}
	if d := h2.c.DescribeConsumerGroup("g"); len(d.Members) != 1 || d.Members[0].MemberID != "y" {
		t.Fatalf("members after x's rebalance timeout: %+v, want only y", d.Members)
	}
	if res := h2.heartbeat848("g", x, false); !errors.Is(res.Err, kerr.UnknownMemberID) {
		t.Fatalf("fenced member's heartbeat: %v, want UNKNOWN_MEMBER_ID", res.Err)
	}
}

func TestConsumerGroupConvertsEmptyGroups(t *testing.T) {
	h := newHarness(t, nil)
	h.setTopics(map[string]int{"a": 2})
	// Offsets of an empty classic group stay when it becomes a consumer
	// group, and back.
	if errs := eventually(t, h.c.CommitOffsets(CommitRequest{Group: "g", Generation: -1, Retention: -1,
		Offsets: []CommitOffset{{Topic: "a", Partition: 1, Offset: 42, LeaderEpoch: -1}}})); errs[0] != nil {
		t.Fatalf("commit: %v", errs[0])
	}
	a := &client848{id: "a", topics: []string{"a"}, owned: make(assignment)}
	if res := h.heartbeat848("g", a, true); res.Err != nil {
		t.Fatalf("join: %v", res.Err)
	}
	a.epoch = leaveEpoch
	h.heartbeat848("g", a, false)
	h.start()
	got, err := h.c.FetchOffsets("g", []TopicPartitions{{Topic: "a", Partitions: []int32{1}}}, false)
	if err != nil || got[0].Partitions[0].Offset != 42 {
		t.Fatalf("offset after the conversion and a reload: %+v %v, want 42", got, err)
	}
	ls, _ := h.c.ListGroups(nil, []string{"consumer"})
	if len(ls) != 1 || ls[0].State != "Empty" {
		t.Fatalf("consumer groups listed: %+v, want g, Empty", ls)
	}
	// A classic member may take the empty group back.
	ids, _ := h.stableGroup("g", 1)
	if len(ids) != 1 {
		t.Fatal("classic join of the empty consumer group failed")
	}
	h.start()
	if ls, _ := h.c.ListGroups(nil, []string{"classic"}); len(ls) != 1 {
		t.Fatalf("classic groups after the reload: %+v, want g", ls)
	}
}

// classicMeta is a cooperative consumer's subscription to topics, owning
// owned (topic -> partitions).
func classicMeta(topics []string, owned map[string][]int32) []byte {
	md := kmsg.NewConsumerMemberMetadata()
	md.Version = 1
	md.Topics = topics
	for t, ps := range owned {
		op := kmsg.NewConsumerMemberMetadataOwnedPartition()
		op.Topic, op.Partitions = t, ps
		md.OwnedPartitions = append(md.OwnedPartitions, op)
	}
	return md.AppendTo(nil)
}

func decodeAssignment(t *testing.T, b []byte) map[string][]int32 {
	t.Helper()
	var as kmsg.ConsumerMemberAssignment
	if err := as.ReadFrom(b); err != nil {
		t.Fatalf("assignment: %v", err)
	}
	out := make(map[string][]int32)
	for _, at := range as.Topics {
		out[at.Topic] = at.Partitions
	}
	return out
}

// TestConsumerGroupOnlineMigration upgrades a stable classic group when a
// consumer-protocol member joins, moves half of the classic member's
// partitions to it through revoke-then-assign, and downgrades the group
// when the consumer-protocol member leaves.
func TestConsumerGroupOnlineMigration(t *testing.T) {
	h := newHarness(t, nil)
	h.setTopics(map[string]int{"a": 4})
	join := func(id string, owned map[string][]int32) JoinResult {
		t.Helper()
		req := joinReq("g", id)
		req.RequireKnownMemberID = false
		req.Protocols = []Protocol{{Name: "cooperative-sticky", Metadata: classicMeta([]string{"a"}, owned)}}
		return eventually(t, h.c.JoinGroup(req))
	}
	sync := func(id string, gen int32, assign []Assignment) map[string][]int32 {
		t.Helper()
		r := eventually(t, h.c.SyncGroup(SyncRequest{Group: "g", Generation: gen, MemberID: id, Assignments: assign}))
		if r.Err != nil {
			t.Fatalf("sync of %s at %d: %v", id, gen, r.Err)
		}
		return decodeAssignment(t, r.Assignment)
	}

	// A classic group: one member consuming all four partitions.
	j := join("", nil)
	if j.Err != nil {
		t.Fatalf("classic join: %v", j.Err)
	}
	a, gen := j.MemberID, j.Generation
	all := kmsg.NewConsumerMemberAssignment()
	all.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: "a", Partitions: []int32{0, 1, 2, 3}}}
	if got := sync(a, gen, []Assignment{{MemberID: a, Assignment: all.AppendTo(nil)}}); len(got["a"]) != 4 {
		t.Fatalf("classic assignment %v", got)
	}

	// A consumer-protocol member joins: the group is upgraded; the newcomer
	// gets nothing the classic member still holds.
	b := &client848{id: "b", topics: []string{"a"}, owned: make(assignment)}
	if res := h.heartbeat848("g", b, true); res.Err != nil {
		t.Fatalf("consumer join of the classic group: %v", res.Err)
	}
	if b.owned.count() != 0 {
		t.Fatalf("newcomer got %v while the classic member holds everything", b.owned)
	}
	if ls, _ := h.c.ListGroups(nil, []string{"consumer"}); len(ls) != 1 {
		t.Fatalf("consumer groups after the upgrade: %+v", ls)
	}
	// The classic member is asked to rejoin, keeps two, and revokes two.
	if err := h.heartbeat("g", a, gen); !errors.Is(err, kerr.RebalanceInProgress) {
		t.Fatalf("classic heartbeat after the upgrade: %v, want REBALANCE_IN_PROGRESS", err)
	}
	j = join(a, map[string][]int32{"a": {0, 1, 2, 3}})
	if j.Err != nil || j.Generation != gen {
		t.Fatalf("classic rejoin: %+v, want generation %d", j, gen)
	}
	kept := sync(a, j.Generation, nil)["a"]
	if len(kept) != 2 {
		t.Fatalf("classic member keeps %v, want two partitions", kept)
	}
	h.heartbeat848("g", b, false)
	if b.owned.count() != 0 {
		t.Fatalf("newcomer got %v before the classic member revoked", b.owned)
	}
	// It reports having let go; it moves to the new epoch, and the newcomer
	// gets the two released partitions.
	j = join(a, map[string][]int32{"a": kept})
	if j.Err != nil || j.Generation <= gen {
		t.Fatalf("classic rejoin after revoking: %+v", j)
	}
	if got := sync(a, j.Generation, nil)["a"]; !slices.Equal(got, kept) {
		t.Fatalf("classic member holds %v, want %v", got, kept)
	}
	if err := h.heartbeat("g", a, j.Generation); err != nil {
		t.Fatalf("classic heartbeat when reconciled: %v", err)
	}
	h.heartbeat848("g", b, false)
	for _, p := range kept {
		if b.owned.has(topicIDOf("a"), p) {
			t.Fatalf("partition %d given to both members", p)
		}
	}
	if b.owned.count() != 2 {
		t.Fatalf("newcomer holds %v, want the two released partitions", b.owned)
	}
	d := h.c.DescribeConsumerGroup("g")
	if d.State != "Stable" || len(d.Members) != 2 {
		t.Fatalf("described %+v", d)
	}

	// The consumer-protocol member leaves: only a classic member is left,
	// and the group goes back to the classic protocol, rebalancing.
	b.epoch = leaveEpoch
	if res := h.heartbeat848("g", b, false); res.Err != nil {
		t.Fatalf("leave: %v", res.Err)
	}
	if err := h.heartbeat("g", a, j.Generation); !errors.Is(err, kerr.RebalanceInProgress) {
		t.Fatalf("classic heartbeat after the downgrade: %v, want REBALANCE_IN_PROGRESS", err)
	}
	j = join(a, map[string][]int32{"a": kept})
	if j.Err != nil || j.Leader != a {
		t.Fatalf("classic rejoin after the downgrade: %+v", j)
	}
	if ls, _ := h.c.ListGroups(nil, []string{"classic"}); len(ls) != 1 {
		t.Fatalf("classic groups after the downgrade: %+v", ls)
	}
}
