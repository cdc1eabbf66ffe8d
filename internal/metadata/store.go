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
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
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

	// SnapshotThreshold is how many log entries since the last snapshot make Raft take a
	// new one, keeping the log bounded (0: 1024). SnapshotInterval is how often Raft checks
	// (0: 30s). TrailingLogs is how many entries a snapshot leaves in the log so a lagging
	// follower can catch up without a snapshot (0: 1024).
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
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

	// proposeMu serialises plan-and-propose, so each plan sees every earlier change.
	// Metadata changes are rare; the state machine's checks remain the safety net.
	proposeMu sync.Mutex

	ctx       context.Context // canceled by Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	ready     chan error // the outcome of the first takeover, for Open
	closeOnce sync.Once
	closeErr  error
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
	s := &Store{cfg: cfg, log: logger, fsm: newFSM(logger), ready: make(chan error, 1)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.start(); err != nil {
		s.cancel()
		s.closeStores()
		return nil, err
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
	if s.trans == nil {
		_, s.trans = raft.NewInmemTransport(raft.ServerAddress("sluice-node-" + strconv.Itoa(int(s.cfg.NodeID))))
	}

	rc := raftConfig(s.cfg, s.log)
	notify := make(chan bool, 1)
	rc.NotifyCh = notify

	has, err := raft.HasExistingState(s.bolt, s.bolt, snaps)
	if err != nil {
		return fmt.Errorf("read metadata log state: %w", err)
	}
	if !has {
		boot := raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter,
			ID:       rc.LocalID,
			Address:  s.trans.LocalAddr(),
		}}}
		if err := raft.BootstrapCluster(rc, s.bolt, s.bolt, snaps, s.trans, boot); err != nil {
			return fmt.Errorf("bootstrap metadata quorum: %w", err)
		}
		s.log.Info("bootstrapped metadata quorum", "node", s.cfg.NodeID, "dir", s.cfg.Dir)
	}
	s.raft, err = raft.NewRaft(rc, s.fsm, s.bolt, s.bolt, snaps, s.trans)
	if err != nil {
		return fmt.Errorf("start metadata raft: %w", err)
	}
	s.wg.Add(1)
	go s.leaderLoop(notify)
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
		s.cancel()
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

// propose appends recs to the log as one entry and waits until it is applied. It returns
// the image right after the entry, or why the state machine rejected it.
func (s *Store) propose(ctx context.Context, recs []Record) (*Image, error) {
	data, err := EncodeBatch(recs)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, errorf(kerr.RequestTimedOut, "metadata change not started: %v", err)
	}
	f := s.raft.Apply(data, 0)
	done := make(chan struct{})
	go func() {
		_ = f.Error()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, errorf(kerr.RequestTimedOut, "metadata change may or may not have been applied: %v", ctx.Err())
	}
	if err := f.Error(); err != nil {
		return nil, raftError(err)
	}
	res, ok := f.Response().(applyResult)
	if !ok {
		return nil, fmt.Errorf("metadata change: unexpected state machine response %T", f.Response())
	}
	return res.img, res.err
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
// starting broker as Kafka does.
func (s *Store) placer() placer {
	return roundRobin(rand.IntN(1<<20), rand.IntN(1<<20))
}

// CreateTopic creates a topic with its partitions and configs, all or nothing, and returns
// it. Errors are *Error values carrying Kafka's code: TOPIC_ALREADY_EXISTS,
// INVALID_TOPIC_EXCEPTION (bad name, or one that collides with an existing name once '.'
// is read as '_'), INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR,
// INVALID_REPLICA_ASSIGNMENT, INVALID_REQUEST, INVALID_CONFIG.
func (s *Store) CreateTopic(ctx context.Context, spec TopicSpec) (*Topic, error) {
	s.proposeMu.Lock()
	defer s.proposeMu.Unlock()
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
	s.proposeMu.Lock()
	defer s.proposeMu.Unlock()
	if s.Image().TopicsByID[id] == nil {
		return errorf(kerr.UnknownTopicID, "Topic id %s does not exist.", UUID(id))
	}
	_, err := s.propose(ctx, []Record{&RemoveTopicRecord{TopicID: id}})
	return err
}

// DeleteTopicByName deletes a topic by name. Unknown: UNKNOWN_TOPIC_OR_PARTITION.
func (s *Store) DeleteTopicByName(ctx context.Context, name string) error {
	s.proposeMu.Lock()
	defer s.proposeMu.Unlock()
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
	s.proposeMu.Lock()
	defer s.proposeMu.Unlock()
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
	s.proposeMu.Lock()
	defer s.proposeMu.Unlock()
	if s.Image().Topics[topic] == nil {
		return errorf(kerr.UnknownTopicOrPartition, "Topic %q does not exist.", topic)
	}
	return s.setConfigs(ctx, ConfigResourceTopic, topic, configs)
}

// SetBrokerConfigs sets cluster-wide dynamic broker configs; a nil value deletes one.
func (s *Store) SetBrokerConfigs(ctx context.Context, configs map[string]*string) error {
	s.proposeMu.Lock()
	defer s.proposeMu.Unlock()
	return s.setConfigs(ctx, ConfigResourceBroker, "", configs)
}

// SetNodeConfigs sets one broker's own dynamic configs (Kafka's per-broker configs,
// `--entity-name <id>`); a nil value deletes one. They override the cluster-wide ones on
// that node. All change or none; names and values are the caller's to validate.
func (s *Store) SetNodeConfigs(ctx context.Context, node int32, configs map[string]*string) error {
	if node < 0 {
		return errorf(kerr.InvalidRequest, "broker id %d is not a valid node id", node)
	}
	s.proposeMu.Lock()
	defer s.proposeMu.Unlock()
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
	s.proposeMu.Lock()
	defer s.proposeMu.Unlock()
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
	s.proposeMu.Lock()
	defer s.proposeMu.Unlock()
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
	s.proposeMu.Lock()
	defer s.proposeMu.Unlock()
	first = s.Image().NextProducerID
	if first > math.MaxInt64-n {
		return 0, errorf(kerr.UnknownServerError, "producer ids are exhausted")
	}
	if _, err := s.propose(ctx, []Record{&ProducerIDsRecord{BrokerID: s.cfg.NodeID, First: first, Next: first + n}}); err != nil {
		return 0, err
	}
	return first, nil
}
