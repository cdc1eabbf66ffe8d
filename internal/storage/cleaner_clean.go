package storage

// One clean of one log, as Kafka's Cleaner.doClean:
//
//  1. Map: read the dirty section, from the first dirty offset to the first
//     uncleanable one, and put every keyed record's key and offset in the
//     key map (the latest offset wins). Control batches and the data of
//     aborted transactions (cleaner_txn.go) are not mapped. If the map
//     fills, the clean ends where it got: offsets from there on count as
//     not mapped.
//  2. Rewrite: group the segments from the log start to the one holding
//     the map's end into runs of at most segment.bytes, and write each
//     group as one new segment holding, batch by batch, the records to
//     keep: a record past the map's end; else a keyed record whose offset
//     is its key's latest; of those, a tombstone only until its batch's
//     delete horizon. A batch whose records all stay is copied byte for
//     byte; one that loses some is rebuilt with the records kept, keeping
//     its base offset, last offset delta, producer id, epoch, base
//     sequence, leader epoch, codec and timestamp type, so offsets, batch
//     boundaries and the producers' sequence state stay valid. A batch that
//     keeps tombstones is stamped with a delete horizon (now +
//     delete.retention.ms, KIP-534) the first time; so is a transaction
//     marker whose transaction has no data left, which goes once that
//     horizon has passed; aborted data goes (cleaner_txn.go). A batch that
//     loses every record goes, unless it is an idempotent producer's last
//     (Kafka keeps it, empty, for the producer's sequence) or the group's
//     last (kept empty so that every segment still ends where the next one
//     starts, as recovery expects).
//  3. Swap each group in (swap, below) and record the map's end as the
//     next first dirty offset.
//
// A group of one segment in which nothing changed is not rewritten.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicehq/sluice/internal/producerstate"
	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// File name suffixes of a segment being swapped in by the cleaner, as
// Kafka's.
const (
	cleanedSuffix = ".cleaned"
	swapSuffix    = ".swap"
)

// cleanPass is the state of one clean.
type cleanPass struct {
	c      *cleaner
	ctx    context.Context
	l      *Log
	lc     *logConfig
	om     *offsetMap
	mapEnd int64 // records at or past it were not mapped and stay
	nowMs  int64
	// lastOfProducer is each producer's last batch's last offset.
	lastOfProducer map[int64]int64
	// rewriteTxns follows the transactions along the rewrite (cleaner_txn.go).
	rewriteTxns *txnTracker
	stats       *CleanStats

	bld     *record.Builder
	keep    []bool
	out     []byte
	buf     []byte // read buffer
	wbuf    []byte // write buffer
	horizon int64  // earliest delete horizon of a batch kept with tombstones, -1
	changed bool   // the group being written differs from its source
}

