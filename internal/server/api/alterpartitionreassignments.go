// AlterPartitionReassignments (key 45), versions 0-1.
//
// Behaviour: starts, changes or cancels (Replicas null) the reassignment of each named
// partition, through the controller (metadata.Store.ReassignPartition): new replicas
// are added and catch up as followers; once all are in the ISR the replicas left out
// are dropped, and a leader among them hands over to the first target replica in sync.
// A reassignment while one is in progress replaces it, relative to the replicas from
// before the first. Answers as soon as the reassignment has started, as Kafka does;
// ListPartitionReassignments follows its progress. From v1, a target with another
// replica count is refused unless AllowReplicationFactorChange.
// Errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT (empty, duplicate or
// unregistered replicas), INVALID_REPLICATION_FACTOR, NO_REASSIGNMENT_IN_PROGRESS (a
// cancel with none), NOT_CONTROLLER / REQUEST_TIMED_OUT.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) alterPartitionReassignments(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.AlterPartitionAssignmentsRequest)
	resp := r.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.AllowReplicationFactorChange = r.AllowReplicationFactorChange
	for _, rt := range r.Topics {
		ot := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		ot.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			op := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			op.Partition = rp.Partition
			err := h.reassign(ctx, r, rt.Topic, rp)
			op.ErrorCode, op.ErrorMessage = errCode(err), errMessage(err)
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return &server.Reply{Msg: resp}
}

func (h *handlers) reassign(ctx context.Context, r *kmsg.AlterPartitionAssignmentsRequest, topic string, rp kmsg.AlterPartitionAssignmentsRequestTopicPartition) error {
	if rp.Replicas != nil {
		if len(rp.Replicas) == 0 {
			return kafkaErr(kerr.InvalidReplicaAssignment, "The replica list of %s-%d is empty.", topic, rp.Partition)
		}
		if p := h.Meta.Image().Partition(topic, rp.Partition); p != nil && r.Version >= 1 && !r.AllowReplicationFactorChange &&
			len(rp.Replicas) != len(p.OriginalReplicas()) {
			return kafkaErr(kerr.InvalidReplicationFactor, "The reassignment of %s-%d changes its replication factor from %d to %d, which AllowReplicationFactorChange does not allow.",
				topic, rp.Partition, len(p.OriginalReplicas()), len(rp.Replicas))
		}
	}
	return h.Meta.ReassignPartition(ctx, topic, rp.Partition, rp.Replicas)
}
