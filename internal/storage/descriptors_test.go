package storage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/internal/storage"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

func openDescriptors(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd to count descriptors: %v", err)
	}
	return len(ents)
}

// A partition holds one descriptor (its active .log) whether it was just
// written, reopened after a clean shutdown, or recovered after a crash: the
// active segment's index lives in memory, and its files are open only while
// being written. Three per partition ran 10,000 partitions out of
// descriptors.
func TestOneDescriptorPerPartition(t *testing.T) {
	const partitions = 300
	dir := t.TempDir()
	open := func() *storage.Manager {
		m, err := storage.OpenManager(context.Background(), storage.ManagerConfig{
			Dirs: []string{dir}, FS: vfs.OS(), SchedulerInterval: -1,
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	check := func(when string, before int, m *storage.Manager) {
		t.Helper()
		if got := openDescriptors(t) - before; got > partitions+20 {
			t.Fatalf("%s: %d descriptors for %d partitions, want about one each", when, got, partitions)
		}
	}

	before := openDescriptors(t)
	m := open()
	for i := 0; i < partitions; i++ {
		tp := storage.TopicPartition{Topic: "fd", Partition: int32(i)}
		l, err := m.GetOrCreate(tp, [16]byte{1}, storage.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(testBatch(3, 100, 1700000000000, uint64(i)), 0); err != nil {
			t.Fatal(err)
		}
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	check("after appends and flushes", before, m)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	m = open()
	check("after a clean reopen", before, m)
	if n := len(m.Logs()); n != partitions {
		t.Fatalf("reopened %d logs, want %d", n, partitions)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	// Recovery: as after a crash, without the clean-shutdown marker.
	if err := os.Remove(filepath.Join(dir, storage.CleanShutdownFile)); err != nil {
		t.Fatal(err)
	}
	m = open()
	defer m.Close()
	check("after recovery", before, m)
	for _, l := range m.Logs() {
		if l.LogEndOffset() != 3 {
			t.Fatal(fmt.Sprintf("%v: log end %d after recovery, want 3", l.TopicPartition(), l.LogEndOffset()))
		}
	}
}
