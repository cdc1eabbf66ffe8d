package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/streams/internal/task"
	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/state"
	"github.com/sluicehq/sluice/streams/topology"
)

// State is where an instance is in its life.
type State int

const (
	Created State = iota
	Rebalancing
	Running
	PendingShutdown
	NotRunning
	Error
)

func (s State) String() string {
	return [...]string{"CREATED", "REBALANCING", "RUNNING", "PENDING_SHUTDOWN", "NOT_RUNNING", "ERROR"}[s]
}

// App is one instance of a stream-processing application.
type App struct {
	cfg  Config
	topo *topology.Topology
	log  *slog.Logger

	// mu guards everything below. The processing loop holds it while it
	// processes a batch; group callbacks and interactive queries take it.
	mu         sync.Mutex
	state      State
	tasks      map[processor.TaskID]*runningTask
	suspended  map[processor.TaskID]*runningTask
	pending    []processor.TaskID // assigned, not opened yet
	globals    map[string]state.Store
	plan       *plan
	cache      *state.Cache
	lastCommit time.Time
	closing    bool

	cl  *kgo.Client
	adm *kadm.Client

	// prev is the tasks run before the current rebalance, for the
	// assignor's stickiness; its own lock, since the group goroutine
	// reads it while joining.
	prevMu sync.Mutex
	prev   []processor.TaskID

	// partitionCounts caches the partition counts of sink topics with
	// their own partitioner.
	partitionCounts sync.Map // topic -> int32

	// produced tracks, per changelog partition, the next offset after the
	// last record acknowledged, for checkpoints; and the first produce
	// error, which fails the next commit.
	prodMu     sync.Mutex
	produced   map[string]int64
	produceErr error

	// eos is the exactly_once_v2 state (eos.go).
	eos eosState

	// meta is the group's host -> tasks map, for interactive queries.
	meta hostMetadata
}

type runningTask struct {
	t   *task.Task
	dir string
	// changelogEnd is where each changelog of the task stands (restored or
	// written), for its checkpoint.
	changelogEnd map[string]int64
	persistent   bool
	processed    int64 // records, for the debug log
}

// New checks the configuration; Run starts the instance.
func New(topo *topology.Topology, cfg Config) (*App, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if err := topo.Err(); err != nil {
		return nil, err
	}
	if _, err := topo.Subtopologies(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, topo: topo, log: cfg.Logger.With("application.id", cfg.ApplicationID),
		tasks: make(map[processor.TaskID]*runningTask), suspended: make(map[processor.TaskID]*runningTask),
		globals: make(map[string]state.Store), cache: state.NewCache(cfg.CacheMaxBytes),
		produced: make(map[string]int64)}
	a.eos.on = a.exactlyOnce()
	return a, nil
}

// State is the instance's state.
func (a *App) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

func (a *App) setState(s State) {
	if a.state != s {
		a.log.Info("state change", "from", a.state.String(), "to", s.String())
		a.state = s
	}
}

// Tasks lists the tasks this instance runs now.
func (a *App) Tasks() []processor.TaskID {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := make([]processor.TaskID, 0, len(a.tasks))
	for id := range a.tasks {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareTaskIDs)
	return ids
}

func (a *App) baseOpts() []kgo.Opt {
	return append([]kgo.Opt{kgo.SeedBrokers(a.cfg.Brokers...)}, a.cfg.ClientOptions...)
}

