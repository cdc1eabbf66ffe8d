package cluster

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/test/chaos"
)

// TestCombinedNodes runs the checks on three nodes that are each broker and controller
// (process.roles=broker,controller): three voters, no observers.
func TestCombinedNodes(t *testing.T) {
	f := startCluster(t, 3, 0, snapshotSettings...)
	f.run(t)
}

// TestControllersAndBrokers runs the same checks on five nodes: three pure controllers
// (the voters, reachable only on their CONTROLLER listener) and two pure brokers, which
// follow the metadata log as observers.
func TestControllersAndBrokers(t *testing.T) {
	f := startCluster(t, 5, 3, snapshotSettings...)
	f.run(t)
}

// run walks one cluster through every check in turn; each step leaves every node
// running and in agreement for the next.
func (f *fixture) run(t *testing.T) {
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"every node agrees", f.testAgree},
		{"changes through any broker reach every node", f.testChangesThroughAnyBroker},
		{"clients produce to and fetch from each partition's leader", f.testClientsFollowLeaders},
		{"a killed broker is fenced, and unfenced when it returns", f.testFencing},
		{"killing the active controller elects another", f.testControllerFailover},
		{"a node restarted after many changes catches up, across a metadata snapshot", f.testRestartAfterSnapshot},
	}
	for _, s := range steps {
		start := time.Now()
		t.Run(s.name, s.run)
		t.Logf("%s: %v", s.name, time.Since(start).Round(time.Millisecond))
	}
}

