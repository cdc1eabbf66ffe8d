package streams

import (
	"fmt"
	"math"

	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/state"
	"github.com/sluicehq/sluice/streams/state/pebblestore"
)

// SessionWindowedKStream is a grouped stream cut into session windows,
// ready to aggregate: each aggregation keeps one aggregate per session of
// each key, in a session store, and yields a table keyed by the key and its
// session (Windowed[K]).
type SessionWindowedKStream[K, V any] struct {
	g KGroupedStream[K, V]
	w SessionWindows
}

// WindowedBySession cuts a grouped stream into session windows (Kafka's
// groupedStream.windowedBy(SessionWindows)):
//
//	sessions := streams.WindowedBySession(clicks.GroupByKey(), streams.OfInactivityGapWithNoGrace(5*time.Minute))
//	counts := sessions.Count()
//
// It is a function, not a method of KGroupedStream, because Go rejects the
// instantiation cycle a method would make: KGroupedStream[K] would lead to
// KTable[Windowed[K]], whose ToStream and GroupByKey lead back to
// KGroupedStream[Windowed[K]], and so on without end.
func WindowedBySession[K, V any](g KGroupedStream[K, V], w SessionWindows) SessionWindowedKStream[K, V] {
	checkSessionWindows(g.s.b, w)
	return SessionWindowedKStream[K, V]{g: g, w: w}
}

func checkSessionWindows(b *Builder, w SessionWindows) {
	switch {
	case w.err != nil:
		b.fail(fmt.Errorf("windowedBy: %w", w.err))
	case w.gap <= 0:
		b.fail(fmt.Errorf("windowedBy: session windows without a gap: make them with OfInactivityGapWithNoGrace or OfInactivityGapAndGrace"))
	}
}

// Count counts the records of each session. Records with a null key are
// skipped. Options: Named, WithStore, InMemory, WithoutCaching,
// WithoutLogging, WithLogConfig, WithRetention (Kafka's Materialized).
func (s SessionWindowedKStream[K, V]) Count(opts ...Option) KTable[Windowed[K], int64] {
	o := collect(opts)
	o.valueSerde = nil
	return sessionAggregate(s, o, "KSTREAM-COUNT", serde.Int64, sessionSteps[K, V, int64]{
		init:  func() (int64, bool) { return 0, true },
		add:   func(_ K, _ V, n int64, _ bool) int64 { return n + 1 },
		merge: func(_ K, n int64, _ bool, m int64) int64 { return n + m },
	})
}

// Reduce combines the values of each session: the first value as it is,
// then reduce(aggregate, value); when a record merges sessions, their
// aggregates are combined with reduce too, earliest session first.
func (s SessionWindowedKStream[K, V]) Reduce(reduce func(agg, v V) V, opts ...Option) KTable[Windowed[K], V] {
	o := collect(opts)
	vals := pickSerde(s.g.s.b, o.valueSerde, s.g.vals)
	combine := func(agg V, had bool, v V) V {
		if !had {
			return v
		}
		return reduce(agg, v)
	}
	return sessionAggregate(s, o, "KSTREAM-REDUCE", vals, sessionSteps[K, V, V]{
		init:  func() (V, bool) { var zero V; return zero, false },
		add:   func(_ K, v V, agg V, had bool) V { return combine(agg, had, v) },
		merge: func(_ K, agg V, had bool, next V) V { return combine(agg, had, next) },
	})
}

// AggregateSessions folds the values of each session into an aggregate of
// another type, starting from init(). When a record falls within the gap
// of existing sessions, they become one: merge(key, agg, next) combines
// their aggregates (starting from init(), earliest session first) before
// the record is added with agg.
func AggregateSessions[K, V, VA any](s SessionWindowedKStream[K, V], init func() VA, agg func(K, V, VA) VA, merge func(key K, agg, next VA) VA, opts ...Option) KTable[Windowed[K], VA] {
	o := collect(opts)
	vals := pickSerde[VA](s.g.s.b, o.valueSerde, nil)
	return sessionAggregate(s, o, "KSTREAM-AGGREGATE", vals, sessionSteps[K, V, VA]{
		init:  func() (VA, bool) { return init(), true },
		add:   func(k K, v V, a VA, _ bool) VA { return agg(k, v, a) },
		merge: func(k K, a VA, _ bool, next VA) VA { return merge(k, a, next) },
	})
}

// sessionSteps are an aggregation's functions. had says whether agg holds
// anything yet (a reduction starts from nothing).
type sessionSteps[K, V, VA any] struct {
	init  func() (agg VA, had bool)
	add   func(k K, v V, agg VA, had bool) VA
	merge func(k K, agg VA, had bool, next VA) VA
}

