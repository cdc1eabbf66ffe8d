package metrics

import (
	"context"
	"encoding/binary"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

// value returns the value of the series name{labels} in a gather, and
// whether it exists.
func value(t *testing.T, m *Metrics, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mt := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range mt.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			switch {
			case mt.Counter != nil:
				return mt.Counter.GetValue(), true
			case mt.Gauge != nil:
				return mt.Gauge.GetValue(), true
			case mt.Histogram != nil:
				return float64(mt.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func want(t *testing.T, m *Metrics, name string, labels map[string]string, w float64) {
	t.Helper()
	got, ok := value(t, m, name, labels)
	if !ok {
		t.Fatalf("%s%v: no such series", name, labels)
	}
	if got != w {
		t.Fatalf("%s%v = %v, want %v", name, labels, got, w)
	}
}

func TestServerObservations(t *testing.T) {
	m := New(Options{})
	m.ConnectionOpened("PLAINTEXT")
	m.ConnectionOpened("PLAINTEXT")
	m.ConnectionClosed("PLAINTEXT")
	m.RequestDone("PLAINTEXT", 3, 12, 2*time.Millisecond, 100, 300, true)
	m.RequestDone("PLAINTEXT", 3, 12, time.Millisecond, 50, 0, false)
	m.RequestDone("PLAINTEXT", 0, 9, time.Millisecond, 1000, 60, true)
	m.RequestRejected("PLAINTEXT", -1)
	m.RequestRejected("PLAINTEXT", 1)

	want(t, m, "sluice_connections", map[string]string{"listener": "PLAINTEXT"}, 1)
	want(t, m, "sluice_connections_accepted_total", map[string]string{"listener": "PLAINTEXT"}, 2)
	want(t, m, "sluice_requests_total", map[string]string{"api": "Metadata", "version": "12"}, 2)
	want(t, m, "sluice_requests_total", map[string]string{"api": "Produce", "version": "9"}, 1)
	want(t, m, "sluice_request_duration_seconds", map[string]string{"api": "Metadata", "version": "12"}, 2)
	want(t, m, "sluice_request_bytes_total", map[string]string{"api": "Metadata"}, 150)
	want(t, m, "sluice_response_bytes_total", map[string]string{"api": "Metadata"}, 300)
	want(t, m, "sluice_requests_rejected_total", map[string]string{"api": "Unreadable"}, 1)
	want(t, m, "sluice_requests_rejected_total", map[string]string{"api": "Fetch"}, 1)
	// Purgatories are there from the start.
	want(t, m, "sluice_purgatory_size", map[string]string{"api": "Fetch"}, 0)
	// The Go runtime is reported.
	if _, ok := value(t, m, "go_goroutines", nil); !ok {
		t.Errorf("no go_goroutines")
	}
}

// batch returns a minimal v2 batch header claiming n records, padded to
// size bytes in all.
func batch(n int32, size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b[8:], uint32(size-12))
	b[16] = 2
	binary.BigEndian.PutUint32(b[57:], uint32(n))
	return b
}

func produceReq(v int16, topics map[string][][]byte) *kmsg.ProduceRequest {
	r := kmsg.NewPtrProduceRequest()
	r.Version = v
	for name, parts := range topics {
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = name
		for i, recs := range parts {
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition = int32(i)
			rp.Records = recs
			rt.Partitions = append(rt.Partitions, rp)
		}
		r.Topics = append(r.Topics, rt)
	}
	return r
}

func produceResp(r *kmsg.ProduceRequest, codes ...int16) *kmsg.ProduceResponse {
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	i := 0
	for _, rt := range r.Topics {
		ot := kmsg.NewProduceResponseTopic()
		ot.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			op := kmsg.NewProduceResponseTopicPartition()
			op.Partition = rp.Partition
			op.ErrorCode = codes[i]
			i++
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp
}

func TestWrapCountsProducedTopics(t *testing.T) {
	m := New(Options{})
	for _, tc := range []struct {
		name  string
		reply func(r *kmsg.ProduceRequest) *server.Reply
	}{
		{"answered at once", func(r *kmsg.ProduceRequest) *server.Reply {
			return &server.Reply{Msg: produceResp(r, 0, 10)} // the second partition failed
		}},
		{"answered after a wait", func(r *kmsg.ProduceRequest) *server.Reply {
			return &server.Reply{Then: func(context.Context) *server.Reply {
				return &server.Reply{Msg: produceResp(r, 0, 10)}
			}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(Options{})
			req := produceReq(9, map[string][][]byte{"orders": {batch(5, 100), batch(7, 200)}})
			h := m.Wrap(server.HandlerFunc(func(ctx context.Context, r *server.Request) *server.Reply {
				return tc.reply(req)
			}))
			reply := h.Handle(context.Background(), &server.Request{Key: 0, Version: 9, Msg: req})
			for reply.Then != nil {
				want(t, m, "sluice_purgatory_size", map[string]string{"api": "Produce"}, 1)
				reply = reply.Then(context.Background())
			}
			want(t, m, "sluice_purgatory_size", map[string]string{"api": "Produce"}, 0)
			want(t, m, "sluice_topic_bytes_in_total", map[string]string{"topic": "orders"}, 100)
			want(t, m, "sluice_topic_records_in_total", map[string]string{"topic": "orders"}, 5)
		})
	}

	// acks=0: no answer, everything kept; an error closes and counts nothing.
	req := produceReq(9, map[string][][]byte{"a": {batch(3, 80)}})
	for _, r := range []*server.Reply{{NoResponse: true}, {NoResponse: true, Close: true}} {
		h := m.Wrap(server.HandlerFunc(func(context.Context, *server.Request) *server.Reply { return r }))
		h.Handle(context.Background(), &server.Request{Key: 0, Msg: req})
	}
	want(t, m, "sluice_topic_bytes_in_total", map[string]string{"topic": "a"}, 80)
	want(t, m, "sluice_topic_records_in_total", map[string]string{"topic": "a"}, 3)

	// v13 names topics by ID.
	m = New(Options{TopicName: func(id [16]byte) (string, bool) { return "by-id", id == [16]byte{1} }})
	req = produceReq(13, map[string][][]byte{"": {batch(2, 70)}})
	req.Topics[0].TopicID = [16]byte{1}
	h := m.Wrap(server.HandlerFunc(func(context.Context, *server.Request) *server.Reply {
		return &server.Reply{Msg: produceResp(req, 0)}
	}))
	h.Handle(context.Background(), &server.Request{Key: 0, Version: 13, Msg: req})
	want(t, m, "sluice_topic_bytes_in_total", map[string]string{"topic": "by-id"}, 70)
}

func TestBatchesSizeRefusesGarbage(t *testing.T) {
	for _, tc := range []struct {
		name          string
		b             []byte
		bytes, record int
	}{
		{"empty", nil, 0, 0},
		{"short", make([]byte, 30), 0, 0},
		{"two batches", append(batch(2, 70), batch(3, 90)...), 160, 5},
		{"length past the end", func() []byte { b := batch(2, 70); binary.BigEndian.PutUint32(b[8:], 1000); return b }(), 0, 0},
		{"old magic", func() []byte { b := batch(2, 70); b[16] = 1; return b }(), 0, 0},
		{"negative count", batch(-4, 70), 70, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, r := batchesSize(tc.b)
			if n != tc.bytes || r != tc.record {
				t.Fatalf("batchesSize = %d bytes %d records, want %d and %d", n, r, tc.bytes, tc.record)
			}
		})
	}
}

func TestPartitionsAndFetchedBytes(t *testing.T) {
	parts := []PartitionStats{
		{Topic: "a", Partition: 0, SizeBytes: 1000, Segments: 2, LogStartOffset: 5, LogEndOffset: 50, HighWatermark: 48},
		{Topic: "a", Partition: 1, SizeBytes: 0, Segments: 1},
	}
	m := New(Options{Partitions: func() []PartitionStats { return parts }})
	m.TopicFetched("a", 300)
	m.TopicFetched("a", 0)
	want(t, m, "sluice_partitions", nil, 2)
	want(t, m, "sluice_log_size_bytes", map[string]string{"topic": "a", "partition": "0"}, 1000)
	want(t, m, "sluice_log_segments", map[string]string{"topic": "a", "partition": "0"}, 2)
	want(t, m, "sluice_log_start_offset", map[string]string{"topic": "a", "partition": "0"}, 5)
	want(t, m, "sluice_log_end_offset", map[string]string{"topic": "a", "partition": "0"}, 50)
	want(t, m, "sluice_log_high_watermark", map[string]string{"topic": "a", "partition": "0"}, 48)
	want(t, m, "sluice_topic_bytes_out_total", map[string]string{"topic": "a"}, 300)

	// The exposition format over HTTP.
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, `sluice_log_size_bytes{partition="0",topic="a"} 1000`) {
		t.Fatalf("GET /metrics: %d\n%s", rec.Code, body)
	}
}

func TestWrapKeepsVersionRanges(t *testing.T) {
	mux := server.NewMux()
	mux.Register(3, 0, 12, func(context.Context, *server.Request) *server.Reply { return &server.Reply{} })
	h := New(Options{}).Wrap(mux)
	vr, ok := h.(server.VersionRanger)
	if !ok {
		t.Fatal("wrapping a Mux hides its version ranges")
	}
	if min, max, ok := vr.VersionRange(3); !ok || min != 0 || max != 12 {
		t.Fatalf("VersionRange(3) = %d, %d, %v", min, max, ok)
	}
	if _, ok := New(Options{}).Wrap(server.HandlerFunc(func(context.Context, *server.Request) *server.Reply { return nil })).(server.VersionRanger); ok {
		t.Fatal("a plain handler gained version ranges")
	}
}

func TestQuotaAndConnectionLimitCounters(t *testing.T) {
	m := New(Options{})
	var _ server.ConnectionRefusedMetrics = m
	m.QuotaThrottled("consumer_byte_rate", 1500*time.Millisecond)
	m.QuotaThrottled("consumer_byte_rate", 500*time.Millisecond)
	m.ConnectionRefused("PLAINTEXT", "max.connections.per.ip")
	want(t, m, "sluice_quota_throttled_responses_total", map[string]string{"quota": "consumer_byte_rate"}, 2)
	want(t, m, "sluice_quota_throttle_time_seconds_total", map[string]string{"quota": "consumer_byte_rate"}, 2)
	want(t, m, "sluice_connections_refused_total", map[string]string{"listener": "PLAINTEXT", "reason": "max.connections.per.ip"}, 1)
}
