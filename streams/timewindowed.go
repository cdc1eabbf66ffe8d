package streams

import (
	"fmt"

	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/state"
	"github.com/sluicehq/sluice/streams/state/pebblestore"
)

// TimeWindowedKStream is a grouped stream cut into time windows (tumbling,
// hopping or sliding), ready to aggregate per key and window into a
// KTable[Windowed[K], V] kept in a window store.
//
// A record joins each of its windows unless the window has closed: its end
// plus the grace period is at or before the stream time the aggregation has
// seen. Records too late for every window are dropped (counted as the
// task's dropped records and logged at debug level); records out of order
// but within the grace period update the windows they fall in.
type TimeWindowedKStream[K, V any] struct {
	g       KGroupedStream[K, V]
	tw      TimeWindows
	sw      SlidingWindows
	sliding bool
}

// WindowedBy cuts a grouped stream into tumbling or hopping windows
// (Kafka's groupedStream.windowedBy(TimeWindows)):
//
//	counts := streams.WindowedBy(clicks.GroupByKey(), streams.OfSizeWithNoGrace(time.Minute)).Count()
//
// It is a function, not a method of KGroupedStream, because Go rejects the
// instantiation cycle a method would make: KGroupedStream[K] would lead to
// KTable[Windowed[K]], whose ToStream and GroupByKey lead back to
// KGroupedStream[Windowed[K]], and so on without end.
func WindowedBy[K, V any](g KGroupedStream[K, V], w TimeWindows) TimeWindowedKStream[K, V] {
	if w.err == nil && w.size == 0 {
		w.err = errNoWindows
	}
	if w.err != nil {
		g.s.b.fail(w.err)
	}
	return TimeWindowedKStream[K, V]{g: g, tw: w}
}

// WindowedBySliding cuts a grouped stream into sliding windows (Kafka's
// groupedStream.windowedBy(SlidingWindows)).
func WindowedBySliding[K, V any](g KGroupedStream[K, V], w SlidingWindows) TimeWindowedKStream[K, V] {
	if w.err != nil {
		g.s.b.fail(w.err)
	}
	return TimeWindowedKStream[K, V]{g: g, sw: w, sliding: true}
}

// size is the window length the store and the windowed key serde use (for
// sliding windows, the time difference: they end at start+diff).
func (w TimeWindowedKStream[K, V]) size() int64 {
	if w.sliding {
		return w.sw.diff
	}
	return w.tw.size
}

func (w TimeWindowedKStream[K, V]) grace() int64 {
	if w.sliding {
		return w.sw.grace
	}
	return w.tw.grace
}

// minRetention is the least a window store must keep: the window and its
// grace period, or for sliding windows twice the time difference and the
// grace period, since a record may need the windows up to 2*diff before it
// to build its own.
func (w TimeWindowedKStream[K, V]) minRetention() int64 {
	if w.sliding {
		return 2*w.sw.diff + w.sw.grace
	}
	return w.tw.size + w.tw.grace
}

// defaultRetention is the store's retention when WithRetention is not
// given: the least that serves the windows, as Kafka's materializers have
// used since windows stopped carrying a maintain duration (the day that
// older versions kept is gone from Kafka too). Session stores do the same.
func (w TimeWindowedKStream[K, V]) defaultRetention() int64 { return w.minRetention() }

// Count counts the records of each key in each window (records with a
// null key or value are skipped). Options: Named, WithStore, InMemory,
// WithoutCaching, WithoutLogging, WithLogConfig, WithRetention (Kafka's
// Materialized).
func (w TimeWindowedKStream[K, V]) Count(opts ...Option) KTable[Windowed[K], int64] {
	o := collect(opts)
	o.keySerde, o.valueSerde = nil, nil
	return windowedAggregate(w, o, "KSTREAM-AGGREGATE", serde.Int64,
		func(_ K, _ V, n int64, had bool) int64 {
			if !had {
				n = 0
			}
			return n + 1
		})
}

// Reduce combines the values of each key in each window: the first value
// as it is, then reduce(aggregate, value).
func (w TimeWindowedKStream[K, V]) Reduce(reduce func(agg, v V) V, opts ...Option) KTable[Windowed[K], V] {
	o := collect(opts)
	return windowedAggregate(w, o, "KSTREAM-REDUCE", pickSerde(w.g.s.b, o.valueSerde, w.g.vals),
		func(_ K, v V, agg V, had bool) V {
			if !had {
				return v
			}
			return reduce(agg, v)
		})
}

