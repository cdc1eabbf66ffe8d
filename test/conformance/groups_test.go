package conformance

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The classic consumer-group APIs: every advertised version, Kafka's
// semantics. The shared broker runs with group.initial.rebalance.delay.ms=0
// so that a new group's first join answers at once.

func init() {
	for key, test := range map[int16]string{
		8:  "TestOffsetCommit",
		9:  "TestOffsetFetch",
		10: "TestFindCoordinator",
		11: "TestJoinGroup",
		12: "TestHeartbeat",
		13: "TestLeaveGroup",
		14: "TestSyncGroup",
		15: "TestDescribeGroups",
		16: "TestListGroups",
		42: "TestDeleteGroups",
		47: "TestOffsetDelete",
	} {
		covered[key] = test
	}
}

// retriable are the coordinator errors a client retries while the
// coordinator starts (creating and loading __consumer_offsets): the node
// may answer FindCoordinator as soon as the topic exists, a moment before
// its coordinator has taken the partition (NOT_COORDINATOR, after which a
// client finds the coordinator again).
func retriable(code int16) bool {
	return code == kerr.CoordinatorNotAvailable.Code || code == kerr.CoordinatorLoadInProgress.Code ||
		code == kerr.NotCoordinator.Code
}

// retry sends req until its error (as errOf reads it) is not a starting
// coordinator's, and returns that response.
func retry[R kmsg.Response](t testing.TB, c *client, req kmsg.Request, errOf func(R) int16) R {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for {
		resp := c.do(req).(R)
		if !retriable(errOf(resp)) {
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: coordinator still %s after %v", kmsg.NameForKey(req.Key()), errName(errOf(resp)), ioTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// coordinator finds group's coordinator as a client does before any group
// request, which also starts it: the first FindCoordinator creates
// __consumer_offsets, and until then group requests are NOT_COORDINATOR.
// It fails unless the coordinator is this node.
func coordinator(t testing.TB, c *client, group string) {
	t.Helper()
	req := versioned(kmsg.NewPtrFindCoordinatorRequest(), 3)
	req.CoordinatorKey = group
	resp := retry(t, c, req, func(r *kmsg.FindCoordinatorResponse) int16 { return r.ErrorCode })
	if resp.ErrorCode != 0 || resp.NodeID != 1 {
		t.Fatalf("FindCoordinator %s: %s, node %d", group, errName(resp.ErrorCode), resp.NodeID)
	}
}

// subscription is a consumer protocol subscription to topics.
func subscription(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

// member is a group member joined and synced through the classic protocol.
type member struct {
	group, id  string
	generation int32
	assignment []byte
}

// joinReq builds a JoinGroup for the consumer protocol "range".
func joinReq(v int16, group, memberID string, meta []byte) *kmsg.JoinGroupRequest {
	req := versioned(kmsg.NewPtrJoinGroupRequest(), v)
	req.Group, req.MemberID = group, memberID
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 30000, 30000
	req.ProtocolType = "consumer"
	req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta}}
	return req
}

// join makes one member join group at JoinGroup version v, through
// MEMBER_ID_REQUIRED from v4, and returns the answer.
func join(t testing.TB, c *client, v int16, group string, meta []byte) *kmsg.JoinGroupResponse {
	t.Helper()
	coordinator(t, c, group)
	errOf := func(r *kmsg.JoinGroupResponse) int16 { return r.ErrorCode }
	resp := retry(t, c, joinReq(v, group, "", meta), errOf)
	if v >= 4 {
		if resp.ErrorCode != kerr.MemberIDRequired.Code || resp.MemberID == "" {
			t.Fatalf("JoinGroup v%d without a member id: %s with id %q, want MEMBER_ID_REQUIRED with an id", v, errName(resp.ErrorCode), resp.MemberID)
		}
		resp = retry(t, c, joinReq(v, group, resp.MemberID, meta), errOf)
	}
	if resp.ErrorCode != 0 {
		t.Fatalf("JoinGroup v%d: %s", v, errName(resp.ErrorCode))
	}
	return resp
}

// joinAndSync makes a one-member group Stable with an assignment, at the
// highest JoinGroup and SyncGroup versions.
func joinAndSync(t testing.TB, c *client, group string, meta []byte) member {
	t.Helper()
	j := join(t, c, maxVersion(t, 11), group, meta)
	m := member{group: group, id: j.MemberID, generation: j.Generation, assignment: []byte("assignment-of-" + group)}
	req := syncReq(maxVersion(t, 14), m, true)
	s := retry(t, c, req, func(r *kmsg.SyncGroupResponse) int16 { return r.ErrorCode })
	if s.ErrorCode != 0 || !bytes.Equal(s.MemberAssignment, m.assignment) {
		t.Fatalf("SyncGroup: %s, assignment %q", errName(s.ErrorCode), s.MemberAssignment)
	}
	return m
}

// syncReq builds the leader's SyncGroup for m (with its assignment when
// assign is set).
func syncReq(v int16, m member, assign bool) *kmsg.SyncGroupRequest {
	req := versioned(kmsg.NewPtrSyncGroupRequest(), v)
	req.Group, req.Generation, req.MemberID = m.group, m.generation, m.id
	req.ProtocolType, req.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	if assign {
		req.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: m.id, MemberAssignment: m.assignment}}
	}
	return req
}

