package group

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a classic group's state.
//
//	Empty ──join──> PreparingRebalance ──all joined / rebalance timeout──> CompletingRebalance
//	  ^                   ^   │                                                │ leader's SyncGroup stored
//	  │                   │   └──no member left──> Empty                       v
//	  └──expiry/delete    └───────── join, leave, session expiry ─────────── Stable
//	        │
//	        v
//	      Dead (deleted, expired or unloaded; the object is dropped)
type State int8

// The states of a classic group, with Kafka's names.
const (
	Empty State = iota
	PreparingRebalance
	CompletingRebalance
	Stable
	Dead
)

func (s State) String() string {
	switch s {
	case Empty:
		return "Empty"
	case PreparingRebalance:
		return "PreparingRebalance"
	case CompletingRebalance:
		return "CompletingRebalance"
	case Stable:
		return "Stable"
	case Dead:
		return "Dead"
	}
	return fmt.Sprintf("State(%d)", int8(s))
}

// member is one member of a group.
type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocols        []Protocol
	assignment       []byte
	seq              uint64 // join order: members are listed in it

	joinCh chan JoinResult // set while the member waits in JoinGroup
	syncCh chan SyncResult // set while the member waits in SyncGroup
	isNew  bool            // joined in this rebalance; bounded by NewMemberJoinTimeout

	deadline time.Time // session expiry
	timer    Timer
	timerAt  time.Time
	timerTok uint64
}

// pendingMember is a member id handed out with MEMBER_ID_REQUIRED, waiting
// for the member's second JoinGroup.
type pendingMember struct{ timer Timer }

// Group is one classic group: members, generation, assignments and
// committed offsets. Its methods run with mu held; they are the state
// machine, driven by requests and by timers of the coordinator's Clock.
type Group struct {
	c         *Coordinator
	name      string
	partition int32

	mu             sync.Mutex
	state          State
	stateTime      time.Time
	stateTimeKnown bool
	protocolType   string // "" for a group used only for offsets
	protocol       string // chosen protocol; "" when none
	generation     int32
	leader         string
	members        map[string]*member
	static         map[string]string // instance id -> member id
	pending        map[string]*pendingMember
	pendingSync    map[string]bool // members of this generation that have not synced
	protoCount     map[string]int  // protocol name -> members supporting it
	awaitingJoin   int
	newMemberAdded bool
	nextSeq        uint64

	joinTimer        Timer
	joinTok          uint64
	initialDelay     bool // the first rebalance of an empty group: joins do not end it early
	initialCur       time.Duration
	initialRemaining time.Duration
	syncTimer        Timer
	storing          bool // the leader's assignment is being stored

	offsets        map[topicPartition]*committed
	pendingCommits map[topicPartition]int
	// txnOffsets are the offsets of open transactions, by producer id:
	// invisible until the producer's transaction commits (see txn.go).
	txnOffsets map[int64]map[topicPartition]*committed
	txn        *txnIndex // of the group's partition

	// cg is set while the group uses the consumer protocol (KIP-848,
	// consumer.go); the classic fields above then stay empty.
	cg *consumerGroup
}

func newGroup(c *Coordinator, name string, sh *shard) *Group {
	return &Group{
		c:              c,
		name:           name,
		partition:      sh.partition,
		txn:            sh.txn,
		txnOffsets:     make(map[int64]map[topicPartition]*committed),
		state:          Empty,
		stateTime:      c.clock.Now(),
		stateTimeKnown: true,
		members:        make(map[string]*member),
		static:         make(map[string]string),
		pending:        make(map[string]*pendingMember),
		pendingSync:    make(map[string]bool),
		protoCount:     make(map[string]int),
		offsets:        make(map[topicPartition]*committed),
		pendingCommits: make(map[topicPartition]int),
	}
}

func (g *Group) now() time.Time { return g.c.clock.Now() }

func (g *Group) transition(s State) {
	g.state = s
	g.stateTime = g.now()
	g.stateTimeKnown = true
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func cloneStr(p *string) *string {
	if p == nil {
		return nil
	}
	s := *p
	return &s
}

func joinError(memberID string, err error) JoinResult {
	return JoinResult{Err: err, MemberID: memberID, Generation: -1}
}

// newMemberID is Kafka's member id: the client id (or, for a static member,
// the instance id), a dash and a random UUID.
func newMemberID(req *JoinRequest) string {
	prefix := req.ClientID
	if req.InstanceID != nil {
		prefix = *req.InstanceID
	}
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// sortedMembers lists the members in join order.
func (g *Group) sortedMembers() []*member {
	ms := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].seq < ms[j].seq })
	return ms
}

func (g *Group) firstMember() string {
	var best *member
	for _, m := range g.members {
		if best == nil || m.seq < best.seq {
			best = m
		}
	}
	if best == nil {
		return ""
	}
	return best.id
}

