package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Fault is a kind of fault the nemesis injects.
type Fault string

// Faults. Partitions need several nodes and a network that can cut links (Netns).
const (
	// FaultKill sends SIGKILL to a node and restarts it after a random downtime.
	FaultKill Fault = "kill"
	// FaultPause stops a node with SIGSTOP and continues it with SIGCONT.
	FaultPause Fault = "pause"
	// FaultRestart stops a node with SIGTERM and starts it again.
	FaultRestart Fault = "restart"
	// FaultCrashLoop kills a node several times in a row, each time shortly after it
	// serves again, with produce going on.
	FaultCrashLoop Fault = "crash-loop"
	// FaultRollingRestart restarts every node in turn, each once the previous serves.
	FaultRollingRestart Fault = "rolling-restart"
	// FaultPartitionOne cuts one node off from the others.
	FaultPartitionOne Fault = "partition-one"
	// FaultPartitionMajority splits the nodes into a majority and a minority.
	FaultPartitionMajority Fault = "partition-majority"
	// FaultPartitionController cuts the active controller off from the others.
	FaultPartitionController Fault = "partition-controller"
	// FaultLoseUnsynced kills a node and cuts the tail off each of its partitions'
	// newest segment, as a power loss does to writes never fsynced. Sluice is not
	// meant to survive it unless acknowledgements wait for fsync (flush.messages=1)
	// and the cut stays within what was not acknowledged: it exists to show that the
	// harness catches lost writes, and is in no default schedule.
	FaultLoseUnsynced Fault = "lose-unsynced"
)

// AllFaults lists every fault, for help texts.
var AllFaults = []Fault{
	FaultKill, FaultPause, FaultRestart, FaultCrashLoop, FaultRollingRestart,
	FaultPartitionOne, FaultPartitionMajority, FaultPartitionController, FaultLoseUnsynced,
}

// SingleNodeFaults is the default schedule on one node.
var SingleNodeFaults = []Fault{FaultKill, FaultPause, FaultRestart, FaultCrashLoop}

// ClusterFaults is the default schedule on several nodes.
var ClusterFaults = []Fault{
	FaultKill, FaultPause, FaultRestart, FaultCrashLoop, FaultRollingRestart,
	FaultPartitionOne, FaultPartitionMajority, FaultPartitionController,
}

// NeedsPartitions reports whether the fault cuts network links.
func (f Fault) NeedsPartitions() bool { return strings.HasPrefix(string(f), "partition-") }

// ParseFaults reads a comma-separated list of fault names.
func ParseFaults(s string) ([]Fault, error) {
	var out []Fault
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(AllFaults, Fault(name)) {
			return nil, fmt.Errorf("unknown fault %q (known: %v)", name, AllFaults)
		}
		out = append(out, Fault(name))
	}
	return out, nil
}

// NemesisConfig schedules faults.
type NemesisConfig struct {
	// Faults to choose from, uniformly. Empty means none.
	Faults []Fault
	// Interval is the mean time between the end of one fault and the start of the
	// next (drawn uniformly from half to one and a half of it). Default 5s.
	Interval time.Duration
	// Hold is the longest a fault lasts: a node's downtime after a kill, a pause, a
	// partition (drawn uniformly up to it). Default 3s.
	Hold time.Duration
	// Seed makes the schedule (which fault, which node, how long) reproducible.
	Seed uint64
	// ProgressTimeout bounds the wait, after each fault is healed, for a write to be
	// acknowledged again. Default 30s.
	ProgressTimeout time.Duration
}

func (c NemesisConfig) withDefaults() NemesisConfig {
	if c.Interval <= 0 {
		c.Interval = 5 * time.Second
	}
	if c.Hold <= 0 {
		c.Hold = 3 * time.Second
	}
	if c.ProgressTimeout <= 0 {
		c.ProgressTimeout = 30 * time.Second
	}
	return c
}

// Nemesis injects faults into a cluster on a seeded random schedule and records each
// as an operation: its start when injected, its end when healed.
type Nemesis struct {
	cfg      NemesisConfig
	cluster  *Cluster
	workload *Workload
	rec      *Recorder
	rng      *rand.Rand
	logger   *slog.Logger
}

// NewNemesis checks that every fault is possible on the cluster: partitions need
// several nodes and a network that can cut links.
func NewNemesis(cfg NemesisConfig, c *Cluster, w *Workload, rec *Recorder, logger *slog.Logger) (*Nemesis, error) {
	cfg = cfg.withDefaults()
	for _, f := range cfg.Faults {
		if !f.NeedsPartitions() {
			continue
		}
		if len(c.Nodes()) < 2 {
			return nil, fmt.Errorf("fault %s needs several nodes", f)
		}
		if _, ok := c.Network().(Loopback); ok {
			return nil, fmt.Errorf("fault %s needs a network that can cut links (netns, as root): %w", f, errors.ErrUnsupported)
		}
	}
	return &Nemesis{
		cfg: cfg, cluster: c, workload: w, rec: rec, logger: logger,
		rng: rand.New(rand.NewPCG(cfg.Seed, 0x6e656d65736973)),
	}, nil
}

