package connect

// ExactlyOnceSupport is what a source connector says of exactly-once
// delivery with a given config (KIP-618): whether the records it produces
// and the source offsets it gives are consistent enough that committing
// them in one Kafka transaction delivers each record exactly once.
type ExactlyOnceSupport int

const (
	// ExactlyOnceUnknown: the connector does not say (Kafka's null).
	ExactlyOnceUnknown ExactlyOnceSupport = iota
	// ExactlyOnceSupported: resuming from the stored offsets never sends a
	// record twice nor skips one.
	ExactlyOnceSupported
	// ExactlyOnceUnsupported: the connector cannot deliver exactly once.
	ExactlyOnceUnsupported
)

// ExactlyOnceSourceConnector is implemented by source connectors that
// declare whether they support exactly-once delivery, as Kafka's
// SourceConnector.exactlyOnceSupport. With exactly.once.support=required, a
// connector that does not answer ExactlyOnceSupported is refused.
type ExactlyOnceSourceConnector interface {
	ExactlyOnceSupport(props map[string]string) ExactlyOnceSupport
}

// ConnectorTransactionBoundaries is what a source connector says of
// defining its own transaction boundaries with a given config (KIP-618,
// Kafka's ConnectorTransactionBoundaries).
type ConnectorTransactionBoundaries int

const (
	// TransactionBoundariesUnsupported: the connector's tasks do not
	// define transaction boundaries (Kafka's default).
	TransactionBoundariesUnsupported ConnectorTransactionBoundaries = iota
	// TransactionBoundariesSupported: the connector's tasks define their
	// transactions through SourceTaskContext.TransactionContext.
	TransactionBoundariesSupported
)

// TransactionBoundarySourceConnector is implemented by source connectors
// whose tasks can define their own transaction boundaries, as Kafka's
// SourceConnector.canDefineTransactionBoundaries. With
// transaction.boundary=connector, a connector that does not answer
// TransactionBoundariesSupported is refused at validation.
type TransactionBoundarySourceConnector interface {
	CanDefineTransactionBoundaries(props map[string]string) ConnectorTransactionBoundaries
}

// TransactionContext lets a source task define the transactions its
// records are committed in, when its connector runs with
// transaction.boundary=connector on a worker with exactly-once sources
// (Kafka's TransactionContext). A request is acted on by the worker: one
// tied to a record once that record has been sent (the record is the last
// of the transaction), one without a record after the records of the
// current poll have been sent. Requesting both a commit and an abort of
// the same record, or of the same batch, fails the task.
//
// An aborted transaction's records are invisible to read_committed
// consumers; as in Kafka, the source offsets of those records are then
// committed on their own, so the task does not read the same records
// again after a restart. Records of a transaction still open when the
// task stops are aborted and their offsets are not committed.
type TransactionContext interface {
	// CommitTransaction commits the transaction after the current batch.
	CommitTransaction()
	// CommitTransactionAfter commits the transaction once r has been sent.
	CommitTransactionAfter(r *SourceRecord)
	// AbortTransaction aborts the transaction after the current batch.
	AbortTransaction()
	// AbortTransactionAfter aborts the transaction once r has been sent;
	// r is the last record of the aborted transaction.
	AbortTransactionAfter(r *SourceRecord)
}
