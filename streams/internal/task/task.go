// Package task runs one task: the nodes of one sub-topology for one
// partition, with their own instances of the sub-topology's state stores.
// It is the part shared by the Kafka runtime and the test driver: records
// go in as bytes, results and changelog entries go out through a Collector,
// and commits are explicit, so it knows nothing of clients or brokers.
package task

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/state"
	"github.com/sluicehq/sluice/streams/topology"
)

// Collector takes the records a task writes. partition -1 lets the
// producer choose by key (Kafka's default partitioner).
type Collector interface {
	Send(topic string, partition int32, key, value []byte, ts int64, headers []processor.Header) error
}

// HandlerResponse says whether processing goes on after an error.
type HandlerResponse int

const (
	// Fail stops the task (and the application) with the error.
	Fail HandlerResponse = iota
	// Continue skips the record and goes on.
	Continue
)

// ErrorContext describes the record that failed.
type ErrorContext struct {
	TaskID processor.TaskID
	Node   string // the processor node, for processing errors
	Record topology.InputRecord
}

// DeserializationHandler decides what a record that cannot be read does.
type DeserializationHandler func(ctx ErrorContext, err error) HandlerResponse

// ProcessingHandler decides what an error returned by a processor does.
type ProcessingHandler func(ctx ErrorContext, err error) HandlerResponse

// Config is what a task needs.
type Config struct {
	ID       processor.TaskID
	AppID    string
	Topology *topology.Topology
	Sub      *topology.Subtopology
	// Dir is the task's state directory (persistent stores live in it).
	Dir            string
	Cache          *state.Cache
	Collector      Collector
	Timestamps     topology.TimestampExtractor
	OnDeserialize  DeserializationHandler
	OnProcessError ProcessingHandler
	// Now is the wall clock in milliseconds.
	Now          func() int64
	GlobalStores map[string]state.Store
	// Partitions gives a topic's partition count, for sinks with their
	// own partitioner.
	Partitions func(topic string) (int32, error)
	Log        *slog.Logger
}

// Changelog is a logged store of the task, for restoration.
type Changelog struct {
	Store string
	Topic string
	// Inner is the byte store under the logging and caching layers, which
	// restoration writes to.
	Inner state.BytesStore
}

// Task is one running task.
type Task struct {
	cfg        Config
	nodes      map[string]*nodeState
	sources    map[string]*nodeState // by full topic name
	stores     map[string]state.Store
	caches     []*state.CachingStore
	changelogs []Changelog

	streamTime    int64
	partitionTime map[string]int64
	offsets       map[string]int64 // next offset per source topic (this task's partition)
	current       *processor.RecordMetadata
	currentTS     int64
	punctuators   []*punctuator
	commitAsked   bool
	dropped       int64 // records processors skipped (dropped.go)
	initialized   bool
	closed        bool
}

type nodeState struct {
	node     *topology.Node
	proc     processor.Node
	children []*nodeState
	ctx      *nodeContext
}

// New opens a task's stores (empty or as left on disk; the caller restores
// them from their changelogs) and builds its nodes. Call Init before the
// first record.
func New(cfg Config) (*Task, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = func() int64 { return time.Now().UnixMilli() }
	}
	if cfg.Timestamps == nil {
		cfg.Timestamps = RecordTimestamp
	}
	t := &Task{
		cfg:           cfg,
		nodes:         make(map[string]*nodeState),
		sources:       make(map[string]*nodeState),
		stores:        make(map[string]state.Store),
		streamTime:    -1,
		partitionTime: make(map[string]int64),
		offsets:       make(map[string]int64),
	}
	if err := t.openStores(); err != nil {
		t.closeStores()
		return nil, err
	}
	for _, n := range cfg.Sub.Nodes {
		ns := &nodeState{node: n}
		ns.ctx = &nodeContext{task: t, node: ns}
		if n.Kind == topology.Processor {
			ns.proc = n.New()
		}
		t.nodes[n.Name] = ns
		for _, topic := range n.Topics {
			t.sources[cfg.Topology.TopicName(cfg.AppID, topic)] = ns
		}
	}
	for _, ns := range t.nodes {
		for _, c := range ns.node.Children {
			ns.children = append(ns.children, t.nodes[c])
		}
	}
	return t, nil
}