// groupName is a unique group id for the test.
func groupName(t testing.TB, suffix string) string { return "group-" + topicName(t, suffix) }

// --- FindCoordinator (key 10) ------------------------------------------------

func TestFindCoordinator(t *testing.T) {
	forVersions(t, 10, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		g1, g2 := groupName(t, "one"), groupName(t, "two")
		req := versioned(kmsg.NewPtrFindCoordinatorRequest(), v)
		if v >= 4 {
			req.CoordinatorKeys = []string{g1, g2}
			resp := retry(t, c, req, func(r *kmsg.FindCoordinatorResponse) int16 {
				for _, k := range r.Coordinators {
					if retriable(k.ErrorCode) {
						return k.ErrorCode
					}
				}
				return 0
			})
			if len(resp.Coordinators) != 2 {
				t.Fatalf("2 keys asked, %d answered", len(resp.Coordinators))
			}
			for i, k := range resp.Coordinators {
				wantCode(t, "coordinator of "+k.Key, k.ErrorCode, nil)
				if k.Key != req.CoordinatorKeys[i] || k.NodeID != 1 || k.Host != shared.host || k.Port != shared.port {
					t.Errorf("key %q: node %d at %s:%d", k.Key, k.NodeID, k.Host, k.Port)
				}
			}
			return
		}
		req.CoordinatorKey = g1
		resp := retry(t, c, req, func(r *kmsg.FindCoordinatorResponse) int16 { return r.ErrorCode })
		wantCode(t, "FindCoordinator", resp.ErrorCode, nil)
		if resp.NodeID != 1 || resp.Host != shared.host || resp.Port != shared.port {
			t.Errorf("coordinator node %d at %s:%d, want 1 at %s:%d", resp.NodeID, resp.Host, resp.Port, shared.host, shared.port)
		}
	})
}

// --- JoinGroup (key 11) ------------------------------------------------------

func TestJoinGroup(t *testing.T) {
	forVersions(t, 11, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		group := groupName(t, "join")
		meta := subscription("some-topic")
		j := join(t, c, v, group, meta)
		if j.MemberID == "" || j.Generation != 1 || j.LeaderID != j.MemberID {
			t.Errorf("member %q generation %d leader %q; want an id, generation 1, itself as leader", j.MemberID, j.Generation, j.LeaderID)
		}
		if j.Protocol == nil || *j.Protocol != "range" {
			t.Errorf("protocol %v, want range", j.Protocol)
		}
		if v >= 7 && (j.ProtocolType == nil || *j.ProtocolType != "consumer") {
			t.Errorf("v7+ protocol type %v, want consumer", j.ProtocolType)
		}
		if len(j.Members) != 1 || j.Members[0].MemberID != j.MemberID || !bytes.Equal(j.Members[0].ProtocolMetadata, meta) {
			t.Errorf("the leader's member list %+v, want itself with its metadata", j.Members)
		}

		// Refusals.
		short := joinReq(v, group, "", meta)
		short.SessionTimeoutMillis = 1
		wantCode(t, "session timeout below group.min.session.timeout.ms", c.do(short).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InvalidSessionTimeout)
		wantCode(t, "empty group id", c.do(joinReq(v, "", "", meta)).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InvalidGroupID)
		wantCode(t, "unknown member id", c.do(joinReq(v, group, "no-such-member", meta)).(*kmsg.JoinGroupResponse).ErrorCode, kerr.UnknownMemberID)
		other := joinReq(v, group, "", meta)
		other.ProtocolType = "connect"
		wantCode(t, "another protocol type", c.do(other).(*kmsg.JoinGroupResponse).ErrorCode, kerr.InconsistentGroupProtocol)

		// Leave, so the group does not wait on this member's session.
		lv := versioned(kmsg.NewPtrLeaveGroupRequest(), maxVersion(t, 13))
		lv.Group = group
		lv.Members = []kmsg.LeaveGroupRequestMember{{MemberID: j.MemberID}}
		wantCode(t, "leave", c.do(lv).(*kmsg.LeaveGroupResponse).ErrorCode, nil)
	})
}

