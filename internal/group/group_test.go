package group

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

const (
	session   = 10 * time.Second
	rebalance = 30 * time.Second
)

func joinReq(group, memberID string) JoinRequest {
	return JoinRequest{
		Group:                group,
		MemberID:             memberID,
		ClientID:             "client",
		ClientHost:           "/127.0.0.1",
		SessionTimeout:       session,
		RebalanceTimeout:     rebalance,
		ProtocolType:         "consumer",
		Protocols:            []Protocol{{Name: "range", Metadata: []byte("m-" + memberID)}},
		RequireKnownMemberID: true,
	}
}

// firstJoin does the KIP-394 dance: the first join gets MEMBER_ID_REQUIRED
// and an id; the second join with that id is returned (pending or
// answered).
func (h *harness) firstJoin(group string) (string, <-chan JoinResult) {
	h.t.Helper()
	r := now(h.t, h.c.JoinGroup(joinReq(group, "")))
	wantErr(h.t, "first join", r.Err, kerr.MemberIDRequired)
	if r.MemberID == "" {
		h.t.Fatal("MEMBER_ID_REQUIRED without a member id")
	}
	return r.MemberID, h.c.JoinGroup(joinReq(group, r.MemberID))
}

func (h *harness) heartbeat(group, id string, gen int32) error {
	return h.c.Heartbeat(HeartbeatRequest{Group: group, Generation: gen, MemberID: id})
}

func (h *harness) state(group string) string {
	h.t.Helper()
	d, err := h.c.DescribeGroup(group)
	if err != nil {
		return "error: " + err.Error()
	}
	return d.State
}

func assignments(ids ...string) []Assignment {
	var out []Assignment
	for _, id := range ids {
		out = append(out, Assignment{MemberID: id, Assignment: []byte("a-" + id)})
	}
	return out
}

func TestSingleMemberLifecycle(t *testing.T) {
	h := newHarness(t, nil)
	id, ch := h.firstJoin("g")
	j := now(t, ch)
	wantErr(t, "join", j.Err, nil)
	if j.Generation != 1 || j.Leader != id || j.MemberID != id || len(j.Members) != 1 || *j.Protocol != "range" {
		t.Fatalf("join answer %+v", j)
	}
	if !bytes.Equal(j.Members[0].Metadata, []byte("m-"+id)) {
		t.Fatalf("leader sees metadata %q", j.Members[0].Metadata)
	}
	if got := h.state("g"); got != "CompletingRebalance" {
		t.Fatalf("state %s after join, want CompletingRebalance", got)
	}
	s := now(t, h.c.SyncGroup(SyncRequest{Group: "g", Generation: 1, MemberID: id, Assignments: assignments(id)}))
	wantErr(t, "sync", s.Err, nil)
	if string(s.Assignment) != "a-"+id {
		t.Fatalf("assignment %q", s.Assignment)
	}
	if got := h.state("g"); got != "Stable" {
		t.Fatalf("state %s after sync, want Stable", got)
	}
	wantErr(t, "heartbeat", h.heartbeat("g", id, 1), nil)
	wantErr(t, "heartbeat, old generation", h.heartbeat("g", id, 0), kerr.IllegalGeneration)
	wantErr(t, "heartbeat, unknown member", h.heartbeat("g", "nobody", 1), kerr.UnknownMemberID)
	wantErr(t, "heartbeat, unknown group", h.heartbeat("other", id, 1), kerr.UnknownMemberID)

	// The group metadata (with the assignment) was stored before the
	// member got its assignment.
	recs := h.store.records(t, 0)
	last := recs[len(recs)-1]
	if last.kind != kindGroup || last.meta == nil || last.meta.Generation != 1 || len(last.meta.Members) != 1 ||
		string(last.meta.Members[0].Assignment) != "a-"+id || *last.meta.Protocol != "range" {
		t.Fatalf("stored group metadata %+v", last.meta)
	}

	leaveErr, errs := h.c.LeaveGroup("g", []LeaveMember{{MemberID: id}})
	wantErr(t, "leave", leaveErr, nil)
	wantErr(t, "leave member", errs[0], nil)
	d, _ := h.c.DescribeGroup("g")
	if d.State != "Empty" || len(d.Members) != 0 {
		t.Fatalf("after leave: %+v", d)
	}
	recs = h.store.records(t, 0)
	last = recs[len(recs)-1]
	if last.kind != kindGroup || last.meta == nil || last.meta.Generation != 2 || len(last.meta.Members) != 0 {
		t.Fatalf("empty group metadata not stored: %+v", last.meta)
	}
}

func TestOldJoinGetsMemberIDAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	req := joinReq("g", "")
	req.RequireKnownMemberID = false // JoinGroup v0-3
	j := now(t, h.c.JoinGroup(req))
	wantErr(t, "join", j.Err, nil)
	if j.MemberID == "" || j.Generation != 1 || j.Leader != j.MemberID {
		t.Fatalf("join answer %+v", j)
	}
}

// stableGroup brings n members into a Stable group and returns their ids
// (the first is the leader) and the generation.
func (h *harness) stableGroup(group string, n int) ([]string, int32) {
	h.t.Helper()
	var ids []string
	var chans []<-chan JoinResult
	for range n {
		id, ch := h.firstJoin(group)
		// Joining a non-empty group starts a rebalance the earlier
		// members must join; they see it on their heartbeat.
		for i, old := range ids {
			if r := len(chans[i]); r == 0 {
				continue
			}
			_ = old
		}
		ids = append(ids, id)
		chans = append(chans, ch)
		if len(ids) > 1 {
			// Earlier members rejoin (as a client does after
			// REBALANCE_IN_PROGRESS or its join answer).
			for i := range len(ids) - 1 {
				select {
				case <-chans[i]:
				default:
				}
				chans[i] = h.c.JoinGroup(joinReq(group, ids[i]))
			}
		}
	}
	var gen int32
	var leader string
	for i, ch := range chans {
		j := now(h.t, ch)
		wantErr(h.t, "join", j.Err, nil)
		if i == 0 {
			gen, leader = j.Generation, j.Leader
		}
		if j.Generation != gen || j.Leader != leader {
			h.t.Fatalf("member %d: generation %d leader %s, others %d %s", i, j.Generation, j.Leader, gen, leader)
		}
	}
	syncs := make(map[string]<-chan SyncResult)
	for _, id := range ids {
		req := SyncRequest{Group: group, Generation: gen, MemberID: id}
		if id == leader {
			continue
		}
		syncs[id] = h.c.SyncGroup(req)
		notYet(h.t, syncs[id])
	}
	syncs[leader] = h.c.SyncGroup(SyncRequest{Group: group, Generation: gen, MemberID: leader, Assignments: assignments(ids...)})
	for id, ch := range syncs {
		s := now(h.t, ch)
		wantErr(h.t, "sync", s.Err, nil)
		if string(s.Assignment) != "a-"+id {
			h.t.Fatalf("member %s assignment %q", id, s.Assignment)
		}
	}
	// Put the leader first.
	for i, id := range ids {
		if id == leader {
			ids[0], ids[i] = ids[i], ids[0]
		}
	}
	return ids, gen
}

