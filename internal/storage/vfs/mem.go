package vfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrCrashed is returned by every operation of a MemFS after its simulated
// crash point: the process is considered dead, so nothing it does afterwards
// may reach the disk.
var ErrCrashed = errors.New("vfs: simulated crash")

// OpKind names a mutating filesystem operation, as seen by hooks.
type OpKind uint8

const (
	OpCreate   OpKind = iota + 1 // OpenFile that creates a file
	OpWrite                      // Write or WriteAt
	OpSync                       // File.Sync
	OpTruncate                   // File.Truncate, or OpenFile with O_TRUNC
	OpRemove                     // Remove or RemoveAll
	OpRename                     // Rename
	OpMkdir                      // MkdirAll that creates at least one directory
	OpSyncDir                    // SyncDir
)

func (k OpKind) String() string {
	switch k {
	case OpCreate:
		return "create"
	case OpWrite:
		return "write"
	case OpSync:
		return "sync"
	case OpTruncate:
		return "truncate"
	case OpRemove:
		return "remove"
	case OpRename:
		return "rename"
	case OpMkdir:
		return "mkdir"
	case OpSyncDir:
		return "syncdir"
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// Op describes one mutating operation, for hooks and crash reports.
type Op struct {
	Kind    OpKind
	Path    string // cleaned, absolute
	NewPath string // the target of a rename
	Offset  int64  // write offset, or truncate size
	Len     int    // bytes written
}

func (o Op) String() string {
	switch o.Kind {
	case OpRename:
		return fmt.Sprintf("rename %s -> %s", o.Path, o.NewPath)
	case OpWrite:
		return fmt.Sprintf("write %s [%d, +%d)", o.Path, o.Offset, o.Len)
	case OpTruncate:
		return fmt.Sprintf("truncate %s to %d", o.Path, o.Offset)
	}
	return fmt.Sprintf("%s %s", o.Kind, o.Path)
}

// MemFS is a strict in-memory filesystem for crash tests, in the manner of
// pebble's strict MemFS. Every file's data and every directory's entries
// exist twice: as the process currently sees them, and as they would be
// found on disk after a power loss. File.Sync makes a file's current data
// durable; SyncDir makes a directory's current entries (creates, removes,
// renames) durable. Crash returns the filesystem a restarted process would
// find: a file created in a directory that was not synced afterwards is gone,
// an unsynced rename is undone, unsynced appended bytes vanish.
//
// The root directory "/" always exists and is always durable. Relative names
// are taken relative to it. Every operation is serialised by one mutex: MemFS
// is for correctness, not speed.
//
// Faults: CrashAfter(n) lets n more mutating operations through and then
// refuses every operation with ErrCrashed, so a test can stop the "process"
// in the middle of an append, a flush, a segment roll or an index write.
// SetHook sees every mutating operation before it happens and may fail it.
type MemFS struct {
	mu   sync.Mutex
	root *memNode
	now  func() time.Time

	hook      func(Op) error
	remaining int64 // mutating operations left before the crash; <0: no limit
	halted    bool
	crashOp   Op
	crashed   bool // the halt came from CrashAfter (crashOp is set)
	ops       int64
}

// memNode is a file or a directory. A node may be reachable under several
// names at once in different states (for example under its old name in the
// durable state and its new name in the current state after a rename).
type memNode struct {
	dir     bool
	mode    fs.FileMode
	modTime time.Time

	// File data: data is what readers see, synced what survives a crash.
	// After Sync the two share a backing array (shared is set) and the
	// first write below len(synced) copies data first.
	data   []byte
	synced []byte
	shared bool

	// Directory entries, current and durable, and the operations applied
	// since the last SyncDir (replayed in part by a torn crash).
	entries       map[string]*memNode
	syncedEntries map[string]*memNode
	pending       []dirOp
}

type dirOpKind uint8

const (
	dirAdd dirOpKind = iota
	dirRemove
	dirRename
)

type dirOp struct {
	kind    dirOpKind
	name    string
	newName string
	node    *memNode
}

// NewMem returns an empty MemFS holding only the root directory.
func NewMem() *MemFS {
	m := &MemFS{now: time.Now, remaining: -1}
	m.root = m.newDir(0o755)
	return m
}

func (m *MemFS) newDir(perm fs.FileMode) *memNode {
	return &memNode{
		dir:           true,
		mode:          fs.ModeDir | perm.Perm(),
		modTime:       m.now(),
		entries:       map[string]*memNode{},
		syncedEntries: map[string]*memNode{},
	}
}

// SetClock sets the source of modification times.
func (m *MemFS) SetClock(now func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = now
}

// SetHook installs f, called before every mutating operation with the
// filesystem locked (f must not call back into it). A non-nil error fails
// the operation, which then has no effect. Pass nil to remove the hook.
func (m *MemFS) SetHook(f func(Op) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hook = f
}

// CrashAfter lets n more mutating operations succeed; the next one, and every
// operation after it, fails with ErrCrashed and has no effect. A negative n
// removes the limit.
func (m *MemFS) CrashAfter(n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.remaining = n
}

// Halt stops the filesystem now: every later operation fails with ErrCrashed.
func (m *MemFS) Halt() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.halted = true
}

// Halted reports whether the filesystem has stopped (Halt, CrashAfter or Crash).
func (m *MemFS) Halted() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.halted
}

