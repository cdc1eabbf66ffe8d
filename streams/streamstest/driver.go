// Package streamstest runs a topology in-process, without a broker, as
// Kafka Streams' TopologyTestDriver does: tests pipe records into input
// topics, read what the topology wrote from output topics, look into its
// state stores, and move the wall clock.
//
// Every topic has one partition, so there is one task per sub-topology.
// Records written to the topology's repartition topics are fed back in at
// once. After each input record the driver commits, which flushes the
// record caches: outputs then show every update, as they do in Kafka's
// driver.
package streamstest

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/sluicehq/sluice/streams/internal/task"
	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/state"
	"github.com/sluicehq/sluice/streams/topology"
)

// Driver runs one topology.
type Driver struct {
	topo     *topology.Topology
	appID    string
	tasks    []*task.Task
	globals  []*task.Task
	bySource map[string]*task.Task
	outputs  map[string][]rawRecord
	offsets  map[string]int64
	queue    []rawRecord
	now      int64
	dir      string
	ownDir   bool
}

type rawRecord struct {
	topic      string
	key, value []byte
	ts         int64
	headers    []processor.Header
}

// Option configures a Driver.
type Option func(*config)

type config struct {
	appID      string
	start      time.Time
	cacheBytes int64
	dir        string
	timestamps topology.TimestampExtractor
	onDeser    task.DeserializationHandler
	onProcess  task.ProcessingHandler
}

// WithApplicationID sets application.id (default "test-app"): it appears in
// internal topic names.
func WithApplicationID(id string) Option { return func(c *config) { c.appID = id } }

// WithStartTime sets the initial wall clock (default: the Unix epoch).
func WithStartTime(t time.Time) Option { return func(c *config) { c.start = t } }

// WithCacheMaxBytes sets statestore.cache.max.bytes (default 10 MiB).
func WithCacheMaxBytes(n int64) Option { return func(c *config) { c.cacheBytes = n } }

// WithStateDir keeps persistent stores in dir (default: a temporary
// directory removed by Close).
func WithStateDir(dir string) Option { return func(c *config) { c.dir = dir } }

// WithTimestampExtractor sets the default timestamp extractor.
func WithTimestampExtractor(f topology.TimestampExtractor) Option {
	return func(c *config) { c.timestamps = f }
}

// WithExceptionHandlers sets the deserialization and processing handlers
// (nil: fail).
func WithExceptionHandlers(deser task.DeserializationHandler, proc task.ProcessingHandler) Option {
	return func(c *config) { c.onDeser, c.onProcess = deser, proc }
}

