package vfs

import (
	"os"
	"sync/atomic"
)

// CountingFS wraps an FS and counts what tests care about: file syncs,
// directory syncs, writes and bytes written. Files of the wrapped FS that
// are OSFiles stay OSFiles, so sendfile still works through it.
type CountingFS struct {
	FS
	syncs, syncDirs, writes, bytes, opens atomic.Int64
}

// Counting wraps fs in a CountingFS.
func Counting(fs FS) *CountingFS { return &CountingFS{FS: fs} }

// Syncs returns the number of File.Sync calls.
func (c *CountingFS) Syncs() int64 { return c.syncs.Load() }

// SyncDirs returns the number of SyncDir calls.
func (c *CountingFS) SyncDirs() int64 { return c.syncDirs.Load() }

// Writes returns the number of Write and WriteAt calls.
func (c *CountingFS) Writes() int64 { return c.writes.Load() }

// BytesWritten returns the bytes passed to Write and WriteAt.
func (c *CountingFS) BytesWritten() int64 { return c.bytes.Load() }

// Opens returns the number of successful OpenFile calls.
func (c *CountingFS) Opens() int64 { return c.opens.Load() }

// OpenFile implements FS.
func (c *CountingFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := c.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	c.opens.Add(1)
	cf := countingFile{File: f, c: c}
	if of, ok := f.(OSFile); ok {
		return countingOSFile{countingFile: cf, os: of.OS()}, nil
	}
	return cf, nil
}

// SyncDir implements FS.
func (c *CountingFS) SyncDir(name string) error {
	c.syncDirs.Add(1)
	return c.FS.SyncDir(name)
}

type countingFile struct {
	File
	c *CountingFS
}

func (f countingFile) Write(p []byte) (int, error) {
	f.c.writes.Add(1)
	n, err := f.File.Write(p)
	f.c.bytes.Add(int64(n))
	return n, err
}

func (f countingFile) WriteAt(p []byte, off int64) (int, error) {
	f.c.writes.Add(1)
	n, err := f.File.WriteAt(p, off)
	f.c.bytes.Add(int64(n))
	return n, err
}

func (f countingFile) Sync() error {
	f.c.syncs.Add(1)
	return f.File.Sync()
}

type countingOSFile struct {
	countingFile
	os *os.File
}

func (f countingOSFile) OS() *os.File { return f.os }

// NoSyncFS wraps an FS so that File.Sync does nothing and reports success.
// It exists to prove that crash tests notice a missing fsync: over a MemFS,
// nothing written through it ever becomes durable. SyncDir still works.
type NoSyncFS struct{ FS }

// NoSync wraps fs in a NoSyncFS.
func NoSync(fs FS) NoSyncFS { return NoSyncFS{FS: fs} }

// OpenFile implements FS.
func (n NoSyncFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := n.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return noSyncFile{f}, nil
}

type noSyncFile struct{ File }

func (noSyncFile) Sync() error { return nil }
