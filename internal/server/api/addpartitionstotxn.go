// AddPartitionsToTxn (key 24), versions 0-3.
//
// Behaviour: adds partitions to a transactional producer's transaction at its
// coordinator (internal/txn), starting the transaction if none is open; the producer
// calls it before its first write to each partition. Every partition gets the same
// answer, except that, when some topics are unknown, those get
// UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED, as Kafka answers.
// v4+ (the brokers' batched verification of KIP-890) is not served.
// Errors: NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, INVALID_PRODUCER_ID_MAPPING,
// PRODUCER_FENCED, INVALID_PRODUCER_EPOCH, CONCURRENT_TRANSACTIONS,
// UNKNOWN_TOPIC_OR_PARTITION, OPERATION_NOT_ATTEMPTED.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/txn"
)

func (h *handlers) addPartitionsToTxn(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.AddPartitionsToTxnRequest)
	resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	img := h.Meta.Image()
	var parts []txn.TopicPartition
	unknown := map[string]bool{}
	for _, rt := range r.Topics {
		t := img.Topics[rt.Topic]
		for _, p := range rt.Partitions {
			if t == nil || p < 0 || int(p) >= len(t.Partitions) {
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
