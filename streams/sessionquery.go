package streams

import (
	"fmt"

	"github.com/sluicehq/sluice/streams/state"
)

// QuerySessionStore gives read-only access to the local instances of a
// session store (a session-windowed aggregation's), for interactive
// queries: Kafka's QueryableStoreTypes.sessionStore(). As with QueryStore,
// each call looks the tasks up afresh, and a key whose task runs on
// another instance has no sessions here.
func QuerySessionStore[K, V any](a *App, name string) (state.ReadOnlySessionStore[K, V], error) {
	l := &localSessionStores[K, V]{a: a, name: name}
	if _, err := l.stores(); err != nil {
		return nil, err
	}
	return l, nil
}

// localSessionStores reads across the local instances of a session store.
// A key lives in one task, so the first instance with sessions for it
// answers.
type localSessionStores[K, V any] struct {
	a    *App
	name string
}

func (l *localSessionStores[K, V]) stores() ([]state.SessionStore[K, V], error) {
	ss, err := l.a.rt.Store(l.name)
	if err != nil {
		return nil, err
	}
	if len(ss) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrStoreUnavailable, l.name)
	}
	out := make([]state.SessionStore[K, V], 0, len(ss))
	for _, s := range ss {
		sess, err := state.AsSession[K, V](s)
		if err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	return out, nil
}

func (l *localSessionStores[K, V]) Name() string { return l.name }

func (l *localSessionStores[K, V]) Fetch(key K, fn func(state.Session[K, V]) bool) error {
	return l.each(func(s state.SessionStore[K, V], visit func(state.Session[K, V]) bool) error {
		return s.Fetch(key, visit)
	}, fn)
}

func (l *localSessionStores[K, V]) FindSessions(key K, earliestSessionEnd, latestSessionStart int64, fn func(state.Session[K, V]) bool) error {
	return l.each(func(s state.SessionStore[K, V], visit func(state.Session[K, V]) bool) error {
		return s.FindSessions(key, earliestSessionEnd, latestSessionStart, visit)
	}, fn)
}

// each runs scan on the stores until one of them has sessions (or fn
// stops).
func (l *localSessionStores[K, V]) each(scan func(state.SessionStore[K, V], func(state.Session[K, V]) bool) error, fn func(state.Session[K, V]) bool) error {
	ss, err := l.stores()
	if err != nil {
		return err
	}
	for _, s := range ss {
		found := false
		if err := scan(s, func(sn state.Session[K, V]) bool { found = true; return fn(sn) }); err != nil || found {
			return err
		}
	}
	return nil
}

// FetchRange visits each local store in turn: the keys of a range live in
// several tasks, so the order holds within a task's store only.
func (l *localSessionStores[K, V]) FetchRange(from, to K, fn func(state.Session[K, V]) bool) error {
	ss, err := l.stores()
	if err != nil {
		return err
	}
	stop := false
	for _, s := range ss {
		if err := s.FetchRange(from, to, func(sn state.Session[K, V]) bool { stop = !fn(sn); return !stop }); err != nil || stop {
			return err
		}
	}
	return nil
}

func (l *localSessionStores[K, V]) FetchSession(key K, start, end int64) (V, bool, error) {
	var zero V
	ss, err := l.stores()
	if err != nil {
		return zero, false, err
	}
	for _, s := range ss {
		v, ok, err := s.FetchSession(key, start, end)
		if err != nil || ok {
			return v, ok, err
		}
	}
	return zero, false, nil
}
