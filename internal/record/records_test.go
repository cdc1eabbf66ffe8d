package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestVarints(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, -64, 64, -65, 300, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64} {
		b := appendVarlong(nil, v)
		if len(b) != varlongSize(v) {
			t.Errorf("varlongSize(%d) = %d, encoded %d", v, varlongSize(v), len(b))
		}
		got, n, ok := readVarlong(b, 0)
		if !ok || got != v || n != len(b) {
			t.Errorf("varlong %d: got %d, %d bytes, ok %v", v, got, n, ok)
		}
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			got, n, ok := readVarint(b, 0)
			if !ok || int64(got) != v || n != len(b) {
				t.Errorf("varint %d: got %d, %d bytes, ok %v", v, got, n, ok)
			}
		}
	}
	// Kafka's examples: zigzag maps 0,-1,1,-2 to 0,1,2,3.
	for enc, want := range map[byte]int32{0: 0, 1: -1, 2: 1, 3: -2} {
		if got, _, _ := readVarint([]byte{enc}, 0); got != want {
			t.Errorf("zigzag %d = %d, want %d", enc, got, want)
		}
	}
	bad := [][]byte{
		{},
		{0x80},
		{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, // six bytes
	}
	for _, b := range bad {
		if _, _, ok := readVarint(b, 0); ok {
			t.Errorf("readVarint(% x) accepted", b)
		}
	}
	if _, _, ok := readVarlong(bytes.Repeat([]byte{0x80}, 11), 0); ok {
		t.Error("11-byte varlong accepted")
	}
	// Five bytes whose last carries bits past 32 are read as Java does,
	// dropping them: 0x7f<<28 keeps 0xf0000000, zigzag-decoded 0x78000000.
	if got, _, ok := readVarint([]byte{0x80, 0x80, 0x80, 0x80, 0x7f}, 0); !ok || got != 0x78000000 {
		t.Errorf("5-byte varint with high bits: %d %v", got, ok)
	}
}

func TestIterateRoundTrip(t *testing.T) {
	in := []Record{
		{TimestampDelta: 0, OffsetDelta: 0, Key: []byte("key"), Value: []byte("value")},
		{TimestampDelta: -5, OffsetDelta: 1, Key: nil, Value: nil},
		{TimestampDelta: 1 << 40, OffsetDelta: 2, Key: []byte{}, Value: []byte{},
			Headers: []RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "", Value: nil}, {Key: "c", Value: []byte{}}}},
		{Attributes: 3, TimestampDelta: 7, OffsetDelta: 3, Key: bytes.Repeat([]byte("K"), 300), Value: bytes.Repeat([]byte("V"), 70000)},
	}
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			b := NewBuilder(c).SetBaseTimestamp(testNow)
			for i := range in {
				b.AddRecord(&in[i])
			}
			batch, err := b.Build(nil)
			if err != nil {
				t.Fatal(err)
			}
			h, err := ParseHeader(batch)
			if err != nil || !CheckCRC(batch) {
				t.Fatalf("header %v, crc %v", err, CheckCRC(batch))
			}
			if h.NumRecords != 4 || h.LastOffsetDelta != 3 || h.BaseTimestamp != testNow || h.MaxTimestamp != testNow+1<<40 || h.Codec() != c {
				t.Errorf("header %+v", h)
			}
			got, err := ReadAll(batch)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(in) {
				t.Fatalf("%d records", len(got))
			}
			for i := range in {
				if !equalRecord(&got[i], &in[i]) {
					t.Errorf("record %d:\n got %+v\nwant %+v", i, got[i], in[i])
				}
			}
			if err := CheckRecords(batch, 0); err != nil {
				t.Errorf("CheckRecords: %v", err)
			}
		})
	}
}

func TestIterateStopsOnCallbackError(t *testing.T) {
	batch := buildBatch(t, CodecSnappy, 10, 10)
	stop := errors.New("stop")
	n := 0
	err := Iterate(batch, func(r *Record) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Errorf("err %v after %d records", err, n)
	}
}

func TestIterateErrors(t *testing.T) {
	good := craft(t, CodecNone, recs(simple(2)...), 2, nil)
	tests := []struct {
		name  string
		batch []byte
		want  *kerr.Error
	}{
		{"truncated", good[:len(good)-1], kerr.CorruptMessage},
		{"magic 1", patch(good, false, func(b []byte) { b[offMagic] = 1 }), kerr.InvalidRecord},
		{"negative count", craft(t, CodecNone, nil, -1, nil), kerr.InvalidRecord},
		{"count too high", craft(t, CodecGzip, recs(simple(2)...), 3, nil), kerr.InvalidRecord},
		{"count too low", craft(t, CodecNone, recs(simple(2)...), 1, nil), kerr.InvalidRecord},
		{"unknown codec", patch(good, true, func(b []byte) { b[offAttributes+1] |= 6 }), kerr.UnsupportedCompressionType},
		{"bad compressed payload", craft(t, CodecNone, []byte("junk"), 1, func(h *Header) { h.Attributes = int16(CodecZstd) }), kerr.InvalidRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, Iterate(tt.batch, func(*Record) error { return nil }), tt.want)
			wantCode(t, CheckRecords(tt.batch, 0), tt.want)
		})
	}
	// Iterate does not check the CRC: that is CheckCRC's job.
	if err := Iterate(patch(good, false, func(b []byte) { b[offCRC] ^= 1 }), func(*Record) error { return nil }); err != nil {
		t.Errorf("Iterate checked the CRC: %v", err)
	}
}

