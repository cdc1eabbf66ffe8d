// UnregisterBroker (key 64), version 0.
//
// Behaviour: removes a broker's registration for good, through the controller
// (metadata.Store.UnregisterBroker): the last step of decommissioning, after its
// replicas have been moved off it (`sluice brokers decommission` does both). A broker
// that still runs registers again; stop it first.
// Errors: BROKER_ID_NOT_REGISTERED; INVALID_REQUEST while it still hosts replicas.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) unregisterBroker(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.UnregisterBrokerRequest)
	resp := r.ResponseKind().(*kmsg.UnregisterBrokerResponse)
	err := h.Meta.UnregisterBroker(ctx, r.BrokerID)
	resp.ErrorCode, resp.ErrorMessage = errCode(err), errMessage(err)
	return &server.Reply{Msg: resp}
}
