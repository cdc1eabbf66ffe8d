// Package topology is the graph of a stream-processing application: source
// nodes that read topics, processor nodes, sink nodes that write topics, and
// the state stores processors use. It splits the graph into sub-topologies
// (the parts connected by edges or by a shared store; repartition topics
// separate them), each run as one task per partition of its source topics,
// and describes itself as Kafka Streams' Topology.describe() does.
//
// Nodes are untyped (processor.Node); the typed functions AddSource,
// AddProcessor and AddSink put serdes and type conversions around them.
package topology

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/state"
)

// Kind is the kind of a node.
type Kind int

const (
	Source Kind = iota
	Processor
	Sink
)

// Decoder reads a key or value from a record of topic; nil bytes (null)
// never reach it.
type Decoder func(topic string, b []byte) (any, error)

// Encoder writes a key or value for topic; a nil value (null) never reaches
// it.
type Encoder func(topic string, v any) ([]byte, error)

// TimestampExtractor gives a record's timestamp in milliseconds.
// partitionTime is the largest timestamp seen so far on the record's
// partition (-1 before the first).
type TimestampExtractor func(r InputRecord, partitionTime int64) (int64, error)

// InputRecord is a record as it came from a topic, before deserialization.
type InputRecord struct {
	Topic      string
	Partition  int32
	Offset     int64
	Key, Value []byte
	Timestamp  int64
	Headers    []processor.Header
}

// TopicNameExtractor picks the topic of each record a sink writes.
type TopicNameExtractor func(key, value any, meta processor.RecordMetadata) string

// Node is one node of the graph.
type Node struct {
	Name     string
	Kind     Kind
	Parents  []string
	Children []string
	Stores   []string

	// Source nodes.
	Topics     []string
	KeyDecode  Decoder
	ValDecode  Decoder
	Timestamps TimestampExtractor // nil: the application's default

	// Processor nodes.
	New func() processor.Node

	// Sink nodes: Topic, or TopicFunc when the topic is chosen per record.
	Topic     string
	TopicFunc TopicNameExtractor
	KeyEncode Encoder
	ValEncode Encoder
	// Partitioner, if set, picks the partition of each record the sink
	// writes; otherwise the key's hash does (Kafka's default).
	Partitioner StreamPartitioner
}

// StreamPartitioner picks the partition (0 to partitions-1) of a record a
// sink writes to topic.
type StreamPartitioner func(topic string, key, value any, partitions int32) int32

// InternalTopic is a topic the application owns, named
// <application.id>-<Name>.
type InternalTopic struct {
	Name string
	// Partitions is the partition count asked for; 0 derives it from the
	// source topics of the sub-topology that writes it.
	Partitions int32
	Config     map[string]string
	// ReaderPartitions derives the count (when Partitions is 0) from the
	// sub-topology that reads the topic, fixed by its other source topics,
	// rather than from the one that writes it: the foreign-key join's
	// topics are partitioned like the table on their reading side, as
	// Kafka's co-partition groups make them.
	ReaderPartitions bool
}

// GlobalStore is a store that every instance fills with the whole of a
// topic, read by a processor of its own.
type GlobalStore struct {
	Builder   state.Builder
	Source    string // node name
	Topic     string
	Processor string // node name
}

// Topology is the whole graph.
type Topology struct {
	nodes    []*Node
	byName   map[string]*Node
	stores   map[string]state.Builder
	order    []string // store names in the order added
	internal map[string]*InternalTopic
	globals  []*GlobalStore
	errs     []error
}

// New returns an empty topology.
func New() *Topology {
	return &Topology{
		byName:   make(map[string]*Node),
		stores:   make(map[string]state.Builder),
		internal: make(map[string]*InternalTopic),
	}
}

func (t *Topology) fail(format string, args ...any) {
	t.errs = append(t.errs, fmt.Errorf(format, args...))
}

// Err reports every mistake made while building the topology.
func (t *Topology) Err() error { return errors.Join(t.errs...) }

// Node returns a node by name.
func (t *Topology) Node(name string) *Node { return t.byName[name] }

// Nodes returns every node in the order added.
func (t *Topology) Nodes() []*Node { return t.nodes }

