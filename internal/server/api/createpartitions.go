// CreatePartitions (key 37), versions 0-3.
//
// Behaviour: grows each topic to Count partitions through the metadata log;
// the new partitions are placed like a new topic's, with the topic's
// replication factor, and every broker opens their logs from the metadata.
// validate_only runs every check and changes nothing. An explicit assignment
// is checked as Kafka checks it (one replica list per new partition, the
// topic's replication factor, registered brokers, no repeats); Sluice places
// replicas itself, so an assignment is accepted only where it cannot differ
// from that placement (every broker holds every partition, as on a single
// node). Partitions are never removed.
// Errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION,
// INVALID_PARTITIONS (a count not above the current one),
// INVALID_REPLICATION_FACTOR (fewer brokers than replicas),
// INVALID_REPLICA_ASSIGNMENT, INVALID_REQUEST (a topic named twice, or an
// assignment Sluice cannot honour).
package api

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) createPartitions(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.CreatePartitionsRequest)
	resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)

	seen := make(map[string]int, len(r.Topics))
	for _, rt := range r.Topics {
		seen[rt.Topic]++
	}
	for i := range r.Topics {
		rt := &r.Topics[i]
		ot := kmsg.NewCreatePartitionsResponseTopic()
		ot.Topic = rt.Topic
		var err error
		if seen[rt.Topic] > 1 {
			err = kafkaErr(kerr.InvalidRequest, "Duplicate topic in request: %s", rt.Topic)
		} else {
			err = h.createPartitionsFor(ctx, rt, r.ValidateOnly)
		}
		if err != nil {
			ot.ErrorCode = errCode(err)
			ot.ErrorMessage = errMessage(err)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return &server.Reply{Msg: resp}
}

func (h *handlers) createPartitionsFor(ctx context.Context, rt *kmsg.CreatePartitionsRequestTopic, validateOnly bool) error {
	if err := metadata.ValidateTopicName(rt.Topic); err != nil {
		return err
	}
	img := h.Meta.Image()
	t := img.Topics[rt.Topic]
	if t == nil {
		return kafkaErr(kerr.UnknownTopicOrPartition, "The topic '%s' does not exist.", rt.Topic)
	}
	current := int32(len(t.Partitions))
	switch {
	case rt.Count < current:
		return kafkaErr(kerr.InvalidPartitions, "Topic currently has %d partitions, which is higher than the requested %d.",
			current, rt.Count)
	case rt.Count == current:
		return kafkaErr(kerr.InvalidPartitions, "Topic already has %d partitions.", current)
	}
	rf := int(t.ReplicationFactor())
	brokers := img.UnfencedBrokers()
	if rf > len(brokers) {
		return kafkaErr(kerr.InvalidReplicationFactor, "Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only %d broker(s) are registered.",
			rf, rf, len(brokers))
	}
	if rt.Assignment != nil {
		if err := checkAssignment(img, rt, current, rf, len(brokers)); err != nil {
			return err
		}
	}
	if validateOnly {
		return nil
	}
	return h.Meta.CreatePartitions(ctx, rt.Topic, rt.Count)
}

// checkAssignment checks an explicit assignment of the new partitions as
// Kafka does, then whether Sluice's own placement is bound to match it.
func checkAssignment(img *metadata.Image, rt *kmsg.CreatePartitionsRequestTopic, current int32, rf, live int) error {
	added := rt.Count - current
	if int32(len(rt.Assignment)) != added {
		return kafkaErr(kerr.InvalidReplicaAssignment, "Increasing the number of partitions by %d but %d assignments provided.",
			added, len(rt.Assignment))
	}
	for i, a := range rt.Assignment {
		p := current + int32(i)
		if len(a.Replicas) == 0 {
			return kafkaErr(kerr.InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list for partition %d.", p)
		}
		if len(a.Replicas) != rf {
			return kafkaErr(kerr.InvalidReplicaAssignment, "The manual partition assignment includes the partition %d with %d replica(s), but this is not consistent with the topic's replication factor of %d.",
				p, len(a.Replicas), rf)
		}
		sorted := slices.Clone(a.Replicas)
		slices.Sort(sorted)
		if len(slices.Compact(sorted)) != len(a.Replicas) {
			return kafkaErr(kerr.InvalidReplicaAssignment, "The manual partition assignment includes the partition %d with duplicate replicas.", p)
		}
		for _, b := range a.Replicas {
			if br, ok := img.Brokers[b]; !ok || br.Fenced {
				return kafkaErr(kerr.InvalidReplicaAssignment, "The manual partition assignment includes broker %d, which is not registered or not alive.", b)
			}
		}
	}
	if rf != live {
		return kafkaErr(kerr.InvalidRequest, "Sluice places new partitions itself and cannot follow a manual assignment yet; leave the assignment out")
	}
	return nil
}