// clean compacts l once; st.mu is held. It returns nil stats when there is
// nothing to clean.
func (c *cleaner) clean(ctx context.Context, l *Log, st *cleanState) (*CleanStats, error) {
	began := time.Now()
	nowMs := c.m.now().UnixMilli()
	lc := l.config()
	gen := l.generation()
	segs := l.snapshotSegments()
	defer releaseAll(segs)
	if len(segs) == 0 {
		return nil, nil
	}
	cl, err := c.cleanableOf(l, st, segs, lc, nowMs)
	if err != nil {
		return nil, fmt.Errorf("clean %s: %w", l.tp, err)
	}
	if cl.nClean == 0 || cl.firstDirty >= cl.firstUncleanable && !cl.horizonDue {
		return nil, nil
	}
	om, err := c.acquireMap(ctx)
	if err != nil {
		return nil, err
	}
	defer c.releaseMap(om)
	om.reset()

	p := &cleanPass{
		c: c, ctx: ctx, l: l, lc: lc, om: om, nowMs: nowMs,
		stats:          &CleanStats{TopicPartition: l.tp, FirstDirtyOffset: cl.firstDirty},
		lastOfProducer: map[int64]int64{},
		bld:            record.NewBuilder(record.CodecNone),
		buf:            make([]byte, c.ioBuf),
		wbuf:           make([]byte, 0, c.ioBuf),
		horizon:        -1,
	}
	l.ProducerState(func(ps *producerstate.State) {
		for _, e := range ps.Entries() {
			if n := len(e.Batches); n > 0 {
				p.lastOfProducer[e.ProducerID] = e.Batches[n-1].LastOffset
			}
		}
	})
	// 1. Map the dirty section.
	full, err := p.buildMap(segs[:cl.nClean+1], cl.firstDirty)
	if err != nil {
		return nil, p.fail(err, gen)
	}
	p.mapEnd = max(cl.firstDirty, cl.firstUncleanable)
	if full {
		p.mapEnd = max(cl.firstDirty, om.latest+1)
	}
	p.stats.EndOffset, p.stats.MapFull = p.mapEnd, full

	// 2 and 3. Rewrite and swap, group by group.
	k := 0
	for k < cl.nClean && segs[k].base < p.mapEnd {
		k++
	}
	p.rewriteTxns = newTxnTracker(l.AbortedTransactions(segs[0].base, segs[k].base))
	for _, g := range groupSegments(segs[:k+1], lc) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		group, upper := segs[g[0]:g[1]], segs[g[1]].base
		cs, err := p.cleanGroup(group, upper)
		if err != nil {
			return nil, p.fail(err, gen)
		}
		p.stats.CleanedEnd = upper
		if cs == nil {
			continue // unchanged
		}
		if err := p.swap(group, cs, gen); err != nil {
			cs.remove(c.m.fs)
			return nil, p.fail(err, gen)
		}
		p.stats.SegmentsRead += len(group)
		p.stats.SegmentsWritten++
	}
	c.setFirstDirty(l, st, p.mapEnd, gen)
	c.mu.Lock()
	st.horizon = p.horizon
	c.mu.Unlock()
	if err := c.writeCheckpoint(l.root); err != nil {
		// The clean stands; the next one after a restart redoes its work.
		l.logger.Warn("cleaner checkpoint", "err", err)
	}
	p.stats.Duration = time.Since(began)
	l.logger.Info("cleaned log", "first_dirty_offset", p.stats.FirstDirtyOffset, "end_offset", p.stats.EndOffset,
		"segments_read", p.stats.SegmentsRead, "segments_written", p.stats.SegmentsWritten,
		"bytes_read", p.stats.BytesRead, "bytes_written", p.stats.BytesWritten,
		"records_kept", p.stats.RecordsKept, "records_read", p.stats.RecordsRead, "map_full", full,
		"duration", p.stats.Duration)
	return p.stats, nil
}

// fail turns an error met during a clean into errCleanAborted when the log
// changed under it (a truncation can shorten a segment being read).
func (p *cleanPass) fail(err error, gen uint64) error {
	if errors.Is(err, errCleanAborted) || p.l.generation() != gen || p.l.usable() != nil {
		return fmt.Errorf("clean %s: %w (%v)", p.l.tp, errCleanAborted, err)
	}
	if p.ctx.Err() != nil {
		return p.ctx.Err()
	}
	return fmt.Errorf("clean %s: %w", p.l.tp, err)
}

// buildMap maps the keys of the batches of segs (the cleanable segments
// and the one after them, which bounds the last) from offset from on. It
// reports whether the map filled.
func (p *cleanPass) buildMap(segs []*segment, from int64) (bool, error) {
	txns := newTxnTracker(p.l.AbortedTransactions(from, segs[len(segs)-1].base))
	for i := 0; i+1 < len(segs); i++ {
		s := segs[i]
		if segs[i+1].base <= from {
			continue
		}
		r, err := p.reader(s)
		if err != nil {
			return false, err
		}
		if from > s.base {
			pos, err := s.floorPosition(from)
			if err != nil {
				return false, err
			}
			r.pos = pos
		}
		for {
			b, _, err := r.next()
			if err != nil {
				return false, err
			}
			if b == nil {
				break
			}
			h, err := record.ParseHeader(b)
			if err != nil {
				return false, fmt.Errorf("segment %d: %w: %v", s.base, errBadBatch, err)
			}
			if h.LastOffset() < from {
				continue
			}
			if !record.CheckCRC(b) {
				return false, fmt.Errorf("segment %d: %w: CRC mismatch at offset %d", s.base, errBadBatch, h.BaseOffset)
			}
			if !p.mapDiscards(b, &h, txns) && !h.Control() {
				full := false
				err := record.Iterate(b, func(rec *record.Record) error {
					off := h.BaseOffset + int64(rec.OffsetDelta)
					if off < from || rec.Key == nil {
						return nil
					}
					if !p.om.put(rec.Key, off) {
						full = true
						return errFound
					}
					p.stats.MappedRecords++
					return nil
				})
				if full {
					return true, nil
				}
				if err != nil {
					return false, fmt.Errorf("segment %d, batch at offset %d: %w", s.base, h.BaseOffset, err)
				}
			}
			p.om.latest = max(p.om.latest, h.LastOffset())
		}
	}
	return false, nil
}