// rebalanceTimeout is the longest rebalance timeout of the members.
func (g *Group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

func (m *member) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// matches reports whether protocols are exactly the member's.
func (m *member) matches(protocols []Protocol) bool {
	if len(protocols) != len(m.protocols) {
		return false
	}
	for i, p := range protocols {
		if p.Name != m.protocols[i].Name || !bytes.Equal(p.Metadata, m.protocols[i].Metadata) {
			return false
		}
	}
	return true
}

func cloneProtocols(ps []Protocol) []Protocol {
	out := make([]Protocol, len(ps))
	for i, p := range ps {
		out[i] = Protocol{Name: p.Name, Metadata: slices.Clone(p.Metadata)}
	}
	return out
}

// supportCounts counts, per protocol name, the members that support it.
// It is kept as members come, go and change, so a join costs no walk over
// the members.
func (g *Group) supportCounts() map[string]int { return g.protoCount }

// countProtocols adds (delta 1) or removes (-1) a member's protocols from
// the support counts.
func (g *Group) countProtocols(m *member, delta int) {
	for i, p := range m.protocols {
		dup := false
		for _, q := range m.protocols[:i] {
			dup = dup || q.Name == p.Name
		}
		if dup {
			continue
		}
		if g.protoCount[p.Name] += delta; g.protoCount[p.Name] <= 0 {
			delete(g.protoCount, p.Name)
		}
	}
}

// setProtocols replaces a member's protocols, keeping the counts.
func (g *Group) setProtocols(m *member, ps []Protocol) {
	g.countProtocols(m, -1)
	m.protocols = ps
	g.countProtocols(m, 1)
}

// supportsProtocols reports whether a member with this protocol type and
// these protocols may join: an empty group takes any (non-empty) type and
// protocols; otherwise the type must match and one protocol must be
// supported by every member.
func (g *Group) supportsProtocols(protocolType string, protocols []Protocol) bool {
	if g.state == Empty {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	counts := g.supportCounts()
	for _, p := range protocols {
		if counts[p.Name] == len(g.members) {
			return true
		}
	}
	return false
}

// selectProtocol chooses the protocol of the next generation as Kafka does:
// among the protocols every member supports, each member votes for the one
// it prefers most, and the most votes win (ties: the earliest member's
// preference).
func (g *Group) selectProtocol() string {
	counts := g.supportCounts()
	n := len(g.members)
	votes := make(map[string]int)
	ms := g.sortedMembers()
	for _, m := range ms {
		for _, p := range m.protocols {
			if counts[p.Name] == n {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	if len(ms) > 0 {
		for _, p := range ms[0].protocols {
			if v, ok := votes[p.Name]; ok && v > bestVotes {
				best, bestVotes = p.Name, v
			}
		}
	}
	return best
}

// acceptJoining applies group.max.size as Kafka does: while preparing a
// rebalance, members already waiting and up to MaxSize waiting members are
// accepted; otherwise existing members and up to MaxSize members.
func (g *Group) acceptJoining(memberID string) bool {
	switch g.state {
	case Empty, Dead:
		return true
	case PreparingRebalance:
		if m := g.members[memberID]; m != nil && m.joinCh != nil {
			return true
		}
		return g.awaitingJoin < g.c.cfg.MaxSize
	default:
		return g.members[memberID] != nil || len(g.members) < g.c.cfg.MaxSize
	}
}

// validateMember checks that memberID is a member and, for a static
// member, that the instance id maps to it.
func (g *Group) validateMember(memberID string, instanceID *string) error {
	if instanceID != nil {
		cur, ok := g.static[*instanceID]
		switch {
		case !ok:
			return kerr.UnknownMemberID
		case cur != memberID:
			return kerr.FencedInstanceID
		}
		return nil
	}
	if g.members[memberID] == nil {
		return kerr.UnknownMemberID
	}
	return nil
}

// JoinGroup handles a JoinGroup. The answer comes on the channel: at once
// for errors and for members that need no rebalance, otherwise when the
// rebalance's join phase ends.
func (c *Coordinator) JoinGroup(req JoinRequest) <-chan JoinResult {
	ch := make(chan JoinResult, 1)
	if req.Group == "" {
		ch <- joinError(req.MemberID, kerr.InvalidGroupID)
		return ch
	}
	if req.SessionTimeout < c.cfg.MinSessionTimeout || req.SessionTimeout > c.cfg.MaxSessionTimeout {
		ch <- joinError(req.MemberID, kerr.InvalidSessionTimeout)
		return ch
	}
	if req.RebalanceTimeout <= 0 {
		req.RebalanceTimeout = req.SessionTimeout
	}
	g, err := c.lockGroup(req.Group, req.MemberID == "")
	if err != nil {
		ch <- joinError(req.MemberID, err)
		return ch
	}
	if g == nil {
		ch <- joinError(req.MemberID, kerr.UnknownMemberID)
		return ch
	}
	defer g.mu.Unlock()
	g.join(&req, ch)
	return ch
}

func (g *Group) join(req *JoinRequest, ch chan JoinResult) {
	if err := g.leaveConsumerToClassic(); err != nil {
		ch <- joinError(req.MemberID, err)
		return
	}
	if g.cg != nil {
		if g.c.cfg.MigrationPolicy == MigrationDisabled {
			ch <- joinError(req.MemberID, kerr.InconsistentGroupProtocol)
			return
		}
		g.classicJoin(req, ch)
		return
	}
	if !g.acceptJoining(req.MemberID) {
		if m := g.members[req.MemberID]; m != nil {
			g.removeMember(m, "the group is full")
		}
		ch <- joinError("", kerr.GroupMaxSizeReached)
		return
	}
	if req.MemberID == "" {
		g.joinNew(req, ch)
	} else {
		g.joinKnown(req, ch)
	}
	if g.state == PreparingRebalance {
		g.tryCompleteJoin()
	}
}

func (g *Group) joinNew(req *JoinRequest, ch chan JoinResult) {
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		ch <- joinError("", kerr.InconsistentGroupProtocol)
		return
	}
	id := newMemberID(req)
	switch {
	case req.InstanceID != nil:
		if old, ok := g.static[*req.InstanceID]; ok {
			g.replaceStatic(old, id, req, ch)
			return
		}
		g.addMember(id, req, ch)
	case req.RequireKnownMemberID:
		g.addPending(id, req.SessionTimeout)
		ch <- joinError(id, kerr.MemberIDRequired)
	default:
		g.addMember(id, req, ch)
	}
}

func (g *Group) joinKnown(req *JoinRequest, ch chan JoinResult) {
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		ch <- joinError(req.MemberID, kerr.InconsistentGroupProtocol)
		return
	}
	if _, ok := g.pending[req.MemberID]; ok {
		// The second join of KIP-394, with the id we handed out.
		g.addMember(req.MemberID, req, ch)
		return
	}
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		ch <- joinError(req.MemberID, err)
		return
	}
	m := g.members[req.MemberID]
	switch g.state {
	case PreparingRebalance:
		g.updateMember(m, req, ch)
	case CompletingRebalance:
		if m.matches(req.Protocols) {
			// Same metadata: the member probably missed its answer.
			g.scheduleSession(m, m.sessionTimeout)
			ch <- g.currentJoinResult(m, m.id == g.leader)
			return
		}
		g.updateMember(m, req, ch)
		g.prepareRebalance("member " + m.id + " changed its metadata")
	case Stable:
		if m.id == g.leader || !m.matches(req.Protocols) {
			// A joining leader forces a rebalance: that is how clients
			// react to changes the member metadata does not show
			// (new partitions, say).
			g.updateMember(m, req, ch)
			g.maybePrepareRebalance("member " + m.id + " rejoined")
			return
		}
		g.scheduleSession(m, m.sessionTimeout)
		ch <- g.currentJoinResult(m, false)
	default:
		ch <- joinError(req.MemberID, kerr.UnknownMemberID)
	}
}

// currentJoinResult is the answer for the current generation.
func (g *Group) currentJoinResult(m *member, withMembers bool) JoinResult {
	r := JoinResult{
		MemberID:     m.id,
		Generation:   g.generation,
		ProtocolType: strPtr(g.protocolType),
		Protocol:     strPtr(g.protocol),
		Leader:       g.leader,
	}
	if withMembers {
		ms := g.sortedMembers()
		r.Members = make([]JoinMember, len(ms))
		for i, x := range ms {
			r.Members[i] = JoinMember{MemberID: x.id, InstanceID: cloneStr(x.instanceID), Metadata: x.metadataFor(g.protocol)}
		}
	}
	return r
}

func (g *Group) addPending(id string, session time.Duration) {
	pm := &pendingMember{}
	pm.timer = g.c.clock.AfterFunc(session, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.state == Dead || g.pending[id] != pm {
			return
		}
		delete(g.pending, id)
		if g.state == PreparingRebalance {
			g.tryCompleteJoin()
		}
	})
	g.pending[id] = pm
}

func (g *Group) dropPending(id string) {
	if pm, ok := g.pending[id]; ok {
		pm.timer.Stop()
		delete(g.pending, id)
	}
}

func (g *Group) addMember(id string, req *JoinRequest, ch chan JoinResult) {
	m := &member{
		id:               id,
		instanceID:       cloneStr(req.InstanceID),
		clientID:         req.ClientID,
		clientHost:       req.ClientHost,
		sessionTimeout:   req.SessionTimeout,
		rebalanceTimeout: req.RebalanceTimeout,
		protocols:        cloneProtocols(req.Protocols),
		seq:              g.nextSeq,
		isNew:            true,
	}
	g.nextSeq++
	if g.state == PreparingRebalance && g.generation == 0 {
		g.newMemberAdded = true
	}
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}
	if g.leader == "" {
		g.leader = id
	}
	g.members[id] = m
	g.countProtocols(m, 1)
	if m.instanceID != nil {
		g.static[*m.instanceID] = id
	}
	m.joinCh = ch
	g.awaitingJoin++
	g.dropPending(id)
	// A new member cannot heartbeat until it has its first answer; it is
	// bounded by the new-member join timeout instead of its session.
	g.scheduleSession(m, g.c.cfg.NewMemberJoinTimeout)
	g.maybePrepareRebalance("member " + id + " joined")
}