// CrashPoint returns the operation refused at the CrashAfter limit, if the
// limit was reached.
func (m *MemFS) CrashPoint() (Op, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.crashOp, m.crashed
}

// Ops returns the number of mutating operations that have succeeded.
func (m *MemFS) Ops() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops
}

// Crash halts this filesystem and returns what a restarted process would
// find on disk: only synced file data and synced directory entries. Files
// still open on the old filesystem stay dead.
func (m *MemFS) Crash() *MemFS { return m.crash(nil) }

// CrashTorn is Crash for a less kind disk: besides everything synced, a
// random part of what was not synced survives too, as a real filesystem may
// have written it back before the power went. For each file, a random prefix
// of the bytes appended since its last Sync survives (sometimes as zeros: the
// size reached the disk, the data did not); for each directory, a random
// prefix of the entry changes since its last SyncDir survives. Synced state
// always survives whole.
func (m *MemFS) CrashTorn(rng *rand.Rand) *MemFS { return m.crash(rng) }

func (m *MemFS) crash(rng *rand.Rand) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.halted = true
	n := &MemFS{now: m.now, remaining: -1}
	copies := map[*memNode]*memNode{}
	n.root = crashCopy(m.root, rng, copies)
	return n
}

// crashCopy returns the durable image of node o, memoised so that a node
// reachable under two names stays one node.
func crashCopy(o *memNode, rng *rand.Rand, copies map[*memNode]*memNode) *memNode {
	if c, ok := copies[o]; ok {
		return c
	}
	c := &memNode{dir: o.dir, mode: o.mode, modTime: o.modTime}
	copies[o] = c
	if !o.dir {
		c.data = tornData(o, rng)
		c.synced = c.data[:len(c.data):len(c.data)]
		c.shared = true
		return c
	}
	entries := maps(o.syncedEntries)
	if rng != nil && len(o.pending) > 0 {
		keep := rng.IntN(len(o.pending) + 1)
		for _, op := range o.pending[:keep] {
			applyDirOp(entries, op)
		}
	}
	c.entries = map[string]*memNode{}
	c.syncedEntries = map[string]*memNode{}
	for name, child := range entries {
		cc := crashCopy(child, rng, copies)
		c.entries[name] = cc
		c.syncedEntries[name] = cc
	}
	return c
}