// discardTxn asks the transaction filter about a transactional or control
// batch.
func (p *cleanPass) discardTxn(h *record.Header) bool {
	f := p.c.txn
	return f != nil && (h.Transactional() || h.Control()) && f(p.l.tp, h, p.nowMs)
}

func (p *cleanPass) reader(s *segment) (*batchReader, error) {
	f, err := s.logFile()
	if err != nil {
		return nil, err
	}
	return &batchReader{f: f, end: s.size.Load(), buf: p.buf, p: p}, nil
}

// groupSegments splits segs[:len(segs)-1] (the last one only bounds the
// others) into runs [i, j) that one cleaned segment can hold: at most
// segment.bytes of source, an offset range an index can address, and index
// entries that fit segment.index.bytes.
func groupSegments(segs []*segment, lc *logConfig) [][2]int {
	var out [][2]int
	maxEntries := int64(lc.SegmentIndexBytes / timeEntrySize)
	for i := 0; i+1 < len(segs); {
		j := i + 1
		size := segs[i].size.Load()
		for j+1 < len(segs) {
			next := size + segs[j].size.Load()
			if next > lc.SegmentBytes || segs[j+1].base-1-segs[i].base > maxRelativeOffset ||
				next/int64(lc.IndexIntervalBytes)+1 > maxEntries {
				break
			}
			size = next
			j++
		}
		out = append(out, [2]int{i, j})
		i = j
	}
	return out
}

// cleanedSegment is a group's new segment, written as <base>.*.cleaned.
type cleanedSegment struct {
	dir  string
	base int64
	size int64
	ib   indexBuilder
	// txns are the aborted-transaction index entries of the markers kept.
	txns []txnEntry
	// droppedMarker is the offset of the last transaction marker dropped,
	// -1 for none.
	droppedMarker int64
}

func (cs *cleanedSegment) name(suffix, stage string) string {
	return filepath.Join(cs.dir, segmentName(cs.base, suffix)+stage)
}

// remove deletes whatever is left of an unfinished swap (best effort:
// recovery removes it too).
func (cs *cleanedSegment) remove(fsys vfs.FS) {
	for _, stage := range []string{cleanedSuffix, swapSuffix} {
		for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
			_ = fsys.Remove(cs.name(suf, stage))
		}
	}
}

