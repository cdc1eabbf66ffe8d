package streams

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/state"
	"github.com/sluicehq/sluice/streams/state/pebblestore"
)

// BufferConfig bounds the buffer in which a suppression holds updates, and
// says what happens when it is full, as Kafka's Suppressed.BufferConfig:
// either emit the oldest updates early (BufferMaxRecords, BufferMaxBytes,
// or EmitEarlyWhenFull), or stop the application with an error
// (UnboundedBuffer, or ShutDownWhenFull). The size of an entry in bytes is
// counted as its serialized key and values plus 24 bytes of bookkeeping.
type BufferConfig struct {
	maxRecords int64 // 0: no limit
	maxBytes   int64 // 0: no limit
	shutDown   bool
	err        error
}

// UnboundedBuffer is a buffer without limits (it shuts the application
// down should it ever be full, which it cannot be).
func UnboundedBuffer() BufferConfig { return BufferConfig{shutDown: true} }

// BufferMaxRecords is a buffer of at most n records that emits its oldest
// entries early when full.
func BufferMaxRecords(n int64) BufferConfig { return BufferConfig{}.WithMaxRecords(n) }

// BufferMaxBytes is a buffer of at most n bytes that emits its oldest
// entries early when full.
func BufferMaxBytes(n int64) BufferConfig { return BufferConfig{}.WithMaxBytes(n) }

// WithMaxRecords limits the buffer to n records.
func (c BufferConfig) WithMaxRecords(n int64) BufferConfig {
	if n <= 0 {
		c.err = fmt.Errorf("suppression buffer: max records %d must be positive", n)
	}
	c.maxRecords = n
	return c
}

// WithMaxBytes limits the buffer to n bytes.
func (c BufferConfig) WithMaxBytes(n int64) BufferConfig {
	if n <= 0 {
		c.err = fmt.Errorf("suppression buffer: max bytes %d must be positive", n)
	}
	c.maxBytes = n
	return c
}

// ShutDownWhenFull makes a full buffer stop the application with an error
// rather than emit results early.
func (c BufferConfig) ShutDownWhenFull() BufferConfig {
	c.shutDown = true
	return c
}

// EmitEarlyWhenFull makes a full buffer emit its oldest entries.
func (c BufferConfig) EmitEarlyWhenFull() BufferConfig {
	c.shutDown = false
	return c
}

// SuppressUntilWindowCloses holds the updates of a windowed table until
// each window closes (stream time reaches its end plus the grace period of
// the windowed aggregation upstream), then emits the window's final result
// once: Kafka's suppress(Suppressed.untilWindowCloses(...)). The buffer
// must shut down when full (UnboundedBuffer or ShutDownWhenFull): emitting
// early would break the promise of one final result.
//
// Stream time here is the largest timestamp of the updates the suppression
// has seen. The buffer is kept in a store of its own, <name>-store (pebble
// unless InMemory, with a changelog unless WithoutLogging), so buffered
// updates survive a restart. Options: Named, InMemory, WithoutLogging,
// WithLogConfig.
func SuppressUntilWindowCloses[K, V any](t KTable[Windowed[K], V], buf BufferConfig, opts ...Option) KTable[Windowed[K], V] {
	b := t.b
	if !buf.shutDown {
		b.fail(errors.New("SuppressUntilWindowCloses needs a buffer that shuts down when full (UnboundedBuffer or ShutDownWhenFull): emitting early would not be a final result"))
	}
	grace, err := windowGrace(b, t.node)
	if err != nil {
		b.fail(err)
	}
	return suppress(t, buf, collect(opts), grace, true, func(k any, _ int64) int64 { return k.(Windowed[K]).Window.End })
}

// SuppressUntilTimeLimit holds each key's updates for d of stream time
// after its first update in the buffer, then emits the latest value, so
// that a burst of updates to a key goes downstream as one: Kafka's
// suppress(Suppressed.untilTimeLimit(...)). Options as for
// SuppressUntilWindowCloses.
func (t KTable[K, V]) SuppressUntilTimeLimit(d time.Duration, buf BufferConfig, opts ...Option) KTable[K, V] {
	if d < 0 {
		t.b.fail(fmt.Errorf("SuppressUntilTimeLimit: time limit %v must not be negative", d))
	}
	return suppress(t, buf, collect(opts), d.Milliseconds(), false, func(_ any, ts int64) int64 { return ts })
}

// windowGrace finds the grace period of the windowed aggregation a
// table's changes come from, walking up the graph.
func windowGrace(b *Builder, from string) (int64, error) {
	seen := map[string]bool{}
	queue := []string{from}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		n := b.t.Node(name)
		if n == nil {
			continue
		}
		for _, s := range n.Stores {
			if sb, ok := b.t.Store(s); ok {
				if ws, ok := sb.(windowedStore); ok {
					return ws.grace, nil
				}
			}
		}
		queue = append(queue, n.Parents...)
	}
	return 0, fmt.Errorf("SuppressUntilWindowCloses: table %s does not come from a windowed aggregation", from)
}

