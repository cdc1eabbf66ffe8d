package group

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/metadata"
)

func commitReq(group string, gen int32, member string, offs ...CommitOffset) CommitRequest {
	return CommitRequest{Group: group, Generation: gen, MemberID: member, Retention: -1, Offsets: offs}
}

func co(topic string, p int32, off int64) CommitOffset {
	md := "md"
	return CommitOffset{Topic: topic, Partition: p, Offset: off, LeaderEpoch: 3, Metadata: &md}
}

func (h *harness) fetch(group string, topics ...TopicPartitions) []FetchedTopic {
	h.t.Helper()
	out, err := h.c.FetchOffsets(group, topics, false)
	if err != nil {
		h.t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	return out
}

func (h *harness) offsetOf(group, topic string, p int32) int64 {
	h.t.Helper()
	out := h.fetch(group, TopicPartitions{Topic: topic, Partitions: []int32{p}})
	wantErr(h.t, "fetch", out[0].Partitions[0].Err, nil)
	return out[0].Partitions[0].Offset
}

func TestSimpleCommitAndFetch(t *testing.T) {
	h := newHarness(t, nil)
	// No group yet: nothing committed, no error.
	if got := h.offsetOf("g", "t", 0); got != -1 {
		t.Fatalf("offset of an unknown group %d, want -1", got)
	}
	if all := h.fetch("g"); len(all) != 0 {
		t.Fatalf("all offsets of an unknown group: %+v", all)
	}
	// A commit with generation -1 creates an Empty group used for offsets
	// only.
	errs := now(t, h.c.CommitOffsets(commitReq("g", -1, "", co("t", 0, 10), co("t", 1, 20), co("u", 0, 30))))
	for i, err := range errs {
		wantErr(t, "commit", err, nil)
		_ = i
	}
	d, err := h.c.DescribeGroup("g")
	if err != nil || d.State != "Empty" || d.ProtocolType != "" {
		t.Fatalf("describe %+v %v", d, err)
	}
	got := h.fetch("g", TopicPartitions{Topic: "t", Partitions: []int32{0, 1, 2}})
	want := []FetchedOffset{
		{Partition: 0, Offset: 10, LeaderEpoch: 3, Metadata: "md"},
		{Partition: 1, Offset: 20, LeaderEpoch: 3, Metadata: "md"},
		{Partition: 2, Offset: -1, LeaderEpoch: -1},
	}
	for i, w := range want {
		if got[0].Partitions[i] != w {
			t.Fatalf("partition %d: %+v, want %+v", i, got[0].Partitions[i], w)
		}
	}
	all := h.fetch("g")
	if len(all) != 2 || all[0].Topic != "t" || len(all[0].Partitions) != 2 || all[1].Topic != "u" {
		t.Fatalf("all offsets %+v", all)
	}
	// Overwrite.
	now(t, h.c.CommitOffsets(commitReq("g", -1, "", co("t", 0, 11))))
	if got := h.offsetOf("g", "t", 0); got != 11 {
		t.Fatalf("offset %d after a second commit, want 11", got)
	}
	// Metadata too large, beside a good partition.
	big := strings.Repeat("x", h.cfg.MaxMetadataBytes+1)
	errs = now(t, h.c.CommitOffsets(commitReq("g", -1, "", CommitOffset{Topic: "t", Partition: 0, Offset: 99, Metadata: &big}, co("t", 1, 21))))
	wantErr(t, "large metadata", errs[0], kerr.OffsetMetadataTooLarge)
	wantErr(t, "good partition", errs[1], nil)
	if got := h.offsetOf("g", "t", 0); got != 11 {
		t.Fatalf("offset %d after a refused commit, want 11", got)
	}
	// A commit with a generation into a group that does not exist.
	errs = now(t, h.c.CommitOffsets(commitReq("nope", 3, "m", co("t", 0, 1))))
	wantErr(t, "commit with a generation to an unknown group", errs[0], kerr.IllegalGeneration)
	r := commitReq("nope", 3, "m", co("t", 0, 1))
	r.GroupIDNotFound = true
	wantErr(t, "same, v9", now(t, h.c.CommitOffsets(r))[0], kerr.GroupIDNotFound)
}

func TestCommitValidation(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 2)
	cases := []struct {
		name string
		req  CommitRequest
		want error
	}{
		{"member of the generation", commitReq("g", gen, ids[1], co("t", 0, 1)), nil},
		{"old generation", commitReq("g", gen-1, ids[1], co("t", 0, 1)), kerr.IllegalGeneration},
		{"unknown member", commitReq("g", gen, "ghost", co("t", 0, 1)), kerr.UnknownMemberID},
		{"simple commit into an active group", commitReq("g", -1, "", co("t", 0, 1)), kerr.UnknownMemberID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "commit", now(t, h.c.CommitOffsets(tc.req))[0], tc.want)
		})
	}
	// A commit keeps the member's session alive.
	h.clock.Advance(session - time.Second)
	now(t, h.c.CommitOffsets(commitReq("g", gen, ids[1], co("t", 0, 2))))
	wantErr(t, "leader heartbeat", h.heartbeat("g", ids[0], gen), nil)
	h.clock.Advance(2 * time.Second)
	wantErr(t, "committer is alive", h.heartbeat("g", ids[1], gen), nil)
}

