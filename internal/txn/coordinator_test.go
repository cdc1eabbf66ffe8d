package txn

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// memStorage is a Storage in memory: one record list per partition.
type memStorage struct {
	mu   sync.Mutex
	recs map[int32][][2][]byte
}

func (s *memStorage) Append(_ context.Context, p int32, key, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recs == nil {
		s.recs = map[int32][][2][]byte{}
	}
	s.recs[p] = append(s.recs[p], [2][]byte{key, value})
	return nil
}

func (s *memStorage) Load(_ context.Context, p int32, fn func(key, value []byte) error) error {
	s.mu.Lock()
	recs := append([][2][]byte(nil), s.recs[p]...)
	s.mu.Unlock()
	for _, r := range recs {
		if err := fn(r[0], r[1]); err != nil {
			return err
		}
	}
	return nil
}

type marker struct {
	pid    int64
	epoch  int16
	commit bool
	parts  int
}

// memMarkers records the markers asked for; fail makes the next calls fail.
type memMarkers struct {
	mu   sync.Mutex
	got  []marker
	tvs  []int16 // the transaction version of each of got
	fail int
	sent chan struct{}
}

func (m *memMarkers) Write(_ context.Context, pid int64, epoch int16, _ int32, tv int16, commit bool, parts []TopicPartition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail > 0 {
		m.fail--
		return kerr.NotLeaderForPartition
	}
	m.got = append(m.got, marker{pid, epoch, commit, len(parts)})
	m.tvs = append(m.tvs, tv)
	select {
	case m.sent <- struct{}{}:
	default:
	}
	return nil
}

func newTestCoordinator(t *testing.T, store *memStorage, markers *memMarkers) *Coordinator {
	t.Helper()
	next := int64(1000)
	var mu sync.Mutex
	c := New(Config{NumPartitions: 4, MaxTimeout: time.Minute, AbortCheckInterval: 20 * time.Millisecond}, store, markers,
		func(context.Context) (int64, error) { mu.Lock(); defer mu.Unlock(); next++; return next, nil },
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(c.Stop)
	c.Lead(map[int32]int32{0: 1, 1: 1, 2: 1, 3: 1})
	// Each partition loads on its own: wait for all four, not only the one of some id.
	waitFor(t, "the partitions to load", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for p := range int32(4) {
			if tp := c.parts[p]; tp == nil || tp.loading {
				return false
			}
		}
		return true
	})
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func state(t *testing.T, c *Coordinator, id string) kmsg.TransactionState {
	t.Helper()
	d, err := c.DescribeTxn(id)
	if err != nil {
		t.Fatal(err)
	}
	return d.State
}

func TestTransactionLifecycle(t *testing.T) {
	store, markers := &memStorage{}, &memMarkers{sent: make(chan struct{}, 8)}
	c := newTestCoordinator(t, store, markers)
	ctx := context.Background()

	if _, _, err := c.InitProducerID(ctx, "t", int32(2*time.Minute/time.Millisecond)); !errors.Is(err, kerr.InvalidTransactionTimeout) {
		t.Fatalf("a timeout above the maximum: %v", err)
	}
	pid, epoch, err := c.InitProducerID(ctx, "t", 60000)
	if err != nil || epoch != 0 {
		t.Fatalf("first init: %d %d %v", pid, epoch, err)
	}
	pid2, epoch2, err := c.InitProducerID(ctx, "t", 60000)
	if err != nil || pid2 != pid || epoch2 != 1 {
		t.Fatalf("second init: %d %d %v, want the same id at epoch 1", pid2, epoch2, err)
	}
	// The first incarnation is fenced.
	if err := c.AddPartitions(ctx, "t", pid, 0, []TopicPartition{{"a", 0}}); !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("AddPartitions with the old epoch: %v, want PRODUCER_FENCED", err)
	}
	if err := c.AddPartitions(ctx, "t", pid, 1, []TopicPartition{{"a", 0}, {"b", 1}}); err != nil {
		t.Fatal(err)
	}
	if s := state(t, c, "t"); s != kmsg.TransactionStateOngoing {
		t.Fatalf("state %v after AddPartitions", s)
	}
	if err := c.EndTxn(ctx, "t", pid, 1, true); err != nil {
		t.Fatal(err)
	}
	<-markers.sent
	waitFor(t, "the commit to complete", func() bool { return state(t, c, "t") == kmsg.TransactionStateCompleteCommit })
	if got := markers.got[0]; got != (marker{pid, 1, true, 2}) {
		t.Fatalf("markers %+v", got)
	}
	if err := c.EndTxn(ctx, "t", pid, 1, true); err != nil {
		t.Fatalf("a retried commit: %v", err)
	}
	if err := c.EndTxn(ctx, "t", pid, 1, false); !errors.Is(err, kerr.InvalidTxnState) {
		t.Fatalf("abort after commit: %v, want INVALID_TXN_STATE", err)
	}

	// A new incarnation while a transaction is open aborts it with a new epoch.
	if err := c.AddPartitions(ctx, "t", pid, 1, []TopicPartition{{"a", 0}}); err != nil {
		t.Fatal(err)
	}
	markers.mu.Lock()
	markers.fail = 2 // the first marker writes fail: the coordinator retries
	markers.mu.Unlock()
	if _, _, err := c.InitProducerID(ctx, "t", 60000); !errors.Is(err, kerr.ConcurrentTransactions) {
		t.Fatalf("init with a transaction open: %v, want CONCURRENT_TRANSACTIONS", err)
	}
	<-markers.sent
	waitFor(t, "the fencing abort to complete", func() bool { return state(t, c, "t") == kmsg.TransactionStateCompleteAbort })
	if got := markers.got[1]; got != (marker{pid, 2, false, 1}) {
		t.Fatalf("fencing markers %+v, want an abort at epoch 2", got)
	}
	_, epoch3, err := c.InitProducerID(ctx, "t", 60000)
	if err != nil || epoch3 != 3 {
		t.Fatalf("init after the abort: epoch %d %v, want 3", epoch3, err)
	}

	// A reload (failover) finds the state, and completes a prepared decision.
	if err := c.AddPartitions(ctx, "t", pid, 3, []TopicPartition{{"c", 0}}); err != nil {
		t.Fatal(err)
	}
	c2 := newTestCoordinator(t, store, markers)
	if d, err := c2.DescribeTxn("t"); err != nil || d.State != kmsg.TransactionStateOngoing || d.Epoch != 3 || len(d.Partitions) != 1 {
		t.Fatalf("after reload: %+v %v", d, err)
	}
}

