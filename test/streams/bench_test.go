package streams

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/streams"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/topology"
)

// The benchmarks load benchRecords records of 100 bytes into a 4-partition
// topic of a local broker once, then time applications (each with a new
// application.id, so each reads the topic from the start) from the moment
// they run their tasks until the work is done: every output record written
// (stateless), or every input offset committed, with commits each 100 ms
// (count, whose cache holds its output until a commit). They report
// records/s.
const benchRecords = 500_000

func loadBenchInput(b *testing.B, addr, topic string, keys int) {
	b.Helper()
	loadBenchRecords(b, addr, topic, benchRecords, keys, nil)
}

// loadBenchRecords writes n records of 100 bytes with keys k0000000 up to
// keys-1 in turn, each with the timestamp ts gives (nil: the time of
// production).
func loadBenchRecords(b *testing.B, addr, topic string, n, keys int, ts func(i int) time.Time) {
	b.Helper()
	createTopic(b, addr, topic, partitions)
	cl := newClient(b, addr, kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond))
	value := bytes.Repeat([]byte("x"), 100-8)
	ctx := context.Background()
	errs := make(chan error, 1)
	for i := range n {
		key := []byte(fmt.Sprintf("k%07d", i%keys))
		r := &kgo.Record{Topic: topic, Key: key, Value: value}
		if ts != nil {
			r.Timestamp = ts(i)
		}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

func runBench(b *testing.B, addr, input, output string, topo *topology.Topology, appID string) {
	b.Helper()
	cfg := appConfig(addr, appID, b.TempDir())
	cfg.CommitInterval = 100 * time.Millisecond
	cfg.Logger = nil
	a, err := streams.NewApp(topo, cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	adm := kadm.NewClient(newClient(b, addr))
	waitFor(b, 30*time.Second, "tasks", func() (bool, string) { return len(a.Tasks()) > 0, "" })
	start := time.Now()
	waitFor(b, 5*time.Minute, "all the work done", func() (bool, string) {
		if output != "" {
			ends, err := adm.ListEndOffsets(context.Background(), output)
			if err != nil {
				return false, err.Error()
			}
			var n int64
			ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
			return n >= benchRecords, fmt.Sprint(n)
		}
		resp, err := adm.FetchOffsets(context.Background(), appID)
		if err != nil {
			return false, err.Error()
		}
		var n int64
		resp.Each(func(o kadm.OffsetResponse) {
			if o.Topic == input {
				n += o.At
			}
		})
		return n >= benchRecords, fmt.Sprint(n)
	})
	elapsed := time.Since(start)
	b.ReportMetric(float64(benchRecords)/elapsed.Seconds(), "records/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkStatelessPipeline: filter, mapValues and filterNot, written
// to an output topic (target: 300,000 records/s of 100 bytes).
func BenchmarkStatelessPipeline(b *testing.B) {
	addr := startBroker(b)
	loadBenchInput(b, addr, "bench-in", 1_000_000)
	b.ResetTimer()
	for i := range b.N {
		sb := streams.NewBuilder()
		in := streams.Stream[[]byte, []byte](sb, []string{"bench-in"})
		kept := in.Filter(func(_, v []byte) bool { return len(v) > 0 })
		up := streams.MapValues(kept, bytes.ToUpper)
		up.FilterNot(func(k, _ []byte) bool { return len(k) == 0 }).To(fmt.Sprintf("bench-out-%d", i))
		topo, err := sb.Build()
		if err != nil {
			b.Fatal(err)
		}
		createTopic(b, addr, fmt.Sprintf("bench-out-%d", i), partitions)
		runBench(b, addr, "bench-in", fmt.Sprintf("bench-out-%d", i), topo, fmt.Sprintf("bench-stateless-%d", i))
	}
}

// BenchmarkCountOnPebble: records of 10,000 keys counted per key in a
// pebble store with its changelog, counts written to an output topic
// (target: 100,000 records/s), with the record cache on (the default) and
// off (every update logged and written out).
func BenchmarkCountOnPebble(b *testing.B) {
	addr := startBroker(b)
	loadBenchInput(b, addr, "bench-keys", 10_000)
	createTopic(b, addr, "bench-counts", partitions)
	for _, cached := range []bool{true, false} {
		b.Run(fmt.Sprintf("cache=%v", cached), func(b *testing.B) {
			for i := range b.N {
				sb := streams.NewBuilder()
				opts := []streams.Option{streams.WithStore("counts")}
				if !cached {
					opts = append(opts, streams.WithoutCaching())
				}
				streams.Stream[string, []byte](sb, []string{"bench-keys"}).GroupByKey().
					Count(opts...).ToStream().To("bench-counts")
				topo, err := sb.Build()
				if err != nil {
					b.Fatal(err)
				}
				// The sub-benchmark runs again on the same broker with
				// -count: a new application.id each time, or it would find
				// its input committed already.
				runBench(b, addr, "bench-keys", "", topo, fmt.Sprintf("bench-count-%v-%d-%d", cached, i, time.Now().UnixNano()))
			}
		})
	}
}

// BenchmarkWindowedCount: records of 10,000 keys, one a millisecond of
// event time (500 s in all), counted per key in one-minute tumbling
// windows in a pebble window store with its changelog and the record
// cache; the windowed counts are written to an output topic.
func BenchmarkWindowedCount(b *testing.B) {
	addr := startBroker(b)
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	loadBenchRecords(b, addr, "bench-events", benchRecords, 10_000, func(i int) time.Time {
		return base.Add(time.Duration(i) * time.Millisecond)
	})
	createTopic(b, addr, "bench-window-counts", partitions)
	b.ResetTimer()
	for i := range b.N {
		sb := streams.NewBuilder()
		grouped := streams.Stream[string, []byte](sb, []string{"bench-events"}).GroupByKey()
		counts := streams.WindowedBy(grouped, streams.OfSizeWithNoGrace(time.Minute)).
			Count(streams.WithStore("window-counts"))
		counts.ToStream().To("bench-window-counts",
			streams.WithKeySerde(streams.TimeWindowedSerde(serde.String, time.Minute.Milliseconds())))
		topo, err := sb.Build()
		if err != nil {
			b.Fatal(err)
		}
		runBench(b, addr, "bench-events", "", topo, fmt.Sprintf("bench-window-%d", i))
	}
}

// BenchmarkStreamTableJoin: records of 10,000 keys left-joined with a
// table of those 10,000 keys (a pebble store with its changelog, read from
// its own topic), every result written to an output topic.
func BenchmarkStreamTableJoin(b *testing.B) {
	addr := startBroker(b)
	loadBenchRecords(b, addr, "bench-table", 10_000, 10_000, nil)
	loadBenchInput(b, addr, "bench-stream", 10_000)
	b.ResetTimer()
	for i := range b.N {
		out := fmt.Sprintf("bench-joined-%d", i)
		createTopic(b, addr, out, partitions)
		sb := streams.NewBuilder()
		table := streams.Table[string, []byte](sb, "bench-table", streams.WithStore("bench-table"))
		stream := streams.Stream[string, []byte](sb, []string{"bench-stream"})
		streams.LeftJoinTable(stream, table, func(v []byte, t *[]byte) []byte {
			if t == nil {
				return v
			}
			return append(append(make([]byte, 0, len(v)+len(*t)), v...), *t...)
		}).To(out)
		topo, err := sb.Build()
		if err != nil {
			b.Fatal(err)
		}
		runBench(b, addr, "bench-stream", out, topo, fmt.Sprintf("bench-join-%d", i))
	}
}