// AddNode adds a node with its parents (which must exist). Typed callers use
// AddSource, AddProcessor and AddSink.
func (t *Topology) AddNode(n *Node, parents ...string) {
	if n.Name == "" {
		t.fail("a node needs a name")
		return
	}
	if _, dup := t.byName[n.Name]; dup {
		t.fail("node %s is added twice", n.Name)
		return
	}
	if n.Kind == Source && len(parents) > 0 {
		t.fail("source %s cannot have parents", n.Name)
		return
	}
	if n.Kind != Source && len(parents) == 0 {
		t.fail("node %s needs at least one parent", n.Name)
		return
	}
	for _, p := range parents {
		pn, ok := t.byName[p]
		if !ok {
			t.fail("node %s: parent %s is not in the topology", n.Name, p)
			return
		}
		if pn.Kind == Sink {
			t.fail("node %s: parent %s is a sink", n.Name, p)
			return
		}
	}
	if n.Kind == Source {
		for _, topic := range n.Topics {
			for _, other := range t.nodes {
				if other.Kind == Source && slices.Contains(other.Topics, topic) {
					t.fail("topic %s is read by both %s and %s", topic, other.Name, n.Name)
					return
				}
			}
		}
	}
	n.Parents = slices.Clone(parents)
	for _, p := range parents {
		t.byName[p].Children = append(t.byName[p].Children, n.Name)
	}
	t.nodes = append(t.nodes, n)
	t.byName[n.Name] = n
}

// SourceOption changes a source node.
type SourceOption func(*Node)

// WithTimestampExtractor sets the source's own timestamp extractor.
func WithTimestampExtractor(f TimestampExtractor) SourceOption {
	return func(n *Node) { n.Timestamps = f }
}

// AddSource adds a node that reads topics with the given serdes (nil:
// serde.Default).
func AddSource[K, V any](t *Topology, name string, topics []string, keys serde.Serde[K], values serde.Serde[V], opts ...SourceOption) {
	if len(topics) == 0 {
		t.fail("source %s reads no topic", name)
		return
	}
	n := &Node{Name: name, Kind: Source, Topics: slices.Clone(topics),
		KeyDecode: Decode(keys), ValDecode: Decode(values)}
	for _, o := range opts {
		o(n)
	}
	t.AddNode(n)
}

// AddProcessor adds a typed processor below parents; supplier is called once
// per task.
func AddProcessor[KIn, VIn, KOut, VOut any](t *Topology, name string, supplier func() processor.Processor[KIn, VIn, KOut, VOut], parents ...string) {
	t.AddNode(&Node{Name: name, Kind: Processor, New: func() processor.Node {
		return processor.Adapt(supplier())
	}}, parents...)
}

// AddSink adds a node that writes to topic with the given serdes (nil:
// serde.Default).
func AddSink[K, V any](t *Topology, name, topic string, keys serde.Serde[K], values serde.Serde[V], parents ...string) {
	t.AddNode(&Node{Name: name, Kind: Sink, Topic: topic, KeyEncode: Encode(keys), ValEncode: Encode(values)}, parents...)
}

// AddSinkFunc adds a sink whose topic is chosen per record.
func AddSinkFunc[K, V any](t *Topology, name string, topic func(key K, value V, meta processor.RecordMetadata) string, keys serde.Serde[K], values serde.Serde[V], parents ...string) {
	t.AddNode(&Node{Name: name, Kind: Sink, TopicFunc: func(k, v any, meta processor.RecordMetadata) string {
		tk, _ := processor.As[K](k)
		tv, _ := processor.As[V](v)
		return topic(tk, tv, meta)
	}, KeyEncode: Encode(keys), ValEncode: Encode(values)}, parents...)
}

// Decode makes a Decoder of a serde (nil: serde.Default).
func Decode[T any](s serde.Serde[T]) Decoder {
	if s == nil {
		s = serde.Default[T]()
	}
	return func(topic string, b []byte) (any, error) { return s.Deserialize(topic, b) }
}

// Encode makes an Encoder of a serde (nil: serde.Default).
func Encode[T any](s serde.Serde[T]) Encoder {
	if s == nil {
		s = serde.Default[T]()
	}
	return func(topic string, v any) ([]byte, error) {
		tv, err := processor.As[T](v)
		if err != nil {
			return nil, err
		}
		return s.Serialize(topic, tv)
	}
}

