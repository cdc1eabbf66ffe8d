//go:build sluice_broken_ack

// A deliberately broken broker, built only with the test-only tag
// sluice_broken_ack, for the chaos harness's self-test
// (TestHarnessFindsLostWritesOfABrokenBuild in test/chaos): it acknowledges
// produce requests before appending them. Never ship it.
//
// With the tag, the produce handler answers success at once, for any acks,
// and hands the batches to one process-wide queue that appends them in arrival
// order, each no sooner than brokenAckDelay after it was answered. A kill -9
// loses whatever is still queued: records the producer was told are written.
//
// The answered offsets are predictions: the partition's log end offset plus the
// records queued for it ahead of the batch. They are exact while every queued
// append succeeds. A batch the append refuses (a corrupt batch, or an
// idempotent producer's sequence that no longer follows because its earlier
// batches were lost in a kill) was answered anyway; its records are then
// acknowledged at offsets other records take, which the harness's checker
// reports as lost writes. The produce path's validation errors, the acks=-1
// waits for the ISR and fsync, and NOT_ENOUGH_REPLICAS from a transaction
// coordinator are all skipped: only errors found before the append (unknown
// partition, not leader, authorization, min.insync.replicas) are answered.
package api

import (
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/replica"
	"github.com/sluicehq/sluice/internal/storage"
)

// brokenAckDelay is how long an acknowledged batch waits before its append:
// the window in which a kill -9 loses it.
const brokenAckDelay = 20 * time.Millisecond

type brokenAppend struct {
	h *handlers
	j *produceJob
	n int64 // records in the batch, as predicted
	// records is a copy of the batch: the request's buffer is reused once the
	// handler has answered.
	records []byte
	due     time.Time
}

var brokenQueue struct {
	once    sync.Once
	ch      chan brokenAppend
	mu      sync.Mutex
	pending map[*replica.Partition]int64 // records queued per partition
}

// ackBeforeAppend queues every job's batch for a later append, fills in the
// predicted offsets, and reports true: the handler answers without appending.
func ackBeforeAppend(h *handlers, jobs []*produceJob) bool {
	q := &brokenQueue
	q.once.Do(func() {
		q.ch = make(chan brokenAppend, 1<<16)
		q.pending = make(map[*replica.Partition]int64)
		go brokenAppender()
	})
	now := time.Now()
	for _, j := range jobs {
		if j.err != nil {
			continue
		}
		var n int64 = 1
		if hd, err := record.ParseHeader(j.records); err == nil && hd.NumRecords > 0 {
			n = int64(hd.NumRecords)
		}
		q.mu.Lock()
		base := j.part.Log().LogEndOffset() + q.pending[j.part]
		q.pending[j.part] += n
		q.mu.Unlock()
		j.res = storage.AppendResult{BaseOffset: base, LastOffset: base + n - 1,
			LogAppendTime: -1, LogStartOffset: j.part.Log().LogStartOffset()}
		q.ch <- brokenAppend{h: h, j: j, n: n, records: append([]byte(nil), j.records...), due: now.Add(brokenAckDelay)}
	}
	return true
}

// brokenAppender appends the queued batches in order, each once it is due.
func brokenAppender() {
	q := &brokenQueue
	for a := range q.ch {
		time.Sleep(time.Until(a.due))
		j := a.j
		var err error
		if j.verify != nil {
			err = j.verify.appendGuarded(func() (err error) {
				_, err = appendOne(j.part, a.records)
				return err
			})
		} else {
			_, err = appendOne(j.part, a.records)
		}
		q.mu.Lock()
		q.pending[j.part] -= a.n
		q.mu.Unlock()
		if err != nil {
			a.h.Logger.Warn("broken build: append after acknowledging failed",
				"topic", j.part.TopicPartition().Topic, "partition", j.part.TopicPartition().Partition,
				"offset", j.res.BaseOffset, "err", err)
		}
	}
}
