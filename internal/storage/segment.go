package storage

import (
	"container/list"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// File name suffixes of a segment, as Kafka's.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	txnIndexSuffix  = ".txnindex"
	deletedSuffix   = ".deleted"
)

// segmentName is a segment file's base name: its base offset in 20 digits.
func segmentName(base int64, suffix string) string {
	s := strconv.FormatInt(base, 10)
	return strings.Repeat("0", max(0, 20-len(s))) + s + suffix
}

// parseSegmentName returns the base offset of a "<20 digits><suffix>" name.
func parseSegmentName(name, suffix string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, suffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || v < 0 {
		return 0, false
	}
	return v, true
}

// segment is one <base>.log file with its .index and .timeindex.
//
// The active segment (the last one) keeps its indexes in memory and its .log
// open for writing; index entries reach the files in batches (at flush, roll
// and close): its indexes are always rebuilt by recovery after a crash, so
// the files need only be complete at a clean shutdown. A closed segment keeps
// nothing in memory but a few numbers; its files are opened when it is read
// and closed again by the Manager's LRU.
//
// Readers hold a reference (ref/release) while they use a segment; a removed
// segment (deleted by retention, truncation or the log's deletion) closes
// and removes its files only when the last reference is released.
type segment struct {
	l    *Log
	base int64

	size atomic.Int64 // published bytes of .log: readers never look past it
	// truncGen counts truncations of the .log; a read that saw it change
	// may hold bytes of both sides of one, and must not be served.
	truncGen atomic.Uint64
	refs     atomic.Int32
	// deleted is set when the segment has left the log; gone runs once the
	// last reference is released after that.
	deleted  atomic.Bool
	goneOnce sync.Once
	onGone   func() // set before deleted; nil: schedule the files' removal

	// imu guards the in-memory index state, shared with readers.
	imu      sync.RWMutex
	memIndex bool // idx/tidx below are the index (active or just rolled)
	ib       indexBuilder
	// Entries of ib already written to the index files.
	idxWritten, tidxWritten int
	// maxTs/maxTsOff for a closed segment whose indexes left memory:
	// loaded lazily from the time index.
	maxTs, maxTsOff int64
	maxTsKnown      bool
	// txns are the aborted transactions whose markers the segment holds
	// (txnindex.go), in marker order; the first txnWritten are in the
	// .txnindex file, the first txnSynced durably.
	txns                  []txnEntry
	txnWritten, txnSynced int

	created int64 // ms, for segment.ms without timestamps
	jitter  int64 // ms taken off segment.ms for this segment

	// wmu serialises writers of the index files.
	wmu sync.Mutex

	// fmu guards the file handles and names.
	fmu         sync.Mutex
	dir         string
	suffix      string // "" or deletedSuffix once renamed for deletion
	active      bool
	logF        vfs.File
	idxF, tidxF vfs.File
	idxN, tidxN int  // entries in the index files of a closed segment
	checked     bool // the index files passed the sanity check
	lru         *list.Element
}

func newSegment(l *Log, dir string, base int64) *segment {
	return &segment{l: l, base: base, dir: dir, maxTs: -1, maxTsOff: base - 1}
}

func (s *segment) path(suffix string) string {
	return filepath.Join(s.dir, segmentName(s.base, suffix)+s.suffix)
}

// ref takes a reference. The caller must know the segment is still in the
// log (it found it under the log's segment lock).
func (s *segment) ref() { s.refs.Add(1) }

// release drops a reference; the last one of a removed segment removes it.
func (s *segment) release() {
	if s.refs.Add(-1) != 0 {
		return
	}
	switch {
	case s.deleted.Load():
		s.gone()
	case s.l.closed.Load():
		// The log closed while this reader held the segment open.
		s.fmu.Lock()
		if s.refs.Load() == 0 {
			s.closeFilesLocked()
		}
		s.fmu.Unlock()
	}
}

// markDeleted takes the segment out of service: once no reader holds it,
// its files are closed and removed.
func (s *segment) markDeleted() {
	s.deleted.Store(true)
	if s.refs.Load() == 0 {
		s.gone()
	}
}

