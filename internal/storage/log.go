// Package storage is Sluice's partition log: Kafka's UnifiedLog, LocalLog,
// LogSegment and LogManager in Sluice's shape.
//
// A partition is a directory <log dir>/<topic>-<partition>/ of segments:
// <base offset, 20 digits>.log holds record batches byte for byte as they
// were appended (offsets and leader epoch patched in place), with a sparse
// .index and a .timeindex beside it (and a .txnindex listing the aborted
// transactions whose markers it holds), producer-state .snapshot files and a
// leader-epoch-checkpoint. Each log directory holds Kafka's checkpoint
// files (recovery point, log start offset, high watermark) and, between a
// clean shutdown and the next open, .kafka_cleanshutdown.
//
// One writer at a time appends to a log (its mutex); readers go without it:
// a batch becomes visible only once wholly written, by publishing the
// segment size and the log end offset after the write. Readers take a
// reference on the segment they read, so that truncation, retention and
// deletion never remove a file under a reader.
//
// Durability follows Kafka's flush.messages and flush.ms, plus durable mode
// (flush.messages=1) in which the produce path waits for an fsync shared by
// every append waiting at the same time (group commit). After an unclean
// stop, recovery scans only from the recovery point, checks every batch's
// CRC, truncates at the first torn or corrupt batch and rebuilds the indexes
// it scanned.
package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/producerstate"
	"github.com/sluicehq/sluice/internal/record"
)

// maxRelativeOffset is the largest offset delta an index entry can hold; a
// batch beyond it rolls the segment.
const maxRelativeOffset = math.MaxInt32

// ErrClosed is returned by a closed (or deleted) log.
var ErrClosed = errors.New("storage: log closed")

// AppendResult is what an append assigned.
type AppendResult struct {
	BaseOffset int64
	LastOffset int64
	// LogAppendTime is the broker time stamped on the batch under
	// LogAppendTime, else -1.
	LogAppendTime  int64
	LogStartOffset int64
	// Duplicate is set when the batch was a producer's retry of a batch
	// already in the log: nothing was appended and the offsets are the
	// original ones.
	Duplicate bool
}

// Log is one partition's log.
type Log struct {
	m      *Manager
	logger *slog.Logger
	tp     TopicPartition
	root   string // the log directory holding the partition directory
	dirp   atomic.Pointer[string]
	tid    atomic.Pointer[[16]byte]
	cfg    atomic.Pointer[logConfig]

	// mu is the writer lock: appends, rolls, truncation, log start changes.
	mu sync.Mutex
	ps *producerstate.State // under mu
	// snapGen changes when truncation invalidates snapshots being written
	// by roll finishers; under snapMu.
	snapMu  sync.Mutex
	snapGen uint64

	// segMu guards segs for readers; writers change it holding mu too.
	segMu  sync.RWMutex
	segs   []*segment
	active atomic.Pointer[segment]

	leo           atomic.Int64 // published log end offset
	fuo           atomic.Int64 // first unstable offset: the oldest open transaction's first offset, MaxInt64 for none (txnindex.go)
	logStart      atomic.Int64
	hw            atomic.Int64
	recoveryPoint atomic.Int64 // below it data is durable, and so are the indexes of every segment before the one holding offset recoveryPoint-1
	flushed       atomic.Int64 // below it: .log data durable

	epochs epochCache

	// Flush state, under fmu.
	fmu       sync.Mutex
	flushing  bool
	flushWant int64
	flushCh   chan struct{} // closed when a flush completes
	dirDirty  bool          // a segment file was created since the last directory sync
	pending   []*segment    // rolled segments whose indexes are not durable yet
	gen       uint64        // bumped by truncation: in-flight flushes must not count
	lastFlush atomic.Int64  // ms of the last completed flush

	failed atomic.Pointer[error] // sticky IO failure: the log refuses writes

	hwCh  atomic.Pointer[chan struct{}]
	leoCh atomic.Pointer[chan struct{}]

	finishers  sync.WaitGroup // roll finishers in flight
	closed     atomic.Bool
	deletedDir atomic.Bool // Manager.Delete renamed the directory away

	// createUnsynced is set on a log that GetOrCreate made and whose
	// creation is not durable yet (create.go); createMu serialises the
	// syncs that clear it.
	createUnsynced atomic.Bool
	createMu       sync.Mutex
}

func newLog(m *Manager, root string, tp TopicPartition, topicID [16]byte, cfg *logConfig) *Log {
	l := &Log{m: m, root: root, tp: tp, logger: m.logger.With("topic", tp.Topic, "partition", tp.Partition)}
	dir := filepath.Join(root, tp.String())
	l.dirp.Store(&dir)
	l.tid.Store(&topicID)
	l.cfg.Store(cfg)
	l.flushCh = make(chan struct{})
	l.ps = producerstate.New()
	l.fuo.Store(math.MaxInt64)
	l.lastFlush.Store(m.now().UnixMilli())
	return l
}

