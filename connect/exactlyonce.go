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
