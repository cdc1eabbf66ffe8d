// Heartbeat (key 12), versions 0-4.
//
// Behaviour: keeps a member's session alive, and tells it when the group is
// rebalancing (REBALANCE_IN_PROGRESS: rejoin). v3 adds the instance id.
// Errors: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS,
// FENCED_INSTANCE_ID, INVALID_GROUP_ID, NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/group"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) heartbeat(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.HeartbeatRequest)
	hr := group.HeartbeatRequest{Group: r.Group, Generation: r.Generation, MemberID: r.MemberID}
	if r.Version >= 3 {
		hr.InstanceID = r.InstanceID
	}
	resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.ErrorCode = groupCode(h.Groups.Heartbeat(hr))
	return &server.Reply{Msg: resp}
}
