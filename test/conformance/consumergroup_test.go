package conformance

import (
	"regexp"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The consumer group protocol of KIP-848: ConsumerGroupHeartbeat and
// ConsumerGroupDescribe at every advertised version, and how the classic
// group APIs see a consumer-protocol group (as Kafka 4 does).

func init() {
	covered[68] = "TestConsumerGroupHeartbeat"
	covered[69] = "TestConsumerGroupDescribe"
}

// cgMember is a member of a consumer-protocol group as the test drives it:
// it owns what the coordinator last gave it, of one topic.
type cgMember struct {
	c       *client
	v       int16
	group   string
	id      string
	epoch   int32
	topic   string
	topicID [16]byte
	owned   []int32
}

// cgJoinReq builds a join (epoch 0) of group subscribing to topics with the
// server assignor "range".
func cgJoinReq(v int16, group, memberID string, topics ...string) *kmsg.ConsumerGroupHeartbeatRequest {
	req := versioned(kmsg.NewPtrConsumerGroupHeartbeatRequest(), v)
	req.Group, req.MemberID, req.MemberEpoch = group, memberID, 0
	req.RebalanceTimeoutMillis = 30000
	req.SubscribedTopicNames = topics
	req.ServerAssignor = kmsg.StringPtr("range")
	req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	return req
}

// cgHeartbeat sends a ConsumerGroupHeartbeat, retrying while the group's
// coordinator starts.
func cgHeartbeat(t testing.TB, c *client, req *kmsg.ConsumerGroupHeartbeatRequest) *kmsg.ConsumerGroupHeartbeatResponse {
	t.Helper()
	return retry(t, c, req, func(r *kmsg.ConsumerGroupHeartbeatResponse) int16 { return r.ErrorCode })
}

// cgJoin makes a member join group with epoch 0, subscribing to topic. At
// v0 the coordinator names the member (memberID must be empty); from v1 the
// member names itself.
func cgJoin(t testing.TB, c *client, v int16, group, memberID, topic string, topicID [16]byte) (*cgMember, *kmsg.ConsumerGroupHeartbeatResponse) {
	t.Helper()
	coordinator(t, c, group)
	resp := cgHeartbeat(t, c, cgJoinReq(v, group, memberID, topic))
	if resp.ErrorCode != 0 {
		t.Fatalf("join of %s (v%d): %s: %v", group, v, errName(resp.ErrorCode), resp.ErrorMessage)
	}
	if resp.MemberID == nil || *resp.MemberID == "" {
		t.Fatalf("join (v%d): no member id in the answer", v)
	}
	if memberID != "" && *resp.MemberID != memberID {
		t.Fatalf("join (v%d) as %q: answered as %q", v, memberID, *resp.MemberID)
	}
	m := &cgMember{c: c, v: v, group: group, id: *resp.MemberID, epoch: resp.MemberEpoch, topic: topic, topicID: topicID}
	if resp.Assignment == nil {
		t.Fatalf("join (v%d): no assignment in the answer", v)
	}
	m.owned = partsOf(t, resp.Assignment, topicID)
	return m, resp
}

// fullReq is the member's full heartbeat, as a client sends it after an
// error or a lost answer: rebalance timeout, subscription, assignor and
// owned partitions all set.
func (m *cgMember) fullReq() *kmsg.ConsumerGroupHeartbeatRequest {
	req := cgJoinReq(m.v, m.group, m.id, m.topic)
	req.MemberEpoch = m.epoch
	req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	if len(m.owned) > 0 {
		req.Topics = append(req.Topics, kmsg.ConsumerGroupHeartbeatRequestTopic{TopicID: m.topicID, Partitions: slices.Clone(m.owned)})
	}
	return req
}

// heartbeat sends the member's full heartbeat, reporting what it owns, and
// takes in the answer: its epoch, and the partitions it may keep or has
// been given (a member lets go of what is no longer in its assignment at
// once).
func (m *cgMember) heartbeat(t testing.TB) *kmsg.ConsumerGroupHeartbeatResponse {
	t.Helper()
	resp := cgHeartbeat(t, m.c, m.fullReq())
	if resp.ErrorCode != 0 {
		t.Fatalf("heartbeat of %s at epoch %d: %s: %v", m.id, m.epoch, errName(resp.ErrorCode), resp.ErrorMessage)
	}
	if resp.Assignment == nil {
		t.Fatalf("a full heartbeat of %s answered without an assignment", m.id)
	}
	m.epoch = resp.MemberEpoch
	m.owned = partsOf(t, resp.Assignment, m.topicID)
	return resp
}

// partsOf returns the partitions of topicID in a heartbeat's assignment,
// sorted, and fails on any other topic.
func partsOf(t testing.TB, a *kmsg.ConsumerGroupHeartbeatResponseAssignment, topicID [16]byte) []int32 {
	t.Helper()
	var out []int32
	for _, at := range a.Topics {
		if at.TopicID != topicID {
			t.Fatalf("assignment names topic %x, want only %x", at.TopicID, topicID)
		}
		out = append(out, at.Partitions...)
	}
	slices.Sort(out)
	return out
}

// describedParts returns the partitions of a described assignment by topic
// name, failing on a topic whose ID and name do not match.
func describedParts(t testing.TB, a kmsg.Assignment, topic string, topicID [16]byte) []int32 {
	t.Helper()
	var out []int32
	for _, at := range a.TopicPartitions {
		if at.TopicID != topicID || at.Topic != topic {
			t.Fatalf("described assignment names topic %q (%x), want %q (%x)", at.Topic, at.TopicID, topic, topicID)
		}
		out = append(out, at.Partitions...)
	}
	slices.Sort(out)
	return out
}

// checkSplit fails unless a and b share no partition; with all set, unless
// they also cover partitions 0..n-1 between them.
func checkSplit(t testing.TB, what string, a, b []int32, n int32, all bool) {
	t.Helper()
	for _, p := range a {
		if slices.Contains(b, p) {
			t.Fatalf("%s: partition %d held by both members (%v and %v)", what, p, a, b)
		}
	}
	if !all {
		return
	}
	union := slices.Sorted(slices.Values(append(slices.Clone(a), b...)))
	want := make([]int32, n)
	for i := range want {
		want[i] = int32(i)
	}
	if !slices.Equal(union, want) {
		t.Fatalf("%s: members hold %v and %v, want all of %v between them", what, a, b, want)
	}
}

// memberIDs returns the ids two members of a v-th subtest join with: empty
// at v0 (the coordinator names them), chosen by the client from v1.
func memberIDs(t testing.TB, v int16) (string, string) {
	if v == 0 {
		return "", ""
	}
	return topicName(t, "first"), topicName(t, "second")
}

// --- ConsumerGroupHeartbeat (key 68) -----------------------------------------

func TestConsumerGroupHeartbeat(t *testing.T) {
	forVersions(t, 68, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		topic := topicName(t, "t")
		tid := createTopic(t, c, topic, 4, nil)
		group := groupName(t, "cg")
		id1, id2 := memberIDs(t, v)
		coordinator(t, c, group)

		if v >= 1 {
			r := cgHeartbeat(t, c, cgJoinReq(v, group, "", topic))
			wantCode(t, "v1+ join without a member id", r.ErrorCode, kerr.InvalidRequest)
		}

		// The first member gets every partition.
		m1, r := cgJoin(t, c, v, group, id1, topic, tid)
		if m1.epoch < 1 {
			t.Errorf("first member's epoch %d, want >= 1", m1.epoch)
		}
		if r.HeartbeatIntervalMillis <= 0 {
			t.Errorf("heartbeat interval %d ms, want > 0", r.HeartbeatIntervalMillis)
		}
		if !slices.Equal(m1.owned, []int32{0, 1, 2, 3}) {
			t.Fatalf("the only member got %v, want [0 1 2 3]", m1.owned)
		}
		epoch1 := m1.epoch

		// The second member gets a higher epoch, and nothing the first
		// still owns.
		m2, _ := cgJoin(t, c, v, group, id2, topic, tid)
		if m2.id == m1.id {
			t.Fatalf("two members with one id %q", m2.id)
		}
		if m2.epoch <= epoch1 {
			t.Errorf("second member's epoch %d, want above the first's %d", m2.epoch, epoch1)
		}
		checkSplit(t, "after the second joined", m1.owned, m2.owned, 4, false)
		epoch2 := m2.epoch

		// The first, reporting all four, is told to keep only its part,
		// at its old epoch.
		m1.heartbeat(t)
		if m1.epoch != epoch1 {
			t.Errorf("a member that must revoke: epoch %d, want its old %d", m1.epoch, epoch1)
		}
		if len(m1.owned) == 0 || len(m1.owned) == 4 {
			t.Fatalf("the first member told to keep %v, want a part of [0 1 2 3]", m1.owned)
		}
		keep := slices.Clone(m1.owned)
		checkSplit(t, "while the first revokes", m1.owned, m2.owned, 4, false)

		// Once it owns only those, it moves to the new epoch.
		m1.heartbeat(t)
		if m1.epoch != epoch2 {
			t.Errorf("after revoking: epoch %d, want the group's %d", m1.epoch, epoch2)
		}
		if !slices.Equal(m1.owned, keep) {
			t.Errorf("after revoking: assignment %v, want %v", m1.owned, keep)
		}

		// The second then gets the released partitions.
		m2.heartbeat(t)
		if m2.epoch != epoch2 {
			t.Errorf("second member's epoch %d, want %d", m2.epoch, epoch2)
		}
		checkSplit(t, "after reconciliation", m1.owned, m2.owned, 4, true)
		if len(m1.owned) != 2 || len(m2.owned) != 2 {
			t.Errorf("range over 2 members of 4 partitions: %v and %v, want 2 each", m1.owned, m2.owned)
		}

		// Refusals.
		bad := cgJoinReq(v, group, "", topic)
		if v >= 1 {
			bad.MemberID = topicName(t, "other")
		}
		bad.ServerAssignor = kmsg.StringPtr("no-such-assignor")
		wantCode(t, "unknown server assignor", cgHeartbeat(t, c, bad).ErrorCode, kerr.UnsupportedAssignor)

		bad = cgJoinReq(v, group, "", topic)
		if v >= 1 {
			bad.MemberID = topicName(t, "other")
		}
		bad.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{{TopicID: tid, Partitions: []int32{0}}}
		wantCode(t, "epoch 0 with owned partitions", cgHeartbeat(t, c, bad).ErrorCode, kerr.InvalidRequest)

		ahead := m1.fullReq()
		ahead.MemberEpoch = m1.epoch + 1
		wantCode(t, "an epoch ahead of the member's", cgHeartbeat(t, c, ahead).ErrorCode, kerr.FencedMemberEpoch)

		unknown := m1.fullReq()
		unknown.MemberID = "no-such-member"
		wantCode(t, "an unknown member at epoch > 0", cgHeartbeat(t, c, unknown).ErrorCode, kerr.UnknownMemberID)

		// Nothing refused changed the group: the members are where they
		// were.
		m1.heartbeat(t)
		m2.heartbeat(t)
		if m1.epoch != epoch2 || m2.epoch != epoch2 {
			t.Errorf("after refused requests: epochs %d and %d, want %d", m1.epoch, m2.epoch, epoch2)
		}
		checkSplit(t, "after refused requests", m1.owned, m2.owned, 4, true)

		// OffsetCommit v9+ names the member and its epoch.
		stale := commitReq(9, group, epoch1, m1.id, topic, tid, map[int32]int64{m1.owned[0]: 5}, "")
		wantCode(t, "OffsetCommit v9 at a stale member epoch", commit(t, c, stale)[m1.owned[0]], kerr.StaleMemberEpoch)
		current := commitReq(9, group, m1.epoch, m1.id, topic, tid, map[int32]int64{m1.owned[0]: 5}, "")
		wantCode(t, "OffsetCommit v9 at the member's epoch", commit(t, c, current)[m1.owned[0]], nil)
		if got, _ := fetchOffsets(t, c, maxVersion(t, 9), group, topic, tid, []int32{m1.owned[0]}); got[m1.owned[0]].offset != 5 {
			t.Errorf("committed 5 at the member's epoch, fetched %+v", got)
		}

		// A leave is answered with epoch -1; the remaining member then
		// gets every partition.
		leave := m2.fullReq()
		leave.MemberEpoch = -1
		lr := cgHeartbeat(t, c, leave)
		wantCode(t, "leave", lr.ErrorCode, nil)
		if lr.MemberEpoch != -1 || lr.MemberID == nil || *lr.MemberID != m2.id {
			t.Errorf("leave answered epoch %d member %v, want -1 and %q", lr.MemberEpoch, lr.MemberID, m2.id)
		}
		m1.heartbeat(t)
		if m1.epoch <= epoch2 || !slices.Equal(m1.owned, []int32{0, 1, 2, 3}) {
			t.Errorf("after the other left: epoch %d partitions %v, want above %d and [0 1 2 3]", m1.epoch, m1.owned, epoch2)
		}
	})
}

