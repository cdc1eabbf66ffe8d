package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/group"
)

// Topic is the internal topic the coordinator keeps its state in, as Kafka names it.
const Topic = "__transaction_state"

// Config is the coordinator's settings, with Kafka's names.
type Config struct {
	// NumPartitions is transaction.state.log.num.partitions.
	NumPartitions int32
	// MaxTimeout is transaction.max.timeout.ms: longer transaction timeouts are
	// refused with INVALID_TRANSACTION_TIMEOUT.
	MaxTimeout time.Duration
	// AbortCheckInterval is
	// transaction.abort.timed.out.transaction.cleanup.interval.ms.
	AbortCheckInterval time.Duration
	// IDExpiration is transactional.id.expiration.ms: an idle transactional id is
	// forgotten after it.
	IDExpiration time.Duration
}

// TopicPartition names a partition in a transaction.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Storage is the coordinator's log: the partitions of __transaction_state this broker
// leads.
type Storage interface {
	// Append writes one record to partition p as its leader and returns once it is
	// committed (in every in-sync replica).
	Append(ctx context.Context, p int32, key, value []byte) error
	// Load calls fn with every record of partition p in offset order.
	Load(ctx context.Context, p int32, fn func(key, value []byte) error) error
}

// Markers writes a transaction's markers to the leaders of its partitions: Write
// returns once every partition has its commit or abort marker, retrying as leaders move,
// or with ctx's error. tv is the transaction's client version: 2 when the markers'
// epoch is above the epoch of the transaction's data (transactions v2), which lets a
// partition refuse a marker delivered late, after the next transaction wrote there.
type Markers interface {
	Write(ctx context.Context, pid int64, epoch int16, coordinatorEpoch int32, tv int16, commit bool, parts []TopicPartition) error
}

// Coordinator is Kafka's transaction coordinator: it gives transactional producers their
// id and epoch, fencing older incarnations; records the partitions each transaction
// writes to; and on EndTxn writes the decision to its log (PrepareCommit or
// PrepareAbort), has every partition's leader write the marker, and then records the
// transaction complete. Its state lives in __transaction_state (kmsg's TxnMetadataKey
// and TxnMetadataValue), one partition per transactional id (Java's String hash, as
// Kafka), and is loaded when this broker takes a partition's leadership.
//
// Both of Kafka's transaction protocols are served, per transaction. In v1 the producer
// adds each partition with AddPartitionsToTxn and keeps its epoch from one transaction
// to the next. In v2 (KIP-890, transaction.version 2) the partition leaders add
// partitions on the producer's behalf at its first transactional write (AddImplicit),
// and every EndTxn v5 moves the producer to the next epoch (a new producer id once the
// epochs run out): the markers carry that epoch, so a write of the ended transaction
// that arrives late is refused by the partition's epoch check.
type Coordinator struct {
	cfg     Config
	store   Storage
	markers Markers
	nextPID func(context.Context) (int64, error)
	log     *slog.Logger
	now     func() time.Time

	mu    sync.Mutex
	parts map[int32]*txnPartition // the partitions this broker leads

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// completed is closed (and replaced) each time a transaction's completion is
	// stored, waking the partition leaders that wait out CONCURRENT_TRANSACTIONS
	// (LeaderAdd) at once instead of at their next retry.
	completedMu sync.Mutex
	completed   chan struct{}
}

// completions returns a channel closed at the next stored completion.
func (c *Coordinator) completions() <-chan struct{} {
	c.completedMu.Lock()
	defer c.completedMu.Unlock()
	if c.completed == nil {
		c.completed = make(chan struct{})
	}
	return c.completed
}

// signalCompletion wakes the waiters of completions.
func (c *Coordinator) signalCompletion() {
	c.completedMu.Lock()
	defer c.completedMu.Unlock()
	if c.completed != nil {
		close(c.completed)
		c.completed = nil
	}
}

type txnPartition struct {
	epoch   int32 // the coordinator epoch: the partition's leader epoch
	loading bool
	txns    map[string]*txnMeta
}

// txnMeta is one transactional id's state. mu serialises the operations on it, which
// each end by writing the new state to the log.
type txnMeta struct {
	mu sync.Mutex
	id string
	txnFields
	// completing is set while markers are written for a prepared decision.
	completing bool
}

