package streams_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/streams"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/streamstest"
)

type order struct {
	Customer string
	Amount   int
}

func orderLine(o order, name string) string { return fmt.Sprintf("%s:%d", name, o.Amount) }

// keysOf reads the keys of the records written to a topic.
func keysOf(t *testing.T, out *streamstest.OutputTopic[string, []byte]) string {
	t.Helper()
	recs, err := out.ReadRecords()
	must(t, err)
	var ks []string
	for _, r := range recs {
		ks = append(ks, r.Key)
	}
	return strings.Join(ks, " ")
}

// TestForeignKeyJoin joins orders (order id -> customer id and amount) with
// customers (customer id -> name), inner and left, through new orders,
// customers that appear late, a rename that updates every order of the
// customer, orders that move to another customer (unsubscribing from the
// old one), and deletes on both sides. Expectations follow Kafka's
// KIP-213 join, except that the result table never emits a tombstone for
// a key it does not hold (it is always materialized). It runs with the
// join's stores on pebble and in memory (the subscription store's prefix
// scan is theirs).
func TestForeignKeyJoin(t *testing.T) {
	t.Run("pebble", func(t *testing.T) { testForeignKeyJoin(t) })
	t.Run("in-memory", func(t *testing.T) { testForeignKeyJoin(t, streams.InMemory()) })
}

func testForeignKeyJoin(t *testing.T, storeOpts ...streams.Option) {
	b := streams.NewBuilder()
	orders := streams.Table[string, order](b, "orders")
	customers := streams.Table[string, string](b, "customers")
	customerOf := func(o order) string { return o.Customer }
	inner := streams.ForeignKeyJoin(orders, customers, customerOf, orderLine,
		append([]streams.Option{streams.Named("orders-customers"), streams.WithStore("order-lines")}, storeOpts...)...)
	inner.ToStream().To("inner")
	streams.LeftForeignKeyJoin(orders, customers, customerOf, func(o order, name *string) string {
		if name == nil {
			return orderLine(o, "?")
		}
		return orderLine(o, *name)
	}, storeOpts...).ToStream().To("left")
	d := run(t, b, streamstest.WithApplicationID("shop"))

	ord := streamstest.CreateInputTopic[string, order](d, "orders", nil, nil)
	cust := streamstest.CreateInputTopic[string, string](d, "customers", nil, nil)
	innerOut := streamstest.CreateOutputTopic[string, string](d, "inner", nil, nil)
	leftOut := streamstest.CreateOutputTopic[string, string](d, "left", nil, nil)
	// The inner join's subscriptions, keyed by customer id, in the topic
	// Kafka would name for a join Named "orders-customers".
	registrations := streamstest.CreateOutputTopic[string, []byte](d, "shop-orders-customers-subscription-registration-topic", nil, serde.Bytes)

	type step struct {
		do            func() error
		what          string
		inner, left   string
		subscriptions string // keys the inner join sent to the registration topic
	}
	steps := []step{
		{func() error { return cust.Pipe("c1", "alice") }, "customer c1 appears", "", "", ""},
		{func() error { return ord.Pipe("o1", order{"c1", 10}) }, "new order for c1", "o1=alice:10", "o1=alice:10", "c1"},
		{func() error { return ord.Pipe("o2", order{"c2", 20}) }, "new order for unknown c2", "", "o2=?:20", "c2"},
		{func() error { return cust.Pipe("c2", "bob") }, "customer c2 appears", "o2=bob:20", "o2=bob:20", ""},
		{func() error { return ord.Pipe("o3", order{"c1", 30}) }, "second order for c1", "o3=alice:30", "o3=alice:30", "c1"},
		{func() error { return cust.Pipe("c1", "alicia") }, "c1 renamed", "o1=alicia:10 o3=alicia:30", "o1=alicia:10 o3=alicia:30", ""},
		{func() error { return ord.Pipe("o1", order{"c2", 10}) }, "o1 moves to c2", "o1=bob:10", "o1=bob:10", "c1 c2"},
		{func() error { return cust.Pipe("c1", "ally") }, "c1 renamed again: o1 has left it", "o3=ally:30", "o3=ally:30", ""},
		{func() error { return ord.Pipe("o3", order{"c1", 35}) }, "o3 amount changes, same customer", "o3=ally:35", "o3=ally:35", "c1"},
		{func() error { return ord.Pipe("o1", order{"c3", 10}) }, "o1 moves to unknown c3", "o1=null", "o1=?:10", "c2 c3"},
		{func() error { return cust.Pipe("c3", "carol") }, "customer c3 appears", "o1=carol:10", "o1=carol:10", ""},
		{func() error { return cust.PipeTombstone("c2") }, "customer c2 deleted", "o2=null", "o2=?:20", ""},
		{func() error { return ord.PipeTombstone("o3") }, "order o3 deleted", "o3=null", "o3=null", "c1"},
		{func() error { return cust.Pipe("c1", "zed") }, "c1 renamed with no orders left", "", "", ""},
		{func() error { return ord.PipeTombstone("o2") }, "order o2 (not in the inner result) deleted", "", "o2=null", "c2"},
		{func() error { return ord.PipeTombstone("o9") }, "unknown order deleted", "", "", ""},
	}
	for i, s := range steps {
		must(t, s.do())
		if got := pairs(t, innerOut); got != s.inner {
			t.Errorf("step %d (%s): inner join emitted %q, want %q", i+1, s.what, got, s.inner)
		}
		if got := pairs(t, leftOut); got != s.left {
			t.Errorf("step %d (%s): left join emitted %q, want %q", i+1, s.what, got, s.left)
		}
		if got := keysOf(t, registrations); got != s.subscriptions {
			t.Errorf("step %d (%s): subscriptions sent to %q, want %q", i+1, s.what, got, s.subscriptions)
		}
	}

	kv, err := streamstest.KeyValueStore[string, string](d, "order-lines")
	must(t, err)
	got := map[string]string{}
	must(t, kv.All(func(k, v string) bool { got[k] = v; return true }))
	if want := "map[o1:carol:10]"; fmt.Sprint(got) != want {
		t.Errorf("order-lines holds %v, want %s", got, want)
	}
}

