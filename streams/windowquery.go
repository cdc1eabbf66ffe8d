package streams

import (
	"fmt"

	"github.com/sluicehq/sluice/streams/state"
)

// QueryWindowStore gives read-only access to the local instances of a
// window store (a time- or sliding-windowed aggregation's), for
// interactive queries: Kafka's QueryableStoreTypes.windowStore(). As with
// QueryStore, each call looks the tasks up afresh, and a key whose task
// runs on another instance has no windows here. FetchAll and All visit
// each local task's windows in time order, one task after another.
func QueryWindowStore[K, V any](a *App, name string) (state.ReadOnlyWindowStore[K, V], error) {
	l := &localWindowStores[K, V]{a: a, name: name}
	if _, err := l.stores(); err != nil {
		return nil, err
	}
	return l, nil
}

// localWindowStores reads across the local instances of a window store.
type localWindowStores[K, V any] struct {
	a    *App
	name string
}

func (l *localWindowStores[K, V]) stores() ([]state.WindowStore[K, V], error) {
	ss, err := l.a.rt.Store(l.name)
	if err != nil {
		return nil, err
	}
	if len(ss) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrStoreUnavailable, l.name)
	}
	out := make([]state.WindowStore[K, V], 0, len(ss))
	for _, s := range ss {
		ws, err := state.AsWindowStore[K, V](s)
		if err != nil {
			return nil, err
		}
		out = append(out, ws)
	}
	return out, nil
}

func (l *localWindowStores[K, V]) Name() string { return l.name }

func (l *localWindowStores[K, V]) WindowSize() int64 {
	ss, err := l.stores()
	if err != nil {
		return 0
	}
	return ss[0].WindowSize()
}

func (l *localWindowStores[K, V]) Get(k K, windowStart int64) (V, bool, error) {
	var zero V
	ss, err := l.stores()
	if err != nil {
		return zero, false, err
	}
	for _, s := range ss {
		v, ok, err := s.Get(k, windowStart)
		if err != nil || ok {
			return v, ok, err
		}
	}
	return zero, false, nil
}

// Fetch answers from the first local task that has windows of k in the
// range: a key lives in one task.
func (l *localWindowStores[K, V]) Fetch(k K, timeFrom, timeTo int64, fn func(int64, V) bool) error {
	ss, err := l.stores()
	if err != nil {
		return err
	}
	for _, s := range ss {
		found := false
		if err := s.Fetch(k, timeFrom, timeTo, func(start int64, v V) bool { found = true; return fn(start, v) }); err != nil || found {
			return err
		}
	}
	return nil
}

func (l *localWindowStores[K, V]) FetchAll(timeFrom, timeTo int64, fn func(K, int64, V) bool) error {
	ss, err := l.stores()
	if err != nil {
		return err
	}
	stop := false
	for _, s := range ss {
		if err := s.FetchAll(timeFrom, timeTo, func(k K, start int64, v V) bool { stop = !fn(k, start, v); return !stop }); err != nil || stop {
			return err
		}
	}
	return nil
}

func (l *localWindowStores[K, V]) All(fn func(K, int64, V) bool) error {
	return l.FetchAll(-1<<63, 1<<63-1, fn)
}
