// Package chaos is Sluice's Jepsen-style reliability harness.
//
// It starts Sluice nodes as real processes (Cluster, Node), drives them with franz-go
// producers and consumers under Kafka's safe settings (Workload), injects faults on a
// schedule drawn from a seed (Nemesis), records every operation with its outcome and
// time (Recorder, History), and checks the history for the anomalies Jepsen's Kafka
// analyses name (Check): lost-write, unseen, duplicate, inconsistent-offsets, G1a,
// nonmonotonic-send, nonmonotonic-poll, poll-skip and their within-operation int- forms.
// Each partition's history is also checked for linearizability against a list-append
// model of the log with porcupine. The transactional workload (WorkloadConfig.Txn)
// writes transactions across partitions and processes records exactly once in a
// consumer group; its histories are checked for aborted reads, lost and partly
// visible transactions, precommitted reads, write-read cycles (G1c), write orders
// that contradict real time (G0-realtime) and exactly-once processing; write cycles
// among concurrent transactions (G0), which Kafka allows, are counted apart.
//
// The harness exists to be pointed at faults that storage, replication and transactions
// must survive. It knows nothing of Sluice's internals: it sees the broker as a user does,
// through a binary, its flags, its ports and its data directory.
//
// Run drives a whole run; cmd/chaos is its command line. The package's tests run a short
// single-node run with kill -9, pause and restart faults, short transactional runs on
// one and three nodes, and the failover tests; SLUICE_LONG=1 runs longer ones.
package chaos
