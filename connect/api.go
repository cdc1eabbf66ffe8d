package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/data"
)

// Connector is the part of a connector that runs once per connector: it
// reads the connector's settings and splits the work into task configs.
type Connector interface {
	// Version is the connector's version, shown by the REST API.
	Version() string
	// Config describes the connector's own settings.
	Config() *configdef.Def
	// Start begins with the connector's settings (the whole connector
	// config, common settings included).
	Start(ctx ConnectorContext, props map[string]string) error
	// TaskConfigs returns at most maxTasks task configs, one per task.
	TaskConfigs(maxTasks int) ([]map[string]string, error)
	// Stop ends the connector.
	Stop() error
}

// ConnectorContext lets a connector talk to the worker that runs it.
type ConnectorContext interface {
	// RequestTaskReconfiguration asks the worker to call TaskConfigs again
	// and restart the tasks if their configs changed.
	RequestTaskReconfiguration()
	// RaiseError marks the connector failed with err.
	RaiseError(err error)
}

// SourceConnector is a connector that reads from elsewhere into Kafka.
type SourceConnector interface {
	Connector
	NewTask() SourceTask
}

// SinkConnector is a connector that writes Kafka topics elsewhere.
type SinkConnector interface {
	Connector
	NewTask() SinkTask
}

// SourceTask reads records from a source. The worker calls Start, then Poll
// in a loop from one goroutine; to stop, it cancels Poll's context, waits
// for Poll to return, and calls Stop. A task never sees two calls at once.
type SourceTask interface {
	Version() string
	Start(ctx SourceTaskContext, props map[string]string) error
	// Poll returns the next records, or none (nil, nil) when there are none
	// yet: it should wait a little for data rather than spin, and return
	// promptly when ctx is done. An error fails the task, unless it wraps a
	// *RetriableError, in which case Poll is called again.
	Poll(ctx context.Context) ([]*SourceRecord, error)
	// Commit is called after the worker stored the offsets of the records
	// that reached Kafka.
	Commit() error
	Stop() error
}

// RecordCommitter is implemented by source tasks that want to know when
// each record reached Kafka (or was dropped by a transform: md is nil).
type RecordCommitter interface {
	CommitRecord(r *SourceRecord, md *RecordMetadata) error
}

// RecordMetadata is where a source record was written.
type RecordMetadata struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
}

// SourceTaskContext lets a source task read its stored offsets.
type SourceTaskContext interface {
	// Configs returns the task's config.
	Configs() map[string]string
	// Logger is the worker's logger, with the connector and task.
	Logger() *slog.Logger
	// Offset returns the last stored offset of a source partition, nil if
	// none.
	Offset(partition map[string]any) (map[string]any, error)
	// TransactionContext lets the task define its transactions; nil
	// unless the worker runs exactly-once sources and the connector has
	// transaction.boundary=connector (Kafka returns null then too).
	TransactionContext() TransactionContext
}

// SinkTask writes records to a sink. Put receives records in order per
// partition; Flush must make everything put so far durable, after which
// the worker commits the Kafka offsets.
type SinkTask interface {
	Version() string
	Start(ctx SinkTaskContext, props map[string]string) error
	// Put hands over records. An error fails the task, unless it wraps a
	// *RetriableError: then the same records are put again after a pause.
	Put(records []*SinkRecord) error
	// Flush writes out what Put received, up to the offsets given (the next
	// offset to consume per partition).
	Flush(offsets map[TopicPartition]int64) error
	Stop() error
}

// PreCommitter is implemented by sink tasks that choose which offsets the
// worker commits; without it the worker calls Flush and commits the
// offsets it passed.
type PreCommitter interface {
	PreCommit(offsets map[TopicPartition]int64) (map[TopicPartition]int64, error)
}

// PartitionOpener is implemented by sink tasks that want to know when they
// gain and lose partitions (a consumer group rebalance).
type PartitionOpener interface {
	Open(partitions []TopicPartition) error
	Close(partitions []TopicPartition) error
}

// SinkTaskContext lets a sink task steer its consumer.
type SinkTaskContext interface {
	Configs() map[string]string
	// Logger is the worker's logger, with the connector and task.
	Logger() *slog.Logger
	// SetOffsets makes the consumer continue from these offsets.
	SetOffsets(offsets map[TopicPartition]int64)
	// Timeout sets the pause before records are put again after a
	// retriable error.
	Timeout(d time.Duration)
	// Assignment returns the partitions the task consumes.
	Assignment() []TopicPartition
	Pause(partitions ...TopicPartition)
	Resume(partitions ...TopicPartition)
	// RequestCommit asks for an offset commit soon.
	RequestCommit()
	// ErrantRecordReporter reports records the task cannot write to the
	// dead-letter queue (when errors.tolerance=all); nil when error
	// reporting is off.
	ErrantRecordReporter() ErrantRecordReporter
}

// ErrantRecordReporter takes records a sink task could not process.
type ErrantRecordReporter interface {
	Report(r *SinkRecord, err error) error
}

// Converter turns record keys or values into Kafka bytes and back. nil
// bytes are Kafka's null (a tombstone value).
type Converter interface {
	// Configure is called once, with isKey telling keys from values.
	Configure(props map[string]string, isKey bool) error
	Config() *configdef.Def
	FromConnectData(topic string, headers Headers, schema *data.Schema, value any) ([]byte, error)
	ToConnectData(topic string, headers Headers, value []byte) (*data.Schema, any, error)
}

// HeaderConverter turns header values into bytes and back.
type HeaderConverter interface {
	Configure(props map[string]string) error
	Config() *configdef.Def
	FromConnectHeader(topic, key string, schema *data.Schema, value any) ([]byte, error)
	ToConnectHeader(topic, key string, value []byte) (*data.Schema, any, error)
}

// Transformation is a single message transform: it returns the record
// changed, or nil to drop it.
type Transformation interface {
	Configure(props map[string]string) error
	Config() *configdef.Def
	Apply(r AnyRecord) (AnyRecord, error)
	Close() error
}

// Predicate decides whether a transform applies to a record.
type Predicate interface {
	Configure(props map[string]string) error
	Config() *configdef.Def
	Test(r AnyRecord) bool
	Close() error
}

// RetriableError marks a failure worth retrying: a source task's Poll or
// a sink task's Put is called again, and error handling retries a
// converter or transform within errors.retry.timeout.
type RetriableError struct{ Err error }

func (e *RetriableError) Error() string { return "retriable: " + e.Err.Error() }
func (e *RetriableError) Unwrap() error { return e.Err }

// Retriable wraps err as a *RetriableError.
func Retriable(err error) error { return &RetriableError{Err: err} }

// IsRetriable reports whether err wraps a *RetriableError.
func IsRetriable(err error) bool {
	var r *RetriableError
	return errors.As(err, &r)
}

// ConfigError is a bad setting; it wraps the details.
type ConfigError struct {
	Msg string
	Err error
}

func (e *ConfigError) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}
func (e *ConfigError) Unwrap() error { return e.Err }

// ConfigErrorf returns a *ConfigError.
func ConfigErrorf(format string, args ...any) error {
	return &ConfigError{Msg: fmt.Sprintf(format, args...)}
}
