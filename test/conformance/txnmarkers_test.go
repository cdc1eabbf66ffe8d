package conformance

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/record"
)

func init() { covered[27] = "TestWriteTxnMarkers" }

// txnBatch is a transactional batch of producer pid: Produce accepts it without
// a transactional id in the request, as the broker's partition side sees only
// the batch.
func txnBatch(pid int64, seq int32, prefix string, n int) []byte {
	s := batchSpec{firstTS: nowMs(), attributes: 0x10, producerID: pid, seq: seq, idempotent: true}
	for i := range n {
		s.recs = append(s.recs, rec{tsDelta: int64(i), key: []byte(prefix), value: []byte(prefix)})
	}
	return s.encode()
}

// TestWriteTxnMarkers: markers commit one producer's transaction and abort
// another's across two partitions; read_committed reads stop at the last stable
// offset until then, and afterwards list the aborted transaction; stale
// producer and coordinator epochs and unknown partitions get their codes, per
// partition, in the request's order.
func TestWriteTxnMarkers(t *testing.T) {
	forVersions(t, 27, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		topic := topicName(t, "txn")
		createTopic(t, c, topic, 2, nil)
		pa, pb := 7000+int64(v)*10, 7001+int64(v)*10

		mustProduce(t, c, topic, 0, simpleBatch(nowMs(), "plain", 1))  // 0
		aFirst := mustProduce(t, c, topic, 0, txnBatch(pa, 0, "a", 2)) // 1-2
		bFirst := mustProduce(t, c, topic, 0, txnBatch(pb, 0, "b", 3)) // 3-5
		mustProduce(t, c, topic, 1, txnBatch(pb, 0, "b", 1))           // p1: 0
		if aFirst != 1 || bFirst != 3 {
			t.Fatalf("transactional batches at %d and %d, want 1 and 3", aFirst, bFirst)
		}
		lv := maxVersion(t, 2)
		if p, code := listOffset(t, c, lv, topic, 0, -1, 1); code != 0 || p.Offset != aFirst {
			t.Fatalf("read_committed latest with two open transactions: %d (%s), want %d", p.Offset, errName(code), aFirst)
		}
		if p, _ := listOffset(t, c, lv, topic, 0, -1, 0); p.Offset != 6 {
			t.Fatalf("read_uncommitted latest %d, want the high watermark 6", p.Offset)
		}
		fv := min(maxVersion(t, 1), 12)
		committed := func(partition int32) kmsg.FetchResponseTopicPartition {
			req := fetchReq(fv, topic, [16]byte{}, partition, 0, 1<<20, 1<<20)
			req.IsolationLevel = 1
			_, p := fetchOne(t, c, req)
			wantCode(t, "read_committed fetch", p.ErrorCode, nil)
			return p
		}
		if p := committed(0); p.LastStableOffset != aFirst || p.HighWatermark != 6 || countRecords(t, p.RecordBatches) != 1 {
			t.Fatalf("read_committed fetch before the markers: LSO %d, high watermark %d, %d records; want 1, 6, 1",
				p.LastStableOffset, p.HighWatermark, countRecords(t, p.RecordBatches))
		}

		req := versioned(kmsg.NewPtrWriteTxnMarkersRequest(), v)
		marker := func(pid int64, commit bool, coord int32, parts map[string][]int32, order ...string) kmsg.WriteTxnMarkersRequestMarker {
			m := kmsg.NewWriteTxnMarkersRequestMarker()
			m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = pid, 0, commit, coord
			for _, name := range order {
				mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
				mt.Topic, mt.Partitions = name, parts[name]
				m.Topics = append(m.Topics, mt)
			}
			return m
		}
		missing := topicName(t, "missing")
		req.Markers = append(req.Markers,
			marker(pa, true, 5, map[string][]int32{topic: {0}}, topic),
			marker(pb, false, 5, map[string][]int32{topic: {1, 0}, missing: {0}}, topic, missing))
		resp := c.do(req).(*kmsg.WriteTxnMarkersResponse)
		want := [][]struct {
			topic string
			parts []int32
			codes []*kerr.Error
		}{
			{{topic, []int32{0}, []*kerr.Error{nil}}},
			{{topic, []int32{1, 0}, []*kerr.Error{nil, nil}}, {missing, []int32{0}, []*kerr.Error{kerr.UnknownTopicOrPartition}}},
		}
		checkMarkers(t, resp, []int64{pa, pb}, want)

		// After the markers: everything is stable, and read_committed learns of
		// producer b's aborted transaction in both partitions.
		p0 := committed(0)
		if p0.LastStableOffset != 8 || p0.HighWatermark != 8 {
			t.Fatalf("after the markers: LSO %d, high watermark %d; want 8 and 8", p0.LastStableOffset, p0.HighWatermark)
		}
		if n := countRecords(t, p0.RecordBatches); n != 8 {
			t.Fatalf("read_committed fetch after the markers: %d records (markers included), want 8", n)
		}
		wantAborted := []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: pb, FirstOffset: bFirst}}
		if !slices.EqualFunc(p0.AbortedTransactions, wantAborted, sameAborted) {
			t.Fatalf("partition 0 aborted transactions %+v, want %+v", p0.AbortedTransactions, wantAborted)
		}
		wantAborted[0].FirstOffset = 0
		if p1 := committed(1); !slices.EqualFunc(p1.AbortedTransactions, wantAborted, sameAborted) {
			t.Fatalf("partition 1 aborted transactions %+v, want %+v", p1.AbortedTransactions, wantAborted)
		}
		if p, _ := listOffset(t, c, lv, topic, 0, -1, 1); p.Offset != 8 {
			t.Fatalf("read_committed latest after the markers: %d, want 8", p.Offset)
		}

		// Fenced: an older coordinator epoch for producer a, an older producer
		// epoch for producer b (whose epoch moves to 2 first).
		bump := versioned(kmsg.NewPtrWriteTxnMarkersRequest(), v)
		m := marker(pb, false, 5, map[string][]int32{topic: {0}}, topic)
		m.ProducerEpoch = 2
		bump.Markers = append(bump.Markers, m)
		checkMarkers(t, c.do(bump).(*kmsg.WriteTxnMarkersResponse), []int64{pb}, [][]struct {
			topic string
			parts []int32
			codes []*kerr.Error
		}{{{topic, []int32{0}, []*kerr.Error{nil}}}})
		stale := versioned(kmsg.NewPtrWriteTxnMarkersRequest(), v)
		stale.Markers = append(stale.Markers,
			marker(pa, true, 4, map[string][]int32{topic: {0}}, topic),
			marker(pb, true, 5, map[string][]int32{topic: {0}}, topic))
		checkMarkers(t, c.do(stale).(*kmsg.WriteTxnMarkersResponse), []int64{pa, pb}, [][]struct {
			topic string
			parts []int32
			codes []*kerr.Error
		}{
			{{topic, []int32{0}, []*kerr.Error{kerr.TransactionCoordinatorFenced}}},
			{{topic, []int32{0}, []*kerr.Error{kerr.InvalidProducerEpoch}}},
		})
		if hw := latest(t, c, topic, 0); hw != 9 {
			t.Fatalf("high watermark %d after refused markers, want 9", hw)
		}
	})
}

