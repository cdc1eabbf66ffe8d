package producerstate

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// testFS is a tiny os-backed vfs.FS that also records the calls that make
// a snapshot durable, so tests can check their order.
type testFS struct {
	calls []string
}

func (t *testFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &testFile{File: f, fs: t}, nil
}

func (t *testFS) Remove(name string) error {
	t.calls = append(t.calls, "remove "+filepath.Base(name))
	return os.Remove(name)
}
func (t *testFS) RemoveAll(name string) error { return os.RemoveAll(name) }
func (t *testFS) Rename(o, n string) error {
	t.calls = append(t.calls, "rename "+filepath.Base(o)+" "+filepath.Base(n))
	return os.Rename(o, n)
}
func (t *testFS) MkdirAll(name string, perm os.FileMode) error { return os.MkdirAll(name, perm) }
func (t *testFS) ReadDir(name string) ([]fs.DirEntry, error)   { return os.ReadDir(name) }
func (t *testFS) Stat(name string) (fs.FileInfo, error)        { return os.Stat(name) }
func (t *testFS) SyncDir(name string) error {
	t.calls = append(t.calls, "syncdir")
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

type testFile struct {
	*os.File
	fs *testFS
}

func (f *testFile) Sync() error {
	f.fs.calls = append(f.fs.calls, "sync "+filepath.Base(f.Name()))
	return f.File.Sync()
}

// sampleState has producers with full and partial caches, an open
// transaction, a closed one with a coordinator epoch, and a wrapped
// sequence.
func sampleState(t testing.TB) *State {
	s := New()
	for _, b := range history() {
		h := b.header()
		s.Update(h)
	}
	s.Update(batch{pid: 1, epoch: 0, seq: 0, n: 2, offset: 200, ts: 5, attrs: attrTransactional}.header())
	s.Update(batch{pid: 2, epoch: 9, seq: 0, n: 1, offset: 202, ts: 6, attrs: attrTransactional}.header())
	s.Update(batch{pid: 2, epoch: 9, seq: -1, n: 1, offset: 203, ts: 7, attrs: attrTransactional | attrControl}.header())
	s.SetCoordinatorEpoch(2, 4)
	s.Update(batch{pid: 1 << 40, epoch: 32767, seq: 2147483646, n: 3, offset: 204, ts: -1}.header())
	if s.Len() != 4 {
		t.Fatalf("sample state has %d producers", s.Len())
	}
	return s
}

func TestSnapshotRoundTrip(t *testing.T) {
	dir := t.TempDir()
	tfs := &testFS{}
	s := sampleState(t)
	if err := s.WriteSnapshot(tfs, dir, 207); err != nil {
		t.Fatal(err)
	}
	name := SnapshotFileName(207)
	if name != "00000000000000000207.snapshot" {
		t.Fatalf("file name %q", name)
	}
	wantCalls := []string{"sync " + name + ".tmp", "rename " + name + ".tmp " + name, "syncdir"}
	if !slices.Equal(tfs.calls, wantCalls) {
		t.Errorf("durability calls = %q, want %q", tfs.calls, wantCalls)
	}
	des, _ := os.ReadDir(dir)
	if len(des) != 1 || des[0].Name() != name {
		t.Errorf("dir holds %v, want only %s", des, name)
	}

	got, off, err := Load(tfs, dir, 1000)
	if err != nil || off != 207 {
		t.Fatalf("Load = offset %d, %v; want 207", off, err)
	}
	if !sameState(s, got) {
		t.Fatalf("loaded state differs:\n got %+v\nwant %+v", got.Entries(), s.Entries())
	}
	// The loaded state behaves like the original: dups are still found
	// for all cached batches.
	for _, b := range history()[1:] {
		if dup, err := got.Check(b.header()); err != nil || dup == nil || dup.FirstOffset != b.offset {
			t.Errorf("retry of %+v after reload: dup %v, err %v", b, dup, err)
		}
	}

	// An empty state round-trips too.
	if err := New().WriteSnapshot(tfs, dir, 0); err != nil {
		t.Fatal(err)
	}
	got, off, err = Load(tfs, dir, 206)
	if err != nil || off != 0 || got.Len() != 0 {
		t.Fatalf("Load(maxOffset 206) = %d producers at %d, %v; want the empty snapshot at 0", got.Len(), off, err)
	}
}

func TestWriteSnapshotRefusesOffsetBelowState(t *testing.T) {
	dir := t.TempDir()
	s := sampleState(t)
	// Producer 1<<40's batch ends at offset 206.
	if err := s.WriteSnapshot(&testFS{}, dir, 206); err == nil {
		t.Fatal("WriteSnapshot at an offset inside the state's batches succeeded")
	}
	if offs, _ := ListSnapshots(&testFS{}, dir); len(offs) != 0 {
		t.Fatalf("snapshots left after a refused write: %v", offs)
	}
}

func TestLoadNewestValid(t *testing.T) {
	dir := t.TempDir()
	tfs := &testFS{}
	older := New()
	older.Update(batch{pid: 1, epoch: 0, seq: 0, n: 1, offset: 0}.header())
	newer := older.Clone()
	newer.Update(batch{pid: 1, epoch: 0, seq: 1, n: 1, offset: 50}.header())
	newest := newer.Clone()
	newest.Update(batch{pid: 1, epoch: 0, seq: 2, n: 1, offset: 100}.header())
	for _, w := range []struct {
		s   *State
		off int64
	}{{older, 10}, {newer, 60}, {newest, 101}} {
		if err := w.s.WriteSnapshot(tfs, dir, w.off); err != nil {
			t.Fatal(err)
		}
	}
	// Noise that must be ignored.
	for _, n := range []string{"00000000000000000500.snapshot.tmp", "500.snapshot", "leader-epoch-checkpoint", "0000000000000000000x.snapshot"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if offs, err := ListSnapshots(tfs, dir); err != nil || !slices.Equal(offs, []int64{10, 60, 101}) {
		t.Fatalf("ListSnapshots = %v, %v", offs, err)
	}

	load := func(maxOffset int64) LoadResult {
		t.Helper()
		r, err := LoadReport(tfs, dir, maxOffset)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := load(1000); r.Offset != 101 || !sameState(r.State, newest) || len(r.Skipped) != 0 {
		t.Fatalf("intact: loaded %d, skipped %v", r.Offset, r.Skipped)
	}
	if r := load(100); r.Offset != 60 || !sameState(r.State, newer) {
		t.Fatalf("maxOffset 100: loaded %d", r.Offset)
	}
	if r := load(9); r.Offset != -1 || r.State == nil || r.State.Len() != 0 {
		t.Fatalf("maxOffset 9: loaded %d", r.Offset)
	}

	// Corrupt the newest: flip one byte of its body.
	path := filepath.Join(dir, SnapshotFileName(101))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-3] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := load(1000)
	if r.Offset != 60 || !sameState(r.State, newer) {
		t.Fatalf("newest corrupt: loaded %d, want 60", r.Offset)
	}
	if len(r.Skipped) != 1 || r.Skipped[0].Offset != 101 || !errors.Is(r.Skipped[0].Err, errCorrupt) {
		t.Fatalf("skipped = %+v, want 101 as corrupt", r.Skipped)
	}

	// Truncate the middle one to half: only the oldest is left.
	path = filepath.Join(dir, SnapshotFileName(60))
	b, _ = os.ReadFile(path)
	if err := os.WriteFile(path, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if r := load(1000); r.Offset != 10 || !sameState(r.State, older) || len(r.Skipped) != 2 {
		t.Fatalf("two corrupt: loaded %d, skipped %+v", r.Offset, r.Skipped)
	}

	// A snapshot renamed to another offset is refused.
	if err := os.Rename(filepath.Join(dir, SnapshotFileName(10)), filepath.Join(dir, SnapshotFileName(11))); err != nil {
		t.Fatal(err)
	}
	if r := load(1000); r.Offset != -1 || r.State.Len() != 0 || len(r.Skipped) != 3 {
		t.Fatalf("renamed: loaded %d, skipped %+v", r.Offset, r.Skipped)
	}

	if err := RemoveTempFiles(tfs, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000000000000500.snapshot.tmp")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temporary snapshot not removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "leader-epoch-checkpoint")); err != nil {
		t.Errorf("RemoveTempFiles touched another file: %v", err)
	}
}

func TestLoadMissingDir(t *testing.T) {
	s, off, err := Load(&testFS{}, filepath.Join(t.TempDir(), "nope"), 100)
	if err != nil || off != -1 || s == nil || s.Len() != 0 {
		t.Fatalf("Load of a missing dir = %v, %d, %v", s, off, err)
	}
}

func TestDeleteSnapshots(t *testing.T) {
	dir := t.TempDir()
	tfs := &testFS{}
	for _, off := range []int64{0, 5, 10, 15} {
		if err := New().WriteSnapshot(tfs, dir, off); err != nil {
			t.Fatal(err)
		}
	}
	tfs.calls = nil
	if err := DeleteSnapshots(tfs, dir, func(off int64) bool { return off > 5 }); err != nil {
		t.Fatal(err)
	}
	if offs, _ := ListSnapshots(tfs, dir); !slices.Equal(offs, []int64{0, 5}) {
		t.Fatalf("after deleting above 5: %v", offs)
	}
	if len(tfs.calls) == 0 || tfs.calls[len(tfs.calls)-1] != "syncdir" {
		t.Errorf("calls %q: want the dir synced after removing", tfs.calls)
	}
	tfs.calls = nil
	if err := DeleteSnapshots(tfs, dir, func(int64) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if len(tfs.calls) != 0 {
		t.Errorf("calls %q when nothing was deleted", tfs.calls)
	}
	if err := DeleteSnapshots(tfs, dir, func(int64) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if offs, _ := ListSnapshots(tfs, dir); len(offs) != 0 {
		t.Fatalf("after deleting all: %v", offs)
	}
}
