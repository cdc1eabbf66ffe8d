package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// State is what the process manager believes a node is doing.
type State string

// Node states.
const (
	Stopped State = "stopped"
	Running State = "running"
	Paused  State = "paused"
)

// Node is one Sluice process: its settings, data directory and ports, which stay the
// same across restarts. Its methods are safe for concurrent use.
type Node struct {
	// ID is the node.id.
	ID int32
	// Roles is the node's process.roles: "broker", "controller" or both.
	Roles []string
	// Addr is the host:port of the client (PLAINTEXT) listener; empty on a pure
	// controller, which has none.
	Addr string
	// ControllerAddr is the host:port of the CONTROLLER listener; empty on a single
	// node, which runs its Raft group of one without a transport, and on a pure broker.
	ControllerAddr string
	// DataDir is log.dirs.
	DataDir string
	// LogPath is the file that collects the process's output across restarts.
	LogPath string

	binary   string
	settings []string // key=value, passed as --set
	mounted  bool     // DataDir is a tmpfs the cluster mounted
	net      Network
	logger   *slog.Logger
	// fsyncDelayFile, if set, is the file the broker's test-only fsync-delay hook
	// reads (fsyncDelayEnv).
	fsyncDelayFile string

	mu       sync.Mutex
	state    State
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the current process has been reaped
	waitErr  error         // the current process's exit status, once exited is closed
	expected bool          // the harness asked the current process to end
	crashes  []error       // exits the harness did not ask for
	starts   int
	kills    int
}

// process.roles values.
const (
	roleBroker     = "broker"
	roleController = "controller"
)

// IsBroker reports whether the node serves clients (process.roles has broker).
func (n *Node) IsBroker() bool { return slices.Contains(n.Roles, roleBroker) }

// IsController reports whether the node is a voter of the metadata quorum
// (process.roles has controller).
func (n *Node) IsController() bool { return slices.Contains(n.Roles, roleController) }

// Kills returns how many times the harness sent the node SIGKILL.
func (n *Node) Kills() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.kills
}

// Args returns the command line the node is started with.
func (n *Node) Args() []string {
	args := []string{n.binary, "server"}
	for _, kv := range n.settings {
		args = append(args, "--set", kv)
	}
	return args
}

// State returns the node's state.
func (n *Node) State() State {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}

// PID returns the current process id, or 0 when the node is stopped.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state == Stopped || n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Crashes returns the exits the harness did not cause: a broker that dies by itself
// during a run is a bug.
func (n *Node) Crashes() []error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]error(nil), n.crashes...)
}

// Start starts the process and waits until it is ready (see WaitReady), or ctx ends,
// or the process exits.
func (n *Node) Start(ctx context.Context) error {
	if err := n.launch(); err != nil {
		return err
	}
	return n.WaitReady(ctx)
}

// launch starts the process without waiting for it to serve.
func (n *Node) launch() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != Stopped {
		return fmt.Errorf("start node %d: already %s", n.ID, n.state)
	}
	logFile, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start node %d: open log: %w", n.ID, err)
	}
	args := n.Args()
	fmt.Fprintf(logFile, "=== %s chaos: start %d of node %d: %s\n",
		time.Now().Format(time.RFC3339Nano), n.starts+1, n.ID, strings.Join(args, " "))
	cmd := n.net.Command(n.ID, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = nodeEnv()
	if n.fsyncDelayFile != "" {
		cmd.Env = append(cmd.Env, fsyncDelayEnv+"="+n.fsyncDelayFile)
	}
	// A process group of its own: a terminal's Ctrl-C reaches the harness, which then
	// decides how the node ends. If the harness dies (a test timeout), the kernel
	// kills the node rather than leave it running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start node %d: %w", n.ID, err)
	}
	n.starts++
	n.cmd, n.state, n.expected = cmd, Running, false
	exited := make(chan struct{})
	n.exited = exited
	go func() {
		err := cmd.Wait()
		logFile.Close()
		n.mu.Lock()
		defer n.mu.Unlock()
		n.waitErr = err
		if !n.expected {
			n.crashes = append(n.crashes, fmt.Errorf("node %d (pid %d) exited by itself: %v", n.ID, cmd.Process.Pid, err))
			n.logger.Error("node exited by itself", "node", n.ID, "pid", cmd.Process.Pid, "err", err)
		}
		if n.cmd == cmd {
			n.state = Stopped
		}
		close(exited)
	}()
	n.logger.Info("node started", "node", n.ID, "pid", cmd.Process.Pid, "addr", n.Addr, "controller_addr", n.ControllerAddr)
	return nil
}

