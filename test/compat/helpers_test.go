package compat

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clientTimeout bounds one third-party client run.
const clientTimeout = 3 * time.Minute

// newClient returns a franz-go client for addr, closed when the test ends.
func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.ClientID("sluice-compat")}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("new franz-go client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a topic with replication factor 1 through kadm and waits until its
// metadata shows every partition with a leader.
func createTopic(t testing.TB, addr, topic string, partitions int32) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if resp.Err != nil {
		t.Fatalf("create topic %s: %v (%s)", topic, resp.Err, resp.ErrMessage)
	}
	for {
		md, err := adm.Metadata(ctx, topic)
		if err == nil {
			td := md.Topics[topic]
			ready := td.Err == nil && len(td.Partitions) == int(partitions)
			for _, p := range td.Partitions {
				ready = ready && p.Err == nil && p.Leader >= 0
			}
			if ready {
				return
			}
			err = fmt.Errorf("topic %s not ready: %v, %d partitions", topic, td.Err, len(td.Partitions))
		}
		select {
		case <-ctx.Done():
			t.Fatalf("wait for topic %s: %v", topic, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// topicName returns a topic name unique to the test, so tests can share an external broker.
func topicName(t testing.TB, suffix string) string {
	name := strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name()))
	return fmt.Sprintf("%s-%s-%d", name, suffix, time.Now().UnixNano()%1_000_000_000)
}

// endOffsets returns each partition's high watermark.
func endOffsets(t testing.TB, addr, topic string) map[int32]int64 {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offs, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	ends := make(map[int32]int64)
	var errs []error
	offs.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("partition %d: %w", o.Partition, o.Err))
			return
		}
		ends[o.Partition] = o.Offset
	})
	if len(errs) > 0 {
		t.Fatalf("list end offsets of %s: %v", topic, errors.Join(errs...))
	}
	return ends
}

// readAll consumes every partition of topic from offset 0 up to its current high watermark
// with a group-less franz-go consumer, and returns the records by partition in offset order.
func readAll(t testing.TB, addr, topic string) map[int32][]*kgo.Record {
	t.Helper()
	ends := endOffsets(t, addr, topic)
	return readRange(t, addr, topic, ends, 0)
}

// readRange consumes every partition in ends from offset start to its end offset.
func readRange(t testing.TB, addr, topic string, ends map[int32]int64, start int64) map[int32][]*kgo.Record {
	t.Helper()
	offsets := make(map[int32]kgo.Offset)
	remaining := 0
	for p, end := range ends {
		if end > start {
			offsets[p] = kgo.NewOffset().At(start)
			remaining++
		}
	}
	got := make(map[int32][]*kgo.Record)
	if remaining == 0 {
		return got
	}
	cl := newClient(t, addr,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for remaining > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume %s: %v before reaching the end offsets %v (%d partitions left)", topic, err, ends, remaining)
		}
		fetches.EachError(func(tp string, p int32, err error) {
			t.Fatalf("consume %s partition %d: %v", tp, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			end := ends[r.Partition]
			if r.Offset >= end {
				return // produced after the end offsets were listed
			}
			got[r.Partition] = append(got[r.Partition], r)
			if r.Offset == end-1 {
				remaining--
			}
		})
	}
	for p, recs := range got {
		for i, r := range recs {
			if want := start + int64(i); r.Offset != want {
				t.Fatalf("consume %s partition %d: record %d has offset %d, want %d (offsets must be dense)",
					topic, p, i, r.Offset, want)
			}
		}
	}
	return got
}

// storedBatch is one record batch as the broker stores and serves it.
type storedBatch struct {
	kmsg.RecordBatch
	CRCValid bool
}

