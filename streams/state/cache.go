package state

import (
	"container/list"
	"slices"
	"sync"
	"sync/atomic"
)

// Cache is the byte budget that the caching stores of one application
// instance share: statestore.cache.max.bytes. Each caching store keeps its
// own LRU list; when a write takes the shared total over the budget, the
// writing store evicts its least recently used entries, and a dirty entry
// evicted is flushed (written down and forwarded) at that moment. A budget
// of 0 turns caching off: every write goes straight through.
type Cache struct {
	max  int64
	used atomic.Int64
}

// NewCache returns a cache of maxBytes.
func NewCache(maxBytes int64) *Cache { return &Cache{max: maxBytes} }

// MaxBytes is the budget.
func (c *Cache) MaxBytes() int64 { return c.max }

// UsedBytes is what the entries held now take.
func (c *Cache) UsedBytes() int64 { return c.used.Load() }

// entryOverhead approximates the bookkeeping of one cached entry.
const entryOverhead = 64

// FlushedEntry is one dirty entry written down from a cache, with the value
// the store held before it (Old) so that a KTable can forward both.
type FlushedEntry struct {
	Key, New, Old []byte
	// Timestamp is the timestamp of the record whose write left the entry as
	// it is, a delete's for a delete (whose value carries none).
	Timestamp int64
}

// CachingStore holds writes to its inner store in memory until Flush or
// eviction, so that many updates of one key between commits reach the
// changelog and downstream processors once: Kafka Streams' record cache.
type CachingStore struct {
	BytesStore
	cache     *Cache
	timestamp func() int64
	onFlush   func(FlushedEntry) error

	mu    sync.Mutex
	lru   *list.List // of *cacheEntry, front = most recent
	byKey map[string]*list.Element
	keys  sortedKeys // byKey's keys in order, for Range
	// dirty lists entries in the order they became dirty. An entry evicted
	// (and so written down) leaves its reference behind rather than be
	// searched for; a reference counts only while its seq is the entry's.
	dirty []dirtyRef
	seq   uint64
}

type dirtyRef struct {
	key string
	seq uint64
}

type cacheEntry struct {
	key   string
	value []byte // nil: a delete
	dirty bool
	seq   uint64 // when it last became dirty
	ts    int64
}

// NewCachingStore wraps inner. timestamp (may be nil) gives the timestamp of
// the record being processed at each write, handed back with the flushed
// entry; onFlush (may be nil) is called for each dirty entry after it
// reached the inner store.
func NewCachingStore(inner BytesStore, cache *Cache, timestamp func() int64) *CachingStore {
	return &CachingStore{
		BytesStore: inner,
		cache:      cache,
		timestamp:  timestamp,
		lru:        list.New(),
		byKey:      make(map[string]*list.Element),
		keys:       newSortedKeys(),
	}
}

// SetFlushListener sets what is told of each dirty entry written down.
func (s *CachingStore) SetFlushListener(fn func(FlushedEntry) error) { s.onFlush = fn }

// Inner is the wrapped store.
func (s *CachingStore) Inner() BytesStore { return s.BytesStore }

func size(key string, value []byte) int64 { return int64(len(key) + len(value) + entryOverhead) }

func (s *CachingStore) Get(key []byte) ([]byte, error) {
	s.mu.Lock()
	if el, ok := s.byKey[string(key)]; ok {
		s.lru.MoveToFront(el)
		v := el.Value.(*cacheEntry).value
		s.mu.Unlock()
		return v, nil
	}
	s.mu.Unlock()
	v, err := s.BytesStore.Get(key)
	if err != nil || v == nil {
		return v, err
	}
	// Reads fill the cache with clean entries, as Kafka's does, so that a
	// read-modify-write of a hot key costs one lookup.
	s.mu.Lock()
	s.insert(string(key), v, false, 0)
	s.mu.Unlock()
	return v, s.maybeEvict()
}

func (s *CachingStore) Put(key, value []byte) error {
	var ts int64
	if s.timestamp != nil {
		ts = s.timestamp()
	}
	s.mu.Lock()
	s.insert(string(key), slices.Clone(value), true, ts)
	s.mu.Unlock()
	return s.maybeEvict()
}

// insert adds or replaces an entry; s.mu is held.
func (s *CachingStore) insert(key string, value []byte, dirty bool, ts int64) {
	if el, ok := s.byKey[key]; ok {
		e := el.Value.(*cacheEntry)
		s.cache.used.Add(size(key, value) - size(key, e.value))
		if dirty && !e.dirty {
			s.markDirty(e)
		}
		e.value, e.dirty, e.ts = value, e.dirty || dirty, ts
		s.lru.MoveToFront(el)
		return
	}
	e := &cacheEntry{key: key, value: value, dirty: dirty, ts: ts}
	s.byKey[key] = s.lru.PushFront(e)
	s.keys.add(key)
	s.cache.used.Add(size(key, value))
	if dirty {
		s.markDirty(e)
	}
}

