package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/test/chaos"
)

// Issue 11 on four combined nodes in three racks: rack-aware placement, a reassignment
// under load, a cancelled one, preferred leaders coming back after a restart, and a
// decommissioned broker. The moves, elections and the decommissioning go through the
// sluice command line, as an operator would drive them.

// racksOf places the four nodes: 1 and 4 in rack-a, 2 in rack-b, 3 in rack-c.
var racksOf = map[int32]string{1: "rack-a", 2: "rack-b", 3: "rack-c", 4: "rack-a"}

// throttleRate is the cancel step's `--execute --throttle`, in bytes per second: slow
// enough that its reassignment is still running when it is cancelled.
const throttleRate = 200_000

// reassignSettings keep the cluster quick to react: preferred leaders are checked every
// second and any imbalance is corrected, a lagging follower leaves the ISR after 5 s.
var reassignSettings = []string{
	"leader.imbalance.check.interval.seconds=1",
	"leader.imbalance.per.broker.percentage=0",
	"replica.lag.time.max.ms=5000",
}

func TestReassignment(t *testing.T) {
	f := startRackCluster(t, racksOf, reassignSettings...)
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"rack-aware placement puts a partition's replicas in different racks", f.testRackPlacement},
		{"a topic moves from brokers 1-3 to 2-4 under load with no anomaly, and is complete on broker 4", f.testReassignUnderLoad},
		{"a reassignment cancelled mid-way goes back to its replicas", f.testCancelReassignment},
		{"after a broker restart, leadership returns to the preferred leaders", f.testPreferredLeadersReturn},
		{"a decommissioned broker ends with no replicas and unregistered", f.testDecommission},
	}
	for _, s := range steps {
		start := time.Now()
		if !t.Run(s.name, s.run) {
			break // each step starts from where the one before left the cluster
		}
		t.Logf("%s: %v", s.name, time.Since(start).Round(time.Millisecond))
	}
}

