package replica

import (
	"math"
	"testing"
	"time"
)

// TestRateLimiterAverage: a sender that sends a chunk whenever the limiter allows moves
// the rate's worth of bytes over a long stretch, within 20%.
func TestRateLimiterAverage(t *testing.T) {
	for _, chunk := range []int{100, 4096, 1 << 20} {
		var r rateLimiter
		start := time.Unix(1000, 0)
		r.setRate(100_000, start)
		now, sent := start, 0
		for now.Sub(start) < 60*time.Second {
			if spent, wait := r.exceeded(now); spent {
				now = now.Add(wait)
				continue
			}
			r.record(chunk, now)
			sent += chunk
			now = now.Add(time.Millisecond)
		}
		rate := float64(sent) / now.Sub(start).Seconds()
		if math.Abs(rate-100_000)/100_000 > 0.2 {
			t.Errorf("chunks of %d: %.0f B/s, want 100000 within 20%%", chunk, rate)
		}
	}
}

func TestRateLimiterUnlimited(t *testing.T) {
	var r rateLimiter
	now := time.Now()
	r.setRate(math.MaxInt64, now)
	r.record(1<<30, now)
	if spent, _ := r.exceeded(now); spent {
		t.Fatal("an unlimited rate is exceeded")
	}
}

func TestThrottledReplica(t *testing.T) {
	for _, tc := range []struct {
		list      []string
		p, b      int32
		throttled bool
	}{
		{nil, 0, 1, false},
		{[]string{"*"}, 3, 9, true},
		{[]string{"0:101", "1:102"}, 1, 102, true},
		{[]string{"0:101", "1:102"}, 1, 101, false},
		{[]string{" 2 : 4 "}, 2, 4, true},
		{[]string{"junk"}, 0, 0, false},
	} {
		if got := throttledReplica(tc.list, tc.p, tc.b); got != tc.throttled {
			t.Errorf("throttledReplica(%q, %d, %d) = %v", tc.list, tc.p, tc.b, got)
		}
	}
}
