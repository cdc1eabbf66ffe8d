package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connect"
)

// sourceTask runs one source task: poll, transform, convert, produce, and
// store the offsets of what reached Kafka every offset.flush.interval.ms
// and when stopping.
type sourceTask struct {
	connector string
	id        int
	task      connect.SourceTask
	props     map[string]string
	conv      *converters
	chain     *chain
	errs      *errorHandler
	client    *kgo.Client
	admin     *kadm.Client
	store     OffsetStore
	interval  time.Duration
	flushWait time.Duration
	log       *slog.Logger
	status    *taskStatus
	topics    *topicSet
	gate      *pauseGate
	// txn is set for an exactly-once task (exactlyonce.go): offsets are
	// stored only in its transactions.
	txn *txnState

	// Topic creation (topic.creation.default.*): the topics known to exist.
	create        bool
	createParts   int32
	createRF      int16
	createConfigs map[string]*string
	created       map[string]bool

	sub      *submitted
	mu       sync.Mutex
	sendErr  error
	lastSend time.Time
}

type sourceContext struct {
	t *sourceTask
}

func (c sourceContext) Configs() map[string]string { return maps.Clone(c.t.props) }
func (c sourceContext) Logger() *slog.Logger       { return c.t.log }

func (c sourceContext) Offset(p map[string]any) (map[string]any, error) {
	return c.t.store.Get(c.t.connector, p)
}