// Dir is the partition's directory.
func (l *Log) Dir() string { return *l.dirp.Load() }

// TopicPartition names the log's partition.
func (l *Log) TopicPartition() TopicPartition { return l.tp }

// TopicID is the topic's ID, as stored in partition.metadata.
func (l *Log) TopicID() [16]byte { return *l.tid.Load() }

// Config returns the log's current config.
func (l *Log) Config() Config { return l.cfg.Load().Config }

func (l *Log) config() *logConfig { return l.cfg.Load() }

// SetConfig changes the log's topic config; it applies to later appends
// and rolls.
func (l *Log) SetConfig(c Config) error {
	lc, err := newLogConfig(c)
	if err != nil {
		return fmt.Errorf("config of %s: %w", l.tp, err)
	}
	l.cfg.Store(lc)
	return nil
}

// LogStartOffset is the first offset a reader may ask for.
func (l *Log) LogStartOffset() int64 { return l.logStart.Load() }

// LogEndOffset is the offset the next batch will get.
func (l *Log) LogEndOffset() int64 { return l.leo.Load() }

// HighWatermark is the offset below which records are committed.
func (l *Log) HighWatermark() int64 { return l.hw.Load() }

// RecoveryPoint is the offset below which the log and its indexes are
// durable: recovery after a crash starts from its segment.
func (l *Log) RecoveryPoint() int64 { return l.recoveryPoint.Load() }

// FlushedOffset is the offset below which every byte of the log is fsynced.
func (l *Log) FlushedOffset() int64 { return l.flushed.Load() }

// SetHighWatermark sets the high watermark, clamped to [log start, log
// end], wakes Wait()ers if it advanced; the Manager checkpoints it.
func (l *Log) SetHighWatermark(o int64) {
	o = max(o, l.logStart.Load())
	o = min(o, l.leo.Load())
	if old := l.hw.Swap(o); o > old {
		notify(&l.hwCh)
	}
}

// Wait returns a channel closed the next time the high watermark advances.
// Take it before reading the high watermark, so that no advance is missed.
func (l *Log) Wait() <-chan struct{} { return waitChan(&l.hwCh) }

// WaitAppend returns a channel closed the next time the log end offset
// advances (for replica fetches, which read past the high watermark).
func (l *Log) WaitAppend() <-chan struct{} { return waitChan(&l.leoCh) }

func waitChan(p *atomic.Pointer[chan struct{}]) <-chan struct{} {
	for {
		if c := p.Load(); c != nil {
			return *c
		}
		c := make(chan struct{})
		if p.CompareAndSwap(nil, &c) {
			return c
		}
	}
}

// notify closes the waiters' channel if anyone took one; free otherwise.
func notify(p *atomic.Pointer[chan struct{}]) {
	if c := p.Load(); c != nil && p.CompareAndSwap(c, nil) {
		close(*c)
	}
}

// ProducerState runs fn with the log's producer state under the writer
// lock (for InitProducerId, DescribeProducers, transaction bookkeeping).
// fn must not keep the state.
func (l *Log) ProducerState(fn func(*producerstate.State)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn(l.ps)
	l.refreshUnstableLocked()
}

// LeaderEpochs returns a copy of the leader epoch cache.
func (l *Log) LeaderEpochs() []EpochEntry { return l.epochs.snapshot() }

