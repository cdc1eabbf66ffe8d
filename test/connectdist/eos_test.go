package connectdist

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// readAll reads a topic from its start to the end offsets it has now (the
// last stable offsets under read_committed) and counts each value.
func readAll(t testing.TB, topic string, committed bool) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, iso := admin(t).ListEndOffsets, kgo.ReadUncommitted()
	if committed {
		list, iso = admin(t).ListCommittedOffsets, kgo.ReadCommitted()
	}
	ends, err := list(ctx, topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker(t)), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(iso),
		kgo.KeepControlRecords(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	counts := map[string]int{}
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s to %v: %v", topic, want, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				counts[string(r.Value)]++
			}
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
	}
	return counts
}

// openTransaction reports whether a topic has records of a transaction
// not yet committed: its high watermark is past its last stable offset.
func openTransaction(t testing.TB, topic string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hw, err := admin(t).ListEndOffsets(ctx, topic)
	if err != nil {
		return false
	}
	lso, err := admin(t).ListCommittedOffsets(ctx, topic)
	if err != nil {
		return false
	}
	open := false
	hw.Each(func(o kadm.ListedOffset) {
		if l, ok := lso.Lookup(topic, o.Partition); ok && o.Offset > l.Offset {
			open = true
		}
	})
	return open
}

// lastValue waits for a record with the key in a topic and returns the
// value of the last one there by then.
func lastValue(t testing.TB, topic, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker(t)), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := admin(t).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	var last string
	found := false
	for !found || last == "" {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no %s in %s", key, topic)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == key {
				last = string(r.Value)
			}
			if r.Offset+1 >= end.Offset {
				found = true
			}
		})
	}
	return last
}

