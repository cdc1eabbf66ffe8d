package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Creating a log without an fsync per file.
//
// A new partition's log is a directory holding partition.metadata and an
// empty first segment. Making each creation durable on its own took four
// fsyncs (the log directory, partition.metadata, and the partition
// directory twice): 3 to 10 ms a partition here, so a topic of 1,000
// partitions took seconds to appear, all under the manager's lock.
//
// Nothing needs a new log to be durable at once: the log holds no data yet,
// and after a crash the broker creates the logs of its partitions again from
// the metadata image, so a lost directory costs nothing (a torn or missing
// partition.metadata is read as no topic id and written again). What must
// hold is that no acknowledged write depends on a creation that is not on
// disk. So GetOrCreate writes the files without fsyncs and marks the log
// createUnsynced, and the creation is made durable:
//
//   - before the first flush of the log publishes a flushed offset (so a
//     durable append is never acknowledged on a log a crash can take away),
//     and when the log is closed cleanly;
//   - in the background, by the manager's creation syncer, for the logs
//     created meanwhile as one batch: each one's partition.metadata and
//     directory, then each log directory once. On ext4 the first of these
//     fsyncs commits the journal transaction that holds every directory of
//     the batch, and the later ones find nothing left to write.

// writeCreationFile writes a new log's small file without an fsync; the
// creation sync makes it durable.
func writeCreationFile(l *Log, name string, data []byte) error {
	f, err := l.m.fs.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	return nil
}

// syncCreationFiles makes a new log's partition.metadata and directory
// entries durable, but not the log directory's entry for it.
func (l *Log) syncCreationFiles() error {
	dir := l.Dir()
	name := filepath.Join(dir, PartitionMetadataFile)
	f, err := l.m.fs.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", name, err)
	}
	if err := l.m.fs.SyncDir(dir); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// syncCreation makes the log's creation durable if it is not yet: its files,
// its directory and the log directory's entry for it. The flusher calls it
// before it publishes a flushed offset, Close before the log closes.
func (l *Log) syncCreation() error {
	if !l.createUnsynced.Load() {
		return nil
	}
	l.createMu.Lock()
	defer l.createMu.Unlock()
	if !l.createUnsynced.Load() {
		return nil
	}
	if err := l.syncCreationFiles(); err != nil {
		return err
	}
	if err := l.m.fs.SyncDir(l.root); err != nil {
		return fmt.Errorf("sync directory %s: %w", l.root, err)
	}
	l.createUnsynced.Store(false)
	return nil
}

// created notes a log whose creation is not durable yet for the creation
// syncer, if one runs. Under m.mu.
func (m *Manager) createdLocked(l *Log) {
	if m.createKick == nil {
		return
	}
	m.unsynced = append(m.unsynced, l)
	select {
	case m.createKick <- struct{}{}:
	default:
	}
}

// creationSyncDelay is how long the creation syncer lets creations gather
// before it syncs them: long enough for a topic's partitions to be one
// batch, short beside the broker's flush intervals.
const creationSyncDelay = 50 * time.Millisecond

// creationSyncer makes new logs durable in batches, in the background
// (started with the scheduler). A log it fails to sync stays unsynced: its
// first flush tries again and reports the error where it matters.
func (m *Manager) creationSyncer() {
	defer m.wg.Done()
	for {
		select {
		case <-m.stop:
			return
		case <-m.createKick:
		}
		// Let the creations that come together (a topic's partitions)
		// gather into one batch.
		t := time.NewTimer(creationSyncDelay)
		select {
		case <-m.stop:
			t.Stop()
			return
		case <-t.C:
		}
		m.mu.Lock()
		batch := m.unsynced
		m.unsynced = nil
		m.mu.Unlock()
		m.syncCreations(batch)
	}
}

// syncCreations makes a batch of creations durable: every log's files and
// directory, then each log directory once, then marks them synced.
func (m *Manager) syncCreations(batch []*Log) {
	roots := map[string]bool{}
	done := batch[:0]
	for _, l := range batch {
		if !l.createUnsynced.Load() || l.closed.Load() {
			continue
		}
		if err := l.syncCreationFiles(); err != nil {
			if !l.closed.Load() {
				l.logger.Warn("new log not synced yet; its first flush retries", "err", err)
			}
			continue
		}
		roots[l.root] = true
		done = append(done, l)
	}
	for root := range roots {
		if err := m.fs.SyncDir(root); err != nil {
			m.logger.Warn("log directory not synced after creating logs; their first flushes retry", "dir", root, "err", err)
			return
		}
	}
	for _, l := range done {
		l.createMu.Lock()
		l.createUnsynced.Store(false)
		l.createMu.Unlock()
	}
}
