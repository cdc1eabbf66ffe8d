// Package state holds the state stores of a stream task: the byte-level
// key-value stores (in memory here, on pebble in package pebblestore), the
// layers that wrap them (a changelog logger, a record cache that bounds
// output rate), and the typed view that processors and interactive queries
// use.
//
// A task's store is a stack, outermost first, as in Kafka Streams:
//
//	KeyValueStore[K,V]   serdes and timestamps
//	CachingStore         dirty entries held until a commit or an eviction (optional)
//	LoggedStore          every write also sent to <application.id>-<store>-changelog (optional)
//	BytesStore           memory or pebble
//
// Values at the byte level carry the record timestamp in their first 8
// bytes (big-endian), so a KTable keeps the timestamp of the record that set
// each value; the changelog stores the plain value with the timestamp as the
// record's timestamp, and restoration puts it back in front.
package state

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Store is what every state store is, whatever its type.
type Store interface {
	Name() string
	// Persistent reports whether the store keeps its contents on disk across
	// restarts (then it is restored from a checkpointed changelog offset
	// rather than from the beginning).
	Persistent() bool
	// Flush makes every write so far durable in the store itself.
	Flush() error
	Close() error
}

// KeyValue is one entry.
type KeyValue struct {
	Key, Value []byte
}

// BytesStore is a key-value store of bytes, ordered by key.
//
// Get returns nil for an absent key. Put with a nil value deletes. Range
// visits from..to inclusive in key order (nil bounds are open) until fn
// returns an error; ErrStopIteration stops it without one.
type BytesStore interface {
	Store
	Get(key []byte) ([]byte, error)
	Put(key, value []byte) error
	Range(from, to []byte, fn func(key, value []byte) error) error
	ApproximateNumEntries() (int64, error)
	// PutAll applies a batch of restored changelog entries.
	PutAll(kvs []KeyValue) error
}

// Supplier makes the innermost byte store of a named store for one task.
type Supplier interface {
	Name() string
	Persistent() bool
	// Get opens the store. dir is the task's own directory in the
	// application's state directory; an in-memory store ignores it.
	Get(dir string) (BytesStore, error)
}

// ErrStopIteration ends a Range early without an error.
var ErrStopIteration = errors.New("stop iteration")

// ErrClosed is returned by a store that has been closed, for example
// because its task moved to another instance.
var ErrClosed = errors.New("state store is closed")

// WithTimestamp prepends ts to v: the byte-level value format. A nil v (a
// delete) stays nil.
func WithTimestamp(v []byte, ts int64) []byte {
	if v == nil {
		return nil
	}
	out := make([]byte, 8+len(v))
	binary.BigEndian.PutUint64(out, uint64(ts))
	copy(out[8:], v)
	return out
}

// SplitTimestamp undoes WithTimestamp.
func SplitTimestamp(b []byte) (v []byte, ts int64, err error) {
	if b == nil {
		return nil, 0, nil
	}
	if len(b) < 8 {
		return nil, 0, fmt.Errorf("stored value of %d bytes lacks its 8-byte timestamp", len(b))
	}
	return b[8:], int64(binary.BigEndian.Uint64(b)), nil
}

// inRange reports whether k lies in from..to, nil bounds open.
func inRange(k, from, to []byte) bool {
	return (from == nil || string(k) >= string(from)) && (to == nil || string(k) <= string(to))
}
