package group

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Transactional offset commits (TxnOffsetCommit, KIP-98 and KIP-447).
//
// A producer that consumes and produces in one transaction commits the
// consumer's offsets with TxnOffsetCommit. The coordinator writes them to
// the group's partition of __consumer_offsets as a transactional batch of
// that producer, and keeps them as the producer's pending offsets: OffsetFetch
// does not see them (with RequireStable it answers UNSTABLE_OFFSET_COMMIT for
// their partitions). When the transaction ends, its transaction marker is
// written to the same partition and CompleteTransaction is called: a commit
// makes the pending offsets the group's committed offsets, an abort drops
// them. Loading a partition replays the same rules from the log, markers
// included, so a restarted or new coordinator agrees with the old one.
//
// A pending offset becomes committed only if its record comes after the
// partition's current committed offset in the log, so the latest of a mix
// of plain and transactional commits wins, as in Kafka. A tombstone of the
// partition (OffsetDelete, DeleteGroups, expiry, topic deletion) drops the
// pending offsets too.

// txnIndex is what one partition of __consumer_offsets knows of the
// producers that commit offsets to it: the latest epoch seen of each (from
// commits and markers), to fence a zombie producer, and the groups holding
// pending offsets of each, for CompleteTransaction. Its lock is a leaf:
// taken under a group's lock, never the reverse.
type txnIndex struct {
	mu     sync.Mutex
	epochs map[int64]int16
	groups map[int64]map[*Group]struct{}
}

func newTxnIndex() *txnIndex {
	return &txnIndex{epochs: make(map[int64]int16), groups: make(map[int64]map[*Group]struct{})}
}

// checkEpoch refuses an epoch older than the latest one seen of producer
// pid, as the log does (INVALID_PRODUCER_EPOCH, which clients treat as
// fencing for TxnOffsetCommit).
func (x *txnIndex) checkEpoch(pid int64, epoch int16) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if cur, ok := x.epochs[pid]; ok && epoch < cur {
		return fmt.Errorf("producer %d: epoch %d is older than the latest %d: %w", pid, epoch, cur, kerr.InvalidProducerEpoch)
	}
	return nil
}

// noteEpochLocked records that producer pid used epoch. x.mu is held.
func (x *txnIndex) noteEpochLocked(pid int64, epoch int16) {
	if cur, ok := x.epochs[pid]; !ok || epoch > cur {
		x.epochs[pid] = epoch
	}
}

// addGroup records an epoch of pid and that g holds pending offsets of it.
func (x *txnIndex) addGroup(pid int64, epoch int16, g *Group) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.noteEpochLocked(pid, epoch)
	gs := x.groups[pid]
	if gs == nil {
		gs = make(map[*Group]struct{})
		x.groups[pid] = gs
	}
	gs[g] = struct{}{}
}

// complete records the epoch of pid's marker and returns (and forgets) the
// groups with pending offsets of pid.
func (x *txnIndex) complete(pid int64, epoch int16) map[*Group]struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.noteEpochLocked(pid, epoch)
	gs := x.groups[pid]
	delete(x.groups, pid)
	return gs
}

// txnCompletion is a transaction marker that reached a partition while it
// was loading; it is applied once the load ends.
type txnCompletion struct {
	producerID    int64
	producerEpoch int16
	commit        bool
}

// TxnOffsetCommit handles a TxnOffsetCommit: the errors come in request
// order once the transactional batch is acknowledged as the topic's
// durability policy asks. The offsets stay pending until
// CompleteTransaction.
//
// Who may commit follows Kafka: anyone into a group that does not exist or
// is empty with generation -1 (creating the group); with a generation, a
// member id or an instance id (v3+, KIP-447), the member must be current
// (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID) and the generation its group's
// (ILLEGAL_GENERATION); a generation for a group that does not exist is
// ILLEGAL_GENERATION. Unlike OffsetCommit, a commit without group metadata
// is taken whatever the group's state, and none is refused mid-rebalance.
// A producer epoch older than the latest this partition has seen of the
// producer is INVALID_PRODUCER_EPOCH.
func (c *Coordinator) TxnOffsetCommit(req TxnCommitRequest) <-chan []error {
	ch, errs, fill := commitAnswer(len(req.Offsets))
	g, err := c.lockGroup(req.Group, req.Generation < 0)
	if err != nil {
		fill(err)
		return ch
	}
	if g == nil {
		fill(kerr.IllegalGeneration)
		return ch
	}
	defer g.mu.Unlock()
	if req.ProducerID < 0 {
		fill(kerr.InvalidProducerIDMapping)
		return ch
	}
	if err := g.validateCommit(req.Generation, req.MemberID, req.InstanceID, true); err != nil {
		fill(err)
		return ch
	}
	g.txnCommit(&req, errs, ch)
	return ch
}