func TestRebalanceWithThreeMembers(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 3)
	if gen != 3 {
		t.Fatalf("generation %d after three joins, want 3", gen)
	}
	d, _ := h.c.DescribeGroup("g")
	if d.State != "Stable" || len(d.Members) != 3 || d.Protocol != "range" {
		t.Fatalf("describe %+v", d)
	}
	for _, m := range d.Members {
		if string(m.Assignment) != "a-"+m.MemberID || string(m.Metadata) != "m-"+m.MemberID {
			t.Fatalf("member %+v", m)
		}
	}

	// A fourth member: the others learn of the rebalance by heartbeat.
	id4, ch4 := h.firstJoin("g")
	notYet(t, ch4)
	for _, id := range ids {
		wantErr(t, "heartbeat during rebalance", h.heartbeat("g", id, gen), kerr.RebalanceInProgress)
	}
	// Committing is still allowed while preparing (commit on revoke).
	errs := now(t, h.c.CommitOffsets(CommitRequest{Group: "g", Generation: gen, MemberID: ids[1], Retention: -1,
		Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 5, LeaderEpoch: -1}}}))
	wantErr(t, "commit while preparing", errs[0], nil)
	// Sync of the old generation during the rebalance.
	s := now(t, h.c.SyncGroup(SyncRequest{Group: "g", Generation: gen, MemberID: ids[1]}))
	wantErr(t, "sync while preparing", s.Err, kerr.RebalanceInProgress)

	var chans []<-chan JoinResult
	for _, id := range ids {
		chans = append(chans, h.c.JoinGroup(joinReq("g", id)))
	}
	chans = append(chans, ch4)
	all := append(append([]string{}, ids...), id4)
	for i, ch := range chans {
		j := now(t, ch)
		wantErr(t, "rejoin", j.Err, nil)
		if j.Generation != gen+1 {
			t.Fatalf("member %s: generation %d, want %d", all[i], j.Generation, gen+1)
		}
		if (j.MemberID == j.Leader) != (len(j.Members) == 4) {
			t.Fatalf("member %s (leader %s) sees %d members", j.MemberID, j.Leader, len(j.Members))
		}
	}
	// Commits between join and sync: REBALANCE_IN_PROGRESS.
	errs = now(t, h.c.CommitOffsets(CommitRequest{Group: "g", Generation: gen + 1, MemberID: ids[1], Retention: -1,
		Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 6, LeaderEpoch: -1}}}))
	wantErr(t, "commit while completing", errs[0], kerr.RebalanceInProgress)
	// Heartbeats between join and sync are fine.
	wantErr(t, "heartbeat while completing", h.heartbeat("g", ids[1], gen+1), nil)
}

func TestSessionTimeoutRemovesMember(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 2)
	leader, follower := ids[0], ids[1]
	// The leader heartbeats; the follower goes silent. Its session ends
	// exactly session after its last sign of life (its SyncGroup).
	for range 3 {
		h.clock.Advance(session / 4)
		wantErr(t, "leader heartbeat", h.heartbeat("g", leader, gen), nil)
	}
	h.clock.Advance(session/4 - time.Millisecond)
	wantErr(t, "leader heartbeat just before the follower expires", h.heartbeat("g", leader, gen), nil)
	h.clock.Advance(time.Millisecond)
	wantErr(t, "leader heartbeat after the follower expired", h.heartbeat("g", leader, gen), kerr.RebalanceInProgress)
	wantErr(t, "expired follower", h.heartbeat("g", follower, gen), kerr.UnknownMemberID)
	j := now(t, h.c.JoinGroup(joinReq("g", leader)))
	wantErr(t, "leader rejoin", j.Err, nil)
	if j.Generation != gen+1 || len(j.Members) != 1 {
		t.Fatalf("after expiry: %+v", j)
	}
}

func TestSessionJustInTime(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 1)
	h.clock.Advance(session - time.Millisecond)
	wantErr(t, "heartbeat just before the session ends", h.heartbeat("g", ids[0], gen), nil)
	h.clock.Advance(session - time.Millisecond)
	wantErr(t, "heartbeat again", h.heartbeat("g", ids[0], gen), nil)
	h.clock.Advance(session)
	if got := h.state("g"); got != "Empty" {
		t.Fatalf("state %s after a silent session, want Empty", got)
	}
}

func TestRebalanceTimeoutDropsMembersThatDoNotRejoin(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 3)
	// ids[0] (leader) rejoins, forcing a rebalance; ids[1] rejoins;
	// ids[2] keeps heartbeating but never rejoins.
	ch0 := h.c.JoinGroup(joinReq("g", ids[0]))
	ch1 := h.c.JoinGroup(joinReq("g", ids[1]))
	notYet(t, ch0)
	for range 5 {
		h.clock.Advance(5 * time.Second)
		wantErr(t, "lagging heartbeat", h.heartbeat("g", ids[2], gen), kerr.RebalanceInProgress)
		notYet(t, ch0)
	}
	h.clock.Advance(5 * time.Second) // rebalance timeout reached
	j0, j1 := now(t, ch0), now(t, ch1)
	if j0.Generation != gen+1 || j1.Generation != gen+1 || len(j0.Members) != 2 {
		t.Fatalf("after the rebalance timeout: %+v / %+v", j0, j1)
	}
	wantErr(t, "dropped member", h.heartbeat("g", ids[2], gen), kerr.UnknownMemberID)
}