// AddStore adds a state store and connects it to processors.
func (t *Topology) AddStore(b state.Builder, processors ...string) {
	if _, dup := t.stores[b.Name()]; dup {
		t.fail("store %s is added twice", b.Name())
		return
	}
	t.stores[b.Name()] = b
	t.order = append(t.order, b.Name())
	t.ConnectStore(b.Name(), processors...)
}

// ConnectStore gives processors access to a store already added.
func (t *Topology) ConnectStore(store string, processors ...string) {
	if _, ok := t.stores[store]; !ok {
		t.fail("store %s is not in the topology", store)
		return
	}
	for _, p := range processors {
		n, ok := t.byName[p]
		if !ok || n.Kind != Processor {
			t.fail("store %s: %s is not a processor of the topology", store, p)
			continue
		}
		if !slices.Contains(n.Stores, store) {
			n.Stores = append(n.Stores, store)
		}
	}
}

// Store returns a store's builder.
func (t *Topology) Store(name string) (state.Builder, bool) {
	b, ok := t.stores[name]
	return b, ok
}

// AddGlobalStore adds a store that every instance fills from the whole of
// topic: records read by a source node are handed to a processor node that
// writes them into the store. The store's changelog is the topic itself.
func AddGlobalStore[K, V any](t *Topology, b state.Builder, sourceName, topic string, keys serde.Serde[K], values serde.Serde[V], processorName string, supplier func() processor.Processor[K, V, struct{}, struct{}]) {
	t.AddGlobalStoreNodes(b,
		&Node{Name: sourceName, Kind: Source, Topics: []string{topic}, KeyDecode: Decode(keys), ValDecode: Decode(values)},
		&Node{Name: processorName, Kind: Processor, New: func() processor.Node { return processor.Adapt(supplier()) }})
}

// AddGlobalStoreNodes is AddGlobalStore with untyped nodes.
func (t *Topology) AddGlobalStoreNodes(b state.Builder, source, proc *Node) {
	if len(source.Topics) != 1 {
		t.fail("global store %s must read exactly one topic", b.Name())
		return
	}
	t.AddNode(source)
	t.AddNode(proc, source.Name)
	if _, dup := t.stores[b.Name()]; dup {
		t.fail("store %s is added twice", b.Name())
		return
	}
	t.stores[b.Name()] = b
	t.order = append(t.order, b.Name())
	t.ConnectStore(b.Name(), proc.Name)
	t.globals = append(t.globals, &GlobalStore{Builder: b, Source: source.Name, Topic: source.Topics[0], Processor: proc.Name})
}

// GlobalStores lists the global stores.
func (t *Topology) GlobalStores() []*GlobalStore { return t.globals }

// Subtopology returns the nodes that fill a global store, to run as a task
// of their own (id -1-i for the i-th global store).
func (t *Topology) GlobalSubtopology(i int) *Subtopology {
	g := t.globals[i]
	return &Subtopology{ID: -1 - i, Nodes: []*Node{t.byName[g.Source], t.byName[g.Processor]},
		Topics: []string{g.Topic}, Stores: []string{g.Builder.Name()}}
}

// IsGlobal reports whether store is a global store.
func (t *Topology) IsGlobal(store string) bool {
	for _, g := range t.globals {
		if g.Builder.Name() == store {
			return true
		}
	}
	return false
}

func (t *Topology) globalNode(name string) bool {
	for _, g := range t.globals {
		if g.Source == name || g.Processor == name {
			return true
		}
	}
	return false
}

// AddInternalTopic declares a topic the application owns (a repartition
// topic); sources and sinks name it by its short name.
func (t *Topology) AddInternalTopic(it InternalTopic) {
	if _, dup := t.internal[it.Name]; dup {
		t.fail("internal topic %s is declared twice", it.Name)
		return
	}
	c := it
	t.internal[it.Name] = &c
}

// InternalTopic returns an internal topic by its short name.
func (t *Topology) InternalTopic(name string) (*InternalTopic, bool) {
	it, ok := t.internal[name]
	return it, ok
}

