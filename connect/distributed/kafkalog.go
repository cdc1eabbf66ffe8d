package distributed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaLog is one of the worker's internal topics read as a log, as Kafka
// Connect's KafkaBasedLog: a consumer reads every partition from the start
// and hands each record to apply, in order per partition, for as long as
// the worker runs; a producer writes to it. readToEnd waits until every
// record written before the call has been applied, which is how a worker
// knows its view of configs, offsets or statuses is current.
type kafkaLog struct {
	topic string
	apply func(*kgo.Record)
	// committed logs are read with read_committed (the offset topic with
	// exactly-once sources): records of open or aborted transactions are
	// never applied, and readToEnd waits for the last stable offset.
	committed bool
	log       *slog.Logger
	consumer  *kgo.Client
	producer  *kgo.Client
	admin     *kadm.Client

	mu      sync.Mutex
	changed *sync.Cond
	next    map[int32]int64 // next offset to apply, per partition

	cancel context.CancelFunc
	done   chan struct{}
}

// topicSpec is how to create an internal topic.
type topicSpec struct {
	name       string
	partitions int32
	rf         int16
}

// ensureTopic creates a compacted internal topic when it is missing, as
// Kafka Connect does, and checks the config topic has one partition.
func ensureTopic(ctx context.Context, adm *kadm.Client, spec topicSpec, onePartition bool, log *slog.Logger) error {
	compact := "compact"
	resp, err := adm.CreateTopic(ctx, spec.partitions, spec.rf, map[string]*string{"cleanup.policy": &compact}, spec.name)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		log.Info("connect: created internal topic", "topic", spec.name, "partitions", spec.partitions, "replication_factor", spec.rf)
	case errors.Is(err, kerr.TopicAlreadyExists):
	default:
		return fmt.Errorf("create internal topic %s: %w", spec.name, err)
	}
	if onePartition {
		var details kadm.TopicDetails
		for {
			details, err = adm.ListTopics(ctx, spec.name)
			if err == nil && details[spec.name].Err == nil && len(details[spec.name].Partitions) > 0 {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("describe internal topic %s: %w", spec.name, errors.Join(err, ctx.Err()))
			case <-time.After(100 * time.Millisecond):
			}
		}
		if n := len(details[spec.name].Partitions); n != 1 {
			return fmt.Errorf("topic %s is the config topic and must have exactly one partition; it has %d", spec.name, n)
		}
	}
	return nil
}

// openLog starts reading a topic. opts are the clients' base options
// (bootstrap servers, client id). Control records (transaction markers) are
// kept, to count their offsets as read, and not applied: a topic written
// in transactions (by exactly-once tasks, or by Kafka's transactional
// leader) ends with a marker that readToEnd must see to finish.
func openLog(topic string, opts []kgo.Opt, apply func(*kgo.Record), log *slog.Logger, committed bool) (*kafkaLog, error) {
	l := &kafkaLog{topic: topic, apply: apply, log: log, committed: committed, next: map[int32]int64{}, done: make(chan struct{})}
	l.changed = sync.NewCond(&l.mu)
	var err error
	isolation := kgo.ReadUncommitted()
	if committed {
		isolation = kgo.ReadCommitted()
	}
	l.consumer, err = kgo.NewClient(append(append([]kgo.Opt{}, opts...),
		kgo.ConsumeTopics(topic),
		kgo.KeepControlRecords(),
		kgo.FetchIsolationLevel(isolation),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.MetadataMinAge(time.Second))...)
	if err != nil {
		return nil, fmt.Errorf("consumer of %s: %w", topic, err)
	}
	l.producer, err = kgo.NewClient(append(append([]kgo.Opt{}, opts...),
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(0),
		kgo.RequiredAcks(kgo.AllISRAcks()))...)
	if err != nil {
		l.consumer.Close()
		return nil, fmt.Errorf("producer of %s: %w", topic, err)
	}
	l.admin = kadm.NewClient(l.producer)
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go l.run(ctx)
	return l, nil
}

func (l *kafkaLog) run(ctx context.Context) {
	defer close(l.done)
	for {
		fetches := l.consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fetches.EachError(func(_ string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			l.log.Warn("connect: reading an internal topic failed; retrying", "topic", l.topic, "partition", p, "error", err)
		})
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 {
				return
			}
			for _, r := range p.Records {
				if !r.Attrs.IsControl() {
					l.apply(r)
				}
			}
			l.mu.Lock()
			l.next[p.Partition] = p.Records[len(p.Records)-1].Offset + 1
			l.changed.Broadcast()
			l.mu.Unlock()
		})
	}
}

// readToEnd waits until every record in the topic when it was called has
// been applied: up to the high watermark, or for a committed log the last
// stable offset (what is before the first open transaction).
func (l *kafkaLog) readToEnd(ctx context.Context) error {
	list := l.admin.ListEndOffsets
	if l.committed {
		list = l.admin.ListCommittedOffsets
	}
	ends, err := list(ctx, l.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("end offsets of %s: %w", l.topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { want[o.Partition] = o.Offset })
	return l.waitFor(ctx, want)
}

// waitFor waits until each partition's records before the given offsets
// have been applied.
func (l *kafkaLog) waitFor(ctx context.Context, want map[int32]int64) error {
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.changed.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		behind := false
		for p, end := range want {
			if l.next[p] < end {
				behind = true
			}
		}
		if !behind {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read %s to its end: %w", l.topic, err)
		}
		l.changed.Wait()
	}
}

// send writes a record and waits until Kafka has it; it returns its
// partition and offset. A nil value is a tombstone.
func (l *kafkaLog) send(ctx context.Context, key string, value []byte) (int32, int64, error) {
	r := &kgo.Record{Key: []byte(key), Value: value}
	if err := l.producer.ProduceSync(ctx, r).FirstErr(); err != nil {
		return 0, 0, fmt.Errorf("write %s to %s: %w", key, l.topic, err)
	}
	return r.Partition, r.Offset, nil
}

// sendAll writes records and waits for all of them.
func (l *kafkaLog) sendAll(ctx context.Context, recs []*kgo.Record) error {
	if err := l.producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("write to %s: %w", l.topic, err)
	}
	return nil
}

// sendAsync writes a record without waiting; failures are logged.
func (l *kafkaLog) sendAsync(key string, value []byte) {
	l.producer.Produce(context.Background(), &kgo.Record{Key: []byte(key), Value: value}, func(r *kgo.Record, err error) {
		if err != nil && !errors.Is(err, kgo.ErrClientClosed) {
			l.log.Warn("connect: write to an internal topic failed", "topic", l.topic, "key", string(r.Key), "error", err)
		}
	})
}

// waitApplied waits until the record at offset of partition has been
// applied.
func (l *kafkaLog) waitApplied(ctx context.Context, partition int32, offset int64) error {
	return l.waitFor(ctx, map[int32]int64{partition: offset + 1})
}

// position returns the next offset to apply of a partition.
func (l *kafkaLog) position(partition int32) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next[partition]
}

// close stops reading, and flushes and closes the producer.
func (l *kafkaLog) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.producer.Flush(ctx)
	l.producer.Close()
	l.cancel()
	<-l.done
	l.consumer.Close()
}
