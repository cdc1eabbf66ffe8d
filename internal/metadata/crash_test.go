package metadata

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const crashDirEnv = "SLUICE_METADATA_CRASH_CHILD_DIR"

// TestCrashChild is the child process of TestCrashKeepsCommittedChanges; run on its own
// it does nothing. It creates topics without end, printing each one once CreateTopic has
// returned, until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		return
	}
	s, err := Open(context.Background(), Config{Dir: dir, NodeID: 1, ClusterID: "crash-cluster",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	if s.Image().Brokers[1] == nil {
		registerBroker(t, s, 1)
	}
	for i := len(s.Image().Topics); ; i++ {
		name := fmt.Sprint("crash-", i)
		tp, err := s.CreateTopic(context.Background(), TopicSpec{Name: name, Partitions: 3, ReplicationFactor: 1})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("committed", name, UUID(tp.ID))
	}
}

// TestCrashKeepsCommittedChanges kills a process that is writing metadata with SIGKILL,
// no Close, and checks on reopen that every change it had acknowledged is there.
func TestCrashKeepsCommittedChanges(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		return
	}
	dir := t.TempDir()
	committed := map[string]string{}
	for round := 0; round < 2; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for n < 30 && sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 3 && f[0] == "committed":
				committed[f[1]] = f[2]
				n++
			case len(f) > 0 && f[0] == "error":
				t.Fatalf("child: %s", sc.Text())
			}
		}
		// Kill it while it is still creating topics.
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if n < 30 {
			t.Fatalf("child stopped after %d topics", n)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, Config{Dir: dir, NodeID: 1, ClusterID: "crash-cluster", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	img := s.Image()
	for name, id := range committed {
		tp := img.Topic(name)
		if tp == nil {
			t.Fatalf("acknowledged topic %s lost in the crash", name)
		}
		if UUID(tp.ID).String() != id || len(tp.Partitions) != 3 {
			t.Fatalf("topic %s after the crash: id %s, %d partitions; want id %s, 3 partitions", name, UUID(tp.ID), len(tp.Partitions), id)
		}
	}
	t.Logf("%d acknowledged topics survived two SIGKILLs (%d topics on disk)", len(committed), len(img.Topics))
}
