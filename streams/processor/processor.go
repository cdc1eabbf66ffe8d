// Package processor is the Processor API: the typed interface a node of a
// topology implements (Init, Process, Close), the context through which it
// forwards records to its children, reaches state stores and schedules
// punctuators, and the untyped form in which the runtime holds every node.
//
// Records travel between nodes as Record[any, any]; Adapt puts a typed
// processor in that graph, converting keys and values with a type check at
// each hop. A nil key or value (Kafka's null) reaches a typed processor as
// the zero value of its type.
package processor

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/streams/state"
)

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is what flows from node to node.
type Record[K, V any] struct {
	Key   K
	Value V
	// Timestamp is in milliseconds since the Unix epoch.
	Timestamp int64
	Headers   []Header
}

// WithKey returns a copy of r with another key, of any type.
func WithKey[K, V, K2 any](r Record[K, V], k K2) Record[K2, V] {
	return Record[K2, V]{Key: k, Value: r.Value, Timestamp: r.Timestamp, Headers: r.Headers}
}

// WithValue returns a copy of r with another value, of any type.
func WithValue[K, V, V2 any](r Record[K, V], v V2) Record[K, V2] {
	return Record[K, V2]{Key: r.Key, Value: v, Timestamp: r.Timestamp, Headers: r.Headers}
}

// Processor is a node of a topology that processes records.
type Processor[KIn, VIn, KOut, VOut any] interface {
	// Init is called once, when the task that holds the node opens and its
	// stores are restored.
	Init(ctx Context[KOut, VOut]) error
	Process(r Record[KIn, VIn]) error
	// Close is called when the task closes (shutdown, or the task moving
	// to another instance).
	Close() error
}

// TaskID names a task: the sub-topology it runs and the partition of its
// source topics.
type TaskID struct {
	Subtopology int
	Partition   int32
}

func (id TaskID) String() string { return fmt.Sprintf("%d_%d", id.Subtopology, id.Partition) }

// RecordMetadata is where the record being processed came from.
type RecordMetadata struct {
	Topic     string
	Partition int32
	Offset    int64
}

// PunctuationType says which clock drives a punctuator.
type PunctuationType int

const (
	// StreamTime punctuators fire as the task's stream time (the largest
	// record timestamp it has seen) advances past each interval; without
	// new records they do not fire.
	StreamTime PunctuationType = iota
	// WallClockTime punctuators fire on the system clock, whether or not
	// records arrive.
	WallClockTime
)

func (t PunctuationType) String() string {
	if t == WallClockTime {
		return "WALL_CLOCK_TIME"
	}
	return "STREAM_TIME"
}

// Cancellable cancels a scheduled punctuator.
type Cancellable interface{ Cancel() }

// Base is what every context offers, whatever the types it forwards.
type Base interface {
	ApplicationID() string
	TaskID() TaskID
	// Store returns a state store connected to this node, or a global
	// store. Convert it with state.AsKeyValue.
	Store(name string) (state.Store, error)
	// Schedule calls fn every interval of the given clock with the time
	// that triggered it. The function may forward records.
	Schedule(interval time.Duration, typ PunctuationType, fn func(ts int64) error) (Cancellable, error)
	// RecordMetadata is where the current input record came from; false
	// within a punctuator.
	RecordMetadata() (RecordMetadata, bool)
	// StreamTime is the task's stream time in milliseconds.
	StreamTime() int64
	// CurrentSystemTime is the wall clock in milliseconds (controlled by
	// the test driver in tests).
	CurrentSystemTime() int64
	// RequestCommit asks for a commit after the current record.
	RequestCommit()
}

// Context is what a processor reaches the rest of the topology through.
type Context[K, V any] interface {
	Base
	// Forward sends r to every child of this node.
	Forward(r Record[K, V]) error
	// ForwardTo sends r to the named child only.
	ForwardTo(child string, r Record[K, V]) error
}

// AnyRecord is a record in the untyped graph.
type AnyRecord = Record[any, any]

// Node is a processor as the runtime holds it.
type Node interface {
	Init(ctx NodeContext) error
	Process(r AnyRecord) error
	Close() error
}

// NodeContext is the untyped context the runtime gives a Node. An empty
// child forwards to all children.
type NodeContext interface {
	Base
	Forward(r AnyRecord, child string) error
}

// Adapt turns a typed processor into a Node.
func Adapt[KIn, VIn, KOut, VOut any](p Processor[KIn, VIn, KOut, VOut]) Node {
	return &adapter[KIn, VIn, KOut, VOut]{p: p}
}

type adapter[KIn, VIn, KOut, VOut any] struct {
	p Processor[KIn, VIn, KOut, VOut]
}

func (a *adapter[KIn, VIn, KOut, VOut]) Init(ctx NodeContext) error {
	return a.p.Init(typedContext[KOut, VOut]{ctx})
}

func (a *adapter[KIn, VIn, KOut, VOut]) Close() error { return a.p.Close() }

func (a *adapter[KIn, VIn, KOut, VOut]) Process(r AnyRecord) error {
	k, err := As[KIn](r.Key)
	if err != nil {
		return fmt.Errorf("key: %w", err)
	}
	v, err := As[VIn](r.Value)
	if err != nil {
		return fmt.Errorf("value: %w", err)
	}
	return a.p.Process(Record[KIn, VIn]{Key: k, Value: v, Timestamp: r.Timestamp, Headers: r.Headers})
}

// As converts an untyped key or value to T: nil becomes T's zero value, and
// a value of another type is an error (a topology wired with mismatched
// types).
func As[T any](x any) (T, error) {
	if x == nil {
		var zero T
		return zero, nil
	}
	t, ok := x.(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("got %T where %T was expected", x, zero)
	}
	return t, nil
}

type typedContext[K, V any] struct{ NodeContext }

func (c typedContext[K, V]) Forward(r Record[K, V]) error {
	return c.NodeContext.Forward(AnyRecord{Key: r.Key, Value: r.Value, Timestamp: r.Timestamp, Headers: r.Headers}, "")
}

func (c typedContext[K, V]) ForwardTo(child string, r Record[K, V]) error {
	if child == "" {
		return fmt.Errorf("forward to a child: empty child name")
	}
	return c.NodeContext.Forward(AnyRecord{Key: r.Key, Value: r.Value, Timestamp: r.Timestamp, Headers: r.Headers}, child)
}

// Func is a stateless processor made of one function.
func Func[KIn, VIn, KOut, VOut any](fn func(ctx Context[KOut, VOut], r Record[KIn, VIn]) error) Processor[KIn, VIn, KOut, VOut] {
	return &funcProcessor[KIn, VIn, KOut, VOut]{fn: fn}
}

type funcProcessor[KIn, VIn, KOut, VOut any] struct {
	ctx Context[KOut, VOut]
	fn  func(Context[KOut, VOut], Record[KIn, VIn]) error
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) Init(ctx Context[KOut, VOut]) error {
	p.ctx = ctx
	return nil
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) Process(r Record[KIn, VIn]) error {
	return p.fn(p.ctx, r)
}

func (p *funcProcessor[KIn, VIn, KOut, VOut]) Close() error { return nil }
