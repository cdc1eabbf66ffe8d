package metadata

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/rpc"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.etcd.io/bbolt"
)

// Config configures a Store.
type Config struct {
	// Dir holds the Raft log and stable store (raft.db) and the snapshots (snapshots/).
	// The broker passes <first log dir>/__cluster_metadata-0, KRaft's directory name.
	Dir string
	// NodeID is this node's id: its Raft server id and, on a broker, its broker id.
	NodeID int32
	// ClusterID is written to the log on first start; a log of another cluster is refused.
	ClusterID string
	// Transport carries Raft traffic between voters. nil means an in-memory transport,
	// which is all a group of one voter needs; the cluster issue passes a
	// raft.NewTCPTransport bound to the CONTROLLER listener. The Store closes it.
	//
	// Today the group is always this node alone, bootstrapped on first start, and Open
	// waits to lead it. Adding voters and non-voters is the cluster issue's work.
	Transport raft.Transport
	Logger    *slog.Logger

	// Voters is controller.quorum.voters. Empty means this node alone, on an in-memory
	// transport. Otherwise the node is a voter when its id is among them, and an observer
	// (a Raft non-voter that the active controller adds when it registers as a broker)
	// when not.
	Voters []Voter
	// RaftListener accepts this node's Raft connections (the Raft share of a listener
	// split by internal/demux), and RaftAddr is the host:port other nodes reach it at: a
	// voter's entry in Voters, a broker's inter-broker endpoint. Required with Voters.
	RaftListener net.Listener
	RaftAddr     string
	// ControlListener accepts controller RPCs (the control share of the CONTROLLER
	// listener). Voters only.
	ControlListener net.Listener
	// Dial opens a Raft (demux.RaftPrefix) or controller RPC (demux.ControlPrefix)
	// connection to another node's listener at addr: with TLS when that listener takes
	// it (demux.DialTLS). nil dials in the clear (demux.Dial).
	Dial func(addr string, prefix byte, timeout time.Duration) (net.Conn, error)
	// ElectionTimeout is controller.quorum.election.timeout.ms: how long a voter waits
	// without hearing from a leader before it campaigns (0: 1s).
	ElectionTimeout time.Duration
	// BrokerSessionTimeout is broker.session.timeout.ms: a broker that has not
	// heartbeated for this long is fenced (0: 9s). BrokerHeartbeatInterval is
	// broker.heartbeat.interval.ms (0: 2s; never more than a third of the session).
	BrokerSessionTimeout    time.Duration
	BrokerHeartbeatInterval time.Duration
	// LeaderRebalanceInterval, when positive, makes the active controller check every
	// so often (leader.imbalance.check.interval.seconds, with
	// auto.leader.rebalance.enable) for brokers that lead too few of the partitions they
	// are the preferred leader of, more than LeaderImbalancePercent
	// (leader.imbalance.per.broker.percentage), and move those leaderships back.
	LeaderRebalanceInterval time.Duration
	LeaderImbalancePercent  int

	// SnapshotThreshold is how many log entries since the last snapshot make Raft take a
	// new one, keeping the log bounded (0: 1024). SnapshotInterval is how often Raft checks
	// (0: 30s). TrailingLogs is how many entries a snapshot leaves in the log so a lagging
	// follower can catch up without a snapshot (0: 1024).
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
}

// Voter is one entry of controller.quorum.voters: a controller's node id and the
// host:port of its CONTROLLER listener.
type Voter struct {
	ID   int32
	Addr string
}

// Store is the Raft-replicated cluster metadata on one node: the state machine, its
// current image, and the operations that change it. Its write methods must be called on
// the active controller (today: always this node); elsewhere they return NOT_CONTROLLER.
type Store struct {
	cfg   Config
	log   *slog.Logger
	fsm   *fsm
	raft  *raft.Raft
	bolt  *raftboltdb.BoltStore
	trans raft.Transport

	// proposeLock (capacity one) serialises plan-and-propose, so each plan sees every
	// earlier change. Metadata changes are rare; the state machine's checks remain the
	// safety net. It is a channel rather than a mutex so that a caller waiting behind
	// another change gives up when its context ends (lockPropose).
	proposeLock chan struct{}

	ctx       context.Context // canceled by Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	ready     chan error // the outcome of the first takeover, for Open
	closeOnce sync.Once
	closeErr  error

	// ctl is the active controller's bookkeeping, used while this node leads.
	ctl *controller

	// connsMu guards the controller RPC connections: served (conns) and dialed (clients).
	connsMu sync.Mutex
	conns   map[net.Conn]struct{}
	clients map[string]*rpc.Client

	// The broker session (StartBroker): its epoch (0: none), and whether it has asked
	// for a controlled shutdown. kick makes the heartbeat loop beat at once.
	brokerMu     sync.Mutex
	brokerReg    *BrokerRegistration
	brokerEpoch  int64
	wantShutdown bool
	kick         chan struct{}
	// lastBeat is when the last heartbeat the controller accepted was sent (unix
	// nanoseconds; 0: none yet): the broker's own view of its session (LeaseLapsed).
	lastBeat atomic.Int64
	// catchUp is, after the lease lapsed, the controller's applied offset when it was
	// renewed: the lease counts again once this node has applied as much.
	catchUp atomic.Uint64
}

