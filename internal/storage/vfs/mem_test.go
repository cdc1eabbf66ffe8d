package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// helpers

func mustOpen(t *testing.T, fsys FS, name string, flag int) File {
	t.Helper()
	f, err := fsys.OpenFile(name, flag, 0o644)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	return f
}

func mustWrite(t *testing.T, f File, s string) {
	t.Helper()
	if _, err := f.Write([]byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func mustSync(t *testing.T, f File) {
	t.Helper()
	if err := f.Sync(); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

func mustSyncDir(t *testing.T, fsys FS, dir string) {
	t.Helper()
	if err := fsys.SyncDir(dir); err != nil {
		t.Fatalf("syncdir %s: %v", dir, err)
	}
}

// contents returns the file's bytes, or "<missing>" if it does not exist.
func contents(t *testing.T, fsys FS, name string) string {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return "<missing>"
	}
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

func names(t *testing.T, fsys FS, dir string) []string {
	t.Helper()
	es, err := fsys.ReadDir(dir)
	if err != nil {
		t.Fatalf("readdir %s: %v", dir, err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// newDurableDir returns a MemFS with dir created and durable.
func newDurableDir(t *testing.T, dir string) *MemFS {
	t.Helper()
	m := NewMem()
	if err := m.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mustSyncDir(t, m, "/")
	return m
}

func TestMemBasicFileSemantics(t *testing.T) {
	m := NewMem()
	f := mustOpen(t, m, "/a", os.O_RDWR|os.O_CREATE)
	mustWrite(t, f, "hello")
	if _, err := f.WriteAt([]byte("J"), 0); err != nil {
		t.Fatal(err)
	}
	// Writing past the end leaves a zero-filled hole.
	if _, err := f.WriteAt([]byte("!"), 7); err != nil {
		t.Fatal(err)
	}
	if got := contents(t, m, "/a"); got != "Jello\x00\x00!" {
		t.Fatalf("contents %q", got)
	}
	buf := make([]byte, 4)
	n, err := f.ReadAt(buf, 6)
	if n != 2 || err != io.EOF || string(buf[:n]) != "\x00!" {
		t.Fatalf("ReadAt past end: n=%d err=%v %q", n, err, buf[:n])
	}
	if _, err := f.ReadAt(buf, 8); err != io.EOF {
		t.Fatalf("ReadAt at end: %v", err)
	}
	// Read continues from the Write position (WriteAt does not move it).
	if n, err := f.Read(buf); n != 3 || err != nil || string(buf[:n]) != "\x00\x00!" {
		t.Fatalf("Read after writes: %d %v %q", n, err, buf[:n])
	}
	if _, err := f.Read(buf); err != io.EOF {
		t.Fatalf("Read at end: %v", err)
	}
	st, err := f.Stat()
	if err != nil || st.Size() != 8 || st.Name() != "a" || st.IsDir() {
		t.Fatalf("stat %v %v", st, err)
	}
	if err := f.Truncate(2); err != nil {
		t.Fatal(err)
	}
	if got := contents(t, m, "/a"); got != "Je" {
		t.Fatalf("after truncate %q", got)
	}
	if err := f.Truncate(4); err != nil {
		t.Fatal(err)
	}
	if got := contents(t, m, "/a"); got != "Je\x00\x00" {
		t.Fatalf("after extending truncate %q", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if err := f.Close(); err == nil {
		t.Fatal("double close succeeded")
	}
}

func TestMemOpenFlags(t *testing.T) {
	m := NewMem()
	if _, err := m.OpenFile("/missing", os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open missing: %v", err)
	}
	if _, err := m.OpenFile("/nodir/x", os.O_RDWR|os.O_CREATE, 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("create in missing dir: %v", err)
	}
	f := mustOpen(t, m, "/f", os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	mustWrite(t, f, "abc")
	if _, err := f.Read(make([]byte, 1)); err == nil {
		t.Fatal("read from write-only file succeeded")
	}
	f.Close()
	if _, err := m.OpenFile("/f", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("O_EXCL on existing file: %v", err)
	}
	r := mustOpen(t, m, "/f", os.O_RDONLY)
	if _, err := r.Write([]byte("x")); err == nil {
		t.Fatal("write to read-only file succeeded")
	}
	r.Close()

	a := mustOpen(t, m, "/f", os.O_WRONLY|os.O_APPEND)
	mustWrite(t, a, "de")
	if _, err := a.WriteAt([]byte("z"), 0); err == nil {
		t.Fatal("WriteAt on O_APPEND file succeeded")
	}
	a.Close()
	if got := contents(t, m, "/f"); got != "abcde" {
		t.Fatalf("after append %q", got)
	}
	tr := mustOpen(t, m, "/f", os.O_RDWR|os.O_TRUNC)
	tr.Close()
	if got := contents(t, m, "/f"); got != "" {
		t.Fatalf("after O_TRUNC %q", got)
	}
}

func TestMemDirectories(t *testing.T) {
	m := NewMem()
	if err := m.MkdirAll("/d/e/f", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.MkdirAll("d/e", 0o755); err != nil { // relative names resolve from the root
		t.Fatalf("MkdirAll existing: %v", err)
	}
	for _, n := range []string{"c", "a", "b"} {
		mustOpen(t, m, "/d/"+n, os.O_CREATE|os.O_RDWR).Close()
	}
	if got := names(t, m, "/d"); !slices.Equal(got, []string{"a", "b", "c", "e"}) {
		t.Fatalf("ReadDir %v", got)
	}
	st, err := m.Stat("/d/e")
	if err != nil || !st.IsDir() || st.Name() != "e" {
		t.Fatalf("stat dir %v %v", st, err)
	}
	if err := m.MkdirAll("/d/a/x", 0o755); err == nil {
		t.Fatal("MkdirAll through a file succeeded")
	}
	if err := m.Remove("/d/e"); err == nil {
		t.Fatal("Remove of non-empty directory succeeded")
	}
	if err := m.Remove("/d/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Remove missing: %v", err)
	}
	if err := m.RemoveAll("/d/e"); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveAll("/d/e"); err != nil {
		t.Fatalf("RemoveAll of a missing name: %v", err)
	}
	if _, err := m.Stat("/d/e/f"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat under removed tree: %v", err)
	}
	if _, err := m.OpenFile("/d", os.O_RDWR, 0); err == nil {
		t.Fatal("opening a directory for writing succeeded")
	}
}

func TestMemRenameSemantics(t *testing.T) {
	m := NewMem()
	m.MkdirAll("/d", 0o755)
	f := mustOpen(t, m, "/d/a", os.O_CREATE|os.O_RDWR)
	mustWrite(t, f, "A")
	f.Close()
	g := mustOpen(t, m, "/d/b", os.O_CREATE|os.O_RDWR)
	mustWrite(t, g, "B")
	g.Close()
	if err := m.Rename("/d/a", "/d/b"); err != nil { // replaces the target
		t.Fatal(err)
	}
	if got := contents(t, m, "/d/b"); got != "A" {
		t.Fatalf("after rename over %q", got)
	}
	if got := names(t, m, "/d"); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("entries %v", got)
	}
	if err := m.Rename("/d/missing", "/d/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("rename missing: %v", err)
	}
	m.MkdirAll("/d/sub/inner", 0o755)
	if err := m.Rename("/d/b", "/d/sub"); err == nil {
		t.Fatal("rename of a file over a directory succeeded")
	}
	if err := m.Rename("/d/sub", "/d/sub/inner/x"); err == nil {
		t.Fatal("rename of a directory into itself succeeded")
	}
	if err := m.Rename("/d/b", "/d/sub/b"); err != nil { // across directories
		t.Fatal(err)
	}
	if got := contents(t, m, "/d/sub/b"); got != "A" {
		t.Fatalf("after cross-dir rename %q", got)
	}
}

func TestMemOpenHandleSurvivesRemove(t *testing.T) {
	m := NewMem()
	f := mustOpen(t, m, "/x", os.O_CREATE|os.O_RDWR)
	mustWrite(t, f, "data")
	if err := m.Remove("/x"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := f.ReadAt(buf, 0); err != nil || string(buf) != "data" {
		t.Fatalf("read unlinked file: %q %v", buf, err)
	}
	if got := contents(t, m, "/x"); got != "<missing>" {
		t.Fatalf("name still there: %q", got)
	}
}

// The crash rules, one scenario each: what the process did, and what a
// restarted process must find.
func TestMemCrashRules(t *testing.T) {
	tests := []struct {
		name  string
		do    func(t *testing.T, m *MemFS)
		check func(t *testing.T, c *MemFS)
	}{
		{
			name: "unsynced data of a synced file vanishes",
			do: func(t *testing.T, m *MemFS) {
				f := mustOpen(t, m, "/d/f", os.O_CREATE|os.O_RDWR)
				mustSyncDir(t, m, "/d")
				mustWrite(t, f, "abc")
			},
			check: func(t *testing.T, c *MemFS) {
				if got := contents(t, c, "/d/f"); got != "" {
					t.Fatalf("got %q, want empty file", got)
				}
			},
		},
		{
			name: "synced data survives, bytes appended after the sync vanish",
			do: func(t *testing.T, m *MemFS) {
				f := mustOpen(t, m, "/d/f", os.O_CREATE|os.O_RDWR)
				mustWrite(t, f, "abc")
				mustSync(t, f)
				mustSyncDir(t, m, "/d")
				mustWrite(t, f, "def")
			},
			check: func(t *testing.T, c *MemFS) {
				if got := contents(t, c, "/d/f"); got != "abc" {
					t.Fatalf("got %q", got)
				}
			},
		},
		{
			name: "a synced file whose directory was not synced disappears",
			do: func(t *testing.T, m *MemFS) {
				f := mustOpen(t, m, "/d/f", os.O_CREATE|os.O_RDWR)
				mustWrite(t, f, "abc")
				mustSync(t, f)
			},
			check: func(t *testing.T, c *MemFS) {
				if got := contents(t, c, "/d/f"); got != "<missing>" {
					t.Fatalf("got %q", got)
				}
			},
		},
		{
			name: "syncing the directory before the data keeps an empty file",
			do: func(t *testing.T, m *MemFS) {
				f := mustOpen(t, m, "/d/f", os.O_CREATE|os.O_RDWR)
				mustSyncDir(t, m, "/d")
				mustWrite(t, f, "abc")
				mustSyncDir(t, m, "/d")
			},
			check: func(t *testing.T, c *MemFS) {
				if got := contents(t, c, "/d/f"); got != "" {
					t.Fatalf("got %q", got)
				}
			},
		},
		{
			name: "an unsynced rename reverts",
			do: func(t *testing.T, m *MemFS) {
				f := mustOpen(t, m, "/d/tmp", os.O_CREATE|os.O_RDWR)
				mustWrite(t, f, "new")
				mustSync(t, f)
				mustSyncDir(t, m, "/d")
				if err := m.Rename("/d/tmp", "/d/final"); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, c *MemFS) {
				if got := contents(t, c, "/d/final"); got != "<missing>" {
					t.Fatalf("final: %q", got)
				}
				if got := contents(t, c, "/d/tmp"); got != "new" {
					t.Fatalf("tmp: %q", got)
				}
			},
		},
		{
			name: "a rename over an old file reverts to the old file",
			do: func(t *testing.T, m *MemFS) {
				old := mustOpen(t, m, "/d/ckpt", os.O_CREATE|os.O_RDWR)
				mustWrite(t, old, "v1")
				mustSync(t, old)
				tmp := mustOpen(t, m, "/d/ckpt.tmp", os.O_CREATE|os.O_RDWR)
				mustWrite(t, tmp, "v2")
				mustSync(t, tmp)
				mustSyncDir(t, m, "/d")
				if err := m.Rename("/d/ckpt.tmp", "/d/ckpt"); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, c *MemFS) {
				if got := contents(t, c, "/d/ckpt"); got != "v1" {
					t.Fatalf("ckpt %q", got)
				}
				if got := contents(t, c, "/d/ckpt.tmp"); got != "v2" {
					t.Fatalf("tmp %q", got)
				}
			},
		},
		{
			name: "a synced rename over an old file holds",
			do: func(t *testing.T, m *MemFS) {
				old := mustOpen(t, m, "/d/ckpt", os.O_CREATE|os.O_RDWR)
				mustWrite(t, old, "v1")
				mustSync(t, old)
				tmp := mustOpen(t, m, "/d/ckpt.tmp", os.O_CREATE|os.O_RDWR)
				mustWrite(t, tmp, "v2")
				mustSync(t, tmp)
				if err := m.Rename("/d/ckpt.tmp", "/d/ckpt"); err != nil {
					t.Fatal(err)
				}
				mustSyncDir(t, m, "/d")
			},
			check: func(t *testing.T, c *MemFS) {
				if got := contents(t, c, "/d/ckpt"); got != "v2" {
					t.Fatalf("ckpt %q", got)
				}
				if got := names(t, c, "/d"); !slices.Equal(got, []string{"ckpt"}) {
					t.Fatalf("entries %v", got)
				}
			},
		},
		{
			name: "an unsynced remove reverts, with the file's synced data",
			do: func(t *testing.T, m *MemFS) {
				f := mustOpen(t, m, "/d/f", os.O_CREATE|os.O_RDWR)
				mustWrite(t, f, "keep")
				mustSync(t, f)
				mustSyncDir(t, m, "/d")
				mustWrite(t, f, "lost")
				if err := m.Remove("/d/f"); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, c *MemFS) {
				if got := contents(t, c, "/d/f"); got != "keep" {
					t.Fatalf("got %q", got)
				}
			},
		},
		{
			name: "a synced remove holds",
			do: func(t *testing.T, m *MemFS) {
				f := mustOpen(t, m, "/d/f", os.O_CREATE|os.O_RDWR)
				mustSync(t, f)
				mustSyncDir(t, m, "/d")
				m.Remove("/d/f")
				mustSyncDir(t, m, "/d")
			},
			check: func(t *testing.T, c *MemFS) {
				if got := contents(t, c, "/d/f"); got != "<missing>" {
					t.Fatalf("got %q", got)
				}
			},
		},
		{
			name: "an overwrite of synced bytes reverts",
			do: func(t *testing.T, m *MemFS) {
				f := mustOpen(t, m, "/d/f", os.O_CREATE|os.O_RDWR)
				mustWrite(t, f, "aaaa")
				mustSync(t, f)
				mustSyncDir(t, m, "/d")
				f.WriteAt([]byte("bb"), 1)
				if got := contents(t, m, "/d/f"); got != "abba" {
					t.Fatalf("current %q", got)
				}
			},
			check: func(t *testing.T, c *MemFS) {
				if got := contents(t, c, "/d/f"); got != "aaaa" {
					t.Fatalf("got %q", got)
				}
			},
		},
		{
			name: "a truncation then rewrite of synced bytes reverts",
			do: func(t *testing.T, m *MemFS) {
				f := mustOpen(t, m, "/d/f", os.O_CREATE|os.O_RDWR)
				mustWrite(t, f, "abcdef")
				mustSync(t, f)
				mustSyncDir(t, m, "/d")
				f.Truncate(2)
				f.WriteAt([]byte("XY"), 2)
			},
			check: func(t *testing.T, c *MemFS) {
				if got := contents(t, c, "/d/f"); got != "abcdef" {
					t.Fatalf("got %q", got)
				}
			},
		},
		{
			name: "a synced truncation holds",
			do: func(t *testing.T, m *MemFS) {
				f := mustOpen(t, m, "/d/f", os.O_CREATE|os.O_RDWR)
				mustWrite(t, f, "abcdef")
				mustSync(t, f)
				mustSyncDir(t, m, "/d")
				f.Truncate(2)
				mustSync(t, f)
			},
			check: func(t *testing.T, c *MemFS) {
				if got := contents(t, c, "/d/f"); got != "ab" {
					t.Fatalf("got %q", got)
				}
			},
		},
		{
			name: "a new directory needs its parent synced",
			do: func(t *testing.T, m *MemFS) {
				m.MkdirAll("/d/p1", 0o755)
				m.MkdirAll("/d/p2", 0o755)
				mustSyncDir(t, m, "/d")
				m.MkdirAll("/d/p3", 0o755)
				f := mustOpen(t, m, "/d/p1/x", os.O_CREATE|os.O_RDWR)
				mustSync(t, f)
				mustSyncDir(t, m, "/d/p1")
				mustOpen(t, m, "/d/p2/y", os.O_CREATE|os.O_RDWR) // p2 not synced
			},
			check: func(t *testing.T, c *MemFS) {
				if got := names(t, c, "/d"); !slices.Equal(got, []string{"p1", "p2"}) {
					t.Fatalf("entries %v", got)
				}
				if got := names(t, c, "/d/p1"); !slices.Equal(got, []string{"x"}) {
					t.Fatalf("p1 %v", got)
				}
				if got := names(t, c, "/d/p2"); len(got) != 0 {
					t.Fatalf("p2 %v", got)
				}
			},
		},
		{
			name: "data synced through one name survives under the synced name",
			do: func(t *testing.T, m *MemFS) {
				f := mustOpen(t, m, "/d/a", os.O_CREATE|os.O_RDWR)
				mustSyncDir(t, m, "/d")
				m.Rename("/d/a", "/d/b")
				mustWrite(t, f, "x")
				mustSync(t, f)
			},
			check: func(t *testing.T, c *MemFS) {
				if got := contents(t, c, "/d/a"); got != "x" {
					t.Fatalf("got %q", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newDurableDir(t, "/d")
			tt.do(t, m)
			c := m.Crash()
			tt.check(t, c)
			// The crashed image is itself a working, fully durable filesystem.
			tt.check(t, c.Crash())
		})
	}
}

func TestMemCrashKillsOldFilesystem(t *testing.T) {
	m := newDurableDir(t, "/d")
	f := mustOpen(t, m, "/d/f", os.O_CREATE|os.O_RDWR)
	mustWrite(t, f, "abc")
	mustSync(t, f)
	mustSyncDir(t, m, "/d")
	c := m.Crash()
	if !m.Halted() || c.Halted() {
		t.Fatal("halt state wrong")
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, ErrCrashed) {
		t.Fatalf("write on old handle: %v", err)
	}
	if _, err := f.ReadAt(make([]byte, 1), 0); !errors.Is(err, ErrCrashed) {
		t.Fatalf("read on old handle: %v", err)
	}
	if _, err := m.OpenFile("/d/f", os.O_RDONLY, 0); !errors.Is(err, ErrCrashed) {
		t.Fatalf("open on old fs: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close after crash: %v", err)
	}
	// The new image shares nothing mutable with the old one.
	g := mustOpen(t, c, "/d/f", os.O_RDWR)
	g.WriteAt([]byte("Z"), 0)
	if got := contents(t, c, "/d/f"); got != "Zbc" {
		t.Fatalf("new image %q", got)
	}
}

func TestMemCrashAfter(t *testing.T) {
	for n := int64(0); n <= 6; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			m := newDurableDir(t, "/d")
			m.CrashAfter(n)
			// Six mutating operations; the (n+1)th fails and so does everything after.
			steps := []func() error{
				func() error { _, err := m.OpenFile("/d/f", os.O_CREATE|os.O_RDWR, 0o644); return err }, // create
				func() error { return writeFile(m, "/d/f", "abc") },                                     // write
				func() error { return syncFile(m, "/d/f") },                                             // sync
				func() error { return m.SyncDir("/d") },                                                 // syncdir
				func() error { return writeFile(m, "/d/f", "def") },                                     // write
				func() error { return syncFile(m, "/d/f") },                                             // sync
			}
			var failedAt = -1
			for i, s := range steps {
				err := s()
				if err != nil && failedAt < 0 {
					failedAt = i
				}
				if err == nil && failedAt >= 0 {
					t.Fatalf("step %d succeeded after the crash at %d", i, failedAt)
				}
				if err != nil && !errors.Is(err, ErrCrashed) {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			if int64(failedAt) != n && !(n == 6 && failedAt == -1) {
				t.Fatalf("failed at %d, want %d", failedAt, n)
			}
			op, ok := m.CrashPoint()
			if n < 6 && (!ok || op.Path == "") {
				t.Fatalf("CrashPoint %v %v", op, ok)
			}
			if n >= 6 && ok {
				t.Fatal("CrashPoint set without a crash")
			}
			want := map[int64]string{0: "<missing>", 1: "<missing>", 2: "<missing>", 3: "<missing>", 4: "abc", 5: "abc", 6: "abcdef"}[n]
			if got := contents(t, m.Crash(), "/d/f"); got != want {
				t.Fatalf("after crash %q, want %q", got, want)
			}
		})
	}
}

// writeFile appends s to name through a fresh handle.
func writeFile(m FS, name, s string) error {
	f, err := m.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write([]byte(s))
	return err
}

func syncFile(m FS, name string) error {
	f, err := m.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func TestMemHook(t *testing.T) {
	m := newDurableDir(t, "/d")
	before := m.Ops()
	var seen []Op
	boom := errors.New("disk full")
	m.SetHook(func(op Op) error {
		seen = append(seen, op)
		if op.Kind == OpWrite && op.Offset >= 3 {
			return boom
		}
		return nil
	})
	f := mustOpen(t, m, "/d/f", os.O_CREATE|os.O_RDWR)
	mustWrite(t, f, "abc")
	if _, err := f.Write([]byte("def")); !errors.Is(err, boom) {
		t.Fatalf("hooked write: %v", err)
	}
	if got := contents(t, m, "/d/f"); got != "abc" {
		t.Fatalf("failed write had an effect: %q", got)
	}
	// A hook failure is not a crash: the filesystem keeps working.
	if err := f.Truncate(1); err != nil {
		t.Fatal(err)
	}
	m.Rename("/d/f", "/d/g")
	m.SetHook(nil)
	kinds := []OpKind{}
	for _, op := range seen {
		kinds = append(kinds, op.Kind)
	}
	want := []OpKind{OpCreate, OpWrite, OpWrite, OpTruncate, OpRename}
	if !slices.Equal(kinds, want) {
		t.Fatalf("ops %v, want %v", kinds, want)
	}
	if seen[4].Path != "/d/f" || seen[4].NewPath != "/d/g" || seen[1].Len != 3 {
		t.Fatalf("op details %+v", seen)
	}
	if got := m.Ops() - before; got != 4 { // create, write, truncate, rename
		t.Fatalf("Ops %d", got)
	}
}

// CrashTorn may keep any part of what was not synced, but only in the shapes
// a disk produces: a prefix of appended bytes (or zeros), a prefix of the
// directory changes, and always everything synced.
func TestMemCrashTorn(t *testing.T) {
	outcomes := map[string]int{}
	for seed := range uint64(400) {
		m := newDurableDir(t, "/d")
		f := mustOpen(t, m, "/d/log", os.O_CREATE|os.O_RDWR)
		mustWrite(t, f, "synced")
		mustSync(t, f)
		mustSyncDir(t, m, "/d")
		mustWrite(t, f, "UNSYNCED")
		// Directory changes after the last SyncDir, in order.
		mustOpen(t, m, "/d/one", os.O_CREATE|os.O_RDWR).Close()
		m.Rename("/d/one", "/d/two")
		mustOpen(t, m, "/d/three", os.O_CREATE|os.O_RDWR).Close()

		c := m.CrashTorn(rand.New(rand.NewPCG(seed, 1)))
		got := contents(t, c, "/d/log")
		if len(got) < 6 || got[:6] != "synced" {
			t.Fatalf("seed %d: synced bytes lost: %q", seed, got)
		}
		tail := got[6:]
		ok := len(tail) <= 8
		for i := range tail {
			// Each byte is the written one or, from some point, zero.
			if tail[i] != "UNSYNCED"[i] && tail[i] != 0 {
				ok = false
			}
			if tail[i] == 0 && i+1 < len(tail) && tail[i+1] != 0 {
				ok = false
			}
		}
		if !ok {
			t.Fatalf("seed %d: impossible tail %q", seed, tail)
		}
		entries := fmt.Sprint(names(t, c, "/d"))
		valid := map[string]bool{
			"[log]":           true, // no change
			"[log one]":       true, // create
			"[log two]":       true, // create, rename
			"[log three two]": true, // all three
		}
		if !valid[entries] {
			t.Fatalf("seed %d: impossible directory %s", seed, entries)
		}
		outcomes["entries "+entries]++
		switch {
		case tail == "":
			outcomes["tail none"]++
		case tail == "UNSYNCED":
			outcomes["tail all"]++
		case bytes.IndexByte([]byte(tail), 0) >= 0:
			outcomes["tail zeros"]++
		default:
			outcomes["tail part"]++
		}
	}
	// Every shape must actually occur, or the torn crash tests nothing.
	for _, k := range []string{"entries [log]", "entries [log one]", "entries [log two]", "entries [log three two]",
		"tail none", "tail all", "tail zeros", "tail part"} {
		if outcomes[k] == 0 {
			t.Errorf("outcome %q never happened in 400 torn crashes: %v", k, outcomes)
		}
	}
}

func TestMemClone(t *testing.T) {
	m := newDurableDir(t, "/d")
	f := mustOpen(t, m, "/d/f", os.O_CREATE|os.O_RDWR)
	mustWrite(t, f, "abc")
	mustSync(t, f)
	mustSyncDir(t, m, "/d")
	mustWrite(t, f, "def")
	mustOpen(t, m, "/d/new", os.O_CREATE|os.O_RDWR).Close()

	c := m.Clone()
	if m.Halted() {
		t.Fatal("Clone halted the original")
	}
	// The clone sees the current state...
	if got := contents(t, c, "/d/f"); got != "abcdef" {
		t.Fatalf("clone current %q", got)
	}
	// ...is independent of the original...
	g := mustOpen(t, c, "/d/f", os.O_RDWR)
	g.WriteAt([]byte("XYZ"), 0)
	if got := contents(t, m, "/d/f"); got != "abcdef" {
		t.Fatalf("original changed through clone: %q", got)
	}
	// ...and keeps the durable state too.
	cc := c.Crash()
	if got := contents(t, cc, "/d/f"); got != "abc" {
		t.Fatalf("clone durable %q", got)
	}
	if got := contents(t, cc, "/d/new"); got != "<missing>" {
		t.Fatalf("clone kept unsynced entry: %q", got)
	}
}

// Sharing the backing array between current and durable data must never let
// a write after a Sync change the durable bytes.
func TestMemSyncedBytesNeverAliased(t *testing.T) {
	for seed := range uint64(10) {
		testSyncedBytesNeverAliased(t, seed)
	}
}

func testSyncedBytesNeverAliased(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	m := newDurableDir(t, "/d")
	f := mustOpen(t, m, "/d/f", os.O_CREATE|os.O_RDWR)
	mustSyncDir(t, m, "/d")
	var model, durable []byte
	for i := 0; i < 3000; i++ {
		switch rng.IntN(5) {
		case 0, 1:
			b := []byte{byte(rng.IntN(256)), byte(rng.IntN(256))}
			off := int64(rng.IntN(len(model) + 3))
			if _, err := f.WriteAt(b, off); err != nil {
				t.Fatal(err)
			}
			if int(off)+2 > len(model) {
				model = append(model, make([]byte, int(off)+2-len(model))...)
			}
			copy(model[off:], b)
		case 2:
			n := int64(rng.IntN(len(model) + 3))
			f.Truncate(n)
			if int(n) <= len(model) {
				model = model[:n]
			} else {
				model = append(model, make([]byte, int(n)-len(model))...)
			}
		case 3:
			mustSync(t, f)
			durable = slices.Clone(model)
		case 4:
			if got := contents(t, m.Clone().Crash(), "/d/f"); got != string(durable) {
				t.Fatalf("seed %d step %d: durable %x, want %x", seed, i, got, durable)
			}
		}
		if got := contents(t, m, "/d/f"); got != string(model) {
			t.Fatalf("seed %d step %d: current %x, want %x", seed, i, got, model)
		}
	}
}

func TestMemConcurrentUse(t *testing.T) {
	m := newDurableDir(t, "/d")
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("/d/f%d", w)
			f, err := m.OpenFile(name, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
			if err != nil {
				t.Error(err)
				return
			}
			for i := range 200 {
				f.Write([]byte{byte(i)})
				if i%10 == 0 {
					f.Sync()
					m.SyncDir("/d")
				}
				m.ReadDir("/d")
			}
		}()
	}
	wg.Wait()
	c := m.Crash()
	for w := range 4 {
		got := contents(t, c, fmt.Sprintf("/d/f%d", w))
		if len(got) != 191 {
			t.Fatalf("file %d: %d durable bytes, want 191", w, len(got))
		}
	}
}

func TestCountingAndNoSync(t *testing.T) {
	m := newDurableDir(t, "/d")
	c := Counting(m)
	f := mustOpen(t, c, "/d/f", os.O_CREATE|os.O_RDWR)
	mustWrite(t, f, "abc")
	f.WriteAt([]byte("xy"), 10)
	mustSync(t, f)
	mustSync(t, f)
	mustSyncDir(t, c, "/d")
	if c.Syncs() != 2 || c.SyncDirs() != 1 || c.Writes() != 2 || c.BytesWritten() != 5 || c.Opens() != 1 {
		t.Fatalf("counts syncs=%d dirs=%d writes=%d bytes=%d opens=%d",
			c.Syncs(), c.SyncDirs(), c.Writes(), c.BytesWritten(), c.Opens())
	}
	if _, ok := f.(OSFile); ok {
		t.Fatal("a MemFS file must not claim to be an OSFile")
	}

	n := NoSync(m)
	g := mustOpen(t, n, "/d/g", os.O_CREATE|os.O_RDWR)
	mustWrite(t, g, "data")
	mustSync(t, g) // does nothing
	mustSyncDir(t, n, "/d")
	if got := contents(t, m.Crash(), "/d/g"); got != "" {
		t.Fatalf("NoSync file kept %q after a crash", got)
	}
}

func TestOSFS(t *testing.T) {
	dir := t.TempDir()
	o := OS()
	name := filepath.Join(dir, "sub", "f")
	if err := o.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	f := mustOpen(t, o, name, os.O_CREATE|os.O_RDWR)
	of, ok := f.(OSFile)
	if !ok || of.OS() == nil {
		t.Fatal("OS files must implement OSFile")
	}
	mustWrite(t, f, "hello")
	mustSync(t, f)
	mustSyncDir(t, o, filepath.Dir(name))
	if err := o.SyncDir(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("SyncDir of a missing directory succeeded")
	}
	f.Close()
	c := Counting(o)
	g := mustOpen(t, c, name, os.O_RDWR)
	if _, ok := g.(OSFile); !ok {
		t.Fatal("Counting must keep OSFile")
	}
	mustSync(t, g)
	g.Close()
	if c.Syncs() != 1 {
		t.Fatalf("syncs %d", c.Syncs())
	}
	if err := o.Rename(name, name+"2"); err != nil {
		t.Fatal(err)
	}
	if got := contents(t, o, name+"2"); got != "hello" {
		t.Fatalf("got %q", got)
	}
	if es, _ := o.ReadDir(filepath.Dir(name)); len(es) != 1 || es[0].Name() != "f2" {
		t.Fatalf("readdir %v", es)
	}
	if err := o.RemoveAll(filepath.Join(dir, "sub")); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Stat(name + "2"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat after RemoveAll: %v", err)
	}
}

// Differential test: random operations on MemFS and on the real filesystem
// must agree on success, contents and listings (current state only).
func TestMemMatchesOS(t *testing.T) {
	root := t.TempDir()
	o := OS()
	m := NewMem()
	m.MkdirAll(root, 0o755)
	rng := rand.New(rand.NewPCG(42, 1))
	files := []string{"a", "b", "c", "sub/d", "sub/e"}
	type pair struct{ mf, of File }
	open := map[string]pair{}
	for step := 0; step < 2000; step++ {
		name := files[rng.IntN(len(files))]
		p := filepath.Join(root, name)
		var me, oe error
		switch rng.IntN(9) {
		case 0:
			flag := []int{os.O_RDWR | os.O_CREATE, os.O_RDWR, os.O_RDWR | os.O_CREATE | os.O_EXCL, os.O_RDWR | os.O_TRUNC}[rng.IntN(4)]
			var mf, of File
			mf, me = m.OpenFile(p, flag, 0o644)
			of, oe = o.OpenFile(p, flag, 0o644)
			if me == nil && oe == nil {
				if old, ok := open[name]; ok {
					old.mf.Close()
					old.of.Close()
				}
				open[name] = pair{mf, of}
			} else {
				if mf != nil {
					mf.Close()
				}
				if of != nil {
					of.Close()
				}
			}
		case 1, 2:
			if h, ok := open[name]; ok {
				b := []byte(fmt.Sprint(step))
				off := int64(rng.IntN(40))
				_, me = h.mf.WriteAt(b, off)
				_, oe = h.of.WriteAt(b, off)
			}
		case 3:
			if h, ok := open[name]; ok {
				sz := int64(rng.IntN(30))
				me, oe = h.mf.Truncate(sz), h.of.Truncate(sz)
			}
		case 4:
			me, oe = m.Remove(p), o.Remove(p)
		case 5:
			q := filepath.Join(root, files[rng.IntN(len(files))])
			me, oe = m.Rename(p, q), o.Rename(p, q)
		case 6:
			d := filepath.Join(root, "sub")
			me, oe = m.MkdirAll(d, 0o755), o.MkdirAll(d, 0o755)
		case 7:
			d := filepath.Join(root, "sub")
			me, oe = m.Remove(d), o.Remove(d)
		case 8:
			if h, ok := open[name]; ok {
				b1, b2 := make([]byte, 16), make([]byte, 16)
				off := int64(rng.IntN(40))
				n1, e1 := h.mf.ReadAt(b1, off)
				n2, e2 := h.of.ReadAt(b2, off)
				if n1 != n2 || (e1 == nil) != (e2 == nil) || !bytes.Equal(b1[:n1], b2[:n2]) {
					t.Fatalf("step %d: ReadAt %s at %d: mem %d %v, os %d %v", step, name, off, n1, e1, n2, e2)
				}
			}
		}
		if (me == nil) != (oe == nil) {
			t.Fatalf("step %d on %s: mem err %v, os err %v", step, name, me, oe)
		}
		for _, d := range []string{root, filepath.Join(root, "sub")} {
			ml, me := m.ReadDir(d)
			ol, oe := o.ReadDir(d)
			if (me == nil) != (oe == nil) || len(ml) != len(ol) {
				t.Fatalf("step %d: listing %s: mem %v %v, os %v %v", step, d, ml, me, ol, oe)
			}
			for i := range ml {
				if ml[i].Name() != ol[i].Name() || ml[i].IsDir() != ol[i].IsDir() {
					t.Fatalf("step %d: listing %s differs", step, d)
				}
			}
		}
		for _, f := range files {
			p := filepath.Join(root, f)
			if cm, co := contents(t, m, p), contents(t, o, p); cm != co {
				t.Fatalf("step %d: %s mem %q os %q", step, f, cm, co)
			}
		}
	}
	for _, h := range open {
		h.mf.Close()
		h.of.Close()
	}
}
