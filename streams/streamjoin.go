package streams

import (
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/state"
	"github.com/sluicehq/sluice/streams/state/pebblestore"
	"github.com/sluicehq/sluice/streams/topology"
)

// Stream-stream joins, as Kafka's KStream.join, leftJoin and outerJoin with
// JoinWindows.
//
// Both streams must be keyed alike and co-partitioned; a side whose key may
// have changed (Map, SelectKey, ...) is first written through a repartition
// topic, as Kafka does. Each side keeps its records in a join buffer (a
// changelogged store, state.JoinBuffer) for as long as a record of the other
// side may still join them, and each record that arrives looks up the
// other side's buffer for its key over its window: a left record at t joins
// the right records in [t-before, t+after], so a right record at t joins
// the left records in [t-after, t+before]. A joined result has the larger
// of the two timestamps.
//
// Time is the join's own stream time: the largest timestamp either side has
// shown it. A record more than the grace period behind it is late and
// dropped: it joins nothing and is not buffered.
//
// In the left and outer joins a record that has found no partner is held in
// a shared store (state.OuterBuffer) and emitted, joined with nothing, only
// once its window has closed: when stream time passes t+after+grace for a
// left record (t+before+grace for a right one). Earlier, a partner might
// still arrive; after it, none can, since a later one would be late. This
// is Kafka 3.1's fix of spurious left/outer results (KIP-633).
//
// Absent partners: the joiners of LeftJoin and OuterJoin take the side that
// may be absent as a pointer, nil when it is. Kafka passes null; a Go value
// type has no null, and its zero value (0, "") is often a real value, so a
// pointer says "no record" without ambiguity. Join's joiner takes values,
// since both sides are always there.
//
// Records with a null value are dropped. A record with a null key cannot
// join (keys must be equal); in a left or outer join, a record of an outer
// side with a null key is emitted at once, joined with nothing (KIP-962).

// JoinWindows is how far apart in time two records may be and still join,
// and how long out-of-order records are waited for.
type JoinWindows struct {
	before, after, grace int64 // milliseconds
	err                  error
}

// OfTimeDifferenceWithNoGrace joins records at most d apart, either way,
// with no grace period: a record behind stream time is dropped.
func OfTimeDifferenceWithNoGrace(d time.Duration) JoinWindows {
	return OfTimeDifferenceAndGrace(d, 0)
}

// OfTimeDifferenceAndGrace joins records at most d apart, either way, and
// accepts records up to grace behind stream time.
func OfTimeDifferenceAndGrace(d, grace time.Duration) JoinWindows {
	w := JoinWindows{before: d.Milliseconds(), after: d.Milliseconds(), grace: grace.Milliseconds()}
	switch {
	case d < 0:
		w.err = fmt.Errorf("join windows: time difference %v is negative", d)
	case grace < 0:
		w.err = fmt.Errorf("join windows: grace period %v is negative", grace)
	}
	return w
}

// Before changes how far before a left record a right record may be and
// still join it. It may be negative (the right record must then be that
// much after), so long as before+after is not.
func (w JoinWindows) Before(d time.Duration) JoinWindows {
	w.before = d.Milliseconds()
	if w.err == nil && w.before+w.after < 0 {
		w.err = fmt.Errorf("join windows: before %dms + after %dms is negative", w.before, w.after)
	}
	return w
}

// After changes how far after a left record a right record may be and
// still join it; as with Before, before+after must not be negative.
func (w JoinWindows) After(d time.Duration) JoinWindows {
	w.after = d.Milliseconds()
	if w.err == nil && w.before+w.after < 0 {
		w.err = fmt.Errorf("join windows: before %dms + after %dms is negative", w.before, w.after)
	}
	return w
}

// BeforeMs is how far before a left record a right record may be.
func (w JoinWindows) BeforeMs() int64 { return w.before }

// AfterMs is how far after a left record a right record may be.
func (w JoinWindows) AfterMs() int64 { return w.after }

// GracePeriodMs is how far behind stream time a record may arrive.
func (w JoinWindows) GracePeriodMs() int64 { return w.grace }

// Size is the span of one record's window: before+after.
func (w JoinWindows) Size() int64 { return w.before + w.after }

