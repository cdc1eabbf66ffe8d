// Fetch (key 1), versions 4-16.
//
// Behaviour: reads each asked partition from its fetch offset, whole batches
// up to the partition's max bytes and the response's max bytes (the first
// batch of the response is sent even when larger, KIP-74), no further than
// the high watermark, or under read_committed the last stable offset, with
// the aborted transactions that overlap the records returned (an empty list
// when none).
// When fewer than MinBytes are ready, the request waits up to MaxWaitMs for
// any of its partitions to grow. Batches go from the segment file to the
// socket with sendfile on plaintext connections: the response is framed by
// hand around file regions (fetch_encode.go), and each region holds a
// reference on its segment until it is sent.
// Fetch sessions (KIP-227) are not kept: every answer has session id 0, which
// tells clients to send full requests; a request naming a session gets
// FETCH_SESSION_ID_NOT_FOUND. From v13 topics are named by ID.
// A fetch with a replica id (a follower; ReplicaState from v15) reads up to the log end
// rather than the high watermark, long-polls on appends, tells the leader how far the
// follower has the log (which moves the high watermark and the ISR), and, from v12,
// answers DivergingEpoch instead of records when the follower's last fetched epoch ends
// before its fetch offset on the leader (KIP-320), so that it truncates.
// A consumer over its consumer_byte_rate or request_percentage gets an empty
// response carrying the throttle time, and its connection is muted (quotas.go).
// Errors: UNKNOWN_TOPIC_OR_PARTITION / UNKNOWN_TOPIC_ID, NOT_LEADER_OR_FOLLOWER,
// OFFSET_OUT_OF_RANGE, FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH (v9+).
package api

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/replica"
	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/storage"
)

// fetchPart is one asked partition and what was read for it.
type fetchPart struct {
	topicIdx, partIdx int
	req               *kmsg.FetchRequestTopicPartition
	part              *replica.Partition
	err               error
	read              *storage.ReadResult
	// diverging, for a follower whose log diverged from the leader's: the epoch and
	// end offset it must truncate to.
	diverging *kmsg.FetchResponseTopicPartitionDivergingEpoch
	// throttled: the follower's replica is under leader.replication.throttled.replicas
	// (and out of sync), so what it reads counts against the leader's throttle rate.
	throttled bool
}

// fetchReplicaID is the follower's broker id, or -1 for a consumer.
func fetchReplicaID(r *kmsg.FetchRequest) int32 {
	if r.Version >= 15 {
		return r.ReplicaState.ID
	}
	return r.ReplicaID
}

func (h *handlers) fetch(ctx context.Context, req *server.Request) *server.Reply {
	start := time.Now()
	r := req.Msg.(*kmsg.FetchRequest)
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	h.Security.capFetchBytes(req, r)

	if r.Version >= 7 {
		switch {
		case r.SessionID != 0:
			resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
			return &server.Reply{Msg: resp}
		case r.SessionEpoch > 0:
			resp.ErrorCode = kerr.InvalidFetchSessionEpoch.Code
			return &server.Reply{Msg: resp}
		}
	}

	follower := fetchReplicaID(r)
	img := h.Meta.Image()
	var parts []*fetchPart
	for ti := range r.Topics {
		rt := &r.Topics[ti]
		ot := kmsg.NewFetchResponseTopic()
		ot.Topic, ot.TopicID = rt.Topic, rt.TopicID
		ot.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		denied := h.fetchDenied(req, img, r, rt, follower)
		for pi := range rt.Partitions {
			rp := &rt.Partitions[pi]
			fp := &fetchPart{topicIdx: ti, partIdx: pi, req: rp}
			if denied != nil {
				fp.err = denied
			} else if r.Version >= 13 {
				fp.part, fp.err = h.Replicas.PartitionByID(rt.TopicID, rp.Partition)
			} else {
				fp.part, fp.err = h.Replicas.Partition(rt.Topic, rp.Partition)
			}
			if fp.err == nil && r.Version >= 9 {
				fp.err = fp.part.CheckLeaderEpoch(rp.CurrentLeaderEpoch)
			}
			if fp.err == nil && follower >= 0 {
				h.followerFetched(r, fp, follower)
			}
			parts = append(parts, fp)
		}
		resp.Topics = append(resp.Topics, ot)
	}

	ready := h.readFetch(r, parts, follower >= 0)
	if ready >= int(r.MinBytes) || r.MaxWaitMillis <= 0 || anyFetchError(parts) {
		return h.fetchReply(req, r, resp, parts, time.Since(start))
	}

	// Long poll: wait for any partition to grow, or for MaxWaitMs. The
	// waits are taken before releasing the first reads, so growth between
	// the two cannot be missed.
	grown := func(l *storage.Log) <-chan struct{} {
		if follower >= 0 {
			return l.WaitAppend()
		}
		return l.Wait()
	}
	waits := make([]<-chan struct{}, 0, len(parts))
	for _, fp := range parts {
		if fp.part != nil {
			waits = append(waits, grown(fp.part.Log()))
		}
	}
	releaseFetch(parts)
	maxWait := time.Duration(r.MaxWaitMillis) * time.Millisecond
	// request_percentage counts the time spent here and in the last read, not the wait.
	busy := time.Since(start)
	return &server.Reply{Then: func(ctx context.Context) *server.Reply {
		deadline := time.Now().Add(maxWait)
		for {
			if !waitAny(ctx, waits, time.Until(deadline)) {
				break // deadline or connection gone
			}
			waits = waits[:0]
			for _, fp := range parts {
				if fp.part != nil {
					waits = append(waits, grown(fp.part.Log()))
				}
			}
			read := time.Now()
			if h.readFetch(r, parts, follower >= 0) >= int(r.MinBytes) || anyFetchError(parts) {
				return h.fetchReply(req, r, resp, parts, busy+time.Since(read))
			}
			releaseFetch(parts)
		}
		read := time.Now()
		h.readFetch(r, parts, follower >= 0)
		return h.fetchReply(req, r, resp, parts, busy+time.Since(read))
	}}
}