func TestConsumerGroupStaticMember(t *testing.T) {
	forVersions(t, 68, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		topic := topicName(t, "t")
		tid := createTopic(t, c, topic, 2, nil)
		group := groupName(t, "static")
		id1, id2 := memberIDs(t, v)
		coordinator(t, c, group)

		req := cgJoinReq(v, group, id1, topic)
		req.InstanceID = kmsg.StringPtr("instance-1")
		r := cgHeartbeat(t, c, req)
		wantCode(t, "static member joins", r.ErrorCode, nil)
		if r.MemberEpoch < 1 || r.MemberID == nil {
			t.Fatalf("static member: epoch %d id %v", r.MemberEpoch, r.MemberID)
		}
		m := &cgMember{c: c, v: v, group: group, id: *r.MemberID, epoch: r.MemberEpoch, topic: topic, topicID: tid}

		req = cgJoinReq(v, group, id2, topic)
		req.InstanceID = kmsg.StringPtr("instance-1")
		wantCode(t, "a second member with an instance id in use", cgHeartbeat(t, c, req).ErrorCode, kerr.UnreleasedInstanceID)

		leave := m.fullReq()
		leave.InstanceID, leave.MemberEpoch = kmsg.StringPtr("instance-1"), -1
		lr := cgHeartbeat(t, c, leave)
		wantCode(t, "static member leaves", lr.ErrorCode, nil)
		if lr.MemberEpoch != -1 {
			t.Errorf("leave answered epoch %d, want -1", lr.MemberEpoch)
		}
		// The instance id is free again.
		req = cgJoinReq(v, group, id2, topic)
		req.InstanceID = kmsg.StringPtr("instance-1")
		wantCode(t, "a new member with the released instance id", cgHeartbeat(t, c, req).ErrorCode, nil)
	})
}