func (t *Task) openStores() error {
	for _, name := range t.cfg.Sub.Stores {
		b, ok := t.cfg.Topology.Store(name)
		if !ok {
			return fmt.Errorf("task %s: store %s is not in the topology", t.cfg.ID, name)
		}
		dir := t.cfg.Dir
		if b.Persistent() {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("task %s: state directory: %w", t.cfg.ID, err)
			}
		}
		inner, err := b.Supplier().Get(dir)
		if err != nil {
			return fmt.Errorf("task %s: open store %s: %w", t.cfg.ID, name, err)
		}
		topic := topology.ChangelogTopic(t.cfg.AppID, name)
		var stack state.BytesStore = inner
		if b.Logging() {
			stack = state.NewLoggedStore(stack, logger{t, topic})
			t.changelogs = append(t.changelogs, Changelog{Store: name, Topic: topic, Inner: inner})
		}
		if b.Caching() && t.cfg.Cache != nil && t.cfg.Cache.MaxBytes() > 0 {
			cs := state.NewCachingStore(stack, t.cfg.Cache, func() int64 { return t.currentTS })
			t.caches = append(t.caches, cs)
			stack = cs
		}
		t.stores[name] = b.Wrap(stack, topic, func() int64 { return t.currentTS })
	}
	return nil
}

// logger sends a store's changes to its changelog, on the task's partition.
type logger struct {
	t     *Task
	topic string
}

func (l logger) LogChange(_ string, key, value []byte, ts int64) error {
	return l.t.cfg.Collector.Send(l.topic, l.t.cfg.ID.Partition, key, value, ts, nil)
}

// ID is the task's id.
func (t *Task) ID() processor.TaskID { return t.cfg.ID }

// Changelogs lists the logged stores to restore.
func (t *Task) Changelogs() []Changelog { return t.changelogs }

// Store returns one of the task's stores.
func (t *Task) Store(name string) (state.Store, bool) {
	s, ok := t.stores[name]
	return s, ok
}

// SourceTopics are the full names of the topics the task reads.
func (t *Task) SourceTopics() []string {
	var out []string
	for topic := range t.sources {
		out = append(out, topic)
	}
	slices.Sort(out)
	return out
}

// Init initializes the processors, once the stores are restored.
func (t *Task) Init() error {
	for _, n := range t.cfg.Sub.Nodes {
		ns := t.nodes[n.Name]
		if ns.proc == nil {
			continue
		}
		if err := ns.proc.Init(ns.ctx); err != nil {
			return fmt.Errorf("task %s: init processor %s: %w", t.cfg.ID, n.Name, err)
		}
	}
	t.initialized = true
	return nil
}

// RecordTimestamp is the default timestamp extractor: the record's own
// timestamp (CreateTime or LogAppendTime); a negative one is an error, as
// with Kafka's FailOnInvalidTimestamp.
func RecordTimestamp(r topology.InputRecord, _ int64) (int64, error) {
	if r.Timestamp < 0 {
		return 0, fmt.Errorf("record %s-%d@%d has the invalid timestamp %d", r.Topic, r.Partition, r.Offset, r.Timestamp)
	}
	return r.Timestamp, nil
}

// ErrStopped wraps the error that a handler decided should stop processing.
var ErrStopped = errors.New("processing stopped")

