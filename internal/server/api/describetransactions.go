// DescribeTransactions (key 65), version 0.
//
// Behaviour: describes transactional ids this broker coordinates: state (Kafka's names:
// Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort, Dead,
// PrepareEpochFence), timeout, start time, producer id and epoch, and the partitions
// of the open transaction. A long-Ongoing transaction here is a hanging one.
// Errors per id: NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS,
// TRANSACTIONAL_ID_NOT_FOUND.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) describeTransactions(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.DescribeTransactionsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range r.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID = id
		d, err := h.Txns.DescribeTxn(id)
		st.ErrorCode = errCode(err)
		if err == nil {
			st.State = d.State.String()
			st.TimeoutMillis, st.StartTimestamp = d.TimeoutMs, d.StartMs
			st.ProducerID, st.ProducerEpoch = d.ProducerID, d.Epoch
			byTopic := map[string]int{}
			for _, tp := range d.Partitions {
				i, ok := byTopic[tp.Topic]
				if !ok {
					t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
					t.Topic = tp.Topic
					st.Topics = append(st.Topics, t)
					i = len(st.Topics) - 1
					byTopic[tp.Topic] = i
				}
				st.Topics[i].Partitions = append(st.Topics[i].Partitions, tp.Partition)
			}
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return &server.Reply{Msg: resp}
}
