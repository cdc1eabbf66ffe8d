// Produce (key 0), versions 3-13 served; 0-2 advertised but refused.
//
// Behaviour: each partition's records must be exactly one v2 record batch. The
// log validates it (CRC, lengths, count, timestamps, size against
// max.message.bytes), checks the producer's sequence when it is idempotent,
// assigns offsets and appends; the partitions of one request are appended in
// parallel. Appends happen while the request is handled, in request order on
// the connection, so an idempotent producer's pipelined batches land in order;
// the waits (fsync in durable mode) happen afterwards without holding up the
// next request.
//   - acks=0: no response; any error closes the connection, as Kafka does.
//   - acks=1: answered after the leader's append.
//   - acks=-1: refused with NOT_ENOUGH_REPLICAS when the ISR is smaller than
//     min.insync.replicas; else answered once the in-sync replicas have the data,
//     and, when the topic is durable (flush.messages=1), once it is fsynced.
//
// A retried idempotent batch already in the log is answered NONE with its
// original offsets. Versions 0-2 stay in the advertised range only so that
// librdkafka keeps compression on (KAFKA-18659); a v0-2 request is refused by
// closing the connection, as Kafka 4 does. v13 names topics by ID.
// Errors: UNKNOWN_TOPIC_OR_PARTITION / UNKNOWN_TOPIC_ID, NOT_LEADER_OR_FOLLOWER,
// CORRUPT_MESSAGE, INVALID_RECORD (with per-record errors from v8),
// MESSAGE_TOO_LARGE, INVALID_TIMESTAMP, INVALID_REQUIRED_ACKS,
// OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH, REQUEST_TIMED_OUT,
// and TRANSACTIONAL_ID_AUTHORIZATION_FAILED for transactional producers on a
// broker without a transaction coordinator. Transactional batches are appended like
// others; the partition's producer state opens the producer's transaction, and the
// coordinator's marker closes it (WriteTxnMarkers). A producer's first
// transactional write to a partition in a transaction is first put to the
// transaction coordinator (KIP-890, txnverify.go): from v12 (transactions v2) it
// adds the partition to the transaction; below, it verifies that the producer added
// it, and the write is refused with INVALID_TXN_STATE (TRANSACTION_ABORTABLE from
// v11) when it did not, or INVALID_PRODUCER_EPOCH when the coordinator has fenced
// the epoch; NOT_ENOUGH_REPLICAS while the coordinator cannot answer.
package api

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/replica"
	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/storage"
)

type produceJob struct {
	topic   *metadata.Topic // for KIP-951's leader hint; nil if unknown
	out     *kmsg.ProduceResponseTopicPartition
	part    *replica.Partition
	records []byte
	res     storage.AppendResult
	err     error
	// verify is the verification guard of a producer's first transactional write
	// to the partition in its transaction (txnverify.go).
	verify *verification
}