// AggregateWindowed folds the values of each key in each window into an
// aggregate of another type, starting from init().
func AggregateWindowed[K, V, VA any](w TimeWindowedKStream[K, V], init func() VA, agg func(K, V, VA) VA, opts ...Option) KTable[Windowed[K], VA] {
	o := collect(opts)
	return windowedAggregate(w, o, "KSTREAM-AGGREGATE", pickSerde[VA](w.g.s.b, o.valueSerde, nil),
		func(k K, v V, a VA, had bool) VA {
			if !had {
				a = init()
			}
			return agg(k, v, a)
		})
}

// windowStep folds one value into a window's aggregate; had is false for
// a window with no aggregate yet.
type windowStep[K, V, VA any] func(k K, v V, agg VA, had bool) VA

func windowedAggregate[K, V, VA any](w TimeWindowedKStream[K, V], o *options, prefix string, vals serde.Serde[VA], step windowStep[K, V, VA]) KTable[Windowed[K], VA] {
	b := w.g.s.b
	o.valueSerde = vals
	sb := windowStoreBuilder(b, o, prefix, w.g.keys, vals, w.size(), w.minRetention(), w.defaultRetention(), w.grace())
	name := b.name(o, prefix)
	src := w.g.source(sb.Name())
	size, grace := w.size(), w.grace()
	store := sb.Name()
	tw, sw, sliding := w.tw, w.sw, w.sliding
	b.addNode(name, func() *node {
		a := &windowAggregator[K, V, VA]{store: store, grace: grace, step: step, observed: -1}
		return &node{
			init: a.init,
			process: func(ctx processor.NodeContext, r processor.AnyRecord) error {
				if r.Key == nil || r.Value == nil {
					recordDropped(ctx, "null key or value")
					return nil
				}
				a.observed = max(a.observed, r.Timestamp)
				if sliding {
					return a.processSliding(ctx, sw, r)
				}
				return a.processTime(ctx, tw, r)
			},
		}
	}, src.node)
	b.t.AddStore(sb, name)
	keys := w.g.keys
	if keys == nil {
		keys = serde.Default[K]()
	}
	return KTable[Windowed[K], VA]{b: b, node: name, store: store, keys: TimeWindowedSerde(keys, size), vals: vals}
}

// windowedStore is the DSL's window store builder with the grace period of
// the windows it aggregates, which SuppressUntilWindowCloses looks up.
type windowedStore struct {
	state.Builder
	grace int64
}

// windowStoreBuilder makes the window store of a windowed aggregation. Its
// retention is WithRetention's, which must cover minRetention, or else
// defaultRetention.
func windowStoreBuilder[K, V any](b *Builder, o *options, prefix string, keys serde.Serde[K], vals serde.Serde[V], size, minRetention, defaultRetention, grace int64) state.Builder {
	name := o.store
	if name == "" {
		name = b.name(nil, prefix+"-STATE-STORE")
	}
	retention := defaultRetention
	if o.retention != 0 {
		retention = o.retention.Milliseconds()
		if retention < minRetention {
			b.fail(fmt.Errorf("the retention period of window store %s (%dms) must be no smaller than %dms: the window size (for sliding windows, twice the time difference) plus the grace period", name, retention, minRetention))
		}
	}
	var sup state.Supplier
	if o.inMemory {
		sup = state.InMemory(name)
	} else {
		sup = pebblestore.Supplier(name)
	}
	wb := state.NewWindowStoreBuilder(sup, retention, size, pickSerde(b, o.keySerde, keys), pickSerde(b, o.valueSerde, vals)).
		WithCaching(!o.noCache).
		WithLogging(!o.noLog, o.logConfig)
	return windowedStore{Builder: wb, grace: grace}
}

// windowAggregator is the processor of a windowed aggregation, for one task.
type windowAggregator[K, V, VA any] struct {
	store    string
	grace    int64
	step     windowStep[K, V, VA]
	ws       *state.TypedWindowStore[K, VA]
	cached   bool
	observed int64 // the largest record timestamp seen (-1: none)
}

