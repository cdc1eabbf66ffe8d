package streams

import (
	"errors"
	"fmt"
	"time"
)

// SessionWindows groups the records of each key into sessions: periods of
// activity separated by at least the inactivity gap. A session is
// [first record's time, last record's time], both inclusive; a record
// within the gap of a session joins it, and a record within the gap of two
// sessions merges them into one. Sessions are not aligned to the clock and
// differ from key to key.
//
// The grace period admits out-of-order records: a record whose session
// would end more than gap + grace before the stream time (the largest
// timestamp the aggregation has seen) is dropped as late, as in Kafka
// Streams, where a session closes a gap after its last record and then
// waits out the grace.
type SessionWindows struct {
	gap, grace int64 // milliseconds
	err        error
}

// OfInactivityGapWithNoGrace returns session windows that close gap after
// their last record, admitting no later record.
func OfInactivityGapWithNoGrace(gap time.Duration) SessionWindows {
	return OfInactivityGapAndGrace(gap, 0)
}

// OfInactivityGapAndGrace returns session windows that close gap after
// their last record and still admit out-of-order records for grace after
// that. A gap under 1ms or a negative grace is an error, which the builder
// reports from Build.
func OfInactivityGapAndGrace(gap, grace time.Duration) SessionWindows {
	w := SessionWindows{gap: gap.Milliseconds(), grace: grace.Milliseconds()}
	switch {
	case w.gap <= 0:
		w.err = fmt.Errorf("session windows: inactivity gap %v: %w", gap, errGap)
	case grace < 0:
		w.err = fmt.Errorf("session windows: grace period %v: %w", grace, errGrace)
	}
	return w
}

var (
	errGap   = errors.New("gap time cannot be zero or negative (or under 1ms)")
	errGrace = errors.New("grace period must not be negative")
)

// InactivityGap is the gap that ends a session.
func (w SessionWindows) InactivityGap() time.Duration { return time.Duration(w.gap) * time.Millisecond }

// GracePeriod is how long after it closes a session still admits records.
func (w SessionWindows) GracePeriod() time.Duration { return time.Duration(w.grace) * time.Millisecond }
