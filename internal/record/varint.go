package record

import "encoding/binary"

// Kafka's record fields use zigzag varints: at most 5 bytes for an int32
// (varint) and 10 for an int64 (varlong). A longer encoding is an error, as
// in Kafka's ByteUtils; bits past the type's width in the last byte are
// dropped, as Java's shifts drop them.

// readVarint decodes the zigzag varint at b[pos:]. ok is false when the
// bytes end first or the encoding is longer than 5 bytes.
func readVarint(b []byte, pos int) (v int32, next int, ok bool) {
	if pos < len(b) && b[pos] < 0x80 { // the common one-byte case
		u := uint32(b[pos])
		return int32(u>>1) ^ -int32(u&1), pos + 1, true
	}
	var u uint32
	for shift := uint(0); shift < 35; shift += 7 {
		if pos >= len(b) {
			return 0, pos, false
		}
		c := b[pos]
		pos++
		u |= uint32(c&0x7f) << shift
		if c < 0x80 {
			return int32(u>>1) ^ -int32(u&1), pos, true
		}
	}
	return 0, pos, false
}

// readVarlong decodes the zigzag varlong at b[pos:], like readVarint but up
// to 10 bytes.
func readVarlong(b []byte, pos int) (v int64, next int, ok bool) {
	if pos < len(b) && b[pos] < 0x80 {
		u := uint64(b[pos])
		return int64(u>>1) ^ -int64(u&1), pos + 1, true
	}
	var u uint64
	for shift := uint(0); shift < 70; shift += 7 {
		if pos >= len(b) {
			return 0, pos, false
		}
		c := b[pos]
		pos++
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), pos, true
		}
	}
	return 0, pos, false
}

// appendVarint appends v as a zigzag varint. Zigzag of an int32 widened to
// int64 gives the same bytes as Kafka's 32-bit encoding.
func appendVarint(dst []byte, v int32) []byte { return binary.AppendVarint(dst, int64(v)) }

// appendVarlong appends v as a zigzag varlong.
func appendVarlong(dst []byte, v int64) []byte { return binary.AppendVarint(dst, v) }

// varlongSize is the encoded size of v as a zigzag varlong.
func varlongSize(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// varintSize is the encoded size of v as a zigzag varint.
func varintSize(v int32) int { return varlongSize(int64(v)) }
