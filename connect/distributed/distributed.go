package distributed

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/logging"
	"github.com/sluicehq/sluice/connect/rest"
	"github.com/sluicehq/sluice/connect/runtime"
)

// Options configure a distributed worker.
type Options struct {
	// Worker is the worker's settings (WorkerConfig and client settings).
	Worker   map[string]string
	Registry *connect.Registry
	// Version and Commit are shown by GET /.
	Version, Commit string
	Log             *slog.Logger
	// Loggers is the level table Log's handler consults (served at
	// /admin/loggers); when nil, one is made over Log (logging.Wrap).
	Loggers *logging.Levels
	// Started, when set, is called once the worker has read the internal
	// topics and joins the group, with the REST API's address.
	Started func(rest net.Addr)
}

// Run runs a distributed worker until ctx is done, then stops its
// connectors and tasks gracefully, leaves the group and returns. A bad
// worker config or an unreachable Kafka cluster is an error at once.
func Run(ctx context.Context, o Options) error {
	err := run(ctx, o)
	if err != nil && ctx.Err() != nil {
		return nil // stopped while starting
	}
	return err
}

func run(ctx context.Context, o Options) error {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	levels := o.Loggers
	if levels == nil {
		log, levels = logging.Wrap(log)
	}
	workerLog := log
	log = log.With(logging.Key, "connect.distributed")
	wcfg, err := WorkerConfig().Parse(o.Worker)
	if err != nil {
		return &connect.ConfigError{Msg: "worker config", Err: err}
	}
	listeners := wcfg.List(runtime.Listeners)
	if len(listeners) == 0 {
		return connect.ConfigErrorf("worker config: a distributed worker needs a REST listener (%s): workers forward requests to each other", runtime.Listeners)
	}
	h := &Herder{
		reg: o.Registry, wcfg: wcfg, log: log, poke: make(chan struct{}, 1),
		maxDelay: time.Duration(wcfg.Int(ScheduledRebalanceMaxDelay)) * time.Millisecond,
		syncWait: time.Duration(wcfg.Int(WorkerSyncTimeout)) * time.Millisecond,
		reconf:   map[string]bool{}, owned: map[item]bool{}, conns: map[string]*connInstance{},
		tasks: map[item]*taskInstance{}, submits: map[string][]map[string]string{}, levels: levels,
	}
	h.configs = newConfigStore(log, h.configChanged)
	h.configs.loggerLevel = h.setLoggerLevel
	h.statuses = newStatusStore(log)
	if h.offsets, err = newOffsetStore(log); err != nil {
		return err
	}

	// The REST API starts first: its address is the worker's id and URL.
	srv, addr, err := rest.Listen(listeners[0], h.startupGate(rest.Handler(h, o.Version, o.Commit, workerLog)), log)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	h.workerID = advertised(wcfg.String(runtime.RestAdvertisedHost), int(wcfg.Int(runtime.RestAdvertisedPort)), addr)
	h.url = "http://" + h.workerID + "/"
	log.Info("connect: REST API listening", "address", addr.String(), "worker_id", h.workerID)

	h.worker, err = runtime.NewHerder(ctx, runtime.Options{Registry: o.Registry, Worker: o.Worker, WorkerID: h.workerID, Log: workerLog,
		Config: WorkerConfig(), Offsets: h.offsets, ExactlyOnceSource: h.eosMode() == eosEnabled, Loggers: levels})
	if err != nil {
		return err
	}
	defer h.worker.Stop()
	h.mu.Lock()
	h.clusterID = h.worker.ClusterID()
	h.mu.Unlock()

	base := []kgo.Opt{kgo.SeedBrokers(wcfg.List(runtime.BootstrapServers)...)}
	clientID := wcfg.String(runtime.ClientID)
	if clientID == "" {
		clientID = "connect-" + h.workerID
	}
	logs, err := h.openLogs(ctx, wcfg, base, clientID)
	if err != nil {
		return err
	}
	defer func() {
		for _, l := range logs {
			l.close()
		}
	}()

	groupClient, err := kgo.NewClient(append(base, kgo.ClientID(clientID+"-group"))...)
	if err != nil {
		return fmt.Errorf("group client: %w", err)
	}
	defer groupClient.Close()
	h.member = newGroupMember(groupClient, wcfg.String(GroupID),
		time.Duration(wcfg.Int(SessionTimeout))*time.Millisecond,
		time.Duration(wcfg.Int(RebalanceTimeout))*time.Millisecond,
		time.Duration(wcfg.Int(HeartbeatInterval))*time.Millisecond, h, log)

	h.workMu.Lock()
	h.applied = h.configs.snapshot()
	h.configs.startLoggerLevels()
	h.restarts = h.applied.Offset // restart requests before this start are done with
	h.workMu.Unlock()
	h.mu.Lock()
	h.ready, h.rebalancing = true, true
	h.mu.Unlock()

	wctx, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	go h.reconciler(wctx)
	mctx, leave := context.WithCancel(context.Background())
	memberDone := make(chan struct{})
	go func() {
		defer close(memberDone)
		h.member.run(mctx)
	}()
	log.Info("connect: distributed worker started", "group", wcfg.String(GroupID), "worker_id", h.workerID,
		"connectors", len(h.applied.Connectors))
	if o.Started != nil {
		o.Started(addr)
	}

	<-ctx.Done()
	log.Info("connect: stopping")
	// Work stops first (offsets stored, sinks committed), then the worker
	// leaves the group so the others take over at once.
	h.stopAll()
	stopWork()
	leave()
	<-memberDone
	h.mu.Lock()
	h.ready = false
	h.mu.Unlock()
	log.Info("connect: stopped")
	return nil
}