// tornData returns the bytes of a file after a crash: the synced bytes, and
// with rng some of the unsynced ones.
func tornData(o *memNode, rng *rand.Rand) []byte {
	if rng == nil || sameBytes(o.data, o.synced) {
		if o.synced == nil {
			return []byte{}
		}
		return o.synced
	}
	if len(o.data) > len(o.synced) && sameBytes(o.data[:len(o.synced)], o.synced) {
		// Appended since the last sync: keep a random prefix of the tail.
		keep := len(o.synced) + rng.IntN(len(o.data)-len(o.synced)+1)
		out := make([]byte, keep)
		copy(out, o.data[:keep])
		if rng.IntN(4) == 0 {
			// The size reached the disk before the data did.
			clear(out[len(o.synced)+rng.IntN(keep-len(o.synced)+1):])
		}
		return out
	}
	// Overwritten or truncated since the last sync: either every change
	// reached the disk or none did.
	if rng.IntN(2) == 0 {
		return slices.Clone(o.data)
	}
	return o.synced
}

func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0] || string(a) == string(b))
}

func maps(src map[string]*memNode) map[string]*memNode {
	out := make(map[string]*memNode, len(src))
	for k, v := range src {
		out[k] = v
	}
	return out
}

func applyDirOp(entries map[string]*memNode, op dirOp) {
	switch op.kind {
	case dirAdd:
		entries[op.name] = op.node
	case dirRemove:
		delete(entries, op.name)
	case dirRename:
		if n, ok := entries[op.name]; ok {
			delete(entries, op.name)
			entries[op.newName] = n
		}
	}
}

// Clone returns an independent copy of the filesystem, current and durable
// state alike, leaving this one running. Hooks and crash limits are not
// copied.
func (m *MemFS) Clone() *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := &MemFS{now: m.now, remaining: -1}
	copies := map[*memNode]*memNode{}
	var cp func(o *memNode) *memNode
	cp = func(o *memNode) *memNode {
		if c, ok := copies[o]; ok {
			return c
		}
		c := &memNode{dir: o.dir, mode: o.mode, modTime: o.modTime}
		copies[o] = c
		if !o.dir {
			c.data = slices.Clone(o.data)
			c.synced = slices.Clone(o.synced)
			if c.data == nil {
				c.data = []byte{}
			}
			return c
		}
		c.entries = map[string]*memNode{}
		c.syncedEntries = map[string]*memNode{}
		for k, v := range o.entries {
			c.entries[k] = cp(v)
		}
		for k, v := range o.syncedEntries {
			c.syncedEntries[k] = cp(v)
		}
		for _, op := range o.pending {
			if op.node != nil {
				op.node = cp(op.node)
			}
			c.pending = append(c.pending, op)
		}
		return c
	}
	n.root = cp(m.root)
	return n
}

// begin admits one mutating operation; m.mu is held.
func (m *MemFS) begin(op Op) error {
	if m.halted {
		return ErrCrashed
	}
	if m.remaining == 0 {
		m.halted = true
		m.crashed = true
		m.crashOp = op
		return ErrCrashed
	}
	if m.hook != nil {
		if err := m.hook(op); err != nil {
			return err
		}
	}
	if m.remaining > 0 {
		m.remaining--
	}
	m.ops++
	return nil
}

// clean turns a name into an absolute, cleaned path.
func clean(name string) string { return path.Clean("/" + name) }

// split returns the parent directory and base name of a cleaned path.
func split(p string) (string, string) {
	dir, base := path.Split(p)
	return path.Clean(dir), base
}

// lookup finds the node at the cleaned path p; m.mu is held.
func (m *MemFS) lookup(p string) (*memNode, error) {
	n := m.root
	if p == "/" {
		return n, nil
	}
	for _, part := range strings.Split(p[1:], "/") {
		if !n.dir {
			return nil, syscall.ENOTDIR
		}
		c, ok := n.entries[part]
		if !ok {
			return nil, fs.ErrNotExist
		}
		n = c
	}
	return n, nil
}

// parent returns the directory that holds p; m.mu is held.
func (m *MemFS) parent(p string) (*memNode, string, error) {
	dir, base := split(p)
	if base == "" {
		return nil, "", fs.ErrInvalid
	}
	d, err := m.lookup(dir)
	if err != nil {
		return nil, "", err
	}
	if !d.dir {
		return nil, "", syscall.ENOTDIR
	}
	return d, base, nil
}

