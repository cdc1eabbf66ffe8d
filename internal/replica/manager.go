package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/brokerclient"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/storage"
)

// LogConfig turns a topic's config overrides into the settings of its log.
type LogConfig func(overrides map[string]string) (storage.Config, error)

// Manager owns the partitions this broker hosts and keeps them in line with
// the metadata image: a partition exists here when the image says this node
// is one of its replicas, and is removed with its topic.
type Manager struct {
	nodeID    int32
	logs      *storage.Manager
	image     func() *metadata.Image
	logConfig LogConfig
	logger    *slog.Logger
	repl      Replication

	mu    sync.RWMutex
	parts map[storage.TopicPartition]*Partition

	fetchMu  sync.Mutex
	fetchers map[int32]*fetcher // by leader broker

	// leaderQuota and followerQuota are the replication throttles' byte budgets.
	leaderQuota, followerQuota rateLimiter

	// followImg is the newest image for the follow loop, and followKick wakes it:
	// opening followers' logs is file IO, which must not hold up the metadata
	// state machine that calls Apply.
	followImg  atomic.Pointer[metadata.Image]
	followKick chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Replication configures how partitions replicate between brokers. The zero value
// suits a single node, where every ISR is the leader alone.
type Replication struct {
	// MinISR returns a topic's min.insync.replicas from its config overrides (nil: 1).
	MinISR func(overrides map[string]string) int
	// AlterPartition asks the controller to change a partition's ISR, as the leader of
	// leaderEpoch and partitionEpoch (metadata.Store.AlterPartition).
	AlterPartition func(ctx context.Context, topicID [16]byte, partition, leaderEpoch, partitionEpoch int32, isr []int32) error
	// Listener names the inter-broker listener: followers fetch from the leader's
	// endpoint on it.
	Listener string
	// Dial opens a follower's connection to the leader's inter-broker listener (TLS and
	// SASL as that listener takes them); nil dials plain TCP.
	Dial brokerclient.DialFunc
	// LeaseLapsed reports whether this broker's session with the controller has
	// lapsed by its own clock (metadata.Store.LeaseLapsed); while it has, the broker
	// does not act as any partition's leader for clients (NOT_LEADER_OR_FOLLOWER).
	// nil: never.
	LeaseLapsed func() bool
	// LagTimeMax is replica.lag.time.max.ms (0: 30s).
	LagTimeMax time.Duration
	// FetchMaxWait, FetchMaxBytes and FetchPartitionMaxBytes are
	// replica.fetch.wait.max.ms, replica.fetch.response.max.bytes and
	// replica.fetch.max.bytes (0: 500ms, 10 MiB, 1 MiB). FetchBackoff is
	// replica.fetch.backoff.ms (0: 1s), after a failed fetch.
	FetchMaxWait           time.Duration
	FetchMaxBytes          int32
	FetchPartitionMaxBytes int32
	FetchBackoff           time.Duration
	// Throttled returns a topic's leader.replication.throttled.replicas and
	// follower.replication.throttled.replicas from its config overrides, and Rates this
	// broker's leader.replication.throttled.rate and follower.replication.throttled.rate
	// (nil: no throttling).
	Throttled func(overrides map[string]string) (leader, follower []string)
	Rates     func() (leader, follower int64)
}

// NewManager returns a Manager over logs, reading the current image with image.
func NewManager(nodeID int32, logs *storage.Manager, image func() *metadata.Image, logConfig LogConfig, logger *slog.Logger) *Manager {
	m := &Manager{
		nodeID:    nodeID,
		logs:      logs,
		image:     image,
		logConfig: logConfig,
		logger:    logger,
		parts:     make(map[storage.TopicPartition]*Partition),
		fetchers:  make(map[int32]*fetcher),
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.followKick = make(chan struct{}, 1)
	m.wg.Add(1)
	go m.followLoop()
	return m
}

// followLoop runs follow with the newest image each time Apply hands one over.
func (m *Manager) followLoop() {
	defer m.wg.Done()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-m.followKick:
		}
		if m.followImg.Load() != nil {
			m.follow(m.image()) // the newest, which may be past the one handed over
		}
	}
}

