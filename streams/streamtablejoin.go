package streams

import (
	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/state"
)

// Stream-table and stream-GlobalKTable joins, as Kafka's KStream.join and
// leftJoin with a KTable or a GlobalKTable: each stream record looks up the
// table's value for its key as the table stands when the record is
// processed, and is joined with it. Updates of the table emit nothing; they
// only change what later stream records find. Results keep the stream
// record's key, timestamp and headers.
//
// Records with a null value are dropped. In the inner joins a record whose
// key is null, or finds no value, is dropped; in the left joins it is
// joined with nothing (KIP-962), the joiner getting a nil pointer as the
// stream-stream joins' do (see streamjoin.go for why a pointer).

// JoinTable is the inner join of a stream with a table of the same key:
// each stream record whose key the table holds gives joiner(value,
// tableValue). The stream and the table must be co-partitioned; a stream
// whose key may have changed is first written through a repartition topic
// (<name>-repartition). A table without a store is materialized first.
// Options: Named, WithKeySerde and WithValueSerde (for the repartition
// topic).
func JoinTable[K, V, VT, VR any](s KStream[K, V], t KTable[K, VT], joiner func(V, VT) VR, opts ...Option) KStream[K, VR] {
	return streamTableJoin(s, t, "KSTREAM-JOIN", func(v V, tv *VT) (VR, bool) {
		if tv == nil {
			var zero VR
			return zero, false
		}
		return joiner(v, *tv), true
	}, opts)
}

// LeftJoinTable is the left join of a stream with a table: every stream
// record gives a result, joiner(value, nil) where the table lacks its key.
func LeftJoinTable[K, V, VT, VR any](s KStream[K, V], t KTable[K, VT], joiner func(V, *VT) VR, opts ...Option) KStream[K, VR] {
	return streamTableJoin(s, t, "KSTREAM-LEFTJOIN", func(v V, tv *VT) (VR, bool) {
		return joiner(v, tv), true
	}, opts)
}

func streamTableJoin[K, V, VT, VR any](s KStream[K, V], t KTable[K, VT], prefix string, join func(V, *VT) (VR, bool), opts []Option) KStream[K, VR] {
	b := s.b
	o := collect(opts)
	name := b.name(o, prefix)
	t = t.lookupMaterialized()
	keys := pickSerde(b, o.keySerde, firstNonNil(s.keys, t.keys))
	if s.repartition {
		s.keys, s.vals = keys, pickSerde(b, o.valueSerde, s.vals)
		s = repartitionThrough(s, name, &options{})
	}
	store := t.store
	b.addNode(name, func() *node {
		var kv state.KeyValueStore[K, VT]
		return &node{
			init: func(ctx processor.NodeContext) error {
				st, err := ctx.Store(store)
				if err != nil {
					return err
				}
				kv, err = state.AsKeyValue[K, VT](st)
				return err
			},
			process: func(ctx processor.NodeContext, r processor.AnyRecord) error {
				if r.Value == nil {
					return nil
				}
				var tv *VT
				if !isNull(r.Key) {
					v, ok, err := kv.Get(typed[K](r.Key))
					if err != nil {
						return err
					}
					if ok {
						tv = &v
					}
				}
				out, ok := join(typed[V](r.Value), tv)
				if !ok {
					return nil
				}
				r.Value = out
				return ctx.Forward(r, "")
			},
		}
	}, s.node)
	b.t.ConnectStore(store, name)
	return KStream[K, VR]{b: b, node: name, keys: keys}
}

// lookupMaterialized returns the table with a store that other nodes can
// read: itself if it has one, else the table kept in a new store by a node
// of its own (Kafka reaches an unmaterialized table through its parents'
// value getters; keeping the values is simpler and costs a store).
func (t KTable[K, V]) lookupMaterialized() KTable[K, V] {
	if t.store != "" {
		return t
	}
	name := t.b.name(nil, "KTABLE-MATERIALIZE")
	o := &options{store: name + "-store", noCache: true}
	store := tableStep(t.b, o, name, "KTABLE-MATERIALIZE", t.node, t.keys, t.vals, func(r processor.AnyRecord) change {
		return change{new: r.Value.(change).new}
	})
	out := t
	out.node, out.store = name, store
	return out
}

// JoinGlobal is the inner join of a stream with a global table: key maps
// each stream record to a key of the table, and a record whose mapped key
// the table holds gives joiner(value, tableValue). The global table holds
// every partition on every instance, so the stream needs neither
// co-partitioning nor a repartition topic. A mapped key that is null (a nil
// pointer, slice, map or interface) finds nothing. Options: Named.
func JoinGlobal[K, V, KG, VG, VR any](s KStream[K, V], g GlobalKTable[KG, VG], key func(K, V) KG, joiner func(V, VG) VR, opts ...Option) KStream[K, VR] {
	return streamGlobalJoin(s, g, "KSTREAM-JOIN", key, func(v V, gv *VG) (VR, bool) {
		if gv == nil {
			var zero VR
			return zero, false
		}
		return joiner(v, *gv), true
	}, opts)
}

// LeftJoinGlobal is the left join of a stream with a global table: every
// stream record gives a result, joiner(value, nil) where the table lacks
// the mapped key.
func LeftJoinGlobal[K, V, KG, VG, VR any](s KStream[K, V], g GlobalKTable[KG, VG], key func(K, V) KG, joiner func(V, *VG) VR, opts ...Option) KStream[K, VR] {
	return streamGlobalJoin(s, g, "KSTREAM-LEFTJOIN", key, func(v V, gv *VG) (VR, bool) {
		return joiner(v, gv), true
	}, opts)
}

func streamGlobalJoin[K, V, KG, VG, VR any](s KStream[K, V], g GlobalKTable[KG, VG], prefix string, key func(K, V) KG, join func(V, *VG) (VR, bool), opts []Option) KStream[K, VR] {
	b := s.b
	name := b.name(collect(opts), prefix)
	store := g.StoreName()
	b.addNode(name, func() *node {
		var kv state.KeyValueStore[KG, VG]
		return &node{
			init: func(ctx processor.NodeContext) error {
				st, err := ctx.Store(store)
				if err != nil {
					return err
				}
				kv, err = state.AsKeyValue[KG, VG](st)
				return err
			},
			process: func(ctx processor.NodeContext, r processor.AnyRecord) error {
				if r.Value == nil {
					return nil
				}
				v := typed[V](r.Value)
				var gv *VG
				if gk := key(typed[K](r.Key), v); !isNull(gk) {
					found, ok, err := kv.Get(gk)
					if err != nil {
						return err
					}
					if ok {
						gv = &found
					}
				}
				out, ok := join(v, gv)
				if !ok {
					return nil
				}
				r.Value = out
				return ctx.Forward(r, "")
			},
		}
	}, s.node)
	return KStream[K, VR]{b: b, node: name, keys: s.keys, repartition: s.repartition}
}
