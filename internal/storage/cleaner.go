package storage

// The log cleaner: Kafka's LogCleaner and LogCleanerManager for logs whose
// cleanup.policy includes compact.
//
// Every compacted log has a first dirty offset, kept per log directory in
// cleaner-offset-checkpoint: below it the log was compacted already (no
// key appears there twice), from it on it holds what was appended since.
// A background cleaner thread repeatedly picks the "filthiest" log, the one
// with the largest share of dirty bytes, among those over
// min.cleanable.dirty.ratio, those whose oldest dirty record has waited
// longer than max.compaction.lag.ms, and those holding tombstones whose
// delete horizon passed; with none, it sleeps log.cleaner.backoff.ms.
//
// The part of the log that may be compacted ends at the first uncleanable
// offset: never in the active segment, never at or past the last stable
// offset (the high watermark, or an open transaction's first offset), and
// never in a segment holding a record younger than min.compaction.lag.ms.
// The cleaner works on whole segments below it, and never on a rolled
// segment whose files are not durable yet.
//
// One clean (cleaner_clean.go) maps each key of the dirty section to the
// offset of its latest record, in a bounded map (offsetmap.go), then
// rewrites every segment from the log start up to where the map ends,
// merged into groups of at most segment.bytes, keeping only each key's
// latest record. The new segments replace the old ones by the .cleaned /
// .swap protocol, so a crash at any point leaves either the old segments or
// the new ones (cleaner_recover.go). The cleaner's reads and writes are
// throttled together to log.cleaner.io.max.bytes.per.second.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/producerstate"
	"github.com/sluicehq/sluice/internal/record"
)

// CleanerCheckpointFile is the per-log-directory file of first dirty
// offsets, as Kafka names it.
const CleanerCheckpointFile = "cleaner-offset-checkpoint"

// Defaults of the cleaner's broker settings (Kafka's).
const (
	defaultCleanerDedupeBufferSize = 128 << 20
	defaultCleanerIOBufferSize     = 512 << 10
	defaultCleanerBackoff          = 15 * time.Second
)

// TxnCleanFilter lets the transactions layer steer the cleaner, as Kafka's
// cleaner consults the transaction index. The cleaner calls it for every
// transactional data batch and every control batch (transaction marker) it
// meets, in offset order, both while it maps keys and while it rewrites
// segments, with the time of the clean. Returning true discards the whole
// batch: the data of an aborted transaction (which then neither shadows an
// older value nor survives), or a marker whose transaction has no data left
// and whose delete horizon (BatchDeleteHorizon) passed. A discarded batch
// that is the last of an idempotent producer stays as an empty batch, so
// that the producer's sequence survives. Without a filter, the cleaner
// decides itself from the aborted-transaction index (cleaner_txn.go).
type TxnCleanFilter func(tp TopicPartition, h *record.Header, nowMs int64) (discard bool)

// attrDeleteHorizon is the batch attribute (bit 6, KIP-534) saying that
// baseTimestamp holds the delete horizon the cleaner set.
const attrDeleteHorizon = 0x40

// BatchDeleteHorizon returns the delete horizon the cleaner stamped on a
// batch holding tombstones or markers it kept (KIP-534): past it, the next
// clean removes them.
func BatchDeleteHorizon(h *record.Header) (int64, bool) {
	if h.Attributes&attrDeleteHorizon == 0 {
		return 0, false
	}
	return h.BaseTimestamp, true
}

// CleanStats reports one clean of one log.
type CleanStats struct {
	TopicPartition TopicPartition
	// FirstDirtyOffset is where the dirty section began.
	FirstDirtyOffset int64
	// EndOffset is where the key map ended: the records below it were
	// compacted, and the next clean's dirty section starts there. It is
	// below the first uncleanable offset when the map filled.
	EndOffset int64
	// CleanedEnd is the end of the last segment rewritten: every segment
	// from the log start to it was rewritten (or found unchanged).
	CleanedEnd int64
	// MapFull is set when the key map filled before the dirty section's end.
	MapFull bool
	// SegmentsRead and SegmentsWritten count the segments replaced and the
	// segments that replaced them.
	SegmentsRead, SegmentsWritten int
	// BytesRead counts the bytes read, both passes; BytesWritten the bytes
	// of the new segments' logs.
	BytesRead, BytesWritten int64
	// MappedRecords are the keyed records of the dirty section put in the
	// map; RecordsRead and RecordsKept count the records of the rewritten
	// segments, read and kept.
	MappedRecords, RecordsRead, RecordsKept int64
	// SourceBytes is the size of the segments rewritten (or examined)
	// before the clean.
	SourceBytes int64
	Duration    time.Duration
}

