package state

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Join buffers hold the records of a stream-stream join, on a plain
// BytesStore (so the usual logging layer changelogs them and restoration
// needs nothing special), under composite keys that order them for the
// reads the join makes.

// JoinBuffer is one side of a stream-stream join: each record of the side
// kept for as long as a record of the other side may still join it. Kafka
// keeps it in a window store with duplicates retained; here each entry's
// key is
//
//	len(key) uint32 | key | timestamp (8 bytes, sign bit flipped) | seq uint32
//
// so the records of one key lie together in time order, a lookup of a key
// over a time range is one ordered range read, and the length prefix keeps
// one key's entries from running into another's whose bytes extend it.
// seq tells apart records with the same key and timestamp, all of which
// are kept. Values are stored with the record timestamp in front, the
// byte-level value format of every store.
type JoinBuffer struct {
	store BytesStore
	seq   uint32
}

// NewJoinBuffer keeps a side's records in store.
func NewJoinBuffer(store BytesStore) *JoinBuffer { return &JoinBuffer{store: store} }

// Store is the byte store under the buffer.
func (b *JoinBuffer) Store() BytesStore { return b.store }

// flipTime encodes a timestamp so that byte order is numeric order,
// negative times included.
func flipTime(ts int64) uint64 { return uint64(ts) ^ (1 << 63) }

func unflipTime(u uint64) int64 { return int64(u ^ (1 << 63)) }

// JoinKey is the composite key of a buffered record.
func JoinKey(key []byte, ts int64, seq uint32) []byte {
	out := make([]byte, 0, 4+len(key)+12)
	out = binary.BigEndian.AppendUint32(out, uint32(len(key)))
	out = append(out, key...)
	out = binary.BigEndian.AppendUint64(out, flipTime(ts))
	return binary.BigEndian.AppendUint32(out, seq)
}

