package group

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/metadata"
)

// The consumer group protocol of KIP-848. The coordinator owns the
// assignment: members send one ConsumerGroupHeartbeat with their
// subscription and the partitions they own, and get back their member
// epoch and the partitions they may consume.
//
// Epochs. The group epoch moves whenever the group's membership,
// subscriptions or the metadata of its subscribed topics change. When it is
// ahead of the target assignment's epoch, the coordinator runs the group's
// server-side assignor to compute a new target for every member. Each
// member then moves towards its target on its own heartbeats, through
// Kafka's states:
//
//	STABLE ──target moved──> UNREVOKED_PARTITIONS: keeps only the
//	  ^                        partitions it keeps, waits until it reports
//	  │                        having revoked the others (or is fenced
//	  │                        after its rebalance timeout)
//	  │                                 │ revoked
//	  │                                 v
//	  └──all given── UNRELEASED_PARTITIONS: has its target epoch and the
//	                   partitions free now; waits for the rest to be
//	                   revoked by their previous owners
//
// A partition is given to a member only once no other member holds it
// (assigned or pending revocation), so no partition is ever consumed by two
// members at once, and partitions that do not move are never paused.
//
// Persistence. The group's whole state (epochs, members, target) is one
// record of __consumer_offsets in Sluice's own versioned encoding
// (consumer_records.go): kmsg has no KIP-848 record types. Each change
// appends a new snapshot under the group's key, and answers wait until it
// is durable; compaction keeps the last. A coordinator that takes the
// partition over loads it with the offsets.

// Member epochs of a leave (KIP-848).
const (
	leaveEpoch       int32 = -1 // leaves the group
	staticLeaveEpoch int32 = -2 // a static member leaves for now, keeping its partitions
)

// memberState is a consumer-protocol member's reconciliation state.
type memberState int8

const (
	memberStable     memberState = iota // has its target assignment
	memberUnrevoked                     // must revoke partitions before it moves on
	memberUnreleased                    // has its target epoch; waits for partitions others hold
)

func (s memberState) String() string {
	switch s {
	case memberStable:
		return "stable"
	case memberUnrevoked:
		return "unrevoked_partitions"
	case memberUnreleased:
		return "unreleased_partitions"
	}
	return fmt.Sprintf("memberState(%d)", int8(s))
}

// cmember is one member of a consumer-protocol group.
type cmember struct {
	id               string
	instanceID       *string
	rackID           *string
	clientID         string
	clientHost       string
	epoch, prevEpoch int32
	state            memberState
	rebalanceTimeout time.Duration
	topicNames       []string // sorted
	regex            *string
	assignor         string // the server assignor it asked for; "" for the default
	assigned         assignment
	revoking         assignment

	// A classic member (consumer_classic.go) joined with JoinGroup: it has
	// its own session timeout and its protocols.
	classic        bool
	sessionTimeout time.Duration
	protocols      []Protocol

	sessionDeadline time.Time
	revokeDeadline  time.Time // set while unrevoked
	timer           Timer
	timerAt         time.Time
	timerTok        uint64
}

// consumerGroup is the consumer-protocol state of a Group (Group.cg).
type consumerGroup struct {
	epoch           int32
	assignmentEpoch int32
	assignor        string // of the current target
	members         map[string]*cmember
	static          map[string]string // instance id -> member id
	target          map[string]assignment
	owners          map[topicPart]string // who holds a partition: assigned or revoking
	subsSig         string               // the subscribed topics' metadata at the last epoch bump

	regexes map[string]*regexp.Regexp
}

func newConsumerGroup() *consumerGroup {
	return &consumerGroup{
		members: make(map[string]*cmember),
		static:  make(map[string]string),
		target:  make(map[string]assignment),
		owners:  make(map[topicPart]string),
		regexes: make(map[string]*regexp.Regexp),
	}
}

// TopicIDPartitions are partitions of one topic, named by ID (and by name
// where the answer has a name).
type TopicIDPartitions struct {
	TopicID    [16]byte
	Topic      string
	Partitions []int32
}

// ConsumerHeartbeatRequest is a ConsumerGroupHeartbeat. Pointer and slice
// fields are nil when the member left them out as unchanged.
type ConsumerHeartbeatRequest struct {
	Version              int16
	Group                string
	MemberID             string
	MemberEpoch          int32
	InstanceID           *string
	RackID               *string
	RebalanceTimeout     time.Duration // < 0: unchanged
	SubscribedTopicNames []string
	SubscribedTopicRegex *string
	ServerAssignor       *string
	Owned                []TopicIDPartitions // nil: unchanged
	ClientID, ClientHost string
}

