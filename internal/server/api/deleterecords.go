// DeleteRecords (key 21), versions 0-2.
//
// Behaviour: moves each partition's log start offset (its low watermark) up
// to the offset given, -1 meaning the high watermark; records below it are no
// longer readable and segments wholly below it are removed. Asking for an
// offset at or below the current log start changes nothing. The new log start
// is checkpointed before the answer, so it survives a crash. The answer is
// the new low watermark. A topic whose cleanup.policy does not include
// delete (compact only) refuses, as in Kafka.
// Errors: UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER,
// OFFSET_OUT_OF_RANGE (negative other than -1, or above the high watermark),
// POLICY_VIOLATION (a compacted topic).
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) deleteRecords(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.DeleteRecordsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteRecordsResponse)
	img := h.Meta.Image()
	bcfg, bErr := h.effectiveBrokerConfig(img)

	for _, rt := range r.Topics {
		ot := kmsg.NewDeleteRecordsResponseTopic()
		ot.Topic = rt.Topic
		// The policy check, once per topic.
		var topicErr error
		if t := img.Topics[rt.Topic]; t != nil {
			switch {
			case bErr != nil:
				topicErr = bErr
			default:
				tc, err := config.TopicConfig(bcfg, t.Configs)
				if err != nil {
					topicErr = kafkaErr(kerr.InvalidConfig, "configs of %s: %v", rt.Topic, err)
				} else if !tc.Delete() {
					topicErr = kafkaErr(kerr.PolicyViolation, "Records of partitions of topic %s can not be deleted because its cleanup.policy does not include delete", rt.Topic)
				}
			}
		}
		for _, rp := range rt.Partitions {
			op := kmsg.NewDeleteRecordsResponseTopicPartition()
			op.Partition = rp.Partition
			op.LowWatermark = -1
			low, err := h.deleteRecordsIn(rt.Topic, rp.Partition, rp.Offset, topicErr)
			if err != nil {
				op.ErrorCode = errCode(err)
				if op.ErrorCode == kerr.UnknownServerError.Code {
					h.Logger.Warn("delete records", "topic", rt.Topic, "partition", rp.Partition, "err", err)
				}
			} else {
				op.LowWatermark = low
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return &server.Reply{Msg: resp}
}

// deleteRecordsIn advances one partition's log start offset and returns the
// new one.
func (h *handlers) deleteRecordsIn(topic string, partition int32, offset int64, topicErr error) (int64, error) {
	p, err := h.Replicas.Partition(topic, partition)
	if err != nil {
		return -1, err
	}
	if topicErr != nil {
		return -1, topicErr
	}
	l := p.Log()
	hw := l.HighWatermark()
	switch {
	case offset == -1:
		offset = hw
	case offset < 0 || offset > hw:
		return -1, kerr.OffsetOutOfRange
	}
	if err := l.AdvanceLogStartOffset(offset); err != nil {
		return -1, err
	}
	return l.LogStartOffset(), nil
}
