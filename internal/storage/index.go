package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// Index file layouts, as Kafka's:
//
//	.index      8-byte entries: int32 offset relative to the segment's base,
//	            int32 byte position in the .log file. The offset is the last
//	            offset of the batch that starts at the position. One entry
//	            per index.interval.bytes of batches; offsets and positions
//	            strictly increase.
//	.timeindex  12-byte entries: int64 timestamp, int32 relative offset. The
//	            timestamp is the segment's max timestamp so far, the offset
//	            the last offset of the batch that carried it. Appended only
//	            when the max timestamp grows, so both fields increase.
const (
	offsetEntrySize = 8
	timeEntrySize   = 12
)

type offsetEntry struct {
	rel int32 // last offset of the batch at pos, relative to the base
	pos int32
}

type timeEntry struct {
	ts  int64
	rel int32
}

var errBadIndex = errors.New("index fails its sanity check")

func appendOffsetEntries(dst []byte, es []offsetEntry) []byte {
	for _, e := range es {
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.rel))
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.pos))
	}
	return dst
}

func appendTimeEntries(dst []byte, es []timeEntry) []byte {
	for _, e := range es {
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.ts))
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.rel))
	}
	return dst
}

// indexBuilder computes a segment's index entries as batches are appended
// (or replayed at recovery), as Kafka's LogSegment.append does: an offset
// entry (and, when the max timestamp grew, a time entry) once more than
// index.interval.bytes were appended since the last entry.
type indexBuilder struct {
	base     int64
	interval int64

	idx  []offsetEntry
	tidx []timeEntry

	bytesSince int64
	// maxTs is the segment's max timestamp so far (-1: none) and maxTsOff
	// the last offset of the batch that carried it.
	maxTs    int64
	maxTsOff int64
	// firstTs is the max timestamp of the segment's first batch (-1 before
	// any), the basis of segment.ms.
	firstTs  int64
	batches  int64
	lastOff  int64 // last offset appended, base-1 before any
	lastSize int64 // bytes appended
}

func newIndexBuilder(base int64, interval int) indexBuilder {
	return indexBuilder{base: base, interval: int64(interval), maxTs: -1, maxTsOff: base - 1, firstTs: -1, lastOff: base - 1}
}

// add accounts for a batch of size bytes at pos.
func (b *indexBuilder) add(lastOffset, maxTimestamp, pos int64, size int) {
	if b.batches == 0 {
		b.firstTs = maxTimestamp
	}
	b.batches++
	if maxTimestamp > b.maxTs {
		b.maxTs, b.maxTsOff = maxTimestamp, lastOffset
	}
	if b.bytesSince > b.interval {
		b.idx = append(b.idx, offsetEntry{rel: int32(lastOffset - b.base), pos: int32(pos)})
		b.maybeAppendTime()
		b.bytesSince = 0
	}
	b.bytesSince += int64(size)
	b.lastOff = lastOffset
	b.lastSize = pos + int64(size)
}

// maybeAppendTime appends a time entry for the max timestamp so far if it
// grew since the last entry.
func (b *indexBuilder) maybeAppendTime() {
	if b.maxTs < 0 {
		return
	}
	if n := len(b.tidx); n > 0 && b.maxTs <= b.tidx[n-1].ts {
		return
	}
	b.tidx = append(b.tidx, timeEntry{ts: b.maxTs, rel: int32(b.maxTsOff - b.base)})
}

// finish appends the final time entry, as Kafka does when a segment stops
// being the active one, so that the time index's last entry is the
// segment's max timestamp.
func (b *indexBuilder) finish() { b.maybeAppendTime() }

// floorOffsetEntry returns the position of the largest entry whose offset
// is at most target (relative), or 0 with ok false if there is none.
func floorOffsetEntry(es []offsetEntry, rel int64) (offsetEntry, bool) {
	lo, hi := 0, len(es) // find first entry with rel > target
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if int64(es[m].rel) <= rel {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return offsetEntry{}, false
	}
	return es[lo-1], true
}

// lastEntryBefore returns the largest entry with pos <= maxPos and rel <
// maxRel, for jumping over whole batches in a read.
func lastEntryWithin(es []offsetEntry, maxPos int64, maxRel int64) (offsetEntry, bool) {
	lo, hi := 0, len(es)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if int64(es[m].pos) <= maxPos && int64(es[m].rel) < maxRel {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return offsetEntry{}, false
	}
	return es[lo-1], true
}

// lastTimeBefore returns the largest time entry whose timestamp is below ts.
func lastTimeBefore(es []timeEntry, ts int64) (timeEntry, bool) {
	lo, hi := 0, len(es)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if es[m].ts < ts {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return timeEntry{}, false
	}
	return es[lo-1], true
}

// fileOffsetIndex is a closed segment's offset index, searched in its file
// with ReadAt so that only open segments' pages, not every index, are in
// memory.
type fileOffsetIndex struct {
	f vfs.File
	n int
}

