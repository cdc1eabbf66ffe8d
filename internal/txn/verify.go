package txn

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Forwarder reaches the coordinator on another broker for a partition leader's
// AddPartitionsToTxn (v4+): BrokerMarkers is one.
type Forwarder interface {
	AddPartitionsToTxn(ctx context.Context, p int32, req *kmsg.AddPartitionsToTxnRequest) (*kmsg.AddPartitionsToTxnResponse, error)
}

// concurrentWait bounds how long LeaderAdd waits out CONCURRENT_TRANSACTIONS (the
// previous transaction's markers still being written) before answering it. Kafka's
// partition leaders retry it too (add.partitions.to.txn.retry.backoff.max.ms).
const concurrentWait = 3 * time.Second

// LeaderAdd is a partition leader's side of a producer's first transactional write to
// parts in a transaction (Kafka's AddPartitionsToTxnManager). With add (Produce v12+,
// transactions v2) the coordinator adds the partitions to the producer's transaction;
// without (older produce versions, KIP-890 part 1) it only verifies that they are in
// its ongoing transaction. The coordinator of id answers, on this broker or another.
// It returns one error per partition: nil lets the write go ahead. While the previous
// transaction is being completed, the call waits a little (up to 3 s) before
// answering CONCURRENT_TRANSACTIONS.
func (c *Coordinator) LeaderAdd(ctx context.Context, id string, pid int64, epoch int16, parts []TopicPartition, add bool) []error {
	backoff := 5 * time.Millisecond
	deadline := time.Now().Add(concurrentWait)
	for {
		// Taken before asking, so that a completion stored in between is not
		// missed: a local coordinator's completion wakes the wait at once; a
		// remote one's is waited out with the backoff.
		completed := c.completions()
		errs := c.leaderAddOnce(ctx, id, pid, epoch, parts, add)
		retry := false
		for _, err := range errs {
			retry = retry || errors.Is(err, kerr.ConcurrentTransactions)
		}
		if !retry || time.Now().Add(backoff).After(deadline) {
			return errs
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return errs
		case <-completed:
			timer.Stop()
		case <-timer.C:
		}
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

func (c *Coordinator) leaderAddOnce(ctx context.Context, id string, pid int64, epoch int16, parts []TopicPartition, add bool) []error {
	all := func(err error) []error {
		out := make([]error, len(parts))
		for i := range out {
			out[i] = err
		}
		return out
	}
	if _, _, _, _, err := c.meta(id); !errors.Is(err, kerr.NotCoordinator) {
		// This broker coordinates id (or is loading it).
		if add {
			return all(c.AddImplicit(ctx, id, pid, epoch, parts))
		}
		errs, err := c.Verify(id, pid, epoch, parts)
		if err != nil {
			return all(err)
		}
		return errs
	}
	f, ok := c.markers.(Forwarder)
	if !ok {
		return all(kerr.CoordinatorNotAvailable)
	}
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = 5
	t := kmsg.NewAddPartitionsToTxnRequestTransaction()
	t.TransactionalID, t.ProducerID, t.ProducerEpoch, t.VerifyOnly = id, pid, epoch, !add
	index := map[TopicPartition]int{}
	for i, tp := range parts {
		index[tp] = i
		n := len(t.Topics)
		if n == 0 || t.Topics[n-1].Topic != tp.Topic {
			rt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
			rt.Topic = tp.Topic
			t.Topics = append(t.Topics, rt)
			n++
		}
		t.Topics[n-1].Partitions = append(t.Topics[n-1].Partitions, tp.Partition)
	}
	req.Transactions = append(req.Transactions, t)
	resp, err := f.AddPartitionsToTxn(ctx, c.PartitionFor(id), req)
	if err != nil {
		var ke *kerr.Error
		if !errors.As(err, &ke) {
			err = kerr.NetworkException
		}
		return all(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return all(err)
	}
	out := all(kerr.UnknownServerError) // a partition the answer leaves out
	for _, rt := range resp.Transactions {
		if rt.TransactionalID != id {
			continue
		}
		for _, tt := range rt.Topics {
			for _, p := range tt.Partitions {
				if i, ok := index[TopicPartition{tt.Topic, p.Partition}]; ok {
					out[i] = kerr.ErrorForCode(p.ErrorCode)
				}
			}
		}
	}
	return out
}
