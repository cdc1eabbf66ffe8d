// Package chaos is Sluice's Jepsen-style reliability harness.
//
// It starts Sluice nodes as real processes (Cluster, Node), drives them with franz-go
// producers and consumers under Kafka's safe settings (Workload), injects faults on a
// schedule drawn from a seed (Nemesis), records every operation with its outcome and
// time (Recorder, History), and checks the history for the anomalies Jepsen's Kafka
// analyses name (Check): lost-write, unseen, duplicate, inconsistent-offsets, G1a,
// nonmonotonic-send, nonmonotonic-poll, poll-skip and their within-operation int- forms.
// Each partition's history is also checked for linearizability against a list-append
// model of the log with porcupine.
//
// The harness exists to be pointed at faults that storage, replication and transactions
// must survive. It knows nothing of Sluice's internals: it sees the broker as a user does,
// through a binary, its flags, its ports and its data directory.
//
// Run drives a whole run; cmd/chaos is its command line. The package's tests run a short
// single-node run with kill -9, pause and restart faults; SLUICE_LONG=1 runs longer ones.
package chaos
