package cli

import (
	"bytes"
	"context"
	"fmt"
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
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/config"
)

// devHelperEnv, when set in the environment, makes the test binary act as a
// node of a dev cluster instead of running tests: the supervisor tests start
// it as their child processes. Its value is the behaviour:
//
//	serve     print "serving", then on SIGTERM print "sigterm <unix nanos>" and exit 0
//	crash     print "boom: cannot start" and exit 3
//	stubborn  print "serving" and ignore SIGTERM
const devHelperEnv = "SLUICE_TEST_DEV_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(devHelperEnv); mode != "" {
		os.Exit(devHelper(mode))
	}
	os.Exit(m.Run())
}

func devHelper(mode string) int {
	switch mode {
	case "crash":
		fmt.Println("boom: cannot start")
		return 3
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("serving")
		for {
			time.Sleep(time.Hour)
		}
	case "serve":
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		fmt.Println("serving")
		<-term
		fmt.Printf("sigterm %d\n", time.Now().UnixNano())
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
	return 2
}

func TestDevLayoutPorts(t *testing.T) {
	type want struct {
		roles, client, controller, http string
	}
	for _, tc := range []struct {
		layout devLayout
		nodes  []want
	}{
		{devLayout{Nodes: 3, Controllers: 3, BasePort: 19092}, []want{
			{"broker,controller", "127.0.0.1:19092", "127.0.0.1:19192", "127.0.0.1:19292"},
			{"broker,controller", "127.0.0.1:19093", "127.0.0.1:19193", "127.0.0.1:19293"},
			{"broker,controller", "127.0.0.1:19094", "127.0.0.1:19194", "127.0.0.1:19294"},
		}},
		{devLayout{Nodes: 5, Controllers: 3, BasePort: 19092}, []want{
			{"controller", "", "127.0.0.1:19192", "127.0.0.1:19292"},
			{"controller", "", "127.0.0.1:19193", "127.0.0.1:19293"},
			{"controller", "", "127.0.0.1:19194", "127.0.0.1:19294"},
			{"broker", "127.0.0.1:19095", "", "127.0.0.1:19295"},
			{"broker", "127.0.0.1:19096", "", "127.0.0.1:19296"},
		}},
		{devLayout{Nodes: 1, Controllers: 1, BasePort: 30000}, []want{
			{"broker,controller", "127.0.0.1:30000", "", "127.0.0.1:30200"},
		}},
	} {
		t.Run(tc.layout.String(), func(t *testing.T) {
			if err := tc.layout.check(); err != nil {
				t.Fatal(err)
			}
			nodes := planDevNodes(tc.layout, "/d")
			if len(nodes) != len(tc.nodes) {
				t.Fatalf("%d nodes, want %d", len(nodes), len(tc.nodes))
			}
			for i, n := range nodes {
				w := tc.nodes[i]
				got := want{n.Roles, n.ClientAddr, n.ControllerAddr, n.HTTPAddr}
				if got != w || n.ID != int32(i+1) || n.Dir != fmt.Sprintf("/d/node-%d", i+1) {
					t.Errorf("node %d: %+v in %s, want %+v in /d/node-%d", n.ID, got, n.Dir, w, i+1)
				}
			}
		})
	}
}

// TestDevSettings writes every node's server.properties as the command does
// and loads it with the broker's own configuration loader.
func TestDevSettings(t *testing.T) {
	dir := t.TempDir()
	layout := devLayout{Nodes: 5, Controllers: 3, BasePort: 19092}
	nodes := planDevNodes(layout, dir)
	const id = "MkU3OEVBNTcwNTJENDM2Qk"
	for _, n := range nodes {
		if err := os.MkdirAll(n.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		kvs, err := devSettings(nodes, n, id, []string{"num.partitions=7", "broker.rack=r1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := writeProperties(n.configPath(), "test", kvs); err != nil {
			t.Fatal(err)
		}
		cfg, _, err := config.Load(n.configPath(), nil, nil)
		if err != nil {
			t.Fatalf("node %d: %v", n.ID, err)
		}
		var voters []string
		for _, v := range cfg.ControllerQuorumVoters {
			voters = append(voters, fmt.Sprintf("%d@%s:%d", v.ID, v.Host, v.Port))
		}
		if got := strings.Join(voters, ","); got != "1@127.0.0.1:19192,2@127.0.0.1:19193,3@127.0.0.1:19194" {
			t.Errorf("node %d voters %s", n.ID, got)
		}
		var listeners []string
		for _, l := range cfg.Listeners {
			listeners = append(listeners, l.Name+"://"+l.Addr())
		}
		wantListeners := "CONTROLLER://" + n.ControllerAddr
		if n.isBroker() {
			wantListeners = "PLAINTEXT://" + n.ClientAddr
		}
		if strings.Join(listeners, ",") != wantListeners {
			t.Errorf("node %d listeners %v, want %s", n.ID, listeners, wantListeners)
		}
		if cfg.NodeID != n.ID || strings.Join(cfg.ProcessRoles, ",") != n.Roles || cfg.ClusterID != id ||
			!slices.Equal(cfg.LogDirs, []string{n.dataDir()}) || cfg.HTTPAddr != n.HTTPAddr ||
			cfg.NumPartitions != 7 || cfg.BrokerRack != "r1" {
			t.Errorf("node %d: id %d roles %v cluster %s dirs %v http %s partitions %d rack %q",
				n.ID, cfg.NodeID, cfg.ProcessRoles, cfg.ClusterID, cfg.LogDirs, cfg.HTTPAddr, cfg.NumPartitions, cfg.BrokerRack)
		}
	}
	// --set comes after the cluster's own settings, so it wins.
	kvs, err := devSettings(nodes, nodes[3], id, []string{"http.addr="})
	if err != nil {
		t.Fatal(err)
	}
	if last := kvs[len(kvs)-1]; last != [2]string{"http.addr", ""} {
		t.Errorf("last setting %v, want the --set one", last)
	}
	if _, err := devSettings(nodes, nodes[0], id, []string{"no-equals"}); err == nil || !strings.Contains(err.Error(), "key=value") {
		t.Errorf("a --set without '=': %v", err)
	}
}

func TestEscapeProperty(t *testing.T) {
	for _, kv := range [][2]string{
		{"log.dirs", `/tmp/with space/and\backslash`},
		{"k", " leading space"},
		{"key with=odd:chars", "v=1:2 # not a comment"},
		{"#k", "line\nbreak\ttab"},
		{"x", ""},
	} {
		text := escapeProperty(kv[0], true) + "=" + escapeProperty(kv[1], false) + "\n"
		props, err := config.ParseProperties(text)
		if err != nil || len(props) != 1 || props[0].Key != kv[0] || props[0].Value != kv[1] {
			t.Errorf("%q=%q written as %q reads back as %+v, %v", kv[0], kv[1], text, props, err)
		}
	}
}

func TestDevLayoutResolve(t *testing.T) {
	none := func(string) bool { return false }
	only := func(flags ...string) func(string) bool {
		return func(f string) bool { return slices.Contains(flags, f) }
	}
	for _, tc := range []struct {
		nodes, controllers int
		changed            func(string) bool
		want               int // controllers
	}{
		{1, 3, only("nodes"), 1},
		{2, 3, only("nodes"), 2},
		{3, 3, none, 3},
		{5, 3, only("nodes"), 3},
		{7, 3, only("nodes"), 3},
		{5, 5, only("nodes", "controllers"), 5},
		{5, 1, only("nodes", "controllers"), 1},
	} {
		l, err := resolveLayout(devLayout{Nodes: tc.nodes, Controllers: tc.controllers, BasePort: 19092}, tc.changed, nil)
		if err != nil || l.Controllers != tc.want || l.Nodes != tc.nodes {
			t.Errorf("--nodes %d: layout %+v, %v; want %d controllers", tc.nodes, l, err, tc.want)
		}
	}
	for _, tc := range []struct {
		l    devLayout
		want string
	}{
		{devLayout{0, 1, 19092}, "--nodes 0"},
		{devLayout{101, 3, 19092}, "--nodes 101"},
		{devLayout{3, 4, 19092}, "--controllers 4"},
		{devLayout{3, 0, 19092}, "--controllers 0"},
		{devLayout{3, 3, 65400}, "--base-port 65400"},
		{devLayout{3, 3, 0}, "--base-port 0"},
	} {
		_, err := resolveLayout(tc.l, only("nodes", "controllers", "base-port"), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error about %s", tc.l, err, tc.want)
		}
	}

	// A directory that holds a cluster keeps its layout.
	stored := &devState{ClusterID: "x", Layout: devLayout{Nodes: 5, Controllers: 3, BasePort: 20000}}
	l, err := resolveLayout(devLayout{Nodes: 3, Controllers: 3, BasePort: 19092}, none, stored)
	if err != nil || l != stored.Layout {
		t.Errorf("restart without flags: %+v, %v; want the stored %+v", l, err, stored.Layout)
	}
	l, err = resolveLayout(devLayout{Nodes: 5, Controllers: 3, BasePort: 20000}, only("nodes", "base-port"), stored)
	if err != nil || l != stored.Layout {
		t.Errorf("restart with the same flags: %+v, %v", l, err)
	}
	for _, flag := range []string{"nodes", "controllers", "base-port"} {
		_, err := resolveLayout(devLayout{Nodes: 4, Controllers: 2, BasePort: 19092}, only(flag), stored)
		if err == nil || !strings.Contains(err.Error(), "--nodes 5 --controllers 3 --base-port 20000") {
			t.Errorf("restart with another --%s: %v", flag, err)
		}
	}
}

func TestDevState(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := readDevState(dir); ok || err != nil {
		t.Fatalf("empty dir: ok %v, %v", ok, err)
	}
	id, err := newClusterID()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := newClusterID()
	if len(id) != 22 || id[0] == '-' || id == other {
		t.Errorf("cluster ids %q, %q", id, other)
	}
	// The broker's own validator takes it.
	if _, _, err := config.Load("", []string{"cluster.id=" + id}, nil); err != nil {
		t.Errorf("cluster.id=%s: %v", id, err)
	}
	st := devState{ClusterID: id, Layout: devLayout{Nodes: 5, Controllers: 3, BasePort: 21000}}
	if err := writeDevState(dir, st); err != nil {
		t.Fatal(err)
	}
	got, ok, err := readDevState(dir)
	if err != nil || !ok || got != st {
		t.Fatalf("read back %+v, %v, %v; want %+v", got, ok, err, st)
	}
	if err := os.WriteFile(filepath.Join(dir, devStateFile), []byte("nodes=3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readDevState(dir); err == nil || !strings.Contains(err.Error(), "no cluster.id") {
		t.Errorf("state without an id: %v", err)
	}
}

// runDev runs `sluice ARGS` in process and returns its output and error.
func runDev(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRoot(&app{stdout: &stdout, stderr: &stderr, runBroker: newFake().run})
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return stdout.String() + stderr.String(), err
}

// TestDevClusterRefuses checks the mistakes caught before any node starts:
// the command fails with a message naming the problem, and no node's log
// was created.
func TestDevClusterRefuses(t *testing.T) {
	// A port held by another listener, low enough to be a base port.
	var held net.Listener
	for held == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if ln.Addr().(*net.TCPAddr).Port+2*devPortStride <= 65535 {
			held = ln
		}
	}
	heldPort := held.Addr().(*net.TCPAddr).Port

	existing := t.TempDir()
	if err := writeDevState(existing, devState{ClusterID: "MkU3OEVBNTcwNTJENDM2Qk", Layout: devLayout{3, 3, 19092}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		dir  string
		args []string
		want string
	}{
		{"no nodes", "", []string{"--nodes", "0"}, "--nodes 0"},
		{"too many controllers", "", []string{"--nodes", "3", "--controllers", "4"}, "--controllers 4"},
		{"bad --set", "", []string{"--set", "num.partitions=lots"}, "num.partitions"},
		{"--set without value", "", []string{"--set", "num.partitions"}, "key=value"},
		{"other layout", existing, []string{"--nodes", "5"}, "--nodes 3 --controllers 3 --base-port 19092"},
		{"port taken", "", []string{"--nodes", "1", "--base-port", strconv.Itoa(heldPort)}, fmt.Sprintf("127.0.0.1:%d", heldPort)},
		{"arguments", "", []string{"extra"}, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir
			if dir == "" {
				dir = filepath.Join(t.TempDir(), "c")
			}
			out, err := runDev(t, append([]string{"dev", "cluster", "--dir", dir}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one naming %q\n%s", err, tc.want, out)
			}
			logs, _ := filepath.Glob(filepath.Join(dir, "node-*", "sluice.log"))
			if len(logs) != 0 {
				t.Errorf("nodes were started: %v", logs)
			}
		})
	}
}

// devHarness runs a devCluster whose nodes are this test binary in helper
// mode.
type devHarness struct {
	t     *testing.T
	c     *devCluster
	out   *syncBuffer
	sigs  chan os.Signal
	mu    sync.Mutex
	procs map[int32]*exec.Cmd
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newDevHarness lays out layout in a temporary directory; modes gives each
// node's helper behaviour (default serve). The cluster is ready once every
// node has printed "serving" to its log.
func newDevHarness(t *testing.T, layout devLayout, modes map[int32]string) *devHarness {
	h := &devHarness{t: t, out: &syncBuffer{}, sigs: make(chan os.Signal, 2), procs: map[int32]*exec.Cmd{}}
	h.c = &devCluster{
		nodes: planDevNodes(layout, t.TempDir()),
		command: func(n devNode) *exec.Cmd {
			mode := modes[n.ID]
			if mode == "" {
				mode = "serve"
			}
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), devHelperEnv+"="+mode)
			h.mu.Lock()
			h.procs[n.ID] = cmd
			h.mu.Unlock()
			return cmd
		},
		ready: func(ctx context.Context, nodes []devNode) error {
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				all := true
				for _, n := range nodes {
					b, _ := os.ReadFile(n.logPath())
					all = all && strings.Contains(string(b), "serving\n")
				}
				if all {
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("not every node serves: %w", ctx.Err())
				case <-tick.C:
				}
			}
		},
		out:          h.out,
		startTimeout: 20 * time.Second,
		stopGrace:    20 * time.Second,
	}
	for _, n := range h.c.nodes {
		if err := os.MkdirAll(n.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// start runs the cluster in the background; the channel gets run's result.
func (h *devHarness) start() <-chan error {
	done := make(chan error, 1)
	go func() { done <- h.c.run(context.Background(), h.sigs) }()
	h.t.Cleanup(func() {
		// Whatever the test did, leave no process behind.
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, cmd := range h.procs {
			if cmd.Process != nil && cmd.ProcessState == nil {
				_ = cmd.Process.Kill()
			}
		}
	})
	return done
}

// waitOutput waits until the cluster's status output contains s.
func (h *devHarness) waitOutput(s string) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(h.out.String(), s) {
		if time.Now().After(deadline) {
			h.t.Fatalf("output lacks %q after 20s:\n%s", s, h.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// result waits for run's result.
func (h *devHarness) result(done <-chan error) error {
	h.t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(40 * time.Second):
		h.t.Fatalf("the cluster did not stop within 40s:\n%s", h.out.String())
		return nil
	}
}

// checkReaped checks that every node's process has exited and been reaped.
func (h *devHarness) checkReaped() {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.procs) != len(h.c.nodes) {
		h.t.Errorf("%d processes started, want %d", len(h.procs), len(h.c.nodes))
	}
	for id, cmd := range h.procs {
		if cmd.ProcessState == nil {
			h.t.Errorf("node %d (pid %d) was not reaped", id, cmd.Process.Pid)
			continue
		}
		// The pid is gone: signal 0 to a reaped pid fails.
		if err := syscall.Kill(cmd.Process.Pid, 0); err == nil {
			h.t.Errorf("node %d (pid %d) still exists", id, cmd.Process.Pid)
		}
	}
}

// sigtermAt returns when node n's helper got SIGTERM, from its log.
func sigtermAt(t *testing.T, n devNode) int64 {
	t.Helper()
	b, err := os.ReadFile(n.logPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "sigterm "); ok {
			ns, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("node %d log line %q", n.ID, l)
			}
			return ns
		}
	}
	t.Fatalf("node %d never got SIGTERM; its log:\n%s", n.ID, b)
	return 0
}

// TestDevClusterStopsBrokersFirst starts 3 controllers and 2 brokers, stops
// them with a signal, and checks the brokers got SIGTERM and exited before
// any controller got it, that every process was reaped, and that the run
// ends without error.
func TestDevClusterStopsBrokersFirst(t *testing.T) {
	h := newDevHarness(t, devLayout{Nodes: 5, Controllers: 3, BasePort: 19092}, nil)
	done := h.start()
	h.waitOutput("Press Ctrl-C")
	out := h.out.String()
	for _, n := range h.c.nodes {
		if !strings.Contains(out, n.logPath()) {
			t.Errorf("the start output does not say where node %d logs:\n%s", n.ID, out)
		}
	}
	if !strings.Contains(out, "Bootstrap servers: 127.0.0.1:19095,127.0.0.1:19096\n") {
		t.Errorf("bootstrap servers are not the two brokers:\n%s", out)
	}
	h.sigs <- syscall.SIGINT
	if err := h.result(done); err != nil {
		t.Fatalf("run: %v\n%s", err, h.out.String())
	}
	h.checkReaped()
	lastBroker, firstController := int64(0), int64(1<<62)
	for _, n := range h.c.nodes {
		at := sigtermAt(t, n)
		if n.isBroker() {
			lastBroker = max(lastBroker, at)
		} else {
			firstController = min(firstController, at)
		}
	}
	if lastBroker >= firstController {
		t.Errorf("a controller got SIGTERM before every broker had: last broker %d, first controller %d", lastBroker, firstController)
	}
	out = h.out.String()
	b, c := strings.Index(out, "Stopping brokers 4, 5..."), strings.Index(out, "Stopping controllers 1, 2, 3...")
	if b < 0 || c < b || !strings.Contains(out, "Every node has stopped.") {
		t.Errorf("stop output:\n%s", out)
	}
}

// TestDevClusterNodeDiesOnStart: a node that exits while the cluster starts
// fails the run with its exit status and the end of its log, and the other
// nodes are stopped.
func TestDevClusterNodeDiesOnStart(t *testing.T) {
	h := newDevHarness(t, devLayout{Nodes: 3, Controllers: 3, BasePort: 19092}, map[int32]string{2: "crash"})
	err := h.result(h.start())
	if err == nil {
		t.Fatalf("run succeeded with a node that crashed:\n%s", h.out.String())
	}
	for _, want := range []string{"node 2 exited while starting", "exit status 3", "boom: cannot start"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	h.checkReaped()
	if out := h.out.String(); !strings.Contains(out, "Stopping nodes 1, 3...") {
		t.Errorf("the other nodes were not stopped:\n%s", out)
	}
}

// TestDevClusterKillsAfterGrace: a node that ignores SIGTERM is killed after
// the grace period, and the run reports it.
func TestDevClusterKillsAfterGrace(t *testing.T) {
	h := newDevHarness(t, devLayout{Nodes: 3, Controllers: 3, BasePort: 19092}, map[int32]string{3: "stubborn"})
	h.c.stopGrace = 2 * time.Second
	done := h.start()
	h.waitOutput("Press Ctrl-C")
	h.sigs <- syscall.SIGTERM
	began := time.Now()
	err := h.result(done)
	if err == nil || !strings.Contains(err.Error(), "node 3 did not stop within 2s of SIGTERM, so it was killed") {
		t.Fatalf("run: %v, want node 3 reported killed\n%s", err, h.out.String())
	}
	if strings.Contains(err.Error(), "node 1") || strings.Contains(err.Error(), "node 2") {
		t.Errorf("the nodes that stopped are reported too: %v", err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("stopping took %s with a grace of 2s", took)
	}
	h.checkReaped()
}

// TestDevClusterSecondSignalKills: a second signal during the stop kills
// what is left at once, long before the grace period ends.
func TestDevClusterSecondSignalKills(t *testing.T) {
	h := newDevHarness(t, devLayout{Nodes: 2, Controllers: 2, BasePort: 19092}, map[int32]string{1: "stubborn", 2: "stubborn"})
	h.c.stopGrace = time.Hour
	done := h.start()
	h.waitOutput("Press Ctrl-C")
	h.sigs <- syscall.SIGINT
	h.waitOutput("Stopping nodes 1, 2...")
	h.sigs <- syscall.SIGINT
	err := h.result(done)
	if err == nil || !strings.Contains(err.Error(), "was still stopping at the second interrupt") {
		t.Fatalf("run: %v\n%s", err, h.out.String())
	}
	h.checkReaped()
}

// TestDevClusterNotReady: a cluster that does not serve within the start
// timeout fails the run, and its nodes are stopped.
func TestDevClusterNotReady(t *testing.T) {
	h := newDevHarness(t, devLayout{Nodes: 1, Controllers: 1, BasePort: 19092}, nil)
	h.c.startTimeout = 200 * time.Millisecond
	h.c.ready = func(ctx context.Context, _ []devNode) error {
		<-ctx.Done()
		return fmt.Errorf("node 1: Metadata lists brokers [], not yet all of [1]")
	}
	err := h.result(h.start())
	if err == nil || !strings.Contains(err.Error(), "did not serve within 200ms") || !strings.Contains(err.Error(), "not yet all of [1]") {
		t.Fatalf("run: %v", err)
	}
	h.checkReaped()
}

// TestDevClusterEcho: with echo set, every node's output also reaches it,
// line by line after the node's prefix.
func TestDevClusterEcho(t *testing.T) {
	h := newDevHarness(t, devLayout{Nodes: 2, Controllers: 2, BasePort: 19092}, nil)
	echo := &syncBuffer{}
	h.c.echo = echo
	done := h.start()
	h.waitOutput("Press Ctrl-C")
	h.sigs <- syscall.SIGINT
	if err := h.result(done); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(echo.String()), "\n")
	for _, id := range []string{"1", "2"} {
		if !slices.Contains(lines, "node-"+id+" | serving") {
			t.Errorf("echo lacks node %s's serving line:\n%s", id, echo.String())
		}
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "node-1 | ") && !strings.HasPrefix(l, "node-2 | ") {
			t.Errorf("echo line without a node prefix: %q", l)
		}
	}
}

func TestPrefixWriterKeepsLinesWhole(t *testing.T) {
	var mu sync.Mutex
	var out bytes.Buffer
	p := &prefixWriter{mu: &mu, w: &out, prefix: "n | "}
	for _, chunk := range []string{"he", "llo\nwor", "ld\n", "\n", "tail"} {
		if n, err := p.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
		}
	}
	if got := out.String(); got != "n | hello\nn | world\nn | \n" {
		t.Errorf("before flush: %q", got)
	}
	p.flush()
	if got := out.String(); got != "n | hello\nn | world\nn | \nn | tail\n" {
		t.Errorf("after flush: %q", got)
	}
}
