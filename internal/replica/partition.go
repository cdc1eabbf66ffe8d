// Package replica holds the partitions this broker hosts: each one's log, leader
// epoch and high watermark, and the waits that depend on them (produce acks and
// fetch long polls), and replicates them as Kafka does.
//
// A leader tracks how far each follower has fetched; the high watermark is the least
// log end offset of the in-sync replicas (the leader's own counts only once flushed
// where the topic is durable). A follower catching up to the high watermark joins the
// ISR, and one that has not caught up for replica.lag.time.max.ms leaves it; both
// changes go through the controller (AlterPartition), and the leader counts the larger
// of the old and new ISR until the change is committed. Followers fetch from their
// leaders with the Fetch API (replica id set), one fetcher per leader broker, truncate
// where the leader reports their log diverged (KIP-320), and follow its high watermark.
package replica

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/storage"
)

// Partition is one hosted partition.
type Partition struct {
	tp      storage.TopicPartition
	topicID [16]byte
	log     *storage.Log
	self    int32

	mu             sync.RWMutex
	leaderEpoch    int32
	leader         int32 // the leader in the image, -1 for none
	partitionEpoch int32
	replicas       []int32
	isr            []int32 // as committed in the image
	minISR         int
	// The topic's throttled replica lists (see throttle.go).
	leaderThrottled, followerThrottled []string
	// Leader only: what each follower last fetched, and the ISR change in flight.
	followers  map[int32]*followerState
	pendingISR []int32 // nil: none in flight
	alter      func(isr []int32)
	// retryAlter is when an ISR change may be asked again after a refusal (a follower
	// that is still fenced cannot join yet).
	retryAlter time.Time
	// changed is closed and replaced whenever the partition's state changes.
	changed chan struct{}
}

// followerState is the leader's view of one follower.
type followerState struct {
	leo          int64     // the offset it last fetched from: it has everything below
	lastCaughtUp time.Time // the last time it had fetched up to the leader's log end
}

// TopicPartition names the partition.
func (p *Partition) TopicPartition() storage.TopicPartition { return p.tp }

// TopicID is the topic's UUID.
func (p *Partition) TopicID() [16]byte { return p.topicID }

// Log is the partition's log.
func (p *Partition) Log() *storage.Log { return p.log }

// LeaderEpoch is the current leader epoch.
func (p *Partition) LeaderEpoch() int32 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.leaderEpoch
}

// CheckLeaderEpoch compares a client's current leader epoch with ours, as
// Kafka does: -1 means the client does not know it; older is fenced; newer
// means this broker has not caught up with the metadata yet.
func (p *Partition) CheckLeaderEpoch(clientEpoch int32) error {
	if clientEpoch < 0 {
		return nil
	}
	ours := p.LeaderEpoch()
	switch {
	case clientEpoch < ours:
		return kerr.FencedLeaderEpoch
	case clientEpoch > ours:
		return kerr.UnknownLeaderEpoch
	}
	return nil
}

// Append validates and appends one producer batch as the leader, and moves the high
// watermark as far as the in-sync replicas allow (at once when the ISR is the leader
// alone and the partition is not durable).
func (p *Partition) Append(batch []byte) (storage.AppendResult, error) {
	p.mu.RLock()
	leader, epoch := p.leader == p.self, p.leaderEpoch
	p.mu.RUnlock()
	if !leader {
		// Leadership moved after the request found this partition: the new leader
		// takes the write (a follower's log takes only its leader's batches).
		return storage.AppendResult{}, kerr.NotLeaderForPartition
	}
	res, err := p.log.Append(batch, epoch)
	if err != nil {
		return res, err
	}
	p.maybeAdvanceHW()
	return res, nil
}

// WriteMarker writes a transaction marker of producer producerID as the leader
// (WriteTxnMarkers): a commit or abort of its transaction, from the coordinator at
// coordinatorEpoch, and moves the high watermark as Append does. The caller waits
// for WaitCommitted(offset+1) before it answers. Errors: NOT_LEADER_OR_FOLLOWER
// when this broker does not lead; INVALID_PRODUCER_EPOCH and
// TRANSACTION_COORDINATOR_FENCED from the log (storage.Log.AppendMarker).
func (p *Partition) WriteMarker(producerID int64, producerEpoch int16, coordinatorEpoch int32, commit bool) (int64, error) {
	p.mu.RLock()
	leader, epoch := p.leader == p.self, p.leaderEpoch
	p.mu.RUnlock()
	if !leader {
		return -1, kerr.NotLeaderForPartition
	}
	off, err := p.log.AppendMarker(producerID, producerEpoch, coordinatorEpoch, commit, epoch)
	if err != nil {
		return -1, err
	}
	p.maybeAdvanceHW()
	return off, nil
}

