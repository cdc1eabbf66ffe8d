package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/streams"
)

type fkOrder struct {
	Customer string
	Amount   int
}

// TestForeignKeyJoin runs the foreign-key join against a broker, with
// orders on 4 partitions and customers on 2, so that subscriptions and
// responses really cross partitions and tasks: the internal topics are
// created with the partition counts of the side that reads them, each
// order's line follows renames of its customer and its moves to another
// customer, and deleting a customer deletes its orders' lines; after a
// restart on an empty state directory the subscriptions are restored and
// a rename still reaches the customer's orders.
func TestForeignKeyJoin(t *testing.T) {
	addr := startBroker(t)
	createTopic(t, addr, "fk-orders", 4)
	createTopic(t, addr, "fk-customers", 2)
	createTopic(t, addr, "fk-lines", 4)
	cl := newClient(t, addr)
	produce := func(topic, k string, v any) {
		t.Helper()
		r := &kgo.Record{Topic: topic, Key: []byte(k)}
		switch v := v.(type) {
		case nil:
		case string:
			r.Value = []byte(v)
		default:
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			r.Value = b
		}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	b := streams.NewBuilder()
	orders := streams.Table[string, fkOrder](b, "fk-orders")
	customers := streams.Table[string, string](b, "fk-customers")
	streams.ForeignKeyJoin(orders, customers, func(o fkOrder) string { return o.Customer },
		func(o fkOrder, name string) string { return fmt.Sprintf("%s:%d", name, o.Amount) },
		streams.Named("orders-customers"), streams.WithStore("lines")).
		ToStream().To("fk-lines")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	// start runs an instance on a state directory of its own; stop shuts
	// it down cleanly.
	start := func() (a *streams.App, stop func()) {
		a, err := streams.NewApp(topo, appConfig(addr, "fkjoin", t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		var once sync.Once
		stop = func() {
			once.Do(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("app: %v", err)
				}
			})
		}
		t.Cleanup(stop)
		return a, stop
	}
	a, stop := start()

	adm := kadm.NewClient(cl)
	waitFor(t, 30*time.Second, "the join's internal topics", func() (bool, string) {
		td, err := adm.ListTopics(context.Background(),
			"fkjoin-orders-customers-subscription-registration-topic", "fkjoin-orders-customers-subscription-response-topic")
		if err != nil {
			return false, err.Error()
		}
		reg := td["fkjoin-orders-customers-subscription-registration-topic"]
		resp := td["fkjoin-orders-customers-subscription-response-topic"]
		return reg.Err == nil && resp.Err == nil && len(reg.Partitions) == 2 && len(resp.Partitions) == 4,
			fmt.Sprintf("registration %d partitions (%v), response %d (%v)", len(reg.Partitions), reg.Err, len(resp.Partitions), resp.Err)
	})

	want := map[string]string{}
	names := map[string]string{}
	owner := map[string]fkOrder{}
	line := func(o fkOrder) (string, bool) {
		n, ok := names[o.Customer]
		return fmt.Sprintf("%s:%d", n, o.Amount), ok
	}
	recompute := func() {
		want = map[string]string{}
		for id, o := range owner {
			if l, ok := line(o); ok {
				want[id] = l
			}
		}
	}
	for i := range 5 {
		c := fmt.Sprintf("c%d", i)
		names[c] = "name" + c
		produce("fk-customers", c, names[c])
	}
	for i := range 20 {
		id := fmt.Sprintf("o%02d", i)
		owner[id] = fkOrder{Customer: fmt.Sprintf("c%d", i%6), Amount: i} // c5 does not exist (yet)
		produce("fk-orders", id, owner[id])
	}
	recompute()

	got := map[string]string{}
	rd := newClient(t, addr, kgo.ConsumeTopics("fk-lines"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	waitLines := func(what string) {
		t.Helper()
		waitFor(t, 60*time.Second, what, func() (bool, string) {
			pctx, pcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			rd.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
				if r.Value == nil {
					delete(got, string(r.Key))
				} else {
					got[string(r.Key)] = string(r.Value)
				}
			})
			pcancel()
			return maps.Equal(got, want), fmt.Sprintf("got %v, want %v", got, want)
		})
	}
	waitLines("the first order lines")

	names["c1"] = "renamed"
	produce("fk-customers", "c1", "renamed")
	owner["o00"] = fkOrder{Customer: "c1", Amount: 100} // moves from c0 to c1
	produce("fk-orders", "o00", owner["o00"])
	names["c5"] = "late"
	produce("fk-customers", "c5", "late")
	delete(names, "c3")
	produce("fk-customers", "c3", nil)
	delete(owner, "o02")
	produce("fk-orders", "o02", nil)
	recompute()
	waitLines("the lines after a rename, a move, a late customer and deletes")

	// A new instance on an empty state directory restores the
	// subscriptions from their changelog: a rename still reaches every
	// order of the customer.
	stop()
	a, _ = start()
	names["c4"] = "after-restart"
	produce("fk-customers", "c4", "after-restart")
	recompute()
	waitLines("the lines after a restart and a rename")

	lines, err := streams.QueryStore[string, string](a, "lines")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the lines store to match", func() (bool, string) {
		m := map[string]string{}
		if err := lines.All(func(k, v string) bool { m[k] = v; return true }); err != nil {
			return false, err.Error()
		}
		return maps.Equal(m, want), fmt.Sprintf("store %v, want %v", m, want)
	})
}
