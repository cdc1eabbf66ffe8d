package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/record"
)

// txnRun runs `sluice ARGS -b addr` and returns stdout, stderr and the error.
func txnRun(t *testing.T, addr string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRoot(&app{stdout: &stdout, stderr: &stderr})
	root.SetArgs(append(args, "-b", addr, "--timeout", "20s"))
	err := root.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), err
}

func txnMustRun(t *testing.T, addr string, args ...string) string {
	t.Helper()
	out, errOut, err := txnRun(t, addr, args...)
	if err != nil {
		t.Fatalf("sluice %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func txnJSON[T any](t *testing.T, addr string, args ...string) T {
	t.Helper()
	var v T
	out := txnMustRun(t, addr, append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("sluice %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

// hangingProducer writes a transactional batch of a producer id no coordinator knows
// (an idempotent producer's, from InitProducerId without a transactional id), as a
// producer whose coordinator lost its state would leave one, and returns the producer
// id and the batch's offset.
func hangingProducer(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, topicID [16]byte, partition int32) (int64, int64) {
	t.Helper()
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionTimeoutMillis = 60000
	ir, err := init.RequestWith(ctx, cl)
	if err != nil || ir.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v %v", err, kerr.ErrorForCode(ir.ErrorCode))
	}
	b := record.NewBuilder(record.CodecNone).SetProducer(ir.ProducerID, ir.ProducerEpoch, 0).SetTransactional(true)
	b.Add(time.Now().Add(-time.Hour).UnixMilli(), []byte("k"), []byte("hanging"))
	batch, err := b.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, topicID // by name or by id (v13), as kgo picks the version
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("produce the hanging batch: %v", err)
	}
	return ir.ProducerID, p.BaseOffset
}

// TestTransactionsCommands: on a real broker, a committed transaction, an open one and
// a hanging one (a transactional batch no coordinator knows of) are listed, described,
// found and aborted as a user of kafka-transactions.sh would expect.
func TestTransactionsCommands(t *testing.T) {
	addr := grpStartBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "orders"
	admCl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	created, err := adm.CreateTopic(ctx, 2, 1, nil, topic)
	if err != nil {
		t.Fatal(err)
	}

	txnClient := func(id string) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic),
			kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	write := func(cl *kgo.Client, partition int32, commit *bool) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: partition, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if commit != nil {
			if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(*commit)); err != nil {
				t.Fatal(err)
			}
		}
	}
	commit := true
	write(txnClient("tx-done"), 1, &commit)
	write(txnClient("tx-open"), 0, nil)
	hangingPID, hangingOffset := hangingProducer(t, ctx, admCl, topic, created.ID, 0)

	// list: both ids, with states; filters.
	listed := txnJSON[[]listedTxn](t, addr, "transactions", "list")
	states := map[string]string{}
	pids := map[string]int64{}
	for _, l := range listed {
		states[l.TransactionalID], pids[l.TransactionalID] = l.State, l.ProducerID
		if l.Coordinator != 1 {
			t.Errorf("%s: coordinator %d, want 1", l.TransactionalID, l.Coordinator)
		}
	}
	if states["tx-done"] != "CompleteCommit" || states["tx-open"] != "Ongoing" || len(listed) != 2 {
		t.Fatalf("list: %+v, want tx-done CompleteCommit and tx-open Ongoing", listed)
	}
	if got := txnJSON[[]listedTxn](t, addr, "transactions", "list", "--state", "Ongoing"); len(got) != 1 || got[0].TransactionalID != "tx-open" {
		t.Errorf("list --state Ongoing: %+v, want tx-open alone", got)
	}
	if got := txnJSON[[]listedTxn](t, addr, "transactions", "list", "--producer-id", fmt.Sprint(pids["tx-done"])); len(got) != 1 || got[0].TransactionalID != "tx-done" {
		t.Errorf("list --producer-id %d: %+v, want tx-done alone", pids["tx-done"], got)
	}
	text := txnMustRun(t, addr, "transactions", "list")
	if row := grpRow(text, "tx-open"); len(row) != 4 || row[1] != "1" || row[2] != fmt.Sprint(pids["tx-open"]) || row[3] != "Ongoing" {
		t.Errorf("list text: row %v\n%s", row, text)
	}
	if _, _, err := txnRun(t, addr, "transactions", "list", "--state", "Running"); err == nil || !strings.Contains(err.Error(), "Ongoing") {
		t.Errorf("an unknown --state: %v, want an error naming the states", err)
	}

	// describe: the open transaction with its partition.
	d := txnJSON[describedTxn](t, addr, "transactions", "describe", "--transactional-id", "tx-open")
	if d.State != "Ongoing" || d.ProducerID != pids["tx-open"] || d.Coordinator != 1 || d.StartTimeMs == nil ||
		len(d.Partitions) != 1 || d.Partitions[0] != topic+"-0" || d.TimeoutMs <= 0 {
		t.Errorf("describe tx-open: %+v", d)
	}
	done := txnJSON[describedTxn](t, addr, "transactions", "describe", "--transactional-id", "tx-done")
	if done.State != "CompleteCommit" || len(done.Partitions) != 0 || done.StartTimeMs != nil {
		t.Errorf("describe tx-done: %+v, want CompleteCommit with no open transaction", done)
	}
	text = txnMustRun(t, addr, "transactions", "describe", "--transactional-id", "tx-open")
	if row := grpRow(text, "1", "tx-open"); len(row) != 9 || row[4] != "Ongoing" || row[8] != topic+"-0" {
		t.Errorf("describe text: row %v\n%s", row, text)
	}
	if _, _, err := txnRun(t, addr, "transactions", "describe", "--transactional-id", "nobody"); err == nil ||
		!strings.Contains(err.Error(), "TRANSACTIONAL_ID_NOT_FOUND") {
		t.Errorf("describe an unknown id: %v, want TRANSACTIONAL_ID_NOT_FOUND", err)
	}

	// producers describe: partition 0 has tx-open's and the hanging producer's open
	// transactions; partition 1 tx-done's committed one.
	ps := txnJSON[[]producerState](t, addr, "producers", "describe", topic)
	byPID := map[int64]producerState{}
	for _, p := range ps {
		byPID[p.ProducerID] = p
	}
	if p := byPID[hangingPID]; p.Partition != 0 || p.TxnStartOffset == nil || *p.TxnStartOffset != hangingOffset || p.CoordinatorEpoch != -1 {
		t.Errorf("the hanging producer: %+v, want partition 0, open at %d, no coordinator epoch", p, hangingOffset)
	}
	if p := byPID[pids["tx-open"]]; p.Partition != 0 || p.TxnStartOffset == nil || *p.TxnStartOffset != 0 || p.LastSequence != 0 {
		t.Errorf("tx-open's producer: %+v, want partition 0 open at 0, last sequence 0", p)
	}
	if p := byPID[pids["tx-done"]]; p.Partition != 1 || p.TxnStartOffset != nil || p.CoordinatorEpoch < 0 {
		t.Errorf("tx-done's producer: %+v, want partition 1, nothing open, a coordinator epoch from its marker", p)
	}
	if len(ps) != 3 {
		t.Errorf("producers: %+v, want 3", ps)
	}
	if got := txnJSON[[]producerState](t, addr, "producers", "describe", topic, "--partition", "1"); len(got) != 1 || got[0].ProducerID != pids["tx-done"] {
		t.Errorf("producers describe --partition 1: %+v, want tx-done's alone", got)
	}
	text = txnMustRun(t, addr, "producers", "describe", topic)
	if row := grpRow(text, topic, "1", fmt.Sprint(pids["tx-done"])); len(row) != 8 || row[7] != "-" {
		t.Errorf("producers text: row %v\n%s", row, text)
	}
	if _, _, err := txnRun(t, addr, "producers", "describe", "no-such-topic"); err == nil || !strings.Contains(err.Error(), "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Errorf("producers of an unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}

	// find-hanging: the unknown producer's transaction alone; tx-open's is being
	// carried out by its coordinator, with the partition.
	for _, args := range [][]string{{"--broker-id", "1"}, {"--topic", topic}, {"--topic", topic, "--partition", "0"}} {
		hs := txnJSON[[]hangingTxn](t, addr, append([]string{"transactions", "find-hanging", "--max-transaction-timeout", "0"}, args...)...)
		if len(hs) != 1 || hs[0].ProducerID != hangingPID || hs[0].StartOffset != hangingOffset || hs[0].Topic != topic || hs[0].Partition != 0 ||
			hs[0].TransactionalID != "" || hs[0].DurationMs < time.Hour.Milliseconds() {
			t.Errorf("find-hanging %v: %+v, want producer %d's transaction at %s-0 offset %d, an hour old", args, hs, hangingPID, topic, hangingOffset)
		}
	}
	if hs := txnJSON[[]hangingTxn](t, addr, "transactions", "find-hanging", "--broker-id", "1", "--max-transaction-timeout", "120"); len(hs) != 0 {
		t.Errorf("find-hanging with a 2-hour timeout: %+v, want none (the hanging one is an hour old)", hs)
	}
	text = txnMustRun(t, addr, "transactions", "find-hanging", "--broker-id", "1", "--max-transaction-timeout", "0")
	if row := grpRow(text, topic, "0", fmt.Sprint(hangingPID)); len(row) < 10 || row[5] != fmt.Sprint(hangingOffset) {
		t.Errorf("find-hanging text: row %v\n%s", row, text)
	}

	// abort: a wrong start offset is refused; the right one closes the transaction.
	if _, _, err := txnRun(t, addr, "transactions", "abort", "--topic", topic, "--partition", "0", "--start-offset", "999"); err == nil ||
		!strings.Contains(err.Error(), "no open transaction starts at offset 999") {
		t.Errorf("abort at a wrong offset: %v", err)
	}
	ab := txnJSON[abortedTxn](t, addr, "transactions", "abort", "--topic", topic, "--partition", "0", "--start-offset", fmt.Sprint(hangingOffset))
	if ab.ProducerID != hangingPID || ab.CoordinatorEpoch != 0 || ab.StartOffset == nil || *ab.StartOffset != hangingOffset {
		t.Errorf("abort: %+v", ab)
	}
	if hs := txnJSON[[]hangingTxn](t, addr, "transactions", "find-hanging", "--broker-id", "1", "--max-transaction-timeout", "0"); len(hs) != 0 {
		t.Errorf("find-hanging after the abort: %+v, want none", hs)
	}
	if out := txnMustRun(t, addr, "transactions", "find-hanging", "--topic", topic, "--max-transaction-timeout", "0"); !strings.Contains(out, "No hanging transactions found.") {
		t.Errorf("find-hanging text with none: %q", out)
	}
	ps = txnJSON[[]producerState](t, addr, "producers", "describe", topic, "--partition", "0")
	for _, p := range ps {
		if p.ProducerID == hangingPID && p.TxnStartOffset != nil {
			t.Errorf("the aborted producer still has a transaction open at %d", *p.TxnStartOffset)
		}
	}
	// The open transaction of tx-open still holds the last stable offset back; the
	// hanging one no longer does.
	lso, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := lso.Lookup(topic, 0); o.Offset != 0 {
		t.Errorf("last stable offset of %s-0: %d, want 0 (tx-open's transaction)", topic, o.Offset)
	}
	// Aborting the same again: nothing open at that offset.
	if _, _, err := txnRun(t, addr, "transactions", "abort", "--topic", topic, "--partition", "0", "--start-offset", fmt.Sprint(hangingOffset)); err == nil {
		t.Errorf("a second abort at the same offset succeeded")
	}
}

func TestTransactionsFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"transactions", "describe"},
		{"transactions", "find-hanging"},
		{"transactions", "find-hanging", "--broker-id", "1", "--topic", "t"},
		{"transactions", "find-hanging", "--broker-id", "1", "--partition", "0"},
		{"transactions", "find-hanging", "--broker-id", "1", "--max-transaction-timeout", "-1"},
		{"transactions", "abort", "--topic", "t", "--partition", "0"},
		{"transactions", "abort", "--topic", "t", "--start-offset", "5"},
		{"transactions", "abort", "--topic", "t", "--partition", "0", "--start-offset", "5", "--producer-id", "1"},
		{"transactions", "abort", "--topic", "t", "--partition", "0", "--producer-id", "1", "--producer-epoch", "0"},
		{"producers", "describe"},
	} {
		// An address nothing listens on: the flags must be refused before any dial.
		_, _, err := txnRun(t, "127.0.0.1:1", args...)
		if err == nil || strings.Contains(err.Error(), "cannot reach") {
			t.Errorf("sluice %s: %v, want a usage error", strings.Join(args, " "), err)
		}
	}
}

// TestJudgeHanging: each way an open transaction can be orphaned, and the one way it
// is not (its coordinator is carrying it out, with the partition).
func TestJudgeHanging(t *testing.T) {
	now := time.UnixMilli(10_000_000)
	start := int64(40)
	cand := func(pid int64) producerState {
		return producerState{Topic: "t", Partition: 2, ProducerID: pid, ProducerEpoch: 3, LastTimestamp: 1_000, TxnStartOffset: &start}
	}
	var withPart, without kadm.TopicsSet
	withPart.Add("t", 1, 2)
	without.Add("t", 1)
	described := map[string]kadm.DescribedTransaction{
		"ongoing":  {TxnID: "ongoing", ProducerID: 2, State: "Ongoing", Topics: withPart},
		"empty":    {TxnID: "empty", ProducerID: 3, State: "Empty"},
		"moved":    {TxnID: "moved", ProducerID: 99, State: "Ongoing", Topics: withPart},
		"elsewise": {TxnID: "elsewise", ProducerID: 5, State: "Ongoing", Topics: without},
		"failed":   {TxnID: "failed", ProducerID: 6, Err: kerr.CoordinatorLoadInProgress},
		"aborting": {TxnID: "aborting", ProducerID: 7, State: "PrepareAbort", Topics: withPart},
	}
	ids := map[int64]string{2: "ongoing", 3: "empty", 4: "moved", 5: "elsewise", 6: "failed", 7: "aborting"}
	var cands []producerState
	for pid := int64(1); pid <= 7; pid++ {
		cands = append(cands, cand(pid))
	}
	got := judgeHanging(cands, ids, described, now)
	want := map[int64]string{
		1: "no coordinator knows",
		3: "transaction is Empty",
		4: "now uses producer id 99",
		5: "does not include the partition",
		6: "could not be described",
	}
	if len(got) != len(want) {
		t.Fatalf("hanging: %+v, want producers 1, 3, 4, 5, 6", got)
	}
	for _, h := range got {
		w, ok := want[h.ProducerID]
		if !ok || !strings.Contains(h.Reason, w) {
			t.Errorf("producer %d: reason %q, want one with %q", h.ProducerID, h.Reason, w)
		}
		if h.StartOffset != 40 || h.DurationMs != now.UnixMilli()-1_000 || h.Topic != "t" || h.Partition != 2 {
			t.Errorf("producer %d: %+v", h.ProducerID, h)
		}
	}

	// Candidates: open and older than the timeout only.
	young := cand(8)
	young.LastTimestamp = now.UnixMilli() - 1000
	closed := cand(9)
	closed.TxnStartOffset = nil
	c := hangingCandidates([]producerState{cand(1), young, closed}, now, 10*time.Second)
	if len(c) != 1 || c[0].ProducerID != 1 {
		t.Errorf("candidates %+v, want producer 1 alone", c)
	}
}
