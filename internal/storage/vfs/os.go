package vfs

import (
	"fmt"
	"io/fs"
	"os"
)

// OS returns the real filesystem. Its files implement OSFile, so the network
// layer can hand their descriptors to sendfile.
func OS() FS { return osFS{} }

type osFS struct{}

// osFile embeds *os.File for every File method and adds OS.
type osFile struct{ *os.File }

func (f osFile) OS() *os.File { return f.File }

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Remove(name string) error                     { return os.Remove(name) }
func (osFS) RemoveAll(name string) error                  { return os.RemoveAll(name) }
func (osFS) Rename(oldname, newname string) error         { return os.Rename(oldname, newname) }
func (osFS) MkdirAll(name string, perm os.FileMode) error { return os.MkdirAll(name, perm) }
func (osFS) ReadDir(name string) ([]fs.DirEntry, error)   { return os.ReadDir(name) }
func (osFS) Stat(name string) (fs.FileInfo, error)        { return os.Stat(name) }

// SyncDir fsyncs the directory itself, which is what makes the creation,
// removal and renaming of its entries survive a power loss on Linux.
func (osFS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("open directory for sync: %w", err)
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync directory %s: %w", name, err)
	}
	return d.Close()
}