func sameAborted(a, b kmsg.FetchResponseTopicPartitionAbortedTransaction) bool {
	return a.ProducerID == b.ProducerID && a.FirstOffset == b.FirstOffset
}

// checkMarkers compares a WriteTxnMarkers answer with the markers, topics,
// partitions and codes expected, in order.
func checkMarkers(t *testing.T, resp *kmsg.WriteTxnMarkersResponse, pids []int64, want [][]struct {
	topic string
	parts []int32
	codes []*kerr.Error
}) {
	t.Helper()
	if len(resp.Markers) != len(pids) {
		t.Fatalf("%d markers answered, want %d", len(resp.Markers), len(pids))
	}
	for i, m := range resp.Markers {
		if m.ProducerID != pids[i] || len(m.Topics) != len(want[i]) {
			t.Fatalf("marker %d: producer %d with %d topics, want %d with %d", i, m.ProducerID, len(m.Topics), pids[i], len(want[i]))
		}
		for ti, mt := range m.Topics {
			w := want[i][ti]
			if mt.Topic != w.topic || len(mt.Partitions) != len(w.parts) {
				t.Fatalf("marker %d topic %d: %s with %d partitions, want %s with %d", i, ti, mt.Topic, len(mt.Partitions), w.topic, len(w.parts))
			}
			for pi, p := range mt.Partitions {
				if p.Partition != w.parts[pi] {
					t.Errorf("marker %d %s: partition %d answered as %d", i, w.topic, w.parts[pi], p.Partition)
				}
				wantCode(t, "marker for "+w.topic, p.ErrorCode, w.codes[pi])
			}
		}
	}
}