func TestInitialRebalanceDelay(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.InitialRebalanceDelay = 3 * time.Second })
	_, ch1 := h.firstJoin("g")
	h.clock.Advance(2 * time.Second)
	notYet(t, ch1)
	_, ch2 := h.firstJoin("g") // a new member: at 3s the delay is extended by another 3s
	h.clock.Advance(4*time.Second - time.Millisecond)
	notYet(t, ch1)
	notYet(t, ch2)
	h.clock.Advance(time.Millisecond) // 6s: no new member during the extension
	j1, j2 := now(t, ch1), now(t, ch2)
	if j1.Generation != 1 || j2.Generation != 1 || j1.Leader != j2.Leader {
		t.Fatalf("after the delay: %+v / %+v", j1, j2)
	}
}

func TestInitialRebalanceDelayBoundedByRebalanceTimeout(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.InitialRebalanceDelay = 3 * time.Second })
	req := joinReq("g", "")
	req.RebalanceTimeout = 5 * time.Second
	req.RequireKnownMemberID = false
	ch := h.c.JoinGroup(req)
	// New members keep coming every 2s; the delay may be extended, but
	// not past the rebalance timeout (plus the last extension).
	var joined []<-chan JoinResult
	for range 4 {
		h.clock.Advance(2 * time.Second)
		joined = append(joined, h.c.JoinGroup(req))
	}
	j := now(t, ch)
	wantErr(t, "join", j.Err, nil)
	if j.Generation != 1 {
		t.Fatalf("generation %d", j.Generation)
	}
}

func TestPendingMemberExpires(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 1)
	// A new member gets its id but never comes back: the rebalance it
	// started must not wait for it beyond its session.
	r := now(t, h.c.JoinGroup(joinReq("g", "")))
	wantErr(t, "first join", r.Err, kerr.MemberIDRequired)
	// The pending member does not start a rebalance by itself.
	wantErr(t, "heartbeat", h.heartbeat("g", ids[0], gen), nil)
	h.clock.Advance(session + time.Millisecond)
	wantErr(t, "pending member's heartbeat", h.heartbeat("g", r.MemberID, gen), kerr.UnknownMemberID)
	j := now(t, h.c.JoinGroup(joinReq("g", r.MemberID)))
	wantErr(t, "join after the pending id expired", j.Err, kerr.UnknownMemberID)
}

func TestPendingSyncTimeout(t *testing.T) {
	h := newHarness(t, nil)
	id1, ch1 := h.firstJoin("g")
	j1 := now(t, ch1)
	// A second member joins; both rejoin; only the leader syncs.
	id2, ch2 := h.firstJoin("g")
	ch1 = h.c.JoinGroup(joinReq("g", id1))
	j1, j2 := now(t, ch1), now(t, ch2)
	if j1.Generation != 2 || j2.Generation != 2 {
		t.Fatalf("generations %d %d", j1.Generation, j2.Generation)
	}
	leader := j1.Leader
	other := id2
	if leader == id2 {
		other = id1
	}
	sl := h.c.SyncGroup(SyncRequest{Group: "g", Generation: 2, MemberID: leader, Assignments: assignments(id1, id2)})
	wantErr(t, "leader sync", now(t, sl).Err, nil)
	// Both heartbeat, but the other never syncs.
	for range 5 {
		h.clock.Advance(rebalance / 6)
		wantErr(t, "leader heartbeat", h.heartbeat("g", leader, 2), nil)
		wantErr(t, "other's heartbeat", h.heartbeat("g", other, 2), nil)
	}
	h.clock.Advance(rebalance/6 + time.Millisecond)
	wantErr(t, "member that never synced", h.heartbeat("g", other, 2), kerr.UnknownMemberID)
	wantErr(t, "leader heartbeat", h.heartbeat("g", leader, 2), kerr.RebalanceInProgress)
}