// ConsumerHeartbeatResult answers a ConsumerGroupHeartbeat. Assignment is
// set (possibly empty) when the answer carries one.
type ConsumerHeartbeatResult struct {
	Err               error
	ErrMessage        string
	MemberID          string
	MemberEpoch       int32
	HeartbeatInterval time.Duration
	Assignment        *[]TopicIDPartitions
}

// heartbeatError is an error with Kafka's message for it.
type heartbeatError struct {
	err error
	msg string
}

func (e *heartbeatError) Error() string { return e.msg }
func (e *heartbeatError) Unwrap() error { return e.err }

func hbErr(err error, format string, args ...any) error {
	return &heartbeatError{err: err, msg: fmt.Sprintf(format, args...)}
}

func heartbeatFail(err error) ConsumerHeartbeatResult {
	r := ConsumerHeartbeatResult{Err: err}
	var he *heartbeatError
	if errors.As(err, &he) {
		r.Err, r.ErrMessage = he.err, he.msg
	}
	return r
}

// validateHeartbeat checks a request as Kafka does before it looks at the
// group (INVALID_REQUEST, UNSUPPORTED_ASSIGNOR, INVALID_REGULAR_EXPRESSION).
func (c *Coordinator) validateHeartbeat(req *ConsumerHeartbeatRequest) error {
	bad := func(msg string) error { return hbErr(kerr.InvalidRequest, "%s", msg) }
	switch {
	case req.Group == "":
		return bad("GroupId can't be empty.")
	case req.InstanceID != nil && *req.InstanceID == "":
		return bad("InstanceId can't be empty.")
	case req.RackID != nil && *req.RackID == "":
		return bad("RackId can't be empty.")
	case req.MemberEpoch < staticLeaveEpoch:
		return bad("MemberEpoch is invalid.")
	case req.MemberEpoch == staticLeaveEpoch && req.InstanceID == nil:
		return bad("InstanceId can't be null.")
	}
	if req.MemberID == "" && (req.MemberEpoch != 0 || req.Version >= 1) {
		return bad("MemberId can't be empty.")
	}
	if req.MemberEpoch == 0 {
		if req.RebalanceTimeout < 0 {
			return bad("RebalanceTimeoutMs must be provided in first request.")
		}
		if len(req.Owned) > 0 {
			return bad("TopicPartitions must be empty when (re-)joining.")
		}
		if req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil {
			return bad("SubscribedTopicNames or SubscribedTopicRegex must be set in first request.")
		}
	}
	if req.ServerAssignor != nil && !slices.Contains(c.cfg.ConsumerAssignors, *req.ServerAssignor) {
		return hbErr(kerr.UnsupportedAssignor, "ServerAssignor %s is not supported. Supported assignors: %s.",
			*req.ServerAssignor, strings.Join(c.cfg.ConsumerAssignors, ", "))
	}
	if req.SubscribedTopicRegex != nil {
		if *req.SubscribedTopicRegex == "" {
			return bad("SubscribedTopicRegex must not be empty.")
		}
		if _, err := regexp.Compile(*req.SubscribedTopicRegex); err != nil {
			return hbErr(kerr.InvalidRegularExpression, "SubscribedTopicRegex `%s` is not a valid regular expression: %v.", *req.SubscribedTopicRegex, err)
		}
	}
	return nil
}

// ServesConsumerProtocol reports whether the consumer protocol is on
// (group.coordinator.rebalance.protocols lists "consumer").
func (c *Coordinator) ServesConsumerProtocol() bool { return c.cfg.ConsumerProtocol }

// ConsumerGroupHeartbeat handles a ConsumerGroupHeartbeat: joins, leaves,
// and the member's progress towards its target assignment. The answer comes
// on the channel once the group's new state is durable.
func (c *Coordinator) ConsumerGroupHeartbeat(req ConsumerHeartbeatRequest) <-chan ConsumerHeartbeatResult {
	ch := make(chan ConsumerHeartbeatResult, 1)
	if !c.cfg.ConsumerProtocol {
		ch <- heartbeatFail(kerr.UnsupportedVersion)
		return ch
	}
	if err := c.validateHeartbeat(&req); err != nil {
		ch <- heartbeatFail(err)
		return ch
	}
	g, err := c.lockGroup(req.Group, req.MemberEpoch == 0)
	if err != nil {
		ch <- heartbeatFail(err)
		return ch
	}
	if g == nil {
		if req.MemberEpoch < 0 {
			ch <- heartbeatFail(kerr.UnknownMemberID)
		} else {
			ch <- heartbeatFail(hbErr(kerr.GroupIDNotFound, "Group %s not found.", req.Group))
		}
		return ch
	}
	defer g.mu.Unlock()
	g.consumerHeartbeat(&req, ch)
	return ch
}

