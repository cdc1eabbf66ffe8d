// Command natsbench drives NATS JetStream (file storage) with the same
// record sizes and counts as `sluice perf`, and prints the same JSON
// summary (perf.Result):
//
//	produce  async publish, up to -max-pending acknowledgements outstanding
//	consume  a pull consumer (no acks) reading the stream from its start
//	latency  synchronous publish at -rate messages/s: the ack latency
//
// The stream is created (file storage, one replica) on first use.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice/internal/perf"
)

func main() {
	url := flag.String("url", "nats://127.0.0.1:4222", "NATS server URL")
	mode := flag.String("mode", "produce", "produce, consume or latency")
	stream := flag.String("stream", "bench", "stream name (subject <stream>.data)")
	n := flag.Int("n", 100000, "messages")
	size := flag.Int("s", 1024, "message size in bytes")
	pending := flag.Int("max-pending", 4000, "async publishes outstanding")
	rate := flag.Float64("rate", 10000, "latency mode: messages/s")
	pull := flag.Int("pull-batch", 4096, "consume mode: messages per pull request")
	flag.Parse()
	res, err := run(*url, *mode, *stream, *n, *size, *pending, *rate, pull)
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsbench:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(res)
}

func run(url, mode, stream string, n, size, pending int, rate float64, pullBatch *int) (*perf.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(pending))
	if err != nil {
		return nil, err
	}
	subject := stream + ".data"
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{subject}, Storage: jetstream.FileStorage, Replicas: 1,
	}); err != nil {
		return nil, fmt.Errorf("create stream: %w", err)
	}
	// Incompressible payloads, distinct per message, as sluice perf sends.
	pool := make([]byte, max(8<<20, 4*size))
	rand.NewChaCha8([32]byte{1}).Read(pool)
	slots := len(pool) / size
	value := func(i int) []byte { off := (i % slots) * size; return pool[off : off+size] }

	res := &perf.Result{Workload: "nats-" + mode, Topic: stream, RecordSize: size}
	var hist perf.Histogram
	start := time.Now()
	var got int64
	switch mode {
	case "produce":
		for i := range n {
			// A busy machine can stall acknowledgements past the stall
			// wait; that is back-pressure, not failure: retry.
			for {
				_, err := js.PublishAsync(subject, value(i), jetstream.WithStallWait(5*time.Second))
				if err == nil {
					break
				}
				if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) || ctx.Err() != nil {
					return nil, fmt.Errorf("publish: %w", err)
				}
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-ctx.Done():
			return nil, errors.New("publishes not acknowledged in time")
		}
		got = int64(n)
	case "latency":
		every := time.Duration(float64(time.Second) / rate)
		for i := range n {
			if d := time.Until(start.Add(time.Duration(i) * every)); d > 0 {
				time.Sleep(d)
			}
			t0 := time.Now()
			if _, err := js.Publish(ctx, subject, value(i)); err != nil {
				return nil, fmt.Errorf("publish: %w", err)
			}
			hist.Record(time.Since(t0))
		}
		got = int64(n)
	case "consume":
		st, err := js.Stream(ctx, stream)
		if err != nil {
			return nil, err
		}
		info, err := st.Info(ctx)
		if err != nil {
			return nil, err
		}
		if have := info.State.Msgs; have < uint64(n) {
			return nil, fmt.Errorf("stream %s holds %d messages, fewer than the %d to consume", stream, have, n)
		}
		cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
			AckPolicy: jetstream.AckNonePolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
		})
		if err != nil {
			return nil, fmt.Errorf("consumer: %w", err)
		}
		start = time.Now()
		it, err := cons.Messages(jetstream.PullMaxMessages(*pullBatch))
		if err != nil {
			return nil, err
		}
		for got < int64(n) {
			m, err := it.Next()
			if err != nil {
				it.Stop()
				return nil, fmt.Errorf("after %d messages: %w", got, err)
			}
			got++
			_ = m.Data()
		}
		it.Stop()
	default:
		return nil, fmt.Errorf("mode %q: want produce, consume or latency", mode)
	}
	el := time.Since(start)
	res.Records, res.Bytes, res.Seconds = got, got*int64(size), el.Seconds()
	res.RecordsPerSec = float64(got) / el.Seconds()
	res.MBPerSec = float64(res.Bytes) / 1e6 / el.Seconds()
	if mode == "latency" {
		l := hist.Snapshot().Summary()
		res.Latency = &l
	}
	return res, nil
}