// Codec is the batch's compression codec: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
func (b storedBatch) Codec() int16 { return b.Attributes & 0x7 }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fetchRawBatches reads every batch of one partition with raw Fetch requests (kmsg through
// kgo's Request), so the test sees the batches' headers as stored, not as a consumer
// decodes them.
func fetchRawBatches(t testing.TB, addr, topic string, partition int32) []storedBatch {
	t.Helper()
	cl := newClient(t, addr)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		t.Fatalf("metadata of %s: topic missing or in error: %v", topic, td.Err)
	}
	pd, ok := td.Partitions[partition]
	if !ok || pd.Err != nil {
		t.Fatalf("metadata of %s partition %d: missing or in error: %v", topic, partition, pd.Err)
	}
	end := endOffsets(t, addr, topic)[partition]

	var batches []storedBatch
	for next := int64(0); next < end; {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID = -1
		req.MaxWaitMillis = 500
		req.MinBytes = 1
		req.MaxBytes = 16 << 20
		req.SessionID = 0
		req.SessionEpoch = -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rt.TopicID = td.ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = partition
		rp.FetchOffset = next
		rp.LogStartOffset = -1
		rp.CurrentLeaderEpoch = -1
		rp.PartitionMaxBytes = 8 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)

		resp, err := req.RequestWith(ctx, cl.Broker(int(pd.Leader)))
		if err != nil {
			t.Fatalf("fetch %s[%d] at %d: %v", topic, partition, next, err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			t.Fatalf("fetch %s[%d] at %d: %v", topic, partition, next, err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("fetch %s[%d] at %d: response has %d topics, want 1 topic with 1 partition",
				topic, partition, next, len(resp.Topics))
		}
		rpart := resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(rpart.ErrorCode); err != nil {
			t.Fatalf("fetch %s[%d] at %d: %v", topic, partition, next, err)
		}
		got, err := parseBatches(rpart.RecordBatches)
		if err != nil {
			t.Fatalf("fetch %s[%d] at %d: %v", topic, partition, next, err)
		}
		if len(got) == 0 {
			t.Fatalf("fetch %s[%d] at %d: no complete batch below the high watermark %d (fetch version %d)",
				topic, partition, next, end, req.GetVersion())
		}
		for _, b := range got {
			last := b.FirstOffset + int64(b.LastOffsetDelta)
			if last < next {
				continue // a batch before the fetch offset, served again
			}
			batches = append(batches, b)
			next = last + 1
		}
	}
	return batches
}

// parseBatches splits a Fetch partition's bytes into record batches. A trailing partial
// batch (cut by a byte limit) is ignored, as clients do.
func parseBatches(data []byte) ([]storedBatch, error) {
	var out []storedBatch
	for len(data) >= 12 {
		length := int32(binary.BigEndian.Uint32(data[8:12]))
		if length < 0 {
			return nil, fmt.Errorf("batch at %d: negative length %d", binary.BigEndian.Uint64(data), length)
		}
		size := 12 + int(length)
		if size > len(data) {
			break
		}
		raw := data[:size]
		data = data[size:]
		if len(raw) < 61 {
			return nil, fmt.Errorf("batch of %d bytes is shorter than a v2 batch header", len(raw))
		}
		if magic := raw[16]; magic != 2 {
			return nil, fmt.Errorf("batch at offset %d has magic %d, want 2", binary.BigEndian.Uint64(raw), magic)
		}
		var b storedBatch
		if err := b.ReadFrom(raw); err != nil {
			return nil, fmt.Errorf("decode batch: %w", err)
		}
		// The CRC covers everything from the attributes to the end.
		b.CRCValid = crc32.Checksum(raw[21:], castagnoli) == uint32(b.CRC)
		out = append(out, b)
	}
	return out, nil
}

// runClient runs a third-party client with a deadline and returns its standard output. A
// failure shows the command, its exit status, and both of its outputs.
func runClient(t testing.TB, stdin []byte, env []string, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	if err != nil || ctx.Err() != nil {
		t.Fatalf("%s failed after %v: %v (context: %v)\n--- stdout ---\n%s\n--- stderr ---\n%s",
			strings.Join(cmd.Args, " "), time.Since(start).Round(time.Millisecond), err, ctx.Err(),
			tail(stdout.Bytes(), 8000), tail(stderr.Bytes(), 8000))
	}
	t.Logf("%s: ok in %v", strings.Join(cmd.Args[:min(len(cmd.Args), 3)], " "), time.Since(start).Round(time.Millisecond))
	if stderr.Len() > 0 && testing.Verbose() {
		t.Logf("%s stderr:\n%s", name, tail(stderr.Bytes(), 4000))
	}
	return stdout.Bytes()
}

// lookPath fails the test when a client tool is missing, pointing at the installer.
func lookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (%v): run scripts/install-test-deps.sh (or `make test`)", name, err)
	}
	return p
}
