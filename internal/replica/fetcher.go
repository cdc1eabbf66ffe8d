package replica

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/brokerclient"
	"github.com/sluicehq/sluice/internal/storage"
)

// fetchVersion is the Fetch version followers send: topics by id (v13) with
// LastFetchedEpoch, so that the leader reports divergence (KIP-320), and the replica id
// in the request body (it moved to ReplicaState in v15).
const fetchVersion = 13

// fetcher replicates the partitions one leader broker leads to this broker, with one
// connection and one Fetch in flight at a time, as Kafka's replica fetcher threads do.
type fetcher struct {
	m      *Manager
	leader int32

	mu    sync.Mutex
	parts map[storage.TopicPartition]*Partition
	wake  chan struct{}
	done  chan struct{}
	once  sync.Once

	// client has the fetcher's own connection to the leader, so that its long
	// polls never queue another broker-to-broker request behind them.
	client *brokerclient.Client
}

func newFetcher(m *Manager, leader int32) *fetcher {
	return &fetcher{
		m: m, leader: leader,
		parts:  map[storage.TopicPartition]*Partition{},
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		client: brokerclient.NewWithDial("sluice-replica-fetcher-"+strconv.Itoa(int(m.nodeID)), m.repl.Dial),
	}
}

func (f *fetcher) add(p *Partition) {
	f.mu.Lock()
	f.parts[p.tp] = p
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fetcher) remove(tp storage.TopicPartition) {
	f.mu.Lock()
	delete(f.parts, tp)
	f.mu.Unlock()
}

func (f *fetcher) has(tp storage.TopicPartition) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.parts[tp]
	return ok
}

func (f *fetcher) stop() {
	f.once.Do(func() { close(f.done) })
}

func (f *fetcher) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-f.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	defer f.client.Close()
	log := f.m.logger.With("leader", f.leader)
	// A follower that cannot fetch stays out of the ISR, so a failure that lasts is
	// worth a warning (as Kafka's replica fetcher logs its errors), but not one per
	// backoff: the first after a success, then one every failureLogInterval.
	var failingSince, lastWarned time.Time
	for ctx.Err() == nil {
		f.mu.Lock()
		parts := make([]*Partition, 0, len(f.parts))
		for _, p := range f.parts {
			parts = append(parts, p)
		}
		f.mu.Unlock()
		if len(parts) == 0 {
			select {
			case <-f.wake:
			case <-ctx.Done():
			}
			continue
		}
		err := f.fetchOnce(ctx, parts)
		if err == nil {
			if !failingSince.IsZero() {
				log.Info("replica fetches succeed again", "failing_for", time.Since(failingSince).Round(time.Millisecond))
				failingSince, lastWarned = time.Time{}, time.Time{}
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		if failingSince.IsZero() {
			failingSince = now
		}
		if now.Sub(lastWarned) >= failureLogInterval {
			log.Warn("replica fetch failed", "err", err, "failing_for", now.Sub(failingSince).Round(time.Millisecond))
			lastWarned = now
		} else {
			log.Debug("replica fetch failed", "err", err)
		}
		select {
		case <-time.After(f.m.repl.FetchBackoff):
		case <-ctx.Done():
		}
	}
}

// failureLogInterval is how often a fetcher that keeps failing says so at Warn.
const failureLogInterval = 30 * time.Second

// leaderAddr is the leader's endpoint on the inter-broker listener.
func (f *fetcher) leaderAddr() (string, error) {
	b := f.m.image().Brokers[f.leader]
	if b == nil {
		return "", fmt.Errorf("leader %d is not registered", f.leader)
	}
	for _, ep := range b.Endpoints {
		if ep.Listener == f.m.repl.Listener || f.m.repl.Listener == "" {
			return net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port))), nil
		}
	}
	return "", fmt.Errorf("leader %d has no %s endpoint", f.leader, f.m.repl.Listener)
}

