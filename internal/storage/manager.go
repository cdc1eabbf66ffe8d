package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// Manager owns the logs of a broker's log directories: Kafka's LogManager.
// It loads and recovers them at open, creates and deletes them, bounds the
// files closed segments keep open, runs the time-based flushes and writes
// the per-directory checkpoints.
type Manager struct {
	cfg    ManagerConfig
	fs     vfs.FS
	logger *slog.Logger
	now    func() time.Time
	defCfg *logConfig
	lru    fileLRU

	mu     sync.Mutex
	logs   map[TopicPartition]*Log
	closed bool

	ckMu           sync.Mutex // serialises checkpoint writes
	lastCheckpoint time.Time

	delMu     sync.Mutex
	deletions []pendingRemoval

	retMu         sync.Mutex
	lastRetention time.Time // last retention run (retention.go)
	cleaner       *cleaner  // the log cleaner (cleaner.go)

	stop chan struct{}
	wg   sync.WaitGroup

	// Logs created but not yet durable, for the creation syncer (create.go);
	// under mu. createKick is nil when no syncer runs.
	unsynced   []*Log
	createKick chan struct{}
}

type pendingRemoval struct {
	paths []string
	due   int64 // ms
}

// OpenManager opens every log found in cfg.Dirs, recovering those that did
// not shut down cleanly, and removes the clean-shutdown markers.
func OpenManager(ctx context.Context, cfg ManagerConfig) (*Manager, error) {
	if len(cfg.Dirs) == 0 {
		return nil, errors.New("storage: no log directories")
	}
	if cfg.FS == nil {
		cfg.FS = vfs.OS()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxOpenSegments <= 0 {
		cfg.MaxOpenSegments = 1024
	}
	if cfg.SchedulerInterval == 0 {
		cfg.SchedulerInterval = time.Second
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = 5 * time.Second
	}
	if cfg.RecoveryThreads <= 0 {
		cfg.RecoveryThreads = 2 * runtime.GOMAXPROCS(0)
	}
	cfg.cleanerDefaults()
	dc := cfg.DefaultConfig
	if dc == (Config{}) {
		dc = DefaultConfig()
	}
	defCfg, err := newLogConfig(dc)
	if err != nil {
		return nil, fmt.Errorf("storage: default config: %w", err)
	}
	m := &Manager{
		cfg:    cfg,
		fs:     cfg.FS,
		logger: cfg.Logger,
		now:    cfg.Now,
		defCfg: defCfg,
		logs:   map[TopicPartition]*Log{},
		stop:   make(chan struct{}),
	}
	m.lru.max = cfg.MaxOpenSegments
	m.cleaner = newCleaner(m)
	m.lastCheckpoint = m.now()
	for _, dir := range cfg.Dirs {
		if err := m.loadDir(ctx, dir); err != nil {
			m.closeAll()
			return nil, err
		}
	}
	if cfg.SchedulerInterval > 0 {
		m.wg.Add(1)
		go m.scheduler(cfg.SchedulerInterval)
		m.cleaner.start()
		m.createKick = make(chan struct{}, 1)
		m.wg.Add(1)
		go m.creationSyncer()
	}
	return m, nil
}

// loadDir loads the logs of one log directory.
func (m *Manager) loadDir(ctx context.Context, dir string) error {
	fsys := m.fs
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create log dir %s: %w", dir, err)
	}
	if err := fsys.SyncDir(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("sync parent of log dir %s: %w", dir, err)
	}
	marker := filepath.Join(dir, CleanShutdownFile)
	_, err := fsys.Stat(marker)
	clean := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stat %s: %w", marker, err)
	}
	read := func(name string) map[TopicPartition]int64 {
		c, err := readOffsetCheckpoint(fsys, filepath.Join(dir, name))
		if err != nil {
			// Without it every log of the directory is recovered in full.
			m.logger.Warn("unreadable checkpoint; ignoring it", "dir", dir, "file", name, "err", err)
			clean = false
			return map[TopicPartition]int64{}
		}
		return c
	}
	rps := read(RecoveryPointCheckpointFile)
	lss := read(LogStartCheckpointFile)
	hws := read(HighWatermarkCheckpointFile)

	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list log dir %s: %w", dir, err)
	}
	var tps []TopicPartition
	for _, e := range ents {
		if !e.IsDir() {
			if strings.HasSuffix(e.Name(), tmpSuffix) {
				_ = fsys.Remove(filepath.Join(dir, e.Name()))
			}
			continue
		}
		name := e.Name()
		if strings.HasSuffix(name, "-delete") {
			// A deletion a crash interrupted.
			if err := fsys.RemoveAll(filepath.Join(dir, name)); err != nil {
				m.logger.Warn("remove deleted partition directory", "dir", name, "err", err)
			}
			continue
		}
		if slices.Contains(m.cfg.Skip, name) {
			continue
		}
		tp, ok := parsePartitionDir(name)
		if !ok {
			m.logger.Warn("ignoring a directory that names no partition", "dir", filepath.Join(dir, name))
			continue
		}
		tps = append(tps, tp)
	}

	type result struct {
		l   *Log
		err error
	}
	results := make([]result, len(tps))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(m.cfg.RecoveryThreads, max(len(tps), 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				tp := tps[i]
				ck := dirOffsets{}
				ck.recoveryPoint, ck.hasRP = rps[tp]
				ck.logStart, ck.hasLS = lss[tp]
				ck.hw, ck.hasHW = hws[tp]
				l, err := m.loadLog(dir, tp, clean, ck)
				if err != nil {
					err = fmt.Errorf("load %s in %s: %w", tp, dir, err)
				}
				results[i] = result{l, err}
			}
		}()
	}
	var ctxErr error
	for i := range tps {
		if ctxErr = ctx.Err(); ctxErr != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	var errs []error
	m.mu.Lock()
	for _, r := range results {
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		if r.l == nil {
			continue
		}
		if _, dup := m.logs[r.l.tp]; dup {
			errs = append(errs, fmt.Errorf("partition %s found in two log directories", r.l.tp))
			continue
		}
		m.logs[r.l.tp] = r.l
	}
	m.mu.Unlock()
	if ctxErr != nil {
		errs = append(errs, ctxErr)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// The marker must be gone, durably, before anything is appended: a crash
	// must not find it and trust torn files.
	if err := fsys.Remove(marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", marker, err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	m.logger.Info("loaded log directory", "dir", dir, "partitions", len(tps), "clean", clean)
	return m.writeCheckpoints(dir)
}

// parsePartitionDir splits "<topic>-<partition>".
func parsePartitionDir(name string) (TopicPartition, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return TopicPartition{}, false
	}
	p, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || p < 0 {
		return TopicPartition{}, false
	}
	return TopicPartition{Topic: name[:i], Partition: int32(p)}, true
}

// GetOrCreate returns the partition's log, creating it (in the log
// directory with the fewest partitions) if needed. An existing log takes cfg
// as its new config. A topic ID that differs from the stored one fails with
// INCONSISTENT_TOPIC_ID.
func (m *Manager) GetOrCreate(tp TopicPartition, topicID [16]byte, cfg Config) (*Log, error) {
	lc, err := newLogConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", tp, err)
	}
	if tp.Topic == "" || tp.Partition < 0 || strings.ContainsAny(tp.Topic, "/\\ \n") || tp.Topic == "." || tp.Topic == ".." {
		return nil, fmt.Errorf("create %s: %w", tp, kerr.InvalidTopicException)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("create %s: storage manager closed", tp)
	}
	var zero [16]byte
	if l, ok := m.logs[tp]; ok {
		have := l.TopicID()
		switch {
		case topicID != zero && have != zero && have != topicID:
			return nil, fmt.Errorf("open %s: topic id differs from the stored one: %w", tp, kerr.InconsistentTopicID)
		case topicID != zero && have == zero:
			if err := writeFileAtomic(m.fs, filepath.Join(l.Dir(), PartitionMetadataFile), encodePartitionMetadata(topicID)); err != nil {
				return nil, fmt.Errorf("open %s: %w", tp, err)
			}
			l.tid.Store(&topicID)
		}
		l.cfg.Store(lc)
		return l, nil
	}
	root := m.pickDir()
	l := newLog(m, root, tp, topicID, lc)
	dir := l.Dir()
	// No fsync here: the creation becomes durable in a batch with others,
	// or before the log's first flush (create.go).
	if err := m.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := writeCreationFile(l, filepath.Join(dir, PartitionMetadataFile), encodePartitionMetadata(topicID)); err != nil {
		return nil, fmt.Errorf("create %s: %w", tp, err)
	}
	s, err := l.createSegment(0, m.now())
	if err != nil {
		return nil, err
	}
	l.segs = []*segment{s}
	l.active.Store(s)
	l.createUnsynced.Store(true)
	m.createdLocked(l)
	m.logs[tp] = l
	m.logger.Info("created log", "topic", tp.Topic, "partition", tp.Partition, "dir", root)
	return l, nil
}

