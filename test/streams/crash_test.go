package streams

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/streams"
)

// The crash test runs the application in a child process (this test
// binary, started again with these variables set) so that it can be
// killed with SIGKILL, mid-stream, without a chance to commit.
const (
	childBroker = "STREAMS_CHILD_BROKER"
	childDir    = "STREAMS_CHILD_STATE_DIR"
	childApp    = "STREAMS_CHILD_APP_ID"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(childBroker); addr != "" {
		os.Exit(runChild(addr, os.Getenv(childApp), os.Getenv(childDir)))
	}
	os.Exit(m.Run())
}

// runChild runs the word count until killed. Small polls and frequent
// commits make the kill land between commits with work in flight.
func runChild(addr, appID, dir string) int {
	topo, err := wordCountTopology(nil, false).Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg := appConfig(addr, appID, dir)
	cfg.CommitInterval = 100 * time.Millisecond
	cfg.MaxPollRecords = 20
	eosChild(&cfg) // exactly-once children (eos_test.go)
	a, err := streams.NewApp(topo, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := a.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestKilledInstanceLosesNothing kills an instance with SIGKILL mid-stream
// and lets a new one (same state directory, so it restores its pebble
// stores from their checkpoints plus the changelog tail) finish the input.
//
// What at-least-once allows, and the test checks, for every word w:
//
//	exact(w) <= final(w) <= exact(w) + replayed(w)
//
// where replayed(w) counts w in the input the new instance reads again:
// the lines after the committed offsets of the input topic, and the
// repartition records after the committed offsets of the repartition
// topic, both as they stood when the old instance was killed. No update is
// lost, and only records re-read after the crash can be counted twice.
func TestKilledInstanceLosesNothing(t *testing.T) {
	addr := startBroker(t)
	createTopic(t, addr, inputTopic, partitions)
	createTopic(t, addr, outputTopic, partitions)
	// Half the input is there when the child starts; a tenth more is
	// written just before the kill, so that work is in flight; the rest
	// comes after the kill, so the child can never have finished.
	lines := makeLines(3, 20000)
	produceLines(t, addr, 0, lines[:10000])
	const appID = "wc-crash"
	dir := t.TempDir()
	adm := kadm.NewClient(newClient(t, addr))
	ctx := context.Background()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childBroker+"="+addr, childApp+"="+appID, childDir+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	committed := func() kadm.OffsetResponses {
		resp, err := adm.FetchOffsets(ctx, appID)
		if err != nil {
			return nil
		}
		return resp
	}
	sum := func(r kadm.OffsetResponses, topic string) int64 {
		var n int64
		r.Each(func(o kadm.OffsetResponse) {
			if o.Topic == topic && o.Err == nil {
				n += o.At
			}
		})
		return n
	}
	total := int64(len(lines))
	waitFor(t, 60*time.Second, "the child to commit a fifth of the input", func() (bool, string) {
		select {
		case err := <-exited:
			t.Fatalf("child exited before the kill: %v\n%s", err, stderr.String())
		default:
		}
		n := sum(committed(), inputTopic)
		return n >= total/5, fmt.Sprintf("%d of %d lines committed", n, total)
	})
	produceLines(t, addr, 10000, lines[10000:12000])
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited

	// What the dead instance had committed, and what it had written.
	at := committed()
	repartition := appID + "-words-repartition"
	replayed := make(map[string]int64)
	perPartition := make(map[int32]int64)
	at.Each(func(o kadm.OffsetResponse) {
		if o.Topic == inputTopic {
			perPartition[o.Partition] = o.At
		}
	})
	// Lines: keys are indexes; the partitioner decides where each went, so
	// read the input topic back from the committed offsets.
	for w, n := range countTail(t, addr, inputTopic, perPartition, func(r *kgo.Record) []string { return strings.Fields(string(r.Value)) }) {
		replayed[w] += n
	}
	repOffsets := make(map[int32]int64)
	at.Each(func(o kadm.OffsetResponse) {
		if o.Topic == repartition {
			repOffsets[o.Partition] = o.At
		}
	})
	for w, n := range countTail(t, addr, repartition, repOffsets, func(r *kgo.Record) []string { return []string{string(r.Key)} }) {
		replayed[w] += n
	}
	var replayedTotal int64
	for _, n := range replayed {
		replayedTotal += n
	}
	t.Logf("killed with %d of the 12000 lines written so far committed; %d words may be counted twice", sum(at, inputTopic), replayedTotal)
	produceLines(t, addr, 12000, lines[12000:])

	a := startApp(t, addr, appID, dir, false)
	ends, err := adm.ListEndOffsets(ctx, inputTopic, repartition)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the new instance to commit all the input", func() (bool, string) {
		c := committed()
		if sum(c, inputTopic) < total {
			return false, fmt.Sprintf("%d of %d lines", sum(c, inputTopic), total)
		}
		// The repartition topic only grows while lines are processed;
		// its end is final once every line is committed.
		ends, err = adm.ListEndOffsets(ctx, repartition)
		if err != nil {
			return false, err.Error()
		}
		var end int64
		ends.Each(func(o kadm.ListedOffset) { end += o.Offset })
		return sum(c, repartition) == end, fmt.Sprintf("repartition %d of %d", sum(c, repartition), end)
	})
	got, err := queryAll(a)
	if err != nil {
		t.Fatal(err)
	}
	want := countWords(lines)
	var problems []string
	var extra int64
	for w, n := range want {
		switch {
		case got[w] < n:
			problems = append(problems, fmt.Sprintf("%s: %d, below the exact %d (an update was lost)", w, got[w], n))
		case got[w] > n+replayed[w]:
			problems = append(problems, fmt.Sprintf("%s: %d, more than the exact %d plus %d replayed", w, got[w], n, replayed[w]))
		}
		extra += got[w] - n
	}
	if len(got) != len(want) {
		problems = append(problems, fmt.Sprintf("%d words counted, want %d", len(got), len(want)))
	}
	if len(problems) > 0 {
		t.Fatalf("counts after the crash:\n%s", strings.Join(problems, "\n"))
	}
	t.Logf("counts within bounds: %d updates counted twice, of %d allowed", extra, replayedTotal)
}

// countTail reads topic from the given offsets per partition to its end
// and counts the words fn finds in each record.
func countTail(t *testing.T, addr, topic string, from map[int32]int64, fn func(*kgo.Record) []string) map[string]int64 {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	ends, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	start := make(map[string]map[int32]kgo.Offset)
	start[topic] = make(map[int32]kgo.Offset)
	remaining := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) {
		f := from[o.Partition]
		if f < o.Offset {
			start[topic][o.Partition] = kgo.NewOffset().At(f)
			remaining[o.Partition] = o.Offset - 1
		}
	})
	counts := make(map[string]int64)
	if len(remaining) == 0 {
		return counts
	}
	cl := newClient(t, addr, kgo.ConsumePartitions(start), kgo.FetchMaxWait(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s back: %v (left: %v)", topic, ctx.Err(), remaining)
		}
		fs.EachRecord(func(r *kgo.Record) {
			last, ok := remaining[r.Partition]
			if !ok || r.Offset > last {
				return
			}
			for _, w := range fn(r) {
				counts[w]++
			}
			if r.Offset == last {
				delete(remaining, r.Partition)
			}
		})
	}
	return counts
}
