package streams

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/streams"
	"github.com/sluicehq/sluice/streams/serde"
)

const (
	inputTopic  = "lines"
	outputTopic = "word-counts"
	countsStore = "counts"
	partitions  = 4
)

// wordCountTopology splits lines into words and counts them in a pebble
// store (or in memory), writing each count update to outputTopic.
func wordCountTopology(t testing.TB, inMemory bool) *streams.Builder {
	b := streams.NewBuilder()
	lines := streams.Stream[string, string](b, []string{inputTopic})
	words := streams.FlatMapValues(lines, strings.Fields)
	opts := []streams.Option{streams.WithStore(countsStore)}
	if inMemory {
		opts = append(opts, streams.InMemory())
	}
	streams.GroupBy(words, func(_, w string) string { return w }, streams.Named("words")).
		Count(opts...).ToStream().To(outputTopic, streams.WithValueSerde(serde.Int64))
	return b
}

var vocabulary = strings.Fields(`alpha bravo charlie delta echo foxtrot golf hotel india juliet
	kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray
	yankee zulu amber birch cedar dune ember fjord grove heath inlet jetty knoll ledge marsh`)

// makeLines returns n lines of 1 to 8 words, the same for a seed.
func makeLines(seed uint64, n int) []string {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]string, n)
	for i := range out {
		w := make([]string, 1+rng.IntN(8))
		for j := range w {
			w[j] = vocabulary[rng.IntN(len(vocabulary))]
		}
		out[i] = strings.Join(w, " ")
	}
	return out
}

func countWords(lines []string) map[string]int64 {
	m := make(map[string]int64)
	for _, l := range lines {
		for _, w := range strings.Fields(l) {
			m[w]++
		}
	}
	return m
}

