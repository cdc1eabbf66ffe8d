// InitProducerId (key 22), versions 0-5.
//
// Behaviour: gives an idempotent producer (no transactional id) a fresh
// producer id with epoch 0, as Kafka does whatever id and epoch the request
// carries (v3+). Ids come from blocks reserved in the metadata log, so none is
// ever given twice. A transactional producer gets its id from the transaction
// coordinator of its transactional id (internal/txn): the same id with the next
// epoch on every call, which fences older incarnations; an open transaction of
// the previous epoch is aborted first (CONCURRENT_TRANSACTIONS until then). A
// transactional producer that presents its id and epoch (v3+, KIP-360) keeps
// them only if it is still the current producer: else PRODUCER_FENCED.
// Errors: COORDINATOR_NOT_AVAILABLE when no id block can be reserved;
// NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, INVALID_TRANSACTION_TIMEOUT
// (above transaction.max.timeout.ms), CONCURRENT_TRANSACTIONS for
// transactional ids; TRANSACTIONAL_ID_AUTHORIZATION_FAILED where the broker runs
// no transaction coordinator.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) initProducerID(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.InitProducerIDRequest)
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if r.TransactionalID != nil {
		if h.Txns == nil {
			resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			return &server.Reply{Msg: resp}
		}
		pid, epoch, err := h.Txns.InitProducerIDExpecting(ctx, *r.TransactionalID, r.TransactionTimeoutMillis, r.ProducerID, r.ProducerEpoch)
		if err != nil {
			resp.ErrorCode = errCode(err)
			return &server.Reply{Msg: resp}
		}
		resp.ProducerID, resp.ProducerEpoch = pid, epoch
		return &server.Reply{Msg: resp}
	}
	id, err := h.PIDs.Next(ctx)
	if err != nil {
		h.Logger.Warn("allocate producer id", "err", err)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return &server.Reply{Msg: resp}
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return &server.Reply{Msg: resp}
}
