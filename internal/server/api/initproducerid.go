// InitProducerId (key 22), versions 0-5.
//
// Behaviour: gives an idempotent producer (no transactional id) a fresh
// producer id with epoch 0, as Kafka does whatever id and epoch the request
// carries (v3+). Ids come from blocks reserved in the metadata log, so none is
// ever given twice.
// Errors: a transactional id gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED until
// the transaction coordinator exists; COORDINATOR_NOT_AVAILABLE when no id
// block can be reserved.
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
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
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
