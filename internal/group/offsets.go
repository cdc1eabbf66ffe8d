package group

import (
	"context"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type topicPartition struct {
	topic     string
	partition int32
}

// committed is an offset in the cache with the log position of its record.
// A commit becomes visible once its record is acknowledged, and only if no
// later record (commit or deletion) of the partition has been applied:
// deleted entries stay, invisible, while commits are in flight.
type committed struct {
	value   offsetValue
	pos     int64
	deleted bool
}

// CommitOffsets handles an OffsetCommit: the errors come in request order
// once the commit is acknowledged as the topic's durability policy asks.
func (c *Coordinator) CommitOffsets(req CommitRequest) <-chan []error {
	ch, errs, fill := commitAnswer(len(req.Offsets))
	g, err := c.lockGroup(req.Group, req.Generation < 0)
	if err != nil {
		fill(err)
		return ch
	}
	if g == nil {
		if req.GroupIDNotFound {
			fill(kerr.GroupIDNotFound)
		} else {
			fill(kerr.IllegalGeneration)
		}
		return ch
	}
	defer g.mu.Unlock()
	if err := g.validateCommit(req.Generation, req.MemberID, req.InstanceID, false); err != nil {
		fill(err)
		return ch
	}
	g.commit(&req, errs, ch)
	return ch
}

// commitAnswer is the channel a commit answers on, the errors it answers in
// request order, and fill, which answers err for every partition.
func commitAnswer(n int) (chan []error, []error, func(error)) {
	ch := make(chan []error, 1)
	errs := make([]error, n)
	return ch, errs, func(err error) {
		for i := range errs {
			errs[i] = err
		}
		ch <- errs
	}
}

// validateCommit checks who may commit, as Kafka 4 does: anyone into an
// empty group with generation -1; otherwise a member of the current
// generation, and not while the group waits for its assignment. A
// transactional commit (TxnOffsetCommit) without group metadata is taken in
// any state (its v0-2 carry none), and is not refused mid-rebalance.
func (g *Group) validateCommit(generation int32, memberID string, instanceID *string, transactional bool) error {
	if g.cg != nil {
		return g.validateConsumerCommit(generation, memberID, transactional)
	}
	if generation < 0 && g.state == Empty {
		return nil
	}
	if generation >= 0 || memberID != "" || instanceID != nil {
		if err := g.validateMember(memberID, instanceID); err != nil {
			return err
		}
		if generation != g.generation {
			return kerr.IllegalGeneration
		}
	} else if !transactional && g.state != Empty {
		return kerr.UnknownMemberID
	}
	if !transactional && g.state == CompletingRebalance {
		return kerr.RebalanceInProgress
	}
	return nil
}

// offsetRecords builds the records of a commit's offsets, refusing those
// with too much metadata in errs. idx are the request indexes of the
// records, vals their values; retention < 0 is the broker's.
func (g *Group) offsetRecords(offsets []CommitOffset, retention time.Duration, errs []error) (recs []Record, idx []int, vals []offsetValue) {
	now := g.now().UnixMilli()
	for i, o := range offsets {
		md := ""
		if o.Metadata != nil {
			md = *o.Metadata
		}
		if len(md) > g.c.cfg.MaxMetadataBytes {
			errs[i] = kerr.OffsetMetadataTooLarge
			continue
		}
		v := offsetValue{Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: md, CommitTime: now, ExpireTime: -1}
		if retention >= 0 {
			v.ExpireTime = now + retention.Milliseconds()
		}
		recs = append(recs, Record{Key: offsetKey(g.name, o.Topic, o.Partition), Value: encodeOffsetValue(v)})
		idx = append(idx, i)
		vals = append(vals, v)
	}
	return recs, idx, vals
}

func (g *Group) commit(req *CommitRequest, errs []error, ch chan []error) {
	recs, idx, vals := g.offsetRecords(req.Offsets, req.Retention, errs)
	// Committing is a sign of life, as in Kafka.
	if m := g.members[req.MemberID]; m != nil && req.Generation >= 0 {
		g.scheduleSession(m, m.sessionTimeout)
	}
	if len(recs) == 0 {
		ch <- errs
		return
	}
	last, wait, err := g.c.store.Append(g.partition, recs)
	if err != nil {
		err = appendError(err, true)
		for _, i := range idx {
			errs[i] = err
		}
		ch <- errs
		return
	}
	first := last - int64(len(recs)) + 1
	tps := make([]topicPartition, len(idx))
	for j, i := range idx {
		tps[j] = topicPartition{req.Offsets[i].Topic, req.Offsets[i].Partition}
	}
	if wait == nil {
		for j := range tps {
			g.applyOffset(tps[j], vals[j], first+int64(j))
		}
		ch <- errs
		return
	}
	for _, tp := range tps {
		g.pendingCommits[tp]++
	}
	g.c.goWait(func(ctx context.Context) {
		werr := appendError(wait(ctx), true)
		g.mu.Lock()
		for j, tp := range tps {
			if g.pendingCommits[tp]--; g.pendingCommits[tp] <= 0 {
				delete(g.pendingCommits, tp)
			}
			if werr == nil {
				g.applyOffset(tp, vals[j], first+int64(j))
			} else {
				errs[idx[j]] = werr
			}
			g.dropDeleted(tp)
		}
		g.mu.Unlock()
		ch <- errs
	})
}

func (g *Group) applyOffset(tp topicPartition, v offsetValue, pos int64) {
	if e := g.offsets[tp]; e == nil || pos > e.pos {
		g.offsets[tp] = &committed{value: v, pos: pos}
	}
}

func (g *Group) dropDeleted(tp topicPartition) {
	if e := g.offsets[tp]; e != nil && e.deleted && g.pendingCommits[tp] == 0 {
		delete(g.offsets, tp)
	}
}

// deleteOffset removes an offset whose tombstone is at pos, and the
// pending offsets of open transactions with it.
func (g *Group) deleteOffset(tp topicPartition, pos int64) {
	g.dropPendingTxn(tp)
	if g.pendingCommits[tp] > 0 {
		g.offsets[tp] = &committed{pos: pos, deleted: true}
		return
	}
	delete(g.offsets, tp)
}

func (g *Group) liveOffset(tp topicPartition) (*committed, bool) {
	e := g.offsets[tp]
	if e == nil || e.deleted {
		return nil, false
	}
	return e, true
}

func (g *Group) hasOffsets() bool {
	for _, e := range g.offsets {
		if !e.deleted {
			return true
		}
	}
	return len(g.pendingCommits) > 0 || len(g.txnOffsets) > 0
}

// FetchOffsets answers an OffsetFetch: the asked partitions, or with nil
// topics every partition with an offset. Partitions without one have
// offset -1. Offsets of open transactions are not shown; with
// requireStable (KIP-447) a partition that has some answers
// UNSTABLE_OFFSET_COMMIT (offset -1), so the consumer waits for the
// transaction to end instead of starting from an offset it may move.
func (c *Coordinator) FetchOffsets(group string, topics []TopicPartitions, requireStable bool) ([]FetchedTopic, error) {
	g, err := c.lockGroup(group, false)
	if err != nil {
		return nil, err
	}
	if g != nil {
		defer g.mu.Unlock()
	}
	none := func(p int32) FetchedOffset { return FetchedOffset{Partition: p, Offset: -1, LeaderEpoch: -1} }
	var unstable map[topicPartition]bool
	if requireStable && g != nil && len(g.txnOffsets) > 0 {
		unstable = g.pendingTxnPartitions()
	}
	answer := func(tp topicPartition, e *committed) FetchedOffset {
		if unstable[tp] {
			f := none(tp.partition)
			f.Err = kerr.UnstableOffsetCommit
			return f
		}
		return fetched(tp.partition, e)
	}
	if topics == nil {
		if g == nil {
			return nil, nil
		}
		byTopic := make(map[string][]FetchedOffset)
		for tp, e := range g.offsets {
			if e.deleted {
				continue
			}
			byTopic[tp.topic] = append(byTopic[tp.topic], answer(tp, e))
		}
		out := make([]FetchedTopic, 0, len(byTopic))
		for t, ps := range byTopic {
			sort.Slice(ps, func(i, j int) bool { return ps[i].Partition < ps[j].Partition })
			out = append(out, FetchedTopic{Topic: t, Partitions: ps})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
		return out, nil
	}
	out := make([]FetchedTopic, len(topics))
	for i, t := range topics {
		out[i].Topic = t.Topic
		out[i].Partitions = make([]FetchedOffset, len(t.Partitions))
		for j, p := range t.Partitions {
			out[i].Partitions[j] = none(p)
			if g == nil {
				continue
			}
			tp := topicPartition{t.Topic, p}
			if e, ok := g.liveOffset(tp); ok || unstable[tp] {
				out[i].Partitions[j] = answer(tp, e)
			}
		}
	}
	return out, nil
}

func fetched(p int32, e *committed) FetchedOffset {
	return FetchedOffset{Partition: p, Offset: e.value.Offset, LeaderEpoch: e.value.LeaderEpoch, Metadata: e.value.Metadata}
}

// DeleteOffsets handles an OffsetDelete: offsets of an empty group, or of
// topics a consumer group does not subscribe to, are deleted
// (GROUP_SUBSCRIBED_TO_TOPIC otherwise; NON_EMPTY_GROUP for an active group
// of another protocol type).
func (c *Coordinator) DeleteOffsets(group string, topics []TopicPartitions) <-chan DeleteOffsetsResult {
	ch := make(chan DeleteOffsetsResult, 1)
	g, err := c.lockGroup(group, false)
	if err != nil {
		ch <- DeleteOffsetsResult{Err: err}
		return ch
	}
	if g == nil {
		ch <- DeleteOffsetsResult{Err: kerr.GroupIDNotFound}
		return ch
	}
	defer g.mu.Unlock()

	res := DeleteOffsetsResult{Partitions: make([][]error, len(topics))}
	var subscribed func(string) bool
	switch {
	case g.state == Empty:
		subscribed = func(string) bool { return false }
	case g.protocolType == "consumer":
		topicsOf, known := g.subscribedTopics()
		subscribed = func(t string) bool { return !known || topicsOf[t] }
	default:
		ch <- DeleteOffsetsResult{Err: kerr.NonEmptyGroup}
		return ch
	}
	var (
		recs []Record
		tps  []topicPartition
	)
	for i, t := range topics {
		res.Partitions[i] = make([]error, len(t.Partitions))
		for j, p := range t.Partitions {
			if subscribed(t.Topic) {
				res.Partitions[i][j] = kerr.GroupSubscribedToTopic
				continue
			}
			tp := topicPartition{t.Topic, p}
			if _, ok := g.liveOffset(tp); ok || g.hasPendingTxn(tp) {
				recs = append(recs, Record{Key: offsetKey(g.name, t.Topic, p)})
				tps = append(tps, tp)
			}
		}
	}
	if len(recs) == 0 {
		ch <- res
		return ch
	}
	last, wait, err := g.c.store.Append(g.partition, recs)
	if err != nil {
		ch <- DeleteOffsetsResult{Err: appendError(err, false)}
		return ch
	}
	first := last - int64(len(recs)) + 1
	for j, tp := range tps {
		g.deleteOffset(tp, first+int64(j))
	}
	if wait == nil {
		ch <- res
		return ch
	}
	c.goWait(func(ctx context.Context) {
		if err := wait(ctx); err != nil {
			res = DeleteOffsetsResult{Err: appendError(err, false)}
		}
		ch <- res
	})
	return ch
}

// subscribedTopics are the topics a consumer group's members subscribe to,
// from their metadata for the chosen protocol; known is false when some
// metadata cannot be read (Kafka then treats every topic as subscribed).
func (g *Group) subscribedTopics() (topics map[string]bool, known bool) {
	if g.cg != nil {
		return g.consumerSubscribedTopics(), true
	}
	topics = make(map[string]bool)
	if g.protocolType != "consumer" {
		return nil, false
	}
	if len(g.members) == 0 {
		return topics, true
	}
	if g.protocol == "" {
		return nil, false
	}
	for _, m := range g.members {
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			return nil, false
		}
		for _, t := range md.Topics {
			topics[t] = true
		}
	}
	return topics, true
}

// expire removes offsets past their retention, as Kafka does: for an empty
// group, retention counts from when it became empty; for a stable consumer
// group, offsets of topics it no longer subscribes to count from their
// commit; for a group used only for offsets, from the commit. Offsets with
// commits in flight stay. An empty group left without offsets is deleted.
// It returns how many offsets went and whether the group did.
func (g *Group) expire(now time.Time) (removed int, dead bool) {
	retention := g.c.cfg.OffsetsRetention
	var base func(e *committed) time.Time
	skip := func(string) bool { return false }
	switch {
	case g.protocolType != "" && g.state == Empty:
		base = func(e *committed) time.Time {
			if g.stateTimeKnown {
				return g.stateTime
			}
			return time.UnixMilli(e.value.CommitTime)
		}
	case g.protocolType == "consumer" && g.state == Stable:
		subs, known := g.subscribedTopics()
		if !known {
			break
		}
		base = func(e *committed) time.Time { return time.UnixMilli(e.value.CommitTime) }
		skip = func(t string) bool { return subs[t] }
	case g.protocolType == "":
		base = func(e *committed) time.Time { return time.UnixMilli(e.value.CommitTime) }
	}
	var tps []topicPartition
	if base != nil {
		for tp, e := range g.offsets {
			if e.deleted || g.pendingCommits[tp] > 0 || g.hasPendingTxn(tp) || skip(tp.topic) {
				continue
			}
			expired := now.Sub(base(e)) >= retention
			if e.value.ExpireTime >= 0 {
				expired = now.UnixMilli() >= e.value.ExpireTime
			}
			if expired {
				tps = append(tps, tp)
			}
		}
		sortTPs(tps)
	}
	recs := make([]Record, 0, len(tps)+1)
	for _, tp := range tps {
		recs = append(recs, Record{Key: offsetKey(g.name, tp.topic, tp.partition)})
	}
	dying := g.state == Empty && len(g.pending) == 0 && !g.hasOffsetsExcept(tps)
	if dying {
		recs = append(recs, g.metadataTombstones()...)
	}
	if len(recs) == 0 {
		return 0, false
	}
	last, _, err := g.c.store.Append(g.partition, recs)
	if err != nil {
		g.c.logger.Warn("expire group offsets", "group", g.name, "err", err)
		return 0, false
	}
	first := last - int64(len(recs)) + 1
	for j, tp := range tps {
		g.deleteOffset(tp, first+int64(j))
	}
	if dying {
		g.kill(kerr.CoordinatorNotAvailable)
		g.c.removeGroup(g)
	}
	return len(tps), dying
}

// hasOffsetsExcept reports whether the group has offsets (or commits in
// flight, or offsets of open transactions) besides those in gone.
func (g *Group) hasOffsetsExcept(gone []topicPartition) bool {
	if len(g.pendingCommits) > 0 || len(g.txnOffsets) > 0 {
		return true
	}
	drop := make(map[topicPartition]bool, len(gone))
	for _, tp := range gone {
		drop[tp] = true
	}
	for tp, e := range g.offsets {
		if !e.deleted && !drop[tp] {
			return true
		}
	}
	return false
}

// deleteGroup deletes an empty group with its offsets (DeleteGroups).
func (g *Group) deleteGroup() (func(context.Context) error, error) {
	switch g.state {
	case Dead:
		return nil, kerr.GroupIDNotFound
	case Empty:
	default:
		return nil, kerr.NonEmptyGroup
	}
	// Offsets with commits in flight, and those of open transactions, get
	// tombstones too: their records are already in the log, before these.
	var tps []topicPartition
	for tp, e := range g.offsets {
		if !e.deleted || g.pendingCommits[tp] > 0 {
			tps = append(tps, tp)
		}
	}
	for tp := range g.pendingCommits {
		if g.offsets[tp] == nil {
			tps = append(tps, tp)
		}
	}
	for tp := range g.pendingTxnPartitions() {
		if e := g.offsets[tp]; (e == nil || e.deleted) && g.pendingCommits[tp] == 0 {
			tps = append(tps, tp)
		}
	}
	sortTPs(tps)
	recs := make([]Record, 0, len(tps)+1)
	for _, tp := range tps {
		recs = append(recs, Record{Key: offsetKey(g.name, tp.topic, tp.partition)})
	}
	recs = append(recs, g.metadataTombstones()...)
	_, wait, err := g.c.store.Append(g.partition, recs)
	if err != nil {
		return nil, appendError(err, false)
	}
	g.kill(kerr.CoordinatorNotAvailable)
	g.c.removeGroup(g)
	return wait, nil
}

func sortTPs(tps []topicPartition) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].topic != tps[j].topic {
			return tps[i].topic < tps[j].topic
		}
		return tps[i].partition < tps[j].partition
	})
}

