// Package pebblestore keeps a task's key-value state on disk in pebble, so
// that a restarted instance restores only the changelog written after its
// last checkpoint instead of the whole topic.
//
// Writes go to pebble's write-ahead log without a sync: the changelog topic,
// not the local files, is what makes state durable. Flush (called on each
// commit, before the checkpoint file records the changelog offsets the store
// holds) syncs the log, so a checkpoint never claims more than the disk has.
package pebblestore

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/sluicehq/sluice/streams/state"
)

// Supplier supplies pebble stores named name, each in
// <task dir>/pebble/<name>.
func Supplier(name string) state.Supplier { return supplier{name} }

type supplier struct{ name string }

func (s supplier) Name() string     { return s.name }
func (s supplier) Persistent() bool { return true }
func (s supplier) Get(dir string) (state.BytesStore, error) {
	return Open(s.name, filepath.Join(dir, "pebble", s.name))
}

// Store is a state.BytesStore on a pebble database.
type Store struct {
	name string
	dir  string

	mu sync.RWMutex // Close against concurrent interactive queries
	db *pebble.DB
}

// Open opens (creating if needed) the store in dir.
func Open(name, dir string) (*Store, error) {
	opts := &pebble.Options{
		Logger:       quietLogger{},
		MemTableSize: 16 << 20,
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open pebble store %s in %s: %w", name, dir, err)
	}
	return &Store{name: name, dir: dir, db: db}, nil
}

func (s *Store) Name() string     { return s.name }
func (s *Store) Persistent() bool { return true }

// Flush syncs the write-ahead log.
func (s *Store) Flush() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return state.ErrClosed
	}
	if err := s.db.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("sync pebble store %s: %w", s.name, err)
	}
	return nil
}

func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return fmt.Errorf("close pebble store %s: %w", s.name, err)
	}
	return nil
}

func (s *Store) Get(key []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return nil, state.ErrClosed
	}
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pebble store %s get: %w", s.name, err)
	}
	out := bytes.Clone(v)
	if out == nil {
		out = []byte{}
	}
	return out, closer.Close()
}

func (s *Store) Put(key, value []byte) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return state.ErrClosed
	}
	var err error
	if value == nil {
		err = s.db.Delete(key, pebble.NoSync)
	} else {
		err = s.db.Set(key, value, pebble.NoSync)
	}
	if err != nil {
		return fmt.Errorf("pebble store %s put: %w", s.name, err)
	}
	return nil
}

func (s *Store) PutAll(kvs []state.KeyValue) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return state.ErrClosed
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, kv := range kvs {
		var err error
		if kv.Value == nil {
			err = b.Delete(kv.Key, nil)
		} else {
			err = b.Set(kv.Key, kv.Value, nil)
		}
		if err != nil {
			return fmt.Errorf("pebble store %s batch: %w", s.name, err)
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("pebble store %s restore batch: %w", s.name, err)
	}
	return nil
}

func (s *Store) Range(from, to []byte, fn func(k, v []byte) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return state.ErrClosed
	}
	opts := &pebble.IterOptions{LowerBound: from}
	if to != nil {
		// UpperBound is exclusive; the smallest key above to is to+0x00.
		opts.UpperBound = append(bytes.Clone(to), 0)
	}
	it, err := s.db.NewIter(opts)
	if err != nil {
		return fmt.Errorf("pebble store %s iterate: %w", s.name, err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return fmt.Errorf("pebble store %s value: %w", s.name, err)
		}
		if err := fn(bytes.Clone(it.Key()), bytes.Clone(v)); err != nil {
			it.Close()
			if err == state.ErrStopIteration {
				return nil
			}
			return err
		}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return fmt.Errorf("pebble store %s iterate: %w", s.name, err)
	}
	return it.Close()
}

// ApproximateNumEntries counts the entries, which is exact but linear: it
// serves interactive queries, not processing.
func (s *Store) ApproximateNumEntries() (int64, error) {
	var n int64
	err := s.Range(nil, nil, func(_, _ []byte) error { n++; return nil })
	return n, err
}

// quietLogger keeps pebble's informational lines out of the application's
// output; errors still surface through return values.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}