// retention is how long a buffered record may still be joined: a record
// arriving later than grace behind stream time is dropped, so a left record
// at t can be reached by no right record once stream time passes
// t+after+grace (t+before+grace for a right one). Kafka keeps
// before+after+grace; with a negative before or after, the larger side
// alone is the longer.
func (w JoinWindows) retention() int64 {
	return max(w.before+w.after, w.before, w.after) + w.grace
}

// WithOtherValueSerde sets the value serde of a join's right-hand stream,
// for its join buffer (and its repartition topic, if it needs one).
// WithKeySerde and WithValueSerde set the key and the left-hand values.
func WithOtherValueSerde[V any](s serde.Serde[V]) Option {
	return func(o *options) { o.otherValueSerde = s }
}

// Join is the inner join of two streams: each pair of records with equal
// keys within the window gives joiner(left, right). Options: Named (nodes
// <name>-this-join, <name>-other-join, <name>-merge), WithStore (prefix
// of the buffers' names: <prefix>-this-join-store, ...-other-join-store),
// InMemory, WithoutLogging, WithLogConfig, WithKeySerde, WithValueSerde,
// WithOtherValueSerde.
func Join[K, V1, V2, VR any](left KStream[K, V1], right KStream[K, V2], joiner func(V1, V2) VR, w JoinWindows, opts ...Option) KStream[K, VR] {
	return streamStreamJoin(left, right, w, false, false, func(l *V1, r *V2) VR { return joiner(*l, *r) }, opts)
}

// LeftJoin is the left join: as Join, and each left record that joins no
// right record within its window is emitted as joiner(left, nil) once the
// window has closed.
func LeftJoin[K, V1, V2, VR any](left KStream[K, V1], right KStream[K, V2], joiner func(V1, *V2) VR, w JoinWindows, opts ...Option) KStream[K, VR] {
	return streamStreamJoin(left, right, w, true, false, func(l *V1, r *V2) VR { return joiner(*l, r) }, opts)
}

// OuterJoin is the outer join: as LeftJoin, and likewise each right record
// that joins nothing is emitted as joiner(nil, right). The joiner never
// gets two nils.
func OuterJoin[K, V1, V2, VR any](left KStream[K, V1], right KStream[K, V2], joiner func(*V1, *V2) VR, w JoinWindows, opts ...Option) KStream[K, VR] {
	return streamStreamJoin(left, right, w, true, true, joiner, opts)
}

// joinInput is a record on its way to the join processor, marked with its
// side.
type joinInput struct {
	right bool
	value any
}

// streamJoinSpec is what every task's join processor shares.
type streamJoinSpec[K, V1, V2, VR any] struct {
	w                     JoinWindows
	leftOuter, rightOuter bool
	join                  func(*V1, *V2) VR
	keys                  serde.Serde[K]
	leftVals              serde.Serde[V1]
	rightVals             serde.Serde[V2]
	leftStore, rightStore string
	outerStore            string // "" for an inner join
}

