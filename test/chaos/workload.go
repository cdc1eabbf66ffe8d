package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// WorkloadConfig shapes the producers and consumers.
type WorkloadConfig struct {
	// Topic is created by Setup. Default "chaos".
	Topic string
	// Partitions of the topic. Default 4.
	Partitions int32
	// ReplicationFactor of the topic: default min(3, brokers). MinInsyncReplicas is
	// min.insync.replicas: default 2 when the replication factor is 3 or more.
	ReplicationFactor int16
	MinInsyncReplicas int
	// Durable sets flush.messages=1 on the topic: acknowledgement waits for fsync.
	Durable bool
	// Producers and Consumers are how many of each run. Defaults 3 and 2; a
	// negative count means none (a run whose only reader is the final read).
	Producers int
	Consumers int
	// Rate is the records per second each producer sends. Default 100.
	Rate int
	// MaxInFlight bounds each producer's records sent and not yet answered.
	// Default 16.
	MaxInFlight int
	// DeliveryTimeout is how long a record may stay unacknowledged before the
	// producer gives up on it (its outcome is then unknown). Default 20s.
	DeliveryTimeout time.Duration
	// Reseek is the longest a consumer keeps one assignment: it then restarts at
	// positions of its choosing (where it was, a little before, or the beginning).
	// Default 15s.
	Reseek time.Duration
	// Seed drives the partition each record goes to and the consumers' choices.
	Seed uint64
	// ClientLog, if set, receives the franz-go clients' own log at info level, each
	// line tagged with its process: what a client did about an error the history
	// only shows the effect of (a reset of its position, a retry elsewhere).
	ClientLog io.Writer

	// Txn makes the workload transactional (txn_workload.go): the producers write
	// transactions across partitions, committed or aborted at random, and
	// consume-transform-produce processors read and write in transactions of a
	// consumer group. The fields below shape it.
	Txn bool
	// TxnWrites is the most records a producer's transaction writes; each writes at
	// least 2, to at least 2 partitions when there are. Default 4.
	TxnWrites int
	// TxnRate is the transactions per second each producer begins. Default 5.
	TxnRate int
	// AbortRatio is the share of transactions ended with an abort on purpose.
	// Default 0.25; negative means none.
	AbortRatio float64
	// TxnTimeout is the producers' transaction.timeout.ms. Default 20s.
	TxnTimeout time.Duration
	// Processors is how many consume-transform-produce members (franz-go's
	// GroupTransactSession) share the group ProcessorGroup. Default 2; negative
	// means none.
	Processors int
}

// ProcessorGroup is the consumer group of the transactional workload's processors.
const ProcessorGroup = "chaos-processors"

func (c WorkloadConfig) withDefaults(brokers int) WorkloadConfig {
	if c.Topic == "" {
		c.Topic = "chaos"
	}
	if c.Partitions <= 0 {
		c.Partitions = 4
	}
	if c.ReplicationFactor <= 0 {
		c.ReplicationFactor = int16(min(3, brokers))
	}
	if c.MinInsyncReplicas <= 0 && c.ReplicationFactor >= 3 {
		c.MinInsyncReplicas = 2
	}
	if c.Producers == 0 {
		c.Producers = 3
	}
	if c.Consumers == 0 {
		c.Consumers = 2
	}
	if c.Rate <= 0 {
		c.Rate = 100
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 16
	}
	if c.DeliveryTimeout <= 0 {
		c.DeliveryTimeout = 20 * time.Second
	}
	if c.Reseek <= 0 {
		c.Reseek = 15 * time.Second
	}
	if c.TxnWrites < 2 {
		c.TxnWrites = 4
	}
	if c.TxnRate <= 0 {
		c.TxnRate = 5
	}
	if c.AbortRatio == 0 {
		c.AbortRatio = 0.25
	}
	if c.TxnTimeout <= 0 {
		c.TxnTimeout = 20 * time.Second
	}
	if c.Processors == 0 {
		c.Processors = 2
	}
	return c
}

// Workload runs franz-go producers and consumers with Kafka's safe settings (acks=all,
// idempotence, read_committed, offsets managed by hand) and records every operation.
//
// A run goes: Setup, Start, (faults), StopProducers, CatchUp, StopConsumers,
// FinalRead.
type Workload struct {
	cfg    WorkloadConfig
	seeds  []string
	rec    *Recorder
	logger *slog.Logger

	stopProducers context.CancelFunc
	stopConsumers context.CancelFunc
	producers     sync.WaitGroup
	consumers     sync.WaitGroup
	sendCtx       context.Context // records in flight; cancelled only at the very end
	cancelSends   context.CancelFunc

	acked   atomic.Int64
	lastAck atomic.Int64 // recorder time of the last acknowledgement
	// ackedSent holds, per partition, the latest recorder time at which a record
	// that was then acknowledged had been sent: writes sent after t have succeeded
	// when it is past t.
	ackedSent []atomic.Int64
	positions []*consumerPositions
}