func (a *windowAggregator[K, V, VA]) init(ctx processor.NodeContext) error {
	var err error
	a.ws, a.cached, err = windowTableStore[K, VA](ctx, a.store)
	return err
}

// windowTableStore finds a windowed aggregation's store and, when it is
// cached, makes the cache forward each flushed entry as a change of the
// windowed table.
func windowTableStore[K, V any](ctx processor.NodeContext, name string) (*state.TypedWindowStore[K, V], bool, error) {
	s, err := ctx.Store(name)
	if err != nil {
		return nil, false, err
	}
	ws, ok := s.(*state.TypedWindowStore[K, V])
	if !ok {
		return nil, false, fmt.Errorf("store %s is %T, want a window store of %s to %s", name, s, serde.TypeName[K](), serde.TypeName[V]())
	}
	cs, cached := state.Unwrap[*state.CachingStore](ws.Bytes())
	if !cached {
		return ws, false, nil
	}
	size := ws.WindowSize()
	cs.SetFlushListener(func(e state.FlushedEntry) error {
		k, start, err := ws.DecodeKey(e.Key)
		if err != nil {
			return err
		}
		c, ts, ok, err := flushedChange(e, ws.DecodeValue)
		if err != nil || !ok {
			return err
		}
		key := Windowed[K]{Key: k, Window: Window{Start: start, End: start + size}}
		return ctx.Forward(processor.AnyRecord{Key: key, Value: c, Timestamp: ts}, "")
	})
	return ws, true, nil
}

// recordDropped counts and logs a skipped record through the task, when
// the context can (the runtime's and the test driver's can).
func recordDropped(ctx processor.NodeContext, reason string, attrs ...any) {
	if d, ok := ctx.(interface{ RecordDropped(string, ...any) }); ok {
		d.RecordDropped(reason, attrs...)
	}
}

// processTime adds a record to each of its tumbling or hopping windows that
// is still open.
func (a *windowAggregator[K, V, VA]) processTime(ctx processor.NodeContext, tw TimeWindows, r processor.AnyRecord) error {
	k, v := typed[K](r.Key), typed[V](r.Value)
	closeTime := a.observed - a.grace
	for _, win := range tw.WindowsFor(r.Timestamp) {
		if win.End <= closeTime {
			recordDropped(ctx, "window closed", "timestamp", r.Timestamp, "window", win.String(), "close", closeTime, "streamTime", a.observed)
			continue
		}
		old, oldTS, had, err := a.ws.GetWithTimestamp(k, win.Start)
		if err != nil {
			return err
		}
		if err := a.put(ctx, k, win, a.step(k, v, old, had), old, had, pickTS(r.Timestamp, oldTS, had), r.Headers); err != nil {
			return err
		}
	}
	return nil
}

func pickTS(ts, oldTS int64, had bool) int64 {
	if had {
		return max(ts, oldTS)
	}
	return ts
}

// put stores a window's new aggregate and, without a cache, forwards the
// change at once (with a cache, the flush forwards it).
func (a *windowAggregator[K, V, VA]) put(ctx processor.NodeContext, k K, win Window, next, old VA, hadOld bool, ts int64, headers []processor.Header) error {
	if err := a.ws.PutWithTimestamp(k, next, win.Start, ts); err != nil {
		return err
	}
	if a.cached {
		return nil
	}
	var oldAny any
	if hadOld {
		oldAny = old
	}
	return ctx.Forward(processor.AnyRecord{Key: Windowed[K]{Key: k, Window: win}, Value: change{new: next, old: oldAny}, Timestamp: ts, Headers: headers}, "")
}

// slidingAgg is a sliding window's aggregate as found in the store: the
// value, whether there is one, and the largest record timestamp in it.
type slidingAgg[VA any] struct {
	v      VA
	has    bool
	ts     int64
	stored bool // in the store (so its old value is forwarded)
}