// --- SyncGroup (key 14) ------------------------------------------------------

func TestSyncGroup(t *testing.T) {
	forVersions(t, 14, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		group := groupName(t, "sync")
		j := join(t, c, maxVersion(t, 11), group, subscription("t"))
		m := member{group: group, id: j.MemberID, generation: j.Generation, assignment: []byte{0, 1, 2, 3}}

		bad := m
		bad.generation++
		wantCode(t, "wrong generation", c.do(syncReq(v, bad, true)).(*kmsg.SyncGroupResponse).ErrorCode, kerr.IllegalGeneration)
		bad = m
		bad.id = "no-such-member"
		wantCode(t, "unknown member", c.do(syncReq(v, bad, true)).(*kmsg.SyncGroupResponse).ErrorCode, kerr.UnknownMemberID)
		if v >= 5 {
			wrong := syncReq(v, m, true)
			wrong.Protocol = kmsg.StringPtr("roundrobin")
			wantCode(t, "v5 protocol name not the group's", c.do(wrong).(*kmsg.SyncGroupResponse).ErrorCode, kerr.InconsistentGroupProtocol)
		}

		s := c.do(syncReq(v, m, true)).(*kmsg.SyncGroupResponse)
		wantCode(t, "sync", s.ErrorCode, nil)
		if !bytes.Equal(s.MemberAssignment, m.assignment) {
			t.Errorf("assignment %v, want %v", s.MemberAssignment, m.assignment)
		}
		if v >= 5 && (s.ProtocolType == nil || *s.ProtocolType != "consumer" || s.Protocol == nil || *s.Protocol != "range") {
			t.Errorf("v5 answer protocol %v/%v, want consumer/range", s.ProtocolType, s.Protocol)
		}
		// A Stable group answers a member's sync at once with its part.
		again := c.do(syncReq(v, m, false)).(*kmsg.SyncGroupResponse)
		if again.ErrorCode != 0 || !bytes.Equal(again.MemberAssignment, m.assignment) {
			t.Errorf("sync of a Stable group: %s, assignment %v", errName(again.ErrorCode), again.MemberAssignment)
		}
	})
}

// --- Heartbeat (key 12) ------------------------------------------------------

func TestHeartbeat(t *testing.T) {
	forVersions(t, 12, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		m := joinAndSync(t, c, groupName(t, "hb"), subscription("t"))
		hb := func(gen int32, id string) int16 {
			req := versioned(kmsg.NewPtrHeartbeatRequest(), v)
			req.Group, req.Generation, req.MemberID = m.group, gen, id
			return c.do(req).(*kmsg.HeartbeatResponse).ErrorCode
		}
		wantCode(t, "heartbeat", hb(m.generation, m.id), nil)
		wantCode(t, "wrong generation", hb(m.generation+1, m.id), kerr.IllegalGeneration)
		wantCode(t, "unknown member", hb(m.generation, "no-such-member"), kerr.UnknownMemberID)
	})
}

// --- LeaveGroup (key 13) -----------------------------------------------------

