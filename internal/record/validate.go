package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Produce-time validation, following Kafka's ProduceRequest.validateRecords,
// UnifiedLog.analyzeAndValidateRecords and LogValidator, in their order:
//
//	check                                              error
//	bytes shorter than the framing, batchLength not    CORRUPT_MESSAGE
//	  matching the bytes, header cut short
//	magic != 2                                         INVALID_RECORD (Produce v3+ carries
//	                                                     only v2 batches)
//	baseOffset != 0                                    INVALID_RECORD
//	batch larger than max.message.bytes                MESSAGE_TOO_LARGE
//	CRC32C mismatch                                    CORRUPT_MESSAGE
//	codec id 5-7                                       UNSUPPORTED_COMPRESSION_TYPE (*)
//	lastOffsetDelta+1 <= 0, recordCount <= 0, or       INVALID_RECORD
//	  the two disagreeing
//	control batch from a client                        INVALID_RECORD
//	producer id set with baseSequence < 0              INVALID_RECORD
//	compressed payload undecodable                     INVALID_RECORD (*)
//	payload inflating past MaxDecompressedBytes        MESSAGE_TOO_LARGE (*)
//	record structure: bad varints, lengths not         INVALID_RECORD
//	  adding up, fewer records than counted, bytes
//	  left after the last one
//	per record: no key on a compacted topic            INVALID_RECORD + RecordErrors
//	per record: CreateTime timestamp outside           INVALID_TIMESTAMP + RecordErrors
//	  [now-before.max, now+after.max], or the producer
//	  setting LogAppendTime on a LogAppendTime topic
//
// (*) Where Kafka fails with an unhandled exception (UNKNOWN_SERVER_ERROR) or
// has no such check, Sluice picks a code that is not retriable, so a client
// does not resend a batch that can never succeed.
//
// What Kafka repairs rather than refuses, Sluice repairs too (Prepare):
//   - maxTimestamp in the header not the records' maximum, or the timestamp
//     type attribute not the topic's: the header is rewritten and the CRC
//     recomputed (DefaultRecordBatch.setMaxTimestamp);
//   - offset deltas not 0..n-1 in a compressed batch: the batch is rebuilt
//     with consecutive deltas. In an uncompressed batch Kafka leaves them, and
//     so does Sluice;
//   - a producer's LogAppendTime batch on a CreateTime topic: Kafka checks
//     the records at maxTimestamp, then clears the attribute in place, so
//     readers see baseTimestamp+delta, which nobody checked. Sluice rebuilds
//     the records at the time it checked (a deliberate difference; no real
//     client sends such a batch);
//   - topic compression.type other than the batch's codec: recompression.

// TimestampType is a topic's message.timestamp.type.
type TimestampType int8

const (
	CreateTime    TimestampType = 0
	LogAppendTime TimestampType = 1
)

func (t TimestampType) String() string {
	if t == LogAppendTime {
		return "LogAppendTime"
	}
	return "CreateTime"
}

// TargetCodec is a topic's compression.type. The zero value is "producer":
// keep the producer's codec.
type TargetCodec int8

const (
	TargetProducer TargetCodec = iota
	TargetUncompressed
	TargetGzip
	TargetSnappy
	TargetLZ4
	TargetZstd
)

var targetNames = [...]string{"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"}

func (t TargetCodec) String() string {
	if int(t) >= 0 && int(t) < len(targetNames) {
		return targetNames[t]
	}
	return fmt.Sprintf("TargetCodec(%d)", int8(t))
}

// ParseTargetCodec parses a compression.type value as Kafka spells it.
func ParseTargetCodec(s string) (TargetCodec, error) {
	for i, n := range targetNames {
		if strings.EqualFold(s, n) {
			return TargetCodec(i), nil
		}
	}
	return 0, fmt.Errorf("unknown compression.type %q", s)
}

// Codec resolves the target against the producer's codec.
func (t TargetCodec) Codec(producer Codec) Codec {
	if t == TargetProducer || t < 0 || int(t) >= len(targetNames) {
		return producer
	}
	return Codec(t - TargetUncompressed)
}

