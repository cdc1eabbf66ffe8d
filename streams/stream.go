package streams

import (
	"fmt"

	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/topology"
)

// KStream is a stream of records: each one an independent event.
type KStream[K, V any] struct {
	b    *Builder
	node string
	keys serde.Serde[K] // known serdes, nil when the types changed
	vals serde.Serde[V]
	// repartition is set once the key may have changed: a grouping then
	// goes through a repartition topic so each key lands in one task.
	repartition bool
}

// Stream reads topics as a stream, with serdes from WithKeySerde and
// WithValueSerde (default: by type).
func Stream[K, V any](b *Builder, topics []string, opts ...Option) KStream[K, V] {
	o := collect(opts)
	name := b.name(o, "KSTREAM-SOURCE")
	keys := pickSerde[K](b, o.keySerde, nil)
	vals := pickSerde[V](b, o.valueSerde, nil)
	var sopts []topology.SourceOption
	if o.timestamps != nil {
		sopts = append(sopts, topology.WithTimestampExtractor(o.timestamps))
	}
	topology.AddSource(b.t, name, topics, keys, vals, sopts...)
	return KStream[K, V]{b: b, node: name, keys: keys, vals: vals}
}

// Node is the name of the node that produces the stream.
func (s KStream[K, V]) Node() string { return s.node }

func (s KStream[K, V]) same(name string) KStream[K, V] {
	s.node = name
	return s
}

// Filter keeps the records for which keep is true.
func (s KStream[K, V]) Filter(keep func(K, V) bool, opts ...Option) KStream[K, V] {
	name := s.b.name(collect(opts), "KSTREAM-FILTER")
	s.b.stateless(name, func(ctx processor.NodeContext, r processor.AnyRecord) error {
		if keep(typed[K](r.Key), typed[V](r.Value)) {
			return ctx.Forward(r, "")
		}
		return nil
	}, s.node)
	return s.same(name)
}

// FilterNot drops the records for which drop is true.
func (s KStream[K, V]) FilterNot(drop func(K, V) bool, opts ...Option) KStream[K, V] {
	name := s.b.name(collect(opts), "KSTREAM-FILTER")
	s.b.stateless(name, func(ctx processor.NodeContext, r processor.AnyRecord) error {
		if !drop(typed[K](r.Key), typed[V](r.Value)) {
			return ctx.Forward(r, "")
		}
		return nil
	}, s.node)
	return s.same(name)
}

// Peek calls fn on each record and passes it on unchanged.
func (s KStream[K, V]) Peek(fn func(K, V), opts ...Option) KStream[K, V] {
	name := s.b.name(collect(opts), "KSTREAM-PEEK")
	s.b.stateless(name, func(ctx processor.NodeContext, r processor.AnyRecord) error {
		fn(typed[K](r.Key), typed[V](r.Value))
		return ctx.Forward(r, "")
	}, s.node)
	return s.same(name)
}

// Foreach calls fn on each record; the stream ends there.
func (s KStream[K, V]) Foreach(fn func(K, V), opts ...Option) {
	name := s.b.name(collect(opts), "KSTREAM-FOREACH")
	s.b.stateless(name, func(_ processor.NodeContext, r processor.AnyRecord) error {
		fn(typed[K](r.Key), typed[V](r.Value))
		return nil
	}, s.node)
}

// Merge interleaves two streams of the same types.
func (s KStream[K, V]) Merge(other KStream[K, V], opts ...Option) KStream[K, V] {
	name := s.b.name(collect(opts), "KSTREAM-MERGE")
	s.b.stateless(name, func(ctx processor.NodeContext, r processor.AnyRecord) error {
		return ctx.Forward(r, "")
	}, s.node, other.node)
	out := s.same(name)
	out.repartition = s.repartition || other.repartition
	return out
}

// To writes the stream to topic (serdes: WithKeySerde, WithValueSerde, or
// those the stream carries, or by type; partitions: by key hash, or
// WithPartitioner).
func (s KStream[K, V]) To(topic string, opts ...Option) {
	o := collect(opts)
	name := s.b.name(o, "KSTREAM-SINK")
	topology.AddSink(s.b.t, name, topic, pickSerde(s.b, o.keySerde, s.keys), pickSerde(s.b, o.valueSerde, s.vals), s.node)
	if p := partitioner[K, V](s.b, o); p != nil {
		s.b.t.Node(name).Partitioner = p
	}
}