// startRackCluster is startCluster with a broker.rack per node. The harness gives every
// node the same settings, so the nodes run through a wrapper script that adds the rack
// of the node.id it is started with.
func startRackCluster(t *testing.T, racks map[int32]string, extra ...string) *fixture {
	t.Helper()
	dir := t.TempDir()
	var cases strings.Builder
	for id, rack := range racks {
		fmt.Fprintf(&cases, "  node.id=%d) rack=%s ;;\n", id, rack)
	}
	wrapper := filepath.Join(dir, "sluice-with-rack")
	script := fmt.Sprintf("#!/bin/sh\nrack=\nfor a in \"$@\"; do\n case \"$a\" in\n%s esac\ndone\nexec %q \"$@\" --set broker.rack=$rack\n", cases.String(), testBinary)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := chaos.NewCluster(chaos.ClusterConfig{
		Binary: wrapper, Dir: filepath.Join(dir, "nodes"), Nodes: len(racks),
		Settings: append(append([]string(nil), clusterSettings...), extra...),
		Logger:   slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, c: c}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
		if crashes := c.Crashes(); len(crashes) > 0 {
			t.Errorf("nodes exited by themselves: %v", crashes)
		}
		if t.Failed() {
			for _, n := range c.Nodes() {
				t.Log(n.LogTail(80))
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	start := time.Now()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d nodes ready after %v", len(racks), time.Since(start).Round(time.Millisecond))
	return f
}

// sluice runs the sluice command line against the running brokers and returns its
// standard output and error; err is the exit status.
func (f *fixture) sluice(ctx context.Context, args ...string) (string, string, error) {
	var addrs []string
	for _, n := range f.brokers() {
		addrs = append(addrs, n.Addr)
	}
	cmd := exec.CommandContext(ctx, testBinary, append(args, "-b", strings.Join(addrs, ","), "--timeout", "10s")...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLUICE_") { // the CLI reads those as its settings
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// mustSluice runs the command line and fails the test if it fails.
func (f *fixture) mustSluice(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	out, errOut, err := f.sluice(ctx, args...)
	if err != nil {
		t.Fatalf("sluice %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// poll calls cond every interval until it is true or ctx ends; for conditions that are
// costly to check (a process per check), where chaos.WaitFor's 20 ms would be too often.
func poll(ctx context.Context, what string, interval time.Duration, cond func(context.Context) (bool, error)) error {
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(interval):
		}
	}
}

// placed is a partition as Metadata orders it: the replicas in their order, the first
// being the preferred leader.
type placed struct {
	Leader   int32
	Replicas []int32
	ISR      []int32
}

// placementAt asks addr for Metadata of every topic, keeping the replicas' order.
func placementAt(ctx context.Context, addr string) (map[string][]placed, map[int32]string, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = nil
	resp, err := request[*kmsg.MetadataResponse](ctx, addr, req, 12)
	if err != nil {
		return nil, nil, err
	}
	racks := map[int32]string{}
	for _, b := range resp.Brokers {
		racks[b.NodeID] = deref(b.Rack)
	}
	out := map[string][]placed{}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return nil, nil, fmt.Errorf("metadata from %s: topic %s: %w", addr, deref(t.Topic), err)
		}
		ps := make([]placed, len(t.Partitions))
		for _, p := range t.Partitions {
			if int(p.Partition) >= len(ps) {
				return nil, nil, fmt.Errorf("metadata from %s: %s-%d of %d partitions", addr, deref(t.Topic), p.Partition, len(ps))
			}
			ps[p.Partition] = placed{Leader: p.Leader, Replicas: p.Replicas, ISR: sorted(p.ISR)}
		}
		out[deref(t.Topic)] = ps
	}
	return out, racks, nil
}

// waitPlacement polls until every running broker's Metadata satisfies check, and returns
// the first broker's.
func (f *fixture) waitPlacement(t *testing.T, ctx context.Context, what string, check func(map[string][]placed) error) map[string][]placed {
	t.Helper()
	var got map[string][]placed
	err := chaos.WaitFor(ctx, what, func(ctx context.Context) (bool, error) {
		for i, n := range f.brokers() {
			pl, _, err := placementAt(ctx, n.Addr)
			if err != nil {
				return false, err
			}
			if err := check(pl); err != nil {
				return false, fmt.Errorf("broker %d: %w", n.ID, err)
			}
			if i == 0 {
				got = pl
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// createAssigned creates topic with the given replicas per partition and configs.
func createAssigned(ctx context.Context, addr, topic string, replicas [][]int32, configs map[string]string) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = opTimeoutMs
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	for p, rs := range replicas {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = int32(p), rs
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
	}
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	req.SetVersion(7)
	// Longer than request's probe timeout: on a loaded machine the controller may take
	// seconds to commit, and a retry would find the topic existing.
	rctx, cancel := context.WithTimeout(ctx, 3*opTimeoutMs*time.Millisecond/2)
	defer cancel()
	r, err := chaos.RoundTrip(rctx, addr, req)
	if err != nil {
		return fmt.Errorf("create %s through %s: %w", topic, addr, err)
	}
	resp := r.(*kmsg.CreateTopicsResponse)
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		return fmt.Errorf("create %s: %w (%s)", topic, err, deref(resp.Topics[0].ErrorMessage))
	}
	return nil
}

// reassignments lists the reassignments in progress, as addr answers
// ListPartitionReassignments for every partition.
func reassignments(ctx context.Context, addr string) (map[string]string, error) {
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.Topics = nil
	resp, err := request[*kmsg.ListPartitionReassignmentsResponse](ctx, addr, req, 0)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[fmt.Sprintf("%s-%d", t.Topic, p.Partition)] = fmt.Sprintf("replicas %v adding %v removing %v", p.Replicas, p.AddingReplicas, p.RemovingReplicas)
		}
	}
	return out, nil
}

// logDirSize returns the size of topic-p's log on the broker at addr, and whether the
// broker has that log at all (DescribeLogDirs v4).
func logDirSize(ctx context.Context, addr, topic string, p int32) (int64, bool, error) {
	resp, err := request[*kmsg.DescribeLogDirsResponse](ctx, addr, kmsg.NewPtrDescribeLogDirsRequest(), 4)
	if err != nil {
		return 0, false, err
	}
	for _, d := range resp.Dirs {
		for _, dt := range d.Topics {
			for _, dp := range dt.Partitions {
				if dt.Topic == topic && dp.Partition == p {
					return dp.Size, true, nil
				}
			}
		}
	}
	return 0, false, nil
}

// writePlan writes a reassignment plan file and returns its path.
func writePlan(t *testing.T, name, plan string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// testRackPlacement creates topics with replication factors 3 and 2, and adds
// partitions to one: every partition's replicas must sit in as many racks as it has
// replicas (three racks exist). Metadata and `sluice brokers list` report the racks.
func (f *fixture) testRackPlacement(t *testing.T) {
	ctx := f.ctx(t, 30*time.Second)
	// Placement uses the brokers the planning broker sees unfenced: every broker
	// must see every other first.
	f.waitAgree(t, ctx, "every broker to list the four brokers", nil)
	addr := f.brokers()[0].Addr
	if _, err := createTopic(ctx, addr, "racked-rf3", 8, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := createTopic(ctx, addr, "racked-rf2", 8, 2); err != nil {
		t.Fatal(err)
	}
	if err := createPartitions(ctx, addr, "racked-rf3", 12); err != nil {
		t.Fatal(err)
	}
	pl := f.waitPlacement(t, ctx, "the racked topics on every broker", func(pl map[string][]placed) error {
		if len(pl["racked-rf3"]) != 12 || len(pl["racked-rf2"]) != 8 {
			return fmt.Errorf("racked-rf3 has %d partitions, racked-rf2 %d", len(pl["racked-rf3"]), len(pl["racked-rf2"]))
		}
		return nil
	})
	_, racks, err := placementAt(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	for id, rack := range racksOf {
		if racks[id] != rack {
			t.Errorf("Metadata lists broker %d in rack %q, want %q", id, racks[id], rack)
		}
	}
	for _, topic := range []string{"racked-rf3", "racked-rf2"} {
		for p, part := range pl[topic] {
			seen := map[string]bool{}
			for _, r := range part.Replicas {
				seen[racksOf[r]] = true
			}
			if len(seen) != len(part.Replicas) {
				t.Errorf("%s-%d: replicas %v span racks %v; want one rack per replica", topic, p, part.Replicas, seen)
			}
		}
	}
	out := f.mustSluice(t, ctx, "brokers", "list")
	listed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		if fs := strings.Fields(line); len(fs) == 4 {
			listed[fs[0]] = fs[2] + " " + fs[3]
		}
	}
	for id, rack := range racksOf {
		if got := listed[fmt.Sprint(id)]; got != rack+" unfenced" {
			t.Errorf("brokers list shows broker %d as %q, want %q:\n%s", id, got, rack+" unfenced", out)
		}
	}
}

// testReassignUnderLoad moves a 3-partition topic from brokers {1,2,3} to {2,3,4} with
// a plan `partitions reassign --generate` proposes, while the chaos harness's producers
// (acks=all, idempotent) and consumers run. The history must show no anomaly, and the
// final read of every acknowledged record is made with broker 4 leading every
// partition, whose log end offsets must be the topic's.
func (f *fixture) testReassignUnderLoad(t *testing.T) {
	ctx := f.ctx(t, 90*time.Second)
	const topic = "moving"
	from := [][]int32{{1, 2, 3}, {2, 3, 1}, {3, 1, 2}}
	if err := createAssigned(ctx, f.brokers()[0].Addr, topic, from, map[string]string{"min.insync.replicas": "2"}); err != nil {
		t.Fatal(err)
	}
	rec := chaos.NewRecorder()
	logger := slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w := chaos.NewWorkload(chaos.WorkloadConfig{
		Topic: topic, Partitions: 3, ReplicationFactor: 3, Producers: 2, Consumers: 2, Rate: 150, Seed: 11,
	}, len(f.c.Nodes()), f.c.Bootstrap(), rec, logger)
	if err := w.Setup(ctx); err != nil { // the topic exists: this waits for its leaders
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			w.StopProducers()
			w.StopConsumers()
		}
	}()
	waitAcked := func(n int64) {
		t.Helper()
		if err := chaos.WaitFor(ctx, fmt.Sprintf("%d acknowledged sends", n), func(context.Context) (bool, error) {
			return w.Acked() >= n, fmt.Errorf("%d acknowledged", w.Acked())
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitAcked(200)

	// The plan --generate proposes: broker 4 takes broker 1's place in each partition.
	topics := writePlan(t, "topics.json", `{"version":1,"topics":[{"topic":"moving"}]}`)
	out := f.mustSluice(t, ctx, "partitions", "reassign", "--generate", "--topics-to-move-json-file", topics, "--broker-list", "2,3,4")
	_, proposed, ok := strings.Cut(out, "Proposed partition reassignment configuration\n")
	if !ok {
		t.Fatalf("--generate printed:\n%s", out)
	}
	proposed = strings.TrimSpace(proposed)
	want := `{"version":1,"partitions":[{"topic":"moving","partition":0,"replicas":[4,2,3]},{"topic":"moving","partition":1,"replicas":[2,3,4]},{"topic":"moving","partition":2,"replicas":[3,4,2]}]}`
	if proposed != want {
		t.Fatalf("--generate proposed\n%s\nwant\n%s", proposed, want)
	}
	plan := writePlan(t, "plan.json", proposed)
	started := time.Now()
	ackedBefore := w.Acked()
	out = f.mustSluice(t, ctx, "partitions", "reassign", "--execute", "--reassignment-json-file", plan)
	if !strings.Contains(out, "Started the reassignment of moving-0,moving-1,moving-2.") {
		t.Errorf("--execute printed:\n%s", out)
	}
	var verified string
	err := poll(ctx, "--verify to report the reassignment complete", 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		out, errOut, err := f.sluice(ctx, "partitions", "reassign", "--verify", "--reassignment-json-file", plan)
		verified = out
		if err != nil {
			return false, fmt.Errorf("%v: %s%s", err, out, errOut)
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reassignment complete after %v, %d sends acknowledged meanwhile:\n%s", time.Since(started).Round(time.Millisecond), w.Acked()-ackedBefore, verified)
	f.waitPlacement(t, ctx, "every broker to list the new replicas, all in sync", func(pl map[string][]placed) error {
		for p, part := range pl[topic] {
			if got := sorted(part.Replicas); !slices.Equal(got, []int32{2, 3, 4}) || !slices.Equal(part.ISR, []int32{2, 3, 4}) {
				return fmt.Errorf("%s-%d: replicas %v ISR %v", topic, p, part.Replicas, part.ISR)
			}
		}
		return nil
	})
	// Broker 1 drops its copies.
	for p := range int32(3) {
		err := chaos.WaitFor(ctx, fmt.Sprintf("broker 1 to delete %s-%d", topic, p), func(ctx context.Context) (bool, error) {
			_, has, err := logDirSize(ctx, f.c.Node(1).Addr, topic, p)
			return err == nil && !has, err
		})
		if err != nil {
			t.Error(err)
		}
	}
	waitAcked(w.Acked() + 150) // writes go on after the move

	w.StopProducers()
	ends, err := w.EndOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.CatchUp(ctx, ends); err != nil {
		t.Fatal(err)
	}
	w.StopConsumers()
	stopped = true

	// Broker 4 first in every list (an order change only, which completes at once),
	// then a preferred election makes it the leader.
	lead4 := writePlan(t, "lead4.json", `{"version":1,"partitions":[{"topic":"moving","partition":0,"replicas":[4,2,3]},{"topic":"moving","partition":1,"replicas":[4,2,3]},{"topic":"moving","partition":2,"replicas":[4,3,2]}]}`)
	f.mustSluice(t, ctx, "partitions", "reassign", "--execute", "--reassignment-json-file", lead4)
	err = poll(ctx, "the new order", 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		out, errOut, err := f.sluice(ctx, "partitions", "reassign", "--verify", "--reassignment-json-file", lead4)
		return err == nil, fmt.Errorf("%v: %s%s", err, out, errOut)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, err := f.sluice(ctx, "partitions", "elect-leaders", "--election-type", "preferred", "--topic", topic)
	t.Logf("elect-leaders: %v\n%s%s", err, out, errOut) // the automatic rebalancing may have been first
	if err != nil {
		t.Error("elect-leaders failed")
	}
	f.waitPlacement(t, ctx, "broker 4 to lead every partition of "+topic, func(pl map[string][]placed) error {
		for p, part := range pl[topic] {
			if part.Leader != 4 {
				return fmt.Errorf("%s-%d: leader %d", topic, p, part.Leader)
			}
		}
		return nil
	})
	// A new leader's high watermark catches up with the log end once its followers
	// have fetched from it.
	led := time.Now()
	for p, end := range ends {
		err := chaos.WaitFor(ctx, fmt.Sprintf("%s-%d on broker 4 to end at %d", topic, p, end), func(ctx context.Context) (bool, error) {
			got, err := endOffset(ctx, f.c.Node(4).Addr, topic, p)
			if err == nil && got != end {
				err = fmt.Errorf("end offset %d", got)
			}
			return err == nil, err
		})
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("broker 4's high watermarks reached the end offsets %v after %v", ends, time.Since(led).Round(time.Millisecond))
	read := time.Now()
	if err := w.FinalRead(ctx, ends); err != nil {
		t.Fatal(err)
	}
	t.Logf("final read from broker 4: %v", time.Since(read).Round(time.Millisecond))
	hist := rec.History()
	sum := chaos.Check(hist, chaos.CheckOptions{LinearizabilityTimeout: 10 * time.Second})
	// Reported, not asserted: an acks=all produce waiting on a leader whose replica
	// is reassigned away is answered only at its timeout (10 s with franz-go), then
	// retried on the new leader (see the report on issue 11's tests).
	var slowest time.Duration
	for _, op := range hist.Ops {
		if op.Kind == chaos.KindSend && op.Outcome == chaos.OK {
			slowest = max(slowest, time.Duration(op.Return-op.Call))
		}
	}
	t.Logf("slowest acknowledged send: %v", slowest.Round(time.Millisecond))
	t.Logf("history: %v; linearizability %v", sum, sum.Linearizability)
	if !sum.Valid {
		for _, a := range sum.Examples {
			t.Errorf("anomaly: %v", a)
		}
		t.Fatalf("the history is not valid: %v", sum)
	}
	if sum.Stats.SendsOK == 0 || sum.Stats.FinalRead < sum.Stats.SendsOK {
		t.Errorf("%d sends acknowledged, %d records in the final read from broker 4", sum.Stats.SendsOK, sum.Stats.FinalRead)
	}
	for p, lin := range sum.Linearizability {
		if lin == "illegal" {
			t.Errorf("partition %d: not linearizable", p)
		}
	}
}

// testCancelReassignment fills a partition on brokers {1,2,3} and moves it to {2,3,4}
// with its catch-up traffic throttled (`--execute --throttle`); while broker 4 is
// part-way through copying it, `partitions reassign --cancel` must put it back:
// replicas {1,2,3}, nothing being added or removed, broker 4's partial copy deleted,
// the throttles removed, the data intact and writable.
func (f *fixture) testCancelReassignment(t *testing.T) {
	ctx := f.ctx(t, 60*time.Second)
	const topic = "cancelled"
	leader := f.c.Node(1).Addr
	if err := createAssigned(ctx, leader, topic, [][]int32{{1, 2, 3}}, map[string]string{"min.insync.replicas": "2"}); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.c.Bootstrap()...), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// About 2 MB of values that do not compress: ten seconds of copying at the
	// throttled rate.
	const records = 2000
	value := make([]byte, 1000)
	var recs []*kgo.Record
	for i := range records {
		for j := range value {
			value[j] = byte(i*131 + j*7 + j*j/3)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Value: slices.Clone(value)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	f.waitPlacement(t, ctx, "the followers of "+topic+" in sync", func(pl map[string][]placed) error {
		if part := pl[topic][0]; !slices.Equal(part.ISR, []int32{1, 2, 3}) {
			return fmt.Errorf("ISR %v", part.ISR)
		}
		return nil
	})
	plan := writePlan(t, "plan.json", `{"version":1,"partitions":[{"topic":"cancelled","partition":0,"replicas":[2,3,4]}]}`)
	out := f.mustSluice(t, ctx, "partitions", "reassign", "--execute", "--reassignment-json-file", plan, "--throttle", fmt.Sprint(throttleRate))
	if !strings.Contains(out, fmt.Sprintf("Throttled the moves' replication to %d bytes/s on brokers [1,2,3,4]", throttleRate)) {
		t.Errorf("--execute --throttle printed:\n%s", out)
	}
	for k, want := range map[string]string{"leader.replication.throttled.replicas": "0:1,0:2,0:3", "follower.replication.throttled.replicas": "0:4"} {
		if v, dynamic, err := topicConfig(ctx, leader, topic, k); err != nil || v != want || !dynamic {
			t.Errorf("%s of %s: %q (set on the topic: %v), %v; want %q", k, topic, v, dynamic, err, want)
		}
	}
	var copied int64
	err = chaos.WaitFor(ctx, "broker 4 to have copied part of "+topic, func(ctx context.Context) (bool, error) {
		size, _, err := logDirSize(ctx, f.c.Node(4).Addr, topic, 0)
		copied = size
		return err == nil && size > 0, err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Broker 1 may apply the metadata a moment after broker 4 has started copying.
	err = chaos.WaitFor(ctx, "broker 1 to list the reassignment in progress", func(ctx context.Context) (bool, error) {
		listed, err := reassignments(ctx, leader)
		if err != nil {
			return false, err
		}
		const want = "replicas [2 3 4 1] adding [4] removing [1]"
		if got := listed[topic+"-0"]; got != want {
			return false, fmt.Errorf("ListPartitionReassignments: %q, want %q", got, want)
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out = f.mustSluice(t, ctx, "partitions", "reassign", "--cancel", "--reassignment-json-file", plan)
	t.Logf("cancelled with %d bytes of about %d copied to broker 4:\n%s", copied, records*len(value), out)
	if !strings.Contains(out, "Cancelled the reassignment of cancelled-0") || !strings.Contains(out, "Removed the replication throttles (brokers [1,2,3,4], topics cancelled)") {
		t.Errorf("--cancel printed:\n%s", out)
	}
	for _, k := range []string{"leader.replication.throttled.replicas", "follower.replication.throttled.replicas"} {
		if v, dynamic, err := topicConfig(ctx, leader, topic, k); err != nil || dynamic {
			t.Errorf("%s of %s after the cancel: %q (set on the topic: %v), %v; want it removed", k, topic, v, dynamic, err)
		}
	}
	if size, _, err := logDirSize(ctx, f.c.Node(1).Addr, topic, 0); err != nil || copied >= size {
		t.Errorf("broker 4 had %d bytes when cancelled, the leader %d (%v): the move was not part-way", copied, size, err)
	}

	// The set comes back, not the order: as in Kafka, the replicas of a partition
	// being reassigned are the target's followed by those being removed, and a cancel
	// takes out those being added ([2 3 4 1] here, [2 3 1] after). The plan --execute
	// printed to roll back restores the order.
	after := f.waitPlacement(t, ctx, "every broker to list the original replicas", func(pl map[string][]placed) error {
		if part := pl[topic][0]; !slices.Equal(sorted(part.Replicas), []int32{1, 2, 3}) || !slices.Equal(part.ISR, []int32{1, 2, 3}) {
			return fmt.Errorf("replicas %v ISR %v, want 1, 2 and 3 both", part.Replicas, part.ISR)
		}
		return nil
	})
	t.Logf("replicas after the cancel: %v", after[topic][0].Replicas)
	for _, n := range f.brokers() {
		if listed, err := reassignments(ctx, n.Addr); err != nil || len(listed) > 0 {
			t.Errorf("broker %d lists reassignments %v (%v), want none", n.ID, listed, err)
		}
	}
	err = chaos.WaitFor(ctx, "broker 4 to delete its partial copy", func(ctx context.Context) (bool, error) {
		size, has, err := logDirSize(ctx, f.c.Node(4).Addr, topic, 0)
		if err == nil && has {
			err = fmt.Errorf("broker 4 still has %d bytes", size)
		}
		return err == nil, err
	})
	if err != nil {
		t.Error(err)
	}
	out, errOut, err := f.sluice(ctx, "partitions", "reassign", "--verify", "--reassignment-json-file", plan)
	if err == nil || !strings.Contains(out, fmt.Sprintf("but its replicas are %s, not [2,3,4]", strings.ReplaceAll(fmt.Sprint(after[topic][0].Replicas), " ", ","))) {
		t.Errorf("--verify after the cancel: %v\n%s%s", err, out, errOut)
	}
	// The data is intact, and the partition takes acks=all writes.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("after")}).FirstErr(); err != nil {
		t.Errorf("produce after the cancel: %v", err)
	}
	// The cancel made broker 2 the preferred leader: leadership may be moving to it.
	err = chaos.WaitFor(ctx, fmt.Sprintf("the leader of %s to end at %d", topic, records+1), func(ctx context.Context) (bool, error) {
		pl, _, err := placementAt(ctx, leader)
		if err != nil {
			return false, err
		}
		node := f.c.Node(pl[topic][0].Leader)
		if node == nil {
			return false, fmt.Errorf("leader %d", pl[topic][0].Leader)
		}
		end, err := endOffset(ctx, node.Addr, topic, 0)
		if err == nil && end != records+1 {
			// a new leader's high watermark may lag until its followers fetch
			return false, fmt.Errorf("end offset %d on the leader %d", end, node.ID)
		}
		return err == nil, err
	})
	if err != nil {
		t.Error(err)
	}
}

// testPreferredLeadersReturn stops broker 2, which is a replica of every partition of
// a topic placed over three racks (the only broker in rack-b) and the preferred leader
// of some, waits until it leads nothing, and starts it again: within seconds every
// partition of every topic must be led by its preferred replica again, with no command.
func (f *fixture) testPreferredLeadersReturn(t *testing.T) {
	ctx := f.ctx(t, 60*time.Second)
	const topic = "preferred"
	if _, err := createTopic(ctx, f.brokers()[0].Addr, topic, 8, 3); err != nil {
		t.Fatal(err)
	}
	preferred := func(pl map[string][]placed) error {
		for name, parts := range pl {
			for p, part := range parts {
				if part.Leader != part.Replicas[0] {
					return fmt.Errorf("%s-%d: leader %d, preferred %d (replicas %v ISR %v)", name, p, part.Leader, part.Replicas[0], part.Replicas, part.ISR)
				}
			}
		}
		return nil
	}
	pl := f.waitPlacement(t, ctx, "preferred leaders everywhere, every ISR full", func(pl map[string][]placed) error {
		for p, part := range pl[topic] {
			if len(part.ISR) != 3 {
				return fmt.Errorf("%s-%d: ISR %v", topic, p, part.ISR)
			}
		}
		return preferred(pl)
	})
	victim := f.c.Node(2)
	led := 0
	for _, part := range pl[topic] {
		if part.Replicas[0] == victim.ID {
			led++
		}
	}
	if led == 0 {
		t.Fatalf("broker %d is the preferred leader of no partition of %s: %v", victim.ID, topic, pl[topic])
	}

	if err := victim.Stop(ctx, f.c.StopGrace()); err != nil {
		t.Fatal(err)
	}
	f.waitPlacement(t, ctx, fmt.Sprintf("broker %d to lead nothing", victim.ID), func(pl map[string][]placed) error {
		for name, parts := range pl {
			for p, part := range parts {
				if part.Leader == victim.ID || part.Leader < 0 {
					return fmt.Errorf("%s-%d: leader %d", name, p, part.Leader)
				}
			}
		}
		return nil
	})
	started := time.Now()
	if err := victim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.waitPlacement(t, ctx, "leadership back with the preferred leaders", preferred)
	t.Logf("broker %d restarted; every partition (%d of %s preferring it) led by its preferred replica %v after its start",
		victim.ID, led, topic, time.Since(started).Round(time.Millisecond))
}

// testDecommission runs `brokers decommission 4 --wait` while broker 4 runs: every
// replica must leave it (replication factors kept, racks distinct where they were), and
// the command must say that a running broker is not unregistered. Once broker 4 is
// stopped, the same command unregisters it: no broker lists it any more, fenced or not.
func (f *fixture) testDecommission(t *testing.T) {
	ctx := f.ctx(t, 60*time.Second)
	const id = 4
	before, _, err := placementAt(ctx, f.c.Node(1).Addr)
	if err != nil {
		t.Fatal(err)
	}
	on4 := 0
	for _, parts := range before {
		for _, part := range parts {
			if slices.Contains(part.Replicas, id) {
				on4++
			}
		}
	}
	if on4 == 0 {
		t.Fatalf("broker %d holds no replica to move", id)
	}
	started := time.Now()
	out := f.mustSluice(t, ctx, "brokers", "decommission", "4", "--wait")
	t.Logf("decommission of a running broker, %v:\n%s", time.Since(started).Round(time.Millisecond), out)
	for _, want := range []string{fmt.Sprintf("Moving %d partition(s) off broker 4", on4), "Broker 4 holds no replicas.", "Broker 4 still runs, so it is not unregistered"} {
		if !strings.Contains(out, want) {
			t.Errorf("decommission printed no %q", want)
		}
	}
	f.waitPlacement(t, ctx, "no replica on broker 4", func(pl map[string][]placed) error {
		for name, parts := range pl {
			for p, part := range parts {
				if slices.Contains(part.Replicas, id) {
					return fmt.Errorf("%s-%d: replicas %v", name, p, part.Replicas)
				}
				if was := before[name][p].Replicas; len(part.Replicas) != len(was) {
					return fmt.Errorf("%s-%d: replicas %v, was %v", name, p, part.Replicas, was)
				}
				if distinctRacks(part.Replicas) < distinctRacks(before[name][p].Replicas) {
					return fmt.Errorf("%s-%d: replicas %v span fewer racks than %v", name, p, part.Replicas, before[name][p].Replicas)
				}
			}
		}
		return nil
	})

	node := f.c.Node(id)
	if err := node.Stop(ctx, f.c.StopGrace()); err != nil {
		t.Fatal(err)
	}
	err = chaos.WaitFor(ctx, "broker 4 fenced", func(ctx context.Context) (bool, error) {
		cv, err := describeCluster(ctx, f.c.Node(1).Addr, 2, true)
		return err == nil && cv.Fenced[id], err
	})
	if err != nil {
		t.Fatal(err)
	}
	out = f.mustSluice(t, ctx, "brokers", "decommission", "4", "--wait")
	if !strings.Contains(out, "No partition is being placed on broker 4.") || !strings.Contains(out, "Unregistered broker 4.") {
		t.Errorf("decommission of the stopped broker printed:\n%s", out)
	}
	for _, n := range f.brokers() {
		err := chaos.WaitFor(ctx, fmt.Sprintf("broker %d to forget broker 4", n.ID), func(ctx context.Context) (bool, error) {
			cv, err := describeCluster(ctx, n.Addr, 2, true)
			if err != nil {
				return false, err
			}
			if _, listed := cv.Fenced[id]; listed {
				return false, errors.New("DescribeCluster v2 still lists broker 4")
			}
			return true, nil
		})
		if err != nil {
			t.Error(err)
		}
	}
	if _, errOut, err := f.sluice(ctx, "brokers", "decommission", "4"); err == nil || !strings.Contains(errOut, "not registered") {
		t.Errorf("decommission of an unregistered broker: %v\n%s", err, errOut)
	}
}

func distinctRacks(replicas []int32) int {
	set := map[string]bool{}
	for _, r := range replicas {
		set[racksOf[r]] = true
	}
	return len(set)
}