func (s *segment) gone() {
	s.goneOnce.Do(func() {
		s.fmu.Lock()
		s.closeFilesLocked()
		paths := []string{s.path(logSuffix), s.path(indexSuffix), s.path(timeIndexSuffix), s.path(txnIndexSuffix)}
		s.fmu.Unlock()
		if s.onGone != nil {
			s.onGone()
			return
		}
		s.l.m.scheduleRemoval(paths, s.l.config().FileDeleteDelayMs)
	})
}

// renameForDeletion renames the segment's files to *.deleted so that a
// crash before their removal does not bring them back into the log. The
// caller syncs the directory.
func (s *segment) renameForDeletion() error {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if s.suffix != "" {
		return nil
	}
	fsys := s.l.m.fs
	var errs []error
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		old := s.path(suf)
		if err := fsys.Rename(old, old+deletedSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	s.suffix = deletedSuffix
	return errors.Join(errs...)
}

func (s *segment) closeFilesLocked() {
	for _, f := range []*vfs.File{&s.logF, &s.idxF, &s.tidxF} {
		if *f != nil {
			_ = (*f).Close()
			*f = nil
		}
	}
	s.l.m.lru.remove(s)
}

// logFile returns the open .log file, opening a closed segment's lazily.
// The caller holds a reference.
func (s *segment) logFile() (vfs.File, error) {
	s.fmu.Lock()
	if s.logF != nil {
		f := s.logF
		if !s.active {
			s.l.m.lru.touch(s)
		}
		s.fmu.Unlock()
		return f, nil
	}
	f, err := s.l.m.fs.OpenFile(s.path(logSuffix), os.O_RDWR, 0)
	if err != nil {
		s.fmu.Unlock()
		return nil, fmt.Errorf("open segment %s: %w", s.path(logSuffix), err)
	}
	s.logF = f
	if !s.active {
		s.l.m.lru.touch(s)
	}
	s.fmu.Unlock()
	s.l.m.lru.evict()
	return f, nil
}

// indexFiles returns a closed segment's open, sanity-checked index files
// with their entry counts, opening (and, if they fail the check,
// rebuilding) them lazily. ok is false when the indexes are in memory.
func (s *segment) indexFiles() (idx fileOffsetIndex, tidx fileTimeIndex, ok bool, err error) {
	s.imu.RLock()
	mem := s.memIndex
	s.imu.RUnlock()
	if mem {
		return idx, tidx, false, nil
	}
	s.fmu.Lock()
	if s.idxF == nil || s.tidxF == nil || !s.checked {
		if err := s.openIndexesLocked(); err != nil {
			s.fmu.Unlock()
			return idx, tidx, false, err
		}
	}
	idx = fileOffsetIndex{f: s.idxF, n: s.idxN}
	tidx = fileTimeIndex{f: s.tidxF, n: s.tidxN}
	if !s.active {
		s.l.m.lru.touch(s)
	}
	s.fmu.Unlock()
	s.l.m.lru.evict()
	return idx, tidx, true, nil
}

// openIndexesLocked opens a closed segment's index files. The first time,
// it checks them whole and rebuilds them from the .log if they fail.
func (s *segment) openIndexesLocked() error {
	fsys := s.l.m.fs
	open := func(suffix string) (vfs.File, error) {
		f, err := fsys.OpenFile(s.path(suffix), os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return f, err
	}
	var err error
	if s.idxF == nil {
		if s.idxF, err = open(indexSuffix); err != nil {
			return fmt.Errorf("open %s: %w", s.path(indexSuffix), err)
		}
	}
	if s.tidxF == nil {
		if s.tidxF, err = open(timeIndexSuffix); err != nil {
			return fmt.Errorf("open %s: %w", s.path(timeIndexSuffix), err)
		}
	}
	size := s.size.Load()
	if !s.checked {
		idx, tidx, err := readIndexFiles(s.idxF, s.tidxF, size, s.maxRel())
		if err != nil {
			if !errors.Is(err, errBadIndex) {
				return fmt.Errorf("read indexes of %s: %w", s.path(logSuffix), err)
			}
			s.l.logger.Warn("rebuilding segment index", "dir", s.dir, "segment", s.base, "reason", err)
			if err := s.rebuildIndexFilesLocked(); err != nil {
				return err
			}
		} else {
			s.idxN, s.tidxN = len(idx), len(tidx)
			if !s.maxTsKnown {
				s.setMaxTsFromTimeIndex(tidx)
			}
		}
		s.checked = true
		return nil
	}
	if s.idxF != nil {
		st, err := s.idxF.Stat()
		if err != nil {
			return err
		}
		s.idxN = int(st.Size() / offsetEntrySize)
	}
	if s.tidxF != nil {
		st, err := s.tidxF.Stat()
		if err != nil {
			return err
		}
		s.tidxN = int(st.Size() / timeEntrySize)
	}
	if s.idxF == nil || s.tidxF == nil {
		return s.rebuildIndexFilesLocked()
	}
	return nil
}

func (s *segment) setMaxTsFromTimeIndex(tidx []timeEntry) {
	s.imu.Lock()
	if !s.maxTsKnown {
		if n := len(tidx); n > 0 {
			s.maxTs, s.maxTsOff = tidx[n-1].ts, s.base+int64(tidx[n-1].rel)
		}
		s.maxTsKnown = true
	}
	s.imu.Unlock()
}

// maxRel is the largest relative offset the segment may hold.
func (s *segment) maxRel() int64 { return maxRelativeOffset }

// rebuildIndexFilesLocked recomputes a closed segment's indexes by scanning
// its batches and rewrites the files durably.
func (s *segment) rebuildIndexFilesLocked() error {
	if s.logF == nil {
		f, err := s.l.m.fs.OpenFile(s.path(logSuffix), os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", s.path(logSuffix), err)
		}
		s.logF = f
	}
	b := newIndexBuilder(s.base, s.l.config().IndexIntervalBytes)
	sc := newBatchScanner(s.logF, 0, s.size.Load(), false, 64<<10)
	for sc.next() {
		b.add(sc.h.LastOffset(), sc.h.MaxTimestamp, sc.bpos, sc.bsize)
	}
	if sc.err != nil {
		if !errors.Is(sc.err, errBadBatch) {
			return fmt.Errorf("scan %s: %w", s.path(logSuffix), sc.err)
		}
		// A bad batch inside a segment below the recovery point: index what
		// is sound; reads stop at the bad batch.
		s.l.logger.Error("bad batch in a closed segment", "dir", s.dir, "segment", s.base, "err", sc.err)
	}
	b.finish()
	for _, f := range []*vfs.File{&s.idxF, &s.tidxF} {
		if *f != nil {
			_ = (*f).Close()
			*f = nil
		}
	}
	var err error
	if s.idxF, err = writeIndexFile(s.l.m.fs, s.path(indexSuffix), appendOffsetEntries(nil, b.idx)); err != nil {
		return err
	}
	if s.tidxF, err = writeIndexFile(s.l.m.fs, s.path(timeIndexSuffix), appendTimeEntries(nil, b.tidx)); err != nil {
		return err
	}
	s.idxN, s.tidxN = len(b.idx), len(b.tidx)
	s.imu.Lock()
	s.maxTs, s.maxTsOff, s.maxTsKnown = b.maxTs, b.maxTsOff, true
	s.imu.Unlock()
	s.checked = true
	return nil
}

// writeIndexFile replaces an index file's contents durably and returns it
// open.
func writeIndexFile(fsys vfs.FS, name string, data []byte) (vfs.File, error) {
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	if len(data) > 0 {
		if _, err := f.WriteAt(data, 0); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("sync %s: %w", name, err)
	}
	return f, nil
}

// writePendingIndexes appends the in-memory index entries not yet in the
// files, fsyncing them if sync is set. It serves the active segment (at
// flush and close) and a just-rolled one (which then drops its in-memory
// index when drop is set).
func (s *segment) writePendingIndexes(sync, drop bool) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writePendingTxns(sync); err != nil {
		return err
	}
	s.imu.RLock()
	if !s.memIndex {
		s.imu.RUnlock()
		return nil
	}
	iw, tw := s.idxWritten, s.tidxWritten
	ib := appendOffsetEntries(nil, s.ib.idx[iw:])
	tb := appendTimeEntries(nil, s.ib.tidx[tw:])
	ni, nt := len(s.ib.idx), len(s.ib.tidx)
	s.imu.RUnlock()

	s.fmu.Lock()
	err := s.writeIndexBytesLocked(ib, tb, iw, tw, sync)
	if err == nil && drop {
		s.idxN, s.tidxN, s.checked = ni, nt, true
	}
	if err == nil && !drop {
		// The active segment reads its index from memory: its index files
		// are open only while being written, so a partition holds one
		// descriptor (its .log), not three.
		s.closeIndexFilesLocked()
	}
	s.fmu.Unlock()
	if err != nil {
		return err
	}
	s.imu.Lock()
	s.idxWritten, s.tidxWritten = ni, nt
	if drop {
		s.maxTs, s.maxTsOff, s.maxTsKnown = s.ib.maxTs, s.ib.maxTsOff, true
		s.memIndex = false
		s.ib.idx, s.ib.tidx = nil, nil
	}
	s.imu.Unlock()
	return nil
}

func (s *segment) writeIndexBytesLocked(ib, tb []byte, iw, tw int, sync bool) error {
	fsys := s.l.m.fs
	// With nothing written yet, whatever an older file of the same name
	// holds is stale.
	flag := func(written int) int {
		if written == 0 {
			return os.O_RDWR | os.O_CREATE | os.O_TRUNC
		}
		return os.O_RDWR | os.O_CREATE
	}
	var err error
	if s.idxF == nil {
		if s.idxF, err = fsys.OpenFile(s.path(indexSuffix), flag(iw), 0o644); err != nil {
			return fmt.Errorf("open %s: %w", s.path(indexSuffix), err)
		}
	}
	if s.tidxF == nil {
		if s.tidxF, err = fsys.OpenFile(s.path(timeIndexSuffix), flag(tw), 0o644); err != nil {
			return fmt.Errorf("open %s: %w", s.path(timeIndexSuffix), err)
		}
	}
	if len(ib) > 0 {
		if _, err := s.idxF.WriteAt(ib, int64(iw)*offsetEntrySize); err != nil {
			return fmt.Errorf("write %s: %w", s.path(indexSuffix), err)
		}
	}
	if len(tb) > 0 {
		if _, err := s.tidxF.WriteAt(tb, int64(tw)*timeEntrySize); err != nil {
			return fmt.Errorf("write %s: %w", s.path(timeIndexSuffix), err)
		}
	}
	if sync {
		if err := s.idxF.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", s.path(indexSuffix), err)
		}
		if err := s.tidxF.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", s.path(timeIndexSuffix), err)
		}
	}
	return nil
}

