package storage

import (
	"context"
	"errors"
	"fmt"
)

// Group commit. A writer that must not acknowledge before its batch is on
// disk calls WaitFlushed. The first waiter starts a flusher goroutine for
// the log; the flusher notes the log end offset, fsyncs the segment files
// that may hold unsynced bytes (and the directory after a roll), then
// publishes the new flushed offset and wakes every waiter at once. Waiters
// that arrive during an fsync are served together by the next one, so one
// fsync covers every append that waited for it, and appends proceed during
// fsyncs: the writer lock is never held across one.

// WaitFlushed returns once every byte of the log below offset is fsynced,
// or with ctx's error, or with KAFKA_STORAGE_ERROR if an fsync failed.
func (l *Log) WaitFlushed(ctx context.Context, offset int64) error {
	for {
		if l.flushed.Load() >= offset {
			return nil
		}
		l.fmu.Lock()
		if l.flushed.Load() >= offset {
			l.fmu.Unlock()
			return nil
		}
		if p := l.failed.Load(); p != nil {
			l.fmu.Unlock()
			return storageErr("flush", l.tp, *p)
		}
		if l.closed.Load() {
			l.fmu.Unlock()
			return fmt.Errorf("flush %s: %w", l.tp, ErrClosed)
		}
		if leo := l.leo.Load(); offset > leo {
			l.fmu.Unlock()
			return fmt.Errorf("flush %s to %d: beyond the log end %d (truncated?): %w", l.tp, offset, leo, ErrTruncated)
		}
		ch := l.flushCh
		l.requestFlushLocked(offset)
		l.fmu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ErrTruncated is returned to a WaitFlushed whose offset a truncation
// removed.
var ErrTruncated = errors.New("storage: offset truncated")

// requestFlushLocked asks for the log to be flushed to at least offset,
// starting the flusher if it is idle. Under fmu.
func (l *Log) requestFlushLocked(offset int64) {
	if offset > l.flushWant {
		l.flushWant = offset
	}
	if !l.flushing {
		l.flushing = true
		go l.flushLoop()
	}
}

// requestFlush starts an asynchronous flush of everything appended so far
// (the flush.messages and flush.ms policies).
func (l *Log) requestFlush() {
	l.fmu.Lock()
	if !l.closed.Load() && l.failed.Load() == nil {
		l.requestFlushLocked(l.leo.Load())
	}
	l.fmu.Unlock()
}

// maybeFlushLocked applies flush.messages after an append: once as many
// messages as it says are unflushed, flush in the background. (Durable
// mode, flush.messages=1, is served by the produce path's WaitFlushed.)
func (l *Log) maybeFlushLocked(lc *logConfig) {
	if lc.FlushMessages > 1 && l.leo.Load()-l.flushed.Load() >= lc.FlushMessages {
		l.requestFlush()
	}
}

// maybeTimedFlush applies flush.ms: flush if data is unflushed and the last
// flush is at least flush.ms old.
func (l *Log) maybeTimedFlush(nowMs int64) {
	lc := l.config()
	if l.flushed.Load() >= l.leo.Load() {
		return
	}
	if nowMs-l.lastFlush.Load() >= lc.FlushMs {
		l.requestFlush()
	}
}

// flushLoop is the flusher: it fsyncs until no flush is wanted.
func (l *Log) flushLoop() {
	for {
		l.fmu.Lock()
		// A truncation may have removed what was wanted.
		want := min(l.flushWant, l.leo.Load())
		if want <= l.flushed.Load() || l.failed.Load() != nil || l.closedForFlush() {
			l.flushing = false
			// Wake every waiter on the way out: one that registered after
			// the last round must see the failure (or its offset gone), not
			// wait for a flusher that no longer runs.
			close(l.flushCh)
			l.flushCh = make(chan struct{})
			l.fmu.Unlock()
			return
		}
		l.fmu.Unlock()

		// Note the target before choosing the files: whatever lies below it
		// was written to a segment that is active or pending now.
		target := l.leo.Load()
		l.fmu.Lock()
		gen := l.gen
		dirDirty := l.dirDirty
		l.dirDirty = false
		segs := make([]*segment, 0, len(l.pending)+1)
		for _, s := range l.pending {
			s.ref()
			segs = append(segs, s)
		}
		l.fmu.Unlock()
		// The active segment: taken after pending, so a roll in between
		// leaves the old one in pending or active, never in neither.
		if act := l.activeRef(); act != nil {
			segs = append(segs, act)
		}

		var err error
		for _, s := range segs {
			if s.deleted.Load() {
				continue
			}
			if err = s.syncLog(); err != nil {
				break
			}
		}
		if err == nil && dirDirty {
			if err = l.m.fs.SyncDir(l.Dir()); err != nil {
				err = fmt.Errorf("sync directory %s: %w", l.Dir(), err)
			}
		}
		if err == nil {
			// A new log's directory must be on disk before its data counts
			// as flushed (create.go).
			err = l.syncCreation()
		}
		releaseAll(segs)

		l.fmu.Lock()
		if err != nil {
			if l.gen == gen {
				l.dirDirty = l.dirDirty || dirDirty
				l.fail(err)
			}
		} else if l.gen == gen && target > l.flushed.Load() {
			l.flushed.Store(target)
			l.updateRecoveryPointLocked()
		}
		l.lastFlush.Store(l.m.now().UnixMilli())
		close(l.flushCh)
		l.flushCh = make(chan struct{})
		l.fmu.Unlock()
	}
}

// closedForFlush: a deleted log has nothing left to flush.
func (l *Log) closedForFlush() bool { return l.deletedDir.Load() }

// activeRef returns the active segment, referenced.
func (l *Log) activeRef() *segment {
	l.segMu.RLock()
	defer l.segMu.RUnlock()
	if len(l.segs) == 0 {
		return nil
	}
	s := l.segs[len(l.segs)-1]
	s.ref()
	return s
}

// Flush makes everything appended so far durable, and brings the active
// segment's index files up to date.
func (l *Log) Flush() error {
	if err := l.usable(); err != nil {
		return err
	}
	if act := l.activeRef(); act != nil {
		err := act.writePendingIndexes(false, false)
		act.release()
		if err != nil {
			return storageErr("flush", l.tp, err)
		}
	}
	return l.WaitFlushed(context.Background(), l.leo.Load())
}