// SplitJoinKey undoes JoinKey.
func SplitJoinKey(b []byte) (key []byte, ts int64, seq uint32, err error) {
	if len(b) < 16 {
		return nil, 0, 0, fmt.Errorf("join buffer key of %d bytes is too short", len(b))
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(len(b)) != 4+uint64(n)+12 {
		return nil, 0, 0, fmt.Errorf("join buffer key of %d bytes has a key length of %d", len(b), n)
	}
	key = b[4 : 4+n]
	rest := b[4+n:]
	return key, unflipTime(binary.BigEndian.Uint64(rest)), binary.BigEndian.Uint32(rest[8:]), nil
}

// Put buffers a record and returns the seq it was stored under. A record
// whose key and timestamp are already buffered gets the next free seq: the
// counter starts again at 0 when the task reopens, so each seq is checked.
func (b *JoinBuffer) Put(key []byte, ts int64, value []byte) (uint32, error) {
	for range math.MaxUint16 {
		seq := b.seq
		b.seq++
		k := JoinKey(key, ts, seq)
		old, err := b.store.Get(k)
		if err != nil {
			return 0, fmt.Errorf("join buffer %s: %w", b.store.Name(), err)
		}
		if old != nil {
			continue
		}
		if value == nil {
			value = []byte{}
		}
		if err := b.store.Put(k, WithTimestamp(value, ts)); err != nil {
			return 0, fmt.Errorf("join buffer %s: %w", b.store.Name(), err)
		}
		return seq, nil
	}
	return 0, fmt.Errorf("join buffer %s: no free sequence number for a key at %d", b.store.Name(), ts)
}

// Fetch visits the buffered records of key with timestamps in [from, to],
// in time order (then in the order buffered, for one timestamp).
func (b *JoinBuffer) Fetch(key []byte, from, to int64, fn func(ts int64, seq uint32, value []byte) error) error {
	if from > to {
		return nil
	}
	lo := JoinKey(key, from, 0)
	hi := JoinKey(key, to, math.MaxUint32)
	return b.store.Range(lo, hi, func(k, v []byte) error {
		_, ts, seq, err := SplitJoinKey(k)
		if err != nil {
			return fmt.Errorf("join buffer %s: %w", b.store.Name(), err)
		}
		plain, _, err := SplitTimestamp(v)
		if err != nil {
			return fmt.Errorf("join buffer %s: %w", b.store.Name(), err)
		}
		return fn(ts, seq, plain)
	})
}

// Purge deletes every record older than minTime and returns how many. It
// reads the whole store, since entries are ordered by key first: the join
// calls it once per stretch of stream time, as Kafka drops a segment.
func (b *JoinBuffer) Purge(minTime int64) (int, error) {
	var expired [][]byte
	err := b.store.Range(nil, nil, func(k, _ []byte) error {
		_, ts, _, err := SplitJoinKey(k)
		if err != nil {
			return err
		}
		if ts < minTime {
			expired = append(expired, k)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("join buffer %s: purge: %w", b.store.Name(), err)
	}
	// Deleted after the scan: a store may not take writes while it
	// iterates.
	for _, k := range expired {
		if err := b.store.Put(k, nil); err != nil {
			return 0, fmt.Errorf("join buffer %s: purge: %w", b.store.Name(), err)
		}
	}
	return len(expired), nil
}

// OuterBuffer holds the records of a left or outer join that have not
// joined yet, until their window closes and they are emitted with no
// partner (Kafka's shared outer-join store, KIP-633's fix of spurious
// results). Both sides share it; each entry's key is
//
//	timestamp (8 bytes, sign bit flipped) | side (0 left, 1 right) | len(key) uint32 | key | seq uint32
//
// so a scan from the start meets the records in time order, the oldest
// (whose windows close first) first. seq is the record's seq in its side's
// JoinBuffer, so a match on the other side deletes exactly its entry.
type OuterBuffer struct {
	store BytesStore
}

// NewOuterBuffer keeps the unmatched records in store.
func NewOuterBuffer(store BytesStore) *OuterBuffer { return &OuterBuffer{store: store} }

// Store is the byte store under the buffer.
func (o *OuterBuffer) Store() BytesStore { return o.store }

// OuterEntry is one unmatched record.
type OuterEntry struct {
	Timestamp int64
	Right     bool
	Key       []byte
	Seq       uint32
	Value     []byte
	raw       []byte
}

func outerKey(ts int64, right bool, key []byte, seq uint32) []byte {
	out := make([]byte, 0, 8+1+4+len(key)+4)
	out = binary.BigEndian.AppendUint64(out, flipTime(ts))
	side := byte(0)
	if right {
		side = 1
	}
	out = append(out, side)
	out = binary.BigEndian.AppendUint32(out, uint32(len(key)))
	out = append(out, key...)
	return binary.BigEndian.AppendUint32(out, seq)
}

func splitOuterKey(b []byte) (OuterEntry, error) {
	if len(b) < 17 {
		return OuterEntry{}, fmt.Errorf("outer join key of %d bytes is too short", len(b))
	}
	n := binary.BigEndian.Uint32(b[9:])
	if uint64(len(b)) != 17+uint64(n) {
		return OuterEntry{}, fmt.Errorf("outer join key of %d bytes has a key length of %d", len(b), n)
	}
	return OuterEntry{
		Timestamp: unflipTime(binary.BigEndian.Uint64(b)),
		Right:     b[8] == 1,
		Key:       b[13 : 13+n],
		Seq:       binary.BigEndian.Uint32(b[13+n:]),
		raw:       b,
	}, nil
}

// Put adds an unmatched record.
func (o *OuterBuffer) Put(ts int64, right bool, key []byte, seq uint32, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	if err := o.store.Put(outerKey(ts, right, key, seq), WithTimestamp(value, ts)); err != nil {
		return fmt.Errorf("outer join buffer %s: %w", o.store.Name(), err)
	}
	return nil
}

// Delete removes a record that has found a partner. It reads first and
// writes only if the record is there, so that matches of records that
// never waited (the usual case) cost no changelog tombstone.
func (o *OuterBuffer) Delete(ts int64, right bool, key []byte, seq uint32) error {
	k := outerKey(ts, right, key, seq)
	v, err := o.store.Get(k)
	if err != nil {
		return fmt.Errorf("outer join buffer %s: %w", o.store.Name(), err)
	}
	if v == nil {
		return nil
	}
	if err := o.store.Put(k, nil); err != nil {
		return fmt.Errorf("outer join buffer %s: %w", o.store.Name(), err)
	}
	return nil
}

// Scan visits the entries in time order until fn returns false. fn must
// not write to the buffer; collect entries and Remove them afterwards.
func (o *OuterBuffer) Scan(fn func(e OuterEntry) (bool, error)) error {
	return o.store.Range(nil, nil, func(k, v []byte) error {
		e, err := splitOuterKey(k)
		if err != nil {
			return fmt.Errorf("outer join buffer %s: %w", o.store.Name(), err)
		}
		if e.Value, _, err = SplitTimestamp(v); err != nil {
			return fmt.Errorf("outer join buffer %s: %w", o.store.Name(), err)
		}
		more, err := fn(e)
		if err != nil {
			return err
		}
		if !more {
			return ErrStopIteration
		}
		return nil
	})
}

// Remove deletes an entry a Scan returned.
func (o *OuterBuffer) Remove(e OuterEntry) error {
	k := e.raw
	if k == nil {
		k = outerKey(e.Timestamp, e.Right, e.Key, e.Seq)
	}
	if err := o.store.Put(k, nil); err != nil {
		return fmt.Errorf("outer join buffer %s: %w", o.store.Name(), err)
	}
	return nil
}
