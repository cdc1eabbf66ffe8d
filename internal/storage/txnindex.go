package storage

// The aborted-transaction index: Kafka's TransactionIndex, one
// <base>.txnindex per segment, listing the transactions whose abort marker
// lies in that segment. A read_committed fetch needs the aborted
// transactions that overlap what it returns, so that the consumer can drop
// their records; finding them by scanning the log for markers would read
// far beyond the fetched range, since a transaction's marker can come long
// after its first record.
//
// Each entry, 34 bytes big-endian, as Kafka's:
//
//	version          int16  0
//	producerId       int64
//	firstOffset      int64  the transaction's first offset (its marker's own if it wrote nothing)
//	lastOffset       int64  the abort marker's offset
//	lastStableOffset int64  the last stable offset once the marker was written
//
// An entry is recorded whenever an abort marker enters the log: appended by
// the leader, replicated from it, or replayed by recovery, which rebuilds
// the index of every segment it scans. Entries live in memory beside the
// segment (aborts are rare) and reach the file as the offset index's do: at
// a flush, a roll (fsynced) and a clean shutdown; the active segment's file
// need not be durable, since recovery rebuilds it. Truncation trims the
// entries past the new log end, and a deleted segment takes its file along.
// The cleaner carries the entries of the markers it keeps into the segment
// it writes.
//
// The lastStableOffset of an entry bounds the search: no aborted
// transaction whose marker comes later can start below it, so a search for
// transactions starting below some offset stops at the first entry whose
// lastStableOffset reaches that offset.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/producerstate"
	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// AbortedTxn is an aborted transaction of one producer: its first offset
// and the offset of its abort marker.
type AbortedTxn struct {
	ProducerID, FirstOffset, LastOffset int64
}

// txnEntry is one entry of a .txnindex.
type txnEntry struct {
	AbortedTxn
	lso int64
}

const (
	txnEntrySize    = 34
	txnIndexVersion = 0
)

func appendTxnEntries(dst []byte, es []txnEntry) []byte {
	for _, e := range es {
		dst = binary.BigEndian.AppendUint16(dst, txnIndexVersion)
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.ProducerID))
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.FirstOffset))
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.LastOffset))
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.lso))
	}
	return dst
}

// decodeTxnIndex reads the entries of a .txnindex of the segment holding
// [base, end). It keeps the sound prefix: entries in marker order, each
// with a known version and offsets inside the segment; the first entry
// that is not (a torn tail, or damage) ends it, reported as errBadIndex
// beside the prefix.
func decodeTxnIndex(b []byte, base, end int64) ([]txnEntry, error) {
	var out []txnEntry
	last := int64(-1)
	for p := 0; p+txnEntrySize <= len(b); p += txnEntrySize {
		x := b[p : p+txnEntrySize]
		e := txnEntry{
			AbortedTxn: AbortedTxn{
				ProducerID:  int64(binary.BigEndian.Uint64(x[2:])),
				FirstOffset: int64(binary.BigEndian.Uint64(x[10:])),
				LastOffset:  int64(binary.BigEndian.Uint64(x[18:])),
			},
			lso: int64(binary.BigEndian.Uint64(x[26:])),
		}
		if v := int16(binary.BigEndian.Uint16(x)); v != txnIndexVersion {
			return out, fmt.Errorf("%w: transaction index entry %d has version %d", errBadIndex, p/txnEntrySize, v)
		}
		if e.LastOffset < base || e.LastOffset >= end || e.LastOffset <= last || e.FirstOffset > e.LastOffset || e.ProducerID < 0 {
			return out, fmt.Errorf("%w: transaction index entry %d (%+v) out of the segment [%d, %d) or out of order",
				errBadIndex, p/txnEntrySize, e.AbortedTxn, base, end)
		}
		last = e.LastOffset
		out = append(out, e)
	}
	if len(b)%txnEntrySize != 0 {
		return out, fmt.Errorf("%w: transaction index of %d bytes ends in a partial entry", errBadIndex, len(b))
	}
	return out, nil
}

