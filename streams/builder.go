// Package streams is Sluice's stream-processing library: the Go counterpart
// of Kafka Streams, built on franz-go, so it runs against Sluice or any
// Kafka cluster.
//
// A Builder makes a topology with a typed DSL (KStream, KTable,
// GlobalKTable); package topology and package processor offer the lower
// Processor API. An App runs a topology: application.id is its consumer
// group, each partition of a sub-topology's source topics is a task, tasks
// are shared among the instances of the application and move when one
// joins or leaves, and each task's state stores are backed by compacted
// changelog topics and restored from them. Processing is at least once.
//
// Operations that keep their types are methods; those that change a key or
// value type are functions, since Go methods cannot add type parameters:
//
//	words := streams.FlatMapValues(lines, strings.Fields)
//	counts := streams.GroupBy(words, func(_, w string) string { return w }).Count()
package streams

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/state"
	"github.com/sluicehq/sluice/streams/state/pebblestore"
	"github.com/sluicehq/sluice/streams/topology"
)

// Builder builds a topology with the DSL.
type Builder struct {
	t     *topology.Topology
	index int
	errs  []error
}

// NewBuilder returns an empty builder.
func NewBuilder() *Builder { return &Builder{t: topology.New()} }

// Build returns the topology, or every mistake made building it.
func (b *Builder) Build() (*topology.Topology, error) {
	if len(b.errs) > 0 {
		return nil, b.errs[0]
	}
	if err := b.t.Err(); err != nil {
		return nil, err
	}
	return b.t, nil
}

// Topology is the topology as built so far, for mixing the DSL with the
// Processor API.
func (b *Builder) Topology() *topology.Topology { return b.t }

func (b *Builder) fail(err error) { b.errs = append(b.errs, err) }

// name is a node's name: the one given with Named, or Kafka's
// PREFIX-0000000007 pattern with a counter shared by every node.
func (b *Builder) name(o *options, prefix string) string {
	n := b.index
	b.index++
	if o != nil && o.name != "" {
		return o.name
	}
	return fmt.Sprintf("%s-%010d", prefix, n)
}

// Option adjusts one DSL operation: its name, serdes, store or partitions,
// as Kafka's Named, Consumed, Produced, Grouped, Materialized and
// Repartitioned do.
type Option func(*options)

type options struct {
	name       string
	store      string
	inMemory   bool
	noCache    bool
	noLog      bool
	logConfig  map[string]string
	keySerde   any
	valueSerde any
	partitions int32
	timestamps topology.TimestampExtractor
	partition  any           // func(string, K, V, int) int
	retention  time.Duration // windowed stores; 0: the windows' default

	// otherValueSerde is a stream-stream join's right-hand value serde
	// (Kafka's StreamJoined.withOtherValueSerde).
	otherValueSerde any
}

func collect(opts []Option) *options {
	o := &options{}
	for _, f := range opts {
		f(o)
	}
	return o
}

// Named names the node an operation adds (or, for a grouping, its
// repartition topic).
func Named(name string) Option { return func(o *options) { o.name = name } }

// WithStore names the state store an operation materializes (Materialized.as):
// its changelog is <application.id>-<name>-changelog and interactive
// queries find it by this name.
func WithStore(name string) Option { return func(o *options) { o.store = name } }

// InMemory keeps the store in memory instead of on pebble.
func InMemory() Option { return func(o *options) { o.inMemory = true } }

// WithoutCaching turns the record cache off for the store: every update is
// forwarded downstream and logged at once.
func WithoutCaching() Option { return func(o *options) { o.noCache = true } }

// WithoutLogging turns the store's changelog off: its contents are then
// lost with the instance.
func WithoutLogging() Option { return func(o *options) { o.noLog = true } }

// WithLogConfig adds configs to the store's changelog topic.
func WithLogConfig(cfg map[string]string) Option { return func(o *options) { o.logConfig = cfg } }

// WithKeySerde sets the key serde of an operation (Consumed, Produced,
// Grouped, Materialized). Its type must be the operation's key type.
func WithKeySerde[K any](s serde.Serde[K]) Option { return func(o *options) { o.keySerde = s } }

// WithValueSerde sets the value serde of an operation.
func WithValueSerde[V any](s serde.Serde[V]) Option { return func(o *options) { o.valueSerde = s } }