func TestLeaveGroup(t *testing.T) {
	forVersions(t, 13, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		m := joinAndSync(t, c, groupName(t, "leave"), subscription("t"))
		leave := func(id string) *kmsg.LeaveGroupResponse {
			req := versioned(kmsg.NewPtrLeaveGroupRequest(), v)
			req.Group = m.group
			if v >= 3 {
				req.Members = []kmsg.LeaveGroupRequestMember{{MemberID: id}}
			} else {
				req.MemberID = id
			}
			return c.do(req).(*kmsg.LeaveGroupResponse)
		}
		unknown := leave("no-such-member")
		if v >= 3 {
			wantCode(t, "v3+ top level, one unknown member", unknown.ErrorCode, nil)
			if len(unknown.Members) != 1 || unknown.Members[0].MemberID != "no-such-member" {
				t.Fatalf("v3+ members answered: %+v", unknown.Members)
			}
			wantCode(t, "unknown member", unknown.Members[0].ErrorCode, kerr.UnknownMemberID)
		} else {
			wantCode(t, "unknown member", unknown.ErrorCode, kerr.UnknownMemberID)
		}
		r := leave(m.id)
		wantCode(t, "leave", r.ErrorCode, nil)
		if v >= 3 && (len(r.Members) != 1 || r.Members[0].ErrorCode != 0 || r.Members[0].MemberID != m.id) {
			t.Errorf("v3+ members answered: %+v", r.Members)
		}
		if g := describeGroup(t, c, maxVersion(t, 15), m.group); g.State != "Empty" || len(g.Members) != 0 {
			t.Errorf("after the only member left: state %s with %d members, want Empty with none", g.State, len(g.Members))
		}
	})
}

// --- DescribeGroups (key 15) -------------------------------------------------

func describeGroup(t testing.TB, c *client, v int16, group string) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	coordinator(t, c, group)
	req := versioned(kmsg.NewPtrDescribeGroupsRequest(), v)
	req.Groups = []string{group}
	resp := retry(t, c, req, func(r *kmsg.DescribeGroupsResponse) int16 {
		if len(r.Groups) == 1 {
			return r.Groups[0].ErrorCode
		}
		return 0
	})
	if len(resp.Groups) != 1 || resp.Groups[0].Group != group {
		t.Fatalf("DescribeGroups v%d: answer %+v", v, resp.Groups)
	}
	return resp.Groups[0]
}

func TestDescribeGroups(t *testing.T) {
	setup := dial(t, shared.addr)
	meta := subscription("described")
	m := joinAndSync(t, setup, groupName(t, "desc"), meta)

	forVersions(t, 15, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		g := describeGroup(t, c, v, m.group)
		wantCode(t, "describe", g.ErrorCode, nil)
		if g.State != "Stable" || g.ProtocolType != "consumer" || g.Protocol != "range" {
			t.Errorf("state %q type %q protocol %q, want Stable consumer range", g.State, g.ProtocolType, g.Protocol)
		}
		if len(g.Members) != 1 {
			t.Fatalf("%d members, want 1", len(g.Members))
		}
		mb := g.Members[0]
		if mb.MemberID != m.id || mb.ClientID != clientID || !strings.Contains(mb.ClientHost, "127.0.0.1") {
			t.Errorf("member %q client %q host %q; want %q, %q, 127.0.0.1", mb.MemberID, mb.ClientID, mb.ClientHost, m.id, clientID)
		}
		if !bytes.Equal(mb.ProtocolMetadata, meta) || !bytes.Equal(mb.MemberAssignment, m.assignment) {
			t.Errorf("member metadata %q assignment %q", mb.ProtocolMetadata, mb.MemberAssignment)
		}
		if v >= 3 {
			req := versioned(kmsg.NewPtrDescribeGroupsRequest(), v)
			req.Groups, req.IncludeAuthorizedOperations = []string{m.group}, true
			if ops := c.do(req).(*kmsg.DescribeGroupsResponse).Groups[0].AuthorizedOperations; ops&(1<<3) == 0 || ops&(1<<8) == 0 {
				t.Errorf("authorized operations %b, want READ and DESCRIBE", ops)
			}
		}

		missing := describeGroup(t, c, v, groupName(t, "missing"))
		if missing.State != "Dead" {
			t.Errorf("a group that does not exist: state %q, want Dead", missing.State)
		}
		if v >= 6 {
			wantCode(t, "v6 missing group", missing.ErrorCode, kerr.GroupIDNotFound)
		} else {
			wantCode(t, "missing group", missing.ErrorCode, nil)
		}
	})
}

// --- ListGroups (key 16) -----------------------------------------------------

