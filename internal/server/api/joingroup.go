// JoinGroup (key 11), versions 0-9.
//
// Behaviour: a member joins (or rejoins) a classic group; the answer comes
// when the rebalance's join phase ends: every member that joined gets the
// new generation and the chosen protocol, the leader also every member's
// metadata. The coordinator stays assignor-agnostic: it picks the protocol
// all members support that most prefer, and passes metadata through. From
// v4 a member's first join is answered MEMBER_ID_REQUIRED with its id
// (KIP-394); before v4 it gets the id at once. v5 adds static membership
// (group.instance.id, KIP-345): a known instance rejoining a stable group
// takes over its assignment without a rebalance. v0 has no rebalance
// timeout: the session timeout serves. v7 answers the protocol type, v8
// carries a reason, v9 tells a rejoining static leader to skip assigning.
// Errors: INVALID_GROUP_ID, INVALID_SESSION_TIMEOUT, INCONSISTENT_GROUP_PROTOCOL,
// UNKNOWN_MEMBER_ID, MEMBER_ID_REQUIRED, FENCED_INSTANCE_ID,
// GROUP_MAX_SIZE_REACHED, REBALANCE_IN_PROGRESS, NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE.
package api

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/group"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) joinGroup(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.JoinGroupRequest)
	jr := group.JoinRequest{
		Group:                  r.Group,
		MemberID:               r.MemberID,
		ClientID:               clientID(req),
		ClientHost:             clientHost(req),
		SessionTimeout:         time.Duration(r.SessionTimeoutMillis) * time.Millisecond,
		RebalanceTimeout:       time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond,
		ProtocolType:           r.ProtocolType,
		RequireKnownMemberID:   r.Version >= 4,
		SupportsSkipAssignment: r.Version >= 9,
	}
	if r.Version == 0 {
		jr.RebalanceTimeout = jr.SessionTimeout
	}
	if r.Version >= 5 {
		jr.InstanceID = r.InstanceID
	}
	if r.Reason != nil {
		jr.Reason = *r.Reason
	}
	for _, p := range r.Protocols {
		jr.Protocols = append(jr.Protocols, group.Protocol{Name: p.Name, Metadata: p.Metadata})
	}
	return awaitReply(h.Groups.JoinGroup(jr), func(res group.JoinResult) *server.Reply {
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = groupCode(res.Err)
		resp.Generation = res.Generation
		resp.ProtocolType = res.ProtocolType
		resp.Protocol = res.Protocol
		resp.LeaderID = res.Leader
		resp.SkipAssignment = res.SkipAssignment
		resp.MemberID = res.MemberID
		for _, m := range res.Members {
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = m.MemberID, m.InstanceID, m.Metadata
			resp.Members = append(resp.Members, rm)
		}
		return &server.Reply{Msg: resp}
	})
}