// updateMember takes a known member's new join: its protocols and
// timeouts, and the channel to answer.
func (g *Group) updateMember(m *member, req *JoinRequest, ch chan JoinResult) {
	g.setProtocols(m, cloneProtocols(req.Protocols))
	m.sessionTimeout = req.SessionTimeout
	m.rebalanceTimeout = req.RebalanceTimeout
	if m.joinCh != nil {
		// A second JoinGroup from the same member: the first one is
		// abandoned.
		m.joinCh <- joinError(m.id, kerr.RebalanceInProgress)
	} else {
		g.awaitingJoin++
	}
	m.joinCh = ch
}

// replaceStatic gives a static member's instance a new member id: the old
// id is fenced. A Stable group whose protocol would not change keeps its
// assignment and does not rebalance (KIP-345).
func (g *Group) replaceStatic(oldID, newID string, req *JoinRequest, ch chan JoinResult) {
	currentLeader := g.leader
	m := g.members[oldID]
	g.replyJoin(m, joinError(oldID, kerr.FencedInstanceID))
	g.replySync(m, SyncResult{Err: kerr.FencedInstanceID})
	g.renameMember(m, newID)
	instance := *req.InstanceID

	oldProtocols, oldSession, oldRebalance := m.protocols, m.sessionTimeout, m.rebalanceTimeout
	g.scheduleSession(m, req.SessionTimeout)
	g.updateMember(m, req, ch)

	switch g.state {
	case Stable:
		if g.selectProtocol() != g.protocol {
			g.maybePrepareRebalance("static member " + newID + " changed its protocols")
			return
		}
		assignments := make(map[string][]byte, len(g.members))
		for _, x := range g.members {
			assignments[x.id] = x.assignment
		}
		wait, err := g.storeMetadata(assignments)
		g.afterAppend(wait, err, false, func(err error) {
			if g.state != Stable || m.joinCh != ch {
				return
			}
			if err != nil {
				// Not persisted: put the old member id back.
				g.setProtocols(m, oldProtocols)
				m.sessionTimeout, m.rebalanceTimeout = oldSession, oldRebalance
				if g.members[newID] == m && g.static[instance] == newID {
					g.renameMember(m, oldID)
				}
				g.scheduleSession(m, m.sessionTimeout)
				r := g.currentJoinResult(m, false)
				r.Err, r.MemberID, r.Leader = err, "", currentLeader
				g.replyJoin(m, r)
				return
			}
			isLeader := g.leader == m.id
			var r JoinResult
			if req.SupportsSkipAssignment {
				// The leader learns it leads, but must not assign:
				// the group is stable.
				r = g.currentJoinResult(m, isLeader)
				r.SkipAssignment = isLeader
			} else {
				// Older clients would assign if told they lead; the old
				// leader id keeps them from it.
				r = g.currentJoinResult(m, false)
				r.Leader = currentLeader
			}
			g.replyJoin(m, r)
		})
	case CompletingRebalance:
		// The leader may be assigning to the old id: start over.
		g.prepareRebalance("static member " + newID + " replaced " + oldID)
	}
}

