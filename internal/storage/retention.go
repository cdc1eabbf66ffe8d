package storage

// Retention: Kafka's UnifiedLog.deleteOldSegments under cleanup.policy
// "delete" (alone or with "compact").
//
// Every log.retention.check.interval.ms, Manager.Tick walks each log's
// closed segments from the oldest and deletes a prefix of them: those whose
// newest record is older than retention.ms, then, while the log is larger
// than retention.bytes, the oldest whose removal keeps it at or above the
// limit. A segment goes only if every offset in it is below the high
// watermark (a follower may still need it otherwise), and the active
// segment never goes. The log start offset moves to the first segment left.
//
// Deletion takes the writer lock only to unpublish the segments and rename
// their files *.deleted (durably, so a crash does not bring them back); the
// files are removed later, once no reader holds the segment and
// file.delete.delay.ms has passed since (segment.release and Tick). Finding
// which segments are due (their max timestamps, from the time indexes)
// happens outside the lock, so appends go on meanwhile.

import (
	"math"
	"strings"
	"time"
)

// Cleanup policies, as cleanup.policy spells them.
const (
	CleanupDelete        = "delete"
	CleanupCompact       = "compact"
	CleanupCompactDelete = "compact,delete"
)

// Defaults of the retention and compaction settings (Kafka's).
const (
	DefaultRetentionMs            = 7 * 24 * 3600 * 1000
	DefaultDeleteRetentionMs      = 24 * 3600 * 1000
	DefaultMinCleanableDirtyRatio = 0.5
	defaultRetentionCheckInterval = 5 * time.Minute
)

// normalizeCleanup fills the retention and compaction settings' defaults
// and makes Compacted follow cleanup.policy.
func (c *Config) normalizeCleanup() {
	compact, del := parseCleanupPolicy(c.CleanupPolicy)
	if !compact && !del {
		// Unset (or nothing Sluice knows): Compacted alone asks for compaction.
		compact, del = c.Compacted, !c.Compacted
	}
	switch {
	case compact && del:
		c.CleanupPolicy = CleanupCompactDelete
	case compact:
		c.CleanupPolicy = CleanupCompact
	default:
		c.CleanupPolicy = CleanupDelete
	}
	c.Compacted = compact
	if c.RetentionMs == 0 {
		c.RetentionMs = DefaultRetentionMs
	} else if c.RetentionMs < 0 {
		c.RetentionMs = -1
	}
	if c.RetentionBytes <= 0 {
		c.RetentionBytes = -1
	}
	if c.DeleteRetentionMs <= 0 {
		c.DeleteRetentionMs = DefaultDeleteRetentionMs
	}
	if c.MinCleanableDirtyRatio <= 0 || c.MinCleanableDirtyRatio > 1 || math.IsNaN(c.MinCleanableDirtyRatio) {
		c.MinCleanableDirtyRatio = DefaultMinCleanableDirtyRatio
	}
	if c.MinCompactionLagMs < 0 {
		c.MinCompactionLagMs = 0
	}
	if c.MaxCompactionLagMs <= 0 {
		c.MaxCompactionLagMs = math.MaxInt64
	}
}

// parseCleanupPolicy reads a cleanup.policy list ("compact, delete" and
// "delete,compact" included).
func parseCleanupPolicy(p string) (compact, del bool) {
	for _, f := range strings.Split(p, ",") {
		switch strings.TrimSpace(f) {
		case CleanupCompact:
			compact = true
		case CleanupDelete:
			del = true
		}
	}
	return compact, del
}

// DeletePolicy reports whether cleanup.policy includes delete: retention
// applies.
func (c Config) DeletePolicy() bool {
	_, del := parseCleanupPolicy(c.Normalize().CleanupPolicy)
	return del
}

// CompactPolicy reports whether cleanup.policy includes compact: the
// cleaner compacts the log.
func (c Config) CompactPolicy() bool {
	compact, _ := parseCleanupPolicy(c.Normalize().CleanupPolicy)
	return compact
}

// maxSegmentMs is how old the active segment may grow before it rolls:
// segment.ms, or max.compaction.lag.ms if smaller on a compacted log (the
// cleaner never touches the active segment, so it must roll for its
// records to be compacted in time), as Kafka's LogConfig.maxSegmentMs.
func (c *Config) maxSegmentMs() int64 {
	if c.Compacted && c.MaxCompactionLagMs > 0 && c.MaxCompactionLagMs < c.SegmentMs {
		return c.MaxCompactionLagMs
	}
	return c.SegmentMs
}

