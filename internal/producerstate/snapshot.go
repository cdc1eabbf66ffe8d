package producerstate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// A snapshot file, <20-digit offset>.snapshot, holds the producer state as it
// was after every batch below that offset (the log end offset when it was
// taken). Recovery loads the newest valid snapshot at or below the log end
// and replays the log from its offset.
//
// Layout, big-endian, modelled on Kafka's (not byte-compatible with it):
//
//	version   int16   snapshotVersion
//	crc       uint32  CRC32C (Castagnoli) of every byte after this field
//	offset    int64   the snapshot's offset, as in the file name
//	count     int32   number of producers
//	count times:
//	  producerId            int64
//	  epoch                 int16
//	  coordinatorEpoch      int32
//	  currentTxnFirstOffset int64
//	  lastTimestamp         int64
//	  batchCount            int8    0..NumBatchesToRetain
//	  batchCount times, oldest first:
//	    firstSeq int32, lastSeq int32, firstOffset int64, lastOffset int64, maxTimestamp int64
//
// Unlike Kafka, which keeps only each producer's last batch, all cached
// batches are stored, so retries are still recognised after a restart.
const (
	snapshotVersion  int16 = 1
	snapshotSuffix         = ".snapshot"
	tempSuffix             = ".tmp"
	headerSize             = 2 + 4 + 8 + 4
	entryFixedSize         = 8 + 2 + 4 + 8 + 8 + 1
	batchSize              = 4 + 4 + 8 + 8 + 8
	maxSnapshotBytes       = 1 << 30 // far above any real partition's producers
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SnapshotFileName is the base name of the snapshot at offset.
func SnapshotFileName(offset int64) string {
	return fmt.Sprintf("%020d%s", offset, snapshotSuffix)
}

// parseSnapshotName returns the offset of a snapshot file name, or false
// for any other name (temporary files included).
func parseSnapshotName(name string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, snapshotSuffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	off, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return off, true
}

// WriteSnapshot writes the state as the snapshot at offset in dir,
// atomically: it writes a temporary file, fsyncs it, renames it over the
// final name and fsyncs dir. offset must be above every batch offset the
// state holds (normally the log end offset).
func (s *State) WriteSnapshot(fsys vfs.FS, dir string, offset int64) error {
	buf, err := s.encode(offset)
	if err != nil {
		return fmt.Errorf("write producer snapshot %d in %s: %w", offset, dir, err)
	}
	final := filepath.Join(dir, SnapshotFileName(offset))
	tmp := final + tempSuffix
	if err := writeFileSync(fsys, tmp, buf); err != nil {
		_ = fsys.Remove(tmp)
		return fmt.Errorf("write producer snapshot %s: %w", tmp, err)
	}
	if err := fsys.Rename(tmp, final); err != nil {
		_ = fsys.Remove(tmp)
		return fmt.Errorf("rename producer snapshot to %s: %w", final, err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("sync %s after producer snapshot %d: %w", dir, offset, err)
	}
	return nil
}

func writeFileSync(fsys vfs.FS, name string, data []byte) error {
	f, err := fsys.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func (s *State) encode(offset int64) ([]byte, error) {
	if offset < 0 {
		return nil, fmt.Errorf("negative snapshot offset %d", offset)
	}
	entries := s.Entries()
	n := headerSize
	for _, e := range entries {
		n += entryFixedSize + len(e.Batches)*batchSize
	}
	if n > maxSnapshotBytes {
		return nil, fmt.Errorf("snapshot of %d producers would be %d bytes, over the %d limit", len(entries), n, maxSnapshotBytes)
	}
	be := binary.BigEndian
	b := make([]byte, 6, n)
	be.PutUint16(b, uint16(snapshotVersion))
	b = be.AppendUint64(b, uint64(offset))
	b = be.AppendUint32(b, uint32(len(entries)))
	for _, e := range entries {
		if err := validEntry(&e, offset); err != nil {
			return nil, err
		}
		b = be.AppendUint64(b, uint64(e.ProducerID))
		b = be.AppendUint16(b, uint16(e.Epoch))
		b = be.AppendUint32(b, uint32(e.CoordinatorEpoch))
		b = be.AppendUint64(b, uint64(e.CurrentTxnFirstOffset))
		b = be.AppendUint64(b, uint64(e.LastTimestamp))
		b = append(b, byte(len(e.Batches)))
		for _, bm := range e.Batches {
			b = be.AppendUint32(b, uint32(bm.FirstSeq))
			b = be.AppendUint32(b, uint32(bm.LastSeq))
			b = be.AppendUint64(b, uint64(bm.FirstOffset))
			b = be.AppendUint64(b, uint64(bm.LastOffset))
			b = be.AppendUint64(b, uint64(bm.MaxTimestamp))
		}
	}
	be.PutUint32(b[2:], crc32.Checksum(b[6:], castagnoli))
	return b, nil
}

// validEntry checks what a state built by Update always satisfies, so that a
// snapshot passing the CRC but holding nonsense is refused rather than used.
func validEntry(e *Entry, snapOffset int64) error {
	if e.ProducerID < 0 {
		return fmt.Errorf("producer id %d is negative", e.ProducerID)
	}
	if len(e.Batches) > NumBatchesToRetain {
		return fmt.Errorf("producer %d: %d batches, more than %d", e.ProducerID, len(e.Batches), NumBatchesToRetain)
	}
	if t := e.CurrentTxnFirstOffset; t < -1 || t >= snapOffset {
		return fmt.Errorf("producer %d: transaction first offset %d outside [-1, %d)", e.ProducerID, t, snapOffset)
	}
	prev := int64(-1)
	for _, b := range e.Batches {
		if b.FirstSeq < 0 || b.LastSeq < 0 {
			return fmt.Errorf("producer %d: negative sequence in batch %d-%d", e.ProducerID, b.FirstSeq, b.LastSeq)
		}
		if b.FirstOffset <= prev || b.LastOffset < b.FirstOffset || b.LastOffset >= snapOffset {
			return fmt.Errorf("producer %d: batch offsets %d-%d out of order or not below the snapshot offset %d",
				e.ProducerID, b.FirstOffset, b.LastOffset, snapOffset)
		}
		prev = b.LastOffset
	}
	return nil
}

// errCorrupt marks a snapshot file that is unreadable as a snapshot.
var errCorrupt = errors.New("corrupt producer snapshot")

// decode parses a snapshot file's bytes, expecting the snapshot at offset.
func decode(b []byte, offset int64) (*State, error) {
	be := binary.BigEndian
	if offset < 0 {
		return nil, fmt.Errorf("%w: negative offset %d", errCorrupt, offset)
	}
	if len(b) < headerSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the header", errCorrupt, len(b))
	}
	if v := int16(be.Uint16(b)); v != snapshotVersion {
		return nil, fmt.Errorf("%w: unknown version %d", errCorrupt, v)
	}
	if want, got := be.Uint32(b[2:]), crc32.Checksum(b[6:], castagnoli); want != got {
		return nil, fmt.Errorf("%w: crc %#x, computed %#x", errCorrupt, want, got)
	}
	if off := int64(be.Uint64(b[6:])); off != offset {
		return nil, fmt.Errorf("%w: holds offset %d, named %d", errCorrupt, off, offset)
	}
	count := int64(int32(be.Uint32(b[14:])))
	rest := b[headerSize:]
	if count < 0 || count > int64(len(rest))/entryFixedSize {
		return nil, fmt.Errorf("%w: %d producers cannot fit in %d bytes", errCorrupt, count, len(rest))
	}
	s := &State{producers: make(map[int64]*producer, count)}
	for i := int64(0); i < count; i++ {
		if len(rest) < entryFixedSize {
			return nil, fmt.Errorf("%w: truncated in producer %d of %d", errCorrupt, i, count)
		}
		e := Entry{
			ProducerID:            int64(be.Uint64(rest)),
			Epoch:                 int16(be.Uint16(rest[8:])),
			CoordinatorEpoch:      int32(be.Uint32(rest[10:])),
			CurrentTxnFirstOffset: int64(be.Uint64(rest[14:])),
			LastTimestamp:         int64(be.Uint64(rest[22:])),
		}
		nb := int(rest[30])
		rest = rest[entryFixedSize:]
		if nb > NumBatchesToRetain {
			return nil, fmt.Errorf("%w: producer %d has %d batches", errCorrupt, e.ProducerID, nb)
		}
		if len(rest) < nb*batchSize {
			return nil, fmt.Errorf("%w: truncated in the batches of producer %d", errCorrupt, e.ProducerID)
		}
		if nb > 0 {
			e.Batches = make([]BatchMeta, nb)
		}
		for j := range e.Batches {
			e.Batches[j] = BatchMeta{
				FirstSeq:     int32(be.Uint32(rest)),
				LastSeq:      int32(be.Uint32(rest[4:])),
				FirstOffset:  int64(be.Uint64(rest[8:])),
				LastOffset:   int64(be.Uint64(rest[16:])),
				MaxTimestamp: int64(be.Uint64(rest[24:])),
			}
			rest = rest[batchSize:]
		}
		if err := validEntry(&e, offset); err != nil {
			return nil, fmt.Errorf("%w: %v", errCorrupt, err)
		}
		if _, dup := s.producers[e.ProducerID]; dup {
			return nil, fmt.Errorf("%w: producer %d appears twice", errCorrupt, e.ProducerID)
		}
		s.put(e)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last producer", errCorrupt, len(rest))
	}
	return s, nil
}

// ListSnapshots returns the offsets of the snapshot files in dir, ascending.
// Temporary files and other names are left out. A missing dir has none.
func ListSnapshots(fsys vfs.FS, dir string) ([]int64, error) {
	des, err := fsys.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list producer snapshots in %s: %w", dir, err)
	}
	var offs []int64
	for _, de := range des {
		if de.IsDir() {
			continue
		}
		if off, ok := parseSnapshotName(de.Name()); ok {
			offs = append(offs, off)
		}
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	return offs, nil
}

// SkippedSnapshot is a snapshot file Load passed over because it could not
// be read or was corrupt.
type SkippedSnapshot struct {
	Offset int64
	Err    error
}

// LoadResult is what LoadReport found.
type LoadResult struct {
	State *State
	// Offset is the offset of the snapshot loaded (replay the log from it),
	// or -1 when none was: State is then empty and the log must be
	// replayed from its start.
	Offset int64
	// Skipped lists the newer snapshots (at or below maxOffset) that were
	// corrupt or unreadable, newest first.
	Skipped []SkippedSnapshot
}

// Load returns the state of the newest valid snapshot in dir whose offset is
// at most maxOffset, and that offset. With none, it returns an empty state
// and -1. Corrupt or unreadable snapshots are skipped (see LoadReport to
// learn which); an error means dir itself could not be listed.
func Load(fsys vfs.FS, dir string, maxOffset int64) (*State, int64, error) {
	r, err := LoadReport(fsys, dir, maxOffset)
	if err != nil {
		return nil, -1, err
	}
	return r.State, r.Offset, nil
}

// LoadReport is Load, also reporting the snapshots it skipped.
func LoadReport(fsys vfs.FS, dir string, maxOffset int64) (LoadResult, error) {
	res := LoadResult{Offset: -1}
	offs, err := ListSnapshots(fsys, dir)
	if err != nil {
		return res, err
	}
	for i := len(offs) - 1; i >= 0; i-- {
		off := offs[i]
		if off > maxOffset {
			continue
		}
		s, err := readSnapshot(fsys, filepath.Join(dir, SnapshotFileName(off)), off)
		if err != nil {
			res.Skipped = append(res.Skipped, SkippedSnapshot{Offset: off, Err: err})
			continue
		}
		res.State, res.Offset = s, off
		return res, nil
	}
	res.State = New()
	return res, nil
}

func readSnapshot(fsys vfs.FS, name string, offset int64) (*State, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open producer snapshot %s: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSnapshotBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read producer snapshot %s: %w", name, err)
	}
	if len(b) > maxSnapshotBytes {
		return nil, fmt.Errorf("producer snapshot %s: %w: over %d bytes", name, errCorrupt, maxSnapshotBytes)
	}
	s, err := decode(b, offset)
	if err != nil {
		return nil, fmt.Errorf("producer snapshot %s: %w", name, err)
	}
	return s, nil
}

// DeleteSnapshots removes the snapshots in dir whose offset del approves
// (for example those above the log end after a truncation, or all but the
// newest few), then fsyncs dir. A file already gone is not an error.
func DeleteSnapshots(fsys vfs.FS, dir string, del func(offset int64) bool) error {
	offs, err := ListSnapshots(fsys, dir)
	if err != nil {
		return err
	}
	var errs []error
	removed := false
	for _, off := range offs {
		if !del(off) {
			continue
		}
		name := filepath.Join(dir, SnapshotFileName(off))
		if err := fsys.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("delete producer snapshot %s: %w", name, err))
			continue
		}
		removed = true
	}
	if removed {
		if err := fsys.SyncDir(dir); err != nil {
			errs = append(errs, fmt.Errorf("sync %s after deleting producer snapshots: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

// RemoveTempFiles deletes temporary snapshot files that a crash during
// WriteSnapshot left in dir. Call it at recovery, before any WriteSnapshot.
func RemoveTempFiles(fsys vfs.FS, dir string) error {
	des, err := fsys.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("list %s for temporary producer snapshots: %w", dir, err)
	}
	var errs []error
	for _, de := range des {
		base, ok := strings.CutSuffix(de.Name(), tempSuffix)
		if de.IsDir() || !ok {
			continue
		}
		if _, ok := parseSnapshotName(base); !ok {
			continue
		}
		name := filepath.Join(dir, de.Name())
		if err := fsys.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("delete temporary producer snapshot %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