func (h *handlers) produce(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.ProduceRequest)
	if r.Version < 3 {
		h.Logger.Info("closing connection: Produce v0-2 (message format v0/v1) is not supported",
			"version", r.Version, "client", clientID(req), "remote", req.Conn.Remote)
		return &server.Reply{NoResponse: true, Close: true}
	}
	resp := r.ResponseKind().(*kmsg.ProduceResponse)

	var jobErr error
	switch {
	case r.Acks != -1 && r.Acks != 0 && r.Acks != 1:
		jobErr = kerr.InvalidRequiredAcks
	case r.TransactionID != nil && h.Txns == nil:
		jobErr = kerr.TransactionalIDAuthorizationFailed
	case r.TransactionID != nil && !h.authorized(req, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTransactionalId, *r.TransactionID):
		jobErr = kerr.TransactionalIDAuthorizationFailed
	}

	img := h.Meta.Image()
	var jobs []*produceJob
	for _, rt := range r.Topics {
		ot := kmsg.NewProduceResponseTopic()
		ot.Topic, ot.TopicID = rt.Topic, rt.TopicID
		ot.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		resp.Topics = append(resp.Topics, ot)
		t := &resp.Topics[len(resp.Topics)-1]
		topicErr := jobErr
		if name := rt.Topic; topicErr == nil {
			if r.Version >= 13 {
				name = topicNameByID(img, rt.TopicID)
			}
			if name != "" && !h.authorized(req, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic, name) {
				topicErr = kerr.TopicAuthorizationFailed
			}
		}
		for i, rp := range rt.Partitions {
			op := &t.Partitions[i]
			*op = kmsg.NewProduceResponseTopicPartition()
			op.Partition = rp.Partition
			j := &produceJob{out: op, records: rp.Records, err: topicErr}
			if r.Version >= 13 {
				j.topic = img.TopicsByID[rt.TopicID]
			} else {
				j.topic = img.Topics[rt.Topic]
			}
			if j.err == nil {
				if r.Version >= 13 {
					j.part, j.err = h.Replicas.PartitionByID(rt.TopicID, rp.Partition)
				} else {
					j.part, j.err = h.Replicas.Partition(rt.Topic, rp.Partition)
				}
			}
			if j.err == nil && r.Acks == -1 {
				j.err = j.part.CheckMinISR()
			}
			jobs = append(jobs, j)
		}
	}

	if r.TransactionID != nil && jobErr == nil {
		h.verifyTransactional(ctx, *r.TransactionID, r.Version, jobs)
	}
	if ackBeforeAppend(h, jobs) {
		// Only in the deliberately broken test build (produce_ack_broken.go).
		if r.Acks == 0 {
			return &server.Reply{NoResponse: true}
		}
		fillProduce(jobs)
		h.leaderHints(req, resp, jobs)
		return &server.Reply{Msg: resp}
	}
	appendAll(jobs)

	if r.Acks == 0 {
		for _, j := range jobs {
			if j.err != nil {
				h.Logger.Info("closing connection after a failed acks=0 produce",
					"err", j.err, "client", clientID(req), "remote", req.Conn.Remote)
				return &server.Reply{NoResponse: true, Close: true}
			}
		}
		h.syncInBackground(jobs)
		return &server.Reply{NoResponse: true}
	}
	if r.Acks == 1 {
		h.syncInBackground(jobs)
		fillProduce(jobs)
		h.leaderHints(req, resp, jobs)
		return &server.Reply{Msg: resp}
	}

	// acks=-1: the response waits until the in-sync replicas have the records and,
	// where the topic asks for it, they are on disk.
	if !anyNeedsWait(jobs) {
		fillProduce(jobs)
		h.leaderHints(req, resp, jobs)
		return &server.Reply{Msg: resp}
	}
	timeout := time.Duration(r.TimeoutMillis) * time.Millisecond
	return &server.Reply{
		Then: func(ctx context.Context) *server.Reply {
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			waitCommitted(ctx, jobs)
			fillProduce(jobs)
			h.leaderHints(req, resp, jobs)
			return &server.Reply{Msg: resp}
		},
	}
}

// parallelAppendBytes is the size of a request's batches from which its
// partitions are appended in parallel. Below it they are appended one after
// another on the handler's goroutine: appending a few KiB takes
// microseconds, less than starting goroutines and waking the handler when
// they are done, and on a busy machine every such wake-up can wait for a
// core (the produce latency's p99 at 10,000 small requests/s).
const parallelAppendBytes = 256 << 10

// appendAll appends every job's batch; large requests' partitions in
// parallel, the last of them on the calling goroutine.
func appendAll(jobs []*produceJob) {
	run := func(j *produceJob) {
		if j.err != nil {
			return
		}
		if j.verify != nil {
			j.err = j.verify.appendGuarded(func() (err error) {
				j.res, err = appendOne(j.part, j.records)
				return err
			})
			return
		}
		j.res, j.err = appendOne(j.part, j.records)
	}
	live, size := 0, 0
	var last *produceJob
	for _, j := range jobs {
		if j.err == nil {
			live++
			size += len(j.records)
			last = j
		}
	}
	if live <= 1 || size < parallelAppendBytes {
		for _, j := range jobs {
			run(j)
		}
		return
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		if j.err != nil || j == last {
			continue
		}
		wg.Go(func() { run(j) })
	}
	run(last)
	wg.Wait()
}