// testAgree checks the freshly started cluster: every node (controllers on their
// CONTROLLER listener) describes the same quorum, with the controllers as voters and
// pure brokers as observers; every broker lists every broker and the same controller.
func (f *fixture) testAgree(t *testing.T) {
	ctx := f.ctx(t, 20*time.Second)
	st := f.waitAgree(t, ctx, "a fresh cluster to agree", func(st state) error {
		var brokers, observers []int32
		for _, n := range f.c.Nodes() {
			if n.IsBroker() {
				brokers = append(brokers, n.ID)
				if !n.IsController() {
					observers = append(observers, n.ID)
				}
			}
		}
		if got := st.meta.brokerIDs(); !slices.Equal(got, brokers) {
			return fmt.Errorf("brokers %v, want %v", got, brokers)
		}
		if !slices.Equal(st.quorum.Observers, observers) {
			return fmt.Errorf("observers %v, want the pure brokers %v", st.quorum.Observers, observers)
		}
		if st.quorum.HighWatermark <= 0 {
			return fmt.Errorf("high watermark %d: the brokers' registrations are not committed", st.quorum.HighWatermark)
		}
		return nil
	})
	t.Logf("quorum: %s", quorumString(st.quorum))
	t.Logf("metadata: %s", st.meta)

	// Every version of DescribeQuorum, from every node, names the same leader; v2 also
	// describes the voters' CONTROLLER endpoints.
	for _, n := range f.running() {
		for v := int16(0); v <= 2; v++ {
			resp, err := describeQuorum(ctx, quorumAddr(n), v)
			if err != nil {
				t.Errorf("node %d: %v", n.ID, err)
				continue
			}
			p := resp.Topics[0].Partitions[0]
			if p.LeaderID != st.quorum.LeaderID || p.LeaderEpoch != st.quorum.LeaderEpoch {
				t.Errorf("node %d, DescribeQuorum v%d: leader %d epoch %d, want %d and %d", n.ID, v, p.LeaderID, p.LeaderEpoch, st.quorum.LeaderID, st.quorum.LeaderEpoch)
			}
			if v < 2 {
				continue
			}
			endpoints := map[int32]string{}
			for _, node := range resp.Nodes {
				for _, l := range node.Listeners {
					endpoints[node.NodeID] = fmt.Sprintf("%s %s:%d", l.Name, l.Host, l.Port)
				}
			}
			for _, c := range f.c.Nodes() {
				if want := "CONTROLLER " + c.ControllerAddr; c.IsController() && endpoints[c.ID] != want {
					t.Errorf("node %d, DescribeQuorum v2: voter %d at %q, want %q", n.ID, c.ID, endpoints[c.ID], want)
				}
			}
		}
	}
	// Without fenced brokers asked for, DescribeCluster lists the same brokers.
	for _, n := range f.brokers() {
		for v := int16(0); v <= 1; v++ {
			cv, err := describeCluster(ctx, n.Addr, v, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(cv.Fenced) != len(st.meta.Brokers) {
				t.Errorf("node %d, DescribeCluster v%d: brokers %v, want %v", n.ID, v, cv.Fenced, st.meta.brokerIDs())
			}
		}
	}
}

// testChangesThroughAnyBroker sends changes to each broker in turn (most of them not
// the active controller, which must receive them forwarded) and checks that every node
// then describes them: topics with the ids their creation answered, assigned across the
// brokers with leaders spread; a deletion; more partitions; a topic config.
func (f *fixture) testChangesThroughAnyBroker(t *testing.T) {
	ctx := f.ctx(t, 40*time.Second)
	brokers := f.brokers()
	nb := int32(len(brokers))
	ids := map[string][16]byte{}
	for _, b := range brokers {
		for _, rf := range []int16{1, int16(min(nb, 3))} {
			name := fmt.Sprintf("via-%d-rf%d", b.ID, rf)
			id, err := createTopic(ctx, b.Addr, name, 2*nb, rf)
			if err != nil {
				t.Fatal(err)
			}
			ids[name] = id
		}
	}
	doomed := "doomed"
	if _, err := createTopic(ctx, brokers[0].Addr, doomed, 1, 1); err != nil {
		t.Fatal(err)
	}
	st := f.waitAgree(t, ctx, "every node to list the new topics", func(st state) error {
		return hasTopics(st, ids)
	})
	live := st.meta.brokerIDs()
	for name := range ids {
		ti := st.meta.Topics[name]
		if len(ti.Partitions) != int(2*nb) {
			t.Errorf("%s: %d partitions, want %d", name, len(ti.Partitions), 2*nb)
		}
		leaders := map[int32]int{}
		for _, p := range ti.Partitions {
			leaders[p.Leader]++
			if !slices.Contains(p.Replicas, p.Leader) {
				t.Errorf("%s-%d: leader %d is not a replica %v", name, p.Partition, p.Leader, p.Replicas)
			}
			for i, r := range p.Replicas {
				if !slices.Contains(live, r) || (i > 0 && p.Replicas[i-1] == r) {
					t.Errorf("%s-%d: replicas %v, want distinct live brokers %v", name, p.Partition, p.Replicas, live)
				}
			}
		}
		for _, b := range live {
			if leaders[b] == 0 {
				t.Errorf("%s: broker %d leads none of %d partitions (leaders %v): leaders are not spread", name, b, 2*nb, leaders)
			}
		}
	}

	// More changes, each through a broker that is not the active controller where there
	// is one.
	via := f.notController(st)
	grown := fmt.Sprintf("via-%d-rf1", brokers[0].ID)
	if err := createPartitions(ctx, via.Addr, grown, 2*nb+2); err != nil {
		t.Fatal(err)
	}
	if err := deleteTopic(ctx, via.Addr, doomed); err != nil {
		t.Fatal(err)
	}
	configured := fmt.Sprintf("via-%d-rf1", brokers[len(brokers)-1].ID)
	if err := setTopicConfig(ctx, via.Addr, configured, "retention.ms", "4321000"); err != nil {
		t.Fatal(err)
	}
	f.waitAgree(t, ctx, "every node to see the deletion and the new partitions", func(st state) error {
		if _, ok := st.meta.Topics[doomed]; ok {
			return fmt.Errorf("%s still listed", doomed)
		}
		if got := len(st.meta.Topics[grown].Partitions); got != int(2*nb+2) {
			return fmt.Errorf("%s has %d partitions, want %d", grown, got, 2*nb+2)
		}
		return hasTopics(st, ids)
	})
	for _, b := range f.brokers() {
		err := chaos.WaitFor(ctx, fmt.Sprintf("node %d to describe retention.ms of %s", b.ID, configured), func(ctx context.Context) (bool, error) {
			v, dynamic, err := topicConfig(ctx, b.Addr, configured, "retention.ms")
			if err == nil && (v != "4321000" || !dynamic) {
				err = fmt.Errorf("retention.ms = %q (set on the topic: %v), want 4321000 set on the topic", v, dynamic)
			}
			return err == nil, err
		})
		if err != nil {
			t.Error(err)
		}
	}
}

// notController returns a running broker that is not the quorum leader (any broker,
// with pure controllers).
func (f *fixture) notController(st state) *chaos.Node {
	brokers := f.brokers()
	for i := len(brokers) - 1; i >= 0; i-- {
		if brokers[i].ID != st.quorum.LeaderID {
			return brokers[i]
		}
	}
	return brokers[0]
}

// hasTopics checks that the agreed metadata lists each topic with its id.
func hasTopics(st state, ids map[string][16]byte) error {
	for name, id := range ids {
		ti, ok := st.meta.Topics[name]
		if !ok {
			return fmt.Errorf("%s not listed", name)
		}
		if ti.ID != id {
			return fmt.Errorf("%s listed with id %x, created with %x", name, ti.ID, id)
		}
	}
	return nil
}

// testFencing kills (SIGKILL) a broker that is not the active controller and checks
// that every other node fences it within about the session timeout: gone from
// Metadata, listed with IsFenced in DescribeCluster v2. A topic created meanwhile must
// reach it once it is started again, when it is unfenced.
func (f *fixture) testFencing(t *testing.T) {
	ctx := f.ctx(t, 45*time.Second)
	st := f.waitAgree(t, ctx, "the cluster to agree", nil)
	victim := f.notController(st)

	killed := time.Now()
	if err := victim.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	st = f.waitAgree(t, ctx, fmt.Sprintf("broker %d to be fenced", victim.ID), func(st state) error {
		if fenced, listed := st.cluster.Fenced[victim.ID]; !listed || !fenced {
			return fmt.Errorf("broker %d: listed %v, fenced %v in DescribeCluster v2", victim.ID, listed, fenced)
		}
		return nil
	})
	t.Logf("broker %d fenced %v after kill -9 (broker.session.timeout.ms=2500)", victim.ID, time.Since(killed).Round(time.Millisecond))
	for _, n := range f.brokers() {
		cv, err := describeCluster(ctx, n.Addr, 1, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, listed := cv.Fenced[victim.ID]; listed {
			t.Errorf("node %d lists the fenced broker %d in DescribeCluster v1", n.ID, victim.ID)
		}
	}

	// Changes while it is away.
	name := fmt.Sprintf("while-%d-down", victim.ID)
	id, err := createTopic(ctx, f.brokers()[0].Addr, name, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := setTopicConfig(ctx, f.brokers()[0].Addr, name, "retention.ms", "7654000"); err != nil {
		t.Fatal(err)
	}

	started := time.Now()
	if err := victim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.waitAgree(t, ctx, fmt.Sprintf("broker %d to be back, unfenced and caught up", victim.ID), func(st state) error {
		return hasTopics(st, map[string][16]byte{name: id})
	})
	t.Logf("broker %d unfenced and caught up %v after its start", victim.ID, time.Since(started).Round(time.Millisecond))
	if v, _, err := topicConfig(ctx, victim.Addr, name, "retention.ms"); err != nil || v != "7654000" {
		t.Errorf("restarted broker %d: retention.ms of %s = %q, %v; want 7654000", victim.ID, name, v, err)
	}
}

// testControllerFailover kills (SIGKILL) the active controller and measures how long
// the others take to elect a new one. Topic creation through each surviving broker must
// then work, and the old controller, started again, must catch up as a follower.
func (f *fixture) testControllerFailover(t *testing.T) {
	ctx := f.ctx(t, 45*time.Second)
	st := f.waitAgree(t, ctx, "the cluster to agree", nil)
	old := f.c.Node(st.quorum.LeaderID)

	killed := time.Now()
	if err := old.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	var q chaos.Quorum
	err := chaos.WaitFor(ctx, "a new controller", func(ctx context.Context) (bool, error) {
		leaders := map[string][]int32{}
		for _, n := range f.running() {
			nq, err := chaos.ProbeQuorum(ctx, quorumAddr(n))
			if err != nil {
				return false, fmt.Errorf("node %d: %w", n.ID, err)
			}
			k := fmt.Sprintf("leader %d epoch %d", nq.LeaderID, nq.LeaderEpoch)
			leaders[k] = append(leaders[k], n.ID)
			q = nq
		}
		if len(leaders) != 1 || q.LeaderID < 0 || q.LeaderID == old.ID || q.LeaderEpoch <= st.quorum.LeaderEpoch {
			return false, fmt.Errorf("nodes report %v (old: leader %d epoch %d)", leaders, old.ID, st.quorum.LeaderEpoch)
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	elected := time.Since(killed)
	t.Logf("controller %d killed; node %d elected (epoch %d -> %d) after %v", old.ID, q.LeaderID, st.quorum.LeaderEpoch, q.LeaderEpoch, elected.Round(time.Millisecond))
	if elected > 8*time.Second {
		t.Errorf("electing a new controller took %v, want a few seconds", elected)
	}

	ids := map[string][16]byte{}
	for _, b := range f.brokers() {
		name := fmt.Sprintf("after-failover-via-%d", b.ID)
		id, err := createTopic(ctx, b.Addr, name, 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	t.Logf("topics created through every surviving broker %v after the kill", time.Since(killed).Round(time.Millisecond))
	f.waitAgree(t, ctx, "the survivors to list the new topics", func(st state) error {
		if st.quorum.LeaderID != q.LeaderID {
			return fmt.Errorf("leader %d, want %d", st.quorum.LeaderID, q.LeaderID)
		}
		return hasTopics(st, ids)
	})

	started := time.Now()
	if err := old.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.waitAgree(t, ctx, fmt.Sprintf("node %d to rejoin and catch up", old.ID), func(st state) error {
		return hasTopics(st, ids)
	})
	t.Logf("node %d rejoined and caught up %v after its start", old.ID, time.Since(started).Round(time.Millisecond))
}

func sortedTopics(st state) []string {
	var names []string
	for name := range st.meta.Topics {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