// closeIndexFilesLocked closes the segment's index files; they are opened
// again when next needed. Under fmu.
func (s *segment) closeIndexFilesLocked() {
	for _, f := range []*vfs.File{&s.idxF, &s.tidxF} {
		if *f != nil {
			_ = (*f).Close()
			*f = nil
		}
	}
}

// rewriteLocked truncates the .log to size and replaces both indexes with
// b's entries, durably, through the segment's own handles (which readers
// may be using). Under fmu.
func (s *segment) rewriteLocked(size int64, b indexBuilder) error {
	fsys := s.l.m.fs
	for _, x := range []struct {
		fp     *vfs.File
		suffix string
		flag   int
	}{{&s.logF, logSuffix, os.O_RDWR}, {&s.idxF, indexSuffix, os.O_RDWR | os.O_CREATE}, {&s.tidxF, timeIndexSuffix, os.O_RDWR | os.O_CREATE}} {
		if *x.fp == nil {
			f, err := fsys.OpenFile(s.path(x.suffix), x.flag, 0o644)
			if err != nil {
				return fmt.Errorf("open %s: %w", s.path(x.suffix), err)
			}
			*x.fp = f
		}
	}
	rewrite := func(f vfs.File, name string, size int64, data []byte) error {
		if err := f.Truncate(size); err != nil {
			return fmt.Errorf("truncate %s: %w", name, err)
		}
		if len(data) > 0 {
			if _, err := f.WriteAt(data, 0); err != nil {
				return fmt.Errorf("write %s: %w", name, err)
			}
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", name, err)
		}
		return nil
	}
	if err := rewrite(s.logF, s.path(logSuffix), size, nil); err != nil {
		return err
	}
	if err := rewrite(s.idxF, s.path(indexSuffix), 0, appendOffsetEntries(nil, b.idx)); err != nil {
		return err
	}
	if err := rewrite(s.tidxF, s.path(timeIndexSuffix), 0, appendTimeEntries(nil, b.tidx)); err != nil {
		return err
	}
	s.idxN, s.tidxN, s.checked = len(b.idx), len(b.tidx), true
	return nil
}

