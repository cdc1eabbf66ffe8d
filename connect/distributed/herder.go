package distributed

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/logging"
	"github.com/sluicehq/sluice/connect/runtime"
)

// Herder runs this worker's share of the cluster's connectors and tasks,
// and serves the REST API for the whole cluster.
//
// Three goroutines change what runs here, one at a time under workMu: the
// group member (an assignment arrives, or the membership was lost), the
// reconciler (the config topic changed: configs, target states, restart
// requests; or a connector asked for new task configs), and shutdown.
// Each brings what runs in line with the assignment and the latest config
// snapshot (reconcileLocked).
type Herder struct {
	reg      *connect.Registry
	worker   *runtime.Herder
	wcfg     *configdef.Values
	workerID string // host:port, in statuses
	url      string // http://host:port/, in the group metadata
	log      *slog.Logger
	levels   *logging.Levels

	configs  *configStore
	statuses *statusStore
	offsets  *offsetStore
	member   *groupMember
	assignor assignor
	maxDelay time.Duration
	syncWait time.Duration

	poke chan struct{}

	// mu guards what the REST API reads of the group.
	mu          sync.Mutex
	clusterID   string
	ready       bool
	rebalancing bool
	generation  int32
	memberID    string
	leaderURL   string
	isLeader    bool
	ownerURL    map[item]string // the leader's: who runs what
	leaderGen   int32           // generation of the last assignment this worker computed
	reconf      map[string]bool // connectors that asked for new task configs

	workMu   sync.Mutex
	stopping bool
	owned    map[item]bool
	conns    map[string]*connInstance
	tasks    map[item]*taskInstance
	applied  *configSnapshot // the snapshot the last reconcile acted on
	restarts int64           // offset of the last restart request handled
	submits  map[string][]map[string]string
}

// connInstance is a connector instance this worker runs (or holds stopped
// or failed).
type connInstance struct {
	name      string
	props     map[string]string
	conn      connect.Connector
	started   bool
	state     runtime.State
	submitted []map[string]string // task configs last sent to the leader
	needTasks bool                // task configs must be computed again
}

// taskInstance is a task this worker runs, or one that failed to start.
type taskInstance struct {
	task      *runtime.Task // nil when it failed to start
	config    map[string]string
	connProps map[string]string
}

func (t *taskInstance) failed() bool {
	if t.task == nil {
		return true
	}
	st, _ := t.task.State()
	return st == runtime.StateFailed
}

func (h *Herder) gen() int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.generation
}

// pokeReconcile asks the reconciler to look again.
func (h *Herder) pokeReconcile() {
	select {
	case h.poke <- struct{}{}:
	default:
	}
}

// configChanged is called by the config topic's reader.
func (h *Herder) configChanged(string) { h.pokeReconcile() }

// reconciler acts on config changes until ctx is done.
func (h *Herder) reconciler(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.poke:
		}
		h.workMu.Lock()
		if !h.stopping {
			h.reconcileLocked(ctx)
		}
		subs := h.submits
		h.submits = map[string][]map[string]string{}
		h.workMu.Unlock()
		for name, cfgs := range subs {
			if err := h.submitTaskConfigs(ctx, name, cfgs); err != nil {
				if ctx.Err() != nil {
					return
				}
				h.log.Warn("connect: sending task configs to the leader failed; will retry", "connector", name, "error", err)
				h.workMu.Lock()
				if inst := h.conns[name]; inst != nil {
					inst.submitted = nil
					inst.needTasks = true
				}
				h.workMu.Unlock()
				time.AfterFunc(time.Second, h.pokeReconcile)
			}
		}
	}
}

