package record

import (
	"encoding/binary"
	"fmt"
	"sync"
)

// A v2 record, inside a batch's (possibly compressed) records section:
//
//	length         varint  bytes after this field
//	attributes     int8    unused
//	timestampDelta varlong from the batch's baseTimestamp
//	offsetDelta    varint  from the batch's baseOffset
//	keyLength      varint  -1 for a null key
//	key            bytes
//	valueLength    varint  -1 for a null value
//	value          bytes
//	headerCount    varint
//	headers        [keyLength varint, key, valueLength varint (-1 null), value]

// Record is one decoded record of a batch.
type Record struct {
	Attributes     int8
	TimestampDelta int64
	OffsetDelta    int32
	Key            []byte // nil for a null key
	Value          []byte // nil for a null value
	Headers        []RecordHeader
}

// RecordHeader is one header of a record.
type RecordHeader struct {
	Key   string
	Value []byte // nil for a null value
}

// Offset is the record's offset in a batch with header h.
func (r *Record) Offset(h *Header) int64 { return h.BaseOffset + int64(r.OffsetDelta) }

// Timestamp is the record's timestamp in a batch with header h: the batch's
// maxTimestamp under LogAppendTime, else baseTimestamp plus the delta.
func (r *Record) Timestamp(h *Header) int64 {
	if h.LogAppendTime() {
		return h.MaxTimestamp
	}
	return h.BaseTimestamp + r.TimestampDelta
}

// recordView is a record located in a records section without copying:
// the slices point into the section, headers still encoded.
type recordView struct {
	attributes     int8
	timestampDelta int64
	offsetDelta    int32
	key, value     []byte // nil when null
	headerCount    int32
	headers        []byte // the encoded headers
}

// recordWalker steps through a records section record by record, checking
// each record's structure the way Kafka's DefaultRecord.readFrom does, with
// no allocation unless a record is malformed.
type recordWalker struct {
	b   []byte
	pos int
}

func (w *recordWalker) remaining() int { return len(w.b) - w.pos }

// next decodes the record at the walker's position into v and moves past it.
func (w *recordWalker) next(v *recordView) error {
	length, p, ok := readVarint(w.b, w.pos)
	if !ok {
		if w.pos >= len(w.b) {
			return fmt.Errorf("records end before the count the batch declares")
		}
		return fmt.Errorf("malformed record length varint")
	}
	if length < 1 || int(length) > len(w.b)-p {
		return fmt.Errorf("record length %d, but %d bytes remain", length, len(w.b)-p)
	}
	end := p + int(length)
	b := w.b[:end] // a field running past the record's end fails like a short buffer
	v.attributes = int8(b[p])
	p++
	if v.timestampDelta, p, ok = readVarlong(b, p); !ok {
		return fmt.Errorf("malformed record timestamp delta")
	}
	if v.offsetDelta, p, ok = readVarint(b, p); !ok {
		return fmt.Errorf("malformed record offset delta")
	}
	if v.key, p, ok = readBytes(b, p); !ok {
		return fmt.Errorf("malformed record key")
	}
	if v.value, p, ok = readBytes(b, p); !ok {
		return fmt.Errorf("malformed record value")
	}
	if v.headerCount, p, ok = readVarint(b, p); !ok {
		return fmt.Errorf("malformed record header count")
	}
	if v.headerCount < 0 || int(v.headerCount) > end-p {
		return fmt.Errorf("invalid record header count %d", v.headerCount)
	}
	hstart := p
	for i := int32(0); i < v.headerCount; i++ {
		var klen int32
		if klen, p, ok = readVarint(b, p); !ok || klen < 0 || int(klen) > end-p {
			return fmt.Errorf("malformed key of record header %d", i)
		}
		p += int(klen)
		if _, p, ok = readBytes(b, p); !ok {
			return fmt.Errorf("malformed value of record header %d", i)
		}
	}
	v.headers = b[hstart:p:p]
	if p != end {
		return fmt.Errorf("record length %d, but its fields take %d bytes", length, p-(end-int(length)))
	}
	w.pos = end
	return nil
}

// readBytes reads a varint length and that many bytes; a negative length is
// null (nil), as Kafka reads it.
func readBytes(b []byte, p int) ([]byte, int, bool) {
	n, p, ok := readVarint(b, p)
	if !ok {
		return nil, p, false
	}
	if n < 0 {
		return nil, p, true
	}
	if int(n) > len(b)-p {
		return nil, p, false
	}
	return b[p : p+int(n) : p+int(n)], p + int(n), true
}

// decodeHeaders appends the headers of v (already checked by next) to hs.
func decodeHeaders(v *recordView, hs []RecordHeader) []RecordHeader {
	b, p := v.headers, 0
	for i := int32(0); i < v.headerCount; i++ {
		klen, q, _ := readVarint(b, p)
		key := string(b[q : q+int(klen)])
		val, q, _ := readBytes(b, q+int(klen))
		hs = append(hs, RecordHeader{Key: key, Value: val})
		p = q
	}
	return hs
}

// bufPool recycles buffers for decompressed records sections.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuf keeps one huge batch from pinning its buffer in the pool.
const maxPooledBuf = 8 << 20

func putBuf(p *[]byte) {
	if p != nil && cap(*p) <= maxPooledBuf {
		*p = (*p)[:0]
		bufPool.Put(p)
	}
}