// ValidateConfig is what validation needs of the topic and the broker. Zero
// values are taken literally (an AfterMaxMs of 0 refuses any future
// timestamp); DefaultValidateConfig has Kafka's defaults.
type ValidateConfig struct {
	// MaxBatchBytes is max.message.bytes: a larger batch gets
	// MESSAGE_TOO_LARGE. <= 0 means no limit.
	MaxBatchBytes int
	// TimestampType is message.timestamp.type.
	TimestampType TimestampType
	// BeforeMaxMs and AfterMaxMs are message.timestamp.before.max.ms and
	// message.timestamp.after.max.ms: how far before or after Now a
	// CreateTime timestamp may lie.
	BeforeMaxMs, AfterMaxMs int64
	// Now is the broker's time in ms since the epoch: the reference for the
	// timestamp bounds and the LogAppendTime stamped on the batch.
	Now int64
	// TargetCodec is compression.type.
	TargetCodec TargetCodec
	// CompressionLevel is compression.<codec>.level for recompression; 0
	// means the codec's default.
	CompressionLevel int
	// CompactedTopic refuses records without a key (cleanup.policy compact).
	CompactedTopic bool
	// MaxDecompressedBytes bounds a compressed batch's inflated records;
	// <= 0 means DefaultMaxDecompressedBytes.
	MaxDecompressedBytes int
}

// DefaultValidateConfig returns Kafka 4's topic defaults: max.message.bytes
// 1048588, CreateTime, before.max.ms unbounded, after.max.ms one hour,
// compression.type producer.
func DefaultValidateConfig(now int64) ValidateConfig {
	return ValidateConfig{
		MaxBatchBytes: 1048588,
		TimestampType: CreateTime,
		BeforeMaxMs:   math.MaxInt64,
		AfterMaxMs:    3600000,
		Now:           now,
	}
}

// Info describes a validated batch and what storing it takes.
type Info struct {
	// Header is the batch's header as received.
	Header Header
	// Codec is the producer's codec.
	Codec Codec
	// NumRecords is the number of records.
	NumRecords int
	// MaxTimestamp is the batch's max timestamp once stored: Now under
	// LogAppendTime, else the largest record timestamp (NoTimestamp if none
	// is larger).
	MaxTimestamp int64
	// OffsetOfMaxTimestampDelta is the offset delta (after Prepare, the
	// record's index) of the record holding MaxTimestamp: the first such
	// under CreateTime, the last record under LogAppendTime (all share it),
	// -1 when MaxTimestamp is NoTimestamp.
	OffsetOfMaxTimestampDelta int32
	// TimestampType is the type the stored batch carries.
	TimestampType TimestampType
	// TargetCodec is the codec of the stored batch.
	TargetCodec Codec
	// NeedsRecompress reports that the records must be re-encoded: the
	// codec changes, a compressed batch's offset deltas are not 0..n-1, or
	// a producer's LogAppendTime batch goes to a CreateTime topic.
	NeedsRecompress bool
	// NeedsHeaderRewrite reports that maxTimestamp or the timestamp type
	// attribute must change; done in place, with the CRC recomputed.
	NeedsHeaderRewrite bool
	// UncompressedBytes is the size of the records section, decompressed.
	UncompressedBytes int

	// Private facts for Prepare's rebuild.
	offsetsNotConsecutive bool
	timestampsFromMax     bool
}

// NextBatch splits the first batch off b, as Kafka's batch iterator does: ok
// is false when b holds no whole batch (fewer than LogOverhead bytes, or a
// batch cut short, which Kafka silently drops); a batchLength below the
// smallest possible record is CORRUPT_MESSAGE. It only frames: see Validate.
func NextBatch(b []byte) (batch, rest []byte, ok bool, err error) {
	if len(b) < LogOverhead {
		return nil, b, false, nil
	}
	length := int64(int32(binary.BigEndian.Uint32(b[offLength:])))
	if length < minBatchLength {
		return nil, b, false, corrupt("batch length %d is below the minimum record overhead %d", length, minBatchLength)
	}
	size := LogOverhead + length
	if size > int64(len(b)) {
		return nil, b, false, nil
	}
	return b[:size:size], b[size:], true, nil
}

// SplitBatches splits a produce request's records bytes into batches,
// ignoring a trailing partial batch as Kafka does. Produce v3+ requires
// exactly one batch per partition: the handler answers INVALID_RECORD when
// the count is not 1 (Kafka's ProduceRequest.validateRecords), and then
// validates that batch.
func SplitBatches(b []byte) ([][]byte, error) {
	var out [][]byte
	for {
		batch, rest, ok, err := NextBatch(b)
		if err != nil {
			return out, err
		}
		if !ok {
			return out, nil
		}
		out = append(out, batch)
		b = rest
	}
}