// TestFollowerSyncAfterStable: a follower whose SyncGroup comes after the
// leader's, when the group is Stable already, has synced: the pending-sync
// timer must not remove it a rebalance timeout later (franz-go's TestGroupETL
// saw UNKNOWN_MEMBER_ID 60 s after such a join).
func TestFollowerSyncAfterStable(t *testing.T) {
	h := newHarness(t, nil)
	id1, ch1 := h.firstJoin("g")
	now(t, ch1)
	id2, ch2 := h.firstJoin("g")
	ch1 = h.c.JoinGroup(joinReq("g", id1))
	j1, j2 := now(t, ch1), now(t, ch2)
	if j1.Generation != j2.Generation {
		t.Fatalf("generations %d %d", j1.Generation, j2.Generation)
	}
	gen := j1.Generation
	leader, follower := j1.Leader, id2
	if leader == id2 {
		follower = id1
	}
	sl := h.c.SyncGroup(SyncRequest{Group: "g", Generation: gen, MemberID: leader, Assignments: assignments(id1, id2)})
	wantErr(t, "leader sync", now(t, sl).Err, nil)
	sf := now(t, h.c.SyncGroup(SyncRequest{Group: "g", Generation: gen, MemberID: follower}))
	wantErr(t, "follower sync in Stable", sf.Err, nil)
	if string(sf.Assignment) != "a-"+follower {
		t.Fatalf("follower assignment %q", sf.Assignment)
	}
	for range 8 {
		h.clock.Advance(rebalance / 6)
		wantErr(t, "leader heartbeat", h.heartbeat("g", leader, gen), nil)
		wantErr(t, "follower heartbeat", h.heartbeat("g", follower, gen), nil)
	}
}

func TestLeaderSyncAfterFollowers(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 2)
	_ = gen
	// A leader rejoining a Stable group forces a rebalance.
	ch0 := h.c.JoinGroup(joinReq("g", ids[0]))
	notYet(t, ch0)
	ch1 := h.c.JoinGroup(joinReq("g", ids[1]))
	j0, j1 := now(t, ch0), now(t, ch1)
	if j0.Generation != j1.Generation {
		t.Fatal("generations differ")
	}
	s1 := h.c.SyncGroup(SyncRequest{Group: "g", Generation: j1.Generation, MemberID: ids[1]})
	notYet(t, s1)
	// A member rejoining with the same metadata while completing gets
	// the current generation again (it lost its answer).
	again := now(t, h.c.JoinGroup(joinReq("g", ids[1])))
	if again.Err != nil || again.Generation != j1.Generation {
		t.Fatalf("rejoin while completing: %+v", again)
	}
	s0 := h.c.SyncGroup(SyncRequest{Group: "g", Generation: j0.Generation, MemberID: ids[0], Assignments: assignments(ids...)})
	// The abandoned first SyncGroup of ids[1] was replaced... it was
	// answered only if another sync came; here it is answered now.
	wantErr(t, "leader sync", now(t, s0).Err, nil)
	r1 := now(t, s1)
	wantErr(t, "follower sync", r1.Err, nil)
	if string(r1.Assignment) != "a-"+ids[1] {
		t.Fatalf("follower assignment %q", r1.Assignment)
	}
}

func TestJoinErrors(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxSize = 3 })
	ids, _ := h.stableGroup("g", 2)
	h.stableGroup("full", 3)

	req := joinReq("", "")
	wantErr(t, "empty group id", now(t, h.c.JoinGroup(req)).Err, kerr.InvalidGroupID)

	req = joinReq("g", "")
	req.SessionTimeout = time.Second
	wantErr(t, "short session", now(t, h.c.JoinGroup(req)).Err, kerr.InvalidSessionTimeout)
	req.SessionTimeout = time.Hour
	wantErr(t, "long session", now(t, h.c.JoinGroup(req)).Err, kerr.InvalidSessionTimeout)

	req = joinReq("g", "")
	req.ProtocolType = "connect"
	wantErr(t, "other protocol type", now(t, h.c.JoinGroup(req)).Err, kerr.InconsistentGroupProtocol)
	req = joinReq("g", "")
	req.Protocols = []Protocol{{Name: "roundrobin"}}
	wantErr(t, "no common protocol", now(t, h.c.JoinGroup(req)).Err, kerr.InconsistentGroupProtocol)

	wantErr(t, "group full", now(t, h.c.JoinGroup(joinReq("full", ""))).Err, kerr.GroupMaxSizeReached)
	wantErr(t, "unknown member", now(t, h.c.JoinGroup(joinReq("g", "ghost"))).Err, kerr.UnknownMemberID)
	wantErr(t, "unknown group", now(t, h.c.JoinGroup(joinReq("nope", "ghost"))).Err, kerr.UnknownMemberID)

	req = joinReq("empty", "")
	req.Protocols = nil
	wantErr(t, "no protocols", now(t, h.c.JoinGroup(req)).Err, kerr.InconsistentGroupProtocol)
	_ = ids
}

