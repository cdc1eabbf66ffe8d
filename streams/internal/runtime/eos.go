package runtime

// Exactly-once (processing.guarantee=exactly_once_v2), after Kafka Streams'
// EOS v2 (KIP-447).
//
// The instance has one transactional producer, its transactional.id made
// of the application id and a process id kept in the state directory (a
// restarted instance with the same directory takes the same identity, and
// its first InitProducerID fences the dead one and aborts its open
// transaction). The consumer and the producer are one franz-go client
// wrapped in a kgo.GroupTransactSession: the output, the changelog writes
// and the input offsets (TxnOffsetCommit, carrying the member id and the
// generation, so that a member the group has moved on from cannot commit)
// go into one transaction per commit, and every consumer reads
// read_committed.
//
// Rebalances: a GroupTransactSession aborts the open transaction if the
// group revokes partitions before End. So that a rebalance does not cost a
// wipe of every store, the loop lets a rebalance in (AllowRebalance) only
// with no transaction open: it ends one at once when franz-go reports a
// rebalance waiting (OnPartitionsCallbackBlocked) and otherwise at each
// commit interval. The revocation then finds the tasks committed and
// suspends them clean. After a rebalance the session must be reset (End
// with an abort of the empty transaction) before anything new is
// processed; that resets the fetch positions to the committed offsets, so
// the batch polled just after the rebalance is dropped and fetched again.
//
// An abort (the group moved on, the partitions were lost, a commit the
// coordinator refused) leaves the tasks' stores holding updates that never
// became visible: the tasks are closed, their state wiped, and they are
// restored from their changelogs (read_committed) before they process
// again, as Kafka Streams does with a corrupted task. A checkpoint is
// trusted only if written on a clean close after a commit; it is deleted
// when a task opens, so a crash always wipes and restores.
//
// A fenced producer (an instance with the same transactional.id started
// since) stops the instance with an error: franz-go's recovery would load
// a newer epoch and fence the new owner in turn.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/streams/processor"
)

// processIDFile holds the instance's process id under
// <state.dir>/<application.id>, as Kafka Streams keeps its processId.
const processIDFile = "process-id"

// eosTxnTimeout is transaction.timeout.ms, Kafka Streams' default under
// EOS: a dead instance's open transaction (one no restart with its
// identity aborts) blocks read_committed readers of its partitions for at
// most this long.
const eosTxnTimeout = 10 * time.Second

// eosState is the App's exactly-once state; a.mu guards it except for
// the atomics.
type eosState struct {
	on    bool
	sess  *kgo.GroupTransactSession
	txnID string
	// lastPurge is when repartition records below the committed offsets
	// were last deleted.
	lastPurge time.Time
	// dirty: something was processed or sent since the transaction began,
	// so a rebalance must not be let in before a commit.
	dirty atomic.Bool
	// waiting: franz-go reported a rebalance blocked by the loop.
	waiting atomic.Bool
	// rebalanced: a group callback ran since the session was last reset.
	rebalanced bool
	// aborts counts aborted transactions, for the log and tests.
	aborts int
}

func (a *App) exactlyOnce() bool { return a.cfg.ProcessingGuarantee == ExactlyOnceV2 }

// processID reads (or creates) the instance's process id.
func processID(stateDir, appID string) (string, error) {
	dir := filepath.Join(stateDir, appID)
	path := filepath.Join(dir, processIDFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read process id: %w", err)
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("make process id: %w", err)
	}
	id := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("state directory: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("write process id: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("install process id: %w", err)
	}
	return id, nil
}