// Run runs the instance until ctx ends (a clean shutdown: commit, close
// the tasks, leave the group) or processing fails.
func (a *App) Run(ctx context.Context) (err error) {
	a.mu.Lock()
	if a.state != Created {
		a.mu.Unlock()
		return errors.New("streams: an App runs once")
	}
	a.setState(Rebalancing)
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		if err != nil {
			a.setState(Error)
		} else {
			a.setState(NotRunning)
		}
		a.mu.Unlock()
	}()

	admCl, err := kgo.NewClient(a.baseOpts()...)
	if err != nil {
		return fmt.Errorf("streams: admin client: %w", err)
	}
	defer admCl.Close()
	a.adm = kadm.NewClient(admCl)
	p, err := makePlan(ctx, a.adm, a.topo, a.cfg.ApplicationID)
	if err != nil {
		return fmt.Errorf("streams: %w", err)
	}
	a.plan = p
	if err := createInternalTopics(ctx, a.adm, p, a.cfg.ReplicationFactor); err != nil {
		return fmt.Errorf("streams: %w", err)
	}

	gctx, stopGlobals := context.WithCancel(ctx)
	var gwg sync.WaitGroup
	gerr := make(chan error, len(a.topo.GlobalStores()))
	defer func() {
		stopGlobals()
		gwg.Wait()
	}()
	if err := a.startGlobals(gctx, &gwg, gerr); err != nil {
		return err
	}

	topics := make([]string, 0, len(p.subOf))
	for t := range p.subOf {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	bal := &taskBalancer{subOf: p.subOf, topicsOf: p.topicsOf, localTasks: a.localTasks, prevTasks: a.previousTasks,
		host: a.cfg.ApplicationServer, meta: &a.meta}
	opts := append(a.baseOpts(),
		kgo.ConsumerGroup(a.cfg.ApplicationID),
		kgo.ConsumeTopics(topics...),
		kgo.Balancers(bal),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(a.onAssigned),
		kgo.OnPartitionsRevoked(a.onRevoked),
		kgo.OnPartitionsLost(a.onLost),
		kgo.RecordPartitioner(partitioner{}),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	var cl *kgo.Client
	if a.eos.on {
		cl, err = a.newTxnClient(opts)
	} else {
		cl, err = kgo.NewClient(opts...)
	}
	if err != nil {
		return fmt.Errorf("streams: client: %w", err)
	}
	a.cl = cl
	a.lastCommit = time.Now()
	defer cl.Close()

	runErr := a.loop(ctx, gerr)
	closeErr := a.shutdown(runErr == nil)
	cl.AllowRebalance()
	// Leave the group (a clean stop hands the tasks to the other
	// instances at once instead of after the session timeout).
	leaveCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = cl.LeaveGroupContext(leaveCtx)
	cancel()
	return errors.Join(runErr, closeErr)
}

// loop polls and processes until ctx ends or an error.
func (a *App) loop(ctx context.Context, gerr <-chan error) error {
	for {
		if err := ctx.Err(); err != nil {
			return nil
		}
		select {
		case err := <-gerr:
			return err
		default:
		}
		wait := a.cfg.CommitInterval - time.Since(a.lastCommit)
		if next := a.nextWallClock(); next > 0 {
			wait = min(wait, time.Until(time.UnixMilli(next)))
		}
		wait = max(min(wait, time.Second), 5*time.Millisecond)
		pctx, cancel := context.WithTimeout(ctx, wait)
		fetches := a.cl.PollRecords(pctx, a.cfg.MaxPollRecords)
		cancel()
		if errors.Is(fetches.Err0(), kgo.ErrClientClosed) {
			return nil
		}
		err := a.processBatch(ctx, fetches)
		// Under exactly-once a rebalance comes in only between
		// transactions (eos.go).
		if !a.eos.on || !a.eos.dirty.Load() {
			a.eos.waiting.Store(false)
			a.cl.AllowRebalance()
		}
		switch {
		case err == nil:
		case ctx.Err() != nil && errors.Is(err, context.Canceled):
			return nil // stopped while restoring: a clean stop
		case migrated(err):
			// The group moved on without this member (a rebalance it was
			// too slow for): its tasks belong to others now, and what it
			// processed since its last commit will be processed again
			// there. Not fatal: franz-go reports the partitions lost and
			// the member rejoins.
			a.log.Warn("commit refused by the group; tasks will be processed again by their new owner", "error", err)
			a.closeAllDirty()
		default:
			return err
		}
	}
}

func (a *App) processBatch(ctx context.Context, fetches kgo.Fetches) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ferr error
	fetches.EachError(func(t string, p int32, err error) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || ferr != nil {
			return
		}
		// Fatal errors stop the instance; others franz-go retries.
		if errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.GroupAuthorizationFailed) || errors.Is(err, kerr.UnknownTopicID) {
			ferr = fmt.Errorf("streams: fetch %s-%d: %w", t, p, err)
		} else {
			a.log.Warn("fetch error", "topic", t, "partition", p, "error", err)
		}
	})
	if ferr != nil {
		return ferr
	}
	if a.eos.on && a.eos.rebalanced {
		// The session rewinds to the committed offsets: what was polled
		// is fetched again.
		if err := a.resetAfterRebalance(ctx); err != nil {
			return err
		}
		fetches = nil
	}
	if err := a.openPending(ctx); err != nil {
		return err
	}
	commitAsked := false
	// Group the records by task and, within a task, by partition: a task
	// that reads several partitions (a merge, a cogroup) takes the record
	// with the smallest timestamp among their heads next, as Kafka Streams
	// does with the records it has buffered.
	byTask := make(map[processor.TaskID]map[string][]*kgo.Record)
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		sub, ok := a.plan.subOf[p.Topic]
		if !ok || len(p.Records) == 0 {
			return
		}
		id := processor.TaskID{Subtopology: sub, Partition: p.Partition}
		if byTask[id] == nil {
			byTask[id] = make(map[string][]*kgo.Record)
		}
		byTask[id][p.Topic] = append(byTask[id][p.Topic], p.Records...)
	})
	for id, queues := range byTask {
		rt, ok := a.tasks[id]
		if !ok {
			continue // revoked while the records were in flight
		}
		for {
			var next *kgo.Record
			var from string
			for topic, q := range queues {
				if len(q) > 0 && (next == nil || q[0].Timestamp.Before(next.Timestamp)) {
					next, from = q[0], topic
				}
			}
			if next == nil {
				break
			}
			queues[from] = queues[from][1:]
			a.eos.dirty.Store(true)
			if err := rt.t.Process(inputRecord(next)); err != nil {
				return fmt.Errorf("streams: %w", err)
			}
			rt.processed++
		}
		if rt.t.CommitRequested() {
			commitAsked = true
		}
	}
	for _, rt := range a.tasks {
		if err := rt.t.PunctuateWallClock(); err != nil {
			return fmt.Errorf("streams: %w", err)
		}
		if rt.t.CommitRequested() {
			commitAsked = true
		}
	}
	if commitAsked || time.Since(a.lastCommit) >= a.cfg.CommitInterval || a.eos.waiting.Load() {
		// Not ctx: a commit after a stop was asked for must still finish.
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return a.commit(cctx, a.tasks)
	}
	return nil
}