func TestProtocolSelection(t *testing.T) {
	h := newHarness(t, nil)
	mk := func(names ...string) JoinRequest {
		r := joinReq("g", "")
		r.RequireKnownMemberID = false
		r.Protocols = nil
		for _, n := range names {
			r.Protocols = append(r.Protocols, Protocol{Name: n, Metadata: []byte(n)})
		}
		return r
	}
	// The first join of an empty group completes at once; then two more
	// members join and the first rejoins, completing the rebalance.
	a := now(t, h.c.JoinGroup(mk("cooperative-sticky", "range")))
	now(t, h.c.SyncGroup(SyncRequest{Group: "g", Generation: a.Generation, MemberID: a.MemberID}))
	chB := h.c.JoinGroup(mk("range", "cooperative-sticky"))
	chC := h.c.JoinGroup(mk("range", "roundrobin", "cooperative-sticky"))
	notYet(t, chB)
	chA := h.c.JoinGroup(func() JoinRequest { r := mk("cooperative-sticky", "range"); r.MemberID = a.MemberID; return r }())
	ja, jb, jc := now(t, chA), now(t, chB), now(t, chC)
	for _, j := range []JoinResult{ja, jb, jc} {
		wantErr(t, "join", j.Err, nil)
		if *j.Protocol != "range" {
			t.Fatalf("protocol %s, want range (two votes to one)", *j.Protocol)
		}
	}
	for _, j := range []JoinResult{ja, jb, jc} {
		if j.MemberID == j.Leader {
			for _, m := range j.Members {
				if string(m.Metadata) != "range" {
					t.Fatalf("leader sees %q, want the metadata for range", m.Metadata)
				}
			}
		}
	}
}

func TestStaticMemberRestartWithoutRebalance(t *testing.T) {
	for _, skip := range []bool{false, true} {
		t.Run(fmt.Sprintf("skipAssignment=%v", skip), func(t *testing.T) {
			h := newHarness(t, nil)
			static := func(inst, memberID string) JoinRequest {
				r := joinReq("g", memberID)
				r.InstanceID = &inst
				r.SupportsSkipAssignment = skip
				return r
			}
			// Static members get their id on the first join (no
			// MEMBER_ID_REQUIRED).
			j1, j2 := h.staticPair(static)
			gen := j1.Generation

			// i1 (the leader) restarts: it joins with its instance id
			// and no member id.
			r := now(t, h.c.JoinGroup(static("i1", "")))
			wantErr(t, "static rejoin", r.Err, nil)
			if r.Generation != gen || r.MemberID == j1.MemberID {
				t.Fatalf("static rejoin %+v: want generation %d and a new member id", r, gen)
			}
			if skip {
				if r.Leader != r.MemberID || !r.SkipAssignment || len(r.Members) != 2 {
					t.Fatalf("v9 static leader rejoin: %+v", r)
				}
			} else if r.Leader != j1.MemberID || r.SkipAssignment || len(r.Members) != 0 {
				t.Fatalf("old static leader rejoin: leader %s (old id %s), %+v", r.Leader, j1.MemberID, r)
			}
			if got := h.state("g"); got != "Stable" {
				t.Fatalf("state %s after a static restart, want Stable", got)
			}
			// The old incarnation is fenced; the new one syncs and
			// gets its old assignment.
			wantErr(t, "old incarnation", h.c.Heartbeat(HeartbeatRequest{Group: "g", Generation: gen, MemberID: j1.MemberID, InstanceID: ptr("i1")}), kerr.FencedInstanceID)
			s := now(t, h.c.SyncGroup(SyncRequest{Group: "g", Generation: gen, MemberID: r.MemberID, InstanceID: ptr("i1")}))
			wantErr(t, "sync", s.Err, nil)
			if string(s.Assignment) != "a-"+j1.MemberID {
				t.Fatalf("assignment after restart %q", s.Assignment)
			}
			wantErr(t, "i2 unaffected", h.c.Heartbeat(HeartbeatRequest{Group: "g", Generation: gen, MemberID: j2.MemberID, InstanceID: ptr("i2")}), nil)

			// Removing a static member by instance id (admin).
			gerr, errs := h.c.LeaveGroup("g", []LeaveMember{{InstanceID: ptr("i2")}, {InstanceID: ptr("nope")}})
			wantErr(t, "leave", gerr, nil)
			wantErr(t, "leave i2", errs[0], nil)
			wantErr(t, "leave unknown instance", errs[1], kerr.UnknownMemberID)
			if got := h.state("g"); got != "PreparingRebalance" {
				t.Fatalf("state %s after removing i2", got)
			}
		})
	}
}

