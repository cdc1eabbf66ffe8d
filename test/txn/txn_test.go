// Package txn is the end-to-end test of the partition side of transactions: it starts
// the built broker (bin/sluice, from `make build`, or $SLUICE_BIN) and speaks raw Kafka
// requests to it (kmsg over TCP), playing both the transactional producer and the
// transaction coordinator, which writes the markers with WriteTxnMarkers, and checks what
// read_committed and read_uncommitted consumers are served, before and after a kill -9.
package txn

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/record"
)

const topic = "txn-e2e"

// TestCommitAndAbort: producers a and b write transactions to two partitions, a's
// commits and b's aborts. A read_committed consumer is held at the last stable offset
// until the markers, then reads everything with b's transaction listed as aborted, and
// keeps only a's records (as a Kafka client filters); a read_uncommitted consumer gets
// every record. The same answers come after the broker is killed and restarted.
func TestCommitAndAbort(t *testing.T) {
	b := startBroker(t)
	c := dial(t, b.addr)
	createTopic(t, c)

	pa, pb := initProducerID(t, c), initProducerID(t, c)
	seq := map[int64]int32{}
	send := func(partition int32, pid int64, values ...string) {
		t.Helper()
		var batch []byte
		if pid < 0 {
			batch = build(t, -1, 0, false, values)
		} else {
			batch = build(t, pid, seq[pid], true, values)
			seq[pid] += int32(len(values))
		}
		produce(t, c, partition, batch)
	}
	send(0, -1, "x0")
	send(0, pa, "a0", "a1")
	send(0, pb, "b0")
	send(0, pa, "a2")
	send(0, pb, "b1", "b2")
	send(1, pb, "b3")
	send(1, pa, "a3")
	send(1, pb, "b4")

	// Before the markers, read_committed stops at each partition's oldest open
	// transaction: a's first record in partition 0, b's in partition 1.
	before := fetch(t, c, 1)
	none := []kmsg.FetchResponseTopicPartitionAbortedTransaction{} // an empty list, not null
	checkPart(t, "read_committed before the markers", before[0], 1, 7, []string{"x0"}, none)
	checkPart(t, "read_committed before the markers", before[1], 0, 3, nil, none)

	// The coordinator's markers: a commits, b aborts, in both partitions.
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.SetVersion(1)
	for _, m := range []struct {
		pid    int64
		commit bool
	}{{pa, true}, {pb, false}} {
		rm := kmsg.NewWriteTxnMarkersRequestMarker()
		rm.ProducerID, rm.ProducerEpoch, rm.Committed, rm.CoordinatorEpoch = m.pid, 0, m.commit, 1
		rt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		rt.Topic, rt.Partitions = topic, []int32{0, 1}
		rm.Topics = append(rm.Topics, rt)
		req.Markers = append(req.Markers, rm)
	}
	resp := c.do(t, req).(*kmsg.WriteTxnMarkersResponse)
	for _, m := range resp.Markers {
		for _, rt := range m.Topics {
			for _, p := range rt.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					t.Fatalf("marker of producer %d for %s-%d: %v", m.ProducerID, rt.Topic, p.Partition, err)
				}
			}
		}
	}

	check := func(when string) {
		t.Helper()
		rc := fetch(t, c, 1)
		checkPart(t, "read_committed "+when, rc[0], 9, 9, []string{"x0", "a0", "a1", "a2"},
			[]kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: pb, FirstOffset: 3}})
		checkPart(t, "read_committed "+when, rc[1], 5, 5, []string{"a3"},
			[]kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: pb, FirstOffset: 0}})
		ru := fetch(t, c, 0)
		checkPart(t, "read_uncommitted "+when, ru[0], 9, 9, []string{"x0", "a0", "a1", "b0", "a2", "b1", "b2"}, nil)
		checkPart(t, "read_uncommitted "+when, ru[1], 5, 5, []string{"b3", "a3", "b4"}, nil)
	}
	check("after the markers")

	b.kill9AndRestart()
	c = dial(t, b.addr)
	waitFor(t, "partitions served after the restart", func() error {
		for p := int32(0); p < 2; p++ {
			if err := kerr.ErrorForCode(listOffset(t, c, p).ErrorCode); err != nil {
				return fmt.Errorf("partition %d: %w", p, err)
			}
		}
		return nil
	})
	check("after kill -9 and a restart")
}

func createTopic(t *testing.T, c *client) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.SetVersion(5)
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 2, 1
	req.Topics = append(req.Topics, rt)
	resp := c.do(t, req).(*kmsg.CreateTopicsResponse)
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	waitFor(t, "new topic served", func() error {
		for p := int32(0); p < 2; p++ {
			if err := kerr.ErrorForCode(listOffset(t, c, p).ErrorCode); err != nil {
				return err
			}
		}
		return nil
	})
}

