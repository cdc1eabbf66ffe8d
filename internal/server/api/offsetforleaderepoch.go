// OffsetForLeaderEpoch (key 23), versions 2-4.
//
// Behaviour: for each partition, answers the end offset of the leader epoch
// asked for, from the log's leader-epoch cache: the start offset of the next
// higher epoch that wrote to the log, or the log end offset for the latest
// epoch; with the epoch it belongs to (the largest epoch at or below the one
// asked that wrote records). An epoch below every known one answers itself
// with the start of the first known epoch; an epoch above the latest, or a
// log with no epochs, answers -1 and -1. Consumers use it (KIP-320) to detect a log
// truncated under them after a leader change, followers to truncate.
// CurrentLeaderEpoch (v2+) fences a caller with stale metadata; ReplicaID
// (v3+) is accepted from consumers (-1, -2) and followers alike.
// Errors: UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER,
// FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) offsetForLeaderEpoch(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.OffsetForLeaderEpochRequest)
	resp := r.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)

	for _, rt := range r.Topics {
		ot := kmsg.NewOffsetForLeaderEpochResponseTopic()
		ot.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			op := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			op.Partition = rp.Partition
			op.LeaderEpoch, op.EndOffset = -1, -1
			p, err := h.Replicas.Partition(rt.Topic, rp.Partition)
			if err == nil {
				err = p.CheckLeaderEpoch(rp.CurrentLeaderEpoch)
			}
			if err != nil {
				op.ErrorCode = errCode(err)
			} else {
				op.LeaderEpoch, op.EndOffset = p.Log().EndOffsetForEpoch(rp.LeaderEpoch)
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return &server.Reply{Msg: resp}
}