// syncLog fsyncs the segment's .log. The caller holds a reference.
func (s *segment) syncLog() error {
	f, err := s.logFile()
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", s.path(logSuffix), err)
	}
	return nil
}

// maxTimestamp returns the segment's max timestamp and the last offset of
// the batch that carried it ((-1, base-1) for none).
func (s *segment) maxTimestamp() (int64, int64, error) {
	s.imu.RLock()
	if s.memIndex {
		ts, off := s.ib.maxTs, s.ib.maxTsOff
		s.imu.RUnlock()
		return ts, off, nil
	}
	if s.maxTsKnown {
		ts, off := s.maxTs, s.maxTsOff
		s.imu.RUnlock()
		return ts, off, nil
	}
	s.imu.RUnlock()
	_, tidx, ok, err := s.indexFiles()
	if err != nil {
		return -1, -1, err
	}
	s.imu.RLock()
	defer s.imu.RUnlock()
	if s.maxTsKnown || !ok {
		if s.memIndex {
			return s.ib.maxTs, s.ib.maxTsOff, nil
		}
		return s.maxTs, s.maxTsOff, nil
	}
	if tidx.n == 0 {
		return -1, s.base - 1, nil
	}
	e, err := tidx.at(tidx.n - 1)
	if err != nil {
		return -1, -1, err
	}
	return e.ts, s.base + int64(e.rel), nil
}