// WithPartitions sets the partition count of a repartition topic.
func WithPartitions(n int) Option { return func(o *options) { o.partitions = int32(n) } }

// WithPartitioner chooses the partition of each record that To or
// Repartition writes (Kafka's StreamPartitioner): fn gets the topic, the
// record and the topic's partition count, and returns a partition. K and V
// must be the stream's types.
func WithPartitioner[K, V any](fn func(topic string, key K, value V, partitions int) int) Option {
	return func(o *options) { o.partition = fn }
}

// partitioner converts the WithPartitioner option for a stream of K, V.
func partitioner[K, V any](b *Builder, o *options) topology.StreamPartitioner {
	if o.partition == nil {
		return nil
	}
	fn, ok := o.partition.(func(string, K, V, int) int)
	if !ok {
		b.fail(fmt.Errorf("partitioner %T given for a stream of %s to %s", o.partition, serde.TypeName[K](), serde.TypeName[V]()))
		return nil
	}
	return func(topic string, k, v any, n int32) int32 {
		return int32(fn(topic, typed[K](k), typed[V](v), int(n)))
	}
}

// WithRetention sets how long a windowed store keeps windows
// (Materialized.withRetention); it must be at least the window size plus
// the grace period (for session windows, the gap plus the grace period).
func WithRetention(d time.Duration) Option { return func(o *options) { o.retention = d } }

// WithTimestampExtractor sets a source's timestamp extractor.
func WithTimestampExtractor(f topology.TimestampExtractor) Option {
	return func(o *options) { o.timestamps = f }
}

// pickSerde returns the option's serde if set (checking its type), else
// known, else the default for T.
func pickSerde[T any](b *Builder, set any, known serde.Serde[T]) serde.Serde[T] {
	if set != nil {
		s, ok := set.(serde.Serde[T])
		if !ok {
			b.fail(fmt.Errorf("serde %T given where a serde of %s is needed", set, serde.TypeName[T]()))
			return serde.Default[T]()
		}
		return s
	}
	if known != nil {
		return known
	}
	return serde.Default[T]()
}

// storeBuilder makes the key-value store an operation materializes.
func storeBuilder[K, V any](b *Builder, o *options, prefix string, keys serde.Serde[K], values serde.Serde[V]) state.Builder {
	name := o.store
	if name == "" {
		name = b.name(nil, prefix+"-STATE-STORE")
	}
	var sup state.Supplier
	if o.inMemory {
		sup = state.InMemory(name)
	} else {
		sup = pebblestore.Supplier(name)
	}
	return state.NewKeyValueBuilder(sup, pickSerde(b, o.keySerde, keys), pickSerde(b, o.valueSerde, values)).
		WithCaching(!o.noCache).
		WithLogging(!o.noLog, o.logConfig)
}

// node is a DSL processor written against the untyped graph, so that it
// sees Kafka's nulls as nil.
type node struct {
	init    func(ctx processor.NodeContext) error
	process func(ctx processor.NodeContext, r processor.AnyRecord) error
	ctx     processor.NodeContext
}

func (n *node) Init(ctx processor.NodeContext) error {
	n.ctx = ctx
	if n.init != nil {
		return n.init(ctx)
	}
	return nil
}
func (n *node) Process(r processor.AnyRecord) error { return n.process(n.ctx, r) }
func (n *node) Close() error                        { return nil }

// addNode adds a DSL processor below parents.
func (b *Builder) addNode(name string, newNode func() *node, parents ...string) {
	b.t.AddNode(&topology.Node{Name: name, Kind: topology.Processor, New: func() processor.Node { return newNode() }}, parents...)
}

// stateless adds a node that runs fn on each record.
func (b *Builder) stateless(name string, fn func(ctx processor.NodeContext, r processor.AnyRecord) error, parents ...string) {
	b.addNode(name, func() *node { return &node{process: fn} }, parents...)
}

// typed converts an untyped key or value, naming the node on a mismatch.
func typed[T any](x any) T {
	t, err := processor.As[T](x)
	if err != nil {
		panic(fmt.Sprintf("streams: %v (a topology wired with mismatched types)", err))
	}
	return t
}