// LatestEpoch returns the latest leader epoch that wrote to the log.
func (l *Log) LatestEpoch() (int32, bool) {
	e, ok := l.epochs.latest()
	return e.Epoch, ok
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch: the end offset of epoch
// (the start of the next higher epoch, or the log end for the latest) and
// the epoch it belongs to; (-1, -1) when unknown.
func (l *Log) EndOffsetForEpoch(epoch int32) (leaderEpoch int32, endOffset int64) {
	return l.epochs.endOffsetFor(epoch, l.leo.Load())
}

func (l *Log) usable() error {
	if l.closed.Load() {
		return fmt.Errorf("%s: %w: %w", l.tp, ErrClosed, kerr.NotLeaderForPartition)
	}
	if p := l.failed.Load(); p != nil {
		return fmt.Errorf("%s: %w: %w", l.tp, kerr.KafkaStorageError, *p)
	}
	return nil
}

// fail records an IO failure: after a failed fsync or a write that could
// not be undone, the log's files cannot be trusted until recovery.
func (l *Log) fail(err error) {
	if l.failed.CompareAndSwap(nil, &err) {
		l.logger.Error("log failed; it refuses writes until reopened", "err", err)
	}
}

func storageErr(op string, tp TopicPartition, err error) error {
	return fmt.Errorf("%s %s: %w: %w", op, tp, kerr.KafkaStorageError, err)
}

// Append validates one v2 batch from a producer, checks it against the
// producer state, assigns its offsets and the leader epoch in place and
// appends it. Validation (and any recompression) happens before the writer
// lock is taken. On error the log is unchanged; errors wrap a *kerr.Error.
// In durable mode the caller must WaitFlushed(LastOffset+1) before it
// acknowledges.
func (l *Log) Append(batch []byte, leaderEpoch int32) (AppendResult, error) {
	lc := l.config()
	now := l.m.now()
	vc := lc.validate
	vc.Now = now.UnixMilli()
	b, info, err := record.Prepare(batch, vc)
	if err != nil {
		return AppendResult{}, fmt.Errorf("append to %s: %w", l.tp, err)
	}
	h, err := record.ParseHeader(b)
	if err != nil {
		return AppendResult{}, fmt.Errorf("append to %s: %w: %v", l.tp, kerr.CorruptMessage, err)
	}
	appendTime := int64(-1)
	if info.TimestampType == record.LogAppendTime {
		appendTime = vc.Now
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return AppendResult{}, err
	}
	dup, err := l.ps.Check(&h)
	if err != nil {
		return AppendResult{}, fmt.Errorf("append to %s: %w", l.tp, err)
	}
	if dup != nil {
		res := AppendResult{BaseOffset: dup.FirstOffset, LastOffset: dup.LastOffset, LogAppendTime: -1,
			LogStartOffset: l.logStart.Load(), Duplicate: true}
		if appendTime >= 0 {
			res.LogAppendTime = dup.MaxTimestamp
		}
		return res, nil
	}
	base := l.leo.Load()
	record.SetBaseOffset(b, base)
	record.SetPartitionLeaderEpoch(b, leaderEpoch)
	h.BaseOffset, h.PartitionLeaderEpoch = base, leaderEpoch
	if err := l.appendLocked(b, &h, lc, now); err != nil {
		return AppendResult{}, err
	}
	l.maybeFlushLocked(lc)
	return AppendResult{BaseOffset: base, LastOffset: h.LastOffset(), LogAppendTime: appendTime,
		LogStartOffset: l.logStart.Load()}, nil
}

// AppendReplicated appends batches whose offsets the leader assigned (the
// follower path): each is checked for framing and CRC and must start above
// the log end. Producer state and the epoch cache follow the batches. A
// refused batch leaves the log untouched; an IO error part way may leave
// the batches before it appended.
func (l *Log) AppendReplicated(batches []byte) error {
	type item struct {
		b []byte
		h record.Header
	}
	var items []item
	for rest := batches; len(rest) > 0; {
		b, r, ok, err := record.NextBatch(rest)
		if err != nil {
			return fmt.Errorf("replicate to %s: %w", l.tp, err)
		}
		if !ok {
			return fmt.Errorf("replicate to %s: %w: trailing partial batch of %d bytes", l.tp, kerr.CorruptMessage, len(rest))
		}
		h, err := record.ParseHeader(b)
		if err != nil {
			return fmt.Errorf("replicate to %s: %w: %v", l.tp, kerr.CorruptMessage, err)
		}
		if !record.CheckCRC(b) {
			return fmt.Errorf("replicate to %s: %w: CRC mismatch at offset %d", l.tp, kerr.CorruptMessage, h.BaseOffset)
		}
		if h.LastOffsetDelta < 0 || h.NumRecords < 0 {
			return fmt.Errorf("replicate to %s: %w: bad offsets in batch at %d", l.tp, kerr.CorruptMessage, h.BaseOffset)
		}
		if n := len(items); n > 0 && h.BaseOffset <= items[n-1].h.LastOffset() {
			return fmt.Errorf("replicate to %s: %w: batch at %d does not follow %d", l.tp, kerr.InvalidRecord, h.BaseOffset, items[n-1].h.LastOffset())
		}
		items = append(items, item{b, h})
		rest = r
	}
	if len(items) == 0 {
		return nil
	}
	lc := l.config()
	now := l.m.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if leo := l.leo.Load(); items[0].h.BaseOffset < leo {
		return fmt.Errorf("replicate to %s: %w: batch at %d is below the log end %d", l.tp, kerr.InvalidRecord, items[0].h.BaseOffset, leo)
	}
	for i := range items {
		if err := l.appendLocked(items[i].b, &items[i].h, lc, now); err != nil {
			// An IO error: the batches before this one are in the log.
			return err
		}
	}
	l.maybeFlushLocked(lc)
	return nil
}

// appendLocked writes one batch with assigned offsets to the active
// segment, rolling first if needed, applies it to the producer state, and
// publishes it.
//
// Applying comes before publishing: readers of the log end, the high
// watermark and the first unstable offset take no lock, and a follower may
// fetch a batch (and so move the high watermark past it) the moment the log
// end covers it. Were its transaction not yet open in the producer state
// then, the last stable offset would pass over a batch whose transaction is
// undecided, and a read_committed fetch would return it before its commit.
func (l *Log) appendLocked(b []byte, h *record.Header, lc *logConfig, now time.Time) error {
	var added *EpochEntry
	if h.PartitionLeaderEpoch >= 0 {
		if latest, ok := l.epochs.latest(); !ok || h.PartitionLeaderEpoch > latest.Epoch {
			e := EpochEntry{Epoch: h.PartitionLeaderEpoch, StartOffset: h.BaseOffset}
			l.epochs.assign(e.Epoch, e.StartOffset)
			if err := l.writeEpochCheckpoint(); err != nil {
				l.epochs.unassign(e)
				return storageErr("append to", l.tp, err)
			}
			added = &e
		}
	}
	undoEpoch := func() {
		if added != nil {
			l.epochs.unassign(*added)
			if err := l.writeEpochCheckpoint(); err != nil {
				l.fail(err)
			}
		}
	}
	seg := l.active.Load()
	if l.shouldRoll(seg, len(b), h, lc, now) {
		// A new segment starts at the log end, even when a replicated batch
		// leaves a gap, so that every segment's base is its predecessor's
		// end: recovery relies on it to spot a lost segment tail.
		newBase := l.leo.Load()
		if h.LastOffset()-newBase > maxRelativeOffset {
			newBase = h.BaseOffset
		}
		ns, err := l.rollLocked(newBase, now)
		if err != nil {
			undoEpoch()
			return storageErr("roll", l.tp, err)
		}
		seg = ns
	}
	pos := seg.size.Load()
	if _, err := seg.logF.WriteAt(b, pos); err != nil {
		// Take back whatever part of the batch reached the file.
		if terr := seg.logF.Truncate(pos); terr != nil {
			l.fail(fmt.Errorf("undo a failed write: %w", terr))
		}
		undoEpoch()
		return storageErr("append to", l.tp, err)
	}
	seg.imu.Lock()
	seg.ib.interval = int64(lc.IndexIntervalBytes) // the topic's, also for a segment loaded before it was known
	seg.ib.add(h.LastOffset(), h.MaxTimestamp, pos, len(b))
	seg.imu.Unlock()
	seg.size.Store(pos + int64(len(b)))
	l.applyLocked(h, b)
	l.leo.Store(h.LastOffset() + 1)
	notify(&l.leoCh)
	return nil
}

// shouldRoll applies Kafka's roll rules to the batch about to be appended.
func (l *Log) shouldRoll(seg *segment, n int, h *record.Header, lc *logConfig, now time.Time) bool {
	if h.LastOffset()-seg.base > maxRelativeOffset {
		return true
	}
	size := seg.size.Load()
	if size == 0 {
		return false
	}
	if size > lc.SegmentBytes-int64(n) {
		return true
	}
	if len(seg.ib.idx) >= lc.SegmentIndexBytes/offsetEntrySize || len(seg.ib.tidx) >= lc.SegmentIndexBytes/timeEntrySize {
		return true
	}
	var waited int64
	if seg.ib.firstTs >= 0 {
		waited = h.MaxTimestamp - seg.ib.firstTs
	} else {
		waited = now.UnixMilli() - seg.created
	}
	return waited > lc.maxSegmentMs()-seg.jitter
}

// createSegment creates an empty active segment's .log at base.
func (l *Log) createSegment(base int64, now time.Time) (*segment, error) {
	s := newSegment(l, l.Dir(), base)
	f, err := l.m.fs.OpenFile(s.path(logSuffix), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment %s: %w", s.path(logSuffix), err)
	}
	s.logF = f
	s.active = true
	s.memIndex = true
	s.ib = newIndexBuilder(base, l.config().IndexIntervalBytes)
	s.created = now.UnixMilli()
	if j := l.config().SegmentJitterMs; j > 0 {
		s.jitter = rand.Int64N(j)
	}
	s.checked = true
	return s, nil
}

// rollLocked makes a new active segment at newBase. The old one's data and
// indexes are made durable, and a producer-state snapshot is written at
// newBase, by a finisher goroutine, off the append path.
func (l *Log) rollLocked(newBase int64, now time.Time) (*segment, error) {
	old := l.active.Load()
	if old.size.Load() == 0 && old.base == newBase {
		return old, nil
	}
	ns, err := l.createSegment(newBase, now)
	if err != nil {
		return nil, err
	}
	old.imu.Lock()
	old.ib.finish()
	old.imu.Unlock()

	l.fmu.Lock()
	l.pending = append(l.pending, old)
	l.dirDirty = true
	l.fmu.Unlock()
	l.segMu.Lock()
	l.segs = append(l.segs, ns)
	l.segMu.Unlock()
	l.active.Store(ns)

	old.fmu.Lock()
	old.active = false
	if old.logF != nil {
		l.m.lru.touch(old)
	}
	old.fmu.Unlock()
	l.m.lru.evict()

	snap := l.ps.Clone()
	l.snapMu.Lock()
	gen := l.snapGen
	l.snapMu.Unlock()
	old.ref()
	l.finishers.Add(1)
	go l.finishSegment(old, snap, newBase, gen)
	l.logger.Debug("rolled segment", "offset", newBase)
	return ns, nil
}

// finishSegment makes a rolled segment durable: its .log, its indexes
// (which then leave memory) and the directory entry of the new segment,
// then writes the producer snapshot at the new base.
func (l *Log) finishSegment(old *segment, snap *producerstate.State, newBase int64, gen uint64) {
	defer l.finishers.Done()
	defer old.release()
	if old.deleted.Load() {
		l.dropPending(old)
		return
	}
	err := old.syncLog()
	if err == nil {
		err = old.writePendingIndexes(true, true)
	}
	if err == nil {
		err = l.m.fs.SyncDir(l.Dir())
	}
	if err == nil {
		l.snapMu.Lock()
		if l.snapGen == gen && !l.closed.Load() {
			err = snap.WriteSnapshot(l.m.fs, l.Dir(), newBase)
		}
		l.snapMu.Unlock()
	}
	if err != nil {
		if old.deleted.Load() {
			l.dropPending(old)
			return
		}
		l.fail(fmt.Errorf("finish segment %d: %w", old.base, err))
		return
	}
	l.dropPending(old)
}

func (l *Log) dropPending(s *segment) {
	l.fmu.Lock()
	for i, p := range l.pending {
		if p == s {
			l.pending = append(l.pending[:i], l.pending[i+1:]...)
			break
		}
	}
	l.updateRecoveryPointLocked()
	l.fmu.Unlock()
}

// updateRecoveryPointLocked advances the recovery point to the flushed
// offset, but not past a rolled segment whose indexes are not durable yet.
// Under fmu.
func (l *Log) updateRecoveryPointLocked() {
	rp := l.flushed.Load()
	for _, s := range l.pending {
		rp = min(rp, s.base)
	}
	if rp > l.recoveryPoint.Load() {
		l.recoveryPoint.Store(rp)
	}
}

func (l *Log) writeEpochCheckpoint() error {
	return writeFileAtomic(l.m.fs, filepath.Join(l.Dir(), LeaderEpochCheckpointFile), encodeEpochCheckpoint(l.epochs.snapshot()))
}

// segmentsFrom returns, referenced, the segment that may hold offset and
// every later one. Release each.
func (l *Log) segmentAt(offset int64) *segment {
	l.segMu.RLock()
	defer l.segMu.RUnlock()
	if len(l.segs) == 0 {
		return nil
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset }) - 1
	i = max(i, 0)
	s := l.segs[i]
	s.ref()
	return s
}