// checkFraming checks that batch is exactly one v2 batch with a full header,
// and parses the header. It does not check the CRC.
func checkFraming(batch []byte) (Header, error) {
	if len(batch) < LogOverhead {
		return Header{}, corrupt("batch of %d bytes is shorter than the %d-byte log overhead", len(batch), LogOverhead)
	}
	length := int64(int32(binary.BigEndian.Uint32(batch[offLength:])))
	if length < minBatchLength || LogOverhead+length != int64(len(batch)) {
		return Header{}, corrupt("batch length field %d does not match the %d bytes given", length, len(batch))
	}
	if m := int8(batch[offMagic]); m != 2 {
		return Header{}, invalidRecord("record batch magic %d: only magic 2 is supported", m)
	}
	if len(batch) < HeaderSize {
		return Header{}, corrupt("batch of %d bytes is shorter than the %d-byte v2 header", len(batch), HeaderSize)
	}
	h, err := ParseHeader(batch)
	if err != nil {
		return h, corrupt("%v", err)
	}
	return h, nil
}

// minBatchLength is the smallest batchLength Kafka's batch iterator accepts
// (the v0 record overhead); anything shorter is corrupt whatever its magic.
const minBatchLength = 14

// openRecords returns the records section of a framed batch with header h,
// decompressed into a pooled buffer when the batch is compressed. buf, when
// not nil, must go back with putBuf once the section is no longer used.
func openRecords(batch []byte, h *Header, limit int) (recs []byte, buf *[]byte, err error) {
	c := h.Codec()
	if c == CodecNone {
		return batch[HeaderSize:], nil, nil
	}
	if c > CodecZstd {
		return nil, nil, newUnknownCodecError(c)
	}
	p := bufPool.Get().(*[]byte)
	out, err := DecompressLimit(c, batch[HeaderSize:], (*p)[:0], limit)
	if err != nil {
		putBuf(p)
		return nil, nil, decompressError(err)
	}
	*p = out
	return out, p, nil
}

// Iterate calls fn for each record of batch, in order, decompressing the
// records as needed (at most DefaultMaxDecompressedBytes). It checks the
// framing and each record's structure, and that the record count matches,
// but not the CRC (see CheckCRC) nor any produce-time rule (see Validate).
//
// The Record and every slice in it are valid only during the call: they may
// point into a pooled buffer reused after Iterate returns. Copy what you keep.
// An error from fn stops the walk and is returned as is.
func Iterate(batch []byte, fn func(*Record) error) error {
	h, err := checkFraming(batch)
	if err != nil {
		return err
	}
	if h.NumRecords < 0 {
		return invalidRecord("record count %d is negative", h.NumRecords)
	}
	recs, buf, err := openRecords(batch, &h, DefaultMaxDecompressedBytes)
	if err != nil {
		return err
	}
	defer putBuf(buf)
	w := recordWalker{b: recs}
	var v recordView
	rec := new(Record)
	for i := int32(0); i < h.NumRecords; i++ {
		if err := w.next(&v); err != nil {
			return invalidRecord("record %d: %v", i, err)
		}
		hs := rec.Headers[:0]
		if v.headerCount > 0 {
			hs = decodeHeaders(&v, hs)
		}
		*rec = Record{
			Attributes:     v.attributes,
			TimestampDelta: v.timestampDelta,
			OffsetDelta:    v.offsetDelta,
			Key:            v.key,
			Value:          v.value,
			Headers:        hs,
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if w.remaining() != 0 {
		return invalidRecord("%d bytes remain after the %d records the batch declares", w.remaining(), h.NumRecords)
	}
	return nil
}

// ReadAll returns copies of all the records of batch (see Iterate).
func ReadAll(batch []byte) ([]Record, error) {
	var out []Record
	err := Iterate(batch, func(r *Record) error {
		c := Record{
			Attributes:     r.Attributes,
			TimestampDelta: r.TimestampDelta,
			OffsetDelta:    r.OffsetDelta,
			Key:            clone(r.Key),
			Value:          clone(r.Value),
		}
		if len(r.Headers) > 0 {
			c.Headers = make([]RecordHeader, len(r.Headers))
			for i, hd := range r.Headers {
				c.Headers[i] = RecordHeader{Key: hd.Key, Value: clone(hd.Value)}
			}
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// clone copies b, keeping nil as nil and empty as empty.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// CheckRecords walks the records of batch and checks their structure and
// count without materialising anything: the cheap check for a batch read
// back from disk or received from a leader. It does not check the CRC.
func CheckRecords(batch []byte, maxDecompressedBytes int) error {
	h, err := checkFraming(batch)
	if err != nil {
		return err
	}
	if h.NumRecords < 0 {
		return invalidRecord("record count %d is negative", h.NumRecords)
	}
	recs, buf, err := openRecords(batch, &h, maxDecompressedBytes)
	if err != nil {
		return err
	}
	defer putBuf(buf)
	w := recordWalker{b: recs}
	var v recordView
	for i := int32(0); i < h.NumRecords; i++ {
		if err := w.next(&v); err != nil {
			return invalidRecord("record %d: %v", i, err)
		}
	}
	if w.remaining() != 0 {
		return invalidRecord("%d bytes remain after the %d records the batch declares", w.remaining(), h.NumRecords)
	}
	return nil
}