// asConsumerGroup makes g a consumer-protocol group if it is not one: an
// empty classic group (or one that only holds offsets) is converted with
// its offsets, as Kafka converts it; a classic group with members is not.
func (g *Group) asConsumerGroup(create bool) (*consumerGroup, []Record, error) {
	if g.cg != nil {
		return g.cg, nil, nil
	}
	if len(g.members) > 0 || len(g.pending) > 0 {
		if create && g.upgradeClassic() {
			return g.cg, []Record{{Key: groupKey(g.name)}}, nil
		}
		return nil, nil, hbErr(kerr.GroupIDNotFound, "Group %s is not a consumer group.", g.name)
	}
	if !create {
		return nil, nil, kerr.UnknownMemberID
	}
	var recs []Record
	if g.protocolType != "" || g.generation > 0 {
		// The classic group's metadata goes: a reload must not bring it
		// back beside the consumer group.
		recs = append(recs, Record{Key: groupKey(g.name)})
	}
	g.cg = newConsumerGroup()
	g.protocolType = "consumer"
	g.protocol, g.leader, g.generation = "", "", 0
	return g.cg, recs, nil
}

func (g *Group) consumerHeartbeat(req *ConsumerHeartbeatRequest, ch chan ConsumerHeartbeatResult) {
	cg, recs, err := g.asConsumerGroup(req.MemberEpoch == 0)
	if err != nil {
		ch <- heartbeatFail(err)
		return
	}
	dirty := len(recs) > 0
	img := g.c.image()
	if req.MemberEpoch == leaveEpoch || req.MemberEpoch == staticLeaveEpoch {
		res, changed, err := g.consumerLeave(req)
		if err != nil {
			ch <- heartbeatFail(err)
			return
		}
		if req.MemberEpoch == leaveEpoch {
			if down := g.maybeDowngrade(); down != nil {
				g.persistConsumer(append(recs, down...), false, res, ch)
				return
			}
		}
		g.persistConsumer(recs, dirty || changed, res, ch)
		return
	}

	m, joined, err := g.consumerMember(req)
	if err != nil {
		ch <- heartbeatFail(err)
		return
	}
	dirty = dirty || joined
	bump := joined
	if g.updateConsumerMember(m, req) {
		bump, dirty = true, true
	}
	if sig := cg.subscriptionSignature(img); sig != cg.subsSig {
		cg.subsSig = sig
		bump, dirty = true, true
	}
	if bump {
		cg.epoch++
	}
	if cg.assignmentEpoch < cg.epoch {
		g.computeTarget(img)
		dirty = true
	}
	before := m.assigned.clone()
	beforeEpoch, beforeState := m.epoch, m.state
	g.reconcile(m, req.Owned)
	changed := m.epoch != beforeEpoch || m.state != beforeState || !m.assigned.equal(before)
	dirty = dirty || changed

	m.sessionDeadline = g.now().Add(g.sessionFor(m))
	g.armConsumer(m)
	g.syncState()

	res := ConsumerHeartbeatResult{
		MemberID:          m.id,
		MemberEpoch:       m.epoch,
		HeartbeatInterval: g.c.cfg.ConsumerHeartbeatInterval,
	}
	full := req.RebalanceTimeout >= 0 && (req.SubscribedTopicNames != nil || req.SubscribedTopicRegex != nil) && req.Owned != nil
	if req.MemberEpoch == 0 || full || !m.assigned.equal(before) {
		a := toTopicIDPartitions(m.assigned, nil)
		res.Assignment = &a
	}
	g.persistConsumer(recs, dirty, res, ch)
}

// persistConsumer appends recs and, when dirty, the group's snapshot, and
// answers res once they are durable.
func (g *Group) persistConsumer(recs []Record, dirty bool, res ConsumerHeartbeatResult, ch chan ConsumerHeartbeatResult) {
	if dirty {
		recs = append(recs, g.consumerRecord())
	}
	if len(recs) == 0 {
		ch <- res
		return
	}
	_, wait, err := g.c.store.Append(g.partition, recs)
	g.afterAppend(wait, err, false, func(err error) {
		if err != nil {
			// The state stays as decided in memory; the next snapshot
			// that lands carries it whole.
			ch <- heartbeatFail(err)
			return
		}
		ch <- res
	})
}