// ToFunc writes each record to the topic that topic chooses for it.
func (s KStream[K, V]) ToFunc(topic func(K, V, processor.RecordMetadata) string, opts ...Option) {
	o := collect(opts)
	name := s.b.name(o, "KSTREAM-SINK")
	topology.AddSinkFunc(s.b.t, name, topic, pickSerde(s.b, o.keySerde, s.keys), pickSerde(s.b, o.valueSerde, s.vals), s.node)
}

// Repartition writes the stream through an internal topic
// (<application.id>-<name>-repartition) and reads it back, so that records
// are partitioned by their current key. WithPartitions sets the topic's
// partition count (default: that of the stream's sources).
func (s KStream[K, V]) Repartition(opts ...Option) KStream[K, V] {
	o := collect(opts)
	base := o.name
	if base == "" {
		base = s.b.name(nil, "KSTREAM-REPARTITION")
	}
	out := repartitionThrough(s, base, o)
	return out
}

// repartitionThrough adds the sink and source of a repartition topic.
func repartitionThrough[K, V any](s KStream[K, V], base string, o *options) KStream[K, V] {
	topic := base + "-repartition"
	keys := pickSerde(s.b, o.keySerde, s.keys)
	vals := pickSerde(s.b, o.valueSerde, s.vals)
	s.b.t.AddInternalTopic(topology.InternalTopic{Name: topic, Partitions: o.partitions, Config: map[string]string{
		"cleanup.policy": "delete",
		"retention.ms":   "-1",
	}})
	sink := base + "-repartition-sink"
	topology.AddSink(s.b.t, sink, topic, keys, vals, s.node)
	if p := partitioner[K, V](s.b, o); p != nil {
		s.b.t.Node(sink).Partitioner = p
	}
	source := base + "-repartition-source"
	topology.AddSource(s.b.t, source, []string{topic}, keys, vals)
	return KStream[K, V]{b: s.b, node: source, keys: keys, vals: vals}
}

// Process hands the stream to a Processor API processor and returns what it
// forwards; stores names the state stores (added to the topology) it uses.
func Process[K, V, KOut, VOut any](s KStream[K, V], supplier func() processor.Processor[K, V, KOut, VOut], stores []string, opts ...Option) KStream[KOut, VOut] {
	name := s.b.name(collect(opts), "KSTREAM-PROCESSOR")
	topology.AddProcessor(s.b.t, name, supplier, s.node)
	for _, st := range stores {
		s.b.t.ConnectStore(st, name)
	}
	return KStream[KOut, VOut]{b: s.b, node: name, repartition: true}
}

// Map changes key and value.
func Map[K, V, KR, VR any](s KStream[K, V], fn func(K, V) (KR, VR), opts ...Option) KStream[KR, VR] {
	name := s.b.name(collect(opts), "KSTREAM-MAP")
	s.b.stateless(name, func(ctx processor.NodeContext, r processor.AnyRecord) error {
		k, v := fn(typed[K](r.Key), typed[V](r.Value))
		return ctx.Forward(processor.AnyRecord{Key: k, Value: v, Timestamp: r.Timestamp, Headers: r.Headers}, "")
	}, s.node)
	return KStream[KR, VR]{b: s.b, node: name, repartition: true}
}

// MapValues changes the value; the key, and so the partitioning, stays.
func MapValues[K, V, VR any](s KStream[K, V], fn func(V) VR, opts ...Option) KStream[K, VR] {
	return MapValuesWithKey(s, func(_ K, v V) VR { return fn(v) }, opts...)
}

// MapValuesWithKey changes the value, seeing the key.
func MapValuesWithKey[K, V, VR any](s KStream[K, V], fn func(K, V) VR, opts ...Option) KStream[K, VR] {
	name := s.b.name(collect(opts), "KSTREAM-MAPVALUES")
	s.b.stateless(name, func(ctx processor.NodeContext, r processor.AnyRecord) error {
		r.Value = fn(typed[K](r.Key), typed[V](r.Value))
		return ctx.Forward(r, "")
	}, s.node)
	return KStream[K, VR]{b: s.b, node: name, keys: s.keys, repartition: s.repartition}
}

// KeyValue is one output record of FlatMap.
type KeyValue[K, V any] struct {
	Key   K
	Value V
}

