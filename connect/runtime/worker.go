package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/offsets"
)

// This file is what a distributed worker (package distributed) uses of the
// runtime: it decides itself which connectors and tasks run here, and asks
// the Herder to run single tasks, pause and resume them, with its own
// offset store and status reporting.

// OffsetStore keeps source offsets. The standalone worker's is the offsets
// file (*offsets.FileStore); a distributed worker's is a Kafka topic.
type OffsetStore interface {
	// Get returns a partition's stored offset, nil if none.
	Get(connector string, partition map[string]any) (map[string]any, error)
	// Set records offsets; Flush makes them durable.
	Set(connector string, entries []offsets.Entry) error
	// Flush stores what Set recorded. An error leaves them to the next
	// Flush.
	Flush() error
	// Entries returns a connector's stored offsets.
	Entries(connector string) []offsets.Entry
}

var _ OffsetStore = (*offsets.FileStore)(nil)

// WorkerValues returns the worker's parsed settings.
func (h *Herder) WorkerValues() *configdef.Values { return h.wcfg }

// Log returns the worker's logger.
func (h *Herder) Log() *slog.Logger { return h.log }

// AdminOptions returns the options of an admin client for a connector
// (its admin.override.* settings applied as the policy allows), or of the
// worker when conn is nil.
func (h *Herder) AdminOptions(conn map[string]string) ([]kgo.Opt, error) {
	return h.clientOpts(adminClient, conn)
}

// TaskSpec describes one task for StartTask.
type TaskSpec struct {
	Connector string
	ID        int
	// ConnectorConfig is the connector's config: converters, transforms,
	// error handling and client overrides come from it.
	ConnectorConfig map[string]string
	// TaskConfig is what the connector's TaskConfigs gave this task.
	TaskConfig map[string]string
	// Paused starts the task paused.
	Paused bool
	// OnState hears each change of the task's state.
	OnState func(state State, trace string)
	// OnTopic hears each topic the task uses, the first time.
	OnTopic func(topic string)
	// Transactional, for a source task, makes it exactly-once.
	Transactional *Transactional
}

// Task is one task started by StartTask.
type Task struct {
	tr   *taskRun
	gate *pauseGate
}

// StartTask starts one task of a connector whose connector instance may
// run in another worker. A connector config that does not parse is an
// error; a task that fails later reports FAILED through OnState.
func (h *Herder) StartTask(spec TaskSpec) (*Task, error) {
	conn, plugin, err := h.reg.NewConnector(spec.ConnectorConfig[ConnectorClass])
	if err != nil {
		return nil, fmt.Errorf("connector %s: %s: %w", spec.Connector, ConnectorClass, err)
	}
	cfg, err := ConnectorConfig(plugin.Type == connect.SinkPlugin).Merge(conn.Config()).Parse(spec.ConnectorConfig)
	if err != nil {
		return nil, &connect.ConfigError{Msg: "connector " + spec.Connector, Err: err}
	}
	ctx, cancel := context.WithCancel(h.ctx)
	cr := &connectorRun{h: h, name: spec.Connector, props: maps.Clone(spec.ConnectorConfig), cfg: cfg, plugin: plugin, conn: conn,
		topics: &topicSet{notify: spec.OnTopic}, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	st := &taskStatus{state: StateUnassigned, notify: spec.OnState}
	tr := &taskRun{id: spec.ID, config: maps.Clone(spec.TaskConfig), status: st, cancel: cancel, done: make(chan struct{}), txn: spec.Transactional}
	tr.gate = &pauseGate{status: st, resumed: make(chan struct{})}
	if spec.Paused {
		tr.gate.pause()
	}
	cr.tasks = []*taskRun{tr}
	go cr.runTask(ctx, tr, h.log.With("connector", spec.Connector, "task", spec.ID))
	return &Task{tr: tr, gate: tr.gate}, nil
}

// Pause stops the task from polling (a source) or consuming (a sink) until
// Resume; it shows PAUSED once it has stopped.
func (t *Task) Pause() { t.gate.pause() }

// Resume undoes Pause.
func (t *Task) Resume() { t.gate.resume() }

// State returns the task's state and, when it failed, why.
func (t *Task) State() (State, string) { return t.tr.status.get() }

// Done is closed when the task has stopped or failed.
func (t *Task) Done() <-chan struct{} { return t.tr.done }

// Stop stops the task gracefully (a source stores its offsets, a sink
// commits) and waits up to timeout; it reports whether the task stopped
// in time.
func (t *Task) Stop(timeout time.Duration) bool {
	t.tr.cancel()
	select {
	case <-t.tr.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// pauseGate holds a task's loop while the task is paused. A nil gate never
// holds (the standalone worker does not pause).
type pauseGate struct {
	status *taskStatus

	mu      sync.Mutex
	paused  bool
	resumed chan struct{}  // closed at Resume
	watch   map[int]func() // called at Pause
	nextID  int
}

func (g *pauseGate) pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused {
		return
	}
	g.paused = true
	g.resumed = make(chan struct{})
	for _, f := range g.watch {
		f()
	}
	clear(g.watch)
}

func (g *pauseGate) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused {
		g.paused = false
		close(g.resumed)
	}
}

// isPaused reports whether the gate is shut.
func (g *pauseGate) isPaused() bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused
}

// onPause calls f when the task is paused (at once when it already is);
// the returned function cancels that.
func (g *pauseGate) onPause(f func()) (cancel func()) {
	if g == nil {
		return func() {}
	}
	g.mu.Lock()
	if g.paused {
		g.mu.Unlock()
		f()
		return func() {}
	}
	if g.watch == nil {
		g.watch = map[int]func(){}
	}
	id := g.nextID
	g.nextID++
	g.watch[id] = f
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		delete(g.watch, id)
		g.mu.Unlock()
	}
}

// wait blocks while the task is paused, showing PAUSED, and shows RUNNING
// again at Resume. It returns early when ctx is done.
func (g *pauseGate) wait(ctx context.Context) {
	if g == nil {
		return
	}
	g.mu.Lock()
	paused, resumed := g.paused, g.resumed
	g.mu.Unlock()
	if !paused {
		return
	}
	g.status.set(StatePaused, "")
	select {
	case <-resumed:
		g.status.set(StateRunning, "")
	case <-ctx.Done():
	}
}