// SetReplication configures replication; call it before Open.
func (m *Manager) SetReplication(r Replication) {
	if r.LagTimeMax <= 0 {
		r.LagTimeMax = 30 * time.Second
	}
	if r.FetchMaxWait <= 0 {
		r.FetchMaxWait = 500 * time.Millisecond
	}
	if r.FetchMaxBytes <= 0 {
		r.FetchMaxBytes = 10 << 20
	}
	if r.FetchPartitionMaxBytes <= 0 {
		r.FetchPartitionMaxBytes = 1 << 20
	}
	if r.FetchBackoff <= 0 {
		r.FetchBackoff = time.Second
	}
	m.repl = r
	m.wg.Add(1)
	go m.shrinkLoop()
}

// Close stops the replica fetchers and the ISR checks.
func (m *Manager) Close() {
	m.cancel()
	m.fetchMu.Lock()
	for _, f := range m.fetchers {
		f.stop()
	}
	m.fetchers = map[int32]*fetcher{}
	m.fetchMu.Unlock()
	m.wg.Wait()
}

// Partition returns the hosted partition of topic, opening its log on first
// use. It answers UNKNOWN_TOPIC_OR_PARTITION when the image has no such
// partition and NOT_LEADER_OR_FOLLOWER when this node does not lead it.
func (m *Manager) Partition(topic string, partition int32) (*Partition, error) {
	img := m.image()
	t, ok := img.Topics[topic]
	if !ok {
		return nil, kerr.UnknownTopicOrPartition
	}
	return m.partitionOf(t, partition)
}

// PartitionByID is Partition for a topic named by its ID; an unknown ID is
// UNKNOWN_TOPIC_ID.
func (m *Manager) PartitionByID(id [16]byte, partition int32) (*Partition, error) {
	img := m.image()
	t, ok := img.TopicsByID[id]
	if !ok {
		return nil, kerr.UnknownTopicID
	}
	return m.partitionOf(t, partition)
}

func (m *Manager) partitionOf(t *metadata.Topic, partition int32) (*Partition, error) {
	if partition < 0 || int(partition) >= len(t.Partitions) {
		return nil, kerr.UnknownTopicOrPartition
	}
	pm := t.Partitions[partition]
	if pm.Leader != m.nodeID || (m.repl.LeaseLapsed != nil && m.repl.LeaseLapsed()) {
		return nil, kerr.NotLeaderForPartition
	}
	p, err := m.open(t, partition)
	if err != nil {
		return nil, err
	}
	p.setLeaderEpoch(pm.LeaderEpoch)
	return p, nil
}

