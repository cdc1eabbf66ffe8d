package vfs

import (
	"os"
	"strings"
	"time"
)

// SlowSyncFS wraps an FS so that every File.Sync and SyncDir first sleeps for
// Delay(): a slow disk, for fault injection. It is test-only: the broker uses
// it only when SLUICE_TEST_FSYNC_DELAY_FILE names a file (see DelayFromFile),
// which the chaos harness writes to start and end its fsync-delay fault.
// Files of the wrapped FS that are OSFiles stay OSFiles, so sendfile still
// works through it.
type SlowSyncFS struct {
	FS
	Delay func() time.Duration
}

// SlowSync wraps fs in a SlowSyncFS.
func SlowSync(fs FS, delay func() time.Duration) SlowSyncFS {
	return SlowSyncFS{FS: fs, Delay: delay}
}

// OpenFile implements FS.
func (s SlowSyncFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := s.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	sf := slowSyncFile{File: f, delay: s.Delay}
	if of, ok := f.(OSFile); ok {
		return slowSyncOSFile{slowSyncFile: sf, os: of.OS()}, nil
	}
	return sf, nil
}

// SyncDir implements FS.
func (s SlowSyncFS) SyncDir(name string) error {
	wait(s.Delay)
	return s.FS.SyncDir(name)
}

type slowSyncFile struct {
	File
	delay func() time.Duration
}

func (f slowSyncFile) Sync() error {
	wait(f.delay)
	return f.File.Sync()
}

type slowSyncOSFile struct {
	slowSyncFile
	os *os.File
}

func (f slowSyncOSFile) OS() *os.File { return f.os }

func wait(delay func() time.Duration) {
	if d := delay(); d > 0 {
		time.Sleep(d)
	}
}

// DelayFromFile returns a delay read from path at each call: a Go duration
// ("250ms") as the file's whole content. A missing, empty or unreadable file
// means no delay. Reading a small file per fsync costs microseconds, which
// is nothing beside the fsync, and lets another process change the delay
// while the broker runs.
func DelayFromFile(path string) func() time.Duration {
	return func() time.Duration {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0
		}
		d, err := time.ParseDuration(strings.TrimSpace(string(b)))
		if err != nil {
			return 0
		}
		return d
	}
}
