package txn

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// outcome is what the producer knows of one transaction's end.
type outcome int

const (
	// aborted: the producer never asked for a commit (it aborted, or a step failed
	// first), so the transaction cannot have committed.
	aborted outcome = iota
	// committed: EndTxn(commit) succeeded.
	committed
	// unknown: EndTxn(commit) was sent and failed: either end is possible.
	unknown
)

func (o outcome) String() string { return [...]string{"aborted", "committed", "unknown"}[o] }

const (
	crashParts   = 3
	crashPerPart = 2 // records per partition per transaction
	crashGroup   = "crash-group"
)

// crashProducer writes transactions to crashParts partitions, each with crashPerPart
// records "t<n>-p<partition>-r<i>" per partition and an offset commit of n+1 for
// crashGroup, one after another, every fifth aborted on purpose, while the broker is
// killed under it. On any failure it drops its client and starts again with a new one
// (whose InitProducerId aborts what the old one left open).
type crashProducer struct {
	addr, topic, txnID string
	steps              atomic.Int64 // steps done: each produce, offset add and commit, end

	mu       sync.Mutex
	outcomes []outcome
	failures map[string]int // what failed, counted
}

func (p *crashProducer) failed(what string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures[fmt.Sprintf("%s: %v", what, err)]++
}

func (p *crashProducer) client() (*kgo.Client, error) {
	return kgo.NewClient(
		kgo.SeedBrokers(p.addr),
		kgo.TransactionalID(p.txnID),
		kgo.DefaultProduceTopic(p.topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(20*time.Second),
		kgo.RecordDeliveryTimeout(10*time.Second),
		kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }),
		kgo.DialTimeout(2*time.Second),
	)
}

// run writes transactions until ctx ends.
func (p *crashProducer) run(ctx context.Context) {
	var cl *kgo.Client
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
	reset := func() {
		if cl != nil {
			cl.Close()
			cl = nil
		}
	}
	for n := 0; ctx.Err() == nil; {
		if cl == nil {
			c, err := p.client()
			if err != nil {
				p.failed("client", err)
				return
			}
			cl = c
			ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, _, err = cl.ProducerID(ictx) // InitProducerId: fences and aborts the last client's
			cancel()
			if err != nil {
				p.failed("init", err)
				reset()
				continue
			}
		}
		if err := cl.BeginTransaction(); err != nil {
			p.failed("begin", err)
			reset()
			continue
		}
		p.mu.Lock()
		p.outcomes = append(p.outcomes, aborted)
		p.mu.Unlock()
		o, err := p.transaction(ctx, cl, n)
		p.mu.Lock()
		p.outcomes[n] = o
		p.mu.Unlock()
		n++
		if err != nil {
			reset()
		}
	}
}

// transaction writes transaction n and returns its outcome.
func (p *crashProducer) transaction(ctx context.Context, cl *kgo.Client, n int) (outcome, error) {
	step := func(what string, fn func(ctx context.Context) error) error {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := fn(sctx); err != nil {
			p.failed(what, err)
			return err
		}
		p.steps.Add(1)
		return nil
	}
	for part := range int32(crashParts) {
		err := step("produce", func(ctx context.Context) error {
			var recs []*kgo.Record
			for i := range crashPerPart {
				recs = append(recs, &kgo.Record{Partition: part, Value: fmt.Appendf(nil, "t%d-p%d-r%d", n, part, i)})
			}
			return cl.ProduceSync(ctx, recs...).FirstErr()
		})
		if err != nil {
			return aborted, err
		}
	}
	var pid int64
	var epoch int16
	err := step("add offsets", func(ctx context.Context) error {
		var err error
		if pid, epoch, err = cl.ProducerID(ctx); err != nil {
			return err
		}
		return addOffsets(ctx, cl, p.txnID, pid, epoch, crashGroup)
	})
	if err != nil {
		return aborted, err
	}
	err = step("commit offset", func(ctx context.Context) error {
		return txnCommitOffset(ctx, cl, p.txnID, pid, epoch, crashGroup, p.topic, 0, int64(n)+1)
	})
	if err != nil {
		return aborted, err
	}
	commit := n%5 != 4
	err = step("end", func(ctx context.Context) error { return cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)) })
	switch {
	case err == nil && commit:
		return committed, nil
	case err == nil || !commit:
		return aborted, err
	default:
		return unknown, err
	}
}