// newTxnClient opens the transactional group client and begins the first
// transaction.
func (a *App) newTxnClient(opts []kgo.Opt) (*kgo.Client, error) {
	pid, err := processID(a.cfg.StateDir, a.cfg.ApplicationID)
	if err != nil {
		return nil, fmt.Errorf("streams: %w", err)
	}
	txnID := a.cfg.ApplicationID + "-" + pid
	sess, err := kgo.NewGroupTransactSession(append(opts,
		kgo.TransactionalID(txnID),
		kgo.TransactionTimeout(eosTxnTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.OnPartitionsCallbackBlocked(func(context.Context, *kgo.Client) { a.eos.waiting.Store(true) }),
	)...)
	if err != nil {
		return nil, fmt.Errorf("streams: client: %w", err)
	}
	if err := sess.Begin(); err != nil {
		sess.Close()
		return nil, fmt.Errorf("streams: begin transaction: %w", err)
	}
	a.eos.sess, a.eos.txnID, a.eos.lastPurge = sess, txnID, time.Now()
	a.log.Info("exactly-once: transactional producer", "transactional.id", txnID)
	return sess.Client(), nil
}

// resetAfterRebalance ends the empty transaction the session marked as
// failed when the group revoked or lost partitions, and begins a new one.
// The session rewinds the fetch positions to the committed offsets: the
// caller drops what it polled. a.mu is held.
func (a *App) resetAfterRebalance(ctx context.Context) error {
	a.eos.rebalanced = false
	if _, err := a.eos.sess.End(ctx, kgo.TryAbort); err != nil {
		return a.txnFailed(err)
	}
	if a.eos.dirty.Swap(false) {
		// Processed since the last commit and then revoked or lost:
		// that work was aborted.
		a.corruptTasks("transaction aborted by a rebalance")
	}
	return a.begin()
}

// begin begins the next transaction, unless a record of the last one was
// refused because the producer is fenced: franz-go would then load a new
// epoch of the transactional.id at Begin, fencing in turn the instance
// that took it over, so the instance stops instead.
func (a *App) begin() error {
	a.prodMu.Lock()
	perr := a.produceErr
	a.produceErr = nil
	a.prodMu.Unlock()
	if fenced(perr) {
		return a.txnFailed(perr)
	}
	if err := a.eos.sess.Begin(); err != nil {
		return a.txnFailed(err)
	}
	return nil
}

// commitTxn is the exactly-once commit: flush the tasks (caches and stores
// send their last records), then end the transaction, which flushes the
// producer, commits the input offsets with the group's generation, and
// commits. If the session aborts instead (a rebalance came first, the
// coordinator refused the offsets because the group moved on), the tasks
// are corrupted: their state is wiped and restored before they go on.
// a.mu is held.
func (a *App) commitTxn(ctx context.Context) error {
	a.lastCommit = time.Now()
	if !a.eos.dirty.Load() && !a.eos.rebalanced {
		return nil
	}
	for _, rt := range a.tasks {
		if err := rt.t.Flush(); err != nil {
			return fmt.Errorf("streams: commit: %w", err)
		}
	}
	// franz-go would commit what was written even if a record failed:
	// wait for every acknowledgement and abort instead if one failed.
	if err := a.cl.Flush(ctx); err != nil {
		return fmt.Errorf("streams: commit: flush producer: %w", err)
	}
	a.prodMu.Lock()
	perr := a.produceErr
	a.produceErr = nil
	a.prodMu.Unlock()
	if fenced(perr) {
		// Not even an abort: franz-go would then load a new producer
		// epoch, and that would fence the instance that took over.
		return a.txnFailed(perr)
	}
	how := kgo.TryCommit
	if perr != nil {
		a.log.Warn("exactly-once: a record was not written; aborting the transaction", "error", perr)
		how = kgo.TryAbort
	}
	committed, err := a.endUnlocked(ctx, how)
	a.eos.rebalanced = false
	a.eos.dirty.Store(false)
	if err != nil {
		return a.txnFailed(errors.Join(err, perr))
	}
	if !committed {
		a.corruptTasks("transaction aborted")
		return a.begin()
	}
	a.prodMu.Lock()
	for id, rt := range a.tasks {
		for topic := range rt.changelogEnd {
			if n, ok := a.produced[changelogKey(topic, id.Partition)]; ok {
				rt.changelogEnd[topic] = n
			}
		}
	}
	a.prodMu.Unlock()
	a.purgeRepartition(ctx)
	return a.begin()
}

// endUnlocked ends the transaction with a.mu released, so that a group
// callback can run meanwhile. End waits for a heartbeat after committing
// the offsets; if the member is gone, the heartbeat loop has stopped and
// franz-go instead waits to report the partitions lost, which it does
// only once the loop allows a rebalance: left alone, both would wait for
// the other until ctx ends. So if End is still running after a while and
// a rebalance is waiting, it is let in (the session then aborts, and the
// lost tasks are closed by onLost). a.mu is held on entry and on return.
func (a *App) endUnlocked(ctx context.Context, how kgo.TransactionEndTry) (bool, error) {
	a.mu.Unlock()
	defer a.mu.Lock()
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		timer := time.NewTimer(endWatchdog)
		defer timer.Stop()
		for {
			select {
			case <-stop:
				return
			case <-timer.C:
			}
			if a.eos.waiting.Load() {
				a.log.Info("exactly-once: a rebalance waits for a commit that is stuck; letting it in")
				a.cl.AllowRebalance()
				return
			}
			timer.Reset(endWatchdog / 10)
		}
	}()
	committed, err := a.eos.sess.End(ctx, how)
	close(stop)
	<-watched
	return committed, err
}

// endWatchdog is how long a commit may take before a waiting rebalance is
// let in (a commit takes milliseconds when the member is alive).
const endWatchdog = 2 * time.Second