// renameMember moves m to a new member id, with its leadership, instance
// mapping and pending sync.
func (g *Group) renameMember(m *member, newID string) {
	oldID := m.id
	delete(g.members, oldID)
	m.id = newID
	g.members[newID] = m
	if g.leader == oldID {
		g.leader = newID
	}
	if m.instanceID != nil {
		g.static[*m.instanceID] = newID
	}
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = true
	}
}

func (g *Group) replyJoin(m *member, r JoinResult) {
	if m.joinCh == nil {
		return
	}
	m.joinCh <- r
	m.joinCh = nil
	g.awaitingJoin--
}

func (g *Group) replySync(m *member, r SyncResult) {
	if m.syncCh == nil {
		return
	}
	m.syncCh <- r
	m.syncCh = nil
}

// dropMember removes a member without touching the group's state.
func (g *Group) dropMember(m *member) {
	g.replyJoin(m, joinError(m.id, kerr.UnknownMemberID))
	g.replySync(m, SyncResult{Err: kerr.UnknownMemberID})
	delete(g.members, m.id)
	g.countProtocols(m, -1)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	delete(g.pendingSync, m.id)
	g.stopSession(m)
	if g.leader == m.id {
		g.leader = g.firstMember()
	}
}

// removeMember removes a member that left or failed, and moves the group
// on: a stable or completing group rebalances; a preparing one may now be
// complete.
func (g *Group) removeMember(m *member, reason string) {
	g.c.logger.Info("removing group member", "group", g.name, "member", m.id, "reason", reason)
	g.dropMember(m)
	switch g.state {
	case Stable, CompletingRebalance:
		g.maybePrepareRebalance(reason)
	case PreparingRebalance:
		g.tryCompleteJoin()
	}
}

