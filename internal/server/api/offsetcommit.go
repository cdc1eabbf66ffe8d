// OffsetCommit (key 8), versions 2-10.
//
// Behaviour: stores a group's committed offsets in __consumer_offsets and
// answers once the write is acknowledged as the topic's durability asks
// (within offsets.commit.timeout.ms). A commit with generation -1 comes from
// outside the group protocol (admin tools, manual assignment) and is taken
// for an empty group, which it creates if needed; otherwise the member and
// generation must be current, and commits are refused between the join and
// the sync of a rebalance. v2-4 may carry a retention time (the offset then
// expires that long after the commit); v6 adds the leader epoch, v7 the
// instance id, v10 names topics by ID.
// Errors (per partition): UNKNOWN_TOPIC_OR_PARTITION / UNKNOWN_TOPIC_ID,
// OFFSET_METADATA_TOO_LARGE, ILLEGAL_GENERATION (GROUP_ID_NOT_FOUND from v9
// for a group that does not exist), UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
// REBALANCE_IN_PROGRESS, INVALID_GROUP_ID, INVALID_COMMIT_OFFSET_SIZE,
// REQUEST_TIMED_OUT, NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS,
// COORDINATOR_NOT_AVAILABLE.
package api

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/group"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) offsetCommit(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.OffsetCommitRequest)
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
	img := h.Meta.Image()

	cr := group.CommitRequest{
		Group:           r.Group,
		Generation:      r.Generation,
		MemberID:        r.MemberID,
		Retention:       -1,
		GroupIDNotFound: r.Version >= 9,
	}
	if r.Version >= 7 {
		cr.InstanceID = r.InstanceID
	}
	if r.Version <= 4 && r.RetentionTimeMillis >= 0 {
		cr.Retention = time.Duration(r.RetentionTimeMillis) * time.Millisecond
	}
	// Fill the response in request order; the partitions that pass the
	// topic checks go to the coordinator, which answers them by index.
	type slot struct{ t, p int }
	var slots []slot
	for ti, rt := range r.Topics {
		ot := kmsg.NewOffsetCommitResponseTopic()
		ot.Topic, ot.TopicID = rt.Topic, rt.TopicID
		name, topicErr := rt.Topic, error(nil)
		if r.Version >= 10 {
			if t := img.TopicsByID[rt.TopicID]; t != nil {
				name = t.Name
			} else {
				topicErr = kerr.UnknownTopicID
			}
		}
		t := img.Topics[name]
		for pi, rp := range rt.Partitions {
			op := kmsg.NewOffsetCommitResponseTopicPartition()
			op.Partition = rp.Partition
			err := topicErr
			if err == nil && (t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions)) {
				err = kerr.UnknownTopicOrPartition
			}
			if err == nil && r.Group == "" {
				err = kerr.InvalidGroupID
			}
			if err != nil {
				op.ErrorCode = errCode(err)
			} else {
				epoch := int32(-1)
				if r.Version >= 6 {
					epoch = rp.LeaderEpoch
				}
				cr.Offsets = append(cr.Offsets, group.CommitOffset{Topic: name, Partition: rp.Partition, Offset: rp.Offset, LeaderEpoch: epoch, Metadata: rp.Metadata})
				slots = append(slots, slot{ti, pi})
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	if len(cr.Offsets) == 0 {
		return &server.Reply{Msg: resp}
	}
	return awaitReply(h.Groups.CommitOffsets(cr), func(errs []error) *server.Reply {
		for i, s := range slots {
			resp.Topics[s.t].Partitions[s.p].ErrorCode = groupCode(errs[i])
		}
		return &server.Reply{Msg: resp}
	})
}
