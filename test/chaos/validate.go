package chaos

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// castagnoli is the CRC-32C table record batches are checked with.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Offsets into a v2 record batch header.
const (
	batchLengthEnd  = 12 // base offset (8) and batch length (4) precede the counted bytes
	batchMagicAt    = 16
	batchCRCAt      = 17
	batchAttrsAt    = 21
	batchLastDeltAt = 23
	batchCountAt    = 57
	batchHeaderLen  = 61
)

// ValidateLog reads partition p of topic from addr, from the log start to the high
// watermark, with raw Fetch requests, and checks what a recovered log must be: every
// batch of magic 2 with a correct CRC-32C and as many records as its offset range, and
// batches that follow each other without a gap or an overlap, up to the high
// watermark. A partition addr does not lead is skipped (nil).
func ValidateLog(ctx context.Context, addr, topic string, p int32) error {
	offset := int64(-1)
	var hw, start, next int64 = -1, -1, -1
	for hw < 0 || next < hw {
		fetchAt := max(offset, 0)
		resp, err := fetchRaw(ctx, addr, topic, p, fetchAt)
		if err != nil {
			return fmt.Errorf("validate %s-%d: %w", topic, p, err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			if errors.Is(err, kerr.NotLeaderForPartition) {
				return nil
			}
			if errors.Is(err, kerr.OffsetOutOfRange) && offset < 0 {
				// The log does not start at 0: begin at its start.
				offset = resp.LogStartOffset
				continue
			}
			return fmt.Errorf("validate %s-%d: fetch at %d: %w", topic, p, fetchAt, err)
		}
		if hw < 0 {
			hw, start, next = resp.HighWatermark, max(fetchAt, resp.LogStartOffset), max(fetchAt, resp.LogStartOffset)
			if next >= hw {
				return nil
			}
		}
		last, n, err := checkBatches(resp.RecordBatches, next)
		if err != nil {
			return fmt.Errorf("validate %s-%d (log from %d, high watermark %d): %w", topic, p, start, hw, err)
		}
		if n == 0 {
			return fmt.Errorf("validate %s-%d: fetch at %d below the high watermark %d returned no complete batch", topic, p, next, hw)
		}
		next = last + 1
		offset = next
	}
	return nil
}

// checkBatches checks the record batches of a fetch response, the first of which
// must start at next (or contain it, as a fetch may begin inside a batch). A partial
// batch at the end, cut by the response size limit, is ignored. It returns the last
// offset of the last complete batch and how many there were.
func checkBatches(b []byte, next int64) (last int64, n int, err error) {
	last = next - 1
	for pos := 0; len(b)-pos >= batchLengthEnd; {
		base := int64(binary.BigEndian.Uint64(b[pos:]))
		length := int(int32(binary.BigEndian.Uint32(b[pos+8:])))
		end := pos + batchLengthEnd + length
		if length < batchHeaderLen-batchLengthEnd {
			return last, n, fmt.Errorf("batch at offset %d: length %d shorter than a header", base, length)
		}
		if end > len(b) {
			break // partial batch at the end of the response
		}
		batch := b[pos:end]
		if magic := batch[batchMagicAt]; magic != 2 {
			return last, n, fmt.Errorf("batch at offset %d: magic %d", base, magic)
		}
		if want, got := binary.BigEndian.Uint32(batch[batchCRCAt:]), crc32.Checksum(batch[batchAttrsAt:], castagnoli); want != got {
			return last, n, fmt.Errorf("batch at offset %d: CRC %08x, computed %08x", base, want, got)
		}
		delta := int64(int32(binary.BigEndian.Uint32(batch[batchLastDeltAt:])))
		count := int64(int32(binary.BigEndian.Uint32(batch[batchCountAt:])))
		if count != delta+1 {
			return last, n, fmt.Errorf("batch at offset %d: %d records for %d offsets", base, count, delta+1)
		}
		switch {
		case n == 0 && (base > next || base+delta < next):
			return last, n, fmt.Errorf("fetch at %d starts with batch [%d, %d]", next, base, base+delta)
		case n > 0 && base != last+1:
			return last, n, fmt.Errorf("batch [%d, %d] follows a batch ending at %d", base, base+delta, last)
		}
		last = base + delta
		n++
		pos = end
	}
	return last, n, nil
}

// fetchRaw sends one Fetch v11 for one partition and returns its partition answer.
func fetchRaw(ctx context.Context, addr, topic string, p int32, offset int64) (*kmsg.FetchResponseTopicPartition, error) {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(11)
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 0
	req.MaxBytes = 4 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = p
	rp.FetchOffset = offset
	rp.LogStartOffset = -1
	rp.PartitionMaxBytes = 1 << 20
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := roundTrip(ctx, addr, req)
	if err != nil {
		return nil, err
	}
	fr := resp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(fr.ErrorCode); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		return nil, fmt.Errorf("fetch response for %d topics, want 1 with 1 partition", len(fr.Topics))
	}
	return &fr.Topics[0].Partitions[0], nil
}