func TestListGroups(t *testing.T) {
	setup := dial(t, shared.addr)
	stable := joinAndSync(t, setup, groupName(t, "stable"), subscription("t"))

	forVersions(t, 16, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		list := func(states, types []string) map[string]kmsg.ListGroupsResponseGroup {
			t.Helper()
			req := versioned(kmsg.NewPtrListGroupsRequest(), v)
			req.StatesFilter, req.TypesFilter = states, types
			resp := retry(t, c, req, func(r *kmsg.ListGroupsResponse) int16 { return r.ErrorCode })
			wantCode(t, "ListGroups", resp.ErrorCode, nil)
			out := map[string]kmsg.ListGroupsResponseGroup{}
			for _, g := range resp.Groups {
				out[g.Group] = g
			}
			return out
		}
		g, ok := list(nil, nil)[stable.group]
		if !ok {
			t.Fatalf("%s not listed", stable.group)
		}
		if g.ProtocolType != "consumer" {
			t.Errorf("protocol type %q, want consumer", g.ProtocolType)
		}
		if v >= 4 && g.GroupState != "Stable" {
			t.Errorf("v4+ state %q, want Stable", g.GroupState)
		}
		if v >= 5 && g.GroupType != "classic" {
			t.Errorf("v5+ type %q, want classic", g.GroupType)
		}
		if v >= 4 {
			if _, ok := list([]string{"stable"}, nil)[stable.group]; !ok {
				t.Errorf("state filter [stable] (case-insensitive) leaves out a Stable group")
			}
			if _, ok := list([]string{"Empty"}, nil)[stable.group]; ok {
				t.Errorf("state filter [Empty] lists a Stable group")
			}
		}
		if v >= 5 {
			if _, ok := list(nil, []string{"Classic"})[stable.group]; !ok {
				t.Errorf("type filter [Classic] leaves out a classic group")
			}
			if _, ok := list(nil, []string{"consumer"})[stable.group]; ok {
				t.Errorf("type filter [consumer] lists a classic group")
			}
		}
	})
}

// --- OffsetCommit (key 8) and OffsetFetch (key 9) ----------------------------

// commitReq builds an OffsetCommit at version v of offsets (partition ->
// offset) of one topic.
func commitReq(v int16, group string, gen int32, memberID string, topic string, id [16]byte, offsets map[int32]int64, metadata string) *kmsg.OffsetCommitRequest {
	req := versioned(kmsg.NewPtrOffsetCommitRequest(), v)
	req.Group, req.Generation, req.MemberID = group, gen, memberID
	req.RetentionTimeMillis = -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	if v >= 10 {
		rt.TopicID = id
	} else {
		rt.Topic = topic
	}
	for _, p := range slices.Sorted(maps.Keys(offsets)) {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p, offsets[p], 7, kmsg.StringPtr(metadata)
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// commit sends an OffsetCommit and returns each partition's error, failing
// if the coordinator never gets ready.
func commit(t testing.TB, c *client, req *kmsg.OffsetCommitRequest) map[int32]int16 {
	t.Helper()
	coordinator(t, c, req.Group)
	resp := retry(t, c, req, func(r *kmsg.OffsetCommitResponse) int16 {
		for _, rt := range r.Topics {
			for _, p := range rt.Partitions {
				if retriable(p.ErrorCode) {
					return p.ErrorCode
				}
			}
		}
		return 0
	})
	out := map[int32]int16{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			out[p.Partition] = p.ErrorCode
		}
	}
	return out
}

// fetchedOffset is one partition of an OffsetFetch answer.
type fetchedOffset struct {
	offset      int64
	leaderEpoch int32
	metadata    *string
	code        int16
}

// fetchOffsets asks a group's offsets at OffsetFetch version v (nil
// partitions: every committed one, v2+) and returns them with the group's
// error code.
func fetchOffsets(t testing.TB, c *client, v int16, group, topic string, id [16]byte, partitions []int32) (map[int32]fetchedOffset, int16) {
	t.Helper()
	coordinator(t, c, group)
	req := versioned(kmsg.NewPtrOffsetFetchRequest(), v)
	if v >= 8 {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = group
		if partitions != nil {
			rt := kmsg.NewOffsetFetchRequestGroupTopic()
			rt.Topic, rt.Partitions = topic, partitions
			if v >= 10 {
				rt.Topic, rt.TopicID = "", id
			}
			rg.Topics = append(rg.Topics, rt)
		}
		req.Groups = append(req.Groups, rg)
	} else {
		req.Group = group
		if partitions != nil {
			req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: topic, Partitions: partitions}}
		}
	}
	resp := retry(t, c, req, func(r *kmsg.OffsetFetchResponse) int16 {
		if v >= 8 && len(r.Groups) == 1 {
			return r.Groups[0].ErrorCode
		}
		return r.ErrorCode
	})
	out := map[int32]fetchedOffset{}
	code := resp.ErrorCode
	if v >= 8 {
		if len(resp.Groups) != 1 || resp.Groups[0].Group != group {
			t.Fatalf("OffsetFetch v%d: groups %+v", v, resp.Groups)
		}
		code = resp.Groups[0].ErrorCode
		for _, rt := range resp.Groups[0].Topics {
			if (v >= 10 && rt.TopicID != id) || (v < 10 && rt.Topic != topic) {
				continue
			}
			for _, p := range rt.Partitions {
				out[p.Partition] = fetchedOffset{p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode}
			}
		}
		return out, code
	}
	for _, rt := range resp.Topics {
		if rt.Topic != topic {
			continue
		}
		for _, p := range rt.Partitions {
			out[p.Partition] = fetchedOffset{p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode}
		}
	}
	return out, code
}