func TestConsumerGroupRegex(t *testing.T) {
	v := maxVersion(t, 68)
	if v < 1 {
		t.Fatalf("ConsumerGroupHeartbeat max version %d: regex subscriptions need v1", v)
	}
	c := dial(t, shared.addr)
	topic := topicName(t, "re")
	tid := createTopic(t, c, topic, 2, nil)
	longer := topic + "-more" // matched by a prefix, not by the whole name
	createTopic(t, c, longer, 3, nil)
	group := groupName(t, "regex")
	coordinator(t, c, group)

	req := cgJoinReq(v, group, topicName(t, "bad"))
	req.SubscribedTopicNames = nil
	req.SubscribedTopicRegex = kmsg.StringPtr("[")
	wantCode(t, "invalid regular expression", cgHeartbeat(t, c, req).ErrorCode, kerr.InvalidRegularExpression)

	req = cgJoinReq(v, group, topicName(t, "member"))
	req.SubscribedTopicNames = nil
	req.SubscribedTopicRegex = kmsg.StringPtr(regexp.QuoteMeta(topic))
	r := cgHeartbeat(t, c, req)
	wantCode(t, "regex subscription", r.ErrorCode, nil)
	if r.Assignment == nil {
		t.Fatalf("a join answered without an assignment")
	}
	// Only the topic the whole regex matches: its 2 partitions, not the
	// 3 of the longer name.
	if got := partsOf(t, r.Assignment, tid); !slices.Equal(got, []int32{0, 1}) {
		t.Errorf("regex %q got %v of %s, want [0 1]", *req.SubscribedTopicRegex, got, topic)
	}

	d := cgDescribe(t, c, maxVersion(t, 69), group)
	if len(d.Members) != 1 || d.Members[0].SubscribedTopicRegex == nil || *d.Members[0].SubscribedTopicRegex != *req.SubscribedTopicRegex {
		t.Errorf("described members %+v, want one with the regex %q", d.Members, *req.SubscribedTopicRegex)
	}
}

