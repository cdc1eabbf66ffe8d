package perf

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ProduceConfig describes a produce workload.
type ProduceConfig struct {
	Common
	RecordSize int
	// Throughput is the target rate in records/s across all producers;
	// 0 is as fast as possible.
	Throughput float64
	// Acks is -1 (all), 0 or 1.
	Acks        int
	Compression string
	// BatchBytes is the producer's batch.max.bytes (0: kgo's default).
	BatchBytes int
	Linger     time.Duration
	Producers  int
	Idempotent bool
	// MaxInFlight is the produce requests in flight per broker for a
	// producer that is not idempotent (0: 5, Kafka's default).
	MaxInFlight int
}

func (c *ProduceConfig) check() error {
	if err := c.Common.check(); err != nil {
		return err
	}
	switch {
	case c.RecordSize < 0:
		return errors.New("negative record size")
	case c.Acks != -1 && c.Acks != 0 && c.Acks != 1:
		return fmt.Errorf("acks %d: want -1, 0 or 1", c.Acks)
	case c.Idempotent && c.Acks != -1:
		return errors.New("an idempotent producer needs acks=all")
	case c.Producers < 0 || c.Throughput < 0 || c.BatchBytes < 0 || c.Linger < 0 || c.MaxInFlight < 0:
		return errors.New("negative producers, throughput, batch size, linger or in-flight limit")
	}
	_, err := codec(c.Compression)
	return err
}

// producerOpts are the kgo options of one producer.
func (c *ProduceConfig) producerOpts() []kgo.Opt {
	cc, _ := codec(c.Compression) // checked
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.DefaultProduceTopic(c.Topic),
		kgo.ProducerBatchCompression(cc),
		kgo.ProducerLinger(c.Linger),
		// Enough buffered records that the client, not the buffer, is
		// what limits a flat-out run.
		kgo.MaxBufferedRecords(1 << 20),
		kgo.MaxBufferedBytes(256 << 20),
	}
	switch c.Acks {
	case 0:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	case 1:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if !c.Idempotent {
		n := c.MaxInFlight
		if n == 0 {
			n = 5
		}
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(n))
	}
	if c.BatchBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(int32(c.BatchBytes)))
	}
	return append(opts, c.ClientOpts...)
}

// timedRecord carries the record's send time on the monotonic clock: kgo
// truncates Record.Timestamp to milliseconds, too coarse for latency. The
// record is the first field, so the *kgo.Record a promise gets back points
// at the timedRecord it was produced from.
type timedRecord struct {
	kgo.Record
	sent time.Time
}

func timedOf(r *kgo.Record) *timedRecord { return (*timedRecord)(unsafe.Pointer(r)) }

// producer runs one kgo producer until its share is sent or ctx ends.
type producer struct {
	cl      *kgo.Client
	pay     *payload
	m       *meter
	hist    *Histogram
	stamp   bool  // write the send time into the value (e2e)
	records int64 // this producer's share; 0: until ctx ends
	rate    float64
	acked   func(r *kgo.Record, err error)
}

func (p *producer) run(ctx context.Context) {
	pace := newPacer(p.rate)
	p.acked = func(r *kgo.Record, err error) {
		if err != nil {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				p.m.fail(err)
			}
			return
		}
		p.hist.Record(time.Since(timedOf(r).sent))
		p.m.records.Add(1)
		p.m.bytes.Add(int64(len(r.Value)))
	}
	for i := int64(0); p.records == 0 || i < p.records; i++ {
		if err := pace.wait(ctx, i); err != nil || ctx.Err() != nil {
			break
		}
		tr := &timedRecord{}
		v := p.pay.value()
		if p.stamp {
			v = append(make([]byte, 0, len(v)), v...)
		}
		tr.Value = v
		tr.sent = time.Now()
		if p.stamp {
			binary.BigEndian.PutUint64(v, uint64(tr.sent.UnixNano()))
		}
		p.cl.Produce(ctx, &tr.Record, p.acked)
	}
}

// Produce runs a produce workload and returns its summary.
func Produce(ctx context.Context, cfg ProduceConfig) (*Result, error) {
	res, _, err := produce(ctx, &cfg, false)
	return res, err
}

// produce runs the producers; stamp puts the send time into each value.
// started, when not nil, is closed once the clients are connected and
// producing begins.
func produce(ctx context.Context, cfg *ProduceConfig, stamp bool) (*Result, *Histogram, error) {
	if err := cfg.check(); err != nil {
		return nil, nil, err
	}
	if stamp && cfg.RecordSize < 8 {
		return nil, nil, errors.New("end-to-end latency needs records of at least 8 bytes")
	}
	if err := ensureTopic(ctx, &cfg.Common); err != nil {
		return nil, nil, err
	}
	n := max(cfg.Producers, 1)
	hist := &Histogram{}
	m := &meter{hist: hist, name: "produce"}
	pay := newPayload(cfg.RecordSize, 1)

	clients := make([]*kgo.Client, n)
	for i := range clients {
		cl, err := kgo.NewClient(cfg.producerOpts()...)
		if err != nil {
			for _, c := range clients[:i] {
				c.Close()
			}
			return nil, nil, fmt.Errorf("producer client: %w", err)
		}
		clients[i] = cl
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	// Connect and learn the topic's partitions before the clock starts.
	for _, cl := range clients {
		if err := cl.Ping(ctx); err != nil {
			return nil, nil, fmt.Errorf("connect: %w", err)
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Duration > 0 {
		runCtx, cancel = context.WithTimeout(runCtx, cfg.Duration)
		defer cancel()
	}
	start := time.Now()
	repCtx, stopReport := context.WithCancel(ctx)
	go m.report(repCtx, &cfg.Common, start)

	var wg sync.WaitGroup
	for i, cl := range clients {
		share := int64(0)
		if cfg.Records > 0 {
			share = cfg.Records / int64(n)
			if int64(i) < cfg.Records%int64(n) {
				share++
			}
		}
		p := &producer{cl: cl, pay: pay, m: m, hist: hist, stamp: stamp,
			records: share, rate: cfg.Throughput / float64(n)}
		wg.Go(func() {
			p.run(runCtx)
			// Wait for what is buffered. A duration-bounded run stops
			// counting at its deadline; its flush then ends at once.
			if err := cl.Flush(runCtx); err != nil && runCtx.Err() == nil {
				m.fail(err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopReport()

	res := &Result{Workload: "produce", Topic: cfg.Topic, RecordSize: cfg.RecordSize}
	res.finish(m.records.Load(), m.bytes.Load(), elapsed)
	res.Errors, res.FirstError = m.errors.Load(), m.firstError()
	if cfg.Acks != 0 {
		l := hist.Snapshot().Summary()
		res.Latency = &l
	}
	if ctx.Err() != nil {
		return res, hist, ctx.Err()
	}
	return res, hist, nil
}
