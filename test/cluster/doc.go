// Package cluster tests Sluice's multi-node control plane as a user sees it: real
// processes, started, killed and restarted by the chaos harness's process manager
// (test/chaos), and questioned one node at a time over the Kafka protocol.
//
// Each test lays out a cluster (three combined nodes; three pure controllers with two
// pure brokers), then walks through what issue 9 promises: every node converges on the
// same metadata (brokers, controller, topics with their ids, partition leaders and
// replicas, the quorum's leader, epoch and high watermark); topics and other changes
// sent to any broker are forwarded to the active controller and appear everywhere; a
// client's records go to each partition's leader; a killed broker is fenced and
// unfenced when it comes back; killing the active controller elects another within a
// few seconds and changes keep working; a node restarted after changes were made
// without it, and after the metadata log was snapshotted and trimmed, catches up.
//
// The tests run the binary in $SLUICE_BIN, or one they build from this checkout.
package cluster
