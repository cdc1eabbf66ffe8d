package streams

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/streams"
	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/state"
)

// enricher appends the user's name, from the global table, to each order.
type enricher struct {
	ctx   processor.Context[string, string]
	users state.KeyValueStore[string, string]
}

func (e *enricher) Init(ctx processor.Context[string, string]) error {
	s, err := ctx.Store("users")
	if err != nil {
		return err
	}
	e.ctx = ctx
	e.users, err = state.AsKeyValue[string, string](s)
	return err
}

func (e *enricher) Process(r processor.Record[string, string]) error {
	name, ok, err := e.users.Get(r.Key)
	if err != nil {
		return err
	}
	if !ok {
		name = "unknown"
	}
	return e.ctx.Forward(processor.WithValue(r, r.Value+" for "+name))
}

func (e *enricher) Close() error { return nil }

// TestGlobalTable: every instance holds the whole users topic (2
// partitions) while orders (4 partitions) are processed; the table is
// filled before processing starts and follows later updates and deletes.
func TestGlobalTable(t *testing.T) {
	addr := startBroker(t)
	createTopic(t, addr, "users", 2)
	createTopic(t, addr, "orders", partitions)
	createTopic(t, addr, "enriched", partitions)
	cl := newClient(t, addr)
	produce := func(topic, k, v string) {
		t.Helper()
		r := &kgo.Record{Topic: topic, Key: []byte(k)}
		if v != "" {
			r.Value = []byte(v)
		}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		produce("users", fmt.Sprintf("u%d", i), fmt.Sprintf("name%d", i))
	}

	b := streams.NewBuilder()
	streams.GlobalTable[string, string](b, "users", streams.WithStore("users"))
	orders := streams.Stream[string, string](b, []string{"orders"})
	streams.Process(orders, func() processor.Processor[string, string, string, string] { return &enricher{} }, nil).To("enriched")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	a, err := streams.NewApp(topo, appConfig(addr, "global", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app: %v", err)
		}
	}()
	waitFor(t, 30*time.Second, "the app to run its tasks", func() (bool, string) {
		return len(a.Tasks()) == partitions, fmt.Sprint(a.Tasks())
	})
	users, err := streams.QueryStore[string, string](a, "users")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := users.ApproximateNumEntries(); err != nil || n != 20 {
		t.Fatalf("global store holds %d users (%v) when processing starts, want 20", n, err)
	}
	got := map[string]bool{}
	rd := newClient(t, addr, kgo.ConsumeTopics("enriched"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	waitOutput := func(want ...string) {
		t.Helper()
		waitFor(t, 30*time.Second, fmt.Sprint("enriched orders ", want), func() (bool, string) {
			pctx, pcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			rd.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got[string(r.Key)+": "+string(r.Value)] = true })
			pcancel()
			for _, w := range want {
				if !got[w] {
					return false, fmt.Sprint(got)
				}
			}
			return len(got) == len(want), fmt.Sprint(got)
		})
	}
	produce("orders", "u3", "book")
	waitOutput("u3: book for name3")
	produce("users", "u3", "Ada")
	produce("users", "u4", "") // delete
	waitFor(t, 30*time.Second, "the global store to follow the topic", func() (bool, string) {
		v, _, _ := users.Get("u3")
		_, has4, _ := users.Get("u4")
		return v == "Ada" && !has4, fmt.Sprintf("u3=%q u4 present %v", v, has4)
	})
	produce("orders", "u3", "lamp")
	produce("orders", "u4", "pen")
	waitOutput("u3: book for name3", "u3: lamp for Ada", "u4: pen for unknown")
}