// multi reports whether this node is part of a quorum of several nodes.
func (s *Store) multi() bool { return len(s.cfg.Voters) > 0 }

// isVoter reports whether this node votes in the quorum.
func (s *Store) isVoter() bool {
	_, ok := s.voterAddr(s.cfg.NodeID)
	return !s.multi() || ok
}

// raftConfig tunes Raft for a group of one voter on the same code path as a cluster: a
// lone voter needs no heartbeats, so short timeouts only make it elect itself at once.
// The cluster issue chooses longer ones for real networks.
func raftConfig(cfg Config, logger *slog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(strconv.Itoa(int(cfg.NodeID)))
	rc.Logger = newHclog(logger)
	rc.HeartbeatTimeout = 20 * time.Millisecond
	rc.ElectionTimeout = 20 * time.Millisecond
	rc.LeaderLeaseTimeout = 20 * time.Millisecond
	rc.CommitTimeout = 5 * time.Millisecond
	rc.SnapshotThreshold = orDefault(cfg.SnapshotThreshold, 1024)
	rc.TrailingLogs = orDefault(cfg.TrailingLogs, 1024)
	rc.SnapshotInterval = orDefault(cfg.SnapshotInterval, 30*time.Second)
	if len(cfg.Voters) > 0 {
		// Several nodes: a voter campaigns after ElectionTimeout without a leader
		// (hashicorp/raft randomises it up to twice that); the lease is shorter, so
		// that a partitioned leader steps down before a new one can be elected.
		t := orDefault(cfg.ElectionTimeout, time.Second)
		rc.HeartbeatTimeout = t
		rc.ElectionTimeout = t
		rc.LeaderLeaseTimeout = t / 2
		rc.CommitTimeout = 20 * time.Millisecond
	}
	return rc
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Open opens (or, on first start, creates) the metadata store in cfg.Dir and returns once
// this node leads the group and its state machine has applied the whole log: from then
// on Image is current. A single voter gets there in about 30-60 ms.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	switch {
	case cfg.Dir == "":
		return nil, errors.New("open metadata store: no directory")
	case cfg.NodeID < 0:
		return nil, fmt.Errorf("open metadata store: invalid node id %d", cfg.NodeID)
	case cfg.ClusterID == "":
		return nil, errors.New("open metadata store: no cluster id")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "metadata")
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("open metadata store: %w", err)
	}

	if _, ok := ctx.Deadline(); !ok {
		// A lone voter leads within milliseconds; never hang a broker's start on it.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	if len(cfg.Voters) > 0 && (cfg.RaftListener == nil || cfg.RaftAddr == "") {
		return nil, errors.New("open metadata store: a quorum of several nodes needs a Raft listener and address")
	}
	cfg.BrokerSessionTimeout = orDefault(cfg.BrokerSessionTimeout, 9*time.Second)
	cfg.BrokerHeartbeatInterval = min(orDefault(cfg.BrokerHeartbeatInterval, 2*time.Second), cfg.BrokerSessionTimeout/3)
	s := &Store{cfg: cfg, log: logger, fsm: newFSM(logger), ready: make(chan error, 1), kick: make(chan struct{}, 1),
		proposeLock: make(chan struct{}, 1)}
	s.ctl = newController(s)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.start(); err != nil {
		s.cancel()
		s.closeStores()
		return nil, err
	}
	if s.multi() {
		// A node of a quorum does not wait to lead, nor for a leader: a broker's
		// StartBroker waits for the controller, and a controller serves as soon as its
		// transport is up, so that the voters can find each other.
		return s, nil
	}
	select {
	case err := <-s.ready:
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("open metadata store: %w", err)
		}
	case <-ctx.Done():
		s.Close()
		return nil, fmt.Errorf("open metadata store: waiting to lead the metadata quorum: %w", ctx.Err())
	}
	return s, nil
}

