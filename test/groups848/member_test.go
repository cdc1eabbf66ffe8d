package groups848

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The members of the tests are franz-go group consumers run the way an at-least-once
// application runs them: BlockRebalanceOnPoll, so that a revocation never lands while
// polled records are being processed; offsets committed synchronously after processing
// (every commitEvery) and in OnPartitionsRevoked, before the partitions are given up.
// Everything they see is written to a shared history with the time it happened, so that
// the checks can put all members on one time line.

// Callback kinds.
const (
	assigned = "assigned"
	revoked  = "revoked"
	lost     = "lost"
)

// callback is one OnPartitionsAssigned / OnPartitionsRevoked / OnPartitionsLost call
// of one member, with the partitions of the test's topic it named.
type callback struct {
	member     int
	kind       string
	partitions []int32
	start, end time.Time
}

// consumption is one record a member processed.
type consumption struct {
	member    int
	partition int32
	offset    int64
	seq       int64 // the producer's sequence number for the partition, from the value
	at        time.Time
}

// commitResult is the outcome of committing one partition's offset.
type commitResult struct {
	member    int
	partition int32
	offset    int64 // the offset committed: the next one to consume
	err       error
	why       string // "poll" or "revoke"
	at        time.Time
}

// history is what every member saw, in the order it happened.
type history struct {
	topic string

	mu        sync.Mutex
	callbacks []callback
	consumed  []consumption
	commits   []commitResult
	errs      []string
	owned     map[int]map[int32]bool // member -> partitions it owns now, by its callbacks
	lastCB    time.Time              // end of the latest callback
}

func newHistory(topic string) *history {
	return &history{topic: topic, owned: map[int]map[int32]bool{}}
}

func (h *history) addCallback(cb callback) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.callbacks = append(h.callbacks, cb)
	own := h.owned[cb.member]
	if own == nil {
		own = map[int32]bool{}
		h.owned[cb.member] = own
	}
	for _, p := range cb.partitions {
		if cb.kind == assigned {
			own[p] = true
		} else {
			delete(own, p)
		}
	}
	h.lastCB = cb.end
}

func (h *history) addError(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errs = append(h.errs, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
}

// ownership returns what each member owns now, by its callbacks.
func (h *history) ownership() map[int][]int32 {
	owned, _ := h.ownershipAndLast()
	return owned
}

// ownershipAndLast returns what each member owns now, by its callbacks, and when the
// latest callback ended.
func (h *history) ownershipAndLast() (map[int][]int32, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[int][]int32{}
	for m, ps := range h.owned {
		for p := range ps {
			out[m] = append(out[m], p)
		}
		slices.Sort(out[m])
	}
	return out, h.lastCB
}

// consumedUpTo returns, per partition, the highest offset consumed so far.
func (h *history) consumedUpTo() map[int32]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[int32]int64{}
	for _, c := range h.consumed {
		if o, ok := out[c.partition]; !ok || c.offset > o {
			out[c.partition] = c.offset
		}
	}
	return out
}

// snapshot copies what has been recorded so far.
func (h *history) snapshot() (cbs []callback, cons []consumption, commits []commitResult, errs []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.callbacks), slices.Clone(h.consumed), slices.Clone(h.commits), slices.Clone(h.errs)
}

// requestCounter counts the group requests a client wrote: a KIP-848 member sends
// ConsumerGroupHeartbeat (68) and never JoinGroup (11).
type requestCounter struct {
	joinGroup, consumerHeartbeat, classicHeartbeat atomic.Int64
}

// heartbeats counts the heartbeats of either protocol.
func (c *requestCounter) heartbeats() int64 {
	return c.consumerHeartbeat.Load() + c.classicHeartbeat.Load()
}

func (c *requestCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil {
		return
	}
	switch key {
	case 11:
		c.joinGroup.Add(1)
	case 12:
		c.classicHeartbeat.Add(1)
	case 68:
		c.consumerHeartbeat.Add(1)
	}
}

// Group protocols a member can use.
const (
	protoConsumer = "consumer" // KIP-848, assignor "uniform"
	protoClassic  = "classic"  // JoinGroup/SyncGroup, cooperative-sticky in the client
)

