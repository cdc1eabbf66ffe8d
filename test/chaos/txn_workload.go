package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The transactional workload (WorkloadConfig.Txn).
//
// Producers ("producer-<i>", transactional.id "chaos-txn-<i>", acks=all,
// idempotent) each begin TxnRate transactions a second. A transaction writes 2 to
// TxnWrites records to random partitions (at least two of them), each value
// "t<i>-<seq>" unique, then commits or, AbortRatio of the time, aborts. A write that
// fails makes the transaction abort. Each transaction is one KindTxn operation.
//
// Processors ("processor-<m>", transactional.id "chaos-proc-<m>") are members of the
// consumer group ProcessorGroup, run through franz-go's GroupTransactSession: each
// poll of the topic is a transaction that writes one record "x<m>-<seq>" for every
// producer record it read, commits the group's offsets with it, and commits (or
// aborts, AbortRatio of the time). Their reads give the checker write-read edges
// between transactions and let it check exactly-once processing.
//
// The consumers are the plain workload's: read_committed, explicit positions. At
// the end one non-transactional record per partition, "end-<p>", marks how far the
// consumers and the final read must get: under read_committed the last offsets of a
// partition are often commit markers, which no read returns.

// startTxn launches the transactional producers and the processors.
func (w *Workload) startTxn(ctx context.Context) {
	for i := range w.cfg.Producers {
		rng := rand.New(rand.NewPCG(w.cfg.Seed, uint64(3000+i)))
		w.producers.Go(func() { w.txnProducer(ctx, i, rng) })
	}
	for m := range max(w.cfg.Processors, 0) {
		rng := rand.New(rand.NewPCG(w.cfg.Seed, uint64(4000+m)))
		w.producers.Go(func() { w.processor(ctx, m, rng) })
	}
}

// producerOpts are the options of a transactional producer.
func (w *Workload) producerOpts(txnID string) []kgo.Opt {
	return []kgo.Opt{
		kgo.TransactionalID(txnID),
		kgo.TransactionTimeout(w.cfg.TxnTimeout),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(w.cfg.DeliveryTimeout),
		kgo.ProducerLinger(time.Millisecond),
		kgo.UnknownTopicRetries(-1),
	}
}

// txnProducer runs one transactional producer until ctx ends. After a
// transaction it could not end cleanly it closes its client and makes a new one
// with the same transactional.id: the new one's InitProducerId fences the old
// epoch and aborts whatever it left open.
func (w *Workload) txnProducer(ctx context.Context, i int, rng *rand.Rand) {
	process := fmt.Sprintf("producer-%d", i)
	txnID := fmt.Sprintf("chaos-txn-%d", i)
	var cl *kgo.Client
	defer func() {
		if cl != nil {
			cl.Close()
		}
		w.fence(process, txnID)
	}()
	tick := time.NewTicker(time.Second / time.Duration(w.cfg.TxnRate))
	defer tick.Stop()
	for seq := 0; ; {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if cl == nil {
			c, err := w.client(process, w.producerOpts(txnID)...)
			if err != nil {
				w.logger.Error("transactional producer", "producer", i, "err", err)
				return
			}
			cl = c
		}
		writes := w.drawWrites(rng, func() string { seq++; return fmt.Sprintf("t%d-%d", i, seq-1) })
		commit := rng.Float64() >= w.cfg.AbortRatio
		if err := cl.BeginTransaction(); err != nil {
			// Nothing was written: no operation. A new client starts afresh.
			w.logger.Warn("begin transaction", "producer", i, "err", err)
			cl.Close()
			cl = nil
			continue
		}
		id := w.rec.Invoke(process, KindTxn, writes)
		if !w.runTxn(cl, id, writes, commit) {
			cl.Close()
			cl = nil
		}
	}
}

// drawWrites draws a transaction's records: 2 to TxnWrites of them, to random
// partitions, at least two distinct ones when the topic has several.
func (w *Workload) drawWrites(rng *rand.Rand, value func() string) []Record {
	n := 2 + rng.IntN(w.cfg.TxnWrites-1)
	writes := make([]Record, n)
	for k := range writes {
		writes[k] = Record{Partition: rng.Int32N(w.cfg.Partitions), Offset: -1, Value: value()}
	}
	if w.cfg.Partitions > 1 && writes[0].Partition == writes[1].Partition {
		writes[1].Partition = (writes[0].Partition + 1 + rng.Int32N(w.cfg.Partitions-1)) % w.cfg.Partitions
	}
	return writes
}

