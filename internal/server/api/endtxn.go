// EndTxn (key 26), versions 0-5.
//
// Behaviour: commits or aborts a producer's transaction at its coordinator: the
// decision is written to __transaction_state and answered, then every partition of the
// transaction gets its marker (WriteTxnMarkers to the leaders) in the background, after
// which the transaction is complete; until then the producer's next AddPartitionsToTxn
// answers CONCURRENT_TRANSACTIONS and it retries. A retried EndTxn of a decided
// transaction succeeds.
// v0-4 are transactions v1: the producer keeps its epoch (v4 only allows Kafka's
// TRANSACTION_ABORTABLE, which the coordinator does not answer here).
// v5 is transactions v2 (KIP-890): the decision moves the producer to its next epoch,
// the markers carry that epoch (so a late write of the ended transaction is refused),
// and the response gives the producer id and epoch of the next transaction (a new
// producer id at epoch 0 once the epochs run out). An abort with no transaction open
// succeeds and bumps the epoch; a retry carries the epoch before the bump.
// Errors: NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, INVALID_PRODUCER_ID_MAPPING,
// PRODUCER_FENCED, INVALID_PRODUCER_EPOCH, CONCURRENT_TRANSACTIONS, INVALID_TXN_STATE.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) endTxn(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.EndTxnRequest)
	resp := r.ResponseKind().(*kmsg.EndTxnResponse)
	if r.Version >= 5 {
		pid, epoch, err := h.Txns.EndTxnV2(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit)
		resp.ErrorCode = errCode(err)
		if err == nil {
			resp.ProducerID, resp.ProducerEpoch = pid, epoch
		}
		return &server.Reply{Msg: resp}
	}
	resp.ErrorCode = errCode(h.Txns.EndTxn(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit))
	return &server.Reply{Msg: resp}
}
