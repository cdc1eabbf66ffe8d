package groups848

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/test/chaos"
)

// Group settings every test broker runs with: a short consumer-protocol heartbeat, so
// that members learn of a new target assignment within a fifth of a second and the
// tests are quick, and no delay before a classic group's first rebalance.
var fastGroups = []string{
	"group.consumer.heartbeat.interval.ms=200",
	"group.consumer.min.heartbeat.interval.ms=100",
	"group.initial.rebalance.delay.ms=0",
}

// sluiceBinary is the broker under test: $SLUICE_BIN, or bin/sluice at the root of the
// repository.
func sluiceBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("SLUICE_BIN")
	if bin == "" {
		abs, err := filepath.Abs(filepath.Join("..", "..", "bin", "sluice"))
		if err != nil {
			t.Fatal(err)
		}
		bin = abs
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("broker binary %s missing (%v): run `make build` first, or set SLUICE_BIN", bin, err)
	}
	return bin
}

// startCluster starts nodes bin/sluice processes (one: a single broker; more: combined
// broker-controllers) with the given settings, and waits until each serves. The
// cluster is stopped when the test ends, with each node's log tail shown if it failed.
func startCluster(t testing.TB, nodes int, settings ...string) *chaos.Cluster {
	t.Helper()
	c, err := chaos.NewCluster(chaos.ClusterConfig{
		Binary: sluiceBinary(t), Dir: t.TempDir(), Nodes: nodes, Settings: settings,
		Logger: slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
		if crashes := c.Crashes(); len(crashes) > 0 {
			t.Errorf("nodes exited by themselves: %v", crashes)
		}
		if t.Failed() {
			for _, n := range c.Nodes() {
				t.Log(n.LogTail(40))
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// A node is ready once it serves and is registered; the controller may not yet count
	// every broker as available (topics of replication factor 3 would be refused), so
	// wait until every node's Metadata lists them all.
	err = chaos.WaitFor(ctx, "every node to list every broker", func(ctx context.Context) (bool, error) {
		for _, n := range c.Nodes() {
			ids, err := brokersOf(ctx, n.Addr)
			if err != nil {
				return false, err
			}
			if len(ids) != nodes {
				return false, fmt.Errorf("node %d lists brokers %v", n.ID, ids)
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d node(s) ready after %v", nodes, time.Since(start).Round(time.Millisecond))
	return c
}

// brokersOf returns the broker ids a node's Metadata lists.
func brokersOf(ctx context.Context, addr string) ([]int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(1)
	req.Topics = []kmsg.MetadataRequestTopic{}
	resp, err := chaos.RoundTrip(ctx, addr, req)
	if err != nil {
		return nil, err
	}
	var ids []int32
	for _, b := range resp.(*kmsg.MetadataResponse).Brokers {
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	return ids, nil
}

// requireKIP848 fails the test unless the broker at addr advertises
// ConsumerGroupHeartbeat v1 and ConsumerGroupDescribe: without them franz-go quietly
// runs a ServerSideBalancer group on the classic protocol, and nothing here would test
// KIP-848.
func requireKIP848(t testing.TB, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	req.ClientSoftwareName = "sluice-groups848"
	req.ClientSoftwareVersion = "1"
	resp, err := chaos.RoundTrip(ctx, addr, req)
	if err != nil {
		t.Fatalf("ApiVersions from %s: %v", addr, err)
	}
	max := map[int16]int16{}
	for _, k := range resp.(*kmsg.ApiVersionsResponse).ApiKeys {
		max[k.ApiKey] = k.MaxVersion
	}
	hb, okHB := max[68]
	_, okDescribe := max[69]
	if !okHB || hb < 1 || !okDescribe {
		t.Fatalf("the broker at %s does not offer KIP-848 (ConsumerGroupHeartbeat v1 advertised: %v, max v%d; "+
			"ConsumerGroupDescribe advertised: %v): franz-go would run these groups on the classic protocol",
			addr, okHB, hb, okDescribe)
	}
}

// newClient returns a franz-go client of the cluster, closed at the test's end.
func newClient(t testing.TB, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("sluice-groups848"),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.DialTimeout(2 * time.Second),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates topic with n partitions and replication factor rf, and waits
// until every partition has a leader.
func createTopic(t testing.TB, adm *kadm.Client, topic string, n int32, rf int16, configs map[string]*string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, n, rf, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	err = chaos.WaitFor(ctx, "leaders of "+topic, func(ctx context.Context) (bool, error) {
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return false, err
		}
		td := md.Topics[topic]
		if td.Err != nil {
			return false, td.Err
		}
		if len(td.Partitions) != int(n) {
			return false, fmt.Errorf("%d of %d partitions", len(td.Partitions), n)
		}
		for _, p := range td.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return false, fmt.Errorf("partition %d: leader %d, %v", p.Partition, p.Leader, p.Err)
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// logGroupLines logs, for each node, the last lines of its log that mention group (a
// failure's diagnosis: what the coordinators did with the group).
func logGroupLines(t testing.TB, c *chaos.Cluster, group string, last int) {
	t.Helper()
	for _, n := range c.Nodes() {
		data, err := os.ReadFile(n.LogPath)
		if err != nil {
			t.Logf("node %d: %v", n.ID, err)
			continue
		}
		var lines []string
		for _, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, group) {
				lines = append(lines, l)
			}
		}
		if len(lines) > last {
			lines = lines[len(lines)-last:]
		}
		t.Logf("node %d, the last %d lines about %s:\n%s", n.ID, len(lines), group, strings.Join(lines, "\n"))
	}
}

// logState logs what the members own by their callbacks, what they reported going
// wrong, and the group as ConsumerGroupDescribe shows it.
func logState(t testing.TB, adm *kadm.Client, h *history, group string) {
	t.Helper()
	t.Logf("owned by the members' callbacks: %v", h.ownership())
	_, _, _, errs := h.snapshot()
	if len(errs) > 20 {
		errs = errs[len(errs)-20:]
	}
	for _, e := range errs {
		t.Logf("seen by a member: %s", e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := describeGroup(ctx, adm, group)
	if err != nil {
		t.Logf("describe: %v", err)
		return
	}
	t.Logf("described by node %d: state %s, epoch %d, assignment epoch %d", d.Coordinator.NodeID, d.State, d.Epoch, d.AssignmentEpoch)
	for _, m := range d.Members {
		t.Logf("  member %s (%s) epoch %d: assigned %v, target %v", m.MemberID, m.ClientID, m.MemberEpoch, m.Assignment, m.TargetAssignment)
	}
}

// logCoordinatorViews logs, as each running broker sees it, the group's coordinator
// (FindCoordinator) and the leader and ISR of the __consumer_offsets partition that
// holds the group.
func logCoordinatorViews(t testing.TB, c *chaos.Cluster, group string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range c.Nodes() {
		if n.State() != chaos.Running || !n.IsBroker() {
			continue
		}
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.SetVersion(3)
		req.CoordinatorKey = group
		coord := "?"
		if resp, err := chaos.RoundTrip(ctx, n.Addr, req); err != nil {
			coord = err.Error()
		} else {
			r := resp.(*kmsg.FindCoordinatorResponse)
			coord = fmt.Sprintf("node %d (error code %d)", r.NodeID, r.ErrorCode)
		}
		state := "?"
		if ps, err := chaos.TopicState(ctx, n.Addr, "__consumer_offsets"); err != nil {
			state = err.Error()
		} else if len(ps) > 0 {
			p := partitionFor(group, int32(len(ps)))
			state = fmt.Sprintf("__consumer_offsets-%d %+v", p, ps[p])
		}
		brokers := "?"
		if ids, err := brokersOf(ctx, n.Addr); err != nil {
			brokers = err.Error()
		} else {
			brokers = fmt.Sprint(ids)
		}
		t.Logf("node %d: FindCoordinator(%s) = %s; %s; Metadata lists brokers %s", n.ID, group, coord, state, brokers)
	}
}

// partitionFor is Kafka's __consumer_offsets partition of a group: the absolute value
// of the group id's Java String.hashCode modulo the partition count.
func partitionFor(group string, partitions int32) int32 {
	var h int32
	for _, r := range utf16.Encode([]rune(group)) {
		h = 31*h + int32(r)
	}
	if h == math.MinInt32 {
		return 0
	}
	if h < 0 {
		h = -h
	}
	return h % partitions
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}