// errCleanAborted means the log changed under a clean (truncation, log
// start moved, closed): the clean is given up without harm and retried.
var errCleanAborted = errors.New("storage: clean aborted: the log changed")

// cleaner is the Manager's log cleaner.
type cleaner struct {
	m        *Manager
	threads  int
	budget   int64 // key map bytes per thread
	ioBuf    int
	backoff  time.Duration
	txn      TxnCleanFilter
	throttle *throttler

	maps     chan *offsetMap // free key maps
	mapsMu   sync.Mutex
	mapsMade int

	mu   sync.Mutex
	logs map[*Log]*cleanState
	cks  map[string]map[TopicPartition]int64 // checkpoint files read, by log dir
	ckMu sync.Mutex                          // serialises checkpoint writes
}

// cleanState is the cleaner's knowledge of one log.
type cleanState struct {
	mu sync.Mutex // held for the length of a clean

	// Under cleaner.mu:
	firstDirty int64  // -1: not known (the log start)
	gen        uint64 // the log's truncation generation firstDirty belongs to
	// horizon is the earliest delete horizon of a batch the cleaner kept
	// with tombstones in it (-1: none known).
	horizon     int64
	failedUntil int64 // ms: after an unexpected error, leave the log alone until then
}

// cleanerDefaults fills the cleaner settings' defaults.
func (cfg *ManagerConfig) cleanerDefaults() {
	if cfg.RetentionCheckInterval <= 0 {
		cfg.RetentionCheckInterval = defaultRetentionCheckInterval
	}
	if cfg.CleanerThreads == 0 {
		cfg.CleanerThreads = 1
	}
	if cfg.CleanerDedupeBufferSize <= 0 {
		cfg.CleanerDedupeBufferSize = defaultCleanerDedupeBufferSize
	}
	if cfg.CleanerIOBufferSize <= 0 {
		cfg.CleanerIOBufferSize = defaultCleanerIOBufferSize
	}
	if cfg.CleanerBackoff <= 0 {
		cfg.CleanerBackoff = defaultCleanerBackoff
	}
}

// newCleaner makes the Manager's cleaner; OpenManager calls it, which also
// starts the retention schedule.
func newCleaner(m *Manager) *cleaner {
	cfg := &m.cfg
	m.lastRetention = m.now()
	threads := max(cfg.CleanerThreads, 1)
	return &cleaner{
		m:        m,
		threads:  threads,
		budget:   cfg.CleanerDedupeBufferSize / int64(threads),
		ioBuf:    max(cfg.CleanerIOBufferSize, 4096),
		backoff:  cfg.CleanerBackoff,
		txn:      cfg.CleanerTxnFilter,
		throttle: newThrottler(cfg.CleanerIOMaxBytesPerSecond, m.now),
		maps:     make(chan *offsetMap, threads),
		logs:     map[*Log]*cleanState{},
		cks:      map[string]map[TopicPartition]int64{},
	}
}

// start runs the background cleaner threads until the Manager stops.
func (c *cleaner) start() {
	if c.m.cfg.CleanerThreads < 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.m.wg.Add(1)
	go func() {
		defer c.m.wg.Done()
		<-c.m.stop
		cancel()
	}()
	for range c.threads {
		c.m.wg.Add(1)
		go c.run(ctx)
	}
}

// run is one cleaner thread.
func (c *cleaner) run(ctx context.Context) {
	defer c.m.wg.Done()
	for ctx.Err() == nil {
		st, err := c.m.CleanOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, errCleanAborted) {
			c.m.logger.Warn("log cleaner", "err", err)
		}
		if st != nil && err == nil {
			continue // another log may be waiting
		}
		if sleepCtx(ctx, c.backoff) != nil {
			return
		}
	}
}

