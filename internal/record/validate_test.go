package record

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestValidateErrors(t *testing.T) {
	good := craft(t, CodecNone, recs(simple(3)...), 3, nil)
	be := binary.BigEndian

	// A legacy magic-0 message set entry: length 14, magic byte at 16.
	legacy := make([]byte, 26)
	be.PutUint32(legacy[offLength:], 14)
	legacy[offMagic] = 0

	var zeros [2 << 20]byte
	bomb := craft(t, CodecZstd, recs(Record{Value: zeros[:]}), 1, nil)
	gzipGarbage := craft(t, CodecNone, []byte("definitely not gzip"), 1, func(h *Header) { h.Attributes = int16(CodecGzip) })

	tests := []struct {
		name  string
		batch []byte
		cfg   func(*ValidateConfig)
		want  *kerr.Error
	}{
		{"valid", good, nil, nil},
		{"empty", nil, nil, kerr.CorruptMessage},
		{"shorter than log overhead", good[:10], nil, kerr.CorruptMessage},
		{"truncated", good[:len(good)-1], nil, kerr.CorruptMessage},
		{"trailing byte", append(append([]byte(nil), good...), 0), nil, kerr.CorruptMessage},
		{"length below minimum", patch(good, false, func(b []byte) { be.PutUint32(b[offLength:], 10) }), nil, kerr.CorruptMessage},
		{"negative length", patch(good, false, func(b []byte) { be.PutUint32(b[offLength:], 0xffffffff) }), nil, kerr.CorruptMessage},
		{"magic 1", patch(good, false, func(b []byte) { b[offMagic] = 1 }), nil, kerr.InvalidRecord},
		{"legacy magic 0 entry", legacy, nil, kerr.InvalidRecord},
		{"magic 2 with a short header", patch(legacy, false, func(b []byte) { b[offMagic] = 2 }), nil, kerr.CorruptMessage},
		{"base offset set", patch(good, false, func(b []byte) { SetBaseOffset(b, 5) }), nil, kerr.InvalidRecord},
		{"larger than max.message.bytes", good, func(c *ValidateConfig) { c.MaxBatchBytes = len(good) - 1 }, kerr.MessageTooLarge},
		{"exactly max.message.bytes", good, func(c *ValidateConfig) { c.MaxBatchBytes = len(good) }, nil},
		{"crc mismatch", patch(good, false, func(b []byte) { b[len(b)-1] ^= 1 }), nil, kerr.CorruptMessage},
		{"crc field damaged", patch(good, false, func(b []byte) { b[offCRC] ^= 0x80 }), nil, kerr.CorruptMessage},
		{"codec 5", patch(good, true, func(b []byte) { b[offAttributes+1] |= 5 }), nil, kerr.UnsupportedCompressionType},
		{"codec 7", patch(good, true, func(b []byte) { b[offAttributes+1] |= 7 }), nil, kerr.UnsupportedCompressionType},
		{"last offset delta -1", craft(t, CodecNone, recs(simple(3)...), 3, func(h *Header) { h.LastOffsetDelta = -1 }), nil, kerr.InvalidRecord},
		{"last offset delta min int32", craft(t, CodecNone, recs(simple(3)...), 3, func(h *Header) { h.LastOffsetDelta = math.MinInt32 }), nil, kerr.InvalidRecord},
		{"count 0", craft(t, CodecNone, nil, 0, func(h *Header) { h.LastOffsetDelta = 0 }), nil, kerr.InvalidRecord},
		{"count negative", craft(t, CodecNone, recs(simple(1)...), -1, func(h *Header) { h.LastOffsetDelta = 0 }), nil, kerr.InvalidRecord},
		{"count disagrees with last offset delta", craft(t, CodecNone, recs(simple(3)...), 3, func(h *Header) { h.LastOffsetDelta = 3 }), nil, kerr.InvalidRecord},
		{"control batch", craft(t, CodecNone, recs(simple(3)...), 3, func(h *Header) { h.Attributes |= attrControl }), nil, kerr.InvalidRecord},
		{"producer id without sequence", craft(t, CodecNone, recs(simple(3)...), 3, func(h *Header) { h.ProducerID, h.ProducerEpoch = 7, 0 }), nil, kerr.InvalidRecord},
		{"idempotent", craft(t, CodecNone, recs(simple(3)...), 3, func(h *Header) { h.ProducerID, h.ProducerEpoch, h.BaseSequence = 7, 0, 0 }), nil, nil},
		{"transactional", craft(t, CodecNone, recs(simple(3)...), 3, func(h *Header) {
			h.ProducerID, h.ProducerEpoch, h.BaseSequence = 7, 0, 0
			h.Attributes |= attrTransactional
		}), nil, nil},
		{"fewer records than counted", craft(t, CodecNone, recs(simple(3)...), 4, nil), nil, kerr.InvalidRecord},
		{"fewer records than counted, compressed", craft(t, CodecLZ4, recs(simple(3)...), 4, nil), nil, kerr.InvalidRecord},
		{"more records than counted", craft(t, CodecNone, recs(simple(3)...), 2, nil), nil, kerr.InvalidRecord},
		{"more records than counted, compressed", craft(t, CodecZstd, recs(simple(3)...), 2, nil), nil, kerr.InvalidRecord},
		{"trailing bytes after records", craft(t, CodecNone, append(recs(simple(3)...), 0), 3, nil), nil, kerr.InvalidRecord},
		// Hand-encoded records; every varint is zigzag, so 16 means 8.
		{"hand-encoded record", craft(t, CodecNone, []byte{16, 0, 0, 0, 2, 'k', 2, 'v', 0}, 1, nil), nil, nil},
		{"record length too long", craft(t, CodecNone, []byte{18, 0, 0, 0, 2, 'k', 2, 'v', 0}, 1, nil), nil, kerr.InvalidRecord},
		{"record length too long, more records follow", craft(t, CodecNone, []byte{18, 0, 0, 0, 2, 'k', 2, 'v', 0, 16, 0, 0, 2, 2, 'k', 2, 'v', 0}, 2, nil), nil, kerr.InvalidRecord},
		{"record length too short", craft(t, CodecNone, []byte{14, 0, 0, 0, 2, 'k', 2, 'v', 0, 0}, 1, nil), nil, kerr.InvalidRecord},
		{"record length zero", craft(t, CodecNone, []byte{0}, 1, nil), nil, kerr.InvalidRecord},
		{"record length negative", craft(t, CodecNone, []byte{1, 0, 0, 0, 1, 1, 0}, 1, nil), nil, kerr.InvalidRecord},
		{"overlong varlong", craft(t, CodecNone, []byte{32, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 1, 1, 0}, 1, nil), nil, kerr.InvalidRecord},
		{"overlong varint", craft(t, CodecNone, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 1, nil), nil, kerr.InvalidRecord},
		{"key longer than the record", craft(t, CodecNone, []byte{12, 0, 0, 0, 20, 'k', 2, 'v', 0, 0, 0, 0, 0}, 1, nil), nil, kerr.InvalidRecord},
		{"negative header count", craft(t, CodecNone, []byte{12, 0, 0, 0, 1, 1, 1}, 1, nil), nil, kerr.InvalidRecord},
		{"header count beyond the record", craft(t, CodecNone, []byte{12, 0, 0, 0, 1, 1, 40}, 1, nil), nil, kerr.InvalidRecord},
		{"negative header key length", craft(t, CodecNone, []byte{16, 0, 0, 0, 1, 1, 2, 1, 1}, 1, nil), nil, kerr.InvalidRecord},
		{"header value beyond the record", craft(t, CodecNone, []byte{18, 0, 0, 0, 1, 1, 2, 2, 'h', 10}, 1, nil), nil, kerr.InvalidRecord},
		{"null header value", craft(t, CodecNone, []byte{18, 0, 0, 0, 1, 1, 2, 2, 'h', 1}, 1, nil), nil, nil},
		{"undecodable gzip", gzipGarbage, nil, kerr.InvalidRecord},
		{"decompression bomb", bomb, func(c *ValidateConfig) { c.MaxDecompressedBytes = 1 << 20 }, kerr.MessageTooLarge},
		{"under the decompression limit", bomb, func(c *ValidateConfig) { c.MaxBatchBytes = 0 }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultValidateConfig(testNow)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			_, err := Validate(tt.batch, cfg)
			ve := wantCode(t, err, tt.want)
			if ve != nil && ve.Msg == "" {
				t.Errorf("error %v has no message", err)
			}
			// Prepare must refuse what Validate refuses, and leave the input alone.
			in := append([]byte(nil), tt.batch...)
			_, _, err = Prepare(in, cfg)
			wantCode(t, err, tt.want)
			if tt.want != nil && !bytes.Equal(in, tt.batch) {
				t.Errorf("Prepare modified a refused batch")
			}
		})
	}
}

