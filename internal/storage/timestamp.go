package storage

import (
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/internal/record"
)

// errFound stops a record walk.
var errFound = errors.New("found")

// OffsetForTimestamp returns the first record, at or above the log start,
// whose timestamp is at least ts (ListOffsets by time): its offset and
// timestamp. ok is false when no record is that recent. The search picks
// the first segment whose max timestamp reaches ts, starts from its time
// index, walks batch headers to the first batch whose max timestamp reaches
// ts, and walks that batch's records.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, ok bool, err error) {
	segs := l.snapshotSegments()
	defer releaseAll(segs)
	logStart := l.logStart.Load()
	for i, s := range segs {
		if i+1 < len(segs) && segs[i+1].base <= logStart {
			continue
		}
		maxTs, _, err := s.maxTimestamp()
		if err != nil {
			return -1, -1, false, fmt.Errorf("offset for timestamp in %s: %w", l.tp, err)
		}
		if maxTs < ts {
			continue
		}
		off, rts, found, err := s.offsetForTimestamp(ts, logStart)
		if err != nil {
			return -1, -1, false, fmt.Errorf("offset for timestamp in %s: %w", l.tp, err)
		}
		if found {
			return off, rts, true, nil
		}
	}
	return -1, -1, false, nil
}

func (s *segment) offsetForTimestamp(ts, minOffset int64) (int64, int64, bool, error) {
	f, err := s.logFile()
	if err != nil {
		return 0, 0, false, err
	}
	end := s.size.Load()
	pos := int64(0)
	if below, ok, err := s.timeFloorOffset(ts); err != nil {
		return 0, 0, false, err
	} else if ok {
		if pos, err = s.floorPosition(below); err != nil {
			return 0, 0, false, err
		}
	}
	sc := newBatchScanner(f, pos, end, false, 64<<10)
	var buf []byte
	for sc.next() {
		h := sc.h
		if h.MaxTimestamp < ts || h.LastOffset() < minOffset {
			continue
		}
		if buf, err = readBatchAt(f, sc.bpos, end, buf); err != nil {
			return 0, 0, false, err
		}
		var off, rts int64
		err := record.Iterate(buf, func(r *record.Record) error {
			o, t := r.Offset(&h), r.Timestamp(&h)
			if o >= minOffset && t >= ts {
				off, rts = o, t
				return errFound
			}
			return nil
		})
		if errors.Is(err, errFound) {
			return off, rts, true, nil
		}
		if err != nil {
			return 0, 0, false, fmt.Errorf("batch at offset %d: %w", h.BaseOffset, err)
		}
	}
	if sc.err != nil && !errors.Is(sc.err, errBadBatch) {
		return 0, 0, false, sc.err
	}
	return 0, 0, false, nil
}

// MaxTimestamp returns the record with the largest timestamp in the log
// (ListOffsets -3, KIP-734): its offset and timestamp, the first such
// record if several share it; (-1, -1) when no record has a timestamp.
func (l *Log) MaxTimestamp() (offset int64, timestamp int64, err error) {
	segs := l.snapshotSegments()
	defer releaseAll(segs)
	var best *segment
	bestTs, bestOff := int64(-1), int64(-1)
	for _, s := range segs {
		ts, off, err := s.maxTimestamp()
		if err != nil {
			return -1, -1, fmt.Errorf("max timestamp of %s: %w", l.tp, err)
		}
		if ts > bestTs {
			best, bestTs, bestOff = s, ts, off
		}
	}
	if best == nil {
		return -1, -1, nil
	}
	f, err := best.logFile()
	if err != nil {
		return -1, -1, err
	}
	end := best.size.Load()
	pos, err := best.floorPosition(bestOff)
	if err != nil {
		return -1, -1, err
	}
	sc := newBatchScanner(f, pos, end, false, 64<<10)
	var buf []byte
	for sc.next() {
		h := sc.h
		if h.LastOffset() < bestOff {
			continue
		}
		if buf, err = readBatchAt(f, sc.bpos, end, buf); err != nil {
			return -1, -1, err
		}
		found := int64(-1)
		err := record.Iterate(buf, func(r *record.Record) error {
			if r.Timestamp(&h) == bestTs {
				found = r.Offset(&h)
				return errFound
			}
			return nil
		})
		if err != nil && !errors.Is(err, errFound) {
			return -1, -1, fmt.Errorf("max timestamp of %s: %w", l.tp, err)
		}
		if found < 0 {
			// The index named this batch; fall back to its last offset.
			found = h.LastOffset()
		}
		return found, bestTs, nil
	}
	return bestOff, bestTs, nil
}
