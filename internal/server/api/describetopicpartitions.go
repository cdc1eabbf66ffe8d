// DescribeTopicPartitions (key 75), version 0.
//
// Behaviour: the paginated Metadata of KIP-966. Describes the topics asked
// for (an empty list means every topic), sorted by name, with each
// partition's leader, leader epoch, replicas, ISR, eligible leader replicas
// (none: Sluice has no ELR) and offline replicas (those on fenced or
// unregistered brokers). At most ResponsePartitionLimit partitions are
// answered (a negative limit answers no topic), capped at 2000 as Kafka's
// max.request.partition.size.limit; when
// more remain, NextCursor names the first partition not answered, and a
// request carrying it as Cursor resumes there: topics before the cursor's
// are skipped, and the cursor's topic starts at its partition. A topic that
// is asked for and does not exist is answered with an error (when every
// topic is asked for, only existing ones are listed).
// With an authorizer, topics need DESCRIBE: an all-topics answer leaves the others out.
// Errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION, TOPIC_AUTHORIZATION_FAILED per topic;
// INVALID_REQUEST for every topic when the cursor's topic is not in the list.
package api

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
)

// maxDescribePartitions is Kafka's max.request.partition.size.limit default.
const maxDescribePartitions = 2000

func (h *handlers) describeTopicPartitions(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.DescribeTopicPartitionsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	img := h.Meta.Image()

	all := len(r.Topics) == 0
	cursorTopic := ""
	if r.Cursor != nil {
		cursorTopic = r.Cursor.Topic
	}
	set := make(map[string]bool)
	if all {
		for name := range img.Topics {
			if name >= cursorTopic && h.authorized(req, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, name) {
				set[name] = true
			}
		}
	} else {
		for _, t := range r.Topics {
			if t.Topic >= cursorTopic {
				set[t.Topic] = true
			}
		}
		if r.Cursor != nil && !set[r.Cursor.Topic] {
			msg := kafkaErr(kerr.InvalidRequest, "the topic list must contain the cursor's topic %s", r.Cursor.Topic)
			h.Logger.Debug("describe topic partitions", "err", msg)
			for _, t := range r.Topics {
				ot := kmsg.NewDescribeTopicPartitionsResponseTopic()
				name := t.Topic
				ot.Topic = &name
				ot.ErrorCode = kerr.InvalidRequest.Code
				resp.Topics = append(resp.Topics, ot)
			}
			return &server.Reply{Msg: resp}
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)

	remaining := int(min(r.ResponsePartitionLimit, maxDescribePartitions))
	for _, name := range names {
		if remaining == 0 {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: 0}
			break
		}
		if remaining < 0 {
			break // a negative limit answers nothing, as in Kafka
		}
		t := img.Topics[name]
		if !h.authorized(req, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, name) {
			ot := kmsg.NewDescribeTopicPartitionsResponseTopic()
			n := name
			ot.Topic, ot.ErrorCode = &n, kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, ot)
			continue
		}
		if t == nil {
			ot := kmsg.NewDescribeTopicPartitionsResponseTopic()
			n := name
			ot.Topic = &n
			ot.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if err := metadata.ValidateTopicName(name); err != nil {
				ot.ErrorCode = kerr.InvalidTopicException.Code
			}
			ot.IsInternal = isInternalTopic(name)
			resp.Topics = append(resp.Topics, ot)
			continue
		}
		start := 0
		if r.Cursor != nil && name == r.Cursor.Topic && r.Cursor.Partition > 0 {
			start = int(r.Cursor.Partition)
		}
		end := min(len(t.Partitions), start+remaining)
		if start > end {
			start = end // a cursor past the last partition answers none
		}
		ot := h.describedPartitions(img, req.Conn.Listener, t, start, end)
		ot.AuthorizedOperations = h.authorizedOps(req, kmsg.ACLResourceTypeTopic, name, topicOps)
		resp.Topics = append(resp.Topics, ot)
		if end < len(t.Partitions) {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: int32(end)}
			break
		}
		remaining -= end - start
	}
	return &server.Reply{Msg: resp}
}

// describedPartitions describes partitions [start, end) of t.
func (h *handlers) describedPartitions(img *metadata.Image, listener string, t *metadata.Topic, start, end int) kmsg.DescribeTopicPartitionsResponseTopic {
	ot := kmsg.NewDescribeTopicPartitionsResponseTopic()
	name := t.Name
	ot.Topic = &name
	ot.TopicID = t.ID
	ot.IsInternal = isInternalTopic(t.Name)
	ot.AuthorizedOperations = topicOps
	ot.Partitions = make([]kmsg.DescribeTopicPartitionsResponseTopicPartition, 0, end-start)
	for _, p := range t.Partitions[start:end] {
		op := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
		op.Partition = p.Index
		op.LeaderID = p.Leader
		if !brokerReachable(img, p.Leader, listener) {
			op.LeaderID = -1
		}
		op.LeaderEpoch = p.LeaderEpoch
		op.Replicas = p.Replicas
		op.ISR = p.ISR
		op.EligibleLeaderReplicas = []int32{}
		op.LastKnownELR = []int32{}
		op.OfflineReplicas = []int32{}
		for _, b := range p.Replicas {
			if br, ok := img.Brokers[b]; !ok || br.Fenced {
				op.OfflineReplicas = append(op.OfflineReplicas, b)
			}
		}
		ot.Partitions = append(ot.Partitions, op)
	}
	return ot
}

// brokerReachable reports whether a broker is registered with an endpoint
// for the listener.
func brokerReachable(img *metadata.Image, id int32, listener string) bool {
	b, ok := img.Brokers[id]
	if !ok {
		return false
	}
	for _, ep := range b.Endpoints {
		if ep.Listener == listener {
			return true
		}
	}
	return false
}