func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t testing.TB, addr, topic string, parts int32) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	resp, err := adm.CreateTopic(context.Background(), parts, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// produceLines writes lines keyed by their index (first is the index of
// lines[0]) and waits for every acknowledgement.
func produceLines(t testing.TB, addr string, first int, lines []string) {
	t.Helper()
	cl := newClient(t, addr)
	recs := make([]*kgo.Record, len(lines))
	for i, l := range lines {
		recs[i] = &kgo.Record{Topic: inputTopic, Key: []byte(fmt.Sprint(first + i)), Value: []byte(l)}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("produce lines: %v", err)
	}
}

// app is one running instance.
type app struct {
	*streams.App
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func appConfig(addr, appID, stateDir string) streams.Config {
	return streams.Config{
		ApplicationID:  appID,
		Brokers:        []string{addr},
		StateDir:       stateDir,
		CommitInterval: 200 * time.Millisecond,
		Logger:         testLogger(),
		// A killed instance leaves the group after 6 s (the broker's
		// minimum) rather than franz-go's default 45 s.
		ClientOptions: []kgo.Opt{kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond)},
	}
}

func startApp(t *testing.T, addr, appID, stateDir string, inMemory bool) *app {
	t.Helper()
	topo, err := wordCountTopology(t, inMemory).Build()
	if err != nil {
		t.Fatal(err)
	}
	a, err := streams.NewApp(topo, appConfig(addr, appID, stateDir))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &app{App: a, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- a.Run(ctx) }()
	t.Cleanup(func() { h.stop(t) })
	return h
}

// stop shuts the instance down cleanly and fails the test if Run failed.
func (h *app) stop(t testing.TB) {
	h.once.Do(func() {
		h.cancel()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("app stopped with an error: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("app did not stop within 30s")
		}
	})
}

// waitFor polls cond every 50ms until it holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, status := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last: %s", timeout, what, status)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

// outputReader follows outputTopic and keeps the latest count per word.
type outputReader struct {
	mu     sync.Mutex
	latest map[string]int64
	n      int
}

func readOutput(t *testing.T, addr string) *outputReader {
	t.Helper()
	o := &outputReader{latest: make(map[string]int64)}
	cl := newClient(t, addr, kgo.ConsumeTopics(outputTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				n, err := serde.Int64.Deserialize(r.Topic, r.Value)
				if err != nil {
					t.Errorf("output record %s@%d: %v", r.Key, r.Offset, err)
					return
				}
				o.mu.Lock()
				o.latest[string(r.Key)] = n
				o.n++
				o.mu.Unlock()
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return o
}

func (o *outputReader) snapshot() (map[string]int64, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.latest), o.n
}

func diff(got, want map[string]int64) string {
	var out []string
	for _, w := range slices.Sorted(maps.Keys(want)) {
		if got[w] != want[w] {
			out = append(out, fmt.Sprintf("%s: %d, want %d", w, got[w], want[w]))
		}
	}
	for w := range got {
		if _, ok := want[w]; !ok {
			out = append(out, fmt.Sprintf("unexpected %s: %d", w, got[w]))
		}
	}
	if len(out) > 8 {
		out = append(out[:8], fmt.Sprintf("... %d differences", len(out)))
	}
	return strings.Join(out, "; ")
}

// queryAll reads the whole counts store of an instance through interactive
// queries.
func queryAll(a *app) (map[string]int64, error) {
	s, err := streams.QueryStore[string, int64](a.App, countsStore)
	if err != nil {
		return nil, err
	}
	m := make(map[string]int64)
	err = s.All(func(k string, v int64) bool { m[k] = v; return true })
	return m, err
}

// TestWordCountTwoInstancesOneStops: one instance runs every task; a
// second joins mid-stream and takes half of them, restoring their state
// from the changelogs; then it stops (cleanly) while input keeps coming,
// and the first takes its tasks back. Rebalances and clean stops commit
// first, so the counts are exact: no update lost, none counted twice.
func TestWordCountTwoInstancesOneStops(t *testing.T) {
	addr := startBroker(t)
	createTopic(t, addr, inputTopic, partitions)
	createTopic(t, addr, outputTopic, partitions)
	lines := makeLines(1, 6000)
	out := readOutput(t, addr)

	// 4 input partitions and, after the repartition topic, 4 more: 8 tasks.
	a := startApp(t, addr, "wc-two", t.TempDir(), false)
	waitFor(t, 30*time.Second, "instance a to run every task", func() (bool, string) {
		return len(a.Tasks()) == 2*partitions, fmt.Sprint(a.Tasks())
	})
	produceLines(t, addr, 0, lines[:2000])
	first := countWords(lines[:2000])
	waitFor(t, 30*time.Second, "counts of the first third", func() (bool, string) {
		got, _ := out.snapshot()
		return maps.Equal(got, first), diff(got, first)
	})

	b := startApp(t, addr, "wc-two", t.TempDir(), false)
	produceLines(t, addr, 2000, lines[2000:3000])
	waitFor(t, 30*time.Second, "the two instances to split the tasks", func() (bool, string) {
		ta, tb := a.Tasks(), b.Tasks()
		return len(ta) == partitions && len(tb) == partitions, fmt.Sprintf("a %v, b %v", ta, tb)
	})
	produceLines(t, addr, 3000, lines[3000:4000])
	second := countWords(lines[:4000])
	waitFor(t, 30*time.Second, "counts of two thirds", func() (bool, string) {
		got, _ := out.snapshot()
		return maps.Equal(got, second), diff(got, second)
	})
	bCounts, err := queryAll(b)
	if err != nil || len(bCounts) == 0 || len(bCounts) == len(second) {
		t.Fatalf("instance b holds %d of %d words (%v): it should hold part of them", len(bCounts), len(second), err)
	}

	// B stops while input keeps coming.
	produceLines(t, addr, 4000, lines[4000:5000])
	b.stop(t)
	produceLines(t, addr, 5000, lines[5000:])
	want := countWords(lines)
	waitFor(t, 30*time.Second, "instance a to run every task again", func() (bool, string) {
		return len(a.Tasks()) == 2*partitions, fmt.Sprint(a.Tasks())
	})
	waitFor(t, 30*time.Second, "the final counts in the output topic", func() (bool, string) {
		got, _ := out.snapshot()
		return maps.Equal(got, want), diff(got, want)
	})
	got, err := queryAll(a)
	if err != nil {
		t.Fatalf("interactive query: %v", err)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("interactive query of the counts store: %s", diff(got, want))
	}
}

// TestStateRebuiltFromChangelog: the instance stops, its state directory is
// deleted, and a new instance rebuilds the store from the changelog before
// processing more input: the counts continue from where they were.
func TestStateRebuiltFromChangelog(t *testing.T) {
	addr := startBroker(t)
	createTopic(t, addr, inputTopic, partitions)
	createTopic(t, addr, outputTopic, partitions)
	lines := makeLines(2, 4000)
	dir := t.TempDir()

	a := startApp(t, addr, "wc-restore", dir, false)
	produceLines(t, addr, 0, lines[:2000])
	first := countWords(lines[:2000])
	waitFor(t, 30*time.Second, "counts of the first half in the store", func() (bool, string) {
		got, err := queryAll(a)
		return err == nil && maps.Equal(got, first), fmt.Sprint(err, diff(got, first))
	})
	a.stop(t)
	if _, err := os.Stat(filepath.Join(dir, "wc-restore")); err != nil {
		t.Fatalf("the stopped instance left no state directory: %v", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}

	b := startApp(t, addr, "wc-restore", dir, false)
	waitFor(t, 30*time.Second, "the new instance to run every task", func() (bool, string) {
		return len(b.Tasks()) == 2*partitions, fmt.Sprint(b.Tasks())
	})
	// Before any new input, the store is back as it was.
	got, err := queryAll(b)
	if err != nil || !maps.Equal(got, first) {
		t.Fatalf("store after restoration: %v %s", err, diff(got, first))
	}
	produceLines(t, addr, 2000, lines[2000:])
	want := countWords(lines)
	waitFor(t, 30*time.Second, "counts of all the input", func() (bool, string) {
		got, err := queryAll(b)
		return err == nil && maps.Equal(got, want), fmt.Sprint(err, diff(got, want))
	})
	out := readOutput(t, addr)
	waitFor(t, 30*time.Second, "the final counts in the output topic", func() (bool, string) {
		got, _ := out.snapshot()
		return maps.Equal(got, want), diff(got, want)
	})
}

func TestMissingSourceTopicIsReported(t *testing.T) {
	addr := startBroker(t)
	topo, err := wordCountTopology(t, true).Build()
	if err != nil {
		t.Fatal(err)
	}
	a, err := streams.NewApp(topo, streams.Config{ApplicationID: "wc-missing", Brokers: []string{addr}, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = a.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "source topic does not exist") {
		t.Fatalf("Run without the source topic: %v", err)
	}
	if a.State() != streams.Error {
		t.Fatalf("state %v after a failed start", a.State())
	}
}

// testLogger shows the library's log when STREAMS_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("STREAMS_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
