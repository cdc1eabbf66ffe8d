// ElectLeaders (key 43), versions 0-2.
//
// Behaviour: runs leader elections through the controller
// (metadata.Store.ElectLeaders). PREFERRED (v0, and ElectionType 0) moves each
// partition's leadership to its first replica when that replica is live and in the
// ISR; UNCLEAN (1) gives a leaderless partition its first live replica, in sync or not,
// which may lose records. Topics null means every partition; partitions whose election
// was not needed are then left out of the answer, as Kafka does.
// Errors per partition: UNKNOWN_TOPIC_OR_PARTITION, ELECTION_NOT_NEEDED,
// PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE; INVALID_REQUEST for
// an unknown election type.
package api

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) electLeaders(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.ElectLeadersRequest)
	resp := r.ResponseKind().(*kmsg.ElectLeadersResponse)
	unclean := r.Version >= 1 && r.ElectionType == 1
	if r.Version >= 1 && r.ElectionType != 0 && r.ElectionType != 1 {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return &server.Reply{Msg: resp}
	}
	all := r.Topics == nil
	topics := r.Topics
	if all {
		img := h.Meta.Image()
		for _, name := range img.TopicNames() {
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic = name
			for _, p := range img.Topics[name].Partitions {
				rt.Partitions = append(rt.Partitions, p.Index)
			}
			topics = append(topics, rt)
		}
	}
	for _, rt := range topics {
		ot := kmsg.NewElectLeadersResponseTopic()
		ot.Topic = rt.Topic
		for _, p := range rt.Partitions {
			err := h.Meta.ElectLeaders(ctx, rt.Topic, p, unclean)
			if all && errors.Is(err, kerr.ElectionNotNeeded) {
				continue
			}
			op := kmsg.NewElectLeadersResponseTopicPartition()
			op.Partition = p
			op.ErrorCode, op.ErrorMessage = errCode(err), errMessage(err)
			ot.Partitions = append(ot.Partitions, op)
		}
		if len(ot.Partitions) > 0 || !all {
			resp.Topics = append(resp.Topics, ot)
		}
	}
	return &server.Reply{Msg: resp}
}