// appendOne appends a partition's records, which must be exactly one batch
// (Kafka requires that from Produce v3).
func appendOne(p *replica.Partition, records []byte) (storage.AppendResult, error) {
	if len(records) == 0 {
		return storage.AppendResult{}, &record.ValidationError{Err: kerr.InvalidRecord, Msg: "produce request carries no record batch"}
	}
	n, err := record.BatchSize(records)
	if err != nil {
		return storage.AppendResult{}, &record.ValidationError{Err: kerr.CorruptMessage, Msg: err.Error()}
	}
	if n != len(records) {
		if n < len(records) {
			return storage.AppendResult{}, &record.ValidationError{Err: kerr.InvalidRecord, Msg: "produce requests from v3 must carry exactly one record batch per partition"}
		}
		return storage.AppendResult{}, &record.ValidationError{Err: kerr.CorruptMessage, Msg: "record batch truncated"}
	}
	return p.Append(records)
}

func anyNeedsWait(jobs []*produceJob) bool {
	for _, j := range jobs {
		if j.err == nil && j.part.NeedsWait() {
			return true
		}
	}
	return false
}

// waitCommitted waits, in parallel, until every partition's appends are committed: in
// every in-sync replica, and fsynced where the partition is durable. A wait that fails
// turns into the partition's error.
func waitCommitted(ctx context.Context, jobs []*produceJob) {
	var wg sync.WaitGroup
	for _, j := range jobs {
		if j.err != nil || !j.part.NeedsWait() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := j.part.WaitCommitted(ctx, j.res.LastOffset+1); err != nil {
				if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
					err = kerr.RequestTimedOut
				}
				j.err = err
			}
		}()
	}
	wg.Wait()
}

// syncInBackground starts the flush waits of durable partitions whose
// producer does not wait for them (acks 0 and 1), so that their high
// watermark still advances once the data is on disk.
func (h *handlers) syncInBackground(jobs []*produceJob) {
	for _, j := range jobs {
		if j.err != nil || !j.part.Durable() {
			continue
		}
		p, end := j.part, j.res.LastOffset+1
		go func() {
			if err := p.WaitDurable(context.Background(), end); err != nil {
				h.Logger.Warn("flush after append", "topic", p.TopicPartition().Topic,
					"partition", p.TopicPartition().Partition, "err", err)
			}
		}()
	}
}

func fillProduce(jobs []*produceJob) {
	for _, j := range jobs {
		op := j.out
		if j.err != nil {
			op.ErrorCode = errCode(j.err)
			op.ErrorMessage = errMessage(j.err)
			op.BaseOffset, op.LogAppendTime, op.LogStartOffset = -1, -1, -1
			var ve *record.ValidationError
			if errors.As(j.err, &ve) {
				for _, re := range ve.RecordErrors {
					er := kmsg.NewProduceResponseTopicPartitionErrorRecord()
					er.RelativeOffset = re.Index
					msg := re.Message
					er.ErrorMessage = &msg
					op.ErrorRecords = append(op.ErrorRecords, er)
				}
			}
			continue
		}
		op.BaseOffset = j.res.BaseOffset
		op.LogAppendTime = j.res.LogAppendTime
		op.LogStartOffset = j.res.LogStartOffset
	}
}

// leaderHints adds KIP-951's current leader (v10+) to partitions refused for not
// leading, with the leaders' endpoints.
func (h *handlers) leaderHints(req *server.Request, resp *kmsg.ProduceResponse, jobs []*produceJob) {
	if resp.Version < 10 {
		return
	}
	img := h.Meta.Image()
	seen := map[int32]bool{}
	for _, j := range jobs {
		hint, ok := hintFor(img, j.topic, j.out.Partition, req.Conn.Listener, j.err)
		if !ok {
			continue
		}
		j.out.CurrentLeader.LeaderID, j.out.CurrentLeader.LeaderEpoch = hint.leader, hint.epoch
		if hint.endpoint != nil && !seen[hint.leader] {
			seen[hint.leader] = true
			b := kmsg.NewProduceResponseBroker()
			b.NodeID, b.Host, b.Port, b.Rack = hint.leader, hint.endpoint.Host, hint.endpoint.Port, hint.rack
			resp.Brokers = append(resp.Brokers, b)
		}
	}
}

func clientID(req *server.Request) string {
	if req.ClientID == nil {
		return ""
	}
	return *req.ClientID
}