// deleteTopics removes the offsets of the gone topics (commits in flight
// included: their records precede the tombstones) and returns how many.
func (g *Group) deleteTopics(gone map[string]bool) int {
	var tps []topicPartition
	for tp, e := range g.offsets {
		if gone[tp.topic] && (!e.deleted || g.pendingCommits[tp] > 0) {
			tps = append(tps, tp)
		}
	}
	for tp := range g.pendingCommits {
		if gone[tp.topic] && g.offsets[tp] == nil {
			tps = append(tps, tp)
		}
	}
	for tp := range g.pendingTxnPartitions() {
		if e := g.offsets[tp]; gone[tp.topic] && (e == nil || e.deleted) && g.pendingCommits[tp] == 0 {
			tps = append(tps, tp)
		}
	}
	if len(tps) == 0 {
		return 0
	}
	sortTPs(tps)
	recs := make([]Record, len(tps))
	for i, tp := range tps {
		recs[i] = Record{Key: offsetKey(g.name, tp.topic, tp.partition)}
	}
	last, _, err := g.c.store.Append(g.partition, recs)
	if err != nil {
		g.c.logger.Warn("delete offsets of deleted topics", "group", g.name, "err", err)
		return 0
	}
	first := last - int64(len(recs)) + 1
	for i, tp := range tps {
		g.deleteOffset(tp, first+int64(i))
	}
	return len(tps)
}
