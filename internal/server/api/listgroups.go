// ListGroups (key 16), versions 0-5.
//
// Behaviour: lists the groups this broker coordinates with their protocol
// type; v4 adds each group's state and a state filter (KIP-518), v5 its type
// ("classic") and a type filter (KIP-848). Filters are case-insensitive.
// Errors: COORDINATOR_LOAD_IN_PROGRESS (beside the groups already loaded)
// while a partition of __consumer_offsets is loading,
// COORDINATOR_NOT_AVAILABLE while the coordinator is not running.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) listGroups(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.ListGroupsRequest)
	resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
	groups, err := h.Groups.ListGroups(r.StatesFilter, r.TypesFilter)
	resp.ErrorCode = groupCode(err)
	for _, g := range groups {
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.Group, g.ProtocolType, g.State, g.Type
		resp.Groups = append(resp.Groups, lg)
	}
	return &server.Reply{Msg: resp}
}