func streamStreamJoin[K, V1, V2, VR any](left KStream[K, V1], right KStream[K, V2], w JoinWindows, leftOuter, rightOuter bool, join func(*V1, *V2) VR, opts []Option) KStream[K, VR] {
	b := left.b
	o := collect(opts)
	if w.err != nil {
		b.fail(w.err)
	}
	thisPrefix, otherPrefix := "KSTREAM-JOINTHIS", "KSTREAM-JOINOTHER"
	if rightOuter {
		thisPrefix = "KSTREAM-OUTERTHIS"
	}
	if leftOuter {
		otherPrefix = "KSTREAM-OUTEROTHER"
	}
	thisName := b.name(nil, thisPrefix)
	otherName := b.name(nil, otherPrefix)
	mergeName := b.name(nil, "KSTREAM-MERGE")
	outerName := ""
	if leftOuter || rightOuter {
		outerName = b.name(nil, "KSTREAM-OUTERSHARED") + "-store"
	}
	leftStore, rightStore := thisName+"-store", otherName+"-store"
	if o.name != "" {
		thisName, otherName, mergeName = o.name+"-this-join", o.name+"-other-join", o.name+"-merge"
	}
	if prefix := o.store; prefix != "" || o.name != "" {
		if prefix == "" {
			prefix = o.name
		}
		leftStore, rightStore = prefix+"-this-join-store", prefix+"-other-join-store"
		if outerName != "" {
			outerName = prefix + "-outer-shared-join-store"
		}
	}
	spec := &streamJoinSpec[K, V1, V2, VR]{
		w: w, leftOuter: leftOuter, rightOuter: rightOuter, join: join,
		keys:      pickSerde(b, o.keySerde, firstNonNil(left.keys, right.keys)),
		leftVals:  pickSerde(b, o.valueSerde, left.vals),
		rightVals: pickSerde(b, o.otherValueSerde, right.vals),
		leftStore: leftStore, rightStore: rightStore, outerStore: outerName,
	}
	if left.repartition {
		left.keys, left.vals = spec.keys, spec.leftVals
		left = repartitionThrough(left, mergeName+"-left", &options{})
	}
	if right.repartition {
		right.keys, right.vals = spec.keys, spec.rightVals
		right = repartitionThrough(right, mergeName+"-right", &options{})
	}
	tag := func(isRight bool) func(processor.NodeContext, processor.AnyRecord) error {
		return func(ctx processor.NodeContext, r processor.AnyRecord) error {
			r.Value = joinInput{right: isRight, value: r.Value}
			return ctx.Forward(r, "")
		}
	}
	b.stateless(thisName, tag(false), left.node)
	b.stateless(otherName, tag(true), right.node)
	b.addNode(mergeName, func() *node {
		p := &streamJoinProc[K, V1, V2, VR]{spec: spec, streamTime: -1, outerMin: math.MinInt64, nextPurge: math.MinInt64}
		return &node{init: p.init, process: p.process}
	}, thisName, otherName)
	logCfg := state.WindowedLogConfig(w.retention(), o.logConfig)
	b.t.AddStore(joinStoreBuilder(spec.leftStore, o, logCfg), mergeName)
	b.t.AddStore(joinStoreBuilder(spec.rightStore, o, logCfg), mergeName)
	if outerName != "" {
		// The outer buffer's entries are all deleted once emitted or
		// matched: compaction alone keeps its changelog small.
		outerCfg := map[string]string{}
		for k, v := range o.logConfig {
			outerCfg[k] = v
		}
		b.t.AddStore(joinStoreBuilder(outerName, o, outerCfg), mergeName)
	}
	return KStream[K, VR]{b: b, node: mergeName, keys: spec.keys}
}

func firstNonNil[T any](a, b serde.Serde[T]) serde.Serde[T] {
	if a != nil {
		return a
	}
	return b
}

// joinStoreBuilder makes the byte store of a join buffer: uncached (every
// record is read back at once by the other side) and logged unless
// WithoutLogging.
func joinStoreBuilder(name string, o *options, logCfg map[string]string) state.Builder {
	var sup state.Supplier
	if o.inMemory {
		sup = state.InMemory(name)
	} else {
		sup = pebblestore.Supplier(name)
	}
	return state.NewKeyValueBuilder(sup, serde.Bytes, serde.Bytes).WithCaching(false).WithLogging(!o.noLog, logCfg)
}

// streamJoinProc is the join processor of one task.
type streamJoinProc[K, V1, V2, VR any] struct {
	spec        *streamJoinSpec[K, V1, V2, VR]
	left, right *state.JoinBuffer
	outer       *state.OuterBuffer
	// topic and rightTopic are what serdes are told: the buffers'
	// changelogs (keys are serialized once, for the left one).
	topic, rightTopic string
	// streamTime is the largest timestamp the join has seen, on either side
	// (Kafka's shared time tracker); it starts again when the task reopens.
	streamTime int64
	// outerMin is at most the oldest timestamp in the outer buffer
	// (MinInt64: not known, MaxInt64: empty), so that most records need not
	// look into it.
	outerMin int64
	// nextPurge is the stream time at which the buffers are next cleared
	// of records no one can join any more.
	nextPurge int64
}

func joinBytesStore(ctx processor.NodeContext, name string) (state.BytesStore, error) {
	s, err := ctx.Store(name)
	if err != nil {
		return nil, err
	}
	bs, ok := s.(interface{ Bytes() state.BytesStore })
	if !ok {
		return nil, fmt.Errorf("join store %s is %T, not a byte store", name, s)
	}
	return bs.Bytes(), nil
}

