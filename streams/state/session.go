package state

// Session stores keep the aggregates of session windows: for each key, a
// set of non-overlapping sessions [start, end] (both inclusive), each with
// its value.
//
// Byte layout, on any BytesStore (memory or pebble), as Kafka Streams'
// SessionKeySchema: the serialized key, then the session's end, then its
// start, each 8 bytes big-endian. Keys of one record key thus sort by end
// time, so the sessions that may touch a time are one range scan, and the
// store key is also the changelog key that Kafka's session stores write
// (the session-windowed key format). Values are the state package's usual
// timestamp-then-value bytes.
//
// Retention: a session whose end is before observed stream time minus the
// retention period is expired, where observed stream time is the largest
// session end the store has seen. Expired sessions are invisible to reads
// at once, and puts of expired sessions are dropped, as in Kafka. (Kafka's
// stores also expire a session that ends exactly at that horizon, while its
// session aggregation still accepts records for it; here the two agree, so
// that a record the aggregation accepts is always stored.) They
// are deleted from the byte store (not through the changelog, whose own
// retention.ms drops them, like Kafka's dropped segments) by a scan that
// runs each time the expiry horizon has moved by half the retention period:
// Kafka drops whole time segments instead; one scan every half retention
// costs about as much per record, since every live session holds a record
// of the last retention period.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice/streams/serde"
)

// ChangelogAdditionalRetention is what a windowed store's changelog keeps
// beyond the store's own retention (Kafka's
// windowstore.changelog.additional.retention.ms default, one day), so that
// a restoring instance still finds every live session.
const ChangelogAdditionalRetention int64 = 24 * 60 * 60 * 1000

