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
	"sync"
	"syscall"
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
	// FaultRestartAll is a full-cluster restart: every node is stopped with SIGTERM
	// at once and, after a random downtime, all are started again together.
	FaultRestartAll Fault = "restart-all"
	// FaultKillAll is a full-cluster crash: SIGKILL to every node at once, then all
	// are started again together after a random downtime.
	FaultKillAll Fault = "kill-all"
	// FaultPartitionOne cuts one node off from the others.
	FaultPartitionOne Fault = "partition-one"
	// FaultPartitionMajority splits the nodes into a majority and a minority.
	FaultPartitionMajority Fault = "partition-majority"
	// FaultPartitionController cuts the active controller off from the others. With
	// split roles it is a pure controller, found by DescribeQuorum.
	FaultPartitionController Fault = "partition-controller"
	// FaultDiskFull fills a node's data directory (a size-limited tmpfs, see
	// ClusterConfig.DataSize) with a ballast file, holds, and removes it. On a pure
	// controller, the directory holds the metadata log.
	FaultDiskFull Fault = "disk-full"
	// FaultLoseUnsynced kills a node and cuts the tail off each of its partitions'
	// newest segment, as a power loss does to writes never fsynced. Sluice is not
	// meant to survive it unless acknowledgements wait for fsync (flush.messages=1)
	// and the cut stays within what was not acknowledged: it exists to show that the
	// harness catches lost writes, and is in no default schedule. A pure controller
	// has no partition logs: the fault drawn for one hits a broker instead
	// (brokerFor).
	FaultLoseUnsynced Fault = "lose-unsynced"
	// FaultFsyncDelay makes a node's disk slow: every fsync of its partition logs
	// waits a drawn delay (50 ms to 1 s) first, for the hold, through the broker's
	// test-only SLUICE_TEST_FSYNC_DELAY_FILE (see ClusterConfig.FsyncDelay). It
	// matters where acknowledgements wait for fsync (flush.messages=1) and on the
	// paths that always sync: segment rolls, checkpoints, recovery. The hook slows
	// partition logs only, which a pure controller has none of: the fault drawn for
	// one hits a broker instead (brokerFor).
	FaultFsyncDelay Fault = "fsync-delay"
)

// AllFaults lists every fault, for help texts.
var AllFaults = []Fault{
	FaultKill, FaultPause, FaultRestart, FaultCrashLoop, FaultRollingRestart, FaultRestartAll, FaultKillAll,
	FaultPartitionOne, FaultPartitionMajority, FaultPartitionController, FaultDiskFull, FaultLoseUnsynced,
	FaultFsyncDelay,
}

// SingleNodeFaults is the default schedule on one node.
var SingleNodeFaults = []Fault{FaultKill, FaultPause, FaultRestart, FaultCrashLoop, FaultFsyncDelay}

// ClusterFaults is the default schedule on several nodes.
var ClusterFaults = []Fault{
	FaultKill, FaultPause, FaultRestart, FaultCrashLoop, FaultRollingRestart, FaultRestartAll, FaultKillAll,
	FaultPartitionOne, FaultPartitionMajority, FaultPartitionController, FaultFsyncDelay,
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
	// TargetLeader aims the faults that hit one node at the leader of partition 0
	// of the workload's topic, as found when the fault is applied, instead of a
	// node drawn at random. (The random draw still happens, so a seed gives the same
	// schedule of kinds and durations either way.)
	TargetLeader bool
	// ValidateLogs reads every partition's log back after each restart of a node
	// (ValidateLog) and reports what is wrong with it as a finding.
	ValidateLogs bool
	// Rotate takes the faults in the order listed, round and round, instead of
	// drawing each at random: every kind then comes up equally often.
	Rotate bool
	// Count, if positive, ends the schedule after that many faults.
	Count int
	// Settle waits, before each fault, until every running broker's Metadata gives
	// every partition the same leader and an ISR of all its replicas (bounded by
	// ProgressTimeout; a cluster that does not settle is a finding). Each fault then
	// hits a healthy cluster, and what follows is its own doing.
	Settle bool
	// HoldForFailover holds the faults that take one node away (kill, pause,
	// partition-one, partition-controller) until every partition the node led has
	// acknowledged a record sent after the fault hit, that is until another replica
	// leads it and takes writes, and only then for the drawn hold. A failover that
	// does not come within ProgressTimeout is a finding.
	HoldForFailover bool
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

	current int // the fault operation being applied

	mu       sync.Mutex
	synced   map[int32]map[string]int64 // per node: newest segment -> size at its last start
	findings []string
	restarts int
}

