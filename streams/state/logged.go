package state

import "fmt"

// Logger receives every write of a logged store, for its changelog topic.
// value is the plain value (nil for a delete) and ts the record timestamp.
type Logger interface {
	LogChange(store string, key, value []byte, ts int64) error
}

// LoggedStore writes through to its inner store and logs each change, so
// that the store can be rebuilt from its changelog on another instance or
// after its local files are lost.
type LoggedStore struct {
	BytesStore
	log Logger
}

// NewLoggedStore wraps inner so that each Put is also logged.
func NewLoggedStore(inner BytesStore, log Logger) *LoggedStore {
	return &LoggedStore{BytesStore: inner, log: log}
}

// Inner is the wrapped store, which restoration writes to directly.
func (s *LoggedStore) Inner() BytesStore { return s.BytesStore }

func (s *LoggedStore) Put(key, value []byte) error {
	if err := s.BytesStore.Put(key, value); err != nil {
		return err
	}
	v, ts, err := SplitTimestamp(value)
	if err != nil {
		return fmt.Errorf("log change of store %s: %w", s.Name(), err)
	}
	return s.log.LogChange(s.Name(), key, v, ts)
}
