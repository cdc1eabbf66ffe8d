package chaos

import (
	"testing"
	"time"
)

// checkTxnRun fails the test if a transactional run found anything, or did too
// little to mean anything: it must have committed and aborted producer
// transactions, committed processor transactions that read and wrote, injected
// faults, and read everything back.
func checkTxnRun(t *testing.T, res *Result) {
	t.Helper()
	if !res.OK() {
		t.Errorf("run found problems: %v", res)
	}
	st := res.Summary.Stats
	t.Logf("allowed by design: %v", res.Summary.Allowed)
	if st.TxnsCommitted == 0 || st.TxnsAborted == 0 || st.FinalRead == 0 || len(st.Faults) == 0 {
		t.Errorf("the run did too little to mean anything: %+v", st)
	}
	var processed, transformed int
	for _, op := range res.History.Ops {
		if op.Kind == KindTxn && op.Outcome == OK && len(op.Reads) > 0 {
			processed++
			if len(op.Records) > 0 {
				transformed++
			}
		}
	}
	if processed == 0 || transformed == 0 {
		t.Errorf("no processor transaction committed what it read and wrote (%d committed reads, %d with writes)", processed, transformed)
	}
}

// TestTxnSingleNode runs the transactional workload on one node, durable, with
// kill -9, pause, graceful restart and slow fsyncs. Every committed transaction must
// be read whole, no aborted one at all, none before it asked to commit, and the
// processors' group must process each record exactly once.
func TestTxnSingleNode(t *testing.T) {
	t.Parallel() // each run has its own node, ports and directory; they mostly wait
	duration := 20 * time.Second
	if long() {
		duration = 3 * time.Minute
	}
	res := runChaos(t, Options{
		Nodes:    1,
		Duration: duration,
		Quiet:    3 * time.Second,
		Seed:     testSeed(t, 12),
		Nemesis: NemesisConfig{
			Faults:       []Fault{FaultKill, FaultFsyncDelay, FaultPause, FaultRestart},
			Rotate:       true,
			Interval:     2 * time.Second,
			Hold:         2 * time.Second,
			ValidateLogs: true,
		},
		Workload: WorkloadConfig{Txn: true, Durable: true},
	})
	checkTxnRun(t, res)
	if res.Summary.Stats.Faults["fsync-delay"] == 0 {
		t.Errorf("no fsync-delay fault was injected: %v", res.Summary.Stats.Faults)
	}
}

// TestTxnThreeNodes runs the transactional workload on three nodes (replication
// factor 3, min.insync.replicas=2, and the transaction and offsets topics
// replicated alike) with kill -9 of a node, a pause, slow fsyncs and a network
// partition where the network allows one, with the quick failover settings.
func TestTxnThreeNodes(t *testing.T) {
	t.Parallel() // each run has its own nodes, network and directory; they mostly wait
	duration := 25 * time.Second
	if long() {
		duration = 3 * time.Minute
	}
	faults := []Fault{FaultKill, FaultFsyncDelay, FaultPause}
	if NetnsAvailable() == nil {
		faults = append(faults, FaultPartitionOne)
	}
	res := runChaos(t, Options{
		Nodes:    3,
		Duration: duration,
		Quiet:    3 * time.Second,
		Seed:     testSeed(t, 13),
		Settings: failoverSettings,
		Nemesis: NemesisConfig{
			Faults:   faults,
			Rotate:   true,
			Interval: 2 * time.Second,
			Hold:     2 * time.Second,
		},
		Workload: WorkloadConfig{Txn: true, Durable: true},
	})
	checkTxnRun(t, res)
}