// acquireMap takes a key map, making one if fewer than threads exist, else
// waiting for one: the maps' memory never exceeds the dedupe buffer.
func (c *cleaner) acquireMap(ctx context.Context) (*offsetMap, error) {
	select {
	case om := <-c.maps:
		return om, nil
	default:
	}
	c.mapsMu.Lock()
	if c.mapsMade < c.threads {
		c.mapsMade++
		c.mapsMu.Unlock()
		return newOffsetMap(c.budget), nil
	}
	c.mapsMu.Unlock()
	select {
	case om := <-c.maps:
		return om, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *cleaner) releaseMap(om *offsetMap) { c.maps <- om }

// state returns the cleaner's state of l, reading the first dirty offset
// from the directory's checkpoint the first time.
func (c *cleaner) state(l *Log) *cleanState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.logs[l]; ok {
		return st
	}
	st := &cleanState{firstDirty: -1, horizon: -1, gen: l.generation()}
	if o, ok := c.checkpointLocked(l.root)[l.tp]; ok {
		st.firstDirty = o
	}
	c.logs[l] = st
	return st
}

// forgetDeleted drops the state of logs the Manager no longer has.
func (c *cleaner) forgetDeleted(live []*Log) {
	keep := make(map[*Log]bool, len(live))
	for _, l := range live {
		keep[l] = true
	}
	c.mu.Lock()
	for l := range c.logs {
		if !keep[l] {
			delete(c.logs, l)
		}
	}
	c.mu.Unlock()
}

// checkpointLocked returns the first dirty offsets read from dir's
// checkpoint file (read once). Under c.mu.
func (c *cleaner) checkpointLocked(dir string) map[TopicPartition]int64 {
	ck, ok := c.cks[dir]
	if !ok {
		var err error
		ck, err = readOffsetCheckpoint(c.m.fs, filepath.Join(dir, CleanerCheckpointFile))
		if err != nil {
			// Without it every compacted log is cleaned from its start once.
			c.m.logger.Warn("unreadable cleaner checkpoint; ignoring it", "dir", dir, "err", err)
			ck = map[TopicPartition]int64{}
		}
		c.cks[dir] = ck
	}
	return ck
}

// firstDirty returns l's first dirty offset, within [log start, log end]:
// the log start when unknown, after a truncation, or out of range.
func (c *cleaner) firstDirty(l *Log, st *cleanState) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	start, leo := l.logStart.Load(), l.leo.Load()
	if st.firstDirty < start || st.firstDirty > leo || st.gen != l.generation() {
		return start
	}
	return st.firstDirty
}

// setFirstDirty records where the next clean of l starts.
func (c *cleaner) setFirstDirty(l *Log, st *cleanState, o int64, gen uint64) {
	c.mu.Lock()
	st.firstDirty, st.gen = o, gen
	c.mu.Unlock()
}

// writeCheckpoint rewrites dir's cleaner-offset-checkpoint: the first dirty
// offsets known for the directory's logs, those read from the file for
// logs not cleaned since open included.
func (c *cleaner) writeCheckpoint(dir string) error {
	c.ckMu.Lock()
	defer c.ckMu.Unlock()
	live := map[TopicPartition]*Log{}
	for _, l := range c.m.Logs() {
		if l.root == dir && !l.deletedDir.Load() {
			live[l.tp] = l
		}
	}
	offsets := map[TopicPartition]int64{}
	c.mu.Lock()
	for tp, o := range c.checkpointLocked(dir) {
		if _, ok := live[tp]; ok {
			offsets[tp] = o
		}
	}
	for l, st := range c.logs {
		if live[l.tp] == l && st.firstDirty >= 0 {
			offsets[l.tp] = st.firstDirty
		}
	}
	c.cks[dir] = offsets
	c.mu.Unlock()
	if err := writeFileAtomic(c.m.fs, filepath.Join(dir, CleanerCheckpointFile), encodeOffsetCheckpoint(offsets)); err != nil {
		return fmt.Errorf("cleaner checkpoint %s: %w", dir, err)
	}
	return nil
}

// generation is the log's truncation generation: a truncation changes it.
func (l *Log) generation() uint64 {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	return l.gen
}