// consumerPositions is a consumer's next offset per partition, read by CatchUp.
type consumerPositions struct {
	mu   sync.Mutex
	next map[int32]int64
}

func (p *consumerPositions) snapshot() map[int32]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int32]int64, len(p.next))
	for k, v := range p.next {
		out[k] = v
	}
	return out
}

// NewWorkload prepares a workload against the given seed brokers, of a cluster of
// that many brokers (pure controllers not counted).
func NewWorkload(cfg WorkloadConfig, brokers int, seeds []string, rec *Recorder, logger *slog.Logger) *Workload {
	cfg = cfg.withDefaults(brokers)
	w := &Workload{cfg: cfg, seeds: seeds, rec: rec, logger: logger, ackedSent: make([]atomic.Int64, cfg.Partitions)}
	w.sendCtx, w.cancelSends = context.WithCancel(context.Background())
	return w
}

// Config returns the configuration with defaults filled in.
func (w *Workload) Config() WorkloadConfig { return w.cfg }

// Acked returns how many sends were acknowledged so far.
func (w *Workload) Acked() int64 { return w.acked.Load() }

// WroteSince reports whether a record sent to partition p after t (recorder time)
// has been acknowledged.
func (w *Workload) WroteSince(p int32, t int64) bool {
	return p >= 0 && int(p) < len(w.ackedSent) && w.ackedSent[p].Load() > t
}

// client makes a franz-go client for process.
func (w *Workload) client(process string, opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(w.clientOpts(process, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("new franz-go client: %w", err)
	}
	return cl, nil
}

// clientOpts are the options of every client of process, then opts.
func (w *Workload) clientOpts(process string, opts ...kgo.Opt) []kgo.Opt {
	logger := kgo.BasicLogger(discard{}, kgo.LogLevelNone, nil)
	if w.cfg.ClientLog != nil {
		logger = kgo.BasicLogger(w.cfg.ClientLog, kgo.LogLevelInfo, func() string {
			return time.Now().UTC().Format("15:04:05.000000 ") + process + " "
		})
	}
	base := []kgo.Opt{
		kgo.SeedBrokers(w.seeds...),
		kgo.ClientID("sluice-chaos"),
		kgo.DialTimeout(2 * time.Second),
		kgo.RequestTimeoutOverhead(5 * time.Second),
		kgo.RetryTimeout(time.Minute),
		kgo.MetadataMinAge(250 * time.Millisecond),
		kgo.WithLogger(logger),
	}
	return append(base, opts...)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Setup creates the topic and waits until every partition has a leader.
func (w *Workload) Setup(ctx context.Context) error {
	cl, err := w.client("setup")
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	configs := map[string]*string{}
	if w.cfg.MinInsyncReplicas > 0 {
		configs["min.insync.replicas"] = kadm.StringPtr(strconv.Itoa(w.cfg.MinInsyncReplicas))
	}
	if w.cfg.Durable {
		configs["flush.messages"] = kadm.StringPtr("1")
	}
	err = WaitFor(ctx, "topic "+w.cfg.Topic+" created", func(ctx context.Context) (bool, error) {
		resp, err := adm.CreateTopic(ctx, w.cfg.Partitions, w.cfg.ReplicationFactor, configs, w.cfg.Topic)
		if err == nil {
			err = resp.Err
		}
		return err == nil || errors.Is(err, kerr.TopicAlreadyExists), err
	})
	if err != nil {
		return err
	}
	return WaitFor(ctx, "leaders for every partition of "+w.cfg.Topic, func(ctx context.Context) (bool, error) {
		md, err := adm.Metadata(ctx, w.cfg.Topic)
		if err != nil {
			return false, err
		}
		td := md.Topics[w.cfg.Topic]
		if td.Err != nil {
			return false, td.Err
		}
		if len(td.Partitions) != int(w.cfg.Partitions) {
			return false, fmt.Errorf("%d partitions", len(td.Partitions))
		}
		for _, p := range td.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return false, fmt.Errorf("partition %d: leader %d, %v", p.Partition, p.Leader, p.Err)
			}
		}
		return true, nil
	})
}