func TestStaticMemberNotRejoiningKeepsItsPlace(t *testing.T) {
	h := newHarness(t, nil)
	static := func(inst, memberID string) JoinRequest {
		r := joinReq("g", memberID)
		r.InstanceID = &inst
		r.SessionTimeout = 2 * rebalance // static members use long sessions
		return r
	}
	j1, _ := h.staticPair(static)
	// A dynamic member joins; i2 is silent (restarting) and does not
	// rejoin: when the join phase ends, i2 stays a member, since its
	// session has not ended.
	id3, ch3 := h.firstJoin("g")
	chl := h.c.JoinGroup(static("i1", j1.MemberID))
	h.clock.Advance(rebalance)
	j3, jl := now(t, ch3), now(t, chl)
	if jl.Generation != j3.Generation || len(jl.Members) != 3 {
		t.Fatalf("leader's answer %+v: want all three members, i2 included", jl)
	}
	_ = id3
}

func TestFencedInstance(t *testing.T) {
	h := newHarness(t, nil)
	inst := "i"
	r := joinReq("g", "")
	r.InstanceID = &inst
	j := now(t, h.c.JoinGroup(r))
	r.MemberID = "someone-else"
	wantErr(t, "join with another member id for the instance", now(t, h.c.JoinGroup(r)).Err, kerr.FencedInstanceID)
	gerr, errs := h.c.LeaveGroup("g", []LeaveMember{{MemberID: "someone-else", InstanceID: &inst}})
	wantErr(t, "leave", gerr, nil)
	wantErr(t, "fenced leave", errs[0], kerr.FencedInstanceID)
	errs = now(t, h.c.CommitOffsets(CommitRequest{Group: "g", Generation: j.Generation, MemberID: "someone-else", InstanceID: &inst, Retention: -1,
		Offsets: []CommitOffset{{Topic: "t", Offset: 1}}}))
	wantErr(t, "fenced commit", errs[0], kerr.FencedInstanceID)
}

func TestLeaveDuringRebalanceCompletesIt(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 3)
	ch0 := h.c.JoinGroup(joinReq("g", ids[0]))
	ch1 := h.c.JoinGroup(joinReq("g", ids[1]))
	notYet(t, ch0)
	_, errs := h.c.LeaveGroup("g", []LeaveMember{{MemberID: ids[2]}})
	wantErr(t, "leave", errs[0], nil)
	j0, j1 := now(t, ch0), now(t, ch1)
	if j0.Generation != gen+1 || j1.Generation != gen+1 {
		t.Fatalf("generations %d %d", j0.Generation, j1.Generation)
	}
	_, errs = h.c.LeaveGroup("g", []LeaveMember{{MemberID: ids[2]}})
	wantErr(t, "leave twice", errs[0], kerr.UnknownMemberID)
	gerr, _ := h.c.LeaveGroup("", nil)
	wantErr(t, "leave empty group id", gerr, kerr.InvalidGroupID)
}

