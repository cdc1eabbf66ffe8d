package streams

import (
	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/state"
)

// Table-table joins, as Kafka's KTable.join, leftJoin and outerJoin: both
// tables are keyed alike and co-partitioned, and the result is a table of
// the same key. Each side has a processor that, on a change of its own
// side, reads the other side's current value from that side's store and
// forwards the new joined result of the key (none, where the join has no
// result). A side whose table has no store is materialized first, since
// the other side must be able to look its values up.
//
// The result is always kept in a store (WithStore names it; otherwise a
// generated one, without a cache so that results flow at once), and the
// old value a change forwards is the one that store held. Kafka computes
// the old result instead, from the changed side's old value and the other
// side's current one; that can go wrong when both sides of a key change in
// one cache flush (two tables derived from one topic): the side flushed
// first already sees the other's new value, so the second side's change
// claims an old result that was never emitted (counted twice downstream),
// and a key deleted on both sides finds the other side gone each time and
// never deletes its result. With the store the result stays exact: a
// result that stops existing becomes a delete (a tombstone downstream),
// and a join of the same pair again is an update of the row to itself.
//
// In the left and outer joins the joiner sees an absent side as a nil
// pointer. Kafka passes null there; Go has no null for a value type, and
// the zero value (0, "") is often a real value, so a pointer is the honest
// way to say "no row on this side". The inner join's joiner takes plain
// values, since both sides are always there.

// JoinTables is the inner join of two tables: a key has a result while
// both tables hold it. Options: Named (the merge node; the side processors
// are <name>-join-this and <name>-join-other), WithStore to name the
// result's store (then queryable, and cached unless WithoutCaching) and
// the other Materialized options, WithValueSerde for the result's values.
func JoinTables[K, V1, V2, VR any](left KTable[K, V1], right KTable[K, V2], joiner func(V1, V2) VR, opts ...Option) KTable[K, VR] {
	return joinTables(left, right, "JOIN", func(l *V1, r *V2) (VR, bool) {
		if l == nil || r == nil {
			var zero VR
			return zero, false
		}
		return joiner(*l, *r), true
	}, opts)
}

// LeftJoinTables is the left join: every key of left has a result, joined
// with right's value where right holds the key (r is nil where it does
// not).
func LeftJoinTables[K, V1, V2, VR any](left KTable[K, V1], right KTable[K, V2], joiner func(l V1, r *V2) VR, opts ...Option) KTable[K, VR] {
	return joinTables(left, right, "LEFT", func(l *V1, r *V2) (VR, bool) {
		if l == nil {
			var zero VR
			return zero, false
		}
		return joiner(*l, r), true
	}, opts)
}

// OuterJoinTables is the outer join: every key of either table has a
// result; the joiner gets nil for the side that lacks the key (never for
// both).
func OuterJoinTables[K, V1, V2, VR any](left KTable[K, V1], right KTable[K, V2], joiner func(l *V1, r *V2) VR, opts ...Option) KTable[K, VR] {
	return joinTables(left, right, "OUTER", func(l *V1, r *V2) (VR, bool) {
		if l == nil && r == nil {
			var zero VR
			return zero, false
		}
		return joiner(l, r), true
	}, opts)
}

// joinTables wires the two side processors and the merge node. join gives
// the result of a pair of values, either of them absent, and false where
// the join has no result for the pair.
func joinTables[K, V1, V2, VR any](left KTable[K, V1], right KTable[K, V2], kind string, join func(*V1, *V2) (VR, bool), opts []Option) KTable[K, VR] {
	b := left.b
	o := collect(opts)
	left, right = left.materialized(), right.materialized()
	thisName := b.name(nil, "KTABLE-"+kind+"THIS")
	otherName := b.name(nil, "KTABLE-"+kind+"OTHER")
	if o.name != "" {
		thisName, otherName = o.name+"-join-this", o.name+"-join-other"
	}
	addTableJoinSide[K](b, thisName, left.node, right.store, func(l *V1, r *V2) (VR, bool) { return join(l, r) })
	addTableJoinSide[K](b, otherName, right.node, left.store, func(r *V2, l *V1) (VR, bool) { return join(l, r) })

	name := b.name(o, "KTABLE-MERGE")
	vals := pickSerde[VR](b, o.valueSerde, nil)
	o.valueSerde = vals
	if o.store == "" {
		o.noCache = true
	}
	sb := storeBuilder(b, o, "KTABLE-MERGE", left.keys, vals)
	b.addNode(name, func() *node { return materializeNode[K, VR](sb.Name(), nil) }, thisName, otherName)
	b.t.AddStore(sb, name)
	return KTable[K, VR]{b: b, node: name, store: sb.Name(), keys: left.keys, vals: vals}
}