func TestPendingCommitBecomesVisibleWhenDurable(t *testing.T) {
	h := newHarness(t, nil)
	now(t, h.c.CommitOffsets(commitReq("g", -1, "", co("t", 0, 1))))
	h.store.hold = true
	ch := h.c.CommitOffsets(commitReq("g", -1, "", co("t", 0, 2)))
	notYet(t, ch)
	if got := h.offsetOf("g", "t", 0); got != 1 {
		t.Fatalf("offset %d while the commit is not durable, want 1", got)
	}
	h.store.release(t, nil)
	wantErr(t, "commit", eventually(t, ch)[0], nil)
	if got := h.offsetOf("g", "t", 0); got != 2 {
		t.Fatalf("offset %d after the commit is durable, want 2", got)
	}
	// A failed wait fails the commit and leaves the offset.
	ch = h.c.CommitOffsets(commitReq("g", -1, "", co("t", 0, 3)))
	h.store.release(t, kerr.NotLeaderForPartition)
	wantErr(t, "failed commit", eventually(t, ch)[0], kerr.NotCoordinator)
	if got := h.offsetOf("g", "t", 0); got != 2 {
		t.Fatalf("offset %d after a failed commit, want 2", got)
	}
	// Two commits in flight acknowledged out of order: the later record
	// wins.
	ch4 := h.c.CommitOffsets(commitReq("g", -1, "", co("t", 0, 4)))
	ch5 := h.c.CommitOffsets(commitReq("g", -1, "", co("t", 0, 5)))
	h.store.mu.Lock()
	h.store.held[0], h.store.held[1] = h.store.held[1], h.store.held[0]
	h.store.mu.Unlock()
	h.store.release(t, nil)
	eventually(t, ch5)
	h.store.release(t, nil)
	eventually(t, ch4)
	if got := h.offsetOf("g", "t", 0); got != 5 {
		t.Fatalf("offset %d, want 5 (the later commit)", got)
	}
}

func TestAppendFailure(t *testing.T) {
	h := newHarness(t, nil)
	h.store.failErr = kerr.NotLeaderForPartition
	wantErr(t, "commit", now(t, h.c.CommitOffsets(commitReq("g", -1, "", co("t", 0, 1))))[0], kerr.NotCoordinator)
	h.store.failErr = kerr.MessageTooLarge
	wantErr(t, "commit", now(t, h.c.CommitOffsets(commitReq("g", -1, "", co("t", 0, 1))))[0], kerr.InvalidCommitOffsetSize)
	h.store.failErr = nil

	// The leader's assignment cannot be stored: the members waiting in
	// SyncGroup get the error, and the group rebalances.
	id, ch := h.firstJoin("g2")
	j := now(t, ch)
	h.store.failErr = kerr.NotLeaderForPartition
	s := now(t, h.c.SyncGroup(SyncRequest{Group: "g2", Generation: j.Generation, MemberID: id, Assignments: assignments(id)}))
	wantErr(t, "sync", s.Err, kerr.NotCoordinator)
	if got := h.state("g2"); got != "PreparingRebalance" {
		t.Fatalf("state %s after a failed store", got)
	}
}

func TestSyncWaitsForDurableAssignment(t *testing.T) {
	h := newHarness(t, nil)
	id, ch := h.firstJoin("g")
	j := now(t, ch)
	h.store.hold = true
	s := h.c.SyncGroup(SyncRequest{Group: "g", Generation: j.Generation, MemberID: id, Assignments: assignments(id)})
	notYet(t, s)
	if got := h.state("g"); got != "CompletingRebalance" {
		t.Fatalf("state %s before the assignment is durable", got)
	}
	h.store.release(t, nil)
	wantErr(t, "sync", eventually(t, s).Err, nil)
	if got := h.state("g"); got != "Stable" {
		t.Fatalf("state %s after the assignment is durable", got)
	}
}

