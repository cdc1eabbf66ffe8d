package groups848

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCoordinatorFailoverMidRebalance: on three nodes (__consumer_offsets and the topic
// replicated three times, min.insync.replicas=2), three members consume a 12-partition
// topic while records flow. Three more join; the first members' OnPartitionsRevoked
// holds until the group's coordinator has been killed with SIGKILL, so the kill lands
// while the group is reconciling, with revocations unacknowledged and their commits not
// yet sent. Then:
//
//   - the group recovers on another broker: the same six members (none fenced, none
//     losing its partitions), every partition assigned once, ConsumerGroupDescribe
//     Stable, and consumption resumes on every partition;
//   - committed offsets are intact: no offset read from the group ever went backwards,
//     none is behind a commit acknowledged before the kill, and once the members have
//     drained the topic and left, every partition's committed offset is its end;
//   - the ownership checks of TestJoinLeaveNoDoubleOwnership hold across the failover.
func TestCoordinatorFailoverMidRebalance(t *testing.T) {
	const (
		partitions = 12
		topic      = "failover"
		group      = "failover-group"
	)
	settings := append(slices.Clone(fastGroups),
		// Fence a dead broker quickly, so that leadership moves off it soon.
		"broker.session.timeout.ms=2500",
		"broker.heartbeat.interval.ms=500",
		"offsets.topic.replication.factor=3",
		"offsets.topic.num.partitions=6",
		"min.insync.replicas=2",
	)
	c := startCluster(t, 3, settings...)
	seeds := c.Bootstrap()
	for _, addr := range seeds {
		requireKIP848(t, addr)
	}
	admCl := newClient(t, seeds, failoverClientOpts...)
	adm := kadm.NewClient(admCl)
	createTopic(t, adm, topic, partitions, 3, nil)

	prod := startProducer(t, seeds, topic, partitions, produceInterval)
	h := newHistory(topic)

	// Once armed, the first members hold their revocations until gate opens.
	var armed atomic.Bool
	gate := make(chan struct{})
	var openGate sync.Once
	blocked := make(chan int, 8)
	cfg := memberConfig{
		seeds: seeds, group: group, protocol: protoConsumer, commitEvery: 250 * time.Millisecond,
	}
	gated := cfg
	gated.beforeRevokeCommit = func(m *member, ps []int32) {
		if !armed.Load() {
			return
		}
		select {
		case blocked <- m.id:
		default:
		}
		<-gate
	}
	// Members retry group requests for up to about a minute: long enough to ride out
	// the coordinator's failover.
	var all []*member
	for id := 1; id <= 3; id++ {
		all = append(all, startMemberRetrying(t, id, h, gated))
	}
	// (Registered after the members, so run before they are closed.)
	t.Cleanup(func() { openGate.Do(func() { close(gate) }) })
	waitConverged(t, adm, h, group, partitions, all, 30*time.Second)
	waitFlow(t, prod, h, 20*time.Second)
	requireConsumerGroup(t, admCl, group, all)

	mon := startCommitMonitor(adm, group, topic)
	t.Cleanup(mon.stop)

	coord := coordinatorOf(t, adm, group)
	before, err := describeGroup(context.Background(), adm, group)
	if err != nil {
		t.Fatal(err)
	}
	if before.Coordinator.NodeID != coord {
		t.Fatalf("FindCoordinator names node %d, ConsumerGroupDescribe was answered by node %d", coord, before.Coordinator.NodeID)
	}
	t.Logf("coordinator of %s: node %d; group epoch %d", group, coord, before.Epoch)

	armed.Store(true)
	for id := 4; id <= 6; id++ {
		all = append(all, startMemberRetrying(t, id, h, cfg))
	}
	select {
	case id := <-blocked:
		t.Logf("member %d is revoking partitions for the joins", id)
	case <-time.After(20 * time.Second):
		t.Fatal("no member was asked to revoke partitions within 20s of three members joining")
	}
	mid, err := describeGroup(context.Background(), adm, group)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("before the kill: state %s, group epoch %d, assignment epoch %d, %d members", mid.State, mid.Epoch, mid.AssignmentEpoch, len(mid.Members))
	if mid.State == "Stable" || mid.Epoch <= before.Epoch {
		t.Fatalf("the group is not reconciling after the joins: state %s, epoch %d (was %d)", mid.State, mid.Epoch, before.Epoch)
	}
	ackedBeforeKill := maxAckedCommits(h)

	killCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	killedAt := time.Now()
	if err := c.Node(coord).Kill(killCtx); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed node %d (SIGKILL)", coord)
	openGate.Do(func() { close(gate) })

	recovered := waitConvergedOr(t, adm, h, group, partitions, all, 90*time.Second, func() {
		logState(t, adm, h, group)
		logCoordinatorViews(t, c, group)
		logGroupLines(t, c, group, 40)
	})
	newCoord := coordinatorOf(t, adm, group)
	t.Logf("group converged on node %d %v after the kill", newCoord, recovered.Sub(killedAt).Round(time.Millisecond))
	if newCoord == coord {
		t.Errorf("FindCoordinator still names the killed node %d", coord)
	}
	waitFlow(t, prod, h, 30*time.Second)
	t.Logf("consumption resumed on every partition %v after the kill", time.Since(killedAt).Round(time.Millisecond))
	requireConsumerGroup(t, admCl, group, all)

	ctx, cancelCtx := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancelCtx()
	after, err := committedOffsets(ctx, adm, group, topic)
	if err != nil {
		t.Fatalf("committed offsets after the failover: %v", err)
	}
	var problems []string
	for p, o := range ackedBeforeKill {
		if after[p] < o {
			problems = append(problems, fmt.Sprintf("partition %d: committed offset %d after the failover, %d was acknowledged before it", p, after[p], o))
		}
	}

	// Drain and leave: each member commits what it consumed as it leaves.
	prod.stop()
	waitFlow(t, prod, h, 30*time.Second)
	for _, m := range all {
		m.close()
	}
	end := time.Now()
	mon.stop()

	acked, failed := prod.ackedRecords()
	if len(failed) > 0 {
		t.Errorf("%d records not acknowledged, first: %s", len(failed), failed[0])
	}
	final, err := committedOffsets(ctx, adm, group, topic)
	if err != nil {
		t.Fatalf("committed offsets at the end: %v", err)
	}
	for p := range int32(partitions) {
		if want := prod.highest()[p] + 1; final[p] != want {
			problems = append(problems, fmt.Sprintf("partition %d: committed offset %d once drained, its end is %d", p, final[p], want))
		}
	}
	problems = append(problems, mon.backwards()...)
	t.Logf("commit monitor: %d reads of the committed offsets, %d failed %q", mon.reads, mon.failures, mon.errs)

	cbs, cons, commits, errs := h.snapshot()
	for _, e := range errs {
		t.Logf("seen by a member: %s", e)
	}
	for _, cb := range cbs {
		if cb.kind == lost {
			problems = append(problems, fmt.Sprintf("member %d lost partitions %v at %s: the new coordinator did not recover it",
				cb.member, cb.partitions, cb.start.Format("15:04:05.000")))
		}
	}
	ivs, ivProblems := intervals(cbs, end)
	problems = append(problems, ivProblems...)
	problems = append(problems, checkExclusive(ivs)...)
	byIv, outside := splitByInterval(ivs, cons)
	problems = append(problems, outside...)
	problems = append(problems, checkMissed(acked, cons)...)
	rep, handoffProblems := checkHandoffs(ivs, byIv, commits)
	problems = append(problems, handoffProblems...)
	problems = append(problems, checkCommitsMonotonic(commits)...)
	t.Logf("handovers: %d clean, %d unclean, %d records consumed twice after unclean ones", rep.clean, rep.unclean, rep.duplicates)
	if len(problems) > 0 {
		t.Errorf("%d problems:\n%s", len(problems), joinLines(problems))
	}
}

// startMemberRetrying starts a member whose requests retry, backing off up to a
// second, for about a minute, and that refreshes its metadata every second (see
// failoverClientOpts).
func startMemberRetrying(t testing.TB, id int, h *history, cfg memberConfig) *member {
	t.Helper()
	cfg.extra = append(append(cfg.extra, failoverClientOpts...),
		kgo.RequestRetries(60),
		kgo.RetryBackoffFn(func(n int) time.Duration { return min(time.Duration(n)*100*time.Millisecond, time.Second) }),
	)
	return startMember(t, id, h, cfg)
}

// failoverClientOpts make a franz-go client forget a dead coordinator within about a
// second of the cluster fencing it. franz-go v1.22.2 keeps a group's coordinator
// cached while ConsumerGroupHeartbeats (and sharded requests such as
// ConsumerGroupDescribe) fail to dial it; only a NOT_COORDINATOR-like error, a failed
// OffsetCommit or similar, or a metadata refresh that no longer lists the broker makes
// it ask FindCoordinator again (Kafka's Java client marks the coordinator unknown on a
// disconnect). A member that owns no partitions commits nothing and triggers no
// refresh, so without these options it heartbeats the dead broker until the default
// metadata max age (5 minutes) while the new coordinator expires its session.
var failoverClientOpts = []kgo.Opt{
	kgo.MetadataMaxAge(time.Second),
	kgo.MetadataMinAge(250 * time.Millisecond),
}

// maxAckedCommits returns, per partition, the highest commit acknowledged so far.
func maxAckedCommits(h *history) map[int32]int64 {
	_, _, commits, _ := h.snapshot()
	out := map[int32]int64{}
	for _, c := range commits {
		if c.err == nil && c.offset > out[c.partition] {
			out[c.partition] = c.offset
		}
	}
	return out
}

// commitMonitor reads the group's committed offsets every 100 ms, through whichever
// broker coordinates the group, and keeps what it read.
type commitMonitor struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	// Written by the monitor's goroutine; read after stop.
	samples  []commitSample
	reads    int
	failures int
	errs     []string // the first failures
}

