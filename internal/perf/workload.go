package perf

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Common are the settings every workload shares.
type Common struct {
	Brokers []string
	Topic   string
	// Partitions > 0 creates the topic with this many partitions
	// (replication factor 1) if it does not exist yet.
	Partitions int
	// TopicConfigs are the created topic's configs (flush.messages, ...).
	TopicConfigs map[string]string
	// Records stops the workload after this many records; Duration after
	// this long. At least one must be set; the first reached wins.
	Records  int64
	Duration time.Duration
	// Interval between progress reports; Progress nil means none.
	Interval time.Duration
	Progress func(Progress)
	// ClientOpts are extra kgo options for every client (tests, TLS, ...).
	ClientOpts []kgo.Opt
}

func (c *Common) check() error {
	if len(c.Brokers) == 0 {
		return errors.New("no bootstrap brokers")
	}
	if c.Topic == "" {
		return errors.New("no topic")
	}
	if c.Records <= 0 && c.Duration <= 0 {
		return errors.New("set a record count or a duration")
	}
	if c.Records < 0 || c.Duration < 0 || c.Partitions < 0 {
		return errors.New("negative record count, duration or partition count")
	}
	return nil
}

// Result is a workload's final summary.
type Result struct {
	Workload      string  `json:"workload"`
	Topic         string  `json:"topic"`
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	RecordSize    int     `json:"record_size,omitempty"`
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	Errors        int64   `json:"errors"`
	FirstError    string  `json:"first_error,omitempty"`
	// Latency is the produce acknowledgement latency (produce, e2e).
	Latency *Latency `json:"latency,omitempty"`
	// EndToEnd is the produce-to-consume latency (e2e).
	EndToEnd *Latency `json:"end_to_end,omitempty"`
}

func (r *Result) finish(records, bytes int64, elapsed time.Duration) {
	r.Records, r.Bytes = records, bytes
	r.Seconds = elapsed.Seconds()
	if r.Seconds > 0 {
		r.RecordsPerSec = float64(records) / r.Seconds
		r.MBPerSec = float64(bytes) / 1e6 / r.Seconds
	}
}

// Progress is one interval's report.
type Progress struct {
	Workload      string
	Elapsed       time.Duration
	Records       int64 // so far
	RecordsPerSec float64
	MBPerSec      float64
	// Latency over the interval (zero Count when the workload has none).
	Latency Latency
}

// meter counts what a workload has done and reports it every interval.
type meter struct {
	records, bytes atomic.Int64
	errors         atomic.Int64
	firstErr       atomic.Pointer[string]
	hist           *Histogram // the latency reported in progress lines
	name           string     // the workload named in progress lines
}

func (m *meter) fail(err error) {
	m.errors.Add(1)
	s := err.Error()
	m.firstErr.CompareAndSwap(nil, &s)
}

func (m *meter) firstError() string {
	if p := m.firstErr.Load(); p != nil {
		return *p
	}
	return ""
}

// report runs until ctx ends, calling c.Progress every c.Interval.
func (m *meter) report(ctx context.Context, c *Common, start time.Time) {
	if c.Progress == nil || c.Interval <= 0 {
		return
	}
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	var (
		lastRecs, lastBytes int64
		lastSnap            *Snapshot
		last                = start
	)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			recs, bytes := m.records.Load(), m.bytes.Load()
			secs := now.Sub(last).Seconds()
			p := Progress{Workload: m.name, Elapsed: now.Sub(start), Records: recs}
			if secs > 0 {
				p.RecordsPerSec = float64(recs-lastRecs) / secs
				p.MBPerSec = float64(bytes-lastBytes) / 1e6 / secs
			}
			if m.hist != nil {
				snap := m.hist.Snapshot()
				p.Latency = snap.Sub(lastSnap).Summary()
				lastSnap = snap
			}
			lastRecs, lastBytes, last = recs, bytes, now
			c.Progress(p)
		}
	}
}

// ensureTopic creates the topic when asked to; an existing topic is fine.
func ensureTopic(ctx context.Context, c *Common) error {
	if c.Partitions <= 0 {
		return nil
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Brokers...)}, c.ClientOpts...)...)
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	defer cl.Close()
	var configs map[string]*string
	for k, v := range c.TopicConfigs {
		if configs == nil {
			configs = map[string]*string{}
		}
		configs[k] = &v
	}
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, int32(c.Partitions), 1, configs, c.Topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", c.Topic, err)
	}
	return nil
}

// Payload is the source of record values: random bytes, so that compression
// and any deduplication see incompressible data, as real encrypted or
// compressed payloads are. Consecutive records take consecutive,
// non-overlapping slices of a pool, so no batch repeats itself.
type payload struct {
	pool []byte
	size int
	next atomic.Int64
}

const payloadPool = 8 << 20

func newPayload(size int, seed uint64) *payload {
	n := max(payloadPool, 4*size)
	pool := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 's', 'l', 'u', 'i', 'c', 'e'})
	r.Read(pool)
	return &payload{pool: pool, size: size}
}

// value returns the next record value; it must not be modified.
func (p *payload) value() []byte {
	slots := int64(len(p.pool) / max(p.size, 1))
	i := p.next.Add(1) % slots
	off := int(i) * p.size
	return p.pool[off : off+p.size : off+p.size]
}

// pacer spaces calls to reach a target rate: wait blocks until the i-th
// event is due. Bursts are bounded to a millisecond's worth so that a late
// start does not turn into a flood.
type pacer struct {
	start time.Time
	every time.Duration // 0: unlimited
}

func newPacer(perSecond float64) *pacer {
	p := &pacer{start: time.Now()}
	if perSecond > 0 {
		p.every = time.Duration(float64(time.Second) / perSecond)
	}
	return p
}

func (p *pacer) wait(ctx context.Context, i int64) error {
	if p.every <= 0 {
		return nil
	}
	due := p.start.Add(time.Duration(i) * p.every)
	d := time.Until(due)
	if d < -time.Millisecond {
		// Behind: move the schedule rather than burst to catch up.
		p.start = p.start.Add(-d - time.Millisecond)
		return nil
	}
	if d <= 0 {
		return nil
	}
	if d < 50*time.Microsecond {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ParseAcks reads acks as Kafka spells it: all, -1, 0 or 1.
func ParseAcks(s string) (int, error) {
	switch strings.ToLower(s) {
	case "all", "-1":
		return -1, nil
	case "0":
		return 0, nil
	case "1":
		return 1, nil
	}
	return 0, fmt.Errorf("acks %q: want all, -1, 0 or 1", s)
}

// codec maps a compression.type name to kgo's codec.
func codec(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("compression %q: want none, gzip, snappy, lz4 or zstd", name)
}