func TestValidateTimestamps(t *testing.T) {
	at := func(delta int64, key []byte) Record {
		return Record{TimestampDelta: delta, Key: key, Value: []byte("v")}
	}
	batchOf := func(rs ...Record) []byte {
		for i := range rs {
			rs[i].OffsetDelta = int32(i)
		}
		return craft(t, CodecNone, recs(rs...), int32(len(rs)), nil)
	}
	k := []byte("k")
	tests := []struct {
		name        string
		batch       []byte
		cfg         func(*ValidateConfig)
		want        *kerr.Error
		wantIndexes []int32
	}{
		{"all now", batchOf(at(0, k), at(0, k)), nil, nil, nil},
		{"an hour ahead is allowed", batchOf(at(3600000, k)), nil, nil, nil},
		{"past an hour ahead", batchOf(at(0, k), at(3600001, k), at(0, k), at(7200000, k)), nil, kerr.InvalidTimestamp, []int32{1, 3}},
		{"far past with unbounded before.max.ms", batchOf(at(-testNow, k)), nil, nil, nil},
		{"older than before.max.ms", batchOf(at(-1001, k), at(-1000, k)), func(c *ValidateConfig) { c.BeforeMaxMs = 1000 }, kerr.InvalidTimestamp, []int32{0}},
		{"min int64 timestamp", craft(t, CodecNone, recs(Record{Key: k}), 1, func(h *Header) { h.BaseTimestamp = math.MinInt64 }),
			func(c *ValidateConfig) { c.BeforeMaxMs = 1000 }, kerr.InvalidTimestamp, []int32{0}},
		{"max int64 timestamp", batchOf(at(math.MaxInt64-testNow, k)), func(c *ValidateConfig) { c.AfterMaxMs = math.MaxInt64 }, nil, nil},
		{"no timestamp (-1) is not range checked", batchOf(at(-1-testNow, k)), func(c *ValidateConfig) { c.BeforeMaxMs = 0 }, nil, nil},
		{"LogAppendTime topic ignores timestamps", batchOf(at(1<<40, k)), func(c *ValidateConfig) { c.TimestampType = LogAppendTime }, nil, nil},
		{"compacted topic, null key", batchOf(at(0, k), at(0, nil), at(0, []byte{})), func(c *ValidateConfig) { c.CompactedTopic = true }, kerr.InvalidRecord, []int32{1}},
		{"compacted topic, key and time errors", batchOf(at(0, nil), at(1<<40, k)), func(c *ValidateConfig) { c.CompactedTopic = true }, kerr.InvalidTimestamp, []int32{0, 1}},
		{"producer LogAppendTime on a LogAppendTime topic",
			craft(t, CodecNone, recs(simple(2)...), 2, func(h *Header) { h.Attributes |= attrTimestampType }),
			func(c *ValidateConfig) { c.TimestampType = LogAppendTime }, kerr.InvalidTimestamp, []int32{0, 1}},
		{"producer LogAppendTime on a CreateTime topic checks maxTimestamp",
			craft(t, CodecNone, recs(simple(2)...), 2, func(h *Header) { h.Attributes |= attrTimestampType; h.MaxTimestamp = testNow + 1<<40 }),
			nil, kerr.InvalidTimestamp, []int32{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultValidateConfig(testNow)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			_, err := Validate(tt.batch, cfg)
			ve := wantCode(t, err, tt.want)
			if ve == nil {
				return
			}
			var got []int32
			for _, re := range ve.RecordErrors {
				got = append(got, re.Index)
				if re.Message == "" {
					t.Errorf("record error %d has no message", re.Index)
				}
			}
			if !equalInt32s(got, tt.wantIndexes) {
				t.Errorf("record error indexes %v, want %v", got, tt.wantIndexes)
			}
		})
	}
}