// cleanGroup writes the compacted copy of group (whose last segment ends at
// upper) as .cleaned files, durably. It returns nil when the group is one
// segment and nothing in it would change.
func (p *cleanPass) cleanGroup(group []*segment, upper int64) (*cleanedSegment, error) {
	fsys := p.c.m.fs
	cs := &cleanedSegment{dir: p.l.Dir(), base: group[0].base, ib: newIndexBuilder(group[0].base, p.lc.IndexIntervalBytes), droppedMarker: -1}
	f, err := fsys.OpenFile(cs.name(logSuffix, cleanedSuffix), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create cleaned segment: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = f.Close()
			cs.remove(fsys)
		}
	}()
	w := &batchWriter{f: f, buf: p.wbuf[:0], p: p}
	p.changed = len(group) > 1
	markers := map[int64]bool{} // the last offsets of the transaction markers kept
	for gi, s := range group {
		p.stats.SourceBytes += s.size.Load()
		r, err := p.reader(s)
		if err != nil {
			return nil, err
		}
		for {
			if err := p.ctx.Err(); err != nil {
				return nil, err
			}
			b, pos, err := r.next()
			if err != nil {
				return nil, fmt.Errorf("segment %d: %w", s.base, err)
			}
			if b == nil {
				break
			}
			h, err := record.ParseHeader(b)
			if err != nil {
				return nil, fmt.Errorf("segment %d: %w: %v", s.base, errBadBatch, err)
			}
			if !record.CheckCRC(b) {
				return nil, fmt.Errorf("segment %d: %w: CRC mismatch at offset %d", s.base, errBadBatch, h.BaseOffset)
			}
			groupLast := gi == len(group)-1 && pos+int64(len(b)) == r.end
			keepEmpty := groupLast
			if h.Idempotent() {
				if last, ok := p.lastOfProducer[h.ProducerID]; ok && last == h.LastOffset() {
					keepEmpty = true
				}
			}
			out, err := p.filter(b, &h, keepEmpty)
			if err != nil {
				return nil, fmt.Errorf("segment %d, batch at offset %d: %w", s.base, h.BaseOffset, err)
			}
			if out == nil {
				p.changed = true
				if h.Control() && h.NumRecords > 0 {
					cs.droppedMarker = h.LastOffset()
				}
				continue
			}
			oh, err := record.ParseHeader(out)
			if err != nil {
				return nil, fmt.Errorf("rebuilt batch at offset %d: %w", h.BaseOffset, err)
			}
			at := w.pos()
			if at+int64(len(out)) > math.MaxInt32 {
				return nil, fmt.Errorf("cleaned segment %d would pass 2 GiB", cs.base)
			}
			if err := w.write(out); err != nil {
				return nil, err
			}
			cs.ib.add(oh.LastOffset(), oh.MaxTimestamp, at, len(out))
			if oh.Control() && oh.NumRecords > 0 {
				markers[oh.LastOffset()] = true
			}
		}
	}
	if !p.changed {
		return nil, nil // deferred cleanup removes the file
	}
	for _, s := range group {
		for _, e := range s.txnsBelow(math.MaxInt64) {
			if markers[e.LastOffset] {
				cs.txns = append(cs.txns, e)
			}
		}
	}
	if err := w.flush(); err != nil {
		return nil, err
	}
	cs.size = w.pos()
	cs.ib.finish()
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("sync cleaned segment: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close cleaned segment: %w", err)
	}
	for _, x := range []struct {
		suffix string
		data   []byte
	}{{indexSuffix, appendOffsetEntries(nil, cs.ib.idx)}, {timeIndexSuffix, appendTimeEntries(nil, cs.ib.tidx)},
		{txnIndexSuffix, appendTxnEntries(nil, cs.txns)}} {
		if x.suffix == txnIndexSuffix && len(cs.txns) == 0 {
			continue // no aborted transaction: no file, as for a new segment
		}
		xf, err := writeIndexFile(fsys, cs.name(x.suffix, cleanedSuffix), x.data)
		if err != nil {
			return nil, err
		}
		_ = xf.Close()
	}
	p.stats.BytesWritten += cs.size
	done = true
	return cs, nil
}