// runTxn writes a begun transaction's records, ends it and records it as
// operation id. It reports whether the client is fit for another transaction.
func (w *Workload) runTxn(cl *kgo.Client, id int, writes []Record, commit bool) bool {
	acked, errs := w.write(cl, func(r *kgo.Record, promise func(*kgo.Record, error)) {
		cl.Produce(w.sendCtx, r, promise)
	}, writes)
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.DeliveryTimeout+10*time.Second)
	defer cancel()
	if err := cl.Flush(ctx); err != nil {
		errs = append(errs, fmt.Errorf("flush: %w", err))
	}
	endCall := w.rec.Now()
	if !commit || len(errs) > 0 {
		// A transaction that never asks to commit cannot commit, whatever its abort
		// answers.
		err := cl.EndTransaction(ctx, kgo.TryAbort)
		w.rec.CompleteTxn(id, Fail, acked, nil, EndAbort, endCall, errors.Join(append(errs, err)...))
		return err == nil
	}
	err := cl.EndTransaction(ctx, kgo.TryCommit)
	switch {
	case err == nil:
		w.rec.CompleteTxn(id, OK, acked, nil, EndCommit, endCall, nil)
		w.lastAck.Store(w.rec.Now())
		return true
	case errors.Is(err, kerr.OperationNotAttempted):
		// The producer id had failed: franz-go did not send the commit.
		aerr := cl.EndTransaction(ctx, kgo.TryAbort)
		w.rec.CompleteTxn(id, Fail, acked, nil, EndCommit, endCall, errors.Join(err, aerr))
		return false
	default:
		// The commit may or may not have happened. franz-go's documented retry is an
		// abort, which re-initialises the producer id and so aborts the transaction
		// if it is still open; if it committed, it stays committed.
		w.rec.CompleteTxn(id, Info, acked, nil, EndCommit, endCall, err)
		return cl.EndTransaction(ctx, kgo.TryAbort) == nil
	}
}

// write produces records through produce and waits for every answer. It returns
// the records with the offsets acknowledged, and the errors.
func (w *Workload) write(cl *kgo.Client, produce func(*kgo.Record, func(*kgo.Record, error)), writes []Record) ([]Record, []error) {
	sent := w.rec.Now()
	acked := make([]Record, len(writes))
	copy(acked, writes)
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for k, r := range writes {
		wg.Add(1)
		produce(&kgo.Record{Topic: w.cfg.Topic, Partition: r.Partition, Value: []byte(r.Value)}, func(kr *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("write %s to partition %d: %w", r.Value, r.Partition, err))
				return
			}
			acked[k].Offset = kr.Offset
			w.acked.Add(1)
			w.lastAck.Store(w.rec.Now())
			storeMax(&w.ackedSent[r.Partition], sent)
		})
	}
	wg.Wait() // every record is answered within its delivery timeout
	return acked, errs
}