// ErrBatchCount builds the INVALID_RECORD a produce handler returns when a
// partition's records hold n batches instead of exactly one.
func ErrBatchCount(n int) *ValidationError {
	if n == 0 {
		return invalidRecord("produce requests must have at least one record batch per partition")
	}
	return invalidRecord("produce requests may carry only one record batch per partition, got %d", n)
}

func newUnknownCodecError(c Codec) *ValidationError {
	return newError(kerr.UnsupportedCompressionType, "batch attributes name unknown compression codec %d", int8(c))
}

func decompressError(err error) *ValidationError {
	if errors.Is(err, ErrDecompressedTooLarge) {
		return newError(kerr.MessageTooLarge, "%v", err)
	}
	return invalidRecord("%v", err)
}

// Validate checks one produce batch — batch must be exactly one batch, as
// SplitBatches cuts it — against the rules in the table above, for a batch
// from a client. It changes nothing; Info says what Prepare would change.
// Errors are *ValidationError. On the uncompressed path it allocates nothing
// unless the batch is refused.
func Validate(batch []byte, cfg ValidateConfig) (Info, error) {
	info, _, buf, err := validate(batch, &cfg, false)
	putBuf(buf)
	return info, err
}

// Prepare validates batch and makes it ready to append, as Kafka's
// LogValidator does: it stamps LogAppendTime or fixes maxTimestamp in place
// (the header only, CRC recomputed) and rebuilds the batch when it must be
// recompressed. It returns batch itself when no rebuild was needed (perhaps
// patched in place), else a new slice. The base offset and leader epoch are
// left to the log (SetBaseOffset, SetPartitionLeaderEpoch).
func Prepare(batch []byte, cfg ValidateConfig) ([]byte, Info, error) {
	info, recs, buf, err := validate(batch, &cfg, true)
	defer putBuf(buf)
	if err != nil {
		return nil, info, err
	}
	if info.NeedsRecompress {
		out, err := rebuild(nil, &info, recs, &cfg)
		if err != nil {
			return nil, info, err
		}
		return out, info, nil
	}
	if info.NeedsHeaderRewrite {
		SetMaxTimestamp(batch, info.TimestampType, info.MaxTimestamp)
	}
	return batch, info, nil
}