// reconcileLocked brings the work running here in line with the
// assignment and the latest config snapshot.
func (h *Herder) reconcileLocked(ctx context.Context) {
	snap := h.configs.snapshot()
	rejoin := h.workChanged(snap)
	h.applied = snap

	h.mu.Lock()
	reconf := h.reconf
	h.reconf = map[string]bool{}
	h.mu.Unlock()

	// Connectors.
	for it := range h.owned {
		if !it.isConnector() {
			continue
		}
		name := it.Connector
		props, exists := snap.Connectors[name]
		inst := h.conns[name]
		if !exists {
			if inst != nil {
				h.stopConnector(inst, runtime.StateUnassigned)
				delete(h.conns, name)
			}
			delete(h.owned, it)
			h.statuses.remove(name)
			h.statuses.resetTopics(name)
			rejoin = true
			continue
		}
		target := snap.target(name)
		if inst != nil && !maps.Equal(inst.props, props) {
			h.log.Info("connect: connector config changed; restarting the connector", "connector", name)
			h.stopConnector(inst, runtime.StateUnassigned)
			inst = nil
		}
		if inst == nil {
			inst = h.startConnector(name, props, target)
			h.conns[name] = inst
		}
		h.applyTarget(inst, target)
		if reconf[name] || snap.Inconsistent[name] {
			inst.needTasks = true
		}
		if inst.started && target == targetStarted && inst.state == runtime.StateRunning && inst.needTasks {
			inst.needTasks = false
			h.taskConfigs(inst, snap)
		}
	}

	// Tasks.
	for it := range h.owned {
		if it.isConnector() {
			continue
		}
		connProps, exists := snap.Connectors[it.Connector]
		cfg, ok := snap.Tasks[it]
		ok = ok && exists && int(it.Task) < snap.TaskCounts[it.Connector] && !snap.Inconsistent[it.Connector]
		t := h.tasks[it]
		if !ok {
			// The connector was deleted or has fewer tasks now.
			if t != nil {
				h.stopTasks([]item{it})
			}
			if !exists {
				h.statuses.log.sendAsync(fmt.Sprintf("status-task-%s-%d", it.Connector, it.Task), nil)
			}
			delete(h.owned, it)
			rejoin = true
			continue
		}
		target := snap.target(it.Connector)
		if t != nil && (!maps.Equal(t.config, cfg) || !maps.Equal(t.connProps, connProps)) {
			h.log.Info("connect: task config changed; restarting the task", "connector", it.Connector, "task", it.Task)
			h.stopTasks([]item{it})
			t = nil
		}
		if t == nil {
			if target == targetStopped {
				continue // its connector is stopping; the empty task configs follow
			}
			h.startTask(ctx, it, connProps, cfg, target == targetPaused)
			continue
		}
		if t.task != nil {
			if target == targetStarted {
				t.task.Resume()
			} else {
				t.task.Pause()
			}
		}
	}

	// Restart requests.
	for _, r := range h.configs.restartsAfter(h.restarts) {
		h.restarts = r.Offset
		h.restartLocked(ctx, r, snap)
	}
	if rejoin {
		h.member.requestRejoin()
	}
}

// workChanged reports whether the work the config topic describes changed
// since the last reconcile: the leader must then assign again.
func (h *Herder) workChanged(snap *configSnapshot) bool {
	if h.applied == nil {
		return false
	}
	return !slices.Equal(h.applied.work(), snap.work())
}

// restartLocked handles a restart request for what runs here.
func (h *Herder) restartLocked(ctx context.Context, r restartRequest, snap *configSnapshot) {
	props, exists := snap.Connectors[r.Connector]
	if !exists {
		return
	}
	failed := func(inst *connInstance) bool {
		// A connector that raised an error shows FAILED in the status
		// topic only.
		st, _ := h.statuses.connector(r.Connector)
		return inst.state == runtime.StateFailed || (st.State == string(runtime.StateFailed) && st.WorkerID == h.workerID)
	}
	if inst := h.conns[r.Connector]; inst != nil && (!r.OnlyFailed || failed(inst)) {
		h.log.Info("connect: restarting connector", "connector", r.Connector)
		h.statuses.putConnector(r.Connector, string(runtime.StateRestarting), "", h.workerID, h.gen())
		h.stopConnector(inst, runtime.StateUnassigned)
		inst = h.startConnector(r.Connector, props, snap.target(r.Connector))
		h.conns[r.Connector] = inst
		h.applyTarget(inst, snap.target(r.Connector))
		if inst.started && inst.state == runtime.StateRunning {
			h.taskConfigs(inst, snap)
		}
	}
	if !r.IncludeTasks {
		return
	}
	for it, t := range h.tasks {
		if it.Connector != r.Connector || (r.OnlyFailed && !t.failed()) {
			continue
		}
		h.restartTaskLocked(ctx, it, snap)
	}
}

// restartTaskLocked stops and starts a task that runs here.
func (h *Herder) restartTaskLocked(ctx context.Context, it item, snap *configSnapshot) {
	h.log.Info("connect: restarting task", "connector", it.Connector, "task", it.Task)
	h.statuses.putTask(it, string(runtime.StateRestarting), "", h.workerID, h.gen())
	h.stopTasks([]item{it})
	if cfg, ok := snap.Tasks[it]; ok && h.owned[it] {
		h.startTask(ctx, it, snap.Connectors[it.Connector], cfg, snap.target(it.Connector) == targetPaused)
	}
}