// fsyncDelayEnv is the broker's test-only setting naming a file whose content, a
// duration, delays every fsync of its partition logs (internal/broker).
const fsyncDelayEnv = "SLUICE_TEST_FSYNC_DELAY_FILE"

// SetFsyncDelay makes every fsync of the node's partition logs wait d first (0:
// none), from its next fsync on, running or not. The node must have been laid out
// with ClusterConfig.FsyncDelay.
func (n *Node) SetFsyncDelay(d time.Duration) error {
	if n.fsyncDelayFile == "" {
		return fmt.Errorf("node %d runs without the fsync-delay hook", n.ID)
	}
	if d <= 0 {
		if err := os.Remove(n.fsyncDelayFile); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("end the fsync delay of node %d: %w", n.ID, err)
		}
		return nil
	}
	// Written whole and renamed, so the broker never reads half a duration.
	tmp := n.fsyncDelayFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(d.String()), 0o644); err != nil {
		return fmt.Errorf("set the fsync delay of node %d: %w", n.ID, err)
	}
	if err := os.Rename(tmp, n.fsyncDelayFile); err != nil {
		return fmt.Errorf("set the fsync delay of node %d: %w", n.ID, err)
	}
	return nil
}

// nodeEnv is the harness's environment without SLUICE_* variables: the broker reads
// those as settings, and the harness's own (SLUICE_LONG, SLUICE_BIN, ...) are not
// meant for it.
func nodeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLUICE_") {
			env = append(env, kv)
		}
	}
	return env
}

// WaitReady waits until the node is ready, failing early if its process exits. A
// broker is ready when it answers ApiVersions on its client listener and lists itself
// in Metadata (it has registered and is unfenced). A pure controller, which has no
// client listener, is ready when its CONTROLLER listener answers ApiVersions and its
// DescribeQuorum names a leader and counts this node among the voters.
func (n *Node) WaitReady(ctx context.Context) error {
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	if exited == nil {
		return fmt.Errorf("node %d was never started", n.ID)
	}
	start := time.Now()
	addr := n.Addr
	if !n.IsBroker() {
		addr = n.ControllerAddr
	}
	err := WaitFor(ctx, fmt.Sprintf("node %d to serve on %s", n.ID, addr), func(ctx context.Context) (bool, error) {
		select {
		case <-exited:
			return false, Hopeless(fmt.Errorf("process exited: %v", n.exitErr()))
		default:
		}
		attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := ProbeAPIVersions(attempt, addr); err != nil {
			return false, err
		}
		if !n.IsBroker() {
			q, err := ProbeQuorum(attempt, addr)
			if err != nil {
				return false, err
			}
			if q.LeaderID < 0 {
				return false, fmt.Errorf("DescribeQuorum from %s names no leader", addr)
			}
			if !slices.Contains(q.Voters, n.ID) {
				return false, fmt.Errorf("DescribeQuorum from %s lists voters %v, not node %d", addr, q.Voters, n.ID)
			}
			return true, nil
		}
		_, err := ProbeRegistered(attempt, addr, n.ID)
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, n.LogTail(20))
	}
	n.logger.Debug("node ready", "node", n.ID, "after", time.Since(start).Round(time.Millisecond))
	return nil
}

func (n *Node) exitErr() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.waitErr
}

