package conformance

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { covered[61] = "TestDescribeProducers" }

func describeProducers(t testing.TB, c *client, v int16, topic string, parts ...int32) []kmsg.DescribeProducersResponseTopicPartition {
	t.Helper()
	req := versioned(kmsg.NewPtrDescribeProducersRequest(), v)
	rt := kmsg.NewDescribeProducersRequestTopic()
	rt.Topic, rt.Partitions = topic, parts
	req.Topics = append(req.Topics, rt)
	resp := c.do(req).(*kmsg.DescribeProducersResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].Topic != topic || len(resp.Topics[0].Partitions) != len(parts) {
		t.Fatalf("DescribeProducers v%d of %s %v: answer %+v", v, topic, parts, resp.Topics)
	}
	for i, p := range resp.Topics[0].Partitions {
		if p.Partition != parts[i] {
			t.Fatalf("partition %d answered as %d", parts[i], p.Partition)
		}
	}
	return resp.Topics[0].Partitions
}

// TestDescribeProducers: an idempotent producer, a transactional one with its
// transaction open, and one whose transaction a marker committed, each shown with its
// epoch, last sequence, last timestamp, coordinator epoch and open transaction's start;
// a partition nobody wrote to has none; unknown topics and partitions get
// UNKNOWN_TOPIC_OR_PARTITION.
func TestDescribeProducers(t *testing.T) {
	forVersions(t, 61, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		topic := topicName(t, "producers")
		createTopic(t, c, topic, 2, nil)
		const idem, open, done = 8100, 8101, 8102

		ts := nowMs() - 5000
		idemBatch := func(seq int32, n int, ts int64) []byte {
			s := batchSpec{firstTS: ts, producerID: idem, epoch: 3, seq: seq, idempotent: true}
			for i := range n {
				s.recs = append(s.recs, rec{tsDelta: int64(i), value: []byte("i")})
			}
			return s.encode()
		}
		mustProduce(t, c, topic, 0, idemBatch(0, 3, ts))                    // 0-2
		mustProduce(t, c, topic, 0, idemBatch(3, 2, ts+100))                // 3-4, max timestamp ts+101
		openFirst := mustProduce(t, c, topic, 0, txnBatch(open, 0, "o", 3)) // 5-7
		mustProduce(t, c, topic, 0, txnBatch(done, 0, "d", 1))              // 8
		beforeMarker := nowMs()
		m := kmsg.NewWriteTxnMarkersRequestMarker()
		m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = done, 0, true, 7
		mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		mt.Topic, mt.Partitions = topic, []int32{0}
		m.Topics = append(m.Topics, mt)
		wreq := versioned(kmsg.NewPtrWriteTxnMarkersRequest(), maxVersion(t, 27))
		wreq.Markers = append(wreq.Markers, m)
		wresp := c.do(wreq).(*kmsg.WriteTxnMarkersResponse)
		wantCode(t, "commit marker", wresp.Markers[0].Topics[0].Partitions[0].ErrorCode, nil)

		parts := describeProducers(t, c, v, topic, 0, 1, 9)
		wantCode(t, "partition 0", parts[0].ErrorCode, nil)
		wantCode(t, "partition 1", parts[1].ErrorCode, nil)
		wantCode(t, "partition 9", parts[2].ErrorCode, kerr.UnknownTopicOrPartition)
		if len(parts[1].ActiveProducers) != 0 {
			t.Errorf("partition 1, never written: producers %+v, want none", parts[1].ActiveProducers)
		}
		got := map[int64]kmsg.DescribeProducersResponseTopicPartitionActiveProducer{}
		for _, p := range parts[0].ActiveProducers {
			got[p.ProducerID] = p
		}
		if len(got) != 3 || len(parts[0].ActiveProducers) != 3 {
			t.Fatalf("partition 0: producers %+v, want %d, %d and %d once each", parts[0].ActiveProducers, idem, open, done)
		}
		type want struct {
			epoch, lastSeq, coordEpoch int32
			txnStart                   int64
		}
		for pid, w := range map[int64]want{
			idem: {3, 4, -1, -1},
			open: {0, 2, -1, openFirst},
			done: {0, 0, 7, -1},
		} {
			p := got[pid]
			if p.ProducerEpoch != w.epoch || p.LastSequence != w.lastSeq || p.CoordinatorEpoch != w.coordEpoch || p.CurrentTxnStartOffset != w.txnStart {
				t.Errorf("producer %d: epoch %d, last sequence %d, coordinator epoch %d, transaction start %d; want %d, %d, %d, %d",
					pid, p.ProducerEpoch, p.LastSequence, p.CoordinatorEpoch, p.CurrentTxnStartOffset, w.epoch, w.lastSeq, w.coordEpoch, w.txnStart)
			}
		}
		if lt := got[idem].LastTimestamp; lt != ts+101 {
			t.Errorf("idempotent producer's last timestamp %d, want its last batch's max timestamp %d", lt, ts+101)
		}
		if lt := got[done].LastTimestamp; lt < beforeMarker || lt > nowMs() {
			t.Errorf("committed producer's last timestamp %d, want its marker's time, in [%d, now]", lt, beforeMarker)
		}

		missing := describeProducers(t, c, v, topicName(t, "missing"), 0)
		wantCode(t, "unknown topic", missing[0].ErrorCode, kerr.UnknownTopicOrPartition)
	})
}

// TestDescribeProducersAuthorization: READ on the topic is what DescribeProducers needs.
func TestDescribeProducersAuthorization(t *testing.T) {
	f := startSecured(t, aclSets())
	admin := login(t, f, "admin")
	topic := topicName(t, "t")
	createTopic(t, admin, topic, 1, nil)
	alice := login(t, f, "alice")
	v := maxVersion(t, 61)
	wantCode(t, "without READ", describeProducers(t, alice, v, topic, 0)[0].ErrorCode, kerr.TopicAuthorizationFailed)
	allow(t, admin, "User:alice", kmsg.ACLResourceTypeTopic, topic, kmsg.ACLOperationRead)
	wantCode(t, "with READ", describeProducers(t, alice, v, topic, 0)[0].ErrorCode, nil)
}