// Start launches the producers and consumers.
func (w *Workload) Start() error {
	pctx, stopP := context.WithCancel(context.Background())
	cctx, stopC := context.WithCancel(context.Background())
	w.stopProducers, w.stopConsumers = stopP, stopC
	producers := w.cfg.Producers
	if w.cfg.Txn {
		w.startTxn(pctx)
		producers = 0 // the transactional producers replace the plain ones
	}
	for i := range producers {
		cl, err := w.client(fmt.Sprintf("producer-%d", i),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.RecordDeliveryTimeout(w.cfg.DeliveryTimeout),
			kgo.ProducerLinger(time.Millisecond),
			kgo.MaxBufferedRecords(2*w.cfg.MaxInFlight),
			kgo.UnknownTopicRetries(-1),
		)
		if err != nil {
			stopP()
			stopC()
			return err
		}
		rng := rand.New(rand.NewPCG(w.cfg.Seed, uint64(1000+i)))
		w.producers.Go(func() { w.produce(pctx, cl, i, rng) })
	}
	for i := range w.cfg.Consumers {
		pos := &consumerPositions{next: make(map[int32]int64)}
		for p := range w.cfg.Partitions {
			pos.next[p] = 0
		}
		w.positions = append(w.positions, pos)
		rng := rand.New(rand.NewPCG(w.cfg.Seed, uint64(2000+i)))
		w.consumers.Go(func() { w.consume(cctx, i, pos, rng) })
	}
	return nil
}

// produce sends unique values ("<producer>-<seq>") at the configured rate to random
// partitions, each as one operation, with up to MaxInFlight unanswered.
func (w *Workload) produce(ctx context.Context, cl *kgo.Client, i int, rng *rand.Rand) {
	process := fmt.Sprintf("producer-%d", i)
	defer func() {
		// Give records in flight their full delivery timeout to be answered; whatever
		// is still unanswered after that is recorded as unknown.
		fctx, cancel := context.WithTimeout(w.sendCtx, w.cfg.DeliveryTimeout+10*time.Second)
		defer cancel()
		if err := cl.Flush(fctx); err != nil {
			w.logger.Warn("producer flush", "producer", i, "err", err)
		}
		cl.Close()
	}()
	slots := make(chan struct{}, w.cfg.MaxInFlight)
	tick := time.NewTicker(time.Second / time.Duration(w.cfg.Rate))
	defer tick.Stop()
	for seq := 0; ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case <-ctx.Done():
			return
		case slots <- struct{}{}:
		}
		p := rng.Int32N(w.cfg.Partitions)
		v := fmt.Sprintf("%d-%d", i, seq)
		sent := w.rec.Now()
		id := w.rec.Invoke(process, KindSend, []Record{{Partition: p, Offset: -1, Value: v}})
		cl.Produce(w.sendCtx, &kgo.Record{Topic: w.cfg.Topic, Partition: p, Value: []byte(v)}, func(r *kgo.Record, err error) {
			<-slots
			if err != nil {
				w.rec.Complete(id, sendOutcome(err), nil, err)
				return
			}
			w.rec.Complete(id, OK, []Record{{Partition: r.Partition, Offset: r.Offset, Value: v}}, nil)
			w.acked.Add(1)
			w.lastAck.Store(w.rec.Now())
			storeMax(&w.ackedSent[p], sent)
		})
	}
}

// storeMax raises a to v if v is larger.
func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// sendOutcome classifies a failed send. Only an error the broker gave for the
// request itself, and which Kafka does not retry, means the record was not written;
// any other failure (a timeout, a broken connection, retries running out) may have
// followed a write whose answer was lost.
func sendOutcome(err error) Outcome {
	var ke *kerr.Error
	if errors.As(err, &ke) && !ke.Retriable {
		return Fail
	}
	return Info
}

// consume reads every partition from explicit positions. Each assignment lasts a
// random time up to Reseek; the consumer then closes its client and starts a new one
// where it left off, a little before, or at the beginning.
func (w *Workload) consume(ctx context.Context, i int, pos *consumerPositions, rng *rand.Rand) {
	process := fmt.Sprintf("consumer-%d", i)
	for ctx.Err() == nil {
		start := pos.snapshot()
		var assign []Record
		offsets := make(map[int32]kgo.Offset)
		for p := range w.cfg.Partitions {
			assign = append(assign, Record{Partition: p, Offset: start[p]})
			offsets[p] = kgo.NewOffset().At(start[p])
		}
		cl, err := w.client(process,
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.cfg.Topic: offsets}),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.FetchMaxWait(500*time.Millisecond),
		)
		if err != nil {
			w.logger.Error("consumer client", "consumer", i, "err", err)
			return
		}
		id := w.rec.Invoke(process, KindAssign, assign)
		w.rec.Complete(id, OK, nil, nil)

		until := time.Now().Add(time.Duration(rng.Int64N(int64(w.cfg.Reseek))) + time.Second)
		for ctx.Err() == nil && time.Now().Before(until) {
			w.poll(ctx, cl, process, pos)
		}
		cl.Close()

		// Where to start next: mostly where it was; sometimes a little before (it
		// reads again what it read, which is no reorder: the assignment is new);
		// sometimes the beginning.
		switch r := rng.IntN(10); {
		case r < 6:
		case r < 9:
			pos.mu.Lock()
			for p, o := range pos.next {
				pos.next[p] = max(0, o-rng.Int64N(50))
			}
			pos.mu.Unlock()
		default:
			pos.mu.Lock()
			for p := range pos.next {
				pos.next[p] = 0
			}
			pos.mu.Unlock()
		}
	}
}