func (s *Store) start() error {
	dbPath := filepath.Join(s.cfg.Dir, "raft.db")
	var err error
	s.bolt, err = raftboltdb.New(raftboltdb.Options{
		Path: dbPath,
		// bbolt locks the file; without a timeout a second broker on the same directory
		// would hang instead of failing.
		BoltOptions: &bbolt.Options{Timeout: time.Second},
	})
	if err != nil {
		return fmt.Errorf("open metadata log %s (is another process using it?): %w", dbPath, err)
	}
	hl := newHclog(s.log)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(s.cfg.Dir, 2, hl)
	if err != nil {
		return fmt.Errorf("open metadata snapshots in %s: %w", s.cfg.Dir, err)
	}
	s.trans = s.cfg.Transport
	switch {
	case s.trans != nil:
	case s.multi():
		s.trans = newNetworkTransport(s.cfg.RaftListener, s.cfg.RaftAddr, Config{Logger: s.log, Dial: s.cfg.Dial})
	default:
		_, s.trans = raft.NewInmemTransport(raft.ServerAddress("sluice-node-" + strconv.Itoa(int(s.cfg.NodeID))))
	}

	rc := raftConfig(s.cfg, s.log)
	notify := make(chan bool, 1)
	rc.NotifyCh = notify

	has, err := raft.HasExistingState(s.bolt, s.bolt, snaps)
	if err != nil {
		return fmt.Errorf("read metadata log state: %w", err)
	}
	if !has && s.isVoter() {
		// Every voter bootstraps the same configuration, the voters of
		// controller.quorum.voters, so that they elect a leader among themselves;
		// brokers start empty and are added by the controller when they register.
		boot := raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter,
			ID:       rc.LocalID,
			Address:  s.trans.LocalAddr(),
		}}}
		if s.multi() {
			boot.Servers = nil
			for _, v := range s.cfg.Voters {
				boot.Servers = append(boot.Servers, raft.Server{
					Suffrage: raft.Voter, ID: raft.ServerID(strconv.Itoa(int(v.ID))), Address: raft.ServerAddress(v.Addr),
				})
			}
		}
		if err := raft.BootstrapCluster(rc, s.bolt, s.bolt, snaps, s.trans, boot); err != nil {
			return fmt.Errorf("bootstrap metadata quorum: %w", err)
		}
		s.log.Info("bootstrapped metadata quorum", "node", s.cfg.NodeID, "voters", len(boot.Servers), "dir", s.cfg.Dir)
	}
	s.raft, err = raft.NewRaft(rc, s.fsm, s.bolt, s.bolt, snaps, s.trans)
	if err != nil {
		return fmt.Errorf("start metadata raft: %w", err)
	}
	s.wg.Add(1)
	go s.leaderLoop(notify)
	if s.multi() {
		if s.cfg.ControlListener != nil {
			if err := s.serveControl(s.cfg.ControlListener); err != nil {
				return err
			}
		}
		s.wg.Add(2)
		go s.controllerLoop()
		go s.heartbeatLoop()
	}
	return nil
}

// leaderLoop writes a LeaderChangeRecord (with the cluster id) each time this node becomes
// leader: it names the controller in every image, and its commit proves the state machine
// has applied everything before it.
func (s *Store) leaderLoop(notify <-chan bool) {
	defer s.wg.Done()
	first := true
	for {
		select {
		case <-s.ctx.Done():
			return
		case leader := <-notify:
			if !leader {
				s.log.Info("lost metadata leadership", "node", s.cfg.NodeID)
				continue
			}
			s.log.Info("became the active controller", "node", s.cfg.NodeID, "term", s.raft.CurrentTerm())
			s.ctl.reset(s.raft.CurrentTerm())
			_, err := s.propose(s.ctx, []Record{
				&ClusterRecord{ClusterID: s.cfg.ClusterID},
				&LeaderChangeRecord{LeaderID: s.cfg.NodeID, Epoch: s.raft.CurrentTerm()},
			})
			if err != nil && !first {
				s.log.Warn("recording metadata leadership", "node", s.cfg.NodeID, "err", err)
			}
			if first {
				s.ready <- err
				first = false
			}
		}
	}
}