type commitSample struct {
	at      time.Time
	offsets map[int32]int64
}

func startCommitMonitor(adm *kadm.Client, group, topic string) *commitMonitor {
	ctx, cancel := context.WithCancel(context.Background())
	m := &commitMonitor{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
			offs, err := committedOffsets(rctx, adm, group, topic)
			rcancel()
			m.reads++
			if err != nil {
				m.failures++
				if len(m.errs) < 5 {
					m.errs = append(m.errs, time.Now().Format("15:04:05.000 ")+err.Error())
				}
			} else {
				m.samples = append(m.samples, commitSample{at: time.Now(), offsets: offs})
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return m
}

func (m *commitMonitor) stop() {
	m.once.Do(func() {
		m.cancel()
		<-m.done
	})
}

// backwards reports every committed offset the monitor read that was lower than one
// it read before.
func (m *commitMonitor) backwards() []string {
	var problems []string
	high := map[int32]commitSample{}
	for _, s := range m.samples {
		for p, o := range s.offsets {
			if h, ok := high[p]; ok && o < h.offsets[p] {
				problems = append(problems, fmt.Sprintf("partition %d: committed offset read as %d at %s, after %d at %s",
					p, o, s.at.Format("15:04:05.000"), h.offsets[p], h.at.Format("15:04:05.000")))
				continue
			}
			high[p] = s
		}
	}
	return problems
}
