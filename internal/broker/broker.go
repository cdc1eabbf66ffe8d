// Package broker assembles a Sluice node: it prepares the data directories,
// opens the metadata store, the partition logs and the protocol server, wires
// the API handlers to them, and takes them down again in order.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/internal/brokerclient"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/demux"
	"github.com/sluicehq/sluice/internal/group"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/replica"
	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/server/api"
	"github.com/sluicehq/sluice/internal/storage"
	"github.com/sluicehq/sluice/internal/storage/vfs"
	"github.com/sluicehq/sluice/internal/txn"
)

// metadataDirName is where the Raft metadata log lives inside the first log
// dir (or metadata.log.dir), named as KRaft names it.
const metadataDirName = "__cluster_metadata-0"

// Broker is one running node.
type Broker struct {
	cfg    *config.Broker
	logger *slog.Logger

	ready     chan struct{} // closed once clients can connect
	endpoints []metadata.Endpoint
	ops       *ops        // metrics and the HTTP listener; set before ready
	peers     *peerDialer // connections to other nodes
	// meta is the metadata store once open, for what must be built before it (the
	// SASL logins of Raft shares look up SCRAM credentials in its image).
	meta atomic.Pointer[metadata.Store]
}

// New checks the configuration and returns a broker ready to Run.
func New(cfg *config.Broker, logger *slog.Logger) (*Broker, error) {
	if len(cfg.LogDirs) == 0 {
		return nil, errors.New("log.dirs is empty")
	}
	if len(cfg.Listeners) == 0 {
		return nil, errors.New("listeners is empty")
	}
	peers, err := newPeerDialer(cfg)
	if err != nil {
		return nil, err
	}
	b := &Broker{cfg: cfg, logger: logger, ready: make(chan struct{}), peers: peers}
	peers.meta = &b.meta
	return b, nil
}

// Ready is closed once the broker serves clients; Endpoints is valid then.
func (b *Broker) Ready() <-chan struct{} { return b.ready }

// Endpoints are the advertised endpoints, with the ports actually bound.
// Call it only after Ready is closed.
func (b *Broker) Endpoints() []metadata.Endpoint { return b.endpoints }

