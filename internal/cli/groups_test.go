package cli

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/broker"
	"github.com/sluicehq/sluice/internal/config"
)

// grpStartBroker runs a real single-node broker in the test process and
// returns its address.
func grpStartBroker(t *testing.T) string {
	t.Helper()
	cfg, _, err := config.Load("", []string{
		"log.dirs=" + t.TempDir(),
		"listeners=PLAINTEXT://127.0.0.1:0",
		"http.addr=",
		"group.initial.rebalance.delay.ms=0",
	}, nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	b, err := broker.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("broker: %v", err)
		}
	})
	select {
	case <-b.Ready():
	case err := <-done:
		t.Fatalf("broker stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("broker not ready after 30s")
	}
	ep := b.Endpoints()[0]
	return net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port)))
}

// grpRun runs `sluice groups ARGS -b addr` and returns its output.
func grpRun(t *testing.T, addr string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRoot(&app{stdout: &stdout, stderr: &stderr})
	root.SetArgs(append(append([]string{"groups"}, args...), "-b", addr, "--timeout", "20s"))
	err := root.ExecuteContext(context.Background())
	return stdout.String() + stderr.String(), err
}

func grpMustRun(t *testing.T, addr string, args ...string) string {
	t.Helper()
	out, err := grpRun(t, addr, args...)
	if err != nil {
		t.Fatalf("sluice groups %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// grpRow finds the output line whose fields start with prefix.
func grpRow(out string, prefix ...string) []string {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= len(prefix) && strings.Join(f[:len(prefix)], " ") == strings.Join(prefix, " ") {
			return f
		}
	}
	return nil
}

func TestGroupsCommands(t *testing.T) {
	addr := grpStartBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("orders"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		r := &kgo.Record{Partition: int32(i % 3), Value: []byte(strconv.Itoa(i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// An active member that has consumed and committed 4 records of each
	// partition.
	consumer, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("orders"),
		kgo.ClientID("cli-test-consumer"), kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	seen := make(map[int32]int)
	for len(seen) < 3 || seen[0] < 4 || seen[1] < 4 || seen[2] < 4 {
		fs := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) { seen[r.Partition]++ })
	}
	commit := map[string]map[int32]kgo.EpochOffset{"orders": {0: {Epoch: -1, Offset: 4}, 1: {Epoch: -1, Offset: 4}, 2: {Epoch: -1, Offset: 4}}}
	var commitErr error
	consumer.CommitOffsetsSync(ctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		commitErr = err
		if err == nil {
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if err := kerr.ErrorForCode(p.ErrorCode); err != nil && commitErr == nil {
						commitErr = err
					}
				}
			}
		}
	})
	if commitErr != nil {
		t.Fatalf("commit: %v", commitErr)
	}

	out := grpMustRun(t, addr, "list")
	// GROUP STATE PROTOCOL-TYPE TYPE
	if row := grpRow(out, "g1"); row == nil || row[1] != "Stable" || row[2] != "consumer" || row[3] != "classic" {
		t.Fatalf("list:\n%s", out)
	}
	if out := grpMustRun(t, addr, "list", "--type", "consumer"); grpRow(out, "g1") != nil {
		t.Fatalf("list --type consumer lists a classic group:\n%s", out)
	}
	out = grpMustRun(t, addr, "describe", "g1")
	for p := range 3 {
		row := grpRow(out, "g1", "orders", strconv.Itoa(p))
		// CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
		if row == nil || row[3] != "4" || row[4] != "10" || row[5] != "6" || row[7] != "/127.0.0.1" || row[8] != "cli-test-consumer" {
			t.Fatalf("describe, partition %d: %v\n%s", p, row, out)
		}
	}
	out = grpMustRun(t, addr, "describe", "g1", "--members")
	if row := grpRow(out, "g1"); row == nil || row[5] != "3" || row[6] != "orders(0,1,2)" {
		t.Fatalf("describe --members:\n%s", out)
	}
	out = grpMustRun(t, addr, "describe", "g1", "--state")
	if row := grpRow(out, "g1"); row == nil || !strings.Contains(out, "Stable") {
		t.Fatalf("describe --state:\n%s", out)
	}

	// Reset is refused while the group is active.
	out, err = grpRun(t, addr, "reset-offsets", "--group", "g1", "--all-topics", "--to-earliest", "--execute")
	if err == nil || !strings.Contains(out, "inactive") {
		t.Fatalf("reset of an active group: %v\n%s", err, out)
	}
	consumer.Close() // leaves the group

	committed := func() map[int32]int64 {
		t.Helper()
		offs, err := adm.FetchOffsets(ctx, "g1")
		if err != nil {
			t.Fatal(err)
		}
		got := make(map[int32]int64)
		offs.Each(func(o kadm.OffsetResponse) { got[o.Partition] = o.At })
		return got
	}
	cases := []struct {
		args []string
		want map[int32]int64
	}{
		{[]string{"--topic", "orders", "--to-offset", "3", "--dry-run"}, map[int32]int64{0: 4, 1: 4, 2: 4}},
		{[]string{"--topic", "orders", "--to-offset", "3", "--execute"}, map[int32]int64{0: 3, 1: 3, 2: 3}},
		{[]string{"--topic", "orders:1", "--shift-by", "-2", "--execute"}, map[int32]int64{0: 3, 1: 1, 2: 3}},
		{[]string{"--all-topics", "--shift-by", "100", "--execute"}, map[int32]int64{0: 10, 1: 10, 2: 10}},
		{[]string{"--topic", "orders:0,2", "--to-earliest", "--execute"}, map[int32]int64{0: 0, 1: 10, 2: 0}},
		{[]string{"--all-topics", "--to-datetime", "2000-01-01T00:00:00Z", "--execute"}, map[int32]int64{0: 0, 1: 0, 2: 0}},
		{[]string{"--all-topics", "--to-datetime", time.Now().Add(time.Hour).Format(time.RFC3339), "--execute"}, map[int32]int64{0: 10, 1: 10, 2: 10}},
		{[]string{"--topic", "orders", "--to-offset", "-5", "--execute"}, map[int32]int64{0: 0, 1: 0, 2: 0}},
		{[]string{"--topic", "orders", "--to-latest"}, map[int32]int64{0: 0, 1: 0, 2: 0}}, // no --execute: nothing changes
	}
	for _, tc := range cases {
		out := grpMustRun(t, addr, append([]string{"reset-offsets", "--group", "g1"}, tc.args...)...)
		if got := committed(); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Fatalf("reset-offsets %v: committed %v, want %v\n%s", tc.args, got, tc.want, out)
		}
	}
	out = grpMustRun(t, addr, "reset-offsets", "--group", "g1", "--topic", "orders", "--to-latest", "--dry-run")
	if row := grpRow(out, "g1", "orders", "2"); row == nil || row[3] != "10" {
		t.Fatalf("dry-run plan:\n%s", out)
	}
	if _, err := grpRun(t, addr, "reset-offsets", "--group", "g1", "--topic", "orders"); err == nil {
		t.Fatal("reset-offsets without a scenario succeeded")
	}

	out = grpMustRun(t, addr, "delete-offsets", "--group", "g1", "--topic", "orders:0")
	if row := grpRow(out, "orders", "0"); row == nil || row[2] != "Successful" {
		t.Fatalf("delete-offsets:\n%s", out)
	}
	if got := committed(); len(got) != 2 {
		t.Fatalf("after delete-offsets: %v", got)
	}
	out = grpMustRun(t, addr, "describe", "g1")
	if !strings.Contains(out, "has no active members") {
		t.Fatalf("describe an empty group:\n%s", out)
	}

	out = grpMustRun(t, addr, "delete", "g1")
	if !strings.Contains(out, "Deleted group g1") {
		t.Fatalf("delete:\n%s", out)
	}
	if out := grpMustRun(t, addr, "list"); grpRow(out, "g1") != nil {
		t.Fatalf("list after delete:\n%s", out)
	}
	if out, err := grpRun(t, addr, "delete", "g1"); err == nil {
		t.Fatalf("deleting a deleted group succeeded:\n%s", out)
	}
}