func (g *Group) maybePrepareRebalance(reason string) {
	switch g.state {
	case Stable, CompletingRebalance, Empty:
		g.prepareRebalance(reason)
	}
}

// prepareRebalance starts a rebalance: members must join again within the
// rebalance timeout. The first rebalance of an empty group waits
// InitialRebalanceDelay for more members, again while members keep coming
// (up to the rebalance timeout).
func (g *Group) prepareRebalance(reason string) {
	if g.state == CompletingRebalance {
		g.resetAssignments(kerr.RebalanceInProgress)
	}
	g.stopSyncTimer()
	clear(g.pendingSync)
	g.storing = false
	wasEmpty := g.state == Empty
	g.transition(PreparingRebalance)
	g.c.logger.Debug("preparing rebalance", "group", g.name, "generation", g.generation, "reason", reason)
	rt := g.rebalanceTimeout()
	if delay := g.c.cfg.InitialRebalanceDelay; wasEmpty && delay > 0 {
		g.initialDelay = true
		g.armJoin(delay, max(rt-delay, 0))
		return
	}
	g.initialDelay = false
	g.armJoin(rt, 0)
	g.tryCompleteJoin()
}

// armJoin (re)starts the timer that ends the join phase.
func (g *Group) armJoin(d, remaining time.Duration) {
	if g.joinTimer != nil {
		g.joinTimer.Stop()
	}
	g.joinTok++
	tok := g.joinTok
	g.initialCur, g.initialRemaining = d, remaining
	g.joinTimer = g.c.clock.AfterFunc(d, func() { g.onJoinTimer(tok) })
}

func (g *Group) stopJoinTimer() {
	if g.joinTimer != nil {
		g.joinTimer.Stop()
		g.joinTimer = nil
	}
	g.joinTok++
}

func (g *Group) onJoinTimer(tok uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if tok != g.joinTok || g.state != PreparingRebalance {
		return
	}
	g.joinTimer = nil
	if g.initialDelay && g.newMemberAdded && g.initialRemaining > 0 {
		g.newMemberAdded = false
		delay := min(g.c.cfg.InitialRebalanceDelay, g.initialRemaining)
		g.armJoin(delay, max(g.initialRemaining-g.initialCur, 0))
		return
	}
	g.completeJoin()
}

// tryCompleteJoin ends the join phase early once every member has joined
// and no handed-out member id is still expected.
func (g *Group) tryCompleteJoin() {
	if g.state != PreparingRebalance || g.initialDelay {
		return
	}
	if g.awaitingJoin == len(g.members) && len(g.pending) == 0 {
		g.stopJoinTimer()
		g.completeJoin()
	}
}

// completeJoin ends the join phase: dynamic members that did not join are
// removed, the generation advances, and every joined member gets its
// answer (the leader with every member's metadata).
func (g *Group) completeJoin() {
	g.initialDelay = false
	g.stopJoinTimer()
	for _, m := range g.sortedMembers() {
		if m.joinCh == nil && m.instanceID == nil {
			g.c.logger.Info("removing group member that did not rejoin", "group", g.name, "member", m.id)
			g.dropMember(m)
		}
	}
	if g.state == Dead {
		return
	}
	if !g.electJoinedLeader() && len(g.members) > 0 {
		// Only static members that did not rejoin are left: wait for
		// them, or for their sessions to end.
		g.armJoin(g.rebalanceTimeout(), 0)
		return
	}
	g.generation++
	clear(g.pendingSync)
	if len(g.members) == 0 {
		g.protocol = ""
		g.transition(Empty)
		g.c.logger.Info("group is empty", "group", g.name, "generation", g.generation)
		if _, err := g.storeMetadata(nil); err != nil {
			g.c.logger.Warn("write empty group metadata", "group", g.name, "err", err)
		}
		return
	}
	g.protocol = g.selectProtocol()
	g.transition(CompletingRebalance)
	g.c.logger.Info("group rebalanced", "group", g.name, "generation", g.generation,
		"members", len(g.members), "protocol", g.protocol, "leader", g.leader)
	for _, m := range g.sortedMembers() {
		g.replyJoin(m, g.currentJoinResult(m, m.id == g.leader))
		g.scheduleSession(m, m.sessionTimeout)
		m.isNew = false
		g.pendingSync[m.id] = true
	}
	g.armSync()
}

