package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testClientsFollowLeaders produces a few records to every partition of an RF=1 topic
// whose partitions are led by different brokers, with a franz-go producer that knows
// only one broker, and reads them back with a consumer that knows only another. Each
// partition's records must be on its leader (ListOffsets there), and nowhere else (the
// other brokers answer NOT_LEADER_OR_FOLLOWER): the client found every leader from
// Metadata and went to it.
func (f *fixture) testClientsFollowLeaders(t *testing.T) {
	ctx := f.ctx(t, 40*time.Second)
	brokers := f.brokers()
	const topic, perPartition = "routed", 5
	partitions := int32(2 * len(brokers))
	id, err := createTopic(ctx, brokers[0].Addr, topic, partitions, 1)
	if err != nil {
		t.Fatal(err)
	}
	st := f.waitAgree(t, ctx, "every node to list "+topic+" with leaders", func(st state) error {
		if err := hasTopics(st, map[string][16]byte{topic: id}); err != nil {
			return err
		}
		leaders := map[int32]bool{}
		for _, p := range st.meta.Topics[topic].Partitions {
			leaders[p.Leader] = true
		}
		if len(leaders) != len(brokers) || leaders[-1] {
			return fmt.Errorf("partition leaders %v, want each of the %d brokers", leaders, len(brokers))
		}
		return nil
	})
	leaderOf := map[int32]int32{}
	for _, p := range st.meta.Topics[topic].Partitions {
		leaderOf[p.Partition] = p.Leader
	}

	producer, err := kgo.NewClient(
		kgo.SeedBrokers(brokers[0].Addr),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	var records []*kgo.Record
	for p := range partitions {
		for i := range perPartition {
			records = append(records, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "p%d-r%d", p, i)})
		}
	}
	if err := producer.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	for p := range partitions {
		for _, b := range brokers {
			end, err := endOffset(ctx, b.Addr, topic, p)
			switch {
			case b.ID == leaderOf[p] && (err != nil || end != perPartition):
				t.Errorf("%s-%d on its leader %d: end offset %d, %v; want %d", topic, p, b.ID, end, err, perPartition)
			case b.ID != leaderOf[p] && !errors.Is(err, kerr.NotLeaderForPartition):
				t.Errorf("%s-%d on broker %d, not its leader %d: end offset %d, %v; want NOT_LEADER_OR_FOLLOWER", topic, p, b.ID, leaderOf[p], end, err)
			}
		}
	}

	assign := map[int32]kgo.Offset{}
	for p := range partitions {
		assign[p] = kgo.NewOffset().AtStart()
	}
	consumer, err := kgo.NewClient(
		kgo.SeedBrokers(brokers[len(brokers)-1].Addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	got := map[int32][]string{}
	for n := 0; n < len(records); {
		fetches := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", n, len(records), err)
		}
		fetches.EachError(func(topic string, p int32, err error) { t.Errorf("fetch %s-%d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], string(r.Value))
			n++
		})
	}
	for p := range partitions {
		var want []string
		for i := range perPartition {
			want = append(want, fmt.Sprintf("p%d-r%d", p, i))
		}
		if !slices.Equal(got[p], want) {
			t.Errorf("%s-%d (leader %d): consumed %v, want %v", topic, p, leaderOf[p], got[p], want)
		}
	}
}

// endOffset asks addr alone for the latest offset of topic-p (ListOffsets v7).
func endOffset(ctx context.Context, addr, topic string, p int32) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.CurrentLeaderEpoch, rp.Timestamp = p, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := request[*kmsg.ListOffsetsResponse](ctx, addr, req, 7)
	if err != nil {
		return -1, err
	}
	for _, t := range resp.Topics {
		for _, rp := range t.Partitions {
			if t.Topic == topic && rp.Partition == p {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					return -1, err
				}
				return rp.Offset, nil
			}
		}
	}
	return -1, fmt.Errorf("ListOffsets from %s lacks %s-%d", addr, topic, p)
}