// run runs the task until ctx is done or it fails.
func (t *sourceTask) run(ctx context.Context) error {
	defer t.client.Close()
	defer t.chain.close()
	if t.txn != nil {
		if err := t.prepareTransactions(ctx); err != nil {
			return err
		}
	}
	if err := t.task.Start(sourceContext{t}, t.props); err != nil {
		return fmt.Errorf("start source task: %w", err)
	}
	t.status.set(StateRunning, "")
	err := t.loop(ctx)
	// Stop the task, wait for what was sent, and store its offsets.
	if serr := t.task.Stop(); serr != nil && err == nil {
		err = fmt.Errorf("stop source task: %w", serr)
	}
	if t.txn != nil {
		return t.finishTransaction(err)
	}
	fctx, cancel := context.WithTimeout(context.Background(), t.flushWait)
	defer cancel()
	if ferr := t.client.Flush(fctx); ferr != nil {
		t.log.Warn("connect: records still in flight at shutdown; their offsets are not stored", "error", ferr)
	}
	if cerr := t.commit(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

func (t *sourceTask) loop(ctx context.Context) error {
	last := time.Now()
	for ctx.Err() == nil {
		if t.gate.isPaused() {
			// Store what reached Kafka before holding still; a
			// connector-defined transaction ends only if the task asked.
			pauseCommit := t.commit
			if t.txn != nil && t.txn.tctx != nil {
				pauseCommit = t.batchBoundary
			}
			if err := pauseCommit(); err != nil {
				return err
			}
			t.gate.wait(ctx)
			continue
		}
		recs, err := t.task.Poll(ctx)
		if err != nil {
			if connect.IsRetriable(err) {
				t.log.Warn("connect: source task poll failed, retrying", "error", err)
				select {
				case <-time.After(retryDelayMin):
				case <-ctx.Done():
				}
				continue
			}
			return fmt.Errorf("poll: %w", err)
		}
		for _, r := range recs {
			if err := t.send(ctx, r); err != nil {
				return err
			}
			if t.txn != nil && t.txn.tctx != nil {
				if err := t.recordBoundary(r); err != nil {
					return err
				}
			}
		}
		if err := t.failed(); err != nil {
			return err
		}
		if t.txn != nil && t.txn.tctx != nil {
			if err := t.batchBoundary(); err != nil {
				return err
			}
		}
		due := time.Since(last) >= t.interval
		if t.txn != nil {
			due = t.txn.due(len(recs) > 0)
		}
		if due {
			if err := t.commit(); err != nil {
				return err
			}
			last = time.Now()
		}
	}
	return nil
}

func (t *sourceTask) failed() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sendErr
}

// send transforms, converts and produces one record.
func (t *sourceTask) send(ctx context.Context, r *connect.SourceRecord) error {
	sub := t.sub.add(r.SourcePartition, r.SourceOffset)
	fr := failedRecord{source: r}
	out, err := t.chain.apply(ctx, t.errs, fr, r)
	if err != nil {
		return err
	}
	if out == nil {
		t.dropped(r, sub)
		return nil
	}
	b := out.Base()
	kr := &kgo.Record{Topic: b.Topic, Timestamp: b.Timestamp}
	var cerr error
	steps := []struct {
		stage Stage
		class string
		op    func() error
	}{
		{StageKeyConverter, t.conv.keyClass, func() error {
			kr.Key, cerr = t.conv.key.FromConnectData(b.Topic, b.Headers, b.KeySchema, b.Key)
			return cerr
		}},
		{StageValueConverter, t.conv.valueClass, func() error {
			kr.Value, cerr = t.conv.value.FromConnectData(b.Topic, b.Headers, b.ValueSchema, b.Value)
			return cerr
		}},
		{StageHeaderConverter, t.conv.headerClass, func() error {
			kr.Headers = kr.Headers[:0]
			for _, h := range b.Headers {
				v, err := t.conv.header.FromConnectHeader(b.Topic, h.Key, h.Schema, h.Value)
				if err != nil {
					return err
				}
				kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: v})
			}
			return nil
		}},
	}
	for _, s := range steps {
		ok, err := t.errs.run(ctx, s.stage, s.class, fr, s.op)
		if err != nil {
			return err
		}
		if !ok {
			t.dropped(r, sub)
			return nil
		}
	}
	if b.Partition != nil {
		kr.Partition = *b.Partition
		kr.Context = context.WithValue(context.Background(), manualPartition{}, true)
	}
	if err := t.ensureTopic(ctx, b.Topic); err != nil {
		return err
	}
	t.topics.add(b.Topic)
	pctx := ctx
	if t.txn != nil {
		// A transaction's records are not given up when the task stops:
		// its last commit waits for them.
		pctx = context.Background()
		if err := t.beginTransaction(); err != nil {
			return err
		}
	}
	t.client.Produce(pctx, kr, func(kr *kgo.Record, err error) {
		if err != nil {
			if errors.Is(err, context.Canceled) && ctx.Err() != nil && t.txn == nil {
				return // stopping: the record was not sent and its offset is not stored
			}
			if t.errs.tolerateAll && t.txn == nil {
				t.log.Error("connect: failed to send a record to Kafka, skipped (errors.tolerance=all)", "topic", kr.Topic, "error", err)
				sub.ack()
				return
			}
			t.mu.Lock()
			if t.sendErr == nil {
				t.sendErr = fmt.Errorf("send a record to topic %s: %w", kr.Topic, err)
			}
			t.mu.Unlock()
			return
		}
		sub.ack()
		if rc, ok := t.task.(connect.RecordCommitter); ok {
			md := &connect.RecordMetadata{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Timestamp: kr.Timestamp}
			if t.txn != nil {
				// Handed to the task once the transaction commits.
				t.mu.Lock()
				t.txn.acked = append(t.txn.acked, ackedRecord{r, md})
				t.mu.Unlock()
				return
			}
			if err := rc.CommitRecord(r, md); err != nil {
				t.log.Warn("connect: source task CommitRecord failed", "error", err)
			}
		}
	})
	return nil
}

// dropped acknowledges a record a transform dropped or error tolerance
// skipped: its offset may be stored.
func (t *sourceTask) dropped(r *connect.SourceRecord, sub *submission) {
	sub.ack()
	if rc, ok := t.task.(connect.RecordCommitter); ok {
		if err := rc.CommitRecord(r, nil); err != nil {
			t.log.Warn("connect: source task CommitRecord failed", "error", err)
		}
	}
}