// purgeRepartition deletes the repartition records below the committed
// offsets, at most every 30s (Kafka's repartition.purge.interval.ms).
func (a *App) purgeRepartition(ctx context.Context) {
	if time.Since(a.eos.lastPurge) < 30*time.Second {
		return
	}
	a.eos.lastPurge = time.Now()
	purge := make(kadm.Offsets)
	for id, rt := range a.tasks {
		for topic, next := range rt.t.Offsets() {
			if _, ok := a.plan.internal[topic]; ok {
				purge.Add(kadm.Offset{Topic: topic, Partition: id.Partition, At: next, LeaderEpoch: -1})
			}
		}
	}
	if len(purge) > 0 {
		if _, err := a.adm.DeleteRecords(ctx, purge); err != nil {
			a.log.Debug("purge repartition topics", "error", err)
		}
	}
}

// txnFailed turns an error of the transaction session into the error that
// stops the instance: End's errors are not retryable (the producer is
// fenced by an instance with the same transactional.id, or in a fatal
// state).
func (a *App) txnFailed(err error) error {
	for id, rt := range a.tasks {
		a.closeDirty(id, rt)
	}
	if fenced(err) {
		return fmt.Errorf("streams: exactly-once: producer fenced (another instance runs with transactional.id %s): %w", a.eos.txnID, err)
	}
	return fmt.Errorf("streams: exactly-once: transaction: %w", err)
}

// fenced reports an error that means another producer took this one's
// transactional.id (a newer epoch), or that it may not use it at all.
func fenced(err error) bool {
	return err != nil && (errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed))
}

// corruptTasks closes every open task without committing, wipes its state
// and queues it to be opened again (restored from its changelogs). The
// session has already rewound the fetch positions to the committed
// offsets. a.mu is held.
func (a *App) corruptTasks(why string) {
	a.eos.aborts++
	ids := make([]processor.TaskID, 0, len(a.tasks))
	for id, rt := range a.tasks {
		a.closeDirty(id, rt)
		ids = append(ids, id)
	}
	for id, rt := range a.suspended {
		a.closeDirty(id, rt)
	}
	a.pending = appendMissing(a.pending, ids...)
	a.log.Warn("exactly-once: "+why+"; tasks wiped and restored from their changelogs", "tasks", fmt.Sprint(ids), "aborts", a.eos.aborts)
}

func appendMissing(ids []processor.TaskID, more ...processor.TaskID) []processor.TaskID {
	for _, id := range more {
		found := false
		for _, have := range ids {
			found = found || have == id
		}
		if !found {
			ids = append(ids, id)
		}
	}
	return ids
}

// closeDirty closes a task whose stores may hold uncommitted updates and
// wipes its state directory.
func (a *App) closeDirty(id processor.TaskID, rt *runningTask) {
	a.closeTask(id, rt)
	if rt.persistent {
		if err := os.RemoveAll(rt.dir); err != nil {
			a.log.Warn("wipe task state", "task", id.String(), "error", err)
		}
	}
}

// closeClean closes a task whose stores hold exactly what is committed,
// writing its checkpoint first so that a restart restores only the
// changelog tail.
func (a *App) closeClean(id processor.TaskID, rt *runningTask) {
	if rt.persistent {
		if err := writeCheckpoint(rt.dir, rt.changelogEnd); err != nil {
			a.log.Warn("checkpoint on close", "task", id.String(), "error", err)
		}
	}
	a.closeTask(id, rt)
}

// dropCheckpoint removes a task's checkpoint once read: under EOS the
// stores soon hold uncommitted updates, and a crash must find no
// checkpoint (and so wipe and restore).
func dropCheckpoint(dir string) error {
	if err := os.Remove(filepath.Join(dir, checkpointFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove checkpoint: %w", err)
	}
	return nil
}

// revokeEOS suspends the tasks when the group revokes them. The loop lets
// a rebalance in only between transactions, so they are committed and
// resume without a restore if given back; work still open (which the
// session will abort) closes them dirty instead. a.mu is held.
func (a *App) revokeEOS() {
	a.eos.rebalanced = true
	a.pending = nil
	if a.closing || len(a.tasks) == 0 {
		return
	}
	a.setState(Rebalancing)
	if a.eos.dirty.Load() {
		for id, rt := range a.tasks {
			a.closeDirty(id, rt)
		}
		return
	}
	a.suspendAll()
}

// shutdownEOS commits (on a clean stop) and closes every task: with
// checkpoints if the last transaction committed, wiped otherwise. a.mu is
// held.
func (a *App) shutdownEOS(clean bool) error {
	var err error
	if clean {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = a.commitTxn(ctx)
		cancel()
	}
	for id, rt := range a.tasks {
		if clean && err == nil {
			a.closeClean(id, rt)
		} else {
			a.closeDirty(id, rt)
		}
	}
	for id, rt := range a.suspended {
		a.closeClean(id, rt) // suspended only after a commit
	}
	return err
}