func TestOffsetDelete(t *testing.T) {
	h := newHarness(t, nil)
	// Members subscribe to "t" (consumer protocol metadata).
	sub := consumerMetadata("t")
	join := func(memberID string) JoinRequest {
		r := joinReq("g", memberID)
		r.Protocols = []Protocol{{Name: "range", Metadata: sub}}
		r.RequireKnownMemberID = false
		return r
	}
	j := now(t, h.c.JoinGroup(join("")))
	now(t, h.c.SyncGroup(SyncRequest{Group: "g", Generation: j.Generation, MemberID: j.MemberID}))
	now(t, h.c.CommitOffsets(commitReq("g", j.Generation, j.MemberID, co("t", 0, 1), co("old", 0, 2))))

	res := now(t, h.c.DeleteOffsets("g", []TopicPartitions{{Topic: "t", Partitions: []int32{0}}, {Topic: "old", Partitions: []int32{0, 1}}}))
	wantErr(t, "delete", res.Err, nil)
	wantErr(t, "subscribed topic", res.Partitions[0][0], kerr.GroupSubscribedToTopic)
	wantErr(t, "unsubscribed topic", res.Partitions[1][0], nil)
	wantErr(t, "partition without offset", res.Partitions[1][1], nil)
	if got := h.offsetOf("g", "old", 0); got != -1 {
		t.Fatalf("deleted offset still there: %d", got)
	}
	if got := h.offsetOf("g", "t", 0); got != 1 {
		t.Fatalf("offset of the subscribed topic: %d", got)
	}
	res = now(t, h.c.DeleteOffsets("nope", nil))
	wantErr(t, "unknown group", res.Err, kerr.GroupIDNotFound)

	// Once the group is empty, every offset can go.
	h.c.LeaveGroup("g", []LeaveMember{{MemberID: j.MemberID}})
	res = now(t, h.c.DeleteOffsets("g", []TopicPartitions{{Topic: "t", Partitions: []int32{0}}}))
	wantErr(t, "delete from an empty group", res.Partitions[0][0], nil)
	if got := h.offsetOf("g", "t", 0); got != -1 {
		t.Fatalf("offset %d after deletion", got)
	}
}

func TestDeleteGroups(t *testing.T) {
	h := newHarness(t, nil)
	ids, _ := h.stableGroup("active", 1)
	now(t, h.c.CommitOffsets(commitReq("idle", -1, "", co("t", 0, 1))))
	errs := now(t, h.c.DeleteGroups([]string{"active", "idle", "unknown"}))
	wantErr(t, "active group", errs[0], kerr.NonEmptyGroup)
	wantErr(t, "idle group", errs[1], nil)
	wantErr(t, "unknown group", errs[2], kerr.GroupIDNotFound)
	if _, err := h.c.DescribeGroup("idle"); err != kerr.GroupIDNotFound {
		t.Fatalf("describe a deleted group: %v", err)
	}
	if got := h.offsetOf("idle", "t", 0); got != -1 {
		t.Fatalf("offset %d of a deleted group", got)
	}
	_ = ids
	// The deletion survives a restart.
	h.start()
	if _, err := h.c.DescribeGroup("idle"); err != kerr.GroupIDNotFound {
		t.Fatalf("describe a deleted group after restart: %v", err)
	}
}