func (f *fetcher) fetchOnce(ctx context.Context, parts []*Partition) error {
	addr, err := f.leaderAddr()
	if err != nil {
		return err
	}
	r := f.m.repl
	// Out-of-sync replicas under follower.replication.throttled.replicas wait while the
	// follower budget is spent; if only they are left, wait for the budget.
	now := time.Now()
	if r.Rates != nil {
		_, rate := r.Rates()
		f.m.followerQuota.setRate(rate, now)
	}
	throttled := map[*Partition]bool{}
	if spent, wait := f.m.followerQuota.exceeded(now); spent {
		kept := parts[:0:0]
		for _, p := range parts {
			if p.throttled(f.m.nodeID, false) {
				continue
			}
			kept = append(kept, p)
		}
		if len(kept) == 0 {
			select {
			case <-time.After(min(wait, r.FetchMaxWait)):
			case <-ctx.Done():
			}
			return nil
		}
		parts = kept
	}
	for _, p := range parts {
		if p.throttled(f.m.nodeID, false) {
			throttled[p] = true
		}
	}
	req := kmsg.NewPtrFetchRequest()
	req.Version = fetchVersion
	req.ReplicaID = f.m.nodeID
	req.MaxWaitMillis = int32(r.FetchMaxWait / time.Millisecond)
	req.MinBytes = 1
	req.MaxBytes = r.FetchMaxBytes
	req.SessionEpoch = -1
	byKey := map[[16]byte]map[int32]*Partition{}
	for _, p := range parts {
		rt := kmsg.NewFetchRequestTopic()
		rt.TopicID = p.topicID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p.tp.Partition
		rp.CurrentLeaderEpoch = p.LeaderEpoch()
		rp.FetchOffset = p.log.LogEndOffset()
		rp.LastFetchedEpoch = -1
		if e, ok := p.log.LatestEpoch(); ok {
			rp.LastFetchedEpoch = e
		}
		rp.LogStartOffset = p.log.LogStartOffset()
		rp.PartitionMaxBytes = r.FetchPartitionMaxBytes
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		if byKey[p.topicID] == nil {
			byKey[p.topicID] = map[int32]*Partition{}
		}
		byKey[p.topicID][p.tp.Partition] = p
	}
	rctx, cancel := context.WithTimeout(ctx, r.FetchMaxWait+30*time.Second)
	kresp, err := f.client.Request(rctx, addr, req)
	cancel()
	if err != nil {
		return err
	}
	resp := kresp.(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 {
		return fmt.Errorf("fetch from leader %d: %w", f.leader, kerr.ErrorForCode(resp.ErrorCode))
	}
	var failed error
	answered := 0
	for _, rt := range resp.Topics {
		for i := range rt.Partitions {
			rp := &rt.Partitions[i]
			p := byKey[rt.TopicID][rp.Partition]
			if p == nil || !f.has(p.tp) {
				continue
			}
			answered++
			if throttled[p] {
				f.m.followerQuota.record(len(rp.RecordBatches), time.Now())
			}
			if err := f.apply(p, rp); err != nil {
				failed = fmt.Errorf("%s-%d: %w", p.tp.Topic, p.tp.Partition, err)
				if !transient(err) {
					f.m.logger.Warn("replicating partition", "topic", p.tp.Topic, "partition", p.tp.Partition,
						"leader", f.leader, "err", err)
				}
				answered--
			}
		}
	}
	if answered == 0 && failed != nil {
		// Nothing moved: back off rather than ask again at once (the leader may not
		// have applied the metadata that makes it lead yet).
		return failed
	}
	return nil
}

// transient reports errors that a metadata update resolves: the leader does not lead
// (yet, or any more), or knows the partition by another epoch.
func transient(err error) bool {
	return errors.Is(err, kerr.NotLeaderForPartition) || errors.Is(err, kerr.UnknownTopicID) ||
		errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.FencedLeaderEpoch) ||
		errors.Is(err, kerr.UnknownLeaderEpoch)
}

// apply takes one partition's answer: truncates a diverged log, appends the records,
// and follows the leader's high watermark and log start.
func (f *fetcher) apply(p *Partition, rp *kmsg.FetchResponseTopicPartition) error {
	l := p.log
	switch err := kerr.ErrorForCode(rp.ErrorCode); {
	case err == nil:
	case errors.Is(err, kerr.OffsetOutOfRange):
		// The leader has no records at our log end: ours start after its log start
		// moved past them, or end beyond its log (we hold records it never
		// committed). Its high watermark is committed everywhere, so keep no more.
		if l.LogEndOffset() < rp.LogStartOffset {
			return l.TruncateFullyAndStartAt(rp.LogStartOffset)
		}
		if rp.HighWatermark >= 0 && rp.HighWatermark < l.LogEndOffset() {
			if rp.HighWatermark < l.HighWatermark() {
				return fmt.Errorf("leader %d's high watermark %d is below this replica's %d: %w",
					f.leader, rp.HighWatermark, l.HighWatermark(), kerr.NotLeaderForPartition)
			}
			return l.TruncateTo(rp.HighWatermark)
		}
		return nil
	default:
		// NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH and the like: the metadata
		// will move this partition to its new leader.
		return fmt.Errorf("leader %d answered: %w", f.leader, err)
	}
	if rp.DivergingEpoch.EndOffset >= 0 {
		to := min(rp.DivergingEpoch.EndOffset, l.LogEndOffset())
		if hw := l.HighWatermark(); to < hw {
			// Below the high watermark every record is committed: no leader of a
			// later epoch lacks it, so an answer asking for that comes from a leader
			// that is not one (a stale broker); keep the records and wait for the
			// metadata to name the real leader.
			return fmt.Errorf("leader %d asks to truncate below the high watermark %d (to %d, epoch %d): %w",
				f.leader, hw, to, rp.DivergingEpoch.Epoch, kerr.NotLeaderForPartition)
		}
		f.m.logger.Info("truncating a diverged follower log", "topic", p.tp.Topic, "partition", p.tp.Partition,
			"epoch", rp.DivergingEpoch.Epoch, "to", to)
		return l.TruncateTo(to)
	}
	if len(rp.RecordBatches) > 0 {
		if err := l.AppendReplicated(rp.RecordBatches); err != nil {
			return err
		}
	}
	if rp.LogStartOffset > l.LogStartOffset() {
		if err := l.AdvanceLogStartOffset(min(rp.LogStartOffset, l.LogEndOffset())); err != nil {
			return err
		}
	}
	if rp.HighWatermark >= 0 {
		l.SetHighWatermark(min(rp.HighWatermark, l.LogEndOffset()))
	}
	return nil
}
