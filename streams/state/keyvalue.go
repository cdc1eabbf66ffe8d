package state

import (
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/streams/serde"
)

// ReadOnlyKeyValueStore is what interactive queries see of a store.
type ReadOnlyKeyValueStore[K, V any] interface {
	Name() string
	// Get returns the value of k and whether it is present.
	Get(k K) (V, bool, error)
	// Range visits the entries whose serialized keys lie between those of
	// from and to (inclusive), in serialized-key order, until fn returns
	// false.
	Range(from, to K, fn func(K, V) bool) error
	// All visits every entry in serialized-key order until fn returns false.
	All(fn func(K, V) bool) error
	ApproximateNumEntries() (int64, error)
}

// KeyValueStore is a typed key-value store as processors use it.
type KeyValueStore[K, V any] interface {
	ReadOnlyKeyValueStore[K, V]
	// GetWithTimestamp also returns the timestamp stored with the value.
	GetWithTimestamp(k K) (v V, ts int64, ok bool, err error)
	// Put stores v with the timestamp of the record being processed.
	Put(k K, v V) error
	PutWithTimestamp(k K, v V, ts int64) error
	Delete(k K) error
	Flush() error
	Persistent() bool
	Close() error
}

// TypedStore is the typed view over a stack of byte stores.
type TypedStore[K, V any] struct {
	bytes     BytesStore
	topic     string // the name given to serdes: the changelog topic
	keys      serde.Serde[K]
	values    serde.Serde[V]
	timestamp func() int64
}

// NewTypedStore wraps b with serdes; timestamp gives the current record's
// timestamp for Put (nil: 0).
func NewTypedStore[K, V any](b BytesStore, topic string, keys serde.Serde[K], values serde.Serde[V], timestamp func() int64) *TypedStore[K, V] {
	return &TypedStore[K, V]{bytes: b, topic: topic, keys: keys, values: values, timestamp: timestamp}
}

// Bytes is the byte store under the typed view.
func (s *TypedStore[K, V]) Bytes() BytesStore { return s.bytes }

func (s *TypedStore[K, V]) Name() string     { return s.bytes.Name() }
func (s *TypedStore[K, V]) Persistent() bool { return s.bytes.Persistent() }
func (s *TypedStore[K, V]) Flush() error     { return s.bytes.Flush() }
func (s *TypedStore[K, V]) Close() error     { return s.bytes.Close() }

func (s *TypedStore[K, V]) ApproximateNumEntries() (int64, error) {
	return s.bytes.ApproximateNumEntries()
}

func (s *TypedStore[K, V]) key(k K) ([]byte, error) {
	b, err := s.keys.Serialize(s.topic, k)
	if err != nil {
		return nil, fmt.Errorf("store %s: serialize key: %w", s.Name(), err)
	}
	if b == nil {
		return nil, fmt.Errorf("store %s: null key", s.Name())
	}
	return b, nil
}

func (s *TypedStore[K, V]) Get(k K) (V, bool, error) {
	v, _, ok, err := s.GetWithTimestamp(k)
	return v, ok, err
}

func (s *TypedStore[K, V]) GetWithTimestamp(k K) (v V, ts int64, ok bool, err error) {
	kb, err := s.key(k)
	if err != nil {
		return v, 0, false, err
	}
	raw, err := s.bytes.Get(kb)
	if err != nil || raw == nil {
		return v, 0, false, err
	}
	v, ts, err = s.DecodeValue(raw)
	return v, ts, err == nil, err
}

// DecodeValue reads a byte-level value (timestamp first).
func (s *TypedStore[K, V]) DecodeValue(raw []byte) (v V, ts int64, err error) {
	plain, ts, err := SplitTimestamp(raw)
	if err != nil {
		return v, 0, fmt.Errorf("store %s: %w", s.Name(), err)
	}
	v, err = s.values.Deserialize(s.topic, plain)
	if err != nil {
		return v, 0, fmt.Errorf("store %s: deserialize value: %w", s.Name(), err)
	}
	return v, ts, nil
}

// DecodeKey reads a serialized key.
func (s *TypedStore[K, V]) DecodeKey(raw []byte) (K, error) {
	k, err := s.keys.Deserialize(s.topic, raw)
	if err != nil {
		return k, fmt.Errorf("store %s: deserialize key: %w", s.Name(), err)
	}
	return k, nil
}

func (s *TypedStore[K, V]) Put(k K, v V) error {
	var ts int64
	if s.timestamp != nil {
		ts = s.timestamp()
	}
	return s.PutWithTimestamp(k, v, ts)
}

func (s *TypedStore[K, V]) PutWithTimestamp(k K, v V, ts int64) error {
	kb, err := s.key(k)
	if err != nil {
		return err
	}
	vb, err := s.values.Serialize(s.topic, v)
	if err != nil {
		return fmt.Errorf("store %s: serialize value: %w", s.Name(), err)
	}
	if vb == nil {
		vb = []byte{}
	}
	return s.bytes.Put(kb, WithTimestamp(vb, ts))
}

