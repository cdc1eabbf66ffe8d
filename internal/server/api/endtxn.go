// EndTxn (key 26), versions 0-3.
//
// Behaviour: commits or aborts a producer's transaction at its coordinator: the
// decision is written to __transaction_state and answered, then every partition of the
// transaction gets its marker (WriteTxnMarkers to the leaders) in the background, after
// which the transaction is complete; until then the producer's next AddPartitionsToTxn
// answers CONCURRENT_TRANSACTIONS and it retries. A retried EndTxn of a decided
// transaction succeeds.
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
	resp.ErrorCode = errCode(h.Txns.EndTxn(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit))
	return &server.Reply{Msg: resp}
}