// processSliding follows Kafka's sliding-window aggregation (KIP-450): it
// updates the existing windows the record falls in, then creates the
// record's own window [ts-diff, ts], the window just after the previous
// record if the record falls in it, and the window just after the record
// if later records fall in it. A window's aggregate is only ever built
// from the records in it: a new left window starts from the aggregate of
// the window that ended before it when that one holds the same earlier
// records, and a new right window copies the aggregate of the records
// after the current one.
func (a *windowAggregator[K, V, VA]) processSliding(ctx processor.NodeContext, sw SlidingWindows, r processor.AnyRecord) error {
	k, v := typed[K](r.Key), typed[V](r.Value)
	ts, diff := r.Timestamp, sw.diff
	closeTime := a.observed - a.grace
	if ts+1+diff <= closeTime {
		recordDropped(ctx, "window closed", "timestamp", ts, "window", Window{Start: ts - diff, End: ts}.String(), "close", closeTime, "streamTime", a.observed)
		return nil
	}
	type found struct {
		start int64
		agg   slidingAgg[VA]
	}
	var windows []found
	err := a.ws.FetchWithTimestamps(k, max(0, ts-2*diff), ts+1, func(start, wts int64, val VA) bool {
		windows = append(windows, found{start, slidingAgg[VA]{v: val, has: true, ts: wts, stored: true}})
		return true
	})
	if err != nil {
		return err
	}
	starts := make(map[int64]bool, len(windows))
	var leftAgg, rightAgg *slidingAgg[VA]
	var combined *found
	leftCreated, rightCreated := false, false
	prevTS, hasPrev := int64(0), false
	update := func(win Window, agg slidingAgg[VA]) error {
		if win.End < closeTime {
			recordDropped(ctx, "window closed", "timestamp", ts, "window", win.String(), "close", closeTime, "streamTime", a.observed)
			return nil
		}
		next := a.step(k, v, agg.v, agg.has)
		return a.put(ctx, k, win, next, agg.v, agg.stored, pickTS(ts, agg.ts, agg.has), r.Headers)
	}
	window := func(start int64) Window { return Window{Start: start, End: start + diff} }
	early := ts < diff
	for i := range windows {
		f := windows[i]
		starts[f.start] = true
		end := f.start + diff
		switch {
		case early && f.start == 0:
			// The window [0, diff] holds every record before diff.
			combined = &windows[i]
			if f.agg.ts < ts {
				prevTS, hasPrev = f.agg.ts, true
			}
		case !early && end < ts:
			agg := f.agg
			leftAgg = &agg
			prevTS, hasPrev = f.agg.ts, true
		case !early && end == ts:
			leftCreated = true
			if f.agg.ts < ts {
				prevTS, hasPrev = f.agg.ts, true
			}
			if err := update(window(f.start), f.agg); err != nil {
				return err
			}
		case f.start <= ts && end >= ts:
			agg := f.agg
			rightAgg = &agg
			if err := update(window(f.start), f.agg); err != nil {
				return err
			}
		case f.start == ts+1:
			rightCreated = true
		default:
			return fmt.Errorf("sliding window aggregation: unexpected window starting at %d for a record at %d", f.start, ts)
		}
	}
	// The window after the record, when later records fall in it, holds
	// just those records: the aggregate of the window found above that
	// started at or before the record but has only later records in it.
	createRight := func(agg *slidingAgg[VA]) error {
		if rightCreated || agg == nil || agg.ts <= ts {
			return nil
		}
		win := Window{Start: ts + 1, End: ts + 1 + diff}
		return a.put(ctx, k, win, agg.v, agg.v, false, agg.ts, r.Headers)
	}
	if early {
		if rightAgg == nil && combined != nil && combined.agg.ts > ts {
			agg := combined.agg
			rightAgg = &agg
		}
		if err := createRight(rightAgg); err != nil {
			return err
		}
		if hasPrev && !starts[prevTS+1] {
			if err := update(window(prevTS+1), slidingAgg[VA]{}); err != nil {
				return err
			}
		}
		if combined == nil {
			return update(window(0), slidingAgg[VA]{})
		}
		return update(window(0), combined.agg)
	}
	// The previous record's right window, if it does not exist yet and
	// this record falls in it.
	if hasPrev && !starts[prevTS+1] && prevTS+1+diff >= ts {
		if err := update(window(prevTS+1), slidingAgg[VA]{}); err != nil {
			return err
		}
	}
	if !leftCreated {
		agg := slidingAgg[VA]{}
		if hasPrev && ts-diff <= prevTS && leftAgg != nil {
			agg = slidingAgg[VA]{v: leftAgg.v, has: true, ts: ts}
		}
		if err := update(window(ts-diff), agg); err != nil {
			return err
		}
	}
	return createRight(rightAgg)
}
