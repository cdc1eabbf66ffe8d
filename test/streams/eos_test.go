package streams

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/streams"
	"github.com/sluicehq/sluice/streams/serde"
)

// Exactly-once tests. The children are the crash test's (runChild), run
// under exactly_once_v2 when these variables are set.
const (
	childEOS      = "STREAMS_CHILD_EOS"
	childInstance = "STREAMS_CHILD_INSTANCE_ID"
)

// eosChild turns a child's configuration to exactly_once_v2 when the test
// asks for it: no record cache, so that every count update goes out at
// once (a transaction cut short by a kill then holds output records for
// read_committed to hide), a log on stderr for the test to read, and
// optionally a static group instance id, so that a restarted child takes
// its predecessor's place without waiting out its session.
func eosChild(cfg *streams.Config) {
	if os.Getenv(childEOS) == "" {
		return
	}
	cfg.ProcessingGuarantee = streams.ExactlyOnceV2
	cfg.CacheMaxBytes = -1
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if id := os.Getenv(childInstance); id != "" {
		cfg.ClientOptions = append(cfg.ClientOptions, kgo.InstanceID(id))
	}
}

func eosConfig(addr, appID, dir, instanceID string) streams.Config {
	cfg := appConfig(addr, appID, dir)
	cfg.ProcessingGuarantee = streams.ExactlyOnceV2
	cfg.CommitInterval = 0 // the EOS default, 100ms
	cfg.CacheMaxBytes = -1
	if instanceID != "" {
		cfg.ClientOptions = append(cfg.ClientOptions, kgo.InstanceID(instanceID))
	}
	return cfg
}

// startEOSApp runs an exactly-once word count in this process.
func startEOSApp(t *testing.T, cfg streams.Config) *app {
	t.Helper()
	topo, err := wordCountTopology(t, false).Build()
	if err != nil {
		t.Fatal(err)
	}
	a, err := streams.NewApp(topo, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &app{App: a, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- a.Run(ctx) }()
	t.Cleanup(func() { h.stop(t) })
	return h
}

// child is a word count running in a child process.
type child struct {
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan struct{}
	err    error
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startEOSChild(t *testing.T, addr, appID, dir, instanceID string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childBroker+"="+addr, childApp+"="+appID, childDir+"="+dir, childEOS+"=1",
		childInstance+"="+instanceID)
	c := &child{cmd: cmd, log: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = c.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() { c.kill() })
	return c
}

func (c *child) kill() {
	select {
	case <-c.exited:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGCONT) // a stopped process dies only once continued
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.exited
}

func (c *child) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// lineWriter writes the known text, in small batches, until stopped; the
// lines acknowledged are the input whose counts the output must show.
type lineWriter struct {
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	written int
	err     error
}

func writeLines(t *testing.T, addr string, lines []string, batch int, every time.Duration) *lineWriter {
	t.Helper()
	cl := newClient(t, addr)
	w := &lineWriter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for next := 0; next < len(lines); next += batch {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			end := min(next+batch, len(lines))
			recs := make([]*kgo.Record, 0, end-next)
			for i := next; i < end; i++ {
				recs = append(recs, &kgo.Record{Topic: inputTopic, Key: []byte(strconv.Itoa(i)), Value: []byte(lines[i])})
			}
			err := cl.ProduceSync(context.Background(), recs...).FirstErr()
			w.mu.Lock()
			if err != nil {
				w.err = err
				w.mu.Unlock()
				return
			}
			w.written = end
			w.mu.Unlock()
		}
	}()
	t.Cleanup(w.finish)
	return w
}

// finish stops the writer and returns how many lines were written.
func (w *lineWriter) finish() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *lineWriter) count() (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written, w.err
}