// Process runs one input record through the sub-topology. An error is
// fatal for the task (the handlers have already chosen not to go on).
func (t *Task) Process(r topology.InputRecord) error {
	if !t.initialized || t.closed {
		return fmt.Errorf("task %s: process before init or after close", t.cfg.ID)
	}
	src, ok := t.sources[r.Topic]
	if !ok {
		return fmt.Errorf("task %s: no source reads topic %s", t.cfg.ID, r.Topic)
	}
	ectx := ErrorContext{TaskID: t.cfg.ID, Node: src.node.Name, Record: r}
	t.offsets[r.Topic] = r.Offset + 1
	key, value, err := decode(src.node, r)
	if err != nil {
		return t.handleDeserialize(ectx, err)
	}
	extract := src.node.Timestamps
	if extract == nil {
		extract = t.cfg.Timestamps
	}
	pt, seen := t.partitionTime[r.Topic]
	if !seen {
		pt = -1
	}
	ts, err := extract(r, pt)
	if err != nil {
		return fmt.Errorf("task %s: %w: %w", t.cfg.ID, ErrStopped, err)
	}
	if ts < 0 {
		t.cfg.Log.Warn("skipping a record with a negative timestamp", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "timestamp", ts)
		return nil
	}
	t.partitionTime[r.Topic] = max(pt, ts)
	t.streamTime = max(t.streamTime, ts)
	meta := processor.RecordMetadata{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}
	t.current, t.currentTS = &meta, ts
	err = t.forward(src, processor.AnyRecord{Key: key, Value: value, Timestamp: ts, Headers: r.Headers}, "")
	t.current = nil
	if err != nil {
		var pe *processError
		if errors.As(err, &pe) {
			ectx.Node = pe.node
			if t.cfg.OnProcessError != nil && t.cfg.OnProcessError(ectx, pe.err) == Continue {
				t.cfg.Log.Warn("skipping a record that failed", "task", t.cfg.ID.String(), "node", pe.node, "topic", r.Topic, "offset", r.Offset, "error", pe.err)
				return t.PunctuateStreamTime()
			}
		}
		return fmt.Errorf("task %s: %w: %w", t.cfg.ID, ErrStopped, err)
	}
	return t.PunctuateStreamTime()
}

func decode(n *topology.Node, r topology.InputRecord) (key, value any, err error) {
	if r.Key != nil {
		if key, err = n.KeyDecode(r.Topic, r.Key); err != nil {
			return nil, nil, fmt.Errorf("deserialize key: %w", err)
		}
	}
	if r.Value != nil {
		if value, err = n.ValDecode(r.Topic, r.Value); err != nil {
			return nil, nil, fmt.Errorf("deserialize value: %w", err)
		}
	}
	return key, value, nil
}

func (t *Task) handleDeserialize(ectx ErrorContext, err error) error {
	if t.cfg.OnDeserialize != nil && t.cfg.OnDeserialize(ectx, err) == Continue {
		t.cfg.Log.Warn("skipping a record that cannot be deserialized", "task", t.cfg.ID.String(),
			"topic", ectx.Record.Topic, "partition", ectx.Record.Partition, "offset", ectx.Record.Offset, "error", err)
		return nil
	}
	return fmt.Errorf("task %s: %w: record %s-%d@%d: %w", t.cfg.ID, ErrStopped, ectx.Record.Topic, ectx.Record.Partition, ectx.Record.Offset, err)
}

// processError marks an error returned by a processor, with its node.
type processError struct {
	node string
	err  error
}

func (e *processError) Error() string { return fmt.Sprintf("processor %s: %v", e.node, e.err) }
func (e *processError) Unwrap() error { return e.err }

// forward hands r to the children of from (or the one named).
func (t *Task) forward(from *nodeState, r processor.AnyRecord, child string) error {
	found := child == ""
	for _, c := range from.children {
		if child != "" && c.node.Name != child {
			continue
		}
		found = true
		if err := t.deliver(c, r); err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("node %s has no child %s", from.node.Name, child)
	}
	return nil
}

func (t *Task) deliver(n *nodeState, r processor.AnyRecord) (err error) {
	defer func() {
		// A panic in a processor or a user function is a processing error
		// of that node, given to the processing exception handler.
		if p := recover(); p != nil {
			err = &processError{node: n.node.Name, err: fmt.Errorf("panic: %v", p)}
		}
	}()
	switch n.node.Kind {
	case topology.Processor:
		if err := n.proc.Process(r); err != nil {
			var pe *processError
			if errors.As(err, &pe) {
				return err
			}
			return &processError{node: n.node.Name, err: err}
		}
		return nil
	case topology.Sink:
		return t.sink(n.node, r)
	default:
		return fmt.Errorf("record forwarded to source %s", n.node.Name)
	}
}