// Pair makes a KeyValue.
func Pair[K, V any](k K, v V) KeyValue[K, V] { return KeyValue[K, V]{k, v} }

// FlatMap turns each record into zero or more records.
func FlatMap[K, V, KR, VR any](s KStream[K, V], fn func(K, V) []KeyValue[KR, VR], opts ...Option) KStream[KR, VR] {
	name := s.b.name(collect(opts), "KSTREAM-FLATMAP")
	s.b.stateless(name, func(ctx processor.NodeContext, r processor.AnyRecord) error {
		for _, kv := range fn(typed[K](r.Key), typed[V](r.Value)) {
			if err := ctx.Forward(processor.AnyRecord{Key: kv.Key, Value: kv.Value, Timestamp: r.Timestamp, Headers: r.Headers}, ""); err != nil {
				return err
			}
		}
		return nil
	}, s.node)
	return KStream[KR, VR]{b: s.b, node: name, repartition: true}
}

// FlatMapValues turns each value into zero or more values with the same key.
func FlatMapValues[K, V, VR any](s KStream[K, V], fn func(V) []VR, opts ...Option) KStream[K, VR] {
	name := s.b.name(collect(opts), "KSTREAM-FLATMAPVALUES")
	s.b.stateless(name, func(ctx processor.NodeContext, r processor.AnyRecord) error {
		for _, v := range fn(typed[V](r.Value)) {
			if err := ctx.Forward(processor.AnyRecord{Key: r.Key, Value: v, Timestamp: r.Timestamp, Headers: r.Headers}, ""); err != nil {
				return err
			}
		}
		return nil
	}, s.node)
	return KStream[K, VR]{b: s.b, node: name, keys: s.keys, repartition: s.repartition}
}

// SelectKey gives each record a new key.
func SelectKey[K, V, KR any](s KStream[K, V], fn func(K, V) KR, opts ...Option) KStream[KR, V] {
	name := s.b.name(collect(opts), "KSTREAM-KEY-SELECT")
	s.b.stateless(name, func(ctx processor.NodeContext, r processor.AnyRecord) error {
		r.Key = fn(typed[K](r.Key), typed[V](r.Value))
		return ctx.Forward(r, "")
	}, s.node)
	return KStream[KR, V]{b: s.b, node: name, vals: s.vals, repartition: true}
}

// Branch is one branch of a Split: the records its predicate takes.
type Branch[K, V any] struct {
	Name      string
	Predicate func(K, V) bool
}

// Split sends each record to the first branch whose predicate is true
// (records no branch takes go to the default branch, named "" , if given,
// and are dropped otherwise), as Kafka's split().branch() does. It returns
// the branches by name, each name prefixed as Kafka does with the Named
// option's name.
func (s KStream[K, V]) Split(branches []Branch[K, V], defaultBranch string, opts ...Option) map[string]KStream[K, V] {
	o := collect(opts)
	prefix := o.name
	name := s.b.name(&options{name: prefix}, "KSTREAM-BRANCH")
	children := make([]string, len(branches))
	out := make(map[string]KStream[K, V])
	for i, br := range branches {
		bn := br.Name
		if bn == "" {
			bn = fmt.Sprint(i + 1)
		}
		children[i] = prefix + bn
		if prefix == "" {
			children[i] = name + "-" + bn
		}
	}
	defaultName := ""
	if defaultBranch != "" {
		defaultName = prefix + defaultBranch
		if prefix == "" {
			defaultName = name + "-" + defaultBranch
		}
	}
	s.b.stateless(name, func(ctx processor.NodeContext, r processor.AnyRecord) error {
		k, v := typed[K](r.Key), typed[V](r.Value)
		for i, br := range branches {
			if br.Predicate(k, v) {
				return ctx.Forward(r, children[i])
			}
		}
		if defaultName != "" {
			return ctx.Forward(r, defaultName)
		}
		return nil
	}, s.node)
	pass := func(ctx processor.NodeContext, r processor.AnyRecord) error { return ctx.Forward(r, "") }
	for i := range branches {
		s.b.stateless(children[i], pass, name)
		out[children[i]] = s.same(children[i])
	}
	if defaultName != "" {
		s.b.stateless(defaultName, pass, name)
		out[defaultName] = s.same(defaultName)
	}
	return out
}