// readTopic reads every record of topic up to its end: the last stable
// offset for read_committed, the high watermark otherwise. Transaction
// markers are fetched (and dropped) so that the end is recognised.
func readTopic(t *testing.T, addr, topic string, committed bool) []*kgo.Record {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	list := adm.ListEndOffsets
	opts := []kgo.Opt{kgo.KeepControlRecords(), kgo.FetchMaxWait(100 * time.Millisecond)}
	if committed {
		list = adm.ListCommittedOffsets
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	ends, err := list(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	start := map[string]map[int32]kgo.Offset{topic: {}}
	remaining := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			start[topic][o.Partition] = kgo.NewOffset().AtStart()
			remaining[o.Partition] = o.Offset - 1
		}
	})
	var out []*kgo.Record
	if len(remaining) == 0 {
		return out
	}
	cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(addr), kgo.ConsumePartitions(start))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v (left: %v)", topic, ctx.Err(), remaining)
		}
		fs.EachRecord(func(r *kgo.Record) {
			last, ok := remaining[r.Partition]
			if !ok || r.Offset > last {
				return
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			if r.Offset == last {
				delete(remaining, r.Partition)
			}
		})
	}
	return out
}

// checkCounts reads the output with read_committed and checks that, for
// every word, the counts it shows are 1, 2, 3, ... in order (each update
// once: nothing aborted visible, nothing counted twice, nothing skipped)
// and end at the true count. It returns the problems found and how many
// records read_committed shows.
func checkCounts(t *testing.T, addr string, want map[string]int64) ([]string, int) {
	t.Helper()
	recs := readTopic(t, addr, outputTopic, true)
	last := make(map[string]int64)
	var problems []string
	for _, r := range recs {
		n, err := serde.Int64.Deserialize(r.Topic, r.Value)
		if err != nil {
			t.Fatalf("output record %s@%d: %v", r.Key, r.Offset, err)
		}
		w := string(r.Key)
		if n != last[w]+1 && len(problems) < 10 {
			problems = append(problems, fmt.Sprintf("%s: %d after %d at %d-%d@%d", w, n, last[w], r.Partition, r.Partition, r.Offset))
		}
		last[w] = n
	}
	if !maps.Equal(last, want) {
		problems = append(problems, "final counts: "+diff(last, want))
	}
	return problems, len(recs)
}

// latestCounts is the last count of each word under read_committed.
func latestCounts(t *testing.T, addr string) map[string]int64 {
	t.Helper()
	last := make(map[string]int64)
	for _, r := range readTopic(t, addr, outputTopic, true) {
		n, err := serde.Int64.Deserialize(r.Topic, r.Value)
		if err != nil {
			t.Fatalf("output record %s@%d: %v", r.Key, r.Offset, err)
		}
		last[string(r.Key)] = n
	}
	return last
}

func committedInput(adm *kadm.Client, appID string) int64 {
	resp, err := adm.FetchOffsets(context.Background(), appID)
	if err != nil {
		return -1
	}
	var n int64
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == inputTopic && o.Err == nil {
			n += o.At
		}
	})
	return n
}

var restoredRecords = regexp.MustCompile(`msg="restored state stores" .*records=(\d+)`)

