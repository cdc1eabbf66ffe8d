// OffsetDelete (key 47), version 0.
//
// Behaviour: deletes a group's committed offsets for the asked partitions:
// any of an empty group, and of a consumer group only those of topics no
// member subscribes to (KIP-496). Tombstones are written to
// __consumer_offsets and the answer waits for them to be acknowledged.
// Errors: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP (an active group that is not a
// consumer group), INVALID_GROUP_ID, NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE; per partition
// GROUP_SUBSCRIBED_TO_TOPIC and UNKNOWN_TOPIC_OR_PARTITION.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/group"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) offsetDelete(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.OffsetDeleteRequest)
	resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if r.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return &server.Reply{Msg: resp}
	}
	img := h.Meta.Image()
	type slot struct{ t, p int }
	var asked []group.TopicPartitions
	var slots [][]slot // per asked topic, where its partitions go
	for ti, rt := range r.Topics {
		ot := kmsg.NewOffsetDeleteResponseTopic()
		ot.Topic = rt.Topic
		t := img.Topics[rt.Topic]
		tp := group.TopicPartitions{Topic: rt.Topic}
		var ss []slot
		for pi, rp := range rt.Partitions {
			op := kmsg.NewOffsetDeleteResponseTopicPartition()
			op.Partition = rp.Partition
			if t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				tp.Partitions = append(tp.Partitions, rp.Partition)
				ss = append(ss, slot{ti, pi})
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
		asked = append(asked, tp)
		slots = append(slots, ss)
	}
	return awaitReply(h.Groups.DeleteOffsets(r.Group, asked), func(res group.DeleteOffsetsResult) *server.Reply {
		if res.Err != nil {
			resp.ErrorCode = errCode(res.Err)
			resp.Topics = nil
			return &server.Reply{Msg: resp}
		}
		for i, ss := range slots {
			for j, s := range ss {
				resp.Topics[s.t].Partitions[s.p].ErrorCode = groupCode(res.Partitions[i][j])
			}
		}
		return &server.Reply{Msg: resp}
	})
}
