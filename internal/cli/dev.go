package cli

// `sluice dev cluster` runs a multi-node cluster on this machine for
// development and trying things out. It starts its own binary once per node
// (`sluice server --config DIR/node-N/server.properties`) as child
// processes, waits until every node serves, prints where everything is, and
// stops the nodes in order on Ctrl-C or SIGTERM.
//
// Layout. Nodes have ids 1..N. With --controllers K equal to N (the default
// for up to three nodes) every node is combined: process.roles=
// broker,controller, a voter of the metadata quorum and a broker. With K < N
// (the default above three nodes is K=3) the roles are separated as Kafka
// recommends for production: nodes 1..K are dedicated controllers and nodes
// K+1..N pure brokers, which follow the quorum as observers. One node alone
// runs as `sluice server` does by default: a broker with a Raft group of one
// and no controller listener.
//
// Ports, from --base-port P, for node i: the client listener P+i-1, the
// controller listener P+100+i-1, the HTTP endpoint (/metrics, /healthz)
// P+200+i-1. A dedicated controller has no client port and a pure broker no
// controller port; the numbers stay tied to the node id either way.
//
// Directory. DIR/dev-cluster.properties keeps the cluster.id, generated at
// the first start, and the layout, so that a later start with the same --dir
// runs the same cluster. DIR/node-N/ holds server.properties (written at each
// start; `sluice server --config` on it runs that node by hand), data/ (its
// log.dirs) and sluice.log (its output, appended across starts).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/config"
)

const (
	devDefaultBasePort = 19092
	devDefaultDir      = "sluice-dev-cluster"
	// devPortStride separates the client, controller and HTTP port ranges,
	// and so bounds the number of nodes.
	devPortStride = 100
	devHost       = "127.0.0.1"
	// devStateFile, in the cluster's directory, keeps its id and layout.
	devStateFile = "dev-cluster.properties"
	// devMaxDefaultControllers is how many controllers a cluster of more
	// nodes gets when --controllers is not given: three voters survive the
	// loss of one.
	devMaxDefaultControllers = 3
)

// devLayout is the shape of a dev cluster: how many nodes, how many of them
// controllers, and where its ports start.
type devLayout struct {
	Nodes, Controllers, BasePort int
}

// check reports a layout that cannot run.
func (l devLayout) check() error {
	switch {
	case l.Nodes < 1 || l.Nodes > devPortStride:
		return fmt.Errorf("--nodes %d: want 1 to %d", l.Nodes, devPortStride)
	case l.Controllers < 1 || l.Controllers > l.Nodes:
		return fmt.Errorf("--controllers %d: want 1 to the number of nodes (%d)", l.Controllers, l.Nodes)
	case l.BasePort < 1 || l.BasePort+2*devPortStride+l.Nodes-1 > 65535:
		return fmt.Errorf("--base-port %d: the cluster uses ports %d to %d (client, then controller and HTTP ports %d and %d above); want them within 1-65535",
			l.BasePort, l.BasePort, l.BasePort+2*devPortStride+l.Nodes-1, devPortStride, 2*devPortStride)
	}
	return nil
}

// combined reports whether every node is both a broker and a controller.
func (l devLayout) combined() bool { return l.Controllers == l.Nodes }