// taskWorker returns the worker whose id the status of a connector's task
// 0 shows RUNNING, asking w.
func taskWorker(t testing.TB, c *cluster, w *worker, name string, not *worker) *worker {
	t.Helper()
	var found *worker
	waitFor(t, 60*time.Second, name+"-0 RUNNING on a live worker", func() (bool, string) {
		var st status
		if code, text := call(t, "GET", w.url("/connectors/"+name+"/status"), nil, &st); code != 200 {
			return false, fmt.Sprintf("HTTP %d %s", code, text)
		}
		if len(st.Tasks) != 1 || st.Tasks[0].State != "RUNNING" {
			return false, fmt.Sprintf("%+v", st)
		}
		for _, x := range c.workers {
			if x.rest == st.Tasks[0].WorkerID && x != not {
				found = x
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", st)
	})
	return found
}

// Exactly-once sources (KIP-618): a file source on two workers with
// exactly.once.source.support=enabled, committing a transaction every
// 500 ms while lines are appended. The worker running the task is killed
// with SIGKILL while a transaction is open: the task moves to the other
// worker, whose producer fences the dead one's and aborts that
// transaction, and resumes from the offsets committed with the records. A
// third worker joins; the task's worker is then frozen with SIGSTOP while
// a transaction is open, until the task runs again elsewhere, and thawed:
// the zombie cannot commit. A read_committed consumer sees every line
// exactly once; a read_uncommitted one sees lines of aborted transactions
// twice (without transactions, the lines after the last stored offsets
// would be sent again where read_committed sees them).
func TestExactlyOnceSourceFailover(t *testing.T) {
	c := newCluster(t, 2, map[string]string{
		"key.converter":               "org.apache.kafka.connect.storage.StringConverter",
		"value.converter":             "org.apache.kafka.connect.storage.StringConverter",
		"exactly.once.source.support": "enabled",
	})
	topic := c.group + "-lines"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin(t).CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w0 := c.workers[0]

	// Validation: the settings exactly-once sources cannot honour.
	var v struct {
		ErrorCount int `json:"error_count"`
		Configs    []struct {
			Value struct {
				Name   string   `json:"name"`
				Errors []string `json:"errors"`
			} `json:"value"`
		} `json:"configs"`
	}
	mustCall(t, 200, "PUT", w0.url("/connector-plugins/FileStreamSource/config/validate"), map[string]string{
		"name": "bad", "connector.class": "FileStreamSource", "topic": topic, // no file: standard input
		"exactly.once.support": "required", "transaction.boundary": "connector", "offsets.storage.topic": "mine"}, &v)
	bad := map[string]bool{}
	for _, cfg := range v.Configs {
		if len(cfg.Value.Errors) > 0 {
			bad[cfg.Value.Name] = true
		}
	}
	if v.ErrorCount != 3 || !bad["exactly.once.support"] || !bad["transaction.boundary"] || !bad["offsets.storage.topic"] {
		t.Fatalf("validate: %d errors on %v, want exactly.once.support, transaction.boundary and offsets.storage.topic", v.ErrorCount, bad)
	}

	src := uniqueName(t, "src")
	mustCall(t, 201, "POST", w0.url("/connectors"), map[string]any{"name": src, "config": map[string]string{
		"connector.class": "FileStreamSource", "file": file, "topic": topic, "batch.size": "50",
		"exactly.once.support": "required", "transaction.boundary": "interval", "transaction.boundary.interval.ms": "500"}}, nil)

	var mu sync.Mutex
	next := 0
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			mu.Lock()
			var lines []string
			for range 5 {
				lines = append(lines, fmt.Sprintf("line-%06d", next))
				next++
			}
			appendLines(t, file, lines)
			mu.Unlock()
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-writerDone
	}()

	// Freeze or kill the task's worker once a transaction of its is open
	// with records in the topic.
	strike := func(ask *worker, sig syscall.Signal) *worker {
		t.Helper()
		victim := taskWorker(t, c, ask, src, nil)
		waitFor(t, 20*time.Second, "an open transaction in "+topic, func() (bool, string) {
			return openTransaction(t, topic), ""
		})
		if err := victim.proc.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		return victim
	}

	// 1. New task configs: the leader fences the running task's producer,
	// then writes them and the task count of the new generation. The old
	// task cannot commit what it sent since its last commit.
	waitState(t, w0, src, "RUNNING")
	waitFor(t, 20*time.Second, "an open transaction in "+topic, func() (bool, string) {
		return openTransaction(t, topic), ""
	})
	mustCall(t, 200, "PUT", w0.url("/connectors/"+src+"/config"), map[string]string{
		"connector.class": "FileStreamSource", "file": file, "topic": topic, "batch.size": "40",
		"exactly.once.support": "required", "transaction.boundary": "interval", "transaction.boundary.interval.ms": "500"}, nil)
	waitFor(t, 30*time.Second, "the task with batch.size=40", func() (bool, string) {
		var tasks []struct {
			Config map[string]string `json:"config"`
		}
		call(t, "GET", w0.url("/connectors/"+src+"/tasks"), nil, &tasks)
		return len(tasks) == 1 && tasks[0].Config["batch.size"] == "40", fmt.Sprint(tasks)
	})
	if got := lastValue(t, c.group+"-configs", "tasks-fencing-"+src); got != `{"task-count":1}` {
		t.Fatalf("tasks-fencing-%s = %s, want {\"task-count\":1}", src, got)
	}

	// 2. SIGKILL mid-transaction.
	waitState(t, w0, src, "RUNNING")
	dead := strike(w0, syscall.SIGKILL)
	<-dead.proc.exited
	alive := c.workers[0]
	if alive == dead {
		alive = c.workers[1]
	}
	taskWorker(t, c, alive, src, dead)

	// 3. A zombie: the task's worker frozen while its transaction is open.
	c.add()
	frozen := strike(alive, syscall.SIGSTOP)
	t.Cleanup(func() { _ = frozen.proc.cmd.Process.Signal(syscall.SIGCONT) })
	var other *worker
	for _, x := range c.workers {
		if x != dead && x != frozen {
			other = x
		}
	}
	taskWorker(t, c, other, src, frozen)
	if err := frozen.proc.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}

	// Let the task run on a while, then stop writing and stop the workers:
	// their last transactions end.
	time.Sleep(time.Second) // more lines after the zombie woke up
	close(stop)
	<-writerDone
	mu.Lock()
	total := next
	mu.Unlock()
	waitFor(t, 30*time.Second, fmt.Sprintf("all %d lines committed", total), func() (bool, string) {
		got := readAll(t, topic, true)
		return len(got) == total, fmt.Sprintf("%d of %d", len(got), total)
	})
	for _, w := range c.workers {
		w.proc.stop(t)
	}

	committed := readAll(t, topic, true)
	var missing, twice []string
	for i := range total {
		l := fmt.Sprintf("line-%06d", i)
		switch committed[l] {
		case 0:
			missing = append(missing, l)
		case 1:
		default:
			twice = append(twice, l)
		}
	}
	if len(committed) != total || len(missing) > 0 || len(twice) > 0 {
		t.Fatalf("read_committed: %d distinct values for %d lines; missing %d (%.5q), more than once %d (%.5q)",
			len(committed), total, len(missing), missing, len(twice), twice)
	}
	uncommitted := readAll(t, topic, false)
	again := 0
	for _, n := range uncommitted {
		if n > 1 {
			again++
		}
	}
	if again == 0 {
		t.Fatalf("read_uncommitted shows no line twice: no transaction was aborted, so the failover was not transactional")
	}
	t.Logf("%d lines, each once under read_committed; %d lines of aborted transactions sent again", total, again)
	// The zombie had a transaction open: once thawed, it tried to end it
	// and was refused.
	if l := frozen.proc.log(); !strings.Contains(l, "PRODUCER_FENCED") && !strings.Contains(l, "INVALID_PRODUCER_EPOCH") {
		t.Fatalf("the frozen worker's transaction was not refused as fenced:\n%s", l)
	}
}