// Close stops Raft and closes the log. Committed changes are durable before their write
// method returned; Close adds nothing to that, so a crash instead of Close loses nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.multi() && s.raft != nil && s.isLeader() {
			// Hand leadership to an up-to-date voter rather than make the others wait
			// out an election timeout.
			if err := s.raft.LeadershipTransfer().Error(); err != nil {
				s.log.Info("metadata leadership transfer", "err", err)
			}
		}
		s.cancel()
		if s.cfg.ControlListener != nil {
			s.cfg.ControlListener.Close()
		}
		s.closeConns()
		if s.raft != nil {
			if err := s.raft.Shutdown().Error(); err != nil {
				s.closeErr = fmt.Errorf("shut down metadata raft: %w", err)
			}
		}
		s.wg.Wait()
		if err := s.closeStores(); err != nil && s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

func (s *Store) closeStores() error {
	var errs []error
	if s.bolt != nil {
		if err := s.bolt.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close metadata log: %w", err))
		}
	}
	if c, ok := s.trans.(io.Closer); ok {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close metadata transport: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Image returns the current metadata image. It is cheap and lock-free; the image never
// changes, so a caller that needs a consistent view uses one image throughout.
func (s *Store) Image() *Image { return s.fsm.img.Load() }

// AppliedOffset is the index of the last log entry the state machine has applied
// (including rejected batches and Raft's own entries, which leave the image unchanged).
func (s *Store) AppliedOffset() uint64 { return s.fsm.applied.Load() }

// Subscribe calls fn with every new image, in log order, until cancel is called. fn is
// first called at once with (nil, current image), so that together the calls cover every
// state with no gap. Later calls get (previous image, new image).
//
// fn runs on the state machine's goroutine: the change that produced next is not
// acknowledged to its writer until fn returns. fn must be quick and must not call the
// Store's write methods or Subscribe (that would deadlock); it may call cancel and Image.
func (s *Store) Subscribe(fn func(prev, next *Image)) (cancel func()) {
	return s.fsm.subscribe(fn)
}

// Snapshot makes Raft snapshot the state machine now and trim the log, as it does by
// itself every SnapshotThreshold entries. Nothing new since the last snapshot is not an
// error.
func (s *Store) Snapshot() error {
	if err := s.raft.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return fmt.Errorf("snapshot metadata: %w", err)
	}
	return nil
}

// propose appends recs to the log as one entry and waits until it is applied here. It
// returns the image right after the entry, or why the state machine rejected it. On a
// node that does not lead, the entry is forwarded to the active controller, and the
// image returned is this node's once it has applied the entry.
func (s *Store) propose(ctx context.Context, recs []Record) (*Image, error) {
	data, err := EncodeBatch(recs)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, errorf(kerr.RequestTimedOut, "metadata change not started: %v", err)
	}
	if s.multi() && !s.isLeader() {
		return s.forward(ctx, data)
	}
	_, img, err := s.apply(ctx, data)
	return img, err
}

// proposeTimeout bounds a metadata change whose caller set no deadline: a request
// handler's context lives as long as its connection, and a change that never completes
// (its commit not yet applied here, say) would otherwise hold proposeLock, and with it
// every later change of this node, ISR changes included, for as long.
const proposeTimeout = 30 * time.Second

// lockPropose takes proposeLock for a change, giving up when ctx ends. It returns the
// context the change runs under (ctx, bounded by proposeTimeout when it has no deadline)
// and the release, which the caller defers.
func (s *Store) lockPropose(ctx context.Context) (context.Context, func(), error) {
	cancel := context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, proposeTimeout)
	}
	select {
	case s.proposeLock <- struct{}{}:
		return ctx, func() { <-s.proposeLock; cancel() }, nil
	case <-ctx.Done():
		cancel()
		return ctx, nil, errorf(kerr.RequestTimedOut, "metadata change not started: an earlier change of this node is still in progress: %v", ctx.Err())
	}
}

// forward has the active controller commit data, then waits until this node has applied
// it, so that the caller reads its own change.
func (s *Store) forward(ctx context.Context, data []byte) (*Image, error) {
	var reply ProposeReply
	if err := s.callController(ctx, "Propose", &ProposeArgs{Batch: data}, &reply); err != nil {
		return nil, err
	}
	if reply.Offset > 0 {
		if err := s.fsm.waitApplied(ctx, reply.Offset); err != nil {
			return nil, errorf(kerr.RequestTimedOut, "metadata change committed at offset %d but not yet applied here: %v", reply.Offset, err)
		}
	}
	if err := reply.err(); err != nil {
		return nil, err
	}
	return s.Image(), nil
}

// proposeLocal commits data on this node, the leader, for a forwarded change. It does
// not take proposeLock: the change was planned elsewhere (the state machine checks it
// against the image it applies to), and the forwarder may be this very node, holding
// proposeLock while it waits for the answer.
func (s *Store) proposeLocal(ctx context.Context, data []byte) (uint64, error) {
	index, _, err := s.apply(ctx, data)
	return index, err
}

