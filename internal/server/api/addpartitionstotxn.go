// AddPartitionsToTxn (key 24), versions 0-5.
//
// Behaviour, v0-3 (the producer's form): adds partitions to a transactional
// producer's transaction at its coordinator (internal/txn), starting the transaction
// if none is open; a producer of transactions v1 calls it before its first write to
// each partition. Every partition gets the same answer, except that, when some topics
// are unknown, those get UNKNOWN_TOPIC_OR_PARTITION and the others
// OPERATION_NOT_ATTEMPTED, as Kafka answers.
// v4-5 (the brokers' form, KIP-890; CLUSTER_ACTION on the cluster): a partition
// leader's batch of transactions, one answer per transaction and partition. With
// VerifyOnly (a write of transactions v1, part 1 of KIP-890) the coordinator only
// says whether each partition is in the producer's ongoing transaction
// (TRANSACTION_ABORTABLE when not; INVALID_TXN_STATE in v4, which predates it);
// without (a Produce v12+ write, transactions v2) it adds them. PRODUCER_FENCED is
// answered as is: the leader turns it into INVALID_PRODUCER_EPOCH for the producer.
// Errors: NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, INVALID_PRODUCER_ID_MAPPING,
// PRODUCER_FENCED, INVALID_PRODUCER_EPOCH, CONCURRENT_TRANSACTIONS,
// UNKNOWN_TOPIC_OR_PARTITION, OPERATION_NOT_ATTEMPTED, TRANSACTION_ABORTABLE,
// CLUSTER_AUTHORIZATION_FAILED (v4+, top level).
package api

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/txn"
)

func (h *handlers) addPartitionsToTxn(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.AddPartitionsToTxnRequest)
	resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if r.Version >= 4 {
		h.addPartitionsForBrokers(ctx, req, r, resp)
		return &server.Reply{Msg: resp}
	}
	img := h.Meta.Image()
	var parts []txn.TopicPartition
	unknown := map[string]bool{}
	for _, rt := range r.Topics {
		for _, p := range rt.Partitions {
			if !partitionExists(img, rt.Topic, p) {
				unknown[rt.Topic] = true
			}
			parts = append(parts, txn.TopicPartition{Topic: rt.Topic, Partition: p})
		}
	}
	var err error
	if len(unknown) == 0 {
		err = h.Txns.AddPartitions(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, parts)
	}
	for _, rt := range r.Topics {
		ot := kmsg.NewAddPartitionsToTxnResponseTopic()
		ot.Topic = rt.Topic
		for _, p := range rt.Partitions {
			op := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			op.Partition = p
			switch {
			case len(unknown) == 0:
				op.ErrorCode = errCode(err)
			case unknown[rt.Topic]:
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				op.ErrorCode = kerr.OperationNotAttempted.Code
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return &server.Reply{Msg: resp}
}

func partitionExists(img *metadata.Image, topic string, p int32) bool {
	t := img.Topics[topic]
	return t != nil && p >= 0 && int(p) < len(t.Partitions)
}

// addPartitionsForBrokers answers v4+: each transaction of the batch on its own.
func (h *handlers) addPartitionsForBrokers(ctx context.Context, req *server.Request, r *kmsg.AddPartitionsToTxnRequest, resp *kmsg.AddPartitionsToTxnResponse) {
	if !h.authorizedCluster(req, kmsg.ACLOperationClusterAction) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return
	}
	img := h.Meta.Image()
	for _, t := range r.Transactions {
		var parts []txn.TopicPartition
		unknown := false
		for _, rt := range t.Topics {
			for _, p := range rt.Partitions {
				unknown = unknown || !partitionExists(img, rt.Topic, p)
				parts = append(parts, txn.TopicPartition{Topic: rt.Topic, Partition: p})
			}
		}
		errs := make([]error, len(parts))
		switch {
		case unknown:
			for i, tp := range parts {
				errs[i] = kerr.OperationNotAttempted
				if !partitionExists(img, tp.Topic, tp.Partition) {
					errs[i] = kerr.UnknownTopicOrPartition
				}
			}
		case t.VerifyOnly:
			perPart, err := h.Txns.Verify(t.TransactionalID, t.ProducerID, t.ProducerEpoch, parts)
			if err == nil {
				errs = perPart
			}
			for i := range errs {
				if err != nil {
					errs[i] = err
				}
			}
		default:
			err := h.Txns.AddImplicit(ctx, t.TransactionalID, t.ProducerID, t.ProducerEpoch, parts)
			for i := range errs {
				errs[i] = err
			}
		}
		ot := kmsg.NewAddPartitionsToTxnResponseTransaction()
		ot.TransactionalID = t.TransactionalID
		i := 0
		for _, rt := range t.Topics {
			tt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
			tt.Topic = rt.Topic
			for _, p := range rt.Partitions {
				op := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
				op.Partition = p
				err := errs[i]
				if r.Version < 5 && errors.Is(err, kerr.TransactionAbortable) {
					err = kerr.InvalidTxnState
				}
				op.ErrorCode = errCode(err)
				tt.Partitions = append(tt.Partitions, op)
				i++
			}
			ot.Topics = append(ot.Topics, tt)
		}
		resp.Transactions = append(resp.Transactions, ot)
	}
}