func TestOffsetCommit(t *testing.T) {
	setup := dial(t, shared.addr)
	topic := topicName(t, "committed")
	id := createTopic(t, setup, topic, 2, nil)

	forVersions(t, 8, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		unknownTopic, unknownID := topicName(t, "missing"), [16]byte{0x42}
		wantUnknown := kerr.UnknownTopicOrPartition
		if v >= 10 {
			wantUnknown = kerr.UnknownTopicID
		}

		// Outside the group protocol (generation -1): an empty group.
		group := groupName(t, "simple")
		codes := commit(t, c, commitReq(v, group, -1, "", topic, id, map[int32]int64{0: 42, 1: 7}, "meta"))
		wantCode(t, "commit p0", codes[0], nil)
		wantCode(t, "commit p1", codes[1], nil)
		got, _ := fetchOffsets(t, c, maxVersion(t, 9), group, topic, id, []int32{0, 1})
		if got[0].offset != 42 || got[1].offset != 7 || got[0].metadata == nil || *got[0].metadata != "meta" {
			t.Errorf("committed 42 and 7 with metadata: fetched %+v", got)
		}
		if v >= 6 && got[0].leaderEpoch != 7 {
			t.Errorf("v6+ committed leader epoch 7, fetched %d", got[0].leaderEpoch)
		}

		wantCode(t, "unknown topic", commit(t, c, commitReq(v, group, -1, "", unknownTopic, unknownID, map[int32]int64{0: 1}, ""))[0], wantUnknown)
		wantCode(t, "unknown partition", commit(t, c, commitReq(v, group, -1, "", topic, id, map[int32]int64{5: 1}, ""))[5], kerr.UnknownTopicOrPartition)
		wantCode(t, "metadata above offset.metadata.max.bytes", commit(t, c, commitReq(v, group, -1, "", topic, id, map[int32]int64{0: 1}, strings.Repeat("m", 5000)))[0], kerr.OffsetMetadataTooLarge)
		wantCode(t, "empty group id", c.do(commitReq(v, "", -1, "", topic, id, map[int32]int64{0: 1}, "")).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode, kerr.InvalidGroupID)
		if got, _ := fetchOffsets(t, c, maxVersion(t, 9), group, topic, id, []int32{0}); got[0].offset != 42 {
			t.Errorf("refused commits changed p0 to %d", got[0].offset)
		}

		// A member of a Stable group.
		m := joinAndSync(t, c, groupName(t, "member"), subscription(topic))
		wantCode(t, "member commit", commit(t, c, commitReq(v, m.group, m.generation, m.id, topic, id, map[int32]int64{0: 5}, ""))[0], nil)
		wantCode(t, "wrong generation", commit(t, c, commitReq(v, m.group, m.generation+1, m.id, topic, id, map[int32]int64{0: 6}, ""))[0], kerr.IllegalGeneration)
		wantCode(t, "unknown member", commit(t, c, commitReq(v, m.group, m.generation, "no-such-member", topic, id, map[int32]int64{0: 6}, ""))[0], kerr.UnknownMemberID)
		// A generation for a group that does not exist.
		want := kerr.IllegalGeneration
		if v >= 9 {
			want = kerr.GroupIDNotFound
		}
		wantCode(t, "generation 3 of a group that does not exist", commit(t, c, commitReq(v, groupName(t, "none"), 3, "someone", topic, id, map[int32]int64{0: 6}, ""))[0], want)
	})
}

