// Command chaos runs Sluice's reliability harness: it starts Sluice nodes, drives them
// with producers and consumers while injecting faults, and checks the history for
// lost, duplicated and reordered records. It writes history.json and result.json to
// its directory and exits 1 if it found any anomaly, 2 if the run could not start.
//
//	go run ./test/chaos/cmd/chaos -nodes 1 -duration 10m -seed 42
//	go run ./test/chaos/cmd/chaos -workload txn -nodes 3 -durable -duration 10m -seed 42
//	go run ./test/chaos/cmd/chaos -nodes 5 -controllers 3 -duration 10m -seed 42
//	go run ./test/chaos/cmd/chaos -check dir/history.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/test/chaos"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		bin        = flag.String("bin", "bin/sluice", "the sluice binary to test")
		dir        = flag.String("dir", "", "directory for node data, logs, history.json and result.json (default: a new one under $TMPDIR)")
		nodes      = flag.Int("nodes", 1, "number of nodes")
		ctrls      = flag.Int("controllers", 0, "split the roles: nodes 1..N are pure controllers, the rest pure brokers (0: every node a combined broker and controller)")
		network    = flag.String("network", "", "loopback or netns (default: netns for several nodes when root, else loopback)")
		duration   = flag.Duration("duration", time.Minute, "how long the workload runs under faults")
		quiet      = flag.Duration("quiet", 5*time.Second, "how long the workload runs after the final heal")
		seed       = flag.Uint64("seed", 0, "seed of the fault schedule and the workload (default: from the clock; printed)")
		faults     = flag.String("faults", "", "comma-separated faults (default: every fault the cluster allows); known: "+faultNames())
		interval   = flag.Duration("interval", 5*time.Second, "mean time between faults")
		hold       = flag.Duration("hold", 3*time.Second, "longest a fault lasts")
		partitions = flag.Int("partitions", 4, "partitions of the test topic")
		producers  = flag.Int("producers", 3, "producers")
		consumers  = flag.Int("consumers", 2, "consumers (-1: none, only the final read)")
		rate       = flag.Int("rate", 100, "records per second per producer")
		workload   = flag.String("workload", "plain", "plain (sends and polls) or txn (transactions across partitions, consume-transform-produce processors)")
		txnRate    = flag.Int("txn-rate", 5, "with -workload txn: transactions per second per producer")
		txnWrites  = flag.Int("txn-writes", 4, "with -workload txn: the most records a producer's transaction writes (at least 2)")
		abortRatio = flag.Float64("abort-ratio", 0.25, "with -workload txn: the share of transactions aborted on purpose")
		processors = flag.Int("processors", 2, "with -workload txn: consume-transform-produce members of the group (-1: none)")
		durable    = flag.Bool("durable", false, "flush.messages=1 on the topic: acknowledge after fsync")
		validate   = flag.Bool("validate", true, "read back and check every partition's log after each restart")
		dataSize   = flag.Int64("data-size", 0, "cap each node's data directory at this many bytes with a tmpfs (root only; needed by disk-full)")
		set        = flag.String("set", "", "extra broker settings for every node, key=value separated by ';'")
		leader     = flag.Bool("target-leader", false, "aim single-node faults at the leader of partition 0")
		settle     = flag.Bool("settle", false, "before each fault, wait until every partition has a leader and all its replicas in sync")
		failover   = flag.Bool("hold-for-failover", false, "hold kill, pause and partition faults until the partitions the node led take writes again")
		rotate     = flag.Bool("rotate", false, "take the faults in turn rather than at random")
		count      = flag.Int("count", 0, "stop injecting after this many faults (0: until -duration)")
		check      = flag.String("check", "", "only check an existing history.json and print the result")
		verbose    = flag.Bool("v", false, "log every node start, stop and fault")
	)
	flag.Parse()

	if *check != "" {
		return checkOnly(*check)
	}
	if *workload != "plain" && *workload != "txn" {
		fmt.Fprintf(os.Stderr, "chaos: unknown workload %q: plain or txn\n", *workload)
		return 2
	}
	if *abortRatio == 0 {
		*abortRatio = -1 // the config's zero means its default
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	var fs []chaos.Fault
	var err error
	switch {
	case *faults != "":
		if fs, err = chaos.ParseFaults(*faults); err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 2
		}
	case *nodes > 1:
		fs = chaos.ClusterFaults
	default:
		fs = chaos.SingleNodeFaults
	}
	absBin, err := filepath.Abs(*bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	if *dir == "" {
		if *dir, err = os.MkdirTemp("", "sluice-chaos-"); err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 2
		}
	} else if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	var settings []string
	for _, kv := range strings.Split(*set, ";") {
		if kv = strings.TrimSpace(kv); kv != "" {
			settings = append(settings, kv)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	layout := fmt.Sprintf("%d node(s)", *nodes)
	if *ctrls > 0 && *ctrls < *nodes {
		layout = fmt.Sprintf("%d nodes (%d controllers, %d brokers)", *nodes, *ctrls, *nodes-*ctrls)
	}
	fmt.Printf("chaos: seed %d, %s workload, %s, %v of faults %v; output in %s\n", *seed, *workload, layout, *duration, fs, *dir)
	res, err := chaos.Run(ctx, chaos.Options{
		Binary: absBin, Dir: *dir, Nodes: *nodes, Controllers: *ctrls, Network: *network, Settings: settings,
		Duration: *duration, Quiet: *quiet, Seed: *seed, DataSize: *dataSize,
		Nemesis: chaos.NemesisConfig{
			Faults: fs, Interval: *interval, Hold: *hold, ValidateLogs: *validate, TargetLeader: *leader,
			Settle: *settle, HoldForFailover: *failover, Rotate: *rotate, Count: *count,
		},
		Workload: chaos.WorkloadConfig{
			Partitions: int32(*partitions), Producers: *producers, Consumers: *consumers,
			Rate: *rate, Durable: *durable,
			Txn: *workload == "txn", TxnRate: *txnRate, TxnWrites: *txnWrites, AbortRatio: *abortRatio, Processors: *processors,
		},
		Logger: logger,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	report(res)
	if !res.OK() {
		return 1
	}
	return 0
}

// report prints the verdict, the counts and a few examples of each anomaly.
func report(res *chaos.Result) {
	fmt.Println(res)
	fmt.Println("anomalies:")
	for _, name := range res.Summary.Checked() {
		fmt.Printf("  %-22s %d\n", name, res.Summary.Anomalies[name])
	}
	for name, why := range res.Summary.NotChecked {
		fmt.Printf("  %-22s not checked: %s\n", name, why)
	}
	if len(res.Summary.Allowed) > 0 {
		fmt.Println("allowed by Kafka's transactions, counted but not anomalies:")
		for _, name := range chaos.AllowedAnomalies {
			fmt.Printf("  %-22s %d\n", name, res.Summary.Allowed[name])
		}
	}
	fmt.Printf("faults: %v\n", res.Summary.Stats.Faults)
	fmt.Printf("linearizability per partition: %v\n", res.Summary.Linearizability)
	fmt.Println("time to the first acknowledged write after each kind of fault:")
	for _, rs := range chaos.SummarizeRecovery(res.Summary.Stats.Recovery) {
		fmt.Println("  ", rs)
	}
	for _, a := range res.Summary.Examples {
		fmt.Println("  ", a)
	}
}

func checkOnly(path string) int {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	defer f.Close()
	h, err := chaos.ReadHistory(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	sum := chaos.Check(h, chaos.CheckOptions{})
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sum); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	if !sum.Valid {
		return 1
	}
	return 0
}

func faultNames() string {
	var names []string
	for _, f := range chaos.AllFaults {
		names = append(names, string(f))
	}
	return strings.Join(names, ",")
}
