package cluster

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestReplicationThrottle moves a partition holding a few MiB from broker 1 to broker 2
// under leader.replication.throttled.rate and follower.replication.throttled.rate, with
// the topic's throttled replicas set to *, and measures the catch-up: the bytes broker 2
// ends with over the time the reassignment took must be within 20% of the rate.
func TestReplicationThrottle(t *testing.T) {
	const rate = 400_000 // bytes/s
	f := startCluster(t, 2, 0,
		fmt.Sprintf("leader.replication.throttled.rate=%d", rate),
		fmt.Sprintf("follower.replication.throttled.rate=%d", rate))
	ctx := f.ctx(t, 90*time.Second)
	addr := f.brokers()[0].Addr
	const topic = "throttled"

	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, -1, -1
	a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	a.Partition, a.Replicas = 0, []int32{1}
	ct.ReplicaAssignment = append(ct.ReplicaAssignment, a)
	for _, k := range []string{"leader.replication.throttled.replicas", "follower.replication.throttled.replicas"} {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr("*")
		ct.Configs = append(ct.Configs, c)
	}
	create.Topics = append(create.Topics, ct)
	cresp, err := request[*kmsg.CreateTopicsResponse](ctx, addr, create, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(cresp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}

	// About 4 MiB of incompressible values on broker 1.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	value := make([]byte, 1024)
	for i := range 4000 {
		for j := range value {
			value[j] = byte(i*31 + j*17 + j*j)
		}
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: append([]byte(nil), value...)}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	move := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	mt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	mt.Topic = topic
	mp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	mp.Partition, mp.Replicas = 0, []int32{2}
	mt.Partitions = append(mt.Partitions, mp)
	move.Topics = append(move.Topics, mt)
	mresp, err := request[*kmsg.AlterPartitionAssignmentsResponse](ctx, addr, move, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(mresp.Topics[0].Partitions[0].ErrorCode); err != nil {
		t.Fatalf("reassign: %v", err)
	}
	for {
		md, err := metadataOf(ctx, addr)
		if err == nil {
			if p := md.Topics[topic].Partitions; len(p) == 1 && fmt.Sprint(p[0].Replicas) == "[2]" {
				break
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the reassignment did not complete: %v", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	took := time.Since(start)

	// What broker 2 holds is what crossed the throttle.
	var b2 string
	for _, n := range f.brokers() {
		if n.ID == 2 {
			b2 = n.Addr
		}
	}
	dirs := kmsg.NewPtrDescribeLogDirsRequest()
	dresp, err := request[*kmsg.DescribeLogDirsResponse](ctx, b2, dirs, 4)
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	for _, d := range dresp.Dirs {
		for _, dt := range d.Topics {
			if dt.Topic == topic {
				for _, p := range dt.Partitions {
					size += p.Size
				}
			}
		}
	}
	if size < 4_000_000 {
		t.Fatalf("broker 2 holds %d bytes of %s, want the whole log (> 4 MB)", size, topic)
	}
	got := float64(size) / took.Seconds()
	t.Logf("moved %d bytes in %v: %.0f B/s with the throttle at %d B/s", size, took.Round(time.Millisecond), got, rate)
	if math.Abs(got-rate)/rate > 0.2 {
		t.Fatalf("catch-up ran at %.0f B/s, want %d B/s within 20%%", got, rate)
	}
}