// consumerMember finds the request's member, or makes it when it joins.
// joined reports a new member (or a static member that replaced another).
func (g *Group) consumerMember(req *ConsumerHeartbeatRequest) (m *cmember, joined bool, err error) {
	cg := g.cg
	id := req.MemberID
	if id == "" {
		// ConsumerGroupHeartbeat v0: the coordinator names the member.
		id = newMemberID(&JoinRequest{})[1:]
	}
	existing := cg.members[id]
	if existing == nil && len(cg.members) >= g.c.cfg.ConsumerMaxSize {
		return nil, false, hbErr(kerr.GroupMaxSizeReached, "The consumer group has reached its maximum capacity of %d members.", g.c.cfg.ConsumerMaxSize)
	}
	if req.InstanceID != nil {
		return g.staticConsumerMember(id, req)
	}
	if req.MemberEpoch == 0 {
		if existing != nil {
			// A member rejoining with its id (after it was fenced, or
			// lost a response) has let go of all it owned: it starts
			// afresh, as a new member.
			g.removeConsumerMember(existing)
		}
		m = g.newConsumerMember(id, req)
		return m, true, nil
	}
	if existing == nil {
		return nil, false, hbErr(kerr.UnknownMemberID, "Member %s is not a member of group %s.", id, g.name)
	}
	if err := checkMemberEpoch(existing, req.MemberEpoch, req.Owned); err != nil {
		return nil, false, err
	}
	return existing, false, nil
}

func (g *Group) staticConsumerMember(id string, req *ConsumerHeartbeatRequest) (*cmember, bool, error) {
	cg := g.cg
	inst := *req.InstanceID
	prevID, known := cg.static[inst]
	prev := cg.members[prevID]
	if req.MemberEpoch != 0 {
		switch {
		case !known || prev == nil:
			return nil, false, hbErr(kerr.UnknownMemberID, "Instance id %s is unknown.", inst)
		case prevID != id:
			return nil, false, hbErr(kerr.FencedInstanceID, "Static member %s with instance id %s was fenced by member %s.", id, inst, prevID)
		}
		if err := checkMemberEpoch(prev, req.MemberEpoch, req.Owned); err != nil {
			return nil, false, err
		}
		return prev, false, nil
	}
	switch {
	case prev == nil:
		return g.newConsumerMember(id, req), true, nil
	case prevID == id:
		g.removeConsumerMember(prev)
		return g.newConsumerMember(id, req), true, nil
	case prev.epoch != staticLeaveEpoch:
		return nil, false, hbErr(kerr.UnreleasedInstanceID, "Static member %s with instance id %s cannot join the group because the instance id is owned by %s member.", id, inst, prevID)
	}
	// The static member comes back (as a new process): it takes the
	// place of its previous incarnation, with its epoch and partitions,
	// so the group does not rebalance.
	m := g.newConsumerMember(id, req)
	m.epoch, m.prevEpoch, m.state = prev.prevEpoch, prev.prevEpoch, prev.state
	m.assigned, m.revoking = prev.assigned.clone(), prev.revoking.clone()
	m.topicNames, m.regex, m.assignor = prev.topicNames, prev.regex, prev.assignor
	m.rackID, m.rebalanceTimeout = prev.rackID, prev.rebalanceTimeout
	g.stopConsumerTimer(prev)
	delete(cg.members, prev.id)
	cg.target[id] = cg.target[prev.id]
	delete(cg.target, prev.id)
	for tp, owner := range cg.owners {
		if owner == prev.id {
			cg.owners[tp] = id
		}
	}
	cg.static[inst] = id
	return m, false, nil
}

// checkMemberEpoch refuses a member epoch the coordinator does not know:
// ahead of it, or behind it unless it is the previous epoch and the
// member owns no more than it is assigned (its answer was lost).
func checkMemberEpoch(m *cmember, epoch int32, owned []TopicIDPartitions) error {
	if epoch > m.epoch || (epoch < m.epoch && (epoch != m.prevEpoch || !ownsOnlyFrom(owned, m.assigned))) {
		return hbErr(kerr.FencedMemberEpoch, "The consumer group member has a member epoch (%d) other than the one known by the group coordinator (%d). The member must abandon all its partitions and rejoin.", epoch, m.epoch)
	}
	return nil
}

// ownsOnlyFrom reports whether owned is known and a subset of a.
func ownsOnlyFrom(owned []TopicIDPartitions, a assignment) bool {
	if owned == nil {
		return false
	}
	for _, t := range owned {
		for _, p := range t.Partitions {
			if !a.has(t.TopicID, p) {
				return false
			}
		}
	}
	return true
}

func (g *Group) newConsumerMember(id string, req *ConsumerHeartbeatRequest) *cmember {
	m := &cmember{
		id:         id,
		instanceID: cloneStr(req.InstanceID),
		assigned:   make(assignment),
		revoking:   make(assignment),
	}
	g.cg.members[id] = m
	if m.instanceID != nil {
		g.cg.static[*m.instanceID] = id
	}
	g.c.logger.Info("member joins the consumer group", "group", g.name, "member", id, "instance", req.InstanceID)
	return m
}