func TestRecordOffsetAndTimestamp(t *testing.T) {
	h := Header{BaseOffset: 100, BaseTimestamp: 1000, MaxTimestamp: 5000}
	r := Record{OffsetDelta: 4, TimestampDelta: 20}
	if r.Offset(&h) != 104 || r.Timestamp(&h) != 1020 {
		t.Errorf("offset %d timestamp %d", r.Offset(&h), r.Timestamp(&h))
	}
	h.Attributes |= attrTimestampType
	if r.Timestamp(&h) != 5000 {
		t.Errorf("LogAppendTime timestamp %d", r.Timestamp(&h))
	}
}

func TestBuilderOptions(t *testing.T) {
	b := NewBuilder(CodecLZ4).
		SetBaseOffset(500).
		SetPartitionLeaderEpoch(7).
		SetProducer(11, 2, 30).
		SetTransactional(true).
		SetControl(true).
		SetLogAppendTime(testNow + 1).
		SetCompressionLevel(9)
	b.Add(testNow-10, []byte("k"), []byte("v"))
	b.Add(testNow-20, nil, nil)
	if b.Len() != 2 {
		t.Errorf("Len %d", b.Len())
	}
	batch, err := b.Build([]byte("prefix"))
	if err != nil {
		t.Fatal(err)
	}
	if string(batch[:6]) != "prefix" {
		t.Fatal("Build did not append")
	}
	batch = batch[6:]
	h, err := ParseHeader(batch)
	if err != nil || !CheckCRC(batch) || h.Size() != len(batch) {
		t.Fatalf("header %+v err %v crc %v", h, err, CheckCRC(batch))
	}
	want := Header{
		BaseOffset: 500, Length: h.Length, PartitionLeaderEpoch: 7, Magic: 2, CRC: h.CRC,
		Attributes:      int16(CodecLZ4) | attrTransactional | attrControl | attrTimestampType,
		LastOffsetDelta: 1, BaseTimestamp: testNow - 10, MaxTimestamp: testNow + 1,
		ProducerID: 11, ProducerEpoch: 2, BaseSequence: 30, NumRecords: 2,
	}
	if h != want {
		t.Errorf("header\n got %+v\nwant %+v", h, want)
	}
	if h.LastSequence() != 31 || !h.Idempotent() || !h.Transactional() || !h.Control() {
		t.Errorf("header helpers disagree: %+v", h)
	}

	// An empty batch, as compaction may write, keeps an explicit lastOffsetDelta.
	empty, err := NewBuilder(CodecNone).SetLastOffsetDelta(9).Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, _ = ParseHeader(empty)
	if len(empty) != HeaderSize || h.NumRecords != 0 || h.LastOffsetDelta != 9 || h.MaxTimestamp != NoTimestamp || !CheckCRC(empty) {
		t.Errorf("empty batch header %+v", h)
	}

	// Reset keeps nothing of the previous batch.
	b.Reset(CodecNone)
	b.Add(testNow, nil, []byte("x"))
	again, _ := b.Build(nil)
	h, _ = ParseHeader(again)
	if h.NumRecords != 1 || h.Attributes != 0 || h.ProducerID != NoProducerID || h.BaseOffset != 0 {
		t.Errorf("after Reset: %+v", h)
	}
}

