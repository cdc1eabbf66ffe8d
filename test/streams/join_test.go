package streams

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/streams"
)

// TestLeftJoinBuffersRestoredFromChangelog: a windowed left join buffers
// views on one instance, which stops; a second instance with an empty state
// directory restores the buffers from their changelog (created
// compact,delete), joins later clicks with the views it never saw, and
// emits the views that found no click once their windows have closed in
// every task.
func TestLeftJoinBuffersRestoredFromChangelog(t *testing.T) {
	addr := startBroker(t)
	for _, topic := range []string{"views", "clicks", "joined"} {
		createTopic(t, addr, topic, partitions)
	}
	const appID = "join"
	build := func() *streams.Builder {
		b := streams.NewBuilder()
		views := streams.Stream[string, string](b, []string{"views"})
		clicks := streams.Stream[string, string](b, []string{"clicks"})
		streams.LeftJoin(views, clicks, func(v string, c *string) string {
			if c == nil {
				return v + "+none"
			}
			return v + "+" + *c
		}, streams.OfTimeDifferenceWithNoGrace(time.Second), streams.Named("vc")).To("joined")
		return b
	}
	start := func() (*streams.App, func()) {
		topo, err := build().Build()
		if err != nil {
			t.Fatal(err)
		}
		a, err := streams.NewApp(topo, appConfig(addr, appID, t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		stopped := false
		stop := func() {
			if stopped {
				return
			}
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("app: %v", err)
			}
		}
		t.Cleanup(stop)
		waitFor(t, 30*time.Second, "the app to run its tasks", func() (bool, string) {
			return len(a.Tasks()) == partitions, fmt.Sprint(a.Tasks())
		})
		return a, stop
	}
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	base := time.Now().Truncate(time.Second)
	keyed := newClient(t, addr) // Kafka's key hash: views and clicks of a key meet in one task
	produce := func(c *kgo.Client, r *kgo.Record) {
		t.Helper()
		if err := c.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	_, stop := start()
	for i := range 8 {
		produce(keyed, &kgo.Record{Topic: "views", Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("view%d", i)), Timestamp: base.Add(time.Duration(i) * time.Millisecond)})
	}
	changelog := appID + "-vc-this-join-store-changelog"
	adm := kadm.NewClient(newClient(t, addr))
	waitFor(t, 30*time.Second, "the views to reach the buffer's changelog", func() (bool, string) {
		ends, err := adm.ListEndOffsets(context.Background(), changelog)
		if err != nil {
			return false, err.Error()
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n == 8, fmt.Sprintf("%d records", n)
	})
	cfgs, err := adm.DescribeTopicConfigs(context.Background(), changelog)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := cfgs.On(changelog, nil)
	if err != nil {
		t.Fatal(err)
	}
	policy := "(none)"
	for _, c := range cfg.Configs {
		if c.Key == "cleanup.policy" && c.Value != nil {
			policy = *c.Value
		}
	}
	if policy != "compact,delete" {
		t.Errorf("changelog cleanup.policy %s, want compact,delete", policy)
	}
	stop()

	start()
	for i := range 4 {
		produce(keyed, &kgo.Record{Topic: "clicks", Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("click%d", i)), Timestamp: base.Add(500 * time.Millisecond)})
	}
	got := map[string]bool{}
	rd := newClient(t, addr, kgo.ConsumeTopics("joined"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	waitOutput := func(want ...string) {
		t.Helper()
		waitFor(t, 30*time.Second, fmt.Sprint("joined records ", want), func() (bool, string) {
			pctx, pcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			rd.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got[string(r.Key)+"="+string(r.Value)] = true })
			pcancel()
			for _, w := range want {
				if !got[w] {
					return false, fmt.Sprint(got)
				}
			}
			return len(got) == len(want), fmt.Sprint(got)
		})
	}
	joined := []string{"k0=view0+click0", "k1=view1+click1", "k2=view2+click2", "k3=view3+click3"}
	waitOutput(joined...)
	// Stream time is per task: a late click in every partition closes the
	// views' windows there.
	for p := range int32(partitions) {
		produce(cl, &kgo.Record{Topic: "clicks", Partition: p, Key: []byte(fmt.Sprintf("tick%d", p)), Value: []byte("tick"), Timestamp: base.Add(5 * time.Second)})
	}
	waitOutput(append(joined, "k4=view4+none", "k5=view5+none", "k6=view6+none", "k7=view7+none")...)
}
