package record

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

var allCodecs = []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

// testNow is the broker clock in the tests.
const testNow int64 = 1_700_000_000_000

// buildBatch builds a batch of n records with timestamps testNow-n+1..testNow,
// keys "k<i>", and values of valueSize semi-compressible bytes.
func buildBatch(t testing.TB, c Codec, n, valueSize int) []byte {
	t.Helper()
	b := NewBuilder(c)
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	for i := range n {
		b.Add(testNow-int64(n-1-i), []byte(fmt.Sprintf("k%d", i)), textValue(rng, valueSize),
			RecordHeader{Key: "trace", Value: []byte{byte(i)}})
	}
	batch, err := b.Build(nil)
	if err != nil {
		t.Fatalf("build %s batch: %v", c, err)
	}
	return batch
}

// textValue returns size bytes of words drawn from a small vocabulary: data
// that compresses somewhat, like real payloads.
func textValue(rng *rand.Rand, size int) []byte {
	words := []string{"order", "id", "customer", "amount", "{", "}", "\"", ":", ",", "status", "shipped",
		"pending", "2024-05-01T12:00:00Z", "eur", "usd", "true", "false", "null"}
	out := make([]byte, 0, size+32)
	for len(out) < size {
		out = append(out, words[rng.IntN(len(words))]...)
		out = append(out, ' ')
		out = fmt.Appendf(out, "%d", rng.IntN(100000))
	}
	return out[:size]
}

// craft assembles a batch around a raw records section, with a header for
// count records of a fresh client batch; mod adjusts the header first.
func craft(t testing.TB, c Codec, recs []byte, count int32, mod func(*Header)) []byte {
	t.Helper()
	h := Header{
		Magic:           2,
		Attributes:      int16(c),
		LastOffsetDelta: count - 1,
		BaseTimestamp:   testNow,
		MaxTimestamp:    testNow,
		ProducerID:      NoProducerID,
		ProducerEpoch:   NoProducerEpoch,
		BaseSequence:    NoSequence,
		NumRecords:      count,
	}
	if mod != nil {
		mod(&h)
	}
	out, err := assemble(nil, &h, recs, 0)
	if err != nil {
		t.Fatalf("assemble: %v", err)
	}
	return out
}

// recs encodes records for craft.
func recs(rs ...Record) []byte {
	var out []byte
	for i := range rs {
		out = appendRecord(out, &rs[i])
	}
	return out
}

// simple returns n well-formed records with offset deltas 0..n-1, all at
// the batch's base timestamp.
func simple(n int) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = Record{OffsetDelta: int32(i), Key: []byte("k"), Value: []byte("v")}
	}
	return out
}

// wantCode fails unless err is a *ValidationError carrying code.
func wantCode(t testing.TB, err error, code *kerr.Error) *ValidationError {
	t.Helper()
	if code == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError; want %s", err, err, code.Message)
	}
	if !errors.Is(err, code) {
		t.Fatalf("error %v: want %s", err, code.Message)
	}
	return ve
}

// patch copies b and applies f, then recomputes the CRC when crc is set.
func patch(b []byte, crc bool, f func([]byte)) []byte {
	c := append([]byte(nil), b...)
	f(c)
	if crc {
		SetCRC(c)
	}
	return c
}
