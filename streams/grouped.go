package streams

import (
	"fmt"

	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/state"
)

// KGroupedStream is a stream grouped by key, ready to aggregate.
type KGroupedStream[K, V any] struct {
	s    KStream[K, V]
	name string // Named: base of the repartition topic's name
	keys serde.Serde[K]
	vals serde.Serde[V]
}

// GroupByKey groups by the current key. If the key may have changed since
// the stream was read (Map, SelectKey, FlatMap, ...), the aggregation reads
// the records back from a repartition topic first. Options: Named,
// WithKeySerde, WithValueSerde (Kafka's Grouped).
func (s KStream[K, V]) GroupByKey(opts ...Option) KGroupedStream[K, V] {
	o := collect(opts)
	return KGroupedStream[K, V]{s: s, name: o.name, keys: pickSerde(s.b, o.keySerde, s.keys), vals: pickSerde(s.b, o.valueSerde, s.vals)}
}

// GroupBy groups by a key computed from each record, always through a
// repartition topic.
func GroupBy[K, V, KR any](s KStream[K, V], fn func(K, V) KR, opts ...Option) KGroupedStream[KR, V] {
	o := collect(opts)
	sel := SelectKey(s, fn)
	return KGroupedStream[KR, V]{s: sel, name: o.name, keys: pickSerde[KR](s.b, o.keySerde, nil), vals: pickSerde(s.b, o.valueSerde, s.vals)}
}

// source is the stream to aggregate: through a repartition topic if needed.
func (g KGroupedStream[K, V]) source(store string) KStream[K, V] {
	if !g.s.repartition {
		return g.s
	}
	base := g.name
	if base == "" {
		base = store
	}
	s := g.s
	s.keys, s.vals = g.keys, g.vals
	return repartitionThrough(s, base, &options{})
}

// Count counts the records of each key (records with a null key or value
// are skipped). Options: Named, WithStore, InMemory, WithoutCaching,
// WithoutLogging (Kafka's Materialized).
func (g KGroupedStream[K, V]) Count(opts ...Option) KTable[K, int64] {
	o := collect(opts)
	o.keySerde, o.valueSerde = nil, nil
	return aggregate(g, o, "KSTREAM-COUNT", serde.Int64,
		func() int64 { return 0 },
		func(_ K, _ V, n int64) int64 { return n + 1 })
}

// Reduce combines the values of each key: the first value as it is, then
// reduce(aggregate, value).
func (g KGroupedStream[K, V]) Reduce(reduce func(agg, v V) V, opts ...Option) KTable[K, V] {
	o := collect(opts)
	b := g.s.b
	sb := storeBuilder(b, o, "KSTREAM-REDUCE", g.keys, g.vals)
	name := b.name(o, "KSTREAM-REDUCE")
	src := g.source(sb.Name())
	addAggregator(b, name, sb, src.node, func(_ K, v V, agg V, had bool) V {
		if !had {
			return v
		}
		return reduce(agg, v)
	})
	return KTable[K, V]{b: b, node: name, store: sb.Name(), keys: g.keys, vals: pickSerde(b, o.valueSerde, g.vals)}
}

// Aggregate folds the values of each key into an aggregate of another
// type, starting from init().
func Aggregate[K, V, VA any](g KGroupedStream[K, V], init func() VA, agg func(K, V, VA) VA, opts ...Option) KTable[K, VA] {
	o := collect(opts)
	return aggregate(g, o, "KSTREAM-AGGREGATE", pickSerde[VA](g.s.b, o.valueSerde, nil), init, agg)
}

func aggregate[K, V, VA any](g KGroupedStream[K, V], o *options, prefix string, vals serde.Serde[VA], init func() VA, agg func(K, V, VA) VA) KTable[K, VA] {
	b := g.s.b
	if o.valueSerde == nil {
		o.valueSerde = vals
	}
	sb := storeBuilder(b, o, prefix, g.keys, vals)
	name := b.name(o, prefix)
	src := g.source(sb.Name())
	addAggregator(b, name, sb, src.node, func(k K, v V, a VA, had bool) VA {
		if !had {
			a = init()
		}
		return agg(k, v, a)
	})
	return KTable[K, VA]{b: b, node: name, store: sb.Name(), keys: g.keys, vals: vals}
}