// electJoinedLeader keeps the leader if it joined, else picks a member that
// did; false when none did.
func (g *Group) electJoinedLeader() bool {
	if g.leader == "" {
		return false
	}
	if m := g.members[g.leader]; m != nil && m.joinCh != nil {
		return true
	}
	for _, m := range g.sortedMembers() {
		if m.joinCh != nil {
			g.leader = m.id
			return true
		}
	}
	return false
}

// armSync bounds the time members have to send SyncGroup after the join
// phase: those that do not are removed and the group rebalances.
func (g *Group) armSync() {
	g.stopSyncTimer()
	gen := g.generation
	g.syncTimer = g.c.clock.AfterFunc(g.rebalanceTimeout(), func() { g.onSyncTimer(gen) })
}

func (g *Group) stopSyncTimer() {
	if g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
}

func (g *Group) onSyncTimer(gen int32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gen != g.generation || (g.state != CompletingRebalance && g.state != Stable) || len(g.pendingSync) == 0 {
		return
	}
	for id := range g.pendingSync {
		if m := g.members[id]; m != nil {
			g.c.logger.Info("removing group member that did not sync", "group", g.name, "member", id)
			g.dropMember(m)
		}
	}
	clear(g.pendingSync)
	g.prepareRebalance("members did not sync in time")
}

// resetAssignments clears the assignments and answers every waiting
// SyncGroup with err.
func (g *Group) resetAssignments(err error) {
	for _, m := range g.members {
		m.assignment = nil
		g.replySync(m, SyncResult{Err: err})
	}
}

// SyncGroup handles a SyncGroup: the leader brings the assignment, the
// followers wait for it. The answer comes on the channel.
func (c *Coordinator) SyncGroup(req SyncRequest) <-chan SyncResult {
	ch := make(chan SyncResult, 1)
	if req.Group == "" {
		ch <- SyncResult{Err: kerr.InvalidGroupID}
		return ch
	}
	g, err := c.lockGroup(req.Group, false)
	if err != nil {
		ch <- SyncResult{Err: err}
		return ch
	}
	if g == nil {
		ch <- SyncResult{Err: kerr.UnknownMemberID}
		return ch
	}
	defer g.mu.Unlock()
	g.sync(&req, ch)
	return ch
}

func (g *Group) sync(req *SyncRequest, ch chan SyncResult) {
	if g.cg != nil {
		g.classicSync(req, ch)
		return
	}
	fail := func(err error) { ch <- SyncResult{Err: err} }
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		fail(err)
		return
	}
	if req.Generation != g.generation {
		fail(kerr.IllegalGeneration)
		return
	}
	if (req.ProtocolType != nil && *req.ProtocolType != g.protocolType) || (req.Protocol != nil && *req.Protocol != g.protocol) {
		fail(kerr.InconsistentGroupProtocol)
		return
	}
	m := g.members[req.MemberID]
	switch g.state {
	case Empty:
		fail(kerr.UnknownMemberID)
	case PreparingRebalance:
		fail(kerr.RebalanceInProgress)
	case CompletingRebalance:
		g.replySync(m, SyncResult{Err: kerr.RebalanceInProgress}) // an abandoned earlier SyncGroup
		m.syncCh = ch
		g.synced(m)
		if m.id == g.leader && !g.storing {
			g.storeAssignment(req.Assignments)
		}
	case Stable:
		// A follower whose SyncGroup comes after the leader's has synced
		// too: left pending, the sync timer would remove it.
		g.synced(m)
		g.scheduleSession(m, m.sessionTimeout)
		ch <- SyncResult{ProtocolType: strPtr(g.protocolType), Protocol: strPtr(g.protocol), Assignment: orEmpty(m.assignment)}
	}
}

// synced takes m off the members of this generation that have not synced,
// and stops the sync timer once none is left.
func (g *Group) synced(m *member) {
	delete(g.pendingSync, m.id)
	if len(g.pendingSync) == 0 {
		g.stopSyncTimer()
	}
}

func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// storeAssignment persists the leader's assignment; once it is stored,
// every waiting member gets its part and the group is Stable.
func (g *Group) storeAssignment(assignments []Assignment) {
	assign := make(map[string][]byte, len(g.members))
	for _, a := range assignments {
		if g.members[a.MemberID] != nil {
			assign[a.MemberID] = slices.Clone(a.Assignment)
		}
	}
	gen := g.generation
	g.storing = true
	wait, err := g.storeMetadata(assign)
	g.afterAppend(wait, err, false, func(err error) {
		if g.state != CompletingRebalance || g.generation != gen || !g.storing {
			return
		}
		g.storing = false
		if err != nil {
			g.c.logger.Warn("storing group assignment failed", "group", g.name, "generation", gen, "err", err)
			g.resetAssignments(err)
			g.maybePrepareRebalance("storing the assignment failed")
			return
		}
		for _, m := range g.members {
			m.assignment = orEmpty(assign[m.id])
		}
		for _, m := range g.sortedMembers() {
			if m.syncCh != nil {
				g.replySync(m, SyncResult{ProtocolType: strPtr(g.protocolType), Protocol: strPtr(g.protocol), Assignment: m.assignment})
				g.scheduleSession(m, m.sessionTimeout)
			}
		}
		g.transition(Stable)
	})
}