// markDirty queues e to be written down; s.mu is held.
func (s *CachingStore) markDirty(e *cacheEntry) {
	s.seq++
	e.seq = s.seq
	s.dirty = append(s.dirty, dirtyRef{key: e.key, seq: e.seq})
}

// maybeEvict evicts this store's least recently used entries while the
// shared budget is exceeded.
func (s *CachingStore) maybeEvict() error {
	for s.cache.used.Load() > s.cache.max {
		s.mu.Lock()
		el := s.lru.Back()
		if el == nil {
			s.mu.Unlock()
			return nil
		}
		e := el.Value.(*cacheEntry)
		s.remove(el)
		s.mu.Unlock()
		if e.dirty {
			if err := s.writeDown(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *CachingStore) remove(el *list.Element) {
	e := el.Value.(*cacheEntry)
	s.lru.Remove(el)
	delete(s.byKey, e.key)
	s.keys.remove(e.key)
	s.cache.used.Add(-size(e.key, e.value))
}

func (s *CachingStore) writeDown(e *cacheEntry) error {
	var old []byte
	if s.onFlush != nil {
		var err error
		if old, err = s.BytesStore.Get([]byte(e.key)); err != nil {
			return err
		}
	}
	if err := s.BytesStore.Put([]byte(e.key), e.value); err != nil {
		return err
	}
	if s.onFlush != nil {
		return s.onFlush(FlushedEntry{Key: []byte(e.key), New: e.value, Old: old, Timestamp: e.ts})
	}
	return nil
}

// Flush writes every dirty entry down, in the order they became dirty, and
// then flushes the inner store.
func (s *CachingStore) Flush() error {
	if err := s.FlushCache(); err != nil {
		return err
	}
	return s.BytesStore.Flush()
}

// FlushCache writes the dirty entries down without flushing the inner store.
func (s *CachingStore) FlushCache() error {
	s.mu.Lock()
	refs := s.dirty
	s.dirty = nil
	var entries []*cacheEntry
	for _, r := range refs {
		if el, ok := s.byKey[r.key]; ok {
			e := el.Value.(*cacheEntry)
			if e.dirty && e.seq == r.seq {
				e.dirty = false
				entries = append(entries, &cacheEntry{key: e.key, value: e.value, ts: e.ts})
			}
		}
	}
	s.mu.Unlock()
	for _, e := range entries {
		if err := s.writeDown(e); err != nil {
			return err
		}
	}
	return nil
}

// Close drops the cache's entries (flush first to keep them) and closes
// the inner store.
func (s *CachingStore) Close() error {
	s.mu.Lock()
	for el := s.lru.Front(); el != nil; {
		next := el.Next()
		s.remove(el)
		el = next
	}
	s.dirty = nil
	s.mu.Unlock()
	return s.BytesStore.Close()
}

// Range merges the cached entries in range with the inner store's, the
// cached value winning (and a cached delete hiding the stored entry).
func (s *CachingStore) Range(from, to []byte, fn func(k, v []byte) error) error {
	s.mu.Lock()
	var cached []KeyValue
	s.keys.scan(from, to, func(k string) bool {
		cached = append(cached, KeyValue{[]byte(k), s.byKey[k].Value.(*cacheEntry).value})
		return true
	})
	s.mu.Unlock()
	stopped := false
	user := fn
	fn = func(k, v []byte) error {
		err := user(k, v)
		if err == ErrStopIteration {
			stopped = true
		}
		return err
	}
	i := 0
	emit := func(kv KeyValue) error {
		if kv.Value == nil {
			return nil
		}
		return fn(kv.Key, kv.Value)
	}
	err := s.BytesStore.Range(from, to, func(k, v []byte) error {
		for i < len(cached) && compareBytes(cached[i].Key, k) < 0 {
			if err := emit(cached[i]); err != nil {
				return err
			}
			i++
		}
		if i < len(cached) && compareBytes(cached[i].Key, k) == 0 {
			i++
			return emit(cached[i-1])
		}
		return fn(k, v)
	})
	if err != nil {
		if err == ErrStopIteration {
			return nil
		}
		return err
	}
	for ; i < len(cached) && !stopped; i++ {
		if err := emit(cached[i]); err != nil {
			if err == ErrStopIteration {
				return nil
			}
			return err
		}
	}
	return nil
}