// partitions gives a topic's partition count (cached: a topic's count only
// grows, and a partitioner that saw the old count still chose a valid one).
func (a *App) partitions(topic string) (int32, error) {
	if n, ok := a.partitionCounts.Load(topic); ok {
		return n.(int32), nil
	}
	if spec, ok := a.plan.internal[topic]; ok {
		a.partitionCounts.Store(topic, spec.partitions)
		return spec.partitions, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	details, err := a.adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, err
	}
	d, ok := details[topic]
	if !ok || d.Err != nil {
		return 0, fmt.Errorf("topic %s: %v", topic, d.Err)
	}
	n := int32(len(d.Partitions))
	a.partitionCounts.Store(topic, n)
	return n, nil
}

// migrated reports a commit refused because the group has a newer
// generation than this member: Kafka Streams' TaskMigratedException.
func migrated(err error) bool {
	return errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.UnknownMemberID) ||
		errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.FencedInstanceID)
}

func (a *App) nextWallClock() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	next := int64(-1)
	for _, rt := range a.tasks {
		if n := rt.t.NextWallClock(); n >= 0 && (next < 0 || n < next) {
			next = n
		}
	}
	return next
}

// commit makes the tasks' progress durable, in Kafka Streams' order: flush
// the caches and stores (sending the last changelog and output records),
// wait for the producer, commit the input offsets, and write checkpoints.
// A crash between these steps replays input from the last committed
// offsets: records may be processed twice, never lost. a.mu is held.
func (a *App) commit(ctx context.Context, tasks map[processor.TaskID]*runningTask) error {
	if a.eos.on {
		return a.commitTxn(ctx)
	}
	a.lastCommit = time.Now()
	if a.log.Enabled(ctx, slog.LevelDebug) {
		for id, rt := range tasks {
			a.log.Debug("commit", "task", id.String(), "processed", rt.processed, "offsets", fmt.Sprint(rt.t.Offsets()))
		}
	}
	for _, rt := range tasks {
		if err := rt.t.Flush(); err != nil {
			return fmt.Errorf("streams: commit: %w", err)
		}
	}
	if err := a.cl.Flush(ctx); err != nil {
		return fmt.Errorf("streams: commit: flush producer: %w", err)
	}
	a.prodMu.Lock()
	perr := a.produceErr
	produced := make(map[string]int64, len(a.produced))
	for k, v := range a.produced {
		produced[k] = v
	}
	a.prodMu.Unlock()
	if perr != nil {
		return fmt.Errorf("streams: commit: a record was not written: %w", perr)
	}
	offsets := make(map[string]map[int32]kgo.EpochOffset)
	purge := make(kadm.Offsets)
	for id, rt := range tasks {
		for topic, next := range rt.t.Offsets() {
			if offsets[topic] == nil {
				offsets[topic] = make(map[int32]kgo.EpochOffset)
			}
			offsets[topic][id.Partition] = kgo.EpochOffset{Epoch: -1, Offset: next}
			if _, ok := a.plan.internal[topic]; ok {
				purge.Add(kadm.Offset{Topic: topic, Partition: id.Partition, At: next, LeaderEpoch: -1})
			}
		}
	}
	if len(offsets) > 0 {
		var cerr error
		a.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				cerr = err
				return
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if e := kerr.ErrorForCode(p.ErrorCode); e != nil && cerr == nil {
						cerr = fmt.Errorf("%s-%d: %w", t.Topic, p.Partition, e)
					}
				}
			}
		})
		if cerr != nil {
			return fmt.Errorf("streams: commit offsets: %w", cerr)
		}
	}
	for id, rt := range tasks {
		if !rt.persistent {
			continue
		}
		for topic := range rt.changelogEnd {
			if n, ok := produced[changelogKey(topic, id.Partition)]; ok {
				rt.changelogEnd[topic] = n
			}
		}
		if err := writeCheckpoint(rt.dir, rt.changelogEnd); err != nil {
			return fmt.Errorf("streams: task %s: %w", id, err)
		}
	}
	// Repartition records below the committed offsets are no longer
	// needed: delete them, as Kafka Streams does.
	if len(purge) > 0 {
		if _, err := a.adm.DeleteRecords(ctx, purge); err != nil {
			a.log.Debug("purge repartition topics", "error", err)
		}
	}
	return nil
}