// poll records one PollFetches as an operation, if it returned records or errors.
func (w *Workload) poll(ctx context.Context, cl *kgo.Client, process string, pos *consumerPositions) {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	id := w.rec.Invoke(process, KindPoll, nil)
	fetches := cl.PollFetches(pctx)
	var recs []Record
	fetches.EachRecord(func(r *kgo.Record) {
		recs = append(recs, Record{Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)})
	})
	var errs []error
	for _, fe := range fetches.Errors() {
		if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, kgo.ErrClientClosed) {
			continue
		}
		errs = append(errs, fmt.Errorf("partition %d: %w", fe.Partition, fe.Err))
	}
	if len(recs) == 0 && len(errs) == 0 {
		w.rec.Discard(id)
		return
	}
	w.rec.Complete(id, OK, recs, errors.Join(errs...))
	pos.mu.Lock()
	for _, r := range recs {
		pos.next[r.Partition] = r.Offset + 1
	}
	pos.mu.Unlock()
}

// StopProducers stops sending and waits until every record sent has been answered or
// has run out of delivery time.
func (w *Workload) StopProducers() {
	w.stopProducers()
	w.producers.Wait()
	w.cancelSends()
}

// EndOffsets lists each partition's end offset (the high watermark).
func (w *Workload) EndOffsets(ctx context.Context) (map[int32]int64, error) {
	cl, err := w.client("end-offsets")
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var ends map[int32]int64
	err = WaitFor(ctx, "end offsets of "+w.cfg.Topic, func(ctx context.Context) (bool, error) {
		offs, err := kadm.NewClient(cl).ListEndOffsets(ctx, w.cfg.Topic)
		if err != nil {
			return false, err
		}
		ends = make(map[int32]int64)
		var errs []error
		offs.Each(func(o kadm.ListedOffset) {
			if o.Err != nil {
				errs = append(errs, fmt.Errorf("partition %d: %w", o.Partition, o.Err))
			}
			ends[o.Partition] = o.Offset
		})
		if len(errs) > 0 {
			return false, errors.Join(errs...)
		}
		return len(ends) == int(w.cfg.Partitions), nil
	})
	return ends, err
}

// CatchUp waits until every consumer's position has reached ends in every partition.
func (w *Workload) CatchUp(ctx context.Context, ends map[int32]int64) error {
	return WaitFor(ctx, "consumers to reach the end offsets", func(context.Context) (bool, error) {
		for i, pos := range w.positions {
			next := pos.snapshot()
			for p, end := range ends {
				if next[p] < end {
					return false, fmt.Errorf("consumer %d at %d of %d in partition %d", i, next[p], end, p)
				}
			}
		}
		return true, nil
	})
}

// StopConsumers stops the consumers and waits for them.
func (w *Workload) StopConsumers() {
	w.stopConsumers()
	w.consumers.Wait()
}

// FinalRead reads every partition from offset 0 up to ends with a new consumer,
// recorded as the process FinalReader.
func (w *Workload) FinalRead(ctx context.Context, ends map[int32]int64) error {
	offsets := make(map[int32]kgo.Offset)
	var assign []Record
	remaining := make(map[int32]bool)
	for p, end := range ends {
		offsets[p] = kgo.NewOffset().At(0)
		assign = append(assign, Record{Partition: p, Offset: 0})
		if end > 0 {
			remaining[p] = true
		}
	}
	cl, err := w.client(FinalReader,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.cfg.Topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	id := w.rec.Invoke(FinalReader, KindAssign, assign)
	w.rec.Complete(id, OK, nil, nil)
	var lastErr error
	for len(remaining) > 0 {
		if ctx.Err() != nil {
			return fmt.Errorf("final read: %w with partitions %v short of %v (last error: %v)", ctx.Err(), remaining, ends, lastErr)
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		id := w.rec.Invoke(FinalReader, KindPoll, nil)
		fetches := cl.PollFetches(pctx)
		cancel()
		var recs []Record
		fetches.EachRecord(func(r *kgo.Record) {
			recs = append(recs, Record{Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)})
			if r.Offset >= ends[r.Partition]-1 {
				delete(remaining, r.Partition)
			}
		})
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				lastErr = fe.Err
			}
		}
		if len(recs) == 0 {
			w.rec.Discard(id)
			continue
		}
		w.rec.Complete(id, OK, recs, nil)
	}
	return nil
}
