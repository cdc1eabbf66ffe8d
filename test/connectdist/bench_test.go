package connectdist

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connect/postgres/pgtest"
)

// BenchmarkPostgresSink times the PostgreSQL sink copying b.N records of
// a 4-partition topic into a table (upserts keyed by the record key,
// JsonConverter with schemas), from creating the connector to the table
// holding every row; the broker, the worker and PostgreSQL run on this
// machine.
//
//	go test -run '^$' -bench PostgresSink -benchtime 300000x ./test/connectdist
func BenchmarkPostgresSink(b *testing.B) {
	for _, tasks := range []int{1, 2} {
		b.Run(fmt.Sprintf("tasks=%d", tasks), func(b *testing.B) { benchSink(b, tasks) })
	}
}

func benchSink(b *testing.B, tasks int) {
	topic := fmt.Sprintf("bench-sink-%d-%d", tasks, time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := admin(b).CreateTopic(ctx, 4, 1, nil, topic); err != nil {
		b.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker(b)), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	const keySchema = `{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],"optional":false}`
	const valueSchema = `{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"string","optional":false,"field":"name"},` +
		`{"type":"double","optional":true,"field":"score"},{"type":"boolean","optional":true,"field":"active"}],"optional":false}`
	for i := range b.N {
		k := fmt.Sprintf(`{"schema":%s,"payload":{"id":%d}}`, keySchema, i)
		v := fmt.Sprintf(`{"schema":%s,"payload":{"id":%d,"name":"name-%d","score":%d.5,"active":%t}}`, valueSchema, i, i, i%1000, i%2 == 0)
		cl.Produce(ctx, &kgo.Record{Key: []byte(k), Value: []byte(v)}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	db := pg.Database(b)
	conn := pgtest.Connect(b, db)
	c := newBenchCluster(b)
	w := c.workers[0]

	b.ResetTimer()
	start := time.Now()
	mustCall(b, 201, "POST", w.url("/connectors"), map[string]any{"name": "bench", "config": map[string]string{
		"connector.class": "PostgresSink", "connection.url": db, "topics": topic, "tasks.max": fmt.Sprint(tasks),
		"table.name.format": "bench", "insert.mode": "upsert", "pk.mode": "record_key", "auto.create": "true",
		"consumer.override.max.poll.records": "5000", "consumer.override.fetch.max.bytes": "52428800"}}, nil)
	for {
		var n int
		err := conn.QueryRow(context.Background(), `SELECT count(*) FROM bench`).Scan(&n)
		if err == nil && n == b.N {
			break
		}
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("%d rows of %d after 5 minutes (%v)", n, b.N, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
}

// newBenchCluster is newCluster for a benchmark: one worker.
func newBenchCluster(b *testing.B) *cluster {
	c := &cluster{t: b, dir: b.TempDir(), group: fmt.Sprintf("bench-%d", time.Now().UnixNano())}
	b.Cleanup(func() {
		for _, w := range c.workers {
			w.proc.stop(b)
		}
	})
	w := c.add()
	waitFor(b, 60*time.Second, "the worker", func() (bool, string) {
		code, _ := call(b, "GET", w.url("/connectors"), nil, nil)
		return code == 200, ""
	})
	return c
}
