package conformance

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/record"
)

// maxVersion is the highest advertised version of key on the shared broker.
func maxVersion(t testing.TB, key int16) int16 {
	t.Helper()
	r, ok := shared.ranges[key]
	if !ok {
		t.Fatalf("%s (key %d) is not advertised", kmsg.NameForKey(key), key)
	}
	return r[1]
}

// forVersions runs fn as a parallel subtest "vN" for every advertised
// version of key.
func forVersions(t *testing.T, key int16, fn func(t *testing.T, v int16)) {
	t.Helper()
	r, ok := shared.ranges[key]
	if !ok {
		t.Fatalf("%s (key %d) is not advertised", kmsg.NameForKey(key), key)
	}
	for v := r[0]; v <= r[1]; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			t.Parallel()
			fn(t, v)
		})
	}
}

var topicSeq atomic.Int64

// topicName returns a unique, valid topic name derived from the test name.
func topicName(t testing.TB, suffix string) string {
	var b strings.Builder
	for _, c := range t.Name() + "-" + suffix {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	name := fmt.Sprintf("%s-%d", b.String(), topicSeq.Add(1))
	if len(name) > 200 {
		name = name[len(name)-200:]
	}
	return name
}

// errName names a Kafka error code for messages.
func errName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	if e, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return e.Message
	}
	return fmt.Sprintf("code %d", code)
}

// wantCode fails the test when got is not want.
func wantCode(t testing.TB, what string, got int16, want *kerr.Error) {
	t.Helper()
	w := int16(0)
	if want != nil {
		w = want.Code
	}
	if got != w {
		t.Errorf("%s: error %s (%d), want %s (%d)", what, errName(got), got, errName(w), w)
	}
}

// createTopic creates a topic at CreateTopics' highest version, waits until
// every partition is served, and returns the topic ID.
func createTopic(t testing.TB, c *client, name string, partitions int32, configs map[string]string) [16]byte {
	t.Helper()
	req := versioned(kmsg.NewPtrCreateTopicsRequest(), maxVersion(t, 19))
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	for k, v := range configs {
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, cfg)
	}
	req.Topics = append(req.Topics, rt)
	resp := c.do(req).(*kmsg.CreateTopicsResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create topic %s: %+v", name, resp.Topics)
	}
	waitServed(t, c, name, partitions)
	return resp.Topics[0].TopicID
}