// apply appends data to the log through this node's Raft, which must lead.
func (s *Store) apply(ctx context.Context, data []byte) (uint64, *Image, error) {
	f := s.raft.Apply(data, 0)
	done := make(chan struct{})
	go func() {
		_ = f.Error()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return 0, nil, errorf(kerr.RequestTimedOut, "metadata change may or may not have been applied: %v", ctx.Err())
	}
	if err := f.Error(); err != nil {
		return 0, nil, raftError(err)
	}
	res, ok := f.Response().(applyResult)
	if !ok {
		return f.Index(), nil, fmt.Errorf("metadata change: unexpected state machine response %T", f.Response())
	}
	return f.Index(), res.img, res.err
}

func raftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrAbortedByRestore):
		return &Error{Code: kerr.NotController, Message: "this node is not the active controller: " + err.Error()}
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return &Error{Code: kerr.RequestTimedOut, Message: "metadata change timed out: " + err.Error()}
	}
	return fmt.Errorf("metadata change: %w", err)
}

// placer returns the replica placement for one new topic or partition set, with a random
// starting broker as Kafka does: rack-aware once any live broker has a rack.
func (s *Store) placer() placer {
	start, shift := rand.IntN(1<<20), rand.IntN(1<<20)
	for _, b := range s.Image().Brokers {
		if b.Rack != nil && !b.Fenced {
			return rackAware(start, shift)
		}
	}
	return roundRobin(start, shift)
}

// CreateTopic creates a topic with its partitions and configs, all or nothing, and returns
// it. Errors are *Error values carrying Kafka's code: TOPIC_ALREADY_EXISTS,
// INVALID_TOPIC_EXCEPTION (bad name, or one that collides with an existing name once '.'
// is read as '_'), INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR,
// INVALID_REPLICA_ASSIGNMENT, INVALID_REQUEST, INVALID_CONFIG.
func (s *Store) CreateTopic(ctx context.Context, spec TopicSpec) (*Topic, error) {
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return nil, lerr
	}
	defer unlock()
	img := s.Image()
	recs, id, err := planCreateTopic(img, spec, s.placer())
	if err != nil {
		return nil, err
	}
	var next *Image
	if spec.ValidateOnly {
		next, err = applyBatch(img, img.Offset, recs)
	} else {
		next, err = s.propose(ctx, recs)
	}
	if err != nil {
		return nil, err
	}
	return next.TopicsByID[id], nil
}

// DeleteTopic deletes a topic by id. Unknown: UNKNOWN_TOPIC_ID.
func (s *Store) DeleteTopic(ctx context.Context, id [16]byte) error {
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return lerr
	}
	defer unlock()
	if s.Image().TopicsByID[id] == nil {
		return errorf(kerr.UnknownTopicID, "Topic id %s does not exist.", UUID(id))
	}
	_, err := s.propose(ctx, []Record{&RemoveTopicRecord{TopicID: id}})
	return err
}

// DeleteTopicByName deletes a topic by name. Unknown: UNKNOWN_TOPIC_OR_PARTITION.
func (s *Store) DeleteTopicByName(ctx context.Context, name string) error {
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return lerr
	}
	defer unlock()
	t := s.Image().Topics[name]
	if t == nil {
		return errorf(kerr.UnknownTopicOrPartition, "Topic %q does not exist.", name)
	}
	_, err := s.propose(ctx, []Record{&RemoveTopicRecord{TopicID: t.ID}})
	return err
}

// CreatePartitions grows a topic to total partitions, placing the new ones like
// CreateTopic. Errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS (total not larger
// than the current count), INVALID_REPLICATION_FACTOR (too few brokers).
func (s *Store) CreatePartitions(ctx context.Context, topic string, total int32) error {
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return lerr
	}
	defer unlock()
	recs, err := planCreatePartitions(s.Image(), topic, total, s.placer())
	if err != nil {
		return err
	}
	_, err = s.propose(ctx, recs)
	return err
}

// SetTopicConfigs sets a topic's dynamic configs; a nil value deletes one. All change or
// none. Names and values are the caller's to validate. Unknown topic:
// UNKNOWN_TOPIC_OR_PARTITION.
func (s *Store) SetTopicConfigs(ctx context.Context, topic string, configs map[string]*string) error {
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return lerr
	}
	defer unlock()
	if s.Image().Topics[topic] == nil {
		return errorf(kerr.UnknownTopicOrPartition, "Topic %q does not exist.", topic)
	}
	return s.setConfigs(ctx, ConfigResourceTopic, topic, configs)
}