// cleanable is what a log offers the cleaner now.
type cleanable struct {
	firstDirty       int64
	firstUncleanable int64 // end of the last whole segment that may be cleaned
	nClean           int   // segments, from the first, that may be cleaned
	cleanBytes       int64 // bytes of the segments below the first dirty offset
	dirtyBytes       int64 // bytes of the segments from there to firstUncleanable
	ratio            float64
	needNow          bool // max.compaction.lag.ms passed for the oldest dirty record
	horizonDue       bool // kept tombstones' delete horizon passed
}

func (cl *cleanable) worth() bool {
	return cl.dirtyBytes > 0 && cl.needNow || cl.horizonDue && cl.nClean > 0
}

// cleanableOf computes l's cleanable section at nowMs over segs (the log's
// segments, the last one active).
func (c *cleaner) cleanableOf(l *Log, st *cleanState, segs []*segment, lc *logConfig, nowMs int64) (cleanable, error) {
	cl := cleanable{firstDirty: c.firstDirty(l, st)}
	// The last stable offset: the high watermark, or an open transaction's
	// first offset if lower.
	lso := l.hw.Load()
	l.ProducerState(func(ps *producerstate.State) {
		if o, ok := ps.FirstUnstableOffset(); ok {
			lso = min(lso, o)
		}
	})
	l.fmu.Lock()
	for _, p := range l.pending {
		lso = min(lso, p.base) // rolled, not yet durable
	}
	l.fmu.Unlock()
	n := 0
	for i := 0; i+1 < len(segs); i++ {
		s, upper := segs[i], segs[i+1].base
		if upper > lso {
			break
		}
		if lc.MinCompactionLagMs > 0 && upper > cl.firstDirty {
			ts, _, err := s.maxTimestamp()
			if err != nil {
				return cl, err
			}
			if ts > nowMs-lc.MinCompactionLagMs {
				break
			}
		}
		n++
	}
	cl.nClean = n
	cl.firstUncleanable = segs[0].base
	if n > 0 {
		cl.firstUncleanable = segs[n].base
	}
	for i := 0; i < n; i++ {
		s, upper := segs[i], segs[i+1].base
		switch {
		case upper <= cl.firstDirty:
			cl.cleanBytes += s.size.Load()
		default:
			cl.dirtyBytes += s.size.Load()
		}
	}
	if cl.firstDirty >= cl.firstUncleanable {
		cl.dirtyBytes = 0
	}
	if total := cl.cleanBytes + cl.dirtyBytes; total > 0 {
		cl.ratio = float64(cl.dirtyBytes) / float64(total)
	}
	if cl.dirtyBytes > 0 && lc.MaxCompactionLagMs != math.MaxInt64 {
		// The first dirty segment's first batch says how long the oldest
		// dirty record has waited.
		for i := 0; i < n; i++ {
			if segs[i+1].base <= cl.firstDirty {
				continue
			}
			ts, err := firstBatchTimestamp(segs[i])
			if err != nil {
				return cl, err
			}
			cl.needNow = ts >= 0 && nowMs-ts > lc.MaxCompactionLagMs
			break
		}
	}
	c.mu.Lock()
	cl.horizonDue = st.horizon >= 0 && st.horizon <= nowMs
	c.mu.Unlock()
	return cl, nil
}

// firstBatchTimestamp is the max timestamp of a segment's first batch
// (Kafka's LogSegment.getFirstBatchTimestamp), -1 if it has none.
func firstBatchTimestamp(s *segment) (int64, error) {
	if s.size.Load() < record.HeaderSize {
		return -1, nil
	}
	f, err := s.logFile()
	if err != nil {
		return -1, err
	}
	var hb [record.HeaderSize]byte
	if _, err := f.ReadAt(hb[:], 0); err != nil {
		return -1, err
	}
	h, err := record.ParseHeader(hb[:])
	if err != nil {
		return -1, nil
	}
	return h.MaxTimestamp, nil
}

