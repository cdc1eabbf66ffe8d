package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/test/chaos"
)

// snapshotSettings make the metadata log snapshot itself and trim its old entries
// after a few dozen changes, so that a node away for more than that must catch up from
// a snapshot rather than from the log.
var snapshotSettings = []string{
	"metadata.snapshot.threshold.entries=16",
	"metadata.snapshot.trailing.entries=4",
	"metadata.snapshot.check.interval.ms=100",
}

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
	before := snapshotsOf(f.c.Node(st.quorum.LeaderID))

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
	leader := f.c.Node(st.quorum.LeaderID)
	after := snapshotsOf(leader)
	if len(after) == 0 || slices.Equal(after, before) {
		t.Errorf("the active controller %d took no metadata snapshot during %d changes (snapshots before %v, after %v)",
			leader.ID, 2*changesWhileDown, before, after)
	}
	t.Logf("snapshots of the active controller %d: before %v, after %v", leader.ID, before, after)

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
