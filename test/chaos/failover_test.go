package chaos

import (
	"slices"
	"testing"
	"time"
)

// failoverSettings make failover quick but realistic. Kafka's defaults are tuned for
// long garbage-collection pauses of a JVM; these are what an operator of a Go broker
// on a good network might choose, and they keep a test's faults short:
//
//   - broker.session.timeout.ms=3000 (Kafka 9000): a broker that stops heartbeating
//     is fenced after 3 s, and the controller moves its leaderships;
//   - broker.heartbeat.interval.ms=500 (Kafka 2000): six heartbeats per session;
//   - replica.lag.time.max.ms=5000 (Kafka 30000): a follower that stops fetching
//     leaves the ISR after 5 s, so acks=all waits at most that long on a dead
//     follower;
//   - controller.quorum.election.timeout.ms=1000 (Kafka's default): a dead
//     controller is replaced within about a second.
var failoverSettings = []string{
	"broker.session.timeout.ms=3000",
	"broker.heartbeat.interval.ms=500",
	"replica.lag.time.max.ms=5000",
	"controller.quorum.election.timeout.ms=1000",
}

// TestFailover is issue 10's failover test: three nodes, a topic of 4 partitions with
// replication factor 3 and min.insync.replicas=2, producers with acks=all and
// idempotence, consumers reading throughout, and one kind of fault per subtest, several
// times over:
//
//   - kill-leader: kill -9 of the broker that leads partition 0, restarted after
//     the failover;
//   - pause-leader: SIGSTOP of that broker, SIGCONT after the failover;
//   - isolate-leader: a network partition cutting it off from the other nodes
//     (clients still reach it), healed after the failover;
//   - cluster-restart: every node stopped at once and started again together,
//     gracefully (SIGTERM) and by kill -9 in turn.
//
// Before each fault the cluster settles: every partition led, all its replicas in
// sync. A leader fault is held until every partition the node led has acknowledged a
// record sent after the fault hit (a finding, failing the test, if that takes more
// than 30 s), then for up to a second more, so that the new leaders take writes
// while the old one is away. The checker must find nothing: no acknowledged record
// lost, duplicated or reordered, no offset with two values, linearizable partitions.
// Every fault's time to the first acknowledged write is logged.
//
// The default runs 3 of each leader fault and one of each full-cluster restart;
// SLUICE_LONG=1 runs 10 of each leader fault and 3 of each full-cluster restart.
func TestFailover(t *testing.T) {
	t.Parallel() // each run has its own nodes, network and directory; they mostly wait
	rounds := 3
	if long() {
		rounds = 10
	}
	cases := []struct {
		name   string
		seed   uint64
		faults []Fault
		count  int  // faults in all, taken in turn
		leader bool // aimed at the leader of partition 0, held until the failover
		netns  bool // needs network namespaces
	}{
		{name: "kill-leader", seed: 101, faults: []Fault{FaultKill}, count: rounds, leader: true},
		{name: "pause-leader", seed: 102, faults: []Fault{FaultPause}, count: rounds, leader: true},
		{name: "isolate-leader", seed: 103, faults: []Fault{FaultPartitionOne}, count: rounds, leader: true, netns: true},
		{name: "cluster-restart", seed: 104, faults: []Fault{FaultRestartAll, FaultKillAll}, count: 2 * max(1, rounds/3)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Side by side: each has its own nodes, network and directory, and
			// mostly waits (on the client's request timeout, on a session to expire).
			t.Parallel()
			if err := NetnsAvailable(); err != nil && tc.netns {
				t.Skipf("isolating a node needs network namespaces, which this machine cannot make: %v", err)
			}
			res := runChaos(t, Options{
				Nodes:    3,
				Settings: failoverSettings,
				// An upper bound: the run ends after count faults.
				Duration: time.Duration(tc.count) * 45 * time.Second,
				Quiet:    2 * time.Second,
				Seed:     testSeed(t, tc.seed),
				Nemesis: NemesisConfig{
					Faults:          tc.faults,
					Rotate:          true,
					Count:           tc.count,
					Interval:        time.Second,
					Hold:            time.Second,
					TargetLeader:    tc.leader,
					HoldForFailover: tc.leader,
					Settle:          true,
					ValidateLogs:    true,
					// A paused leader holds the producers' requests until they time out
					// (10 s + 5 s); a retry sent before the client's metadata shows the
					// new leader waits out a second timeout. The cluster fails over in
					// about 3 s (the session); 45 s leaves room for the client's two.
					ProgressTimeout: 45 * time.Second,
				},
			})
			checkFailover(t, res, tc.faults, tc.count, tc.leader)
		})
	}
}

// checkFailover asserts what a failover run must show: nothing wrong, every fault
// injected, writes back in every partition after each, and for a fault aimed at a
// leader, writes back in the partitions it led while it was still away.
func checkFailover(t *testing.T, res *Result, faults []Fault, count int, leader bool) {
	t.Helper()
	if !res.OK() {
		t.Errorf("run found problems: %v", res)
	}
	st := res.Summary.Stats
	if st.SendsOK == 0 || st.FinalRead < st.SendsOK {
		t.Errorf("final read %d records of %d acknowledged: %+v", st.FinalRead, st.SendsOK, st)
	}
	injected := 0
	for _, f := range faults {
		injected += st.Faults[string(f)]
	}
	if injected != count {
		t.Errorf("%d faults injected (%v), want %d", injected, st.Faults, count)
	}
	if res.Nodes != 3 {
		t.Errorf("%d nodes, want 3", res.Nodes)
	}
	for _, r := range st.Recovery {
		all := r.WriteMs()
		t.Logf("%s: led %v; writes back %.0f ms after it hit in the partitions it led, %.0f ms in all (%v); healed after %.0f ms, next ack %.0f ms later",
			r.Fault, r.Led, r.WriteMs(r.Led...), all, r.FirstWriteMs, r.HealMs, r.AckAfterHealMs)
		if all < 0 {
			t.Errorf("%s: some partition took no write after it: %v", r.Fault, r.FirstWriteMs)
		}
		if !leader {
			continue
		}
		if !slices.Contains(r.Led, 0) {
			t.Errorf("%s hit a node that led %v, not the leader of partition 0", r.Fault, r.Led)
			continue
		}
		if ms := r.WriteMs(r.Led...); ms < 0 || ms >= r.HealMs {
			t.Errorf("%s: the partitions it led (%v) took writes %.0f ms after it hit, not before its heal at %.0f ms: no failover",
				r.Fault, r.Led, ms, r.HealMs)
		}
	}
	for _, rs := range SummarizeRecovery(st.Recovery) {
		t.Logf("recovery: %v", rs)
	}
}
