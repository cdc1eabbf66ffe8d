package compat

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// restartRecord is the content of record seq from producer phase: a 1-byte phase and an
// 8-byte sequence number.
func restartRecord(phase byte, seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{phase}, seq)
}

// ack is where the broker said a record was written.
type ack struct {
	partition int32
	offset    int64
}

// TestRestartAfterKill9 kills the broker with SIGKILL and restarts it on the same data dir:
//
//   - phase 'A': records produced synchronously (acks=all, idempotent) before the kill must
//     all be there after the restart, where they were acknowledged;
//   - phase 'B': a franz-go producer keeps producing across the kill and restart. It keeps its
//     producer id and retries the batches whose answers the kill lost; the restarted broker
//     must recognise them from its recovered producer state and answer with the original
//     offsets, so every acknowledged record is stored exactly once, where it was acknowledged.
//
// SIGKILL leaves the page cache alone: this tests recovery, not fsync.
func TestRestartAfterKill9(t *testing.T) {
	phaseA, phaseBBeforeKill, phaseBAfter := 20_000, 20_000, 20_000
	if os.Getenv("SLUICE_LONG") == "1" {
		phaseA, phaseBBeforeKill, phaseBAfter = 200_000, 200_000, 200_000
	}
	const partitions = 3
	b := startOwnBroker(t, t.TempDir(), freeAddr(t))
	topic := topicName(t, "restart")
	createTopic(t, b.Addr, topic, partitions)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	acks := make(map[string]ack) // record content -> where it was acknowledged
	var acksMu sync.Mutex
	record := func(r *kgo.Record) {
		acksMu.Lock()
		defer acksMu.Unlock()
		acks[string(r.Value)] = ack{r.Partition, r.Offset}
	}

	// Phase A: synchronous produce, every record acknowledged before the kill.
	clA := newClient(t, b.Addr, kgo.DefaultProduceTopic(topic))
	for from := 0; from < phaseA; from += 1000 {
		var rs []*kgo.Record
		for seq := from; seq < min(from+1000, phaseA); seq++ {
			rs = append(rs, &kgo.Record{Value: restartRecord('A', uint64(seq))})
		}
		for _, res := range clA.ProduceSync(ctx, rs...) {
			if res.Err != nil {
				t.Fatalf("phase A: %v", res.Err)
			}
			record(res.Record)
		}
	}
	clA.Close()

	// Phase B: a producer pumping records as fast as the broker takes them.
	clB := newClient(t, b.Addr, kgo.DefaultProduceTopic(topic), kgo.MaxBufferedRecords(5000))
	var (
		acked, failed, produced atomic.Int64
		stop                    atomic.Bool
		firstErr                atomic.Value
		pumpDone                = make(chan struct{})
	)
	defer func() {
		// On any exit, end the pump before the client closes.
		stop.Store(true)
		cancel()
		<-pumpDone
	}()
	go func() {
		defer close(pumpDone)
		for seq := uint64(0); !stop.Load(); seq++ {
			produced.Add(1)
			clB.Produce(ctx, &kgo.Record{Value: restartRecord('B', seq)}, func(r *kgo.Record, err error) {
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Errorf("record %x: %w", r.Value, err))
					return
				}
				record(r)
				acked.Add(1)
			})
		}
	}()
	status := func() string {
		return fmt.Sprintf("%d produced, %d acknowledged, %d failed (first error: %v)",
			produced.Load(), acked.Load(), failed.Load(), firstErr.Load())
	}
	waitFor(t, ctx, time.Minute, "phase B acknowledgements before the kill", status, func() bool {
		return acked.Load() >= int64(phaseBBeforeKill) || failed.Load() > 0
	})

	b.kill9(t)
	atKill := acked.Load()
	inFlight := produced.Load() - atKill - failed.Load()
	t.Logf("killed with %d phase B records acknowledged and %d buffered or in flight", atKill, inFlight)
	if inFlight <= 0 {
		t.Errorf("no phase B record was in flight at the kill: the test did not exercise retries")
	}

	b.restart(t)
	waitFor(t, ctx, time.Minute, "phase B acknowledgements after the restart", status, func() bool {
		return acked.Load() >= atKill+int64(phaseBAfter) || failed.Load() > 0
	})
	stop.Store(true)
	<-pumpDone
	if err := clB.Flush(ctx); err != nil {
		t.Fatalf("flush phase B: %v", err)
	}
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d phase B records failed; first: %v", n, firstErr.Load())
	}
	if got, want := acked.Load(), produced.Load(); got != want {
		t.Fatalf("phase B: %d records acknowledged of %d produced", got, want)
	}

	// Every acknowledged record exactly once, where it was acknowledged; nothing else.
	stored := readAll(t, b.Addr, topic)
	seen := make(map[string]ack, len(acks))
	total := 0
	for p, recs := range stored {
		total += len(recs)
		for _, r := range recs {
			v := string(r.Value)
			if prev, dup := seen[v]; dup {
				t.Errorf("record %x stored twice: %d@%d and %d@%d", r.Value, prev.partition, prev.offset, p, r.Offset)
				continue
			}
			seen[v] = ack{p, r.Offset}
			want, ok := acks[v]
			if !ok {
				t.Errorf("stored %d@%d: record %x was never produced", p, r.Offset, r.Value)
			} else if want != (ack{p, r.Offset}) {
				t.Errorf("record %x acknowledged at %d@%d but stored at %d@%d", r.Value, want.partition, want.offset, p, r.Offset)
			}
		}
	}
	missing := 0
	for v, a := range acks {
		if _, ok := seen[v]; !ok {
			missing++
			if missing <= 10 {
				t.Errorf("acknowledged record %x (%d@%d) missing after the restart", v, a.partition, a.offset)
			}
		}
	}
	if missing > 0 || total != len(acks) {
		t.Errorf("%d acknowledged records, %d stored, %d missing", len(acks), total, missing)
		// Per partition: how far acknowledgements went, and what the broker serves now.
		maxAcked := make(map[int32]int64)
		for _, a := range acks {
			maxAcked[a.partition] = max(maxAcked[a.partition], a.offset)
		}
		ends := endOffsets(t, b.Addr, topic)
		for p := range int32(partitions) {
			t.Errorf("partition %d: highest acknowledged offset %d, high watermark after the restart %d, %d records read",
				p, maxAcked[p], ends[p], len(stored[p]))
		}
	} else {
		t.Logf("%d records acknowledged (%d before the restart), all stored exactly once",
			len(acks), int64(phaseA)+atKill)
	}

	// Two producers wrote, so two producer ids: phase B's client kept its id across the
	// restart rather than starting over with a new one.
	ids := make(map[int64]map[int16]bool)
	for p := range int32(partitions) {
		for _, bt := range fetchRawBatches(t, b.Addr, topic, p) {
			if ids[bt.ProducerID] == nil {
				ids[bt.ProducerID] = make(map[int16]bool)
			}
			ids[bt.ProducerID][bt.ProducerEpoch] = true
		}
	}
	if len(ids) != 2 {
		t.Errorf("stored batches carry producer ids (with epochs) %v, want 2 ids: one per producer", ids)
	}
}

// waitFor polls cond until it holds, or fails the test after timeout (or when ctx ends)
// with what it waited for and status().
func waitFor(t testing.TB, ctx context.Context, timeout time.Duration, what string, status func() string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; %s", what, ctx.Err(), status())
		case <-tick.C:
		}
	}
}