// TopicName is the full name of a topic the topology names: internal
// topics get the application id in front.
func (t *Topology) TopicName(appID, topic string) string {
	if _, ok := t.internal[topic]; ok {
		return appID + "-" + topic
	}
	return topic
}

// ChangelogTopic is the changelog topic of a store.
func ChangelogTopic(appID, store string) string { return appID + "-" + store + "-changelog" }

// Subtopology is a connected part of the graph, run as one task per
// partition.
type Subtopology struct {
	ID     int
	Nodes  []*Node // sources first, then in the order added
	Topics []string
	Stores []string
}

// Subtopologies splits the graph. Nodes are connected by edges and by
// sharing a store; global-store nodes are left out (they run on their own).
func (t *Topology) Subtopologies() ([]*Subtopology, error) {
	if err := t.Err(); err != nil {
		return nil, err
	}
	parent := make(map[string]string)
	var find func(string) string
	find = func(x string) string {
		if parent[x] == x {
			return x
		}
		parent[x] = find(parent[x])
		return parent[x]
	}
	union := func(a, b string) { parent[find(a)] = find(b) }
	storeOwner := make(map[string]string)
	for _, n := range t.nodes {
		parent[n.Name] = n.Name
	}
	for _, n := range t.nodes {
		for _, p := range n.Parents {
			union(n.Name, p)
		}
		for _, s := range n.Stores {
			if o, ok := storeOwner[s]; ok {
				union(n.Name, o)
			} else {
				storeOwner[s] = n.Name
			}
		}
	}
	groups := make(map[string]*Subtopology)
	var subs []*Subtopology
	for _, n := range t.nodes {
		if t.globalNode(n.Name) {
			continue
		}
		root := find(n.Name)
		st, ok := groups[root]
		if !ok {
			st = &Subtopology{ID: len(subs)}
			groups[root] = st
			subs = append(subs, st)
		}
		st.Nodes = append(st.Nodes, n)
	}
	for _, st := range subs {
		// Sources first (they have no parents), keeping insertion order.
		sort.SliceStable(st.Nodes, func(i, j int) bool {
			return st.Nodes[i].Kind == Source && st.Nodes[j].Kind != Source
		})
		for _, n := range st.Nodes {
			st.Topics = append(st.Topics, n.Topics...)
			for _, s := range n.Stores {
				if !slices.Contains(st.Stores, s) {
					st.Stores = append(st.Stores, s)
				}
			}
		}
		if len(st.Topics) == 0 {
			return nil, fmt.Errorf("sub-topology %d (node %s) has no source topic", st.ID, st.Nodes[0].Name)
		}
	}
	return subs, nil
}

// Describe prints the topology in Kafka Streams' layout.
func (t *Topology) Describe() string {
	var b strings.Builder
	b.WriteString("Topologies:\n")
	subs, err := t.Subtopologies()
	if err != nil {
		fmt.Fprintf(&b, "   (invalid: %v)\n", err)
		return b.String()
	}
	for _, st := range subs {
		fmt.Fprintf(&b, "   Sub-topology: %d\n", st.ID)
		for _, n := range st.Nodes {
			t.describeNode(&b, n)
		}
		b.WriteString("\n")
	}
	for i, g := range t.globals {
		fmt.Fprintf(&b, "   Sub-topology: %d for global store (will not generate tasks)\n", len(subs)+i)
		t.describeNode(&b, t.byName[g.Source])
		t.describeNode(&b, t.byName[g.Processor])
		b.WriteString("\n")
	}
	return b.String()
}

func (t *Topology) describeNode(b *strings.Builder, n *Node) {
	switch n.Kind {
	case Source:
		fmt.Fprintf(b, "    Source: %s (topics: [%s])\n", n.Name, strings.Join(n.Topics, ", "))
	case Processor:
		fmt.Fprintf(b, "    Processor: %s (stores: [%s])\n", n.Name, strings.Join(n.Stores, ", "))
	case Sink:
		topic := n.Topic
		if n.TopicFunc != nil {
			topic = "(chosen per record)"
		}
		fmt.Fprintf(b, "    Sink: %s (topic: %s)\n", n.Name, topic)
	}
	if len(n.Children) > 0 {
		fmt.Fprintf(b, "      --> %s\n", strings.Join(n.Children, ", "))
	} else {
		b.WriteString("      --> none\n")
	}
	if len(n.Parents) > 0 {
		fmt.Fprintf(b, "      <-- %s\n", strings.Join(n.Parents, ", "))
	}
}

