package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clusterID is the cluster.id every node of a multi-node cluster is formatted with:
// KRaft nodes must agree on it. (Any 16 bytes in URL-safe base64 would do.)
const clusterID = "c2x1aWNlLWNoYW9zLTAwMQ"

// ClusterConfig describes the nodes to start.
type ClusterConfig struct {
	// Binary is the sluice binary.
	Binary string
	// Dir holds one directory per node: node-<id>/data and node-<id>/sluice.log.
	Dir string
	// Nodes is how many nodes to run, with ids 1..Nodes. Default 1.
	Nodes int
	// Controllers, when between 1 and Nodes-1, separates the roles as a production
	// KRaft cluster does: nodes 1..Controllers are pure controllers
	// (process.roles=controller, a CONTROLLER listener only) and the others pure
	// brokers (process.roles=broker, a client listener only), which follow the quorum
	// as observers. 0 or Nodes makes every node of a multi-node cluster a combined
	// broker and controller.
	Controllers int
	// Settings are extra key=value broker settings given to every node, after the
	// harness's own (so they win).
	Settings []string
	// Network places the nodes; nil means Loopback (127.0.0.1, no partitions).
	Network Network
	// StopGrace bounds a graceful stop before the node is killed. Default 20s.
	StopGrace time.Duration
	// DataSize, if positive, caps each node's data directory at that many bytes by
	// mounting a tmpfs of that size on it (root only), so that the disk can fill.
	DataSize int64
	// FsyncDelay starts every node with the broker's test-only fsync-delay hook
	// (SLUICE_TEST_FSYNC_DELAY_FILE naming node-<id>/fsync-delay), which
	// Node.SetFsyncDelay drives: the fsync-delay fault needs it.
	FsyncDelay bool
	Logger     *slog.Logger
}

// Cluster is a set of Sluice nodes run as processes by this harness.
type Cluster struct {
	cfg   ClusterConfig
	nodes []*Node
}