func changelogKey(topic string, p int32) string { return topic + "\x00" + strconv.Itoa(int(p)) }

// Send is the tasks' collector: it hands records to the producer.
func (a *App) Send(topic string, partition int32, key, value []byte, ts int64, headers []processor.Header) error {
	a.eos.dirty.Store(true)
	r := &kgo.Record{Topic: topic, Key: key, Value: value, Timestamp: time.UnixMilli(ts)}
	if partition >= 0 {
		r.Partition = partition
		r.Context = manualCtx
	}
	if len(headers) > 0 {
		r.Headers = make([]kgo.RecordHeader, len(headers))
		for i, h := range headers {
			r.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	if _, ok := a.plan.changelog[topic]; ok {
		a.cl.Produce(context.Background(), r, a.onChangelogProduced)
	} else {
		a.cl.Produce(context.Background(), r, a.onProduced)
	}
	return nil
}

// onProduced records the first produce error (a commit then fails).
func (a *App) onProduced(r *kgo.Record, err error) {
	if err == nil {
		return
	}
	a.prodMu.Lock()
	defer a.prodMu.Unlock()
	if a.produceErr == nil {
		a.produceErr = fmt.Errorf("produce to %s: %w", r.Topic, err)
	}
}

// onChangelogProduced also tracks how far each changelog partition is
// written, for checkpoints.
func (a *App) onChangelogProduced(r *kgo.Record, err error) {
	if err != nil {
		a.onProduced(r, err)
		return
	}
	k := changelogKey(r.Topic, r.Partition)
	a.prodMu.Lock()
	defer a.prodMu.Unlock()
	if r.Offset+1 > a.produced[k] {
		a.produced[k] = r.Offset + 1
	}
}

// onAssigned notes the tasks to open; the loop opens them (restoring
// their stores) before it processes their records.
func (a *App) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.eos.on {
		// The assignment is the whole list (an eager protocol).
		a.eos.rebalanced = true
		a.pending = nil
	}
	seen := make(map[processor.TaskID]bool)
	for topic, parts := range assigned {
		sub, ok := a.plan.subOf[topic]
		if !ok {
			continue
		}
		for _, p := range parts {
			id := processor.TaskID{Subtopology: sub, Partition: p}
			if !seen[id] {
				seen[id] = true
				a.pending = append(a.pending, id)
			}
		}
	}
	// Suspended tasks not given back are closed now.
	for id, rt := range a.suspended {
		if !seen[id] {
			if a.eos.on {
				a.closeClean(id, rt) // suspended after a commit
			} else {
				a.closeTask(id, rt)
			}
		}
	}
	a.log.Info("tasks assigned", "tasks", fmt.Sprint(sortedIDs(seen)))
}

// onRevoked commits every task and suspends it: if the rebalance gives it
// back, it resumes without restoring.
func (a *App) onRevoked(ctx context.Context, _ *kgo.Client, _ map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.eos.on {
		a.revokeEOS()
		return
	}
	if a.closing || len(a.tasks) == 0 {
		return
	}
	a.setState(Rebalancing)
	if err := a.commit(ctx, a.tasks); err != nil {
		// Without a commit, another member may process these tasks from
		// older offsets: they cannot resume here as they are.
		a.log.Warn("commit on revocation failed; its records will be processed again", "error", err)
		for id, rt := range a.tasks {
			a.closeTask(id, rt)
		}
		return
	}
	a.suspendAll()
}

// suspendAll sets every running task aside, clean, for the rebalance: kept
// if it is assigned here again, closed otherwise; they are what this instance
// ran until now. a.mu is held.
func (a *App) suspendAll() {
	ids := make([]processor.TaskID, 0, len(a.tasks))
	for id, rt := range a.tasks {
		a.suspended[id] = rt
		delete(a.tasks, id)
		ids = append(ids, id)
	}
	a.prevMu.Lock()
	a.prev = ids
	a.prevMu.Unlock()
}

// previousTasks is what this instance ran until the current rebalance.
func (a *App) previousTasks() []processor.TaskID {
	a.prevMu.Lock()
	defer a.prevMu.Unlock()
	return slices.Clone(a.prev)
}

// onLost closes the tasks without committing: another member may own
// them already.
func (a *App) onLost(_ context.Context, _ *kgo.Client, _ map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.setState(Rebalancing)
	if a.eos.on {
		// The open transaction is aborted: the stores may hold its
		// updates.
		a.eos.rebalanced = true
		for id, rt := range a.tasks {
			a.closeDirty(id, rt)
		}
		for id, rt := range a.suspended {
			a.closeDirty(id, rt)
		}
		a.pending = nil
		return
	}
	for id, rt := range a.tasks {
		a.closeTask(id, rt)
	}
	for id, rt := range a.suspended {
		a.closeTask(id, rt)
	}
	a.pending = nil
}

// closeAllDirty closes every task without committing.
func (a *App) closeAllDirty() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.eos.on {
		a.corruptTasks("processing failed")
		return
	}
	for id, rt := range a.tasks {
		a.closeTask(id, rt)
	}
	for id, rt := range a.suspended {
		a.closeTask(id, rt)
	}
}