// TestExactlyOnceSurvivesKills: a word count under exactly_once_v2 is
// killed with SIGKILL at random moments while input flows, and restarted
// each time on the same state directory (the same transactional.id, whose
// first InitProducerID aborts the dead instance's open transaction). Once
// the input stops and a last instance drains it, read_committed shows
// every word's counts as 1, 2, ..., n with n its true count: no update
// aborted or counted twice is visible and none is missing. The kills did
// cut transactions short (read_uncommitted shows more records) and the
// restarted instances restored their stores from the changelogs.
func TestExactlyOnceSurvivesKills(t *testing.T) {
	kills, lineCount := 20, 6000
	if os.Getenv("SLUICE_LONG") != "" {
		kills, lineCount = 100, 40000
	}
	addr := startBroker(t)
	createTopic(t, addr, inputTopic, partitions)
	createTopic(t, addr, outputTopic, partitions)
	const appID, instance = "wc-eos", "wc-eos-1"
	dir := t.TempDir()
	adm := kadm.NewClient(newClient(t, addr))
	lines := makeLines(7, lineCount)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))

	// Spread the input over the kills: about 1.5 s a kill.
	batch := max(lineCount/(kills*15), 1)
	w := writeLines(t, addr, lines, batch, 100*time.Millisecond)
	var logs []string
	restores, aborts := 0, 0
	for i := range kills {
		c := startEOSChild(t, addr, appID, dir, instance)
		before := committedInput(adm, appID)
		waitFor(t, 30*time.Second, fmt.Sprintf("child %d to commit progress", i), func() (bool, string) {
			if !c.running() {
				t.Fatalf("child %d exited: %v\n%s", i, c.err, c.log.String())
			}
			n := committedInput(adm, appID)
			return n > before, fmt.Sprintf("%d lines committed, %d before", n, before)
		})
		// A random moment while it works.
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		c.kill()
		log := c.log.String()
		logs = append(logs, log)
		aborts += strings.Count(log, "exactly-once: transaction aborted")
		for _, m := range restoredRecords.FindAllStringSubmatch(log, -1) {
			if n, _ := strconv.Atoi(m[1]); n > 0 && i > 0 {
				restores++
			}
		}
	}
	w.finish()
	written, err := w.count()
	if err != nil {
		t.Fatalf("writing input: %v", err)
	}
	t.Logf("%d kills; %d lines written; %d restores from changelogs after kills; %d transactions aborted by the instances themselves", kills, written, restores, aborts)
	if restores == 0 {
		t.Errorf("no restarted instance restored a store from its changelog:\n%s", logs[len(logs)-1])
	}

	// A last instance, in this process, drains the input.
	want := countWords(lines[:written])
	a := startEOSApp(t, eosConfig(addr, appID, dir, instance))
	waitFor(t, 60*time.Second, "the last instance to commit all the input", func() (bool, string) {
		n := committedInput(adm, appID)
		return n == int64(written), fmt.Sprintf("%d of %d lines", n, written)
	})
	waitFor(t, 60*time.Second, "the true counts in the output (read_committed)", func() (bool, string) {
		got := latestCounts(t, addr)
		return maps.Equal(got, want), diff(got, want)
	})
	a.stop(t)
	problems, visible := checkCounts(t, addr, want)
	if len(problems) > 0 {
		t.Fatalf("output under read_committed:\n%s", strings.Join(problems, "\n"))
	}
	all := len(readTopic(t, addr, outputTopic, false))
	t.Logf("output: %d records visible to read_committed, %d written in all (%d in aborted transactions)", visible, all, all-visible)
	if all <= visible {
		t.Errorf("no output record was aborted in %d kills mid-stream: the kills did not cut a transaction short", kills)
	}
}

// zombieRun starts a word count in a child process (the future zombie),
// lets it commit progress while input flows, stops it with SIGSTOP
// mid-transaction, and starts a second instance in this process with the
// configuration next gives it (from the zombie's state directory), which
// must take over every task and make progress. It then continues the
// zombie and returns it, the new instance, the writer and where the
// zombie's log stood when it was stopped.
func zombieRun(t *testing.T, appID string, next func(addr, zombieDir string) streams.Config) (addr string, z *child, b *app, w *lineWriter, lines []string, mark int) {
	addr = startBroker(t)
	createTopic(t, addr, inputTopic, partitions)
	createTopic(t, addr, outputTopic, partitions)
	adm := kadm.NewClient(newClient(t, addr))
	lines = makeLines(11, 4000)
	w = writeLines(t, addr, lines, 20, 100*time.Millisecond)
	dir := t.TempDir()
	z = startEOSChild(t, addr, appID, dir, "")
	waitFor(t, 30*time.Second, "the first instance to commit progress", func() (bool, string) {
		if !z.running() {
			t.Fatalf("child exited: %v\n%s", z.err, z.log.String())
		}
		n := committedInput(adm, appID)
		return n > 0, fmt.Sprintf("%d lines committed", n)
	})
	if err := z.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	mark = len(z.log.String())
	b = startEOSApp(t, next(addr, dir))
	waitFor(t, 60*time.Second, "the new instance to take every task", func() (bool, string) {
		return len(b.Tasks()) == 2*partitions, fmt.Sprint(b.Tasks())
	})
	before := committedInput(adm, appID)
	waitFor(t, 30*time.Second, "the new instance to commit progress", func() (bool, string) {
		n := committedInput(adm, appID)
		return n > before, fmt.Sprintf("%d lines committed, %d at the takeover", n, before)
	})
	if err := z.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	return addr, z, b, w, lines, mark
}