// --- ConsumerGroupDescribe (key 69) ------------------------------------------

// cgDescribe describes one group, retrying while its coordinator starts.
func cgDescribe(t testing.TB, c *client, v int16, group string) kmsg.ConsumerGroupDescribeResponseGroup {
	t.Helper()
	coordinator(t, c, group)
	req := versioned(kmsg.NewPtrConsumerGroupDescribeRequest(), v)
	req.Groups = []string{group}
	resp := retry(t, c, req, func(r *kmsg.ConsumerGroupDescribeResponse) int16 {
		if len(r.Groups) == 1 {
			return r.Groups[0].ErrorCode
		}
		return 0
	})
	if len(resp.Groups) != 1 || resp.Groups[0].Group != group {
		t.Fatalf("ConsumerGroupDescribe v%d: answer %+v", v, resp.Groups)
	}
	return resp.Groups[0]
}

func TestConsumerGroupDescribe(t *testing.T) {
	forVersions(t, 69, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		topic := topicName(t, "t")
		tid := createTopic(t, c, topic, 4, nil)
		group := groupName(t, "cg")
		hv := maxVersion(t, 68)
		id1, id2 := memberIDs(t, hv)
		m1, _ := cgJoin(t, c, hv, group, id1, topic, tid)
		m2, _ := cgJoin(t, c, hv, group, id2, topic, tid)

		// Mid-reconciliation: the first holds all four, the target splits
		// them.
		d := cgDescribe(t, c, v, group)
		wantCode(t, "describe", d.ErrorCode, nil)
		if d.State != "Reconciling" || d.Epoch != m2.epoch || d.AssignmentEpoch != m2.epoch || d.AssignorName != "range" {
			t.Errorf("state %q epoch %d assignment epoch %d assignor %q, want Reconciling %d %d range", d.State, d.Epoch, d.AssignmentEpoch, d.AssignorName, m2.epoch, m2.epoch)
		}
		byID := map[string]kmsg.ConsumerGroupDescribeResponseGroupMember{}
		for _, dm := range d.Members {
			byID[dm.MemberID] = dm
		}
		d1, ok1 := byID[m1.id]
		d2, ok2 := byID[m2.id]
		if len(d.Members) != 2 || !ok1 || !ok2 {
			t.Fatalf("members %+v, want %s and %s", d.Members, m1.id, m2.id)
		}
		if d1.MemberEpoch != m1.epoch || d2.MemberEpoch != m2.epoch {
			t.Errorf("member epochs %d and %d, want %d and %d", d1.MemberEpoch, d2.MemberEpoch, m1.epoch, m2.epoch)
		}
		if got := describedParts(t, d1.Assignment, topic, tid); !slices.Equal(got, []int32{0, 1, 2, 3}) {
			t.Errorf("first member's current assignment %v, want [0 1 2 3]", got)
		}
		if got := describedParts(t, d2.Assignment, topic, tid); len(got) != 0 {
			t.Errorf("second member's current assignment %v, want none yet", got)
		}
		t1 := describedParts(t, d1.TargetAssignment, topic, tid)
		t2 := describedParts(t, d2.TargetAssignment, topic, tid)
		checkSplit(t, "target assignment", t1, t2, 4, true)
		for _, dm := range []kmsg.ConsumerGroupDescribeResponseGroupMember{d1, d2} {
			if !slices.Equal(dm.SubscribedTopics, []string{topic}) || dm.ClientID != clientID || dm.ClientHost == "" {
				t.Errorf("member %s: subscribed %v client %q host %q", dm.MemberID, dm.SubscribedTopics, dm.ClientID, dm.ClientHost)
			}
			if v >= 1 && dm.MemberType != 1 {
				t.Errorf("v1+ member type %d, want 1 (consumer)", dm.MemberType)
			}
		}

		// Reconciled: Stable, every member at the group epoch with its
		// target.
		m1.heartbeat(t)
		m1.heartbeat(t)
		m2.heartbeat(t)
		d = cgDescribe(t, c, v, group)
		if d.State != "Stable" {
			t.Errorf("after reconciliation: state %q, want Stable", d.State)
		}
		for _, m := range []*cgMember{m1, m2} {
			var dm *kmsg.ConsumerGroupDescribeResponseGroupMember
			for i := range d.Members {
				if d.Members[i].MemberID == m.id {
					dm = &d.Members[i]
				}
			}
			if dm == nil {
				t.Fatalf("member %s not described", m.id)
			}
			cur, target := describedParts(t, dm.Assignment, topic, tid), describedParts(t, dm.TargetAssignment, topic, tid)
			if dm.MemberEpoch != d.Epoch || !slices.Equal(cur, m.owned) || !slices.Equal(target, m.owned) {
				t.Errorf("member %s: epoch %d assignment %v target %v, want %d and %v for both", m.id, dm.MemberEpoch, cur, target, d.Epoch, m.owned)
			}
		}

		// Not consumer groups.
		classic := joinAndSync(t, c, groupName(t, "classic"), subscription(topic))
		wantCode(t, "a classic group", cgDescribe(t, c, v, classic.group).ErrorCode, kerr.GroupIDNotFound)
		wantCode(t, "a group that does not exist", cgDescribe(t, c, v, groupName(t, "missing")).ErrorCode, kerr.GroupIDNotFound)
	})
}