// Run starts every subsystem, serves until ctx is done, then shuts down
// gracefully: a broker of a cluster first asks the controller to move its
// leaderships away (controlled shutdown), the server stops taking requests and
// finishes in-flight ones, the logs are flushed and marked cleanly shut down, and
// the metadata store is closed.
//
// process.roles decides what runs: a broker serves clients from partition logs; a
// controller votes in the metadata quorum; a node may be both. Without
// controller.quorum.voters the node is a whole cluster of one.
func (b *Broker) Run(ctx context.Context) (err error) {
	start := time.Now()
	cfg, logger := b.cfg, b.logger
	isBroker := cfg.HasRole("broker")
	multi := len(cfg.ControllerQuorumVoters) > 0

	clusterID, err := prepareLogDirs(cfg.LogDirs, cfg.NodeID, cfg.ClusterID, multi)
	if err != nil {
		return err
	}

	nl, err := b.listen()
	if err != nil {
		return err
	}
	defer nl.close()
	var endpoints []metadata.Endpoint
	if isBroker {
		if endpoints, err = advertised(cfg, nl.bound()); err != nil {
			return err
		}
	}

	metaDir := cfg.MetadataLogDir
	if metaDir == "" {
		metaDir = cfg.LogDirs[0]
	}
	mcfg := metadata.Config{
		Dir:                     filepath.Join(metaDir, metadataDirName),
		NodeID:                  cfg.NodeID,
		ClusterID:               clusterID,
		Logger:                  logger.With("subsystem", "metadata"),
		ElectionTimeout:         time.Duration(cfg.ControllerQuorumElectionTimeoutMs) * time.Millisecond,
		BrokerSessionTimeout:    time.Duration(cfg.BrokerSessionTimeoutMs) * time.Millisecond,
		BrokerHeartbeatInterval: time.Duration(cfg.BrokerHeartbeatIntervalMs) * time.Millisecond,
		LeaderImbalancePercent:  int(cfg.LeaderImbalancePerBrokerPercent),
		SnapshotThreshold:       uint64(cfg.MetadataSnapshotThreshold),
		TrailingLogs:            uint64(cfg.MetadataSnapshotTrailing),
		SnapshotInterval:        time.Duration(cfg.MetadataSnapshotCheckIntervalMs) * time.Millisecond,
	}
	if cfg.AutoLeaderRebalanceEnable {
		mcfg.LeaderRebalanceInterval = time.Duration(cfg.LeaderImbalanceCheckIntervalSecs) * time.Second
	}
	if multi {
		for _, v := range cfg.ControllerQuorumVoters {
			mcfg.Voters = append(mcfg.Voters, metadata.Voter{ID: v.ID, Addr: net.JoinHostPort(v.Host, strconv.Itoa(v.Port))})
		}
		if mcfg.RaftListener, mcfg.RaftAddr, err = nl.raft(cfg, endpoints); err != nil {
			return err
		}
		if c := nl.controller(); c != nil {
			mcfg.ControlListener = c.prefixed(demux.ControlPrefix)
		}
		mcfg.Dial = b.peers.Dial
		nl.closeUnserved()
	}
	meta, err := metadata.Open(ctx, mcfg)
	if err != nil {
		return fmt.Errorf("open metadata: %w", err)
	}
	b.meta.Store(meta)
	defer func() {
		if cerr := meta.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close metadata: %w", cerr))
		}
	}()

	if c := nl.controller(); c != nil {
		// The CONTROLLER listener answers ApiVersions and DescribeQuorum in the Kafka
		// protocol beside its Raft and controller RPC traffic.
		srv, err := b.serveController(meta, nl)
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	if !isBroker {
		logger.Info("sluice controller started", "node", cfg.NodeID, "cluster", clusterID,
			"startup", time.Since(start).Round(time.Millisecond))
		close(b.ready)
		<-ctx.Done()
		logger.Info("shutting down")
		return nil
	}
	return b.runBroker(ctx, start, clusterID, meta, nl, endpoints, mcfg.RaftAddr)
}

