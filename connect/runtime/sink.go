package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/connect"
)

// maxPollRecords is how many records a sink task gets per Put, as Kafka's
// consumer max.poll.records default.
const maxPollRecords = 500

// sinkTask runs one sink task: consume in the group connect-<name>,
// convert, transform, put, and commit the offsets of what the task
// flushed every offset.flush.interval.ms, at a rebalance and when stopping.
// A new task starts from the group's committed offsets.
type sinkTask struct {
	connector string
	id        int
	task      connect.SinkTask
	props     map[string]string
	conv      *converters
	chain     *chain
	errs      *errorHandler
	client    *kgo.Client
	interval  time.Duration
	maxPoll   int
	flushWait time.Duration
	log       *slog.Logger
	status    *taskStatus
	topics    *topicSet
	gate      *pauseGate

	// mu guards the task against the rebalance callbacks and the state
	// below.
	mu      sync.Mutex
	started bool
	stopped bool
	// pending are the partitions assigned before the task started. franz-go
	// calls OnPartitionsAssigned from its group goroutine as soon as the
	// consumer has joined, which may be before Start returns (Kafka's
	// consumer calls its listener only inside poll, after start). They are
	// taken, and opened, once the task has started.
	pending   map[connect.TopicPartition]bool
	assigned  map[connect.TopicPartition]bool
	current   map[connect.TopicPartition]int64 // next offset to commit, per partition
	committed map[connect.TopicPartition]int64
	commitReq bool
	timeout   time.Duration
	failure   error
	originals map[*connect.SinkRecord]*kgo.Record
}

// sinkContext is the task's SinkTaskContext.
type sinkContext struct{ t *sinkTask }

func (c sinkContext) Configs() map[string]string { return maps.Clone(c.t.props) }
func (c sinkContext) Logger() *slog.Logger       { return c.t.log }

func (c sinkContext) SetOffsets(offs map[connect.TopicPartition]int64) {
	set := map[string]map[int32]kgo.EpochOffset{}
	for tp, o := range offs {
		if set[tp.Topic] == nil {
			set[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		set[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o}
		c.t.current[tp] = o
	}
	c.t.client.SetOffsets(set)
}

func (c sinkContext) Timeout(d time.Duration) { c.t.timeout = d }

func (c sinkContext) Assignment() []connect.TopicPartition { return sortedPartitions(c.t.assigned) }

// sortedPartitions are the partitions of a set, by topic and partition.
func sortedPartitions(set map[connect.TopicPartition]bool) []connect.TopicPartition {
	var out []connect.TopicPartition
	for tp := range set {
		out = append(out, tp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

func byTopic(tps []connect.TopicPartition) map[string][]int32 {
	m := map[string][]int32{}
	for _, tp := range tps {
		m[tp.Topic] = append(m[tp.Topic], tp.Partition)
	}
	return m
}

func (c sinkContext) Pause(tps ...connect.TopicPartition) {
	c.t.client.PauseFetchPartitions(byTopic(tps))
}
func (c sinkContext) Resume(tps ...connect.TopicPartition) {
	c.t.client.ResumeFetchPartitions(byTopic(tps))
}
func (c sinkContext) RequestCommit() { c.t.commitReq = true }

func (c sinkContext) ErrantRecordReporter() connect.ErrantRecordReporter { return errantReporter{c.t} }

// errantReporter takes records the task itself could not write: they go
// through error handling as the TASK_PUT stage (tolerance, log, DLQ).
type errantReporter struct{ t *sinkTask }

func (r errantReporter) Report(rec *connect.SinkRecord, cause error) error {
	t := r.t
	raw := t.originals[rec]
	if raw == nil {
		raw = &kgo.Record{Topic: rec.OriginalTopic, Partition: rec.OriginalPartition, Offset: rec.OriginalOffset, Timestamp: rec.Timestamp}
	}
	_, err := t.errs.run(context.Background(), StageTaskPut, "sink task", failedRecord{consumed: raw}, func() error { return cause })
	return err
}

// groupOptions are the consumer settings the worker owns.
func (t *sinkTask) groupOptions(topics []string, regex string) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.ConsumerGroup("connect-" + t.connector),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(t.onAssigned),
		kgo.OnPartitionsRevoked(t.onRevoked),
		kgo.OnPartitionsLost(t.onLost),
	}
	if regex != "" {
		// Kafka matches the whole topic name against topics.regex.
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics("^(?:"+regex+")$"))
	} else {
		opts = append(opts, kgo.ConsumeTopics(topics...))
	}
	return opts
}

func tps(m map[string][]int32) []connect.TopicPartition {
	var out []connect.TopicPartition
	for topic, parts := range m {
		for _, p := range parts {
			out = append(out, connect.TopicPartition{Topic: topic, Partition: p})
		}
	}
	return out
}

func (t *sinkTask) onAssigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	if !t.started {
		if t.pending == nil {
			t.pending = map[connect.TopicPartition]bool{}
		}
		for _, tp := range tps(m) {
			t.pending[tp] = true
		}
		return
	}
	t.assignLocked(tps(m))
}

// assignLocked takes newly assigned partitions and opens them in the task.
func (t *sinkTask) assignLocked(parts []connect.TopicPartition) {
	for _, tp := range parts {
		t.assigned[tp] = true
		t.topics.add(tp.Topic)
	}
	if o, ok := t.task.(connect.PartitionOpener); ok {
		if err := o.Open(parts); err != nil {
			t.fail(fmt.Errorf("open partitions: %w", err))
		}
	}
}

func (t *sinkTask) onRevoked(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dropPendingLocked(m) {
		return
	}
	parts := tps(m)
	if len(parts) == 0 {
		return
	}
	if err := t.commitLocked(ctx); err != nil {
		t.fail(err)
	}
	t.closePartitions(parts)
}

func (t *sinkTask) onLost(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dropPendingLocked(m) {
		return
	}
	t.closePartitions(tps(m))
}

// dropPendingLocked handles a revocation or loss that the running task need
// not see: before the task started, the partitions leave pending (they were
// never opened); after it stopped, nothing is left to do. It reports whether
// it handled it.
func (t *sinkTask) dropPendingLocked(m map[string][]int32) bool {
	if t.stopped {
		return true
	}
	if t.started {
		return false
	}
	for _, tp := range tps(m) {
		delete(t.pending, tp)
	}
	return true
}

func (t *sinkTask) closePartitions(parts []connect.TopicPartition) {
	if o, ok := t.task.(connect.PartitionOpener); ok {
		if err := o.Close(parts); err != nil {
			t.fail(fmt.Errorf("close partitions: %w", err))
		}
	}
	for _, tp := range parts {
		delete(t.assigned, tp)
		delete(t.current, tp)
		delete(t.committed, tp)
	}
}

func (t *sinkTask) fail(err error) {
	if t.failure == nil {
		t.failure = err
	}
}

// start starts the task, then takes the partitions assigned while it was
// starting.
func (t *sinkTask) start() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.assigned = map[connect.TopicPartition]bool{}
	t.current = map[connect.TopicPartition]int64{}
	t.committed = map[connect.TopicPartition]int64{}
	if err := t.task.Start(sinkContext{t}, t.props); err != nil {
		return err
	}
	t.started = true
	if len(t.pending) > 0 {
		parts := sortedPartitions(t.pending)
		t.pending = nil
		t.assignLocked(parts)
	}
	return nil
}