// floorPosition returns the position from which to scan for offset: that of
// the largest index entry at or below it, or 0.
func (s *segment) floorPosition(offset int64) (int64, error) {
	rel := offset - s.base
	s.imu.RLock()
	if s.memIndex {
		e, ok := floorOffsetEntry(s.ib.idx, rel)
		s.imu.RUnlock()
		if !ok {
			return 0, nil
		}
		return int64(e.pos), nil
	}
	s.imu.RUnlock()
	idx, _, ok, err := s.indexFiles()
	if err != nil {
		return 0, err
	}
	if !ok { // moved back into memory (truncation made it active again)
		return s.floorPosition(offset)
	}
	e, found, err := idx.search(func(e offsetEntry) bool { return int64(e.rel) <= rel })
	if err != nil || !found {
		return 0, err
	}
	return int64(e.pos), nil
}

// jumpPosition returns the start of the last indexed batch that begins at
// or before maxPos and ends below maxOffset: every batch before it may be
// sent whole without reading its header.
func (s *segment) jumpPosition(maxPos, maxOffset int64) (int64, bool, error) {
	maxRel := maxOffset - s.base
	s.imu.RLock()
	if s.memIndex {
		e, ok := lastEntryWithin(s.ib.idx, maxPos, maxRel)
		s.imu.RUnlock()
		return int64(e.pos), ok, nil
	}
	s.imu.RUnlock()
	idx, _, ok, err := s.indexFiles()
	if err != nil || !ok {
		return 0, false, err
	}
	e, found, err := idx.search(func(e offsetEntry) bool { return int64(e.pos) <= maxPos && int64(e.rel) < maxRel })
	return int64(e.pos), found, err
}