// connectorContext is what a connector sees of this worker.
type connectorContext struct {
	h    *Herder
	name string
}

func (c connectorContext) RequestTaskReconfiguration() {
	c.h.mu.Lock()
	c.h.reconf[c.name] = true
	c.h.mu.Unlock()
	c.h.pokeReconcile()
}

func (c connectorContext) RaiseError(err error) {
	c.h.log.Error("connect: connector raised an error", "connector", c.name, "error", err)
	c.h.statuses.putConnector(c.name, string(runtime.StateFailed), err.Error(), c.h.workerID, c.h.gen())
}

// startConnector starts a connector instance, unless it is to be stopped;
// a connector that fails to start is kept, FAILED, until restarted.
func (h *Herder) startConnector(name string, props map[string]string, target targetState) *connInstance {
	inst := &connInstance{name: name, props: props, needTasks: true}
	fail := func(err error) *connInstance {
		h.log.Error("connect: connector failed to start", "connector", name, "error", err)
		inst.state = runtime.StateFailed
		h.statuses.putConnector(name, string(runtime.StateFailed), err.Error(), h.workerID, h.gen())
		return inst
	}
	conn, plugin, err := h.reg.NewConnector(props[runtime.ConnectorClass])
	if err != nil {
		return fail(err)
	}
	if _, err := runtime.ConnectorConfig(plugin.Type == connect.SinkPlugin).Merge(conn.Config()).Parse(props); err != nil {
		return fail(err)
	}
	inst.conn = conn
	if target == targetStopped {
		inst.state = runtime.StateStopped
		h.statuses.putConnector(name, string(runtime.StateStopped), "", h.workerID, h.gen())
		return inst
	}
	if err := conn.Start(connectorContext{h, name}, maps.Clone(props)); err != nil {
		return fail(err)
	}
	inst.started = true
	inst.state = runtime.StateRunning
	if target == targetPaused {
		inst.state = runtime.StatePaused
	}
	h.statuses.putConnector(name, string(inst.state), "", h.workerID, h.gen())
	h.log.Info("connect: connector started", "connector", name, "class", plugin.Class, "state", inst.state)
	return inst
}

// applyTarget moves a connector instance to its target state.
func (h *Herder) applyTarget(inst *connInstance, target targetState) {
	if inst.state == runtime.StateFailed {
		return
	}
	want := map[targetState]runtime.State{targetStarted: runtime.StateRunning, targetPaused: runtime.StatePaused, targetStopped: runtime.StateStopped}[target]
	if target == targetStopped && inst.started {
		h.stopConnector(inst, runtime.StateStopped)
		return
	}
	if target != targetStopped && !inst.started {
		if err := inst.conn.Start(connectorContext{h, inst.name}, maps.Clone(inst.props)); err != nil {
			inst.state = runtime.StateFailed
			h.statuses.putConnector(inst.name, string(runtime.StateFailed), err.Error(), h.workerID, h.gen())
			return
		}
		inst.started, inst.needTasks = true, true
	}
	if inst.state != want {
		h.log.Info("connect: connector state", "connector", inst.name, "state", want)
		inst.state = want
		h.statuses.putConnector(inst.name, string(want), "", h.workerID, h.gen())
	}
}

// stopConnector stops a connector instance and shows state.
func (h *Herder) stopConnector(inst *connInstance, state runtime.State) {
	if inst.started {
		if err := inst.conn.Stop(); err != nil {
			h.log.Warn("connect: connector stop failed", "connector", inst.name, "error", err)
		}
		inst.started = false
	}
	inst.state = state
	inst.submitted = nil
	h.statuses.putConnector(inst.name, string(state), "", h.workerID, h.gen())
}

