package group

import "time"

// Clock is the coordinator's source of time. Every timeout of the group
// protocol (sessions, rebalances, the initial rebalance delay, pending syncs,
// offset retention) goes through it, so tests drive them with a fake clock
// instead of sleeping.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine (or, for a fake clock, from
	// the goroutine that advances it) once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not started; it reports whether it
	// did. A callback may still run after Stop returns false, so callbacks
	// check that they are still wanted.
	Stop() bool
}

// SystemClock is the wall clock.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
