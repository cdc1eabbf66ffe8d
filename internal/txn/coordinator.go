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
// or with ctx's error.
type Markers interface {
	Write(ctx context.Context, pid int64, epoch int16, coordinatorEpoch int32, commit bool, parts []TopicPartition) error
}

// Coordinator is Kafka's transaction coordinator (protocol v1): it gives transactional
// producers their id and epoch, fencing older incarnations; records the partitions each
// transaction writes to; and on EndTxn writes the decision to its log (PrepareCommit or
// PrepareAbort), has every partition's leader write the marker, and then records the
// transaction complete. Its state lives in __transaction_state (kmsg's TxnMetadataKey
// and TxnMetadataValue), one partition per transactional id (Java's String hash, as
// Kafka), and is loaded when this broker takes a partition's leadership.
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
}

type txnPartition struct {
	epoch   int32 // the coordinator epoch: the partition's leader epoch
	loading bool
	txns    map[string]*txnMeta
}

// txnMeta is one transactional id's state. mu serialises the operations on it, which
// each end by writing the new state to the log.
type txnMeta struct {
	mu         sync.Mutex
	id         string
	pid        int64
	epoch      int16
	timeoutMs  int32
	state      kmsg.TransactionState
	partitions map[TopicPartition]bool
	startMs    int64
	updateMs   int64
	// completing is set while markers are written for a prepared decision.
	completing bool
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
		m := &txnMeta{id: k.TransactionalID, pid: v.ProducerID, epoch: v.ProducerEpoch, timeoutMs: v.TimeoutMillis,
			state: v.State, startMs: v.StartTimestamp, updateMs: v.LastUpdateTimestamp, partitions: map[TopicPartition]bool{}}
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
	key := (&kmsg.TxnMetadataKey{Version: 0, TransactionalID: m.id}).AppendTo(nil)
	v := kmsg.NewTxnMetadataValue()
	v.Version = 0
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
		if errors.Is(err, kerr.NotLeaderForPartition) {
			return kerr.NotCoordinator
		}
		return err
	}
	return nil
}

// InitProducerID gives a transactional producer its producer id and epoch: a new id
// for a new transactional id, else the next epoch of its id, which fences the previous
// incarnation. An open transaction of the previous epoch is aborted first, and the
// caller asked to retry (CONCURRENT_TRANSACTIONS) until that is done, as Kafka does.
func (c *Coordinator) InitProducerID(ctx context.Context, id string, timeoutMs int32) (int64, int16, error) {
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
		m = &txnMeta{id: id, pid: pid, epoch: 0, timeoutMs: timeoutMs, state: kmsg.TransactionStateEmpty,
			partitions: map[TopicPartition]bool{}, startMs: -1, updateMs: now}
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
	if m.completing {
		return -1, -1, kerr.ConcurrentTransactions
	}
	switch m.state {
	case kmsg.TransactionStatePrepareCommit, kmsg.TransactionStatePrepareAbort:
		return -1, -1, kerr.ConcurrentTransactions
	case kmsg.TransactionStateOngoing:
		// Fence the previous incarnation and abort its transaction with the new
		// epoch; the producer retries once the abort is complete.
		if err := c.bumpEpoch(ctx, m); err != nil {
			return -1, -1, err
		}
		m.state, m.updateMs = kmsg.TransactionStatePrepareAbort, now
		if err := c.persist(ctx, p, m); err != nil {
			return -1, -1, err
		}
		m.completing = true
		go c.complete(p, cepoch, m)
		return -1, -1, kerr.ConcurrentTransactions
	}
	if err := c.bumpEpoch(ctx, m); err != nil {
		return -1, -1, err
	}
	m.state, m.timeoutMs, m.updateMs, m.startMs = kmsg.TransactionStateEmpty, timeoutMs, now, -1
	m.partitions = map[TopicPartition]bool{}
	if err := c.persist(ctx, p, m); err != nil {
		return -1, -1, err
	}
	return m.pid, m.epoch, nil
}