// WindowedLogConfig is the changelog config of a windowed store (window,
// session, join buffer) that keeps entries for retention milliseconds: compacted and
// deleted, kept ChangelogAdditionalRetention longer than the store, so that
// what the store has expired leaves the topic too; extra (the user's
// WithLogging configs) overrides it.
func WindowedLogConfig(retention int64, extra map[string]string) map[string]string {
	kept := retention + ChangelogAdditionalRetention
	if kept < retention { // overflow
		kept = math.MaxInt64
	}
	cfg := map[string]string{
		"cleanup.policy": "compact,delete",
		"retention.ms":   strconv.FormatInt(kept, 10),
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// SessionKeyBytes is the store (and changelog) key of a session:
// key|end|start.
func SessionKeyBytes(key []byte, start, end int64) []byte {
	out := make([]byte, 0, len(key)+16)
	out = append(out, key...)
	out = binary.BigEndian.AppendUint64(out, uint64(end))
	return binary.BigEndian.AppendUint64(out, uint64(start))
}

// SplitSessionKey undoes SessionKeyBytes.
func SplitSessionKey(b []byte) (key []byte, start, end int64, err error) {
	if len(b) < 16 {
		return nil, 0, 0, fmt.Errorf("session key of %d bytes lacks its 16 bytes of window bounds", len(b))
	}
	n := len(b) - 16
	end = int64(binary.BigEndian.Uint64(b[n:]))
	start = int64(binary.BigEndian.Uint64(b[n+8:]))
	return b[:n], start, end, nil
}

// Session is one session of a key and its value.
type Session[K, V any] struct {
	Key        K
	Start, End int64
	Value      V
}

// ReadOnlySessionStore is what interactive queries see of a session store.
type ReadOnlySessionStore[K, V any] interface {
	Name() string
	// Fetch visits every live session of key, by end time, until fn
	// returns false.
	Fetch(key K, fn func(Session[K, V]) bool) error
	// FindSessions visits the live sessions of key that end at or after
	// earliestSessionEnd and start at or before latestSessionStart, by end
	// time, until fn returns false.
	FindSessions(key K, earliestSessionEnd, latestSessionStart int64, fn func(Session[K, V]) bool) error
	// FetchSession returns the value of the session of key that is exactly
	// [start, end], and whether there is one.
	FetchSession(key K, start, end int64) (V, bool, error)
	// FetchRange visits the live sessions of the keys whose serialized
	// bytes lie between those of from and to (inclusive), in store order
	// (one key's sessions by end time, though a key that extends another's
	// bytes may interleave with it, as in Kafka's stores), until fn returns
	// false.
	FetchRange(from, to K, fn func(Session[K, V]) bool) error
}

// SessionStore is a typed session store as processors use it.
type SessionStore[K, V any] interface {
	ReadOnlySessionStore[K, V]
	// Put stores the value of session [start, end] of key, stamped with the
	// timestamp of the record being processed. A session already expired
	// is not stored.
	Put(key K, start, end int64, v V) error
	// Remove deletes session [start, end] of key.
	Remove(key K, start, end int64) error
	Flush() error
	Persistent() bool
	Close() error
}

// TypedSessionStore is the typed session view over a stack of byte stores.
type TypedSessionStore[K, V any] struct {
	bytes     BytesStore // top of the stack: cache, logger, or the store itself
	inner     BytesStore // bottom: where expired sessions are deleted
	topic     string
	keys      serde.Serde[K]
	values    serde.Serde[V]
	timestamp func() int64
	retention int64
	interval  int64 // how far the horizon moves between expiry scans

	// streamTime is the largest session end seen; interactive queries read
	// it from other goroutines.
	streamTime atomic.Int64
	mu         sync.Mutex // serializes the first uses
	loaded     atomic.Bool
	expiredTo  int64 // horizon of the last expiry scan; the processing goroutine only
}

// NewTypedSessionStore wraps b with serdes and a retention period in
// milliseconds; timestamp gives the current record's timestamp for Put
// (nil: the session's end).
func NewTypedSessionStore[K, V any](b BytesStore, topic string, keys serde.Serde[K], values serde.Serde[V], retention int64, timestamp func() int64) *TypedSessionStore[K, V] {
	inner := b
	for {
		l, ok := inner.(interface{ Inner() BytesStore })
		if !ok {
			break
		}
		inner = l.Inner()
	}
	s := &TypedSessionStore[K, V]{bytes: b, inner: inner, topic: topic, keys: keys, values: values,
		timestamp: timestamp, retention: retention, interval: max(retention/2, 1), expiredTo: math.MinInt64}
	s.streamTime.Store(-1)
	return s
}

// Bytes is the byte store under the typed view.
func (s *TypedSessionStore[K, V]) Bytes() BytesStore { return s.bytes }

func (s *TypedSessionStore[K, V]) Name() string     { return s.bytes.Name() }
func (s *TypedSessionStore[K, V]) Persistent() bool { return s.bytes.Persistent() }
func (s *TypedSessionStore[K, V]) Flush() error     { return s.bytes.Flush() }
func (s *TypedSessionStore[K, V]) Close() error     { return s.bytes.Close() }

// Retention is the retention period in milliseconds.
func (s *TypedSessionStore[K, V]) Retention() int64 { return s.retention }

// ObservedStreamTime is the largest session end the store has seen (-1:
// none).
func (s *TypedSessionStore[K, V]) ObservedStreamTime() (int64, error) {
	if err := s.load(); err != nil {
		return -1, err
	}
	return s.streamTime.Load(), nil
}

// load finds the observed stream time of what the store already holds (left
// on disk, or restored from the changelog straight into the byte store) on
// first use, and drops what has expired by it.
func (s *TypedSessionStore[K, V]) load() error {
	if s.loaded.Load() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loaded.Load() {
		return nil
	}
	latest := int64(-1)
	err := s.inner.Range(nil, nil, func(k, _ []byte) error {
		_, _, end, err := SplitSessionKey(k)
		if err != nil {
			return fmt.Errorf("store %s: %w", s.Name(), err)
		}
		latest = max(latest, end)
		return nil
	})
	if err != nil {
		return err
	}
	if latest > s.streamTime.Load() {
		s.streamTime.Store(latest)
	}
	if h := latest - s.retention; latest >= 0 && h >= 0 {
		if err := s.expire(h); err != nil {
			return err
		}
	}
	// Set last: a caller that sees it without the lock also sees expiredTo.
	s.loaded.Store(true)
	return nil
}

// horizon is the end time before which sessions are expired.
func (s *TypedSessionStore[K, V]) horizon() int64 {
	st := s.streamTime.Load()
	if st < 0 {
		return math.MinInt64
	}
	return st - s.retention
}

// expire deletes from the byte store every session ending before horizon.
func (s *TypedSessionStore[K, V]) expire(horizon int64) error {
	var dead []KeyValue
	err := s.inner.Range(nil, nil, func(k, _ []byte) error {
		_, _, end, err := SplitSessionKey(k)
		if err != nil {
			return fmt.Errorf("store %s: %w", s.Name(), err)
		}
		if end < horizon {
			dead = append(dead, KeyValue{Key: k})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store %s: expire sessions: %w", s.Name(), err)
	}
	s.expiredTo = horizon
	if len(dead) == 0 {
		return nil
	}
	if err := s.inner.PutAll(dead); err != nil {
		return fmt.Errorf("store %s: delete %d expired sessions: %w", s.Name(), len(dead), err)
	}
	return nil
}

func (s *TypedSessionStore[K, V]) key(k K) ([]byte, error) {
	b, err := s.keys.Serialize(s.topic, k)
	if err != nil {
		return nil, fmt.Errorf("store %s: serialize key: %w", s.Name(), err)
	}
	if b == nil {
		return nil, fmt.Errorf("store %s: null key", s.Name())
	}
	return b, nil
}

func checkSession(start, end int64) error {
	if start < 0 || end < start {
		return fmt.Errorf("session [%d, %d] is not a window: start must be >= 0 and <= end", start, end)
	}
	return nil
}

func (s *TypedSessionStore[K, V]) Put(key K, start, end int64, v V) error {
	if err := checkSession(start, end); err != nil {
		return fmt.Errorf("store %s: %w", s.Name(), err)
	}
	if err := s.load(); err != nil {
		return err
	}
	if end > s.streamTime.Load() {
		s.streamTime.Store(end)
	}
	h := s.horizon()
	if end < h {
		return nil // expired: Kafka skips it too
	}
	if h >= 0 && (s.expiredTo < 0 || h >= s.expiredTo+s.interval) {
		if err := s.expire(h); err != nil {
			return err
		}
	}
	kb, err := s.key(key)
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
	ts := end
	if s.timestamp != nil {
		ts = s.timestamp()
	}
	return s.bytes.Put(SessionKeyBytes(kb, start, end), WithTimestamp(vb, ts))
}

func (s *TypedSessionStore[K, V]) Remove(key K, start, end int64) error {
	if err := checkSession(start, end); err != nil {
		return fmt.Errorf("store %s: %w", s.Name(), err)
	}
	kb, err := s.key(key)
	if err != nil {
		return err
	}
	return s.bytes.Put(SessionKeyBytes(kb, start, end), nil)
}

func (s *TypedSessionStore[K, V]) FetchSession(key K, start, end int64) (v V, ok bool, err error) {
	if err := s.load(); err != nil {
		return v, false, err
	}
	if checkSession(start, end) != nil || end < s.horizon() {
		return v, false, nil
	}
	kb, err := s.key(key)
	if err != nil {
		return v, false, err
	}
	raw, err := s.bytes.Get(SessionKeyBytes(kb, start, end))
	if err != nil || raw == nil {
		return v, false, err
	}
	v, _, err = s.DecodeValue(raw)
	return v, err == nil, err
}

func (s *TypedSessionStore[K, V]) Fetch(key K, fn func(Session[K, V]) bool) error {
	return s.FindSessions(key, 0, math.MaxInt64, fn)
}

// FindSessions scans key|max(earliestSessionEnd, live)|0 to
// key|MaxInt64|latestSessionStart. Another key that has this one as a
// prefix can sort inside that range, so each entry's key is compared.
func (s *TypedSessionStore[K, V]) FindSessions(key K, earliestSessionEnd, latestSessionStart int64, fn func(Session[K, V]) bool) error {
	if err := s.load(); err != nil {
		return err
	}
	if latestSessionStart < 0 {
		return nil
	}
	earliestSessionEnd = max(earliestSessionEnd, s.horizon())
	earliestSessionEnd = max(earliestSessionEnd, 0)
	kb, err := s.key(key)
	if err != nil {
		return err
	}
	from := SessionKeyBytes(kb, 0, earliestSessionEnd)
	to := SessionKeyBytes(kb, latestSessionStart, math.MaxInt64)
	return s.bytes.Range(from, to, func(k, v []byte) error {
		rk, start, end, err := SplitSessionKey(k)
		if err != nil {
			return fmt.Errorf("store %s: %w", s.Name(), err)
		}
		if string(rk) != string(kb) || start > latestSessionStart || end < earliestSessionEnd {
			return nil
		}
		val, _, err := s.DecodeValue(v)
		if err != nil {
			return err
		}
		if !fn(Session[K, V]{Key: key, Start: start, End: end, Value: val}) {
			return ErrStopIteration
		}
		return nil
	})
}

func (s *TypedSessionStore[K, V]) FetchRange(from, to K, fn func(Session[K, V]) bool) error {
	if err := s.load(); err != nil {
		return err
	}
	fb, err := s.key(from)
	if err != nil {
		return err
	}
	tb, err := s.key(to)
	if err != nil {
		return err
	}
	if string(fb) > string(tb) {
		return nil
	}
	h := s.horizon()
	return s.bytes.Range(SessionKeyBytes(fb, 0, 0), SessionKeyBytes(tb, math.MaxInt64, math.MaxInt64), func(k, v []byte) error {
		rk, _, end, err := SplitSessionKey(k)
		if err != nil {
			return fmt.Errorf("store %s: %w", s.Name(), err)
		}
		// A longer key can sort inside the range of the bounds' composite
		// keys without lying between the bounds themselves.
		if string(rk) < string(fb) || string(rk) > string(tb) || end < h {
			return nil
		}
		key, start, end, err := s.DecodeKey(k)
		if err != nil {
			return err
		}
		val, _, err := s.DecodeValue(v)
		if err != nil {
			return err
		}
		if !fn(Session[K, V]{Key: key, Start: start, End: end, Value: val}) {
			return ErrStopIteration
		}
		return nil
	})
}

// DecodeKey reads a store key: the record key and the session's bounds.
func (s *TypedSessionStore[K, V]) DecodeKey(raw []byte) (k K, start, end int64, err error) {
	kb, start, end, err := SplitSessionKey(raw)
	if err != nil {
		return k, 0, 0, fmt.Errorf("store %s: %w", s.Name(), err)
	}
	k, err = s.keys.Deserialize(s.topic, kb)
	if err != nil {
		return k, 0, 0, fmt.Errorf("store %s: deserialize key: %w", s.Name(), err)
	}
	return k, start, end, nil
}

// DecodeValue reads a byte-level value (timestamp first).
func (s *TypedSessionStore[K, V]) DecodeValue(raw []byte) (v V, ts int64, err error) {
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

// SessionStoreBuilder builds typed session stores.
type SessionStoreBuilder[K, V any] struct {
	supplier  Supplier
	keys      serde.Serde[K]
	values    serde.Serde[V]
	retention int64
	logging   bool
	logConfig map[string]string
	caching   bool
}

// NewSessionStoreBuilder returns a builder of logged, uncached session
// stores over supplier that keep sessions for retention milliseconds of
// stream time after they end, with the given serdes (nil: serde.Default).
func NewSessionStoreBuilder[K, V any](supplier Supplier, keys serde.Serde[K], values serde.Serde[V], retention int64) *SessionStoreBuilder[K, V] {
	if keys == nil {
		keys = serde.Default[K]()
	}
	if values == nil {
		values = serde.Default[V]()
	}
	return &SessionStoreBuilder[K, V]{supplier: supplier, keys: keys, values: values, retention: retention, logging: true}
}

// WithCaching turns the record cache on or off.
func (b *SessionStoreBuilder[K, V]) WithCaching(on bool) *SessionStoreBuilder[K, V] {
	b.caching = on
	return b
}

// WithLogging turns the changelog on (with extra topic configs) or off.
func (b *SessionStoreBuilder[K, V]) WithLogging(on bool, config map[string]string) *SessionStoreBuilder[K, V] {
	b.logging, b.logConfig = on, config
	return b
}

func (b *SessionStoreBuilder[K, V]) Name() string       { return b.supplier.Name() }
func (b *SessionStoreBuilder[K, V]) Persistent() bool   { return b.supplier.Persistent() }
func (b *SessionStoreBuilder[K, V]) Logging() bool      { return b.logging }
func (b *SessionStoreBuilder[K, V]) Caching() bool      { return b.caching }
func (b *SessionStoreBuilder[K, V]) Supplier() Supplier { return b.supplier }
func (b *SessionStoreBuilder[K, V]) Retention() int64   { return b.retention }

// LogConfig is Kafka's for windowed changelogs: compacted and deleted, kept
// for the retention plus ChangelogAdditionalRetention, so that sessions the
// store has expired leave the topic too. Configs given with WithLogging
// override these.
func (b *SessionStoreBuilder[K, V]) LogConfig() map[string]string {
	return WindowedLogConfig(b.retention, b.logConfig)
}

func (b *SessionStoreBuilder[K, V]) Wrap(bs BytesStore, topic string, timestamp func() int64) Store {
	return NewTypedSessionStore(bs, topic, b.keys, b.values, b.retention, timestamp)
}

var errNotSession = errors.New("not a session store")

// AsSession returns s as a typed session store of K and V.
func AsSession[K, V any](s Store) (SessionStore[K, V], error) {
	ss, ok := s.(SessionStore[K, V])
	if !ok {
		return nil, fmt.Errorf("store %s is %T: %w of %s to %s", s.Name(), s, errNotSession,
			serde.TypeName[K](), serde.TypeName[V]())
	}
	return ss, nil
}