// pickDir chooses the log directory with the fewest partitions. Under mu.
func (m *Manager) pickDir() string {
	counts := map[string]int{}
	for _, l := range m.logs {
		counts[l.root]++
	}
	best := m.cfg.Dirs[0]
	for _, d := range m.cfg.Dirs[1:] {
		if counts[d] < counts[best] {
			best = d
		}
	}
	return best
}

// Get returns the partition's log if the Manager has it.
func (m *Manager) Get(tp TopicPartition) (*Log, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.logs[tp]
	return l, ok
}

// Logs returns every log.
func (m *Manager) Logs() []*Log {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Log, 0, len(m.logs))
	for _, l := range m.logs {
		out = append(out, l)
	}
	return out
}

// OpenSegments is how many closed segments have files open (bounded by
// MaxOpenSegments but for segments being read).
func (m *Manager) OpenSegments() int { return m.lru.len() }

// Delete removes the partition's log: its directory is renamed
// <topic>-<partition>.<id>-delete at once (durably), and removed once no
// reader holds any of its segments.
func (m *Manager) Delete(tp TopicPartition) error {
	m.mu.Lock()
	l, ok := m.logs[tp]
	if ok {
		delete(m.logs, tp)
	}
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("delete %s: %w", tp, kerr.UnknownTopicOrPartition)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.finishers.Wait()
	l.closed.Store(true)
	l.deletedDir.Store(true)
	var id [8]byte
	_, _ = rand.Read(id[:])
	oldDir := l.Dir()
	newDir := filepath.Join(l.root, tp.String()+"."+hex.EncodeToString(id[:])+"-delete")
	if err := m.fs.Rename(oldDir, newDir); err != nil {
		return fmt.Errorf("delete %s: %w", tp, err)
	}
	if err := m.fs.SyncDir(l.root); err != nil {
		return fmt.Errorf("delete %s: %w", tp, err)
	}
	l.dirp.Store(&newDir)
	l.segMu.Lock()
	segs := l.segs
	l.segs = nil
	l.segMu.Unlock()
	var wg sync.WaitGroup
	for _, s := range segs {
		s.fmu.Lock()
		s.dir = newDir
		s.active = false
		s.onGone = wg.Done
		s.fmu.Unlock()
		wg.Add(1)
	}
	for _, s := range segs {
		s.markDeleted()
	}
	l.fmu.Lock()
	close(l.flushCh)
	l.flushCh = make(chan struct{})
	l.fmu.Unlock()
	notify(&l.hwCh)
	notify(&l.leoCh)
	go func() {
		wg.Wait()
		if err := m.fs.RemoveAll(newDir); err != nil {
			m.logger.Warn("remove deleted partition", "dir", newDir, "err", err)
		}
	}()
	m.logger.Info("deleted log", "topic", tp.Topic, "partition", tp.Partition)
	return nil
}

