// LeaveGroup (key 13), versions 0-5.
//
// Behaviour: members leave a group, which rebalances without them (or
// becomes Empty). v0-2 name one member; from v3 a batch, each by member id
// or, with an empty member id, by instance id (how admin clients remove
// static members), each with its own error. v5 carries a reason.
// Errors: UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, INVALID_GROUP_ID,
// NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/group"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) leaveGroup(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.LeaveGroupRequest)
	resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
	var members []group.LeaveMember
	if r.Version < 3 {
		members = []group.LeaveMember{{MemberID: r.MemberID}}
	} else {
		for _, m := range r.Members {
			lm := group.LeaveMember{MemberID: m.MemberID, InstanceID: m.InstanceID}
			if m.Reason != nil {
				lm.Reason = *m.Reason
			}
			members = append(members, lm)
		}
	}
	groupErr, errs := h.Groups.LeaveGroup(r.Group, members)
	if groupErr != nil {
		resp.ErrorCode = groupCode(groupErr)
		return &server.Reply{Msg: resp}
	}
	if r.Version < 3 {
		resp.ErrorCode = groupCode(errs[0])
		return &server.Reply{Msg: resp}
	}
	for i, m := range r.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = m.MemberID, m.InstanceID
		rm.ErrorCode = groupCode(errs[i])
		resp.Members = append(resp.Members, rm)
	}
	return &server.Reply{Msg: resp}
}
