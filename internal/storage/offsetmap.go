package storage

import (
	"hash/maphash"
	"math/bits"
)

// offsetMap is the cleaner's key map, Kafka's SkimpyOffsetMap: for every key
// of the part of the log being compacted, the offset of its latest record.
// A key is kept as a 128-bit hash (two seeded maphash sums), never as its
// bytes, so an entry takes a fixed 24 bytes and the map a fixed budget
// (log.cleaner.dedupe.buffer.size shared by the cleaner threads) whatever
// the keys' sizes. Two keys whose 128-bit hashes collide would be taken for
// one, as two keys with one MD5 are in Kafka: with 2^64 hashes per
// thousand-billion keys, a risk Kafka accepts too.
//
// The table uses open addressing with linear probing. It starts small and
// doubles up to the budget; at the budget it accepts new keys until
// loadFactor of its slots are used, then reports itself full: the clean
// then stops at the last offset it mapped, and the next clean goes on from
// there.
type offsetMap struct {
	seed1, seed2 maphash.Seed
	slots        []mapSlot
	maxSlots     int
	size         int
	// latest is the largest offset put since the last reset (-1: none).
	latest int64
}

type mapSlot struct {
	h1, h2 uint64
	off    int64 // offset+1; 0 marks a free slot
}

// mapSlotBytes is the memory of one slot.
const mapSlotBytes = 24

// mapLoadFactor is the share of a full-size map's slots that may be used
// (Kafka's log.cleaner.io.buffer.load.factor).
const mapLoadFactor = 0.9

// minMapSlots keeps a tiny budget usable.
const minMapSlots = 64

// newOffsetMap returns a map that uses at most budget bytes.
func newOffsetMap(budget int64) *offsetMap {
	maxSlots := max(int(min(budget/mapSlotBytes, 1<<40)), minMapSlots)
	m := &offsetMap{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(), maxSlots: maxSlots, latest: -1}
	m.slots = make([]mapSlot, min(maxSlots, 1<<14))
	return m
}

// reset empties the map, keeping its memory.
func (m *offsetMap) reset() {
	clear(m.slots)
	m.size = 0
	m.latest = -1
}

// capacity is how many keys the map can take at its full size.
func (m *offsetMap) capacity() int { return int(float64(m.maxSlots) * mapLoadFactor) }

// bytes is the memory the map uses now.
func (m *offsetMap) bytes() int64 { return int64(len(m.slots)) * mapSlotBytes }

func (m *offsetMap) hash(key []byte) (uint64, uint64) {
	return maphash.Bytes(m.seed1, key), maphash.Bytes(m.seed2, key)
}

// home is the first slot to probe for h1 in a table of n slots.
func home(h1 uint64, n int) int {
	hi, _ := bits.Mul64(h1, uint64(n))
	return int(hi)
}

// put records that key's latest record is at offset, which must not be
// below any offset put before. It reports false, changing nothing, when the
// key is new and the map is full.
func (m *offsetMap) put(key []byte, offset int64) bool {
	h1, h2 := m.hash(key)
	if i, ok := m.find(h1, h2); ok {
		m.slots[i].off = offset + 1
		m.latest = max(m.latest, offset)
		return true
	}
	if m.size+1 > len(m.slots)/2 && len(m.slots) < m.maxSlots {
		m.grow()
	}
	if m.size+1 > int(float64(len(m.slots))*mapLoadFactor) {
		return false
	}
	n := len(m.slots)
	for i := home(h1, n); ; i++ {
		if i == n {
			i = 0
		}
		if m.slots[i].off == 0 {
			m.slots[i] = mapSlot{h1: h1, h2: h2, off: offset + 1}
			m.size++
			m.latest = max(m.latest, offset)
			return true
		}
	}
}

// get returns the offset of key's latest record, or -1 if the map has no
// record of it.
func (m *offsetMap) get(key []byte) int64 {
	h1, h2 := m.hash(key)
	if i, ok := m.find(h1, h2); ok {
		return m.slots[i].off - 1
	}
	return -1
}

// find returns the slot holding the hash, if any.
func (m *offsetMap) find(h1, h2 uint64) (int, bool) {
	n := len(m.slots)
	for i, probes := home(h1, n), 0; probes < n; i, probes = i+1, probes+1 {
		if i == n {
			i = 0
		}
		s := &m.slots[i]
		if s.off == 0 {
			return 0, false
		}
		if s.h1 == h1 && s.h2 == h2 {
			return i, true
		}
	}
	return 0, false
}

// grow doubles the table (up to maxSlots) and rehashes it.
func (m *offsetMap) grow() {
	old := m.slots
	m.slots = make([]mapSlot, min(len(old)*2, m.maxSlots))
	n := len(m.slots)
	for _, s := range old {
		if s.off == 0 {
			continue
		}
		for i := home(s.h1, n); ; i++ {
			if i == n {
				i = 0
			}
			if m.slots[i].off == 0 {
				m.slots[i] = s
				break
			}
		}
	}
}
