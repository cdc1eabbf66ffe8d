package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
)

// Stage is the step of a record's way through the worker where an error
// happened, named as Kafka names it in logs and DLQ headers.
type Stage string

// The stages.
const (
	StageKeyConverter    Stage = "KEY_CONVERTER"
	StageValueConverter  Stage = "VALUE_CONVERTER"
	StageHeaderConverter Stage = "HEADER_CONVERTER"
	StageTransformation  Stage = "TRANSFORMATION"
	StageTaskPut         Stage = "TASK_PUT"
	StageTaskPoll        Stage = "TASK_POLL"
	StageKafkaProduce    Stage = "KAFKA_PRODUCE"
	StageKafkaConsume    Stage = "KAFKA_CONSUME"
)

// The headers of dead-letter records, as Kafka's.
const (
	HeaderPrefix           = "__connect.errors."
	HeaderOrigTopic        = HeaderPrefix + "topic"
	HeaderOrigPartition    = HeaderPrefix + "partition"
	HeaderOrigOffset       = HeaderPrefix + "offset"
	HeaderConnectorName    = HeaderPrefix + "connector.name"
	HeaderTaskID           = HeaderPrefix + "task.id"
	HeaderStage            = HeaderPrefix + "stage"
	HeaderExecutingClass   = HeaderPrefix + "class.name"
	HeaderExceptionClass   = HeaderPrefix + "exception.class.name"
	HeaderExceptionMessage = HeaderPrefix + "exception.message"
	HeaderExceptionTrace   = HeaderPrefix + "exception.stacktrace"
)

// retryDelayMin is the first pause between retries; it doubles up to
// errors.retry.delay.max.ms, as Kafka's.
const retryDelayMin = 300 * time.Millisecond

// errorHandler is Kafka's RetryWithToleranceOperator: it runs an operation
// of a stage, retries retriable failures within errors.retry.timeout, and
// then either fails the task (errors.tolerance=none) or skips the record,
// logging it (errors.log.enable) and sending it to the dead-letter queue
// (sinks with errors.deadletterqueue.topic.name).
type errorHandler struct {
	connector    string
	task         int
	retryTimeout time.Duration // <0: forever
	maxDelay     time.Duration
	tolerateAll  bool
	logEnable    bool
	logMessages  bool
	log          *slog.Logger
	dlq          *deadLetterQueue

	mu      sync.Mutex
	skipped int64
}

func newErrorHandler(connector string, task int, cfg *configdef.Values, log *slog.Logger) *errorHandler {
	rt := cfg.Int(ErrorsRetryTimeout)
	h := &errorHandler{
		connector:    connector,
		task:         task,
		retryTimeout: time.Duration(rt) * time.Millisecond,
		maxDelay:     cfg.Duration(ErrorsRetryMaxDelay),
		tolerateAll:  cfg.String(ErrorsTolerance) == "all",
		logEnable:    cfg.Bool(ErrorsLogEnable),
		logMessages:  cfg.Bool(ErrorsLogIncludeMessage),
		log:          log,
	}
	if rt < 0 {
		h.retryTimeout = -1
	}
	return h
}

// failedRecord is what the handler knows of the record being processed.
type failedRecord struct {
	consumed *kgo.Record           // a sink's consumed record
	source   *connect.SourceRecord // a source's polled record
}

// toleranceError is the error that fails a task when a failure is not
// tolerated.
type toleranceError struct{ err error }

func (e *toleranceError) Error() string {
	return "Tolerance exceeded in error handler: " + e.err.Error()
}
func (e *toleranceError) Unwrap() error { return e.err }

// run runs op for a stage. It returns ok=false when the record failed and
// is to be skipped; a non-nil error when the task must fail.
func (h *errorHandler) run(ctx context.Context, stage Stage, class string, rec failedRecord, op func() error) (bool, error) {
	err := h.retry(ctx, op)
	if err == nil {
		return true, nil
	}
	if !h.tolerateAll {
		return false, &toleranceError{err: fmt.Errorf("stage %s, class %s: %w", stage, class, err)}
	}
	return false, h.report(ctx, stage, class, rec, err)
}

// retry runs op, retrying retriable errors with exponential backoff until
// the retry timeout.
func (h *errorHandler) retry(ctx context.Context, op func() error) error {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || !connect.IsRetriable(err) {
			return err
		}
		if h.retryTimeout >= 0 && time.Since(start) >= h.retryTimeout {
			return err
		}
		delay := retryDelayMin << min(attempt-1, 20)
		if delay > h.maxDelay {
			delay = time.Duration(rand.Int64N(int64(h.maxDelay) + 1))
		}
		if h.retryTimeout >= 0 {
			if left := h.retryTimeout - time.Since(start); delay > left {
				delay = left
			}
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return err
		}
	}
}