// addTableJoinSide adds the processor of one side of a table-table join:
// for each change of its own side it reads the other side's value from
// otherStore and forwards the new result of the key (nil: none), which
// the merge node compares with the result it holds. The result's
// timestamp is the later of the change's and the other value's, as in
// Kafka.
func addTableJoinSide[K, VS, VO, VR any](b *Builder, name, parent, otherStore string, join func(self *VS, other *VO) (VR, bool)) {
	b.addNode(name, func() *node {
		var other state.KeyValueStore[K, VO]
		return &node{
			init: func(ctx processor.NodeContext) error {
				s, err := ctx.Store(otherStore)
				if err != nil {
					return err
				}
				other, err = state.AsKeyValue[K, VO](s)
				return err
			},
			process: func(ctx processor.NodeContext, r processor.AnyRecord) error {
				if r.Key == nil {
					return nil
				}
				c := r.Value.(change)
				ov, ots, had, err := other.GetWithTimestamp(typed[K](r.Key))
				if err != nil {
					return err
				}
				var op *VO
				ts := r.Timestamp
				if had {
					op, ts = &ov, max(ts, ots)
				}
				var out change
				if res, ok := join(ptrOf[VS](c.new), op); ok {
					out.new = res
				}
				return ctx.Forward(processor.AnyRecord{Key: r.Key, Value: out, Timestamp: ts, Headers: r.Headers}, "")
			},
		}
	}, parent)
	b.t.ConnectStore(otherStore, name)
}

// ptrOf converts an untyped value of a change to a pointer, nil for none.
func ptrOf[V any](x any) *V {
	if x == nil {
		return nil
	}
	v := typed[V](x)
	return &v
}

// materialized returns the table itself if it has a store, and otherwise
// the table kept in a store of its own (Kafka materializes such a table
// for a join that must look its values up).
func (t KTable[K, V]) materialized() KTable[K, V] {
	if t.store != "" {
		return t
	}
	o := &options{}
	name := t.b.name(o, "KTABLE-MATERIALIZE")
	o.store = name + "-STATE-STORE"
	store := tableStep(t.b, o, name, "KTABLE-MATERIALIZE", t.node, t.keys, t.vals, func(r processor.AnyRecord) change {
		return change{new: r.Value.(change).new}
	})
	out := t
	out.node, out.store = name, store
	return out
}

// materializeNode keeps the changes that reach it in store and forwards
// them, the old value being the one the store held (through the record
// cache when the store has one). newValue gives the new value of a record
// (nil: the record's value is a change).
func materializeNode[K, V any](store string, newValue func(processor.AnyRecord) any) *node {
	var kv *state.TypedStore[K, V]
	var cached bool
	return &node{
		init: func(ctx processor.NodeContext) error {
			var err error
			kv, cached, err = tableStore[K, V](ctx, store)
			return err
		},
		process: func(ctx processor.NodeContext, r processor.AnyRecord) error {
			if r.Key == nil {
				return nil
			}
			var nv any
			if newValue != nil {
				nv = newValue(r)
			} else {
				nv = r.Value.(change).new
			}
			k := typed[K](r.Key)
			old, had, err := kv.Get(k)
			if err != nil {
				return err
			}
			if nv == nil {
				if !had {
					return nil
				}
				err = kv.Delete(k)
			} else {
				err = kv.PutWithTimestamp(k, typed[V](nv), r.Timestamp)
			}
			if err != nil || cached {
				return err
			}
			var oldAny any
			if had {
				oldAny = old
			}
			r.Value = change{new: nv, old: oldAny}
			return ctx.Forward(r, "")
		},
	}
}
