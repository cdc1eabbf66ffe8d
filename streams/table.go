package streams

import (
	"fmt"

	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/state"
	"github.com/sluicehq/sluice/streams/topology"
)

// change is what flows between KTable nodes: the new value of a key and
// the one it replaces (nil: none, or a delete).
type change struct {
	new, old any
}

// KTable is a changelog stream read as a table: the latest value of each
// key, where a null value deletes the key.
type KTable[K, V any] struct {
	b     *Builder
	node  string
	store string // the materialized store, "" if not materialized
	keys  serde.Serde[K]
	vals  serde.Serde[V]
}

// Node is the name of the node that produces the table's changes.
func (t KTable[K, V]) Node() string { return t.node }

// StoreName is the table's store, for interactive queries.
func (t KTable[K, V]) StoreName() string { return t.store }

// Table reads a topic as a table, materialized in a store (WithStore names
// it; its changelog is <application.id>-<store>-changelog). Records with a
// null key are dropped; a null value deletes the key.
func Table[K, V any](b *Builder, topic string, opts ...Option) KTable[K, V] {
	o := collect(opts)
	keys := pickSerde[K](b, o.keySerde, nil)
	vals := pickSerde[V](b, o.valueSerde, nil)
	src := b.name(nil, "KSTREAM-SOURCE")
	var sopts []topology.SourceOption
	if o.timestamps != nil {
		sopts = append(sopts, topology.WithTimestampExtractor(o.timestamps))
	}
	topology.AddSource(b.t, src, []string{topic}, keys, vals, sopts...)
	name := b.name(&options{name: o.name}, "KTABLE-SOURCE")
	sb := storeBuilder(b, o, topic, keys, vals)
	store := sb.Name()
	// A record's value is the key's new value (nil: a delete).
	b.addNode(name, func() *node {
		return materializeNode[K, V](store, func(r processor.AnyRecord) any { return r.Value })
	}, src)
	b.t.AddStore(sb, name)
	return KTable[K, V]{b: b, node: name, store: store, keys: keys, vals: vals}
}

// tableStore finds a KTable node's store and, when it is cached, makes the
// cache forward each flushed entry as a change.
func tableStore[K, V any](ctx processor.NodeContext, name string) (*state.TypedStore[K, V], bool, error) {
	s, err := ctx.Store(name)
	if err != nil {
		return nil, false, err
	}
	kv, ok := s.(*state.TypedStore[K, V])
	if !ok {
		return nil, false, fmt.Errorf("store %s is %T, want a key-value store of %s to %s", name, s, serde.TypeName[K](), serde.TypeName[V]())
	}
	cs, cached := state.Unwrap[*state.CachingStore](kv.Bytes())
	if !cached {
		return kv, false, nil
	}
	cs.SetFlushListener(func(e state.FlushedEntry) error {
		k, err := kv.DecodeKey(e.Key)
		if err != nil {
			return err
		}
		c, ts, ok, err := flushedChange(e, kv.DecodeValue)
		if err != nil || !ok {
			return err
		}
		return ctx.Forward(processor.AnyRecord{Key: k, Value: c, Timestamp: ts}, "")
	})
	return kv, true, nil
}

// flushedChange is the change a cached store's flushed entry sends downstream: its
// new and old values decoded with decode, and the time it carries (the new value's,
// or for a delete, which stores none, the delete's own). ok is false when there is
// neither (an entry created and deleted between two flushes).
func flushedChange[V any](e state.FlushedEntry, decode func([]byte) (V, int64, error)) (c change, ts int64, ok bool, err error) {
	ts = e.Timestamp
	if e.New != nil {
		v, t, err := decode(e.New)
		if err != nil {
			return change{}, 0, false, err
		}
		c.new, ts = v, t
	}
	if e.Old != nil {
		v, _, err := decode(e.Old)
		if err != nil {
			return change{}, 0, false, err
		}
		c.old = v
	}
	return c, ts, c.new != nil || c.old != nil, nil
}

// Filter keeps the entries for which keep is true; an entry that stops
// matching is forwarded as a delete, as Kafka's KTable filter does.
func (t KTable[K, V]) Filter(keep func(K, V) bool, opts ...Option) KTable[K, V] {
	return t.filter(keep, false, opts)
}

// FilterNot drops the entries for which drop is true.
func (t KTable[K, V]) FilterNot(drop func(K, V) bool, opts ...Option) KTable[K, V] {
	return t.filter(drop, true, opts)
}

func (t KTable[K, V]) filter(pred func(K, V) bool, not bool, opts []Option) KTable[K, V] {
	o := collect(opts)
	name := t.b.name(o, "KTABLE-FILTER")
	apply := func(k K, v any) any {
		if v == nil || pred(k, typed[V](v)) == not {
			return nil
		}
		return v
	}
	store := tableStep(t.b, o, name, "KTABLE-FILTER", t.node, t.keys, t.vals, func(r processor.AnyRecord) change {
		c := r.Value.(change)
		k := typed[K](r.Key)
		return change{new: apply(k, c.new), old: apply(k, c.old)}
	})
	out := t
	out.node, out.store = name, store
	return out
}