// nextSegment returns, referenced, the segment after s, or nil.
func (l *Log) nextSegment(s *segment) *segment {
	l.segMu.RLock()
	defer l.segMu.RUnlock()
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > s.base })
	if i >= len(l.segs) {
		return nil
	}
	n := l.segs[i]
	n.ref()
	return n
}

// snapshotSegments returns the current segments, referenced.
func (l *Log) snapshotSegments() []*segment {
	l.segMu.RLock()
	defer l.segMu.RUnlock()
	out := make([]*segment, len(l.segs))
	copy(out, l.segs)
	for _, s := range out {
		s.ref()
	}
	return out
}

func releaseAll(segs []*segment) {
	for _, s := range segs {
		s.release()
	}
}

// NumSegments is the number of segments in the log.
func (l *Log) NumSegments() int {
	l.segMu.RLock()
	defer l.segMu.RUnlock()
	return len(l.segs)
}

// SegmentBaseOffsets lists the segments' base offsets.
func (l *Log) SegmentBaseOffsets() []int64 {
	l.segMu.RLock()
	defer l.segMu.RUnlock()
	out := make([]int64, len(l.segs))
	for i, s := range l.segs {
		out[i] = s.base
	}
	return out
}

// Size is the total size of the log's segments in bytes.
func (l *Log) Size() int64 {
	l.segMu.RLock()
	defer l.segMu.RUnlock()
	var n int64
	for _, s := range l.segs {
		n += s.size.Load()
	}
	return n
}

