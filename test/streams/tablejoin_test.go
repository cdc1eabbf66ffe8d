package streams

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/streams"
)

// TestTableTableOuterJoin runs an outer join of two tables of 4
// partitions each against a broker: rows arrive on either side, change and
// go, and the output topic and the result's queryable store end with the
// join of what is left.
func TestTableTableOuterJoin(t *testing.T) {
	addr := startBroker(t)
	for _, topic := range []string{"tj-left", "tj-right", "tj-out"} {
		createTopic(t, addr, topic, 4)
	}
	cl := newClient(t, addr)
	left, right := map[string]string{}, map[string]string{}
	produce := func(topic, k, v string) {
		t.Helper()
		side := left
		if topic == "tj-right" {
			side = right
		}
		r := &kgo.Record{Topic: topic, Key: []byte(k)}
		if v == "" {
			delete(side, k)
		} else {
			r.Value = []byte(v)
			side[k] = v
		}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	want := func() map[string]string {
		m := map[string]string{}
		for k := range maps.Keys(left) {
			m[k] = left[k] + "/" + right[k]
		}
		for k := range maps.Keys(right) {
			m[k] = left[k] + "/" + right[k]
		}
		return m
	}

	b := streams.NewBuilder()
	l := streams.Table[string, string](b, "tj-left")
	r := streams.Table[string, string](b, "tj-right")
	streams.OuterJoinTables(l, r, func(lv, rv *string) string {
		var a, c string
		if lv != nil {
			a = *lv
		}
		if rv != nil {
			c = *rv
		}
		return a + "/" + c
	}, streams.WithStore("joined")).ToStream().To("tj-out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	a, err := streams.NewApp(topo, appConfig(addr, "tablejoin", t.TempDir()))
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

	for i := range 30 {
		k := fmt.Sprintf("k%02d", i)
		if i%3 != 2 {
			produce("tj-left", k, fmt.Sprintf("l%d", i))
		}
		if i%3 != 0 {
			produce("tj-right", k, fmt.Sprintf("r%d", i))
		}
	}
	for i := range 30 {
		k := fmt.Sprintf("k%02d", i)
		switch i % 5 {
		case 0:
			produce("tj-left", k, "") // delete
		case 1:
			produce("tj-right", k, "")
		case 2:
			produce("tj-left", k, fmt.Sprintf("L%d", i))
		case 3:
			produce("tj-right", k, fmt.Sprintf("R%d", i))
		}
	}

	got := map[string]string{}
	rd := newClient(t, addr, kgo.ConsumeTopics("tj-out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	waitFor(t, 60*time.Second, "the joined rows", func() (bool, string) {
		pctx, pcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		rd.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
			if r.Value == nil {
				delete(got, string(r.Key))
			} else {
				got[string(r.Key)] = string(r.Value)
			}
		})
		pcancel()
		return maps.Equal(got, want()), fmt.Sprintf("got %v, want %v", got, want())
	})
	joined, err := streams.QueryStore[string, string](a, "joined")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the joined store", func() (bool, string) {
		m := map[string]string{}
		if err := joined.All(func(k, v string) bool { m[k] = v; return true }); err != nil {
			return false, err.Error()
		}
		return maps.Equal(m, want()), fmt.Sprintf("store %v, want %v", m, want())
	})
}