// report logs a tolerated failure and sends the record to the DLQ.
func (h *errorHandler) report(ctx context.Context, stage Stage, class string, rec failedRecord, err error) error {
	h.mu.Lock()
	h.skipped++
	h.mu.Unlock()
	if h.logEnable {
		attrs := []any{"task", fmt.Sprintf("%s-%d", h.connector, h.task), "stage", string(stage), "class", class, "error", err}
		if c := rec.consumed; c != nil {
			attrs = append(attrs, "topic", c.Topic, "partition", c.Partition, "offset", c.Offset, "timestamp", c.Timestamp.UnixMilli())
			if h.logMessages {
				attrs = append(attrs, "key", string(c.Key), "value", string(c.Value))
			}
		}
		if s := rec.source; s != nil && h.logMessages {
			attrs = append(attrs, "topic", s.Topic, "key", fmt.Sprint(s.Key), "value", fmt.Sprint(s.Value),
				"source_partition", fmt.Sprint(s.SourcePartition), "source_offset", fmt.Sprint(s.SourceOffset))
		}
		h.log.Error("Error encountered in task", attrs...)
	}
	if h.dlq != nil && rec.consumed != nil {
		return h.dlq.send(ctx, stage, class, h.task, rec.consumed, err)
	}
	return nil
}

// deadLetterQueue sends failed sink records to a topic: the consumed key,
// value and headers as they were, with the __connect.errors.* headers when
// context headers are on.
type deadLetterQueue struct {
	topic          string
	connector      string
	contextHeaders bool
	client         *kgo.Client

	mu      sync.Mutex
	sendErr error
}

// newDeadLetterQueue creates the topic if it is missing (one partition,
// the configured replication factor) and a producer for it.
func newDeadLetterQueue(ctx context.Context, connector string, cfg *configdef.Values, opts []kgo.Opt) (*deadLetterQueue, error) {
	topic := cfg.String(DLQTopic)
	cl, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic(topic))...)
	if err != nil {
		return nil, fmt.Errorf("dead letter queue producer: %w", err)
	}
	adm := kadm.NewClient(cl)
	rf := int16(cfg.Int(DLQReplicationFactor))
	resp, err := adm.CreateTopic(ctx, 1, rf, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		cl.Close()
		return nil, fmt.Errorf("create dead letter queue topic %s (replication factor %d): %w", topic, rf, err)
	}
	return &deadLetterQueue{topic: topic, connector: connector, contextHeaders: cfg.Bool(DLQContextHeaders), client: cl}, nil
}

func (q *deadLetterQueue) send(ctx context.Context, stage Stage, class string, task int, c *kgo.Record, cause error) error {
	r := &kgo.Record{Topic: q.topic, Key: c.Key, Value: c.Value, Timestamp: c.Timestamp}
	r.Headers = append(r.Headers, c.Headers...)
	if q.contextHeaders {
		add := func(k, v string) { r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)}) }
		add(HeaderOrigTopic, c.Topic)
		add(HeaderOrigPartition, strconv.Itoa(int(c.Partition)))
		add(HeaderOrigOffset, strconv.FormatInt(c.Offset, 10))
		add(HeaderConnectorName, q.connector)
		add(HeaderTaskID, strconv.Itoa(task))
		add(HeaderStage, string(stage))
		add(HeaderExecutingClass, class)
		root := cause
		for {
			next := errors.Unwrap(root)
			if next == nil {
				break
			}
			root = next
		}
		add(HeaderExceptionClass, fmt.Sprintf("%T", root))
		add(HeaderExceptionMessage, cause.Error())
		add(HeaderExceptionTrace, fmt.Sprintf("%+v", cause))
	}
	q.client.Produce(ctx, r, func(_ *kgo.Record, err error) {
		if err != nil {
			q.mu.Lock()
			if q.sendErr == nil {
				q.sendErr = fmt.Errorf("could not produce message to dead letter queue topic %s: %w", q.topic, err)
			}
			q.mu.Unlock()
		}
	})
	return nil
}

// flush waits for every record sent so far; a failed send fails the task,
// so that no offset is committed past a record lost on its way to the DLQ.
func (q *deadLetterQueue) flush(ctx context.Context) error {
	if err := q.client.Flush(ctx); err != nil {
		return fmt.Errorf("flush dead letter queue: %w", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.sendErr
}

func (q *deadLetterQueue) close() { q.client.Close() }
