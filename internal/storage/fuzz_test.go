package storage_test

// FuzzRecovery: a valid log on a MemFS, corrupted or truncated as the
// fuzzer's bytes say, reopened after an unclean stop (or, per the first
// byte, a clean one whose files were damaged afterwards), then read from end
// to end. Whatever the damage: no panic, the log opens, every batch served
// passes its CRC, offsets only go up, and appending still works.
//
// The files it damages are the partition's segments, indexes, producer
// snapshots and leader-epoch checkpoint (see damageable).
//
// Plain `go test` runs the seeds; `go test -fuzz FuzzRecovery
// ./internal/storage` explores.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/storage"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

var fuzzTP = storage.TopicPartition{Topic: "fuzz", Partition: 0}

func fuzzConfig() storage.Config {
	return storage.Config{SegmentBytes: 1200, IndexIntervalBytes: 150, SegmentIndexBytes: 120, FlushMessages: 1}
}

// fuzzTemplates are the two starting logs: unclean (a crash after durable
// appends) and clean (after Manager.Close).
var fuzzTemplates struct {
	once    sync.Once
	unclean *vfs.MemFS
	clean   *vfs.MemFS
	err     error
}

func fuzzTemplate(clean bool) (*vfs.MemFS, error) {
	fuzzTemplates.once.Do(func() {
		build := func(cleanClose bool) (*vfs.MemFS, error) {
			mem := vfs.NewMem()
			m, err := openCrashManager(mem)
			if err != nil {
				return nil, err
			}
			l, err := m.GetOrCreate(fuzzTP, testTopicID, fuzzConfig())
			if err != nil {
				return nil, err
			}
			for i := range 40 {
				res, err := l.Append(testBatch(1+i%4, 20+i*7%90, 1_700_000_000_000+int64(i)*10, uint64(i)), 3)
				if err != nil {
					return nil, err
				}
				if err := l.WaitFlushed(context.Background(), res.LastOffset+1); err != nil {
					return nil, err
				}
			}
			// No checkpoint is written after the appends: the recovery
			// point stays at 0, so an unclean open scans every segment.
			if cleanClose {
				if err := m.Close(); err != nil {
					return nil, err
				}
				return mem.Crash(), nil
			}
			c := mem.Crash()
			m.Close()
			return c, nil
		}
		fuzzTemplates.unclean, fuzzTemplates.err = build(false)
		if fuzzTemplates.err == nil {
			fuzzTemplates.clean, fuzzTemplates.err = build(true)
		}
	})
	if clean {
		return fuzzTemplates.clean, fuzzTemplates.err
	}
	return fuzzTemplates.unclean, fuzzTemplates.err
}