// TestCoordinatorCrashes: a franz-go transactional producer writes transactions across
// 3 partitions of a one-node broker, each with an offset commit, while the test kills
// the broker (which is the transaction coordinator, the group coordinator and every
// partition's leader) with SIGKILL at random points of the transactions, 30 times (300
// with SLUICE_LONG=1), restarting it each time. Afterwards a read_committed consumer
// sees each transaction whole or not at all: every one the producer saw commit, none
// of those it never asked to commit. The group's committed offset, sampled after every
// restart and at the end, only ever comes from a transaction that is visible.
func TestCoordinatorCrashes(t *testing.T) {
	kills := 30
	if os.Getenv("SLUICE_LONG") != "" {
		kills = 300
	}
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(kills)*4*time.Second+60*time.Second)
	defer cancel()
	const name = "crash"
	admin := newKgo(t, b.addr)
	makeTopic(t, ctx, admin, name, crashParts)

	p := &crashProducer{addr: b.addr, topic: name, txnID: "crash-id", failures: map[string]int{}}
	pctx, stopProducer := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.run(pctx)
	}()
	defer func() {
		stopProducer()
		<-done
	}()

	var samples []int64 // committed offsets seen between crashes
	start := time.Now()
	for i := range kills {
		// A random point of the transactions: after 1 to 6 more steps (a transaction
		// has 6), and up to 20 ms into the next; the jitter places the kill, it waits
		// for nothing.
		target := p.steps.Load() + 1 + rand.Int64N(6)
		waitFor(t, fmt.Sprintf("kill %d: producer progress to step %d", i+1, target), func() error {
			if got := p.steps.Load(); got < target {
				return fmt.Errorf("at step %d", got)
			}
			return nil
		})
		time.Sleep(rand.N(20 * time.Millisecond))
		b.kill9AndRestart()
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		if off, err := committedOffset(sctx, admin, crashGroup, name, 0, false); err == nil {
			samples = append(samples, off)
		}
		scancel()
	}
	killTime := time.Since(start)
	// Let the producer show it works after the last restart, then stop it.
	target := p.steps.Load() + 6
	waitFor(t, "producer progress after the last restart", func() error {
		if got := p.steps.Load(); got < target {
			return fmt.Errorf("at step %d", got)
		}
		return nil
	})
	stopProducer()
	<-done

	// A new incarnation of the producer aborts whatever the last one left open.
	last := newKgo(t, b.addr, kgo.TransactionalID(p.txnID))
	if _, _, err := last.ProducerID(ctx); err != nil {
		t.Fatalf("InitProducerId after the run: %v", err)
	}

	visible := map[int]map[string]bool{} // transaction -> its records read
	lastSeen := make([]int, crashParts)
	for part, values := range readToEnd(t, ctx, b.addr, name, crashParts, true) {
		lastSeen[part] = -1
		for _, v := range values {
			var n, vp, r int
			if _, err := fmt.Sscanf(v, "t%d-p%d-r%d", &n, &vp, &r); err != nil || vp != int(part) {
				t.Fatalf("partition %d: record %q", part, v)
			}
			if n < lastSeen[part] {
				t.Errorf("partition %d: transaction %d's record %q after transaction %d's", part, n, v, lastSeen[part])
			}
			lastSeen[part] = n
			if visible[n] == nil {
				visible[n] = map[string]bool{}
			}
			if visible[n][v] {
				t.Errorf("partition %d: record %q read twice", part, v)
			}
			visible[n][v] = true
		}
	}

	p.mu.Lock()
	outcomes := slices.Clone(p.outcomes)
	failures := p.failures
	p.mu.Unlock()
	counts := map[outcome]int{}
	maxVisible := -1
	for n, o := range outcomes {
		counts[o]++
		got := len(visible[n])
		switch {
		case got != 0 && got != crashParts*crashPerPart:
			t.Errorf("transaction %d (%s): %d of its %d records visible: %v", n, o, got, crashParts*crashPerPart, visible[n])
		case o == committed && got == 0:
			t.Errorf("transaction %d committed, but none of its records is visible", n)
		case o == aborted && got != 0:
			t.Errorf("transaction %d was never committed, but its records are visible", n)
		}
		if got > 0 {
			maxVisible = n
		}
	}
	for n := range visible {
		if n >= len(outcomes) {
			t.Errorf("transaction %d's records are visible, but the producer never began it", n)
		}
	}
	// Offsets: each sample, and the final stable one, is 1 + a visible transaction's
	// number (or none yet); at the end, the last visible one's.
	for _, off := range samples {
		if off != -1 && len(visible[int(off)-1]) == 0 {
			t.Errorf("committed offset %d was seen between crashes, but transaction %d is not visible", off, off-1)
		}
	}
	final, err := committedOffset(ctx, admin, crashGroup, name, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(maxVisible) + 1; final != want && !(maxVisible < 0 && final == -1) {
		t.Errorf("final committed offset %d, want %d (from transaction %d, the last visible)", final, want, maxVisible)
	}
	if counts[committed] == 0 || counts[aborted] == 0 {
		t.Errorf("outcomes %v: the run should have both committed and aborted transactions", counts)
	}
	t.Logf("%d kills in %v: %d transactions (%d committed, %d aborted, %d unknown), %d visible, %d offset samples; failures: %v",
		kills, killTime.Round(time.Millisecond), len(outcomes), counts[committed], counts[aborted], counts[unknown], len(visible), len(samples), failures)
}