// kmsgBatch builds a batch the way franz-go's producer does, with kmsg
// types, an independent implementation of the format.
func kmsgBatch(t *testing.T, c Codec, rs []kmsg.Record) []byte {
	t.Helper()
	var raw []byte
	for i := range rs {
		r := rs[i]
		r.Length = 0
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		raw = r.AppendTo(raw)
	}
	comp, err := Compress(c, raw, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	rb := kmsg.RecordBatch{
		Magic:           2,
		Attributes:      int16(c),
		LastOffsetDelta: int32(len(rs) - 1),
		FirstTimestamp:  testNow,
		MaxTimestamp:    testNow + 2,
		ProducerID:      5,
		ProducerEpoch:   1,
		FirstSequence:   0,
		NumRecords:      int32(len(rs)),
		Records:         comp,
	}
	rb.Length = int32(len(rb.AppendTo(nil)) - LogOverhead)
	b := rb.AppendTo(nil)
	rb.CRC = int32(crc32.Checksum(b[offAttributes:], crc32.MakeTable(crc32.Castagnoli)))
	return rb.AppendTo(nil)
}

func TestKmsgCrossCheck(t *testing.T) {
	rs := []kmsg.Record{
		{TimestampDelta64: 0, OffsetDelta: 0, Key: []byte("a"), Value: []byte("first")},
		{TimestampDelta64: 2, OffsetDelta: 1, Value: []byte("no key"), Headers: []kmsg.Header{{Key: "h", Value: []byte("v")}}},
		{TimestampDelta64: 1, OffsetDelta: 2, Key: []byte("c"), Value: bytes.Repeat([]byte("z"), 5000)},
	}
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			batch := kmsgBatch(t, c, rs)
			info, err := Validate(batch, DefaultValidateConfig(testNow))
			if err != nil {
				t.Fatal(err)
			}
			if info.NumRecords != 3 || info.MaxTimestamp != testNow+2 || info.OffsetOfMaxTimestampDelta != 1 || info.NeedsHeaderRewrite {
				t.Errorf("info %+v", info)
			}
			got, err := ReadAll(batch)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range got {
				k := rs[i]
				if r.TimestampDelta != k.TimestampDelta64 || r.OffsetDelta != k.OffsetDelta ||
					!equalNullable(r.Key, k.Key) || !bytes.Equal(r.Value, k.Value) || len(r.Headers) != len(k.Headers) {
					t.Errorf("record %d: %+v", i, r)
				}
			}

			// And the other way: kmsg reads what the Builder writes.
			b := NewBuilder(c).SetProducer(5, 1, 0)
			for i := range got {
				b.AddRecord(&got[i])
			}
			ours, err := b.Build(nil)
			if err != nil {
				t.Fatal(err)
			}
			var rb kmsg.RecordBatch
			if err := rb.ReadFrom(ours); err != nil {
				t.Fatal(err)
			}
			if int(rb.Length)+LogOverhead != len(ours) || uint32(rb.CRC) != crc32.Checksum(ours[offAttributes:], crc32.MakeTable(crc32.Castagnoli)) ||
				rb.NumRecords != 3 || rb.ProducerID != 5 {
				t.Errorf("kmsg reads header %+v", rb)
			}
			raw, err := Decompress(Codec(rb.Attributes&7), rb.Records, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				var kr kmsg.Record
				if err := kr.ReadFrom(raw); err != nil {
					t.Fatalf("kmsg record %d: %v", i, err)
				}
				n := int(kr.Length) + varintSize(kr.Length)
				if kr.OffsetDelta != int32(i) || !bytes.Equal(kr.Value, rs[i].Value) || n > len(raw) {
					t.Errorf("kmsg record %d: %+v", i, kr)
				}
				raw = raw[n:]
			}
			if len(raw) != 0 {
				t.Errorf("%d bytes left after three records", len(raw))
			}
		})
	}
}

func TestSetMaxTimestampAndRecompress(t *testing.T) {
	batch := buildBatch(t, CodecGzip, 5, 20)
	orig := append([]byte(nil), batch...)
	SetMaxTimestamp(batch, CreateTime, testNow) // already so: nothing changes
	if !bytes.Equal(batch, orig) {
		t.Error("SetMaxTimestamp changed a batch already carrying the values")
	}
	SetLogAppendTime(batch, 99)
	h, _ := ParseHeader(batch)
	if !h.LogAppendTime() || h.MaxTimestamp != 99 || !CheckCRC(batch) {
		t.Errorf("after SetLogAppendTime: %+v crc %v", h, CheckCRC(batch))
	}
	SetMaxTimestamp(batch, CreateTime, testNow)
	if !bytes.Equal(batch, orig) {
		t.Error("setting the timestamps back did not restore the batch")
	}
	SetLogAppendTime(batch[:10], 1) // too short: must not panic

	for _, to := range allCodecs {
		out, err := Recompress(batch, to, nil)
		if err != nil {
			t.Fatalf("to %s: %v", to, err)
		}
		sameRecords(t, batch, out)
		h1, _ := ParseHeader(out)
		if h1.Codec() != to || !CheckCRC(out) || h1.Size() != len(out) {
			t.Errorf("to %s: header %+v", to, h1)
		}
	}
	if _, err := Recompress(batch, Codec(5), nil); err == nil {
		t.Error("recompress to codec 5 accepted")
	}
	if _, err := Recompress(batch[:30], CodecNone, nil); err == nil {
		t.Error("recompress of a truncated batch accepted")
	}
	if binary.BigEndian.Uint64(batch) != 0 {
		t.Error("batch base offset changed")
	}
}