func (g *Group) txnCommit(req *TxnCommitRequest, errs []error, ch chan []error) {
	recs, idx, vals := g.offsetRecords(req.Offsets, -1, errs)
	if len(recs) == 0 {
		ch <- errs
		return
	}
	fail := func(err error) {
		for _, i := range idx {
			errs[i] = err
		}
		ch <- errs
	}
	if err := g.txn.checkEpoch(req.ProducerID, req.ProducerEpoch); err != nil {
		fail(err)
		return
	}
	last, wait, err := g.c.store.AppendTransactional(g.partition, req.ProducerID, req.ProducerEpoch, recs)
	if err != nil {
		fail(appendError(err, true))
		return
	}
	// The batch is in the log: from here the offsets are pending, as a
	// load of the partition would find them, whether or not the wait
	// below succeeds.
	first := last - int64(len(recs)) + 1
	pend := g.txnOffsets[req.ProducerID]
	if pend == nil {
		pend = make(map[topicPartition]*committed)
		g.txnOffsets[req.ProducerID] = pend
	}
	for j, i := range idx {
		tp := topicPartition{req.Offsets[i].Topic, req.Offsets[i].Partition}
		pend[tp] = &committed{value: vals[j], pos: first + int64(j)}
	}
	g.txn.addGroup(req.ProducerID, req.ProducerEpoch, g)
	if wait == nil {
		ch <- errs
		return
	}
	g.c.goWait(func(ctx context.Context) {
		if werr := appendError(wait(ctx), true); werr != nil {
			for _, i := range idx {
				errs[i] = werr
			}
		}
		ch <- errs
	})
}

// CompleteTransaction applies the end of producerID's transaction to the
// groups of partition of __consumer_offsets: with commit their pending
// offsets of the producer become committed (where no later commit of the
// same partition exists), otherwise they are dropped. The WriteTxnMarkers
// handler calls it once the marker is appended to that partition; the
// marker's epoch is remembered to fence the producer's older epochs.
//
// A marker that arrives while the partition is loading is applied when the
// load ends. An error (NOT_COORDINATOR: the partition is not led here) needs
// no retry: whichever broker leads the partition loads the marker from the
// log.
func (c *Coordinator) CompleteTransaction(partition int32, producerID int64, producerEpoch int16, commit bool) error {
	c.mu.Lock()
	sh := c.shards[partition]
	if c.stopped || sh == nil {
		c.mu.Unlock()
		return fmt.Errorf("complete the transaction of producer %d in %s-%d: %w", producerID, Topic, partition, kerr.NotCoordinator)
	}
	if sh.loading {
		sh.queued = append(sh.queued, txnCompletion{producerID, producerEpoch, commit})
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	sh.complete(txnCompletion{producerID, producerEpoch, commit})
	return nil
}

// complete applies a transaction marker to the shard's groups.
func (sh *shard) complete(tc txnCompletion) {
	for g := range sh.txn.complete(tc.producerID, tc.producerEpoch) {
		g.mu.Lock()
		if g.state != Dead {
			g.completeTxn(tc.producerID, tc.commit)
		}
		g.mu.Unlock()
	}
}

// completeTxn commits or drops the group's pending offsets of pid.
func (g *Group) completeTxn(pid int64, commit bool) {
	pend := g.txnOffsets[pid]
	delete(g.txnOffsets, pid)
	if !commit {
		return
	}
	for tp, e := range pend {
		g.applyOffset(tp, e.value, e.pos)
	}
}

// hasPendingTxn reports whether some producer has a pending offset of tp.
func (g *Group) hasPendingTxn(tp topicPartition) bool {
	for _, pend := range g.txnOffsets {
		if _, ok := pend[tp]; ok {
			return true
		}
	}
	return false
}

// dropPendingTxn drops every producer's pending offset of tp, for a
// tombstone of tp.
func (g *Group) dropPendingTxn(tp topicPartition) {
	for pid, pend := range g.txnOffsets {
		delete(pend, tp)
		if len(pend) == 0 {
			delete(g.txnOffsets, pid)
		}
	}
}

// pendingTxnPartitions lists the partitions with pending offsets.
func (g *Group) pendingTxnPartitions() map[topicPartition]bool {
	out := make(map[topicPartition]bool)
	for _, pend := range g.txnOffsets {
		for tp := range pend {
			out[tp] = true
		}
	}
	return out
}
