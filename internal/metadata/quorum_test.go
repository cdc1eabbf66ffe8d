package metadata

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/demux"
)

// testNode is one node of an in-process quorum: its split listener and its store.
type testNode struct {
	id    int32
	dir   string
	ln    *demux.Listener
	addr  string
	store *Store
}

func startQuorum(t *testing.T, voters, brokers int) []*testNode {
	t.Helper()
	var nodes []*testNode
	var vs []Voter
	for i := range voters + brokers {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		n := &testNode{id: int32(i + 1), dir: t.TempDir(), addr: ln.Addr().String()}
		ln.Close() // re-bound by open, on the same port
		nodes = append(nodes, n)
		if i < voters {
			vs = append(vs, Voter{ID: n.id, Addr: n.addr})
		}
	}
	for _, n := range nodes {
		n.open(t, vs)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.close()
		}
	})
	return nodes
}

func (n *testNode) open(t *testing.T, voters []Voter) {
	t.Helper()
	ln, err := net.Listen("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	n.ln = demux.New(ln, nil, demux.RaftPrefix, demux.ControlPrefix)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := Config{
		Dir:                  filepath.Join(n.dir, "meta"),
		NodeID:               n.id,
		ClusterID:            "test-cluster",
		Logger:               logger.With("node", n.id),
		Voters:               voters,
		RaftListener:         n.ln.Prefixed(demux.RaftPrefix),
		RaftAddr:             n.addr,
		ElectionTimeout:      300 * time.Millisecond,
		BrokerSessionTimeout: 1500 * time.Millisecond,
	}
	if _, ok := voterIn(voters, n.id); ok {
		cfg.ControlListener = n.ln.Prefixed(demux.ControlPrefix)
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.store = s
}

func voterIn(vs []Voter, id int32) (Voter, bool) {
	for _, v := range vs {
		if v.ID == id {
			return v, true
		}
	}
	return Voter{}, false
}

func (n *testNode) close() {
	if n.store != nil {
		n.store.Close()
		n.store = nil
	}
	if n.ln != nil {
		n.ln.Close()
		n.ln = nil
	}
}

func (n *testNode) startBroker(t *testing.T, ctx context.Context) {
	t.Helper()
	reg := BrokerRegistration{NodeID: n.id, IncarnationID: NewUUID(),
		Endpoints: []Endpoint{{Listener: "PLAINTEXT", Host: "127.0.0.1", Port: 1000 + n.id, SecurityProtocol: "PLAINTEXT"}}}
	if err := n.store.StartBroker(ctx, reg, n.addr); err != nil {
		t.Fatalf("node %d: start broker: %v", n.id, err)
	}
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestQuorumForwardsAndFences(t *testing.T) {
	nodes := startQuorum(t, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range nodes {
		n.startBroker(t, ctx)
	}

	// A topic created through each node, leader or not, is on every node.
	for _, n := range nodes {
		name := fmt.Sprintf("t%d", n.id)
		if _, err := n.store.CreateTopic(ctx, TopicSpec{Name: name, Partitions: 4, ReplicationFactor: 1}); err != nil {
			t.Fatalf("create %s through node %d: %v", name, n.id, err)
		}
		if n.store.Image().Topic(name) == nil {
			t.Fatalf("node %d does not see its own topic %s right after creating it", n.id, name)
		}
	}
	waitUntil(t, "every node to hold the same image", 5*time.Second, func() bool {
		want := nodes[0].store.Image()
		for _, n := range nodes[1:] {
			img := n.store.Image()
			if img.Offset != want.Offset || len(img.Topics) != 4 || len(img.Brokers) != 4 {
				return false
			}
		}
		return len(want.Topics) == 4
	})

	// Producer ids from every node never overlap.
	seen := map[int64]int32{}
	for _, n := range nodes {
		first, err := n.store.AllocateProducerIDs(ctx, ProducerIDBlockSize)
		if err != nil {
			t.Fatal(err)
		}
		if by, dup := seen[first]; dup {
			t.Fatalf("block %d handed to node %d and node %d", first, by, n.id)
		}
		seen[first] = n.id
	}

	// The observer (node 4) is fenced once it stops heartbeating, and partitions it led
	// lose their leader (their ISR is that broker alone).
	obs := nodes[3]
	obs.close()
	waitUntil(t, "node 4 to be fenced", 10*time.Second, func() bool {
		b := nodes[0].store.Image().Brokers[4]
		return b != nil && b.Fenced
	})
	for _, tp := range nodes[0].store.Image().Topics {
		for _, p := range tp.Partitions {
			if p.Replicas[0] == 4 && p.Leader != -1 {
				t.Fatalf("%s-%d still led by fenced broker 4: %+v", tp.Name, p.Index, p)
			}
		}
	}

	// It comes back, catches up and is unfenced, leading its partitions again.
	obs.open(t, []Voter{{1, nodes[0].addr}, {2, nodes[1].addr}, {3, nodes[2].addr}})
	obs.startBroker(t, ctx)
	waitUntil(t, "node 4's partitions to have a leader again", 10*time.Second, func() bool {
		for _, tp := range nodes[0].store.Image().Topics {
			for _, p := range tp.Partitions {
				if p.Leader == -1 {
					return false
				}
			}
		}
		return true
	})

	q, err := nodes[3].store.DescribeQuorum(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Voters) != 3 || len(q.Observers) != 1 || q.Observers[0].NodeID != 4 || q.LeaderID < 1 || q.LeaderID > 3 {
		t.Fatalf("DescribeQuorum through the observer: %+v", q)
	}
}

func TestQuorumSurvivesLeaderLoss(t *testing.T) {
	nodes := startQuorum(t, 3, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range nodes {
		n.startBroker(t, ctx)
	}
	leader := nodes[0].store.leaderID()
	var old *testNode
	for _, n := range nodes {
		if n.id == leader {
			old = n
		}
	}
	// Simulate a crash: Raft stops first, so no leadership is handed over and the
	// others must elect a leader.
	start := time.Now()
	if err := old.store.raft.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	old.close()
	var survivor *testNode
	for _, n := range nodes {
		if n != old {
			survivor = n
		}
	}
	if _, err := survivor.store.CreateTopic(ctx, TopicSpec{Name: "after", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatalf("create a topic after the leader died: %v", err)
	}
	t.Logf("topic created %v after the leader died", time.Since(start).Round(time.Millisecond))
	if id := survivor.store.leaderID(); id == leader || id < 0 {
		t.Fatalf("leader after the loss is %d", id)
	}
}

// TestQuorumRestartBeforeSessionExpiry: a broker killed and restarted at once finds its
// previous incarnation still registered; it waits for that session to expire rather than
// give up (DUPLICATE_BROKER_REGISTRATION is retried).
func TestQuorumRestartBeforeSessionExpiry(t *testing.T) {
	nodes := startQuorum(t, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range nodes {
		n.startBroker(t, ctx)
	}
	b := nodes[3]
	b.close()
	b.open(t, []Voter{{1, nodes[0].addr}, {2, nodes[1].addr}, {3, nodes[2].addr}})
	start := time.Now()
	b.startBroker(t, ctx) // a new incarnation id
	t.Logf("registered again %v after the restart", time.Since(start).Round(time.Millisecond))
	waitUntil(t, "node 1 to see broker 4 unfenced", 5*time.Second, func() bool {
		br := nodes[0].store.Image().Brokers[4]
		return br != nil && !br.Fenced
	})
}
