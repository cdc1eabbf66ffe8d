package txn

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Helpers for the tests that drive the broker with franz-go (fencing, crashes, the
// benchmark) rather than raw requests.

// newKgo is a franz-go client of the broker at addr that retries quickly (the broker
// may be restarting), closed at the test's end.
func newKgo(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }),
		kgo.DialTimeout(2 * time.Second),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// makeTopic creates a topic of n partitions and returns its id.
func makeTopic(t testing.TB, ctx context.Context, cl *kgo.Client, name string, n int32) [16]byte {
	t.Helper()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, n, 1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	return resp.ID
}

// rawProduce sends one batch for one partition, by topic id (kgo picks the version),
// and returns the partition's error code.
func rawProduce(ctx context.Context, cl *kgo.Client, txnID *string, topic string, id [16]byte, partition int32, batch []byte) (int16, error) {
	req := kmsg.NewPtrProduceRequest()
	req.TransactionID = txnID
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	return resp.Topics[0].Partitions[0].ErrorCode, nil
}

// addOffsets sends AddOffsetsToTxn for a producer and returns its error.
func addOffsets(ctx context.Context, cl *kgo.Client, txnID string, pid int64, epoch int16, group string) error {
	req := kmsg.NewPtrAddOffsetsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = txnID, pid, epoch, group
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.ErrorCode)
}

// txnCommitOffset sends TxnOffsetCommit of one offset for a producer that is not a
// member of the group (generation -1), and returns the partition's error.
func txnCommitOffset(ctx context.Context, cl *kgo.Client, txnID string, pid int64, epoch int16, group, topic string, partition int32, offset int64) error {
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = txnID, group, pid, epoch
	req.Generation, req.MemberID = -1, ""
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = partition, offset, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return fmt.Errorf("TxnOffsetCommit answer %+v", resp.Topics)
	}
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}

// committedOffset is the group's committed offset of a partition, or -1 when there is
// none. With stable (require_stable) it waits out pending transactional offsets;
// without, it is what a consumer would start from now.
func committedOffset(ctx context.Context, cl *kgo.Client, group, topic string, partition int32, stable bool) (int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group, req.RequireStable = group, stable
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{partition}
	req.Topics = append(req.Topics, rt)
	for {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return 0, err
		}
		err = kerr.ErrorForCode(resp.ErrorCode)
		if err == nil {
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				return 0, fmt.Errorf("OffsetFetch answer %+v", resp.Topics)
			}
			p := resp.Topics[0].Partitions[0]
			if err = kerr.ErrorForCode(p.ErrorCode); err == nil {
				return p.Offset, nil
			}
		}
		if !errors.Is(err, kerr.UnstableOffsetCommit) && !errors.Is(err, kerr.CoordinatorLoadInProgress) && !errors.Is(err, kerr.NotCoordinator) {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("offsets of %s still unstable: %w", group, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

const endMarker = "END"

// readToEnd writes a plain record "END" to every partition of topic (visible to every
// consumer) and consumes the partitions from the start at the given isolation until
// each has given its END, returning the values before it per partition. Under
// read_committed, END shows only once every transaction before it is closed, so an
// open transaction that nothing will close makes this time out.
func readToEnd(t *testing.T, ctx context.Context, addr, topic string, partitions int32, committed bool) map[int32][]string {
	t.Helper()
	w := newKgo(t, addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range partitions {
		if err := w.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte(endMarker)}).FirstErr(); err != nil {
			t.Fatalf("write END to %s-%d: %v", topic, p, err)
		}
	}
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	offsets := map[int32]kgo.Offset{}
	for p := range partitions {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	r := newKgo(t, addr, kgo.FetchIsolationLevel(iso), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	out := map[int32][]string{}
	ended := map[int32]bool{}
	for len(ended) < int(partitions) {
		fs := r.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s (read_committed %v): %d of %d partitions ended before %v; read so far: %v", topic, committed, len(ended), partitions, ctx.Err(), out)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Logf("fetch %s-%d: %v", topic, p, err) })
		fs.EachRecord(func(rec *kgo.Record) {
			if ended[rec.Partition] {
				return
			}
			if string(rec.Value) == endMarker {
				ended[rec.Partition] = true
				return
			}
			out[rec.Partition] = append(out[rec.Partition], string(rec.Value))
		})
	}
	return out
}

// addPartitionsRaw sends AddPartitionsToTxn for one partition and returns its error.
func addPartitionsRaw(ctx context.Context, t *testing.T, cl *kgo.Client, txnID string, pid int64, epoch int16, topic string, partition int32) error {
	t.Helper()
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = txnID, pid, epoch
	rt := kmsg.NewAddPartitionsToTxnRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{partition}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return fmt.Errorf("AddPartitionsToTxn answer %+v", resp.Topics)
	}
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}

// endTxnRaw sends EndTxn for a producer and returns its error.
func endTxnRaw(ctx context.Context, cl *kgo.Client, txnID string, pid int64, epoch int16, commit bool) error {
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = txnID, pid, epoch, commit
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.ErrorCode)
}