// runBroker runs the broker role: partition logs, groups and the client listeners.
func (b *Broker) runBroker(ctx context.Context, start time.Time, clusterID string, meta *metadata.Store,
	nl *nodeListeners, endpoints []metadata.Endpoint, raftAddr string) (err error) {
	cfg, logger := b.cfg, b.logger
	logs, err := storage.OpenManager(ctx, withCleanerConfig(cfg, storage.ManagerConfig{
		Dirs:   cfg.LogDirs,
		FS:     logFS(logger),
		Logger: logger.With("subsystem", "storage"),
		Skip:   []string{metadataDirName},
	}))
	if err != nil {
		return fmt.Errorf("open logs: %w", err)
	}
	defer func() {
		if cerr := logs.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close logs: %w", cerr))
		}
	}()

	obs, err := b.startOps(ctx, logs, meta)
	if err != nil {
		return err
	}
	defer obs.close()

	dyn := newDynamicConfig(cfg, meta.Image(), logger.With("subsystem", "config"))
	logConfig := func(overrides map[string]string) (storage.Config, error) {
		t, err := config.TopicConfig(dyn.Current(), overrides)
		if err != nil {
			return storage.Config{}, err
		}
		return StorageConfig(&t), nil
	}
	replicas := replica.NewManager(cfg.NodeID, logs, meta.Image, logConfig, logger.With("subsystem", "replica"))
	replicas.SetReplication(replica.Replication{
		MinISR: func(overrides map[string]string) int {
			t, err := config.TopicConfig(dyn.Current(), overrides)
			if err != nil {
				return 1
			}
			return int(t.MinInsyncReplicas)
		},
		AlterPartition: meta.AlterPartition,
		LeaseLapsed:    meta.LeaseLapsed,
		Listener:       cfg.InterBrokerListenerName,
		Dial:           b.peers.DialBroker,
		LagTimeMax:     time.Duration(cfg.ReplicaLagTimeMaxMs) * time.Millisecond,
		FetchMaxWait:   time.Duration(cfg.ReplicaFetchWaitMaxMs) * time.Millisecond,
		FetchBackoff:   time.Duration(cfg.ReplicaFetchBackoffMs) * time.Millisecond,
		FetchMaxBytes:  cfg.ReplicaFetchResponseMaxBytes,
		// replica.fetch.max.bytes
		FetchPartitionMaxBytes: cfg.ReplicaFetchMaxBytes,
		Throttled: func(overrides map[string]string) (leader, follower []string) {
			t, err := config.TopicConfig(dyn.Current(), overrides)
			if err != nil {
				return nil, nil
			}
			return t.LeaderReplicationThrottled, t.FollowerReplicationThrottled
		},
		Rates: func() (leader, follower int64) {
			c := dyn.Current()
			return c.LeaderReplicationThrottledRate, c.FollowerReplicationThrottledRate
		},
	})
	defer replicas.Close() // before the logs close: the fetchers write to them
	groups := group.New(group.ConfigFromBroker(cfg), group.NewReplicaStorage(replicas), nil, logger.With("subsystem", "group"))
	groups.Start()
	defer groups.Stop()

	peers := brokerclient.NewWithDial(fmt.Sprintf("sluice-broker-%d", cfg.NodeID), b.peers.DialBroker)
	defer peers.Close()
	pids := txn.NewProducerIDs(meta.AllocateProducerIDs)
	txns := txn.New(txn.Config{
		NumPartitions: cfg.TransactionStateLogNumPartitions,
		MaxTimeout:    time.Duration(cfg.TransactionMaxTimeoutMs) * time.Millisecond,
		IDExpiration:  time.Duration(cfg.TransactionalIDExpirationMs) * time.Millisecond,
	}, txn.NewReplicaStorage(replicas), txn.NewBrokerMarkers(peers, meta.Image, cfg.InterBrokerListenerName),
		pids.Next, logger.With("subsystem", "txn"))
	txns.Start()
	defer txns.Stop()

	sec, err := newSecurity(cfg, meta, logger.With("subsystem", "security"))
	if err != nil {
		return err
	}
	defer sec.unsubscribe()

	mux := server.NewMux()
	deps := api.Deps{
		NodeID:     cfg.NodeID,
		Config:     cfg,
		Meta:       meta,
		Replicas:   replicas,
		PIDs:       pids,
		Logger:     logger.With("subsystem", "api"),
		Advertised: map[string]api.HostPort{},
		Logs:       logs,
		Fetched:    obs.metrics.TopicFetched,
		Groups:     groups,
		Security:   sec.api,
	}
	deps.Txns = txns
	for _, ep := range endpoints {
		deps.Advertised[ep.Listener] = api.HostPort{Host: ep.Host, Port: ep.Port}
	}
	api.Register(mux, deps)

	limits, err := connectionLimits(cfg)
	if err != nil {
		return err
	}
	sec.api.Throttled = obs.metrics.QuotaThrottled
	srv, err := server.New(server.Config{
		Listeners:       nl.clientListeners(sec.tls),
		MaxRequestBytes: int(cfg.SocketRequestMaxBytes),
		Logger:          logger.With("subsystem", "server"),
		Handler:         obs.handler(sec.api.Gate(mux)),
		Metrics:         obs.metrics,
		Limits:          limits,
	})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	defer srv.Close()

	var rack *string
	if cfg.BrokerRack != "" {
		rack = &cfg.BrokerRack
	}
	reg := metadata.BrokerRegistration{NodeID: cfg.NodeID, Endpoints: endpoints, Rack: rack, IncarnationID: metadata.NewUUID()}
	if err := meta.StartBroker(ctx, reg, raftAddr); err != nil {
		if ctx.Err() != nil {
			logger.Info("stopped while registering with the controller")
			return nil
		}
		return fmt.Errorf("register broker: %w", err)
	}
	if err := replicas.Open(meta.Image()); err != nil {
		logger.Warn("some partitions failed to open", "err", err)
	}
	// Serve clients only now that this broker is registered, unfenced and caught up
	// with the metadata, as Kafka does: earlier, it would describe a cluster it does
	// not know yet. Connections made meanwhile wait in the listener's queue.
	if err := srv.Start(); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	unsubscribe := meta.Subscribe(func(prev, next *metadata.Image) {
		if dyn.update(next) {
			dyn.applyToLogs(next, logs)
		}
		if prev != nil {
			replicas.Apply(prev, next)
		}
		groups.ApplyImage(next, cfg.NodeID) // loads or unloads the partitions of __consumer_offsets it leads
		txns.Lead(ledPartitions(next, txn.Topic, cfg.NodeID))
	})
	defer unsubscribe()

	b.endpoints = endpoints
	close(b.ready)
	for _, ep := range endpoints {
		logger.Info("listening", "listener", ep.Listener, "address", net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port))))
	}
	logger.Info("sluice started", "node", cfg.NodeID, "cluster", clusterID,
		"log.dirs", cfg.LogDirs, "startup", time.Since(start).Round(time.Millisecond))

	<-ctx.Done()
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), controlledShutdownTimeout)
	if err := meta.ShutdownBroker(sctx); err != nil {
		logger.Warn("controlled shutdown did not finish; stopping anyway", "err", err)
	}
	cancel()
	// Close lets in-flight requests finish; then the deferred closes flush
	// the logs, write the clean-shutdown marker and close the metadata.
	if err := srv.Close(); err != nil {
		logger.Warn("server shutdown", "err", err)
	}
	return nil
}

