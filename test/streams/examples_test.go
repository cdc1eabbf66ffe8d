package streams

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
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

// waitCaughtUp waits until the application group has committed every
// record of the given topics and of its own repartition topics, checked
// in that order (a repartition topic's end is read after the topics that
// feed it were seen committed, so its end includes what they produced).
// After that, everything the application wrote for that input is in its
// output topics: commits follow the flush of the producer.
func waitCaughtUp(t *testing.T, addr, group string, topics ...string) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	ctx := context.Background()
	waitFor(t, 90*time.Second, group+" caught up with its input", func() (bool, string) {
		listed, err := adm.ListTopics(ctx)
		if err != nil {
			return false, err.Error()
		}
		all := slices.Clone(topics)
		for _, name := range listed.Names() {
			if strings.HasPrefix(name, group+"-") && strings.HasSuffix(name, "-repartition") {
				all = append(all, name)
			}
		}
		for _, topic := range all {
			ends, err := adm.ListEndOffsets(ctx, topic)
			if err != nil {
				return false, err.Error()
			}
			committed, err := adm.FetchOffsets(ctx, group)
			if err != nil {
				return false, err.Error()
			}
			behind := ""
			ends.Each(func(o kadm.ListedOffset) {
				c, ok := committed.Lookup(o.Topic, o.Partition)
				if o.Offset > 0 && (!ok || c.At < o.Offset) {
					behind = fmt.Sprintf("%s-%d committed %d of %d", o.Topic, o.Partition, c.At, o.Offset)
				}
			})
			if behind != "" {
				return false, behind
			}
		}
		return true, ""
	})
}

// readToEnd reads every record of a topic up to its end offsets now.
func readToEnd(t *testing.T, addr, topic string) []*kgo.Record {
	t.Helper()
	ctx := context.Background()
	ends, err := kadm.NewClient(newClient(t, addr)).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	left := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	var recs []*kgo.Record
	deadline := time.Now().Add(30 * time.Second)
	for len(left) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("read %s: partitions %v not read to their ends within 30s", topic, left)
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := left[r.Partition]; ok {
				recs = append(recs, r)
				if r.Offset+1 >= end {
					delete(left, r.Partition)
				}
			}
		})
	}
	return recs
}

// TestExamplePageViews: examples/pageviews counts views per user in
// one-minute tumbling windows (no grace) and writes one final count per
// window once it closes; a view later than its window's close is dropped.
// Two instances run it; the HTTP endpoint of either answers for any user,
// reading its own window store or asking the instance the group's
// metadata names.
func TestExamplePageViews(t *testing.T) {
	addr := startBroker(t)
	createTopic(t, addr, "ex-pageviews", partitions)
	createTopic(t, addr, "ex-pageviews-out", partitions)
	// Two instances share the work; each answers queries for any user,
	// from its own store or from the other's.
	bin := buildExample(t, "pageviews")
	hosts := []string{freeAddr(t), freeAddr(t)}
	for _, h := range hosts {
		runExample(t, bin, "--brokers", addr, "--app-id", "ex-pageviews",
			"--state-dir", t.TempDir(), "--input", "ex-pageviews", "--output", "ex-pageviews-out",
			"--window", "1m", "--grace", "0s", "--retention", "1h", "--commit-interval", "200ms", "--http", h)
	}
	get := func(host, user string) (int, string, error) {
		resp, err := http.Get("http://" + host + "/views?user=" + user)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(body)), err
	}
	// Both answer once both have an assignment: the group is formed.
	waitFor(t, 60*time.Second, "both instances answering", func() (bool, string) {
		for _, h := range hosts {
			for _, u := range []string{"alice", "bob"} {
				code, body, err := get(h, u)
				if err != nil || code != http.StatusOK {
					return false, fmt.Sprintf("%s: %d %s %v", h, code, body, err)
				}
			}
		}
		return true, ""
	})
	produceAt(t, addr, "ex-pageviews",
		rec("alice", "/a", 0), rec("bob", "/b", 10_000), rec("alice", "/c", 30_000), rec("alice", "/d", 59_999),
		rec("alice", "/a", 60_000), rec("bob", "/b", 61_000), rec("bob", "/c", 90_000),
		// Stream time moves to 200 s for both users' tasks: the first two
		// windows close, and the third stays open.
		rec("alice", "/e", 200_000), rec("bob", "/e", 200_000),
		// Too late for [0, 60 s), closed since stream time passed 60 s.
		rec("alice", "/late", 50_000))
	waitCaughtUp(t, addr, "ex-pageviews", "ex-pageviews")

	keys := streams.TimeWindowedSerde(serde.String, 60_000)
	got := make(map[string]string)
	for _, r := range readToEnd(t, addr, "ex-pageviews-out") {
		k, err := keys.Deserialize("", r.Key)
		if err != nil {
			t.Fatal(err)
		}
		n, err := serde.Int64.Deserialize("", r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := got[k.String()]; ok {
			t.Fatalf("two results for %s: %s and %d (a suppressed window emits once)", k, prev, n)
		}
		got[k.String()] = fmt.Sprint(n)
	}
	want := map[string]string{"[alice@0/60000]": "3", "[bob@0/60000]": "1", "[alice@60000/120000]": "1", "[bob@60000/120000]": "2"}
	if d := diffStrings(got, want); d != "" {
		t.Fatalf("final window counts: %s", d)
	}

	// The window stores hold the open windows too; both instances give the
	// same answer for each user.
	wantHTTP := map[string]string{
		"alice": `[{"start":0,"end":60000,"count":3},{"start":60000,"end":120000,"count":1},{"start":180000,"end":240000,"count":1}]`,
		"bob":   `[{"start":0,"end":60000,"count":1},{"start":60000,"end":120000,"count":2},{"start":180000,"end":240000,"count":1}]`,
	}
	for _, h := range hosts {
		for user, want := range wantHTTP {
			waitFor(t, 30*time.Second, user+"'s windows from "+h, func() (bool, string) {
				code, body, err := get(h, user)
				return err == nil && code == http.StatusOK && body == want, fmt.Sprintf("%d %s %v", code, body, err)
			})
		}
	}
}