// filter returns what of batch b (header h) the cleaned segment keeps: b
// itself, a rebuilt batch, an empty batch (keepEmpty), or nil. The result
// is valid until the next call.
func (p *cleanPass) filter(b []byte, h *record.Header, keepEmpty bool) ([]byte, error) {
	p.stats.RecordsRead += int64(h.NumRecords)
	discard, stamp := false, false
	if h.Transactional() || h.Control() {
		discard, stamp = p.txnVerdict(b, h)
	}
	if discard {
		p.changed = true
		if keepEmpty {
			return p.emptyBatch(h)
		}
		return nil, nil
	}
	if h.Control() {
		p.stats.RecordsKept += int64(h.NumRecords)
		if stamp {
			p.changed = true
			return p.stampMarker(b, h)
		}
		return b, nil
	}
	horizon, hasHorizon := BatchDeleteHorizon(h)
	p.keep = p.keep[:0]
	kept, tombstones := 0, 0
	err := record.Iterate(b, func(r *record.Record) error {
		k := p.retain(h, r, hasHorizon, horizon)
		p.keep = append(p.keep, k)
		if k {
			kept++
			if r.Value == nil {
				tombstones++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.stats.RecordsKept += int64(kept)
	setHorizon := tombstones > 0 && !hasHorizon
	if tombstones > 0 {
		if !hasHorizon {
			horizon = satAddMs(p.nowMs, p.lc.DeleteRetentionMs)
		}
		if p.horizon < 0 || horizon < p.horizon {
			p.horizon = horizon
		}
	}
	if kept == len(p.keep) && !setHorizon {
		return b, nil
	}
	p.changed = true
	if kept == 0 {
		if keepEmpty {
			return p.emptyBatch(h)
		}
		return nil, nil
	}
	return p.rebuild(b, h, hasHorizon || setHorizon, horizon)
}

// retain is Kafka's Cleaner.shouldRetainRecord.
func (p *cleanPass) retain(h *record.Header, r *record.Record, hasHorizon bool, horizon int64) bool {
	off := h.BaseOffset + int64(r.OffsetDelta)
	if off >= p.mapEnd {
		return true // not mapped: a later clean decides
	}
	if r.Key == nil {
		return false // a compacted log has no use for records without keys
	}
	if off < p.om.get(r.Key) {
		return false // the key has a later record
	}
	if r.Value == nil {
		return !hasHorizon || p.nowMs < horizon
	}
	return true
}

// rebuild returns b with only the records p.keep marks, its header fields
// kept, and the delete horizon stamped when withHorizon.
func (p *cleanPass) rebuild(b []byte, h *record.Header, withHorizon bool, horizon int64) ([]byte, error) {
	bld := p.header(h, h.Codec())
	base := h.BaseTimestamp
	if withHorizon {
		base = horizon
	}
	bld.SetBaseTimestamp(base)
	i := 0
	err := record.Iterate(b, func(r *record.Record) error {
		if i < len(p.keep) && p.keep[i] {
			c := *r
			c.TimestampDelta = h.BaseTimestamp + r.TimestampDelta - base
			bld.AddRecord(&c)
		}
		i++
		return nil
	})
	if err != nil {
		return nil, err
	}
	out, err := bld.Build(p.out[:0])
	if err != nil {
		return nil, err
	}
	p.out = out
	if withHorizon {
		setDeleteHorizonAttr(out)
	}
	return out, nil
}

// emptyBatch returns a batch with h's offsets and producer fields and no
// records, as Kafka writes for a producer's emptied last batch.
func (p *cleanPass) emptyBatch(h *record.Header) ([]byte, error) {
	bld := p.header(h, record.CodecNone)
	bld.SetBaseTimestamp(h.MaxTimestamp)
	out, err := bld.Build(p.out[:0])
	if err != nil {
		return nil, err
	}
	p.out = out
	tt := record.CreateTime
	if h.LogAppendTime() {
		tt = record.LogAppendTime
	}
	record.SetMaxTimestamp(out, tt, h.MaxTimestamp)
	return out, nil
}

// header readies the builder for a batch with h's header fields.
func (p *cleanPass) header(h *record.Header, codec record.Codec) *record.Builder {
	bld := p.bld
	bld.Reset(codec)
	bld.SetBaseOffset(h.BaseOffset).
		SetPartitionLeaderEpoch(h.PartitionLeaderEpoch).
		SetProducer(h.ProducerID, h.ProducerEpoch, h.BaseSequence).
		SetTransactional(h.Transactional()).
		SetControl(h.Control()).
		SetLastOffsetDelta(h.LastOffsetDelta)
	if h.LogAppendTime() {
		bld.SetLogAppendTime(h.MaxTimestamp)
	}
	return bld
}

// setDeleteHorizonAttr sets the delete-horizon attribute of a whole batch
// whose baseTimestamp holds the horizon, and recomputes its CRC.
func setDeleteHorizonAttr(b []byte) {
	b[offAttributes+1] |= attrDeleteHorizon
	record.SetCRC(b)
}

func satAddMs(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// swap puts a cleaned segment in place of group, as Kafka's
// replaceSegments, under the writer lock so that no truncation, roll or
// log start change interleaves:
//
//	<base>.{index,timeindex,txnindex,log}.cleaned -> .swap   (the .log last: the commit point)
//	every file of every segment of group           -> *.deleted
//	<base>.{index,timeindex,txnindex,log}.swap    -> final name (the .log last)
//	fsync the directory
//
// A .txnindex is there only when the cleaned segment keeps an abort marker.
// The directory's entries reach the disk in the order they changed (a
// crash keeps a prefix of the changes since the last directory sync), so a
// crash before the .log's .swap rename leaves the old segments whole, and
// one after it leaves a .swap that recovery completes (cleaner_recover.go).
// Once the commit point is passed, an error fails the log: memory and disk
// disagree until recovery sorts it out at the next open.
func (p *cleanPass) swap(group []*segment, cs *cleanedSegment, gen uint64) error {
	l := p.l
	fsys := p.c.m.fs
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.usable() != nil || l.generation() != gen {
		return errCleanAborted
	}
	l.segMu.RLock()
	at := -1
	for i, s := range l.segs {
		if s == group[0] {
			at = i
			break
		}
	}
	same := at >= 0 && at+len(group) < len(l.segs)
	for i := 0; same && i < len(group); i++ {
		same = l.segs[at+i] == group[i] && !group[i].deleted.Load()
	}
	l.segMu.RUnlock()
	if !same {
		return errCleanAborted // retention, DeleteRecords or a truncation took some away
	}
	// Readers that hold an old segment go on through open files: its
	// *.deleted names may be taken over by a later clean of the same base.
	for _, s := range group {
		if _, err := s.logFile(); err != nil {
			return err
		}
		if _, _, _, err := s.indexFiles(); err != nil {
			return err
		}
	}
	suffixes := []string{indexSuffix, timeIndexSuffix, logSuffix}
	if len(cs.txns) > 0 {
		suffixes = []string{indexSuffix, timeIndexSuffix, txnIndexSuffix, logSuffix}
	}
	for _, suf := range suffixes {
		if err := fsys.Rename(cs.name(suf, cleanedSuffix), cs.name(suf, swapSuffix)); err != nil {
			// Not committed: the old segments stand.
			return fmt.Errorf("swap in cleaned segment %d: %w", cs.base, err)
		}
	}
	var errs []error
	for _, s := range group {
		if err := s.renameForDeletion(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, suf := range suffixes {
		if err := fsys.Rename(cs.name(suf, swapSuffix), cs.name(suf, "")); err != nil {
			errs = append(errs, err)
		}
	}
	if err := fsys.SyncDir(cs.dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		l.fail(fmt.Errorf("swap in cleaned segment %d: %w", cs.base, err))
		return storageErr("swap in cleaned segment of", l.tp, err)
	}
	ns := newSegment(l, cs.dir, cs.base)
	ns.size.Store(cs.size)
	ns.checked = true
	ns.idxN, ns.tidxN = len(cs.ib.idx), len(cs.ib.tidx)
	ns.maxTs, ns.maxTsOff, ns.maxTsKnown = cs.ib.maxTs, cs.ib.maxTsOff, true
	ns.created = p.nowMs
	ns.txns = cs.txns
	ns.txnWritten, ns.txnSynced = len(cs.txns), len(cs.txns)
	l.segMu.Lock()
	segs := make([]*segment, 0, len(l.segs)-len(group)+1)
	segs = append(segs, l.segs[:at]...)
	segs = append(segs, ns)
	segs = append(segs, l.segs[at+len(group):]...)
	l.segs = segs
	l.segMu.Unlock()
	for _, s := range group {
		s.fmu.Lock()
		s.active = false
		s.fmu.Unlock()
		s.markDeleted()
	}
	// Producer snapshots below the active segment that mark no segment's
	// base (those of merged-away segments) are stray, as Kafka's
	// removeStraySnapshots has it; the newest ones, from the active
	// segment's base on, stay. So are those up to a transaction marker the
	// clean dropped: one may hold the transaction open, and a recovery
	// replaying from it would find no marker to close it.
	bases := map[int64]bool{}
	l.segMu.RLock()
	for _, s := range l.segs {
		bases[s.base] = true
	}
	activeBase := l.segs[len(l.segs)-1].base
	l.segMu.RUnlock()
	l.snapMu.Lock()
	err := producerstate.DeleteSnapshots(fsys, cs.dir, func(off int64) bool {
		return off < activeBase && (!bases[off] || off <= cs.droppedMarker)
	})
	l.snapMu.Unlock()
	if err != nil {
		l.logger.Warn("delete producer snapshots of cleaned segments", "err", err)
	}
	return nil
}

// batchReader reads a segment's batches in order through a buffer of
// log.cleaner.io.buffer.size (grown for a larger batch), throttled.
type batchReader struct {
	f        vfs.File
	pos, end int64
	buf      []byte
	bufOff   int64
	n        int
	valid    bool
	p        *cleanPass
}

// next returns the next whole batch and its position, or nil at the end.
// The bytes are valid until the next call.
func (r *batchReader) next() ([]byte, int64, error) {
	if r.pos >= r.end {
		return nil, 0, nil
	}
	if r.end-r.pos < record.HeaderSize {
		return nil, 0, fmt.Errorf("%w: %d bytes left at %d", errBadBatch, r.end-r.pos, r.pos)
	}
	hb, err := r.window(r.pos, record.LogOverhead)
	if err != nil {
		return nil, 0, err
	}
	size, err := record.BatchSize(hb)
	if err != nil || size < record.HeaderSize || int64(size) > r.end-r.pos {
		return nil, 0, fmt.Errorf("%w: batch at %d", errBadBatch, r.pos)
	}
	b, err := r.window(r.pos, size)
	if err != nil {
		return nil, 0, err
	}
	pos := r.pos
	r.pos += int64(size)
	return b, pos, nil
}

func (r *batchReader) window(off int64, n int) ([]byte, error) {
	if r.valid && off >= r.bufOff && off+int64(n) <= r.bufOff+int64(r.n) {
		i := int(off - r.bufOff)
		return r.buf[i : i+n], nil
	}
	want := int(min(int64(max(n, len(r.buf))), r.end-off))
	if want > len(r.buf) {
		r.buf = make([]byte, want)
		r.p.buf = r.buf
	}
	m, err := r.f.ReadAt(r.buf[:want], off)
	if m < want {
		r.valid = false
		if err == nil || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: file ends at %d", errBadBatch, off+int64(m))
		}
		return nil, err
	}
	r.bufOff, r.n, r.valid = off, m, true
	r.p.stats.BytesRead += int64(m)
	if err := r.p.c.throttle.take(r.p.ctx, m); err != nil {
		return nil, err
	}
	return r.buf[:n], nil
}

// batchWriter appends to a cleaned segment's .log through a buffer,
// throttled.
type batchWriter struct {
	f   vfs.File
	off int64 // bytes flushed
	buf []byte
	p   *cleanPass
}

// pos is where the next write lands.
func (w *batchWriter) pos() int64 { return w.off + int64(len(w.buf)) }

func (w *batchWriter) write(b []byte) error {
	if len(w.buf)+len(b) > cap(w.buf) {
		if err := w.flush(); err != nil {
			return err
		}
	}
	if len(b) > cap(w.buf) {
		return w.writeAt(b)
	}
	w.buf = append(w.buf, b...)
	return nil
}

func (w *batchWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.writeAt(w.buf)
	w.buf = w.buf[:0]
	return err
}

func (w *batchWriter) writeAt(b []byte) error {
	if _, err := w.f.WriteAt(b, w.off); err != nil {
		return fmt.Errorf("write cleaned segment: %w", err)
	}
	w.off += int64(len(b))
	return w.p.c.throttle.take(w.p.ctx, len(b))
}