func (t *Task) sink(n *topology.Node, r processor.AnyRecord) error {
	topic := n.Topic
	if n.TopicFunc != nil {
		var meta processor.RecordMetadata
		if t.current != nil {
			meta = *t.current
		}
		topic = n.TopicFunc(r.Key, r.Value, meta)
		if topic == "" {
			return &processError{node: n.Name, err: errors.New("the topic name extractor chose no topic")}
		}
	}
	topic = t.cfg.Topology.TopicName(t.cfg.AppID, topic)
	var key, value []byte
	var err error
	if r.Key != nil {
		if key, err = n.KeyEncode(topic, r.Key); err != nil {
			return &processError{node: n.Name, err: fmt.Errorf("serialize key for %s: %w", topic, err)}
		}
	}
	if r.Value != nil {
		if value, err = n.ValEncode(topic, r.Value); err != nil {
			return &processError{node: n.Name, err: fmt.Errorf("serialize value for %s: %w", topic, err)}
		}
	}
	partition := int32(-1)
	if n.Partitioner != nil {
		if t.cfg.Partitions == nil {
			return fmt.Errorf("sink %s: no partition counts to choose a partition from", n.Name)
		}
		count, err := t.cfg.Partitions(topic)
		if err != nil {
			return fmt.Errorf("sink %s: partitions of %s: %w", n.Name, topic, err)
		}
		partition = n.Partitioner(topic, r.Key, r.Value, count)
		if partition < 0 || partition >= count {
			return &processError{node: n.Name, err: fmt.Errorf("partitioner chose partition %d of %s, which has %d", partition, topic, count)}
		}
	}
	if err := t.cfg.Collector.Send(topic, partition, key, value, r.Timestamp, r.Headers); err != nil {
		return fmt.Errorf("sink %s: send to %s: %w", n.Name, topic, err)
	}
	return nil
}

// StreamTime is the largest timestamp the task has processed (-1 before the
// first record).
func (t *Task) StreamTime() int64 { return t.streamTime }

// Offsets returns the next offset to read of each source topic on the
// task's partition: what a commit records.
func (t *Task) Offsets() map[string]int64 {
	out := make(map[string]int64, len(t.offsets))
	for k, v := range t.offsets {
		out[k] = v
	}
	return out
}

// SetOffset records where a source topic starts (after a restart, the
// committed offset), so that a commit before any new record keeps it.
func (t *Task) SetOffset(topic string, next int64) { t.offsets[topic] = next }

// CommitRequested reports (and clears) a processor's request to commit.
func (t *Task) CommitRequested() bool {
	c := t.commitAsked
	t.commitAsked = false
	return c
}

// Flush writes the caches down (forwarding what they held) and flushes
// every store: the first half of a commit. The caller then flushes its
// producer, commits Offsets, and (for persistent stores) writes a
// checkpoint.
func (t *Task) Flush() error {
	for _, c := range t.caches {
		if err := c.FlushCache(); err != nil {
			return fmt.Errorf("task %s: flush cache of %s: %w", t.cfg.ID, c.Name(), err)
		}
	}
	for name, s := range t.stores {
		if err := s.Flush(); err != nil {
			return fmt.Errorf("task %s: flush store %s: %w", t.cfg.ID, name, err)
		}
	}
	return nil
}

// Close closes the processors and the stores. It does not flush: call
// Flush (and commit) first on a clean close.
func (t *Task) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	var errs []error
	if t.initialized {
		for _, n := range t.cfg.Sub.Nodes {
			if ns := t.nodes[n.Name]; ns.proc != nil {
				if err := ns.proc.Close(); err != nil {
					errs = append(errs, fmt.Errorf("close processor %s: %w", n.Name, err))
				}
			}
		}
	}
	errs = append(errs, t.closeStores())
	return errors.Join(errs...)
}

func (t *Task) closeStores() error {
	var errs []error
	for name, s := range t.stores {
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Dir is the task's state directory.
func Dir(stateDir, appID string, id processor.TaskID) string {
	return filepath.Join(stateDir, appID, id.String())
}
