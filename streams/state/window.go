package state

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/sluicehq/sluice/streams/serde"
)

// A window store keeps one value per key and window, as Kafka Streams'
// window stores do. At the byte level each entry's key is Kafka's key-first
// schema (WindowKeySchema):
//
//	serialized key | window start (8 bytes, big-endian) | sequence number (4 bytes, big-endian)
//
// so that the windows of one key sit together in start order and a fetch of
// one key over a time range is one range scan. The sequence number tells
// apart several values put for the same key and window when the store
// retains duplicates (stream-stream joins); otherwise it is 0. Values carry
// the record timestamp in front, like every byte-level value here, so the
// logging layer and restoration handle window stores unchanged: the
// changelog record's key is the composite key.
//
// Windows older than the store's retention, measured back from the largest
// window start the store has seen (its observed stream time), are dropped:
// puts into them are ignored, reads skip them, and they are deleted from
// the byte store as stream time moves on. Kafka drops whole time segments;
// here expired entries are found with a scan, done at most once every
// segment interval of stream time (max(retention/2, 60 s), Kafka's default
// segment interval). The deletes are not logged: the changelog topic's own
// retention (cleanup.policy=compact,delete) ages the records out.

// windowKeySuffix is the length of the start and sequence number after the
// serialized key.
const windowKeySuffix = 12

// WindowKey makes the byte-level key of a window store entry.
func WindowKey(key []byte, windowStart int64, seq uint32) []byte {
	out := make([]byte, 0, len(key)+windowKeySuffix)
	out = append(out, key...)
	out = binary.BigEndian.AppendUint64(out, uint64(windowStart))
	return binary.BigEndian.AppendUint32(out, seq)
}

// SplitWindowKey undoes WindowKey.
func SplitWindowKey(b []byte) (key []byte, windowStart int64, seq uint32, err error) {
	if len(b) < windowKeySuffix {
		return nil, 0, 0, fmt.Errorf("window store key of %d bytes lacks its %d bytes of window start and sequence number", len(b), windowKeySuffix)
	}
	n := len(b) - windowKeySuffix
	return b[:n], int64(binary.BigEndian.Uint64(b[n:])), binary.BigEndian.Uint32(b[n+8:]), nil
}

// RetentionStore is the innermost layer of a window store: it drops
// windows older than the retention period behind the observed stream time.
// It sits under the logging and caching layers, so restoration writes
// through it too and expires what it restores.
type RetentionStore struct {
	BytesStore
	retention int64
	interval  int64

	mu        sync.Mutex
	observed  int64 // the largest window start put; -1 before any
	lastPurge int64
}

// NewRetentionStore wraps inner with a retention of retention ms.
func NewRetentionStore(inner BytesStore, retention int64) *RetentionStore {
	return &RetentionStore{BytesStore: inner, retention: retention,
		interval: max(retention/2, 60_000), observed: -1, lastPurge: -1}
}

// Inner is the wrapped byte store.
func (s *RetentionStore) Inner() BytesStore { return s.BytesStore }

// Retention is the retention period in milliseconds.
func (s *RetentionStore) Retention() int64 { return s.retention }

// ObservedStreamTime is the largest window start put so far (-1: none).
func (s *RetentionStore) ObservedStreamTime() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.observed
}

// MinLiveStart is the earliest window start still kept.
func (s *RetentionStore) MinLiveStart() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.minLive()
}

func (s *RetentionStore) minLive() int64 {
	if s.observed < 0 {
		return -1 << 63
	}
	return s.observed - s.retention + 1
}

// expired reports whether a byte-level key is of a window past retention,
// or is no window key at all; s.mu is held.
func (s *RetentionStore) expired(key []byte) bool {
	_, start, _, err := SplitWindowKey(key)
	return err != nil || start < s.minLive()
}

func (s *RetentionStore) Get(key []byte) ([]byte, error) {
	s.mu.Lock()
	exp := s.expired(key)
	s.mu.Unlock()
	if exp {
		return nil, nil
	}
	return s.BytesStore.Get(key)
}

