package storage_test

// The process crash test: a child process (this test binary, re-executed)
// appends to a real directory in durable mode and prints every offset it
// has acknowledged; the parent kills it with SIGKILL at a random moment,
// opens the log itself, and checks that it validates and holds every
// acknowledged batch byte for byte. Then it starts the child again, which
// recovers the log and carries on. SIGKILL does not lose the page cache,
// so this tests recovery from torn process state (half-done appends,
// rolls, index and checkpoint writes), not fsync; the MemFS crash tests
// cover fsync.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/storage"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

const procChildEnv = "SLUICE_PROC_CRASH_CHILD_DIR"

var procTP = storage.TopicPartition{Topic: "proc", Partition: 0}

func procConfig() storage.Config {
	return storage.Config{SegmentBytes: 64 << 10, IndexIntervalBytes: 2048, SegmentIndexBytes: 1200, FlushMessages: 1}
}

// procBatch is the batch the child appends at base offset base: a pure
// function of base, so the parent can check every byte of what it finds.
func procBatch(base int64) []byte {
	return testBatch(1+int(base%5), 50+int(base*7%400), 1_700_000_000_000+base, uint64(base))
}

func openProcLog(dir string) (*storage.Manager, *storage.Log, error) {
	m, err := storage.OpenManager(context.Background(), storage.ManagerConfig{
		Dirs:              []string{dir},
		FS:                vfs.OS(),
		Logger:            slog.New(slog.DiscardHandler),
		SchedulerInterval: -1,
	})
	if err != nil {
		return nil, nil, err
	}
	l, err := m.GetOrCreate(procTP, testTopicID, procConfig())
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, l, nil
}

// TestProcessCrashChild is the child's body; it does nothing unless the
// parent started it.
func TestProcessCrashChild(t *testing.T) {
	dir := os.Getenv(procChildEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestProcessCrash")
	}
	_, l, err := openProcLog(dir)
	if err != nil {
		fmt.Printf("error open: %v\n", err)
		os.Exit(3)
	}
	fmt.Printf("ready %d\n", l.LogEndOffset())
	// Bounded, in case the parent dies without killing us.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		base := l.LogEndOffset()
		res, err := l.Append(procBatch(base), 5)
		if err != nil || res.BaseOffset != base {
			fmt.Printf("error append at %d: got %d: %v\n", base, res.BaseOffset, err)
			os.Exit(3)
		}
		if err := l.WaitFlushed(context.Background(), res.LastOffset+1); err != nil {
			fmt.Printf("error flush at %d: %v\n", base, err)
			os.Exit(3)
		}
		// One write per line: a line the parent reads whole was
		// acknowledged before the kill.
		os.Stdout.WriteString("ack " + strconv.FormatInt(res.BaseOffset, 10) + " " + strconv.FormatInt(res.LastOffset, 10) + "\n")
	}
	os.Exit(0)
}

type procAck struct{ base, last int64 }

// runChild starts the child, lets it append for a random while, kills it
// and returns the acknowledgements it printed in full.
func runChild(t *testing.T, dir string, rng *rand.Rand) (acks []procAck, ready int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestProcessCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), procChildEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	readyCh := make(chan int64, 1)
	failCh := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			f := strings.Fields(line)
			switch {
			case len(f) == 2 && f[0] == "ready":
				n, _ := strconv.ParseInt(f[1], 10, 64)
				readyCh <- n
			case len(f) == 3 && f[0] == "ack":
				b, _ := strconv.ParseInt(f[1], 10, 64)
				l, _ := strconv.ParseInt(f[2], 10, 64)
				mu.Lock()
				acks = append(acks, procAck{b, l})
				mu.Unlock()
			case strings.HasPrefix(line, "error"):
				select {
				case failCh <- line:
				default:
				}
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case ready = <-readyCh:
	case msg := <-failCh:
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child failed to open the log: %s\n%s", msg, stderr.String())
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child never became ready: %s", stderr.String())
	}
	// Kill at a random moment: sometimes during the first appends,
	// sometimes after many (and a few rolls).
	timer := time.NewTimer(time.Duration(rng.IntN(120)) * time.Millisecond)
	select {
	case <-timer.C:
	case msg := <-failCh:
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child failed: %s\n%s", msg, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v", err)
	}
	cmd.Wait()
	<-done
	select {
	case msg := <-failCh:
		t.Fatalf("child failed: %s\n%s", msg, stderr.String())
	default:
	}
	mu.Lock()
	defer mu.Unlock()
	return acks, ready
}

// TestProcessCrash kills the appending child at least 50 times.
func TestProcessCrash(t *testing.T) {
	if os.Getenv(procChildEnv) != "" {
		t.Skip("child")
	}
	kills := 50
	if longRun() {
		kills = 300
	}
	if testing.Short() {
		kills = 10
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var acked int64 = -1 // highest acknowledged offset over all runs
	var totalAcks int
	start := time.Now()
	for k := 0; k < kills; k++ {
		acks, ready := runChild(t, dir, rng)
		if ready <= acked {
			t.Fatalf("kill %d: the child reopened the log at %d, below the acknowledged offset %d", k, ready, acked)
		}
		for _, a := range acks {
			acked = max(acked, a.last)
		}
		totalAcks += len(acks)

		// Open the log here, after the kill: recovery runs in this process.
		m, l, err := openProcLog(dir)
		if err != nil {
			t.Fatalf("kill %d: reopen: %v", k, err)
		}
		got, err := readAllBatches(l)
		if err != nil {
			t.Fatalf("kill %d: log does not validate: %v", k, err)
		}
		if leo := l.LogEndOffset(); leo <= acked {
			t.Fatalf("kill %d: log end offset %d, but %d was acknowledged", k, leo, acked)
		}
		// Every batch, acknowledged or not, is the child's batch for its
		// offset; and the acknowledged ones are all there.
		have := map[int64]bool{}
		for _, b := range got {
			if want := placed(procBatch(b.base), b.base, 5); !bytes.Equal(b.bytes, want) {
				t.Fatalf("kill %d: batch at %d is not the one the child appended", k, b.base)
			}
			have[b.base] = true
		}
		for _, a := range acks {
			if !have[a.base] {
				t.Fatalf("kill %d: acknowledged batch %d..%d missing", k, a.base, a.last)
			}
		}
		// Close cleanly half of the time; otherwise leave the files as a
		// crashed process would (this process never touches them again),
		// so the child recovers them.
		if k%2 == 0 {
			if err := m.Close(); err != nil {
				t.Fatalf("kill %d: close: %v", k, err)
			}
		}
	}
	t.Logf("%d kills in %v; %d acknowledgements, log end %d, all present", kills, time.Since(start).Round(time.Millisecond), totalAcks, acked+1)
	if totalAcks == 0 {
		t.Fatal("the child never acknowledged anything: the test tested nothing")
	}
}
