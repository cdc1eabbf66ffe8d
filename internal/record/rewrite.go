package record

import (
	"encoding/binary"
	"fmt"
)

// The rewrites Kafka itself does on the produce path: stamping
// LogAppendTime, fixing maxTimestamp, and recompressing when the topic's
// compression.type is not the producer's codec. Everything else stores the
// producer's bytes as they came.

// SetMaxTimestamp sets the timestamp type attribute and maxTimestamp of a
// whole batch in place and recomputes its CRC, as Kafka's
// DefaultRecordBatch.setMaxTimestamp does. It does nothing if the batch is
// shorter than a header or already carries those values.
func SetMaxTimestamp(batch []byte, t TimestampType, maxTimestamp int64) {
	if len(batch) < HeaderSize {
		return
	}
	attrs := binary.BigEndian.Uint16(batch[offAttributes:])
	newAttrs := attrs &^ attrTimestampType
	if t == LogAppendTime {
		newAttrs |= attrTimestampType
	}
	if attrs == newAttrs && int64(binary.BigEndian.Uint64(batch[offMaxTimestamp:])) == maxTimestamp {
		return
	}
	binary.BigEndian.PutUint16(batch[offAttributes:], newAttrs)
	binary.BigEndian.PutUint64(batch[offMaxTimestamp:], uint64(maxTimestamp))
	SetCRC(batch)
}

// SetLogAppendTime marks a whole batch as LogAppendTime with maxTimestamp
// now, in place, and recomputes its CRC. Records keep their deltas: readers
// take every record's timestamp from maxTimestamp under LogAppendTime. It
// does nothing if the batch is shorter than a header.
func SetLogAppendTime(batch []byte, now int64) { SetMaxTimestamp(batch, LogAppendTime, now) }

// Recompress appends to dst a copy of batch whose records are compressed
// with to (at the codec's default level). Records keep their bytes, offsets
// and timestamps; the header keeps every field but the codec bits, the
// length and the CRC. The batch's framing must be sound (see Validate); its
// CRC is not checked. It decompresses at most DefaultMaxDecompressedBytes.
func Recompress(batch []byte, to Codec, dst []byte) ([]byte, error) {
	h, err := checkFraming(batch)
	if err != nil {
		return dst, err
	}
	if to < CodecNone || to > CodecZstd {
		return dst, fmt.Errorf("recompress: %w %d", ErrUnknownCodec, int8(to))
	}
	recs, buf, err := openRecords(batch, &h, DefaultMaxDecompressedBytes)
	if err != nil {
		return dst, err
	}
	defer putBuf(buf)
	h.Attributes = h.Attributes&^attrCompressionMask | int16(to)
	return assemble(dst, &h, recs, 0)
}

// rebuild re-encodes a validated batch for Prepare: the target codec, the
// topic's timestamp type and maxTimestamp, and offset deltas renumbered
// 0..n-1 when they were not. recs is the decompressed records section.
func rebuild(dst []byte, info *Info, recs []byte, cfg *ValidateConfig) ([]byte, error) {
	h := info.Header
	// Records are re-encoded only when their bytes must change: new offset
	// deltas, or timestamps that Kafka reads from maxTimestamp (a
	// producer's LogAppendTime batch in a CreateTime topic) becoming
	// per-record ones. Otherwise the section is copied as it is.
	if info.offsetsNotConsecutive || info.timestampsFromMax {
		p := bufPool.Get().(*[]byte)
		defer putBuf(p)
		out := (*p)[:0]
		w := recordWalker{b: recs}
		var v recordView
		for i := int32(0); i < h.NumRecords; i++ {
			if err := w.next(&v); err != nil { // validated already; cannot fail
				return nil, invalidRecord("record %d: %v", i, err)
			}
			if info.timestampsFromMax {
				v.timestampDelta = h.MaxTimestamp - h.BaseTimestamp
			}
			v.offsetDelta = i
			out = appendRecordView(out, &v)
		}
		*p = out
		recs = out
	}
	h.Attributes = h.Attributes&^(attrCompressionMask|attrTimestampType) | int16(info.TargetCodec)
	if info.TimestampType == LogAppendTime {
		h.Attributes |= attrTimestampType
	}
	h.MaxTimestamp = info.MaxTimestamp
	h.LastOffsetDelta = h.NumRecords - 1
	return assemble(dst, &h, recs, cfg.CompressionLevel)
}

// assemble appends a batch with header h (Length and CRC computed, codec
// taken from h.Attributes) around the uncompressed records section recs.
func assemble(dst []byte, h *Header, recs []byte, level int) ([]byte, error) {
	start := len(dst)
	dst = appendHeader(dst, h)
	dst, err := Compress(h.Codec(), recs, dst, level)
	if err != nil {
		return dst[:start], err
	}
	if len(dst)-start-LogOverhead > 1<<31-1 {
		return dst[:start], fmt.Errorf("rebuilt batch of %d bytes is too large", len(dst)-start)
	}
	b := dst[start:]
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-LogOverhead))
	SetCRC(b)
	return dst, nil
}

// appendHeader appends the 61-byte header h; Length and CRC are written as
// given and usually fixed afterwards.
func appendHeader(dst []byte, h *Header) []byte {
	be := binary.BigEndian
	dst = be.AppendUint64(dst, uint64(h.BaseOffset))
	dst = be.AppendUint32(dst, uint32(h.Length))
	dst = be.AppendUint32(dst, uint32(h.PartitionLeaderEpoch))
	dst = append(dst, 2)
	dst = be.AppendUint32(dst, h.CRC)
	dst = be.AppendUint16(dst, uint16(h.Attributes))
	dst = be.AppendUint32(dst, uint32(h.LastOffsetDelta))
	dst = be.AppendUint64(dst, uint64(h.BaseTimestamp))
	dst = be.AppendUint64(dst, uint64(h.MaxTimestamp))
	dst = be.AppendUint64(dst, uint64(h.ProducerID))
	dst = be.AppendUint16(dst, uint16(h.ProducerEpoch))
	dst = be.AppendUint32(dst, uint32(h.BaseSequence))
	dst = be.AppendUint32(dst, uint32(h.NumRecords))
	return dst
}

// appendRecordView re-encodes a located record (headers kept as encoded).
func appendRecordView(dst []byte, v *recordView) []byte {
	body := 1 + varlongSize(v.timestampDelta) + varintSize(v.offsetDelta) +
		bytesSize(v.key) + bytesSize(v.value) + varintSize(v.headerCount) + len(v.headers)
	dst = appendVarint(dst, int32(body))
	dst = append(dst, byte(v.attributes))
	dst = appendVarlong(dst, v.timestampDelta)
	dst = appendVarint(dst, v.offsetDelta)
	dst = appendBytes(dst, v.key)
	dst = appendBytes(dst, v.value)
	dst = appendVarint(dst, v.headerCount)
	return append(dst, v.headers...)
}

// bytesSize is the encoded size of a nullable byte string.
func bytesSize(b []byte) int {
	if b == nil {
		return 1
	}
	return varintSize(int32(len(b))) + len(b)
}

// appendBytes appends a nullable byte string: varint length (-1 for nil), bytes.
func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return appendVarint(dst, -1)
	}
	return append(appendVarint(dst, int32(len(b))), b...)
}
