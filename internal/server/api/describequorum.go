// DescribeQuorum (key 55), versions 0-2.
//
// Behaviour: describes the metadata quorum, the one partition __cluster_metadata-0, as
// kafka-metadata-quorum shows it: the active controller (LeaderID), its epoch (the Raft
// term), the high watermark (the commit index), and every voter and observer (brokers
// that are not voters) with the log end offset it last reported and, from v1, when it
// last fetched (heartbeated) and was last caught up, in Unix milliseconds (-1 unknown).
// A node that is not the active controller asks it, as Kafka's brokers forward the
// request. v2 adds each voter's controller listener under Nodes; directory ids are zero
// (Sluice keeps no KIP-853 directory ids).
// Errors: UNKNOWN_TOPIC_OR_PARTITION for any partition but __cluster_metadata-0;
// NOT_CONTROLLER or REQUEST_TIMED_OUT when no controller answers.
package api

import (
	"context"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
)

// metadataTopic is the name Kafka gives the metadata log.
const metadataTopic = "__cluster_metadata"

func (h *handlers) describeQuorum(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.DescribeQuorumRequest)
	resp := r.ResponseKind().(*kmsg.DescribeQuorumResponse)

	var (
		q      metadata.Quorum
		qErr   error
		asked  bool
		listen = "CONTROLLER"
	)
	if h.Config != nil && len(h.Config.ControllerListenerNames) > 0 {
		listen = h.Config.ControllerListenerNames[0]
	}
	for _, rt := range r.Topics {
		ot := kmsg.NewDescribeQuorumResponseTopic()
		ot.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			op := kmsg.NewDescribeQuorumResponseTopicPartition()
			op.Partition = rp.Partition
			op.LeaderID, op.LeaderEpoch, op.HighWatermark = -1, -1, -1
			if rt.Topic != metadataTopic || rp.Partition != 0 {
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
				ot.Partitions = append(ot.Partitions, op)
				continue
			}
			if !asked {
				q, qErr = h.Meta.DescribeQuorum(ctx)
				asked = true
			}
			if qErr != nil {
				op.ErrorCode = errCode(qErr)
				msg := qErr.Error()
				op.ErrorMessage = &msg
				ot.Partitions = append(ot.Partitions, op)
				continue
			}
			op.LeaderID, op.LeaderEpoch, op.HighWatermark = q.LeaderID, q.LeaderEpoch, q.HighWatermark
			op.CurrentVoters = replicaStates(q.Voters)
			op.Observers = replicaStates(q.Observers)
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	if r.Version >= 2 && asked && qErr == nil {
		for _, v := range q.Voters {
			n := kmsg.NewDescribeQuorumResponseNode()
			n.NodeID = v.NodeID
			if host, port, err := net.SplitHostPort(v.RaftAddress); err == nil {
				if p, err := strconv.ParseUint(port, 10, 16); err == nil {
					l := kmsg.NewDescribeQuorumResponseNodeListener()
					l.Name, l.Host, l.Port = listen, host, uint16(p)
					n.Listeners = append(n.Listeners, l)
				}
			}
			resp.Nodes = append(resp.Nodes, n)
		}
	}
	return &server.Reply{Msg: resp}
}

func replicaStates(rs []metadata.ReplicaProgress) []kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
	out := make([]kmsg.DescribeQuorumResponseTopicPartitionReplicaState, 0, len(rs))
	for _, r := range rs {
		s := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		s.ReplicaID = r.NodeID
		s.LogEndOffset = r.LogEndOffset
		s.LastFetchTimestamp = r.LastFetch
		s.LastCaughtUpTimestamp = r.LastCaughtUp
		out = append(out, s)
	}
	return out
}
