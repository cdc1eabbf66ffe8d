package quota

import "math"

// rate is Kafka's Rate over a SampledStat of sums: samples+1 windows in a ring (one more
// than the configured count, so that a full count of windows remains after the current one
// rolls), each opened by the first recording after the previous one is windowMs old.
// Times are milliseconds, as in Kafka, so that throttle times come out the same.
type rate struct {
	samples  []sample
	current  int
	nSamples int   // quota.window.num
	windowMs int64 // quota.window.size.seconds in ms
}

type sample struct {
	start     int64 // when the window opened
	lastEvent int64
	value     float64
}

func newRate(nSamples int, windowMs int64) *rate {
	return &rate{nSamples: nSamples, windowMs: windowMs}
}

func (r *rate) cur(now int64) *sample {
	if len(r.samples) == 0 {
		r.samples = append(r.samples, sample{start: now, lastEvent: now})
	}
	return &r.samples[r.current]
}

func (r *rate) record(v float64, now int64) {
	s := r.cur(now)
	if now-s.start >= r.windowMs {
		r.current = (r.current + 1) % (r.nSamples + 1)
		if r.current >= len(r.samples) {
			r.samples = append(r.samples, sample{start: now})
		} else {
			r.samples[r.current] = sample{start: now}
		}
		s = &r.samples[r.current]
	}
	s.value += v
	s.lastEvent = now
}

// purge empties the samples with no recording in the last nSamples windows.
func (r *rate) purge(now int64) {
	expire := int64(r.nSamples) * r.windowMs
	for i := range r.samples {
		if now-r.samples[i].lastEvent >= expire {
			r.samples[i] = sample{start: now, lastEvent: now}
		}
	}
}

// windowSize is the span the rate divides by: from the oldest window's start to now,
// counted as at least nSamples-1 full windows, and at least 1 ms.
func (r *rate) windowSize(now int64) int64 {
	r.purge(now)
	oldest := r.cur(now).start
	for _, s := range r.samples {
		oldest = min(oldest, s.start)
	}
	elapsed := now - oldest
	if full, minFull := elapsed/r.windowMs, int64(r.nSamples-1); full < minFull {
		elapsed += (minFull - full) * r.windowMs
	}
	return max(elapsed, 1)
}

// measure returns the rate per second and the span it was measured over.
func (r *rate) measure(now int64) (perSecond float64, spanMs int64) {
	spanMs = r.windowSize(now)
	total := 0.0
	for _, s := range r.samples {
		total += s.value
	}
	return total / (float64(spanMs) / 1000), spanMs
}

// throttleMs is Kafka's QuotaUtils.throttleTime: how long until the rate, with nothing more
// recorded, falls back to the quota; 0 when within it; at most maxMs. A quota of 0 (which
// the formula cannot divide by) throttles for the whole span the rate is measured over.
func throttleMs(rate, quota float64, spanMs int64, maxMs int64) int64 {
	if rate <= quota {
		return 0
	}
	if quota <= 0 {
		return min(spanMs, maxMs)
	}
	t := math.Round((rate - quota) / quota * float64(spanMs))
	if t > float64(maxMs) {
		return maxMs
	}
	return int64(t)
}

// tokenBucket is Kafka's TokenBucket, which controller_mutation_rate uses: it holds up to
// quota * nSamples * window seconds permits, refills at quota per second, and may go
// negative, which is a violation until refilled.
type tokenBucket struct {
	tokens     float64
	lastUpdate int64
	started    bool
}

func (b *tokenBucket) refill(quota, burst float64, now int64) {
	if !b.started {
		b.tokens, b.lastUpdate, b.started = burst, now, true
		return
	}
	if now > b.lastUpdate {
		b.tokens = math.Min(burst, b.tokens+quota*float64(now-b.lastUpdate)/1000)
		b.lastUpdate = now
	}
}
