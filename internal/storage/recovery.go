package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sluicehq/sluice/internal/producerstate"
	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// dirOffsets are what a log directory's checkpoints say of one partition.
type dirOffsets struct {
	recoveryPoint, logStart, hw int64
	hasRP, hasLS, hasHW         bool
}

// loadLog opens the partition directory root/<tp>. After a clean shutdown
// it trusts the files: it reads the active segment's indexes and scans only
// its tail past the last index entry to find the log end. Otherwise (or if
// that tail is not sound) it recovers from the recovery point: every batch
// of the segment holding the offset just below it and of every later
// segment is checked (length bounds, CRC, offsets increasing); the first
// bad one truncates its segment and every later segment is deleted, as is
// any segment that does not start where its predecessor ends; the indexes
// of the scanned segments are rebuilt; and the producer state is rebuilt
// from the newest snapshot at or below both the recovery point and the
// recovered log end (snapshots above the log end are deleted: fsynced data
// can still be lost).
func (m *Manager) loadLog(root string, tp TopicPartition, clean bool, ck dirOffsets) (*Log, error) {
	l := newLog(m, root, tp, [16]byte{}, m.defCfg)
	dir := l.Dir()
	fsys := m.fs

	if data, err := readSmallFile(fsys, filepath.Join(dir, PartitionMetadataFile)); err == nil {
		if id, err := decodePartitionMetadata(data); err == nil {
			l.tid.Store(&id)
		} else {
			l.logger.Warn("unreadable partition metadata", "err", err)
		}
	}
	if data, err := readSmallFile(fsys, filepath.Join(dir, LeaderEpochCheckpointFile)); err == nil {
		if entries, err := decodeEpochCheckpoint(data); err == nil {
			l.epochs.set(entries)
		} else {
			// Recovery rebuilds what it scans; an older history is lost, as
			// in Kafka when the file is unreadable.
			l.logger.Warn("unreadable leader epoch checkpoint", "err", err)
			clean = false
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}

	if err := m.recoverCleanerFiles(dir); err != nil {
		return nil, err
	}
	bases, txnIndexed, err := m.cleanPartitionDir(dir)
	if err != nil {
		return nil, err
	}
	if len(bases) == 0 {
		start := int64(0)
		if ck.hasLS && ck.logStart > 0 {
			start = ck.logStart
		}
		// No batch is left for producer snapshots or leader epochs to
		// describe. A crash in a full truncation, after the old segments
		// went and before the new one was made, leaves them behind; a
		// later recovery would take them for the state of the log
		// written anew.
		if err := producerstate.DeleteSnapshots(fsys, dir, func(int64) bool { return true }); err != nil {
			return nil, err
		}
		if l.epochs.truncateFromEnd(start) {
			if err := l.writeEpochCheckpoint(); err != nil {
				return nil, err
			}
		}
		s, err := l.createSegment(start, m.now())
		if err != nil {
			return nil, err
		}
		if err := fsys.SyncDir(dir); err != nil {
			return nil, err
		}
		l.segs = []*segment{s}
		l.active.Store(s)
		l.setLoadedOffsets(start, start, ck)
		return l, nil
	}
	for _, b := range bases {
		s := newSegment(l, dir, b)
		st, err := fsys.Stat(s.path(logSuffix))
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", dir, err)
		}
		s.size.Store(st.Size())
		s.created = m.now().UnixMilli()
		l.segs = append(l.segs, s)
	}
	// The aborted-transaction indexes: recovery rebuilds those of the
	// segments it scans.
	for i, s := range l.segs {
		if !txnIndexed[s.base] {
			continue
		}
		end := int64(math.MaxInt64)
		if i+1 < len(l.segs) {
			end = l.segs[i+1].base
		}
		if err := l.loadTxnIndex(s, end); err != nil {
			return nil, fmt.Errorf("load %s: %w", dir, err)
		}
	}

	if clean {
		ok, err := l.loadClean()
		if err != nil {
			return nil, err
		}
		if !ok {
			l.logger.Warn("log unsound despite a clean shutdown; recovering it")
			clean = false
			// Recovery opens the active segment's .log again.
			if last := l.segs[len(l.segs)-1]; last.logF != nil {
				_ = last.logF.Close()
				last.logF = nil
				last.active = false
			}
		}
	}
	if !clean {
		rp := int64(-1)
		if ck.hasRP {
			rp = ck.recoveryPoint
		}
		if err := l.recover(rp); err != nil {
			return nil, fmt.Errorf("recover %s: %w", dir, err)
		}
	}

	leo := l.leo.Load()
	logStart := l.segs[0].base
	if ck.hasLS {
		logStart = max(logStart, ck.logStart)
	}
	logStart = min(logStart, leo)
	l.setLoadedOffsets(logStart, leo, ck)

	changed := l.epochs.truncateFromEnd(leo)
	if l.epochs.truncateFromStart(logStart) {
		changed = true
	}
	if changed || !clean {
		if err := l.writeEpochCheckpoint(); err != nil {
			return nil, err
		}
	}
	if err := producerstate.DeleteSnapshots(fsys, dir, func(off int64) bool {
		return off > leo || off < l.segs[0].base
	}); err != nil {
		return nil, err
	}
	if !clean {
		if err := l.ps.WriteSnapshot(fsys, dir, leo); err != nil {
			return nil, err
		}
	}
	l.refreshUnstableLocked()
	return l, nil
}