// New starts a driver for t.
func New(t *topology.Topology, opts ...Option) (*Driver, error) {
	c := &config{appID: "test-app", cacheBytes: 10 << 20, start: time.UnixMilli(0)}
	for _, o := range opts {
		o(c)
	}
	subs, err := t.Subtopologies()
	if err != nil {
		return nil, err
	}
	d := &Driver{topo: t, appID: c.appID, bySource: make(map[string]*task.Task),
		outputs: make(map[string][]rawRecord), offsets: make(map[string]int64),
		now: c.start.UnixMilli(), dir: c.dir}
	if d.dir == "" {
		if d.dir, err = os.MkdirTemp("", "streamstest-"); err != nil {
			return nil, fmt.Errorf("state directory: %w", err)
		}
		d.ownDir = true
	}
	cache := state.NewCache(c.cacheBytes)
	base := task.Config{AppID: c.appID, Topology: t, Cache: cache, Collector: d,
		Timestamps: c.timestamps, OnDeserialize: c.onDeser, OnProcessError: c.onProcess,
		Now: func() int64 { return d.now }, GlobalStores: make(map[string]state.Store),
		Partitions: func(string) (int32, error) { return 1, nil }}
	for i, g := range t.GlobalStores() {
		cfg := base
		cfg.Sub = t.GlobalSubtopology(i)
		cfg.ID = processor.TaskID{Subtopology: cfg.Sub.ID, Partition: 0}
		cfg.Dir = task.Dir(d.dir, c.appID, cfg.ID)
		cfg.Cache = nil
		gt, err := task.New(cfg)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.globals = append(d.globals, gt)
		s, _ := gt.Store(g.Builder.Name())
		base.GlobalStores[g.Builder.Name()] = s
		d.bySource[g.Topic] = gt
	}
	for _, st := range subs {
		cfg := base
		cfg.Sub = st
		cfg.ID = processor.TaskID{Subtopology: st.ID, Partition: 0}
		cfg.Dir = task.Dir(d.dir, c.appID, cfg.ID)
		tk, err := task.New(cfg)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.tasks = append(d.tasks, tk)
		for _, topic := range tk.SourceTopics() {
			d.bySource[topic] = tk
		}
	}
	for _, tk := range append(slices.Clone(d.globals), d.tasks...) {
		if err := tk.Init(); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

// Send is the driver's collector: records to a source topic of the
// topology (a repartition topic) are queued to be processed; every record
// is also kept as output.
func (d *Driver) Send(topic string, _ int32, key, value []byte, ts int64, headers []processor.Header) error {
	r := rawRecord{topic: topic, key: key, value: value, ts: ts, headers: headers}
	d.outputs[topic] = append(d.outputs[topic], r)
	if _, ok := d.bySource[topic]; ok {
		d.queue = append(d.queue, r)
	}
	return nil
}

// pipe processes one record and everything it causes, then commits.
func (d *Driver) pipe(r rawRecord) error {
	if err := d.process(r); err != nil {
		return err
	}
	return d.commit()
}

func (d *Driver) process(r rawRecord) error {
	tk, ok := d.bySource[r.topic]
	if !ok {
		return fmt.Errorf("topic %s is not read by the topology", r.topic)
	}
	off := d.offsets[r.topic]
	d.offsets[r.topic] = off + 1
	err := tk.Process(topology.InputRecord{Topic: r.topic, Offset: off, Key: r.key, Value: r.value, Timestamp: r.ts, Headers: r.headers})
	if err != nil {
		return err
	}
	return d.drain()
}

// drain processes the records queued for repartition topics.
func (d *Driver) drain() error {
	for len(d.queue) > 0 {
		r := d.queue[0]
		d.queue = d.queue[1:]
		if err := d.process(r); err != nil {
			return err
		}
	}
	return nil
}

// commit flushes every task until nothing more is produced.
func (d *Driver) commit() error {
	for {
		for _, tk := range d.tasks {
			if err := tk.Flush(); err != nil {
				return err
			}
		}
		if len(d.queue) == 0 {
			return nil
		}
		if err := d.drain(); err != nil {
			return err
		}
	}
}

// AdvanceWallClockTime moves the wall clock and fires the wall-clock
// punctuators that became due.
func (d *Driver) AdvanceWallClockTime(by time.Duration) error {
	d.now += by.Milliseconds()
	for _, tk := range d.tasks {
		if err := tk.PunctuateWallClock(); err != nil {
			return err
		}
		if err := d.drain(); err != nil {
			return err
		}
	}
	return d.commit()
}

// WallClockTime is the driver's wall clock.
func (d *Driver) WallClockTime() time.Time { return time.UnixMilli(d.now) }

// Store returns a state store of the topology (of its only task), or a
// global store.
func (d *Driver) Store(name string) (state.Store, error) {
	for _, tk := range append(slices.Clone(d.tasks), d.globals...) {
		if s, ok := tk.Store(name); ok {
			return s, nil
		}
	}
	return nil, fmt.Errorf("no store %s in the topology", name)
}

// KeyValueStore returns a key-value store of the topology, typed.
func KeyValueStore[K, V any](d *Driver, name string) (state.KeyValueStore[K, V], error) {
	s, err := d.Store(name)
	if err != nil {
		return nil, err
	}
	return state.AsKeyValue[K, V](s)
}

// Close closes every task and removes the driver's own state directory.
func (d *Driver) Close() error {
	var errs []error
	for _, tk := range append(slices.Clone(d.tasks), d.globals...) {
		errs = append(errs, tk.Close())
	}
	d.tasks, d.globals = nil, nil
	if d.ownDir {
		errs = append(errs, os.RemoveAll(d.dir))
	}
	return errors.Join(errs...)
}

// Record is a record read from an output topic. NullValue marks a
// tombstone (Value is then the zero value).
type Record[K, V any] struct {
	Key       K
	Value     V
	NullValue bool
	Timestamp time.Time
	Headers   []processor.Header
}

// InputTopic writes typed records into a topic of the topology.
type InputTopic[K, V any] struct {
	d      *Driver
	topic  string
	keys   serde.Serde[K]
	values serde.Serde[V]
}

// CreateInputTopic returns an input for topic (nil serdes: by type).
func CreateInputTopic[K, V any](d *Driver, topic string, keys serde.Serde[K], values serde.Serde[V]) *InputTopic[K, V] {
	if keys == nil {
		keys = serde.Default[K]()
	}
	if values == nil {
		values = serde.Default[V]()
	}
	return &InputTopic[K, V]{d: d, topic: topic, keys: keys, values: values}
}

// Pipe writes one record stamped with the wall clock.
func (in *InputTopic[K, V]) Pipe(k K, v V) error { return in.PipeAt(k, v, in.d.WallClockTime()) }

// PipeAt writes one record with a timestamp.
func (in *InputTopic[K, V]) PipeAt(k K, v V, ts time.Time) error {
	kb, err := in.keys.Serialize(in.topic, k)
	if err != nil {
		return err
	}
	vb, err := in.values.Serialize(in.topic, v)
	if err != nil {
		return err
	}
	if vb == nil {
		vb = []byte{}
	}
	return in.d.pipe(rawRecord{topic: in.topic, key: kb, value: vb, ts: ts.UnixMilli()})
}

// PipeTombstone writes a record with a null value.
func (in *InputTopic[K, V]) PipeTombstone(k K) error {
	kb, err := in.keys.Serialize(in.topic, k)
	if err != nil {
		return err
	}
	return in.d.pipe(rawRecord{topic: in.topic, key: kb, ts: in.d.now})
}

// PipeRaw writes bytes as they are (nil is null), for testing serdes and
// error handling.
func (in *InputTopic[K, V]) PipeRaw(key, value []byte, ts time.Time) error {
	return in.d.pipe(rawRecord{topic: in.topic, key: key, value: value, ts: ts.UnixMilli()})
}

// OutputTopic reads what the topology wrote to a topic.
type OutputTopic[K, V any] struct {
	d      *Driver
	topic  string
	keys   serde.Serde[K]
	values serde.Serde[V]
	read   int
}

// CreateOutputTopic returns a reader of topic (nil serdes: by type). Internal
// topics (changelogs, repartition topics) are named in full:
// <application.id>-<name>.
func CreateOutputTopic[K, V any](d *Driver, topic string, keys serde.Serde[K], values serde.Serde[V]) *OutputTopic[K, V] {
	if keys == nil {
		keys = serde.Default[K]()
	}
	if values == nil {
		values = serde.Default[V]()
	}
	return &OutputTopic[K, V]{d: d, topic: topic, keys: keys, values: values}
}

// QueueSize is how many records are not read yet.
func (out *OutputTopic[K, V]) QueueSize() int { return len(out.d.outputs[out.topic]) - out.read }

// ReadRecords reads every record not read yet.
func (out *OutputTopic[K, V]) ReadRecords() ([]Record[K, V], error) {
	var recs []Record[K, V]
	for out.QueueSize() > 0 {
		r := out.d.outputs[out.topic][out.read]
		out.read++
		var rec Record[K, V]
		var err error
		if r.key != nil {
			if rec.Key, err = out.keys.Deserialize(out.topic, r.key); err != nil {
				return recs, err
			}
		}
		if r.value == nil {
			rec.NullValue = true
		} else if rec.Value, err = out.values.Deserialize(out.topic, r.value); err != nil {
			return recs, err
		}
		rec.Timestamp = time.UnixMilli(r.ts)
		rec.Headers = r.headers
		recs = append(recs, rec)
	}
	return recs, nil
}

// ReadKeyValuesToMap reads every record not read yet into a map of the
// latest value per key; a tombstone removes the key.
func ReadKeyValuesToMap[K comparable, V any](out *OutputTopic[K, V]) (map[K]V, error) {
	recs, err := out.ReadRecords()
	m := make(map[K]V)
	for _, r := range recs {
		if r.NullValue {
			delete(m, r.Key)
		} else {
			m[r.Key] = r.Value
		}
	}
	return m, err
}
