package storage

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errBadBatch marks a torn or corrupt batch met while scanning a segment:
// recovery truncates the segment at it, reads stop before it.
var errBadBatch = errors.New("torn or corrupt batch")

// offCRC and offAttributes locate the CRC and what it covers in a v2 batch
// (see package record).
const (
	offCRC        = 17
	offAttributes = 21
)

// batchScanner walks the batches of a segment file from a position, reading
// ahead in chunks so that a scan costs one read per chunk rather than one per
// batch. With checkCRC it verifies every batch's CRC32C, streaming the body
// through the window, so no batch is ever held whole in memory.
type batchScanner struct {
	f        vfs.File
	pos, end int64
	checkCRC bool

	buf    []byte
	bufOff int64
	bufN   int

	// The current batch.
	h     record.Header
	bpos  int64
	bsize int

	err error // errBadBatch (wrapped) or an IO error
}

func newBatchScanner(f vfs.File, pos, end int64, checkCRC bool, chunk int) *batchScanner {
	return &batchScanner{f: f, pos: pos, end: end, checkCRC: checkCRC, buf: make([]byte, chunk), bufOff: -1}
}

// window returns n bytes at off, refilling the buffer if they are not in it.
func (s *batchScanner) window(off int64, n int) ([]byte, error) {
	if s.bufOff >= 0 && off >= s.bufOff && off+int64(n) <= s.bufOff+int64(s.bufN) {
		i := int(off - s.bufOff)
		return s.buf[i : i+n], nil
	}
	want := max(n, len(s.buf))
	if rem := s.end - off; int64(want) > rem {
		want = int(rem)
	}
	if want > len(s.buf) {
		s.buf = make([]byte, want)
	}
	m, err := s.f.ReadAt(s.buf[:want], off)
	if err != nil && !(errors.Is(err, io.EOF) && m == want) {
		if errors.Is(err, io.EOF) {
			// The file is shorter than its recorded size: a torn tail.
			s.bufOff, s.bufN = off, m
			if m < n {
				return nil, fmt.Errorf("%w: file ends at %d", errBadBatch, off+int64(m))
			}
			return s.buf[:n], nil
		}
		s.bufOff = -1
		return nil, err
	}
	s.bufOff, s.bufN = off, m
	return s.buf[:n], nil
}

// next advances to the next batch. It returns false at the end of the
// scanned range or at a bad batch (then err is set, and bpos is where the
// bad batch starts).
func (s *batchScanner) next() bool {
	if s.err != nil || s.pos >= s.end {
		return false
	}
	s.bpos = s.pos
	if s.end-s.pos < record.HeaderSize {
		s.err = fmt.Errorf("%w: %d bytes left at %d, short of a header", errBadBatch, s.end-s.pos, s.pos)
		return false
	}
	b, err := s.window(s.pos, record.HeaderSize)
	if err != nil {
		s.err = err
		return false
	}
	size, err := record.BatchSize(b)
	if err != nil {
		s.err = fmt.Errorf("%w: at %d: %v", errBadBatch, s.pos, err)
		return false
	}
	if int64(size) > s.end-s.pos {
		s.err = fmt.Errorf("%w: batch of %d bytes at %d runs past %d", errBadBatch, size, s.pos, s.end)
		return false
	}
	h, err := record.ParseHeader(b)
	if err != nil {
		s.err = fmt.Errorf("%w: at %d: %v", errBadBatch, s.pos, err)
		return false
	}
	if h.LastOffsetDelta < 0 || h.NumRecords < 0 {
		s.err = fmt.Errorf("%w: at %d: negative last offset delta or record count", errBadBatch, s.pos)
		return false
	}
	if s.checkCRC {
		crc := uint32(0)
		for off, rem := s.pos+offAttributes, size-offAttributes; rem > 0; {
			n := min(rem, len(s.buf))
			p, err := s.window(off, n)
			if err != nil {
				s.err = err
				return false
			}
			crc = crc32.Update(crc, castagnoli, p)
			off += int64(n)
			rem -= n
		}
		if crc != h.CRC {
			s.err = fmt.Errorf("%w: at %d: CRC mismatch", errBadBatch, s.pos)
			return false
		}
	}
	s.h, s.bsize = h, size
	s.pos += int64(size)
	return true
}

// readBatchAt reads the whole batch that starts at pos in f, bounded by end.
func readBatchAt(f vfs.File, pos, end int64, buf []byte) ([]byte, error) {
	var hb [record.LogOverhead]byte
	if end-pos < record.HeaderSize {
		return nil, fmt.Errorf("%w: no batch at %d", errBadBatch, pos)
	}
	if _, err := f.ReadAt(hb[:], pos); err != nil {
		return nil, err
	}
	size, err := record.BatchSize(hb[:])
	if err != nil || int64(size) > end-pos {
		return nil, fmt.Errorf("%w: batch at %d", errBadBatch, pos)
	}
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := f.ReadAt(buf, pos); err != nil {
		return nil, err
	}
	return buf, nil
}