// waitServed polls ListOffsets until every partition of the topic answers
// without error: a topic's partitions are opened once the broker applies
// the metadata record, which may come just after CreateTopics answers, as
// in Kafka (clients retry on the errors in between).
func waitServed(t testing.TB, c *client, topic string, partitions int32) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for {
		var bad []string
		for p := int32(0); p < partitions; p++ {
			if _, code := listOffset(t, c, maxVersion(t, 2), topic, p, -1, 0); code != 0 {
				bad = append(bad, fmt.Sprintf("%d:%s", p, errName(code)))
			}
		}
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s: partitions not served within %v: %v", topic, ioTimeout, bad)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// listOffset asks one partition's offset for a timestamp at version v and
// returns the partition's answer and error code.
func listOffset(t testing.TB, c *client, v int16, topic string, partition int32, ts int64, isolation int8) (kmsg.ListOffsetsResponseTopicPartition, int16) {
	t.Helper()
	req := versioned(kmsg.NewPtrListOffsetsRequest(), v)
	req.IsolationLevel = isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = partition, ts
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := c.do(req).(*kmsg.ListOffsetsResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("ListOffsets v%d: want one topic with one partition, got %+v", v, resp.Topics)
	}
	if resp.Topics[0].Topic != topic {
		t.Fatalf("ListOffsets v%d: answered topic %q, asked %q", v, resp.Topics[0].Topic, topic)
	}
	p := resp.Topics[0].Partitions[0]
	return p, p.ErrorCode
}

// latest is the partition's high watermark by ListOffsets, failing on error.
func latest(t testing.TB, c *client, topic string, partition int32) int64 {
	t.Helper()
	p, code := listOffset(t, c, maxVersion(t, 2), topic, partition, -1, 0)
	if code != 0 {
		t.Fatalf("ListOffsets latest %s-%d: %s", topic, partition, errName(code))
	}
	return p.Offset
}

// rec is one record to put in a test batch.
type rec struct {
	tsDelta int64
	key     []byte
	value   []byte
	headers []kmsg.Header
}

// batchSpec describes a produced record batch; zero producer fields mean
// "not idempotent" (-1).
type batchSpec struct {
	firstTS    int64
	recs       []rec
	attributes int16 // compression codec and flags, as on the wire
	producerID int64
	epoch      int16
	seq        int32
	idempotent bool
}

// encode builds the batch with kmsg's RecordBatch and Record encoders and
// the CRC32C the broker checks.
func (s batchSpec) encode() []byte {
	var body []byte
	maxTS := s.firstTS
	for i, r := range s.recs {
		kr := kmsg.Record{
			TimestampDelta64: r.tsDelta,
			TimestampDelta:   int32(r.tsDelta),
			OffsetDelta:      int32(i),
			Key:              r.key,
			Value:            r.value,
			Headers:          r.headers,
		}
		kr.Length = int32(len(kr.AppendTo(nil)) - 1) // the zero length took one byte
		body = kr.AppendTo(body)
		if ts := s.firstTS + r.tsDelta; ts > maxTS {
			maxTS = ts
		}
	}
	return s.encodeRaw(body, int32(len(s.recs)), maxTS)
}

// encodeRaw builds a batch around an already encoded records section.
func (s batchSpec) encodeRaw(records []byte, numRecords int32, maxTS int64) []byte {
	b := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           s.attributes,
		LastOffsetDelta:      numRecords - 1,
		FirstTimestamp:       s.firstTS,
		MaxTimestamp:         maxTS,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           numRecords,
		Records:              records,
	}
	if s.idempotent {
		b.ProducerID, b.ProducerEpoch, b.FirstSequence = s.producerID, s.epoch, s.seq
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	record.SetCRC(out)
	return out
}

// simpleBatch is a batch of n records with values "<prefix>-i", keys
// "k-i" and timestamps firstTS + 10*i.
func simpleBatch(firstTS int64, prefix string, n int) []byte {
	s := batchSpec{firstTS: firstTS}
	for i := range n {
		s.recs = append(s.recs, rec{
			tsDelta: int64(10 * i),
			key:     []byte(fmt.Sprintf("k-%d", i)),
			value:   []byte(fmt.Sprintf("%s-%d", prefix, i)),
			headers: []kmsg.Header{{Key: "h", Value: []byte{byte(i)}}},
		})
	}
	return s.encode()
}

// produceReq builds a one-partition produce request at version v.
func produceReq(v int16, topic string, id [16]byte, partition int32, acks int16, batch []byte) *kmsg.ProduceRequest {
	req := versioned(kmsg.NewPtrProduceRequest(), v)
	req.Acks = acks
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	if v >= 13 {
		rt.TopicID = id
	} else {
		rt.Topic = topic
	}
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// produce sends one batch with acks=-1 at version v and returns the
// partition's answer.
func produce(t testing.TB, c *client, v int16, topic string, id [16]byte, partition int32, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	resp := c.do(produceReq(v, topic, id, partition, -1, batch)).(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("Produce v%d: want one topic with one partition, got %+v", v, resp.Topics)
	}
	rt := resp.Topics[0]
	if v >= 13 && rt.TopicID != id {
		t.Errorf("Produce v%d: answered topic ID %x, asked %x", v, rt.TopicID, id)
	}
	if v < 13 && rt.Topic != topic {
		t.Errorf("Produce v%d: answered topic %q, asked %q", v, rt.Topic, topic)
	}
	return rt.Partitions[0]
}

// mustProduce produces at the highest version and fails unless accepted,
// returning the base offset.
func mustProduce(t testing.TB, c *client, topic string, partition int32, batch []byte) int64 {
	t.Helper()
	p := produce(t, c, min(maxVersion(t, 0), 12), topic, [16]byte{}, partition, batch) // by name
	if p.ErrorCode != 0 {
		t.Fatalf("produce to %s-%d: %s", topic, partition, errName(p.ErrorCode))
	}
	return p.BaseOffset
}

// fetchReq builds a one-partition fetch request at version v.
func fetchReq(v int16, topic string, id [16]byte, partition int32, offset int64, maxBytes, partMax int32) *kmsg.FetchRequest {
	req := versioned(kmsg.NewPtrFetchRequest(), v)
	req.MaxWaitMillis = 0
	req.MinBytes = 0
	req.MaxBytes = maxBytes
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	if v >= 13 {
		rt.TopicID = id
	} else {
		rt.Topic = topic
	}
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, partMax
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// fetchOne sends a fetch and returns the single partition's answer.
func fetchOne(t testing.TB, c *client, req *kmsg.FetchRequest) (*kmsg.FetchResponse, kmsg.FetchResponseTopicPartition) {
	t.Helper()
	resp := c.do(req).(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 {
		t.Fatalf("Fetch v%d: top-level error %s", req.Version, errName(resp.ErrorCode))
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("Fetch v%d: want one topic with one partition, got %d topics", req.Version, len(resp.Topics))
	}
	return resp, resp.Topics[0].Partitions[0]
}

// readAll fetches a partition from offset 0 at the highest version and
// returns its batches, failing on error.
func readAll(t testing.TB, c *client, topic string, partition int32) [][]byte {
	t.Helper()
	_, p := fetchOne(t, c, fetchReq(min(maxVersion(t, 1), 12), topic, [16]byte{}, partition, 0, 64<<20, 64<<20))
	if p.ErrorCode != 0 {
		t.Fatalf("fetch %s-%d: %s", topic, partition, errName(p.ErrorCode))
	}
	batches, rest := splitBatches(p.RecordBatches)
	if len(rest) != 0 {
		t.Fatalf("fetch %s-%d: %d trailing bytes of a partial batch with no size limit in play", topic, partition, len(rest))
	}
	return batches
}

// splitBatches cuts fetched records into whole batches and the partial
// batch Kafka may leave at the end.
func splitBatches(b []byte) (batches [][]byte, rest []byte) {
	for len(b) >= 12 {
		n := int(int32(binary.BigEndian.Uint32(b[8:]))) + 12
		if n < 12 || n > len(b) {
			break
		}
		batches = append(batches, b[:n])
		b = b[n:]
	}
	return batches, b
}

// sameBatch reports how a fetched batch differs from the produced one:
// the broker sets the base offset and the partition leader epoch, which the
// CRC does not cover, and must keep every other byte.
func sameBatch(fetched, produced []byte, wantBase int64) error {
	if len(fetched) != len(produced) {
		return fmt.Errorf("fetched batch is %d bytes, produced %d", len(fetched), len(produced))
	}
	if base := int64(binary.BigEndian.Uint64(fetched)); base != wantBase {
		return fmt.Errorf("base offset %d, want %d", base, wantBase)
	}
	if !bytes.Equal(fetched[8:12], produced[8:12]) || !bytes.Equal(fetched[16:], produced[16:]) {
		return fmt.Errorf("fetched batch bytes differ from the produced ones (beyond base offset and leader epoch)")
	}
	if !record.CheckCRC(fetched) {
		return fmt.Errorf("fetched batch fails its CRC")
	}
	return nil
}

// metadataTopic asks Metadata at its highest version, without
// auto-creation, about one topic.
func metadataTopic(t testing.TB, c *client, name string) kmsg.MetadataResponseTopic {
	t.Helper()
	req := versioned(kmsg.NewPtrMetadataRequest(), maxVersion(t, 3))
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(name)
	req.Topics = append(req.Topics, mt)
	resp := c.do(req).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 1 {
		t.Fatalf("Metadata for %s: %d topics in answer", name, len(resp.Topics))
	}
	return resp.Topics[0]
}

// nowMs is the wall clock in Kafka's milliseconds.
func nowMs() int64 { return time.Now().UnixMilli() }
