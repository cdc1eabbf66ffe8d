package groups848

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// stayedGapBound bounds how long a partition that a join or leave did not move may go
// without being consumed while the group reconciles. Records arrive every
// produceInterval, so a healthy member consumes each partition every few tens of
// milliseconds; the bound is generous for a loaded 2-core machine, well below what a
// group that stopped all consumption for the rebalance would show under load.
const stayedGapBound = 2 * time.Second

// produceInterval is how often each partition gets a record.
const produceInterval = 20 * time.Millisecond

// TestJoinLeaveNoDoubleOwnership: six members join a 12-partition group one by one,
// then five leave one by one, while one record a partition is produced every 20 ms;
// the last member drains the topic and leaves. See the package comment and
// check_test.go for what is checked.
func TestJoinLeaveNoDoubleOwnership(t *testing.T) {
	c := startCluster(t, 1, fastGroups...)
	requireKIP848(t, c.Bootstrap()[0])
	runJoinLeave(t, c.Bootstrap(), protoConsumer)
}

// TestJoinLeaveClassicControl runs the same scenario on the classic protocol with the
// cooperative-sticky balancer, which gives the same guarantees: a control for the
// checks, and figures to compare the consumer protocol's with.
func TestJoinLeaveClassicControl(t *testing.T) {
	c := startCluster(t, 1, fastGroups...)
	runJoinLeave(t, c.Bootstrap(), protoClassic)
}

// runJoinLeave runs the join-and-leave scenario with members of protocol (the classic
// members heartbeat every 200 ms, as the broker asks the consumer protocol's to).
func runJoinLeave(t *testing.T, seeds []string, protocol string) {
	const (
		partitions = 12
		members    = 6
		topic      = "join-leave"
	)
	group := "join-leave-" + protocol
	admCl := newClient(t, seeds)
	adm := kadm.NewClient(admCl)
	createTopic(t, adm, topic, partitions, 1, nil)

	prod := startProducer(t, seeds, topic, partitions, produceInterval)
	h := newHistory(topic)
	cfg := memberConfig{seeds: seeds, group: group, protocol: protocol, heartbeat: 200 * time.Millisecond, commitEvery: 250 * time.Millisecond}

	var live []*member
	var phases []phase
	step := func(name string, id int, join bool, do func()) {
		start := time.Now()
		do()
		end := waitConverged(t, adm, h, group, partitions, live, 20*time.Second)
		phases = append(phases, phase{name: name, member: id, join: join, start: start, end: end})
		waitFlow(t, prod, h, 20*time.Second)
	}
	for id := 1; id <= members; id++ {
		step(fmt.Sprintf("member %d joins", id), id, true, func() {
			live = append(live, startMember(t, id, h, cfg))
		})
	}
	if protocol == protoConsumer {
		requireConsumerGroup(t, admCl, group, live)
	}
	for len(live) > 1 {
		m := live[0]
		step(fmt.Sprintf("member %d leaves", m.id), m.id, false, func() {
			live = live[1:]
			m.close()
		})
	}
	if protocol == protoConsumer {
		requireConsumerGroup(t, admCl, group, live)
	}

	// The last member drains what was produced, and leaves.
	prod.stop()
	waitFlow(t, prod, h, 20*time.Second)
	live[0].close()
	end := time.Now()

	v := verifyRun(t, prod, h, end)
	ivs, byIv, commits, cons, problems := v.ivs, v.byIv, v.commits, v.cons, v.problems
	rep, handoffProblems := checkHandoffs(ivs, byIv, commits)
	problems = append(problems, handoffProblems...)
	t.Logf("handovers: %d clean (revoked, commit acknowledged), %d unclean, %d records consumed twice after unclean ones",
		rep.clean, rep.unclean, rep.duplicates)

	for _, ph := range phases {
		pr := analysePhase(ph, partitions, ivs, cons)
		gap := "none stayed"
		if pr.gapPartition >= 0 {
			gap = fmt.Sprintf("longest pause of a partition that stayed %v (partition %d)", pr.longestGap.Round(time.Millisecond), pr.gapPartition)
		}
		t.Logf("%s: converged in %v; moved %v, stayed %v; %s",
			ph.name, ph.end.Sub(ph.start).Round(time.Millisecond), pr.moved, pr.stayed, gap)
		for _, w := range pr.wrongMoves {
			problems = append(problems, ph.name+": "+w)
		}
		if len(pr.churned) > 0 {
			problems = append(problems, fmt.Sprintf("%s: partitions %v were revoked and given back to the same member", ph.name, pr.churned))
		}
		if pr.longestGap > stayedGapBound {
			problems = append(problems, fmt.Sprintf("%s: partition %d, which did not move, was not consumed for %v (bound %v)",
				ph.name, pr.gapPartition, pr.longestGap.Round(time.Millisecond), stayedGapBound))
		}
	}
	if len(problems) > 0 {
		t.Errorf("%d problems:\n%s", len(problems), joinLines(problems))
	}
}

// verified is what verifyRun found: ownership intervals, consumptions split by them,
// commits, and the problems.
type verified struct {
	ivs      map[int32][]interval
	byIv     map[int32][][]consumption
	commits  []commitResult
	cons     []consumption
	problems []string
}

// verifyRun checks a finished run's history: every record acknowledged, no member
// fenced, no partition owned twice at once, nothing consumed outside its owner's
// interval, nothing acknowledged missed, commits never going back.
func verifyRun(t *testing.T, prod *producer, h *history, end time.Time) verified {
	t.Helper()
	acked, failed := prod.ackedRecords()
	cbs, cons, commits, errs := h.snapshot()
	for _, e := range errs {
		t.Logf("seen by a member: %s", e)
	}
	if len(failed) > 0 {
		t.Errorf("%d records not acknowledged, first: %s", len(failed), failed[0])
	}
	total := 0
	for _, m := range acked {
		total += len(m)
	}
	t.Logf("%d records acknowledged, %d consumptions, %d callbacks, %d commits", total, len(cons), len(cbs), len(commits))

	ivs, problems := intervals(cbs, end)
	for _, cb := range cbs {
		if cb.kind == lost {
			problems = append(problems, fmt.Sprintf("member %d lost partitions %v at %s: the coordinator fenced it",
				cb.member, cb.partitions, cb.start.Format("15:04:05.000")))
		}
	}
	problems = append(problems, checkExclusive(ivs)...)
	byIv, outside := splitByInterval(ivs, cons)
	problems = append(problems, outside...)
	problems = append(problems, checkMissed(acked, cons)...)
	problems = append(problems, checkCommitsMonotonic(commits)...)
	return verified{ivs: ivs, byIv: byIv, commits: commits, cons: cons, problems: problems}
}
