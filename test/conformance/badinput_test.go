package conformance

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// badInputMaxRequest is socket.request.max.bytes of the bad-input broker,
// small so that an oversized frame is cheap to send.
const badInputMaxRequest = 64 << 10

// frame wraps a request body (header included) in its size.
func frame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// header appends a request header v1 (key, version, correlation id, client
// id) and, when flexible, an empty tag section.
func header(key, version int16, corr int32, flexible bool) []byte {
	b := kbin.AppendInt16(nil, key)
	b = kbin.AppendInt16(b, version)
	b = kbin.AppendInt32(b, corr)
	b = kbin.AppendNullableString(b, &clientID)
	if flexible {
		b = append(b, 0)
	}
	return b
}

// badBroker is a broker of its own for the bad-input tests, with a small
// socket.request.max.bytes and a canary partition whose content must
// survive every case byte for byte.
type badBroker struct {
	*fixture
	canary        string
	canaryBatches [][]byte
	small         string // a topic with max.message.bytes=1024
}

func startBadBroker(t *testing.T) *badBroker {
	t.Helper()
	f, err := startBroker([]string{fmt.Sprintf("socket.request.max.bytes=%d", badInputMaxRequest)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.cleanup)
	b := &badBroker{fixture: f, canary: topicName(t, "canary"), small: topicName(t, "small")}
	c := dial(t, f.addr)
	createTopic(t, c, b.canary, 1, nil)
	createTopic(t, c, b.small, 1, map[string]string{"max.message.bytes": "1024"})
	for i := range 3 {
		batch := simpleBatch(nowMs(), fmt.Sprintf("canary%d", i), 4)
		mustProduce(t, c, b.canary, 0, batch)
		b.canaryBatches = append(b.canaryBatches, batch)
	}
	return b
}

// checkHealthy asserts that the broker answers a fresh connection and that
// the canary partition reads back exactly as produced, and that nothing
// panicked.
func (b *badBroker) checkHealthy(t *testing.T) {
	t.Helper()
	c := dial(t, b.addr)
	av := versioned(kmsg.NewPtrApiVersionsRequest(), 3)
	av.ClientSoftwareName, av.ClientSoftwareVersion = "sluice-conformance", "1.0.0"
	if r := c.do(av).(*kmsg.ApiVersionsResponse); r.ErrorCode != 0 || len(r.ApiKeys) == 0 {
		t.Fatalf("broker unhealthy: ApiVersions error %s, %d keys", errName(r.ErrorCode), len(r.ApiKeys))
	}
	if hw := latest(t, c, b.canary, 0); hw != 12 {
		t.Errorf("canary high watermark %d, want 12", hw)
	}
	got := readAll(t, c, b.canary, 0)
	if len(got) != len(b.canaryBatches) {
		t.Fatalf("canary has %d batches, want %d", len(got), len(b.canaryBatches))
	}
	for i, w := range b.canaryBatches {
		if err := sameBatch(got[i], w, int64(4*i)); err != nil {
			t.Errorf("canary batch %d: %v", i, err)
		}
	}
	if n := b.logs.count(slog.LevelError, "panic"); n > 0 {
		t.Fatalf("the broker logged a panic:\n%s", b.logs.matching(slog.LevelError, "panic"))
	}
}

// waitLogGrowth waits for the count of log records at Info or above that
// mention substr to exceed before.
func (b *badBroker) waitLogGrowth(t *testing.T, substr string, before int) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for b.logs.count(slog.LevelInfo, substr) <= before {
		if time.Now().After(deadline) {
			t.Errorf("no log line mentioning %q after the connection was closed", substr)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBadInputClosesConnection sends frames Kafka answers by closing the
// connection (with a log line), and checks after each that the broker and
// its data are unharmed.
func TestBadInputClosesConnection(t *testing.T) {
	b := startBadBroker(t)

	metadataBody := func(v int16) []byte {
		req := metaReq(v, []string{b.canary})
		return append(header(3, v, 7, req.IsFlexible()), req.AppendTo(nil)...)
	}
	mdv12 := metadataBody(12)

	// A huge array count with nothing behind it: must not allocate it.
	hugeArray := header(3, 1, 7, false)
	hugeArray = kbin.AppendInt32(hugeArray, 1<<30)

	// A produce request whose topic name claims 32767 bytes.
	longString := header(0, 9, 7, true)
	longString = kbin.AppendNullableString(longString, nil) // transactional id
	longString = kbin.AppendInt16(longString, -1)           // acks
	longString = kbin.AppendInt32(longString, 1000)         // timeout
	longString = kbin.AppendUvarint(longString, 2)          // one topic (compact)
	longString = kbin.AppendUvarint(longString, 32768)      // name length+1

	cases := []struct {
		name  string
		bytes []byte
	}{
		{"oversized frame", append(binary.BigEndian.AppendUint32(nil, badInputMaxRequest+1), make([]byte, badInputMaxRequest+1)...)},
		{"oversized size alone", binary.BigEndian.AppendUint32(nil, 1<<30)},
		{"negative size", append(binary.BigEndian.AppendUint32(nil, 0xffffffff), mdv12...)},
		{"zero size", binary.BigEndian.AppendUint32(nil, 0)},
		{"garbage", frame([]byte("this is not a kafka request at all"))},
		{"HTTP request", []byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")},
		{"TLS client hello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}},
		{"truncated header", frame([]byte{0, 3, 0})},
		{"header without client id", frame(kbin.AppendInt32(kbin.AppendInt16(kbin.AppendInt16(nil, 18), 0), 5))},
		{"truncated body", frame(mdv12[:len(mdv12)-3])},
		{"flexible header without its tag section", frame(mdv12[:len(header(3, 12, 7, false))])},
		{"huge array count", frame(hugeArray)},
		{"string longer than the frame", frame(longString)},
		{"unknown API key 9999", frame(append(header(9999, 0, 7, false), 0, 0, 0, 0))},
		{"unknown API key -1", frame(header(-1, 0, 7, false))},
		{"API kmsg knows but not advertised (DescribeConfigs)", frame(append(header(32, 0, 7, false), 0, 0, 0, 0))},
		{"Metadata above the advertised max", frame(metadataBody(shared.ranges[3][1] + 1))},
		{"Fetch below the advertised min (v3)", frame(append(header(1, 3, 7, false), fetchReq(3, b.canary, [16]byte{}, 0, 0, 1<<20, 1<<20).AppendTo(nil)...))},
		{"Produce v2 (message format v1)", frame(append(header(0, 2, 7, false), produceReq(2, b.canary, [16]byte{}, 0, 1, simpleBatch(nowMs(), "v2", 1)).AppendTo(nil)...))},
		{"Produce above kmsg's max (v14)", frame(append(header(0, 14, 7, true), produceReq(13, b.canary, [16]byte{}, 0, 1, simpleBatch(nowMs(), "v14", 1)).AppendTo(nil)...))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := b.logs.count(slog.LevelInfo, "connection")
			c := dial(t, b.addr)
			c.writeLoose(tc.bytes)
			c.expectClosed(tc.name)
			b.waitLogGrowth(t, "connection", before)
			b.checkHealthy(t)
		})
	}

	// A frame cut short by the client: the broker must drop it quietly.
	t.Run("frame cut short by EOF", func(t *testing.T) {
		c := dial(t, b.addr)
		c.write(append(binary.BigEndian.AppendUint32(nil, 100), mdv12[:10]...))
		c.conn.(*net.TCPConn).CloseWrite()
		c.expectClosed("frame cut short")
		b.checkHealthy(t)
	})

	// A valid request followed by garbage on one connection: the valid one
	// is answered first, then the connection closes.
	t.Run("garbage after a valid request", func(t *testing.T) {
		c := dial(t, b.addr)
		req := versioned(kmsg.NewPtrApiVersionsRequest(), 0)
		c.write(append(appendRequest(nil, req, 42, &clientID), frame([]byte("garbage garbage"))...))
		if r := c.recv(req, 42).(*kmsg.ApiVersionsResponse); r.ErrorCode != 0 {
			t.Errorf("ApiVersions before the garbage: %s", errName(r.ErrorCode))
		}
		c.expectClosed("garbage after a valid request")
		b.checkHealthy(t)
	})

	// socket.request.max.bytes is a bound, not a ban: a frame of exactly
	// that size is served.
	t.Run("frame of exactly socket.request.max.bytes", func(t *testing.T) {
		c := dial(t, b.addr)
		v := min(maxVersion(t, 0), 12) // by name
		valueLen := badInputMaxRequest - 200
		var req *kmsg.ProduceRequest
		for range 4 { // the varint lengths shift the size by a byte or two
			batch := batchSpec{firstTS: nowMs(), recs: []rec{{value: bytes.Repeat([]byte{'x'}, valueLen)}}}.encode()
			req = produceReq(v, b.small, [16]byte{}, 0, 1, batch)
			size := len(appendRequest(nil, req, 1, &clientID)) - 4
			if size == badInputMaxRequest {
				break
			}
			valueLen += badInputMaxRequest - size
		}
		if size := len(appendRequest(nil, req, 1, &clientID)) - 4; size != badInputMaxRequest {
			t.Fatalf("could not build a %d-byte frame (got %d)", badInputMaxRequest, size)
		}
		resp := c.do(req).(*kmsg.ProduceResponse)
		// Served: the small topic's max.message.bytes refuses the batch,
		// which proves the frame was read and handled.
		wantCode(t, "a 64 KiB batch on a 1 KiB topic", resp.Topics[0].Partitions[0].ErrorCode, kerr.MessageTooLarge)
		b.checkHealthy(t)
	})
}

// TestBadInputAnswered sends requests that Kafka answers with an error code
// while keeping the connection, and checks that nothing was stored and that
// the connection, the broker and the canary are unharmed.
func TestBadInputAnswered(t *testing.T) {
	b := startBadBroker(t)
	c0 := dial(t, b.addr)
	target := topicName(t, "target")
	createTopic(t, c0, target, 1, nil)
	now := nowMs()

	badCRC := simpleBatch(now, "crc", 3)
	badCRC[len(badCRC)-5] ^= 0x01

	threeRecs := func() []byte {
		var body []byte
		for i := range 3 {
			r := kmsg.Record{OffsetDelta: int32(i), Value: []byte{'v', byte(i)}}
			r.Length = int32(len(r.AppendTo(nil)) - 1)
			body = r.AppendTo(body)
		}
		return body
	}
	spec := batchSpec{firstTS: now}
	countHigh := spec.encodeRaw(threeRecs(), 5, now)
	countLow := spec.encodeRaw(threeRecs(), 2, now)
	countNegative := spec.encodeRaw(threeRecs(), -1, now)
	gzipGarbage := batchSpec{firstTS: now, attributes: 1}.encodeRaw([]byte("\x1f\x8b this is no gzip stream"), 1, now)
	zstdGarbage := batchSpec{firstTS: now, attributes: 4}.encodeRaw([]byte("definitely not zstd"), 1, now)
	lz4Garbage := batchSpec{firstTS: now, attributes: 3}.encodeRaw(bytes.Repeat([]byte{0xff}, 64), 1, now)
	snappyGarbage := batchSpec{firstTS: now, attributes: 2}.encodeRaw([]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 9, 9, 9}, 1, now)
	unknownCodec := batchSpec{firstTS: now, attributes: 7}.encodeRaw(threeRecs(), 3, now)
	twoBatches := append(simpleBatch(now, "two", 1), simpleBatch(now, "batches", 1)...)
	truncated := simpleBatch(now, "cut", 3)
	truncated = truncated[:len(truncated)-4]
	lengthTooSmall := simpleBatch(now, "len", 1)
	binary.BigEndian.PutUint32(lengthTooSmall[8:], 10)
	oldMagic := simpleBatch(now, "magic", 1)
	oldMagic[16] = 1
	base := simpleBatch(now, "base", 2)
	binary.BigEndian.PutUint64(base, 77)
	big := batchSpec{firstTS: now, recs: []rec{{value: bytes.Repeat([]byte{1}, 2000)}}}.encode()

	cases := []struct {
		name  string
		topic string
		batch []byte
		want  []*kerr.Error // any of these
	}{
		{"bad CRC", target, badCRC, []*kerr.Error{kerr.CorruptMessage}},
		{"batch larger than max.message.bytes", b.small, big, []*kerr.Error{kerr.MessageTooLarge}},
		{"record count higher than the records", target, countHigh, []*kerr.Error{kerr.InvalidRecord}},
		{"record count lower than the records", target, countLow, []*kerr.Error{kerr.InvalidRecord}},
		{"negative record count", target, countNegative, []*kerr.Error{kerr.InvalidRecord, kerr.CorruptMessage}},
		// Kafka's own answer to an undecodable compressed payload has
		// varied; either refusal keeps the log clean.
		{"gzip batch of garbage", target, gzipGarbage, []*kerr.Error{kerr.InvalidRecord, kerr.CorruptMessage}},
		{"zstd batch of garbage", target, zstdGarbage, []*kerr.Error{kerr.InvalidRecord, kerr.CorruptMessage}},
		{"lz4 batch of garbage", target, lz4Garbage, []*kerr.Error{kerr.InvalidRecord, kerr.CorruptMessage}},
		{"snappy batch of garbage", target, snappyGarbage, []*kerr.Error{kerr.InvalidRecord, kerr.CorruptMessage}},
		{"unknown compression codec 7", target, unknownCodec, []*kerr.Error{kerr.UnsupportedCompressionType, kerr.CorruptMessage, kerr.InvalidRecord}},
		{"two batches in one partition", target, twoBatches, []*kerr.Error{kerr.InvalidRecord}},
		{"no batch at all", target, []byte{}, []*kerr.Error{kerr.InvalidRecord}},
		{"batch cut short", target, truncated, []*kerr.Error{kerr.CorruptMessage, kerr.InvalidRecord}},
		{"batch length below the header", target, lengthTooSmall, []*kerr.Error{kerr.CorruptMessage}},
		{"magic 1 in a v2 batch", target, oldMagic, []*kerr.Error{kerr.CorruptMessage, kerr.InvalidRecord, kerr.UnsupportedForMessageFormat}},
		{"nonzero base offset", target, base, []*kerr.Error{kerr.InvalidRecord}},
		{"unknown topic", topicName(t, "missing"), simpleBatch(now, "x", 1), []*kerr.Error{kerr.UnknownTopicOrPartition}},
		{"invalid topic name", "bad/topic name", simpleBatch(now, "x", 1), []*kerr.Error{kerr.UnknownTopicOrPartition}},
		{"empty topic name", "", simpleBatch(now, "x", 1), []*kerr.Error{kerr.UnknownTopicOrPartition}},
	}
	for _, tc := range cases {
		for _, v := range []int16{3, 8, maxVersion(t, 0)} {
			t.Run(fmt.Sprintf("%s/v%d", tc.name, v), func(t *testing.T) {
				c := dial(t, b.addr)
				var id [16]byte
				if v >= 13 {
					if tc.topic == target || tc.topic == b.small {
						id = metadataTopic(t, c, tc.topic).TopicID
					} else {
						id = [16]byte{0x99, byte(len(tc.name))}
					}
				}
				watch := target
				if tc.topic == b.small {
					watch = b.small
				}
				before := latest(t, c, watch, 0)
				p := produce(t, c, v, tc.topic, id, 0, tc.batch)
				want := tc.want
				if v >= 13 && want[0] == kerr.UnknownTopicOrPartition {
					want = []*kerr.Error{kerr.UnknownTopicID}
				}
				ok := false
				for _, w := range want {
					ok = ok || p.ErrorCode == w.Code
				}
				if !ok {
					t.Errorf("error %s, want one of %v", errName(p.ErrorCode), want)
				}
				if p.BaseOffset != -1 {
					t.Errorf("base offset %d on a refused batch, want -1", p.BaseOffset)
				}
				if after := latest(t, c, watch, 0); after != before {
					t.Errorf("a refused batch moved the high watermark from %d to %d", before, after)
				}
				// The connection stays usable.
				if r := c.do(versioned(kmsg.NewPtrApiVersionsRequest(), 0)).(*kmsg.ApiVersionsResponse); r.ErrorCode != 0 {
					t.Errorf("ApiVersions on the same connection: %s", errName(r.ErrorCode))
				}
			})
		}
	}
	if hw := latest(t, c0, target, 0); hw != 0 {
		t.Errorf("target took %d records from refused batches", hw)
	}

	// Invalid topic names elsewhere: Metadata and CreateTopics say
	// INVALID_TOPIC_EXCEPTION, and nothing is created.
	names := []string{"", ".", "..", "a/b", "with space", "tést", strings.Repeat("x", 250), "nul\x00byte"}
	for _, name := range names {
		t.Run(fmt.Sprintf("invalid name %q", name), func(t *testing.T) {
			c := dial(t, b.addr)
			for _, allow := range []bool{true, false} {
				req := metaReq(maxVersion(t, 3), []string{name})
				req.AllowAutoTopicCreation = allow
				mt := c.do(req).(*kmsg.MetadataResponse).Topics
				if len(mt) != 1 {
					t.Fatalf("Metadata: %d topics answered", len(mt))
				}
				wantCode(t, fmt.Sprintf("Metadata (auto-create %v)", allow), mt[0].ErrorCode, kerr.InvalidTopicException)
			}
			ct := versioned(kmsg.NewPtrCreateTopicsRequest(), maxVersion(t, 19))
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
			ct.Topics = append(ct.Topics, rt)
			cr := c.do(ct).(*kmsg.CreateTopicsResponse)
			if len(cr.Topics) != 1 {
				t.Fatalf("CreateTopics: %d topics answered", len(cr.Topics))
			}
			wantCode(t, "CreateTopics", cr.Topics[0].ErrorCode, kerr.InvalidTopicException)
			_, fp := fetchOne(t, c, fetchReq(12, name, [16]byte{}, 0, 0, 1<<20, 1<<20))
			wantCode(t, "Fetch", fp.ErrorCode, kerr.UnknownTopicOrPartition)
		})
	}
	all := c0.do(metaReq(maxVersion(t, 3), nil)).(*kmsg.MetadataResponse)
	for _, mt := range all.Topics {
		if n := *mt.Topic; n != b.canary && n != b.small && n != target {
			t.Errorf("bad input created topic %q", n)
		}
	}

	// Null records (a nullable field in the schema).
	t.Run("null records", func(t *testing.T) {
		c := dial(t, b.addr)
		p := produce(t, c, min(maxVersion(t, 0), 12), target, [16]byte{}, 0, nil)
		wantCode(t, "null records", p.ErrorCode, kerr.InvalidRecord)
	})

	// Fetch and ListOffsets oddities.
	t.Run("fetch oddities", func(t *testing.T) {
		c := dial(t, b.addr)
		v := maxVersion(t, 1)
		id := metadataTopic(t, c, b.canary).TopicID
		for _, tc := range []struct {
			name   string
			offset int64
			part   int32
			want   *kerr.Error
		}{
			{"negative offset", -5, 0, kerr.OffsetOutOfRange},
			{"max offset", 1<<63 - 1, 0, kerr.OffsetOutOfRange},
			{"negative partition", 0, -1, kerr.UnknownTopicOrPartition},
		} {
			req := fetchReq(v, b.canary, id, tc.part, tc.offset, 1<<20, 1<<20)
			_, p := fetchOne(t, c, req)
			wantCode(t, tc.name, p.ErrorCode, tc.want)
		}
		// Negative byte limits: any well-formed answer (fetchOne decodes
		// it strictly); what matters is the broker and data after it.
		fetchOne(t, c, fetchReq(v, b.canary, id, 0, 0, -1, -1))
		if _, code := listOffset(t, c, maxVersion(t, 2), b.canary, -1, -1, 0); code != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("ListOffsets partition -1: %s", errName(code))
		}
	})
	b.checkHealthy(t)
}