// run runs the task until ctx is done or it fails.
func (t *sinkTask) run(ctx context.Context) error {
	defer t.chain.close()
	if err := t.start(); err != nil {
		t.client.Close()
		return fmt.Errorf("start sink task: %w", err)
	}
	t.status.set(StateRunning, "")
	err := t.loop(ctx)

	// Commit what was put, stop the task, and leave the group.
	cctx, cancel := context.WithTimeout(context.Background(), t.flushWait)
	defer cancel()
	t.mu.Lock()
	if err == nil {
		err = t.commitLocked(cctx)
	}
	t.stopped = true
	if serr := t.task.Stop(); serr != nil && err == nil {
		err = fmt.Errorf("stop sink task: %w", serr)
	}
	t.mu.Unlock()
	if t.errs.dlq != nil {
		t.errs.dlq.close()
	}
	t.client.CloseAllowingRebalance()
	return err
}

func (t *sinkTask) loop(ctx context.Context) error {
	last := time.Now()
	for ctx.Err() == nil {
		if t.gate.isPaused() {
			// Commit what was put, then consume nothing until resumed;
			// the group membership lives on in the client.
			t.mu.Lock()
			err := t.commitLocked(ctx)
			t.mu.Unlock()
			if err != nil {
				return err
			}
			t.gate.wait(ctx)
			continue
		}
		// Poll no longer than the time to the next commit, so offsets are
		// committed on time when no records come; a pause ends the poll.
		wait := max(t.interval-time.Since(last), 10*time.Millisecond)
		pctx, cancel := context.WithTimeout(ctx, wait)
		unwatch := t.gate.onPause(cancel)
		fetches := t.client.PollRecords(pctx, t.maxPoll)
		unwatch()
		cancel()
		if ctx.Err() != nil {
			t.client.AllowRebalance()
			return nil
		}
		var ferr error
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, kgo.ErrClientClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			var ke *kerr.Error
			if errors.As(err, &ke) && ke.Retriable {
				t.log.Warn("connect: sink consumer fetch error, retrying", "topic", topic, "partition", p, "error", err)
				return
			}
			if ferr == nil {
				ferr = fmt.Errorf("consume %s partition %d: %w", topic, p, err)
			}
		})
		if ferr != nil {
			t.client.AllowRebalance()
			return ferr
		}
		err := t.process(ctx, fetches.Records())
		if err == nil && (t.commitReq || time.Since(last) >= t.interval) {
			t.mu.Lock()
			err = t.commitLocked(ctx)
			t.commitReq = false
			t.mu.Unlock()
			last = time.Now()
		}
		t.mu.Lock()
		if err == nil {
			err = t.failure
		}
		t.mu.Unlock()
		t.client.AllowRebalance()
		if err != nil {
			return err
		}
	}
	return nil
}

