package state

import (
	"slices"
	"sync"
)

// InMemory supplies stores that live in a Go map: fast, lost with the
// process, and so restored from the start of their changelog every time a
// task opens.
func InMemory(name string) Supplier { return memorySupplier{name} }

type memorySupplier struct{ name string }

func (s memorySupplier) Name() string                   { return s.name }
func (s memorySupplier) Persistent() bool               { return false }
func (s memorySupplier) Get(string) (BytesStore, error) { return NewMemoryStore(s.name), nil }

// MemoryStore is an in-memory BytesStore, safe for concurrent use (a
// global store is written by its own goroutine while tasks read it).
type MemoryStore struct {
	name   string
	mu     sync.RWMutex
	m      map[string][]byte
	closed bool
}

// NewMemoryStore returns an empty store.
func NewMemoryStore(name string) *MemoryStore {
	return &MemoryStore{name: name, m: make(map[string][]byte)}
}

func (s *MemoryStore) Name() string     { return s.name }
func (s *MemoryStore) Persistent() bool { return false }
func (s *MemoryStore) Flush() error     { return nil }

func (s *MemoryStore) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

func (s *MemoryStore) Get(key []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.m[string(key)], nil
}

func (s *MemoryStore) Put(key, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.put(key, value)
	return nil
}

func (s *MemoryStore) put(key, value []byte) {
	if value == nil {
		delete(s.m, string(key))
		return
	}
	s.m[string(key)] = slices.Clone(value)
}

func (s *MemoryStore) PutAll(kvs []KeyValue) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for _, kv := range kvs {
		s.put(kv.Key, kv.Value)
	}
	return nil
}

// Range sorts the keys in range on each call: ranges serve interactive
// queries and the merge with a cache, not the per-record path.
func (s *MemoryStore) Range(from, to []byte, fn func(k, v []byte) error) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	var kvs []KeyValue
	for k, v := range s.m {
		if inRange([]byte(k), from, to) {
			kvs = append(kvs, KeyValue{[]byte(k), v})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(kvs, func(a, b KeyValue) int { return compareBytes(a.Key, b.Key) })
	for _, kv := range kvs {
		if err := fn(kv.Key, kv.Value); err != nil {
			if err == ErrStopIteration {
				return nil
			}
			return err
		}
	}
	return nil
}

func (s *MemoryStore) ApproximateNumEntries() (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return int64(len(s.m)), nil
}

func compareBytes(a, b []byte) int {
	switch {
	case string(a) < string(b):
		return -1
	case string(a) > string(b):
		return 1
	}
	return 0
}
