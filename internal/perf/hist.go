package perf

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram counts durations in logarithmic buckets, as HdrHistogram does:
// values below 2^subBits nanoseconds are exact, and above that every power
// of two is split into 2^(subBits-1) linear buckets, so a reported quantile
// is within 1/64 (1.6%) of the true value across nanoseconds to hours, in a
// fixed 30 KiB of counters. Record is safe for concurrent use and does not
// allocate; readers take a Snapshot.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Int64 // nanoseconds
	max    atomic.Int64
}

const (
	subBits    = 7
	subCount   = 1 << subBits     // 128 exact values, then 64 buckets per octave
	halfSub    = subCount / 2     // 64
	maxShift   = 63 - subBits + 1 // 57: values up to 2^63
	numBuckets = (maxShift+1)*halfSub + halfSub
)

// bucketOf maps a non-negative value to its bucket index.
func bucketOf(v int64) int {
	if v < subCount {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits
	sub := int(uint64(v) >> uint(shift)) // in [halfSub, subCount)
	return shift*halfSub + sub
}

// bucketHigh is the largest value that falls in bucket i.
func bucketHigh(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	shift := i/halfSub - 1
	sub := i - shift*halfSub
	return int64(uint64(sub+1)<<uint(shift)) - 1
}

// Record adds one duration.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
}

// Snapshot is a point-in-time copy of a Histogram's counts.
type Snapshot struct {
	counts [numBuckets]uint64
	total  uint64
	sum    int64
	max    int64
}

// Snapshot copies the current counts. Under concurrent Records the copy is
// not one instant, which does not matter for reporting.
func (h *Histogram) Snapshot() *Snapshot {
	s := &Snapshot{total: h.total.Load(), sum: h.sum.Load(), max: h.max.Load()}
	var n uint64
	for i := range h.counts {
		c := h.counts[i].Load()
		s.counts[i] = c
		n += c
	}
	s.total = n // the buckets, not the separate counter, define the quantiles
	return s
}

// Sub returns the counts recorded between prev and s (prev may be nil). The
// maximum of the interval is approximated by its highest bucket.
func (s *Snapshot) Sub(prev *Snapshot) *Snapshot {
	if prev == nil {
		c := *s
		return &c
	}
	d := &Snapshot{sum: s.sum - prev.sum}
	top := -1
	for i := range s.counts {
		c := s.counts[i] - prev.counts[i]
		d.counts[i] = c
		d.total += c
		if c > 0 {
			top = i
		}
	}
	if top >= 0 {
		d.max = min(bucketHigh(top), s.max)
	}
	return d
}

// Merge adds o's counts to s.
func (s *Snapshot) Merge(o *Snapshot) {
	for i := range s.counts {
		s.counts[i] += o.counts[i]
	}
	s.total += o.total
	s.sum += o.sum
	s.max = max(s.max, o.max)
}

// Count is the number of recorded values.
func (s *Snapshot) Count() uint64 { return s.total }

// Max is the largest recorded value.
func (s *Snapshot) Max() time.Duration { return time.Duration(s.max) }

// Mean is the average recorded value.
func (s *Snapshot) Mean() time.Duration {
	if s.total == 0 {
		return 0
	}
	return time.Duration(s.sum / int64(s.total))
}

// Quantile returns the value at quantile q in [0, 1]: the upper bound of the
// bucket holding the ceil(q*count)-th smallest value, capped at the maximum.
func (s *Snapshot) Quantile(q float64) time.Duration {
	if s.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(s.total)))
	rank = max(rank, 1)
	var seen uint64
	for i := range s.counts {
		seen += s.counts[i]
		if seen >= rank {
			return time.Duration(min(bucketHigh(i), s.max))
		}
	}
	return time.Duration(s.max)
}

// Latency is a summary of a histogram in milliseconds, for reports and JSON.
type Latency struct {
	Count  uint64  `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p99_9_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Summary summarises s.
func (s *Snapshot) Summary() Latency {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return Latency{
		Count:  s.total,
		MeanMs: ms(s.Mean()),
		P50Ms:  ms(s.Quantile(0.50)),
		P99Ms:  ms(s.Quantile(0.99)),
		P999Ms: ms(s.Quantile(0.999)),
		MaxMs:  ms(s.Max()),
	}
}