// AdvanceLogStartOffset moves the log start offset up to o (DeleteRecords,
// or a follower following its leader) and removes the segments entirely
// below it. The high watermark is raised to it if below. It fails with
// OFFSET_OUT_OF_RANGE past the log end.
func (l *Log) AdvanceLogStartOffset(o int64) error {
	l.mu.Lock()
	err := l.advanceLogStartLocked(o)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	// DeleteRecords is acknowledged: make the new start survive a crash.
	return l.m.writeDirCheckpoint(l.root, LogStartCheckpointFile)
}

func (l *Log) advanceLogStartLocked(o int64) error {
	if err := l.usable(); err != nil {
		return err
	}
	if o <= l.logStart.Load() {
		return nil
	}
	if leo := l.leo.Load(); o > leo {
		return fmt.Errorf("advance log start of %s to %d past the log end %d: %w", l.tp, o, leo, kerr.OffsetOutOfRange)
	}
	l.logStart.Store(o)
	if l.hw.Load() < o {
		l.SetHighWatermark(o)
	}
	if l.epochs.truncateFromStart(o) {
		if err := l.writeEpochCheckpoint(); err != nil {
			l.fail(err)
			return storageErr("advance log start of", l.tp, err)
		}
	}
	// Segments whose successor starts at or below o hold nothing readable.
	l.segMu.Lock()
	n := 0
	for n+1 < len(l.segs) && l.segs[n+1].base <= o {
		n++
	}
	removed := append([]*segment(nil), l.segs[:n]...)
	l.segs = append(l.segs[:0:0], l.segs[n:]...)
	first := l.segs[0].base
	l.segMu.Unlock()
	if err := l.removeSegments(removed); err != nil {
		return err
	}
	if len(removed) > 0 {
		if err := producerstate.DeleteSnapshots(l.m.fs, l.Dir(), func(off int64) bool { return off < first }); err != nil {
			l.logger.Warn("delete old producer snapshots", "err", err)
		}
	}
	return nil
}

