// TxnOffsetCommit (key 28), versions 0-5.
//
// Behaviour: commits a group's offsets inside the producer's transaction
// (the consume-transform-produce loop of exactly-once). The group's
// coordinator writes them to __consumer_offsets as a transactional batch of
// the producer and answers once the write is acknowledged as the topic's
// durability asks; they stay invisible to OffsetFetch (UNSTABLE_OFFSET_COMMIT
// with require_stable) until the transaction's commit marker reaches the
// partition, and an abort marker drops them. v2 adds the leader epoch; v3
// adds the consumer's generation, member id and instance id (KIP-447), which
// are checked as OffsetCommit checks them when given; v4 is v3 (it lets
// Kafka answer TRANSACTION_ABORTABLE, which Sluice does not send). v5 is
// transactions v2 (KIP-890): the producer sends no AddOffsetsToTxn, and the
// group's coordinator adds the group's __consumer_offsets partition to the
// transaction itself, through the transaction coordinator, before it writes,
// as a partition leader does for Produce v12. v6 (topic IDs) is not served.
// Errors (per partition): UNKNOWN_TOPIC_OR_PARTITION, INVALID_GROUP_ID,
// OFFSET_METADATA_TOO_LARGE, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
// FENCED_INSTANCE_ID, INVALID_PRODUCER_EPOCH (a producer epoch older than
// the latest the group's partition has seen: a fenced producer),
// INVALID_PRODUCER_ID_MAPPING (no producer id), INVALID_COMMIT_OFFSET_SIZE,
// REQUEST_TIMED_OUT, NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS,
// COORDINATOR_NOT_AVAILABLE; from v5 the transaction coordinator's answers
// to the implicit add: INVALID_PRODUCER_EPOCH (fenced), TRANSACTION_ABORTABLE,
// and CONCURRENT_TRANSACTIONS while the previous transaction completes.
package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/group"
	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/txn"
)

func (h *handlers) txnOffsetCommit(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.TxnOffsetCommitRequest)
	resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	img := h.Meta.Image()

	tr := group.TxnCommitRequest{
		TransactionalID: r.TransactionalID,
		Group:           r.Group,
		ProducerID:      r.ProducerID,
		ProducerEpoch:   r.ProducerEpoch,
		Generation:      -1,
	}
	if r.Version >= 3 {
		tr.Generation, tr.MemberID, tr.InstanceID = r.Generation, r.MemberID, r.InstanceID
	}
	// Fill the response in request order; the partitions that pass the
	// topic checks go to the coordinator, which answers them by index.
	type slot struct{ t, p int }
	var slots []slot
	for ti, rt := range r.Topics {
		ot := kmsg.NewTxnOffsetCommitResponseTopic()
		ot.Topic = rt.Topic
		t := img.Topics[rt.Topic]
		for pi, rp := range rt.Partitions {
			op := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			op.Partition = rp.Partition
			var err error
			switch {
			case t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions):
				err = kerr.UnknownTopicOrPartition
			case r.Group == "":
				err = kerr.InvalidGroupID
			}
			if err != nil {
				op.ErrorCode = errCode(err)
			} else {
				epoch := int32(-1)
				if r.Version >= 2 {
					epoch = rp.LeaderEpoch
				}
				tr.Offsets = append(tr.Offsets, group.CommitOffset{Topic: rt.Topic, Partition: rp.Partition, Offset: rp.Offset, LeaderEpoch: epoch, Metadata: rp.Metadata})
				slots = append(slots, slot{ti, pi})
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	if len(tr.Offsets) == 0 {
		return &server.Reply{Msg: resp}
	}
	if r.Version >= 5 {
		if err := h.addOffsetsImplicitly(ctx, r); err != nil {
			for _, s := range slots {
				resp.Topics[s.t].Partitions[s.p].ErrorCode = errCode(err)
			}
			return &server.Reply{Msg: resp}
		}
	}
	return awaitReply(h.Groups.TxnOffsetCommit(tr), func(errs []error) *server.Reply {
		for i, s := range slots {
			resp.Topics[s.t].Partitions[s.p].ErrorCode = groupCode(errs[i])
		}
		return &server.Reply{Msg: resp}
	})
}

// addOffsetsImplicitly adds the group's __consumer_offsets partition to the
// producer's transaction (TxnOffsetCommit v5, transactions v2), as AddOffsetsToTxn
// did for older clients. The transaction coordinator may be another broker.
func (h *handlers) addOffsetsImplicitly(ctx context.Context, r *kmsg.TxnOffsetCommitRequest) error {
	if h.Txns == nil {
		return kerr.TransactionalIDAuthorizationFailed
	}
	t, err := h.offsetsTopic(ctx)
	if err != nil {
		return err
	}
	p := group.PartitionFor(r.Group, int32(len(t.Partitions)))
	errs := h.Txns.LeaderAdd(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch,
		[]txn.TopicPartition{{Topic: group.Topic, Partition: p}}, true)
	switch err := errs[0]; {
	case err == nil:
		return nil
	case errors.Is(err, kerr.ProducerFenced):
		return fmt.Errorf("the transaction coordinator fenced the producer's epoch: %w", kerr.InvalidProducerEpoch)
	default:
		return err
	}
}