func (d *memNode) add(name string, n *memNode) {
	d.entries[name] = n
	d.pending = append(d.pending, dirOp{kind: dirAdd, name: name, node: n})
}

func (d *memNode) remove(name string) {
	delete(d.entries, name)
	d.pending = append(d.pending, dirOp{kind: dirRemove, name: name})
}

// OpenFile implements FS.
func (m *MemFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := clean(name)
	pe := func(err error) error { return &fs.PathError{Op: "open", Path: p, Err: err} }
	if m.halted {
		return nil, pe(ErrCrashed)
	}
	d, base, err := m.parent(p)
	if err != nil {
		return nil, pe(err)
	}
	n, exists := d.entries[base]
	switch {
	case exists && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, pe(fs.ErrExist)
	case !exists && flag&os.O_CREATE == 0:
		return nil, pe(fs.ErrNotExist)
	case exists && n.dir && flag&(os.O_WRONLY|os.O_RDWR) != 0:
		return nil, pe(syscall.EISDIR)
	}
	if !exists {
		if err := m.begin(Op{Kind: OpCreate, Path: p}); err != nil {
			return nil, pe(err)
		}
		n = &memNode{mode: perm.Perm(), modTime: m.now(), data: []byte{}}
		d.add(base, n)
	} else if flag&os.O_TRUNC != 0 && !n.dir && len(n.data) > 0 {
		if err := m.begin(Op{Kind: OpTruncate, Path: p}); err != nil {
			return nil, pe(err)
		}
		n.truncate(0)
		n.modTime = m.now()
	}
	return &memFile{fs: m, n: n, name: p, flag: flag}, nil
}

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := clean(name)
	pe := func(err error) error { return &fs.PathError{Op: "remove", Path: p, Err: err} }
	if m.halted {
		return pe(ErrCrashed)
	}
	d, base, err := m.parent(p)
	if err != nil {
		return pe(err)
	}
	n, ok := d.entries[base]
	if !ok {
		return pe(fs.ErrNotExist)
	}
	if n.dir && len(n.entries) > 0 {
		return pe(syscall.ENOTEMPTY)
	}
	if err := m.begin(Op{Kind: OpRemove, Path: p}); err != nil {
		return pe(err)
	}
	d.remove(base)
	return nil
}

// RemoveAll implements FS. Like os.RemoveAll, a missing name is no error.
// The tree is unlinked from its parent in one step; whether that survives a
// crash depends on a SyncDir of the parent.
func (m *MemFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := clean(name)
	pe := func(err error) error { return &fs.PathError{Op: "removeall", Path: p, Err: err} }
	if m.halted {
		return pe(ErrCrashed)
	}
	if p == "/" {
		return pe(fs.ErrInvalid)
	}
	d, base, err := m.parent(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return pe(err)
	}
	if _, ok := d.entries[base]; !ok {
		return nil
	}
	if err := m.begin(Op{Kind: OpRemove, Path: p}); err != nil {
		return pe(err)
	}
	d.remove(base)
	return nil
}

// Rename implements FS. A rename within one directory is one atomic entry
// change there; across directories it is a removal in one and an addition in
// the other, each durable after its own SyncDir.
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	op, np := clean(oldname), clean(newname)
	le := func(err error) error { return &os.LinkError{Op: "rename", Old: op, New: np, Err: err} }
	if m.halted {
		return le(ErrCrashed)
	}
	od, obase, err := m.parent(op)
	if err != nil {
		return le(err)
	}
	n, ok := od.entries[obase]
	if !ok {
		return le(fs.ErrNotExist)
	}
	nd, nbase, err := m.parent(np)
	if err != nil {
		return le(err)
	}
	if op == np {
		return nil
	}
	if n.dir && strings.HasPrefix(np, op+"/") {
		return le(fs.ErrInvalid)
	}
	if t, ok := nd.entries[nbase]; ok {
		switch {
		case t.dir && !n.dir:
			return le(syscall.EISDIR)
		case !t.dir && n.dir:
			return le(syscall.ENOTDIR)
		case t.dir && len(t.entries) > 0:
			return le(syscall.ENOTEMPTY)
		}
	}
	if err := m.begin(Op{Kind: OpRename, Path: op, NewPath: np}); err != nil {
		return le(err)
	}
	if od == nd {
		delete(od.entries, obase)
		od.entries[nbase] = n
		od.pending = append(od.pending, dirOp{kind: dirRename, name: obase, newName: nbase})
		return nil
	}
	od.remove(obase)
	nd.add(nbase, n)
	return nil
}

