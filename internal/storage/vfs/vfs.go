// Package vfs is the filesystem seam of the storage engine. Every byte the log
// writes or reads goes through an FS, so that tests can swap the real
// filesystem for one that forgets unsynced writes at a simulated crash (see
// MemFS), the way pebble's strict in-memory filesystem does.
package vfs

import (
	"io"
	"io/fs"
	"os"
)

// File is an open file. It is the subset of *os.File the log needs.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Closer
	// Sync makes the file's contents durable (fsync).
	Sync() error
	// Truncate changes the file's size.
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
}

// OSFile is implemented by files backed by a real descriptor, so the network
// layer can send their bytes with sendfile.
type OSFile interface {
	File
	OS() *os.File
}

// FS is the filesystem the storage engine uses.
type FS interface {
	// OpenFile opens name as os.OpenFile does (O_RDONLY, O_RDWR, O_CREATE,
	// O_EXCL, O_TRUNC, O_APPEND are honoured).
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	Remove(name string) error
	// RemoveAll removes a directory tree.
	RemoveAll(name string) error
	// Rename renames atomically; the rename is durable only after SyncDir
	// of the parent directory.
	Rename(oldname, newname string) error
	MkdirAll(name string, perm os.FileMode) error
	ReadDir(name string) ([]fs.DirEntry, error)
	Stat(name string) (fs.FileInfo, error)
	// SyncDir makes the directory's entries (creates, removes, renames)
	// durable.
	SyncDir(name string) error
}
