package chaos

import (
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

// fakeNemesis builds a nemesis over a cluster that is laid out but never started:
// enough to draw schedules.
func fakeNemesis(t *testing.T, nodes int, seed uint64, faults []Fault) *Nemesis {
	t.Helper()
	c, err := NewCluster(ClusterConfig{Binary: "/bin/false", Dir: t.TempDir(), Nodes: nodes, FsyncDelay: true})
	if err != nil {
		t.Fatal(err)
	}
	c.cfg.Network = fakePartitioner{}
	w := NewWorkload(WorkloadConfig{}, nodes, nil, NewRecorder(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	n, err := NewNemesis(NemesisConfig{Faults: faults, Seed: seed}, c, w, NewRecorder(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fakePartitioner is a network that claims to cut links, so partition faults can be
// planned.
type fakePartitioner struct{ Loopback }

func (fakePartitioner) Partition(...[]int32) error { return nil }

func schedule(t *testing.T, n *Nemesis, count int) []string {
	var out []string
	for range count {
		f := n.cfg.Faults[n.rng.IntN(len(n.cfg.Faults))]
		pl, err := n.plan(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pl.desc)
	}
	return out
}

// TestScheduleReproducible checks that a seed fixes the schedule: which fault, which
// node, how long.
func TestScheduleReproducible(t *testing.T) {
	a := schedule(t, fakeNemesis(t, 3, 42, ClusterFaults), 50)
	b := schedule(t, fakeNemesis(t, 3, 42, ClusterFaults), 50)
	c := schedule(t, fakeNemesis(t, 3, 43, ClusterFaults), 50)
	if !slices.Equal(a, b) {
		t.Errorf("one seed, two schedules:\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 42 and 43 drew the same schedule")
	}
	kinds := map[string]bool{}
	for _, d := range a {
		kind, _, _ := strings.Cut(d, " ")
		kinds[kind] = true
	}
	if len(kinds) < 5 {
		t.Errorf("50 draws used only %v", kinds)
	}
}

func TestPartitionGroups(t *testing.T) {
	for _, nodes := range []int{2, 3, 5} {
		n := fakeNemesis(t, nodes, 1, []Fault{FaultPartitionMajority})
		for range 20 {
			g := n.partitionGroups(FaultPartitionMajority, nil)
			if len(g) != 2 || len(g[0]) != nodes/2 || len(g[0])+len(g[1]) != nodes {
				t.Fatalf("%d nodes: groups %v, want a minority of %d and the rest", nodes, g, nodes/2)
			}
			all := slices.Sorted(slices.Values(append(slices.Clone(g[0]), g[1]...)))
			for i, id := range all {
				if id != int32(i+1) {
					t.Fatalf("%d nodes: groups %v do not hold every node once", nodes, g)
				}
			}
		}
		if g := isolate(n.cluster, 2); !slices.Equal(g[0], []int32{2}) || slices.Contains(g[1], 2) || len(g[1]) != nodes-1 {
			t.Errorf("isolate node 2 of %d: %v", nodes, g)
		}
	}
}

func TestNemesisRefusesImpossibleFaults(t *testing.T) {
	c, err := NewCluster(ClusterConfig{Binary: "/bin/false", Dir: t.TempDir(), Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	w := NewWorkload(WorkloadConfig{}, 1, nil, NewRecorder(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, f := range []Fault{FaultPartitionOne, FaultPartitionMajority, FaultPartitionController, FaultDiskFull, FaultFsyncDelay} {
		if _, err := NewNemesis(NemesisConfig{Faults: []Fault{f}}, c, w, NewRecorder(), slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
			t.Errorf("%s accepted on one node on loopback without a size-limited disk or the fsync-delay hook", f)
		}
	}
	if _, err := ParseFaults("kill,,pause , restart"); err != nil {
		t.Errorf("ParseFaults: %v", err)
	}
	if _, err := ParseFaults("kill,explode"); err == nil {
		t.Errorf("ParseFaults accepted an unknown fault")
	}
}

// TestSplitRolesTargets lays out 3 pure controllers and 2 pure brokers: the topic's
// replication factor follows the brokers, every node can be drawn for a kill, and the
// faults that touch partition logs only (fsync-delay, lose-unsynced) land on brokers.
func TestSplitRolesTargets(t *testing.T) {
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := NewCluster(ClusterConfig{Binary: "/bin/false", Dir: t.TempDir(), Nodes: 5, Controllers: 3, FsyncDelay: true})
	if err != nil {
		t.Fatal(err)
	}
	c.cfg.Network = fakePartitioner{}
	brokers := c.Brokers()
	if len(brokers) != 2 || brokers[0].ID != 4 || brokers[1].ID != 5 {
		t.Fatalf("brokers %v, want nodes 4 and 5", brokers)
	}
	w := NewWorkload(WorkloadConfig{}, len(brokers), c.Bootstrap(), NewRecorder(), discard)
	if rf := w.Config().ReplicationFactor; rf != 2 {
		t.Errorf("replication factor %d on 2 brokers, want 2", rf)
	}
	faults := []Fault{FaultKill, FaultFsyncDelay, FaultLoseUnsynced}
	n, err := NewNemesis(NemesisConfig{Faults: faults, Seed: 5}, c, w, NewRecorder(), discard)
	if err != nil {
		t.Fatal(err)
	}
	killed := map[int32]bool{}
	for range 200 {
		f := faults[n.rng.IntN(len(faults))]
		pl, err := n.plan(f)
		if err != nil {
			t.Fatal(err)
		}
		if f == FaultKill {
			killed[pl.node.ID] = true
		} else if !pl.node.IsBroker() {
			t.Errorf("%s planned on pure controller %d: %s", f, pl.node.ID, pl.desc)
		}
	}
	if len(killed) != 5 {
		t.Errorf("200 draws killed only nodes %v, want all 5", killed)
	}
}
