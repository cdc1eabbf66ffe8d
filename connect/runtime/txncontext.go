package runtime

// Connector-defined transaction boundaries (KIP-618,
// transaction.boundary=connector): the task asks for commits and aborts
// through its TransactionContext, and the task's loop acts on them after
// the record they name was sent, or after the current batch.

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connect"
)

// txnContext is a source task's connect.TransactionContext: the requests
// it made, not yet acted on. A task may call it from any goroutine.
type txnContext struct {
	mu          sync.Mutex
	commitOn    map[*connect.SourceRecord]bool
	abortOn     map[*connect.SourceRecord]bool
	commitBatch bool
	abortBatch  bool
}

var _ connect.TransactionContext = (*txnContext)(nil)

func newTxnContext() *txnContext {
	return &txnContext{commitOn: map[*connect.SourceRecord]bool{}, abortOn: map[*connect.SourceRecord]bool{}}
}

func (c *txnContext) CommitTransaction() {
	c.mu.Lock()
	c.commitBatch = true
	c.mu.Unlock()
}

func (c *txnContext) AbortTransaction() {
	c.mu.Lock()
	c.abortBatch = true
	c.mu.Unlock()
}

// CommitTransactionAfter ignores a nil record (Kafka throws).
func (c *txnContext) CommitTransactionAfter(r *connect.SourceRecord) {
	if r == nil {
		return
	}
	c.mu.Lock()
	c.commitOn[r] = true
	c.mu.Unlock()
}

// AbortTransactionAfter ignores a nil record (Kafka throws).
func (c *txnContext) AbortTransactionAfter(r *connect.SourceRecord) {
	if r == nil {
		return
	}
	c.mu.Lock()
	c.abortOn[r] = true
	c.mu.Unlock()
}

// boundaryAction is what ends a transaction.
type boundaryAction int

const (
	keepOpen boundaryAction = iota
	commitNow
	abortNow
)

// forRecord takes the request tied to r. Both a commit and an abort of it
// is an error: the worker fails the task rather than guess, as Kafka does
// (the task could swallow an error returned to it).
func (c *txnContext) forRecord(r *connect.SourceRecord) (boundaryAction, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	commit, abort := c.commitOn[r], c.abortOn[r]
	if commit && abort {
		return keepOpen, fmt.Errorf("the connector requested both commit and abort of the transaction after the same record (topic %s)", r.Topic)
	}
	delete(c.commitOn, r)
	delete(c.abortOn, r)
	switch {
	case abort:
		return abortNow, nil
	case commit:
		return commitNow, nil
	}
	return keepOpen, nil
}

// forBatch takes the request made without a record.
func (c *txnContext) forBatch() (boundaryAction, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.commitBatch && c.abortBatch {
		return keepOpen, fmt.Errorf("the connector requested both commit and abort of the same transaction")
	}
	commit, abort := c.commitBatch, c.abortBatch
	c.commitBatch, c.abortBatch = false, false
	switch {
	case abort:
		return abortNow, nil
	case commit:
		return commitNow, nil
	}
	return keepOpen, nil
}

// TransactionContext is the task's, or nil unless the connector defines
// its transaction boundaries.
func (c sourceContext) TransactionContext() connect.TransactionContext {
	if c.t.txn == nil || c.t.txn.tctx == nil {
		return nil
	}
	return c.t.txn.tctx
}

// recordBoundary acts on a request tied to a record just sent.
func (t *sourceTask) recordBoundary(r *connect.SourceRecord) error {
	a, err := t.txn.tctx.forRecord(r)
	if err != nil {
		return err
	}
	return t.endTransactionAs(a)
}

// batchBoundary acts on a request made without a record, after a batch.
func (t *sourceTask) batchBoundary() error {
	a, err := t.txn.tctx.forBatch()
	if err != nil {
		return err
	}
	return t.endTransactionAs(a)
}

func (t *sourceTask) endTransactionAs(a boundaryAction) error {
	switch a {
	case commitNow:
		return t.commitTransaction()
	case abortNow:
		if err := t.abortRequested(); err != nil {
			return err
		}
		// As Kafka: the offsets of the aborted records are committed on
		// their own, so the task does not read them again.
		return t.commitTransaction()
	}
	return nil
}

// abortRequested aborts the open transaction at the connector's request,
// once its records were acknowledged (so their offsets are known): they
// stay invisible to read_committed consumers. A task that failed to send
// one fails.
func (t *sourceTask) abortRequested() error {
	ts := t.txn
	if !ts.open {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.flushWait)
	defer cancel()
	if err := t.client.Flush(ctx); err != nil {
		return fmt.Errorf("wait for the records of the transaction to abort: %w", err)
	}
	if err := t.failed(); err != nil {
		return err
	}
	if err := t.client.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("abort the transaction (transactional.id %s): %w", ts.spec.ID, err)
	}
	ts.open = false
	t.mu.Lock()
	acked := ts.acked
	ts.acked = nil
	t.mu.Unlock()
	t.log.Info("connect: aborted a transaction as the connector requested")
	if rc, ok := t.task.(connect.RecordCommitter); ok {
		for _, a := range acked {
			// Not written: no metadata, as for a record a transform dropped.
			if err := rc.CommitRecord(a.rec, nil); err != nil {
				t.log.Warn("connect: source task CommitRecord failed", "error", err)
			}
		}
	}
	return nil
}