// sessionStoreBuilder makes the session store of an aggregation over w:
// its retention is WithRetention's, which must cover gap + grace, or else
// gap + grace (Kafka's default). It is a windowedStore, so that
// suppression downstream finds when sessions close.
func sessionStoreBuilder[K, VA any](b *Builder, o *options, prefix string, w SessionWindows, keys serde.Serde[K], vals serde.Serde[VA]) state.Builder {
	retention := satAdd(w.gap, w.grace)
	if o.retention != 0 {
		r := o.retention.Milliseconds()
		if r < retention {
			b.fail(fmt.Errorf("the retention period of a session store (%v) must be no smaller than the inactivity gap plus the grace period (%dms)", o.retention, retention))
		}
		retention = r
	}
	store := o.store
	if store == "" {
		store = b.name(nil, prefix+"-STATE-STORE")
	}
	var sup state.Supplier
	if o.inMemory {
		sup = state.InMemory(store)
	} else {
		sup = pebblestore.Supplier(store)
	}
	sb := state.NewSessionStoreBuilder(sup, keys, vals, retention).
		WithCaching(!o.noCache).
		WithLogging(!o.noLog, o.logConfig)
	// A session closes a gap after its end and then waits out the grace:
	// what SuppressUntilWindowCloses waits for, as Kafka's grace search
	// finds for a session aggregation.
	return windowedStore{Builder: sb, grace: satAdd(w.gap, w.grace)}
}

// sessionAggregate adds the session store and the node that aggregates
// into it.
func sessionAggregate[K, V, VA any](s SessionWindowedKStream[K, V], o *options, prefix string, vals serde.Serde[VA], steps sessionSteps[K, V, VA]) KTable[Windowed[K], VA] {
	b := s.g.s.b
	keys := pickSerde(b, o.keySerde, s.g.keys)
	sb := sessionStoreBuilder(b, o, prefix, s.w, keys, vals)
	name := b.name(o, prefix)
	src := s.g.source(sb.Name())
	addSessionAggregator(b, name, sb.Name(), src.node, s.w, steps)
	b.t.AddStore(sb, name)
	return KTable[Windowed[K], VA]{b: b, node: name, store: sb.Name(), keys: SessionWindowedSerde(keys), vals: vals}
}

// addSessionAggregator adds the node that aggregates records into the
// sessions of store, as Kafka's KStreamSessionWindowAggregate does: a record
// finds its key's sessions within the gap of its timestamp, merges them
// into one session spanning them all (deleting them and forwarding their
// deletes), adds itself, and stores and forwards the result stamped with
// the session's end; a record whose merged session ends before stream time
// minus gap and grace is dropped as late.
func addSessionAggregator[K, V, VA any](b *Builder, name, store, parent string, w SessionWindows, steps sessionSteps[K, V, VA]) {
	b.addNode(name, func() *node {
		var ss *state.TypedSessionStore[K, VA]
		var cached bool
		observed := int64(-1) // this processor's stream time, as Kafka's
		return &node{
			init: func(ctx processor.NodeContext) error {
				var err error
				ss, cached, err = sessionStore[K, VA](ctx, store)
				return err
			},
			process: func(ctx processor.NodeContext, r processor.AnyRecord) error {
				if r.Key == nil {
					recordDropped(ctx, "null key")
					return nil
				}
				k := typed[K](r.Key)
				ts := r.Timestamp
				observed = max(observed, ts)
				closeTime := observed - w.grace - w.gap
				agg, had := steps.init()
				var merged []state.Session[K, VA]
				start, end := ts, ts
				err := ss.FindSessions(k, ts-w.gap, satAdd(ts, w.gap), func(sn state.Session[K, VA]) bool {
					merged = append(merged, sn)
					agg, had = steps.merge(k, agg, had, sn.Value), true
					start, end = min(start, sn.Start), max(end, sn.End)
					return true
				})
				if err != nil {
					return err
				}
				if end < closeTime {
					recordDropped(ctx, "late record: its session closed", "window_start", start, "window_end", end, "close_time", closeTime, "stream_time", observed)
					return nil
				}
				if start != ts || end != ts {
					for _, sn := range merged {
						if err := ss.Remove(k, sn.Start, sn.End); err != nil {
							return err
						}
						if !cached {
							wk := Windowed[K]{Key: k, Window: Window{Start: sn.Start, End: sn.End}}
							if err := ctx.Forward(processor.AnyRecord{Key: wk, Value: change{old: sn.Value}, Timestamp: sn.End, Headers: r.Headers}, ""); err != nil {
								return err
							}
						}
					}
				}
				agg = steps.add(k, typed[V](r.Value), agg, had)
				if err := ss.Put(k, start, end, agg); err != nil {
					return err
				}
				if cached {
					return nil
				}
				wk := Windowed[K]{Key: k, Window: Window{Start: start, End: end}}
				return ctx.Forward(processor.AnyRecord{Key: wk, Value: change{new: agg}, Timestamp: end, Headers: r.Headers}, "")
			},
		}
	}, parent)
}

