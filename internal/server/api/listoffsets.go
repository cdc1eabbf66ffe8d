// ListOffsets (key 2), versions 1-9.
//
// Behaviour: for each partition, answers an offset for a timestamp:
//   - -2 (earliest) and -4 (earliest local): the log start offset;
//   - -1 (latest): the high watermark, or the last stable offset under
//     read_committed;
//   - -3 (max timestamp, v7+): the offset and timestamp of the record with the
//     largest timestamp;
//   - -5 (latest tiered, v9+): none (-1), as there is no tiered storage;
//   - otherwise the first offset whose timestamp is >= the one asked, or -1
//     with timestamp -1 when there is none below the high watermark (the
//     last stable offset under read_committed).
//
// The leader epoch of the answer is the partition's current one.
// Errors: UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER,
// FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH for a client's stale or future
// epoch (v4+), UNSUPPORTED_VERSION for a special timestamp the version lacks.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

const (
	tsLatest         = -1
	tsEarliest       = -2
	tsMaxTimestamp   = -3
	tsEarliestLocal  = -4
	tsLatestTiered   = -5
	isolationReadCmt = 1
)

func (h *handlers) listOffsets(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.ListOffsetsRequest)
	resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range r.Topics {
		ot := kmsg.NewListOffsetsResponseTopic()
		ot.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			op := kmsg.NewListOffsetsResponseTopicPartition()
			op.Partition = rp.Partition
			op.Timestamp, op.Offset = -1, -1
			if err := h.listOffset(r, &rt, &rp, &op); err != nil {
				op.ErrorCode = errCode(err)
				op.Timestamp, op.Offset, op.LeaderEpoch = -1, -1, -1
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return &server.Reply{Msg: resp}
}

func (h *handlers) listOffset(r *kmsg.ListOffsetsRequest, rt *kmsg.ListOffsetsRequestTopic, rp *kmsg.ListOffsetsRequestTopicPartition, op *kmsg.ListOffsetsResponseTopicPartition) error {
	p, err := h.Replicas.Partition(rt.Topic, rp.Partition)
	if err != nil {
		return err
	}
	if r.Version >= 4 {
		if err := p.CheckLeaderEpoch(rp.CurrentLeaderEpoch); err != nil {
			return err
		}
	}
	l := p.Log()
	op.LeaderEpoch = p.LeaderEpoch()
	switch ts := rp.Timestamp; {
	case ts == tsEarliest, ts == tsEarliestLocal && r.Version >= 8:
		op.Offset = l.LogStartOffset()
	case ts == tsLatest:
		op.Offset = l.HighWatermark()
		if r.IsolationLevel == isolationReadCmt {
			op.Offset = l.LastStableOffset()
		}
	case ts == tsMaxTimestamp && r.Version >= 7:
		off, at, err := l.MaxTimestamp()
		if err != nil {
			return err
		}
		op.Offset, op.Timestamp = off, at
	case ts == tsLatestTiered && r.Version >= 9:
		op.Offset = -1
	case ts < 0:
		return kerr.UnsupportedVersion
	default:
		off, at, ok, err := l.OffsetForTimestamp(ts)
		if err != nil {
			return err
		}
		visible := l.HighWatermark()
		if r.IsolationLevel == isolationReadCmt {
			visible = l.LastStableOffset()
		}
		if ok && off < visible {
			op.Offset, op.Timestamp = off, at
		}
	}
	if r.Version == 0 {
		op.OldStyleOffsets = []int64{op.Offset}
	}
	return nil
}
