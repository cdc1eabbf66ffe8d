package group

import (
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/metadata"
)

// Migration between the classic and consumer protocols (KIP-848's online
// upgrade and downgrade), as group.consumer.migration.policy allows.
//
// A consumer group may hold classic members: consumers still on
// JoinGroup/SyncGroup/Heartbeat. The coordinator assigns them like any
// other member; the classic requests are only their transport. A classic
// member joins with its subscription and the partitions it still owns (the
// cooperative protocol's OwnedPartitions; none for eager clients, which
// revoke all before they join), and gets its assignment in SyncGroup.
// While it has partitions to revoke or to take, its Heartbeat answers
// REBALANCE_IN_PROGRESS, so it joins again and reports what it let go.
//
// Upgrade: the first consumer-protocol member to join a stable classic
// group of consumers turns it into a consumer group, its members classic
// members with their generation as epoch and their assignments kept.
// Downgrade: when the last consumer-protocol member leaves a group of
// classic members, it becomes a classic group again and rebalances.

// Migration policies (group.consumer.migration.policy).
const (
	MigrationDisabled      = "disabled"
	MigrationUpgrade       = "upgrade"
	MigrationDowngrade     = "downgrade"
	MigrationBidirectional = "bidirectional"
)

func (c *Coordinator) upgradeAllowed() bool {
	return c.cfg.MigrationPolicy == MigrationUpgrade || c.cfg.MigrationPolicy == MigrationBidirectional
}

func (c *Coordinator) downgradeAllowed() bool {
	return c.cfg.MigrationPolicy == MigrationDowngrade || c.cfg.MigrationPolicy == MigrationBidirectional
}

// sessionFor is a member's session timeout: its own for classic members,
// the broker's for consumer-protocol members.
func (g *Group) sessionFor(m *cmember) time.Duration {
	if m.classic {
		return m.sessionTimeout
	}
	return g.c.cfg.ConsumerSessionTimeout
}

// upgradeClassic turns a stable classic group of consumers into a consumer
// group whose members are its classic members. It reports false when the
// group cannot be upgraded.
func (g *Group) upgradeClassic() bool {
	if !g.c.upgradeAllowed() || g.state != Stable || g.protocolType != "consumer" || len(g.pending) > 0 {
		return false
	}
	img := g.c.image()
	cg := newConsumerGroup()
	cg.epoch, cg.assignmentEpoch = g.generation, g.generation
	for _, m := range g.members {
		var sub kmsg.ConsumerMemberMetadata
		if err := sub.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			return false
		}
		var as kmsg.ConsumerMemberAssignment
		if len(m.assignment) > 0 {
			if err := as.ReadFrom(m.assignment); err != nil {
				return false
			}
		}
		cm := &cmember{
			id: m.id, instanceID: cloneStr(m.instanceID), clientID: m.clientID, clientHost: m.clientHost,
			epoch: g.generation, prevEpoch: g.generation, classic: true,
			sessionTimeout: m.sessionTimeout, rebalanceTimeout: m.rebalanceTimeout,
			protocols: cloneProtocols(m.protocols), topicNames: sortedNames(sub.Topics),
			assigned: make(assignment), revoking: make(assignment),
		}
		for _, t := range as.Topics {
			if topic := img.Topics[t.Topic]; topic != nil {
				for _, p := range t.Partitions {
					cm.assigned.add(topic.ID, p)
				}
			}
		}
		cg.members[cm.id] = cm
		if cm.instanceID != nil {
			cg.static[*cm.instanceID] = cm.id
		}
		cg.target[cm.id] = cm.assigned.clone()
		g.setOwnedIn(cg, cm)
	}
	cg.assignor = g.c.cfg.ConsumerAssignors[0]
	cg.subsSig = cg.subscriptionSignature(img)
	for _, m := range g.members {
		g.replyJoin(m, joinError(m.id, kerr.RebalanceInProgress))
		g.replySync(m, SyncResult{Err: kerr.RebalanceInProgress})
		g.stopSession(m)
	}
	clear(g.members)
	clear(g.static)
	clear(g.protoCount)
	g.leader, g.protocol = "", ""
	g.cg = cg
	now := g.now()
	for _, m := range cg.members {
		m.sessionDeadline = now.Add(m.sessionTimeout)
		g.armConsumer(m)
	}
	g.c.logger.Info("classic group upgraded to the consumer protocol", "group", g.name, "members", len(cg.members))
	return true
}

// setOwnedIn records m's partitions as held by it in cg.
func (g *Group) setOwnedIn(cg *consumerGroup, m *cmember) {
	for t, ps := range m.assigned {
		for _, p := range ps {
			cg.owners[topicPart{t, p}] = m.id
		}
	}
}

