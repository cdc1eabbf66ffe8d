package runtime

// Exactly-once source tasks (KIP-618), as Kafka's ExactlyOnceWorkerSourceTask:
// the task's producer is transactional; the records of a transaction and
// the source offsets of those records are written in the same transaction
// (the offsets to the offset topic), and nothing else stores offsets. A
// transaction ends at a boundary (transaction.boundary): after each poll
// that returned records, or every transaction.boundary.interval.ms. A
// producer fenced by a newer one with its transactional.id (the same task
// started elsewhere, or the leader fencing a generation of tasks) cannot
// commit: the task fails, and what it sent since its last commit is
// aborted.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/offsets"
)

// Source connector settings of KIP-618, with Kafka's names.
const (
	ExactlyOnceSupportConfig    = "exactly.once.support"
	TransactionBoundary         = "transaction.boundary"
	TransactionBoundaryInterval = "transaction.boundary.interval.ms"
	ConnectorOffsetsTopic       = "offsets.storage.topic"
)

// Transaction boundaries.
const (
	BoundaryPoll      = "poll"
	BoundaryInterval  = "interval"
	BoundaryConnector = "connector"
)

// exactlyOnceKeys are the source connector settings of KIP-618.
func exactlyOnceKeys() []configdef.Key {
	return []configdef.Key{
		{Name: ExactlyOnceSupportConfig, Type: configdef.String, Default: "requested", Validator: configdef.OneOf(false, "requested", "required"),
			Importance: configdef.Medium, Group: "Exactly Once Support",
			Doc: "Permitted values are requested, required. If set to \"required\", forces a preflight check for the connector to ensure that it can provide exactly-once semantics with the given configuration. Only checked when the worker has exactly.once.source.support=enabled."},
		{Name: TransactionBoundary, Type: configdef.String, Default: BoundaryPoll, Validator: configdef.OneOf(false, BoundaryPoll, BoundaryInterval, BoundaryConnector),
			Importance: configdef.Medium, Group: "Exactly Once Support",
			Doc: "Permitted values are: poll, interval, connector. If set to 'poll', a new producer transaction will be started and committed for every batch of records that each task from this connector provides to Connect. If set to 'connector', relies on connector-defined transaction boundaries; note that not all connectors are capable of defining their own transaction boundaries, and in that case, attempts to instantiate a connector with this value will fail. Finally, if set to 'interval', commits transactions only after a user-defined time interval has passed."},
		{Name: TransactionBoundaryInterval, Type: configdef.Long, Validator: configdef.AtLeast(0), Importance: configdef.Low, Group: "Exactly Once Support",
			Doc: "If 'transaction.boundary' is set to 'interval', determines the interval for producer transaction commits by connector tasks. If unset, defaults to the value of the worker-level 'offset.flush.interval.ms' property."},
		{Name: ConnectorOffsetsTopic, Type: configdef.String, Default: "", Importance: configdef.Low, Group: "Exactly Once Support",
			Doc: "Not supported by this worker: source offsets always live in the worker's offset.storage.topic."},
	}
}

// validateExactlyOnce adds the errors of a source connector's KIP-618
// settings. As in Kafka, exactly.once.support and transaction.boundary are
// checked against the connector only when the worker runs exactly-once
// sources.
func (h *Herder) validateExactlyOnce(conn connect.Connector, props map[string]string, v *Validation) {
	if strings.TrimSpace(props[ConnectorOffsetsTopic]) != "" {
		v.add(ConnectorOffsetsTopic, "Per-connector offset topics are not supported by this worker: source offsets are stored in the worker's offset.storage.topic. Remove this setting.")
	}
	if !h.eos {
		return
	}
	if strings.TrimSpace(props[TransactionBoundary]) == BoundaryConnector {
		support := connect.TransactionBoundariesUnsupported
		if tc, ok := conn.(connect.TransactionBoundarySourceConnector); ok {
			support = tc.CanDefineTransactionBoundaries(props)
		}
		if support != connect.TransactionBoundariesSupported {
			v.add(TransactionBoundary, "The connector does not support connector-defined transaction boundaries with the given configuration. Please reconfigure it to use a different transaction boundary definition.")
		}
	}
	if strings.TrimSpace(props[ExactlyOnceSupportConfig]) == "required" {
		support := connect.ExactlyOnceUnknown
		if ec, ok := conn.(connect.ExactlyOnceSourceConnector); ok {
			support = ec.ExactlyOnceSupport(props)
		}
		switch support {
		case connect.ExactlyOnceUnsupported:
			v.add(ExactlyOnceSupportConfig, "The connector does not support exactly-once semantics with the provided configuration.")
		case connect.ExactlyOnceUnknown:
			v.add(ExactlyOnceSupportConfig, "The connector does not implement the API required for preflight validation of exactly-once source support. Please consult the documentation for the connector to determine whether it supports exactly-once semantics, and then consider reconfiguring the connector to use the value \"requested\" for this property (which will disable this preflight check and allow the connector to be created).")
		}
	}
}

