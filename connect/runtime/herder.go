package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/logging"
	"github.com/sluicehq/sluice/connect/offsets"
)

// State is a connector's or task's state, as the REST API shows it.
type State string

// The states.
const (
	StateUnassigned State = "UNASSIGNED"
	StateRunning    State = "RUNNING"
	StateFailed     State = "FAILED"
	StateStopped    State = "STOPPED"
	// StatePaused and StateRestarting are shown by distributed workers.
	StatePaused     State = "PAUSED"
	StateRestarting State = "RESTARTING"
)

// taskStatus is a connector's or task's state and, when it failed, why.
type taskStatus struct {
	mu    sync.Mutex
	state State
	trace string
	// notify, when set, hears every change (a distributed worker writes
	// it to the status topic).
	notify func(State, string)
}

func (s *taskStatus) set(st State, trace string) {
	s.mu.Lock()
	s.state, s.trace = st, trace
	notify := s.notify
	s.mu.Unlock()
	if notify != nil {
		notify(st, trace)
	}
}

func (s *taskStatus) get() (State, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state, s.trace
}

// topicSet is the topics a connector used (its "active topics").
type topicSet struct {
	mu sync.Mutex
	m  map[string]bool
	// notify, when set, hears each topic the first time.
	notify func(string)
}

func (s *topicSet) add(t string) {
	s.mu.Lock()
	if s.m == nil {
		s.m = map[string]bool{}
	}
	seen := s.m[t]
	s.m[t] = true
	s.mu.Unlock()
	if !seen && s.notify != nil {
		s.notify(t)
	}
}

