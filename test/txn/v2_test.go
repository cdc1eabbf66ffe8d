package txn

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/sluicehq/sluice/internal/record"
)

// Transactions v2 (KIP-890) against bin/sluice, with franz-go: it switches to v2 when
// ApiVersions finalizes transaction.version 2, and then adds no partition itself
// (Produce v12+), and moves to a new epoch at every EndTxn (v5).

// requestCounter counts the requests a franz-go client writes, by API key.
type requestCounter struct {
	mu sync.Mutex
	n  map[int16]int
}

func (c *requestCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[int16]int{}
	}
	c.n[key]++
}

func (c *requestCounter) count(key kmsg.Key) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[int16(key)]
}

// v1Versions caps EndTxn at v4, below transactions v2: franz-go then keeps to v1 (it
// sends AddPartitionsToTxn, and Produce v11 at most, for its transactions) whatever the
// broker finalizes.
func v1Versions() *kversion.Versions {
	v := kversion.Stable()
	v.SetMaxKeyVersion(int16(kmsg.EndTxn), 4)
	return v
}

// TestTxnV2AndV1Together: a franz-go producer under transactions v2 and one held to
// v1 run transactions on the same 3 partitions at the same time, committing some and
// aborting others. The v2 producer sends no AddPartitionsToTxn and its epoch grows by
// one with every transaction; the v1 producer adds its partitions and keeps its epoch.
// read_committed sees exactly the committed transactions of both, read_uncommitted
// everything, and no transaction is left open in any partition.
func TestTxnV2AndV1Together(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const name, rounds = "txn-v2", 6
	raw := newKgo(t, b.addr)
	makeTopic(t, ctx, raw, name, 3)

	var v2Reqs, v1Reqs requestCounter
	v2 := newKgo(t, b.addr, kgo.TransactionalID("v2-id"), kgo.DefaultProduceTopic(name),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.WithHooks(&v2Reqs))
	v1 := newKgo(t, b.addr, kgo.TransactionalID("v1-id"), kgo.DefaultProduceTopic(name),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.WithHooks(&v1Reqs), kgo.MaxVersions(v1Versions()))

	// run is one producer's transactions: round r writes "<who>-r-p" to each
	// partition p and commits when r is even. It returns the epochs it ran them at.
	run := func(cl *kgo.Client, who string) ([]int16, map[int32][]string, error) {
		var epochs []int16
		committed := map[int32][]string{}
		for r := range rounds {
			if err := cl.BeginTransaction(); err != nil {
				return nil, nil, err
			}
			var recs []*kgo.Record
			for p := range int32(3) {
				recs = append(recs, &kgo.Record{Partition: p, Value: fmt.Appendf(nil, "%s-%d-%d", who, r, p)})
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				return nil, nil, fmt.Errorf("%s round %d: produce: %w", who, r, err)
			}
			_, epoch, err := cl.ProducerID(ctx)
			if err != nil {
				return nil, nil, err
			}
			epochs = append(epochs, epoch)
			commit := r%2 == 0
			if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
				return nil, nil, fmt.Errorf("%s round %d: end (commit %v): %w", who, r, commit, err)
			}
			if commit {
				for _, rec := range recs {
					committed[rec.Partition] = append(committed[rec.Partition], string(rec.Value))
				}
			}
		}
		return epochs, committed, nil
	}
	type result struct {
		epochs    []int16
		committed map[int32][]string
		err       error
	}
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i, p := range []struct {
		cl  *kgo.Client
		who string
	}{{v2, "v2"}, {v1, "v1"}} {
		wg.Go(func() {
			e, c, err := run(p.cl, p.who)
			results[i] = result{e, c, err}
		})
	}
	wg.Wait()
	for _, r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
	}

	v2Epochs, v1Epochs := results[0].epochs, results[1].epochs
	for r := 1; r < rounds; r++ {
		if v2Epochs[r] != v2Epochs[r-1]+1 {
			t.Errorf("v2 producer's epochs %v: want one more at every transaction (EndTxn v5 bumps it)", v2Epochs)
			break
		}
	}
	if slices.Min(v1Epochs) != slices.Max(v1Epochs) {
		t.Errorf("v1 producer's epochs %v: want one epoch throughout", v1Epochs)
	}
	if n := v2Reqs.count(kmsg.AddPartitionsToTxn); n != 0 {
		t.Errorf("the v2 producer sent AddPartitionsToTxn %d times; under v2 the partition leaders add them", n)
	}
	if n := v1Reqs.count(kmsg.AddPartitionsToTxn); n == 0 {
		t.Errorf("the v1 producer sent no AddPartitionsToTxn")
	}
	if n := v2Reqs.count(kmsg.EndTxn); n != rounds {
		t.Errorf("the v2 producer sent EndTxn %d times, want %d", n, rounds)
	}

	// Each partition holds both producers' records; read_committed sees exactly
	// the committed rounds of each, in each producer's order.
	committed := readToEnd(t, ctx, b.addr, name, 3, true)
	all := readToEnd(t, ctx, b.addr, name, 3, false)
	for p := range int32(3) {
		for i, who := range []string{"v2", "v1"} {
			got := filterPrefix(committed[p], who+"-")
			if want := results[i].committed[p]; !slices.Equal(got, want) {
				t.Errorf("read_committed partition %d, %s producer: %v, want %v", p, who, got, want)
			}
			if got := filterPrefix(all[p], who+"-"); len(got) != rounds {
				t.Errorf("read_uncommitted partition %d, %s producer: %v, want all %d rounds", p, who, got, rounds)
			}
		}
	}
	// No transaction is left open; the v2 producer's state in each partition is at
	// the epoch of its last marker, the one its last EndTxn gave.
	_, lastEpoch, err := v2.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lastEpoch != v2Epochs[rounds-1]+1 {
		t.Errorf("the v2 producer's epoch after its last transaction: %d, want %d", lastEpoch, v2Epochs[rounds-1]+1)
	}
	described, err := kadm.NewClient(raw).DescribeProducers(ctx, kadm.TopicsSet{name: {0: {}, 1: {}, 2: {}}})
	if err != nil {
		t.Fatal(err)
	}
	described.EachPartition(func(dp kadm.DescribedProducersPartition) {
		if dp.Err != nil {
			t.Errorf("DescribeProducers %s-%d: %v", dp.Topic, dp.Partition, dp.Err)
		}
		for _, pr := range dp.ActiveProducers {
			if pr.CurrentTxnStartOffset >= 0 {
				t.Errorf("%s-%d: producer %d has a transaction open from offset %d", dp.Topic, dp.Partition, pr.ProducerID, pr.CurrentTxnStartOffset)
			}
		}
	})
}

