package perf_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/broker"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/perf"
	"github.com/sluicehq/sluice/internal/perf/nullbroker"
)

func startNull(t *testing.T) string {
	t.Helper()
	nb, err := nullbroker.Listen("127.0.0.1:0", nullbroker.Config{Partitions: 3, RecordSize: 100, BatchRecords: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nb.Close() })
	return nb.Addr()
}

// startBroker runs a real single-node broker in-process.
func startBroker(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg, _, err := config.Load("", []string{"listeners=PLAINTEXT://127.0.0.1:0", "log.dirs=" + dir, "node.id=1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-b.Ready():
	case err := <-done:
		t.Fatalf("broker stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("broker not ready in 30s")
	}
	ep := b.Endpoints()[0]
	return net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port)))
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestProduceAndConsumeAgainstNullBroker(t *testing.T) {
	addr := startNull(t)
	var progress atomic.Int64
	common := perf.Common{Brokers: []string{addr}, Topic: "t", Partitions: 3, Records: 20000,
		Interval: 10 * time.Millisecond, Progress: func(perf.Progress) { progress.Add(1) }}
	for _, acks := range []int{-1, 1, 0} {
		res, err := perf.Produce(ctx(t), perf.ProduceConfig{Common: common, RecordSize: 100, Acks: acks,
			Producers: 2, Idempotent: acks == -1, Compression: "lz4"})
		if err != nil {
			t.Fatalf("acks=%d: %v", acks, err)
		}
		if res.Records != 20000 || res.Bytes != 20000*100 || res.Errors != 0 {
			t.Fatalf("acks=%d: produced %d records, %d bytes, %d errors (%s); want 20000, 2000000, 0",
				acks, res.Records, res.Bytes, res.Errors, res.FirstError)
		}
		if acks != 0 && (res.Latency == nil || res.Latency.Count != 20000 || res.Latency.P50Ms <= 0 || res.Latency.MaxMs < res.Latency.P99Ms) {
			t.Fatalf("acks=%d: latency summary %+v", acks, res.Latency)
		}
		if res.RecordsPerSec <= 0 || res.MBPerSec <= 0 {
			t.Fatalf("acks=%d: rates %v rec/s %v MB/s", acks, res.RecordsPerSec, res.MBPerSec)
		}
	}
	res, err := perf.Consume(ctx(t), perf.ConsumeConfig{Common: common, Consumers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records < 20000 || res.Bytes != res.Records*100 {
		t.Fatalf("consumed %d records, %d bytes; want >= 20000 of 100 bytes", res.Records, res.Bytes)
	}
	if progress.Load() == 0 {
		t.Error("no progress report in any run")
	}
}

func TestThroughputTarget(t *testing.T) {
	addr := startNull(t)
	start := time.Now()
	res, err := perf.Produce(ctx(t), perf.ProduceConfig{
		Common:     perf.Common{Brokers: []string{addr}, Topic: "paced", Records: 2000},
		RecordSize: 64, Acks: 1, Throughput: 4000,
	})
	if err != nil {
		t.Fatal(err)
	}
	// 2000 records at 4000/s take half a second; allow for a slow machine.
	if took := time.Since(start); took < 450*time.Millisecond {
		t.Fatalf("2000 records at 4000/s took %v; the rate was not held", took)
	}
	if res.RecordsPerSec > 4400 {
		t.Fatalf("rate %.0f records/s, target 4000", res.RecordsPerSec)
	}
}

func TestDurationBoundRun(t *testing.T) {
	addr := startNull(t)
	start := time.Now()
	res, err := perf.Produce(ctx(t), perf.ProduceConfig{
		Common:     perf.Common{Brokers: []string{addr}, Topic: "timed", Duration: 300 * time.Millisecond},
		RecordSize: 64, Acks: 1, Throughput: 10000,
	})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a 300ms run took %v", took)
	}
	if res.Records == 0 || res.Records > 4000 {
		t.Fatalf("%d records in 300ms at 10000/s", res.Records)
	}
}

func TestEndToEndAgainstBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	addr := startBroker(t)
	res, err := perf.EndToEnd(ctx(t), perf.E2EConfig{
		ProduceConfig: perf.ProduceConfig{
			Common:     perf.Common{Brokers: []string{addr}, Topic: "e2e", Partitions: 3, Records: 3000},
			RecordSize: 1024, Acks: -1, Throughput: 3000, Idempotent: true,
		},
		Consumers: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 3000 || res.Errors != 0 {
		t.Fatalf("e2e consumed %d records with %d errors (%s), want 3000", res.Records, res.Errors, res.FirstError)
	}
	if res.EndToEnd == nil || res.EndToEnd.Count != 3000 || res.EndToEnd.P50Ms <= 0 || res.EndToEnd.P50Ms > 1000 {
		t.Fatalf("end-to-end latency %+v", res.EndToEnd)
	}
	if res.Latency == nil || res.Latency.Count != 3000 {
		t.Fatalf("produce latency %+v", res.Latency)
	}
	// What was produced is on the broker: consume it again from the start.
	cres, err := perf.Consume(ctx(t), perf.ConsumeConfig{Common: perf.Common{Brokers: []string{addr}, Topic: "e2e", Records: 3000}})
	if err != nil {
		t.Fatal(err)
	}
	if cres.Records != 3000 || cres.Bytes != 3000*1024 {
		t.Fatalf("re-read %d records, %d bytes", cres.Records, cres.Bytes)
	}
}

func TestBadSettings(t *testing.T) {
	cases := map[string]perf.ProduceConfig{
		"no brokers":       {Common: perf.Common{Topic: "t", Records: 1}},
		"no stop":          {Common: perf.Common{Brokers: []string{"x"}, Topic: "t"}},
		"bad acks":         {Common: perf.Common{Brokers: []string{"x"}, Topic: "t", Records: 1}, Acks: 2},
		"idempotent acks1": {Common: perf.Common{Brokers: []string{"x"}, Topic: "t", Records: 1}, Acks: 1, Idempotent: true},
		"bad codec":        {Common: perf.Common{Brokers: []string{"x"}, Topic: "t", Records: 1}, Acks: 1, Compression: "brotli"},
	}
	for name, c := range cases {
		if _, err := perf.Produce(context.Background(), c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
