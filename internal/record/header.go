// Package record handles Kafka record batches (magic v2) as the broker sees them:
// the fixed header, CRC32C checks, in-place patching of offsets, validation, and
// compression. It knows nothing of files or networks.
//
// A v2 batch on the wire and on disk is laid out as:
//
//	baseOffset           int64   0
//	batchLength          int32   8   bytes after this field
//	partitionLeaderEpoch int32  12
//	magic                int8   16
//	crc                  uint32 17   CRC32C over attributes..end
//	attributes           int16  21
//	lastOffsetDelta      int32  23
//	baseTimestamp        int64  27
//	maxTimestamp         int64  35
//	producerId           int64  43
//	producerEpoch        int16  51
//	baseSequence         int32  53
//	recordCount          int32  57
//	records              ...    61
//
// The CRC does not cover baseOffset, batchLength or partitionLeaderEpoch, so
// assigning offsets and stamping the leader epoch never recompute it.
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Field offsets within a v2 batch.
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	// HeaderSize is the size of the fixed v2 batch header, up to the records.
	HeaderSize = 61
	// LogOverhead is the size of baseOffset plus batchLength: the bytes of a
	// batch that batchLength does not count.
	LogOverhead = 12
)

// Attribute bits.
const (
	attrCompressionMask = 0x07
	attrTimestampType   = 0x08
	attrTransactional   = 0x10
	attrControl         = 0x20
	attrDeleteHorizon   = 0x40
)

// Sentinels from the protocol.
const (
	NoProducerID    int64 = -1
	NoProducerEpoch int16 = -1
	NoSequence      int32 = -1
	NoTimestamp     int64 = -1
)

// Codec is a batch compression codec, as stored in the attributes.
type Codec int8

const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// ErrShortBatch means the bytes end before the batch they describe does.
var ErrShortBatch = errors.New("record batch truncated")

// Header is the decoded fixed header of a v2 record batch.
type Header struct {
	BaseOffset           int64
	Length               int32 // batchLength: bytes after the Length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Size is the whole batch's size in bytes, LogOverhead included.
func (h *Header) Size() int { return LogOverhead + int(h.Length) }

// LastOffset is the offset of the batch's last record (as far as
// lastOffsetDelta says; compaction may have removed records).
func (h *Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Codec is the batch's compression codec.
func (h *Header) Codec() Codec { return Codec(h.Attributes & attrCompressionMask) }

// LogAppendTime reports whether the batch's timestamps are the broker's append time.
func (h *Header) LogAppendTime() bool { return h.Attributes&attrTimestampType != 0 }

// Transactional reports whether the batch is part of a transaction.
func (h *Header) Transactional() bool { return h.Attributes&attrTransactional != 0 }

// Control reports whether the batch holds a control record (a transaction marker).
func (h *Header) Control() bool { return h.Attributes&attrControl != 0 }

// Idempotent reports whether the batch carries a producer id.
func (h *Header) Idempotent() bool { return h.ProducerID >= 0 }

// LastSequence is the sequence number of the batch's last record, wrapping
// at MaxInt32 as Kafka's does.
func (h *Header) LastSequence() int32 {
	if h.BaseSequence == NoSequence {
		return NoSequence
	}
	s := int64(h.BaseSequence) + int64(h.LastOffsetDelta)
	if s > 0x7fffffff {
		s -= 0x7fffffff + 1
	}
	return int32(s)
}

// ParseHeader decodes the fixed header at the start of b. It checks only
// that the header is there and that magic is 2; it does not check the CRC or
// that the whole batch is present (see Validate and CheckCRC).
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, ErrShortBatch
	}
	be := binary.BigEndian
	h.BaseOffset = int64(be.Uint64(b[offBaseOffset:]))
	h.Length = int32(be.Uint32(b[offLength:]))
	h.PartitionLeaderEpoch = int32(be.Uint32(b[offLeaderEpoch:]))
	h.Magic = int8(b[offMagic])
	h.CRC = be.Uint32(b[offCRC:])
	h.Attributes = int16(be.Uint16(b[offAttributes:]))
	h.LastOffsetDelta = int32(be.Uint32(b[offLastOffsetDelta:]))
	h.BaseTimestamp = int64(be.Uint64(b[offBaseTimestamp:]))
	h.MaxTimestamp = int64(be.Uint64(b[offMaxTimestamp:]))
	h.ProducerID = int64(be.Uint64(b[offProducerID:]))
	h.ProducerEpoch = int16(be.Uint16(b[offProducerEpoch:]))
	h.BaseSequence = int32(be.Uint32(b[offBaseSequence:]))
	h.NumRecords = int32(be.Uint32(b[offRecordCount:]))
	if h.Magic != 2 {
		return h, fmt.Errorf("record batch magic %d: only magic 2 is supported", h.Magic)
	}
	if int(h.Length) < HeaderSize-LogOverhead {
		return h, fmt.Errorf("record batch length %d below the header size", h.Length)
	}
	return h, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ComputeCRC returns the CRC32C of a whole batch b (attributes to the end).
func ComputeCRC(b []byte) uint32 { return crc32.Checksum(b[offAttributes:], castagnoli) }

// CheckCRC reports whether the stored CRC of the whole batch b matches its bytes.
func CheckCRC(b []byte) bool {
	if len(b) < HeaderSize {
		return false
	}
	return binary.BigEndian.Uint32(b[offCRC:]) == ComputeCRC(b)
}

// SetCRC recomputes and stores the CRC of the whole batch b.
func SetCRC(b []byte) { binary.BigEndian.PutUint32(b[offCRC:], ComputeCRC(b)) }

// SetBaseOffset patches the base offset in place; the CRC does not cover it.
func SetBaseOffset(b []byte, off int64) { binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(off)) }

// SetPartitionLeaderEpoch patches the leader epoch in place; the CRC does not cover it.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}

// BatchSize returns the size of the batch starting at b (LogOverhead plus
// batchLength) without decoding the rest of the header, or an error if b
// holds too few bytes to tell.
func BatchSize(b []byte) (int, error) {
	if len(b) < LogOverhead {
		return 0, ErrShortBatch
	}
	n := int32(binary.BigEndian.Uint32(b[offLength:]))
	if int(n) < HeaderSize-LogOverhead {
		return 0, fmt.Errorf("record batch length %d below the header size", n)
	}
	return LogOverhead + int(n), nil
}