// countRecords counts the records of fetched batches (control records too).
func countRecords(t *testing.T, b []byte) int {
	t.Helper()
	batches, rest := splitBatches(b)
	if len(rest) != 0 {
		t.Fatalf("%d trailing bytes", len(rest))
	}
	n := 0
	for _, batch := range batches {
		h, err := record.ParseHeader(batch)
		if err != nil {
			t.Fatal(err)
		}
		n += int(h.NumRecords)
	}
	return n
}

// TestWriteTxnMarkersV2: a marker of transactions v2 (WriteTxnMarkers v2,
// TransactionVersion 2, KIP-1228) carries an epoch above its transaction's data. It
// closes that transaction; sent again it is answered without a second marker; and
// delivered late, after the next transaction (at the marker's epoch) wrote to the
// partition, it is refused with INVALID_PRODUCER_EPOCH instead of ending that one.
func TestWriteTxnMarkersV2(t *testing.T) {
	if maxVersion(t, 27) < 2 {
		t.Fatal("WriteTxnMarkers v2 is not advertised")
	}
	c := dial(t, shared.addr)
	topic := topicName(t, "txnv2")
	createTopic(t, c, topic, 1, nil)
	const pid = 7900
	data := func(epoch int16, prefix string) []byte {
		s := batchSpec{firstTS: nowMs(), attributes: 0x10, producerID: pid, epoch: epoch, idempotent: true}
		s.recs = append(s.recs, rec{key: []byte(prefix), value: []byte(prefix)})
		return s.encode()
	}
	mark := func(epoch int16, commit bool) *kerr.Error {
		req := versioned(kmsg.NewPtrWriteTxnMarkersRequest(), 2)
		m := kmsg.NewWriteTxnMarkersRequestMarker()
		m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch, m.TransactionVersion = pid, epoch, commit, 3, 2
		mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		mt.Topic, mt.Partitions = topic, []int32{0}
		m.Topics = append(m.Topics, mt)
		req.Markers = append(req.Markers, m)
		resp := c.do(req).(*kmsg.WriteTxnMarkersResponse)
		if len(resp.Markers) != 1 || len(resp.Markers[0].Topics) != 1 || len(resp.Markers[0].Topics[0].Partitions) != 1 {
			t.Fatalf("WriteTxnMarkers v2 answer %+v", resp.Markers)
		}
		err, _ := kerr.ErrorForCode(resp.Markers[0].Topics[0].Partitions[0].ErrorCode).(*kerr.Error)
		return err
	}
	lso := func() int64 {
		p, code := listOffset(t, c, maxVersion(t, 2), topic, 0, -1, 1)
		wantCode(t, "read_committed latest", code, nil)
		return p.Offset
	}

	mustProduce(t, c, topic, 0, data(0, "k")) // 0: transaction k at epoch 0
	if err := mark(1, true); err != nil {     // 1: its commit at the bumped epoch
		t.Fatalf("the marker of transaction k: %v", err)
	}
	if got := latest(t, c, topic, 0); got != 2 || lso() != 2 {
		t.Fatalf("after the marker: end %d, last stable %d; want 2 and 2", got, lso())
	}
	if err := mark(1, true); err != nil {
		t.Fatalf("the same marker again: %v", err)
	}
	if got := latest(t, c, topic, 0); got != 2 {
		t.Fatalf("a resent marker was written again: end %d, want 2", got)
	}
	mustProduce(t, c, topic, 0, data(1, "k+1")) // 2: transaction k+1 at epoch 1
	if err := mark(1, false); err != kerr.InvalidProducerEpoch {
		t.Fatalf("transaction k's marker delivered late: %v, want INVALID_PRODUCER_EPOCH", err)
	}
	if got := latest(t, c, topic, 0); got != 3 || lso() != 2 {
		t.Fatalf("after the late marker: end %d, last stable %d; want 3 and 2 (k+1 still open)", got, lso())
	}
	if err := mark(2, true); err != nil {
		t.Fatalf("transaction k+1's marker: %v", err)
	}
	if got := latest(t, c, topic, 0); got != 4 || lso() != 4 {
		t.Fatalf("after k+1's marker: end %d, last stable %d; want 4 and 4", got, lso())
	}
}