func sortedNames(names []string) []string {
	out := slices.Clone(names)
	sort.Strings(out)
	return slices.Compact(out)
}

// maybeDowngrade turns a consumer group whose members are all classic
// back into a classic group, which then rebalances. It returns the records
// that go with it.
func (g *Group) maybeDowngrade() []Record {
	cg := g.cg
	if cg == nil || len(cg.members) == 0 || !g.c.downgradeAllowed() {
		return nil
	}
	for _, m := range cg.members {
		if !m.classic {
			return nil
		}
	}
	img := g.c.image()
	ids := sortedKeys(cg.members)
	for _, id := range ids {
		cm := cg.members[id]
		g.stopConsumerTimer(cm)
		m := &member{
			id: cm.id, instanceID: cloneStr(cm.instanceID), clientID: cm.clientID, clientHost: cm.clientHost,
			sessionTimeout: cm.sessionTimeout, rebalanceTimeout: cm.rebalanceTimeout,
			protocols: cloneProtocols(cm.protocols), assignment: encodeAssignment(cm.assigned, img),
			seq: g.nextSeq,
		}
		g.nextSeq++
		g.members[m.id] = m
		g.countProtocols(m, 1)
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
	}
	g.cg = nil
	// The generation the members know: those at it are told to rejoin
	// (REBALANCE_IN_PROGRESS); any behind were rejoining anyway.
	g.generation = 0
	for _, cm := range cg.members {
		g.generation = max(g.generation, cm.epoch)
	}
	g.protocolType = "consumer"
	g.protocol = g.selectProtocol()
	g.leader = g.firstMember()
	g.state = Stable
	g.startSessions()
	g.prepareRebalance("downgraded from the consumer protocol")
	g.c.logger.Info("consumer group downgraded to the classic protocol", "group", g.name, "members", len(g.members))
	return []Record{{Key: consumerKey(g.name)}}
}

// encodeAssignment is a member's partitions as a classic consumer
// assignment.
func encodeAssignment(a assignment, img *metadata.Image) []byte {
	as := kmsg.NewConsumerMemberAssignment()
	for _, t := range toTopicIDPartitions(a, img) {
		if t.Topic == "" {
			continue // deleted since
		}
		at := kmsg.NewConsumerMemberAssignmentTopic()
		at.Topic, at.Partitions = t.Topic, t.Partitions
		as.Topics = append(as.Topics, at)
	}
	return as.AppendTo(nil)
}

// classicJoin is a JoinGroup into a consumer group: a classic member joins
// or rejoins, reporting the partitions it still owns, and gets its epoch
// as the generation at once (no other member waits for it).
func (g *Group) classicJoin(req *JoinRequest, ch chan JoinResult) {
	cg := g.cg
	if req.ProtocolType != "consumer" || len(req.Protocols) == 0 {
		ch <- joinError(req.MemberID, kerr.InconsistentGroupProtocol)
		return
	}
	var sub kmsg.ConsumerMemberMetadata
	if err := sub.ReadFrom(req.Protocols[0].Metadata); err != nil {
		ch <- joinError(req.MemberID, kerr.InconsistentGroupProtocol)
		return
	}
	id := req.MemberID
	if id == "" {
		id = newMemberID(req)
		if req.RequireKnownMemberID {
			ch <- joinError(id, kerr.MemberIDRequired)
			return
		}
	}
	img := g.c.image()
	m := cg.members[id]
	if m != nil && !m.classic {
		ch <- joinError(id, kerr.InconsistentGroupProtocol)
		return
	}
	joined := m == nil
	if joined {
		if req.InstanceID != nil {
			if prev := cg.members[cg.static[*req.InstanceID]]; prev != nil {
				// A static member's next incarnation replaces it.
				g.removeConsumerMember(prev)
			}
		}
		if len(cg.members) >= g.c.cfg.ConsumerMaxSize {
			ch <- joinError("", kerr.GroupMaxSizeReached)
			return
		}
		m = g.newConsumerMember(id, &ConsumerHeartbeatRequest{InstanceID: req.InstanceID})
		m.classic = true
	}
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	m.sessionTimeout, m.rebalanceTimeout = req.SessionTimeout, req.RebalanceTimeout
	m.protocols = cloneProtocols(req.Protocols)
	bump := joined
	if names := sortedNames(sub.Topics); !slices.Equal(names, m.topicNames) {
		m.topicNames, bump = names, true
	}
	owned := []TopicIDPartitions{}
	if !joined {
		for _, t := range sub.OwnedPartitions {
			if topic := img.Topics[t.Topic]; topic != nil {
				owned = append(owned, TopicIDPartitions{TopicID: topic.ID, Partitions: t.Partitions})
			}
		}
	}
	g.advanceConsumer(m, bump)
	g.reconcile(m, owned)
	g.syncState()
	res := JoinResult{
		MemberID:     id,
		Generation:   m.epoch,
		ProtocolType: strPtr("consumer"),
		Protocol:     strPtr(req.Protocols[0].Name),
	}
	_, wait, err := g.c.store.Append(g.partition, []Record{g.consumerRecord()})
	g.afterAppend(wait, err, false, func(err error) {
		if err != nil {
			ch <- joinError(id, err)
			return
		}
		ch <- res
	})
}