func suppress[K, V any](t KTable[K, V], buf BufferConfig, o *options, wait int64, dropTombstones bool, bufferTime func(key any, ts int64) int64) KTable[K, V] {
	b := t.b
	if buf.err != nil {
		b.fail(buf.err)
	}
	name := b.name(o, "KTABLE-SUPPRESS")
	storeName := name + "-store"
	var sup state.Supplier
	if o.inMemory {
		sup = state.InMemory(storeName)
	} else {
		sup = pebblestore.Supplier(storeName)
	}
	// Written through the record cache so that each key reaches the
	// changelog once per commit, as Kafka logs its buffer on commit.
	sb := state.NewKeyValueBuilder(sup, serde.Bytes, serde.Bytes).WithCaching(true).WithLogging(!o.noLog, o.logConfig)
	keys, vals := t.keys, t.vals
	if keys == nil {
		keys = serde.Default[K]()
	}
	if vals == nil {
		vals = serde.Default[V]()
	}
	b.addNode(name, func() *node {
		s := &suppressor[K, V]{name: name, store: storeName, keys: keys, vals: vals, buf: buf, wait: wait,
			dropTombstones: dropTombstones, bufferTime: bufferTime, observed: -1, byKey: map[string]*suppressEntry{}}
		return &node{init: s.init, process: s.process}
	}, t.node)
	b.t.AddStore(sb, name)
	out := t
	out.node, out.store = name, ""
	return out
}

// suppressEntry is one key's buffered update: the value downstream saw
// before the first update buffered (prior) and the latest (new); nil is
// null. time orders the buffer: the window end, or the first update's
// timestamp.
type suppressEntry struct {
	key        []byte
	time       int64
	prior, new []byte
	ts         int64              // the latest update's timestamp, which the emitted record carries
	headers    []processor.Header // the latest update's, which the emitted record carries
	index      int                // in the heap
}

func (e *suppressEntry) size() int64 {
	n := int64(len(e.key)+len(e.prior)+len(e.new)) + 24
	for _, h := range e.headers {
		n += int64(len(h.Key) + len(h.Value))
	}
	return n
}

// suppressHeap orders entries by time, then key, as Kafka's time-ordered
// buffer does.
type suppressHeap []*suppressEntry