// memberConfig says how to run a member.
type memberConfig struct {
	seeds    []string
	group    string
	protocol string
	// heartbeat is the classic protocol's heartbeat.interval.ms (the consumer protocol's
	// comes from the broker); 0 leaves franz-go's default.
	heartbeat time.Duration
	// commitEvery is how often processed offsets are committed after a poll; 0 commits
	// only on revocation.
	commitEvery time.Duration
	// noConsume runs a member that only tracks its assignment: no records are expected.
	noConsume bool
	// beforeRevokeCommit, if set, runs in OnPartitionsRevoked before the commit, for
	// partitions that are being revoked (not at the end of a session that revokes none).
	beforeRevokeCommit func(m *member, ps []int32)
	// extra are more client options, applied last.
	extra []kgo.Opt
}

// member is one group consumer of the test's topic.
type member struct {
	t    testing.TB
	id   int
	cfg  memberConfig
	h    *history
	cl   *kgo.Client
	reqs requestCounter
	done chan struct{} // closed when the poll loop has returned

	closeOnce sync.Once
}

// startMember creates member id and starts its poll loop. The test's end closes it
// (leaving the group) if the test has not.
func startMember(t testing.TB, id int, h *history, cfg memberConfig) *member {
	t.Helper()
	m := &member{t: t, id: id, cfg: cfg, h: h, done: make(chan struct{})}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.seeds...),
		kgo.ClientID(fmt.Sprintf("member-%d", id)),
		kgo.ConsumerGroup(cfg.group),
		kgo.ConsumeTopics(h.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.DialTimeout(2 * time.Second),
		kgo.WithHooks(&m.reqs),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, as map[string][]int32) {
			now := time.Now()
			if ps := as[h.topic]; len(ps) > 0 {
				h.addCallback(callback{member: id, kind: assigned, partitions: slices.Sorted(slices.Values(ps)), start: now, end: now})
			}
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, _ *kgo.Client, rs map[string][]int32) {
			start := time.Now()
			ps := slices.Sorted(slices.Values(rs[h.topic]))
			if len(ps) > 0 && cfg.beforeRevokeCommit != nil {
				cfg.beforeRevokeCommit(m, ps)
			}
			if !cfg.noConsume {
				m.commit(ctx, "revoke")
			}
			if len(ps) > 0 {
				h.addCallback(callback{member: id, kind: revoked, partitions: ps, start: start, end: time.Now()})
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, ls map[string][]int32) {
			now := time.Now()
			if ps := ls[h.topic]; len(ps) > 0 {
				h.addCallback(callback{member: id, kind: lost, partitions: slices.Sorted(slices.Values(ps)), start: now, end: now})
			}
		}),
	}
	switch cfg.protocol {
	case protoConsumer:
		opts = append(opts, kgo.ServerSideBalancer())
	case protoClassic:
		if cfg.heartbeat > 0 {
			opts = append(opts, kgo.HeartbeatInterval(cfg.heartbeat))
		}
	default:
		t.Fatalf("unknown group protocol %q", cfg.protocol)
	}
	cl, err := kgo.NewClient(append(opts, cfg.extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	go m.poll()
	t.Cleanup(m.close)
	return m
}

// poll processes records until the client is closed.
func (m *member) poll() {
	defer close(m.done)
	lastCommit := time.Now()
	for {
		fs := m.cl.PollFetches(context.Background())
		if fs.IsClientClosed() {
			return
		}
		now := time.Now()
		fs.EachError(func(topic string, p int32, err error) {
			m.h.addError("member %d: fetch %s[%d]: %v", m.id, topic, p, err)
		})
		var batch []consumption
		fs.EachRecord(func(r *kgo.Record) {
			seq, err := strconv.ParseInt(string(r.Value), 10, 64)
			if err != nil || r.Topic != m.h.topic {
				m.h.addError("member %d: record %s[%d]@%d with value %q", m.id, r.Topic, r.Partition, r.Offset, r.Value)
				seq = -1
			}
			batch = append(batch, consumption{member: m.id, partition: r.Partition, offset: r.Offset, seq: seq, at: now})
		})
		if len(batch) > 0 {
			m.h.mu.Lock()
			m.h.consumed = append(m.h.consumed, batch...)
			m.h.mu.Unlock()
		}
		if m.cfg.commitEvery > 0 && time.Since(lastCommit) >= m.cfg.commitEvery {
			m.commit(context.Background(), "poll")
			lastCommit = time.Now()
		}
		m.cl.AllowRebalance()
	}
}

// commit commits, synchronously, the offsets of every record processed and not yet
// committed, and records each partition's outcome.
func (m *member) commit(ctx context.Context, why string) {
	offsets := m.cl.UncommittedOffsets()
	if len(offsets) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	m.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		at := time.Now()
		perPartition := map[int32]error{}
		if resp != nil {
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					if rt.Topic == m.h.topic {
						perPartition[rp.Partition] = kerr.ErrorForCode(rp.ErrorCode)
					}
				}
			}
		}
		m.h.mu.Lock()
		defer m.h.mu.Unlock()
		for _, rt := range req.Topics {
			if rt.Topic != m.h.topic {
				continue
			}
			for _, rp := range rt.Partitions {
				e := err
				if e == nil {
					var answered bool
					e, answered = perPartition[rp.Partition]
					if !answered {
						e = fmt.Errorf("no answer for partition %d", rp.Partition)
					}
				}
				m.h.commits = append(m.h.commits, commitResult{member: m.id, partition: rp.Partition, offset: rp.Offset, err: e, why: why, at: at})
				if e != nil {
					m.h.errs = append(m.h.errs, fmt.Sprintf("%s member %d: %s commit of partition %d at %d: %v",
						at.Format("15:04:05.000"), m.id, why, rp.Partition, rp.Offset, e))
				}
			}
		}
	})
}

