// WriteTxnMarkers (key 27), versions 0-2.
//
// Behaviour: a transaction coordinator, on this broker or another, asks the leader of
// every partition of an ended transaction to write its commit or abort marker. For each
// marker and partition, the marker is appended as the leader, checked against the
// producer's epoch and against the coordinator epoch of the producer's last marker, and
// the answer waits until it is committed (in the ISR and, where the topic is durable, on
// disk), as acks=all, for up to 30 seconds. For a partition of __consumer_offsets, the
// group coordinator then makes the producer's pending transactional offsets committed or
// drops them; should it no longer lead the partition, whichever broker does finds the
// marker in the log when it loads, so that is no error. Markers of one request for the
// same partition are written in request order.
// v2 (KIP-1228) carries each marker's TransactionVersion. A marker of transactions v2
// has an epoch above the epoch of the transaction's data, so it is refused
// (INVALID_PRODUCER_EPOCH) where the producer's current epoch already equals it with a
// transaction open: that is the next transaction's data, and the marker a delayed one.
// Where the producer is at that epoch with nothing open, the marker is already written:
// it is answered, once the log up to its end is committed, without writing it again
// (Kafka refuses it; Sluice's coordinator resends a whole marker set after any failure,
// so the answer must be idempotent).
// Errors, per partition: CLUSTER_AUTHORIZATION_FAILED without ClusterAction on the
// cluster, UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS,
// NOT_ENOUGH_REPLICAS_AFTER_APPEND, INVALID_PRODUCER_EPOCH (an epoch older than the
// producer's), TRANSACTION_COORDINATOR_FENCED (an older coordinator epoch),
// REQUEST_TIMED_OUT, KAFKA_STORAGE_ERROR.
package api

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/group"
	"github.com/sluicehq/sluice/internal/producerstate"
	"github.com/sluicehq/sluice/internal/replica"
	"github.com/sluicehq/sluice/internal/server"
)

// markerTimeout bounds the wait for a marker to be committed: Kafka's default
// request.timeout.ms, which its brokers use for this append.
const markerTimeout = 30 * time.Second

// txnCompleter is the group coordinator's side of a marker written to
// __consumer_offsets.
type txnCompleter interface {
	CompleteTransaction(partition int32, producerID int64, producerEpoch int16, commit bool) error
}

// markerJob is one marker for one partition.
type markerJob struct {
	marker    *kmsg.WriteTxnMarkersRequestMarker
	topic     string
	partition int32
	out       *kmsg.WriteTxnMarkersResponseMarkerTopicPartition
	part      *replica.Partition
	offset    int64
	err       error
}

func (h *handlers) writeTxnMarkers(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.WriteTxnMarkersRequest)
	resp := r.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	var denied error
	if !h.authorizedCluster(req, kmsg.ACLOperationClusterAction) {
		denied = kerr.ClusterAuthorizationFailed
	}

	// The response's shape first, so that the jobs can point into it.
	resp.Markers = make([]kmsg.WriteTxnMarkersResponseMarker, len(r.Markers))
	for mi := range r.Markers {
		m := &r.Markers[mi]
		om := &resp.Markers[mi]
		*om = kmsg.NewWriteTxnMarkersResponseMarker()
		om.ProducerID = m.ProducerID
		om.Topics = make([]kmsg.WriteTxnMarkersResponseMarkerTopic, len(m.Topics))
		for ti, rt := range m.Topics {
			ot := &om.Topics[ti]
			*ot = kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			ot.Topic = rt.Topic
			ot.Partitions = make([]kmsg.WriteTxnMarkersResponseMarkerTopicPartition, len(rt.Partitions))
			for pi, p := range rt.Partitions {
				ot.Partitions[pi] = kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				ot.Partitions[pi].Partition = p
			}
		}
	}
	var jobs []*markerJob
	for mi := range r.Markers {
		m := &r.Markers[mi]
		for ti, rt := range m.Topics {
			for pi, p := range rt.Partitions {
				j := &markerJob{marker: m, topic: rt.Topic, partition: p, out: &resp.Markers[mi].Topics[ti].Partitions[pi], err: denied}
				h.writeMarker(j)
				jobs = append(jobs, j)
			}
		}
	}

	written := false
	for _, j := range jobs {
		written = written || j.err == nil
	}
	if !written {
		fillMarkers(jobs)
		return &server.Reply{Msg: resp}
	}
	return &server.Reply{Then: func(ctx context.Context) *server.Reply {
		ctx, cancel := context.WithTimeout(ctx, markerTimeout)
		defer cancel()
		var wg sync.WaitGroup
		for _, j := range jobs {
			if j.err != nil {
				continue
			}
			wg.Go(func() {
				if err := j.part.WaitCommitted(ctx, j.offset+1); err != nil {
					if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
						err = kerr.RequestTimedOut
					}
					j.err = err
				}
			})
		}
		wg.Wait()
		for _, j := range jobs {
			if j.err == nil && j.topic == group.Topic {
				j.err = h.completeGroupTxn(j)
			}
		}
		fillMarkers(jobs)
		return &server.Reply{Msg: resp}
	}}
}

// writeMarker appends one job's marker as the partition's leader.
func (h *handlers) writeMarker(j *markerJob) {
	if j.err != nil {
		return
	}
	if j.part, j.err = h.Replicas.Partition(j.topic, j.partition); j.err != nil {
		return
	}
	if j.err = j.part.CheckMinISR(); j.err != nil {
		return
	}
	m := j.marker
	unlock := lockForMarker(h.Replicas, j.topic, j.partition, m.ProducerID)
	defer unlock()
	if m.TransactionVersion >= 2 {
		var epoch int16
		var open, known bool
		j.part.Log().ProducerState(func(ps *producerstate.State) { epoch, open, known = ps.Txn(m.ProducerID) })
		switch {
		case known && epoch == m.ProducerEpoch && open:
			j.err = fmt.Errorf("a marker of producer %d at epoch %d, which the next transaction's data in %s-%d already has: %w",
				m.ProducerID, m.ProducerEpoch, j.topic, j.partition, kerr.InvalidProducerEpoch)
			return
		case known && epoch == m.ProducerEpoch:
			// Written before: the answer waits until it is committed, as the
			// first one's did.
			j.offset = j.part.Log().LogEndOffset() - 1
			return
		}
	}
	j.offset, j.err = j.part.WriteMarker(m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Committed)
}

// completeGroupTxn tells the group coordinator that a transaction's marker is
// committed in its partition of __consumer_offsets.
func (h *handlers) completeGroupTxn(j *markerJob) error {
	if h.Groups == nil {
		return nil
	}
	c, ok := any(h.Groups).(txnCompleter)
	if !ok {
		return nil
	}
	m := j.marker
	err := c.CompleteTransaction(j.partition, m.ProducerID, m.ProducerEpoch, m.Committed)
	if errors.Is(err, kerr.NotCoordinator) {
		// The partition's leadership moved on after the marker was committed: its new
		// leader reads the marker from the log as it loads the partition.
		h.Logger.Debug("transaction marker for a group partition not led here", "partition", j.partition,
			"producer_id", m.ProducerID, "err", err)
		return nil
	}
	return err
}

func fillMarkers(jobs []*markerJob) {
	for _, j := range jobs {
		j.out.ErrorCode = errCode(j.err)
	}
}