// Transactional makes a source task exactly-once.
type Transactional struct {
	// ID is the producer's transactional.id: Kafka's
	// <group.id>-<connector>-<task>.
	ID string
	// OffsetRecords returns the records (topic, key, value) that store a
	// connector's source offsets; they are sent in the transaction.
	OffsetRecords func(connector string, entries []offsets.Entry) ([]*kgo.Record, error)
	// ReadOffsets reads the committed offsets to their end. It is called
	// once the producer has fenced earlier producers with its
	// transactional.id, before the task starts: no zombie can commit
	// offsets after that read.
	ReadOffsets func(ctx context.Context) error
}

// txnState is a transactional source task's transaction.
type txnState struct {
	spec     Transactional
	boundary string
	interval time.Duration
	open     bool      // a transaction was begun and not ended
	last     time.Time // when the last transaction ended
	acked    []ackedRecord
	// tctx is the task's TransactionContext with
	// transaction.boundary=connector, nil otherwise.
	tctx *txnContext
}

// ackedRecord is a record Kafka acknowledged, for RecordCommitter once its
// transaction commits.
type ackedRecord struct {
	rec *connect.SourceRecord
	md  *connect.RecordMetadata
}

// newTxnState reads the connector's boundary settings.
func newTxnState(spec Transactional, conn *configdef.Values, flushInterval time.Duration) (*txnState, error) {
	ts := &txnState{spec: spec, boundary: conn.String(TransactionBoundary), interval: flushInterval, last: time.Now()}
	if ts.boundary == "" {
		ts.boundary = BoundaryPoll
	}
	if ts.boundary == BoundaryConnector {
		ts.tctx = newTxnContext()
	}
	if conn.Has(TransactionBoundaryInterval) {
		ts.interval = conn.Duration(TransactionBoundaryInterval)
	}
	if spec.OffsetRecords == nil {
		return nil, fmt.Errorf("transactional source task %s: no offset records", spec.ID)
	}
	return ts, nil
}

// due reports whether the transaction ends now: after a poll that gave
// records (poll), or once the interval has passed (interval); never with
// connector-defined boundaries (the loop asks the TransactionContext).
func (ts *txnState) due(polled bool) bool {
	switch ts.boundary {
	case BoundaryConnector:
		return false // the task's TransactionContext says when
	case BoundaryInterval:
		return time.Since(ts.last) >= ts.interval
	}
	return polled || ts.open
}

// prepareTransactions initializes the producer, which fences any earlier
// producer of the transactional.id (the broker aborts its open
// transaction), then reads the offsets committed until then.
func (t *sourceTask) prepareTransactions(ctx context.Context) error {
	ictx, cancel := context.WithTimeout(ctx, t.flushWait+30*time.Second)
	defer cancel()
	if _, _, err := t.client.ProducerID(ictx); err != nil {
		return fmt.Errorf("initialize the transactional producer (transactional.id %s): %w", t.txn.spec.ID, err)
	}
	if t.txn.spec.ReadOffsets != nil {
		if err := t.txn.spec.ReadOffsets(ictx); err != nil {
			return fmt.Errorf("read the offset topic to its end: %w", err)
		}
	}
	return nil
}