// taskConfigs asks a running connector for its task configs and queues
// them for the leader when they differ from those committed.
func (h *Herder) taskConfigs(inst *connInstance, snap *configSnapshot) {
	cfg, err := runtime.ConnectorConfig(false).Parse(inst.props)
	if err != nil {
		return
	}
	cfgs, err := inst.conn.TaskConfigs(int(cfg.Int(runtime.TasksMax)))
	if err == nil && len(cfgs) > int(cfg.Int(runtime.TasksMax)) {
		err = fmt.Errorf("the connector returned %d task configs, more than tasks.max=%d", len(cfgs), cfg.Int(runtime.TasksMax))
	}
	if err != nil {
		h.log.Error("connect: connector failed to give task configs", "connector", inst.name, "error", err)
		inst.state = runtime.StateFailed
		h.statuses.putConnector(inst.name, string(runtime.StateFailed), err.Error(), h.workerID, h.gen())
		return
	}
	same := func(a, b []map[string]string) bool {
		return slices.EqualFunc(a, b, func(x, y map[string]string) bool { return maps.Equal(x, y) })
	}
	if !snap.Inconsistent[inst.name] && same(cfgs, snap.taskConfigs(inst.name)) {
		return
	}
	if inst.submitted != nil && same(cfgs, inst.submitted) {
		return // already on its way
	}
	if cfgs == nil {
		cfgs = []map[string]string{}
	}
	inst.submitted = cfgs
	h.submits[inst.name] = cfgs
	h.log.Info("connect: connector produced new task configs", "connector", inst.name, "tasks", len(cfgs))
}

// startTask starts a task; a task that cannot start is kept FAILED until
// restarted.
func (h *Herder) startTask(ctx context.Context, it item, connProps, cfg map[string]string, paused bool) {
	ti := &taskInstance{config: cfg, connProps: connProps}
	h.tasks[it] = ti
	var txn *runtime.Transactional
	if _, plugin, err := h.reg.NewConnector(connProps[runtime.ConnectorClass]); err == nil && plugin.Type == connect.SourcePlugin {
		// The task must see the offsets its last worker stored. An
		// exactly-once task reads them itself, once it has fenced the
		// producer it replaces.
		if txn = h.transactional(it); txn == nil {
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := h.offsets.log.readToEnd(rctx)
			cancel()
			if err != nil {
				h.log.Warn("connect: reading the offset topic to its end failed; the task starts from what was read", "error", err)
			}
		}
	}
	t, err := h.worker.StartTask(runtime.TaskSpec{
		Connector: it.Connector, ID: int(it.Task), ConnectorConfig: connProps, TaskConfig: cfg, Paused: paused,
		OnState: func(st runtime.State, trace string) {
			h.statuses.putTask(it, string(st), trace, h.workerID, h.gen())
		},
		OnTopic:       func(topic string) { h.statuses.putTopic(it.Connector, topic, int(it.Task)) },
		Transactional: txn,
	})
	if err != nil {
		h.log.Error("connect: task failed to start", "connector", it.Connector, "task", it.Task, "error", err)
		h.statuses.putTask(it, string(runtime.StateFailed), err.Error(), h.workerID, h.gen())
		return
	}
	ti.task = t
}

// stopTasks stops tasks in parallel, each within the graceful timeout.
func (h *Herder) stopTasks(its []item) {
	timeout := h.wcfg.Duration(runtime.TaskShutdownTimeout) + h.wcfg.Duration(runtime.OffsetFlushTimeout)
	var wg sync.WaitGroup
	for _, it := range its {
		t := h.tasks[it]
		delete(h.tasks, it)
		if t == nil || t.task == nil {
			continue
		}
		wg.Go(func() {
			if !t.task.Stop(timeout) {
				h.log.Error("connect: graceful stop of a task timed out", "connector", it.Connector, "task", it.Task, "timeout", timeout)
			}
		})
	}
	wg.Wait()
}

// stopWork stops the given work (revoked, or everything).
func (h *Herder) stopWork(its []item) {
	var tasks []item
	for _, it := range its {
		if it.isConnector() {
			if inst := h.conns[it.Connector]; inst != nil {
				h.stopConnector(inst, runtime.StateUnassigned)
				delete(h.conns, it.Connector)
			}
		} else {
			tasks = append(tasks, it)
		}
		delete(h.owned, it)
	}
	h.stopTasks(tasks)
}

func (h *Herder) ownedList() []item {
	out := make([]item, 0, len(h.owned))
	for it := range h.owned {
		out = append(out, it)
	}
	sortItems(out)
	return out
}

// The group member's callbacks.

func (h *Herder) metadata() *memberMetadata {
	h.mu.Lock()
	h.rebalancing = true
	h.mu.Unlock()
	h.workMu.Lock()
	defer h.workMu.Unlock()
	return &memberMetadata{URL: h.url, ConfigOffset: h.configs.snapshot().Offset, Owned: h.ownedList()}
}