func listOffset(t *testing.T, c *client, partition int32) kmsg.ListOffsetsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.SetVersion(4)
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = partition, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return c.do(t, req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
}

func initProducerID(t *testing.T, c *client) int64 {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.SetVersion(4)
	req.TransactionTimeoutMillis = 60000
	resp := c.do(t, req).(*kmsg.InitProducerIDResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil || resp.ProducerEpoch != 0 {
		t.Fatalf("InitProducerId: %v, epoch %d", err, resp.ProducerEpoch)
	}
	return resp.ProducerID
}

// build makes a batch of values (keys "k"): a transactional batch of producer pid
// from seq, or a plain one for pid -1.
func build(t *testing.T, pid int64, seq int32, transactional bool, values []string) []byte {
	t.Helper()
	b := record.NewBuilder(record.CodecNone)
	if pid >= 0 {
		b.SetProducer(pid, 0, seq).SetTransactional(transactional)
	}
	for _, v := range values {
		b.Add(1_700_000_000_000, []byte("k"), []byte(v))
	}
	out, err := b.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// produce sends one batch with acks=all and no transactional id in the request: the
// partition side sees only the batch's transactional attribute.
func produce(t *testing.T, c *client, partition int32, batch []byte) {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	p := c.do(t, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("produce to partition %d: %v", partition, err)
	}
}

// fetch reads both partitions from offset 0 at Fetch v11 (what librdkafka sends).
func fetch(t *testing.T, c *client, isolation int8) []kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(11)
	req.ReplicaID, req.MaxBytes, req.IsolationLevel, req.SessionEpoch = -1, 1<<20, isolation, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	for p := int32(0); p < 2; p++ {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, 0, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := c.do(t, req).(*kmsg.FetchResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 {
		t.Fatalf("fetch answer %+v", resp.Topics)
	}
	return resp.Topics[0].Partitions
}

// checkPart checks one partition's fetch answer: its offsets, its aborted transactions
// (nil: the field must be absent, as for read_uncommitted) and the values a Kafka
// consumer keeps of its records.
func checkPart(t *testing.T, what string, p kmsg.FetchResponseTopicPartition, lso, hw int64, values []string,
	aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction) {
	t.Helper()
	what = fmt.Sprintf("%s, partition %d", what, p.Partition)
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if p.LastStableOffset != lso || p.HighWatermark != hw {
		t.Errorf("%s: last stable offset %d, high watermark %d; want %d and %d", what, p.LastStableOffset, p.HighWatermark, lso, hw)
	}
	same := func(a, b kmsg.FetchResponseTopicPartitionAbortedTransaction) bool {
		return a.ProducerID == b.ProducerID && a.FirstOffset == b.FirstOffset
	}
	if (aborted == nil) != (p.AbortedTransactions == nil) || !slices.EqualFunc(p.AbortedTransactions, aborted, same) {
		t.Errorf("%s: aborted transactions %+v, want %+v", what, p.AbortedTransactions, aborted)
	}
	if got := consume(t, p.RecordBatches, p.AbortedTransactions); !slices.Equal(got, values) {
		t.Errorf("%s: a consumer keeps %q, want %q", what, got, values)
	}
}

// consume returns the values a Kafka consumer keeps of fetched batches: a producer's
// transactional records from the first offset of its aborted transaction up to its
// abort marker are dropped, and control batches are never shown.
func consume(t *testing.T, b []byte, aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction) []string {
	t.Helper()
	dropping := map[int64]bool{}
	var out []string
	for len(b) > 0 {
		batch, rest, ok, err := record.NextBatch(b)
		if err != nil || !ok {
			t.Fatalf("partial batch in a fetch answer: %v", err)
		}
		b = rest
		h, err := record.ParseHeader(batch)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range aborted {
			if a.FirstOffset <= h.LastOffset() && a.FirstOffset >= 0 {
				dropping[a.ProducerID] = true
			}
		}
		if h.Control() {
			if commit, _, err := record.ParseControl(batch); err == nil && !commit {
				delete(dropping, h.ProducerID)
				for i := range aborted {
					if aborted[i].ProducerID == h.ProducerID && aborted[i].FirstOffset <= h.BaseOffset {
						aborted[i].FirstOffset = -1 // consumed
					}
				}
			}
			continue
		}
		if h.Transactional() && dropping[h.ProducerID] {
			continue
		}
		recs, err := record.ReadAll(batch)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			out = append(out, string(r.Value))
		}
	}
	return out
}