func (a *App) closeTask(id processor.TaskID, rt *runningTask) {
	if err := rt.t.Close(); err != nil {
		a.log.Warn("close task", "task", id.String(), "error", err)
	}
	delete(a.tasks, id)
	delete(a.suspended, id)
}

// openPending opens the tasks assigned since the last batch: resumed if
// suspended, else created and restored from their changelogs. a.mu is held.
func (a *App) openPending(ctx context.Context) error {
	if len(a.pending) == 0 {
		return nil
	}
	ids := a.pending
	a.pending = nil
	var fresh []*runningTask
	var targets []restoreTarget
	for _, id := range ids {
		if rt, ok := a.suspended[id]; ok {
			delete(a.suspended, id)
			a.tasks[id] = rt
			continue
		}
		rt, tg, err := a.createTask(id)
		if err != nil {
			return err
		}
		fresh = append(fresh, rt)
		targets = append(targets, tg...)
	}
	start := time.Now()
	reached, records, err := restore(ctx, a.adm, a.baseOpts(), targets, a.eos.on)
	if err != nil {
		for _, rt := range fresh {
			rt.t.Close()
		}
		return fmt.Errorf("streams: %w", err)
	}
	if len(targets) > 0 {
		a.log.Info("restored state stores", "changelogs", len(targets), "records", records, "took", time.Since(start).Round(time.Millisecond))
	}
	for _, rt := range fresh {
		for topic := range rt.changelogEnd {
			rt.changelogEnd[topic] = reached[changelogKey(topic, rt.t.ID().Partition)]
		}
		if err := rt.t.Init(); err != nil {
			return fmt.Errorf("streams: %w", err)
		}
		a.tasks[rt.t.ID()] = rt
	}
	a.setState(Running)
	return nil
}