func filterPrefix(vs []string, prefix string) []string {
	var out []string
	for _, v := range vs {
		if len(v) >= len(prefix) && v[:len(prefix)] == prefix {
			out = append(out, v)
		}
	}
	return out
}

// TestTxnV2LateWriteRefused is the delayed write of KIP-890 (the hanging transaction
// Jepsen reproduced): a franz-go producer under v2 commits a transaction that wrote to
// partitions 0 and 1; a write of that transaction arrives after the commit. Its epoch
// is the one before the bump, so it is refused wherever it lands: in partition 0,
// whose marker carries the bumped epoch, and in partition 2, which the transaction
// never wrote to (the coordinator refuses to add it for a fenced epoch), at Produce
// v12+ (v2) and at v11 (verification). A delayed EndTxn of the committed transaction,
// arriving while the next one is open, is fenced too rather than ending that one.
// Nothing of the late requests is visible, no transaction is left hanging, and the
// producer's next transaction commits whole.
func TestTxnV2LateWriteRefused(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const name, txnID = "txn-v2-late", "late-id"
	raw := newKgo(t, b.addr)
	topicID := makeTopic(t, ctx, raw, name, 3)
	cl := newKgo(t, b.addr, kgo.TransactionalID(txnID), kgo.DefaultProduceTopic(name),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))

	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("t1-0")}, &kgo.Record{Partition: 1, Value: []byte("t1-1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pid, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if _, next, err := cl.ProducerID(ctx); err != nil || next != epoch+1 {
		t.Fatalf("epoch after the commit: %d (%v), want %d: franz-go did not use transactions v2", next, err, epoch+1)
	}
	// EndTxn answers once the decision is written; the markers follow in the
	// background. A write arriving before partition 0's marker still belongs to
	// the open transaction of its epoch (as in Kafka); the late write of this test
	// is the one that arrives after it, so wait for the markers.
	waitFor(t, "the first transaction's markers", func() error {
		desc, err := kadm.NewClient(raw).DescribeTransactions(ctx, txnID)
		if err != nil {
			return err
		}
		if d := desc[txnID]; d.Err != nil || d.State != "CompleteCommit" {
			return fmt.Errorf("transaction %s (%v), want CompleteCommit", d.State, d.Err)
		}
		return nil
	})

	// The late write: the committed transaction's producer id and epoch, the next
	// sequence in partition 0 (one record was written there at sequence 0).
	late := func(seq int32) []byte {
		rb := record.NewBuilder(record.CodecNone).SetProducer(pid, epoch, seq).SetTransactional(true)
		rb.Add(time.Now().UnixMilli(), nil, []byte("late"))
		out, err := rb.Build(nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	id := txnID
	for _, p := range []int32{0, 2} {
		code, err := rawProduce(ctx, raw, &id, name, topicID, p, late(1))
		if err != nil {
			t.Fatal(err)
		}
		if err := kerr.ErrorForCode(code); err != kerr.InvalidProducerEpoch {
			t.Errorf("late write to partition %d (Produce v13): %v, want INVALID_PRODUCER_EPOCH", p, err)
		}
	}
	c := dial(t, b.addr)
	for _, p := range []int32{0, 2} {
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(11)
		req.TransactionID, req.Acks, req.TimeoutMillis = &id, -1, 10000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = name
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = p, late(1)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		code := c.do(t, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
		if err := kerr.ErrorForCode(code); err != kerr.InvalidProducerEpoch {
			t.Errorf("late write to partition %d (Produce v11): %v, want INVALID_PRODUCER_EPOCH", p, err)
		}
	}

	// The producer carries on at its new epoch.
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("t2-0")}, &kgo.Record{Partition: 2, Value: []byte("t2-2")}).FirstErr(); err != nil {
		t.Fatalf("the next transaction's writes: %v", err)
	}
	// The delayed EndTxn of the Jepsen report: the first transaction's end (an
	// abort, as a client retrying a timed-out commit sends) arrives while the next
	// one is open. Under v1 it would end that one; here its epoch is fenced.
	for _, v := range []int16{5, 4} {
		req := kmsg.NewPtrEndTxnRequest()
		req.SetVersion(v)
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = txnID, pid, epoch, false
		if err := kerr.ErrorForCode(c.do(t, req).(*kmsg.EndTxnResponse).ErrorCode); err != kerr.ProducerFenced {
			t.Errorf("a delayed EndTxn v%d of the committed transaction: %v, want PRODUCER_FENCED", v, err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	// readToEnd under read_committed would time out on a hanging transaction.
	committed := readToEnd(t, ctx, b.addr, name, 3, true)
	all := readToEnd(t, ctx, b.addr, name, 3, false)
	for p, want := range [][]string{{"t1-0", "t2-0"}, {"t1-1"}, {"t2-2"}} {
		if !slices.Equal(committed[int32(p)], want) {
			t.Errorf("read_committed partition %d: %v, want %v", p, committed[int32(p)], want)
		}
		if !slices.Equal(all[int32(p)], want) {
			t.Errorf("read_uncommitted partition %d: %v, want %v: no late record written", p, all[int32(p)], want)
		}
	}
}

// TestTxnVerificationOfV1Writes: part 1 of KIP-890 for producers of transactions v1.
// A transactional write (Produce v11, and v10) to a partition the producer did not
// add to its ongoing transaction is refused, TRANSACTION_ABORTABLE from v11 and
// INVALID_TXN_STATE before, rather than opening a transaction no marker would close;
// once the producer adds the partition the same write is accepted, and its commit
// closes it.
func TestTxnVerificationOfV1Writes(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const name, txnID = "txn-verify", "verify-id"
	raw := newKgo(t, b.addr)
	makeTopic(t, ctx, raw, name, 2)
	c := dial(t, b.addr)
	var pid int64
	var epoch int16
	waitFor(t, "InitProducerId", func() error {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.SetVersion(4)
		req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(txnID), 60000
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.SetVersion(3)
		fc.CoordinatorType, fc.CoordinatorKey = 1, txnID
		if err := kerr.ErrorForCode(c.do(t, fc).(*kmsg.FindCoordinatorResponse).ErrorCode); err != nil {
			return err
		}
		resp := c.do(t, req).(*kmsg.InitProducerIDResponse)
		pid, epoch = resp.ProducerID, resp.ProducerEpoch
		return kerr.ErrorForCode(resp.ErrorCode)
	})
	id := txnID
	write := func(version int16, partition, seq int32) error {
		rb := record.NewBuilder(record.CodecNone).SetProducer(pid, epoch, seq).SetTransactional(true)
		rb.Add(time.Now().UnixMilli(), nil, fmt.Appendf(nil, "v%d", version))
		batch, err := rb.Build(nil)
		if err != nil {
			t.Fatal(err)
		}
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(version)
		req.TransactionID, req.Acks, req.TimeoutMillis = &id, -1, 10000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = name
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = partition, batch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return kerr.ErrorForCode(c.do(t, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode)
	}
	if err := write(11, 0, 0); err != kerr.TransactionAbortable {
		t.Errorf("Produce v11 to a partition not in any transaction: %v, want TRANSACTION_ABORTABLE", err)
	}
	if err := addPartitionsRaw(ctx, t, raw, txnID, pid, epoch, name, 1); err != nil {
		t.Fatal(err)
	}
	if err := write(10, 0, 0); err != kerr.InvalidTxnState {
		t.Errorf("Produce v10 to a partition not added to the ongoing transaction: %v, want INVALID_TXN_STATE", err)
	}
	if err := write(11, 1, 0); err != nil {
		t.Errorf("Produce v11 to the added partition: %v", err)
	}
	if err := addPartitionsRaw(ctx, t, raw, txnID, pid, epoch, name, 0); err != nil {
		t.Fatal(err)
	}
	if err := write(9, 0, 0); err != nil {
		t.Errorf("Produce v9 once the partition is added: %v", err)
	}
	if err := endTxnRaw(ctx, raw, txnID, pid, epoch, true); err != nil {
		t.Fatal(err)
	}
	committed := readToEnd(t, ctx, b.addr, name, 2, true)
	if want := [][]string{{"v9"}, {"v11"}}; !slices.Equal(committed[0], want[0]) || !slices.Equal(committed[1], want[1]) {
		t.Errorf("read_committed: %v, want %v", committed, want)
	}
}