// validate does the work of Validate. With keep, it returns the records
// section for a rebuild, and the pooled buffer holding it (nil when it
// points into batch) to give back with putBuf once it is no longer used.
func validate(batch []byte, cfg *ValidateConfig, keep bool) (info Info, recs []byte, buf *[]byte, err error) {
	h, verr := checkFraming(batch)
	if verr != nil {
		return info, nil, buf, verr
	}
	info.Header = h
	if h.BaseOffset != 0 {
		return info, nil, buf, invalidRecord("the base offset of a produced batch must be 0, got %d", h.BaseOffset)
	}
	if cfg.MaxBatchBytes > 0 && len(batch) > cfg.MaxBatchBytes {
		return info, nil, buf, newError(kerr.MessageTooLarge,
			"record batch of %d bytes exceeds max.message.bytes %d", len(batch), cfg.MaxBatchBytes)
	}
	if stored, computed := h.CRC, ComputeCRC(batch); stored != computed {
		return info, nil, buf, corrupt("record batch CRC32C is %08x, computed %08x", stored, computed)
	}
	codec := h.Codec()
	info.Codec = codec
	if codec > CodecZstd {
		return info, nil, buf, newUnknownCodecError(codec)
	}
	if n := int64(h.LastOffsetDelta) + 1; n <= 0 {
		return info, nil, buf, invalidRecord("batch has an invalid offset range: last offset delta %d", h.LastOffsetDelta)
	}
	if h.NumRecords <= 0 {
		return info, nil, buf, invalidRecord("batch declares %d records", h.NumRecords)
	}
	if int64(h.LastOffsetDelta)+1 != int64(h.NumRecords) {
		return info, nil, buf, invalidRecord("last offset delta %d does not agree with the %d records declared",
			h.LastOffsetDelta, h.NumRecords)
	}
	if h.Control() {
		return info, nil, buf, invalidRecord("clients may not write control batches")
	}
	if h.ProducerID >= 0 && h.BaseSequence < 0 {
		return info, nil, buf, invalidRecord("producer id %d with invalid base sequence %d", h.ProducerID, h.BaseSequence)
	}

	recs, buf, verr = openRecords(batch, &h, cfg.MaxDecompressedBytes)
	if verr != nil {
		return info, nil, buf, verr
	}
	info.UncompressedBytes = len(recs)

	var (
		w        = recordWalker{b: recs}
		v        recordView
		maxTs    = NoTimestamp
		maxIdx   = int32(-1)
		recErrs  []RecordError
		tsErrors bool
		lat      = h.LogAppendTime()
	)
	for i := int32(0); i < h.NumRecords; i++ {
		if err := w.next(&v); err != nil {
			return info, nil, buf, invalidRecord("record %d: %v", i, err)
		}
		if v.offsetDelta != i {
			info.offsetsNotConsecutive = true
		}
		ts := h.BaseTimestamp + v.timestampDelta
		if lat {
			ts = h.MaxTimestamp
		}
		switch {
		case cfg.CompactedTopic && v.key == nil:
			recErrs = append(recErrs, RecordError{Index: i, Message: "a compacted topic cannot accept a record without a key"})
		case cfg.TimestampType == CreateTime && ts != NoTimestamp:
			if timestampOutOfRange(ts, cfg) {
				tsErrors = true
				recErrs = append(recErrs, RecordError{Index: i, Message: fmt.Sprintf(
					"timestamp %d of the record at offset delta %d is out of range: it must lie within [%d, %d]",
					ts, v.offsetDelta, satAdd(cfg.Now, -cfg.BeforeMaxMs), satAdd(cfg.Now, cfg.AfterMaxMs))})
			}
		case lat:
			tsErrors = true
			recErrs = append(recErrs, RecordError{Index: i, Message: "producers may not set the LogAppendTime timestamp type"})
		}
		if ts > maxTs {
			maxTs, maxIdx = ts, i
		}
	}
	if w.remaining() != 0 {
		return info, nil, buf, invalidRecord("%d bytes remain after the %d records the batch declares", w.remaining(), h.NumRecords)
	}
	if len(recErrs) > 0 {
		if tsErrors {
			return info, nil, buf, &ValidationError{Err: kerr.InvalidTimestamp,
				Msg: "one or more records have been rejected due to invalid timestamp", RecordErrors: recErrs}
		}
		return info, nil, buf, &ValidationError{Err: kerr.InvalidRecord,
			Msg: fmt.Sprintf("%d records were rejected; the first: %s", len(recErrs), recErrs[0].Message), RecordErrors: recErrs}
	}

	info.NumRecords = int(h.NumRecords)
	info.TargetCodec = cfg.TargetCodec.Codec(codec)
	// A producer's LogAppendTime batch in a CreateTime topic: Kafka checks
	// every record at maxTimestamp, then clears the bit in place, so that
	// readers see baseTimestamp+delta, times nobody checked. Sluice instead
	// re-encodes the records to keep the times it checked.
	info.timestampsFromMax = lat && cfg.TimestampType == CreateTime
	info.NeedsRecompress = info.TargetCodec != codec || (codec != CodecNone && info.offsetsNotConsecutive) ||
		info.timestampsFromMax
	info.TimestampType = cfg.TimestampType
	if cfg.TimestampType == LogAppendTime {
		info.MaxTimestamp = cfg.Now
		info.OffsetOfMaxTimestampDelta = h.NumRecords - 1
		info.NeedsHeaderRewrite = !lat || h.MaxTimestamp != cfg.Now
	} else {
		info.MaxTimestamp = maxTs
		info.OffsetOfMaxTimestampDelta = maxIdx
		info.NeedsHeaderRewrite = lat || h.MaxTimestamp != maxTs
	}
	if !keep {
		putBuf(buf)
		return info, nil, nil, nil
	}
	return info, recs, buf, nil
}

// timestampOutOfRange reports whether ts lies outside [Now-BeforeMaxMs,
// Now+AfterMaxMs]. Kafka's subtraction can wrap for absurd timestamps;
// saturating here keeps the bounds what the configuration says.
func timestampOutOfRange(ts int64, cfg *ValidateConfig) bool {
	return ts < satAdd(cfg.Now, -cfg.BeforeMaxMs) || ts > satAdd(cfg.Now, cfg.AfterMaxMs)
}

// satAdd returns a+b clamped to the int64 range. (-MinInt64 wraps to
// MinInt64, but a negative bound is invalid configuration anyway.)
func satAdd(a, b int64) int64 {
	s := a + b
	if b > 0 && s < a {
		return math.MaxInt64
	}
	if b < 0 && s > a {
		return math.MinInt64
	}
	return s
}