// updateConsumerMember takes the request's changed fields into m. It reports
// whether the group's epoch must move (subscription or assignor changed).
func (g *Group) updateConsumerMember(m *cmember, req *ConsumerHeartbeatRequest) bool {
	changed := false
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	if req.RackID != nil {
		m.rackID = cloneStr(req.RackID)
	}
	if req.RebalanceTimeout >= 0 {
		m.rebalanceTimeout = req.RebalanceTimeout
	}
	if req.SubscribedTopicNames != nil {
		names := slices.Clone(req.SubscribedTopicNames)
		sort.Strings(names)
		names = slices.Compact(names)
		if !slices.Equal(names, m.topicNames) {
			m.topicNames, changed = names, true
		}
	}
	if req.SubscribedTopicRegex != nil && (m.regex == nil || *m.regex != *req.SubscribedTopicRegex) {
		m.regex, changed = cloneStr(req.SubscribedTopicRegex), true
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != m.assignor {
		m.assignor, changed = *req.ServerAssignor, true
	}
	return changed
}

// consumerLeave handles epochs -1 (leave) and -2 (a static member leaves
// for now, keeping its partitions for its session timeout).
func (g *Group) consumerLeave(req *ConsumerHeartbeatRequest) (ConsumerHeartbeatResult, bool, error) {
	cg := g.cg
	var m *cmember
	if req.InstanceID != nil {
		id, ok := cg.static[*req.InstanceID]
		if ok {
			m = cg.members[id]
		}
		if m != nil && m.id != req.MemberID {
			return ConsumerHeartbeatResult{}, false, hbErr(kerr.FencedInstanceID, "Static member %s with instance id %s was fenced by member %s.", req.MemberID, *req.InstanceID, m.id)
		}
	} else {
		m = cg.members[req.MemberID]
	}
	if m == nil {
		return ConsumerHeartbeatResult{}, false, hbErr(kerr.UnknownMemberID, "Member %s is not a member of group %s.", req.MemberID, g.name)
	}
	res := ConsumerHeartbeatResult{MemberID: m.id, MemberEpoch: req.MemberEpoch}
	if req.MemberEpoch == staticLeaveEpoch {
		// The member keeps its place and partitions until its session
		// ends; a new incarnation with the same instance id takes them.
		if m.epoch != staticLeaveEpoch {
			m.prevEpoch = m.epoch
		}
		m.epoch = staticLeaveEpoch
		m.revokeDeadline = time.Time{}
		m.sessionDeadline = g.now().Add(g.c.cfg.ConsumerSessionTimeout)
		g.armConsumer(m)
		g.syncState()
		return res, true, nil
	}
	g.removeConsumerMember(m)
	g.cg.epoch++
	g.syncState()
	g.c.logger.Info("member leaves the consumer group", "group", g.name, "member", m.id)
	return res, true, nil
}

// removeConsumerMember drops m and frees what it held.
func (g *Group) removeConsumerMember(m *cmember) {
	cg := g.cg
	g.stopConsumerTimer(m)
	delete(cg.members, m.id)
	if m.instanceID != nil && cg.static[*m.instanceID] == m.id {
		delete(cg.static, *m.instanceID)
	}
	delete(cg.target, m.id)
	for tp, owner := range cg.owners {
		if owner == m.id {
			delete(cg.owners, tp)
		}
	}
}

// fenceConsumerMember removes a member the coordinator gave up on (session
// or rebalance timeout) and persists the change.
func (g *Group) fenceConsumerMember(m *cmember, why string) {
	g.c.logger.Info("consumer group member fenced", "group", g.name, "member", m.id, "reason", why)
	g.removeConsumerMember(m)
	g.cg.epoch++
	g.syncState()
	recs := []Record{g.consumerRecord()}
	recs = append(recs, g.maybeDowngrade()...)
	if _, _, err := g.c.store.Append(g.partition, recs); err != nil {
		g.c.logger.Warn("persisting a fenced member", "group", g.name, "err", err)
	}
}

// syncState keeps the Group's classic fields in step: Stable while the
// consumer group has members, Empty (since now) without, so offset
// retention and DeleteGroups treat it as Kafka does.
func (g *Group) syncState() {
	want := Empty
	if len(g.cg.members) > 0 {
		want = Stable
	}
	if g.state != want {
		g.transition(want)
		g.stateTimeKnown = true
	}
}

// image is the latest metadata image the coordinator was given.
func (c *Coordinator) image() *metadata.Image {
	if img := c.img.Load(); img != nil {
		return img
	}
	return &metadata.Image{}
}

// resolve returns the topics m subscribes to that exist, by name.
func (cg *consumerGroup) resolve(m *cmember, img *metadata.Image) []*metadata.Topic {
	var out []*metadata.Topic
	seen := make(map[string]bool)
	for _, name := range m.topicNames {
		if t := img.Topics[name]; t != nil && !seen[name] {
			seen[name] = true
			out = append(out, t)
		}
	}
	if m.regex != nil {
		re := cg.regexes[*m.regex]
		if re == nil {
			// Kafka matches the whole name (RE2J's matches()).
			re = regexp.MustCompile("^(?:" + *m.regex + ")$") // validated on arrival
			cg.regexes[*m.regex] = re
		}
		for name, t := range img.Topics {
			if !seen[name] && re.MatchString(name) {
				seen[name] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// subscriptionSignature describes the subscribed topics as the assignor
// sees them: a change (a topic created, deleted or grown) moves the epoch.
func (cg *consumerGroup) subscriptionSignature(img *metadata.Image) string {
	topics := make(map[string]*metadata.Topic)
	for _, m := range cg.members {
		for _, t := range cg.resolve(m, img) {
			topics[t.Name] = t
		}
	}
	names := make([]string, 0, len(topics))
	for n := range topics {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		t := topics[n]
		fmt.Fprintf(&b, "%s/%x/%d;", n, t.ID, len(t.Partitions))
	}
	return b.String()
}

// chooseAssignor is the assignor most members ask for, else the default
// (the first of group.consumer.assignors).
func (g *Group) chooseAssignor() string {
	votes := make(map[string]int)
	for _, m := range g.cg.members {
		if m.assignor != "" {
			votes[m.assignor]++
		}
	}
	best := ""
	for _, name := range g.c.cfg.ConsumerAssignors {
		if votes[name] > votes[best] || best == "" && votes[name] > 0 {
			best = name
		}
	}
	if best == "" {
		best = g.c.cfg.ConsumerAssignors[0]
	}
	return best
}

// computeTarget runs the assignor for the group epoch.
func (g *Group) computeTarget(img *metadata.Image) {
	cg := g.cg
	partitions := make(map[[16]byte]int32)
	members := make([]assignorMember, 0, len(cg.members))
	for _, m := range cg.members {
		am := assignorMember{id: m.id, topics: make(map[[16]byte]bool)}
		for _, t := range cg.resolve(m, img) {
			am.topics[t.ID] = true
			partitions[t.ID] = int32(len(t.Partitions))
		}
		members = append(members, am)
	}
	cg.assignor = g.chooseAssignor()
	cg.target = assignTarget(cg.assignor, members, partitions, cg.target)
	cg.assignmentEpoch = cg.epoch
}

// reconcile moves m towards its target assignment, as Kafka's
// CurrentAssignmentBuilder does. owned is what the member reported owning
// (nil: not reported).
func (g *Group) reconcile(m *cmember, owned []TopicIDPartitions) {
	cg := g.cg
	switch m.state {
	case memberStable:
		if m.epoch == cg.assignmentEpoch {
			return
		}
		g.nextAssignment(m, m.epoch, owned)
	case memberUnrevoked:
		if stillOwnsAny(owned, m.revoking) {
			return
		}
		g.nextAssignment(m, m.epoch+1, owned)
	case memberUnreleased:
		g.nextAssignment(m, m.epoch, owned)
	}
}

// stillOwnsAny reports whether the member may still own some of revoking:
// true when it did not report what it owns.
func stillOwnsAny(owned []TopicIDPartitions, revoking assignment) bool {
	if owned == nil {
		return true
	}
	for _, t := range owned {
		for _, p := range t.Partitions {
			if revoking.has(t.TopicID, p) {
				return true
			}
		}
	}
	return false
}

func (g *Group) nextAssignment(m *cmember, epoch int32, owned []TopicIDPartitions) {
	cg := g.cg
	target := cg.target[m.id]
	keep := make(assignment)
	revoke := make(assignment)
	add := make(assignment)
	unreleased := false
	for t, ps := range m.assigned {
		for _, p := range ps {
			if target.has(t, p) {
				keep.add(t, p)
			} else {
				revoke.add(t, p)
			}
		}
	}
	for t, ps := range target {
		for _, p := range ps {
			if keep.has(t, p) {
				continue
			}
			if owner, held := cg.owners[topicPart{t, p}]; held && owner != m.id {
				unreleased = true
				continue
			}
			add.add(t, p)
		}
	}
	switch {
	case revoke.count() > 0 && stillOwnsAny(owned, revoke):
		// A member that reports owning none of them has let go already.
		// Revoke first, in the current epoch; nothing new is given
		// until the member has let go.
		m.revoking = revoke
		m.state = memberUnrevoked
		m.assigned = keep
		g.setOwned(m, keep, revoke)
		if m.revokeDeadline.IsZero() {
			m.revokeDeadline = g.now().Add(m.rebalanceTimeout)
		}
		if epoch != m.epoch {
			m.prevEpoch, m.epoch = m.epoch, epoch
		}
		return
	default:
		for t, ps := range add {
			for _, p := range ps {
				keep.add(t, p)
			}
		}
		m.assigned = keep
		m.revoking = make(assignment)
		m.revokeDeadline = time.Time{}
		m.state = memberStable
		if unreleased {
			m.state = memberUnreleased
		}
		if m.epoch != cg.assignmentEpoch {
			m.prevEpoch, m.epoch = m.epoch, cg.assignmentEpoch
		}
		g.setOwned(m, keep, nil)
	}
}

// setOwned records m as the holder of assigned and revoking, and of
// nothing else.
func (g *Group) setOwned(m *cmember, assigned, revoking assignment) {
	cg := g.cg
	for tp, owner := range cg.owners {
		if owner == m.id && !assigned.has(tp.topic, tp.partition) && !revoking.has(tp.topic, tp.partition) {
			delete(cg.owners, tp)
		}
	}
	for _, a := range []assignment{assigned, revoking} {
		for t, ps := range a {
			for _, p := range ps {
				cg.owners[topicPart{t, p}] = m.id
			}
		}
	}
}

// armConsumer (re)arms m's timer for its next deadline: the end of its
// session, or of its time to revoke.
func (g *Group) armConsumer(m *cmember) {
	at := m.sessionDeadline
	if !m.revokeDeadline.IsZero() && m.revokeDeadline.Before(at) {
		at = m.revokeDeadline
	}
	if m.timer != nil && !m.timerAt.After(at) {
		return // fires first and re-arms
	}
	if m.timer != nil {
		m.timer.Stop()
	}
	m.timerTok++
	tok := m.timerTok
	m.timerAt = at
	m.timer = g.c.clock.AfterFunc(at.Sub(g.now()), func() { g.onConsumerTimer(m, tok) })
}

func (g *Group) stopConsumerTimer(m *cmember) {
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	m.timerTok++
}

func (g *Group) onConsumerTimer(m *cmember, tok uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == Dead || g.cg == nil || g.cg.members[m.id] != m || tok != m.timerTok {
		return
	}
	m.timer = nil
	now := g.now()
	switch {
	case !now.Before(m.sessionDeadline):
		g.fenceConsumerMember(m, "session timed out")
	case !m.revokeDeadline.IsZero() && !now.Before(m.revokeDeadline):
		g.fenceConsumerMember(m, "did not revoke its partitions within its rebalance timeout")
	default:
		g.armConsumer(m)
	}
}

// toTopicIDPartitions lists a in topic-ID order, with names from img when
// it is given.
func toTopicIDPartitions(a assignment, img *metadata.Image) []TopicIDPartitions {
	out := make([]TopicIDPartitions, 0, len(a))
	for _, t := range sortedTopics(a) {
		if len(a[t]) == 0 {
			continue
		}
		tp := TopicIDPartitions{TopicID: t, Partitions: slices.Clone(a[t])}
		if img != nil {
			if topic := img.TopicsByID[t]; topic != nil {
				tp.Topic = topic.Name
			}
		}
		out = append(out, tp)
	}
	return out
}

// consumerState is the group state Kafka reports for a consumer group.
func (cg *consumerGroup) state() string {
	if len(cg.members) == 0 {
		return "Empty"
	}
	if cg.assignmentEpoch != cg.epoch {
		return "Assigning"
	}
	for _, m := range cg.members {
		if m.epoch != cg.assignmentEpoch || m.state != memberStable {
			return "Reconciling"
		}
	}
	return "Stable"
}

// validateConsumerCommit checks an offset commit into a consumer group, as
// Kafka does: a commit from outside the group only while it is empty;
// else a member at its current epoch (STALE_MEMBER_EPOCH when the member
// is behind, FENCED_MEMBER_EPOCH when ahead; a transactional commit gets
// ILLEGAL_GENERATION).
func (g *Group) validateConsumerCommit(epoch int32, memberID string, transactional bool) error {
	cg := g.cg
	if epoch < 0 && memberID == "" {
		if transactional || len(cg.members) == 0 {
			return nil
		}
		return kerr.UnknownMemberID
	}
	m := cg.members[memberID]
	if m == nil {
		return kerr.UnknownMemberID
	}
	switch {
	case epoch == m.epoch:
		return nil
	case transactional || m.classic:
		return kerr.IllegalGeneration
	case epoch > m.epoch:
		return kerr.FencedMemberEpoch
	default:
		return kerr.StaleMemberEpoch
	}
}

// validateConsumerFetch checks an OffsetFetch that names a member (v9+).
// Epoch -1 is a read from outside the group (an admin client), allowed.
func (g *Group) validateConsumerFetch(memberID string, epoch int32) error {
	if g.cg == nil || epoch == -1 {
		return nil
	}
	m := g.cg.members[memberID]
	switch {
	case m == nil:
		return kerr.UnknownMemberID
	case epoch > m.epoch:
		return kerr.FencedMemberEpoch
	case epoch < m.epoch:
		return kerr.StaleMemberEpoch
	}
	return nil
}

// CheckFetchMember checks the member an OffsetFetch names (v9+): in a
// consumer-protocol group it must be a member at its current epoch.
func (c *Coordinator) CheckFetchMember(group, memberID string, epoch int32) error {
	g, err := c.lockGroup(group, false)
	if err != nil || g == nil {
		return err
	}
	defer g.mu.Unlock()
	return g.validateConsumerFetch(memberID, epoch)
}

// ConsumerMemberDescription is one member of ConsumerGroupDescribe.
type ConsumerMemberDescription struct {
	MemberID             string
	InstanceID           *string
	RackID               *string
	MemberEpoch          int32
	ClientID, ClientHost string
	SubscribedTopicNames []string
	SubscribedTopicRegex *string
	Assignment           []TopicIDPartitions
	TargetAssignment     []TopicIDPartitions
	State                string // its reconciliation state, for tools
	Classic              bool   // joined with the classic protocol
}

// ConsumerGroupDescription answers ConsumerGroupDescribe for one group.
type ConsumerGroupDescription struct {
	Group           string
	Err             error
	ErrMessage      string
	State           string
	Epoch           int32
	AssignmentEpoch int32
	Assignor        string
	Members         []ConsumerMemberDescription
}

// DescribeConsumerGroup describes a consumer-protocol group: its epochs,
// and each member's current and target assignment.
func (c *Coordinator) DescribeConsumerGroup(name string) ConsumerGroupDescription {
	d := ConsumerGroupDescription{Group: name}
	if name == "" {
		d.Err = kerr.InvalidGroupID
		return d
	}
	g, err := c.lockGroup(name, false)
	if err != nil {
		d.Err = err
		return d
	}
	if g == nil {
		d.Err, d.ErrMessage = kerr.GroupIDNotFound, fmt.Sprintf("Group %s not found.", name)
		return d
	}
	defer g.mu.Unlock()
	if g.cg == nil {
		d.Err, d.ErrMessage = kerr.GroupIDNotFound, fmt.Sprintf("Group %s is not a consumer group.", name)
		return d
	}
	cg := g.cg
	img := c.image()
	d.State, d.Epoch, d.AssignmentEpoch = cg.state(), cg.epoch, cg.assignmentEpoch
	d.Assignor = cg.assignor
	if d.Assignor == "" {
		d.Assignor = c.cfg.ConsumerAssignors[0]
	}
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := cg.members[id]
		d.Members = append(d.Members, ConsumerMemberDescription{
			MemberID:             m.id,
			InstanceID:           cloneStr(m.instanceID),
			RackID:               cloneStr(m.rackID),
			MemberEpoch:          m.epoch,
			ClientID:             m.clientID,
			ClientHost:           m.clientHost,
			SubscribedTopicNames: slices.Clone(m.topicNames),
			SubscribedTopicRegex: cloneStr(m.regex),
			Assignment:           toTopicIDPartitions(m.assigned, img),
			TargetAssignment:     toTopicIDPartitions(cg.target[m.id], img),
			State:                m.state.String(),
			Classic:              m.classic,
		})
	}
	return d
}

// subscribedTopicNames are the topics the consumer group's members
// subscribe to, resolved against the current metadata.
func (g *Group) consumerSubscribedTopics() map[string]bool {
	out := make(map[string]bool)
	img := g.c.image()
	for _, m := range g.cg.members {
		for _, t := range g.cg.resolve(m, img) {
			out[t.Name] = true
		}
	}
	return out
}

// leaveConsumerToClassic turns an empty consumer group back into a classic
// one for a JoinGroup, as Kafka does. A consumer group with members takes
// the joining member as a classic member (classicJoin) when the migration
// policy allows a downgrade, which is what classic members in a consumer
// group lead to; else it refuses it (INCONSISTENT_GROUP_PROTOCOL).
func (g *Group) leaveConsumerToClassic() error {
	if g.cg == nil || len(g.cg.members) > 0 {
		return nil
	}
	if _, _, err := g.c.store.Append(g.partition, []Record{{Key: consumerKey(g.name)}}); err != nil {
		return appendError(err, false)
	}
	g.cg = nil
	g.protocolType = ""
	return nil
}

// startConsumerSessions starts the sessions of a consumer group just
// loaded: every member gets a full session to heartbeat again.
func (g *Group) startConsumerSessions() {
	for _, m := range g.cg.members {
		m.sessionDeadline = g.now().Add(g.sessionFor(m))
		if m.state == memberUnrevoked {
			m.revokeDeadline = g.now().Add(m.rebalanceTimeout)
		}
		g.armConsumer(m)
	}
}