func TestOffsetFetch(t *testing.T) {
	setup := dial(t, shared.addr)
	topic := topicName(t, "fetched")
	id := createTopic(t, setup, topic, 3, nil)
	group := groupName(t, "offsets")
	commit(t, setup, commitReq(maxVersion(t, 8), group, -1, "", topic, id, map[int32]int64{0: 100, 2: 300}, "md"))

	forVersions(t, 9, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		got, code := fetchOffsets(t, c, v, group, topic, id, []int32{0, 1, 2})
		wantCode(t, "OffsetFetch", code, nil)
		if len(got) != 3 {
			t.Fatalf("3 partitions asked, %d answered", len(got))
		}
		for p, want := range map[int32]int64{0: 100, 1: -1, 2: 300} {
			g := got[p]
			wantCode(t, "partition", g.code, nil)
			if g.offset != want {
				t.Errorf("partition %d: offset %d, want %d", p, g.offset, want)
			}
			wantMeta := "md"
			if want == -1 {
				wantMeta = ""
			}
			if g.metadata == nil || *g.metadata != wantMeta {
				t.Errorf("partition %d: metadata %v, want %q", p, g.metadata, wantMeta)
			}
			if v >= 5 && want >= 0 && g.leaderEpoch != 7 {
				t.Errorf("partition %d: leader epoch %d, want 7", p, g.leaderEpoch)
			}
			if v >= 5 && want == -1 && g.leaderEpoch != -1 {
				t.Errorf("partition %d without an offset: leader epoch %d, want -1", p, g.leaderEpoch)
			}
		}
		if v >= 2 {
			all, code := fetchOffsets(t, c, v, group, topic, id, nil)
			wantCode(t, "all offsets", code, nil)
			if len(all) != 2 || all[0].offset != 100 || all[2].offset != 300 {
				t.Errorf("null topics (v2+): %+v, want partitions 0 and 2 only", all)
			}
		}
		none, code := fetchOffsets(t, c, v, groupName(t, "never"), topic, id, []int32{0})
		wantCode(t, "a group that does not exist", code, nil)
		if none[0].offset != -1 {
			t.Errorf("a group that does not exist: offset %d, want -1", none[0].offset)
		}
		if v >= 8 {
			// Several groups in one request.
			req := versioned(kmsg.NewPtrOffsetFetchRequest(), v)
			for _, g := range []string{group, groupName(t, "other")} {
				rg := kmsg.NewOffsetFetchRequestGroup()
				rg.Group = g
				req.Groups = append(req.Groups, rg)
			}
			resp := c.do(req).(*kmsg.OffsetFetchResponse)
			if len(resp.Groups) != 2 || resp.Groups[0].Group != group || len(resp.Groups[0].Topics) != 1 || len(resp.Groups[1].Topics) != 0 {
				t.Errorf("two groups asked: %+v", resp.Groups)
			}
		}
	})
}

// --- DeleteGroups (key 42) ---------------------------------------------------

func TestDeleteGroups(t *testing.T) {
	forVersions(t, 42, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		topic := topicName(t, "t")
		id := createTopic(t, c, topic, 1, nil)
		empty := groupName(t, "empty")
		commit(t, c, commitReq(maxVersion(t, 8), empty, -1, "", topic, id, map[int32]int64{0: 9}, ""))
		busy := joinAndSync(t, c, groupName(t, "busy"), subscription(topic))
		missing := groupName(t, "missing")

		// One group a request: a group's partition of __consumer_offsets
		// may still be loading (retriable), and a retry of a request that
		// deleted one group would find it gone.
		got := map[string]int16{}
		for _, g := range []string{empty, busy.group, missing} {
			coordinator(t, c, g)
			req := versioned(kmsg.NewPtrDeleteGroupsRequest(), v)
			req.Groups = []string{g}
			resp := retry(t, c, req, func(r *kmsg.DeleteGroupsResponse) int16 {
				if len(r.Groups) == 1 {
					return r.Groups[0].ErrorCode
				}
				return 0
			})
			if len(resp.Groups) != 1 || resp.Groups[0].Group != g {
				t.Fatalf("DeleteGroups v%d of %s: %+v", v, g, resp.Groups)
			}
			got[g] = resp.Groups[0].ErrorCode
		}
		wantCode(t, "delete an empty group", got[empty], nil)
		wantCode(t, "delete a group with members", got[busy.group], kerr.NonEmptyGroup)
		wantCode(t, "delete a group that does not exist", got[missing], kerr.GroupIDNotFound)
		if off, _ := fetchOffsets(t, c, maxVersion(t, 9), empty, topic, id, []int32{0}); off[0].offset != -1 {
			t.Errorf("a deleted group's offset is still %d", off[0].offset)
		}
		if g := describeGroup(t, c, 5, empty); g.State != "Dead" {
			t.Errorf("a deleted group is %s, want Dead", g.State)
		}
	})
}