// fsyncDelayEnv names a file whose content, a duration, delays every fsync of the
// partition logs: the chaos harness's fsync-delay fault (a slow disk). Test-only;
// unset, the logs use the real filesystem directly.
const fsyncDelayEnv = "SLUICE_TEST_FSYNC_DELAY_FILE"

// logFS is the filesystem of the partition logs.
func logFS(logger *slog.Logger) vfs.FS {
	path := os.Getenv(fsyncDelayEnv)
	if path == "" {
		return vfs.OS()
	}
	logger.Warn("test-only fsync delay enabled: every fsync of the logs first waits for the duration in the file", "env", fsyncDelayEnv, "file", path)
	return vfs.SlowSync(vfs.OS(), vfs.DelayFromFile(path))
}

// ledPartitions maps the partitions of topic that node leads in img to their leader
// epochs.
func ledPartitions(img *metadata.Image, topic string, node int32) map[int32]int32 {
	led := map[int32]int32{}
	if t := img.Topics[topic]; t != nil {
		for _, p := range t.Partitions {
			if p.Leader == node {
				led[p.Index] = p.LeaderEpoch
			}
		}
	}
	return led
}

// controlledShutdownTimeout bounds how long a stopping broker waits for the controller
// to move its leaderships.
const controlledShutdownTimeout = 10 * time.Second

// advertised resolves the endpoints clients are told: advertised.listeners
// where set, else the bound listeners; a port of 0 or an empty or wildcard
// host takes what was bound.
func advertised(cfg *config.Broker, bound map[string]net.Addr) ([]metadata.Endpoint, error) {
	src := cfg.AdvertisedListeners
	if len(src) == 0 {
		src = cfg.Listeners
	}
	var out []metadata.Endpoint
	for _, l := range src {
		a, ok := bound[l.Name]
		if !ok {
			continue
		}
		host, port := l.Host, l.Port
		bhost, bport, err := net.SplitHostPort(a.String())
		if err != nil {
			return nil, fmt.Errorf("bound address %s: %w", a, err)
		}
		if port == 0 {
			port, _ = strconv.Atoi(bport)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = bhost
			if ip := net.ParseIP(bhost); ip != nil && ip.IsUnspecified() {
				host = "127.0.0.1"
			}
		}
		proto := l.SecurityProtocol
		if proto == "" {
			proto = "PLAINTEXT"
		}
		out = append(out, metadata.Endpoint{Listener: l.Name, Host: host, Port: int32(port), SecurityProtocol: proto})
	}
	if len(out) == 0 {
		return nil, errors.New("no advertised listener matches a bound listener")
	}
	return out, nil
}

func containsName(names []string, n string) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}