// LastStableOffset is the offset below which every transaction of the partition is
// decided: the high watermark, or the first offset of the oldest open transaction.
func (p *Partition) LastStableOffset() int64 { return p.log.LastStableOffset() }

// IsLeader reports whether this broker leads the partition.
func (p *Partition) IsLeader() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.leader == p.self
}

// ISR returns the in-sync replicas as committed in the metadata.
func (p *Partition) ISR() []int32 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Clone(p.isr)
}

// CheckMinISR answers NOT_ENOUGH_REPLICAS when the ISR is smaller than
// min.insync.replicas, for an acks=all produce before it appends.
func (p *Partition) CheckMinISR() error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if len(p.isr) < p.minISR {
		return kerr.NotEnoughReplicas
	}
	return nil
}

// maximalISR is the ISR the high watermark must respect: the committed one and, while
// an expansion is in flight, the replica being added (it has reached the high
// watermark already). A shrink counts only once committed. Callers hold p.mu.
func (p *Partition) maximalISR() []int32 {
	if p.pendingISR == nil {
		return p.isr
	}
	out := slices.Clone(p.isr)
	for _, id := range p.pendingISR {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// maybeAdvanceHW raises the high watermark of a leader to the least log end of its
// in-sync replicas: its own (its flushed offset when durable) and its followers'.
func (p *Partition) maybeAdvanceHW() {
	end := p.log.LogEndOffset()
	if p.Durable() {
		end = min(end, p.log.FlushedOffset())
	}
	p.mu.RLock()
	if p.leader != p.self {
		p.mu.RUnlock()
		return
	}
	for _, id := range p.maximalISR() {
		if id == p.self {
			continue
		}
		f := p.followers[id]
		if f == nil {
			end = min(end, p.log.HighWatermark())
			continue
		}
		end = min(end, f.leo)
	}
	p.mu.RUnlock()
	if end > p.log.HighWatermark() {
		p.log.SetHighWatermark(end)
	}
}

// UpdateFollower records a follower's fetch from offset: it holds every record below
// it. It may advance the high watermark and, once the follower has reached the high
// watermark, asks the controller to add it to the ISR.
func (p *Partition) UpdateFollower(id int32, offset int64, now time.Time) {
	leo := p.log.LogEndOffset()
	p.mu.Lock()
	if p.leader != p.self || !slices.Contains(p.replicas, id) {
		p.mu.Unlock()
		return
	}
	f := p.followers[id]
	if f == nil {
		f = &followerState{}
		p.followers[id] = f
	}
	f.leo = offset
	if offset >= leo {
		f.lastCaughtUp = now
	}
	var expand []int32
	if !slices.Contains(p.isr, id) && p.pendingISR == nil && offset >= p.log.HighWatermark() && now.After(p.retryAlter) {
		expand = append(slices.Clone(p.isr), id)
		p.pendingISR = expand
	}
	alter := p.alter
	p.mu.Unlock()
	p.maybeAdvanceHW()
	if expand != nil && alter != nil {
		alter(expand)
	}
}

// shrinkISR drops from the ISR the followers that have not caught up with the log end
// for lag; it returns the proposed ISR, or nil when nothing changes.
func (p *Partition) shrinkISR(now time.Time, lag time.Duration) []int32 {
	p.mu.Lock()
	if p.leader != p.self || p.pendingISR != nil {
		p.mu.Unlock()
		return nil
	}
	var keep []int32
	for _, id := range p.isr {
		f := p.followers[id]
		if id == p.self || (f != nil && now.Sub(f.lastCaughtUp) <= lag) {
			keep = append(keep, id)
		}
	}
	if len(keep) == len(p.isr) {
		p.mu.Unlock()
		return nil
	}
	p.pendingISR = keep
	alter := p.alter
	p.mu.Unlock()
	if alter != nil {
		alter(keep)
	}
	return keep
}

// alterDone clears the ISR change in flight after the controller answered (the new
// ISR itself arrives with the metadata image).
func (p *Partition) alterDone(refused bool) {
	p.mu.Lock()
	p.pendingISR = nil
	if refused {
		p.retryAlter = time.Now().Add(alterRetry)
	}
	p.mu.Unlock()
}

// alterRetry is how long a leader waits after a refused ISR change before it asks
// again.
const alterRetry = 500 * time.Millisecond

// WaitCommitted waits until every offset below end is committed: below the high
// watermark, which the in-sync replicas (and, where durable, the disk) have reached.
// It answers NOT_LEADER_OR_FOLLOWER if leadership moves meanwhile, and
// NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR has shrunk below min.insync.replicas.
func (p *Partition) WaitCommitted(ctx context.Context, end int64) error {
	if p.Durable() {
		if err := p.log.WaitFlushed(ctx, end); err != nil {
			return err
		}
		p.maybeAdvanceHW()
	}
	for {
		ch := p.log.Wait()
		if p.log.HighWatermark() >= end {
			break
		}
		p.mu.RLock()
		leader, changed := p.leader == p.self, p.changed
		p.mu.RUnlock()
		if !leader {
			return kerr.NotLeaderForPartition
		}
		select {
		case <-ch:
		case <-changed: // leadership or the ISR changed: look again
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.mu.RLock()
	short := len(p.isr) < p.minISR
	p.mu.RUnlock()
	if short {
		return kerr.NotEnoughReplicasAfterAppend
	}
	return nil
}

// NeedsWait reports whether an acks=all produce must wait before it is answered:
// the partition is durable, or other replicas are in its ISR.
func (p *Partition) NeedsWait() bool {
	if p.Durable() {
		return true
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.maximalISR()) > 1
}

// Durable reports whether appends must be flushed before they are
// acknowledged (flush.messages=1, from the topic or the broker default); it
// reads the log's live config, so a change applies to the next append.
func (p *Partition) Durable() bool { return p.log.Config().Durable() }

// WaitDurable waits until every offset below end is on stable storage and
// then advances the high watermark over it. On a partition that is not
// durable it returns at once.
func (p *Partition) WaitDurable(ctx context.Context, end int64) error {
	if !p.Durable() {
		return nil
	}
	if err := p.log.WaitFlushed(ctx, end); err != nil {
		return err
	}
	p.maybeAdvanceHW()
	return nil
}

// partitionState is a partition's state in one metadata image.
type partitionState struct {
	leader, leaderEpoch, partitionEpoch int32
	replicas, isr                       []int32
	minISR                              int
	leaderThrottled, followerThrottled  []string
}

// applyState takes the partition's state from a new image. It reports whether this
// broker became the leader or a follower with a new leader epoch (nothing else changes
// what it must do).
func (p *Partition) applyState(st partitionState, now time.Time) (newEpoch bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	newEpoch = st.leaderEpoch != p.leaderEpoch || st.leader != p.leader
	wasLeader := p.leader == p.self
	p.leader, p.leaderEpoch, p.partitionEpoch = st.leader, st.leaderEpoch, st.partitionEpoch
	p.replicas, p.isr, p.minISR = slices.Clone(st.replicas), slices.Clone(st.isr), st.minISR
	p.leaderThrottled, p.followerThrottled = st.leaderThrottled, st.followerThrottled
	if p.pendingISR != nil && slices.Equal(p.pendingISR, p.isr) {
		p.pendingISR = nil
	}
	if st.leader == p.self {
		if !wasLeader || newEpoch || p.followers == nil {
			// A new leadership: every in-sync follower gets a full lag window, as
			// if it had just caught up; what it holds is learnt from its fetches.
			p.followers = map[int32]*followerState{}
			for _, id := range p.replicas {
				if id != p.self {
					p.followers[id] = &followerState{leo: -1, lastCaughtUp: now}
					if !slices.Contains(p.isr, id) {
						p.followers[id].lastCaughtUp = time.Time{}
					}
				}
			}
			p.pendingISR = nil
		}
	} else {
		p.followers, p.pendingISR = nil, nil
	}
	if p.changed != nil {
		close(p.changed)
	}
	p.changed = make(chan struct{})
	return newEpoch
}

// throttled reports whether replication to replica (a follower out of sync) is
// throttled on this broker, as Kafka's throttled-replica lists say: on the leader side
// when leader.replication.throttled.replicas names this broker's own replica of p, on
// the follower side when follower.replication.throttled.replicas does (replica is then
// this broker).
func (p *Partition) throttled(replica int32, asLeader bool) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	list := p.followerThrottled
	if asLeader {
		list = p.leaderThrottled
	}
	return len(list) > 0 && !slices.Contains(p.isr, replica) && throttledReplica(list, p.tp.Partition, p.self)
}

// abandon marks a partition this broker no longer hosts (reassigned away, deleted): it
// leads nothing, so that produces waiting on it are answered NOT_LEADER_OR_FOLLOWER at
// once rather than at their timeout.
func (p *Partition) abandon() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.leader = -1
	if p.changed != nil {
		close(p.changed)
	}
	p.changed = make(chan struct{})
}
