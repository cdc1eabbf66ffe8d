package storage

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// ReadResult is a region of one segment holding whole batches. It holds a
// reference on the segment until Release, so the file stays in place while
// the region is sent.
type ReadResult struct {
	seg *segment
	f   vfs.File
	pos int64
	n   int
	// FirstOffset is the base offset of the first batch (-1 when empty).
	FirstOffset int64
	// NextOffset bounds the offsets of the region's batches: it is at most
	// the base offset of the batch after the region, and at most the read's
	// maxOffset (what a read_committed fetch asks aborted transactions up
	// to). -1 when empty.
	NextOffset int64
	released   atomic.Bool
	gen        uint64 // the segment's truncation count when the region was found
}

// Valid reports whether no truncation touched the segment since the region
// was found. A sender that used File (sendfile) checks it after sending: if
// it no longer holds, the bytes sent may mix data from before and after a
// truncation, and the connection must be closed.
func (r *ReadResult) Valid() bool { return r.seg == nil || r.seg.truncGen.Load() == r.gen }

// Size is the region's length in bytes (0: nothing to read).
func (r *ReadResult) Size() int { return r.n }

// File returns the region, for sendfile when f is a vfs.OSFile. The file
// may have been truncated since (a follower truncation racing the read):
// a sender must check that it sent n bytes and fail the connection if not,
// as Kafka does.
func (r *ReadResult) File() (f vfs.File, pos int64, n int) { return r.f, r.pos, r.n }

// Bytes reads the region into memory.
func (r *ReadResult) Bytes() ([]byte, error) {
	if r.n == 0 {
		return nil, nil
	}
	b := make([]byte, r.n)
	if err := r.ReadInto(b); err != nil {
		return nil, err
	}
	return b, nil
}

// ReadInto reads the region into b, which must be Size() bytes.
func (r *ReadResult) ReadInto(b []byte) error {
	if len(b) != r.n {
		return fmt.Errorf("read region of %d bytes into %d", r.n, len(b))
	}
	if r.n == 0 {
		return nil
	}
	if r.released.Load() {
		return errors.New("read region after Release")
	}
	m, err := r.f.ReadAt(b, r.pos)
	if m == r.n {
		if !r.Valid() {
			return fmt.Errorf("read segment region: %w", ErrRegionTruncated)
		}
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: %d of %d bytes", ErrRegionTruncated, m, r.n)
	}
	return fmt.Errorf("read segment region: %w", err)
}

// Release drops the segment reference; calling it again does nothing.
func (r *ReadResult) Release() {
	if r.seg != nil && r.released.CompareAndSwap(false, true) {
		r.seg.release()
	}
}

// ErrRegionTruncated means a truncation shortened a segment under a read
// that had found its region before: the region can no longer be sent.
var ErrRegionTruncated = errors.New("storage: segment truncated under the read")

func emptyRead() *ReadResult { return &ReadResult{FirstOffset: -1, NextOffset: -1} }

// Read returns whole batches from the one containing offset, within one
// segment, up to maxBytes, stopping before the batch that holds maxOffset
// (the high watermark or last stable offset; negative means the log end).
// With minOneBatch the first batch is returned even if it exceeds maxBytes
// (KIP-74). Reading at the log end gives an empty result; outside [log
// start, log end] OFFSET_OUT_OF_RANGE. Release the result.
func (l *Log) Read(offset int64, maxBytes int, maxOffset int64, minOneBatch bool) (*ReadResult, error) {
	leo := l.leo.Load()
	start := l.logStart.Load()
	if offset == leo && offset >= start {
		return emptyRead(), nil
	}
	if offset < start || offset > leo {
		return nil, fmt.Errorf("read %s at %d: the log holds [%d, %d): %w", l.tp, offset, start, leo, kerr.OffsetOutOfRange)
	}
	if maxOffset < 0 || maxOffset > leo {
		maxOffset = leo
	}
	if offset >= maxOffset || maxBytes < 0 {
		return emptyRead(), nil
	}
	s := l.segmentAt(offset)
	for s != nil {
		if s.base >= maxOffset {
			s.release()
			break
		}
		r, found, err := s.read(offset, maxBytes, maxOffset, minOneBatch)
		if err != nil {
			s.release()
			return nil, fmt.Errorf("read %s at %d: %w", l.tp, offset, err)
		}
		if found {
			if r.n == 0 {
				s.release()
				return emptyRead(), nil
			}
			if r.NextOffset < 0 {
				// The region reaches the segment's end.
				r.NextOffset = leo
				if n := l.nextSegment(s); n != nil {
					r.NextOffset = n.base
					n.release()
				}
			}
			r.NextOffset = min(r.NextOffset, maxOffset)
			return r, nil // r holds s's reference
		}
		n := l.nextSegment(s)
		s.release()
		s = n
	}
	return emptyRead(), nil
}

// read finds the batch holding offset in s and the whole batches after it
// that fit. found is false if no batch of s reaches offset.
func (s *segment) read(offset int64, maxBytes int, maxOffset int64, minOneBatch bool) (*ReadResult, bool, error) {
	gen := s.truncGen.Load()
	f, err := s.logFile()
	if err != nil {
		return nil, false, err
	}
	end := s.size.Load()
	pos, err := s.floorPosition(offset)
	if err != nil {
		return nil, false, err
	}
	var hb [27]byte
	start, firstBase := int64(-1), int64(-1)
	for pos < end {
		base, size, last, err := headerAt(f, pos, end, &hb)
		if err != nil {
			if errors.Is(err, errBadBatch) {
				break // never serve past a bad batch
			}
			return nil, false, err
		}
		if last >= offset {
			start, firstBase = pos, base
			break
		}
		pos += int64(size)
	}
	if start < 0 {
		return nil, false, nil
	}
	total := int64(0)
	p := start
	if jp, ok, err := s.jumpPosition(start+int64(maxBytes), maxOffset); err != nil {
		return nil, false, err
	} else if ok && jp > start {
		p, total = jp, jp-start
	}
	next := int64(-1) // the base offset of the first batch left out; -1: none in s
	for p < end {
		base, size, last, err := headerAt(f, p, end, &hb)
		if err != nil {
			if errors.Is(err, errBadBatch) {
				break
			}
			return nil, false, err
		}
		if last >= maxOffset {
			next = base
			break
		}
		if total+int64(size) > int64(maxBytes) {
			if total == 0 && minOneBatch {
				total = int64(size)
				next = last + 1
			} else {
				next = base
			}
			break
		}
		total += int64(size)
		p += int64(size)
	}
	return &ReadResult{seg: s, f: f, pos: start, n: int(total), FirstOffset: firstBase, NextOffset: next, gen: gen}, true, nil
}