// removeSegments takes segments that have left l.segs out of service:
// renamed *.deleted (durably), then removed once no reader holds them.
func (l *Log) removeSegments(removed []*segment) error {
	if len(removed) == 0 {
		return nil
	}
	var errs []error
	for _, s := range removed {
		if err := s.renameForDeletion(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := l.m.fs.SyncDir(l.Dir()); err != nil {
		errs = append(errs, err)
	}
	l.fmu.Lock()
	for _, s := range removed {
		for i, p := range l.pending {
			if p == s {
				l.pending = append(l.pending[:i], l.pending[i+1:]...)
				break
			}
		}
	}
	l.fmu.Unlock()
	for _, s := range removed {
		s.fmu.Lock()
		s.active = false
		s.fmu.Unlock()
		s.markDeleted()
	}
	if err := errors.Join(errs...); err != nil {
		l.fail(err)
		return storageErr("remove segments of", l.tp, err)
	}
	return nil
}

// TruncateTo removes every batch at and after offset o (a follower after a
// leader change). Truncation happens at batch boundaries: the batch holding
// o goes entirely. The producer state is rebuilt and the epoch cache
// trimmed. A reader holding a region of a truncated segment may find it
// shorter than promised (ReadResult.Bytes then fails), as in Kafka.
func (l *Log) TruncateTo(o int64) error {
	l.mu.Lock()
	if err := l.usable(); err != nil {
		l.mu.Unlock()
		return err
	}
	if o >= l.leo.Load() {
		l.mu.Unlock()
		return nil
	}
	l.finishers.Wait()
	l.segMu.RLock()
	firstBase := l.segs[0].base
	l.segMu.RUnlock()
	var err error
	if o <= firstBase {
		err = l.truncateFullyLocked(o)
	} else if err = l.truncateLocked(o); err != nil {
		l.fail(err)
		err = storageErr("truncate", l.tp, err)
	}
	l.mu.Unlock()
	if err != nil {
		return err
	}
	return l.checkpointAfterTruncation()
}

// checkpointAfterTruncation writes the directory's recovery points at
// once: the checkpointed one may lie above the new log end, and appends
// after the truncation must not be taken for durable data by a recovery.
func (l *Log) checkpointAfterTruncation() error {
	if err := l.m.writeDirCheckpoint(l.root, RecoveryPointCheckpointFile); err != nil {
		return storageErr("truncate", l.tp, err)
	}
	return nil
}

// TruncateFullyAndStartAt empties the log and restarts it at offset o (a
// follower whose leader's log starts above its end).
func (l *Log) TruncateFullyAndStartAt(o int64) error {
	l.mu.Lock()
	if err := l.usable(); err != nil {
		l.mu.Unlock()
		return err
	}
	l.finishers.Wait()
	err := l.truncateFullyLocked(o)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	if err := l.m.writeDirCheckpoint(l.root, LogStartCheckpointFile); err != nil {
		return storageErr("truncate", l.tp, err)
	}
	return l.checkpointAfterTruncation()
}

func (l *Log) truncateFullyLocked(o int64) error {
	l.bumpGenerations()
	l.segMu.Lock()
	removed := l.segs
	l.segs = nil
	l.segMu.Unlock()
	// Rename the old files away first: the new segment may reuse a name.
	if err := l.removeSegments(removed); err != nil {
		return err
	}
	ns, err := l.createSegment(o, l.m.now())
	if err != nil {
		l.fail(err)
		return storageErr("truncate", l.tp, err)
	}
	l.segMu.Lock()
	l.segs = []*segment{ns}
	l.segMu.Unlock()
	l.active.Store(ns)
	l.ps = producerstate.New()
	l.refreshUnstableLocked()
	l.snapMu.Lock()
	err = producerstate.DeleteSnapshots(l.m.fs, l.Dir(), func(int64) bool { return true })
	l.snapMu.Unlock()
	if err != nil {
		l.fail(err)
		return storageErr("truncate", l.tp, err)
	}
	l.epochs.clear()
	if err := l.writeEpochCheckpoint(); err != nil {
		l.fail(err)
		return storageErr("truncate", l.tp, err)
	}
	if err := l.m.fs.SyncDir(l.Dir()); err != nil {
		l.fail(err)
		return storageErr("truncate", l.tp, err)
	}
	l.leo.Store(o)
	l.logStart.Store(o)
	l.hw.Store(o)
	l.fmu.Lock()
	l.pending = nil
	l.dirDirty = false
	l.flushed.Store(o)
	l.recoveryPoint.Store(o)
	l.fmu.Unlock()
	return nil
}

// bumpGenerations invalidates in-flight flushes and snapshot writes.
func (l *Log) bumpGenerations() {
	l.snapMu.Lock()
	l.snapGen++
	l.snapMu.Unlock()
	l.fmu.Lock()
	l.gen++
	l.fmu.Unlock()
}

func (l *Log) truncateLocked(o int64) error {
	l.bumpGenerations()
	l.segMu.Lock()
	k := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base >= o })
	removed := append([]*segment(nil), l.segs[k:]...)
	target := l.segs[k-1]
	l.segMu.Unlock()

	// Find where the batch holding o starts in target.
	target.ref()
	defer target.release()
	f, err := target.logFile()
	if err != nil {
		return err
	}
	end := target.size.Load()
	b := newIndexBuilder(target.base, l.config().IndexIntervalBytes)
	sc := newBatchScanner(f, 0, end, false, 64<<10)
	var cut, newLEO int64
	found := false
	for sc.next() {
		if sc.h.LastOffset() >= o {
			cut, newLEO, found = sc.bpos, sc.h.BaseOffset, true
			break
		}
		b.add(sc.h.LastOffset(), sc.h.MaxTimestamp, sc.bpos, sc.bsize)
	}
	if !found {
		switch {
		case sc.err != nil && !errors.Is(sc.err, errBadBatch):
			return sc.err
		case sc.err != nil:
			cut, newLEO = sc.bpos, max(b.lastOff+1, target.base)
		default:
			// Every batch of target is below o (o falls in a gap): the log
			// ends after its last batch, so that the next segment's base
			// follows it.
			cut, newLEO = end, max(b.lastOff+1, target.base)
		}
	}
	b.finish()

	// Unpublish what goes first, so that new readers never look past the
	// cut: the segments above, the log end, the index entries. Readers in
	// flight on target learn of the truncation from its count.
	target.truncGen.Add(1)
	l.segMu.Lock()
	l.segs = l.segs[:k]
	l.segMu.Unlock()
	l.leo.Store(newLEO)
	if l.hw.Load() > newLEO {
		l.hw.Store(newLEO)
	}
	if l.logStart.Load() > newLEO {
		l.logStart.Store(newLEO)
	}
	target.wmu.Lock()
	target.imu.Lock()
	target.ib = b
	target.memIndex = true
	target.idxWritten, target.tidxWritten = len(b.idx), len(b.tidx)
	target.maxTsKnown = false
	kept := target.txns[:0]
	for _, e := range target.txns {
		if e.LastOffset < newLEO {
			kept = append(kept, e)
		}
	}
	txnsCut := len(kept) != len(target.txns)
	target.txns = kept
	target.imu.Unlock()
	target.wmu.Unlock()
	target.size.Store(cut)
	l.active.Store(target)

	// Then make target the active segment again: truncated, its indexes
	// rewritten in place (through the handles readers may hold), durably.
	target.fmu.Lock()
	l.m.lru.remove(target)
	target.active = true
	err = target.rewriteLocked(cut, b)
	target.fmu.Unlock()
	if err == nil && txnsCut {
		err = target.rewriteTxnIndex()
	}
	if err != nil {
		return fmt.Errorf("truncate segment %d: %w", target.base, err)
	}
	if err := l.removeSegments(removed); err != nil {
		return err
	}
	l.fmu.Lock()
	l.pending = nil
	l.flushed.Store(newLEO) // the truncated file was fsynced whole
	if l.recoveryPoint.Load() > newLEO {
		l.recoveryPoint.Store(newLEO)
	}
	l.fmu.Unlock()

	if l.epochs.truncateFromEnd(newLEO) {
		if err := l.writeEpochCheckpoint(); err != nil {
			return err
		}
	}
	l.snapMu.Lock()
	err = producerstate.DeleteSnapshots(l.m.fs, l.Dir(), func(off int64) bool { return off > newLEO })
	l.snapMu.Unlock()
	if err != nil {
		return err
	}
	return l.rebuildProducerStateLocked(newLEO)
}