// SetBrokerConfigs sets cluster-wide dynamic broker configs; a nil value deletes one.
func (s *Store) SetBrokerConfigs(ctx context.Context, configs map[string]*string) error {
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return lerr
	}
	defer unlock()
	return s.setConfigs(ctx, ConfigResourceBroker, "", configs)
}

// SetNodeConfigs sets one broker's own dynamic configs (Kafka's per-broker configs,
// `--entity-name <id>`); a nil value deletes one. They override the cluster-wide ones on
// that node. All change or none; names and values are the caller's to validate.
func (s *Store) SetNodeConfigs(ctx context.Context, node int32, configs map[string]*string) error {
	if node < 0 {
		return errorf(kerr.InvalidRequest, "broker id %d is not a valid node id", node)
	}
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return lerr
	}
	defer unlock()
	return s.setConfigs(ctx, ConfigResourceBroker, strconv.Itoa(int(node)), configs)
}

func (s *Store) setConfigs(ctx context.Context, typ int8, name string, configs map[string]*string) error {
	if len(configs) == 0 {
		return nil
	}
	recs := make([]Record, 0, len(configs))
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		recs = append(recs, &ConfigRecord{ResourceType: typ, ResourceName: name, Name: k, Value: configs[k]})
	}
	_, err := s.propose(ctx, recs)
	return err
}

// BrokerRegistration is what a broker tells the controller about itself.
type BrokerRegistration struct {
	NodeID        int32
	Endpoints     []Endpoint
	Rack          *string
	IncarnationID [16]byte
}

// RegisterBroker registers a broker, or replaces its registration, unfenced: on a single
// node the broker is live by definition. The cluster issue registers brokers fenced and
// unfences them once they have caught up (SetBrokerFenced). The broker epoch is the
// registration's log offset, in Image().Brokers[id].Epoch.
func (s *Store) RegisterBroker(ctx context.Context, reg BrokerRegistration) error {
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return lerr
	}
	defer unlock()
	_, err := s.propose(ctx, []Record{&RegisterBrokerRecord{
		NodeID:        reg.NodeID,
		Endpoints:     reg.Endpoints,
		Rack:          reg.Rack,
		IncarnationID: reg.IncarnationID,
	}})
	return err
}

// SetBrokerFenced fences or unfences a registered broker. Unknown: BROKER_ID_NOT_REGISTERED.
func (s *Store) SetBrokerFenced(ctx context.Context, nodeID int32, fenced bool) error {
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return lerr
	}
	defer unlock()
	_, err := s.propose(ctx, []Record{&BrokerFenceRecord{NodeID: nodeID, Fenced: fenced}})
	return err
}

// ProducerIDBlockSize is how many producer ids a broker takes at a time, as in KRaft.
const ProducerIDBlockSize = 1000

// AllocateProducerIDs reserves n producer ids and returns the first; the block is
// [first, first+n). Ids are never handed out twice, across restarts and leader changes.
func (s *Store) AllocateProducerIDs(ctx context.Context, n int64) (first int64, err error) {
	if n <= 0 || n > math.MaxInt32 {
		return 0, errorf(kerr.InvalidRequest, "cannot allocate %d producer ids", n)
	}
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return 0, lerr
	}
	defer unlock()
	for attempt := 0; ; attempt++ {
		first = s.Image().NextProducerID
		if first > math.MaxInt64-n {
			return 0, errorf(kerr.UnknownServerError, "producer ids are exhausted")
		}
		_, err := s.propose(ctx, []Record{&ProducerIDsRecord{BrokerID: s.cfg.NodeID, First: first, Next: first + n}})
		if err == nil {
			return first, nil
		}
		// Another broker took the block first (its change reached the controller
		// before ours): plan again from the newer image.
		if attempt >= 5 || s.Image().NextProducerID == first {
			return 0, err
		}
	}
}