// scheduleRemoval removes files after delayMs (file.delete.delay.ms).
func (m *Manager) scheduleRemoval(paths []string, delayMs int64) {
	if delayMs <= 0 {
		m.removeFiles(paths)
		return
	}
	m.delMu.Lock()
	m.deletions = append(m.deletions, pendingRemoval{paths: paths, due: m.now().UnixMilli() + delayMs})
	m.delMu.Unlock()
}

func (m *Manager) removeFiles(paths []string) {
	for _, p := range paths {
		if err := m.fs.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			m.logger.Warn("remove segment file", "path", p, "err", err)
		}
	}
}

// runRemovals removes the files whose delay has passed (all with force).
func (m *Manager) runRemovals(nowMs int64, force bool) {
	m.delMu.Lock()
	var due []pendingRemoval
	keep := m.deletions[:0]
	for _, d := range m.deletions {
		if force || d.due <= nowMs {
			due = append(due, d)
		} else {
			keep = append(keep, d)
		}
	}
	m.deletions = keep
	m.delMu.Unlock()
	for _, d := range due {
		m.removeFiles(d.paths)
	}
}

// Tick runs the Manager's periodic work once, at the injected clock's
// time: flush.ms flushes, delayed file removals, and the checkpoints when
// CheckpointInterval has passed. The background scheduler calls it; tests
// with a fake clock call it directly.
func (m *Manager) Tick() {
	now := m.now()
	for _, l := range m.Logs() {
		if !l.closed.Load() {
			l.maybeTimedFlush(now.UnixMilli())
		}
	}
	m.runRemovals(now.UnixMilli(), false)
	m.maybeApplyRetention(now)
	m.ckMu.Lock()
	due := now.Sub(m.lastCheckpoint) >= m.cfg.CheckpointInterval
	m.ckMu.Unlock()
	if due {
		if err := m.WriteCheckpoints(); err != nil {
			m.logger.Error("write checkpoints", "err", err)
		}
	}
}

