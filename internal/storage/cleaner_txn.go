package storage

// Transactions in compaction, as Kafka's CleanedTransactionMetadata: the
// cleaner works only below the last stable offset, where every
// transaction is decided, and, unless a TxnCleanFilter replaces it, it
// decides from the aborted-transaction index:
//
//   - the data of an aborted transaction is dropped: it neither shadows an
//     older value of its key in the key map nor survives the rewrite;
//   - a marker whose transaction has no data left in the log (all of it
//     compacted or dropped before this clean) is stamped with a delete
//     horizon (now + delete.retention.ms), and a later clean past that
//     horizon removes it, with its aborted-transaction index entry. A
//     consumer that was reading the transaction meanwhile still sees its
//     marker.
//
// Each pass over the log (mapping keys from the first dirty offset,
// rewriting from the log start) walks the batches in offset order with its
// own tracker of the transactions in progress at that point.

import (
	"sort"

	"github.com/sluicehq/sluice/internal/record"
)

// txnTracker follows, along one walk of the log in offset order, which
// producers are inside an aborted transaction and which transactions the
// walk has seen data of.
type txnTracker struct {
	pending []AbortedTxn // not reached yet, by first offset
	// aborted are the producers inside an aborted transaction at the walk's
	// position; sawData notes whether the walk met any of its data.
	aborted map[int64]*abortedInWalk
	// open are the producers whose (not aborted) transaction the walk has
	// met data of.
	open map[int64]bool
}

type abortedInWalk struct {
	txn     AbortedTxn
	sawData bool
}

// newTxnTracker returns a tracker for a walk over a range of the log, given
// the aborted transactions that overlap it (AbortedTransactions).
func newTxnTracker(aborted []AbortedTxn) *txnTracker {
	sort.SliceStable(aborted, func(i, j int) bool { return aborted[i].FirstOffset < aborted[j].FirstOffset })
	return &txnTracker{pending: aborted, aborted: map[int64]*abortedInWalk{}, open: map[int64]bool{}}
}

// reach enters the aborted transactions that start at or before offset.
func (tr *txnTracker) reach(offset int64) {
	for len(tr.pending) > 0 && tr.pending[0].FirstOffset <= offset {
		a := tr.pending[0]
		tr.pending = tr.pending[1:]
		tr.aborted[a.ProducerID] = &abortedInWalk{txn: a}
	}
}

// data takes the walk over a data batch and reports whether it belongs to
// an aborted transaction.
func (tr *txnTracker) data(h *record.Header) bool {
	tr.reach(h.LastOffset())
	if !h.Transactional() || !h.Idempotent() {
		return false
	}
	if a := tr.aborted[h.ProducerID]; a != nil && h.BaseOffset < a.txn.LastOffset {
		a.sawData = true
		return true
	}
	tr.open[h.ProducerID] = true
	return false
}

// marker takes the walk over a control batch b and reports whether its
// transaction has no data left that the walk met: such a marker may go
// once its delete horizon has passed. An empty control batch (one a clean
// emptied) has nothing left to say.
func (tr *txnTracker) marker(h *record.Header, b []byte) bool {
	tr.reach(h.LastOffset())
	if h.NumRecords == 0 {
		return true
	}
	commit, _, err := record.ParseControl(b)
	if err != nil {
		return false // not a transaction marker: kept
	}
	saw := tr.open[h.ProducerID]
	delete(tr.open, h.ProducerID)
	if a := tr.aborted[h.ProducerID]; a != nil && !commit {
		saw = saw || a.sawData
		delete(tr.aborted, h.ProducerID)
	}
	return !saw
}

// txnVerdict decides what the rewrite does with a transactional or control
// batch: discard it, or keep it and stamp a delete horizon on it (a marker
// of a transaction with no data left). Other batches are left to the key
// map.
func (p *cleanPass) txnVerdict(b []byte, h *record.Header) (discard, stamp bool) {
	if p.c.txn != nil {
		return p.discardTxn(h), false
	}
	tr := p.rewriteTxns
	if !h.Control() {
		return tr.data(h), false
	}
	if !tr.marker(h, b) {
		return false, false
	}
	if h.NumRecords == 0 {
		return true, false
	}
	horizon, ok := BatchDeleteHorizon(h)
	if !ok {
		return false, true
	}
	if p.nowMs >= horizon {
		return true, false
	}
	p.noteHorizon(horizon)
	return false, false
}

// mapDiscards reports whether the key map must skip a data batch: one of
// an aborted transaction. It also takes the map's walk over markers.
func (p *cleanPass) mapDiscards(b []byte, h *record.Header, tr *txnTracker) bool {
	if p.c.txn != nil {
		return !h.Control() && p.discardTxn(h)
	}
	if h.Control() {
		tr.marker(h, b)
		return false
	}
	return tr.data(h)
}

// noteHorizon records a delete horizon of a batch kept, so that a clean
// runs once it passes.
func (p *cleanPass) noteHorizon(horizon int64) {
	if p.horizon < 0 || horizon < p.horizon {
		p.horizon = horizon
	}
}

// stampMarker returns marker b with its delete horizon set to now +
// delete.retention.ms.
func (p *cleanPass) stampMarker(b []byte, h *record.Header) ([]byte, error) {
	horizon := satAddMs(p.nowMs, p.lc.DeleteRetentionMs)
	p.noteHorizon(horizon)
	p.keep = p.keep[:0]
	for range h.NumRecords {
		p.keep = append(p.keep, true)
	}
	return p.rebuild(b, h, true, horizon)
}
