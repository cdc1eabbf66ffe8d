package streams

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/streams"
)

// TestPartitionerAndDefaultPlacement: a sink with its own partitioner puts
// records where it says, given the topic's real partition count; a sink
// without one places keys as Kafka's default partitioner does, which a
// plain franz-go producer (murmur2, Kafka-compatible) agrees with.
func TestPartitionerAndDefaultPlacement(t *testing.T) {
	addr := startBroker(t)
	createTopic(t, addr, "src", 1)
	createTopic(t, addr, "chosen", 4)
	createTopic(t, addr, "hashed", 4)
	b := streams.NewBuilder()
	s := streams.Stream[string, string](b, []string{"src"})
	s.To("chosen", streams.WithPartitioner(func(_ string, k, _ string, n int) int { return (len(k) - 1) % n }))
	s.To("hashed")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	a, err := streams.NewApp(topo, appConfig(addr, "parts", t.TempDir()))
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
	cl := newClient(t, addr, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	keys := []string{"a", "bb", "ccc", "dddd", "eeeee", "x1", "y22", "z333"}
	for _, k := range keys {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "src", Key: []byte(k), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// Where franz-go's Kafka-compatible partitioner puts each key.
	want := map[string]int32{}
	for _, k := range keys {
		r := &kgo.Record{Topic: "hashed", Key: []byte(k)}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		want[k] = r.Partition
	}
	rd := newClient(t, addr, kgo.ConsumeTopics("chosen", "hashed"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	chosen := map[string]int32{}
	hashed := map[string][]int32{}
	waitFor(t, 30*time.Second, "the records of both sinks", func() (bool, string) {
		pctx, pcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		rd.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
			if r.Topic == "chosen" {
				chosen[string(r.Key)] = r.Partition
			} else if string(r.Value) == "v" { // the app's, not the reference records
				hashed[string(r.Key)] = append(hashed[string(r.Key)], r.Partition)
			}
		})
		pcancel()
		return len(chosen) == len(keys) && len(hashed) == len(keys), fmt.Sprintf("chosen %v hashed %v", chosen, hashed)
	})
	for _, k := range keys {
		if p := chosen[k]; p != int32((len(k)-1)%4) {
			t.Errorf("key %s: partitioner chose %d, record on %d", k, (len(k)-1)%4, p)
		}
		if ps := hashed[k]; len(ps) != 1 || ps[0] != want[k] {
			t.Errorf("key %s: written to partitions %v, Kafka's partitioner says %d", k, ps, want[k])
		}
	}
}