func TestOffsetRetention(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.OffsetsRetention = time.Hour
		c.RetentionCheckInterval = time.Minute
	})
	// A group used only for offsets: they expire an hour after the
	// commit, and the group with them.
	start := h.clock.Now()
	now(t, h.c.CommitOffsets(commitReq("simple", -1, "", co("t", 0, 1))))
	h.clock.Advance(30 * time.Minute)
	now(t, h.c.CommitOffsets(commitReq("simple", -1, "", co("t", 1, 1))))

	// A consumer group that becomes empty: its offsets expire an hour
	// after it became empty, however old the commits.
	ids, gen := h.stableGroup("consumers", 1)
	now(t, h.c.CommitOffsets(commitReq("consumers", gen, ids[0], co("t", 0, 7))))
	for h.clock.Now().Before(start.Add(61 * time.Minute)) { // 31 more minutes of heartbeats
		h.clock.Advance(session - time.Second)
		wantErr(t, "heartbeat", h.heartbeat("consumers", ids[0], gen), nil)
	}
	// 61 minutes: t/0 of "simple" is past the hour, t/1 is not.
	if got := h.offsetOf("simple", "t", 0); got != -1 {
		t.Fatalf("simple t/0 = %d, want expired", got)
	}
	if got := h.offsetOf("simple", "t", 1); got != 1 {
		t.Fatalf("simple t/1 = %d, want kept", got)
	}
	// The active consumer group keeps its offset (subscription unknown:
	// the metadata is not a consumer subscription).
	if got := h.offsetOf("consumers", "t", 0); got != 7 {
		t.Fatalf("consumers t/0 = %d, want kept while the group is active", got)
	}
	h.c.LeaveGroup("consumers", []LeaveMember{{MemberID: ids[0]}})
	h.clock.Advance(59 * time.Minute)
	if got := h.offsetOf("consumers", "t", 0); got != 7 {
		t.Fatalf("consumers t/0 = %d, want kept less than an hour after the group became empty", got)
	}
	h.clock.Advance(2 * time.Minute)
	if got := h.offsetOf("consumers", "t", 0); got != -1 {
		t.Fatalf("consumers t/0 = %d, want expired", got)
	}
	groups, err := h.c.ListGroups(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if g.Group == "consumers" || g.Group == "simple" {
			t.Fatalf("group %s still listed after its offsets expired: %+v", g.Group, groups)
		}
	}
	// The expiry is in the log: a restart does not bring them back.
	h.start()
	if got := h.offsetOf("simple", "t", 1); got != -1 {
		t.Fatalf("simple t/1 = %d after restart, want expired", got)
	}
}

func TestCommitRetentionTime(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.OffsetsRetention = 24 * time.Hour
		c.RetentionCheckInterval = time.Minute
	})
	r := commitReq("g", -1, "", co("t", 0, 1))
	r.Retention = 10 * time.Minute // OffsetCommit v2-4
	now(t, h.c.CommitOffsets(r))
	h.clock.Advance(9 * time.Minute)
	if got := h.offsetOf("g", "t", 0); got != 1 {
		t.Fatalf("offset %d before its retention", got)
	}
	h.clock.Advance(2 * time.Minute)
	if got := h.offsetOf("g", "t", 0); got != -1 {
		t.Fatalf("offset %d after its retention", got)
	}
}

func TestListGroupsFilters(t *testing.T) {
	h := newHarness(t, nil)
	h.stableGroup("stable", 1)
	now(t, h.c.CommitOffsets(commitReq("simple", -1, "", co("t", 0, 1))))
	h.firstJoin("preparing")
	cases := []struct {
		states, types []string
		want          []string
	}{
		{nil, nil, []string{"preparing", "simple", "stable"}},
		{[]string{"stable"}, nil, []string{"stable"}},
		{[]string{"Empty", "STABLE"}, nil, []string{"simple", "stable"}},
		{nil, []string{"classic"}, []string{"preparing", "simple", "stable"}},
		{nil, []string{"consumer"}, nil},
	}
	for _, tc := range cases {
		got, err := h.c.ListGroups(tc.states, tc.types)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, g := range got {
			names = append(names, g.Group)
		}
		if strings.Join(names, ",") != strings.Join(tc.want, ",") {
			t.Errorf("states %v types %v: %v, want %v", tc.states, tc.types, names, tc.want)
		}
	}
}

func TestDeletedTopicOffsets(t *testing.T) {
	h := newHarness(t, nil)
	image := func(topics ...string) *metadata.Image {
		img := &metadata.Image{Topics: map[string]*metadata.Topic{
			Topic: {Name: Topic, ID: [16]byte{1}, Partitions: []metadata.Partition{{Leader: 1}}},
		}}
		for _, name := range topics {
			img.Topics[name] = &metadata.Topic{Name: name, ID: [16]byte{2, name[0]}, Partitions: []metadata.Partition{{Leader: 1}}}
		}
		return img
	}
	h.c.ApplyImage(image("t", "u"), 1)
	now(t, h.c.CommitOffsets(commitReq("g", -1, "", co("t", 0, 1), co("u", 0, 2))))
	h.c.ApplyImage(image("u"), 1) // t deleted
	deadline := time.Now().Add(10 * time.Second)
	for h.offsetOf("g", "t", 0) != -1 {
		if time.Now().After(deadline) {
			t.Fatal("offset of the deleted topic still there")
		}
		time.Sleep(time.Millisecond)
	}
	if got := h.offsetOf("g", "u", 0); got != 2 {
		t.Fatalf("offset of the remaining topic: %d", got)
	}
	// The deletion is in the log.
	h.start()
	if got := h.offsetOf("g", "t", 0); got != -1 {
		t.Fatalf("offset of the deleted topic after restart: %d", got)
	}
}