// finding records something wrong that does not stop the run: an invalid log, a
// graceful stop that failed.
func (n *Nemesis) finding(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	n.logger.Error("finding", "what", msg)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.findings = append(n.findings, msg)
}

// Findings returns what went wrong without stopping the run: logs that failed
// validation, graceful stops that failed.
func (n *Nemesis) Findings() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.findings...)
}

// Restarts returns how many times the nemesis restarted a node, and so how many
// recoveries were validated when ValidateLogs is set.
func (n *Nemesis) Restarts() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.restarts
}

// NewNemesis checks that every fault is possible on the cluster: partitions need
// several nodes and a network that can cut links.
func NewNemesis(cfg NemesisConfig, c *Cluster, w *Workload, rec *Recorder, logger *slog.Logger) (*Nemesis, error) {
	cfg = cfg.withDefaults()
	for _, f := range cfg.Faults {
		if f == FaultDiskFull && c.DataSize() <= 0 {
			return nil, fmt.Errorf("fault %s needs size-limited data directories (ClusterConfig.DataSize)", f)
		}
		if f == FaultFsyncDelay && !c.FsyncDelay() {
			return nil, fmt.Errorf("fault %s needs nodes started with the fsync-delay hook (ClusterConfig.FsyncDelay)", f)
		}
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
	n := &Nemesis{
		cfg: cfg, cluster: c, workload: w, rec: rec, logger: logger,
		rng:    rand.New(rand.NewPCG(cfg.Seed, 0x6e656d65736973)),
		synced: make(map[int32]map[string]int64),
	}
	for _, nd := range c.Nodes() {
		n.noteSynced(nd)
	}
	return n, nil
}

// Run injects faults until ctx ends. It returns the first error that left the
// cluster in a state it could not heal, such as a node that does not come back after
// a restart; faults that merely failed to apply are recorded and skipped.
func (n *Nemesis) Run(ctx context.Context) error {
	if len(n.cfg.Faults) == 0 {
		<-ctx.Done()
		return nil
	}
	for done := 0; n.cfg.Count <= 0 || done < n.cfg.Count; done++ {
		wait := n.cfg.Interval/2 + time.Duration(n.rng.Int64N(int64(n.cfg.Interval)))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		var f Fault
		if n.cfg.Rotate {
			f = n.cfg.Faults[done%len(n.cfg.Faults)]
		} else {
			f = n.cfg.Faults[n.rng.IntN(len(n.cfg.Faults))]
		}
		if n.cfg.Settle {
			n.settle(ctx)
		}
		if err := n.inject(ctx, f); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

// hold draws how long a fault lasts.
func (n *Nemesis) hold() time.Duration {
	return time.Duration(n.rng.Int64N(int64(n.cfg.Hold) + 1))
}

// pick draws a node, a pure controller or broker included: a fault on the metadata
// quorum is as much the point as one on a partition's replicas.
func (n *Nemesis) pick() *Node {
	nodes := n.cluster.Nodes()
	return nodes[n.rng.IntN(len(nodes))]
}

// brokerFor returns node if it is a broker, else a broker chosen by node's id
// (without a draw, so that the schedule stays the seed's): for the faults that only
// touch partition logs, which a pure controller does not have.
func (n *Nemesis) brokerFor(node *Node) *Node {
	if node.IsBroker() {
		return node
	}
	brokers := n.cluster.Brokers()
	if len(brokers) == 0 {
		return node
	}
	return brokers[int(node.ID-1)%len(brokers)]
}

// startTimeout bounds a node's restart, recovery included.
const startTimeout = 2 * time.Minute

// inject applies one fault, holds it, heals it and waits for writes to resume. ctx
// ends holds early (the run is over), but a kill, restart or heal under way is carried
// through, so that no node is left half started.
func (n *Nemesis) inject(ctx context.Context, f Fault) error {
	pl, err := n.plan(f)
	if err != nil {
		return err
	}
	desc := pl.desc
	n.logger.Info("fault", "desc", desc)
	id := n.rec.InvokeFault(desc)
	n.current = id
	err = pl.apply(ctx)
	if err == nil && ctx.Err() == nil && f == FaultPause {
		// A resumed node must serve again before the fault counts as healed.
		err = n.waitReady(pl.node)
	}
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

// faultPlan is one fault, drawn and ready to apply.
type faultPlan struct {
	desc  string
	node  *Node                           // the node drawn (not every fault uses it)
	apply func(ctx context.Context) error // applies, holds and heals the fault
}

// plan draws everything a fault needs (node, duration, ...) from the seeded
// generator, so that the schedule does not depend on timing.
func (n *Nemesis) plan(f Fault) (faultPlan, error) {
	node, hold := n.pick(), n.hold()
	if n.cfg.TargetLeader {
		if leader, err := n.leader(); err != nil {
			n.logger.Warn("no leader found; hitting a random node", "err", err)
		} else {
			node = leader
		}
	}
	var desc string
	var apply func(ctx context.Context) error
	// held says how long a fault that takes one node away lasts: "for 1.2s", or
	// "until the failover, then 1.2s".
	held := "for " + hold.Round(time.Millisecond).String()
	if n.cfg.HoldForFailover {
		held = "until the failover, then " + hold.Round(time.Millisecond).String()
	}
	switch f {
	case FaultKill:
		desc = fmt.Sprintf("kill -9 node %d, down %s", node.ID, strings.TrimPrefix(held, "for "))
		apply = func(ctx context.Context) error {
			led := n.ledBy(ctx, node.ID)
			if err := node.Kill(ctx); err != nil {
				return err
			}
			n.holdFor(ctx, desc, led, n.strike(led), hold)
			return n.startNode(node)
		}
	case FaultPause:
		desc = fmt.Sprintf("pause node %d %s", node.ID, held)
		apply = func(ctx context.Context) error {
			led := n.ledBy(ctx, node.ID)
			if err := node.Pause(ctx); err != nil {
				return err
			}
			n.holdFor(ctx, desc, led, n.strike(led), hold)
			return node.Resume()
		}
	case FaultRestart:
		desc = fmt.Sprintf("restart node %d", node.ID)
		apply = func(ctx context.Context) error {
			n.strike(n.ledBy(ctx, node.ID))
			if err := node.Stop(ctx, n.cluster.StopGrace()); err != nil {
				n.finding("graceful stop of node %d: %v", node.ID, err)
				if node.State() != Stopped {
					return err
				}
			}
			return n.startNode(node)
		}
	case FaultCrashLoop:
		kills := 3 + n.rng.IntN(4)
		delays := make([]time.Duration, kills)
		for i := range delays {
			delays[i] = time.Duration(n.rng.Int64N(int64(500 * time.Millisecond)))
		}
		desc = fmt.Sprintf("crash-loop node %d, %d kills", node.ID, kills)
		apply = func(ctx context.Context) error {
			led := n.ledBy(ctx, node.ID)
			for i, d := range delays {
				// Let produce reach the restarted node before killing it again.
				if sleep(ctx, d) != nil {
					return nil
				}
				if err := node.Kill(ctx); err != nil {
					return err
				}
				if i == 0 {
					n.strike(led)
				}
				if err := n.startNode(node); err != nil {
					return err
				}
			}
			return nil
		}
	case FaultRollingRestart:
		desc = "rolling-restart of every node"
		apply = func(ctx context.Context) error {
			n.strike(nil)
			for _, nd := range n.cluster.Nodes() {
				if err := nd.Stop(ctx, n.cluster.StopGrace()); err != nil {
					n.finding("graceful stop of node %d: %v", nd.ID, err)
					if nd.State() != Stopped {
						return err
					}
				}
				if err := n.startNode(nd); err != nil {
					return err
				}
				n.waitProgress(ctx, n.rec.Now())
				if ctx.Err() != nil {
					return nil
				}
			}
			return nil
		}
	case FaultPartitionOne, FaultPartitionController, FaultPartitionMajority:
		groups := n.partitionGroups(f, node)
		if f == FaultPartitionMajority {
			held = "for " + hold.Round(time.Millisecond).String()
		}
		desc = fmt.Sprintf("%s %v %s", f, groups, held)
		if f == FaultPartitionController {
			desc = fmt.Sprintf("%s %s", f, held)
		}
		apply = func(ctx context.Context) error {
			var led []int32
			switch f {
			case FaultPartitionController:
				ctrl, err := n.controller(ctx)
				if err != nil {
					return err
				}
				groups = isolate(n.cluster, ctrl)
				n.logger.Info("isolating the active controller", "node", ctrl, "groups", groups)
				led = n.ledBy(ctx, ctrl)
			case FaultPartitionOne:
				led = n.ledBy(ctx, node.ID)
			}
			if err := n.cluster.Network().Partition(groups...); err != nil {
				return err
			}
			hit := n.strike(led)
			if f == FaultPartitionMajority {
				sleep(ctx, hold)
			} else {
				n.holdFor(ctx, desc, led, hit, hold)
			}
			return n.cluster.Network().Heal()
		}
	case FaultRestartAll, FaultKillAll:
		desc = fmt.Sprintf("%s of every node, down %v", f, hold.Round(time.Millisecond))
		apply = func(ctx context.Context) error {
			all := make([]int32, n.workload.Config().Partitions)
			for p := range all {
				all[p] = int32(p)
			}
			if err := n.stopAll(ctx, f == FaultKillAll); err != nil {
				return err
			}
			// The cluster is down from here: the time to the first write after it is
			// the downtime and the start (a write may still succeed while the last
			// nodes of a graceful stop drain, which is not the point).
			n.strike(all)
			sleep(ctx, hold)
			return n.startNodes(n.cluster.Nodes()...)
		}
	case FaultDiskFull:
		desc = fmt.Sprintf("disk-full node %d for %v", node.ID, hold.Round(time.Millisecond))
		apply = func(ctx context.Context) error {
			n.strike(n.ledBy(ctx, node.ID))
			ballast := filepath.Join(node.DataDir, "chaos-ballast")
			fillErr := fill(ballast)
			sleep(ctx, hold)
			if err := os.Remove(ballast); err != nil {
				return fmt.Errorf("free the disk: %w", err)
			}
			if fillErr != nil {
				return fillErr
			}
			if node.State() != Running {
				return fmt.Errorf("node %d is %s after its disk filled", node.ID, node.State())
			}
			n.validate(ctx, node, "after its disk was freed")
			return nil
		}
	case FaultFsyncDelay:
		node = n.brokerFor(node)
		delay := 50*time.Millisecond + time.Duration(n.rng.Int64N(int64(950*time.Millisecond)))
		desc = fmt.Sprintf("fsync-delay node %d, %v per fsync, for %v", node.ID, delay.Round(time.Millisecond), hold.Round(time.Millisecond))
		apply = func(ctx context.Context) error {
			n.strike(n.ledBy(ctx, node.ID))
			if err := node.SetFsyncDelay(delay); err != nil {
				return err
			}
			sleep(ctx, hold)
			if err := node.SetFsyncDelay(0); err != nil {
				return err
			}
			if node.State() != Running {
				return fmt.Errorf("node %d is %s after its fsyncs slowed", node.ID, node.State())
			}
			return nil
		}
	case FaultLoseUnsynced:
		node = n.brokerFor(node)
		cut := 0.2 + 0.8*n.rng.Float64()
		desc = fmt.Sprintf("lose-unsynced node %d: kill -9, drop %.0f%% of what each partition appended since the node started", node.ID, cut*100)
		apply = func(ctx context.Context) error {
			led := n.ledBy(ctx, node.ID)
			if err := node.Kill(ctx); err != nil {
				return err
			}
			n.strike(led)
			if err := cutUnsynced(n.synced[node.ID], cut); err != nil {
				return err
			}
			return n.startNode(node)
		}
	default:
		return faultPlan{}, fmt.Errorf("unknown fault %q", f)
	}
	return faultPlan{desc: desc, node: node, apply: apply}, nil
}

// startNode starts a node and waits until it serves, bounded by startTimeout but not
// by the run: a node is never left half started. It then notes the size of each
// newest segment, which recovery has just fsynced.
func (n *Nemesis) startNode(node *Node) error { return n.startNodes(node) }

// startNodes starts stopped nodes together and waits until each serves, as
// startNode does. Together, because the voters of a stopped quorum can only elect a
// leader, and so serve, once a majority of them runs.
func (n *Nemesis) startNodes(nodes ...*Node) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for _, node := range nodes {
		if err := node.launch(); err != nil {
			return err
		}
	}
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, node := range nodes {
		wg.Go(func() { errs[i] = node.WaitReady(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, node := range nodes {
		n.noteSynced(node)
		n.mu.Lock()
		n.restarts++
		n.mu.Unlock()
		n.validate(ctx, node, "after a restart")
	}
	return nil
}

// stopAll stops every running node at once, by SIGKILL or gracefully (SIGTERM, then
// SIGKILL after the grace period; a graceful stop that fails is a finding). It is
// carried through even when ctx ends, so that no node is left stopping.
func (n *Nemesis) stopAll(ctx context.Context, kill bool) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.cluster.StopGrace()+10*time.Second)
	defer cancel()
	nodes := n.cluster.Nodes()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, nd := range nodes {
		if nd.State() == Stopped {
			continue
		}
		wg.Go(func() {
			if kill {
				errs[i] = nd.Kill(ctx)
				return
			}
			if err := nd.Stop(ctx, n.cluster.StopGrace()); err != nil {
				n.finding("graceful stop of node %d: %v", nd.ID, err)
				if nd.State() != Stopped {
					errs[i] = err
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// strike records that the current fault has hit now, and the partitions whose
// leader it hit; it returns the time recorded.
func (n *Nemesis) strike(led []int32) int64 { return n.rec.FaultHit(n.current, led) }

// ledBy lists the partitions of the workload's topic that node id leads, as the
// first running broker that answers says; nil if none does.
func (n *Nemesis) ledBy(ctx context.Context, id int32) []int32 {
	for _, nd := range n.cluster.Nodes() {
		if !nd.IsBroker() || nd.State() != Running {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := TopicState(pctx, nd.Addr, n.workload.Config().Topic)
		cancel()
		if err != nil {
			continue
		}
		var led []int32
		for p, ps := range st {
			if ps.Leader == id {
				led = append(led, p)
			}
		}
		slices.Sort(led)
		return led
	}
	return nil
}

// holdFor holds a fault that hit at hit (recorder time) for d and, with
// HoldForFailover, first until every partition in led has acknowledged a record sent
// after hit: the fault stays in place until the cluster has failed over around it.
func (n *Nemesis) holdFor(ctx context.Context, desc string, led []int32, hit int64, d time.Duration) {
	if n.cfg.HoldForFailover && len(led) > 0 {
		wctx, cancel := context.WithTimeout(ctx, n.cfg.ProgressTimeout)
		err := WaitFor(wctx, "writes to the partitions the node led", func(context.Context) (bool, error) {
			for _, p := range led {
				if !n.workload.WroteSince(p, hit) {
					return false, fmt.Errorf("partition %d has acknowledged nothing sent since", p)
				}
			}
			return true, nil
		})
		cancel()
		if err != nil && ctx.Err() == nil {
			n.finding("no failover within %v of %q: %v", n.cfg.ProgressTimeout, desc, err)
		}
	}
	sleep(ctx, d)
}

// settle waits until every running broker's Metadata gives every partition of the
// workload's topic a leader, the same one, and an ISR of all its replicas. A cluster
// that does not settle within ProgressTimeout is a finding: a replica that never
// rejoins the ISR, or brokers that disagree on a leader.
func (n *Nemesis) settle(ctx context.Context) {
	wctx, cancel := context.WithTimeout(ctx, n.cfg.ProgressTimeout)
	defer cancel()
	topic, parts := n.workload.Config().Topic, int(n.workload.Config().Partitions)
	err := WaitFor(wctx, "every partition led, and all its replicas in sync", func(ctx context.Context) (bool, error) {
		var leaders map[int32]int32
		for _, nd := range n.cluster.Nodes() {
			if !nd.IsBroker() || nd.State() != Running {
				continue
			}
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			st, err := TopicState(pctx, nd.Addr, topic)
			cancel()
			if err != nil {
				return false, err
			}
			if len(st) != parts {
				return false, fmt.Errorf("node %d knows %d partitions of %s, not %d", nd.ID, len(st), topic, parts)
			}
			for p, ps := range st {
				switch {
				case ps.Leader < 0:
					return false, fmt.Errorf("node %d: partition %d has no leader", nd.ID, p)
				case len(ps.ISR) < len(ps.Replicas):
					return false, fmt.Errorf("node %d: partition %d has in sync %v of replicas %v", nd.ID, p, ps.ISR, ps.Replicas)
				case leaders != nil && leaders[p] != ps.Leader:
					return false, fmt.Errorf("partition %d: node %d says %d leads, another says %d", p, nd.ID, ps.Leader, leaders[p])
				}
			}
			if leaders == nil {
				leaders = make(map[int32]int32, len(st))
				for p, ps := range st {
					leaders[p] = ps.Leader
				}
			}
		}
		return true, nil
	})
	if err != nil && ctx.Err() == nil {
		n.finding("the cluster did not settle within %v: %v", n.cfg.ProgressTimeout, err)
	}
}

// validate checks every partition's log on node when ValidateLogs is set, and keeps
// what is wrong as a finding. A pure controller has no partition logs to check.
func (n *Nemesis) validate(ctx context.Context, node *Node, when string) {
	if !n.cfg.ValidateLogs || !node.IsBroker() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	for p := range n.workload.Config().Partitions {
		if err := ValidateLog(ctx, node.Addr, n.workload.Config().Topic, p); err != nil {
			n.finding("log of node %d invalid %s: %v", node.ID, when, err)
		}
	}
}

func (n *Nemesis) waitReady(node *Node) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	return node.WaitReady(ctx)
}

// noteSynced records the size of the newest segment of each of the topic's
// partitions on node. The default flush policy fsyncs nothing after recovery until a
// segment rolls, so what was appended since is what a power loss may take.
func (n *Nemesis) noteSynced(node *Node) {
	sizes := make(map[string]int64)
	dirs, _ := filepath.Glob(filepath.Join(node.DataDir, n.workload.Config().Topic+"-*"))
	for _, dir := range dirs {
		if seg := newestSegment(dir); seg != "" {
			if fi, err := os.Stat(seg); err == nil {
				sizes[seg] = fi.Size()
			}
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.synced[node.ID] = sizes
}

// waitProgress waits until a write is acknowledged after since (recorder time), so
// that the next fault hits a cluster that works. A cluster that does not recover in
// ProgressTimeout is logged: unavailability is not an anomaly, but it is worth
// knowing.
//
// The run's own end (ctx done, by cancellation or by its deadline, which may have
// passed while the fault lasted) is not a cluster that failed to recover.
func (n *Nemesis) waitProgress(ctx context.Context, since int64) {
	wctx, cancel := context.WithTimeout(ctx, n.cfg.ProgressTimeout)
	defer cancel()
	err := WaitFor(wctx, "a write acknowledged after the fault", func(context.Context) (bool, error) {
		return n.workload.lastAck.Load() > since, nil
	})
	if err != nil && ctx.Err() == nil {
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

// leader asks the running brokers for the leader of partition 0 of the topic.
func (n *Nemesis) leader() (*Node, error) {
	lastErr := errors.New("no broker runs")
	for _, nd := range n.cluster.Nodes() {
		if !nd.IsBroker() || nd.State() != Running {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		id, err := LeaderOf(ctx, nd.Addr, n.workload.Config().Topic, 0)
		cancel()
		if err == nil {
			if ld := n.cluster.Node(id); ld != nil {
				return ld, nil
			}
			err = fmt.Errorf("leader %d is not a node of this cluster", id)
		}
		lastErr = err
	}
	return nil, fmt.Errorf("find the leader of partition 0: %v", lastErr)
}

// controller asks the running nodes for the active controller's id: a combined node
// through Metadata, a pure controller through DescribeQuorum on its CONTROLLER
// listener. A pure broker is not asked: when the active controller is no broker, its
// Metadata names some live broker instead, as KRaft's does.
func (n *Nemesis) controller(ctx context.Context) (int32, error) {
	lastErr := errors.New("no controller runs")
	for _, nd := range n.cluster.Nodes() {
		if !nd.IsController() || nd.State() != Running {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var ctrl int32
		var err error
		if nd.IsBroker() {
			ctrl, err = ProbeRegistered(pctx, nd.Addr, nd.ID)
		} else {
			var q Quorum
			q, err = ProbeQuorum(pctx, nd.ControllerAddr)
			ctrl = q.LeaderID
		}
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
	for _, nd := range n.cluster.Nodes() {
		if n.cluster.FsyncDelay() {
			errs = append(errs, nd.SetFsyncDelay(0))
		}
	}
	if err := n.cluster.Network().Heal(); err != nil {
		errs = append(errs, err)
	}
	var stopped []*Node
	for _, nd := range n.cluster.Nodes() {
		if nd.State() == Paused {
			errs = append(errs, nd.Resume())
		}
		if nd.State() == Stopped {
			stopped = append(stopped, nd)
		}
	}
	if len(stopped) > 0 {
		errs = append(errs, n.startNodes(stopped...))
	}
	for _, nd := range n.cluster.Nodes() {
		if slices.Contains(stopped, nd) {
			continue
		}
		if err := n.waitReady(nd); err != nil {
			// It may have exited while starting: one more start.
			if nd.State() != Stopped {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, n.startNode(nd))
		}
	}
	return errors.Join(errs...)
}

// fill writes path until the file system is full, in ever smaller chunks so that
// even small allocations fail afterwards. Only ENOSPC ends it without error.
func fill(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("fill %s: %w", path, err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for size := len(chunk); size >= 512; {
		if _, err := f.Write(chunk[:size]); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				return fmt.Errorf("fill %s: %w", path, err)
			}
			size /= 2
		}
	}
	return nil
}

// newestSegment returns the .log file with the highest base offset in a partition
// directory, or "".
func newestSegment(dir string) string {
	segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(segs) == 0 {
		return ""
	}
	slices.Sort(segs) // 20-digit base offsets sort as numbers
	return segs[len(segs)-1]
}

// cutUnsynced drops the given fraction of what each newest segment gained beyond
// its synced size (a segment unknown there is new since: all of it is unsynced).
func cutUnsynced(synced map[string]int64, cut float64) error {
	var errs []error
	for seg, size0 := range synced {
		dir := filepath.Dir(seg)
		newest := newestSegment(dir)
		if newest != seg {
			size0 = 0
		}
		fi, err := os.Stat(newest)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if fi.Size() <= size0 {
			continue
		}
		keep := size0 + int64(float64(fi.Size()-size0)*(1-cut))
		if err := os.Truncate(newest, keep); err != nil {
			errs = append(errs, fmt.Errorf("cut %s: %w", newest, err))
		}
	}
	return errors.Join(errs...)
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