// finishZombieRun stops the input, waits for the true counts, stops both
// instances and checks the whole read_committed output: every word's
// counts 1, 2, ..., n. A zombie transaction that committed would show
// counts repeated (it counted words the new instance counts again).
func finishZombieRun(t *testing.T, addr string, z *child, b *app, w *lineWriter, lines []string) {
	t.Helper()
	w.finish()
	written, err := w.count()
	if err != nil {
		t.Fatalf("writing input: %v", err)
	}
	want := countWords(lines[:written])
	waitFor(t, 60*time.Second, "the true counts in the output (read_committed)", func() (bool, string) {
		got := latestCounts(t, addr)
		return maps.Equal(got, want), diff(got, want)
	})
	b.stop(t)
	z.kill()
	problems, visible := checkCounts(t, addr, want)
	if len(problems) > 0 {
		t.Fatalf("output under read_committed:\n%s", strings.Join(problems, "\n"))
	}
	all := len(readTopic(t, addr, outputTopic, false))
	t.Logf("%d lines; output: %d records visible to read_committed, %d in aborted transactions", written, visible, all-visible)
}

// TestExactlyOnceZombieFencedByGeneration: an instance paused past its
// session (SIGSTOP) is a zombie: the group gives its tasks to another
// instance. Continued, it still holds an open transaction with the
// updates it made before the pause; its commit carries its old member id
// and generation (KIP-447), the coordinator refuses the offsets, and the
// transaction is aborted: nothing it wrote becomes visible.
func TestExactlyOnceZombieFencedByGeneration(t *testing.T) {
	const appID = "wc-zombie-gen"
	addr, z, b, w, lines, mark := zombieRun(t, appID, func(addr, _ string) streams.Config {
		return eosConfig(addr, appID, t.TempDir(), "")
	})
	var how string
	waitFor(t, 30*time.Second, "the zombie's transaction to be aborted", func() (bool, string) {
		log := z.log.String()[mark:]
		switch {
		case strings.Contains(log, "exactly-once: transaction aborted"):
			how = "aborted (its offsets refused or its partitions lost)"
		case strings.Contains(log, "producer fenced"):
			// Paused past transaction.timeout.ms: the coordinator
			// aborted it and bumped the epoch first.
			how = "fenced after its transaction timed out"
		}
		return how != "", lastLines(log, 30)
	})
	t.Logf("the zombie's transaction: %s", how)
	finishZombieRun(t, addr, z, b, w, lines)
}

// TestExactlyOnceZombieFencedByTransactionalID: a second instance starts
// with the paused instance's identity (its process id, so the same
// transactional.id, as when a replacement reuses a volume). Its
// InitProducerID fences the paused one and aborts its open transaction;
// continued, the old instance's writes and commit are refused and it
// stops with an error, without re-initialising the id (which would fence
// the new owner in turn).
func TestExactlyOnceZombieFencedByTransactionalID(t *testing.T) {
	const appID = "wc-zombie-id"
	addr, z, b, w, lines, _ := zombieRun(t, appID, func(addr, zdir string) streams.Config {
		dir := t.TempDir()
		pid, err := os.ReadFile(filepath.Join(zdir, appID, "process-id"))
		if err != nil {
			t.Fatalf("the first instance's process id: %v", err)
		}
		if err := os.MkdirAll(filepath.Join(dir, appID), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, appID, "process-id"), pid, 0o644); err != nil {
			t.Fatal(err)
		}
		return eosConfig(addr, appID, dir, "")
	})
	select {
	case <-z.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("the fenced instance still runs 30s after it was continued:\n%s", lastLines(z.log.String(), 20))
	}
	if z.err == nil || !strings.Contains(z.log.String(), "producer fenced") {
		t.Fatalf("the fenced instance exited with %v; want an error naming the fencing:\n%s", z.err, lastLines(z.log.String(), 20))
	}
	finishZombieRun(t, addr, z, b, w, lines)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// TestExactlyOnceRebalanceCommits: a second instance joins and later
