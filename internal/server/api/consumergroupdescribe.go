// ConsumerGroupDescribe (key 69), versions 0-1.
//
// Behaviour: describes consumer-protocol (KIP-848) groups: state (Empty,
// Assigning, Reconciling, Stable), the group and target-assignment epochs,
// the assignor in use, and every member with its epoch, subscription, and
// current and target assignments. A classic group is GROUP_ID_NOT_FOUND
// ("not a consumer group"), as in Kafka. v1 adds the member type: 1 for a
// consumer-protocol member, 0 for a classic member of a consumer group.
// Errors: INVALID_GROUP_ID, GROUP_ID_NOT_FOUND, GROUP_AUTHORIZATION_FAILED,
// NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/group"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) consumerGroupDescribe(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.ConsumerGroupDescribeRequest)
	resp := r.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	for _, name := range r.Groups {
		d := h.Groups.DescribeConsumerGroup(name)
		og := kmsg.NewConsumerGroupDescribeResponseGroup()
		og.Group = name
		og.ErrorCode = groupCode(d.Err)
		if d.ErrMessage != "" {
			msg := d.ErrMessage
			og.ErrorMessage = &msg
		}
		if d.Err == nil {
			og.State, og.Epoch, og.AssignmentEpoch, og.AssignorName = d.State, d.Epoch, d.AssignmentEpoch, d.Assignor
			for _, m := range d.Members {
				om := kmsg.NewConsumerGroupDescribeResponseGroupMember()
				om.MemberID, om.InstanceID, om.RackID, om.MemberEpoch = m.MemberID, m.InstanceID, m.RackID, m.MemberEpoch
				om.ClientID, om.ClientHost = m.ClientID, m.ClientHost
				om.SubscribedTopics, om.SubscribedTopicRegex = m.SubscribedTopicNames, m.SubscribedTopicRegex
				if om.SubscribedTopics == nil {
					om.SubscribedTopics = []string{}
				}
				om.Assignment = describedAssignment(m.Assignment)
				om.TargetAssignment = describedAssignment(m.TargetAssignment)
				if r.Version >= 1 {
					om.MemberType = 1
					if m.Classic {
						om.MemberType = 0
					}
				}
				og.Members = append(og.Members, om)
			}
			if r.IncludeAuthorizedOperations {
				og.AuthorizedOperations = groupOps
			}
		}
		resp.Groups = append(resp.Groups, og)
	}
	return &server.Reply{Msg: resp}
}

func describedAssignment(ts []group.TopicIDPartitions) kmsg.Assignment {
	a := kmsg.NewAssignment()
	for _, t := range ts {
		at := kmsg.NewAssignmentTopicPartition()
		at.TopicID, at.Topic, at.Partitions = t.TopicID, t.Topic, t.Partitions
		a.TopicPartitions = append(a.TopicPartitions, at)
	}
	return a
}