// rebuildProducerStateLocked loads the newest snapshot at or below upTo and
// replays the batches between it and upTo.
func (l *Log) rebuildProducerStateLocked(upTo int64) error {
	ps, from, err := producerstate.Load(l.m.fs, l.Dir(), upTo)
	if err != nil {
		return err
	}
	if err := l.replayProducerState(ps, from, upTo); err != nil {
		return err
	}
	l.ps = ps
	l.refreshUnstableLocked()
	return nil
}

// replayProducerState applies to ps every batch with base offset in
// [from, upTo) (from < 0: from the log's start).
func (l *Log) replayProducerState(ps *producerstate.State, from, upTo int64) error {
	segs := l.snapshotSegments()
	defer releaseAll(segs)
	for i, s := range segs {
		if i+1 < len(segs) && segs[i+1].base <= from {
			continue
		}
		if s.base >= upTo {
			break
		}
		f, err := s.logFile()
		if err != nil {
			return err
		}
		pos := int64(0)
		if from > s.base {
			if pos, err = s.floorPosition(from); err != nil {
				return err
			}
		}
		end := s.size.Load()
		sc := newBatchScanner(f, pos, end, false, 64<<10)
		var buf []byte
		for sc.next() {
			if sc.h.BaseOffset >= upTo {
				break
			}
			if sc.h.BaseOffset < from {
				continue
			}
			if !sc.h.Control() {
				ps.Update(&sc.h)
				continue
			}
			// A marker: its record carries the coordinator epoch.
			if buf, err = readBatchAt(f, sc.bpos, end, buf); err != nil {
				if errors.Is(err, errBadBatch) {
					break
				}
				return err
			}
			applyBatch(ps, &sc.h, buf)
		}
		if sc.err != nil && !errors.Is(sc.err, errBadBatch) {
			return sc.err
		}
	}
	return nil
}

