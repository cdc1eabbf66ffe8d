// ListPartitionReassignments (key 46), version 0.
//
// Behaviour: lists the reassignments in progress, of the named partitions or (Topics
// null) of all: each partition's replica set (the target followed by the replicas being
// removed), and the replicas being added and removed. Named partitions with none in
// progress, or that do not exist, are left out, as Kafka does.
// Errors: none per partition.
package api

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) listPartitionReassignments(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.ListPartitionReassignmentsRequest)
	resp := r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	img := h.Meta.Image()
	add := func(t *metadata.Topic, indexes []int32) {
		ot := kmsg.NewListPartitionReassignmentsResponseTopic()
		ot.Topic = t.Name
		for _, p := range t.Partitions {
			if !p.Reassigning() || (indexes != nil && !slices.Contains(indexes, p.Index)) {
				continue
			}
			op := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
			op.Partition = p.Index
			op.Replicas = slices.Clone(p.Replicas)
			op.AddingReplicas = append([]int32{}, p.AddingReplicas...)
			op.RemovingReplicas = append([]int32{}, p.RemovingReplicas...)
			ot.Partitions = append(ot.Partitions, op)
		}
		if len(ot.Partitions) > 0 {
			resp.Topics = append(resp.Topics, ot)
		}
	}
	if r.Topics == nil {
		for _, name := range img.TopicNames() {
			add(img.Topics[name], nil)
		}
	} else {
		for _, rt := range r.Topics {
			if t := img.Topics[rt.Topic]; t != nil {
				add(t, append([]int32{}, rt.Partitions...))
			}
		}
	}
	return &server.Reply{Msg: resp}
}