// process converts, transforms and puts one poll's records.
func (t *sinkTask) process(ctx context.Context, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	batch := make([]*connect.SinkRecord, 0, len(recs))
	t.originals = make(map[*connect.SinkRecord]*kgo.Record, len(recs))
	for _, raw := range recs {
		sr, err := t.convert(ctx, raw)
		if err != nil {
			return err
		}
		if sr != nil {
			batch = append(batch, sr)
			t.originals[sr] = raw
		}
	}
	for {
		err := t.task.Put(batch)
		if err == nil {
			break
		}
		if !connect.IsRetriable(err) {
			return fmt.Errorf("put: %w", err)
		}
		wait := t.timeout
		if wait <= 0 {
			wait = retryDelayMin
		}
		t.log.Warn("connect: sink task put failed, retrying the same records", "error", err, "after", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil // the records are not committed: they come again after a restart
		}
	}
	for _, raw := range recs {
		tp := connect.TopicPartition{Topic: raw.Topic, Partition: raw.Partition}
		t.current[tp] = raw.Offset + 1
	}
	return nil
}

// convert turns a consumed record into a sink record: key, value and
// headers through the converters, then the transforms. nil means skipped.
func (t *sinkTask) convert(ctx context.Context, raw *kgo.Record) (*connect.SinkRecord, error) {
	fr := failedRecord{consumed: raw}
	p := raw.Partition
	sr := &connect.SinkRecord{
		Record:            connect.Record{Topic: raw.Topic, Partition: &p, Timestamp: raw.Timestamp},
		Offset:            raw.Offset,
		TimestampType:     connect.TimestampType(raw.Attrs.TimestampType()),
		OriginalTopic:     raw.Topic,
		OriginalPartition: raw.Partition,
		OriginalOffset:    raw.Offset,
	}
	var err error
	steps := []struct {
		stage Stage
		class string
		op    func() error
	}{
		{StageKeyConverter, t.conv.keyClass, func() error {
			sr.KeySchema, sr.Key, err = t.conv.key.ToConnectData(raw.Topic, nil, raw.Key)
			return err
		}},
		{StageValueConverter, t.conv.valueClass, func() error {
			sr.ValueSchema, sr.Value, err = t.conv.value.ToConnectData(raw.Topic, nil, raw.Value)
			return err
		}},
		{StageHeaderConverter, t.conv.headerClass, func() error {
			sr.Headers = nil
			for _, h := range raw.Headers {
				s, v, err := t.conv.header.ToConnectHeader(raw.Topic, h.Key, h.Value)
				if err != nil {
					return err
				}
				sr.Headers = append(sr.Headers, connect.Header{Key: h.Key, Schema: s, Value: v})
			}
			return nil
		}},
	}
	for _, s := range steps {
		ok, err := t.errs.run(ctx, s.stage, s.class, fr, s.op)
		if err != nil || !ok {
			return nil, err
		}
	}
	out, err := t.chain.apply(ctx, t.errs, fr, sr)
	if err != nil || out == nil {
		return nil, err
	}
	return out.(*connect.SinkRecord), nil
}

// commitLocked flushes the task (or asks PreCommit) and commits the
// offsets it returns; t.mu is held.
func (t *sinkTask) commitLocked(ctx context.Context) error {
	if len(t.current) == 0 {
		return nil
	}
	if t.errs.dlq != nil {
		if err := t.errs.dlq.flush(ctx); err != nil {
			return err
		}
	}
	offs := maps.Clone(t.current)
	if pc, ok := t.task.(connect.PreCommitter); ok {
		var err error
		if offs, err = pc.PreCommit(offs); err != nil {
			return fmt.Errorf("pre-commit: %w", err)
		}
	} else if err := t.task.Flush(offs); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	commit := map[string]map[int32]kgo.EpochOffset{}
	for tp, o := range offs {
		if !t.assigned[tp] || t.committed[tp] == o {
			continue
		}
		if commit[tp.Topic] == nil {
			commit[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		commit[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	if len(commit) == 0 {
		return nil
	}
	var cerr error
	t.client.CommitOffsetsSync(ctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if e := kerr.ErrorForCode(rp.ErrorCode); e != nil && cerr == nil {
					cerr = fmt.Errorf("%s partition %d: %w", rt.Topic, rp.Partition, e)
				}
			}
		}
	})
	if cerr != nil {
		// Kafka logs a failed commit and tries again at the next one.
		t.log.Warn("connect: sink offset commit failed; will retry", "error", cerr)
		return nil
	}
	for topic, parts := range commit {
		for p, eo := range parts {
			t.committed[connect.TopicPartition{Topic: topic, Partition: p}] = eo.Offset
		}
	}
	return nil
}