func (s *RetentionStore) Put(key, value []byte) error {
	_, start, _, err := SplitWindowKey(key)
	if err != nil {
		return fmt.Errorf("window store %s: %w", s.Name(), err)
	}
	s.mu.Lock()
	s.observed = max(s.observed, start)
	exp := start < s.minLive()
	s.mu.Unlock()
	if exp {
		return nil
	}
	if err := s.BytesStore.Put(key, value); err != nil {
		return err
	}
	return s.maybePurge()
}

// PutAll applies restored entries, dropping those already expired by the
// stream time the batch itself reaches.
func (s *RetentionStore) PutAll(kvs []KeyValue) error {
	s.mu.Lock()
	for _, kv := range kvs {
		_, start, _, err := SplitWindowKey(kv.Key)
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("window store %s: %w", s.Name(), err)
		}
		s.observed = max(s.observed, start)
	}
	live := make([]KeyValue, 0, len(kvs))
	for _, kv := range kvs {
		if !s.expired(kv.Key) {
			live = append(live, kv)
		}
	}
	s.mu.Unlock()
	if err := s.BytesStore.PutAll(live); err != nil {
		return err
	}
	return s.maybePurge()
}

// Range skips expired windows.
func (s *RetentionStore) Range(from, to []byte, fn func(k, v []byte) error) error {
	s.mu.Lock()
	minLive := s.minLive()
	s.mu.Unlock()
	return s.BytesStore.Range(from, to, func(k, v []byte) error {
		if _, start, _, err := SplitWindowKey(k); err != nil || start < minLive {
			return nil
		}
		return fn(k, v)
	})
}

// maybePurge deletes the expired entries once per segment interval of
// observed stream time.
func (s *RetentionStore) maybePurge() error {
	s.mu.Lock()
	if s.observed < 0 || (s.lastPurge >= 0 && s.observed < s.lastPurge+s.interval) {
		s.mu.Unlock()
		return nil
	}
	s.lastPurge = s.observed
	minLive := s.minLive()
	s.mu.Unlock()
	return s.Purge(minLive)
}