// AlterPartition changes a partition's ISR at its leader's request, as Kafka's
// AlterPartition does: the request names the leader epoch and partition epoch it was
// made in, and is refused when either is stale (FENCED_LEADER_EPOCH,
// INVALID_UPDATE_VERSION), when the asking broker no longer leads
// (NOT_LEADER_OR_FOLLOWER), or when it would add a replica that is fenced
// (INELIGIBLE_REPLICA). Any broker may call it: it is forwarded to the controller.
func (s *Store) AlterPartition(ctx context.Context, topicID [16]byte, partition, leaderEpoch, partitionEpoch int32, isr []int32) error {
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return lerr
	}
	defer unlock()
	img := s.Image()
	t := img.TopicsByID[topicID]
	if t == nil {
		return errorf(kerr.UnknownTopicID, "unknown topic id %s", UUID(topicID))
	}
	if partition < 0 || int(partition) >= len(t.Partitions) {
		return errorf(kerr.UnknownTopicOrPartition, "topic %q has no partition %d", t.Name, partition)
	}
	p := t.Partitions[partition]
	switch {
	case leaderEpoch < p.LeaderEpoch:
		return errorf(kerr.FencedLeaderEpoch, "%s-%d: leader epoch %d is older than %d", t.Name, partition, leaderEpoch, p.LeaderEpoch)
	case leaderEpoch > p.LeaderEpoch:
		return errorf(kerr.UnknownLeaderEpoch, "%s-%d: leader epoch %d is newer than %d", t.Name, partition, leaderEpoch, p.LeaderEpoch)
	case partitionEpoch != p.PartitionEpoch:
		return errorf(kerr.InvalidUpdateVersion, "%s-%d: partition epoch %d, not %d", t.Name, partition, partitionEpoch, p.PartitionEpoch)
	case p.Leader < 0 || !slices.Contains(isr, p.Leader):
		return errorf(kerr.NotLeaderForPartition, "%s-%d: the ISR %v must hold the leader %d", t.Name, partition, isr, p.Leader)
	}
	for _, id := range isr {
		if slices.Contains(p.ISR, id) {
			continue
		}
		if b := img.Brokers[id]; b == nil || b.Fenced {
			return errorf(kerr.IneligibleReplica, "%s-%d: replica %d is fenced or unknown and cannot join the ISR", t.Name, partition, id)
		}
	}
	var rec Record = &PartitionChangeRecord{TopicID: topicID, Partition: partition, PartitionEpoch: partitionEpoch, Leader: p.Leader, ISR: slices.Clone(isr)}
	if done, ok := reassignmentDone(img, t, p, isr); ok {
		rec = done // the last adding replica joined: the reassignment completes
	}
	_, err := s.propose(ctx, []Record{rec})
	return err
}

// reassignmentDone returns the change that completes p's reassignment once every adding
// replica is in isr: the replica set becomes the target, the ISR loses the removed
// replicas, and a leader being removed hands over to the first live target replica in
// the ISR. ok is false while the reassignment must go on.
func reassignmentDone(img *Image, t *Topic, p Partition, isr []int32) (*PartitionChangeRecord, bool) {
	if !p.Reassigning() {
		return nil, false
	}
	for _, id := range p.AddingReplicas {
		if !slices.Contains(isr, id) {
			return nil, false
		}
	}
	target := p.TargetReplicas()
	var newISR []int32
	for _, id := range isr {
		if slices.Contains(target, id) {
			newISR = append(newISR, id)
		}
	}
	if len(newISR) == 0 {
		return nil, false
	}
	leader := p.Leader
	if !slices.Contains(target, leader) {
		leader = -1
		for _, id := range target {
			if b := img.Brokers[id]; b != nil && !b.Fenced && slices.Contains(newISR, id) {
				leader = id
				break
			}
		}
	}
	return &PartitionChangeRecord{TopicID: t.ID, Partition: p.Index, PartitionEpoch: p.PartitionEpoch, Leader: leader, ISR: newISR,
		Replicas: target, AddingReplicas: []int32{}, RemovingReplicas: []int32{}}, true
}

