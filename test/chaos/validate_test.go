package chaos

import (
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawBatch encodes a v2 batch of count records from base, with a correct length and
// CRC. The records are opaque bytes: ValidateLog does not decode them.
func rawBatch(base int64, count int32) []byte {
	b := kmsg.RecordBatch{
		FirstOffset: base, Magic: 2, LastOffsetDelta: count - 1, NumRecords: count,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		Records: []byte(strings.Repeat("r", int(count))),
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], castagnoli))
	return raw
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestCheckBatches(t *testing.T) {
	good := concat(rawBatch(0, 3), rawBatch(3, 1), rawBatch(4, 5))
	corrupt := concat(rawBatch(0, 3), rawBatch(3, 1))
	corrupt[len(corrupt)-1] ^= 0xff
	badCount := rawBatch(0, 3)
	binary.BigEndian.PutUint32(badCount[batchCountAt:], 2)
	binary.BigEndian.PutUint32(badCount[batchCRCAt:], crc32.Checksum(badCount[batchAttrsAt:], castagnoli))
	badMagic := rawBatch(0, 1)
	badMagic[batchMagicAt] = 1

	tests := []struct {
		name     string
		data     []byte
		next     int64
		wantLast int64
		wantN    int
		wantErr  string
	}{
		{name: "contiguous batches", data: good, wantLast: 8, wantN: 3},
		{name: "fetch from inside the first batch", data: good, next: 2, wantLast: 8, wantN: 3},
		{name: "partial batch at the end is ignored", data: good[:len(good)-3], wantLast: 3, wantN: 2},
		{name: "empty", data: nil, next: 5, wantLast: 4, wantN: 0},
		{name: "gap", data: concat(rawBatch(0, 3), rawBatch(4, 1)), wantErr: "follows a batch ending at 2"},
		{name: "overlap", data: concat(rawBatch(0, 3), rawBatch(2, 1)), wantErr: "follows a batch ending at 2"},
		{name: "first batch past the fetch offset", data: rawBatch(3, 1), next: 1, wantErr: "fetch at 1 starts with batch [3, 3]"},
		{name: "corrupt byte", data: corrupt, wantErr: "CRC"},
		{name: "record count against offsets", data: badCount, wantErr: "2 records for 3 offsets"},
		{name: "old magic", data: badMagic, wantErr: "magic 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			last, n, err := checkBatches(tt.data, tt.next)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || last != tt.wantLast || n != tt.wantN {
				t.Fatalf("checkBatches = %d, %d, %v; want %d, %d, nil", last, n, err, tt.wantLast, tt.wantN)
			}
		})
	}
}
