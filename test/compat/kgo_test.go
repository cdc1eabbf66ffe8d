package compat

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// recordCount returns SLUICE_COMPAT_RECORDS, or def.
func recordCount(t testing.TB, def int) int {
	t.Helper()
	s := os.Getenv("SLUICE_COMPAT_RECORDS")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("SLUICE_COMPAT_RECORDS=%q: want a positive integer", s)
	}
	return n
}

// seqKey and seqValue make record seq's content: an 8-byte key holding seq and a 24-byte
// value derived from it, so a reader can check each record on its own.
func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func seqValue(seq uint64) []byte {
	v := make([]byte, 0, 24)
	v = binary.BigEndian.AppendUint64(v, seq*0x9e3779b97f4a7c15)
	v = binary.BigEndian.AppendUint64(v, ^seq)
	return binary.BigEndian.AppendUint64(v, seq^0x5a5a5a5a5a5a5a5a)
}

// TestKgoIdempotentMillion produces SLUICE_COMPAT_RECORDS (default 1,000,000) small records
// with franz-go's default idempotent producer (acks=all) to a 6-partition topic created with
// kadm, record seq going to partition seq%6, then consumes them all without a group. Every
// record must sit exactly where the order of production puts it: offset seq/6 of partition
// seq%6, with its own key and value, each seq once.
func TestKgoIdempotentMillion(t *testing.T) {
	n := recordCount(t, 1_000_000)
	const partitions = 6
	b := startBroker(t)
	topic := topicName(t, "million")
	createTopic(t, b.Addr, topic, partitions)

	producer := newClient(t, b.Addr,
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	start := time.Now()
	var (
		mu       sync.Mutex
		failures int
		firstErr error
		badPlace int
	)
	for seq := range uint64(n) {
		r := &kgo.Record{Key: seqKey(seq), Value: seqValue(seq), Partition: int32(seq % partitions)}
		producer.Produce(ctx, r, func(r *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures++
				if firstErr == nil {
					firstErr = fmt.Errorf("record %d: %w", seq, err)
				}
				return
			}
			if r.Offset != int64(seq/partitions) {
				badPlace++
				if firstErr == nil {
					firstErr = fmt.Errorf("record %d acknowledged at %d@%d, want offset %d",
						seq, r.Partition, r.Offset, seq/partitions)
				}
			}
		})
	}
	if err := producer.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	produceTime := time.Since(start)
	mu.Lock()
	if failures > 0 || badPlace > 0 {
		t.Fatalf("%d of %d records failed, %d acknowledged at an unexpected offset; first: %v",
			failures, n, badPlace, firstErr)
	}
	mu.Unlock()
	t.Logf("produced %d records in %v (%.0f records/s)", n, produceTime.Round(time.Millisecond),
		float64(n)/produceTime.Seconds())

	ends := endOffsets(t, b.Addr, topic)
	for p := range int32(partitions) {
		want := int64(n / partitions)
		if int(p) < n%partitions {
			want++
		}
		if ends[p] != want {
			t.Errorf("partition %d high watermark %d, want %d", p, ends[p], want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, bt := range fetchRawBatches(t, b.Addr, topic, 0) {
		if bt.ProducerID < 0 || !bt.CRCValid {
			t.Fatalf("partition 0 batch at %d: producer id %d, CRC valid %v: want an idempotent batch with a good CRC",
				bt.FirstOffset, bt.ProducerID, bt.CRCValid)
		}
	}

	start = time.Now()
	consumer := newClient(t, b.Addr, kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	next := make([]int64, partitions) // next expected offset per partition
	got := 0
	var errs []error
	for got < n && len(errs) < 10 {
		fetches := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records: %v", got, n, ctx.Err())
		}
		fetches.EachError(func(tp string, p int32, err error) {
			errs = append(errs, fmt.Errorf("fetch %s[%d]: %w", tp, p, err))
		})
		fetches.EachRecord(func(r *kgo.Record) {
			got++
			if r.Offset != next[r.Partition] {
				errs = append(errs, fmt.Errorf("partition %d: offset %d after %d", r.Partition, r.Offset, next[r.Partition]-1))
			}
			next[r.Partition] = r.Offset + 1
			seq := uint64(r.Offset)*partitions + uint64(r.Partition)
			if string(r.Key) != string(seqKey(seq)) || string(r.Value) != string(seqValue(seq)) {
				errs = append(errs, fmt.Errorf("record %d@%d: key %x value %x, want record %d (key %x)",
					r.Partition, r.Offset, r.Key, r.Value, seq, seqKey(seq)))
			}
		})
	}
	if len(errs) > 0 {
		t.Fatalf("consume: %v", errors.Join(errs...))
	}
	consumeTime := time.Since(start)
	t.Logf("consumed %d records in %v (%.0f records/s)", got, consumeTime.Round(time.Millisecond),
		float64(got)/consumeTime.Seconds())
	for p := range int32(partitions) {
		if next[p] != ends[p] {
			t.Errorf("partition %d: consumed up to %d, high watermark %d", p, next[p], ends[p])
		}
	}
}