// txnFields are the parts of a transactional id's state that its records in
// __transaction_state hold.
type txnFields struct {
	pid        int64
	epoch      int16
	timeoutMs  int32
	state      kmsg.TransactionState
	partitions map[TopicPartition]bool
	startMs    int64
	updateMs   int64

	// tv is the client transaction version of the last EndTxn (2 for EndTxn v5+,
	// else 0), persisted as ClientTransactionVersion: under 2 a retried EndTxn
	// carries the epoch before the bump.
	tv int16
	// lastEpoch is the epoch a v2 EndTxn ended its transaction with (the epoch
	// before the bump), so that its retry is recognised; -1 when the last end
	// was not a client's (a fencing abort, a timeout), which no retry matches.
	lastEpoch int16
	// prevPID is the producer id before a v2 EndTxn moved the producer to a new
	// one (its epochs exhausted), for a retry of that EndTxn; else -1.
	prevPID int64
	// nextPID is, while such an EndTxn's markers are written, the producer id
	// the producer continues with (at epoch 0); else -1.
	nextPID int64
	// initEpoch is the epoch a KIP-360 InitProducerId presented (its producer
	// id is pid) when the coordinator last bumped or fenced on its request, so
	// that the producer's retry is recognised; -1 after any other change. Kept
	// in memory only, as Kafka keeps its lastProducerEpoch: after a reload a
	// retry is fenced, which the producer survives by starting over.
	initEpoch int16
}

// New returns a coordinator; nextPID hands out producer ids.
func New(cfg Config, store Storage, markers Markers, nextPID func(context.Context) (int64, error), logger *slog.Logger) *Coordinator {
	if cfg.NumPartitions <= 0 {
		cfg.NumPartitions = 50
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = 15 * time.Minute
	}
	if cfg.AbortCheckInterval <= 0 {
		cfg.AbortCheckInterval = 10 * time.Second
	}
	c := &Coordinator{cfg: cfg, store: store, markers: markers, nextPID: nextPID, log: logger,
		now: time.Now, parts: map[int32]*txnPartition{}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// Start runs the timeout checks.
func (c *Coordinator) Start() {
	c.wg.Add(1)
	go c.expireLoop()
}

// Stop ends the background work.
func (c *Coordinator) Stop() {
	c.cancel()
	c.wg.Wait()
	if cl, ok := c.markers.(interface{ Close() }); ok {
		cl.Close()
	}
}

// PartitionFor is the partition of __transaction_state that holds id.
func (c *Coordinator) PartitionFor(id string) int32 {
	return group.PartitionFor(id, c.cfg.NumPartitions)
}

// Lead makes the coordinator serve exactly the partitions in led (partition → leader
// epoch), loading those it did not lead, with that epoch as the coordinator epoch.
func (c *Coordinator) Lead(led map[int32]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, tp := range c.parts {
		if e, ok := led[p]; !ok || e != tp.epoch {
			delete(c.parts, p)
		}
	}
	for p, epoch := range led {
		if _, ok := c.parts[p]; ok {
			continue
		}
		tp := &txnPartition{epoch: epoch, loading: true, txns: map[string]*txnMeta{}}
		c.parts[p] = tp
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.load(p, tp)
		}()
	}
}

func (c *Coordinator) load(p int32, tp *txnPartition) {
	txns := map[string]*txnMeta{}
	err := c.store.Load(c.ctx, p, func(key, value []byte) error {
		var k kmsg.TxnMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return nil // another record type: not ours
		}
		if value == nil {
			delete(txns, k.TransactionalID)
			return nil
		}
		var v kmsg.TxnMetadataValue
		if err := v.ReadFrom(value); err != nil {
			return fmt.Errorf("transaction %q: %w", k.TransactionalID, err)
		}
		m := &txnMeta{id: k.TransactionalID, txnFields: txnFields{pid: v.ProducerID, epoch: v.ProducerEpoch, timeoutMs: v.TimeoutMillis,
			state: v.State, startMs: v.StartTimestamp, updateMs: v.LastUpdateTimestamp, partitions: map[TopicPartition]bool{},
			tv: v.ClientTransactionVersion, lastEpoch: -1, prevPID: v.PreviousProducerID, nextPID: v.NextProducerID, initEpoch: -1}}
		if v.Version < 1 {
			m.tv, m.prevPID, m.nextPID = 0, -1, -1
		}
		if m.tv >= 2 && m.state != kmsg.TransactionStateEmpty && m.state != kmsg.TransactionStateOngoing {
			// A decided v2 transaction: its EndTxn may be retried with the epoch
			// before the bump (as Kafka, which checks epoch+1, the bump is not
			// told apart from a fencing one after a reload).
			m.lastEpoch = m.epoch - 1
			if m.nextPID < 0 && m.prevPID >= 0 && m.epoch == 0 {
				m.lastEpoch = math.MaxInt16 - 1
			}
		}
		for _, t := range v.Topics {
			for _, pp := range t.Partitions {
				m.partitions[TopicPartition{t.Topic, pp}] = true
			}
		}
		txns[k.TransactionalID] = m
		return nil
	})
	c.mu.Lock()
	if c.parts[p] != tp {
		c.mu.Unlock()
		return // lost the partition meanwhile
	}
	if err != nil {
		c.log.Warn("loading transaction state failed; the partition stays unavailable", "partition", p, "err", err)
		delete(c.parts, p)
		c.mu.Unlock()
		return
	}
	// Decisions written before a failover still need their markers.
	var prepared []*txnMeta
	for _, m := range txns {
		if m.state == kmsg.TransactionStatePrepareCommit || m.state == kmsg.TransactionStatePrepareAbort {
			m.completing = true
			prepared = append(prepared, m)
		}
	}
	tp.txns, tp.loading = txns, false
	n := len(txns)
	c.mu.Unlock()
	c.log.Info("loaded transaction state", "partition", p, "transactions", n, "coordinator_epoch", tp.epoch)
	for _, m := range prepared {
		c.complete(p, tp.epoch, m)
	}
}