func TestCoordinatorErrors(t *testing.T) {
	h := newHarness(t, nil)
	// A coordinator that leads no partition.
	c := New(testConfig(), newMemStore(), h.clock, nil)
	t.Cleanup(c.Stop)
	wantErr(t, "not started", now(t, c.JoinGroup(joinReq("g", ""))).Err, kerr.CoordinatorNotAvailable)
	c.Start()
	wantErr(t, "no topic", now(t, c.JoinGroup(joinReq("g", ""))).Err, kerr.NotCoordinator)
	c.Lead([16]byte{1}, 2, []int32{PartitionFor("g", 2)})
	// Its load waits on the gate.
	store := newMemStore()
	store.loadGate = make(chan struct{})
	c2 := New(testConfig(), store, h.clock, nil)
	t.Cleanup(c2.Stop)
	c2.Start()
	c2.Lead([16]byte{1}, 1, []int32{0})
	wantErr(t, "loading", now(t, c2.JoinGroup(joinReq("g", ""))).Err, kerr.CoordinatorLoadInProgress)
	if _, err := c2.FetchOffsets("g", nil, false); err != kerr.CoordinatorLoadInProgress {
		t.Fatalf("fetch while loading: %v", err)
	}
	if _, err := c2.ListGroups(nil, nil); err != kerr.CoordinatorLoadInProgress {
		t.Fatalf("list while loading: %v", err)
	}
	close(store.loadGate)
	if err := c2.waitLoaded(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "loaded", now(t, c2.JoinGroup(joinReq("g", ""))).Err, kerr.MemberIDRequired)

	// Losing leadership: waiting joins get NOT_COORDINATOR.
	ch := c2.JoinGroup(func() JoinRequest { r := joinReq("g2", ""); r.RequireKnownMemberID = false; return r }())
	j := now(t, ch)
	wantErr(t, "join", j.Err, nil)
	// the member rejoins (leader rejoin in CompletingRebalance with same
	// metadata answers at once), then another member joins and waits.
	r := joinReq("g2", "")
	r.RequireKnownMemberID = false
	waiting := c2.JoinGroup(r)
	c2.Lead([16]byte{1}, 1, nil)
	wantErr(t, "unloaded", now(t, waiting).Err, kerr.NotCoordinator)
	wantErr(t, "after unload", now(t, c2.JoinGroup(joinReq("g2", ""))).Err, kerr.NotCoordinator)
}

func ptr(s string) *string { return &s }

// staticPair makes a Stable group "g" of static members i1 (the leader)
// and i2, and returns their join answers of the last generation.
func (h *harness) staticPair(static func(inst, memberID string) JoinRequest) (JoinResult, JoinResult) {
	t := h.t
	t.Helper()
	// Static members get their id on the first join (no
	// MEMBER_ID_REQUIRED).
	j1 := now(t, h.c.JoinGroup(static("i1", "")))
	wantErr(t, "join i1", j1.Err, nil)
	now(t, h.c.SyncGroup(SyncRequest{Group: "g", Generation: j1.Generation, MemberID: j1.MemberID, InstanceID: ptr("i1")}))
	ch2 := h.c.JoinGroup(static("i2", ""))
	notYet(t, ch2)
	ch1 := h.c.JoinGroup(static("i1", j1.MemberID))
	j1, j2 := now(t, ch1), now(t, ch2)
	wantErr(t, "join i2", j2.Err, nil)
	if j1.Leader != j1.MemberID {
		t.Fatalf("leader %s, want i1 (%s)", j1.Leader, j1.MemberID)
	}
	s2 := h.c.SyncGroup(SyncRequest{Group: "g", Generation: j2.Generation, MemberID: j2.MemberID, InstanceID: ptr("i2")})
	wantErr(t, "sync i1", now(t, h.c.SyncGroup(SyncRequest{Group: "g", Generation: j1.Generation, MemberID: j1.MemberID,
		InstanceID: ptr("i1"), Assignments: assignments(j1.MemberID, j2.MemberID)})).Err, nil)
	wantErr(t, "sync i2", now(t, s2).Err, nil)
	return j1, j2
}
