// DescribeProducers (key 61), version 0.
//
// Behaviour: for each partition asked that this broker hosts, as its leader or as a
// follower (Kafka answers from any replica's log, which is what kafka-transactions'
// find-hanging --broker-id relies on), lists the producers its log's producer state
// holds (idempotent and transactional, until producer.id.expiration.ms forgets them):
// producer id and epoch, the last sequence
// written (-1 when none is cached), the timestamp of its last batch or marker, the
// epoch of the transaction coordinator that wrote its last marker (-1 if none), and the
// first offset of its open transaction (-1 when none is open). An open transaction
// whose coordinator no longer knows of it is a hanging one: `sluice transactions
// find-hanging` starts from this answer, as kafka-transactions.sh does.
// Errors, per partition: TOPIC_AUTHORIZATION_FAILED without READ on the topic,
// UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER.
package api

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/producerstate"
	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/storage"
)

func (h *handlers) describeProducers(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.DescribeProducersRequest)
	resp := r.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, rt := range r.Topics {
		ot := kmsg.NewDescribeProducersResponseTopic()
		ot.Topic = rt.Topic
		allowed := h.authorized(req, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, rt.Topic)
		for _, p := range rt.Partitions {
			op := kmsg.NewDescribeProducersResponseTopicPartition()
			op.Partition = p
			var err error
			if allowed {
				op.ActiveProducers, err = h.activeProducers(rt.Topic, p)
			} else {
				err = kerr.TopicAuthorizationFailed
			}
			op.ErrorCode, op.ErrorMessage = errCode(err), errMessage(err)
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return &server.Reply{Msg: resp}
}

// activeProducers is the producer state of a partition this broker hosts, by producer
// id.
func (h *handlers) activeProducers(topic string, partition int32) ([]kmsg.DescribeProducersResponseTopicPartitionActiveProducer, error) {
	l, err := h.hostedLog(topic, partition)
	if err != nil {
		return nil, err
	}
	var entries []producerstate.Entry
	l.ProducerState(func(ps *producerstate.State) { entries = ps.Entries() })
	out := make([]kmsg.DescribeProducersResponseTopicPartitionActiveProducer, 0, len(entries))
	for _, e := range entries {
		ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
		ap.ProducerID, ap.ProducerEpoch = e.ProducerID, int32(e.Epoch)
		if n := len(e.Batches); n > 0 {
			ap.LastSequence = e.Batches[n-1].LastSeq
		}
		ap.LastTimestamp = e.LastTimestamp
		ap.CoordinatorEpoch = e.CoordinatorEpoch
		ap.CurrentTxnStartOffset = e.CurrentTxnFirstOffset
		out = append(out, ap)
	}
	return out, nil
}

// hostedLog is the log of a partition this broker leads or follows:
// UNKNOWN_TOPIC_OR_PARTITION for a partition the metadata does not know,
// NOT_LEADER_OR_FOLLOWER for one whose replicas do not include this broker (or whose
// follower log is not open yet).
func (h *handlers) hostedLog(topic string, partition int32) (*storage.Log, error) {
	t, ok := h.Meta.Image().Topics[topic]
	if !ok || partition < 0 || int(partition) >= len(t.Partitions) {
		return nil, kerr.UnknownTopicOrPartition
	}
	pm := t.Partitions[partition]
	if pm.Leader == h.NodeID {
		part, err := h.Replicas.Partition(topic, partition)
		if err != nil {
			return nil, err
		}
		return part.Log(), nil
	}
	if !slices.Contains(pm.Replicas, h.NodeID) || h.Logs == nil {
		return nil, kerr.NotLeaderForPartition
	}
	l, ok := h.Logs.Get(storage.TopicPartition{Topic: topic, Partition: partition})
	if !ok {
		return nil, kerr.NotLeaderForPartition
	}
	return l, nil
}
