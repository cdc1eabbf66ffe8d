// AddOffsetsToTxn (key 25), versions 0-3.
//
// Behaviour: adds a consumer group's partition of __consumer_offsets to a transaction,
// so that the offsets the producer then commits with TxnOffsetCommit are committed or
// aborted with it.
// Errors: as AddPartitionsToTxn; COORDINATOR_NOT_AVAILABLE while __consumer_offsets
// cannot be created.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/group"
	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/txn"
)

func (h *handlers) addOffsetsToTxn(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.AddOffsetsToTxnRequest)
	resp := r.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	t, err := h.offsetsTopic(ctx)
	if err == nil {
		p := group.PartitionFor(r.Group, int32(len(t.Partitions)))
		err = h.Txns.AddPartitions(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch,
			[]txn.TopicPartition{{Topic: group.Topic, Partition: p}})
	}
	resp.ErrorCode = errCode(err)
	return &server.Reply{Msg: resp}
}
