package storage

import "sync"

// EpochEntry says that leader epoch Epoch wrote its first batch at
// StartOffset.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// epochCache is Kafka's LeaderEpochFileCache in memory: the start offset of
// every leader epoch that wrote to the log, ascending in both fields. The
// log persists it to leader-epoch-checkpoint whenever it changes; it is the
// answer to OffsetForLeaderEpoch and the guide for follower truncation.
type epochCache struct {
	mu      sync.RWMutex
	entries []EpochEntry
}

// assign records that epoch starts at offset. It reports whether the cache
// changed. A batch of an epoch the cache already knows, an unknown epoch
// (< 0) or an epoch older than the latest change nothing. Entries that
// start at or after offset belong to a history the new epoch overrides and
// are dropped.
func (c *epochCache) assign(epoch int32, offset int64) bool {
	if epoch < 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.entries); n > 0 {
		last := c.entries[n-1]
		if epoch <= last.Epoch {
			return false
		}
	}
	for len(c.entries) > 0 && c.entries[len(c.entries)-1].StartOffset >= offset {
		c.entries = c.entries[:len(c.entries)-1]
	}
	c.entries = append(c.entries, EpochEntry{Epoch: epoch, StartOffset: offset})
	return true
}

// unassign removes the latest entry if it is exactly e (an append that
// recorded e failed).
func (c *epochCache) unassign(e EpochEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.entries); n > 0 && c.entries[n-1] == e {
		c.entries = c.entries[:n-1]
	}
}

// truncateFromEnd drops the epochs that start at or after endOffset (the log
// was truncated there). It reports whether the cache changed.
func (c *epochCache) truncateFromEnd(endOffset int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.entries)
	for len(c.entries) > 0 && c.entries[len(c.entries)-1].StartOffset >= endOffset {
		c.entries = c.entries[:len(c.entries)-1]
	}
	return len(c.entries) != n
}

// truncateFromStart forgets what lies below startOffset (the log start
// advanced): epochs that ended before it are dropped and the epoch in force
// at startOffset is moved to start there. It reports whether the cache
// changed.
func (c *epochCache) truncateFromStart(startOffset int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	// i: the last entry starting at or below startOffset.
	i := -1
	for j, e := range c.entries {
		if e.StartOffset <= startOffset {
			i = j
		}
	}
	if i < 0 {
		return false
	}
	changed := i > 0 || c.entries[i].StartOffset != startOffset
	keep := c.entries[i:]
	keep[0].StartOffset = startOffset
	c.entries = append(c.entries[:0], keep...)
	return changed
}

func (c *epochCache) clear() {
	c.mu.Lock()
	c.entries = nil
	c.mu.Unlock()
}

func (c *epochCache) set(entries []EpochEntry) {
	c.mu.Lock()
	c.entries = append([]EpochEntry(nil), entries...)
	c.mu.Unlock()
}

func (c *epochCache) snapshot() []EpochEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return append([]EpochEntry(nil), c.entries...)
}

func (c *epochCache) latest() (EpochEntry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.entries) == 0 {
		return EpochEntry{}, false
	}
	return c.entries[len(c.entries)-1], true
}

// endOffsetFor answers OffsetForLeaderEpoch as Kafka does: for the latest
// epoch, the log end offset; for an older one, the start offset of the next
// higher epoch, together with the largest known epoch at or below the one
// asked (or the epoch asked when it is below every known one). An epoch
// above the latest, or an empty cache, yields (-1, -1).
func (c *epochCache) endOffsetFor(epoch int32, logEndOffset int64) (int32, int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := len(c.entries)
	if epoch < 0 || n == 0 {
		return -1, -1
	}
	if c.entries[n-1].Epoch == epoch {
		return epoch, logEndOffset
	}
	// higher: the first entry with Epoch > epoch.
	higher := -1
	for i, e := range c.entries {
		if e.Epoch > epoch {
			higher = i
			break
		}
	}
	if higher < 0 {
		return -1, -1
	}
	if higher == 0 {
		return epoch, c.entries[0].StartOffset
	}
	return c.entries[higher-1].Epoch, c.entries[higher].StartOffset
}

// AssignLeaderEpoch records that leader epoch epoch starts at the log end, as a
// partition's new leader does before its first append (Kafka's
// maybeAssignEpochStartOffset), so that OffsetForLeaderEpoch and follower divergence
// checks answer for the leader's own epoch at once rather than as an unknown epoch. An
// epoch not above the latest cached one changes nothing.
func (l *Log) AssignLeaderEpoch(epoch int32) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	latest, ok := l.epochs.latest()
	switch {
	case ok && epoch <= latest.Epoch:
		return nil
	case !ok && l.leo.Load() == 0:
		// An empty log: its first append records the epoch, and until then there is
		// nothing to answer for (and a new partition's creation costs no file).
		return nil
	}
	e := EpochEntry{Epoch: epoch, StartOffset: l.leo.Load()}
	l.epochs.assign(e.Epoch, e.StartOffset)
	if err := l.writeEpochCheckpoint(); err != nil {
		l.epochs.unassign(e)
		return storageErr("assign leader epoch of", l.tp, err)
	}
	return nil
}