// advanceConsumer moves the group epoch when bump is set or the subscribed
// topics changed, computes a new target when the epoch moved, and restarts
// m's session. It does not reconcile m: a classic member learns of a new
// assignment only in SyncGroup, so only its JoinGroup may change it.
func (g *Group) advanceConsumer(m *cmember, bump bool) {
	cg := g.cg
	img := g.c.image()
	if sig := cg.subscriptionSignature(img); sig != cg.subsSig {
		cg.subsSig, bump = sig, true
	}
	if bump {
		cg.epoch++
	}
	if cg.assignmentEpoch < cg.epoch {
		g.computeTarget(img)
	}
	m.sessionDeadline = g.now().Add(g.sessionFor(m))
	g.armConsumer(m)
}

// classicMember finds the classic member of a request into a consumer
// group, checking its instance id and generation.
func (g *Group) classicMember(memberID string, instanceID *string, generation int32) (*cmember, error) {
	m := g.cg.members[memberID]
	switch {
	case m == nil || !m.classic:
		return nil, kerr.UnknownMemberID
	case instanceID != nil && (m.instanceID == nil || *m.instanceID != *instanceID):
		return nil, kerr.FencedInstanceID
	case generation != m.epoch:
		return nil, kerr.IllegalGeneration
	}
	return m, nil
}

// classicSync answers a classic member's SyncGroup with its assignment.
func (g *Group) classicSync(req *SyncRequest, ch chan SyncResult) {
	m, err := g.classicMember(req.MemberID, req.InstanceID, req.Generation)
	if err != nil {
		ch <- SyncResult{Err: err}
		return
	}
	if req.ProtocolType != nil && *req.ProtocolType != "consumer" {
		ch <- SyncResult{Err: kerr.InconsistentGroupProtocol}
		return
	}
	protocol := ""
	if len(m.protocols) > 0 {
		protocol = m.protocols[0].Name
	}
	if req.Protocol != nil {
		protocol = *req.Protocol
	}
	m.sessionDeadline = g.now().Add(m.sessionTimeout)
	g.armConsumer(m)
	ch <- SyncResult{ProtocolType: strPtr("consumer"), Protocol: strPtr(protocol), Assignment: encodeAssignment(m.assigned, g.c.image())}
}

// classicHeartbeat keeps a classic member's session, and asks it to join
// again (REBALANCE_IN_PROGRESS) while its assignment has to change.
func (g *Group) classicHeartbeat(req HeartbeatRequest) error {
	m, err := g.classicMember(req.MemberID, req.InstanceID, req.Generation)
	if err != nil {
		return err
	}
	cg := g.cg
	before := cg.epoch
	target := cg.assignmentEpoch
	g.advanceConsumer(m, false)
	if cg.epoch != before || cg.assignmentEpoch != target {
		if _, _, err := g.c.store.Append(g.partition, []Record{g.consumerRecord()}); err != nil {
			g.c.logger.Warn("persisting a consumer group", "group", g.name, "err", err)
		}
	}
	if m.state != memberStable || m.epoch != cg.assignmentEpoch || !m.assigned.equal(cg.target[m.id]) {
		// Its assignment must change: it learns how by joining again,
		// reporting what it owns, and syncing.
		return kerr.RebalanceInProgress
	}
	return nil
}

// classicLeave removes a classic member from a consumer group.
func (g *Group) classicLeave(lm LeaveMember) error {
	cg := g.cg
	id := lm.MemberID
	if id == "" && lm.InstanceID != nil {
		id = cg.static[*lm.InstanceID]
	}
	m := cg.members[id]
	switch {
	case m == nil || !m.classic:
		return kerr.UnknownMemberID
	case lm.InstanceID != nil && (m.instanceID == nil || *m.instanceID != *lm.InstanceID):
		return kerr.FencedInstanceID
	}
	g.removeConsumerMember(m)
	cg.epoch++
	g.syncState()
	if _, _, err := g.c.store.Append(g.partition, []Record{g.consumerRecord()}); err != nil {
		return appendError(err, false)
	}
	return nil
}