// MkdirAll implements FS. Each directory it creates is a new entry of its
// parent, durable after a SyncDir of that parent.
func (m *MemFS) MkdirAll(name string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := clean(name)
	pe := func(err error) error { return &fs.PathError{Op: "mkdir", Path: p, Err: err} }
	if m.halted {
		return pe(ErrCrashed)
	}
	// Find the deepest existing ancestor first, so a refused operation
	// creates nothing.
	n := m.root
	parts := []string{}
	if p != "/" {
		parts = strings.Split(p[1:], "/")
	}
	i := 0
	for ; i < len(parts); i++ {
		c, ok := n.entries[parts[i]]
		if !ok {
			break
		}
		if !c.dir {
			return pe(syscall.ENOTDIR)
		}
		n = c
	}
	if i == len(parts) {
		return nil
	}
	if err := m.begin(Op{Kind: OpMkdir, Path: p}); err != nil {
		return pe(err)
	}
	for ; i < len(parts); i++ {
		c := m.newDir(perm)
		n.add(parts[i], c)
		n = c
	}
	return nil
}

// ReadDir implements FS; entries come sorted by name.
func (m *MemFS) ReadDir(name string) ([]fs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := clean(name)
	pe := func(err error) error { return &fs.PathError{Op: "readdir", Path: p, Err: err} }
	if m.halted {
		return nil, pe(ErrCrashed)
	}
	d, err := m.lookup(p)
	if err != nil {
		return nil, pe(err)
	}
	if !d.dir {
		return nil, pe(syscall.ENOTDIR)
	}
	out := make([]fs.DirEntry, 0, len(d.entries))
	for name, n := range d.entries {
		out = append(out, fs.FileInfoToDirEntry(n.info(name)))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// Stat implements FS.
func (m *MemFS) Stat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := clean(name)
	if m.halted {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: ErrCrashed}
	}
	n, err := m.lookup(p)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	_, base := split(p)
	if p == "/" {
		base = "/"
	}
	return n.info(base), nil
}

// SyncDir implements FS: the directory's current entries become durable.
func (m *MemFS) SyncDir(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := clean(name)
	pe := func(err error) error { return &fs.PathError{Op: "syncdir", Path: p, Err: err} }
	if m.halted {
		return pe(ErrCrashed)
	}
	d, err := m.lookup(p)
	if err != nil {
		return pe(err)
	}
	if !d.dir {
		return pe(syscall.ENOTDIR)
	}
	if err := m.begin(Op{Kind: OpSyncDir, Path: p}); err != nil {
		return pe(err)
	}
	d.syncedEntries = maps(d.entries)
	d.pending = nil
	return nil
}

// writeAt writes p at off, copying the data first if it is shared with the
// durable image and the write (or the zero fill of a hole before it) would
// change durable bytes.
func (n *memNode) writeAt(p []byte, off int64) {
	if n.shared && min(off, int64(len(n.data))) < int64(len(n.synced)) {
		n.data = slices.Clone(n.data)
		n.shared = false
	}
	end := off + int64(len(p))
	if end > int64(len(n.data)) {
		if end > int64(cap(n.data)) {
			grown := make([]byte, end, max(end, 2*int64(cap(n.data))))
			copy(grown, n.data)
			n.data = grown
			n.shared = false
		} else {
			old := len(n.data)
			n.data = n.data[:end]
			clear(n.data[old:])
		}
	}
	copy(n.data[off:], p)
}

func (n *memNode) truncate(size int64) {
	if size <= int64(len(n.data)) {
		n.data = n.data[:size]
		return
	}
	n.writeAt(make([]byte, size-int64(len(n.data))), int64(len(n.data)))
}

