// SyncGroup (key 14), versions 0-5.
//
// Behaviour: after the join phase, the leader sends the assignment and every
// member asks for its part. The group's metadata, assignment included, is
// written to __consumer_offsets; the answers go out once that write is
// acknowledged as the topic's durability asks, and the group is then Stable.
// A Stable group answers at once with the member's assignment. v3 adds the
// instance id, v5 the protocol type and name, checked against the group's.
// Errors: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS,
// FENCED_INSTANCE_ID, INCONSISTENT_GROUP_PROTOCOL, INVALID_GROUP_ID,
// NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/group"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) syncGroup(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.SyncGroupRequest)
	sr := group.SyncRequest{
		Group:      r.Group,
		Generation: r.Generation,
		MemberID:   r.MemberID,
	}
	if r.Version >= 3 {
		sr.InstanceID = r.InstanceID
	}
	if r.Version >= 5 {
		sr.ProtocolType, sr.Protocol = r.ProtocolType, r.Protocol
	}
	for _, a := range r.GroupAssignment {
		sr.Assignments = append(sr.Assignments, group.Assignment{MemberID: a.MemberID, Assignment: a.MemberAssignment})
	}
	return awaitReply(h.Groups.SyncGroup(sr), func(res group.SyncResult) *server.Reply {
		resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = groupCode(res.Err)
		resp.ProtocolType, resp.Protocol = res.ProtocolType, res.Protocol
		resp.MemberAssignment = res.Assignment
		if resp.MemberAssignment == nil {
			resp.MemberAssignment = []byte{}
		}
		return &server.Reply{Msg: resp}
	})
}