// TestExampleEnrich: examples/enrich joins orders with the customers
// table as it stands when each order is processed; an order of an unknown
// customer goes out with empty fields.
func TestExampleEnrich(t *testing.T) {
	addr := startBroker(t)
	for _, topic := range []string{"ex-customers", "ex-orders", "ex-enriched"} {
		createTopic(t, addr, topic, partitions)
	}
	runExample(t, buildExample(t, "enrich"), "--brokers", addr, "--app-id", "ex-enrich",
		"--state-dir", t.TempDir(), "--orders", "ex-orders", "--customers", "ex-customers",
		"--output", "ex-enriched", "--commit-interval", "200ms")
	produceAt(t, addr, "ex-customers",
		rec("c1", `{"name":"Ann","tier":"gold"}`, 1000), rec("c2", `{"name":"Bob","tier":"silver"}`, 1000))
	waitCaughtUp(t, addr, "ex-enrich", "ex-customers")
	produceAt(t, addr, "ex-orders",
		rec("o1", `{"customer":"c1","amount":10}`, 2000), rec("o2", `{"customer":"c2","amount":20}`, 2000),
		rec("o3", `{"customer":"c3","amount":5}`, 2000))
	waitCaughtUp(t, addr, "ex-enrich", "ex-orders")
	// Ann moves up a tier: later orders see it, earlier ones keep theirs.
	produceAt(t, addr, "ex-customers", rec("c1", `{"name":"Ann","tier":"platinum"}`, 3000))
	waitCaughtUp(t, addr, "ex-enrich", "ex-customers")
	produceAt(t, addr, "ex-orders", rec("o4", `{"customer":"c1","amount":7}`, 4000))
	waitCaughtUp(t, addr, "ex-enrich", "ex-orders")

	recs := readToEnd(t, addr, "ex-enriched")
	got := latestBy(recs, func(r *kgo.Record) (string, string) { return string(r.Key), string(r.Value) })
	want := map[string]string{
		"o1": `{"order":"o1","customer":"c1","name":"Ann","tier":"gold","amount":10}`,
		"o2": `{"order":"o2","customer":"c2","name":"Bob","tier":"silver","amount":20}`,
		"o3": `{"order":"o3","customer":"c3","name":"","tier":"","amount":5}`,
		"o4": `{"order":"o4","customer":"c1","name":"Ann","tier":"platinum","amount":7}`,
	}
	if d := diffStrings(got, want); d != "" || len(recs) != len(want) {
		t.Fatalf("%d enriched orders, want %d: %s", len(recs), len(want), d)
	}
}

// TestExampleFraud: examples/fraud flags the sessions (10 s inactivity
// gap) with more than 3 events. The output is a changelog: a session
// merged into a longer one is withdrawn, so the flagged sessions are what
// is left once tombstones delete their keys.
func TestExampleFraud(t *testing.T) {
	addr := startBroker(t)
	createTopic(t, addr, "ex-card-events", partitions)
	createTopic(t, addr, "ex-fraud-alerts", partitions)
	runExample(t, buildExample(t, "fraud"), "--brokers", addr, "--app-id", "ex-fraud",
		"--state-dir", t.TempDir(), "--input", "ex-card-events", "--output", "ex-fraud-alerts",
		"--gap", "10s", "--max-events", "3", "--commit-interval", "200ms")
	events := map[string][]int64{
		"alice": {0, 2000, 4000, 6000},                // one session of 4: flagged
		"bob":   {0, 20_000, 40_000, 60_000},          // four sessions of 1
		"carol": {0, 5000, 30_000, 35_000, 38_000},    // sessions of 2 and 3
		"dave":  {0, 8000, 16_000, 24_000, 32_000},    // one session of 5, grown one event at a time
		"erin":  {100_000, 101_000, 102_000, 103_000}, // a session of 4, after the others
	}
	// In time order, so that no event is late for its task's stream time.
	var recs []*kgo.Record
	for user, ts := range events {
		for _, x := range ts {
			recs = append(recs, rec(user, "payment", x))
		}
	}
	slices.SortStableFunc(recs, func(a, b *kgo.Record) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(string(a.Key), string(b.Key))
	})
	produceAt(t, addr, "ex-card-events", recs...)
	waitCaughtUp(t, addr, "ex-fraud", "ex-card-events")

	keys := streams.SessionWindowedSerde(serde.String)
	got := make(map[string]string)
	for _, r := range readToEnd(t, addr, "ex-fraud-alerts") {
		k, err := keys.Deserialize("", r.Key)
		if err != nil {
			t.Fatal(err)
		}
		if r.Value == nil {
			delete(got, k.String())
			continue
		}
		n, err := serde.Int64.Deserialize("", r.Value)
		if err != nil {
			t.Fatal(err)
		}
		got[k.String()] = fmt.Sprint(n)
	}
	want := map[string]string{"[alice@0/6000]": "4", "[dave@0/32000]": "5", "[erin@100000/103000]": "4"}
	if d := diffStrings(got, want); d != "" {
		t.Fatalf("flagged sessions: %s", d)
	}
}