// leaveTimeout bounds a member's leave.
const leaveTimeout = 30 * time.Second

// close leaves the group (revoking, and so committing, everything the member owns)
// and waits for the poll loop to end; a member that has not left within leaveTimeout
// fails the test, and is left behind.
func (m *member) close() {
	m.closeOnce.Do(func() {
		closed := make(chan struct{})
		go func() {
			m.cl.Close()
			<-m.done
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(leaveTimeout):
			m.t.Errorf("member %d has not left the group %v after being closed", m.id, leaveTimeout)
		}
	})
}

// producer writes records to every partition of a topic at a steady pace, each record's
// value being its sequence number within its partition, and keeps the offset of every
// acknowledged record.
type producer struct {
	cl         *kgo.Client
	topic      string
	partitions int32
	interval   time.Duration

	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	acked   map[int32]map[int64]int64 // partition -> offset -> sequence
	maxAck  map[int32]int64           // partition -> highest acknowledged offset
	failed  []string
	nextSeq []int64
}

// startProducer produces one record to each partition every interval until stopped.
func startProducer(t testing.TB, seeds []string, topic string, partitions int32, interval time.Duration) *producer {
	t.Helper()
	cl := newClient(t, seeds,
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
	)
	ctx, cancel := context.WithCancel(context.Background())
	p := &producer{
		cl: cl, topic: topic, partitions: partitions, interval: interval, cancel: cancel, done: make(chan struct{}),
		acked: map[int32]map[int64]int64{}, maxAck: map[int32]int64{}, nextSeq: make([]int64, partitions),
	}
	go p.run(ctx)
	t.Cleanup(p.stop)
	return p
}

func (p *producer) run(ctx context.Context) {
	defer close(p.done)
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	for {
		for part := range p.partitions {
			seq := p.nextSeq[part]
			p.nextSeq[part]++
			r := &kgo.Record{Partition: part, Value: []byte(strconv.FormatInt(seq, 10))}
			p.cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
				p.mu.Lock()
				defer p.mu.Unlock()
				if err != nil {
					p.failed = append(p.failed, fmt.Sprintf("partition %d seq %d: %v", r.Partition, seq, err))
					return
				}
				if p.acked[r.Partition] == nil {
					p.acked[r.Partition] = map[int64]int64{}
				}
				p.acked[r.Partition][r.Offset] = seq
				if o, ok := p.maxAck[r.Partition]; !ok || r.Offset > o {
					p.maxAck[r.Partition] = r.Offset
				}
			})
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// stop ends production and waits until every record sent is acknowledged or failed.
func (p *producer) stop() {
	p.cancel()
	<-p.done
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_ = p.cl.Flush(ctx)
}

// highest returns the highest acknowledged offset of each partition so far.
func (p *producer) highest() map[int32]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int32]int64, len(p.maxAck))
	for k, v := range p.maxAck {
		out[k] = v
	}
	return out
}

// ackedRecords returns every acknowledged record: partition -> offset -> sequence.
func (p *producer) ackedRecords() (map[int32]map[int64]int64, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int32]map[int64]int64, len(p.acked))
	for part, m := range p.acked {
		c := make(map[int64]int64, len(m))
		for o, s := range m {
			c[o] = s
		}
		out[part] = c
	}
	return out, slices.Clone(p.failed)
}