// startupGate answers 503 while the worker starts (it has not read the
// internal topics yet, so it knows no connectors), as Kafka Connect does;
// GET / answers at once.
func (h *Herder) startupGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		ready := h.ready
		h.mu.Unlock()
		if !ready && r.URL.Path != "/" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error_code":503,"message":"Request cannot be completed because Connect worker is still starting up"}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// openLogs creates the internal topics when missing and reads them.
func (h *Herder) openLogs(ctx context.Context, wcfg interface {
	String(string) string
	Int(string) int64
}, base []kgo.Opt, clientID string) ([]*kafkaLog, error) {
	adminCl, err := kgo.NewClient(append(base, kgo.ClientID(clientID+"-admin"))...)
	if err != nil {
		return nil, err
	}
	defer adminCl.Close()
	adm := kadm.NewClient(adminCl)
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	specs := []struct {
		spec  topicSpec
		one   bool
		apply func(*kgo.Record)
		set   func(*kafkaLog)
	}{
		{topicSpec{wcfg.String(ConfigTopic), 1, int16(wcfg.Int(ConfigReplicationFactor))}, true, h.configs.apply, func(l *kafkaLog) { h.configs.log = l }},
		{topicSpec{wcfg.String(OffsetTopic), int32(wcfg.Int(OffsetPartitions)), int16(wcfg.Int(OffsetReplicationFactor))}, false, h.offsets.apply, func(l *kafkaLog) { h.offsets.log = l }},
		{topicSpec{wcfg.String(StatusTopic), int32(wcfg.Int(StatusPartitions)), int16(wcfg.Int(StatusReplicationFactor))}, false, h.statuses.apply, func(l *kafkaLog) { h.statuses.log = l }},
	}
	var logs []*kafkaLog
	fail := func(err error) ([]*kafkaLog, error) {
		for _, l := range logs {
			l.close()
		}
		return nil, err
	}
	for _, s := range specs {
		if err := ensureTopic(tctx, adm, s.spec, s.one, h.log); err != nil {
			return fail(err)
		}
		// With exactly-once sources, offsets count once their transaction
		// commits (Kafka's KafkaOffsetBackingStore reads read_committed).
		committed := s.spec.name == wcfg.String(OffsetTopic) && h.eosMode() == eosEnabled
		l, err := openLog(s.spec.name, append(base, kgo.ClientID(clientID+"-"+s.spec.name)), s.apply, h.log, committed)
		if err != nil {
			return fail(err)
		}
		s.set(l)
		logs = append(logs, l)
	}
	for _, l := range logs {
		if err := l.readToEnd(tctx); err != nil {
			return fail(fmt.Errorf("read internal topic %s: %w", l.topic, err))
		}
	}
	return logs, nil
}

// advertised returns the worker id: the advertised host and port, or the
// listener's, with the machine's name for an unspecified host.
func advertised(host string, port int, a net.Addr) string {
	lhost, lport, _ := net.SplitHostPort(a.String())
	if host == "" {
		host = lhost
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			if hn, err := os.Hostname(); err == nil {
				host = hn
			}
		}
	}
	if port == 0 {
		port, _ = strconv.Atoi(lport)
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}