// ReassignPartition starts, changes or (target nil) cancels the reassignment of one
// partition, as Kafka's AlterPartitionReassignments: the replica set becomes the target
// followed by the replicas to remove; the new replicas catch up as followers and, once
// all are in the ISR, the removed ones are dropped (see AlterPartition). A target equal
// to the current replicas, or one that only drops or reorders replicas, applies at once.
// Cancelling returns to the replicas before the reassignment. Errors:
// UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT, NO_REASSIGNMENT_IN_PROGRESS.
func (s *Store) ReassignPartition(ctx context.Context, topic string, partition int32, target []int32) error {
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return lerr
	}
	defer unlock()
	img := s.Image()
	t := img.Topics[topic]
	if t == nil || partition < 0 || int(partition) >= len(t.Partitions) {
		return errorf(kerr.UnknownTopicOrPartition, "%s-%d does not exist", topic, partition)
	}
	p := t.Partitions[partition]
	original := p.OriginalReplicas()
	if target == nil {
		if !p.Reassigning() {
			return errorf(kerr.NoReassignmentInProgress, "no reassignment of %s-%d is in progress", topic, partition)
		}
		target = original
	} else {
		// A registered but fenced target is accepted, as Kafka does: it catches up
		// once it is live.
		if err := checkReplicas(img, target); err != nil {
			return errorf(kerr.InvalidReplicaAssignment, "%s-%d: %s", topic, partition, err.Error())
		}
	}
	var adding, removing []int32
	for _, id := range target {
		if !slices.Contains(original, id) {
			adding = append(adding, id)
		}
	}
	for _, id := range original {
		if !slices.Contains(target, id) {
			removing = append(removing, id)
		}
	}
	replicas := append(slices.Clone(target), removing...)
	isr := slices.DeleteFunc(slices.Clone(p.ISR), func(id int32) bool { return !slices.Contains(replicas, id) })
	rec := &PartitionChangeRecord{TopicID: t.ID, Partition: partition, PartitionEpoch: p.PartitionEpoch, Leader: p.Leader, ISR: isr,
		Replicas: replicas, AddingReplicas: adding, RemovingReplicas: removing}
	if len(isr) == 0 {
		return errorf(kerr.InvalidReplicaAssignment, "%s-%d: no in-sync replica would be left", topic, partition)
	}
	if !slices.Contains(isr, rec.Leader) {
		rec.Leader = isr[0]
	}
	if len(adding) == 0 {
		// Nothing to catch up (a cancel, a removal or a new order): complete at once.
		probe := p
		probe.Replicas, probe.AddingReplicas, probe.RemovingReplicas = replicas, nil, removing
		if done, ok := reassignmentDone(img, t, probe, isr); ok {
			rec = done
		} else { // only the order changes
			rec.Replicas, rec.AddingReplicas, rec.RemovingReplicas = target, []int32{}, []int32{}
		}
	}
	_, err := s.propose(ctx, []Record{rec})
	return err
}

// ElectLeaders runs a leader election for one partition, as Kafka's ElectLeaders: a
// PREFERRED election (unclean false) moves leadership to the first replica if it is live
// and in the ISR (PREFERRED_LEADER_NOT_AVAILABLE if not); an UNCLEAN election (unclean
// true) gives a leaderless partition the first live replica, in the ISR or not, which
// may lose records. ELECTION_NOT_NEEDED when the partition already has the leader asked
// for.
func (s *Store) ElectLeaders(ctx context.Context, topic string, partition int32, unclean bool) error {
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return lerr
	}
	defer unlock()
	img := s.Image()
	t := img.Topics[topic]
	if t == nil || partition < 0 || int(partition) >= len(t.Partitions) {
		return errorf(kerr.UnknownTopicOrPartition, "%s-%d does not exist", topic, partition)
	}
	p := t.Partitions[partition]
	live := func(id int32) bool { b := img.Brokers[id]; return b != nil && !b.Fenced }
	rec := &PartitionChangeRecord{TopicID: t.ID, Partition: partition, PartitionEpoch: p.PartitionEpoch, ISR: p.ISR}
	if unclean {
		if p.Leader >= 0 && live(p.Leader) {
			return errorf(kerr.ElectionNotNeeded, "%s-%d has a live leader %d", topic, partition, p.Leader)
		}
		rec.Leader = -1
		for _, id := range p.Replicas {
			if live(id) {
				rec.Leader, rec.ISR = id, []int32{id}
				break
			}
		}
		if rec.Leader < 0 {
			return errorf(kerr.EligibleLeadersNotAvailable, "%s-%d has no live replica", topic, partition)
		}
	} else {
		preferred := p.Replicas[0]
		if p.Leader == preferred {
			return errorf(kerr.ElectionNotNeeded, "%s-%d is led by its preferred replica %d", topic, partition, preferred)
		}
		if !live(preferred) || !slices.Contains(p.ISR, preferred) {
			return errorf(kerr.PreferredLeaderNotAvailable, "preferred replica %d of %s-%d is not live and in sync", preferred, topic, partition)
		}
		rec.Leader = preferred
	}
	_, err := s.propose(ctx, []Record{rec})
	return err
}

// UnregisterBroker removes a broker's registration for good (decommissioning), as
// Kafka's UnregisterBroker. Its replicas must have been moved first; a broker that is
// still running must be stopped, or it registers again.
func (s *Store) UnregisterBroker(ctx context.Context, id int32) error {
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return lerr
	}
	defer unlock()
	if s.Image().Brokers[id] == nil {
		return errorf(kerr.BrokerIDNotRegistered, "broker %d is not registered", id)
	}
	_, err := s.propose(ctx, []Record{&UnregisterBrokerRecord{NodeID: id}})
	return err
}
