package api

// The produce side of KIP-890: before a transactional producer's first write to a
// partition in a transaction, the partition's leader asks the transaction coordinator.
//
//   - Produce v12+ (transactions v2): the coordinator adds the partition to the
//     producer's transaction (AddPartitionsToTxn v5 without VerifyOnly, as Kafka's
//     AddPartitionsToTxnManager sends); the producer sends no AddPartitionsToTxn.
//   - Older versions (transactions v1): the coordinator only verifies that the
//     producer added the partition to its ongoing transaction (VerifyOnly, part 1 of
//     KIP-890). A write to a partition the producer never added, or from an epoch the
//     coordinator has fenced, is refused instead of opening a transaction that no
//     marker would close.
//
// A write to a partition where the producer's transaction of the same epoch is already
// open goes ahead without asking, as in Kafka: the coordinator answered for its first
// write. Coordinator errors are answered as Kafka answers them: PRODUCER_FENCED as
// INVALID_PRODUCER_EPOCH; TRANSACTION_ABORTABLE as INVALID_TXN_STATE below Produce v11;
// the retriable ones (CONCURRENT_TRANSACTIONS, NETWORK_EXCEPTION, NOT_COORDINATOR,
// COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS) as NOT_ENOUGH_REPLICAS,
// which every client retries without refreshing its metadata.
//
// A verification guard (Kafka's VerificationGuard) keeps a marker from slipping in
// between the coordinator's answer and the append: the answer is only good if no
// marker of that producer was written to the partition since the question was asked,
// and the check and the append are atomic with respect to markers (markerLocks).

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/producerstate"
	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/replica"
	"github.com/sluicehq/sluice/internal/txn"
)

// guardKey names one producer in one partition of one broker.
type guardKey struct {
	mgr       *replica.Manager
	topic     string
	partition int32
	pid       int64
}

type guardEntry struct {
	refs int    // verifications in flight
	gen  uint64 // markers written since the entry was made
}

// guards are the verifications in flight, and the locks that make a guarded append
// and a marker of the same producer and partition exclusive.
var guards = struct {
	mu      sync.Mutex
	entries map[guardKey]*guardEntry
	seed    maphash.Seed
	locks   [64]sync.RWMutex
}{entries: map[guardKey]*guardEntry{}, seed: maphash.MakeSeed()}

func (k guardKey) lock() *sync.RWMutex {
	var h maphash.Hash
	h.SetSeed(guards.seed)
	h.WriteString(k.topic)
	fmt.Fprintf(&h, "/%d/%d", k.partition, k.pid)
	return &guards.locks[h.Sum64()%uint64(len(guards.locks))]
}

// verification is one job's guard: the marker generation when its question was asked.
type verification struct {
	key guardKey
	gen uint64
}

func beginVerification(k guardKey) *verification {
	guards.mu.Lock()
	defer guards.mu.Unlock()
	e := guards.entries[k]
	if e == nil {
		e = &guardEntry{}
		guards.entries[k] = e
	}
	e.refs++
	return &verification{key: k, gen: e.gen}
}

func (v *verification) end() {
	guards.mu.Lock()
	defer guards.mu.Unlock()
	if e := guards.entries[v.key]; e != nil {
		if e.refs--; e.refs == 0 {
			delete(guards.entries, v.key)
		}
	}
}

// appendGuarded runs the append unless a marker of the producer was written to the
// partition since the verification began, and ends the verification.
func (v *verification) appendGuarded(fn func() error) error {
	defer v.end()
	l := v.key.lock()
	l.RLock()
	defer l.RUnlock()
	if v.stale() {
		return errStaleVerification(v.key)
	}
	return fn()
}

// lockForMarker is held while a marker of pid is written to a partition: it waits for
// guarded appends of that producer there and fails the verifications in flight.
func lockForMarker(mgr *replica.Manager, topic string, partition int32, pid int64) (unlock func()) {
	k := guardKey{mgr, topic, partition, pid}
	l := k.lock()
	l.Lock()
	guards.mu.Lock()
	if e := guards.entries[k]; e != nil {
		e.gen++
	}
	guards.mu.Unlock()
	return l.Unlock
}