// loadTxnIndex reads segment s's .txnindex, if it has one, into memory;
// end bounds the offsets its entries may hold. An unsound tail is dropped
// with a warning.
func (l *Log) loadTxnIndex(s *segment, end int64) error {
	name := s.path(txnIndexSuffix)
	f, err := l.m.fs.OpenFile(name, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	b := make([]byte, st.Size())
	if len(b) > 0 {
		if _, err := f.ReadAt(b, 0); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
	}
	es, err := decodeTxnIndex(b, s.base, end)
	if err != nil {
		l.logger.Warn("transaction index unsound; keeping its sound entries", "segment", s.base, "kept", len(es), "err", err)
	}
	s.imu.Lock()
	s.txns = es
	s.txnWritten, s.txnSynced = len(es), len(es)
	s.imu.Unlock()
	if err != nil {
		// Keep no unsound bytes under the name: later entries are appended
		// after the sound ones.
		return s.rewriteTxnIndex()
	}
	return nil
}

// writeTxnIndexFile replaces a segment's .txnindex with es, durably; with
// no entries it removes the file.
func writeTxnIndexFile(fsys vfs.FS, name string, es []txnEntry) error {
	if len(es) == 0 {
		if err := fsys.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", name, err)
		}
		return nil
	}
	f, err := writeIndexFile(fsys, name, appendTxnEntries(nil, es))
	if err != nil {
		return err
	}
	return f.Close()
}

// rewriteTxnIndex replaces the segment's .txnindex with its entries in
// memory, durably (after truncation or an unsound load).
func (s *segment) rewriteTxnIndex() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.imu.RLock()
	es := append([]txnEntry(nil), s.txns...)
	s.imu.RUnlock()
	if err := writeTxnIndexFile(s.l.m.fs, s.path(txnIndexSuffix), es); err != nil {
		return err
	}
	s.imu.Lock()
	s.txnWritten, s.txnSynced = len(es), len(es)
	s.imu.Unlock()
	return nil
}

// writePendingTxns writes the entries of s not yet in its .txnindex, and
// fsyncs the file if sync is set. The caller holds s.wmu.
func (s *segment) writePendingTxns(sync bool) error {
	s.imu.RLock()
	n, written, synced := len(s.txns), s.txnWritten, s.txnSynced
	pending := appendTxnEntries(nil, s.txns[written:])
	s.imu.RUnlock()
	if written == n && (!sync || synced == n) {
		return nil
	}
	flag := os.O_RDWR | os.O_CREATE
	if written == 0 {
		flag |= os.O_TRUNC // whatever an older file of the name holds is stale
	}
	s.fmu.Lock()
	name := s.path(txnIndexSuffix)
	s.fmu.Unlock()
	f, err := s.l.m.fs.OpenFile(name, flag, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	if len(pending) > 0 {
		if _, err := f.WriteAt(pending, int64(written)*txnEntrySize); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	if sync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", name, err)
		}
	}
	s.imu.Lock()
	s.txnWritten = n
	if sync {
		s.txnSynced = n
	}
	s.imu.Unlock()
	return nil
}

// addTxn records an aborted transaction whose marker s holds.
func (s *segment) addTxn(e txnEntry) {
	s.imu.Lock()
	s.txns = append(s.txns, e)
	s.imu.Unlock()
}

// txnsBelow returns a copy of the entries of s whose marker is below end.
func (s *segment) txnsBelow(end int64) []txnEntry {
	s.imu.RLock()
	defer s.imu.RUnlock()
	var out []txnEntry
	for _, e := range s.txns {
		if e.LastOffset < end {
			out = append(out, e)
		}
	}
	return out
}

// applyBatch applies a batch that is in the log (appended, replicated or
// replayed) to the producer state ps. For a transaction marker, b holds the
// whole batch (for its coordinator epoch); for an abort marker it returns
// the aborted transaction's index entry. A control batch that is not a
// transaction marker only moves its producer's state, as in Kafka.
func applyBatch(ps *producerstate.State, h *record.Header, b []byte) (txnEntry, bool) {
	if !h.Control() || !h.Idempotent() {
		ps.Update(h)
		return txnEntry{}, false
	}
	first := h.BaseOffset
	if e, ok := ps.Entry(h.ProducerID); ok && e.CurrentTxnFirstOffset >= 0 {
		first = e.CurrentTxnFirstOffset
	}
	ps.Update(h)
	commit, coordinatorEpoch, err := record.ParseControl(b)
	if err != nil {
		return txnEntry{}, false
	}
	ps.SetCoordinatorEpoch(h.ProducerID, coordinatorEpoch)
	if commit {
		return txnEntry{}, false
	}
	lso := h.LastOffset() + 1
	if o, ok := ps.FirstUnstableOffset(); ok {
		lso = o
	}
	return txnEntry{AbortedTxn: AbortedTxn{ProducerID: h.ProducerID, FirstOffset: first, LastOffset: h.LastOffset()}, lso: lso}, true
}