// followerFetched checks a follower's fetch position against the leader's log: a
// position past where the follower's last fetched epoch ends on the leader has
// diverged; otherwise the follower holds every record below its fetch offset.
func (h *handlers) followerFetched(r *kmsg.FetchRequest, fp *fetchPart, follower int32) {
	l := fp.part.Log()
	rp := fp.req
	if r.Version >= 12 && rp.LastFetchedEpoch >= 0 {
		epoch, end := l.EndOffsetForEpoch(rp.LastFetchedEpoch)
		if epoch != rp.LastFetchedEpoch || end < rp.FetchOffset {
			if end < 0 {
				end = min(rp.FetchOffset, l.LogEndOffset())
			}
			fp.diverging = &kmsg.FetchResponseTopicPartitionDivergingEpoch{Epoch: epoch, EndOffset: end}
			return
		}
	}
	if rp.FetchOffset <= l.LogEndOffset() {
		fp.part.UpdateFollower(follower, rp.FetchOffset, time.Now())
	}
	fp.throttled, _ = h.Replicas.LeaderThrottled(fp.part, follower)
}

// readFetch reads every partition within the request's limits and returns
// the bytes read.
func (h *handlers) readFetch(r *kmsg.FetchRequest, parts []*fetchPart, follower bool) int {
	total := 0
	budget := int(r.MaxBytes)
	if budget <= 0 {
		budget = 1 << 30
	}
	for _, fp := range parts {
		fp.read = nil
		if fp.part == nil || fp.err != nil || fp.diverging != nil {
			continue
		}
		l := fp.part.Log()
		limit := l.HighWatermark()
		if r.IsolationLevel == isolationReadCmt {
			limit = l.LastStableOffset()
		}
		if follower {
			limit = l.LogEndOffset()
			if fp.throttled {
				if _, spent := h.Replicas.LeaderThrottled(fp.part, fetchReplicaID(r)); spent {
					continue // the throttle's budget is spent: nothing for this replica now
				}
			}
		}
		if fp.req.FetchOffset > l.LogEndOffset() || fp.req.FetchOffset < l.LogStartOffset() {
			fp.err = kerr.OffsetOutOfRange
			continue
		}
		if fp.req.FetchOffset >= limit {
			continue
		}
		maxBytes := int(fp.req.PartitionMaxBytes)
		if maxBytes > budget-total {
			maxBytes = budget - total
		}
		if maxBytes < 0 {
			maxBytes = 0
		}
		rr, err := l.Read(fp.req.FetchOffset, maxBytes, limit, total == 0)
		if err != nil {
			fp.err = err
			continue
		}
		fp.read = rr
		total += rr.Size()
		if fp.throttled {
			h.Replicas.RecordLeaderThrottled(rr.Size())
		}
	}
	return total
}

// anyFetchError reports whether a partition has an answer that must not wait: an
// error, or a follower's divergence.
func anyFetchError(parts []*fetchPart) bool {
	for _, fp := range parts {
		if fp.err != nil || fp.diverging != nil {
			return true
		}
	}
	return false
}

func releaseFetch(parts []*fetchPart) {
	for _, fp := range parts {
		if fp.read != nil {
			fp.read.Release()
			fp.read = nil
		}
	}
}