func (p *streamJoinProc[K, V1, V2, VR]) init(ctx processor.NodeContext) error {
	l, err := joinBytesStore(ctx, p.spec.leftStore)
	if err != nil {
		return err
	}
	r, err := joinBytesStore(ctx, p.spec.rightStore)
	if err != nil {
		return err
	}
	p.left, p.right = state.NewJoinBuffer(l), state.NewJoinBuffer(r)
	if p.spec.outerStore != "" {
		o, err := joinBytesStore(ctx, p.spec.outerStore)
		if err != nil {
			return err
		}
		p.outer = state.NewOuterBuffer(o)
	}
	p.topic = topology.ChangelogTopic(ctx.ApplicationID(), p.spec.leftStore)
	p.rightTopic = topology.ChangelogTopic(ctx.ApplicationID(), p.spec.rightStore)
	return nil
}

// side is what differs between a left and a right record.
type side struct {
	right         bool
	outer         bool  // its unmatched records are emitted
	before, after int64 // its window: [t-before, t+after] of the other side
}

func (p *streamJoinProc[K, V1, V2, VR]) sideOf(right bool) side {
	w := p.spec.w
	if right {
		return side{right: true, outer: p.spec.rightOuter, before: w.after, after: w.before}
	}
	return side{outer: p.spec.leftOuter, before: w.before, after: w.after}
}

// result joins a value of one side with one of the other (nil: absent).
func (p *streamJoinProc[K, V1, V2, VR]) result(right bool, this, other any) VR {
	l, r := this, other
	if right {
		l, r = other, this
	}
	var lp *V1
	var rp *V2
	if l != nil {
		v := typed[V1](l)
		lp = &v
	}
	if r != nil {
		v := typed[V2](r)
		rp = &v
	}
	return p.spec.join(lp, rp)
}

func (p *streamJoinProc[K, V1, V2, VR]) encode(right bool, v any) ([]byte, error) {
	var b []byte
	var err error
	if right {
		b, err = p.spec.rightVals.Serialize(p.rightTopic, typed[V2](v))
	} else {
		b, err = p.spec.leftVals.Serialize(p.topic, typed[V1](v))
	}
	if err != nil {
		return nil, fmt.Errorf("serialize value for the join buffer: %w", err)
	}
	return b, nil
}

func (p *streamJoinProc[K, V1, V2, VR]) decode(right bool, b []byte) (any, error) {
	var v any
	var err error
	if right {
		v, err = p.spec.rightVals.Deserialize(p.rightTopic, b)
	} else {
		v, err = p.spec.leftVals.Deserialize(p.topic, b)
	}
	if err != nil {
		return nil, fmt.Errorf("deserialize a buffered join value: %w", err)
	}
	return v, nil
}

func (p *streamJoinProc[K, V1, V2, VR]) buffer(right bool) *state.JoinBuffer {
	if right {
		return p.right
	}
	return p.left
}