// timeFloorOffset returns the last offset of the batch behind the largest
// time index entry below ts: every record at or before it is older than ts.
// ok is false when no entry is below ts.
func (s *segment) timeFloorOffset(ts int64) (int64, bool, error) {
	s.imu.RLock()
	if s.memIndex {
		e, ok := lastTimeBefore(s.ib.tidx, ts)
		s.imu.RUnlock()
		return s.base + int64(e.rel), ok, nil
	}
	s.imu.RUnlock()
	_, tidx, ok, err := s.indexFiles()
	if err != nil || !ok {
		return 0, false, err
	}
	e, found, err := tidx.lastBefore(ts)
	return s.base + int64(e.rel), found, err
}

// headerAt reads the start of the batch header at pos: base offset, size
// and last offset, enough to walk batches.
func headerAt(f vfs.File, pos, end int64, buf *[27]byte) (base int64, size int, last int64, err error) {
	if end-pos < record.HeaderSize {
		return 0, 0, 0, fmt.Errorf("%w: %d bytes at %d", errBadBatch, end-pos, pos)
	}
	if _, err := f.ReadAt(buf[:], pos); err != nil {
		if errors.Is(err, io.EOF) {
			// The file shrank under us (a truncation): no batch here.
			return 0, 0, 0, fmt.Errorf("%w: file ends before %d", errBadBatch, pos+int64(len(buf)))
		}
		return 0, 0, 0, err
	}
	size, err = record.BatchSize(buf[:])
	if err != nil || int64(size) > end-pos {
		return 0, 0, 0, fmt.Errorf("%w: batch at %d", errBadBatch, pos)
	}
	base = int64(beUint64(buf[0:]))
	last = base + int64(int32(beUint32(buf[23:])))
	return base, size, last, nil
}

func beUint64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[7]) | uint64(b[6])<<8 | uint64(b[5])<<16 | uint64(b[4])<<24 |
		uint64(b[3])<<32 | uint64(b[2])<<40 | uint64(b[1])<<48 | uint64(b[0])<<56
}

func beUint32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[3]) | uint32(b[2])<<8 | uint32(b[1])<<16 | uint32(b[0])<<24
}

// fileLRU bounds the closed segments with open files across a Manager.
type fileLRU struct {
	mu   sync.Mutex
	list list.List // front: most recently used
	max  int
}

// touch marks s used, adding it if needed. The caller holds s.fmu.
func (c *fileLRU) touch(s *segment) {
	c.mu.Lock()
	if s.lru == nil {
		s.lru = c.list.PushFront(s)
	} else {
		c.list.MoveToFront(s.lru)
	}
	c.mu.Unlock()
}

// remove forgets s. The caller holds s.fmu.
func (c *fileLRU) remove(s *segment) {
	c.mu.Lock()
	if s.lru != nil {
		c.list.Remove(s.lru)
		s.lru = nil
	}
	c.mu.Unlock()
}

func (c *fileLRU) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.list.Len()
}

// evict closes the least recently used segments' files until at most max
// remain open, skipping segments being read. It must be called without any
// segment's fmu held.
func (c *fileLRU) evict() {
	for tries := 0; ; tries++ {
		c.mu.Lock()
		if c.list.Len() <= c.max || tries > c.list.Len() {
			c.mu.Unlock()
			return
		}
		var victim *segment
		for e := c.list.Back(); e != nil; e = e.Prev() {
			if s := e.Value.(*segment); s.refs.Load() == 0 {
				victim = s
				break
			}
		}
		if victim == nil {
			c.mu.Unlock()
			return
		}
		c.list.Remove(victim.lru)
		victim.lru = nil
		c.mu.Unlock()

		victim.fmu.Lock()
		if victim.refs.Load() > 0 || victim.active {
			if !victim.active {
				c.touch(victim)
			}
		} else {
			victim.closeFilesLocked()
		}
		victim.fmu.Unlock()
	}
}
