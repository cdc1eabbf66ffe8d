package streams

import "github.com/sluicehq/sluice/streams/internal/runtime"

// The processing guarantees, for Config.ProcessingGuarantee
// (processing.guarantee).
const (
	// AtLeastOnce (the default): a crash replays input from the last
	// commit, so some updates may be applied twice.
	AtLeastOnce = runtime.AtLeastOnce
	// ExactlyOnceV2: each commit is one Kafka transaction holding the
	// output, the changelog writes and the input offsets; consumers read
	// read_committed, so every update is seen once. Needs brokers with
	// transactions (KIP-98, KIP-447).
	ExactlyOnceV2 = runtime.ExactlyOnceV2
)