// processor runs one consume-transform-produce member of ProcessorGroup until ctx
// ends. A session whose transaction ended in an error is closed and replaced.
func (w *Workload) processor(ctx context.Context, m int, rng *rand.Rand) {
	process := fmt.Sprintf("processor-%d", m)
	txnID := fmt.Sprintf("chaos-proc-%d", m)
	seq := 0
	for ctx.Err() == nil {
		opts := w.clientOpts(process, append(w.producerOpts(txnID),
			kgo.ConsumerGroup(ProcessorGroup),
			kgo.ConsumeTopics(w.cfg.Topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.RequireStableFetchOffsets(),
			kgo.FetchMaxWait(500*time.Millisecond),
			// Short, so that members a crashed coordinator forgot are dropped, and the
			// group serves again, well within a short run's fault interval.
			kgo.SessionTimeout(6*time.Second),
			kgo.RebalanceTimeout(10*time.Second),
		)...)
		sess, err := kgo.NewGroupTransactSession(opts...)
		if err != nil {
			w.logger.Error("processor session", "processor", m, "err", err)
			return
		}
		for ctx.Err() == nil {
			if !w.processOnce(ctx, sess, process, m, rng, &seq) {
				break
			}
		}
		sess.Close()
	}
	w.fence(process, txnID)
}

// fence initialises txnID's producer once more, as a restarted application would:
// the coordinator bumps the epoch and aborts a transaction the last client left
// open (one whose end failed), which would otherwise hold back the last stable
// offset, and so every read_committed reader, until its timeout.
func (w *Workload) fence(process, txnID string) {
	cl, err := w.client(process)
	if err != nil {
		w.logger.Warn("fence", "transactional_id", txnID, "err", err)
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = WaitFor(ctx, "InitProducerId of "+txnID, func(ctx context.Context) (bool, error) {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = kmsg.StringPtr(txnID)
		req.TransactionTimeoutMillis = int32(w.cfg.TxnTimeout.Milliseconds())
		resp, err := req.RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		return err == nil, err
	})
	if err != nil {
		w.logger.Warn("fence", "transactional_id", txnID, "err", err)
	}
}

// processOnce polls once and, if it read anything, runs one transaction over what
// it read. It reports whether the session is fit for another.
func (w *Workload) processOnce(ctx context.Context, sess *kgo.GroupTransactSession, process string, m int, rng *rand.Rand, seq *int) bool {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	fetches := sess.PollFetches(pctx)
	cancel()
	if ctx.Err() != nil {
		return false
	}
	var reads []Record
	fetches.EachRecord(func(r *kgo.Record) {
		reads = append(reads, Record{Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)})
	})
	for _, fe := range fetches.Errors() {
		if !errors.Is(fe.Err, context.DeadlineExceeded) && !errors.Is(fe.Err, context.Canceled) {
			w.logger.Info("processor fetch", "processor", m, "partition", fe.Partition, "err", fe.Err)
		}
	}
	if len(reads) == 0 {
		return true
	}
	var writes []Record
	for _, r := range reads {
		if strings.HasPrefix(r.Value, "t") { // a producer's record: transform it
			writes = append(writes, Record{Partition: rng.Int32N(w.cfg.Partitions), Offset: -1, Value: fmt.Sprintf("x%d-%d", m, *seq)})
			*seq++
		}
	}
	commit := rng.Float64() >= w.cfg.AbortRatio
	if err := sess.Begin(); err != nil {
		w.logger.Warn("processor begin", "processor", m, "err", err)
		return false
	}
	id := w.rec.Invoke(process, KindTxn, writes)
	acked, errs := w.write(sess.Client(), func(r *kgo.Record, promise func(*kgo.Record, error)) {
		sess.Produce(w.sendCtx, r, promise)
	}, writes)
	ectx, cancel := context.WithTimeout(context.Background(), w.cfg.DeliveryTimeout+10*time.Second)
	defer cancel()
	endCall := w.rec.Now()
	end, try := EndCommit, kgo.TryCommit
	if !commit || len(errs) > 0 {
		end, try = EndAbort, kgo.TryAbort
	}
	committed, err := sess.End(ectx, try)
	switch {
	case err == nil && committed:
		w.rec.CompleteTxn(id, OK, acked, reads, end, endCall, nil)
		w.lastAck.Store(w.rec.Now())
	case err == nil || end == EndAbort:
		// Aborted: as asked, after a failed write, or because the group rebalanced.
		w.rec.CompleteTxn(id, Fail, acked, reads, end, endCall, errors.Join(append(errs, err)...))
	default:
		w.rec.CompleteTxn(id, Info, acked, reads, end, endCall, err)
	}
	return err == nil
}

// WriteEndMarkers writes one non-transactional record "end-<p>" to each partition
// (recorded as sends by "end-marker") and returns, per partition, the offset after
// it: how far the consumers and the final read must get. Call it once the
// producers have stopped.
func (w *Workload) WriteEndMarkers(ctx context.Context) (map[int32]int64, error) {
	const process = "end-marker"
	cl, err := w.client(process,
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(10*time.Second),
		kgo.UnknownTopicRetries(-1),
	)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends := make(map[int32]int64)
	for p := range w.cfg.Partitions {
		attempt := 0
		err := WaitFor(ctx, fmt.Sprintf("end marker of partition %d", p), func(ctx context.Context) (bool, error) {
			v := fmt.Sprintf("end-%d-%d", p, attempt)
			attempt++
			id := w.rec.Invoke(process, KindSend, []Record{{Partition: p, Offset: -1, Value: v}})
			r, err := cl.ProduceSync(ctx, &kgo.Record{Topic: w.cfg.Topic, Partition: p, Value: []byte(v)}).First()
			if err != nil {
				w.rec.Complete(id, sendOutcome(err), nil, err)
				return false, err
			}
			w.rec.Complete(id, OK, []Record{{Partition: p, Offset: r.Offset, Value: v}}, nil)
			ends[p] = r.Offset + 1
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	return ends, nil
}

// ReadGroupOffsets records ProcessorGroup's committed offsets as a KindOffsets
// operation. Call it once the processors have stopped.
func (w *Workload) ReadGroupOffsets(ctx context.Context) error {
	if w.cfg.Processors <= 0 {
		return nil
	}
	cl, err := w.client("group-offsets")
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	return WaitFor(ctx, "the committed offsets of "+ProcessorGroup, func(ctx context.Context) (bool, error) {
		id := w.rec.Invoke("group-offsets", KindOffsets, nil)
		offs, err := adm.FetchOffsets(ctx, ProcessorGroup)
		if err == nil {
			err = offs.Error()
		}
		if err != nil {
			w.rec.Discard(id)
			return false, err
		}
		var recs []Record
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Topic == w.cfg.Topic {
				recs = append(recs, Record{Partition: o.Partition, Offset: o.At})
			}
		})
		w.rec.Complete(id, OK, recs, nil)
		return true, nil
	})
}