func (x fileOffsetIndex) at(i int) (offsetEntry, error) {
	var b [offsetEntrySize]byte
	if _, err := x.f.ReadAt(b[:], int64(i)*offsetEntrySize); err != nil {
		return offsetEntry{}, fmt.Errorf("read offset index entry %d: %w", i, err)
	}
	return offsetEntry{rel: int32(binary.BigEndian.Uint32(b[0:])), pos: int32(binary.BigEndian.Uint32(b[4:]))}, nil
}

// search returns the largest i with ok(entry i), for ok monotone (true then
// false), or -1.
func (x fileOffsetIndex) search(ok func(offsetEntry) bool) (offsetEntry, bool, error) {
	lo, hi := 0, x.n
	var best offsetEntry
	found := false
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		e, err := x.at(m)
		if err != nil {
			return offsetEntry{}, false, err
		}
		if ok(e) {
			best, found = e, true
			lo = m + 1
		} else {
			hi = m
		}
	}
	return best, found, nil
}

type fileTimeIndex struct {
	f vfs.File
	n int
}

func (x fileTimeIndex) at(i int) (timeEntry, error) {
	var b [timeEntrySize]byte
	if _, err := x.f.ReadAt(b[:], int64(i)*timeEntrySize); err != nil {
		return timeEntry{}, fmt.Errorf("read time index entry %d: %w", i, err)
	}
	return timeEntry{ts: int64(binary.BigEndian.Uint64(b[0:])), rel: int32(binary.BigEndian.Uint32(b[8:]))}, nil
}

func (x fileTimeIndex) lastBefore(ts int64) (timeEntry, bool, error) {
	lo, hi := 0, x.n
	var best timeEntry
	found := false
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		e, err := x.at(m)
		if err != nil {
			return timeEntry{}, false, err
		}
		if e.ts < ts {
			best, found = e, true
			lo = m + 1
		} else {
			hi = m
		}
	}
	return best, found, nil
}

// readIndexFiles reads and sanity-checks a segment's index files whole:
// sizes are multiples of the entry size, offsets and positions strictly
// increase and stay inside the segment (positions below logSize, relative
// offsets in [0, maxRel]), timestamps and offsets of the time index never
// decrease. Missing files read as errBadIndex unless the segment is empty.
func readIndexFiles(idxF, tidxF vfs.File, logSize int64, maxRel int64) ([]offsetEntry, []timeEntry, error) {
	var idx []offsetEntry
	var tidx []timeEntry
	if idxF == nil || tidxF == nil {
		if logSize == 0 {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("%w: missing index file", errBadIndex)
	}
	ib, err := readAllAt(idxF)
	if err != nil {
		return nil, nil, err
	}
	if len(ib)%offsetEntrySize != 0 {
		return nil, nil, fmt.Errorf("%w: offset index size %d", errBadIndex, len(ib))
	}
	idx = make([]offsetEntry, 0, len(ib)/offsetEntrySize)
	for i := 0; i < len(ib); i += offsetEntrySize {
		e := offsetEntry{rel: int32(binary.BigEndian.Uint32(ib[i:])), pos: int32(binary.BigEndian.Uint32(ib[i+4:]))}
		if e.rel < 0 || int64(e.rel) > maxRel || e.pos < 0 || int64(e.pos) >= logSize {
			return nil, nil, fmt.Errorf("%w: offset entry %d out of the segment", errBadIndex, i/offsetEntrySize)
		}
		if n := len(idx); n > 0 && (e.rel <= idx[n-1].rel || e.pos <= idx[n-1].pos) {
			return nil, nil, fmt.Errorf("%w: offset entry %d does not increase", errBadIndex, i/offsetEntrySize)
		}
		idx = append(idx, e)
	}
	tb, err := readAllAt(tidxF)
	if err != nil {
		return nil, nil, err
	}
	if len(tb)%timeEntrySize != 0 {
		return nil, nil, fmt.Errorf("%w: time index size %d", errBadIndex, len(tb))
	}
	tidx = make([]timeEntry, 0, len(tb)/timeEntrySize)
	for i := 0; i < len(tb); i += timeEntrySize {
		e := timeEntry{ts: int64(binary.BigEndian.Uint64(tb[i:])), rel: int32(binary.BigEndian.Uint32(tb[i+8:]))}
		if e.rel < 0 || int64(e.rel) > maxRel || e.ts < 0 {
			return nil, nil, fmt.Errorf("%w: time entry %d out of the segment", errBadIndex, i/timeEntrySize)
		}
		if n := len(tidx); n > 0 && (e.ts <= tidx[n-1].ts || e.rel < tidx[n-1].rel) {
			return nil, nil, fmt.Errorf("%w: time entry %d does not increase", errBadIndex, i/timeEntrySize)
		}
		tidx = append(tidx, e)
	}
	return idx, tidx, nil
}

// readAllAt reads a whole (index-sized) file.
func readAllAt(f vfs.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	n := st.Size()
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("%w: index of %d bytes", errBadIndex, n)
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return nil, err
	}
	return b, nil
}
