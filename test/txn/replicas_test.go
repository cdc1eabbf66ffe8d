package txn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/test/chaos"
)

// TestDescribeProducersOnReplicas: on 3 nodes, with a topic at replication factor 2,
// every replica of a partition, leader or follower, describes the producer of an open
// transaction from its own log, as Kafka's brokers do, and then its commit; a broker
// that holds no replica answers NOT_LEADER_OR_FOLLOWER. `sluice transactions
// find-hanging --broker-id` on a follower finds nothing hanging (the coordinator is
// carrying the transaction out).
func TestDescribeProducersOnReplicas(t *testing.T) {
	bin := os.Getenv("SLUICE_BIN")
	if bin == "" {
		bin = filepath.Join("..", "..", "bin", "sluice")
	}
	bin, _ = filepath.Abs(bin)
	c, err := chaos.NewCluster(chaos.ClusterConfig{Binary: bin, Dir: t.TempDir(), Nodes: 3,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.Nodes() {
				t.Log(n.LogTail(40))
			}
		}
		if err := c.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	seeds := c.Bootstrap()
	const name = "replicas"
	admin := newKgo(t, seeds[0], kgo.SeedBrokers(seeds...))
	adm := kadm.NewClient(admin)
	if resp, err := adm.CreateTopic(ctx, 3, 2, nil, name); err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v %v", name, err, resp.Err)
	}
	var replicas map[int32][]int32
	waitFor(t, "every partition led", func() error {
		md, err := adm.Metadata(ctx, name)
		if err != nil {
			return err
		}
		replicas = map[int32][]int32{}
		for _, p := range md.Topics[name].Partitions {
			if p.Leader < 0 || p.Err != nil {
				return fmt.Errorf("partition %d: leader %d, %v", p.Partition, p.Leader, p.Err)
			}
			replicas[p.Partition] = p.Replicas
		}
		if len(replicas) != 3 {
			return fmt.Errorf("%d partitions", len(replicas))
		}
		return nil
	})

	p := newKgo(t, seeds[0], kgo.SeedBrokers(seeds...), kgo.TransactionalID("replicas-id"), kgo.DefaultProduceTopic(name),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for part := range int32(3) {
		if err := p.ProduceSync(ctx, &kgo.Record{Partition: part, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	pid, _, err := p.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// check asks every node about every partition: a replica must show the producer
	// with wantStart as its open transaction's start (-1: none); a node without a
	// replica must refuse.
	check := func(what string, wantStart int64) {
		t.Helper()
		waitFor(t, what, func() error {
			for _, n := range c.Nodes() {
				req := kmsg.NewPtrDescribeProducersRequest()
				rt := kmsg.NewDescribeProducersRequestTopic()
				rt.Topic, rt.Partitions = name, []int32{0, 1, 2}
				req.Topics = append(req.Topics, rt)
				resp, err := req.RequestWith(ctx, admin.Broker(int(n.ID)))
				if err != nil {
					return fmt.Errorf("node %d: %w", n.ID, err)
				}
				for _, rp := range resp.Topics[0].Partitions {
					err := kerr.ErrorForCode(rp.ErrorCode)
					if !slices.Contains(replicas[rp.Partition], n.ID) {
						if !errors.Is(err, kerr.NotLeaderForPartition) {
							return fmt.Errorf("node %d, not a replica of partition %d: %v, want NOT_LEADER_OR_FOLLOWER", n.ID, rp.Partition, err)
						}
						continue
					}
					if err != nil {
						return fmt.Errorf("node %d, replica of partition %d: %w", n.ID, rp.Partition, err)
					}
					if len(rp.ActiveProducers) != 1 || rp.ActiveProducers[0].ProducerID != pid || rp.ActiveProducers[0].CurrentTxnStartOffset != wantStart {
						return fmt.Errorf("node %d, partition %d: producers %+v, want producer %d with its transaction start %d",
							n.ID, rp.Partition, rp.ActiveProducers, pid, wantStart)
					}
				}
			}
			return nil
		})
	}
	check("every replica shows the open transaction", 0)

	// A follower of partition 0, asked by the command line.
	leader := func() int32 {
		md, err := adm.Metadata(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return md.Topics[name].Partitions[0].Leader
	}()
	follower := replicas[0][0]
	if follower == leader {
		follower = replicas[0][1]
	}
	out, err := exec.CommandContext(ctx, bin, "transactions", "find-hanging", "--broker-id", fmt.Sprint(follower),
		"--max-transaction-timeout", "0", "--json", "-b", seeds[0]).Output()
	if err != nil {
		t.Fatalf("sluice transactions find-hanging --broker-id %d: %v\n%s", follower, err, out)
	}
	var hanging []json.RawMessage
	if err := json.Unmarshal(out, &hanging); err != nil || len(hanging) != 0 {
		t.Errorf("find-hanging on follower %d: %s (%v), want none: the transaction is being carried out", follower, out, err)
	}

	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	check("every replica shows the commit", -1)
}