// verifyTransactional asks the coordinator about the jobs that are a producer's first
// transactional write to their partition in its transaction, and gives each a
// verification guard or an error.
func (h *handlers) verifyTransactional(ctx context.Context, txnID string, version int16, jobs []*produceJob) {
	var (
		pid    int64 = -1
		epoch  int16
		asking []*produceJob
		parts  []txn.TopicPartition
	)
	for _, j := range jobs {
		if j.err != nil {
			continue
		}
		hdr, err := record.ParseHeader(j.records)
		if err != nil || !hdr.Transactional() || !hdr.Idempotent() {
			continue // the append refuses it, or it needs no transaction
		}
		if pid >= 0 && (hdr.ProducerID != pid || hdr.ProducerEpoch != epoch) {
			// Kafka refuses a request whose transactional batches are of more than
			// one producer.
			for _, j := range jobs {
				if j.err == nil {
					j.err = fmt.Errorf("transactional batches of more than one producer: %w", kerr.InvalidProducerIDMapping)
				}
			}
			return
		}
		pid, epoch = hdr.ProducerID, hdr.ProducerEpoch
		open := false
		j.part.Log().ProducerState(func(ps *producerstate.State) {
			e, o, _ := ps.Txn(pid)
			open = o && e == epoch
		})
		if open {
			continue
		}
		tp := j.part.TopicPartition()
		j.verify = beginVerification(guardKey{h.Replicas, tp.Topic, tp.Partition, pid})
		asking = append(asking, j)
		parts = append(parts, txn.TopicPartition{Topic: tp.Topic, Partition: tp.Partition})
	}
	// A marker of the producer written to a partition while the coordinator was
	// asked (one of the previous transaction, which the coordinator waits out)
	// makes that answer unusable: ask again.
	for try := 0; len(asking) > 0; try++ {
		errs := h.Txns.LeaderAdd(ctx, txnID, pid, epoch, parts, version >= 12)
		var again []*produceJob
		var againParts []txn.TopicPartition
		for i, j := range asking {
			err := produceVerifyError(errs[i], version)
			if err == nil && j.verify.stale() {
				if try < 5 {
					j.verify.end()
					j.verify = beginVerification(j.verify.key)
					again, againParts = append(again, j), append(againParts, parts[i])
					continue
				}
				err = errStaleVerification(j.verify.key)
			}
			if err != nil {
				j.err = err
				j.verify.end()
				j.verify = nil
			}
		}
		asking, parts = again, againParts
	}
}

func errStaleVerification(k guardKey) error {
	return fmt.Errorf("the producer's transaction in %s-%d ended while its write was verified: %w", k.topic, k.partition, kerr.InvalidTxnState)
}

// stale reports whether a marker of the producer was written to the partition since
// the verification began.
func (v *verification) stale() bool {
	guards.mu.Lock()
	defer guards.mu.Unlock()
	e := guards.entries[v.key]
	return e == nil || e.gen != v.gen
}

// produceVerifyError is the produce answer for a coordinator's error.
func produceVerifyError(err error, version int16) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.ProducerFenced):
		return fmt.Errorf("the transaction coordinator fenced the producer's epoch: %w", kerr.InvalidProducerEpoch)
	case errors.Is(err, kerr.TransactionAbortable):
		if version < 11 {
			return fmt.Errorf("the partition was not added to the transaction: %w", kerr.InvalidTxnState)
		}
		return fmt.Errorf("the partition was not added to the transaction: %w", kerr.TransactionAbortable)
	case errors.Is(err, kerr.ConcurrentTransactions), errors.Is(err, kerr.NetworkException),
		errors.Is(err, kerr.NotCoordinator), errors.Is(err, kerr.CoordinatorNotAvailable),
		errors.Is(err, kerr.CoordinatorLoadInProgress):
		return fmt.Errorf("unable to verify the partition has been added to the transaction (%v): %w", err, kerr.NotEnoughReplicas)
	}
	return err
}