// CleanOnce compacts the compacted log that needs it most, if any does: the
// one with the highest dirty ratio above its min.cleanable.dirty.ratio, or
// whose max.compaction.lag.ms passed, or whose kept tombstones' delete
// horizon passed. It returns nil when no log needs cleaning. The
// background cleaner threads call it; tests call it with the scheduler off.
func (m *Manager) CleanOnce(ctx context.Context) (*CleanStats, error) {
	c := m.cleaner
	nowMs := m.now().UnixMilli()
	type cand struct {
		l     *Log
		st    *cleanState
		ratio float64
		rank  int // 0: over the ratio or due; 1: only tombstones due
	}
	var cands []cand
	logs := m.Logs()
	c.forgetDeleted(logs)
	for _, l := range logs {
		lc := l.config()
		if !lc.Compacted || l.usable() != nil {
			continue
		}
		st := c.state(l)
		c.mu.Lock()
		failed := st.failedUntil > nowMs
		c.mu.Unlock()
		if failed || !st.mu.TryLock() {
			continue
		}
		segs := l.snapshotSegments()
		cl, err := c.cleanableOf(l, st, segs, lc, nowMs)
		releaseAll(segs)
		st.mu.Unlock()
		if err != nil {
			l.logger.Warn("cleaner: cannot assess log", "err", err)
			continue
		}
		switch {
		case cl.dirtyBytes > 0 && (cl.ratio > lc.MinCleanableDirtyRatio || cl.needNow):
			cands = append(cands, cand{l, st, cl.ratio, 0})
		case cl.worth():
			cands = append(cands, cand{l, st, cl.ratio, 1})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].rank != cands[j].rank {
			return cands[i].rank < cands[j].rank
		}
		return cands[i].ratio > cands[j].ratio
	})
	for _, k := range cands {
		if !k.st.mu.TryLock() {
			continue
		}
		stats, err := c.clean(ctx, k.l, k.st)
		k.st.mu.Unlock()
		if err != nil && !errors.Is(err, errCleanAborted) && ctx.Err() == nil {
			c.mu.Lock()
			k.st.failedUntil = m.now().UnixMilli() + 10*c.backoff.Milliseconds()
			c.mu.Unlock()
		}
		if stats == nil && err == nil {
			continue
		}
		return stats, err
	}
	return nil, nil
}

// Compact cleans the log now, whatever its dirty ratio: it compacts every
// segment below the first uncleanable offset (min.compaction.lag.ms, the
// active segment and the last stable offset still apply) and removes the
// tombstones whose delete horizon passed. It waits for a clean of the log
// already running. It returns nil stats when there was nothing to clean.
// The log's cleanup.policy must include compact.
func (l *Log) Compact(ctx context.Context) (*CleanStats, error) {
	if !l.config().Compacted {
		return nil, fmt.Errorf("compact %s: cleanup.policy %q does not include compact", l.tp, l.config().CleanupPolicy)
	}
	if err := l.usable(); err != nil {
		return nil, err
	}
	c := l.m.cleaner
	st := c.state(l)
	st.mu.Lock()
	defer st.mu.Unlock()
	return c.clean(ctx, l, st)
}

// throttler holds the cleaner's reads and writes, all threads together, to
// a rate (Kafka's Throttler): once the bytes counted since the period began
// would take longer at the rate than the time passed, it sleeps the
// difference. Periods restart every second so that idle time earns no
// burst.
type throttler struct {
	rate  float64 // bytes per second; <= 0: unthrottled
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu    sync.Mutex
	start time.Time
	bytes float64
	slept time.Duration // total, for tests and stats
}

func newThrottler(rate float64, now func() time.Time) *throttler {
	return &throttler{rate: rate, now: now, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// take accounts for n bytes read or written, sleeping if they go over the
// rate.
func (t *throttler) take(ctx context.Context, n int) error {
	if t.rate <= 0 || n <= 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if t.start.IsZero() {
		t.start = now
	}
	t.bytes += float64(n)
	elapsed := now.Sub(t.start)
	need := time.Duration(t.bytes / t.rate * float64(time.Second))
	if need > elapsed {
		d := need - elapsed
		if err := t.sleep(ctx, d); err != nil {
			return err
		}
		t.slept += d
		now = t.now()
		elapsed = now.Sub(t.start)
	}
	if elapsed >= time.Second {
		t.start, t.bytes = now, 0
	}
	return nil
}
