package streams

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/streams"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/state"
)

// TestWindowedCountAndSuppressRestoreFromChangelogs: a windowed count
// suppressed until its windows close runs against a broker, stops, and
// starts again on an empty state directory, so that both the window store
// and the suppression buffer come back only from their changelogs. The
// final results must count the records from before and after the restart.
func TestWindowedCountAndSuppressRestoreFromChangelogs(t *testing.T) {
	const (
		in     = "clicks"
		out    = "final-clicks"
		appID  = "windowed-app"
		second = int64(1000)
	)
	addr := startBroker(t)
	createTopic(t, addr, in, 1)
	createTopic(t, addr, out, 1)
	build := func() *streams.Builder {
		b := streams.NewBuilder()
		clicks := streams.Stream[string, string](b, []string{in})
		counts := streams.WindowedBy(clicks.GroupByKey(), streams.OfSizeWithNoGrace(10*time.Second)).
			Count(streams.WithStore("clicks-per-10s"), streams.WithRetention(time.Hour)) // kept past the window's close, for the queries below
		streams.SuppressUntilWindowCloses(counts, streams.UnboundedBuffer(), streams.Named("final")).
			ToStream().To(out, streams.WithValueSerde(serde.Int64))
		return b
	}
	start := func(dir string) *app {
		topo, err := build().Build()
		if err != nil {
			t.Fatal(err)
		}
		a, err := streams.NewApp(topo, appConfig(addr, appID, dir))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		h := &app{App: a, cancel: cancel, done: make(chan error, 1)}
		go func() { h.done <- a.Run(ctx) }()
		t.Cleanup(func() { h.stop(t) })
		return h
	}
	cl := newClient(t, addr)
	produce := func(k string, ts int64) {
		t.Helper()
		r := &kgo.Record{Topic: in, Key: []byte(k), Value: []byte("click"), Timestamp: time.UnixMilli(ts)}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	windowLog := appID + "-clicks-per-10s-changelog"
	bufferLog := appID + "-final-store-changelog"

	a := start(t.TempDir())
	produce("a", 1*second)
	produce("a", 2*second)
	produce("b", 3*second)
	changelog := follow(t, addr, windowLog, bufferLog)
	// Wait until the counts and the buffered updates are in the
	// changelogs (written at commits).
	aKey := string(state.WindowKey([]byte("a"), 0, 0))
	bKey := string(state.WindowKey([]byte("b"), 0, 0))
	waitFor(t, 30*time.Second, "counts in the window store's changelog", func() (bool, string) {
		s := changelog.latest(windowLog)
		return s[aKey] == 2 && s[bKey] == 1, fmt.Sprint(s)
	})
	waitFor(t, 30*time.Second, "both keys in the suppression buffer's changelog", func() (bool, string) {
		s := changelog.latest(bufferLog)
		return len(s) == 2, fmt.Sprint(len(s))
	})
	a.stop(t)

	// The window store's changelog is compacted and deleted, kept for the
	// store's retention (an hour, as set) plus a day.
	adm := kadm.NewClient(newClient(t, addr))
	cfgs, err := adm.DescribeTopicConfigs(context.Background(), windowLog)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On(windowLog, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range rc.Configs {
		if c.Value != nil {
			got[c.Key] = *c.Value
		}
	}
	if got["cleanup.policy"] != "compact,delete" || got["retention.ms"] != fmt.Sprint(60*60*1000+24*60*60*1000) {
		t.Errorf("window changelog configs: cleanup.policy=%q retention.ms=%q", got["cleanup.policy"], got["retention.ms"])
	}

	// A new instance on an empty state directory restores both stores.
	b := start(t.TempDir())
	produce("a", 5*second)  // a's window [0,10s) becomes 3 only if restored
	produce("c", 12*second) // stream time 12s closes [0,10s)
	results := readFinal(t, addr, out)
	waitFor(t, 60*time.Second, "the final results of window [0,10s)", func() (bool, string) {
		s := results.all()
		return len(s) >= 2, strings.Join(s, " ")
	})
	if s := strings.Join(results.all(), " "); s != "a@0=3 b@0=1" {
		t.Errorf("final results %q, want a@0=3 b@0=1 (one per key and window)", s)
	}

	// Interactive queries read the restored and updated window store.
	waitFor(t, 30*time.Second, "a's window [0,10s) through an interactive query", func() (bool, string) {
		ws, err := streams.QueryWindowStore[string, int64](b.App, "clicks-per-10s")
		if err != nil {
			return false, err.Error()
		}
		var got []string
		if err := ws.Fetch("a", 0, 60*second, func(start, n int64) bool {
			got = append(got, fmt.Sprintf("%d=%d", start, n))
			return true
		}); err != nil {
			return false, err.Error()
		}
		return strings.Join(got, " ") == "0=3", strings.Join(got, " ")
	})
}

// changelogs follows topics and keeps the latest int64 (or, where the
// value is not one, its length) of each key.
type changelogs struct {
	mu sync.Mutex
	m  map[string]map[string]int64
}

func (c *changelogs) latest(topic string) map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int64{}
	for k, v := range c.m[topic] {
		out[k] = v
	}
	return out
}

func follow(t *testing.T, addr string, topics ...string) *changelogs {
	t.Helper()
	c := &changelogs{m: map[string]map[string]int64{}}
	cl := newClient(t, addr, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				c.mu.Lock()
				defer c.mu.Unlock()
				if c.m[r.Topic] == nil {
					c.m[r.Topic] = map[string]int64{}
				}
				if r.Value == nil {
					delete(c.m[r.Topic], string(r.Key))
					return
				}
				v := int64(len(r.Value))
				if n, err := serde.Int64.Deserialize(r.Topic, r.Value); err == nil && len(r.Value) == 8 {
					v = n
				}
				c.m[r.Topic][string(r.Key)] = v
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

// finalResults collects "key@start=count" records of a windowed output.
type finalResults struct {
	mu  sync.Mutex
	got []string
}

func (f *finalResults) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := append([]string(nil), f.got...)
	sort.Strings(out)
	return out
}

func readFinal(t *testing.T, addr, topic string) *finalResults {
	t.Helper()
	f := &finalResults{}
	keys := streams.TimeWindowedSerde(serde.String, 10_000)
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				k, err := keys.Deserialize(r.Topic, r.Key)
				if err != nil {
					t.Errorf("output key %x: %v", r.Key, err)
					return
				}
				n, err := serde.Int64.Deserialize(r.Topic, r.Value)
				if err != nil {
					t.Errorf("output value %x: %v", r.Value, err)
					return
				}
				f.mu.Lock()
				f.got = append(f.got, fmt.Sprintf("%s@%d=%d", k.Key, k.Window.Start, n))
				f.mu.Unlock()
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return f
}