// addAggregator adds the node that keeps an aggregate per key in store and
// forwards each change (through the cache, when the store has one). The
// aggregate's timestamp is the largest of the records folded into it.
func addAggregator[K, V, VA any](b *Builder, name string, sb state.Builder, parent string, step func(k K, v V, agg VA, had bool) VA) {
	store := sb.Name()
	b.addNode(name, func() *node {
		var kv *state.TypedStore[K, VA]
		var cached bool
		return &node{
			init: func(ctx processor.NodeContext) error {
				var err error
				kv, cached, err = tableStore[K, VA](ctx, store)
				return err
			},
			process: func(ctx processor.NodeContext, r processor.AnyRecord) error {
				if r.Key == nil || r.Value == nil {
					return nil
				}
				k := typed[K](r.Key)
				old, oldTS, had, err := kv.GetWithTimestamp(k)
				if err != nil {
					return err
				}
				next := step(k, typed[V](r.Value), old, had)
				ts := max(r.Timestamp, oldTS)
				if err := kv.PutWithTimestamp(k, next, ts); err != nil {
					return err
				}
				if cached {
					return nil
				}
				var oldAny any
				if had {
					oldAny = old
				}
				return ctx.Forward(processor.AnyRecord{Key: r.Key, Value: change{new: next, old: oldAny}, Timestamp: ts, Headers: r.Headers}, "")
			},
		}
	}, parent)
	if _, exists := b.t.Store(store); exists {
		b.t.ConnectStore(store, name)
	} else {
		b.t.AddStore(sb, name)
	}
}

// CogroupedKStream aggregates several grouped streams of one key type into
// one table, each stream with its own aggregator, sharing one store.
type CogroupedKStream[K, VA any] struct {
	b     *Builder
	keys  serde.Serde[K]
	parts []func(sb state.Builder, init func() VA) string
	// sessionParts are the same parts aggregating into session windows
	// (CogroupWindowedBySession, sessionwindowed.go).
	sessionParts []func(sb state.Builder, w SessionWindows, init func() VA, merge func(K, VA, VA) VA) string
}

// Cogroup starts a cogroup with g and its aggregator.
func Cogroup[K, V, VA any](g KGroupedStream[K, V], agg func(K, V, VA) VA) *CogroupedKStream[K, VA] {
	c := &CogroupedKStream[K, VA]{b: g.s.b, keys: g.keys}
	return CogroupWith(c, g, agg)
}

// CogroupWith adds another grouped stream, of any value type, to c.
func CogroupWith[K, V, VA any](c *CogroupedKStream[K, VA], g KGroupedStream[K, V], agg func(K, V, VA) VA) *CogroupedKStream[K, VA] {
	i := len(c.parts)
	c.parts = append(c.parts, func(sb state.Builder, init func() VA) string {
		gg := g
		if gg.name == "" {
			gg.name = fmt.Sprintf("%s-%d", sb.Name(), i)
		}
		src := gg.source(sb.Name())
		name := c.b.name(nil, "COGROUPKSTREAM-AGGREGATE")
		addAggregator(c.b, name, sb, src.node, func(k K, v V, a VA, had bool) VA {
			if !had {
				a = init()
			}
			return agg(k, v, a)
		})
		return name
	})
	c.sessionParts = append(c.sessionParts, cogroupSessionPart(c.b, g, agg, i))
	return c
}

// Aggregate builds the cogrouped table, each key starting from init().
func (c *CogroupedKStream[K, VA]) Aggregate(init func() VA, opts ...Option) KTable[K, VA] {
	o := collect(opts)
	vals := pickSerde[VA](c.b, o.valueSerde, nil)
	o.valueSerde = vals
	sb := storeBuilder(c.b, o, "COGROUPKSTREAM-AGGREGATE", c.keys, vals)
	var parents []string
	for _, part := range c.parts {
		parents = append(parents, part(sb, init))
	}
	name := c.b.name(o, "COGROUPKSTREAM-MERGE")
	c.b.stateless(name, func(ctx processor.NodeContext, r processor.AnyRecord) error {
		return ctx.Forward(r, "")
	}, parents...)
	return KTable[K, VA]{b: c.b, node: name, store: sb.Name(), keys: c.keys, vals: vals}
}