// waitAny waits for one of chans to close, up to d; it reports whether one did.
func waitAny(ctx context.Context, chans []<-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return false
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	if len(chans) == 1 {
		select {
		case <-chans[0]:
			return true
		case <-timer.C:
		case <-ctx.Done():
		}
		return false
	}
	// Several partitions: fan in without leaking goroutines past the wait.
	done := make(chan struct{})
	defer close(done)
	woke := make(chan struct{}, 1)
	for _, c := range chans {
		go func() {
			select {
			case <-c:
				select {
				case woke <- struct{}{}:
				default:
				}
			case <-done:
			}
		}()
	}
	select {
	case <-woke:
		return true
	case <-timer.C:
	case <-ctx.Done():
	}
	return false
}

// fetchReply answers with what was read, or, when a consumer is over its
// consumer_byte_rate or request_percentage, with an empty response that carries the
// throttle time (quotas.go). took is the time the request kept the broker busy.
func (h *handlers) fetchReply(req *server.Request, r *kmsg.FetchRequest, resp *kmsg.FetchResponse, parts []*fetchPart, took time.Duration) *server.Reply {
	if t := h.Security.throttleFetch(req, r, fetchResponseSize(r, parts), took); t > 0 {
		releaseFetch(parts)
		empty := r.ResponseKind().(*kmsg.FetchResponse)
		empty.ThrottleMillis = throttleMillis(t)
		return &server.Reply{Msg: empty}
	}
	return &server.Reply{Body: h.encodeFetch(req, r, resp, parts)}
}

// fetchResponseSize is about the size of the response the reads make: their bytes, and
// the fields around them.
func fetchResponseSize(r *kmsg.FetchRequest, parts []*fetchPart) int {
	const header, perTopic, perPartition = 16, 24, 48
	n := header + perTopic*len(r.Topics)
	for _, t := range r.Topics {
		n += len(t.Topic)
	}
	for _, fp := range parts {
		n += perPartition
		if fp.read != nil {
			n += fp.read.Size()
		}
	}
	return n
}

// encodeFetch fills the response's partition headers and frames it around
// the partitions' record regions. The regions' references pass to the body.
func (h *handlers) encodeFetch(req *server.Request, r *kmsg.FetchRequest, resp *kmsg.FetchResponse, parts []*fetchPart) *server.Chunks {
	records := make([][]fetchRecords, len(resp.Topics))
	for ti := range resp.Topics {
		records[ti] = make([]fetchRecords, len(resp.Topics[ti].Partitions))
	}
	img := h.Meta.Image()
	seen := map[int32]bool{}
	for _, fp := range parts {
		op := &resp.Topics[fp.topicIdx].Partitions[fp.partIdx]
		*op = kmsg.NewFetchResponseTopicPartition()
		op.Partition = fp.req.Partition
		if fp.err != nil && r.Version >= 12 {
			rt := &r.Topics[fp.topicIdx]
			t := img.Topics[rt.Topic]
			if r.Version >= 13 {
				t = img.TopicsByID[rt.TopicID]
			}
			if hint, ok := hintFor(img, t, fp.req.Partition, req.Conn.Listener, fp.err); ok {
				op.CurrentLeader.LeaderID, op.CurrentLeader.LeaderEpoch = hint.leader, hint.epoch
				if hint.endpoint != nil && r.Version >= 16 && !seen[hint.leader] {
					seen[hint.leader] = true
					b := kmsg.NewFetchResponseBroker()
					b.NodeID, b.Host, b.Port, b.Rack = hint.leader, hint.endpoint.Host, hint.endpoint.Port, hint.rack
					resp.Brokers = append(resp.Brokers, b)
				}
			}
		}
		// Empty, not null: librdkafka rejects a null record set.
		op.RecordBatches = []byte{}
		if fp.err != nil {
			op.ErrorCode = errCode(fp.err)
			op.HighWatermark, op.LastStableOffset, op.LogStartOffset = -1, -1, -1
		}
		if fp.part != nil {
			l := fp.part.Log()
			if fp.err == nil || fp.err == kerr.OffsetOutOfRange {
				op.HighWatermark = l.HighWatermark()
				op.LastStableOffset = l.LastStableOffset()
				op.LogStartOffset = l.LogStartOffset()
			}
		}
		if fp.diverging != nil {
			op.DivergingEpoch = *fp.diverging
		}
		if r.IsolationLevel == isolationReadCmt {
			op.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			if fp.read != nil && fp.read.Size() > 0 {
				for _, a := range fp.part.Log().AbortedTransactions(fp.req.FetchOffset, fp.read.NextOffset) {
					at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
					at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
					op.AbortedTransactions = append(op.AbortedTransactions, at)
				}
			}
		}
		if fp.read != nil {
			if h.Fetched != nil {
				h.Fetched(fp.part.TopicPartition().Topic, fp.read.Size())
			}
			records[fp.topicIdx][fp.partIdx] = fetchRecords{fp.read}
			fp.read = nil // the body owns it now
		}
	}
	return encodeFetchResponse(resp, records)
}