// sessionStore finds a session aggregation's store and, when it is cached,
// makes the cache forward each flushed session as a change stamped with the
// session's end, as Kafka's SessionCacheFlushListener does.
func sessionStore[K, V any](ctx processor.NodeContext, name string) (*state.TypedSessionStore[K, V], bool, error) {
	s, err := ctx.Store(name)
	if err != nil {
		return nil, false, err
	}
	ss, ok := s.(*state.TypedSessionStore[K, V])
	if !ok {
		return nil, false, fmt.Errorf("store %s is %T, want a session store of %s to %s", name, s, serde.TypeName[K](), serde.TypeName[V]())
	}
	cs, cached := state.Unwrap[*state.CachingStore](ss.Bytes())
	if !cached {
		return ss, false, nil
	}
	cs.SetFlushListener(func(e state.FlushedEntry) error {
		k, start, end, err := ss.DecodeKey(e.Key)
		if err != nil {
			return err
		}
		c, _, ok, err := flushedChange(e, ss.DecodeValue)
		if err != nil || !ok {
			return err // !ok: created and merged away between two flushes
		}
		wk := Windowed[K]{Key: k, Window: Window{Start: start, End: end}}
		return ctx.Forward(processor.AnyRecord{Key: wk, Value: c, Timestamp: end}, "")
	})
	return ss, true, nil
}

// satAdd adds two non-negative times, capping at the largest time.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// SessionWindowedCogroupedKStream is a cogroup cut into session windows:
// each grouped stream adds to the sessions of its keys with its own
// aggregator, all in one session store.
type SessionWindowedCogroupedKStream[K, VA any] struct {
	c *CogroupedKStream[K, VA]
	w SessionWindows
}

// CogroupWindowedBySession cuts a cogroup into session windows (Kafka's
// cogroupedStream.windowedBy(SessionWindows)).
func CogroupWindowedBySession[K, VA any](c *CogroupedKStream[K, VA], w SessionWindows) SessionWindowedCogroupedKStream[K, VA] {
	checkSessionWindows(c.b, w)
	return SessionWindowedCogroupedKStream[K, VA]{c: c, w: w}
}

// Aggregate builds the cogrouped session table: each session starts from
// init(), and merge(key, agg, next) combines the aggregates of the sessions
// a record merges, as in AggregateSessions.
func (s SessionWindowedCogroupedKStream[K, VA]) Aggregate(init func() VA, merge func(key K, agg, next VA) VA, opts ...Option) KTable[Windowed[K], VA] {
	c := s.c
	o := collect(opts)
	vals := pickSerde[VA](c.b, o.valueSerde, nil)
	keys := pickSerde(c.b, o.keySerde, c.keys)
	sb := sessionStoreBuilder(c.b, o, "COGROUPKSTREAM-AGGREGATE", s.w, keys, vals)
	var parents []string
	for _, part := range c.sessionParts {
		name := part(sb, s.w, init, merge)
		if _, exists := c.b.t.Store(sb.Name()); exists {
			c.b.t.ConnectStore(sb.Name(), name)
		} else {
			c.b.t.AddStore(sb, name)
		}
		parents = append(parents, name)
	}
	name := c.b.name(o, "COGROUPKSTREAM-MERGE")
	c.b.stateless(name, func(ctx processor.NodeContext, r processor.AnyRecord) error {
		return ctx.Forward(r, "")
	}, parents...)
	return KTable[Windowed[K], VA]{b: c.b, node: name, store: sb.Name(), keys: SessionWindowedSerde(keys), vals: vals}
}

// cogroupSessionPart is how one grouped stream of a cogroup adds to the
// sessions with its own aggregator.
func cogroupSessionPart[K, V, VA any](b *Builder, g KGroupedStream[K, V], agg func(K, V, VA) VA, i int) func(state.Builder, SessionWindows, func() VA, func(K, VA, VA) VA) string {
	return func(sb state.Builder, w SessionWindows, init func() VA, merge func(K, VA, VA) VA) string {
		gg := g
		if gg.name == "" {
			gg.name = fmt.Sprintf("%s-%d", sb.Name(), i)
		}
		src := gg.source(sb.Name())
		name := b.name(nil, "COGROUPKSTREAM-AGGREGATE")
		addSessionAggregator(b, name, sb.Name(), src.node, w, sessionSteps[K, V, VA]{
			init:  func() (VA, bool) { return init(), true },
			add:   func(k K, v V, a VA, _ bool) VA { return agg(k, v, a) },
			merge: func(k K, a VA, _ bool, next VA) VA { return merge(k, a, next) },
		})
		return name
	}
}