// storeMetadata appends the group's metadata record with these
// assignments.
func (g *Group) storeMetadata(assign map[string][]byte) (func(context.Context) error, error) {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	v.Protocol = strPtr(g.protocol)
	v.Leader = strPtr(g.leader)
	if g.state == Empty {
		v.Leader = nil
	}
	v.CurrentStateTimestamp = g.stateTime.UnixMilli()
	for _, m := range g.sortedMembers() {
		mv := kmsg.NewGroupMetadataValueMember()
		mv.MemberID = m.id
		mv.InstanceID = cloneStr(m.instanceID)
		mv.ClientID = m.clientID
		mv.ClientHost = m.clientHost
		mv.RebalanceTimeoutMillis = int32(m.rebalanceTimeout.Milliseconds())
		mv.SessionTimeoutMillis = int32(m.sessionTimeout.Milliseconds())
		mv.Subscription = orEmpty(m.metadataFor(g.protocol))
		mv.Assignment = orEmpty(assign[m.id])
		v.Members = append(v.Members, mv)
	}
	_, wait, err := g.c.store.Append(g.partition, []Record{{Key: groupKey(g.name), Value: v.AppendTo(nil)}})
	return wait, err
}

// afterAppend runs fn with the outcome of an append: at once when it is
// already acknowledged (or failed), else once the wait ends, in the
// background with the group locked again.
func (g *Group) afterAppend(wait func(context.Context) error, err error, commit bool, fn func(error)) {
	if err != nil {
		fn(appendError(err, commit))
		return
	}
	if wait == nil {
		fn(nil)
		return
	}
	g.c.goWait(func(ctx context.Context) {
		werr := wait(ctx)
		g.mu.Lock()
		defer g.mu.Unlock()
		fn(appendError(werr, commit))
	})
}

// Heartbeat handles a Heartbeat: it keeps the member's session and tells it
// whether a rebalance is in progress.
func (c *Coordinator) Heartbeat(req HeartbeatRequest) error {
	if req.Group == "" {
		return kerr.InvalidGroupID
	}
	g, err := c.lockGroup(req.Group, false)
	if err != nil {
		return err
	}
	if g == nil {
		return kerr.UnknownMemberID
	}
	defer g.mu.Unlock()
	if g.cg != nil {
		return g.classicHeartbeat(req)
	}
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		return err
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration
	}
	m := g.members[req.MemberID]
	switch g.state {
	case Empty:
		return kerr.UnknownMemberID
	case PreparingRebalance:
		g.scheduleSession(m, m.sessionTimeout)
		return kerr.RebalanceInProgress
	default:
		g.scheduleSession(m, m.sessionTimeout)
		return nil
	}
}

// LeaveGroup removes members (by member id, or by instance id with an
// empty member id). It returns a group error, or one error per member.
func (c *Coordinator) LeaveGroup(group string, members []LeaveMember) (error, []error) {
	if group == "" {
		return kerr.InvalidGroupID, nil
	}
	g, err := c.lockGroup(group, false)
	if err != nil {
		return err, nil
	}
	errs := make([]error, len(members))
	if g == nil {
		for i := range errs {
			errs[i] = kerr.UnknownMemberID
		}
		return nil, errs
	}
	defer g.mu.Unlock()
	for i, lm := range members {
		errs[i] = g.leave(lm)
	}
	return nil, errs
}

func (g *Group) leave(lm LeaveMember) error {
	if g.cg != nil {
		return g.classicLeave(lm)
	}
	reason := "left the group"
	if lm.Reason != "" {
		reason += ": " + lm.Reason
	}
	if lm.MemberID == "" {
		if lm.InstanceID == nil {
			return kerr.UnknownMemberID
		}
		id, ok := g.static[*lm.InstanceID]
		if !ok {
			return kerr.UnknownMemberID
		}
		g.removeMember(g.members[id], reason)
		return nil
	}
	if _, ok := g.pending[lm.MemberID]; ok {
		g.dropPending(lm.MemberID)
		if g.state == PreparingRebalance {
			g.tryCompleteJoin()
		}
		return nil
	}
	if err := g.validateMember(lm.MemberID, lm.InstanceID); err != nil {
		return err
	}
	g.removeMember(g.members[lm.MemberID], reason)
	return nil
}

// scheduleSession (re)starts a member's session: it expires after d
// without a heartbeat. The timer is re-armed lazily: a heartbeat only moves
// the deadline.
func (g *Group) scheduleSession(m *member, d time.Duration) {
	m.deadline = g.now().Add(d)
	if m.timer != nil && !m.timerAt.After(m.deadline) {
		return // fires first and re-arms for the new deadline
	}
	g.armSession(m, d)
}