// listFiles returns every regular file under dir, sorted.
func listFiles(fsys vfs.FS, dir string) []string {
	var out []string
	es, err := fsys.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, e := range es {
		p := path.Join(dir, e.Name())
		if e.IsDir() {
			out = append(out, listFiles(fsys, p)...)
		} else {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// corruption ops, 8 bytes each: kind, file, position (3 bytes), length (2
// bytes), value.
const (
	opFlip = iota
	opTruncate
	opAppendGarbage
	opZero
	opRemove
	opOverwrite
	opTruncateRelative
	numCorruptOps
)

// damageable lists the files a corruption may hit. After an unclean stop,
// every file of the partition: recovery scans all of it (the recovery point
// is 0). After a clean shutdown, everything but the active segment was
// durable before the marker was written, and the engine trusts it, as
// Kafka does (damage there is bit rot, which consumers' CRC checks catch):
// so only the active segment's files and the other metadata files.
func damageable(fsys vfs.FS, clean bool) []string {
	// partition.metadata holds the topic ID; a damaged one makes the
	// partition refuse to open with INCONSISTENT_TOPIC_ID, as in Kafka.
	files := slices.DeleteFunc(listFiles(fsys, "/data/fuzz-0"), func(f string) bool {
		return path.Base(f) == storage.PartitionMetadataFile
	})
	if !clean {
		return files
	}
	active := ""
	for _, f := range files {
		if path.Ext(f) == ".log" {
			active = strings.TrimSuffix(f, ".log")
		}
	}
	var out []string
	for _, f := range files {
		switch path.Ext(f) {
		case ".log", ".index", ".timeindex", ".txnindex":
			if strings.TrimSuffix(f, path.Ext(f)) != active {
				continue
			}
		}
		out = append(out, f)
	}
	return out
}

// applyCorruption damages the files of fsys as data says. Changes are
// synced: they are what the next process finds.
func applyCorruption(t testing.TB, fsys *vfs.MemFS, clean bool, data []byte) []string {
	var applied []string
	for len(data) >= 8 {
		op := data[:8]
		data = data[8:]
		files := damageable(fsys, clean)
		if len(files) == 0 {
			break
		}
		name := files[int(op[1])%len(files)]
		st, err := fsys.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		size := st.Size()
		pos := int64(op[2])<<16 | int64(op[3])<<8 | int64(op[4])
		if size > 0 {
			pos %= size + 1
		} else {
			pos = 0
		}
		n := int(binary.BigEndian.Uint16(op[5:7])) % 512
		val := op[7]
		kind := int(op[0]) % numCorruptOps
		if clean && path.Ext(name) == ".log" && (kind == opFlip || kind == opZero || kind == opOverwrite) {
			// After a clean shutdown the data was durable before the
			// marker: what can still differ is a torn tail (a marker
			// trusted wrongly), not bytes changed in place.
			kind = opTruncateRelative
		}
		applied = append(applied, fmt.Sprintf("%d %s pos=%d n=%d v=%d", kind, name, pos, n, val))
		if kind == opRemove {
			if err := fsys.Remove(name); err != nil {
				t.Fatal(err)
			}
			if err := fsys.SyncDir(path.Dir(name)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		f, err := fsys.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		switch kind {
		case opFlip:
			b := make([]byte, 1)
			if _, err := f.ReadAt(b, pos); err == nil {
				b[0] ^= max(val, 1)
				f.WriteAt(b, pos)
			}
		case opTruncate:
			f.Truncate(pos)
		case opAppendGarbage:
			g := make([]byte, n)
			for i := range g {
				g[i] = val + byte(i*31)
			}
			f.WriteAt(g, size)
		case opZero:
			end := min(pos+int64(n), size)
			if end > pos {
				f.WriteAt(make([]byte, end-pos), pos)
			}
		case opOverwrite:
			// Plausible-looking garbage: a copy of the file's own bytes from
			// elsewhere (valid batches at the wrong place).
			all, _ := io.ReadAll(io.NewSectionReader(f, 0, size))
			if len(all) > 0 {
				src := int(val) * 37 % len(all)
				chunk := all[src:min(len(all), src+n)]
				f.WriteAt(slices.Clone(chunk), pos)
			}
		case opTruncateRelative:
			// Cut a few bytes off the end: a torn last write.
			f.Truncate(max(0, size-int64(n%64)-1))
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return applied
}

// checkServedLog reads the whole log and checks what a consumer could get:
// CRCs valid, offsets increasing, nothing below the start or past the end.
func checkServedLog(l *storage.Log) error {
	start, end := l.LogStartOffset(), l.LogEndOffset()
	if start > end || start < 0 {
		return fmt.Errorf("log start %d, end %d", start, end)
	}
	next := start
	prevLast := int64(-1)
	for next < end {
		r, err := l.Read(next, 8<<10, -1, true)
		if err != nil {
			return fmt.Errorf("read at %d: %w", next, err)
		}
		b, err := r.Bytes()
		r.Release()
		if err != nil {
			return fmt.Errorf("read at %d: %w", next, err)
		}
		if len(b) == 0 {
			return nil // nothing more is served (a gap at the end is the crash test's business)
		}
		for len(b) > 0 {
			h, err := record.ParseHeader(b)
			if err != nil {
				return fmt.Errorf("served a batch that does not parse near %d: %w", next, err)
			}
			if h.Size() > len(b) {
				return fmt.Errorf("served a partial batch at %d", h.BaseOffset)
			}
			if !record.CheckCRC(b[:h.Size()]) {
				return fmt.Errorf("served a batch at %d whose CRC fails", h.BaseOffset)
			}
			if h.BaseOffset <= prevLast || h.LastOffset() < h.BaseOffset {
				return fmt.Errorf("served batch %d..%d after offset %d", h.BaseOffset, h.LastOffset(), prevLast)
			}
			if h.LastOffset() >= end {
				return fmt.Errorf("served batch %d..%d past the log end %d", h.BaseOffset, h.LastOffset(), end)
			}
			prevLast = h.LastOffset()
			next = prevLast + 1
			b = b[h.Size():]
		}
	}
	return nil
}

func FuzzRecovery(f *testing.F) {
	seed := func(clean bool, ops ...[8]byte) []byte {
		b := []byte{0}
		if clean {
			b[0] = 1
		}
		for _, o := range ops {
			b = append(b, o[:]...)
		}
		return b
	}
	// The file byte picks one of the damageable files modulo their number,
	// so the seeds name several.
	f.Add(seed(false))
	f.Add(seed(true))
	for file := byte(0); file < 24; file += 3 {
		f.Add(seed(false, [8]byte{opFlip, file, 0, 0, 100, 0, 0, 0x40}))
		f.Add(seed(false, [8]byte{opTruncate, file, 0, 1, 10, 0, 0, 0}))
		f.Add(seed(true, [8]byte{opTruncateRelative, file, 0, 0, 0, 0, 5, 0}))
		f.Add(seed(false, [8]byte{opAppendGarbage, file, 0, 0, 0, 0, 80, 7}))
		f.Add(seed(true, [8]byte{opZero, file, 0, 0, 30, 0, 200, 0}))
		f.Add(seed(false, [8]byte{opRemove, file, 0, 0, 0, 0, 0, 0}))
		f.Add(seed(true, [8]byte{opOverwrite, file, 0, 0, 61, 1, 0, 3}))
		f.Add(seed(false, [8]byte{opTruncate, file, 0, 0, 0, 0, 0, 0}, [8]byte{opFlip, file + 1, 0, 0, 20, 0, 0, 1}))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 8*16+1 {
			return
		}
		tmpl, err := fuzzTemplate(data[0]&1 == 1)
		if err != nil {
			t.Fatalf("template: %v", err)
		}
		mem := tmpl.Clone()
		applied := applyCorruption(t, mem, data[0]&1 == 1, data[1:])

		m, err := openCrashManager(mem)
		if err != nil {
			t.Fatalf("open after %v: %v", applied, err)
		}
		defer m.Close()
		l, err := m.GetOrCreate(fuzzTP, testTopicID, fuzzConfig())
		if err != nil {
			t.Fatalf("open partition after %v: %v", applied, err)
		}
		if err := checkServedLog(l); err != nil {
			t.Fatalf("after %v: %v", applied, err)
		}
		for _, ts := range []int64{0, 1_700_000_000_000, 1_700_000_000_200, 1 << 62} {
			if _, _, _, err := l.OffsetForTimestamp(ts); err != nil {
				t.Fatalf("after %v: OffsetForTimestamp(%d): %v", applied, ts, err)
			}
		}
		// The log takes appends again and serves them.
		batch := testBatch(3, 40, 1_700_000_001_000, 99)
		res, err := l.Append(slices.Clone(batch), 4)
		if err != nil {
			t.Fatalf("after %v: append: %v", applied, err)
		}
		if err := l.WaitFlushed(context.Background(), res.LastOffset+1); err != nil {
			t.Fatalf("after %v: flush: %v", applied, err)
		}
		r, err := l.Read(res.BaseOffset, 1<<20, -1, true)
		if err != nil {
			t.Fatalf("after %v: read back: %v", applied, err)
		}
		got, err := r.Bytes()
		r.Release()
		if err != nil || !bytes.Equal(got, placed(batch, res.BaseOffset, 4)) {
			t.Fatalf("after %v: read back the new batch: %v", applied, err)
		}
		if err := checkServedLog(l); err != nil {
			t.Fatalf("after %v and an append: %v", applied, err)
		}
	})
}
