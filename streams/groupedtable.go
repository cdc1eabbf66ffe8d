package streams

import (
	"fmt"

	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/state"
	"github.com/sluicehq/sluice/streams/topology"
)

// KGroupedTable is a table regrouped by a new key, ready to aggregate with
// an adder and a subtractor: when an entry of the table changes, its old
// value is subtracted from the group it was in and its new value added to
// the group it is in now, as Kafka's KTable.groupBy does.
type KGroupedTable[K, V any] struct {
	b     *Builder
	node  string // the repartition source
	keys  serde.Serde[K]
	vals  serde.Serde[V]
	named string
}

// GroupTableBy regroups a table by the key (and value) fn picks from each
// entry, through a repartition topic. Options: Named, WithKeySerde,
// WithValueSerde.
func GroupTableBy[K, V, KR, VR any](t KTable[K, V], fn func(K, V) (KR, VR), opts ...Option) KGroupedTable[KR, VR] {
	o := collect(opts)
	b := t.b
	keys := pickSerde[KR](b, o.keySerde, nil)
	vals := pickSerde[VR](b, o.valueSerde, nil)
	sel := b.name(nil, "KTABLE-SELECT")
	// Each change becomes up to two records: the old value to subtract
	// from its group, then the new value to add to its group.
	b.stateless(sel, func(ctx processor.NodeContext, r processor.AnyRecord) error {
		c := r.Value.(change)
		k := typed[K](r.Key)
		if c.old != nil {
			kr, vr := fn(k, typed[V](c.old))
			if err := ctx.Forward(processor.AnyRecord{Key: kr, Value: change{old: vr}, Timestamp: r.Timestamp, Headers: r.Headers}, ""); err != nil {
				return err
			}
		}
		if c.new != nil {
			kr, vr := fn(k, typed[V](c.new))
			return ctx.Forward(processor.AnyRecord{Key: kr, Value: change{new: vr}, Timestamp: r.Timestamp, Headers: r.Headers}, "")
		}
		return nil
	}, t.node)
	base := o.name
	if base == "" {
		base = b.name(nil, "KTABLE-AGGREGATE")
	}
	topic := base + "-repartition"
	b.t.AddInternalTopic(topology.InternalTopic{Name: topic, Partitions: o.partitions, Config: map[string]string{
		"cleanup.policy": "delete", "retention.ms": "-1",
	}})
	// In the repartition topic a value is one flag byte (0: subtract,
	// 1: add) and the value's own bytes.
	encode := func(topic string, v any) ([]byte, error) {
		c := v.(change)
		flag, x := byte(1), c.new
		if c.new == nil {
			flag, x = 0, c.old
		}
		inner, err := vals.Serialize(topic, typed[VR](x))
		if err != nil {
			return nil, err
		}
		return append([]byte{flag}, inner...), nil
	}
	decode := func(topic string, data []byte) (any, error) {
		if len(data) == 0 || data[0] > 1 {
			return nil, fmt.Errorf("table repartition record without its flag byte")
		}
		v, err := vals.Deserialize(topic, data[1:])
		if err != nil {
			return nil, err
		}
		if data[0] == 0 {
			return change{old: v}, nil
		}
		return change{new: v}, nil
	}
	sink, source := base+"-repartition-sink", base+"-repartition-source"
	b.t.AddNode(&topology.Node{Name: sink, Kind: topology.Sink, Topic: topic, KeyEncode: topology.Encode(keys), ValEncode: encode}, sel)
	b.t.AddNode(&topology.Node{Name: source, Kind: topology.Source, Topics: []string{topic}, KeyDecode: topology.Decode(keys), ValDecode: decode})
	return KGroupedTable[KR, VR]{b: b, node: source, keys: keys, vals: vals, named: o.name}
}

// Count counts the entries of each group.
func (g KGroupedTable[K, V]) Count(opts ...Option) KTable[K, int64] {
	return aggregateTable(g, collect(opts), "KTABLE-COUNT", serde.Int64,
		func() int64 { return 0 },
		func(_ K, _ V, n int64) int64 { return n + 1 },
		func(_ K, _ V, n int64) int64 { return n - 1 })
}

// Reduce keeps, per group, adder applied to each value added and
// subtractor to each value removed; the first value added is the start.
func (g KGroupedTable[K, V]) Reduce(adder, subtractor func(agg, v V) V, opts ...Option) KTable[K, V] {
	o := collect(opts)
	sb := storeBuilder(g.b, o, "KTABLE-REDUCE", g.keys, g.vals)
	name := g.b.name(o, "KTABLE-REDUCE")
	addTableAggregator(g.b, name, sb, g.node,
		func(_ K, v V, agg V, had bool) V {
			if !had {
				return v
			}
			return adder(agg, v)
		},
		func(_ K, v V, agg V) V { return subtractor(agg, v) })
	return KTable[K, V]{b: g.b, node: name, store: sb.Name(), keys: g.keys, vals: pickSerde(g.b, o.valueSerde, g.vals)}
}

// AggregateTable folds the values of each group into an aggregate, with
// adder for values that join the group and subtractor for those that
// leave it.
func AggregateTable[K, V, VA any](g KGroupedTable[K, V], init func() VA, adder, subtractor func(K, V, VA) VA, opts ...Option) KTable[K, VA] {
	o := collect(opts)
	return aggregateTable(g, o, "KTABLE-AGGREGATE", pickSerde[VA](g.b, o.valueSerde, nil), init, adder, subtractor)
}

func aggregateTable[K, V, VA any](g KGroupedTable[K, V], o *options, prefix string, vals serde.Serde[VA], init func() VA, adder, subtractor func(K, V, VA) VA) KTable[K, VA] {
	if o.valueSerde == nil {
		o.valueSerde = vals
	}
	sb := storeBuilder(g.b, o, prefix, g.keys, vals)
	name := g.b.name(o, prefix)
	addTableAggregator(g.b, name, sb, g.node,
		func(k K, v V, agg VA, had bool) VA {
			if !had {
				agg = init()
			}
			return adder(k, v, agg)
		},
		subtractor)
	return KTable[K, VA]{b: g.b, node: name, store: sb.Name(), keys: g.keys, vals: vals}
}

// addTableAggregator adds the node that applies subtractions and additions
// to a per-group aggregate in store and forwards each change.
func addTableAggregator[K, V, VA any](b *Builder, name string, sb state.Builder, parent string, add func(k K, v V, agg VA, had bool) VA, sub func(k K, v V, agg VA) VA) {
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
				if r.Key == nil {
					return nil
				}
				c := r.Value.(change)
				k := typed[K](r.Key)
				old, oldTS, had, err := kv.GetWithTimestamp(k)
				if err != nil {
					return err
				}
				agg, has := old, had
				if c.old != nil && has {
					agg = sub(k, typed[V](c.old), agg)
				}
				if c.new != nil {
					agg, has = add(k, typed[V](c.new), agg, has), true
				}
				if !has {
					return nil
				}
				ts := max(r.Timestamp, oldTS)
				if err := kv.PutWithTimestamp(k, agg, ts); err != nil {
					return err
				}
				if cached {
					return nil
				}
				var oldAny any
				if had {
					oldAny = old
				}
				return ctx.Forward(processor.AnyRecord{Key: r.Key, Value: change{new: agg, old: oldAny}, Timestamp: ts, Headers: r.Headers}, "")
			},
		}
	}, parent)
	b.t.AddStore(sb, name)
}