// Close flushes the log (data, indexes, a producer snapshot at the log
// end) and closes its files. The Manager's Close closes every log and then
// writes the clean-shutdown marker.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closeLocked()
}

func (l *Log) closeLocked() error {
	if l.closed.Load() {
		return nil
	}
	l.finishers.Wait()
	var errs []error
	if l.failed.Load() == nil {
		act := l.active.Load()
		act.imu.Lock()
		act.ib.finish()
		act.imu.Unlock()
		if err := act.writePendingIndexes(true, false); err != nil {
			errs = append(errs, err)
		}
		if err := l.WaitFlushed(context.Background(), l.leo.Load()); err != nil {
			errs = append(errs, err)
		}
		if err := l.syncCreation(); err != nil {
			errs = append(errs, err)
		}
		leo := l.leo.Load()
		l.snapMu.Lock()
		if err := l.ps.WriteSnapshot(l.m.fs, l.Dir(), leo); err != nil {
			errs = append(errs, err)
		}
		l.snapMu.Unlock()
		l.fmu.Lock()
		if len(errs) == 0 && len(l.pending) == 0 {
			l.recoveryPoint.Store(leo)
		}
		l.fmu.Unlock()
	} else {
		errs = append(errs, *l.failed.Load())
	}
	l.closed.Store(true)
	l.fmu.Lock()
	close(l.flushCh)
	l.flushCh = make(chan struct{})
	l.fmu.Unlock()
	l.segMu.RLock()
	for _, s := range l.segs {
		s.fmu.Lock()
		s.active = false
		if s.refs.Load() == 0 {
			s.closeFilesLocked()
		}
		s.fmu.Unlock()
	}
	l.segMu.RUnlock()
	notify(&l.hwCh)
	notify(&l.leoCh)
	return errors.Join(errs...)
}