// maybeApplyRetention runs retention over every log if
// log.retention.check.interval.ms has passed since the last run. Tick
// calls it.
func (m *Manager) maybeApplyRetention(now time.Time) {
	m.retMu.Lock()
	due := now.Sub(m.lastRetention) >= m.cfg.RetentionCheckInterval
	if due {
		m.lastRetention = now
	}
	m.retMu.Unlock()
	if !due {
		return
	}
	total := 0
	for _, l := range m.Logs() {
		if l.closed.Load() {
			continue
		}
		n, err := l.DeleteOldSegments()
		if err != nil {
			l.logger.Error("retention", "err", err)
		}
		total += n
	}
	if total > 0 {
		m.logger.Debug("retention deleted segments", "segments", total)
	}
}

// DeleteOldSegments applies retention.ms and retention.bytes once, at the
// Manager clock's time, if cleanup.policy includes delete: it deletes the
// oldest closed segments past either limit and below the high watermark,
// and moves the log start offset to the first segment left. It returns how
// many segments it deleted. Tick calls it every
// log.retention.check.interval.ms.
func (l *Log) DeleteOldSegments() (int, error) {
	lc := l.config()
	_, del := parseCleanupPolicy(lc.CleanupPolicy)
	if !del || (lc.RetentionMs < 0 && lc.RetentionBytes < 0) {
		return 0, nil
	}
	if err := l.usable(); err != nil {
		return 0, nil // a closed or failed log keeps its segments
	}
	nowMs := l.m.now().UnixMilli()
	segs := l.snapshotSegments()
	target, n, err := l.retentionTarget(segs, lc, nowMs)
	releaseAll(segs)
	if err != nil || n == 0 {
		return 0, err
	}
	// Advancing the log start offset to the first segment kept removes the
	// segments before it (and only those, whatever happened meanwhile:
	// segments are removed only from the front).
	l.mu.Lock()
	if act := l.active.Load(); target > l.hw.Load() || target > act.base {
		// A truncation moved the high watermark or the log meanwhile.
		l.mu.Unlock()
		return 0, nil
	}
	before := l.NumSegments()
	err = l.advanceLogStartLocked(target)
	removed := before - l.NumSegments()
	l.mu.Unlock()
	if err != nil {
		return removed, err
	}
	if removed > 0 {
		l.logger.Info("retention deleted segments", "segments", removed, "log_start_offset", l.logStart.Load())
		if err := l.m.writeDirCheckpoint(l.root, LogStartCheckpointFile); err != nil {
			return removed, storageErr("checkpoint log start of", l.tp, err)
		}
	}
	return removed, nil
}

// retentionTarget returns the base offset of the first segment retention
// keeps and how many segments before it go. segs is the log's segment
// list, the last one active.
func (l *Log) retentionTarget(segs []*segment, lc *logConfig, nowMs int64) (int64, int, error) {
	if len(segs) < 2 {
		return 0, 0, nil
	}
	hw := l.hw.Load()
	var total int64
	for _, s := range segs {
		total += s.size.Load()
	}
	excess := int64(-1)
	if lc.RetentionBytes >= 0 {
		excess = total - lc.RetentionBytes
	}
	n := 0
	for i := 0; i+1 < len(segs); i++ {
		s, upper := segs[i], segs[i+1].base
		if upper > hw {
			break
		}
		due := false
		if lc.RetentionMs >= 0 {
			ts, err := l.segmentLargestTimestamp(s)
			if err != nil {
				return 0, 0, err
			}
			due = nowMs-ts > lc.RetentionMs
		}
		if !due && excess >= 0 && excess-s.size.Load() >= 0 {
			due = true
		}
		if !due {
			break
		}
		if excess >= 0 {
			excess -= s.size.Load()
		}
		n++
	}
	if n == 0 {
		return 0, 0, nil
	}
	return segs[n].base, n, nil
}

// segmentLargestTimestamp is what retention.ms measures a segment by: its
// max timestamp, or for a segment without timestamps the modification time
// of its file, as Kafka's LogSegment.largestTimestamp.
func (l *Log) segmentLargestTimestamp(s *segment) (int64, error) {
	ts, _, err := s.maxTimestamp()
	if err != nil {
		return 0, err
	}
	if ts >= 0 {
		return ts, nil
	}
	s.fmu.Lock()
	p := s.path(logSuffix)
	s.fmu.Unlock()
	st, err := l.m.fs.Stat(p)
	if err != nil {
		return 0, err
	}
	return st.ModTime().UnixMilli(), nil
}
