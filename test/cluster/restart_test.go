package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/test/chaos"
)

// snapshotSettings make the metadata log snapshot itself and trim its old entries
// after a few dozen changes, so that a node away for more than that must catch up from
// a snapshot rather than from the log.
var snapshotSettings = []string{
	"metadata.snapshot.threshold.entries=16",
	fmt.Sprintf("metadata.snapshot.trailing.entries=%d", trailingEntries),
	"metadata.snapshot.check.interval.ms=100",
}

// trailingEntries is how many entries a snapshot leaves in the metadata log.
const trailingEntries = 4

// changesWhileDown is how many topics are created while a node is away: well past the
// snapshot settings above.
const changesWhileDown = 60

// testRestartAfterSnapshot stops a voter that does not lead (and, with pure brokers,
// one broker) gracefully, makes many changes without them (enough for the metadata log
// to be snapshotted and trimmed), starts them again and checks they catch up: every
// node lists the same topics with the same ids, and none of the deleted ones.
func (f *fixture) testRestartAfterSnapshot(t *testing.T) {
	ctx := f.ctx(t, 60*time.Second)
	st := f.waitAgree(t, ctx, "the cluster to agree", nil)
	var victims []*chaos.Node
	for _, n := range f.c.Nodes() {
		if n.IsController() && n.ID != st.quorum.LeaderID {
			victims = append(victims, n)
			break
		}
	}
	if f.split {
		victims = append(victims, f.brokers()[0])
	}
	for _, v := range victims {
		if err := v.Stop(ctx, f.c.StopGrace()); err != nil {
			t.Fatalf("graceful stop: %v", err)
		}
	}
	leader := f.c.Node(st.quorum.LeaderID)
	before := snapshotsOf(leader)
	// How far the stopped nodes had replicated, as the leader last saw them.
	q, err := chaos.ProbeQuorum(ctx, quorumAddr(leader))
	if err != nil {
		t.Fatal(err)
	}
	var stoppedAt int64
	for _, v := range victims {
		stoppedAt = max(stoppedAt, q.LogEndOffset[v.ID])
	}

	via := f.brokers()[0]
	ids := map[string][16]byte{}
	for i := range changesWhileDown {
		name := fmt.Sprintf("churn-%03d", i)
		id, err := createTopic(ctx, via.Addr, name, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	for i := 0; i < changesWhileDown; i += 2 {
		name := fmt.Sprintf("churn-%03d", i)
		if err := deleteTopic(ctx, via.Addr, name); err != nil {
			t.Fatal(err)
		}
		delete(ids, name)
	}
	// The leader must have snapshotted and trimmed its log past where the stopped nodes
	// stopped: they cannot catch up from the log alone.
	var after []string
	err = chaos.WaitFor(ctx, fmt.Sprintf("the active controller %d to snapshot past index %d", leader.ID, stoppedAt+trailingEntries), func(context.Context) (bool, error) {
		after = snapshotsOf(leader)
		for _, name := range after {
			var term, index, ms int64
			if _, err := fmt.Sscanf(name, "%d-%d-%d", &term, &index, &ms); err == nil && index-trailingEntries > stoppedAt {
				return true, nil
			}
		}
		return false, fmt.Errorf("snapshots %v", after)
	})
	if err != nil {
		t.Errorf("%v (snapshots before the changes: %v)", err, before)
	}
	t.Logf("stopped nodes at index %d; snapshots of the active controller %d: before %v, after %v", stoppedAt, leader.ID, before, after)

	started := time.Now()
	for _, v := range victims {
		if err := v.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	f.waitAgree(t, ctx, "the restarted nodes to catch up", func(st state) error {
		if err := hasTopics(st, ids); err != nil {
			return err
		}
		for name := range st.meta.Topics {
			var i int
			if _, err := fmt.Sscanf(name, "churn-%03d", &i); err == nil && i%2 == 0 {
				return fmt.Errorf("deleted topic %s still listed", name)
			}
		}
		return nil
	})
	for _, v := range victims {
		t.Logf("node %d caught up %v after its start; its snapshots: %v", v.ID, time.Since(started).Round(time.Millisecond), snapshotsOf(v))
	}
}

// snapshotsOf lists the metadata snapshots in a node's data directory (hashicorp/raft's
// file snapshot store under __cluster_metadata-0/snapshots).
func snapshotsOf(n *chaos.Node) []string {
	entries, err := os.ReadDir(filepath.Join(n.DataDir, "__cluster_metadata-0", "snapshots"))
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}
