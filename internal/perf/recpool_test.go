package perf

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestRecordPoolCapacities(t *testing.T) {
	var p recordPool
	for _, n := range []int{0, 1, 2, 3, 100, 1024, 1025} {
		s := p.GetRecords(n)
		if cap(s) < n || len(s) != 0 {
			t.Fatalf("GetRecords(%d): len %d cap %d", n, len(s), cap(s))
		}
		if c := cap(s); c&(c-1) != 0 {
			t.Fatalf("GetRecords(%d): capacity %d is not a power of two", n, c)
		}
	}
}

func TestRecordPoolClearsWhatComesBack(t *testing.T) {
	var p recordPool
	s := p.GetRecords(8)
	s = append(s, kgo.Record{Value: []byte("v"), Offset: 7})
	p.PutRecords(s)
	// A slice handed out again must hold nothing of its old records (nor
	// keep their values from the garbage collector).
	if r := s[:1][0]; r.Value != nil || r.Offset != 0 {
		t.Fatalf("record left in a slice given back: %+v", r)
	}
	// A slice of a capacity that is no class's is not kept.
	p.PutRecords(make([]kgo.Record, 0, 6))
	if c := cap(p.GetRecords(5)); c != 8 {
		t.Fatalf("GetRecords(5) after putting a capacity-6 slice: capacity %d, want 8", c)
	}
}
