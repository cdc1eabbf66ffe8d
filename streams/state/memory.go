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
	keys   sortedKeys // m's keys in order, for Range
	closed bool
}

// NewMemoryStore returns an empty store.
func NewMemoryStore(name string) *MemoryStore {
	return &MemoryStore{name: name, m: make(map[string][]byte), keys: newSortedKeys()}
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
	k := string(key)
	if value == nil {
		delete(s.m, k)
		s.keys.remove(k)
		return
	}
	if _, ok := s.m[k]; !ok {
		s.keys.add(k)
	}
	s.m[k] = slices.Clone(value)
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

// Range copies the entries in range (found in the ordered key set) before
// calling fn, so that fn may write to the store.
func (s *MemoryStore) Range(from, to []byte, fn func(k, v []byte) error) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	var kvs []KeyValue
	s.keys.scan(from, to, func(k string) bool {
		kvs = append(kvs, KeyValue{[]byte(k), s.m[k]})
		return true
	})
	s.mu.RUnlock()
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
