package storage

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// gateFS counts fsyncs of .log files and can hold them until released, to
// make group commit observable deterministically.
type gateFS struct {
	vfs.FS
	mu      sync.Mutex
	hold    bool
	held    int           // fsyncs waiting at the gate
	release chan struct{} // closed to let held fsyncs through
	logSync atomic.Int64
	failLog atomic.Bool // fail .log fsyncs
}

func newGateFS(inner vfs.FS) *gateFS { return &gateFS{FS: inner, release: make(chan struct{})} }

func (g *gateFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := g.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(name, logSuffix) {
		return &gateFile{File: f, g: g}, nil
	}
	return f, nil
}

func (g *gateFS) setHold(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hold = on
	if !on {
		close(g.release)
		g.release = make(chan struct{})
	}
}

func (g *gateFS) heldCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held
}

type gateFile struct {
	vfs.File
	g *gateFS
}

func (f *gateFile) Sync() error {
	g := f.g
	g.logSync.Add(1)
	if g.failLog.Load() {
		return errors.New("injected fsync failure")
	}
	g.mu.Lock()
	if g.hold {
		g.held++
		ch := g.release
		g.mu.Unlock()
		<-ch
		g.mu.Lock()
		g.held--
	}
	g.mu.Unlock()
	return f.File.Sync()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGroupCommitSharesFsyncs(t *testing.T) {
	g := newGateFS(vfs.NewMem())
	e := newEnv(t, g)
	cfg := DefaultConfig()
	cfg.FlushMessages = 1
	l := e.log(cfg)
	if !l.Config().Durable() {
		t.Fatal("flush.messages=1 is not durable mode")
	}
	// Hold the first fsync while many producers append and wait.
	g.setHold(true)
	first := mustAppend(t, l, batchSpec{n: 1, ts: e.clock.Ms()})
	firstDone := make(chan error, 1)
	go func() { firstDone <- l.WaitFlushed(context.Background(), first.LastOffset+1) }()
	waitFor(t, "the first fsync to start", func() bool { return g.heldCount() == 1 })
	before := g.logSync.Load()

	const writers = 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := l.Append(build(t, batchSpec{n: 1, ts: e.clock.Ms()}), 0)
			if err != nil {
				errs <- err
				return
			}
			errs <- l.WaitFlushed(context.Background(), r.LastOffset+1)
		}()
	}
	waitFor(t, "every append", func() bool { return l.LogEndOffset() == writers+1 })
	// Nobody may be acknowledged before the fsync that covers them.
	select {
	case err := <-errs:
		t.Fatalf("a waiter returned before any fsync completed: %v", err)
	default:
	}
	g.setHold(false)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	syncs := g.logSync.Load() - before
	if syncs >= writers/5 {
		t.Fatalf("%d waiters took %d fsyncs; group commit should share them", writers, syncs)
	}
	if l.FlushedOffset() != writers+1 {
		t.Fatalf("flushed offset %d, want %d", l.FlushedOffset(), writers+1)
	}
	t.Logf("%d waiters served by %d fsyncs", writers, syncs)
}

func TestWaitFlushedCoversRolledSegments(t *testing.T) {
	c := vfs.Counting(vfs.NewMem())
	e := newEnv(t, c)
	cfg := DefaultConfig()
	cfg.FlushMessages = 1
	cfg.SegmentBytes = 300
	l := e.log(cfg)
	var last AppendResult
	for i := 0; i < 5; i++ {
		last = mustAppend(t, l, batchSpec{n: 1, ts: e.clock.Ms(), valueSize: 200})
	}
	dirSyncs := c.SyncDirs()
	if err := l.WaitFlushed(context.Background(), last.LastOffset+1); err != nil {
		t.Fatal(err)
	}
	if l.FlushedOffset() != 5 {
		t.Fatalf("flushed %d", l.FlushedOffset())
	}
	// A roll happened since the last flush: the directory was synced too,
	// by the group commit or the roll finishers.
	if c.SyncDirs() == dirSyncs {
		l.finishers.Wait()
	}
	if c.SyncDirs() == dirSyncs {
		t.Fatal("no directory sync after rolls")
	}
}

func TestFsyncFailureIsSticky(t *testing.T) {
	g := newGateFS(vfs.NewMem())
	e := newEnv(t, g)
	cfg := DefaultConfig()
	cfg.FlushMessages = 1
	l := e.log(cfg)
	r := mustAppend(t, l, batchSpec{n: 1, ts: e.clock.Ms()})
	g.failLog.Store(true)
	err := l.WaitFlushed(context.Background(), r.LastOffset+1)
	if !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("WaitFlushed after a failed fsync: %v, want KAFKA_STORAGE_ERROR", err)
	}
	g.failLog.Store(false)
	if _, err := l.Append(build(t, batchSpec{n: 1, ts: e.clock.Ms()}), 0); !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("append after a failed fsync: %v, want KAFKA_STORAGE_ERROR", err)
	}
}

func TestWaitFlushedContext(t *testing.T) {
	g := newGateFS(vfs.NewMem())
	e := newEnv(t, g)
	l := e.log(DefaultConfig())
	r := mustAppend(t, l, batchSpec{n: 1, ts: e.clock.Ms()})
	g.setHold(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.WaitFlushed(ctx, r.LastOffset+1) }()
	waitFor(t, "fsync to start", func() bool { return g.heldCount() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	g.setHold(false)
	if err := l.WaitFlushed(context.Background(), r.LastOffset+1); err != nil {
		t.Fatal(err)
	}
}

func TestFlushMessagesPolicy(t *testing.T) {
	c := vfs.Counting(vfs.NewMem())
	e := newEnv(t, c)
	cfg := DefaultConfig()
	cfg.FlushMessages = 10
	l := e.log(cfg)
	mustAppend(t, l, batchSpec{n: 9, ts: e.clock.Ms()})
	if l.FlushedOffset() != 0 {
		t.Fatalf("flushed %d after 9 of 10 messages", l.FlushedOffset())
	}
	mustAppend(t, l, batchSpec{n: 1, ts: e.clock.Ms()})
	waitFor(t, "the flush.messages flush", func() bool { return l.FlushedOffset() == 10 })
	if l.RecoveryPoint() != 10 {
		t.Fatalf("recovery point %d, want 10", l.RecoveryPoint())
	}
}

func TestFlushMsPolicy(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.FlushMs = 1000
	l := e.log(cfg)
	mustAppend(t, l, batchSpec{n: 3, ts: e.clock.Ms()})
	e.clock.Advance(999 * time.Millisecond)
	e.m.Tick()
	if l.FlushedOffset() != 0 {
		t.Fatalf("flushed before flush.ms: %d", l.FlushedOffset())
	}
	e.clock.Advance(time.Millisecond)
	e.m.Tick()
	waitFor(t, "the flush.ms flush", func() bool { return l.FlushedOffset() == 3 })
}

func TestFlushExplicit(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	appendN(t, l, 3, 2, 10, e.clock.Ms())
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if l.FlushedOffset() != 6 || l.RecoveryPoint() != 6 {
		t.Fatalf("flushed %d recovery point %d, want 6", l.FlushedOffset(), l.RecoveryPoint())
	}
}