func TestTransactionTimeout(t *testing.T) {
	store, markers := &memStorage{}, &memMarkers{sent: make(chan struct{}, 8)}
	c := newTestCoordinator(t, store, markers)
	c.Start()
	ctx := context.Background()
	pid, _, err := c.InitProducerID(ctx, "slow", 50)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddPartitions(ctx, "slow", pid, 0, []TopicPartition{{"a", 0}}); err != nil {
		t.Fatal(err)
	}
	<-markers.sent
	waitFor(t, "the expired transaction to be aborted", func() bool { return state(t, c, "slow") == kmsg.TransactionStateCompleteAbort })
	if got := markers.got[0]; got.commit || got.epoch != 1 {
		t.Fatalf("markers %+v, want an abort with the producer fenced (epoch 1)", got)
	}
	if err := c.EndTxn(ctx, "slow", pid, 0, true); !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("commit by the timed-out producer: %v, want PRODUCER_FENCED", err)
	}
}

func TestNotCoordinator(t *testing.T) {
	c := New(Config{NumPartitions: 4}, &memStorage{}, &memMarkers{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, _, err := c.InitProducerID(context.Background(), "t", 1000); !errors.Is(err, kerr.NotCoordinator) {
		t.Fatalf("init on a broker leading nothing: %v, want NOT_COORDINATOR", err)
	}
}

// A producer that presents its id and epoch to InitProducerId (KIP-360) keeps its
// transactional id only while it is the current producer: a zombie replaced by a newer
// incarnation is fenced instead of fencing it back, a retry of a request the
// coordinator acted on is recognised, and one with a transaction open gets it aborted
// and then its new epoch.
func TestInitProducerIDPresentingItsEpoch(t *testing.T) {
	store, markers := &memStorage{}, &memMarkers{sent: make(chan struct{}, 8)}
	c := newTestCoordinator(t, store, markers)
	ctx := context.Background()

	pid, zombie, err := c.InitProducerID(ctx, "t", 60000)
	if err != nil {
		t.Fatal(err)
	}
	_, current, err := c.InitProducerID(ctx, "t", 60000) // a new incarnation
	if err != nil || current != zombie+1 {
		t.Fatalf("second init: epoch %d %v", current, err)
	}
	if _, _, err := c.InitProducerIDExpecting(ctx, "t", 60000, pid, zombie); !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("the replaced incarnation re-initialising: %v, want PRODUCER_FENCED", err)
	}
	if _, _, err := c.InitProducerIDExpecting(ctx, "t", 60000, pid+1, current); !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("another producer id: %v, want PRODUCER_FENCED", err)
	}
	got, bumped, err := c.InitProducerIDExpecting(ctx, "t", 60000, pid, current)
	if err != nil || got != pid || bumped != current+1 {
		t.Fatalf("the current producer re-initialising: %d %d %v, want %d at epoch %d", got, bumped, err, pid, current+1)
	}
	// The response was lost: the retry presents the epoch before the bump.
	_, retried, err := c.InitProducerIDExpecting(ctx, "t", 60000, pid, current)
	if err != nil || retried <= bumped {
		t.Fatalf("a retried re-init: epoch %d %v, want above %d", retried, err, bumped)
	}
	// A plain init (a new incarnation) ends what a retry may match.
	_, plain, err := c.InitProducerID(ctx, "t", 60000)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.InitProducerIDExpecting(ctx, "t", 60000, pid, current); !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("a stale retry after a new incarnation: %v, want PRODUCER_FENCED", err)
	}

	// With a transaction open: it is aborted, and the retry gets a new epoch.
	if err := c.AddPartitions(ctx, "t", pid, plain, []TopicPartition{{"a", 0}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.InitProducerIDExpecting(ctx, "t", 60000, pid, plain); !errors.Is(err, kerr.ConcurrentTransactions) {
		t.Fatalf("re-init with a transaction open: %v, want CONCURRENT_TRANSACTIONS", err)
	}
	<-markers.sent
	waitFor(t, "the abort to complete", func() bool { return state(t, c, "t") == kmsg.TransactionStateCompleteAbort })
	_, after, err := c.InitProducerIDExpecting(ctx, "t", 60000, pid, plain)
	if err != nil || after <= plain+1 {
		t.Fatalf("re-init after the abort: epoch %d %v, want above %d", after, err, plain+1)
	}
	if err := c.AddPartitions(ctx, "t", pid, plain, []TopicPartition{{"a", 0}}); !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("the old epoch after the re-init: %v, want PRODUCER_FENCED", err)
	}
}