// Purge deletes every entry of a window that starts before minStart.
func (s *RetentionStore) Purge(minStart int64) error {
	var dead []KeyValue
	err := s.BytesStore.Range(nil, nil, func(k, _ []byte) error {
		if _, start, _, err := SplitWindowKey(k); err != nil || start < minStart {
			dead = append(dead, KeyValue{Key: k})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("window store %s: find expired windows: %w", s.Name(), err)
	}
	if len(dead) == 0 {
		return nil
	}
	if err := s.BytesStore.PutAll(dead); err != nil {
		return fmt.Errorf("window store %s: drop %d expired windows: %w", s.Name(), len(dead), err)
	}
	return nil
}

// retentionSupplier puts a RetentionStore over another supplier's stores.
type retentionSupplier struct {
	Supplier
	retention int64
}

func (s retentionSupplier) Get(dir string) (BytesStore, error) {
	inner, err := s.Supplier.Get(dir)
	if err != nil {
		return nil, err
	}
	return NewRetentionStore(inner, s.retention), nil
}

// ReadOnlyWindowStore is what interactive queries see of a window store.
// Times are milliseconds since the epoch; a window is named by its start.
type ReadOnlyWindowStore[K, V any] interface {
	Name() string
	// WindowSize is the length of the store's windows (its windows end at
	// start + size).
	WindowSize() int64
	// Get returns the value of k in the window that starts at windowStart
	// (Kafka's fetch(key, time)).
	Get(k K, windowStart int64) (V, bool, error)
	// Fetch visits the windows of k that start in [timeFrom, timeTo], in
	// start order, until fn returns false.
	Fetch(k K, timeFrom, timeTo int64, fn func(windowStart int64, v V) bool) error
	// FetchAll visits the windows of every key that start in
	// [timeFrom, timeTo], in start order (and serialized-key order within
	// one start), until fn returns false.
	FetchAll(timeFrom, timeTo int64, fn func(k K, windowStart int64, v V) bool) error
	// All visits every window of every key, as FetchAll does.
	All(fn func(k K, windowStart int64, v V) bool) error
}

// WindowStore is a typed window store as processors use it.
type WindowStore[K, V any] interface {
	ReadOnlyWindowStore[K, V]
	// Put stores v for k in the window starting at windowStart, with the
	// timestamp of the record being processed.
	Put(k K, v V, windowStart int64) error
	PutWithTimestamp(k K, v V, windowStart, ts int64) error
	Delete(k K, windowStart int64) error
	// GetWithTimestamp also returns the timestamp stored with the value.
	GetWithTimestamp(k K, windowStart int64) (v V, ts int64, ok bool, err error)
	// FetchWithTimestamps is Fetch with each value's timestamp.
	FetchWithTimestamps(k K, timeFrom, timeTo int64, fn func(windowStart, ts int64, v V) bool) error
	Flush() error
	Persistent() bool
	Close() error
}

// TypedWindowStore is the typed view over a stack of byte stores whose
// innermost layer is a RetentionStore.
type TypedWindowStore[K, V any] struct {
	bytes      BytesStore
	retention  *RetentionStore
	topic      string
	keys       serde.Serde[K]
	values     serde.Serde[V]
	size       int64
	duplicates bool
	seq        uint32
	timestamp  func() int64
}

// Bytes is the byte store under the typed view.
func (s *TypedWindowStore[K, V]) Bytes() BytesStore { return s.bytes }

func (s *TypedWindowStore[K, V]) Name() string      { return s.bytes.Name() }
func (s *TypedWindowStore[K, V]) Persistent() bool  { return s.bytes.Persistent() }
func (s *TypedWindowStore[K, V]) Flush() error      { return s.bytes.Flush() }
func (s *TypedWindowStore[K, V]) Close() error      { return s.bytes.Close() }
func (s *TypedWindowStore[K, V]) WindowSize() int64 { return s.size }

// RetentionPeriod is the store's retention in milliseconds.
func (s *TypedWindowStore[K, V]) RetentionPeriod() int64 { return s.retention.Retention() }

func (s *TypedWindowStore[K, V]) key(k K) ([]byte, error) {
	b, err := s.keys.Serialize(s.topic, k)
	if err != nil {
		return nil, fmt.Errorf("window store %s: serialize key: %w", s.Name(), err)
	}
	if b == nil {
		return nil, fmt.Errorf("window store %s: null key", s.Name())
	}
	return b, nil
}

// DecodeKey reads a byte-level key: the record key and the window start.
func (s *TypedWindowStore[K, V]) DecodeKey(raw []byte) (K, int64, error) {
	var k K
	kb, start, _, err := SplitWindowKey(raw)
	if err != nil {
		return k, 0, fmt.Errorf("window store %s: %w", s.Name(), err)
	}
	k, err = s.keys.Deserialize(s.topic, kb)
	if err != nil {
		return k, 0, fmt.Errorf("window store %s: deserialize key: %w", s.Name(), err)
	}
	return k, start, nil
}

// DecodeValue reads a byte-level value (timestamp first).
func (s *TypedWindowStore[K, V]) DecodeValue(raw []byte) (v V, ts int64, err error) {
	plain, ts, err := SplitTimestamp(raw)
	if err != nil {
		return v, 0, fmt.Errorf("window store %s: %w", s.Name(), err)
	}
	v, err = s.values.Deserialize(s.topic, plain)
	if err != nil {
		return v, 0, fmt.Errorf("window store %s: deserialize value: %w", s.Name(), err)
	}
	return v, ts, nil
}

func (s *TypedWindowStore[K, V]) Put(k K, v V, windowStart int64) error {
	var ts int64
	if s.timestamp != nil {
		ts = s.timestamp()
	}
	return s.PutWithTimestamp(k, v, windowStart, ts)
}

func (s *TypedWindowStore[K, V]) PutWithTimestamp(k K, v V, windowStart, ts int64) error {
	kb, err := s.key(k)
	if err != nil {
		return err
	}
	vb, err := s.values.Serialize(s.topic, v)
	if err != nil {
		return fmt.Errorf("window store %s: serialize value: %w", s.Name(), err)
	}
	if vb == nil {
		vb = []byte{}
	}
	var seq uint32
	if s.duplicates {
		s.seq++
		seq = s.seq
	}
	return s.bytes.Put(WindowKey(kb, windowStart, seq), WithTimestamp(vb, ts))
}

// Delete removes k's value in a window. A store that retains duplicates
// cannot delete (Kafka ignores such deletes too).
func (s *TypedWindowStore[K, V]) Delete(k K, windowStart int64) error {
	if s.duplicates {
		return nil
	}
	kb, err := s.key(k)
	if err != nil {
		return err
	}
	return s.bytes.Put(WindowKey(kb, windowStart, 0), nil)
}

func (s *TypedWindowStore[K, V]) Get(k K, windowStart int64) (V, bool, error) {
	v, _, ok, err := s.GetWithTimestamp(k, windowStart)
	return v, ok, err
}

func (s *TypedWindowStore[K, V]) GetWithTimestamp(k K, windowStart int64) (v V, ts int64, ok bool, err error) {
	if windowStart < s.retention.MinLiveStart() {
		return v, 0, false, nil
	}
	kb, err := s.key(k)
	if err != nil {
		return v, 0, false, err
	}
	if s.duplicates {
		// The first of the duplicates, as a fetch would visit it.
		found := false
		err = s.FetchWithTimestamps(k, windowStart, windowStart, func(_, t int64, val V) bool {
			v, ts, found = val, t, true
			return false
		})
		return v, ts, found, err
	}
	raw, err := s.bytes.Get(WindowKey(kb, windowStart, 0))
	if err != nil || raw == nil {
		return v, 0, false, err
	}
	v, ts, err = s.DecodeValue(raw)
	return v, ts, err == nil, err
}

func (s *TypedWindowStore[K, V]) Fetch(k K, timeFrom, timeTo int64, fn func(int64, V) bool) error {
	return s.FetchWithTimestamps(k, timeFrom, timeTo, func(start, _ int64, v V) bool { return fn(start, v) })
}

func (s *TypedWindowStore[K, V]) FetchWithTimestamps(k K, timeFrom, timeTo int64, fn func(int64, int64, V) bool) error {
	// Windows never start before the epoch (record times are not negative),
	// and a negative bound would not encode as a lower key.
	timeFrom = max(timeFrom, 0, s.retention.MinLiveStart())
	if timeFrom > timeTo {
		return nil
	}
	kb, err := s.key(k)
	if err != nil {
		return err
	}
	from := WindowKey(kb, timeFrom, 0)
	to := WindowKey(kb, timeTo, ^uint32(0))
	return s.bytes.Range(from, to, func(raw, vb []byte) error {
		// Keys of other lengths can sort inside the range; only the
		// entries of k itself count.
		rk, start, _, err := SplitWindowKey(raw)
		if err != nil {
			return err
		}
		if string(rk) != string(kb) || start < timeFrom || start > timeTo {
			return nil
		}
		v, ts, err := s.DecodeValue(vb)
		if err != nil {
			return err
		}
		if !fn(start, ts, v) {
			return ErrStopIteration
		}
		return nil
	})
}

func (s *TypedWindowStore[K, V]) FetchAll(timeFrom, timeTo int64, fn func(K, int64, V) bool) error {
	timeFrom = max(timeFrom, 0, s.retention.MinLiveStart())
	if timeFrom > timeTo {
		return nil
	}
	// The key-first layout orders by key; collect the windows in range
	// and sort them by start, as Kafka's time-ordered fetchAll returns.
	type entry struct {
		key, value []byte
		start      int64
	}
	var entries []entry
	err := s.bytes.Range(nil, nil, func(raw, vb []byte) error {
		kb, start, _, err := SplitWindowKey(raw)
		if err != nil {
			return err
		}
		if start >= timeFrom && start <= timeTo {
			entries = append(entries, entry{key: kb, value: vb, start: start})
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortStableFunc(entries, func(a, b entry) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return compareBytes(a.key, b.key)
	})
	for _, e := range entries {
		k, err := s.keys.Deserialize(s.topic, e.key)
		if err != nil {
			return fmt.Errorf("window store %s: deserialize key: %w", s.Name(), err)
		}
		v, _, err := s.DecodeValue(e.value)
		if err != nil {
			return err
		}
		if !fn(k, e.start, v) {
			return nil
		}
	}
	return nil
}

func (s *TypedWindowStore[K, V]) All(fn func(K, int64, V) bool) error {
	return s.FetchAll(-1<<63, 1<<63-1, fn)
}

// WindowStoreBuilder builds typed window stores.
type WindowStoreBuilder[K, V any] struct {
	supplier   Supplier
	keys       serde.Serde[K]
	values     serde.Serde[V]
	retention  int64
	size       int64
	duplicates bool
	logging    bool
	logConfig  map[string]string
	caching    bool
}

// NewWindowStoreBuilder returns a builder of logged, uncached window stores
// over supplier's byte stores, keeping windows of size ms for retention ms
// (nil serdes: serde.Default).
func NewWindowStoreBuilder[K, V any](supplier Supplier, retention, size int64, keys serde.Serde[K], values serde.Serde[V]) *WindowStoreBuilder[K, V] {
	if keys == nil {
		keys = serde.Default[K]()
	}
	if values == nil {
		values = serde.Default[V]()
	}
	return &WindowStoreBuilder[K, V]{supplier: supplier, keys: keys, values: values,
		retention: retention, size: size, logging: true}
}

// WithCaching turns the record cache on or off.
func (b *WindowStoreBuilder[K, V]) WithCaching(on bool) *WindowStoreBuilder[K, V] {
	b.caching = on
	return b
}

// WithLogging turns the changelog on (with extra topic configs) or off.
func (b *WindowStoreBuilder[K, V]) WithLogging(on bool, config map[string]string) *WindowStoreBuilder[K, V] {
	b.logging, b.logConfig = on, config
	return b
}

// WithRetainDuplicates keeps every value put for a key and window (each
// with its own sequence number) instead of replacing it, as stream-stream
// joins need. Such a store cannot be cached.
func (b *WindowStoreBuilder[K, V]) WithRetainDuplicates(on bool) *WindowStoreBuilder[K, V] {
	b.duplicates = on
	return b
}

func (b *WindowStoreBuilder[K, V]) Name() string     { return b.supplier.Name() }
func (b *WindowStoreBuilder[K, V]) Persistent() bool { return b.supplier.Persistent() }
func (b *WindowStoreBuilder[K, V]) Logging() bool    { return b.logging }
func (b *WindowStoreBuilder[K, V]) Caching() bool    { return b.caching && !b.duplicates }

// Retention is the store's retention period in milliseconds.
func (b *WindowStoreBuilder[K, V]) Retention() int64 { return b.retention }

// WindowSize is the store's window size in milliseconds.
func (b *WindowStoreBuilder[K, V]) WindowSize() int64 { return b.size }

// LogConfig is Kafka's window changelog configuration: compacted and
// deleted, kept for the store's retention plus a day
// (windowstore.changelog.additional.retention.ms), under the configs given
// with WithLogging.
func (b *WindowStoreBuilder[K, V]) LogConfig() map[string]string {
	return WindowedLogConfig(b.retention, b.logConfig)
}

// Supplier opens the byte store with the retention layer innermost.
func (b *WindowStoreBuilder[K, V]) Supplier() Supplier {
	return retentionSupplier{Supplier: b.supplier, retention: b.retention}
}

func (b *WindowStoreBuilder[K, V]) Wrap(bs BytesStore, topic string, timestamp func() int64) Store {
	return NewTypedWindowStore(bs, topic, b.keys, b.values, b.size, b.duplicates, timestamp)
}

// NewTypedWindowStore wraps a byte-store stack whose innermost layer is a
// RetentionStore (one is added on top if there is none).
func NewTypedWindowStore[K, V any](bs BytesStore, topic string, keys serde.Serde[K], values serde.Serde[V], size int64, duplicates bool, timestamp func() int64) *TypedWindowStore[K, V] {
	rs, ok := Unwrap[*RetentionStore](bs)
	if !ok {
		rs = NewRetentionStore(bs, 1<<62)
		bs = rs
	}
	return &TypedWindowStore[K, V]{bytes: bs, retention: rs, topic: topic, keys: keys, values: values,
		size: size, duplicates: duplicates, timestamp: timestamp}
}

// AsWindowStore returns s as a typed window store of K and V.
func AsWindowStore[K, V any](s Store) (WindowStore[K, V], error) {
	ws, ok := s.(WindowStore[K, V])
	if !ok {
		return nil, fmt.Errorf("store %s is %T, not a window store of %s to %s", s.Name(), s,
			serde.TypeName[K](), serde.TypeName[V]())
	}
	return ws, nil
}