func (h suppressHeap) Len() int { return len(h) }
func (h suppressHeap) Less(i, j int) bool {
	if h[i].time != h[j].time {
		return h[i].time < h[j].time
	}
	return string(h[i].key) < string(h[j].key)
}
func (h suppressHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *suppressHeap) Push(x any) {
	e := x.(*suppressEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *suppressHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// suppressor is a suppression's processor for one task. The buffer is
// held in memory in time order and mirrored into its store, from which
// init reloads it.
type suppressor[K, V any] struct {
	name, store    string
	keys           serde.Serde[K]
	vals           serde.Serde[V]
	buf            BufferConfig
	wait           int64
	dropTombstones bool
	bufferTime     func(key any, ts int64) int64

	bytes    state.BytesStore
	observed int64
	byKey    map[string]*suppressEntry
	order    suppressHeap
	size     int64
}

func (s *suppressor[K, V]) init(ctx processor.NodeContext) error {
	st, err := ctx.Store(s.store)
	if err != nil {
		return err
	}
	kv, ok := st.(*state.TypedStore[[]byte, []byte])
	if !ok {
		return fmt.Errorf("suppression %s: store %s is %T", s.name, s.store, st)
	}
	s.bytes = kv.Bytes()
	return s.bytes.Range(nil, nil, func(k, v []byte) error {
		e, err := decodeSuppressEntry(k, v)
		if err != nil {
			return fmt.Errorf("suppression %s: reload buffer: %w", s.name, err)
		}
		s.byKey[string(e.key)] = e
		heap.Push(&s.order, e)
		s.size += e.size()
		return nil
	})
}

func (s *suppressor[K, V]) serialize(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, err := s.vals.Serialize(s.store, typed[V](v))
	if err != nil {
		return nil, fmt.Errorf("suppression %s: serialize value: %w", s.name, err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

func (s *suppressor[K, V]) process(ctx processor.NodeContext, r processor.AnyRecord) error {
	if r.Key == nil {
		return nil
	}
	c := r.Value.(change)
	s.observed = max(s.observed, r.Timestamp)
	kb, err := s.keys.Serialize(s.store, typed[K](r.Key))
	if err != nil {
		return fmt.Errorf("suppression %s: serialize key: %w", s.name, err)
	}
	newB, err := s.serialize(c.new)
	if err != nil {
		return err
	}
	e, ok := s.byKey[string(kb)]
	if ok {
		s.size -= e.size()
	} else {
		prior, err := s.serialize(c.old)
		if err != nil {
			return err
		}
		e = &suppressEntry{key: kb, time: s.bufferTime(r.Key, r.Timestamp), prior: prior}
		s.byKey[string(kb)] = e
		heap.Push(&s.order, e)
	}
	e.new, e.ts, e.headers = newB, r.Timestamp, r.Headers
	s.size += e.size()
	if err := s.bytes.Put(e.key, state.WithTimestamp(e.encode(), e.ts)); err != nil {
		return err
	}
	return s.enforce(ctx)
}

// enforce emits what has waited long enough, then what a full buffer
// cannot hold (or fails, if it must not emit early).
func (s *suppressor[K, V]) enforce(ctx processor.NodeContext) error {
	expiry := s.observed - s.wait
	for len(s.order) > 0 && s.order[0].time <= expiry {
		if err := s.emit(ctx); err != nil {
			return err
		}
	}
	for s.full() {
		if s.buf.shutDown {
			return fmt.Errorf("suppression %s: buffer exceeded its capacity: %d records (max %d), %d bytes (max %d)",
				s.name, len(s.order), s.buf.maxRecords, s.size, s.buf.maxBytes)
		}
		if err := s.emit(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (s *suppressor[K, V]) full() bool {
	return (s.buf.maxRecords > 0 && int64(len(s.order)) > s.buf.maxRecords) ||
		(s.buf.maxBytes > 0 && s.size > s.buf.maxBytes)
}

// emit removes the oldest entry from the buffer and forwards it.
func (s *suppressor[K, V]) emit(ctx processor.NodeContext) error {
	e := heap.Pop(&s.order).(*suppressEntry)
	delete(s.byKey, string(e.key))
	s.size -= e.size()
	if err := s.bytes.Put(e.key, nil); err != nil {
		return err
	}
	if e.new == nil && s.dropTombstones {
		return nil
	}
	k, err := s.keys.Deserialize(s.store, e.key)
	if err != nil {
		return fmt.Errorf("suppression %s: deserialize key: %w", s.name, err)
	}
	var newV, oldV any
	if e.new != nil {
		if newV, err = s.vals.Deserialize(s.store, e.new); err != nil {
			return fmt.Errorf("suppression %s: deserialize value: %w", s.name, err)
		}
	}
	if e.prior != nil {
		if oldV, err = s.vals.Deserialize(s.store, e.prior); err != nil {
			return fmt.Errorf("suppression %s: deserialize value: %w", s.name, err)
		}
	}
	return ctx.Forward(processor.AnyRecord{Key: k, Value: change{new: newV, old: oldV}, Timestamp: e.ts, Headers: e.headers}, "")
}

// encode is the entry's value in the buffer's store (the store key is the
// entry's key, the record timestamp goes in front as for every stored
// value): its buffer time, then a flag byte (1: prior present, 2: new
// present), then each present value as a uvarint length and its bytes,
// then the header count and each header's key and value (a value's length
// is stored plus one, 0 meaning null).
func (e *suppressEntry) encode() []byte {
	out := binary.BigEndian.AppendUint64(nil, uint64(e.time))
	var flags byte
	if e.prior != nil {
		flags |= 1
	}
	if e.new != nil {
		flags |= 2
	}
	out = append(out, flags)
	for _, v := range [][]byte{e.prior, e.new} {
		if v != nil {
			out = binary.AppendUvarint(out, uint64(len(v)))
			out = append(out, v...)
		}
	}
	out = binary.AppendUvarint(out, uint64(len(e.headers)))
	for _, h := range e.headers {
		out = binary.AppendUvarint(out, uint64(len(h.Key)))
		out = append(out, h.Key...)
		if h.Value == nil {
			out = binary.AppendUvarint(out, 0)
			continue
		}
		out = binary.AppendUvarint(out, uint64(len(h.Value))+1)
		out = append(out, h.Value...)
	}
	return out
}

// readBytes reads a uvarint length (less bias) and that many bytes.
func readBytes(b []byte, bias uint64) (v []byte, null bool, rest []byte, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 {
		return nil, false, nil, errors.New("buffered entry is truncated")
	}
	b = b[w:]
	if n < bias {
		return nil, true, b, nil
	}
	n -= bias
	if uint64(len(b)) < n {
		return nil, false, nil, errors.New("buffered entry is truncated")
	}
	return append([]byte{}, b[:n]...), false, b[n:], nil
}

func decodeSuppressEntry(key, stored []byte) (*suppressEntry, error) {
	b, ts, err := state.SplitTimestamp(stored)
	if err != nil {
		return nil, err
	}
	if len(b) < 9 {
		return nil, fmt.Errorf("buffered entry of %d bytes is too short", len(b))
	}
	e := &suppressEntry{key: append([]byte(nil), key...), time: int64(binary.BigEndian.Uint64(b)), ts: ts}
	flags := b[8]
	b = b[9:]
	for i, dst := range []*[]byte{&e.prior, &e.new} {
		if flags&(1<<i) == 0 {
			continue
		}
		if *dst, _, b, err = readBytes(b, 0); err != nil {
			return nil, err
		}
	}
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return nil, errors.New("buffered entry's headers are truncated")
	}
	b = b[w:]
	for range n {
		var h processor.Header
		var k []byte
		if k, _, b, err = readBytes(b, 0); err != nil {
			return nil, err
		}
		h.Key = string(k)
		if h.Value, _, b, err = readBytes(b, 1); err != nil {
			return nil, err
		}
		e.headers = append(e.headers, h)
	}
	return e, nil
}