// setLoadedOffsets publishes the offsets of a freshly loaded log: all of it
// is durable (checked or fsynced) up to leo.
func (l *Log) setLoadedOffsets(logStart, leo int64, ck dirOffsets) {
	l.leo.Store(leo)
	l.logStart.Store(logStart)
	hw := logStart
	if ck.hasHW {
		hw = min(max(ck.hw, logStart), leo)
	}
	l.hw.Store(hw)
	l.flushed.Store(leo)
	l.recoveryPoint.Store(leo)
}

// cleanPartitionDir removes what an interrupted operation left (files
// renamed *.deleted, temporary files, indexes without a .log) and returns
// the segments' base offsets, ascending, and those that have a .txnindex.
func (m *Manager) cleanPartitionDir(dir string) ([]int64, map[int64]bool, error) {
	fsys := m.fs
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var bases []int64
	have := map[int64]bool{}
	var indexes []string
	removed := false
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		switch {
		case strings.HasSuffix(name, deletedSuffix), strings.HasSuffix(name, tmpSuffix):
			if err := fsys.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, nil, fmt.Errorf("remove %s: %w", name, err)
			}
			removed = true
		case strings.HasSuffix(name, logSuffix):
			if b, ok := parseSegmentName(name, logSuffix); ok {
				bases = append(bases, b)
				have[b] = true
			}
		case strings.HasSuffix(name, indexSuffix), strings.HasSuffix(name, timeIndexSuffix), strings.HasSuffix(name, txnIndexSuffix):
			indexes = append(indexes, name)
		}
	}
	txnIndexed := map[int64]bool{}
	for _, name := range indexes {
		ext := filepath.Ext(name)
		b, ok := parseSegmentName(name, ext)
		if ok && !have[b] {
			if err := fsys.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, nil, fmt.Errorf("remove %s: %w", name, err)
			}
			removed = true
		} else if ok && ext == txnIndexSuffix {
			txnIndexed[b] = true
		}
	}
	if removed {
		if err := fsys.SyncDir(dir); err != nil {
			return nil, nil, err
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, txnIndexed, nil
}

// loadClean loads a cleanly shut down log: the active segment's indexes
// from their files and the log end from a scan of the tail past the last
// index entry. It reports false if the files are not as a clean shutdown
// leaves them (then the log must be recovered).
func (l *Log) loadClean() (bool, error) {
	fsys := l.m.fs
	last := l.segs[len(l.segs)-1]
	f, err := fsys.OpenFile(last.path(logSuffix), os.O_RDWR, 0)
	if err != nil {
		return false, fmt.Errorf("open %s: %w", last.path(logSuffix), err)
	}
	last.logF = f
	last.active = true
	size := last.size.Load()
	open := func(suffix string) error {
		f, err := fsys.OpenFile(last.path(suffix), os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", last.path(suffix), err)
		}
		if suffix == indexSuffix {
			last.idxF = f
		} else {
			last.tidxF = f
		}
		return nil
	}
	if err := open(indexSuffix); err != nil {
		return false, err
	}
	if err := open(timeIndexSuffix); err != nil {
		return false, err
	}
	idx, tidx, err := readIndexFiles(last.idxF, last.tidxF, size, maxRelativeOffset)
	// The active segment's index lives in memory from here on.
	last.closeIndexFilesLocked()
	if err != nil {
		if errors.Is(err, errBadIndex) {
			l.logger.Warn("active segment index unsound", "segment", last.base, "err", err)
			return false, nil
		}
		return false, err
	}
	b := newIndexBuilder(last.base, l.config().IndexIntervalBytes)
	b.idx, b.tidx = idx, tidx
	if n := len(tidx); n > 0 {
		b.maxTs, b.maxTsOff = tidx[n-1].ts, last.base+int64(tidx[n-1].rel)
	}
	pos := int64(0)
	if n := len(idx); n > 0 {
		pos = int64(idx[n-1].pos)
	}
	if size > 0 {
		var hb [record.HeaderSize]byte
		if size < record.HeaderSize {
			return false, nil
		}
		if _, err := f.ReadAt(hb[:], 0); err != nil {
			return false, err
		}
		h, err := record.ParseHeader(hb[:])
		if err != nil {
			return false, nil
		}
		b.firstTs = h.MaxTimestamp
		b.batches = 1
	}
	sc := newBatchScanner(f, pos, size, false, 64<<10)
	for first := pos > 0; sc.next(); first = false {
		h := &sc.h
		if h.BaseOffset <= b.lastOff || h.LastOffset()-last.base > maxRelativeOffset || h.BaseOffset < last.base {
			return false, nil
		}
		if first {
			// The batch the last index entry points at: already indexed.
			if int64(idx[len(idx)-1].rel) != h.LastOffset()-last.base {
				return false, nil
			}
			if h.MaxTimestamp > b.maxTs {
				b.maxTs, b.maxTsOff = h.MaxTimestamp, h.LastOffset()
			}
			b.bytesSince = int64(sc.bsize)
			b.lastOff, b.lastSize = h.LastOffset(), sc.bpos+int64(sc.bsize)
			continue
		}
		b.add(h.LastOffset(), h.MaxTimestamp, sc.bpos, sc.bsize)
	}
	if sc.err != nil {
		if errors.Is(sc.err, errBadBatch) {
			return false, nil
		}
		return false, sc.err
	}
	// The offset index cannot point past the data (its positions are
	// checked against the file's size), but the time index names offsets:
	// if the .log lost its tail after the shutdown, the time index may
	// still name records that are gone, and would answer timestamp lookups
	// with them. Recovery rebuilds it from the data.
	if n := len(b.tidx); n > 0 && last.base+int64(b.tidx[n-1].rel) > b.lastOff {
		l.logger.Warn("active segment time index past the log end", "segment", last.base,
			"index_offset", last.base+int64(b.tidx[n-1].rel), "log_end", b.lastOff+1)
		return false, nil
	}
	last.imu.Lock()
	last.ib = b
	last.memIndex = true
	last.idxWritten, last.tidxWritten = len(idx), len(tidx)
	last.imu.Unlock()
	last.checked = true
	l.active.Store(last)
	leo := last.base
	if size > 0 {
		leo = b.lastOff + 1
	}
	l.leo.Store(leo)

	ps, snap, err := producerstate.Load(fsys, l.Dir(), leo)
	if err != nil {
		return false, err
	}
	if snap < leo {
		if err := l.replayProducerState(ps, snap, leo); err != nil {
			return false, err
		}
	}
	l.ps = ps
	return true, nil
}

// recover rebuilds the log from the recovery point rp (-1: from the start).
func (l *Log) recover(rp int64) error {
	fsys := l.m.fs
	dir := l.Dir()
	if err := producerstate.RemoveTempFiles(fsys, dir); err != nil {
		return err
	}
	segs := l.segs
	// Start with the segment holding offset rp-1: the recovery point may
	// equal the base of a segment whose predecessor's indexes are not
	// durable yet (the point reached the end of the active segment just
	// before it rolled), so only the segments that end before the point's
	// own segment are trusted.
	start := 0
	for i := range segs {
		if segs[i].base < rp {
			start = i
		}
	}
	// The producer state as of the first scanned segment: every scanned
	// batch is applied to it, so that the aborted-transaction index of
	// every scanned segment can be rebuilt (an abort marker's entry needs
	// its transaction's first offset). A newer snapshot is not used even
	// where one exists: it may describe batches the scan finds lost
	// although they had been fsynced (a file cut by hand, a disk that lied
	// about a flush), and would then answer retries of lost batches as
	// duplicates. loadLog deletes the snapshots above the log end.
	ps, snap, err := producerstate.Load(fsys, dir, segs[start].base)
	if err != nil {
		return err
	}
	if snap < segs[start].base {
		if err := l.replayProducerState(ps, snap, segs[start].base); err != nil {
			return err
		}
		snap = segs[start].base
	}
	for k := start; k < len(segs); k++ {
		s := segs[k]
		nextBase := int64(math.MaxInt64)
		if k+1 < len(segs) {
			nextBase = segs[k+1].base
		}
		f, b, txns, truncated, err := l.scanSegment(s, nextBase, ps, snap)
		if err != nil {
			return err
		}
		// Every segment starts where its predecessor ends (rolls happen at
		// the log end). A successor that starts elsewhere follows a lost
		// tail (unsynced when the power went) and cannot stay: nothing may
		// follow a hole.
		end := s.base
		if b.batches > 0 {
			end = b.lastOff + 1
		}
		last := k == len(segs)-1 || truncated || segs[k+1].base != end
		if err := l.finishRecoveredSegment(s, f, b, txns, last); err != nil {
			return err
		}
		if last {
			if k+1 < len(segs) {
				l.logger.Warn("dropping segments after a torn or corrupt tail", "from", segs[k+1].base, "count", len(segs)-k-1, "log_end", end)
				if err := l.dropSegments(segs[k+1:]); err != nil {
					return err
				}
				l.segs = segs[:k+1]
			}
			break
		}
	}
	last := l.segs[len(l.segs)-1]
	l.active.Store(last)
	leo := last.base
	if last.ib.batches > 0 {
		leo = last.ib.lastOff + 1
	}
	l.leo.Store(leo)
	l.ps = ps
	return nil
}

// dropSegments deletes segments that recovery found to follow a bad batch
// or a hole.
func (l *Log) dropSegments(segs []*segment) error {
	fsys := l.m.fs
	for _, d := range segs {
		for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
			if err := fsys.Remove(d.path(suf)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return fsys.SyncDir(l.Dir())
}

// scanSegment checks every batch of s and truncates it at the first bad
// one (fsynced). It returns the open .log, the rebuilt index entries and
// the aborted transactions whose markers it holds.
func (l *Log) scanSegment(s *segment, nextBase int64, ps *producerstate.State, snap int64) (vfs.File, indexBuilder, []txnEntry, bool, error) {
	fsys := l.m.fs
	b := newIndexBuilder(s.base, l.config().IndexIntervalBytes)
	f, err := fsys.OpenFile(s.path(logSuffix), os.O_RDWR, 0)
	if err != nil {
		return nil, b, nil, false, fmt.Errorf("open %s: %w", s.path(logSuffix), err)
	}
	size := s.size.Load()
	sc := newBatchScanner(f, 0, size, true, 1<<20)
	bad := int64(-1)
	var reason error
	var txns []txnEntry
	var buf []byte
	for sc.next() {
		h := &sc.h
		if h.BaseOffset <= b.lastOff || h.LastOffset() >= nextBase || h.LastOffset()-s.base > maxRelativeOffset {
			bad = sc.bpos
			reason = fmt.Errorf("batch at %d has offsets [%d, %d] out of order", sc.bpos, h.BaseOffset, h.LastOffset())
			break
		}
		if h.BaseOffset >= snap {
			if h.Control() {
				// A marker (checked whole by the scan): its record says
				// whether it aborts.
				if buf, err = readBatchAt(f, sc.bpos, size, buf); err != nil {
					_ = f.Close()
					return nil, b, nil, false, fmt.Errorf("read %s: %w", s.path(logSuffix), err)
				}
			}
			if e, aborted := applyBatch(ps, h, buf); aborted {
				txns = append(txns, e)
			}
		}
		l.epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset)
		b.add(h.LastOffset(), h.MaxTimestamp, sc.bpos, sc.bsize)
	}
	if sc.err != nil {
		if !errors.Is(sc.err, errBadBatch) {
			_ = f.Close()
			return nil, b, nil, false, fmt.Errorf("scan %s: %w", s.path(logSuffix), sc.err)
		}
		bad, reason = sc.bpos, sc.err
	}
	truncated := bad >= 0
	if truncated {
		l.logger.Warn("truncating a torn or corrupt segment tail", "segment", s.base, "position", bad, "dropped_bytes", size-bad, "reason", reason)
		if err := f.Truncate(bad); err != nil {
			_ = f.Close()
			return nil, b, nil, false, fmt.Errorf("truncate %s: %w", s.path(logSuffix), err)
		}
		size = bad
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return nil, b, nil, false, fmt.Errorf("sync %s: %w", s.path(logSuffix), err)
	}
	s.size.Store(size)
	return f, b, txns, truncated, nil
}

// finishRecoveredSegment writes a scanned segment's rebuilt indexes
// (fsynced). The last segment becomes the active one, its indexes in
// memory; a closed one keeps nothing open.
func (l *Log) finishRecoveredSegment(s *segment, f vfs.File, b indexBuilder, txns []txnEntry, last bool) error {
	fsys := l.m.fs
	if !last {
		b.finish()
	}
	if err := writeTxnIndexFile(fsys, s.path(txnIndexSuffix), txns); err != nil {
		_ = f.Close()
		return err
	}
	s.txns = txns
	s.txnWritten, s.txnSynced = len(txns), len(txns)
	idxF, err := writeIndexFile(fsys, s.path(indexSuffix), appendOffsetEntries(nil, b.idx))
	if err != nil {
		_ = f.Close()
		return err
	}
	tidxF, err := writeIndexFile(fsys, s.path(timeIndexSuffix), appendTimeEntries(nil, b.tidx))
	if err != nil {
		_ = f.Close()
		_ = idxF.Close()
		return err
	}
	s.checked = true
	if last {
		// The active segment's index lives in memory; its files are
		// opened again only to be written.
		_ = idxF.Close()
		_ = tidxF.Close()
		s.logF = f
		s.active = true
		s.memIndex = true
		s.ib = b
		s.idxWritten, s.tidxWritten = len(b.idx), len(b.tidx)
		return nil
	}
	_ = f.Close()
	_ = idxF.Close()
	_ = tidxF.Close()
	s.idxN, s.tidxN = len(b.idx), len(b.tidx)
	s.maxTs, s.maxTsOff, s.maxTsKnown = b.maxTs, b.maxTsOff, true
	return nil
}
