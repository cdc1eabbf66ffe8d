package perf

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// E2EConfig describes an end-to-end workload: producers at a target rate
// and consumers in the same process reading from the log end, so that every
// record's produce-to-consume latency is measured.
type E2EConfig struct {
	ProduceConfig
	Consumers              int
	FetchMaxBytes          int
	FetchMaxPartitionBytes int
	// Grace is how long consumers may trail the last acknowledgement
	// before the run gives up on missing records (0: 10 s).
	Grace time.Duration
}

// EndToEnd runs an end-to-end workload. The result's Latency is the produce
// acknowledgement latency, EndToEnd the produce-to-consume latency; Records
// and Bytes are what the consumers read, the rates the producers'.
func EndToEnd(ctx context.Context, cfg E2EConfig) (*Result, error) {
	if err := cfg.ProduceConfig.check(); err != nil {
		return nil, err
	}
	if cfg.RecordSize < 8 {
		return nil, errors.New("end-to-end latency needs records of at least 8 bytes")
	}
	if err := ensureTopic(ctx, &cfg.Common); err != nil {
		return nil, err
	}
	ends, err := listOffsets(ctx, &cfg.Common, true)
	if err != nil {
		return nil, err
	}
	cc := ConsumeConfig{Common: cfg.Common, Consumers: cfg.Consumers,
		FetchMaxBytes: cfg.FetchMaxBytes, FetchMaxPartitionBytes: cfg.FetchMaxPartitionBytes}
	cc.Duration, cc.Records = 0, 0 // the consumers stop when the producers' records are in
	cc.Partitions = 0

	e2e := &Histogram{}
	cm := &meter{hist: e2e, name: "e2e"}
	var target atomic.Int64
	target.Store(cfg.Records)
	ready := make(chan struct{})
	consCtx, stopConsumers := context.WithCancel(ctx)
	defer stopConsumers()
	type consumed struct {
		res *Result
		err error
	}
	done := make(chan consumed, 1)
	go func() {
		r, err := consume(consCtx, &cc, ends, cm, e2e, ready, &target)
		done <- consumed{r, err}
	}()
	select {
	case <-ready:
	case c := <-done:
		return nil, fmt.Errorf("start consumers: %w", c.err)
	}

	pc := cfg.ProduceConfig
	pc.Partitions = 0
	pc.Progress = nil // the consumers report, with the end-to-end latency
	pres, _, err := produce(ctx, &pc, true)
	if err != nil {
		return nil, err
	}
	// The consumers stop at the produced count; give stragglers a grace.
	target.Store(pres.Records)
	grace := cfg.Grace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	giveUp := time.NewTimer(grace)
	defer giveUp.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var c consumed
wait:
	for {
		select {
		case c = <-done:
			break wait
		case <-tick.C:
			if cm.records.Load() >= pres.Records {
				stopConsumers()
			}
		case <-giveUp.C:
			stopConsumers()
		}
	}
	res := c.res
	if res == nil {
		return nil, c.err
	}
	res.Workload = "e2e"
	res.RecordSize = cfg.RecordSize
	// The rate is the producers': the consumers were started (and their
	// clock with them) before the producers connected.
	res.Seconds, res.RecordsPerSec, res.MBPerSec = pres.Seconds, pres.RecordsPerSec, pres.MBPerSec
	res.Latency = pres.Latency
	l := e2e.Snapshot().Summary()
	res.EndToEnd = &l
	res.Errors += pres.Errors
	if res.FirstError == "" {
		res.FirstError = pres.FirstError
	}
	if res.Records < pres.Records {
		return res, fmt.Errorf("consumed %d of the %d records produced", res.Records, pres.Records)
	}
	return res, nil
}