// --- OffsetDelete (key 47) ---------------------------------------------------

func TestOffsetDelete(t *testing.T) {
	forVersions(t, 47, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		topic, other := topicName(t, "t"), topicName(t, "other")
		id := createTopic(t, c, topic, 2, nil)
		otherID := createTopic(t, c, other, 1, nil)
		del := func(group, topic string, partitions ...int32) *kmsg.OffsetDeleteResponse {
			req := versioned(kmsg.NewPtrOffsetDeleteRequest(), v)
			req.Group = group
			rt := kmsg.NewOffsetDeleteRequestTopic()
			rt.Topic = topic
			for _, p := range partitions {
				rt.Partitions = append(rt.Partitions, kmsg.OffsetDeleteRequestTopicPartition{Partition: p})
			}
			req.Topics = append(req.Topics, rt)
			return c.do(req).(*kmsg.OffsetDeleteResponse)
		}
		partCode := func(r *kmsg.OffsetDeleteResponse, p int32) int16 {
			for _, rt := range r.Topics {
				for _, rp := range rt.Partitions {
					if rp.Partition == p {
						return rp.ErrorCode
					}
				}
			}
			t.Fatalf("partition %d not answered: %+v", p, r.Topics)
			return -1
		}

		// An empty group: any offset goes.
		empty := groupName(t, "empty")
		commit(t, c, commitReq(maxVersion(t, 8), empty, -1, "", topic, id, map[int32]int64{0: 1, 1: 2}, ""))
		r := del(empty, topic, 0)
		wantCode(t, "delete from an empty group", r.ErrorCode, nil)
		wantCode(t, "partition 0", partCode(r, 0), nil)
		off, _ := fetchOffsets(t, c, maxVersion(t, 9), empty, topic, id, []int32{0, 1})
		if off[0].offset != -1 || off[1].offset != 2 {
			t.Errorf("after deleting partition 0: %+v, want -1 and 2", off)
		}

		// A consumer group: not the offsets of a topic it subscribes to.
		m := joinAndSync(t, c, groupName(t, "active"), subscription(topic))
		commit(t, c, commitReq(maxVersion(t, 8), m.group, m.generation, m.id, topic, id, map[int32]int64{0: 5}, ""))
		commit(t, c, commitReq(maxVersion(t, 8), m.group, m.generation, m.id, other, otherID, map[int32]int64{0: 6}, ""))
		r = del(m.group, topic, 0)
		wantCode(t, "subscribed topic: top level", r.ErrorCode, nil)
		wantCode(t, "subscribed topic", partCode(r, 0), kerr.GroupSubscribedToTopic)
		r = del(m.group, other, 0)
		wantCode(t, "unsubscribed topic", partCode(r, 0), nil)

		missing := groupName(t, "missing")
		coordinator(t, c, missing)
		req := versioned(kmsg.NewPtrOffsetDeleteRequest(), v)
		req.Group = missing
		req.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: topic, Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
		mr := retry(t, c, req, func(r *kmsg.OffsetDeleteResponse) int16 { return r.ErrorCode })
		wantCode(t, "a group that does not exist", mr.ErrorCode, kerr.GroupIDNotFound)
		wantCode(t, "empty group id", del("", topic, 0).ErrorCode, kerr.InvalidGroupID)
		wantCode(t, "unknown topic", partCode(del(empty, topicName(t, "missing"), 0), 0), kerr.UnknownTopicOrPartition)
	})
}
