package perf

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsRoundTrip(t *testing.T) {
	// Every value lies in its bucket, buckets are ordered, and a bucket is
	// at most 1/64 of its values wide.
	r := rand.New(rand.NewPCG(1, 1))
	vals := []int64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 1<<62 + 12345, 1<<63 - 1}
	for range 10000 {
		vals = append(vals, r.Int64N(1<<uint(r.IntN(62)+1)))
	}
	for _, v := range vals {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, outside [0,%d)", v, i, numBuckets)
		}
		hi := bucketHigh(i)
		lo := int64(0)
		if i > 0 {
			lo = bucketHigh(i-1) + 1
		}
		if v < lo || v > hi {
			t.Fatalf("value %d in bucket %d = [%d,%d]", v, i, lo, hi)
		}
		if width := hi - lo + 1; v >= subCount && float64(width) > float64(lo)/64+1 {
			t.Fatalf("bucket %d [%d,%d] is wider than 1/64 of its low bound", i, lo, hi)
		}
	}
}

func TestQuantilesMatchExactOnes(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	var h Histogram
	var exact []time.Duration
	for range 100000 {
		// A long tail: mostly ~100µs, some ~10ms, rare ~1s.
		d := time.Duration(r.ExpFloat64() * float64(100*time.Microsecond))
		switch x := r.IntN(1000); {
		case x == 0:
			d = time.Second + time.Duration(r.IntN(1e8))
		case x < 20:
			d = 10*time.Millisecond + time.Duration(r.IntN(1e6))
		}
		h.Record(d)
		exact = append(exact, d)
	}
	slices.Sort(exact)
	s := h.Snapshot()
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := exact[int(q*float64(len(exact)))-1]
		got := s.Quantile(q)
		if diff := float64(got-want) / float64(want); diff < -0.001 || diff > 1.0/64 {
			t.Errorf("p%v = %v, exact %v (off by %.2f%%)", q*100, got, want, diff*100)
		}
	}
	if s.Max() != exact[len(exact)-1] {
		t.Errorf("max = %v, want %v", s.Max(), exact[len(exact)-1])
	}
	if s.Count() != uint64(len(exact)) {
		t.Errorf("count = %d, want %d", s.Count(), len(exact))
	}
}

func TestSnapshotIntervals(t *testing.T) {
	var h Histogram
	for range 100 {
		h.Record(time.Millisecond)
	}
	first := h.Snapshot()
	for range 100 {
		h.Record(5 * time.Millisecond)
	}
	d := h.Snapshot().Sub(first)
	if d.Count() != 100 {
		t.Fatalf("interval count = %d, want 100", d.Count())
	}
	if p := d.Quantile(0.5); p < 5*time.Millisecond || p > 5*time.Millisecond*65/64 {
		t.Errorf("interval p50 = %v, want about 5ms", p)
	}
	if m := d.Max(); m != 5*time.Millisecond {
		t.Errorf("interval max = %v, want 5ms", m)
	}
	var empty Histogram
	if s := empty.Snapshot().Summary(); s.Count != 0 || s.P99Ms != 0 || s.MaxMs != 0 {
		t.Errorf("empty summary = %+v", s)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	var h Histogram
	if n := testing.AllocsPerRun(1000, func() { h.Record(123 * time.Microsecond) }); n != 0 {
		t.Fatalf("Record allocates %v times", n)
	}
}

func BenchmarkRecord(b *testing.B) {
	var h Histogram
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i))
	}
}