// meta returns id's state (nil if unknown) and its partition's coordinator epoch, or
// NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS.
func (c *Coordinator) meta(id string) (p int32, epoch int32, tp *txnPartition, m *txnMeta, err error) {
	p = c.PartitionFor(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	tp = c.parts[p]
	switch {
	case tp == nil:
		return p, 0, nil, nil, kerr.NotCoordinator
	case tp.loading:
		return p, 0, nil, nil, kerr.CoordinatorLoadInProgress
	}
	return p, tp.epoch, tp, tp.txns[id], nil
}

// stillLeads reports whether tp is still this broker's partition p.
func (c *Coordinator) stillLeads(p int32, tp *txnPartition) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parts[p] == tp
}

// persist writes m's state (as next would make it) to the log.
func (c *Coordinator) persist(ctx context.Context, p int32, m *txnMeta) error {
	m.initEpoch = -1 // any change ends what a retried InitProducerId may match
	key := (&kmsg.TxnMetadataKey{Version: 0, TransactionalID: m.id}).AppendTo(nil)
	v := kmsg.NewTxnMetadataValue()
	v.Version = 0
	if m.tv >= 2 || m.prevPID >= 0 || m.nextPID >= 0 {
		// Kafka's flexible version, with the producer ids of an epoch
		// rollover and the client's transaction version as tagged fields, so
		// that a reload knows the transaction's protocol.
		v.Version = 1
		v.ClientTransactionVersion, v.PreviousProducerID, v.NextProducerID = m.tv, m.prevPID, m.nextPID
	}
	v.ProducerID, v.ProducerEpoch, v.TimeoutMillis = m.pid, m.epoch, m.timeoutMs
	v.State = m.state
	v.LastUpdateTimestamp, v.StartTimestamp = m.updateMs, m.startMs
	byTopic := map[string][]int32{}
	for tp := range m.partitions {
		byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
	}
	names := make([]string, 0, len(byTopic))
	for t := range byTopic {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		ps := byTopic[t]
		slices.Sort(ps)
		vt := kmsg.NewTxnMetadataValueTopic()
		vt.Topic, vt.Partitions = t, ps
		v.Topics = append(v.Topics, vt)
	}
	if err := c.store.Append(ctx, p, key, v.AppendTo(nil)); err != nil {
		return appendError(err)
	}
	return nil
}

