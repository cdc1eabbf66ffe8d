// ConsumerGroupHeartbeat (key 68), versions 0-1.
//
// Behaviour: the one request of the KIP-848 consumer group protocol. A
// member joins with epoch 0 and its subscription (topic names or a regex)
// and optionally a server-side assignor (group.consumer.assignors); it
// leaves with epoch -1, or -2 for a static member that will come back. In
// between, each heartbeat reports the partitions it owns, and is answered
// with its member epoch and, when it changed, the partitions it may now
// consume: the coordinator computes the target assignment and moves each
// member towards it, giving a partition only after its previous owner
// revoked it. v0 has the coordinator name a joining member; from v1 the
// member names itself (KIP-1082) and may subscribe by regex.
// Errors: INVALID_REQUEST, UNKNOWN_MEMBER_ID, FENCED_MEMBER_EPOCH,
// FENCED_INSTANCE_ID, UNRELEASED_INSTANCE_ID, UNSUPPORTED_ASSIGNOR,
// GROUP_MAX_SIZE_REACHED, GROUP_ID_NOT_FOUND (a classic group with members),
// INVALID_REGULAR_EXPRESSION, GROUP_AUTHORIZATION_FAILED, NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE.
package api

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/group"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) consumerGroupHeartbeat(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.ConsumerGroupHeartbeatRequest)
	hr := group.ConsumerHeartbeatRequest{
		Version:              r.Version,
		Group:                r.Group,
		MemberID:             r.MemberID,
		MemberEpoch:          r.MemberEpoch,
		InstanceID:           r.InstanceID,
		RackID:               r.RackID,
		RebalanceTimeout:     time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond,
		SubscribedTopicNames: r.SubscribedTopicNames,
		ServerAssignor:       r.ServerAssignor,
		ClientID:             clientID(req),
		ClientHost:           clientHost(req),
	}
	if r.RebalanceTimeoutMillis < 0 {
		hr.RebalanceTimeout = -1
	}
	if r.Version >= 1 {
		hr.SubscribedTopicRegex = r.SubscribedTopicRegex
	}
	if r.Topics != nil {
		hr.Owned = make([]group.TopicIDPartitions, 0, len(r.Topics))
		for _, t := range r.Topics {
			hr.Owned = append(hr.Owned, group.TopicIDPartitions{TopicID: t.TopicID, Partitions: t.Partitions})
		}
	}
	return awaitReply(h.Groups.ConsumerGroupHeartbeat(hr), func(res group.ConsumerHeartbeatResult) *server.Reply {
		resp := r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
		resp.ErrorCode = groupCode(res.Err)
		if res.ErrMessage != "" {
			resp.ErrorMessage = &res.ErrMessage
		}
		if res.Err != nil {
			return &server.Reply{Msg: resp}
		}
		resp.MemberID = &res.MemberID
		resp.MemberEpoch = res.MemberEpoch
		resp.HeartbeatIntervalMillis = int32(res.HeartbeatInterval.Milliseconds())
		if res.Assignment != nil {
			a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
			a.Topics = make([]kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic, 0, len(*res.Assignment))
			for _, t := range *res.Assignment {
				at := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
				at.TopicID, at.Partitions = t.TopicID, t.Partitions
				a.Topics = append(a.Topics, at)
			}
			resp.Assignment = &a
		}
		return &server.Reply{Msg: resp}
	})
}