// Run injects faults until ctx ends. It returns the first error that left the
// cluster in a state it could not heal, such as a node that does not come back after
// a restart; faults that merely failed to apply are recorded and skipped.
func (n *Nemesis) Run(ctx context.Context) error {
	if len(n.cfg.Faults) == 0 {
		<-ctx.Done()
		return nil
	}
	for {
		wait := n.cfg.Interval/2 + time.Duration(n.rng.Int64N(int64(n.cfg.Interval)))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		f := n.cfg.Faults[n.rng.IntN(len(n.cfg.Faults))]
		if err := n.inject(ctx, f); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// hold draws how long a fault lasts.
func (n *Nemesis) hold() time.Duration {
	return time.Duration(n.rng.Int64N(int64(n.cfg.Hold) + 1))
}

// pick draws a node.
func (n *Nemesis) pick() *Node {
	nodes := n.cluster.Nodes()
	return nodes[n.rng.IntN(len(nodes))]
}

// startTimeout bounds a node's restart, recovery included.
const startTimeout = 2 * time.Minute

// inject applies one fault, holds it, heals it and waits for writes to resume.
func (n *Nemesis) inject(ctx context.Context, f Fault) error {
	// Draw everything first, so that the schedule does not depend on timing.
	node, hold := n.pick(), n.hold()
	var desc string
	var apply func(ctx context.Context) error
	switch f {
	case FaultKill:
		desc = fmt.Sprintf("kill -9 node %d, down %v", node.ID, hold.Round(time.Millisecond))
		apply = func(ctx context.Context) error {
			if err := node.Kill(ctx); err != nil {
				return err
			}
			if err := sleep(ctx, hold); err != nil {
				return err
			}
			return startNode(ctx, node)
		}
	case FaultPause:
		desc = fmt.Sprintf("pause node %d for %v", node.ID, hold.Round(time.Millisecond))
		apply = func(ctx context.Context) error {
			if err := node.Pause(ctx); err != nil {
				return err
			}
			err := sleep(ctx, hold)
			// Resume even when ctx ended: a node must not be left stopped.
			if rerr := node.Resume(); rerr != nil {
				return rerr
			}
			return err
		}
	case FaultRestart:
		desc = fmt.Sprintf("restart node %d", node.ID)
		apply = func(ctx context.Context) error {
			if err := node.Stop(ctx, n.cluster.StopGrace()); err != nil {
				n.logger.Warn("graceful stop failed", "node", node.ID, "err", err)
				if node.State() != Stopped {
					return err
				}
			}
			return startNode(ctx, node)
		}
	case FaultCrashLoop:
		kills := 3 + n.rng.IntN(4)
		delays := make([]time.Duration, kills)
		for i := range delays {
			delays[i] = time.Duration(n.rng.Int64N(int64(500 * time.Millisecond)))
		}
		desc = fmt.Sprintf("crash-loop node %d, %d kills", node.ID, kills)
		apply = func(ctx context.Context) error {
			for _, d := range delays {
				// Let produce reach the restarted node before killing it again.
				if err := sleep(ctx, d); err != nil {
					return err
				}
				if err := node.Kill(ctx); err != nil {
					return err
				}
				if err := startNode(ctx, node); err != nil {
					return err
				}
			}
			return nil
		}
	case FaultRollingRestart:
		desc = "rolling-restart of every node"
		apply = func(ctx context.Context) error {
			for _, nd := range n.cluster.Nodes() {
				if err := nd.Stop(ctx, n.cluster.StopGrace()); err != nil {
					n.logger.Warn("graceful stop failed", "node", nd.ID, "err", err)
					if nd.State() != Stopped {
						return err
					}
				}
				if err := startNode(ctx, nd); err != nil {
					return err
				}
				n.waitProgress(ctx, n.rec.Now())
			}
			return nil
		}
	case FaultPartitionOne, FaultPartitionController, FaultPartitionMajority:
		groups := n.partitionGroups(f, node)
		desc = fmt.Sprintf("%s %v for %v", f, groups, hold.Round(time.Millisecond))
		apply = func(ctx context.Context) error {
			if f == FaultPartitionController {
				ctrl, err := n.controller(ctx)
				if err != nil {
					return err
				}
				groups = isolate(n.cluster, ctrl)
			}
			if err := n.cluster.Network().Partition(groups...); err != nil {
				return err
			}
			err := sleep(ctx, hold)
			if herr := n.cluster.Network().Heal(); herr != nil {
				return herr
			}
			return err
		}
	case FaultLoseUnsynced:
		cut := 0.1 + 0.8*n.rng.Float64()
		desc = fmt.Sprintf("lose-unsynced node %d: kill -9, cut %.0f%% of each newest segment", node.ID, cut*100)
		apply = func(ctx context.Context) error {
			if err := node.Kill(ctx); err != nil {
				return err
			}
			if err := cutSegmentTails(node.DataDir, n.workload.Config().Topic, cut); err != nil {
				return err
			}
			return startNode(ctx, node)
		}
	default:
		return fmt.Errorf("unknown fault %q", f)
	}

	n.logger.Info("fault", "desc", desc)
	id := n.rec.InvokeFault(desc)
	err := apply(ctx)
	healed := n.rec.Now()
	if err != nil {
		n.rec.Complete(id, Fail, nil, err)
		n.logger.Error("fault", "desc", desc, "err", err)
		// The cluster may be left broken: a node that does not start is a finding,
		// and the run cannot go on meaningfully.
		return fmt.Errorf("%s: %w", desc, err)
	}
	n.rec.Complete(id, OK, nil, nil)
	n.waitProgress(ctx, healed)
	return nil
}

// startNode starts a node and waits until it serves, bounded by startTimeout.
func startNode(ctx context.Context, node *Node) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	return node.Start(ctx)
}

// waitProgress waits until a write is acknowledged after since (recorder time), so
// that the next fault hits a cluster that works. A cluster that does not recover in
// ProgressTimeout is logged: unavailability is not an anomaly, but it is worth
// knowing.
func (n *Nemesis) waitProgress(ctx context.Context, since int64) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ProgressTimeout)
	defer cancel()
	err := WaitFor(ctx, "a write acknowledged after the fault", func(context.Context) (bool, error) {
		return n.workload.lastAck.Load() > since, nil
	})
	if err != nil && ctx.Err() != context.Canceled {
		n.logger.Warn("no write acknowledged after the fault", "timeout", n.cfg.ProgressTimeout)
	}
}