func equalInt32s(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestValidateInfo(t *testing.T) {
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			rs := []Record{
				{TimestampDelta: 5, Key: []byte("a")},
				{TimestampDelta: 9, Key: []byte("b")},
				{TimestampDelta: 9, Key: []byte("c")},
				{TimestampDelta: -3, Key: []byte("d")},
			}
			for i := range rs {
				rs[i].OffsetDelta = int32(i)
			}
			batch := craft(t, c, recs(rs...), 4, func(h *Header) { h.MaxTimestamp = testNow + 9 })
			info, err := Validate(batch, DefaultValidateConfig(testNow))
			if err != nil {
				t.Fatal(err)
			}
			want := Info{
				Header:                    info.Header,
				Codec:                     c,
				NumRecords:                4,
				MaxTimestamp:              testNow + 9,
				OffsetOfMaxTimestampDelta: 1,
				TimestampType:             CreateTime,
				TargetCodec:               c,
				UncompressedBytes:         len(recs(rs...)),
			}
			if info != want {
				t.Errorf("info\n got %+v\nwant %+v", info, want)
			}
			if info.Header.NumRecords != 4 || info.Header.Codec() != c {
				t.Errorf("header %+v", info.Header)
			}
		})
	}
}

func TestPrepareLogAppendTime(t *testing.T) {
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			batch := buildBatch(t, c, 10, 100)
			orig := append([]byte(nil), batch...)
			cfg := DefaultValidateConfig(testNow + 5000)
			cfg.TimestampType = LogAppendTime
			out, info, err := Prepare(batch, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if &out[0] != &batch[0] {
				t.Fatal("LogAppendTime should patch in place, not copy")
			}
			if !info.NeedsHeaderRewrite || info.NeedsRecompress || info.MaxTimestamp != testNow+5000 ||
				info.OffsetOfMaxTimestampDelta != 9 || info.TimestampType != LogAppendTime {
				t.Errorf("info %+v", info)
			}
			h, err := ParseHeader(out)
			if err != nil || !CheckCRC(out) {
				t.Fatalf("prepared batch: %v, crc ok %v", err, CheckCRC(out))
			}
			if !h.LogAppendTime() || h.MaxTimestamp != testNow+5000 {
				t.Errorf("header %+v", h)
			}
			// Only the attributes, maxTimestamp and CRC changed.
			for i := range out {
				inAttr := i >= offAttributes && i < offAttributes+2
				inMax := i >= offMaxTimestamp && i < offMaxTimestamp+8
				inCRC := i >= offCRC && i < offCRC+4
				if out[i] != orig[i] && !inAttr && !inMax && !inCRC {
					t.Fatalf("byte %d changed", i)
				}
			}
			// Every record now reads the append time.
			err = Iterate(out, func(r *Record) error {
				if ts := r.Timestamp(&h); ts != testNow+5000 {
					t.Errorf("record %d timestamp %d", r.OffsetDelta, ts)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// A batch already marked LogAppendTime, offered as a produce
			// batch to a LogAppendTime topic, is refused, as Kafka does.
			_, _, err = Prepare(out, cfg)
			wantCode(t, err, kerr.InvalidTimestamp)
		})
	}
}

func TestPrepareFixesMaxTimestamp(t *testing.T) {
	batch := craft(t, CodecNone, recs(Record{TimestampDelta: 7}, Record{OffsetDelta: 1, TimestampDelta: 3}), 2,
		func(h *Header) { h.MaxTimestamp = 12345 })
	out, info, err := Prepare(batch, DefaultValidateConfig(testNow))
	if err != nil {
		t.Fatal(err)
	}
	if !info.NeedsHeaderRewrite || info.MaxTimestamp != testNow+7 || info.OffsetOfMaxTimestampDelta != 0 {
		t.Errorf("info %+v", info)
	}
	h, _ := ParseHeader(out)
	if h.MaxTimestamp != testNow+7 || !CheckCRC(out) {
		t.Errorf("header maxTimestamp %d, crc ok %v", h.MaxTimestamp, CheckCRC(out))
	}

	// A correct batch is returned untouched.
	good := buildBatch(t, CodecLZ4, 5, 50)
	orig := append([]byte(nil), good...)
	out, info, err = Prepare(good, DefaultValidateConfig(testNow))
	if err != nil || info.NeedsHeaderRewrite || info.NeedsRecompress || &out[0] != &good[0] || !bytes.Equal(out, orig) {
		t.Errorf("good batch: err %v info %+v changed %v", err, info, !bytes.Equal(out, orig))
	}
}

func TestPrepareRecompress(t *testing.T) {
	targets := []TargetCodec{TargetUncompressed, TargetGzip, TargetSnappy, TargetLZ4, TargetZstd}
	for _, from := range allCodecs {
		for _, to := range targets {
			t.Run(from.String()+"->"+to.String(), func(t *testing.T) {
				batch := buildBatchLike(t, from, 20)
				orig := append([]byte(nil), batch...)
				cfg := DefaultValidateConfig(testNow)
				cfg.TargetCodec = to
				out, info, err := Prepare(batch, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(batch, orig) {
					t.Fatal("Prepare modified its input while rebuilding")
				}
				wantCodec := to.Codec(from)
				if info.TargetCodec != wantCodec || info.NeedsRecompress != (wantCodec != from) {
					t.Fatalf("info %+v", info)
				}
				if !info.NeedsRecompress {
					if &out[0] != &batch[0] {
						t.Fatal("no recompression needed, yet a copy came back")
					}
					return
				}
				sameRecords(t, orig, out)
				h0, _ := ParseHeader(orig)
				h1, _ := ParseHeader(out)
				if h1.Codec() != wantCodec {
					t.Errorf("codec %s, want %s", h1.Codec(), wantCodec)
				}
				h0.Attributes = h0.Attributes&^attrCompressionMask | int16(wantCodec)
				h0.Length, h0.CRC = h1.Length, h1.CRC
				if h0 != h1 {
					t.Errorf("header changed beyond codec, length and crc:\n got %+v\nwant %+v", h1, h0)
				}
				if _, err := Validate(out, DefaultValidateConfig(testNow)); err != nil {
					t.Errorf("rebuilt batch does not validate: %v", err)
				}
			})
		}
	}
}

// buildBatchLike builds an idempotent, transactional batch of n records.
func buildBatchLike(t testing.TB, c Codec, n int) []byte {
	t.Helper()
	b := NewBuilder(c).SetProducer(42, 3, 17).SetTransactional(true).SetPartitionLeaderEpoch(9)
	for i := range n {
		b.Add(testNow-int64(i%3), []byte{byte(i)}, bytes.Repeat([]byte("value"), i), RecordHeader{Key: "h", Value: nil})
	}
	out, err := b.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameRecords fails unless a and b hold the same records.
func sameRecords(t *testing.T, a, b []byte) {
	t.Helper()
	ra, err := ReadAll(a)
	if err != nil {
		t.Fatalf("read first: %v", err)
	}
	rb, err := ReadAll(b)
	if err != nil {
		t.Fatalf("read second: %v", err)
	}
	if len(ra) != len(rb) {
		t.Fatalf("%d records vs %d", len(ra), len(rb))
	}
	for i := range ra {
		if !equalRecord(&ra[i], &rb[i]) {
			t.Fatalf("record %d differs:\n%+v\n%+v", i, ra[i], rb[i])
		}
	}
}

func equalRecord(a, b *Record) bool {
	if a.Attributes != b.Attributes || a.TimestampDelta != b.TimestampDelta || a.OffsetDelta != b.OffsetDelta ||
		!equalNullable(a.Key, b.Key) || !equalNullable(a.Value, b.Value) || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key || !equalNullable(a.Headers[i].Value, b.Headers[i].Value) {
			return false
		}
	}
	return true
}

func equalNullable(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func TestPrepareNonConsecutiveOffsets(t *testing.T) {
	rs := simple(3)
	rs[1].OffsetDelta, rs[2].OffsetDelta = 5, 2
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			batch := craft(t, c, recs(rs...), 3, nil)
			out, info, err := Prepare(batch, DefaultValidateConfig(testNow))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ReadAll(out)
			if err != nil {
				t.Fatal(err)
			}
			if c == CodecNone {
				// Kafka leaves an uncompressed batch's inner deltas alone.
				if info.NeedsRecompress || got[1].OffsetDelta != 5 {
					t.Errorf("uncompressed batch rewritten: %+v", info)
				}
				return
			}
			if !info.NeedsRecompress {
				t.Fatalf("compressed batch with offsets 0,5,2 not rebuilt: %+v", info)
			}
			for i, r := range got {
				if r.OffsetDelta != int32(i) {
					t.Errorf("record %d has offset delta %d", i, r.OffsetDelta)
				}
			}
			if h, _ := ParseHeader(out); h.LastOffsetDelta != 2 || h.Codec() != c {
				t.Errorf("header %+v", h)
			}
		})
	}
}