func (g *Group) armSession(m *member, d time.Duration) {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.timerTok++
	tok := m.timerTok
	m.timerAt = g.now().Add(d)
	m.timer = g.c.clock.AfterFunc(d, func() { g.onSession(m, tok) })
}

func (g *Group) stopSession(m *member) {
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	m.timerTok++
}

func (g *Group) onSession(m *member, tok uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == Dead || g.members[m.id] != m || tok != m.timerTok {
		return
	}
	m.timer = nil
	now := g.now()
	if now.Before(m.deadline) {
		g.armSession(m, m.deadline.Sub(now))
		return
	}
	if !m.isNew && (m.joinCh != nil || m.syncCh != nil) {
		return // waiting in JoinGroup or SyncGroup counts as alive
	}
	g.removeMember(m, "session timed out")
}

// startSessions starts every member's session, for a group just loaded.
func (g *Group) startSessions() {
	if g.cg != nil {
		g.startConsumerSessions()
	}
	for _, m := range g.members {
		g.scheduleSession(m, m.sessionTimeout)
	}
}

// kill makes the group Dead: timers stop and waiting requests get err.
func (g *Group) kill(err error) {
	g.state = Dead
	g.stopJoinTimer()
	g.stopSyncTimer()
	for id, pm := range g.pending {
		pm.timer.Stop()
		delete(g.pending, id)
	}
	for _, m := range g.members {
		g.replyJoin(m, joinError(m.id, err))
		g.replySync(m, SyncResult{Err: err})
		g.stopSession(m)
	}
	if g.cg != nil {
		for _, m := range g.cg.members {
			g.stopConsumerTimer(m)
		}
	}
}

// restore rebuilds a group from its loaded records: Stable with its
// members, or Empty.
func (g *Group) restore(lg *loadedGroup) {
	for tp, e := range lg.offsets {
		g.offsets[tp] = e
	}
	for pid, pend := range lg.txnOffsets {
		g.txnOffsets[pid] = pend
	}
	if lg.consumer != nil {
		g.restoreConsumer(lg.consumer)
		return
	}
	meta := lg.meta
	if meta == nil {
		g.stateTimeKnown = false
		return
	}
	g.generation = meta.Generation
	g.protocolType = meta.ProtocolType
	if meta.Protocol != nil {
		g.protocol = *meta.Protocol
	}
	if meta.Leader != nil {
		g.leader = *meta.Leader
	}
	if meta.Version >= 2 && meta.CurrentStateTimestamp >= 0 {
		g.stateTime = time.UnixMilli(meta.CurrentStateTimestamp)
	} else {
		g.stateTimeKnown = false
	}
	for _, mm := range meta.Members {
		m := &member{
			id:             mm.MemberID,
			instanceID:     cloneStr(mm.InstanceID),
			clientID:       mm.ClientID,
			clientHost:     mm.ClientHost,
			sessionTimeout: time.Duration(mm.SessionTimeoutMillis) * time.Millisecond,
			protocols:      []Protocol{{Name: g.protocol, Metadata: mm.Subscription}},
			assignment:     mm.Assignment,
			seq:            g.nextSeq,
		}
		m.rebalanceTimeout = m.sessionTimeout
		if meta.Version >= 1 && mm.RebalanceTimeoutMillis > 0 {
			m.rebalanceTimeout = time.Duration(mm.RebalanceTimeoutMillis) * time.Millisecond
		}
		g.nextSeq++
		g.members[m.id] = m
		g.countProtocols(m, 1)
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
	}
	if len(g.members) > 0 {
		g.state = Stable
	}
	if g.members[g.leader] == nil {
		g.leader = g.firstMember()
	}
}

// listing is the group as ListGroups shows it.
func (g *Group) listing() GroupListing {
	if g.cg != nil {
		return GroupListing{Group: g.name, ProtocolType: "consumer", State: g.cg.state(), Type: "consumer"}
	}
	return GroupListing{Group: g.name, ProtocolType: g.protocolType, State: g.state.String(), Type: "classic"}
}

// describe summarizes the group for DescribeGroups: metadata and
// assignments only when it is Stable, as Kafka does.
func (g *Group) describe() GroupDescription {
	d := GroupDescription{Group: g.name, State: g.state.String(), ProtocolType: g.protocolType}
	stable := g.state == Stable
	if stable {
		d.Protocol = g.protocol
	}
	for _, m := range g.sortedMembers() {
		md := MemberDescription{
			MemberID:   m.id,
			InstanceID: cloneStr(m.instanceID),
			ClientID:   m.clientID,
			ClientHost: m.clientHost,
			Metadata:   []byte{},
			Assignment: []byte{},
		}
		if stable {
			md.Metadata = orEmpty(m.metadataFor(g.protocol))
			md.Assignment = orEmpty(m.assignment)
		}
		d.Members = append(d.Members, md)
	}
	return d
}