// tableStep adds a node that turns each change of a table into another.
// With WithStore it is materialized (Kafka's Materialized.as): the results
// are kept in a store that interactive queries can read, and the old value
// forwarded is the one that store held.
func tableStep[K, V any](b *Builder, o *options, name, prefix, parent string, keys serde.Serde[K], vals serde.Serde[V], step func(processor.AnyRecord) change) string {
	if o.store == "" {
		b.stateless(name, func(ctx processor.NodeContext, r processor.AnyRecord) error {
			r.Value = step(r)
			return ctx.Forward(r, "")
		}, parent)
		return ""
	}
	sb := storeBuilder(b, o, prefix, keys, vals)
	store := sb.Name()
	b.addNode(name, func() *node {
		var kv *state.TypedStore[K, V]
		var cached bool
		return &node{
			init: func(ctx processor.NodeContext) error {
				var err error
				kv, cached, err = tableStore[K, V](ctx, store)
				return err
			},
			process: func(ctx processor.NodeContext, r processor.AnyRecord) error {
				c := step(r)
				k := typed[K](r.Key)
				old, had, err := kv.Get(k)
				if err != nil {
					return err
				}
				var oldAny any
				if had {
					oldAny = old
				}
				if c.new == nil {
					if !had {
						return nil
					}
					err = kv.Delete(k)
				} else {
					err = kv.PutWithTimestamp(k, typed[V](c.new), r.Timestamp)
				}
				if err != nil || cached {
					return err
				}
				r.Value = change{new: c.new, old: oldAny}
				return ctx.Forward(r, "")
			},
		}
	}, parent)
	b.t.AddStore(sb, name)
	return store
}

// MapTableValues changes a table's values; the keys stay.
func MapTableValues[K, V, VR any](t KTable[K, V], fn func(K, V) VR, opts ...Option) KTable[K, VR] {
	o := collect(opts)
	name := t.b.name(o, "KTABLE-MAPVALUES")
	apply := func(k K, v any) any {
		if v == nil {
			return nil
		}
		return fn(k, typed[V](v))
	}
	vals := pickSerde[VR](t.b, o.valueSerde, nil)
	store := tableStep(t.b, o, name, "KTABLE-MAPVALUES", t.node, t.keys, vals, func(r processor.AnyRecord) change {
		c := r.Value.(change)
		k := typed[K](r.Key)
		return change{new: apply(k, c.new), old: apply(k, c.old)}
	})
	return KTable[K, VR]{b: t.b, node: name, store: store, keys: t.keys, vals: vals}
}

// ToStream turns the table's changes into a stream of its new values; a
// delete becomes a record with a null value (a tombstone when written).
func (t KTable[K, V]) ToStream(opts ...Option) KStream[K, V] {
	name := t.b.name(collect(opts), "KTABLE-TOSTREAM")
	t.b.stateless(name, func(ctx processor.NodeContext, r processor.AnyRecord) error {
		r.Value = r.Value.(change).new
		return ctx.Forward(r, "")
	}, t.node)
	return KStream[K, V]{b: t.b, node: name, keys: t.keys, vals: t.vals}
}

// GlobalKTable is a table of which every instance holds the whole: it reads
// every partition of its topic, outside the consumer group, and is brought
// up to date before processing starts. Processors read it with
// ctx.Store(table.StoreName()) and the App answers interactive queries on it.
type GlobalKTable[K, V any] struct {
	store string
}

// StoreName is the global table's store.
func (g GlobalKTable[K, V]) StoreName() string { return g.store }

// GlobalTable reads topic as a global table. Its store is not logged: the
// topic itself is its changelog.
func GlobalTable[K, V any](b *Builder, topic string, opts ...Option) GlobalKTable[K, V] {
	o := collect(opts)
	o.noLog, o.noCache = true, true
	keys := pickSerde[K](b, o.keySerde, nil)
	vals := pickSerde[V](b, o.valueSerde, nil)
	sb := storeBuilder(b, o, topic, keys, vals)
	store := sb.Name()
	src := b.name(nil, "KSTREAM-SOURCE")
	proc := b.name(&options{name: o.name}, "KTABLE-SOURCE")
	b.t.AddGlobalStoreNodes(sb,
		&topology.Node{Name: src, Kind: topology.Source, Topics: []string{topic}, KeyDecode: topology.Decode(keys), ValDecode: topology.Decode(vals)},
		&topology.Node{Name: proc, Kind: topology.Processor, New: func() processor.Node {
			var kv *state.TypedStore[K, V]
			return &node{
				init: func(ctx processor.NodeContext) error {
					var err error
					kv, _, err = tableStore[K, V](ctx, store)
					return err
				},
				process: func(_ processor.NodeContext, r processor.AnyRecord) error {
					if r.Key == nil {
						return nil
					}
					if r.Value == nil {
						return kv.Delete(typed[K](r.Key))
					}
					return kv.PutWithTimestamp(typed[K](r.Key), typed[V](r.Value), r.Timestamp)
				},
			}
		}})
	return GlobalKTable[K, V]{store: store}
}