// leaves while input flows. A rebalance is let in only between transactions (the loop
// commits as soon as franz-go reports one waiting), so no transaction is
// aborted and no store wiped: the tasks are suspended clean and resume
// where they were, and the output is exact.
func TestExactlyOnceRebalanceCommits(t *testing.T) {
	addr := startBroker(t)
	createTopic(t, addr, inputTopic, partitions)
	createTopic(t, addr, outputTopic, partitions)
	const appID = "wc-eos-rebalance"
	lines := makeLines(5, 8000)
	w := writeLines(t, addr, lines, 40, 50*time.Millisecond)
	var logs []*syncBuffer
	start := func(dir string) *app {
		l := &syncBuffer{}
		logs = append(logs, l)
		cfg := eosConfig(addr, appID, dir, "")
		cfg.Logger = slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
		return startEOSApp(t, cfg)
	}
	adm := kadm.NewClient(newClient(t, addr))
	progress := func(what string) {
		before := committedInput(adm, appID)
		waitFor(t, 30*time.Second, what, func() (bool, string) {
			n := committedInput(adm, appID)
			return n > before+100, fmt.Sprintf("%d lines committed, %d before", n, before)
		})
	}
	aDir := t.TempDir()
	a := start(aDir)
	waitFor(t, 30*time.Second, "instance a to run every task", func() (bool, string) {
		return len(a.Tasks()) == 2*partitions, fmt.Sprint(a.Tasks())
	})
	progress("a to make progress")
	for range 3 {
		b := start(t.TempDir())
		waitFor(t, 30*time.Second, "a and b to split the tasks", func() (bool, string) {
			return len(a.Tasks()) == partitions && len(b.Tasks()) == partitions, fmt.Sprintf("a %v, b %v", a.Tasks(), b.Tasks())
		})
		progress("a and b to make progress")
		b.stop(t)
		waitFor(t, 30*time.Second, "a to take b's tasks back", func() (bool, string) {
			return len(a.Tasks()) == 2*partitions, fmt.Sprint(a.Tasks())
		})
		progress("a to make progress alone")
	}
	w.finish()
	written, err := w.count()
	if err != nil {
		t.Fatalf("writing input: %v", err)
	}
	want := countWords(lines[:written])
	waitFor(t, 60*time.Second, "the true counts in the output (read_committed)", func() (bool, string) {
		got := latestCounts(t, addr)
		return maps.Equal(got, want), diff(got, want)
	})
	a.stop(t)
	problems, visible := checkCounts(t, addr, want)
	if len(problems) > 0 {
		t.Fatalf("output under read_committed:\n%s", strings.Join(problems, "\n"))
	}
	all := len(readTopic(t, addr, outputTopic, false))

	// A clean stop commits and checkpoints: a restart on the same state
	// directory trusts the checkpoints and restores nothing.
	a = start(aDir)
	waitFor(t, 30*time.Second, "the restarted instance to run every task", func() (bool, string) {
		return len(a.Tasks()) == 2*partitions, fmt.Sprint(a.Tasks())
	})
	got, err := queryAll(a)
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("store after a clean restart: %v %s", err, diff(got, want))
	}
	restart := logs[len(logs)-1].String()
	if !restoredRecords.MatchString(restart) {
		t.Fatalf("the restarted instance logged no restoration:\n%s", lastLines(restart, 20))
	}
	for _, m := range restoredRecords.FindAllStringSubmatch(restart, -1) {
		if m[1] != "0" {
			t.Errorf("the restart after a clean stop restored %s records; its checkpoints should cover the changelogs", m[1])
		}
	}
	a.stop(t)
	for i, l := range logs {
		if n := strings.Count(l.String(), "exactly-once: transaction aborted"); n > 0 {
			t.Errorf("instance %d aborted %d transactions in clean rebalances:\n%s", i, n, lastLines(l.String(), 20))
		}
	}
	if all != visible {
		t.Errorf("%d output records in aborted transactions; clean rebalances should abort none", all-visible)
	}
	t.Logf("%d lines; %d output records, all committed", written, visible)
}