// TestForeignKeyJoinDropsStaleResponses replays a response that arrives
// after its order has moved on (as one from another partition of the
// response topic may, when an order changes customer twice in quick
// succession): it carries the hash of the order's old value, so the join
// drops it. Replaying the current response is the control: it is joined.
func TestForeignKeyJoinDropsStaleResponses(t *testing.T) {
	b := streams.NewBuilder()
	orders := streams.Table[string, order](b, "orders")
	customers := streams.Table[string, string](b, "customers")
	streams.ForeignKeyJoin(orders, customers, func(o order) string { return o.Customer }, orderLine,
		streams.Named("oc")).ToStream().To("out")
	d := run(t, b)

	ord := streamstest.CreateInputTopic[string, order](d, "orders", nil, nil)
	cust := streamstest.CreateInputTopic[string, string](d, "customers", nil, nil)
	out := streamstest.CreateOutputTopic[string, string](d, "out", nil, nil)
	const respTopic = "test-app-oc-subscription-response-topic"
	responses := streamstest.CreateOutputTopic[string, []byte](d, respTopic, nil, serde.Bytes)
	replay := streamstest.CreateInputTopic[string, []byte](d, respTopic, nil, serde.Bytes)

	must(t, cust.Pipe("c1", "alice"))
	must(t, cust.Pipe("c2", "bob"))
	must(t, ord.Pipe("o1", order{"c1", 10}))
	old, err := responses.ReadRecords()
	must(t, err)
	must(t, ord.Pipe("o1", order{"c2", 10}))
	current, err := responses.ReadRecords()
	must(t, err)
	if len(old) != 1 || len(current) != 1 {
		t.Fatalf("got %d and %d responses for o1's two values, want one each", len(old), len(current))
	}
	if got, want := pairs(t, out), "o1=alice:10 o1=bob:10"; got != want {
		t.Fatalf("output %q, want %q", got, want)
	}

	must(t, replay.PipeRaw([]byte("o1"), old[0].Value, time.UnixMilli(100)))
	if got := pairs(t, out); got != "" {
		t.Errorf("the stale response (o1 with c1's name) was joined: %q", got)
	}
	must(t, replay.PipeRaw([]byte("o1"), current[0].Value, time.UnixMilli(100)))
	if got, want := pairs(t, out), "o1=bob:10"; got != want {
		t.Errorf("the current response replayed gave %q, want %q", got, want)
	}
}