// TestConsumerGroupInClassicAPIs: ListGroups lists a consumer-protocol group
// with its type, and DescribeGroups does not describe it (Kafka 4).
func TestConsumerGroupInClassicAPIs(t *testing.T) {
	c := dial(t, shared.addr)
	topic := topicName(t, "t")
	tid := createTopic(t, c, topic, 1, nil)
	group := groupName(t, "cg")
	hv := maxVersion(t, 68)
	id, _ := memberIDs(t, hv)
	cgJoin(t, c, hv, group, id, topic, tid)

	lv := maxVersion(t, 16)
	if lv < 5 {
		t.Fatalf("ListGroups max version %d: group types need v5", lv)
	}
	list := func(types []string) map[string]kmsg.ListGroupsResponseGroup {
		t.Helper()
		req := versioned(kmsg.NewPtrListGroupsRequest(), lv)
		req.TypesFilter = types
		resp := retry(t, c, req, func(r *kmsg.ListGroupsResponse) int16 { return r.ErrorCode })
		wantCode(t, "ListGroups", resp.ErrorCode, nil)
		out := map[string]kmsg.ListGroupsResponseGroup{}
		for _, g := range resp.Groups {
			out[g.Group] = g
		}
		return out
	}
	g, ok := list([]string{"consumer"})[group]
	if !ok {
		t.Fatalf("type filter [consumer] leaves out a consumer-protocol group")
	}
	if g.GroupType != "consumer" || g.ProtocolType != "consumer" || g.GroupState != "Stable" {
		t.Errorf("listed as type %q protocol type %q state %q, want consumer consumer Stable", g.GroupType, g.ProtocolType, g.GroupState)
	}
	if _, ok := list([]string{"classic"})[group]; ok {
		t.Errorf("type filter [classic] lists a consumer-protocol group")
	}

	for _, v := range []int16{5, maxVersion(t, 15)} {
		d := describeGroup(t, c, v, group)
		if d.State != "Dead" {
			t.Errorf("DescribeGroups v%d of a consumer group: state %q, want Dead", v, d.State)
		}
		if v >= 6 {
			wantCode(t, "DescribeGroups v6+ of a consumer group", d.ErrorCode, kerr.GroupIDNotFound)
		} else {
			wantCode(t, "DescribeGroups v5 of a consumer group", d.ErrorCode, nil)
		}
	}
}
