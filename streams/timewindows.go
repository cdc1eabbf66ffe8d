package streams

import (
	"errors"
	"fmt"
	"time"
)

// TimeWindows are fixed-size windows aligned to the epoch, as Kafka
// Streams' TimeWindows: tumbling when they advance by their size (each
// record in exactly one window), hopping when they advance by less (each
// record in size/advance windows). A window covers [start, start+size).
// Records later than the grace period after a window's end are dropped
// from it.
//
// A definition that Kafka would refuse (a size under a millisecond, a
// negative grace, an advance of zero or beyond the size) is reported when
// the topology is built.
type TimeWindows struct {
	size, advance, grace int64 // milliseconds
	err                  error
}

// OfSizeWithNoGrace makes tumbling windows of size that accept no record
// after their end.
func OfSizeWithNoGrace(size time.Duration) TimeWindows { return OfSizeAndGrace(size, 0) }

// OfSizeAndGrace makes tumbling windows of size that still accept records
// up to grace after their end.
func OfSizeAndGrace(size, grace time.Duration) TimeWindows {
	w := TimeWindows{size: size.Milliseconds(), advance: size.Milliseconds(), grace: grace.Milliseconds()}
	switch {
	case w.size <= 0:
		w.err = fmt.Errorf("time windows: window size %v must be at least 1ms", size)
	case grace < 0:
		w.err = fmt.Errorf("time windows: grace period %v must not be negative", grace)
	}
	return w
}

// AdvanceBy makes the windows hop: a new window starts every advance, which
// must be more than zero and no more than the size.
func (w TimeWindows) AdvanceBy(advance time.Duration) TimeWindows {
	w.advance = advance.Milliseconds()
	if w.err == nil && (w.advance <= 0 || w.advance > w.size) {
		w.err = fmt.Errorf("time windows: advance %v must be more than zero and no more than the window size %dms", advance, w.size)
	}
	return w
}

// Size is the window size.
func (w TimeWindows) Size() time.Duration { return time.Duration(w.size) * time.Millisecond }

// Advance is the time between window starts.
func (w TimeWindows) Advance() time.Duration { return time.Duration(w.advance) * time.Millisecond }

// GracePeriod is how long after its end a window still takes records.
func (w TimeWindows) GracePeriod() time.Duration { return time.Duration(w.grace) * time.Millisecond }

// WindowsFor lists the windows that hold a record of timestamp ts (ms), in
// start order. Windows start at multiples of the advance, none before 0.
func (w TimeWindows) WindowsFor(ts int64) []Window {
	if w.err != nil || w.advance <= 0 {
		return nil
	}
	start := max(0, ts-w.size+w.advance) / w.advance * w.advance
	var out []Window
	for ; start <= ts; start += w.advance {
		end := start + w.size
		if end < start { // overflow: Kafka caps the end
			end = 1<<63 - 1
		}
		out = append(out, Window{Start: start, End: end})
	}
	return out
}

// SlidingWindows are Kafka Streams' sliding windows (KIP-450): windows of a
// fixed time difference whose both ends are inclusive, made only where
// records are. Each record has its own window [ts-diff, ts], and a record
// also opens the window that starts just after it, [ts+1, ts+1+diff], when
// later records fall in it; so every distinct set of records that lie
// within diff of each other is aggregated once.
type SlidingWindows struct {
	diff, grace int64 // milliseconds
	err         error
}

// SlidingOfTimeDifferenceWithNoGrace makes sliding windows of the time
// difference diff that accept no record after their end (Kafka's
// SlidingWindows.ofTimeDifferenceWithNoGrace; the name without the prefix
// is the join windows').
func SlidingOfTimeDifferenceWithNoGrace(diff time.Duration) SlidingWindows {
	return SlidingOfTimeDifferenceAndGrace(diff, 0)
}

// SlidingOfTimeDifferenceAndGrace makes sliding windows of the time
// difference diff that accept records up to grace after their end.
func SlidingOfTimeDifferenceAndGrace(diff, grace time.Duration) SlidingWindows {
	w := SlidingWindows{diff: diff.Milliseconds(), grace: grace.Milliseconds()}
	switch {
	case diff < 0:
		w.err = fmt.Errorf("sliding windows: time difference %v must not be negative", diff)
	case grace < 0:
		w.err = fmt.Errorf("sliding windows: grace period %v must not be negative", grace)
	}
	return w
}

// TimeDifference is the length of each window.
func (w SlidingWindows) TimeDifference() time.Duration {
	return time.Duration(w.diff) * time.Millisecond
}

// GracePeriod is how long after its end a window still takes records.
func (w SlidingWindows) GracePeriod() time.Duration { return time.Duration(w.grace) * time.Millisecond }

// errNoWindows is what a zero TimeWindows reports.
var errNoWindows = errors.New("time windows not defined: make them with OfSizeWithNoGrace or OfSizeAndGrace")