// open returns the hosted partition of t, opening its log and taking its state from
// the image on first use.
func (m *Manager) open(t *metadata.Topic, partition int32) (*Partition, error) {
	tp := storage.TopicPartition{Topic: t.Name, Partition: partition}
	m.mu.RLock()
	p, ok := m.parts[tp]
	m.mu.RUnlock()
	if ok && p.topicID == t.ID {
		return p, nil
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.parts[tp]; ok && p.topicID == t.ID {
		return p, nil
	}
	if m.image().TopicsByID[t.ID] == nil {
		// Deleted meanwhile (Apply removes partitions under m.mu): do not create
		// its log again.
		return nil, kerr.UnknownTopicID
	}
	cfg, err := m.logConfig(t.Configs)
	if err != nil {
		return nil, fmt.Errorf("config of %s: %w", t.Name, err)
	}
	l, err := m.logs.GetOrCreate(tp, t.ID, cfg)
	if err != nil {
		return nil, fmt.Errorf("open log of %s-%d: %w", tp.Topic, tp.Partition, err)
	}
	pm := t.Partitions[partition]
	p = &Partition{tp: tp, topicID: t.ID, log: l, self: m.nodeID, leader: -2, leaderEpoch: -1}
	p.alter = m.alterFunc(p)
	p.applyState(m.stateOf(t, pm), time.Now())
	if pm.Leader == m.nodeID {
		if err := l.AssignLeaderEpoch(pm.LeaderEpoch); err != nil {
			return nil, err
		}
	}
	// A leader whose ISR is itself alone has every replica's log end: its
	// own. The checkpointed high watermark may lag it after an unclean
	// stop, and nothing else would raise it until the next append, hiding
	// acknowledged records; Kafka's makeLeader raises it the same way.
	p.maybeAdvanceHW()
	m.parts[tp] = p
	return p, nil
}

func (m *Manager) stateOf(t *metadata.Topic, pm metadata.Partition) partitionState {
	minISR := 1
	if m.repl.MinISR != nil {
		minISR = m.repl.MinISR(t.Configs)
	}
	st := partitionState{
		leader: pm.Leader, leaderEpoch: pm.LeaderEpoch, partitionEpoch: pm.PartitionEpoch,
		replicas: pm.Replicas, isr: pm.ISR, minISR: minISR,
	}
	if m.repl.Throttled != nil {
		st.leaderThrottled, st.followerThrottled = m.repl.Throttled(t.Configs)
	}
	return st
}

func (p *Partition) setLeaderEpoch(e int32) {
	p.mu.RLock()
	same := p.leaderEpoch == e
	p.mu.RUnlock()
	if same {
		return
	}
	p.mu.Lock()
	p.leaderEpoch = e
	p.mu.Unlock()
}

// Open opens the logs of every partition this node hosts in the image, so
// that their data is served and their state recovered before clients come,
// and deletes logs the image no longer has: a topic deleted (or deleted and
// re-created) while this node was down.
func (m *Manager) Open(img *metadata.Image) error {
	var errs []error
	for _, l := range m.logs.Logs() {
		tp := l.TopicPartition()
		t, ok := img.Topics[tp.Topic]
		if ok && t.ID == l.TopicID() && int(tp.Partition) < len(t.Partitions) &&
			slices.Contains(t.Partitions[tp.Partition].Replicas, m.nodeID) {
			continue
		}
		m.logger.Info("deleting the log of a partition the metadata no longer has", "topic", tp.Topic, "partition", tp.Partition)
		if err := m.logs.Delete(tp); err != nil {
			errs = append(errs, err)
		}
	}
	m.follow(img)
	for _, t := range img.Topics {
		for i := range t.Partitions {
			if t.Partitions[i].Leader != m.nodeID {
				continue
			}
			if _, err := m.partitionOf(t, int32(i)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Apply brings the hosted partitions in line with a new image: partitions of
// deleted topics (or of a topic re-created under a new ID) are closed and
// their logs deleted, and config changes reach the logs.
func (m *Manager) Apply(prev, next *metadata.Image) {
	m.mu.Lock()
	var gone []storage.TopicPartition
	for tp, p := range m.parts {
		t, ok := next.Topics[tp.Topic]
		if !ok || t.ID != p.topicID || int(tp.Partition) >= len(t.Partitions) ||
			!slices.Contains(t.Partitions[tp.Partition].Replicas, m.nodeID) {
			// Deleted, re-created, or reassigned away from this broker.
			gone = append(gone, tp)
			delete(m.parts, tp)
			p.abandon()
			continue
		}
		if pt, ok := prev.Topics[tp.Topic]; ok && !sameConfigs(pt.Configs, t.Configs) {
			cfg, err := m.logConfig(t.Configs)
			if err != nil {
				m.logger.Warn("bad topic config in metadata", "topic", tp.Topic, "err", err)
				continue
			}
			if err := p.log.SetConfig(cfg); err != nil {
				m.logger.Warn("apply topic config", "topic", tp.Topic, "partition", tp.Partition, "err", err)
			}
		}
	}
	m.mu.Unlock()
	for _, tp := range gone {
		m.unfollow(tp)
		if err := m.logs.Delete(tp); err != nil {
			m.logger.Warn("delete log", "topic", tp.Topic, "partition", tp.Partition, "err", err)
		}
	}
	m.followImg.Store(next)
	select {
	case m.followKick <- struct{}{}:
	default:
	}
}

func sameConfigs(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// LeaderThrottled reports whether a fetch by follower of p counts against this broker's
// leader.replication.throttled.rate (p lists the replica, and it is out of sync), and
// whether that budget is spent: the fetch then gets no records for p this time.
func (m *Manager) LeaderThrottled(p *Partition, follower int32) (throttled, spent bool) {
	if !p.throttled(follower, true) {
		return false, false
	}
	now := time.Now()
	if m.repl.Rates != nil {
		rate, _ := m.repl.Rates()
		m.leaderQuota.setRate(rate, now)
	}
	spent, _ = m.leaderQuota.exceeded(now)
	return true, spent
}

// RecordLeaderThrottled counts bytes sent to a throttled replica.
func (m *Manager) RecordLeaderThrottled(n int) { m.leaderQuota.record(n, time.Now()) }
