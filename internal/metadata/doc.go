// Package metadata is Sluice's cluster metadata: brokers, topics (with their topic IDs),
// partitions, dynamic configs and producer-id blocks, replicated by hashicorp/raft as
// KRaft replicates Kafka's.
//
// The pieces, from the bottom:
//
//   - records.go: typed metadata records in Sluice's own versioned encoding (type and
//     version, then a JSON body), and batches of them. One Raft log entry is one batch,
//     applied all or nothing. Snapshots are batches too, so one decoder reads both.
//   - apply.go: the state machine, a pure function from (image, batch) to the next image
//     or a Kafka error. It checks every record against the image it applies to, so its
//     rules hold for every caller and every race, and replaying the log always gives the
//     same images on every node.
//   - image.go: the Image, immutable and shared copy-on-write between successive
//     versions, published through an atomic pointer so that readers never lock.
//   - plan.go: turning requests (create a topic, add partitions) into records: topic ids,
//     replica placement, and the request-level checks, in Kafka's order with Kafka's codes.
//   - fsm.go and store.go: the raft.FSM, snapshots, and the Store: Open, the write methods,
//     Image and Subscribe.
//
// On disk, under Config.Dir: raft.db (raft-boltdb: the log and Raft's stable state) and
// snapshots/ (raft.FileSnapshotStore). Raft snapshots every SnapshotThreshold entries
// and trims the log behind them.
//
// Today the Raft group is this node alone, on an in-memory transport, with timeouts that
// let it lead within tens of milliseconds. The cluster issue adds voters (controllers) and
// non-voters (brokers) on a TCP transport, broker fencing by heartbeat (BrokerFenceRecord
// exists), partition leader and ISR changes (a PartitionChangeRecord), rack-aware
// placement (the placer seam in plan.go) and forwarding of writes to the active
// controller (the write methods answer NOT_CONTROLLER elsewhere).
package metadata