// TestForeignKeyJoinTopicsPartitionedLikeTheirReaders checks the partition
// counts of the join's internal topics when the two tables differ: the
// registration topic is read beside the customers (2 partitions), the
// response topic beside the orders (4), whichever side writes them. In
// the second case the orders are an aggregate read from a repartition
// topic, so no external topic sits beside the response topic: its count
// still follows the orders' sub-topology, not the customers' that writes
// it.
func TestForeignKeyJoinTopicsPartitionedLikeTheirReaders(t *testing.T) {
	type item struct {
		Order, Customer string
		Amount          int
	}
	for _, tc := range []struct {
		name   string
		orders func(b *streams.Builder) streams.KTable[string, order]
		tasks  map[string]int32 // by a source topic of the sub-topology
	}{
		{"orders from a topic", func(b *streams.Builder) streams.KTable[string, order] {
			return streams.Table[string, order](b, "orders")
		}, map[string]int32{"orders": 4, "customers": 2}},
		{"orders aggregated from items", func(b *streams.Builder) streams.KTable[string, order] {
			items := streams.Table[string, item](b, "items")
			return streams.AggregateTable(streams.GroupTableBy(items, func(_ string, it item) (string, item) { return it.Order, it }),
				func() order { return order{} },
				func(_ string, it item, o order) order { o.Customer = it.Customer; o.Amount += it.Amount; return o },
				func(_ string, it item, o order) order { o.Amount -= it.Amount; return o })
		}, map[string]int32{"items": 4, "customers": 2, "oc-subscription-response-topic": 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := streams.NewBuilder()
			orders := tc.orders(b)
			customers := streams.Table[string, string](b, "customers")
			streams.ForeignKeyJoin(orders, customers, func(o order) string { return o.Customer }, orderLine,
				streams.Named("oc")).ToStream().To("out")
			topo, err := b.Build()
			must(t, err)
			subs, err := topo.Subtopologies()
			must(t, err)
			counts, internal, err := topo.PartitionCounts(subs, map[string]int32{"orders": 4, "items": 4, "customers": 2})
			if err != nil {
				t.Fatalf("partition counts: %v\n%s", err, topo.Describe())
			}
			if got := internal["oc-subscription-registration-topic"]; got != 2 {
				t.Errorf("registration topic: %d partitions, want 2", got)
			}
			if got := internal["oc-subscription-response-topic"]; got != 4 {
				t.Errorf("response topic: %d partitions, want 4", got)
			}
			for _, st := range subs {
				for _, topic := range st.Topics {
					if want, ok := tc.tasks[topic]; ok && counts[st.ID] != want {
						t.Errorf("sub-topology %d (%v): %d tasks, want %d", st.ID, st.Topics, counts[st.ID], want)
					}
				}
			}
		})
	}
}

// TestForeignKeyJoinDropsResponsesOvertakenByUpdates lets the left table
// change twice before the first answer is back: the orders are an
// aggregate of order items, so moving an item to another customer
// updates its order twice (the item's old value subtracted, then its new
// value added), and the first update still names the old customer. Its
// response comes back after the second update and must be dropped;
// joining it with the current order would emit the order with the old
// customer's name.
func TestForeignKeyJoinDropsResponsesOvertakenByUpdates(t *testing.T) {
	type item struct {
		Order, Customer string
		Amount          int
	}
	b := streams.NewBuilder()
	items := streams.Table[string, item](b, "items")
	byOrder := streams.GroupTableBy(items, func(_ string, it item) (string, item) { return it.Order, it })
	orders := streams.AggregateTable(byOrder, func() order { return order{} },
		func(_ string, it item, o order) order { o.Customer = it.Customer; o.Amount += it.Amount; return o },
		func(_ string, it item, o order) order { o.Amount -= it.Amount; return o },
		streams.WithoutCaching())
	customers := streams.Table[string, string](b, "customers")
	// Without caching, every result the join produces reaches the output.
	streams.ForeignKeyJoin(orders, customers, func(o order) string { return o.Customer }, orderLine,
		streams.Named("oc"), streams.WithoutCaching()).ToStream().To("out")
	d := run(t, b)

	it := streamstest.CreateInputTopic[string, item](d, "items", nil, nil)
	cust := streamstest.CreateInputTopic[string, string](d, "customers", nil, nil)
	out := streamstest.CreateOutputTopic[string, string](d, "out", nil, nil)
	responses := streamstest.CreateOutputTopic[string, []byte](d, "test-app-oc-subscription-response-topic", nil, serde.Bytes)

	must(t, cust.Pipe("c1", "alice"))
	must(t, cust.Pipe("c2", "bob"))
	must(t, it.Pipe("i1", item{"o1", "c1", 10}))
	if got, want := pairs(t, out), "o1=alice:10"; got != want {
		t.Fatalf("output %q, want %q", got, want)
	}
	_, err := responses.ReadRecords()
	must(t, err)

	must(t, it.Pipe("i1", item{"o1", "c2", 10}))
	if got, want := pairs(t, out), "o1=bob:10"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	resp, err := responses.ReadRecords()
	must(t, err)
	if len(resp) != 2 {
		t.Errorf("%d responses came back for the two updates of o1, want 2 (one stale)", len(resp))
	}
}