// signal sends sig to the running (or paused) process, marking the exit it may cause
// as expected.
func (n *Node) signal(sig syscall.Signal, expectExit bool) (<-chan struct{}, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state == Stopped {
		return nil, fmt.Errorf("signal %v to node %d: not running", sig, n.ID)
	}
	if expectExit {
		n.expected = true
	}
	if err := n.cmd.Process.Signal(sig); err != nil {
		return nil, fmt.Errorf("signal %v to node %d (pid %d): %w", sig, n.ID, n.cmd.Process.Pid, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		n.state = Paused
	case syscall.SIGCONT:
		n.state = Running
	}
	return n.exited, nil
}

// Kill sends SIGKILL, as kill -9 does, and waits for the process to be gone.
func (n *Node) Kill(ctx context.Context) error {
	exited, err := n.signal(syscall.SIGKILL, true)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.kills++
	n.mu.Unlock()
	select {
	case <-exited:
		n.logger.Info("node killed", "node", n.ID)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("node %d still running after SIGKILL: %w", n.ID, ctx.Err())
	}
}

// Stop asks the process to shut down with SIGTERM (resuming it first if paused) and
// waits until it exits. If it has not exited within grace, it gets SIGQUIT (a Go
// program then writes its goroutines' stacks to its log and exits) and, if still
// there 5 s later, SIGKILL; the hung shutdown is logged and returned as an error.
func (n *Node) Stop(ctx context.Context, grace time.Duration) error {
	if n.State() == Paused {
		if err := n.Resume(); err != nil {
			return err
		}
	}
	exited, err := n.signal(syscall.SIGTERM, true)
	if err != nil {
		return err
	}
	select {
	case <-exited:
		if err := n.exitErr(); err != nil {
			return fmt.Errorf("node %d exited with %v after SIGTERM", n.ID, err)
		}
		n.logger.Info("node stopped", "node", n.ID)
		return nil
	case <-time.After(grace):
		// SIGQUIT first: the Go runtime writes every goroutine's stack to the node's
		// log and exits, which says where the shutdown hangs.
		n.logger.Warn("node did not stop within the grace period; SIGQUIT for its goroutines, then SIGKILL", "node", n.ID, "grace", grace)
		if _, err := n.signal(syscall.SIGQUIT, true); err == nil {
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
			}
		}
		if n.State() != Stopped {
			if err := n.Kill(ctx); err != nil {
				return err
			}
		}
		return fmt.Errorf("node %d did not stop within %v of SIGTERM (its goroutines are in %s)", n.ID, grace, n.LogPath)
	case <-ctx.Done():
		return fmt.Errorf("stop node %d: %w", n.ID, ctx.Err())
	}
}

// Pause stops the process with SIGSTOP and waits until the kernel shows every thread
// stopped: it keeps its sockets but answers nothing.
func (n *Node) Pause(ctx context.Context) error {
	if s := n.State(); s != Running {
		return fmt.Errorf("pause node %d: %s", n.ID, s)
	}
	pid := n.PID()
	if _, err := n.signal(syscall.SIGSTOP, false); err != nil {
		return err
	}
	err := WaitFor(ctx, fmt.Sprintf("node %d (pid %d) to stop", n.ID, pid), func(context.Context) (bool, error) {
		return allThreadsStopped(pid)
	})
	if err != nil {
		return err
	}
	n.logger.Info("node paused", "node", n.ID)
	return nil
}

// allThreadsStopped reads /proc/<pid>/task/*/stat and reports whether every thread is
// in state T (stopped by a signal).
func allThreadsStopped(pid int) (bool, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(dir + "/" + task.Name() + "/stat")
		if err != nil {
			continue // the thread ended
		}
		// pid (comm) state ...: comm may hold spaces and parentheses, so split after
		// the last ')'.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 || i+2 >= len(stat) {
			return false, fmt.Errorf("unexpected %s/%s/stat: %q", dir, task.Name(), stat)
		}
		if state := stat[i+2]; state != 'T' && state != 't' {
			return false, nil
		}
	}
	return true, nil
}

// Resume continues a paused process with SIGCONT.
func (n *Node) Resume() error {
	if s := n.State(); s != Paused {
		return fmt.Errorf("resume node %d: %s", n.ID, s)
	}
	_, err := n.signal(syscall.SIGCONT, false)
	if err == nil {
		n.logger.Info("node resumed", "node", n.ID)
	}
	return err
}

// Restart stops the node gracefully and starts it again on the same data and ports.
func (n *Node) Restart(ctx context.Context, grace time.Duration) error {
	if err := n.Stop(ctx, grace); err != nil {
		return err
	}
	return n.Start(ctx)
}

// LogTail returns the last lines of the node's log, for error messages.
func (n *Node) LogTail(lines int) string {
	b, err := os.ReadFile(n.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return fmt.Sprintf("--- last %d lines of %s:\n%s", len(all), n.LogPath, strings.Join(all, "\n"))
}
