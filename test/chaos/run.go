package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Options describe one run.
type Options struct {
	// Binary is the sluice binary; Dir holds the nodes' data and logs, and the
	// history and summary the run writes.
	Binary string
	Dir    string
	// Nodes is how many nodes run. Default 1.
	Nodes int
	// Controllers, when between 1 and Nodes-1, splits the roles (see
	// ClusterConfig.Controllers): nodes 1..Controllers are pure controllers, the
	// others pure brokers. The clients, the topic's replication factor and the log
	// validation see only the brokers; faults hit controllers too. 0 (or Nodes)
	// makes every node a combined broker and controller.
	Controllers int
	// Network is "loopback" or "netns"; empty picks netns for several nodes when it
	// is available (root), loopback otherwise.
	Network string
	// Settings are extra broker settings (key=value) for every node.
	Settings []string
	// DataSize caps each node's data directory (a tmpfs; root only), for the
	// disk-full fault. 0: no cap.
	DataSize int64
	// FsyncDelay starts the nodes with the broker's fsync-delay hook; it is on
	// whenever the fsync-delay fault is scheduled.
	FsyncDelay bool
	// Duration is how long the workload runs under faults, before the final heal.
	Duration time.Duration
	// Quiet is how long the workload runs after the final heal. Default 5s.
	Quiet time.Duration
	// Seed reproduces the schedule and the workload's choices. Nemesis.Seed and
	// Workload.Seed are set from it.
	Seed     uint64
	Nemesis  NemesisConfig
	Workload WorkloadConfig
	Check    CheckOptions
	Logger   *slog.Logger
}

// Result is what a run found.
type Result struct {
	Seed  uint64 `json:"seed"`
	Nodes int    `json:"nodes"`
	// Controllers is how many of the nodes are pure controllers; 0 when every node
	// is a combined broker and controller.
	Controllers int `json:"controllers,omitempty"`
	// Workload is "plain" (sends and polls) or "txn" (WorkloadConfig.Txn).
	Workload string        `json:"workload"`
	Network  string        `json:"network"`
	Duration time.Duration `json:"duration_ns"`
	Summary  Summary       `json:"summary"`
	// Crashes are node exits the harness did not cause.
	Crashes []string `json:"crashes,omitempty"`
	// Errors are failures of the run itself: a node that did not restart, a final
	// read that could not finish, a log that failed validation after a restart.
	// Each one is a finding too.
	Errors []string `json:"errors,omitempty"`
	// Kills counts SIGKILLs sent; Restarts counts node starts after the first.
	Kills    int      `json:"kills"`
	Restarts int      `json:"restarts"`
	History  *History `json:"-"`
}

// OK reports whether the run found nothing wrong.
func (r *Result) OK() bool {
	return r.Summary.Valid && len(r.Crashes) == 0 && len(r.Errors) == 0
}

// String is a one-line verdict.
func (r *Result) String() string {
	nodes := fmt.Sprintf("%d node(s)", r.Nodes)
	if r.Controllers > 0 {
		nodes = fmt.Sprintf("%d nodes (%d controllers, %d brokers)", r.Nodes, r.Controllers, r.Nodes-r.Controllers)
	}
	s := fmt.Sprintf("seed %d, %s workload, %s on %s, %v, %d kills, %d restarts: %v", r.Seed, r.Workload, nodes, r.Network, r.Duration.Round(time.Second), r.Kills, r.Restarts, r.Summary)
	if len(r.Crashes) > 0 {
		s += fmt.Sprintf("; %d crash(es): %v", len(r.Crashes), r.Crashes)
	}
	if len(r.Errors) > 0 {
		s += fmt.Sprintf("; errors: %v", r.Errors)
	}
	return s
}

