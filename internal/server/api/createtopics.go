// CreateTopics (key 19), versions 2-7.
//
// Behaviour: creates each topic through the metadata log, with its partition
// count and replication factor (-1 takes num.partitions and
// default.replication.factor, v4+), or an explicit replica assignment, and
// config overrides validated as Kafka validates them. validate_only (v1+) runs
// every check and creates nothing. From v5 the answer carries the partition
// count, replication factor and every effective config with its source; from
// v7 the new topic's ID.
// Errors: TOPIC_ALREADY_EXISTS, INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS,
// INVALID_REPLICATION_FACTOR, INVALID_REPLICA_ASSIGNMENT, INVALID_CONFIG,
// INVALID_REQUEST (a name given twice, or both counts and an assignment),
// TOPIC_AUTHORIZATION_FAILED without CREATE on the cluster or the topic (with an
// authorizer).
package api

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) createTopics(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.CreateTopicsRequest)
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)

	seen := make(map[string]int)
	for _, rt := range r.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range r.Topics {
		ot := kmsg.NewCreateTopicsResponseTopic()
		ot.Topic = rt.Topic
		ot.NumPartitions, ot.ReplicationFactor = -1, -1
		var err error
		if seen[rt.Topic] > 1 {
			err = fmt.Errorf("%w: topic %q is given more than once in the request", kerr.InvalidRequest, rt.Topic)
		} else if !h.authorizedCreate(req, rt.Topic) {
			err = kerr.TopicAuthorizationFailed
		} else {
			err = h.createTopic(ctx, r, &rt, &ot)
		}
		if err != nil {
			ot.ErrorCode = errCode(err)
			ot.ErrorMessage = errMessage(err)
			ot.NumPartitions, ot.ReplicationFactor = -1, -1
			ot.Configs = nil
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return &server.Reply{Msg: resp}
}

func (h *handlers) createTopic(ctx context.Context, r *kmsg.CreateTopicsRequest, rt *kmsg.CreateTopicsRequestTopic, ot *kmsg.CreateTopicsResponseTopic) error {
	if err := metadata.ValidateTopicName(rt.Topic); err != nil {
		return err
	}
	spec := metadata.TopicSpec{
		Name:              rt.Topic,
		Partitions:        rt.NumPartitions,
		ReplicationFactor: rt.ReplicationFactor,
		Configs:           make(map[string]string, len(rt.Configs)),
	}
	if len(rt.ReplicaAssignment) > 0 {
		if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
			return fmt.Errorf("%w: both numPartitions or replicationFactor and replicasAssignments were set; only one is allowed", kerr.InvalidRequest)
		}
		spec.Assignments = make([][]int32, len(rt.ReplicaAssignment))
		for _, a := range rt.ReplicaAssignment {
			if a.Partition < 0 || int(a.Partition) >= len(rt.ReplicaAssignment) || spec.Assignments[a.Partition] != nil {
				return fmt.Errorf("%w: partitions of a replica assignment must be 0..%d, each once", kerr.InvalidReplicaAssignment, len(rt.ReplicaAssignment)-1)
			}
			if len(a.Replicas) == 0 {
				return fmt.Errorf("%w: partition %d has no replicas", kerr.InvalidReplicaAssignment, a.Partition)
			}
			spec.Assignments[a.Partition] = a.Replicas
		}
		spec.Partitions = int32(len(spec.Assignments))
		spec.ReplicationFactor = int16(len(spec.Assignments[0]))
	} else {
		if spec.Partitions == -1 {
			spec.Partitions = int32(h.Config.NumPartitions)
		}
		if spec.ReplicationFactor == -1 {
			spec.ReplicationFactor = int16(h.Config.DefaultReplicationFactor)
		}
		if spec.Partitions <= 0 {
			return fmt.Errorf("%w: number of partitions must be larger than 0", kerr.InvalidPartitions)
		}
		if spec.ReplicationFactor <= 0 {
			return fmt.Errorf("%w: replication factor must be larger than 0", kerr.InvalidReplicationFactor)
		}
	}
	for _, c := range rt.Configs {
		if c.Value == nil {
			return fmt.Errorf("%w: null value not supported for topic config %q", kerr.InvalidConfig, c.Name)
		}
		spec.Configs[c.Name] = *c.Value
	}
	if err := h.validateTopicConfigs(spec.Configs); err != nil {
		return err
	}

	img := h.Meta.Image()
	if _, ok := img.Topics[rt.Topic]; ok {
		return fmt.Errorf("%w: topic %q already exists", kerr.TopicAlreadyExists, rt.Topic)
	}
	if live := len(img.Brokers); live > 0 && int(spec.ReplicationFactor) > live {
		return fmt.Errorf("%w: unable to replicate the partition %d time(s): the target replication factor of %d cannot be reached because only %d broker(s) are registered",
			kerr.InvalidReplicationFactor, spec.ReplicationFactor, spec.ReplicationFactor, live)
	}

	var id [16]byte
	if !r.ValidateOnly {
		t, err := h.Meta.CreateTopic(ctx, spec)
		if err != nil {
			return err
		}
		id = t.ID
	}
	ot.TopicID = id
	ot.NumPartitions = spec.Partitions
	ot.ReplicationFactor = spec.ReplicationFactor
	if r.Version >= 5 {
		ot.Configs = h.createdTopicConfigs(spec.Configs)
	}
	return nil
}