// partitionGroups draws the groups of a partition fault (the controller's is found
// when applied).
func (n *Nemesis) partitionGroups(f Fault, node *Node) [][]int32 {
	switch f {
	case FaultPartitionMajority:
		ids := make([]int32, 0, len(n.cluster.Nodes()))
		for _, nd := range n.cluster.Nodes() {
			ids = append(ids, nd.ID)
		}
		n.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		minority := len(ids) / 2
		a, b := slices.Clone(ids[:minority]), slices.Clone(ids[minority:])
		slices.Sort(a)
		slices.Sort(b)
		return [][]int32{a, b}
	default:
		return isolate(n.cluster, node.ID)
	}
}

// isolate returns groups that cut id off from every other node.
func isolate(c *Cluster, id int32) [][]int32 {
	var rest []int32
	for _, nd := range c.Nodes() {
		if nd.ID != id {
			rest = append(rest, nd.ID)
		}
	}
	return [][]int32{{id}, rest}
}

// controller asks the running nodes for the active controller's id.
func (n *Nemesis) controller(ctx context.Context) (int32, error) {
	var lastErr error
	for _, nd := range n.cluster.Nodes() {
		if nd.State() != Running {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ctrl, err := ProbeRegistered(pctx, nd.Addr, nd.ID)
		cancel()
		if err == nil && ctrl >= 0 {
			return ctrl, nil
		}
		lastErr = err
	}
	return -1, fmt.Errorf("find the active controller: %v", lastErr)
}

// HealAll undoes every fault still in effect: it heals the network, resumes paused
// nodes and starts stopped ones.
func (n *Nemesis) HealAll(ctx context.Context) error {
	var errs []error
	if err := n.cluster.Network().Heal(); err != nil {
		errs = append(errs, err)
	}
	for _, nd := range n.cluster.Nodes() {
		switch nd.State() {
		case Paused:
			errs = append(errs, nd.Resume())
		case Stopped:
			errs = append(errs, startNode(ctx, nd))
		}
	}
	return errors.Join(errs...)
}

// cutSegmentTails truncates the newest segment of each of topic's partitions in
// dataDir to (1-cut) of its size.
func cutSegmentTails(dataDir, topic string, cut float64) error {
	dirs, err := filepath.Glob(filepath.Join(dataDir, topic+"-*"))
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return fmt.Errorf("no partition directories of %s in %s", topic, dataDir)
	}
	for _, dir := range dirs {
		segs, err := filepath.Glob(filepath.Join(dir, "*.log"))
		if err != nil {
			return err
		}
		if len(segs) == 0 {
			continue
		}
		slices.Sort(segs) // 20-digit base offsets sort as numbers
		newest := segs[len(segs)-1]
		fi, err := os.Stat(newest)
		if err != nil {
			return err
		}
		if err := os.Truncate(newest, int64(float64(fi.Size())*(1-cut))); err != nil {
			return fmt.Errorf("cut %s: %w", newest, err)
		}
	}
	return nil
}

// sleep waits d or until ctx ends. Faults hold for drawn durations: this is the
// schedule itself, not a wait for a condition.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