// createTask opens a task's stores and says what to restore: from the
// checkpoint for persistent stores that have one, from the start
// otherwise. A persistent store without a checkpoint may hold writes the
// changelog lacks, so its files are wiped first.
func (a *App) createTask(id processor.TaskID) (*runningTask, []restoreTarget, error) {
	var sub *topology.Subtopology
	for _, st := range a.plan.subs {
		if st.ID == id.Subtopology {
			sub = st
		}
	}
	if sub == nil {
		return nil, nil, fmt.Errorf("streams: no sub-topology %d", id.Subtopology)
	}
	dir := task.Dir(a.cfg.StateDir, a.cfg.ApplicationID, id)
	persistent := false
	for _, s := range sub.Stores {
		if b, _ := a.topo.Store(s); b.Persistent() {
			persistent = true
		}
	}
	var checkpoint map[string]int64
	if persistent {
		var err error
		if checkpoint, err = readCheckpoint(dir); err != nil {
			return nil, nil, fmt.Errorf("streams: task %s: %w", id, err)
		}
		if a.eos.on {
			if err := dropCheckpoint(dir); err != nil {
				return nil, nil, fmt.Errorf("streams: task %s: %w", id, err)
			}
		}
		if checkpoint == nil {
			if err := os.RemoveAll(dir); err != nil {
				return nil, nil, fmt.Errorf("streams: task %s: wipe state without checkpoint: %w", id, err)
			}
		}
	}
	t, err := task.New(task.Config{
		ID: id, AppID: a.cfg.ApplicationID, Topology: a.topo, Sub: sub, Dir: dir, Cache: a.cache,
		Collector: a, Timestamps: a.cfg.TimestampExtractor,
		OnDeserialize: a.cfg.DeserializationHandler, OnProcessError: a.cfg.ProcessingHandler,
		GlobalStores: a.globals, Partitions: a.partitions, Log: a.log,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("streams: %w", err)
	}
	rt := &runningTask{t: t, dir: dir, persistent: persistent, changelogEnd: make(map[string]int64)}
	var targets []restoreTarget
	for _, c := range t.Changelogs() {
		from := int64(0)
		if c.Inner.Persistent() {
			if off, ok := checkpoint[c.Topic]; ok {
				from = off
			}
		}
		rt.changelogEnd[c.Topic] = from
		targets = append(targets, restoreTarget{topic: c.Topic, partition: id.Partition, from: from, inner: c.Inner})
	}
	return rt, targets, nil
}

// localTasks lists the tasks with a checkpoint under the state directory,
// for the assignor's stickiness after a restart.
func (a *App) localTasks() []processor.TaskID {
	entries, err := os.ReadDir(filepath.Join(a.cfg.StateDir, a.cfg.ApplicationID))
	if err != nil {
		return nil
	}
	var ids []processor.TaskID
	for _, e := range entries {
		if id, ok := parseTaskID(e.Name()); ok {
			if _, err := os.Stat(filepath.Join(a.cfg.StateDir, a.cfg.ApplicationID, e.Name(), checkpointFile)); err == nil {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// shutdown commits (on a clean stop) and closes every task.
func (a *App) shutdown(clean bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.setState(PendingShutdown)
	a.closing = true
	if a.eos.on {
		return a.shutdownEOS(clean)
	}
	var err error
	if clean && len(a.tasks) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = a.commit(ctx, a.tasks)
		cancel()
	}
	for id, rt := range a.tasks {
		a.closeTask(id, rt)
	}
	for id, rt := range a.suspended {
		a.closeTask(id, rt)
	}
	return err
}

// startGlobals opens each global store, fills it to the end of its topic,
// and keeps it up to date in its own goroutine.
func (a *App) startGlobals(ctx context.Context, wg *sync.WaitGroup, errs chan error) error {
	for i, g := range a.topo.GlobalStores() {
		sub := a.topo.GlobalSubtopology(i)
		id := processor.TaskID{Subtopology: sub.ID, Partition: -1}
		dir := filepath.Join(a.cfg.StateDir, a.cfg.ApplicationID, "global", g.Builder.Name())
		// Global stores are rebuilt from their topic at each start.
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("streams: global store %s: %w", g.Builder.Name(), err)
		}
		gt, err := task.New(task.Config{ID: id, AppID: a.cfg.ApplicationID, Topology: a.topo, Sub: sub, Dir: dir,
			Collector: a, Timestamps: a.cfg.TimestampExtractor, OnDeserialize: a.cfg.DeserializationHandler,
			OnProcessError: a.cfg.ProcessingHandler, Log: a.log})
		if err != nil {
			return fmt.Errorf("streams: %w", err)
		}
		if err := gt.Init(); err != nil {
			gt.Close()
			return fmt.Errorf("streams: %w", err)
		}
		s, _ := gt.Store(g.Builder.Name())
		a.mu.Lock()
		a.globals[g.Builder.Name()] = s
		a.mu.Unlock()
		ready := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer gt.Close()
			if err := runGlobal(ctx, a.adm, a.baseOpts(), g.Topic, gt, ready, a.eos.on); err != nil {
				errs <- err
			}
		}()
		select {
		case <-ready:
		case err := <-errs:
			return err
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

func sortedIDs(m map[processor.TaskID]bool) []processor.TaskID {
	ids := make([]processor.TaskID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareTaskIDs)
	return ids
}

// Store finds a store for an interactive query: a global store, or the
// instances of a store in the tasks this instance runs now.
func (a *App) Store(name string) ([]state.Store, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s, ok := a.globals[name]; ok {
		return []state.Store{s}, nil
	}
	if _, ok := a.topo.Store(name); !ok {
		return nil, fmt.Errorf("streams: no store %s in the topology", name)
	}
	var out []state.Store
	for _, rt := range a.tasks {
		if s, ok := rt.t.Store(name); ok {
			out = append(out, s)
		}
	}
	return out, nil
}