// String describes the layout in words.
func (l devLayout) String() string {
	switch {
	case l.Nodes == 1:
		return "1 node, a broker that is its own controller"
	case l.combined():
		return fmt.Sprintf("%d nodes, each a broker and a controller (combined mode)", l.Nodes)
	default:
		return fmt.Sprintf("%d nodes: %s (%s) and %s (%s)", l.Nodes,
			plural(l.Controllers, "dedicated controller"), idRange(1, l.Controllers),
			plural(l.Nodes-l.Controllers, "broker"), idRange(l.Controllers+1, l.Nodes))
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func idRange(from, to int) string {
	if from == to {
		return fmt.Sprintf("node %d", from)
	}
	return fmt.Sprintf("nodes %d-%d", from, to)
}

// devNode is one node of the cluster: its roles, addresses and files.
type devNode struct {
	ID    int32
	Roles string // process.roles
	// ClientAddr is the client (PLAINTEXT) listener; empty on a dedicated
	// controller.
	ClientAddr string
	// ControllerAddr is the CONTROLLER listener; empty on a pure broker and
	// on a lone node.
	ControllerAddr string
	HTTPAddr       string
	// Dir holds the node's files.
	Dir string
}

func (n devNode) isBroker() bool     { return n.ClientAddr != "" }
func (n devNode) isController() bool { return strings.Contains(n.Roles, "controller") }
func (n devNode) dataDir() string    { return filepath.Join(n.Dir, "data") }
func (n devNode) logPath() string    { return filepath.Join(n.Dir, "sluice.log") }
func (n devNode) configPath() string { return filepath.Join(n.Dir, "server.properties") }

// planDevNodes lays out the nodes of l with their files under dir.
func planDevNodes(l devLayout, dir string) []devNode {
	port := func(offset, id int) string {
		return net.JoinHostPort(devHost, strconv.Itoa(l.BasePort+offset+id-1))
	}
	nodes := make([]devNode, 0, l.Nodes)
	for id := 1; id <= l.Nodes; id++ {
		n := devNode{
			ID:       int32(id),
			HTTPAddr: port(2*devPortStride, id),
			Dir:      filepath.Join(dir, fmt.Sprintf("node-%d", id)),
		}
		controller, broker := id <= l.Controllers, l.combined() || id > l.Controllers
		switch {
		case controller && broker:
			n.Roles = "broker,controller"
		case controller:
			n.Roles = "controller"
		default:
			n.Roles = "broker"
		}
		if broker {
			n.ClientAddr = port(0, id)
		}
		if controller && l.Nodes > 1 {
			n.ControllerAddr = port(devPortStride, id)
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// devSettings returns node n's settings in the order they are written to its
// server.properties: the cluster's own, then extra (key=value, from --set),
// which win.
func devSettings(nodes []devNode, n devNode, clusterID string, extra []string) ([][2]string, error) {
	s := [][2]string{
		{config.KeyNodeID, strconv.Itoa(int(n.ID))},
		{config.KeyProcessRoles, n.Roles},
	}
	var listeners []string
	if n.isBroker() {
		listeners = append(listeners, "PLAINTEXT://"+n.ClientAddr)
	}
	if n.ControllerAddr != "" {
		listeners = append(listeners, "CONTROLLER://"+n.ControllerAddr)
	}
	s = append(s, [2]string{config.KeyListeners, strings.Join(listeners, ",")})
	if len(nodes) > 1 {
		var voters []string
		for _, v := range nodes {
			if v.isController() {
				voters = append(voters, fmt.Sprintf("%d@%s", v.ID, v.ControllerAddr))
			}
		}
		s = append(s,
			[2]string{config.KeyListenerSecurityProtocol, "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"},
			[2]string{config.KeyControllerListenerNames, "CONTROLLER"},
		)
		if n.isBroker() {
			s = append(s, [2]string{config.KeyInterBrokerListenerName, "PLAINTEXT"})
		}
		s = append(s, [2]string{config.KeyControllerQuorumVoters, strings.Join(voters, ",")})
	}
	s = append(s,
		[2]string{config.KeyClusterID, clusterID},
		[2]string{config.KeyLogDirs, n.dataDir()},
		[2]string{config.KeyHTTPAddr, n.HTTPAddr},
	)
	for _, kv := range extra {
		k, v, err := parseKV("--set", kv)
		if err != nil {
			return nil, err
		}
		s = append(s, [2]string{k, v})
	}
	return s, nil
}

// writeProperties writes key=value pairs as a Java .properties file, under a
// comment header.
func writeProperties(path, header string, kvs [][2]string) error {
	var b strings.Builder
	for _, l := range strings.Split(header, "\n") {
		b.WriteString("# " + l + "\n")
	}
	for _, kv := range kvs {
		b.WriteString(escapeProperty(kv[0], true) + "=" + escapeProperty(kv[1], false) + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// escapeProperty escapes s for a .properties key or value, so that
// config.ParseProperties reads back exactly s.
func escapeProperty(s string, key bool) string {
	var b strings.Builder
	for i, c := range s {
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\f':
			b.WriteString(`\f`)
		case key && (c == '=' || c == ':' || c == ' '):
			b.WriteString(`\` + string(c))
		case c == ' ' && i == 0, (c == '#' || c == '!') && i == 0 && key:
			b.WriteString(`\` + string(c))
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// devState is what DIR/dev-cluster.properties keeps.
type devState struct {
	ClusterID string
	Layout    devLayout
}

// readDevState reads dir's state file; ok is false when there is none.
func readDevState(dir string) (st devState, ok bool, err error) {
	path := filepath.Join(dir, devStateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return devState{}, false, nil
	}
	if err != nil {
		return devState{}, false, fmt.Errorf("read %s: %w", path, err)
	}
	props, err := config.ParseProperties(string(b))
	if err != nil {
		return devState{}, false, fmt.Errorf("read %s: %w", path, err)
	}
	vals := map[string]string{}
	for _, p := range props {
		vals[p.Key] = p.Value
	}
	num := func(key string) (int, error) {
		n, err := strconv.Atoi(vals[key])
		if err != nil {
			return 0, fmt.Errorf("%s: %s=%q is not a number; remove the directory to start afresh", path, key, vals[key])
		}
		return n, nil
	}
	st.ClusterID = vals[config.KeyClusterID]
	if st.ClusterID == "" {
		return devState{}, false, fmt.Errorf("%s has no cluster.id; remove the directory to start afresh", path)
	}
	if st.Layout.Nodes, err = num("nodes"); err != nil {
		return devState{}, false, err
	}
	if st.Layout.Controllers, err = num("controllers"); err != nil {
		return devState{}, false, err
	}
	if st.Layout.BasePort, err = num("base.port"); err != nil {
		return devState{}, false, err
	}
	return st, true, nil
}

func writeDevState(dir string, st devState) error {
	return writeProperties(filepath.Join(dir, devStateFile),
		"sluice dev cluster keeps this cluster's id and layout here, so that a later\n"+
			"start with the same --dir runs the same cluster. Do not edit.",
		[][2]string{
			{config.KeyClusterID, st.ClusterID},
			{"nodes", strconv.Itoa(st.Layout.Nodes)},
			{"controllers", strconv.Itoa(st.Layout.Controllers)},
			{"base.port", strconv.Itoa(st.Layout.BasePort)},
		})
}

// newClusterID returns a random cluster id as Kafka writes one: 16 bytes in
// unpadded URL-safe base64. Like Kafka, it avoids ids that start with '-',
// which a command line would take for a flag.
func newClusterID() (string, error) {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("cluster id: %w", err)
		}
		if id := base64.RawURLEncoding.EncodeToString(b[:]); id[0] != '-' {
			return id, nil
		}
	}
}

// devFlags are the flags of `sluice dev cluster`.
type devFlags struct {
	layout       devLayout
	dir          string
	sets         []string
	startTimeout time.Duration
	stopTimeout  time.Duration
	printLogs    bool
}

// resolveLayout decides the layout: the stored one when the directory holds
// a cluster (flags given explicitly must agree with it), else the flags'.
func resolveLayout(f devLayout, changed func(flag string) bool, stored *devState) (devLayout, error) {
	if stored != nil {
		s := stored.Layout
		if (changed("nodes") && f.Nodes != s.Nodes) ||
			(changed("controllers") && f.Controllers != s.Controllers) ||
			(changed("base-port") && f.BasePort != s.BasePort) {
			return devLayout{}, fmt.Errorf("the directory holds a cluster of --nodes %d --controllers %d --base-port %d; start it with those (or without these flags), or use another --dir",
				s.Nodes, s.Controllers, s.BasePort)
		}
		return s, s.check()
	}
	if !changed("controllers") {
		f.Controllers = min(f.Nodes, devMaxDefaultControllers)
	}
	return f, f.check()
}

func (a *app) devCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Tools for development: run a local multi-node cluster",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(a.devClusterCmd())
	return cmd
}

func (a *app) devClusterCmd() *cobra.Command {
	f := &devFlags{}
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Run a local cluster of several nodes in the foreground until Ctrl-C",
		Long: `Run a Sluice cluster on this machine: one 'sluice server' process per node,
started by this command and stopped by it on Ctrl-C (SIGINT) or SIGTERM.

Nodes have ids 1..N. With --controllers equal to --nodes (the default up to 3
nodes) every node is both a broker and a controller (KRaft combined mode).
With fewer controllers, nodes 1..K are dedicated controllers (the metadata
quorum's voters) and the rest pure brokers, as Kafka recommends for
production; the default above 3 nodes is 3 controllers.

Ports, for node i from --base-port P (default 19092):
  client (PLAINTEXT)   P+i-1      19092, 19093, ...  (brokers)
  controller           P+100+i-1  19192, 19193, ...  (controllers)
  HTTP /metrics        P+200+i-1  19292, 19293, ...

Data lives in --dir (default ./sluice-dev-cluster): node-N/data, node-N/sluice.log
(the node's output) and node-N/server.properties (its settings; run one node by
hand with 'sluice server --config DIR/node-N/server.properties'). The cluster id
and layout are kept in DIR/dev-cluster.properties, so running the command again
with the same --dir restarts the same cluster with its data.

On Ctrl-C the brokers stop first, then the controllers; a node that has not
stopped after --stop-timeout is killed. A second Ctrl-C kills every node at
once. The command exits non-zero if a node fails to start or to stop cleanly.`,
		Example: `  sluice dev cluster
  sluice dev cluster --nodes 5 --controllers 3 --dir /tmp/five
  sluice dev cluster --set num.partitions=6 --set default.replication.factor=3
  SLUICE_BROKERS=127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094 sluice cluster quorum`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runDevCluster(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.IntVarP(&f.layout.Nodes, "nodes", "n", 3, "number of nodes")
	fl.IntVar(&f.layout.Controllers, "controllers", 0, "number of controllers: every node combined if equal to --nodes, else nodes 1..K dedicated controllers (default --nodes, at most 3)")
	fl.IntVar(&f.layout.BasePort, "base-port", devDefaultBasePort, "first client port; controller ports start 100 above it, HTTP ports 200 above")
	fl.StringVarP(&f.dir, "dir", "d", devDefaultDir, "directory of the cluster's data, logs and settings; reused when it exists")
	fl.StringArrayVarP(&f.sets, "set", "s", nil, "a broker setting for every node, key=value (repeatable)")
	fl.DurationVar(&f.startTimeout, "start-timeout", 60*time.Second, "give up if the nodes do not all serve within this long")
	fl.DurationVar(&f.stopTimeout, "stop-timeout", 30*time.Second, "kill a node that has not stopped this long after SIGTERM")
	fl.BoolVar(&f.printLogs, "print-logs", false, "also print every node's output here, each line prefixed with its node")
	return cmd
}

func (a *app) runDevCluster(cmd *cobra.Command, f *devFlags) error {
	out := cmd.OutOrStdout()
	dir, err := filepath.Abs(f.dir)
	if err != nil {
		return fmt.Errorf("--dir %s: %w", f.dir, err)
	}
	stored, exists, err := readDevState(dir)
	if err != nil {
		return err
	}
	var prev *devState
	if exists {
		prev = &stored
	}
	layout, err := resolveLayout(f.layout, cmd.Flags().Changed, prev)
	if err != nil {
		return err
	}
	if f.startTimeout <= 0 || f.stopTimeout <= 0 {
		return errors.New("--start-timeout and --stop-timeout must be positive")
	}
	st := stored
	if !exists {
		id, err := newClusterID()
		if err != nil {
			return err
		}
		st = devState{ClusterID: id, Layout: layout}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("--dir: %w", err)
		}
		if err := writeDevState(dir, st); err != nil {
			return err
		}
	}

	nodes := planDevNodes(layout, dir)
	for _, n := range nodes {
		if err := os.MkdirAll(n.dataDir(), 0o755); err != nil {
			return fmt.Errorf("node %d: %w", n.ID, err)
		}
		kvs, err := devSettings(nodes, n, st.ClusterID, f.sets)
		if err != nil {
			return err
		}
		if err := writeProperties(n.configPath(),
			fmt.Sprintf("Node %d of the sluice dev cluster in %s; rewritten at each start of the cluster.", n.ID, dir), kvs); err != nil {
			return err
		}
		// Check the settings here, so that a bad --set fails before any
		// process starts, with one message rather than one per node.
		if _, _, err := config.Load(n.configPath(), nil, nil); err != nil {
			return fmt.Errorf("node %d's settings (%s): %w", n.ID, n.configPath(), err)
		}
	}
	if err := devPortsFree(nodes); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the sluice binary to run the nodes: %w", err)
	}
	env := devEnv(a.environ)

	what := "New cluster"
	if exists {
		what = "Restarting the cluster"
	}
	fmt.Fprintf(out, "sluice dev cluster: %s\n%s in %s (cluster.id %s)\n", layout, what, dir, st.ClusterID)
	if layout.Controllers%2 == 0 {
		fmt.Fprintf(out, "Note: %d controllers tolerate no more failures than %d; an odd number is usual.\n", layout.Controllers, layout.Controllers-1)
	}

	// Signals: the first stops the cluster gracefully, a second kills it.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	c := &devCluster{
		nodes: nodes,
		command: func(n devNode) *exec.Cmd {
			cmd := exec.Command(exe, "server", "--config", n.configPath(), "--log-level", a.logLevel, "--log-format", a.logFormat)
			cmd.Env = env
			return cmd
		},
		ready:        devReady,
		out:          out,
		startTimeout: f.startTimeout,
		stopGrace:    f.stopTimeout,
	}
	if f.printLogs {
		c.echo = cmd.ErrOrStderr()
	}
	return c.run(cmd.Context(), sigs)
}

// devEnv is the environment of the nodes: this one without SLUICE_*
// variables, which `sluice server` would read as settings of every node
// (SLUICE_BROKERS, meant for the client commands, among them). Settings for
// every node go through --set.
func devEnv(environ []string) []string {
	var env []string
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "SLUICE_") {
			env = append(env, kv)
		}
	}
	return env
}

// devPortsFree checks that no other process holds the cluster's ports, to
// fail at once with a clear message rather than with one node's bind error.
func devPortsFree(nodes []devNode) error {
	for _, n := range nodes {
		for _, addr := range []string{n.ClientAddr, n.ControllerAddr, n.HTTPAddr} {
			if addr == "" {
				continue
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("node %d cannot listen on %s (%v): is another cluster running? Stop it, or choose other ports with --base-port", n.ID, addr, err)
			}
			ln.Close()
		}
	}
	return nil
}

// devCluster runs the nodes' processes: start, wait until they serve, and
// stop them in order. Its seams (the command of a node, the readiness check)
// let tests run it with stand-in processes.
type devCluster struct {
	nodes []devNode
	// command returns the process of node n, not started.
	command func(n devNode) *exec.Cmd
	// ready returns nil once every node serves, or an error when ctx ends
	// first.
	ready func(ctx context.Context, nodes []devNode) error
	// out gets the cluster's status lines; echo, when set, every node's
	// output, line by line with a prefix.
	out, echo    io.Writer
	startTimeout time.Duration
	stopGrace    time.Duration
}

// devProc is a running node.
type devProc struct {
	node   devNode
	cmd    *exec.Cmd
	echo   *prefixWriter
	done   chan struct{} // closed once the process is reaped
	err    error         // its exit status, set before done is closed
	killed string        // why this command killed it, if it did
}

func (p *devProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// start starts every node at once (a quorum needs its voters together); on
// an error it stops the ones it started. exits gets each process once it
// has exited.
func (c *devCluster) start(exits chan<- *devProc) ([]*devProc, error) {
	var echoMu sync.Mutex
	var procs []*devProc
	for _, n := range c.nodes {
		p, err := c.startNode(n, &echoMu, exits)
		if err != nil {
			_ = c.stop(procs, nil)
			return nil, err
		}
		procs = append(procs, p)
	}
	return procs, nil
}

func (c *devCluster) startNode(n devNode, echoMu *sync.Mutex, exits chan<- *devProc) (*devProc, error) {
	logFile, err := os.OpenFile(n.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("node %d: open its log: %w", n.ID, err)
	}
	cmd := c.command(n)
	fmt.Fprintf(logFile, "=== %s sluice dev cluster: start node %d: %s\n",
		time.Now().Format(time.RFC3339), n.ID, strings.Join(cmd.Args, " "))
	p := &devProc{node: n, cmd: cmd, done: make(chan struct{})}
	var w io.Writer = logFile
	if c.echo != nil {
		p.echo = &prefixWriter{mu: echoMu, w: c.echo, prefix: fmt.Sprintf("node-%d | ", n.ID)}
		w = io.MultiWriter(logFile, p.echo)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = devSysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("node %d: start %s: %w", n.ID, cmd.Path, err)
	}
	go func() {
		err := cmd.Wait()
		if p.echo != nil {
			p.echo.flush()
		}
		logFile.Close()
		p.err = err
		close(p.done)
		exits <- p
	}()
	return p, nil
}

// run starts the cluster, waits until it serves, and keeps it running until
// ctx ends or a signal arrives on sigs; then it stops the nodes (a second
// signal kills them). It returns an error if a node fails to start or to
// stop cleanly.
func (c *devCluster) run(ctx context.Context, sigs <-chan os.Signal) error {
	exits := make(chan *devProc, len(c.nodes))
	began := time.Now()
	procs, err := c.start(exits)
	if err != nil {
		return err
	}
	c.printNodes(procs)
	fmt.Fprintln(c.out, "Waiting for the nodes to serve...")

	readyCtx, cancelReady := context.WithTimeout(ctx, c.startTimeout)
	defer cancelReady()
	readyErr := make(chan error, 1)
	go func() { readyErr <- c.ready(readyCtx, c.nodes) }()
	abort := func() {
		cancelReady()
		<-readyErr
	}
wait:
	for {
		select {
		case err := <-readyErr:
			if err == nil {
				break wait
			}
			if ctx.Err() != nil {
				fmt.Fprintln(c.out, "Stopping before the cluster served.")
				return c.stop(procs, sigs)
			}
			stopErr := c.stop(procs, sigs)
			return errors.Join(fmt.Errorf("the cluster did not serve within %s: %w%s", c.startTimeout, err, c.tails(procs)), stopErr)
		case p := <-exits:
			abort()
			stopErr := c.stop(procs, sigs)
			return errors.Join(fmt.Errorf("node %d exited while starting (%v)%s", p.node.ID, exitText(p.err), c.tails([]*devProc{p})), stopErr)
		case <-sigs:
			abort()
			fmt.Fprintln(c.out, "Stopping before the cluster served.")
			return c.stop(procs, sigs)
		}
	}
	c.printReady(time.Since(began))

	running := len(procs)
	for {
		select {
		case <-ctx.Done():
			return c.stop(procs, sigs)
		case <-sigs:
			return c.stop(procs, sigs)
		case p := <-exits:
			running--
			fmt.Fprintf(c.out, "Node %d exited by itself (%s); its log is %s. Run it again by hand with:\n  sluice server --config %s\n",
				p.node.ID, exitText(p.err), p.node.logPath(), p.node.configPath())
			if running == 0 {
				return errors.New("every node has exited")
			}
		}
	}
}

// stop stops the nodes still running: the pure brokers first, then the
// nodes with the controller role, as Kafka recommends (a broker's
// controlled shutdown needs the controllers). Each gets SIGTERM and
// c.stopGrace to exit, then SIGKILL. A signal on sigs (a second Ctrl-C) kills
// every node left at once. Nodes that had exited before are not counted.
func (c *devCluster) stop(procs []*devProc, sigs <-chan os.Signal) error {
	force := make(chan struct{})
	finished := make(chan struct{})
	defer close(finished)
	if sigs != nil {
		go func() {
			select {
			case <-sigs:
				close(force)
			case <-finished:
			}
		}()
	}
	var brokers, controllers []*devProc
	for _, p := range procs {
		switch {
		case p.exited():
		case p.node.isController():
			controllers = append(controllers, p)
		default:
			brokers = append(brokers, p)
		}
	}
	var errs []error
	for _, group := range [][]*devProc{brokers, controllers} {
		if len(group) == 0 {
			continue
		}
		errs = append(errs, c.stopGroup(group, force)...)
	}
	if len(errs) == 0 {
		fmt.Fprintln(c.out, "Every node has stopped.")
		return nil
	}
	return errors.Join(errs...)
}

// stopGroup stops the processes of group together.
func (c *devCluster) stopGroup(group []*devProc, force <-chan struct{}) []error {
	kind := "node"
	switch {
	case !group[0].node.isController():
		kind = "broker"
	case !group[0].node.isBroker():
		kind = "controller"
	}
	if len(group) > 1 {
		kind += "s"
	}
	var ids []string
	for _, p := range group {
		ids = append(ids, strconv.Itoa(int(p.node.ID)))
	}
	fmt.Fprintf(c.out, "Stopping %s %s...\n", kind, strings.Join(ids, ", "))
	began := time.Now()
	for _, p := range group {
		// An error means the process has already exited; Wait reports how.
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	grace := time.NewTimer(c.stopGrace)
	defer grace.Stop()
	for _, p := range group {
		reason := ""
		select {
		case <-p.done:
			continue
		case <-grace.C:
			reason = fmt.Sprintf("did not stop within %s of SIGTERM", c.stopGrace)
		case <-force:
			reason = "was still stopping at the second interrupt"
		}
		for _, q := range group {
			if !q.exited() {
				q.killed = reason
				_ = q.cmd.Process.Kill()
			}
		}
		break
	}
	var errs []error
	for _, p := range group {
		<-p.done
		switch {
		case p.killed != "":
			errs = append(errs, fmt.Errorf("node %d %s, so it was killed; see %s", p.node.ID, p.killed, p.node.logPath()))
		case p.err != nil && !terminated(p.err):
			errs = append(errs, fmt.Errorf("node %d stopped with %s; see %s", p.node.ID, exitText(p.err), p.node.logPath()))
		default:
			fmt.Fprintf(c.out, "Node %d stopped (%.1fs).\n", p.node.ID, time.Since(began).Seconds())
		}
	}
	return errs
}

// terminated reports whether a process ended by SIGTERM: what it was asked
// to do, if early (sluice server handles SIGTERM once it has started).
func terminated(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM
}

// exitText describes a process's exit.
func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// tails returns the last lines of the nodes' logs, for an error message.
func (c *devCluster) tails(procs []*devProc) string {
	var b strings.Builder
	for _, p := range procs {
		t, err := tailFile(p.node.logPath(), 15)
		if err != nil || strings.TrimSpace(t) == "" {
			continue
		}
		fmt.Fprintf(&b, "\n--- the end of node %d's log, %s:\n%s", p.node.ID, p.node.logPath(), t)
	}
	return b.String()
}

// tailFile returns the last n lines of the file at path.
func tailFile(path string, n int) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	lines := strings.SplitAfter(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "") + "\n", nil
}

// printNodes prints a table of the nodes: roles, addresses, process and log.
func (c *devCluster) printNodes(procs []*devProc) {
	tw := newTable(c.out)
	fmt.Fprintln(tw, "NODE\tROLES\tCLIENT\tCONTROLLER\tHTTP\tPID\tLOG")
	for _, p := range procs {
		n := p.node
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\n", n.ID, n.Roles, dash(n.ClientAddr), dash(n.ControllerAddr),
			n.HTTPAddr, p.cmd.Process.Pid, n.logPath())
	}
	tw.Flush()
}

// printReady tells the user the cluster serves and how to reach it.
func (c *devCluster) printReady(took time.Duration) {
	var boot []string
	for _, n := range c.nodes {
		if n.isBroker() {
			boot = append(boot, n.ClientAddr)
		}
	}
	fmt.Fprintf(c.out, "The cluster serves (ready in %.1fs).\n\n", took.Seconds())
	fmt.Fprintf(c.out, "Bootstrap servers: %s\n\n", strings.Join(boot, ","))
	fmt.Fprintf(c.out, "  export SLUICE_BROKERS=%s\n  sluice cluster brokers\n  sluice cluster quorum\n\n", strings.Join(boot, ","))
	fmt.Fprintln(c.out, "Press Ctrl-C to stop every node.")
}

// prefixWriter copies whole lines to w, each after prefix; mu, shared by
// the writers of every node, keeps lines whole. One goroutine writes to it
// (os/exec's copier); flush, after the process has been reaped, writes a
// last line without a newline.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		p.emit(p.buf[:i+1])
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

func (p *prefixWriter) flush() {
	if len(p.buf) > 0 {
		p.emit(append(p.buf, '\n'))
		p.buf = nil
	}
}

func (p *prefixWriter) emit(line []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// A terminal that fails to take the copy must not stop the node: its
	// log file has every line.
	_, _ = io.WriteString(p.w, p.prefix+string(line))
}

// devReady waits until every node serves: each broker answers Metadata
// listing every broker of the cluster (it has registered, is unfenced, and
// has applied the others' registrations), and each dedicated controller
// answers DescribeQuorum on its controller listener naming a leader and
// itself among the voters.
func devReady(ctx context.Context, nodes []devNode) error {
	var brokerIDs []int32
	for _, n := range nodes {
		if n.isBroker() {
			brokerIDs = append(brokerIDs, n.ID)
		}
	}
	clients := map[int32]*kgo.Client{}
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	pending := map[int32]error{}
	for _, n := range nodes {
		addr := n.ClientAddr
		if !n.isBroker() {
			addr = n.ControllerAddr
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("sluice-dev-cluster"), kgo.DialTimeout(time.Second))
		if err != nil {
			return fmt.Errorf("client for node %d: %w", n.ID, err)
		}
		clients[n.ID] = cl
		pending[n.ID] = errors.New("not probed yet")
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, n := range nodes {
			if _, ok := pending[n.ID]; !ok {
				continue
			}
			attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
			seed := clients[n.ID].SeedBrokers()[0]
			var err error
			if n.isBroker() {
				err = probeBrokers(attempt, seed, brokerIDs)
			} else {
				err = probeVoter(attempt, seed, n.ID)
			}
			cancel()
			if err == nil {
				delete(pending, n.ID)
			} else {
				pending[n.ID] = err
			}
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			var msgs []string
			for _, n := range nodes {
				if err, ok := pending[n.ID]; ok {
					msgs = append(msgs, fmt.Sprintf("node %d: %v", n.ID, err))
				}
			}
			return fmt.Errorf("not ready: %s", strings.Join(msgs, "; "))
		case <-tick.C:
		}
	}
}

// probeBrokers asks one broker for Metadata and checks that it lists every
// broker in want.
func probeBrokers(ctx context.Context, b *kgo.Broker, want []int32) error {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // no topics, only the brokers
	resp, err := b.Request(ctx, req)
	if err != nil {
		return err
	}
	md := resp.(*kmsg.MetadataResponse)
	var have []int32
	for _, mb := range md.Brokers {
		have = append(have, mb.NodeID)
	}
	slices.Sort(have)
	for _, id := range want {
		if !slices.Contains(have, id) {
			return fmt.Errorf("Metadata lists brokers %v, not yet all of %v", have, want)
		}
	}
	return nil
}

// probeVoter asks one controller for DescribeQuorum and checks that there is
// a leader and that id is a voter.
func probeVoter(ctx context.Context, b *kgo.Broker, id int32) error {
	resp, err := b.Request(ctx, newQuorumRequest())
	if err != nil {
		return err
	}
	p, err := quorumPartition(resp.(*kmsg.DescribeQuorumResponse))
	if err != nil {
		return err
	}
	if p.LeaderID < 0 {
		return errors.New("DescribeQuorum names no leader yet")
	}
	for _, v := range p.CurrentVoters {
		if v.ReplicaID == id {
			return nil
		}
	}
	return fmt.Errorf("DescribeQuorum does not list node %d among the voters", id)
}

// errNoQuorumPartition is an answer to DescribeQuorum without the metadata
// log's partition.
var errNoQuorumPartition = errors.New("the DescribeQuorum answer lacks " + metadataTopic + "-0")

// quorumPartition returns the metadata log's partition from a DescribeQuorum
// answer, or the error it carries.
func quorumPartition(resp *kmsg.DescribeQuorumResponse) (*kmsg.DescribeQuorumResponseTopicPartition, error) {
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, brokerErr(err, deref(resp.ErrorMessage))
	}
	for i := range resp.Topics {
		t := &resp.Topics[i]
		for j := range t.Partitions {
			p := &t.Partitions[j]
			if t.Topic != metadataTopic || p.Partition != 0 {
				continue
			}
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, brokerErr(err, deref(p.ErrorMessage))
			}
			return p, nil
		}
	}
	return nil, errNoQuorumPartition
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