func (s *topicSet) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.m))
	for t := range s.m {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Options configure a Herder.
type Options struct {
	// Registry holds the plugins connectors may use.
	Registry *connect.Registry
	// Worker is the worker's settings (WorkerConfig and client settings).
	Worker map[string]string
	// WorkerID names this worker in statuses: the REST listener's
	// advertised host:port.
	WorkerID string
	Log      *slog.Logger
	// Config describes the worker's settings; WorkerConfig() when nil. A
	// distributed worker has its own.
	Config *configdef.Def
	// Offsets stores source offsets; when nil, the file
	// offset.storage.file.filename (standalone mode).
	Offsets OffsetStore
	// ExactlyOnceSource is set when the worker runs exactly-once sources
	// (exactly.once.source.support=enabled): validation then checks the
	// connectors' exactly.once.support and transaction.boundary.
	ExactlyOnceSource bool
	// Loggers is the level table Log's handler consults
	// (logging.Levels.Handler), served at /admin/loggers; nil when the
	// levels cannot be changed.
	Loggers *logging.Levels
}

// LoggerLevels returns the worker's level table, nil if it has none.
func (h *Herder) LoggerLevels() *logging.Levels { return h.levels }

// Herder runs connectors in one process (standalone mode): it validates
// their configs, starts them and their tasks, keeps their status, and
// stops them. Connector configs live only in memory: they come from the
// command line at each start.
type Herder struct {
	reg      *connect.Registry
	worker   map[string]string
	wcfg     *configdef.Values
	workerID string
	log      *slog.Logger
	store    OffsetStore
	eos      bool
	levels   *logging.Levels
	base     []kgo.Opt
	producer map[string]string
	consumer map[string]string
	admin    map[string]string

	ctx       context.Context
	cancel    context.CancelFunc
	clusterID string

	mu         sync.Mutex
	connectors map[string]*connectorRun
}

// connectorRun is one running connector.
type connectorRun struct {
	h       *Herder
	name    string
	props   map[string]string
	cfg     *configdef.Values
	plugin  connect.Plugin
	conn    connect.Connector
	status  taskStatus
	topics  *topicSet
	ctx     context.Context
	cancel  context.CancelFunc
	reconf  chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	tasks   []*taskRun
	started bool
}

type taskRun struct {
	id     int
	config map[string]string
	status *taskStatus
	cancel context.CancelFunc
	done   chan struct{}
	// gate pauses the task (distributed mode); nil in standalone mode.
	gate *pauseGate
	// txn makes a source task exactly-once (distributed mode).
	txn *Transactional
}

// NewHerder checks the worker's settings, opens the offsets file, and
// looks up the Kafka cluster's id, which fails when the cluster cannot be
// reached.
func NewHerder(ctx context.Context, o Options) (*Herder, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Config == nil {
		o.Config = WorkerConfig()
	}
	wcfg, err := o.Config.Parse(o.Worker)
	if err != nil {
		return nil, &connect.ConfigError{Msg: "worker config", Err: err}
	}
	for k := range o.Worker {
		if _, ok := o.Config.Key(k); !ok && !isKnownPrefixed(k) {
			o.Log.Warn("connect: unknown worker setting, ignored", "setting", k)
		}
	}
	if len(wcfg.List(PluginPath)) > 0 {
		o.Log.Info("connect: plugin.path is ignored: plugins are compiled into this binary", "plugin.path", strings.Join(wcfg.List(PluginPath), ","))
	}
	h := &Herder{
		reg: o.Registry, worker: o.Worker, wcfg: wcfg, workerID: o.WorkerID, log: o.Log.With(logging.Key, "connect.runtime"), levels: o.Loggers,
		producer: prefixed(o.Worker, "producer."), consumer: prefixed(o.Worker, "consumer."), admin: prefixed(o.Worker, "admin."),
		connectors: map[string]*connectorRun{}, eos: o.ExactlyOnceSource,
	}
	clientID := wcfg.String(ClientID)
	h.base = []kgo.Opt{kgo.SeedBrokers(wcfg.List(BootstrapServers)...)}
	if clientID != "" {
		h.base = append(h.base, kgo.ClientID(clientID))
	}
	// The default converters must exist and accept their settings.
	if _, err := newConverters(h.reg, h.worker, nil); err != nil {
		return nil, &connect.ConfigError{Msg: "worker config", Err: err}
	}
	if o.Offsets != nil {
		h.store = o.Offsets
	} else if h.store, err = offsets.Open(wcfg.String(OffsetStorageFile)); err != nil {
		return nil, err
	}
	adminOpts, err := h.clientOpts(adminClient, nil)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(adminOpts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).BrokerMetadata(mctx)
	if err != nil {
		return nil, fmt.Errorf("reach the Kafka cluster at %s: %w", strings.Join(wcfg.List(BootstrapServers), ","), err)
	}
	h.clusterID = md.Cluster
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.log.Info("connect: worker ready", "kafka_cluster_id", h.clusterID, "worker_id", h.workerID)
	return h, nil
}

// clientOpts returns the options of one kind of client: the worker's
// bootstrap servers, its producer./consumer./admin. settings, then the
// connector's producer.override./consumer.override./admin.override.
// settings as the override policy allows.
func (h *Herder) clientOpts(kind clientKind, conn map[string]string) ([]kgo.Opt, error) {
	props := map[string]string{}
	prefix := ""
	switch kind {
	case producerClient:
		maps.Copy(props, h.producer)
		prefix = "producer.override."
	case consumerClient:
		maps.Copy(props, h.consumer)
		prefix = "consumer.override."
	default:
		maps.Copy(props, h.admin)
		prefix = "admin.override."
	}
	if over := prefixed(conn, prefix); len(over) > 0 {
		policy := strings.ToLower(h.wcfg.String(ClientConfigOverridePolicy))
		for k, v := range over {
			switch {
			case policy == "all":
			case policy == "principal" && (k == "sasl.jaas.config" || k == "sasl.mechanism" || k == "security.protocol"):
			default:
				return nil, connect.ConfigErrorf("%s%s is not allowed by %s=%s", prefix, k, ClientConfigOverridePolicy, h.wcfg.String(ClientConfigOverridePolicy))
			}
			props[k] = v
		}
	}
	opts, err := ClientOptions(props, kind, h.log)
	if err != nil {
		return nil, err
	}
	return append(slices.Clone(h.base), opts...), nil
}

// AddConnector validates a connector config and starts the connector and
// its tasks. A config that does not validate is an error; a connector that
// fails later shows FAILED in its status.
func (h *Herder) AddConnector(props map[string]string) error {
	name := strings.TrimSpace(props[Name])
	if name == "" {
		return connect.ConfigErrorf("connector config: missing required configuration %q", Name)
	}
	conn, plugin, err := h.reg.NewConnector(props[ConnectorClass])
	if err != nil {
		return fmt.Errorf("connector %s: %s: %w", name, ConnectorClass, err)
	}
	sink := plugin.Type == connect.SinkPlugin
	def := ConnectorConfig(sink).Merge(conn.Config())
	cfg, err := def.Parse(props)
	if err != nil {
		return &connect.ConfigError{Msg: "connector " + name, Err: err}
	}
	if sink {
		topics, regex := cfg.List(Topics), cfg.String(TopicsRegex)
		switch {
		case len(topics) > 0 && regex != "":
			return connect.ConfigErrorf("connector %s: %s and %s are mutually exclusive options, but both are set", name, Topics, TopicsRegex)
		case len(topics) == 0 && regex == "":
			return connect.ConfigErrorf("connector %s: must configure one of %s or %s", name, Topics, TopicsRegex)
		case regex != "":
			re, err := regexp.Compile("^(?:" + regex + ")$")
			if err != nil {
				return connect.ConfigErrorf("connector %s: %s=%s: %v", name, TopicsRegex, regex, err)
			}
			if dlq := cfg.String(DLQTopic); dlq != "" && re.MatchString(dlq) {
				return connect.ConfigErrorf("connector %s: the DLQ topic %s matches %s=%s", name, dlq, TopicsRegex, regex)
			}
		}
		if dlq := cfg.String(DLQTopic); dlq != "" && slices.Contains(topics, dlq) {
			return connect.ConfigErrorf("connector %s: the DLQ topic %s cannot also be a topic the connector consumes", name, dlq)
		}
	}
	// Converters and transforms are checked now, so a bad config fails at
	// once rather than in every task.
	if _, err := newConverters(h.reg, h.worker, props); err != nil {
		return fmt.Errorf("connector %s: %w", name, err)
	}
	if c, err := newChain(h.reg, props); err != nil {
		return fmt.Errorf("connector %s: %w", name, err)
	} else {
		c.close()
	}
	h.mu.Lock()
	if _, dup := h.connectors[name]; dup {
		h.mu.Unlock()
		return connect.ConfigErrorf("connector %s already exists", name)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	cr := &connectorRun{h: h, name: name, props: props, cfg: cfg, plugin: plugin, conn: conn, topics: &topicSet{},
		ctx: ctx, cancel: cancel, reconf: make(chan struct{}, 1), done: make(chan struct{})}
	cr.status.set(StateUnassigned, "")
	h.connectors[name] = cr
	h.mu.Unlock()
	go cr.run()
	return nil
}

// connectorContext is what a connector sees of the worker.
type connectorContext struct{ cr *connectorRun }

func (c connectorContext) RequestTaskReconfiguration() {
	select {
	case c.cr.reconf <- struct{}{}:
	default:
	}
}

func (c connectorContext) RaiseError(err error) {
	c.cr.h.log.Error("connect: connector raised an error", "connector", c.cr.name, "error", err)
	c.cr.status.set(StateFailed, err.Error())
}

// run starts the connector and its tasks, and restarts the tasks when the
// connector asks for it, until the connector is stopped.
func (cr *connectorRun) run() {
	defer close(cr.done)
	log := cr.h.log.With("connector", cr.name)
	if err := cr.conn.Start(connectorContext{cr}, maps.Clone(cr.props)); err != nil {
		log.Error("connect: connector failed to start", "error", err)
		cr.status.set(StateFailed, err.Error())
		return
	}
	cr.mu.Lock()
	cr.started = true
	cr.mu.Unlock()
	cr.status.set(StateRunning, "")
	log.Info("connect: connector started", "class", cr.plugin.Class)
	cr.startTasks(log)
	for {
		select {
		case <-cr.ctx.Done():
			return
		case <-cr.reconf:
			cfgs, err := cr.taskConfigs()
			if err != nil {
				log.Error("connect: task reconfiguration failed", "error", err)
				cr.status.set(StateFailed, err.Error())
				continue
			}
			if !sameConfigs(cfgs, cr.currentConfigs()) {
				log.Info("connect: task configs changed, restarting tasks")
				cr.stopTasks(cr.h.wcfg.Duration(TaskShutdownTimeout))
				cr.startTasks(log)
			}
		}
	}
}

func sameConfigs(a, b []map[string]string) bool {
	return slices.EqualFunc(a, b, func(x, y map[string]string) bool { return maps.Equal(x, y) })
}

func (cr *connectorRun) currentConfigs() []map[string]string {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	out := make([]map[string]string, len(cr.tasks))
	for i, t := range cr.tasks {
		out[i] = t.config
	}
	return out
}

// taskConfigs asks the connector for task configs; each gets the
// connector's own settings under them, as Kafka's worker does not, but
// the task needs its converters' and transforms' settings from the
// connector config, which the worker reads from there.
func (cr *connectorRun) taskConfigs() ([]map[string]string, error) {
	cfgs, err := cr.conn.TaskConfigs(int(cr.cfg.Int(TasksMax)))
	if err != nil {
		return nil, fmt.Errorf("task configs: %w", err)
	}
	if len(cfgs) > int(cr.cfg.Int(TasksMax)) {
		return nil, fmt.Errorf("the connector returned %d task configs, more than tasks.max=%d", len(cfgs), cr.cfg.Int(TasksMax))
	}
	return cfgs, nil
}

func (cr *connectorRun) startTasks(log *slog.Logger) {
	cfgs, err := cr.taskConfigs()
	if err != nil {
		log.Error("connect: connector failed", "error", err)
		cr.status.set(StateFailed, err.Error())
		return
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	cr.tasks = nil
	for i, tc := range cfgs {
		ctx, cancel := context.WithCancel(cr.ctx)
		tr := &taskRun{id: i, config: tc, status: &taskStatus{state: StateUnassigned}, cancel: cancel, done: make(chan struct{})}
		cr.tasks = append(cr.tasks, tr)
		go cr.runTask(ctx, tr, log.With("task", i))
	}
}

// runTask builds and runs one task; its failure is its status.
func (cr *connectorRun) runTask(ctx context.Context, tr *taskRun, log *slog.Logger) {
	defer close(tr.done)
	run, err := cr.newTask(ctx, tr, log)
	if err == nil {
		log.Info("connect: task starting")
		err = run(ctx)
	}
	if err != nil {
		log.Error("connect: task failed; it will not run until restarted", "error", err)
		tr.status.set(StateFailed, err.Error())
		return
	}
	tr.status.set(StateUnassigned, "")
	log.Info("connect: task stopped")
}

// newTask assembles a task with its clients, converters, transforms and
// error handling.
func (cr *connectorRun) newTask(ctx context.Context, tr *taskRun, log *slog.Logger) (func(context.Context) error, error) {
	h := cr.h
	conv, err := newConverters(h.reg, h.worker, cr.props)
	if err != nil {
		return nil, err
	}
	ch, err := newChain(h.reg, cr.props)
	if err != nil {
		return nil, err
	}
	errs := newErrorHandler(cr.name, tr.id, cr.cfg, log)
	interval := h.wcfg.Duration(OffsetFlushInterval)
	clientID := fmt.Sprintf("connector-%s-%s-%d", map[bool]string{true: "consumer", false: "producer"}[cr.plugin.Type == connect.SinkPlugin], cr.name, tr.id)
	if cr.plugin.Type == connect.SourcePlugin {
		task := cr.conn.(connect.SourceConnector).NewTask()
		opts, err := h.clientOpts(producerClient, cr.props)
		if err != nil {
			ch.close()
			return nil, err
		}
		// Kafka's producer defaults (no compression, linger.ms=5) where
		// franz-go's differ; producer.* settings come after and win.
		opts = append([]kgo.Opt{kgo.ClientID(clientID), kgo.ProducerBatchCompression(kgo.NoCompression()),
			kgo.ProducerLinger(5 * time.Millisecond)}, opts...)
		opts = append(opts, kgo.RecordPartitioner(newPartitioner()))
		var txn *txnState
		if tr.txn != nil {
			if txn, err = newTxnState(*tr.txn, cr.cfg, interval); err != nil {
				ch.close()
				return nil, err
			}
			opts = append(opts, kgo.TransactionalID(tr.txn.ID))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			ch.close()
			return nil, fmt.Errorf("producer: %w", err)
		}
		st := &sourceTask{connector: cr.name, id: tr.id, task: task, props: tr.config, conv: conv, chain: ch, errs: errs,
			client: cl, admin: kadm.NewClient(cl), store: h.store, interval: interval, flushWait: h.wcfg.Duration(OffsetFlushTimeout) + h.wcfg.Duration(TaskShutdownTimeout),
			log: log, status: tr.status, topics: cr.topics, sub: newSubmitted(), gate: tr.gate, txn: txn}
		if err := st.topicCreation(h.wcfg.Bool(TopicCreationEnable), cr.props); err != nil {
			cl.Close()
			ch.close()
			return nil, err
		}
		return st.run, nil
	}
	task := cr.conn.(connect.SinkConnector).NewTask()
	st := &sinkTask{connector: cr.name, id: tr.id, task: task, props: tr.config, conv: conv, chain: ch, errs: errs,
		interval: interval, maxPoll: maxPollRecords, log: log, status: tr.status, topics: cr.topics, gate: tr.gate,
		flushWait: h.wcfg.Duration(OffsetFlushTimeout) + h.wcfg.Duration(TaskShutdownTimeout)}
	if n, ok := prefixed(cr.props, "consumer.override.")["max.poll.records"]; ok {
		fmt.Sscan(n, &st.maxPoll)
	} else if n, ok := h.consumer["max.poll.records"]; ok {
		fmt.Sscan(n, &st.maxPoll)
	}
	if st.maxPoll <= 0 {
		st.maxPoll = maxPollRecords
	}
	opts, err := h.clientOpts(consumerClient, cr.props)
	if err != nil {
		ch.close()
		return nil, err
	}
	// Kafka Connect's sink consumers start at the earliest offset when the
	// group has none; consumer.auto.offset.reset may say otherwise.
	opts = append([]kgo.Opt{kgo.ClientID(clientID), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)
	opts = append(opts, st.groupOptions(cr.cfg.List(Topics), cr.cfg.String(TopicsRegex))...)
	if st.client, err = kgo.NewClient(opts...); err != nil {
		ch.close()
		return nil, fmt.Errorf("consumer: %w", err)
	}
	if cr.cfg.String(DLQTopic) != "" {
		popts, err := h.clientOpts(producerClient, cr.props)
		if err == nil {
			popts = append([]kgo.Opt{kgo.ClientID(clientID + "-dlq"), kgo.ProducerBatchCompression(kgo.NoCompression())}, popts...)
			errs.dlq, err = newDeadLetterQueue(ctx, cr.name, cr.cfg, popts)
		}
		if err != nil {
			st.client.Close()
			ch.close()
			return nil, err
		}
	}
	return st.run, nil
}

// stopTasks stops the tasks and waits for them, up to timeout in all.
func (cr *connectorRun) stopTasks(timeout time.Duration) {
	cr.mu.Lock()
	tasks := slices.Clone(cr.tasks)
	cr.mu.Unlock()
	for _, t := range tasks {
		t.cancel()
	}
	deadline := time.After(timeout)
	for _, t := range tasks {
		select {
		case <-t.done:
		case <-deadline:
			cr.h.log.Error("connect: graceful stop of tasks timed out", "connector", cr.name, "timeout", timeout)
			return
		}
	}
}

// Stop stops every connector and its tasks, and writes the offsets file.
func (h *Herder) Stop() {
	h.mu.Lock()
	runs := make([]*connectorRun, 0, len(h.connectors))
	for _, cr := range h.connectors {
		runs = append(runs, cr)
	}
	h.mu.Unlock()
	timeout := h.wcfg.Duration(TaskShutdownTimeout) + h.wcfg.Duration(OffsetFlushTimeout)
	var wg sync.WaitGroup
	for _, cr := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cr.stopTasks(timeout)
			cr.cancel()
			<-cr.done
			cr.mu.Lock()
			started := cr.started
			cr.mu.Unlock()
			if started {
				if err := cr.conn.Stop(); err != nil {
					h.log.Warn("connect: connector stop failed", "connector", cr.name, "error", err)
				}
			}
			if st, _ := cr.status.get(); st != StateFailed {
				cr.status.set(StateStopped, "")
			}
			h.log.Info("connect: connector stopped", "connector", cr.name)
		}()
	}
	wg.Wait()
	h.cancel()
	if err := h.store.Flush(); err != nil {
		h.log.Error("connect: failed to write the offsets file", "error", err)
	}
}

// ClusterID is the Kafka cluster's id.
func (h *Herder) ClusterID() string { return h.clusterID }

// WorkerID is this worker's id.
func (h *Herder) WorkerID() string { return h.workerID }

// Registry returns the plugins.
func (h *Herder) Registry() *connect.Registry { return h.reg }

var errNotFound = errors.New("not found")

// IsNotFound reports whether err means an unknown connector or task.
func IsNotFound(err error) bool { return errors.Is(err, errNotFound) }

func (h *Herder) get(name string) (*connectorRun, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cr, ok := h.connectors[name]
	if !ok {
		return nil, fmt.Errorf("Connector %s not found: %w", name, errNotFound)
	}
	return cr, nil
}
