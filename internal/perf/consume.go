package perf

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ConsumeConfig describes a consume workload: Consumers clients share the
// topic's partitions (assigned directly, without a group) and read from
// the log start (or, for e2e, from the log end) until Records records or
// Duration.
type ConsumeConfig struct {
	Common
	Consumers int
	// FetchMaxBytes and FetchMaxPartitionBytes bound one fetch (0: kgo's
	// defaults, 50 MiB and 1 MiB).
	FetchMaxBytes          int
	FetchMaxPartitionBytes int
}

func (c *ConsumeConfig) check() error {
	if err := c.Common.check(); err != nil {
		return err
	}
	if c.Consumers < 0 || c.FetchMaxBytes < 0 || c.FetchMaxPartitionBytes < 0 {
		return errors.New("negative consumers or fetch sizes")
	}
	return nil
}

// Consume runs a consume workload from the start of the log.
func Consume(ctx context.Context, cfg ConsumeConfig) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if err := ensureTopic(ctx, &cfg.Common); err != nil {
		return nil, err
	}
	starts, err := listOffsets(ctx, &cfg.Common, false)
	if err != nil {
		return nil, err
	}
	m := &meter{name: "consume"}
	var target atomic.Int64
	target.Store(cfg.Records)
	res, err := consume(ctx, &cfg, starts, m, nil, nil, &target)
	if res != nil {
		res.Workload = "consume"
	}
	return res, err
}

// listOffsets returns every partition's start (or end) offset.
func listOffsets(ctx context.Context, c *Common, end bool) (map[int32]int64, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Brokers...)}, c.ClientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var listed kadm.ListedOffsets
	// A topic created a moment ago may not be known everywhere yet.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if end {
			listed, err = adm.ListEndOffsets(ctx, c.Topic)
		} else {
			listed, err = adm.ListStartOffsets(ctx, c.Topic)
		}
		if err == nil {
			err = listed.Error()
		}
		if err == nil && len(listed[c.Topic]) > 0 {
			break
		}
		if err == nil {
			err = fmt.Errorf("topic %s has no partitions", c.Topic)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("list offsets of %s: %w", c.Topic, err)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	out := make(map[int32]int64)
	for p, o := range listed[c.Topic] {
		out[p] = o.Offset
	}
	return out, nil
}

// consume reads from the given offsets until target records (once target is
// above 0), cfg.Duration or ctx's end. e2e, when not nil, gets each record's
// end-to-end latency from the send time in its value. ready, when not nil,
// is closed once every consumer is connected.
func consume(ctx context.Context, cfg *ConsumeConfig, starts map[int32]int64, m *meter, e2e *Histogram, ready chan<- struct{}, target *atomic.Int64) (*Result, error) {
	n := max(cfg.Consumers, 1)
	parts := make([]int32, 0, len(starts))
	for p := range starts {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	n = min(n, len(parts))

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Duration > 0 {
		runCtx, cancel = context.WithTimeout(runCtx, cfg.Duration)
		defer cancel()
	}

	clients := make([]*kgo.Client, n)
	pool := new(recordPool)
	for i := range clients {
		assign := map[int32]kgo.Offset{}
		for j := i; j < len(parts); j += n {
			assign[parts[j]] = kgo.NewOffset().At(starts[parts[j]])
		}
		opts := []kgo.Opt{
			kgo.SeedBrokers(cfg.Brokers...),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: assign}),
			kgo.WithPools(pool),
		}
		if cfg.FetchMaxBytes > 0 {
			opts = append(opts, kgo.FetchMaxBytes(int32(cfg.FetchMaxBytes)))
		}
		if cfg.FetchMaxPartitionBytes > 0 {
			opts = append(opts, kgo.FetchMaxPartitionBytes(int32(cfg.FetchMaxPartitionBytes)))
		}
		cl, err := kgo.NewClient(append(opts, cfg.ClientOpts...)...)
		if err != nil {
			for _, c := range clients[:i] {
				c.Close()
			}
			return nil, fmt.Errorf("consumer client: %w", err)
		}
		clients[i] = cl
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for _, cl := range clients {
		if err := cl.Ping(ctx); err != nil {
			return nil, fmt.Errorf("connect: %w", err)
		}
	}
	if ready != nil {
		close(ready)
	}

	start := time.Now()
	repCtx, stopReport := context.WithCancel(ctx)
	defer stopReport()
	go m.report(repCtx, &cfg.Common, start)

	var (
		wg     sync.WaitGroup
		lastAt = make([]time.Time, n)
	)
	for i, cl := range clients {
		wg.Go(func() {
			for runCtx.Err() == nil {
				fs := cl.PollFetches(runCtx)
				now := time.Now()
				var recs, bytes int64
				fs.EachError(func(_ string, _ int32, err error) {
					if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
						m.fail(err)
					}
				})
				fs.EachRecord(func(r *kgo.Record) {
					recs++
					bytes += int64(len(r.Value))
					if e2e != nil && len(r.Value) >= 8 {
						sent := int64(binary.BigEndian.Uint64(r.Value))
						e2e.Record(time.Duration(now.UnixNano() - sent))
					}
					r.Recycle()
				})
				if recs == 0 {
					continue
				}
				lastAt[i] = now
				m.bytes.Add(bytes)
				if t := target.Load(); m.records.Add(recs) >= t && t > 0 {
					cancel()
				}
			}
		})
	}
	wg.Wait()
	// The run ends at the last record polled, not at the cancel.
	end := start
	for _, t := range lastAt {
		if t.After(end) {
			end = t
		}
	}
	if cfg.Duration > 0 && cfg.Records == 0 {
		end = time.Now()
	}
	stopReport()
	res := &Result{Topic: cfg.Topic}
	res.finish(m.records.Load(), m.bytes.Load(), end.Sub(start))
	res.Errors, res.FirstError = m.errors.Load(), m.firstError()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if t := target.Load(); t > 0 && res.Records < t && cfg.Duration == 0 {
		return res, fmt.Errorf("consumed %d of %d records", res.Records, t)
	}
	return res, nil
}