// InitProducerID gives a transactional producer its producer id and epoch: a new id
// for a new transactional id, else the next epoch of its id, which fences the previous
// incarnation. An open transaction of the previous epoch is aborted first, and the
// caller asked to retry (CONCURRENT_TRANSACTIONS) until that is done, as Kafka does.
func (c *Coordinator) InitProducerID(ctx context.Context, id string, timeoutMs int32) (int64, int16, error) {
	return c.InitProducerIDExpecting(ctx, id, timeoutMs, -1, -1)
}

// InitProducerIDExpecting is InitProducerID for a producer that presents the id and
// epoch it has (InitProducerId v3+, KIP-360: a producer recovering from an error
// keeps its identity). It goes ahead only if that is still the transactional id's
// current producer, or a retry of a request that was: anything else is a fenced
// incarnation and gets PRODUCER_FENCED, so that a zombie cannot take the id back from
// the producer that replaced it. pid -1 presents nothing, as before v3.
func (c *Coordinator) InitProducerIDExpecting(ctx context.Context, id string, timeoutMs int32, pid int64, epoch int16) (int64, int16, error) {
	if id == "" {
		return -1, -1, kerr.InvalidRequest
	}
	if timeoutMs <= 0 || time.Duration(timeoutMs)*time.Millisecond > c.cfg.MaxTimeout {
		return -1, -1, kerr.InvalidTransactionTimeout
	}
	p, cepoch, tp, m, err := c.meta(id)
	if err != nil {
		return -1, -1, err
	}
	now := c.now().UnixMilli()
	if m == nil {
		pid, err := c.nextPID(ctx)
		if err != nil {
			return -1, -1, kerr.CoordinatorNotAvailable
		}
		m = &txnMeta{id: id, txnFields: txnFields{pid: pid, epoch: 0, timeoutMs: timeoutMs, state: kmsg.TransactionStateEmpty,
			partitions: map[TopicPartition]bool{}, startMs: -1, updateMs: now, lastEpoch: -1, prevPID: -1, nextPID: -1, initEpoch: -1}}
		m.mu.Lock()
		defer m.mu.Unlock()
		if err := c.persist(ctx, p, m); err != nil {
			return -1, -1, err
		}
		c.mu.Lock()
		if c.parts[p] == tp {
			if tp.txns[id] != nil {
				c.mu.Unlock()
				return -1, -1, kerr.ConcurrentTransactions // another init won the race
			}
			tp.txns[id] = m
		}
		c.mu.Unlock()
		return m.pid, m.epoch, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if pid >= 0 && !m.isCurrentProducer(pid, epoch) {
		return -1, -1, kerr.ProducerFenced
	}
	if m.completing {
		return -1, -1, kerr.ConcurrentTransactions
	}
	switch m.state {
	case kmsg.TransactionStatePrepareCommit, kmsg.TransactionStatePrepareAbort:
		return -1, -1, kerr.ConcurrentTransactions
	case kmsg.TransactionStateOngoing:
		// Fence the previous incarnation and abort its transaction with the new
		// epoch; the producer retries once the abort is complete.
		if err := c.fence(ctx, p, cepoch, m, now); err != nil {
			return -1, -1, err
		}
		m.initEpoch = epoch
		return -1, -1, kerr.ConcurrentTransactions
	}
	saved := m.txnFields
	if err := c.bumpEpoch(ctx, m); err != nil {
		return -1, -1, err
	}
	m.state, m.timeoutMs, m.updateMs, m.startMs = kmsg.TransactionStateEmpty, timeoutMs, now, -1
	m.partitions = map[TopicPartition]bool{}
	m.lastEpoch, m.prevPID = -1, -1
	if err := c.persist(ctx, p, m); err != nil {
		m.txnFields = saved
		return -1, -1, err
	}
	if pid >= 0 && m.pid == pid {
		m.initEpoch = epoch
	}
	return m.pid, m.epoch, nil
}

// isCurrentProducer reports whether the producer id and epoch an InitProducerId
// presents are the transactional id's current producer: its id and epoch, the epoch
// of a request of its own that the coordinator already acted on (a retry), or the last
// epoch of the id it was moved off when its epochs ran out. m.mu is held.
func (m *txnMeta) isCurrentProducer(pid int64, epoch int16) bool {
	switch {
	case pid == m.pid:
		return epoch == m.epoch || m.initEpoch >= 0 && epoch == m.initEpoch
	case m.prevPID >= 0 && pid == m.prevPID:
		return epoch >= math.MaxInt16-1
	}
	return false
}

// fence aborts m's open transaction on the coordinator's own initiative (a new
// incarnation of its producer, or its timeout): the epoch is bumped, so the producer
// is fenced, and the abort's markers carry the new epoch. The epoch may reach
// MaxInt16 here; the producer gets a new id at its next InitProducerId. m.mu is held.
func (c *Coordinator) fence(ctx context.Context, p, cepoch int32, m *txnMeta, now int64) error {
	saved := m.txnFields
	if m.epoch < math.MaxInt16 {
		m.epoch++
	}
	m.state, m.updateMs, m.lastEpoch = kmsg.TransactionStatePrepareAbort, now, -1
	if err := c.persist(ctx, p, m); err != nil {
		m.txnFields = saved
		return err
	}
	m.completing = true
	go c.complete(p, cepoch, m)
	return nil
}

// bumpEpoch moves m to its next epoch, or to a new producer id when the epoch would
// reach MaxInt16 (kept for fencing).
func (c *Coordinator) bumpEpoch(ctx context.Context, m *txnMeta) error {
	if m.epoch >= math.MaxInt16-1 {
		pid, err := c.nextPID(ctx)
		if err != nil {
			return kerr.CoordinatorNotAvailable
		}
		m.pid, m.epoch = pid, 0
		return nil
	}
	m.epoch++
	return nil
}

// check validates a request's producer id and epoch against id's state: an unknown id
// or another producer id is INVALID_PRODUCER_ID_MAPPING, an older epoch
// PRODUCER_FENCED. The producer id a v2 EndTxn gave while its transaction's markers
// are still being written is CONCURRENT_TRANSACTIONS: it becomes the producer's once
// they are.
func check(m *txnMeta, pid int64, epoch int16) error {
	switch {
	case m != nil && m.nextPID >= 0 && pid == m.nextPID && epoch == 0:
		return kerr.ConcurrentTransactions
	case m == nil || m.pid != pid:
		return kerr.InvalidProducerIDMapping
	case epoch < m.epoch:
		return kerr.ProducerFenced
	case epoch > m.epoch:
		return kerr.InvalidProducerEpoch
	}
	return nil
}

// AddPartitions adds partitions to id's transaction, starting it if none is open: the
// producer's AddPartitionsToTxn (v0-3) and AddOffsetsToTxn.
func (c *Coordinator) AddPartitions(ctx context.Context, id string, pid int64, epoch int16, parts []TopicPartition) error {
	return c.addPartitions(ctx, id, pid, epoch, parts)
}

// AddImplicit adds partitions to id's transaction on the producer's behalf, as a
// partition leader asks at the producer's first transactional write there under
// transactions v2 (Produce v12+, AddPartitionsToTxn v4+ without VerifyOnly). The
// rules are AddPartitions'.
func (c *Coordinator) AddImplicit(ctx context.Context, id string, pid int64, epoch int16, parts []TopicPartition) error {
	return c.addPartitions(ctx, id, pid, epoch, parts)
}

func (c *Coordinator) addPartitions(ctx context.Context, id string, pid int64, epoch int16, parts []TopicPartition) error {
	p, _, _, m, err := c.meta(id)
	if err != nil {
		return err
	}
	if m == nil {
		return kerr.InvalidProducerIDMapping
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := check(m, pid, epoch); err != nil {
		return err
	}
	if m.completing || m.state == kmsg.TransactionStatePrepareCommit || m.state == kmsg.TransactionStatePrepareAbort {
		return kerr.ConcurrentTransactions
	}
	if m.state == kmsg.TransactionStateOngoing {
		missing := false
		for _, tp := range parts {
			missing = missing || !m.partitions[tp]
		}
		if !missing {
			return nil
		}
	}
	now := c.now().UnixMilli()
	next := txnMeta{id: m.id, txnFields: m.txnFields}
	next.partitions = make(map[TopicPartition]bool, len(m.partitions)+len(parts))
	if m.state == kmsg.TransactionStateOngoing {
		for tp := range m.partitions {
			next.partitions[tp] = true
		}
	} else {
		next.startMs = now
	}
	for _, tp := range parts {
		next.partitions[tp] = true
	}
	next.state, next.updateMs = kmsg.TransactionStateOngoing, now
	if err := c.persist(ctx, p, &next); err != nil {
		return err
	}
	m.partitions, m.state, m.updateMs, m.startMs = next.partitions, next.state, next.updateMs, next.startMs
	return nil
}

// Verify answers a partition leader's question of KIP-890 part 1 (AddPartitionsToTxn
// v4+ with VerifyOnly): is each partition in id's ongoing transaction? A partition
// that is not gets TRANSACTION_ABORTABLE; the whole request fails with
// INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED (any other epoch, as Kafka) or
// CONCURRENT_TRANSACTIONS while the transaction is being decided. Nothing changes.
func (c *Coordinator) Verify(id string, pid int64, epoch int16, parts []TopicPartition) ([]error, error) {
	_, _, _, m, err := c.meta(id)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, kerr.InvalidProducerIDMapping
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.nextPID >= 0 && pid == m.nextPID:
		return nil, kerr.ConcurrentTransactions
	case m.pid != pid:
		return nil, kerr.InvalidProducerIDMapping
	case m.epoch != epoch:
		return nil, kerr.ProducerFenced
	case m.completing || m.state == kmsg.TransactionStatePrepareCommit || m.state == kmsg.TransactionStatePrepareAbort:
		return nil, kerr.ConcurrentTransactions
	}
	out := make([]error, len(parts))
	for i, tp := range parts {
		if m.state != kmsg.TransactionStateOngoing || !m.partitions[tp] {
			out[i] = kerr.TransactionAbortable
		}
	}
	return out, nil
}

// EndTxn commits or aborts id's transaction under protocol v1 (EndTxn v0-4): it writes
// the decision, answers, and has the markers written in the background, after which
// the transaction is complete. A retried EndTxn of a decided transaction succeeds; the
// opposite decision is INVALID_TXN_STATE.
func (c *Coordinator) EndTxn(ctx context.Context, id string, pid int64, epoch int16, commit bool) error {
	_, _, err := c.endTxn(ctx, id, pid, epoch, commit, false)
	return err
}

// EndTxnV2 is EndTxn v5+ (transactions v2): the decision moves the producer to its
// next epoch, and the markers carry it; it returns the producer id and epoch for the
// producer's next transaction (a new producer id at epoch 0 once the epochs are
// exhausted, after the markers of the old one). Aborting when no transaction is open
// is allowed and bumps the epoch. A retry (the epoch before the bump) of a completed
// decision answers the current id and epoch, of one being carried out
// CONCURRENT_TRANSACTIONS.
func (c *Coordinator) EndTxnV2(ctx context.Context, id string, pid int64, epoch int16, commit bool) (int64, int16, error) {
	return c.endTxn(ctx, id, pid, epoch, commit, true)
}

func (c *Coordinator) endTxn(ctx context.Context, id string, pid int64, epoch int16, commit, v2 bool) (int64, int16, error) {
	p, cepoch, _, m, err := c.meta(id)
	if err != nil {
		return -1, -1, err
	}
	if m == nil {
		return -1, -1, kerr.InvalidProducerIDMapping
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	prepared, completed := kmsg.TransactionStatePrepareAbort, kmsg.TransactionStateCompleteAbort
	if commit {
		prepared, completed = kmsg.TransactionStatePrepareCommit, kmsg.TransactionStateCompleteCommit
	}
	if m.isV2Retry(pid, epoch) {
		switch m.state {
		case prepared:
			return -1, -1, kerr.ConcurrentTransactions
		case completed:
			return m.pid, m.epoch, nil
		}
		return -1, -1, kerr.InvalidTxnState
	}
	if err := check(m, pid, epoch); err != nil {
		return -1, -1, err
	}
	switch {
	case m.state == kmsg.TransactionStateOngoing:
	case m.state == prepared:
		return -1, -1, kerr.ConcurrentTransactions
	case v2 && (m.completing || m.state == kmsg.TransactionStatePrepareCommit || m.state == kmsg.TransactionStatePrepareAbort):
		// The end of the next transaction (its epoch is the bumped one), or an
		// abort with nothing written, while the previous one's markers are
		// still being written: the producer retries.
		return -1, -1, kerr.ConcurrentTransactions
	case m.state == completed && !v2:
		return m.pid, m.epoch, nil // a retry of a decision already carried out
	case v2 && !commit && (m.state == kmsg.TransactionStateEmpty ||
		m.state == kmsg.TransactionStateCompleteCommit || m.state == kmsg.TransactionStateCompleteAbort):
		return c.emptyAbort(ctx, p, m)
	default:
		return -1, -1, kerr.InvalidTxnState
	}
	saved := m.txnFields
	m.state, m.updateMs = prepared, c.now().UnixMilli()
	if v2 {
		m.tv, m.lastEpoch = 2, m.epoch
		if m.epoch >= math.MaxInt16-1 {
			// The markers use the last epoch of this producer id; the producer
			// continues with a new one.
			next, err := c.nextPID(ctx)
			if err != nil {
				m.txnFields = saved
				return -1, -1, kerr.CoordinatorNotAvailable
			}
			m.nextPID = next
		}
		m.epoch++
	} else {
		m.tv = 0
	}
	if err := c.persist(ctx, p, m); err != nil {
		m.txnFields = saved
		return -1, -1, err
	}
	m.completing = true
	go c.complete(p, cepoch, m)
	if m.nextPID >= 0 {
		return m.nextPID, 0, nil
	}
	return m.pid, m.epoch, nil
}

// isV2Retry reports whether an EndTxn with pid and epoch is a retry of the v2 EndTxn
// that decided m's last transaction: the epoch (and producer id) from before its bump.
func (m *txnMeta) isV2Retry(pid int64, epoch int16) bool {
	if m.tv < 2 || m.lastEpoch < 0 || epoch != m.lastEpoch {
		return false
	}
	switch m.state {
	case kmsg.TransactionStateEmpty, kmsg.TransactionStateOngoing:
		return false
	}
	return pid == m.pid || m.prevPID >= 0 && pid == m.prevPID && m.epoch == 0
}

// emptyAbort is a v2 abort with no transaction open: nothing to mark, but the
// producer moves to its next epoch (or a new producer id) all the same. m.mu is held.
func (c *Coordinator) emptyAbort(ctx context.Context, p int32, m *txnMeta) (int64, int16, error) {
	saved := m.txnFields
	m.tv, m.lastEpoch, m.prevPID = 2, m.epoch, -1
	if m.epoch >= math.MaxInt16-1 {
		next, err := c.nextPID(ctx)
		if err != nil {
			m.txnFields = saved
			return -1, -1, kerr.CoordinatorNotAvailable
		}
		m.prevPID, m.pid, m.epoch = m.pid, next, 0
	} else {
		m.epoch++
	}
	m.state, m.partitions, m.updateMs, m.startMs = kmsg.TransactionStateCompleteAbort, map[TopicPartition]bool{}, c.now().UnixMilli(), -1
	if err := c.persist(ctx, p, m); err != nil {
		m.txnFields = saved
		return -1, -1, err
	}
	return m.pid, m.epoch, nil
}

// complete writes the markers of m's prepared decision, then records the transaction
// complete. It retries until it succeeds or the partition moves to another coordinator
// (which completes it after loading). A v2 decision that exhausted the producer's
// epochs moves the producer to its next id here, once the markers of the old one are
// written.
func (c *Coordinator) complete(p int32, cepoch int32, m *txnMeta) {
	m.mu.Lock()
	commit := m.state == kmsg.TransactionStatePrepareCommit
	pid, epoch, tv := m.pid, m.epoch, m.tv
	parts := make([]TopicPartition, 0, len(m.partitions))
	for tp := range m.partitions {
		parts = append(parts, tp)
	}
	m.mu.Unlock()
	backoff := 50 * time.Millisecond
	for {
		c.mu.Lock()
		tp := c.parts[p]
		c.mu.Unlock()
		if tp == nil || tp.epoch != cepoch || c.ctx.Err() != nil {
			return
		}
		ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
		err := c.markers.Write(ctx, pid, epoch, cepoch, tv, commit, parts)
		if err == nil {
			m.mu.Lock()
			saved := m.txnFields
			if commit {
				m.state = kmsg.TransactionStateCompleteCommit
			} else {
				m.state = kmsg.TransactionStateCompleteAbort
			}
			m.partitions, m.updateMs, m.startMs = map[TopicPartition]bool{}, c.now().UnixMilli(), -1
			if m.nextPID >= 0 {
				m.prevPID, m.pid, m.epoch, m.nextPID = m.pid, m.nextPID, 0, -1
			}
			initEpoch := m.initEpoch // the fencing abort of a KIP-360 init ends here; its retry follows
			err = c.persist(ctx, p, m)
			if err == nil {
				m.completing = false
				m.initEpoch = initEpoch
			} else {
				m.txnFields = saved
			}
			m.mu.Unlock()
		}
		cancel()
		if err == nil {
			c.signalCompletion()
			return
		}
		c.log.Info("completing a transaction; retrying", "transactional_id", m.id, "commit", commit, "err", err)
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// expireLoop aborts transactions open longer than their timeout, fencing their
// producer with a new epoch, as Kafka does.
func (c *Coordinator) expireLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.AbortCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		now := c.now().UnixMilli()
		type due struct {
			p     int32
			epoch int32
			m     *txnMeta
		}
		var expired []due
		c.mu.Lock()
		for p, tp := range c.parts {
			if tp.loading {
				continue
			}
			for _, m := range tp.txns {
				expired = append(expired, due{p, tp.epoch, m})
			}
		}
		c.mu.Unlock()
		for _, d := range expired {
			m := d.m
			m.mu.Lock()
			if m.state != kmsg.TransactionStateOngoing || m.completing || now-m.startMs < int64(m.timeoutMs) {
				m.mu.Unlock()
				continue
			}
			ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
			err := c.fence(ctx, d.p, d.epoch, m, now)
			cancel()
			if err == nil {
				c.log.Info("aborting a transaction past its timeout", "transactional_id", m.id, "timeout_ms", m.timeoutMs)
			}
			m.mu.Unlock()
		}
	}
}

// Describe is one transaction's state, for DescribeTransactions and ListTransactions.
type Describe struct {
	ID         string
	ProducerID int64
	Epoch      int16
	State      kmsg.TransactionState
	TimeoutMs  int32
	StartMs    int64
	Partitions []TopicPartition
}

// DescribeTxn returns id's state, or TRANSACTIONAL_ID_NOT_FOUND, NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS.
func (c *Coordinator) DescribeTxn(id string) (Describe, error) {
	_, _, _, m, err := c.meta(id)
	if err != nil {
		return Describe{}, err
	}
	if m == nil {
		return Describe{}, kerr.TransactionalIDNotFound
	}
	return m.describe(), nil
}

func (m *txnMeta) describe() Describe {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := Describe{ID: m.id, ProducerID: m.pid, Epoch: m.epoch, State: m.state, TimeoutMs: m.timeoutMs, StartMs: m.startMs}
	for tp := range m.partitions {
		d.Partitions = append(d.Partitions, tp)
	}
	sort.Slice(d.Partitions, func(i, j int) bool {
		a, b := d.Partitions[i], d.Partitions[j]
		return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
	})
	return d
}

// List returns the transactions of the partitions this broker coordinates.
func (c *Coordinator) List() []Describe {
	c.mu.Lock()
	var ms []*txnMeta
	for _, tp := range c.parts {
		for _, m := range tp.txns {
			ms = append(ms, m)
		}
	}
	c.mu.Unlock()
	out := make([]Describe, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.describe())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// appendError is the error a client gets when the state record could not be
// written, as Kafka's transaction state manager maps it: the coordinator's
// partition cannot take writes now (retry: COORDINATOR_NOT_AVAILABLE), or
// this node no longer leads it (NOT_COORDINATOR: find the coordinator again).
func appendError(err error) error {
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.NotEnoughReplicas),
		errors.Is(err, kerr.NotEnoughReplicasAfterAppend), errors.Is(err, kerr.RequestTimedOut),
		errors.Is(err, context.DeadlineExceeded):
		return kerr.CoordinatorNotAvailable
	case errors.Is(err, kerr.NotLeaderForPartition), errors.Is(err, kerr.KafkaStorageError),
		errors.Is(err, context.Canceled):
		return kerr.NotCoordinator
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return kerr.UnknownServerError
	}
	return err
}
