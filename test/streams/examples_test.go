package streams

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/streams/serde"
)

// The example tests build each program under examples/, run it against a
// test broker with its flags, feed it input with chosen timestamps, and
// check its output records against counts worked out by hand.

// buildExample compiles examples/<name> into a temporary directory.
func buildExample(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, "./examples/"+name)
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build examples/%s: %v\n%s", name, err, out)
	}
	return bin
}

// runExample starts a built example; at the end of the test it is stopped
// with SIGTERM and must exit cleanly (status 0) within 30 s. Its output is
// shown if the test failed.
func runExample(t *testing.T, bin string, args ...string) {
	t.Helper()
	var out bytes.Buffer
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("%s exited with %v", filepath.Base(bin), err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop within 30s of SIGTERM", filepath.Base(bin))
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			mu.Lock()
			defer mu.Unlock()
			t.Logf("%s output:\n%s", filepath.Base(bin), out.String())
		}
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// produceAt writes records to topic one at a time, so that their order is
// the one given, within and across partitions (keyed records go where
// Kafka's partitioner puts them).
func produceAt(t *testing.T, addr, topic string, recs ...*kgo.Record) {
	t.Helper()
	for _, r := range recs {
		r.Topic = topic
	}
	cl := newClient(t, addr, kgo.MaxBufferedRecords(1)) // one at a time: order across keys as given
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

func rec(key, value string, ts int64) *kgo.Record {
	r := &kgo.Record{Value: []byte(value), Timestamp: time.UnixMilli(ts)}
	if key != "" {
		r.Key = []byte(key)
	}
	return r
}

// outputRecords follows a topic from the start; snapshot gives every
// record read so far.
type outputRecords struct {
	mu   sync.Mutex
	recs []*kgo.Record
}

func followTopic(t *testing.T, addr, topic string) *outputRecords {
	t.Helper()
	o := &outputRecords{}
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				o.mu.Lock()
				o.recs = append(o.recs, r)
				o.mu.Unlock()
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return o
}

func (o *outputRecords) snapshot() []*kgo.Record {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*kgo.Record(nil), o.recs...)
}

// latestBy keeps the last value per key of the records, as format gives
// them.
func latestBy(recs []*kgo.Record, format func(*kgo.Record) (string, string)) map[string]string {
	m := make(map[string]string)
	for _, r := range recs {
		k, v := format(r)
		m[k] = v
	}
	return m
}

func diffStrings(got, want map[string]string) string {
	var out []string
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			out = append(out, fmt.Sprintf("%s: %q (present %v), want %q", k, g, ok, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("unexpected %s: %q", k, g))
		}
	}
	return strings.Join(out, "; ")
}

// TestExampleWordCount: examples/wordcount counts the words of the lines.
func TestExampleWordCount(t *testing.T) {
	addr := startBroker(t)
	createTopic(t, addr, "ex-lines", partitions)
	createTopic(t, addr, "ex-word-counts", partitions)
	out := followTopic(t, addr, "ex-word-counts")
	runExample(t, buildExample(t, "wordcount"), "--brokers", addr, "--app-id", "ex-wordcount",
		"--state-dir", t.TempDir(), "--input", "ex-lines", "--output", "ex-word-counts", "--commit-interval", "200ms")
	produceAt(t, addr, "ex-lines", rec("1", "the quick fox", 0), rec("2", "The lazy dog", 0), rec("3", "the end", 0))
	want := map[string]string{"the": "3", "quick": "1", "fox": "1", "lazy": "1", "dog": "1", "end": "1"}
	count := func(r *kgo.Record) (string, string) {
		n, err := serde.Int64.Deserialize("", r.Value)
		if err != nil {
			t.Fatalf("count record %q: %v", r.Key, err)
		}
		return string(r.Key), fmt.Sprint(n)
	}
	waitFor(t, 60*time.Second, "the word counts", func() (bool, string) {
		d := diffStrings(latestBy(out.snapshot(), count), want)
		return d == "", d
	})
}