func TestPrepareProducerLogAppendTimeOnCreateTimeTopic(t *testing.T) {
	// Kafka reads every record of a LogAppendTime batch at maxTimestamp and
	// stores the batch as CreateTime: the records must keep that time.
	rs := simple(3)
	rs[1].TimestampDelta = 50
	for _, tc := range []struct {
		c  Codec
		to TargetCodec
	}{{CodecNone, TargetProducer}, {CodecZstd, TargetProducer}, {CodecNone, TargetGzip}, {CodecZstd, TargetUncompressed}} {
		c := tc.c
		batch := craft(t, c, recs(rs...), 3, func(h *Header) { h.Attributes |= attrTimestampType; h.MaxTimestamp = testNow + 10 })
		cfg := DefaultValidateConfig(testNow)
		cfg.TargetCodec = tc.to
		out, info, err := Prepare(batch, cfg)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := ParseHeader(out)
		if h.LogAppendTime() || h.MaxTimestamp != testNow+10 || info.MaxTimestamp != testNow+10 || !info.NeedsRecompress ||
			h.Codec() != tc.to.Codec(c) {
			t.Errorf("%s: header %+v info %+v", c, h, info)
		}
		err = Iterate(out, func(r *Record) error {
			if ts := r.Timestamp(&h); ts != testNow+10 {
				t.Errorf("%s: record %d at %d", c, r.OffsetDelta, ts)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestValidateAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	batch := buildBatch(t, CodecNone, 16, 1000)
	cfg := DefaultValidateConfig(testNow)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Validate(batch, cfg); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Validate of an uncompressed batch allocates %.1f times per call", allocs)
	}
	for _, c := range allCodecs[1:] {
		batch := buildBatch(t, c, 16, 1000)
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := Validate(batch, cfg); err != nil {
				t.Fatal(err)
			}
		})
		// Pooled decoders and buffers: none in the steady state (a pool
		// emptied by a GC may cost the odd one).
		if allocs > 1 {
			t.Errorf("Validate of a %s batch allocates %.1f times per call", c, allocs)
		}
	}
}

func TestSplitBatches(t *testing.T) {
	a := buildBatch(t, CodecNone, 2, 10)
	b := buildBatch(t, CodecGzip, 3, 10)
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	short := patch(a, false, func(x []byte) { binary.BigEndian.PutUint32(x[offLength:], 13) })
	tests := []struct {
		name    string
		in      []byte
		want    [][]byte
		wantErr *kerr.Error
	}{
		{"nothing", nil, nil, nil},
		{"one", a, [][]byte{a}, nil},
		{"two", join(a, b), [][]byte{a, b}, nil},
		{"partial trailing batch dropped", join(a, b[:len(b)-1]), [][]byte{a}, nil},
		{"a few trailing bytes dropped", join(a, []byte{1, 2, 3}), [][]byte{a}, nil},
		{"only a partial batch", a[:len(a)-5], nil, nil},
		{"length below minimum", join(a, short), [][]byte{a}, kerr.CorruptMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SplitBatches(tt.in)
			wantCode(t, err, tt.wantErr)
			if len(got) != len(tt.want) {
				t.Fatalf("%d batches, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.want[i]) {
					t.Errorf("batch %d differs", i)
				}
				if cap(got[i]) != len(got[i]) {
					t.Errorf("batch %d has spare capacity into the next one", i)
				}
			}
		})
	}
	if err := ErrBatchCount(0); !bytes.Contains([]byte(err.Error()), []byte("INVALID_RECORD")) {
		t.Errorf("ErrBatchCount(0) = %v", err)
	}
	wantCode(t, ErrBatchCount(2), kerr.InvalidRecord)
}

func TestParseTargetCodec(t *testing.T) {
	for i, name := range []string{"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"} {
		got, err := ParseTargetCodec(name)
		if err != nil || got != TargetCodec(i) || got.String() != name {
			t.Errorf("%s: %v %v", name, got, err)
		}
	}
	if _, err := ParseTargetCodec("brotli"); err == nil {
		t.Error("brotli parsed")
	}
	if TargetProducer.Codec(CodecLZ4) != CodecLZ4 || TargetUncompressed.Codec(CodecLZ4) != CodecNone || TargetZstd.Codec(CodecNone) != CodecZstd {
		t.Error("TargetCodec.Codec mapping wrong")
	}
}