func (n *memNode) info(name string) fs.FileInfo {
	return memInfo{name: name, size: int64(len(n.data)), mode: n.mode, modTime: n.modTime}
}

type memInfo struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime time.Time
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return i.mode }
func (i memInfo) ModTime() time.Time { return i.modTime }
func (i memInfo) IsDir() bool        { return i.mode.IsDir() }
func (i memInfo) Sys() any           { return nil }

// memFile is an open MemFS file. Its node stays readable after the name is
// removed, as on Unix.
type memFile struct {
	fs     *MemFS
	n      *memNode
	name   string
	flag   int
	pos    int64
	closed bool
}

func (f *memFile) readable() bool { return f.flag&(os.O_WRONLY|os.O_RDWR) != os.O_WRONLY }
func (f *memFile) writable() bool { return f.flag&(os.O_WRONLY|os.O_RDWR) != 0 }

// check is called with f.fs.mu held.
func (f *memFile) check(op string) error {
	if f.fs.halted {
		return &fs.PathError{Op: op, Path: f.name, Err: ErrCrashed}
	}
	if f.closed {
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrClosed}
	}
	return nil
}

func (f *memFile) Read(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read"); err != nil {
		return 0, err
	}
	if !f.readable() || f.n.dir {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: syscall.EBADF}
	}
	if f.pos >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[f.pos:])
	f.pos += int64(n)
	return n, nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read"); err != nil {
		return 0, err
	}
	if !f.readable() || f.n.dir {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: syscall.EBADF}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "readat", Path: f.name, Err: fs.ErrInvalid}
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	off := f.pos
	if f.flag&os.O_APPEND != 0 {
		off = int64(len(f.n.data))
	}
	if err := f.write(p, off); err != nil {
		return 0, err
	}
	f.pos = off + int64(len(p))
	return len(p), nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.flag&os.O_APPEND != 0 {
		return 0, errors.New("os: invalid use of WriteAt on file opened with O_APPEND")
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "writeat", Path: f.name, Err: fs.ErrInvalid}
	}
	if err := f.write(p, off); err != nil {
		return 0, err
	}
	return len(p), nil
}

// write is called with f.fs.mu held.
func (f *memFile) write(p []byte, off int64) error {
	if err := f.check("write"); err != nil {
		return err
	}
	if !f.writable() || f.n.dir {
		return &fs.PathError{Op: "write", Path: f.name, Err: syscall.EBADF}
	}
	if len(p) == 0 {
		return nil
	}
	if err := f.fs.begin(Op{Kind: OpWrite, Path: f.name, Offset: off, Len: len(p)}); err != nil {
		return &fs.PathError{Op: "write", Path: f.name, Err: err}
	}
	f.n.writeAt(p, off)
	f.n.modTime = f.fs.now()
	return nil
}

// Sync makes the file's current data durable.
func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("sync"); err != nil {
		return err
	}
	if err := f.fs.begin(Op{Kind: OpSync, Path: f.name}); err != nil {
		return &fs.PathError{Op: "sync", Path: f.name, Err: err}
	}
	if !f.n.dir {
		f.n.synced = f.n.data[:len(f.n.data):len(f.n.data)]
		f.n.shared = true
	}
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("truncate"); err != nil {
		return err
	}
	if !f.writable() || f.n.dir {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: syscall.EINVAL}
	}
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: fs.ErrInvalid}
	}
	if err := f.fs.begin(Op{Kind: OpTruncate, Path: f.name, Offset: size}); err != nil {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: err}
	}
	f.n.truncate(size)
	f.n.modTime = f.fs.now()
	return nil
}

func (f *memFile) Stat() (fs.FileInfo, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("stat"); err != nil {
		return nil, err
	}
	_, base := split(f.name)
	return f.n.info(base), nil
}

// Close releases the handle. After a crash it succeeds and does nothing,
// as a dead process's descriptors simply vanish.
func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed && !f.fs.halted {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	f.closed = true
	return nil
}