func (m *Manager) scheduler(every time.Duration) {
	defer m.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.Tick()
		}
	}
}

// WriteCheckpoints writes every log directory's recovery-point, log-start
// and high-watermark checkpoints.
func (m *Manager) WriteCheckpoints() error {
	var errs []error
	for _, d := range m.cfg.Dirs {
		if err := m.writeCheckpoints(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) writeCheckpoints(dir string) error {
	for _, name := range []string{RecoveryPointCheckpointFile, LogStartCheckpointFile, HighWatermarkCheckpointFile} {
		if err := m.writeDirCheckpoint(dir, name); err != nil {
			return err
		}
	}
	return nil
}

// writeDirCheckpoint writes one checkpoint file of a log directory.
func (m *Manager) writeDirCheckpoint(dir, name string) error {
	m.ckMu.Lock()
	defer m.ckMu.Unlock()
	offsets := map[TopicPartition]int64{}
	m.mu.Lock()
	for tp, l := range m.logs {
		if l.root != dir || l.deletedDir.Load() {
			continue
		}
		switch name {
		case RecoveryPointCheckpointFile:
			offsets[tp] = l.recoveryPoint.Load()
		case LogStartCheckpointFile:
			offsets[tp] = l.logStart.Load()
		case HighWatermarkCheckpointFile:
			offsets[tp] = l.hw.Load()
		}
	}
	m.mu.Unlock()
	if err := writeFileAtomic(m.fs, filepath.Join(dir, name), encodeOffsetCheckpoint(offsets)); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if name == HighWatermarkCheckpointFile {
		m.lastCheckpoint = m.now()
	}
	return nil
}

// Close flushes and closes every log, writes the checkpoints and, in each
// directory whose logs all closed cleanly, the clean-shutdown marker.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	logs := make([]*Log, 0, len(m.logs))
	for _, l := range m.logs {
		logs = append(logs, l)
	}
	m.mu.Unlock()
	close(m.stop)
	m.wg.Wait()

	failedDirs := map[string]bool{}
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, m.cfg.RecoveryThreads)
	for _, l := range logs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := l.Close(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				failedDirs[l.root] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	m.runRemovals(0, true)
	for _, d := range m.cfg.Dirs {
		if err := m.writeCheckpoints(d); err != nil {
			errs = append(errs, err)
			failedDirs[d] = true
			continue
		}
		if failedDirs[d] {
			continue
		}
		if err := writeFileAtomic(m.fs, filepath.Join(d, CleanShutdownFile), nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// closeAll closes the files of logs loaded so far (a failed open).
func (m *Manager) closeAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.logs {
		l.segMu.RLock()
		for _, s := range l.segs {
			s.fmu.Lock()
			s.active = false
			s.closeFilesLocked()
			s.fmu.Unlock()
		}
		l.segMu.RUnlock()
	}
	m.closed = true
}