// bumpEpoch moves m to its next epoch, or to a new producer id when the epoch would
// overflow.
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
// PRODUCER_FENCED.
func check(m *txnMeta, pid int64, epoch int16) error {
	switch {
	case m == nil || m.pid != pid:
		return kerr.InvalidProducerIDMapping
	case epoch < m.epoch:
		return kerr.ProducerFenced
	case epoch > m.epoch:
		return kerr.InvalidProducerEpoch
	}
	return nil
}

// AddPartitions adds partitions to id's transaction, starting it if none is open.
func (c *Coordinator) AddPartitions(ctx context.Context, id string, pid int64, epoch int16, parts []TopicPartition) error {
	p, _, _, m, err := c.meta(id)
	if err != nil {
		return err
	}
	if err := check(m, pid, epoch); err != nil {
		return err
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
	next := &txnMeta{id: m.id, pid: m.pid, epoch: m.epoch, timeoutMs: m.timeoutMs, startMs: m.startMs,
		partitions: make(map[TopicPartition]bool, len(m.partitions)+len(parts))}
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
	if err := c.persist(ctx, p, next); err != nil {
		return err
	}
	m.partitions, m.state, m.updateMs, m.startMs = next.partitions, next.state, next.updateMs, next.startMs
	return nil
}

// EndTxn commits or aborts id's transaction: it writes the decision, answers, and has
// the markers written in the background, after which the transaction is complete. A
// retried EndTxn of a decided transaction succeeds; the opposite decision is
// INVALID_TXN_STATE.
func (c *Coordinator) EndTxn(ctx context.Context, id string, pid int64, epoch int16, commit bool) error {
	p, cepoch, _, m, err := c.meta(id)
	if err != nil {
		return err
	}
	if err := check(m, pid, epoch); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := check(m, pid, epoch); err != nil {
		return err
	}
	prepared, completed := kmsg.TransactionStatePrepareAbort, kmsg.TransactionStateCompleteAbort
	if commit {
		prepared, completed = kmsg.TransactionStatePrepareCommit, kmsg.TransactionStateCompleteCommit
	}
	switch m.state {
	case kmsg.TransactionStateOngoing:
	case prepared:
		return kerr.ConcurrentTransactions
	case completed:
		return nil // a retry of a decision already carried out
	default:
		return kerr.InvalidTxnState
	}
	m.state, m.updateMs = prepared, c.now().UnixMilli()
	if err := c.persist(ctx, p, m); err != nil {
		m.state = kmsg.TransactionStateOngoing
		return err
	}
	m.completing = true
	go c.complete(p, cepoch, m)
	return nil
}

// complete writes the markers of m's prepared decision, then records the transaction
// complete. It retries until it succeeds or the partition moves to another coordinator
// (which completes it after loading).
func (c *Coordinator) complete(p int32, cepoch int32, m *txnMeta) {
	m.mu.Lock()
	commit := m.state == kmsg.TransactionStatePrepareCommit
	pid, epoch := m.pid, m.epoch
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
		err := c.markers.Write(ctx, pid, epoch, cepoch, commit, parts)
		if err == nil {
			m.mu.Lock()
			if commit {
				m.state = kmsg.TransactionStateCompleteCommit
			} else {
				m.state = kmsg.TransactionStateCompleteAbort
			}
			m.partitions, m.updateMs, m.startMs = map[TopicPartition]bool{}, c.now().UnixMilli(), -1
			err = c.persist(ctx, p, m)
			if err == nil {
				m.completing = false
			}
			m.mu.Unlock()
		}
		cancel()
		if err == nil {
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
			err := c.bumpEpoch(ctx, m)
			if err == nil {
				m.state, m.updateMs = kmsg.TransactionStatePrepareAbort, now
				err = c.persist(ctx, d.p, m)
			}
			cancel()
			if err == nil {
				m.completing = true
				c.log.Info("aborting a transaction past its timeout", "transactional_id", m.id, "timeout_ms", m.timeoutMs)
			}
			m.mu.Unlock()
			if err == nil {
				go c.complete(d.p, d.epoch, m)
			}
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
