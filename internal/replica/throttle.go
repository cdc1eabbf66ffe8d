package replica

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Replication throttles, as Kafka's reassignment throttles: a broker limits the bytes
// it sends as leader (leader.replication.throttled.rate) and fetches as follower
// (follower.replication.throttled.rate) for the replicas that topics list in
// leader/follower.replication.throttled.replicas ("partition:broker" pairs or "*"), and
// only while those replicas are out of sync, so that catching up never slows the
// replication that acknowledgements wait for.

// rateLimiter is a token bucket holding at most one second of its rate: over any long
// stretch the bytes it lets through average the rate. A transfer may overdraw it; the
// next ones wait until it has refilled.
type rateLimiter struct {
	mu     sync.Mutex
	rate   float64 // bytes per second; +Inf: unlimited
	tokens float64
	last   time.Time
}

func (r *rateLimiter) setRate(rate int64, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := float64(rate)
	if rate <= 0 || rate == math.MaxInt64 {
		f = math.Inf(1)
	}
	if f != r.rate {
		r.refill(now)
		r.rate = f
		if !math.IsInf(f, 1) {
			r.tokens = min(r.tokens, f)
		}
	}
}

func (r *rateLimiter) refill(now time.Time) {
	if !r.last.IsZero() && !math.IsInf(r.rate, 1) {
		r.tokens = min(r.rate, r.tokens+r.rate*now.Sub(r.last).Seconds())
	}
	r.last = now
}

// exceeded reports whether the bucket is empty, and how long until it is not.
func (r *rateLimiter) exceeded(now time.Time) (bool, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rate == 0 || math.IsInf(r.rate, 1) {
		return false, 0
	}
	r.refill(now)
	if r.tokens > 0 {
		return false, 0
	}
	return true, time.Duration((-r.tokens + 1) / r.rate * float64(time.Second))
}

// record takes n bytes from the bucket.
func (r *rateLimiter) record(n int, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rate == 0 || math.IsInf(r.rate, 1) {
		return
	}
	r.refill(now)
	r.tokens -= float64(n)
}

// throttledReplica reports whether a topic's throttled-replicas list names replica
// broker of partition.
func throttledReplica(list []string, partition, broker int32) bool {
	for _, e := range list {
		e = strings.TrimSpace(e)
		if e == "*" {
			return true
		}
		p, b, ok := strings.Cut(e, ":")
		if !ok {
			continue
		}
		pi, err1 := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
		bi, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
		if err1 == nil && err2 == nil && int32(pi) == partition && int32(bi) == broker {
			return true
		}
	}
	return false
}
