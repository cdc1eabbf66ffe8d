package storage

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// openCreateEnv opens a Manager over fsys; syncer runs the background
// work, the creation syncer among it.
func openCreateEnv(t *testing.T, fsys vfs.FS, syncer bool) *Manager {
	t.Helper()
	interval := time.Duration(-1)
	if syncer {
		interval = time.Hour // the scheduler runs but never ticks in a test
	}
	m, err := OpenManager(context.Background(), ManagerConfig{
		Dirs:              []string{"/data"},
		FS:                fsys,
		Logger:            quietLogger,
		SchedulerInterval: interval,
	})
	if err != nil {
		t.Fatalf("OpenManager: %v", err)
	}
	return m
}

func createTP(i int) TopicPartition { return TopicPartition{Topic: "create", Partition: int32(i)} }

func createTopicID(i int) [16]byte { return [16]byte{0xc0, byte(i >> 8), byte(i)} }

// TestCreateWithoutFsync: creating a log costs no fsync on the caller's
// path.
func TestCreateWithoutFsync(t *testing.T) {
	counting := vfs.Counting(vfs.NewMem())
	m := openCreateEnv(t, counting, false)
	defer m.Close()
	before := counting.Syncs() + counting.SyncDirs()
	for i := range 20 {
		if _, err := m.GetOrCreate(createTP(i), createTopicID(i), Config{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := counting.Syncs() + counting.SyncDirs() - before; n != 0 {
		t.Fatalf("creating 20 logs took %d fsyncs, want none", n)
	}
}

// TestCreateDurableBeforeFirstFlush: a durable append to a new log is
// acknowledged (WaitFlushed returns) only once the log's directory is on
// disk, so a power loss right after keeps the record.
func TestCreateDurableBeforeFirstFlush(t *testing.T) {
	mem := vfs.NewMem()
	m := openCreateEnv(t, mem, false)
	l, err := m.GetOrCreate(createTP(0), createTopicID(0), Config{FlushMessages: 1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Append(build(t, batchSpec{n: 3, ts: 1000, valueSize: 10, pid: -1}), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitFlushed(context.Background(), res.LastOffset+1); err != nil {
		t.Fatal(err)
	}
	crashed := mem.Crash()
	m2 := openCreateEnv(t, crashed, false)
	defer m2.Close()
	l2, ok := m2.Get(createTP(0))
	if !ok {
		t.Fatal("the log of an acknowledged durable append is gone after a crash")
	}
	if leo := l2.LogEndOffset(); leo != 3 {
		t.Fatalf("log end %d after the crash, want 3", leo)
	}
	if id := l2.TopicID(); id != createTopicID(0) {
		t.Fatalf("topic id %x after the crash, want %x", id, createTopicID(0))
	}
}

// TestCreateUnsyncedCrash: a crash before a new log was synced may take it
// away, but the directory opens and the log can be created again.
func TestCreateUnsyncedCrash(t *testing.T) {
	mem := vfs.NewMem()
	m := openCreateEnv(t, mem, false)
	for i := range 5 {
		if _, err := m.GetOrCreate(createTP(i), createTopicID(i), Config{}); err != nil {
			t.Fatal(err)
		}
	}
	m2 := openCreateEnv(t, mem.Crash(), false)
	defer m2.Close()
	for i := range 5 {
		l, err := m2.GetOrCreate(createTP(i), createTopicID(i), Config{})
		if err != nil {
			t.Fatalf("create %d again after a crash: %v", i, err)
		}
		if id := l.TopicID(); id != createTopicID(i) {
			t.Fatalf("log %d: topic id %x, want %x", i, id, createTopicID(i))
		}
	}
}

// TestCreateSyncedByClose: a clean close makes every creation durable.
func TestCreateSyncedByClose(t *testing.T) {
	mem := vfs.NewMem()
	m := openCreateEnv(t, mem, false)
	for i := range 5 {
		if _, err := m.GetOrCreate(createTP(i), createTopicID(i), Config{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m2 := openCreateEnv(t, mem.Crash(), false)
	defer m2.Close()
	checkCreated(t, m2, 5)
}

// TestCreationSyncerBatches: the background syncer makes a burst of
// creations durable together, with one sync of the log directory.
func TestCreationSyncerBatches(t *testing.T) {
	mem := vfs.NewMem()
	counting := vfs.Counting(mem)
	m := openCreateEnv(t, counting, true)
	defer m.Close()
	files0, dirs0 := counting.Syncs(), counting.SyncDirs()
	const n = 50
	logs := make([]*Log, n)
	for i := range n {
		var err error
		if logs[i], err = m.GetOrCreate(createTP(i), createTopicID(i), Config{}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, l := range logs {
		for l.createUnsynced.Load() {
			if time.Now().After(deadline) {
				t.Fatalf("%s not synced by the creation syncer", l.tp)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// Each log: partition.metadata and its directory; the log directory
	// once per batch (the burst may straddle two).
	if files, dirs := counting.Syncs()-files0, counting.SyncDirs()-dirs0; files != n || dirs < n+1 || dirs > n+3 {
		t.Errorf("syncer used %d file and %d directory syncs for %d logs; want %d and %d-%d", files, dirs, n, n, n+1, n+3)
	}
	m2 := openCreateEnv(t, mem.Crash(), false)
	defer m2.Close()
	checkCreated(t, m2, n)
}

func checkCreated(t *testing.T, m *Manager, n int) {
	t.Helper()
	for i := range n {
		l, ok := m.Get(createTP(i))
		if !ok {
			t.Fatalf("%s lost in a crash after it was synced", createTP(i))
		}
		if id := l.TopicID(); id != createTopicID(i) {
			t.Fatalf("%s: topic id %x, want %x", createTP(i), id, createTopicID(i))
		}
	}
	if got := len(m.Logs()); got != n {
		t.Fatalf("%d logs after the crash, want %d", got, n)
	}
}