// commit stores the offsets of records that reached Kafka; an
// exactly-once task commits its transaction instead.
func (t *sourceTask) commit() error {
	if t.txn != nil {
		return t.commitTransaction()
	}
	entries, pending := t.sub.committable()
	if len(entries) > 0 {
		if err := t.store.Set(t.connector, entries); err != nil {
			return fmt.Errorf("store offsets: %w", err)
		}
		if err := t.store.Flush(); err != nil {
			t.log.Error("connect: failed to write the offsets file; will try again", "error", err)
			return nil
		}
		t.log.Debug("connect: stored source offsets", "partitions", len(entries), "pending", pending)
	}
	if err := t.task.Commit(); err != nil {
		t.log.Warn("connect: source task Commit failed", "error", err)
	}
	return nil
}

// ensureTopic creates a topic the task writes to, the first time, when
// topic creation is configured (topic.creation.default.*).
func (t *sourceTask) ensureTopic(ctx context.Context, topic string) error {
	if !t.create || t.created[topic] {
		return nil
	}
	resp, err := t.admin.CreateTopic(ctx, t.createParts, t.createRF, t.createConfigs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s (topic.creation.default.*): %w", topic, err)
	}
	if err == nil {
		t.log.Info("connect: created topic", "topic", topic, "partitions", t.createParts, "replication_factor", t.createRF)
	}
	t.created[topic] = true
	return nil
}

// topicCreation reads the default group of topic.creation.*: both
// replication.factor and partitions must be set to turn it on.
func (t *sourceTask) topicCreation(enabled bool, conn map[string]string) error {
	t.created = map[string]bool{}
	def := prefixed(conn, TopicCreationDefault)
	rf, hasRF := def["replication.factor"]
	parts, hasParts := def["partitions"]
	if !enabled || (!hasRF && !hasParts) {
		return nil
	}
	if !hasRF || !hasParts {
		return connect.ConfigErrorf("topic creation needs both %sreplication.factor and %spartitions", TopicCreationDefault, TopicCreationDefault)
	}
	r, err := strconv.ParseInt(strings.TrimSpace(rf), 10, 16)
	if err != nil || (r < 1 && r != -1) {
		return connect.ConfigErrorf("%sreplication.factor=%s: want -1 or a positive number", TopicCreationDefault, rf)
	}
	p, err := strconv.ParseInt(strings.TrimSpace(parts), 10, 32)
	if err != nil || (p < 1 && p != -1) {
		return connect.ConfigErrorf("%spartitions=%s: want -1 or a positive number", TopicCreationDefault, parts)
	}
	t.create, t.createRF, t.createParts = true, int16(r), int32(p)
	t.createConfigs = map[string]*string{}
	for k, v := range def {
		if k != "replication.factor" && k != "partitions" && !strings.HasPrefix(k, "include") && !strings.HasPrefix(k, "exclude") {
			t.createConfigs[k] = &v
		}
	}
	return nil
}

// manualPartition marks records whose connector chose the partition.
type manualPartition struct{}

// partitioner keeps a partition a connector chose, and otherwise
// partitions as Kafka's producer does (murmur2 of the key, sticky batches
// for records without one).
type partitioner struct{ inner kgo.Partitioner }

func newPartitioner() kgo.Partitioner { return partitioner{inner: kgo.StickyKeyPartitioner(nil)} }

func (p partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return &topicPartitioner{inner: p.inner.ForTopic(topic)}
}

type topicPartitioner struct{ inner kgo.TopicPartitioner }

func isManual(r *kgo.Record) bool {
	return r.Context != nil && r.Context.Value(manualPartition{}) != nil
}

func (p *topicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return isManual(r) || p.inner.RequiresConsistency(r)
}

func (p *topicPartitioner) Partition(r *kgo.Record, n int) int {
	if isManual(r) {
		return int(r.Partition)
	}
	return p.inner.Partition(r, n)
}

func (p *topicPartitioner) OnNewBatch() {
	if nb, ok := p.inner.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}