func (p *streamJoinProc[K, V1, V2, VR]) process(ctx processor.NodeContext, r processor.AnyRecord) error {
	in := r.Value.(joinInput)
	s := p.sideOf(in.right)
	ts := r.Timestamp
	p.streamTime = max(p.streamTime, ts)
	if isNull(r.Key) {
		if s.outer && in.value != nil {
			return ctx.Forward(processor.AnyRecord{Key: r.Key, Value: p.result(in.right, in.value, nil), Timestamp: ts, Headers: r.Headers}, "")
		}
		return nil
	}
	if in.value == nil {
		return nil
	}
	if ts+p.spec.w.grace < p.streamTime {
		return nil // late: out of order by more than the grace period
	}
	if p.outer != nil && ts == p.streamTime {
		if err := p.emitClosed(ctx); err != nil {
			return err
		}
	}
	if err := p.maybePurge(); err != nil {
		return err
	}
	kb, err := p.spec.keys.Serialize(p.topic, typed[K](r.Key))
	if err != nil {
		return fmt.Errorf("serialize key for the join buffer: %w", err)
	}
	if kb == nil {
		return nil // a key that serializes to null joins nothing
	}
	type match struct {
		ts    int64
		seq   uint32
		value []byte
	}
	var matches []match
	err = p.buffer(!in.right).Fetch(kb, ts-s.before, ts+s.after, func(ots int64, seq uint32, v []byte) error {
		matches = append(matches, match{ots, seq, v})
		return nil
	})
	if err != nil {
		return err
	}
	vb, err := p.encode(in.right, in.value)
	if err != nil {
		return err
	}
	seq, err := p.buffer(in.right).Put(kb, ts, vb)
	if err != nil {
		return err
	}
	for _, m := range matches {
		other, err := p.decode(!in.right, m.value)
		if err != nil {
			return err
		}
		if p.outer != nil {
			// The partner may have been waiting for one.
			if err := p.outer.Delete(m.ts, !in.right, kb, m.seq); err != nil {
				return err
			}
		}
		out := processor.AnyRecord{Key: r.Key, Value: p.result(in.right, in.value, other), Timestamp: max(ts, m.ts), Headers: r.Headers}
		if err := ctx.Forward(out, ""); err != nil {
			return err
		}
	}
	if len(matches) > 0 || !s.outer {
		return nil
	}
	if ts+s.after+p.spec.w.grace < p.streamTime {
		// Its window closed before it arrived (possible only with a
		// negative before or after): nothing can join it any more.
		return ctx.Forward(processor.AnyRecord{Key: r.Key, Value: p.result(in.right, in.value, nil), Timestamp: ts, Headers: r.Headers}, "")
	}
	if err := p.outer.Put(ts, in.right, kb, seq, vb); err != nil {
		return err
	}
	if p.outerMin != math.MinInt64 { // else not known: the next emit looks
		p.outerMin = min(p.outerMin, ts)
	}
	return nil
}

// emitClosed emits, oldest first, the unmatched records whose windows have
// closed, and removes them from the outer buffer.
func (p *streamJoinProc[K, V1, V2, VR]) emitClosed(ctx processor.NodeContext) error {
	w := p.spec.w
	if p.outerMin == math.MaxInt64 {
		return nil // empty
	}
	if p.outerMin != math.MinInt64 && p.outerMin+min(w.before, w.after)+w.grace >= p.streamTime {
		return nil // nothing in the buffer can have closed yet
	}
	var closed []state.OuterEntry
	leftOpen, rightOpen := !p.spec.leftOuter, !p.spec.rightOuter
	p.outerMin = math.MaxInt64
	err := p.outer.Scan(func(e state.OuterEntry) (bool, error) {
		if leftOpen && rightOpen {
			// Each side's entries come in time order: past an open one, all
			// of that side are open.
			return false, nil
		}
		if e.Timestamp+p.sideOf(e.Right).after+w.grace >= p.streamTime {
			if e.Right {
				rightOpen = true
			} else {
				leftOpen = true
			}
			p.outerMin = min(p.outerMin, e.Timestamp)
			return true, nil
		}
		e.Key, e.Value = append([]byte(nil), e.Key...), append([]byte(nil), e.Value...)
		closed = append(closed, e)
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, e := range closed {
		k, err := p.spec.keys.Deserialize(p.topic, e.Key)
		if err != nil {
			return fmt.Errorf("deserialize a buffered join key: %w", err)
		}
		v, err := p.decode(e.Right, e.Value)
		if err != nil {
			return err
		}
		if err := ctx.Forward(processor.AnyRecord{Key: k, Value: p.result(e.Right, v, nil), Timestamp: e.Timestamp}, ""); err != nil {
			return err
		}
		if err := p.outer.Remove(e); err != nil {
			return err
		}
	}
	return nil
}

// maybePurge clears the buffers of records older than the retention, once
// per stretch of stream time (half the retention, at least a minute, as
// Kafka's segments), and when the task has just opened.
func (p *streamJoinProc[K, V1, V2, VR]) maybePurge() error {
	if p.streamTime < p.nextPurge {
		return nil
	}
	ret := p.spec.w.retention()
	minTime := p.streamTime - ret
	for _, buf := range []*state.JoinBuffer{p.left, p.right} {
		if _, err := buf.Purge(minTime); err != nil {
			return err
		}
	}
	p.nextPurge = p.streamTime + max(ret/2, time.Minute.Milliseconds())
	return nil
}

// isNull reports whether a key or value is Kafka's null: nil, or a nil
// pointer, map, slice or interface.
func isNull(x any) bool {
	if x == nil {
		return true
	}
	switch v := reflect.ValueOf(x); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return v.IsNil()
	}
	return false
}