// beginTransaction opens a transaction when none is.
func (t *sourceTask) beginTransaction() error {
	if t.txn.open {
		return nil
	}
	if err := t.client.BeginTransaction(); err != nil {
		return fmt.Errorf("begin a transaction (transactional.id %s): %w", t.txn.spec.ID, err)
	}
	t.txn.open = true
	return nil
}

// commitTransaction waits for the transaction's records, adds the offsets
// of what was acknowledged, and commits. Any failure fails the task: its
// transaction is aborted and it resumes from the last committed offsets
// when restarted.
func (t *sourceTask) commitTransaction() error {
	ts := t.txn
	ctx, cancel := context.WithTimeout(context.Background(), t.flushWait)
	defer cancel()
	if ts.open {
		if err := t.client.Flush(ctx); err != nil {
			return fmt.Errorf("wait for the records of the transaction: %w", err)
		}
	}
	if err := t.failed(); err != nil {
		return err
	}
	entries, _ := t.sub.committable()
	if !ts.open && len(entries) == 0 {
		ts.last = time.Now()
		if err := t.task.Commit(); err != nil {
			t.log.Warn("connect: source task Commit failed", "error", err)
		}
		return nil
	}
	if err := t.beginTransaction(); err != nil {
		return err
	}
	if len(entries) > 0 {
		recs, err := ts.spec.OffsetRecords(t.connector, entries)
		if err != nil {
			return fmt.Errorf("encode source offsets: %w", err)
		}
		if err := t.client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("write source offsets in the transaction: %w", err)
		}
	}
	if err := t.client.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("commit the transaction (transactional.id %s): %w", ts.spec.ID, err)
	}
	ts.open = false
	ts.last = time.Now()
	t.mu.Lock()
	acked := ts.acked
	ts.acked = nil
	t.mu.Unlock()
	t.log.Debug("connect: committed a transaction", "partitions", len(entries), "records", len(acked))
	if rc, ok := t.task.(connect.RecordCommitter); ok {
		for _, a := range acked {
			if err := rc.CommitRecord(a.rec, a.md); err != nil {
				t.log.Warn("connect: source task CommitRecord failed", "error", err)
			}
		}
	}
	if err := t.task.Commit(); err != nil {
		t.log.Warn("connect: source task Commit failed", "error", err)
	}
	return nil
}

// abortTransaction aborts the open transaction, if any, dropping what is
// still buffered. A fenced producer cannot abort either; the broker aborts
// its transaction when the newer producer starts.
func (t *sourceTask) abortTransaction() {
	if !t.txn.open {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.flushWait)
	defer cancel()
	if err := t.client.AbortBufferedRecords(ctx); err != nil {
		t.log.Warn("connect: dropping the records of a failed transaction", "error", err)
	}
	if err := t.client.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.log.Warn("connect: aborting the transaction failed", "transactional_id", t.txn.spec.ID, "error", err)
	}
	t.txn.open = false
}

// finishTransaction ends the task's last transaction when it stops:
// committed when the task stops cleanly, aborted when it failed. A task
// stopped because it is replaced (new task configs, or it moved) may find
// its producer already fenced: its transaction is then aborted, which is
// no failure of the task.
func (t *sourceTask) finishTransaction(runErr error) error {
	if runErr != nil {
		t.abortTransaction()
		return runErr
	}
	commit := t.commitTransaction
	if t.txn.tctx != nil {
		// Only what the task asked for: a transaction it did not end is
		// aborted, its offsets not committed (Kafka leaves it open until
		// the next producer fences it).
		commit = func() error {
			if err := t.batchBoundary(); err != nil {
				return err
			}
			if t.txn.open {
				t.log.Info("connect: the stopping task's open transaction was not committed by the connector; aborting it")
				t.abortTransaction()
			}
			return nil
		}
	}
	if err := commit(); err != nil {
		t.abortTransaction()
		if fenced(err) {
			t.log.Warn("connect: the stopping task's producer was fenced by a newer one; its last transaction is aborted", "error", err)
			return nil
		}
		return err
	}
	return nil
}

// fenced reports whether an error says a newer producer took over the
// transactional id.
func fenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
}