// Run starts a cluster, runs the workload under the nemesis for Duration, heals
// everything, lets the workload run Quiet longer, stops it, reads every partition
// from the beginning and checks the history. The history and the result are written
// to Dir as history.json and result.json. An error means the run could not start.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Nodes <= 0 {
		opts.Nodes = 1
	}
	if opts.Quiet <= 0 {
		opts.Quiet = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opts.Nemesis.Seed, opts.Workload.Seed = opts.Seed, opts.Seed
	log := opts.Logger

	if old, _ := filepath.Glob(filepath.Join(opts.Dir, "node-*")); len(old) > 0 {
		return nil, fmt.Errorf("%s already holds nodes (%s): a run needs a fresh directory", opts.Dir, old[0])
	}
	if opts.Workload.Txn {
		// The processors' group forms at once rather than after Kafka's 3 s wait for
		// more members, which a short run between faults can ill afford. The
		// caller's settings come after, and win.
		opts.Settings = append([]string{"group.initial.rebalance.delay.ms=0"}, opts.Settings...)
	}
	nw, err := newNetwork(opts.Network, opts.Nodes)
	if err != nil {
		return nil, err
	}
	cluster, err := NewCluster(ClusterConfig{
		Binary: opts.Binary, Dir: opts.Dir, Nodes: opts.Nodes, Controllers: opts.Controllers,
		Settings: opts.Settings, Network: nw, Logger: log,
		DataSize: opts.DataSize, FsyncDelay: opts.FsyncDelay || slices.Contains(opts.Nemesis.Faults, FaultFsyncDelay),
	})
	if err != nil {
		nw.Close()
		return nil, err
	}
	res := &Result{Seed: opts.Seed, Nodes: opts.Nodes, Network: nw.String(), Workload: "plain"}
	if brokers := len(cluster.Brokers()); brokers < opts.Nodes {
		res.Controllers = opts.Nodes - brokers
	}
	if opts.Workload.Txn {
		res.Workload = "txn"
	}
	defer func() {
		if err := cluster.Close(); err != nil {
			log.Warn("close cluster", "err", err)
		}
	}()
	started := time.Now()
	startCtx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if err := cluster.Start(startCtx); err != nil {
		return nil, fmt.Errorf("start cluster: %w", err)
	}

	if opts.Workload.ClientLog == nil {
		// The clients' own log, beside the nodes': what they did about errors.
		f, err := os.Create(filepath.Join(opts.Dir, "clients.log"))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		opts.Workload.ClientLog = &lockedWriter{w: f}
	}
	rec := NewRecorder()
	// The topic's replicas can only be on brokers: its replication factor follows
	// their number, not the nodes'.
	w := NewWorkload(opts.Workload, len(cluster.Brokers()), cluster.Bootstrap(), rec, log)
	if err := w.Setup(startCtx); err != nil {
		return nil, fmt.Errorf("workload setup: %w", err)
	}
	nem, err := NewNemesis(opts.Nemesis, cluster, w, rec, log)
	if err != nil {
		return nil, err
	}
	if err := w.Start(); err != nil {
		return nil, err
	}
	log.Info("run started", "seed", opts.Seed, "nodes", opts.Nodes, "controllers", res.Controllers, "network", nw.String(),
		"duration", opts.Duration, "faults", opts.Nemesis.Faults)

	faultCtx, stopFaults := context.WithTimeout(ctx, opts.Duration)
	if err := nem.Run(faultCtx); err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	stopFaults()

	// Final heal: whatever the last fault left, and whatever a failed fault broke.
	healCtx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := nem.HealAll(healCtx); err != nil {
		res.Errors = append(res.Errors, "final heal: "+err.Error())
	}
	log.Info("healed; quiet period", "quiet", opts.Quiet)
	if err := sleep(ctx, opts.Quiet); err != nil {
		res.Errors = append(res.Errors, "quiet period: "+err.Error())
	}
	w.StopProducers()

	endCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var ends map[int32]int64
	if opts.Workload.Txn {
		ends, err = w.WriteEndMarkers(endCtx)
	} else {
		ends, err = w.EndOffsets(endCtx)
	}
	if err != nil {
		res.Errors = append(res.Errors, err.Error())
	} else {
		log.Info("producers stopped; consumers catching up", "ends", ends)
		if err := w.CatchUp(endCtx, ends); err != nil {
			res.Errors = append(res.Errors, err.Error())
		}
	}
	w.StopConsumers()
	if ends != nil {
		if err := w.FinalRead(endCtx, ends); err != nil {
			res.Errors = append(res.Errors, err.Error())
		}
	}
	if opts.Workload.Txn {
		if err := w.ReadGroupOffsets(endCtx); err != nil {
			res.Errors = append(res.Errors, err.Error())
		}
	}

	res.History = rec.History()
	res.Duration = time.Since(started)
	for _, c := range cluster.Crashes() {
		res.Crashes = append(res.Crashes, c.Error())
	}
	res.Errors = append(res.Errors, nem.Findings()...)
	res.Restarts = nem.Restarts()
	for _, nd := range cluster.Nodes() {
		res.Kills += nd.Kills()
	}
	res.Summary = Check(res.History, opts.Check)
	log.Info("run checked", "result", res.String())
	if err := res.write(opts.Dir); err != nil {
		return res, err
	}
	return res, nil
}

// lockedWriter serializes writes from many clients' loggers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// newNetwork builds the network a run asked for.
func newNetwork(name string, nodes int) (Network, error) {
	switch name {
	case "loopback":
		return Loopback{}, nil
	case "netns":
		return NewNetns(nodes)
	case "":
		if nodes > 1 && NetnsAvailable() == nil {
			return NewNetns(nodes)
		}
		return Loopback{}, nil
	}
	return nil, fmt.Errorf("unknown network %q: loopback or netns", name)
}

// write saves history.json and result.json in dir.
func (r *Result) write(dir string) error {
	var errs []error
	if f, err := os.Create(filepath.Join(dir, "history.json")); err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, r.History.WriteJSON(f), f.Close())
	}
	if f, err := os.Create(filepath.Join(dir, "result.json")); err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, writeJSON(f, r), f.Close())
	}
	return errors.Join(errs...)
}