func (h *Herder) assign(ctx context.Context, generation int32, leaderID string, joined []kmsg.JoinGroupResponseMember) (map[string]*assignment, error) {
	rctx, cancel := context.WithTimeout(ctx, h.syncWait)
	err := h.configs.log.readToEnd(rctx)
	cancel()
	snap := h.configs.snapshot()
	members := make([]member, 0, len(joined))
	urls := map[string]string{}
	mismatch := err != nil
	for _, j := range joined {
		md, derr := decodeMetadata(j.ProtocolMetadata)
		if derr != nil {
			h.log.Warn("connect: a worker's group metadata is unreadable; it gets no work", "member", j.MemberID, "error", derr)
			md = &memberMetadata{}
		}
		if md.ConfigOffset > snap.Offset {
			mismatch = true
		}
		members = append(members, member{ID: j.MemberID, URL: md.URL, Owned: md.Owned})
		urls[j.MemberID] = md.URL
	}
	out := map[string]*assignment{}
	if mismatch {
		// This leader is behind a member: everyone rejoins once it has
		// caught up.
		h.log.Warn("connect: the leader could not read the config topic as far as a member; rebalancing again", "error", err)
		for _, m := range members {
			out[m.ID] = &assignment{Error: errConfigMismatch, Leader: leaderID, LeaderURL: h.url, ConfigOffset: snap.Offset}
		}
		return out, nil
	}
	h.mu.Lock()
	if h.leaderGen != generation-1 {
		h.assignor = assignor{} // what an earlier leader gave is unknown here
	}
	h.leaderGen = generation
	h.mu.Unlock()
	res := h.assignor.assign(members, snap.work(), time.Now(), h.maxDelay)
	owners := map[item]string{}
	for _, m := range members {
		r := res[m.ID]
		for _, it := range m.Owned {
			if !slices.Contains(r.Revoked, it) {
				owners[it] = urls[m.ID]
			}
		}
		for _, it := range r.Assigned {
			owners[it] = urls[m.ID]
		}
		out[m.ID] = &assignment{Leader: leaderID, LeaderURL: h.url, ConfigOffset: snap.Offset,
			Assigned: r.Assigned, Revoked: r.Revoked, Delay: int32(r.Delay.Milliseconds())}
		if len(r.Assigned)+len(r.Revoked) > 0 || r.Delay > 0 {
			h.log.Info("connect: assignment", "generation", generation, "member", urls[m.ID],
				"assigned", fmt.Sprint(r.Assigned), "revoked", fmt.Sprint(r.Revoked), "delay", r.Delay)
		}
	}
	h.mu.Lock()
	h.ownerURL = owners
	h.mu.Unlock()
	return out, nil
}

func (h *Herder) assigned(ctx context.Context, generation int32, memberID string, a *assignment) {
	h.mu.Lock()
	h.generation, h.memberID, h.leaderURL = generation, memberID, a.LeaderURL
	h.isLeader = a.Leader == memberID
	h.rebalancing = a.Error != errNone
	if !h.isLeader {
		h.ownerURL = nil
	}
	h.mu.Unlock()
	if a.Error != errNone {
		rctx, cancel := context.WithTimeout(ctx, h.syncWait)
		_ = h.configs.log.readToEnd(rctx)
		cancel()
		return
	}
	if a.ConfigOffset >= 0 {
		rctx, cancel := context.WithTimeout(ctx, h.syncWait)
		err := h.configs.log.waitApplied(rctx, 0, a.ConfigOffset)
		cancel()
		if err != nil {
			h.log.Warn("connect: this worker could not read the config topic as far as the leader; rejoining", "error", err)
			h.member.requestRejoin()
			return
		}
	}
	h.workMu.Lock()
	defer h.workMu.Unlock()
	if h.stopping {
		return
	}
	if len(a.Revoked) > 0 {
		h.log.Info("connect: stopping revoked work", "generation", generation, "revoked", fmt.Sprint(a.Revoked))
		h.stopWork(a.Revoked)
	}
	for _, it := range a.Assigned {
		h.owned[it] = true
	}
	h.log.Info("connect: joined the group", "generation", generation, "leader", a.LeaderURL, "assigned", fmt.Sprint(a.Assigned),
		"running", len(h.owned))
	h.reconcileLocked(ctx)
	if len(h.submits) > 0 {
		h.pokeReconcile()
	}
}

func (h *Herder) lost() {
	h.workMu.Lock()
	defer h.workMu.Unlock()
	h.stopWork(h.ownedList())
	h.mu.Lock()
	h.rebalancing = true
	h.mu.Unlock()
}

// stopAll stops everything for shutdown; nothing starts afterwards.
func (h *Herder) stopAll() {
	h.workMu.Lock()
	defer h.workMu.Unlock()
	h.stopping = true
	h.stopWork(h.ownedList())
}