func (s *TypedStore[K, V]) Delete(k K) error {
	kb, err := s.key(k)
	if err != nil {
		return err
	}
	return s.bytes.Put(kb, nil)
}

func (s *TypedStore[K, V]) Range(from, to K, fn func(K, V) bool) error {
	fb, err := s.key(from)
	if err != nil {
		return err
	}
	tb, err := s.key(to)
	if err != nil {
		return err
	}
	return s.scan(fb, tb, fn)
}

func (s *TypedStore[K, V]) All(fn func(K, V) bool) error { return s.scan(nil, nil, fn) }

func (s *TypedStore[K, V]) scan(from, to []byte, fn func(K, V) bool) error {
	return s.bytes.Range(from, to, func(kb, vb []byte) error {
		k, err := s.DecodeKey(kb)
		if err != nil {
			return err
		}
		v, _, err := s.DecodeValue(vb)
		if err != nil {
			return err
		}
		if !fn(k, v) {
			return ErrStopIteration
		}
		return nil
	})
}

// Builder describes a store that each task opens its own instance of: its
// name, where its bytes live, whether it is cached and logged, and how to
// put the typed view on top. The topology holds Builders; tasks call Build.
type Builder interface {
	Name() string
	Persistent() bool
	Logging() bool
	// LogConfig is the changelog topic's extra configuration.
	LogConfig() map[string]string
	Caching() bool
	// Supplier opens the innermost byte store.
	Supplier() Supplier
	// Wrap puts the typed view over a task's byte-store stack. topic names
	// the store to serdes (its changelog topic).
	Wrap(b BytesStore, topic string, timestamp func() int64) Store
}

// KeyValueBuilder builds typed key-value stores.
type KeyValueBuilder[K, V any] struct {
	supplier  Supplier
	keys      serde.Serde[K]
	values    serde.Serde[V]
	logging   bool
	logConfig map[string]string
	caching   bool
}

// NewKeyValueBuilder returns a builder of logged, uncached stores over
// supplier, with the given serdes (nil: serde.Default).
func NewKeyValueBuilder[K, V any](supplier Supplier, keys serde.Serde[K], values serde.Serde[V]) *KeyValueBuilder[K, V] {
	if keys == nil {
		keys = serde.Default[K]()
	}
	if values == nil {
		values = serde.Default[V]()
	}
	return &KeyValueBuilder[K, V]{supplier: supplier, keys: keys, values: values, logging: true}
}

// WithCaching turns the record cache on or off.
func (b *KeyValueBuilder[K, V]) WithCaching(on bool) *KeyValueBuilder[K, V] {
	b.caching = on
	return b
}

// WithLogging turns the changelog on (with extra topic configs) or off.
func (b *KeyValueBuilder[K, V]) WithLogging(on bool, config map[string]string) *KeyValueBuilder[K, V] {
	b.logging, b.logConfig = on, config
	return b
}

func (b *KeyValueBuilder[K, V]) Name() string                 { return b.supplier.Name() }
func (b *KeyValueBuilder[K, V]) Persistent() bool             { return b.supplier.Persistent() }
func (b *KeyValueBuilder[K, V]) Logging() bool                { return b.logging }
func (b *KeyValueBuilder[K, V]) LogConfig() map[string]string { return b.logConfig }
func (b *KeyValueBuilder[K, V]) Caching() bool                { return b.caching }
func (b *KeyValueBuilder[K, V]) Supplier() Supplier           { return b.supplier }

func (b *KeyValueBuilder[K, V]) Wrap(bs BytesStore, topic string, timestamp func() int64) Store {
	return NewTypedStore(bs, topic, b.keys, b.values, timestamp)
}

// Unwrap finds the layer of type T in a store stack, if any.
func Unwrap[T any](s Store) (T, bool) {
	for s != nil {
		if t, ok := s.(T); ok {
			return t, true
		}
		switch l := s.(type) {
		case interface{ Bytes() BytesStore }:
			s = l.Bytes()
		case interface{ Inner() BytesStore }:
			s = l.Inner()
		default:
			s = nil
		}
	}
	var zero T
	return zero, false
}

var errNotKeyValue = errors.New("not a key-value store")

// AsKeyValue returns s as a typed key-value store of K and V.
func AsKeyValue[K, V any](s Store) (KeyValueStore[K, V], error) {
	kv, ok := s.(KeyValueStore[K, V])
	if !ok {
		return nil, fmt.Errorf("store %s is %T: %w of %s to %s", s.Name(), s, errNotKeyValue,
			serde.TypeName[K](), serde.TypeName[V]())
	}
	return kv, nil
}