// NewCluster lays out the nodes (ids, ports, directories, settings) without starting
// them.
//
// One node runs as today's single-node broker: a PLAINTEXT listener and a Raft group
// of one. Several nodes run in KRaft combined mode (process.roles=broker,controller):
// each has a CONTROLLER listener beside its client listener, and all are voters of
// controller.quorum.voters with one cluster.id. With Controllers set, the first
// Controllers nodes are pure controllers (the voters) and the rest pure brokers.
func NewCluster(cfg ClusterConfig) (*Cluster, error) {
	if cfg.Binary == "" {
		return nil, errors.New("cluster: no sluice binary")
	}
	if cfg.Nodes <= 0 {
		cfg.Nodes = 1
	}
	if cfg.Controllers < 0 || cfg.Controllers > cfg.Nodes {
		return nil, fmt.Errorf("cluster: %d controllers among %d nodes", cfg.Controllers, cfg.Nodes)
	}
	if cfg.Controllers == 0 {
		cfg.Controllers = cfg.Nodes
	}
	split := cfg.Controllers < cfg.Nodes
	if cfg.Network == nil {
		cfg.Network = Loopback{}
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 20 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Cluster{cfg: cfg}
	for i := range cfg.Nodes {
		id := int32(i + 1)
		dir := filepath.Join(cfg.Dir, fmt.Sprintf("node-%d", id))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		n := &Node{
			ID:      id,
			Roles:   []string{roleBroker, roleController},
			DataDir: filepath.Join(dir, "data"),
			LogPath: filepath.Join(dir, "sluice.log"),
			binary:  cfg.Binary, net: cfg.Network, logger: cfg.Logger, state: Stopped,
		}
		if cfg.FsyncDelay {
			n.fsyncDelayFile = filepath.Join(dir, "fsync-delay")
		}
		switch {
		case split && int(id) <= cfg.Controllers:
			n.Roles = []string{roleController}
		case split:
			n.Roles = []string{roleBroker}
		}
		if n.IsBroker() {
			addr, err := cfg.Network.Addr(id, 0)
			if err != nil {
				return nil, fmt.Errorf("cluster: client address of node %d: %w", id, err)
			}
			n.Addr = addr
		}
		if cfg.DataSize > 0 {
			if err := mountTmpfs(n.DataDir, cfg.DataSize); err != nil {
				c.unmount()
				return nil, fmt.Errorf("cluster: node %d: %w", id, err)
			}
			n.mounted = true
		}
		if cfg.Nodes > 1 && n.IsController() {
			addr, err := cfg.Network.Addr(id, 1)
			if err != nil {
				return nil, fmt.Errorf("cluster: controller address of node %d: %w", id, err)
			}
			n.ControllerAddr = addr
		}
		c.nodes = append(c.nodes, n)
	}
	var voters []string
	for _, n := range c.nodes {
		if n.ControllerAddr != "" {
			voters = append(voters, fmt.Sprintf("%d@%s", n.ID, n.ControllerAddr))
		}
	}
	for _, n := range c.nodes {
		s := []string{
			"node.id=" + strconv.Itoa(int(n.ID)),
			"log.dirs=" + n.DataDir,
			"http.addr=",
		}
		if cfg.Nodes == 1 {
			s = append(s, "listeners=PLAINTEXT://"+n.Addr)
		} else {
			var listeners []string
			if n.IsBroker() {
				listeners = append(listeners, "PLAINTEXT://"+n.Addr)
			}
			if n.IsController() {
				listeners = append(listeners, "CONTROLLER://"+n.ControllerAddr)
			}
			s = append(s,
				"process.roles="+strings.Join(n.Roles, ","),
				"listeners="+strings.Join(listeners, ","),
				"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
				"controller.listener.names=CONTROLLER",
			)
			if n.IsBroker() {
				s = append(s, "inter.broker.listener.name=PLAINTEXT")
			}
			s = append(s,
				"controller.quorum.voters="+strings.Join(voters, ","),
				"cluster.id="+clusterID,
			)
		}
		n.settings = append(s, cfg.Settings...)
	}
	return c, nil
}

// FsyncDelay reports whether the nodes run with the fsync-delay hook.
func (c *Cluster) FsyncDelay() bool { return c.cfg.FsyncDelay }

// Nodes returns the nodes in id order.
func (c *Cluster) Nodes() []*Node { return c.nodes }

// Node returns the node with the given id, or nil.
func (c *Cluster) Node(id int32) *Node {
	if id < 1 || int(id) > len(c.nodes) {
		return nil
	}
	return c.nodes[id-1]
}

// Network returns where the nodes run.
func (c *Cluster) Network() Network { return c.cfg.Network }

// StopGrace is how long a graceful stop may take.
func (c *Cluster) StopGrace() time.Duration { return c.cfg.StopGrace }

// Brokers returns the nodes that serve clients (all of them unless the roles are
// split), in id order.
func (c *Cluster) Brokers() []*Node {
	var out []*Node
	for _, n := range c.nodes {
		if n.IsBroker() {
			out = append(out, n)
		}
	}
	return out
}

// Bootstrap returns every broker's client address, for a client's seed brokers.
func (c *Cluster) Bootstrap() []string {
	var addrs []string
	for _, n := range c.nodes {
		if n.IsBroker() {
			addrs = append(addrs, n.Addr)
		}
	}
	return addrs
}

// Start starts every node at once (a quorum needs its voters together) and waits
// until each is ready (see Node.WaitReady).
func (c *Cluster) Start(ctx context.Context) error {
	for _, n := range c.nodes {
		if err := n.launch(); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(c.nodes))
	for i, n := range c.nodes {
		wg.Go(func() { errs[i] = n.WaitReady(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Crashes returns every node's unexpected exits.
func (c *Cluster) Crashes() []error {
	var all []error
	for _, n := range c.nodes {
		all = append(all, n.Crashes()...)
	}
	return all
}

// Close heals the network, stops every node that runs (gracefully, then by force) and
// tears the network down.
func (c *Cluster) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.StopGrace+10*time.Second)
	defer cancel()
	var errs []error
	if err := c.cfg.Network.Heal(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		errs = append(errs, err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		if n.State() == Stopped {
			continue
		}
		wg.Go(func() {
			if err := n.Stop(ctx, c.cfg.StopGrace); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := c.cfg.Network.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := c.unmount(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// DataSize is the cap on each node's data directory, or 0.
func (c *Cluster) DataSize() int64 { return c.cfg.DataSize }

// mountTmpfs mounts a tmpfs of size bytes on dir.
func mountTmpfs(dir string, size int64) error {
	if os.Geteuid() != 0 {
		return errors.New("a size-limited data directory needs root (a tmpfs mount)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		return fmt.Errorf("mount a tmpfs of %d bytes on %s: %w", size, dir, err)
	}
	return nil
}

// unmount removes the tmpfs mounts of stopped nodes.
func (c *Cluster) unmount() error {
	var errs []error
	for _, n := range c.nodes {
		if !n.mounted || n.State() != Stopped {
			continue
		}
		if err := syscall.Unmount(n.DataDir, 0); err != nil {
			errs = append(errs, fmt.Errorf("unmount %s: %w", n.DataDir, err))
			continue
		}
		n.mounted = false
	}
	return errors.Join(errs...)
}

// freePort returns a TCP port on host that nothing listens on right now.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