// PartitionCounts works out the partition count of every sub-topology
// from the counts of the external source topics (known) and the internal
// topics (declared, or derived: an internal topic written by a
// sub-topology gets that sub-topology's count). It checks co-partitioning:
// every source topic of one sub-topology must have the same count.
func (t *Topology) PartitionCounts(subs []*Subtopology, external map[string]int32) (map[int]int32, map[string]int32, error) {
	internal := make(map[string]int32)
	for name, it := range t.internal {
		if it.Partitions > 0 {
			internal[name] = it.Partitions
		}
	}
	// An internal topic read beside external ones (the repartitioned side
	// of a join) takes their count, as Kafka's co-partitioning enforcer
	// does, rather than its writers'.
	for _, st := range subs {
		var n int32
		for _, topic := range st.Topics {
			if _, isInternal := t.internal[topic]; !isInternal {
				n = max(n, external[topic])
			}
		}
		for _, topic := range st.Topics {
			if _, isInternal := t.internal[topic]; isInternal && n > 0 && internal[topic] == 0 {
				internal[topic] = n
			}
		}
	}
	writers := make(map[string][]*Subtopology) // internal topic -> sub-topologies writing it
	for _, st := range subs {
		for _, n := range st.Nodes {
			if n.Kind == Sink && n.Topic != "" {
				if _, ok := t.internal[n.Topic]; ok {
					writers[n.Topic] = append(writers[n.Topic], st)
				}
			}
		}
	}
	counts := make(map[int]int32)
	for range len(subs) + len(t.internal) + 1 {
		progress := false
		for _, st := range subs {
			if _, done := counts[st.ID]; done {
				continue
			}
			n, ok, counted := int32(0), true, false
			for _, topic := range st.Topics {
				var c int32
				if it, isInternal := t.internal[topic]; isInternal {
					if it.ReaderPartitions && it.Partitions == 0 {
						continue
					}
					c, ok = internal[topic]
				} else {
					c, ok = external[topic]
					if !ok {
						return nil, nil, fmt.Errorf("source topic %s: %w", topic, ErrMissingSourceTopic)
					}
				}
				if !ok {
					break
				}
				n, counted = max(n, c), true
			}
			if ok && counted {
				counts[st.ID] = n
				progress = true
				for _, topic := range st.Topics {
					if it, isInternal := t.internal[topic]; isInternal && it.ReaderPartitions {
						if _, done := internal[topic]; !done {
							internal[topic] = n
						}
					}
				}
			}
		}
		for name, it := range t.internal {
			if _, done := internal[name]; done || it.ReaderPartitions {
				continue
			}
			var n int32
			all := len(writers[name]) > 0
			for _, w := range writers[name] {
				c, ok := counts[w.ID]
				if !ok {
					all = false
					break
				}
				n = max(n, c)
			}
			if all {
				internal[name] = n
				progress = true
			}
		}
		if !progress {
			break
		}
	}
	for _, st := range subs {
		n, ok := counts[st.ID]
		if !ok {
			return nil, nil, fmt.Errorf("sub-topology %d: cannot work out its partition count", st.ID)
		}
		for _, topic := range st.Topics {
			c := internal[topic]
			if _, isInternal := t.internal[topic]; !isInternal {
				c = external[topic]
			}
			if c != n {
				return nil, nil, fmt.Errorf("sub-topology %d: topics %s are not co-partitioned (%s has %d partitions, another has %d): %w",
					st.ID, strings.Join(st.Topics, ", "), topic, c, n, ErrNotCopartitioned)
			}
		}
	}
	return counts, internal, nil
}

// ErrMissingSourceTopic means a source topic does not exist.
var ErrMissingSourceTopic = errors.New("source topic does not exist")

// ErrNotCopartitioned means the source topics of a sub-topology have
// different partition counts.
var ErrNotCopartitioned = errors.New("source topics not co-partitioned")