// applyLocked applies a batch just written to the active segment to the
// log's producer state, indexes it if it aborts a transaction, and keeps
// the first unstable offset current, before appendLocked publishes the
// batch. Under mu.
func (l *Log) applyLocked(h *record.Header, b []byte) {
	e, aborted := applyBatch(l.ps, h, b)
	if aborted {
		l.active.Load().addTxn(e)
	}
	switch {
	case h.Control():
		l.refreshUnstableLocked()
	case h.Transactional() && h.Idempotent():
		// A transaction opened here, or one open before (whose first
		// offset is lower) goes on.
		if h.BaseOffset < l.fuo.Load() {
			l.fuo.Store(h.BaseOffset)
		}
	}
}

// refreshUnstableLocked recomputes the first unstable offset from the
// producer state. Under mu.
func (l *Log) refreshUnstableLocked() {
	o, ok := l.ps.FirstUnstableOffset()
	if !ok {
		o = math.MaxInt64
	}
	l.fuo.Store(o)
}

// FirstUnstableOffset returns the first offset of the oldest open
// transaction, if any.
func (l *Log) FirstUnstableOffset() (int64, bool) {
	o := l.fuo.Load()
	return o, o != math.MaxInt64
}

// LastStableOffset is the offset below which every transaction is decided:
// the high watermark, or the first offset of the oldest open transaction
// if lower (but not below the log start). read_committed consumers read no
// further.
func (l *Log) LastStableOffset() int64 {
	hw := l.hw.Load()
	if o := l.fuo.Load(); o < hw {
		return max(o, l.logStart.Load())
	}
	return hw
}

// AbortedTransactions returns, oldest marker first, every aborted
// transaction whose abort marker is at or after fetchOffset and whose
// first offset is below upperOffset: those a read_committed consumer of
// [fetchOffset, upperOffset) must know of to drop their records.
func (l *Log) AbortedTransactions(fetchOffset, upperOffset int64) []AbortedTxn {
	segs := l.snapshotSegments()
	defer releaseAll(segs)
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base > fetchOffset }) - 1
	var out []AbortedTxn
	for _, s := range segs[max(i, 0):] {
		s.imu.RLock()
		done := false
		for _, e := range s.txns {
			if e.LastOffset >= fetchOffset && e.FirstOffset < upperOffset {
				out = append(out, e.AbortedTxn)
			}
			if e.lso >= upperOffset {
				done = true
				break
			}
		}
		s.imu.RUnlock()
		if done {
			break
		}
	}
	return out
}

// AppendMarker writes a transaction marker of producer producerID as the
// leader at leaderEpoch (WriteTxnMarkers): a commit or an abort of its open
// transaction, from the coordinator at coordinatorEpoch. It refuses an
// epoch older than the producer's with INVALID_PRODUCER_EPOCH, and a
// coordinator epoch older than the one of the producer's last marker with
// TRANSACTION_COORDINATOR_FENCED (a deposed coordinator's late marker). It
// returns the marker's offset. In durable mode the caller waits for the
// flush, as for Append.
func (l *Log) AppendMarker(producerID int64, producerEpoch int16, coordinatorEpoch int32, commit bool, leaderEpoch int32) (int64, error) {
	lc := l.config()
	now := l.m.now()
	b, err := record.BuildMarker(nil, producerID, producerEpoch, coordinatorEpoch, commit, now.UnixMilli())
	if err != nil {
		return -1, fmt.Errorf("append marker to %s: %w", l.tp, err)
	}
	if lc.validate.TimestampType == record.LogAppendTime {
		record.SetLogAppendTime(b, now.UnixMilli())
	}
	h, err := record.ParseHeader(b)
	if err != nil {
		return -1, fmt.Errorf("append marker to %s: %w", l.tp, err)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return -1, err
	}
	if e, ok := l.ps.Entry(producerID); ok {
		if producerEpoch < e.Epoch {
			return -1, fmt.Errorf("append marker to %s: producer %d epoch %d is older than the current epoch %d: %w",
				l.tp, producerID, producerEpoch, e.Epoch, kerr.InvalidProducerEpoch)
		}
		if coordinatorEpoch < e.CoordinatorEpoch {
			return -1, fmt.Errorf("append marker to %s: producer %d: coordinator epoch %d is older than %d: %w",
				l.tp, producerID, coordinatorEpoch, e.CoordinatorEpoch, kerr.TransactionCoordinatorFenced)
		}
	}
	base := l.leo.Load()
	record.SetBaseOffset(b, base)
	record.SetPartitionLeaderEpoch(b, leaderEpoch)
	h.BaseOffset, h.PartitionLeaderEpoch = base, leaderEpoch
	if err := l.appendLocked(b, &h, lc, now); err != nil {
		return -1, err
	}
	l.maybeFlushLocked(lc)
	return base, nil
}
