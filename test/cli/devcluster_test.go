package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// devCluster is a `sluice dev cluster` process run by a test.
type devCluster struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    *logBuffer // stdout
	errOut *logBuffer // stderr
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// freeBasePort returns a base port whose client, controller and HTTP ports
// for nodes nodes are all free now. They lie below 32768, where Linux starts
// handing out ephemeral ports, so that no client connection takes one
// between this check and the cluster's start.
func freeBasePort(t *testing.T, nodes int) int {
	t.Helper()
	for range 100 {
		base := 10000 + rand.IntN(32768-200-nodes-10000)
		free := true
		for _, off := range []int{0, 100, 200} {
			for i := range nodes {
				ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+off+i)))
				if err != nil {
					free = false
					break
				}
				ln.Close()
			}
		}
		if free {
			return base
		}
	}
	t.Fatal("no free range of ports found")
	return 0
}

// startDevCluster runs `sluice dev cluster ARGS` and waits until it says the
// cluster serves. The process is killed when the test ends if it still runs.
func startDevCluster(t *testing.T, args ...string) *devCluster {
	t.Helper()
	d := &devCluster{t: t, out: &logBuffer{}, errOut: &logBuffer{}, exited: make(chan struct{})}
	d.cmd = exec.Command(sluiceBin(t), append([]string{"dev", "cluster"}, args...)...)
	d.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.errOut
	// If the test binary dies, so does the cluster (whose nodes follow it).
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
		if t.Failed() {
			t.Logf("sluice dev cluster output:\n%s\nstderr:\n%s", clip(d.stdout()), clip(d.stderr()))
		}
	})
	d.waitOutput("The cluster serves", 40*time.Second)
	return d
}

func (d *devCluster) stdout() string {
	d.out.mu.Lock()
	defer d.out.mu.Unlock()
	return d.out.buf.String()
}

func (d *devCluster) stderr() string {
	d.errOut.mu.Lock()
	defer d.errOut.mu.Unlock()
	return d.errOut.buf.String()
}

// waitOutput waits until stdout contains s, failing if the process exits
// first or the time runs out.
func (d *devCluster) waitOutput(s string, within time.Duration) {
	d.t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(d.stdout(), s) {
		select {
		case <-d.exited:
			if strings.Contains(d.stdout(), s) {
				return
			}
			d.t.Fatalf("sluice dev cluster exited (%v) before printing %q", d.err, s)
		case <-deadline.C:
			d.t.Fatalf("sluice dev cluster did not print %q within %s", s, within)
		case <-tick.C:
		}
	}
}

// nodePIDs reads the node table sluice dev cluster prints at start: node id
// to process id.
func (d *devCluster) nodePIDs() map[int]int {
	d.t.Helper()
	pids := map[int]int{}
	in := false
	for _, l := range lines(d.stdout()) {
		f := strings.Fields(l)
		switch {
		case len(f) > 0 && f[0] == "NODE":
			in = true
		case in && len(f) == 7:
			id, err1 := strconv.Atoi(f[0])
			pid, err2 := strconv.Atoi(f[5])
			if err1 != nil || err2 != nil {
				d.t.Fatalf("node table line %q", l)
			}
			pids[id] = pid
		case in:
			return pids
		}
	}
	return pids
}

// stop sends SIGINT and waits for the exit; it returns the exit code.
func (d *devCluster) stop(within time.Duration) int {
	d.t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		d.t.Fatal(err)
	}
	select {
	case <-d.exited:
	case <-time.After(within):
		d.t.Fatalf("sluice dev cluster did not exit within %s of SIGINT", within)
	}
	var ee *exec.ExitError
	switch {
	case d.err == nil:
		return 0
	case errors.As(d.err, &ee):
		return ee.ExitCode()
	default:
		d.t.Fatal(d.err)
		return -1
	}
}

// parentPID reads a process's parent from /proc.
func parentPID(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// pid (comm) state ppid ...; comm may hold spaces, so cut after ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	return strconv.Atoi(f[1])
}

// alive reports whether a process with pid exists (a zombie counts).
func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// quorumJSON is the part of `sluice cluster quorum --json` the tests read.
type quorumJSON struct {
	LeaderID      int32 `json:"leader_id"`
	LeaderEpoch   int32 `json:"leader_epoch"`
	HighWatermark int64 `json:"high_watermark"`
	Voters        []struct {
		NodeID int32  `json:"node_id"`
		Status string `json:"status"`
		Lag    *int64 `json:"lag"`
	} `json:"voters"`
	Observers []struct {
		NodeID int32  `json:"node_id"`
		Status string `json:"status"`
	} `json:"observers"`
}

// TestDevCluster runs `sluice dev cluster --nodes 3`, checks with
// `sluice cluster brokers` and `quorum` that it is a cluster of 3 brokers and
// 3 voters with one leader, stops it with SIGINT, and checks that it exits 0
// with every node's process gone. Then it starts the same directory again,
// which must come back as the same cluster.
func TestDevCluster(t *testing.T) {
	base := freeBasePort(t, 3)
	dir := t.TempDir()
	d := startDevCluster(t, "--nodes", "3", "--dir", dir, "--base-port", strconv.Itoa(base), "--stop-timeout", "15s")

	pids := d.nodePIDs()
	if len(pids) != 3 {
		t.Fatalf("node table lists %d nodes, want 3:\n%s", len(pids), d.stdout())
	}
	for id, pid := range pids {
		if ppid, err := parentPID(pid); err != nil || ppid != d.cmd.Process.Pid {
			t.Errorf("node %d (pid %d): parent %d, %v; want sluice dev cluster (pid %d)", id, pid, ppid, err, d.cmd.Process.Pid)
		}
	}
	var boot []string
	for i := range 3 {
		boot = append(boot, fmt.Sprintf("127.0.0.1:%d", base+i))
	}
	bootstrap := strings.Join(boot, ",")
	if !strings.Contains(d.stdout(), "Bootstrap servers: "+bootstrap+"\n") {
		t.Errorf("the output does not give the bootstrap servers %s:\n%s", bootstrap, d.stdout())
	}

	// Brokers: all three, unfenced.
	out := ok(t, bootstrap, nil, "cluster", "brokers").stdout
	rows := lines(out)
	if len(rows) != 4 || strings.Join(strings.Fields(rows[0]), " ") != "ID HOST:PORT RACK STATE" {
		t.Fatalf("cluster brokers: want a header and 3 brokers:\n%s", out)
	}
	for i, row := range rows[1:] {
		want := fmt.Sprintf("%d %s - unfenced", i+1, boot[i])
		if got := strings.Join(strings.Fields(row), " "); got != want {
			t.Errorf("cluster brokers row %q, want %q", got, want)
		}
	}

	// Quorum: three voters, exactly one the leader, no observers (every node
	// is a controller). The text and the JSON forms are two requests: on a loaded
	// machine the quorum may elect a new leader between them, so read both again until they were
	// answered under the same leader (the JSON's, named in the text).
	var q quorumJSON
	var text string
	for deadline := time.Now().Add(30 * time.Second); ; {
		q = quorumJSON{}
		out = ok(t, bootstrap, nil, "cluster", "quorum", "--json").stdout
		if err := json.Unmarshal([]byte(out), &q); err != nil {
			t.Fatalf("cluster quorum --json: %v\n%s", err, out)
		}
		text = ok(t, bootstrap, nil, "cluster", "quorum").stdout
		if strings.Contains(text, "LeaderId:              "+strconv.Itoa(int(q.LeaderID))+"\n") || time.Now().After(deadline) {
			break
		}
		t.Logf("the quorum leader moved between cluster quorum --json (leader %d, epoch %d) and cluster quorum; reading both again:\n%s", q.LeaderID, q.LeaderEpoch, text)
	}
	var voters []int32
	leaders := 0
	for _, v := range q.Voters {
		voters = append(voters, v.NodeID)
		if v.Status == "Leader" {
			leaders++
			if v.NodeID != q.LeaderID {
				t.Errorf("voter %d is marked Leader, but the leader is %d", v.NodeID, q.LeaderID)
			}
		}
	}
	slices.Sort(voters)
	if !slices.Equal(voters, []int32{1, 2, 3}) || leaders != 1 || len(q.Observers) != 0 || q.LeaderEpoch < 1 || q.HighWatermark < 1 {
		t.Errorf("cluster quorum --json: voters %v with %d leaders, %d observers, epoch %d, high watermark %d:\n%s",
			voters, leaders, len(q.Observers), q.LeaderEpoch, q.HighWatermark, out)
	}
	for _, want := range []string{"LeaderId:              " + strconv.Itoa(int(q.LeaderID)) + "\n", "CurrentVoters:         [1,2,3]\n", "CurrentObservers:      []\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("cluster quorum lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, " Leader "); n != 1 {
		t.Errorf("cluster quorum shows %d leaders:\n%s", n, text)
	}
	info := ok(t, bootstrap, nil, "cluster", "info", "--json").stdout
	var ci struct {
		ClusterID string `json:"cluster_id"`
	}
	if err := json.Unmarshal([]byte(info), &ci); err != nil || ci.ClusterID == "" {
		t.Fatalf("cluster info --json: %v\n%s", err, info)
	}

	// Ctrl-C: exit 0, every node gone.
	if code := d.stop(30 * time.Second); code != 0 {
		t.Fatalf("sluice dev cluster exited %d after SIGINT", code)
	}
	if !strings.Contains(d.stdout(), "Every node has stopped.") {
		t.Errorf("no word that every node stopped:\n%s", d.stdout())
	}
	for id, pid := range pids {
		if alive(pid) {
			t.Errorf("node %d (pid %d) still exists after sluice dev cluster exited", id, pid)
		}
	}

	// The same directory starts the same cluster again, without the flags.
	d2 := startDevCluster(t, "--dir", dir, "--stop-timeout", "15s")
	if !strings.Contains(d2.stdout(), "Restarting the cluster in "+dir+" (cluster.id "+ci.ClusterID+")") {
		t.Errorf("the restart does not name the same cluster %s:\n%s", ci.ClusterID, d2.stdout())
	}
	info = ok(t, bootstrap, nil, "cluster", "info", "--json").stdout
	var ci2 struct {
		ClusterID string `json:"cluster_id"`
	}
	if err := json.Unmarshal([]byte(info), &ci2); err != nil || ci2.ClusterID != ci.ClusterID {
		t.Errorf("after the restart, cluster id %q, want %q (%v)", ci2.ClusterID, ci.ClusterID, err)
	}
	pids = d2.nodePIDs()
	if code := d2.stop(30 * time.Second); code != 0 {
		t.Fatalf("the restarted sluice dev cluster exited %d after SIGINT", code)
	}
	for id, pid := range pids {
		if alive(pid) {
			t.Errorf("restarted node %d (pid %d) still exists", id, pid)
		}
	}
}

// TestDevClusterDedicatedControllers runs `sluice dev cluster --nodes 5
// --controllers 3`: nodes 1-3 are the controllers, the quorum's voters, and
// nodes 4-5 the brokers, its observers. A broker killed under it is shown
// fenced by `cluster brokers`, and the cluster keeps running without it.
func TestDevClusterDedicatedControllers(t *testing.T) {
	base := freeBasePort(t, 5)
	d := startDevCluster(t, "--nodes", "5", "--controllers", "3", "--dir", t.TempDir(), "--base-port", strconv.Itoa(base), "--stop-timeout", "15s",
		"--set", "broker.session.timeout.ms=1500", "--set", "broker.heartbeat.interval.ms=250")
	pids := d.nodePIDs()
	if len(pids) != 5 {
		t.Fatalf("node table lists %d nodes, want 5:\n%s", len(pids), d.stdout())
	}
	bootstrap := fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", base+3, base+4)
	if !strings.Contains(d.stdout(), "Bootstrap servers: "+bootstrap+"\n") {
		t.Errorf("the bootstrap servers are not the two brokers %s:\n%s", bootstrap, d.stdout())
	}

	out := ok(t, bootstrap, nil, "cluster", "brokers").stdout
	var ids []string
	for _, row := range lines(out)[1:] {
		f := strings.Fields(row)
		if len(f) != 4 || f[3] != "unfenced" {
			t.Errorf("cluster brokers row %q", row)
			continue
		}
		ids = append(ids, f[0])
	}
	if strings.Join(ids, ",") != "4,5" {
		t.Errorf("cluster brokers lists %v, want the brokers 4 and 5:\n%s", ids, out)
	}

	var q quorumJSON
	out = ok(t, bootstrap, nil, "cluster", "quorum", "--json").stdout
	if err := json.Unmarshal([]byte(out), &q); err != nil {
		t.Fatalf("cluster quorum --json: %v\n%s", err, out)
	}
	var voters, observers []int32
	leaders := 0
	for _, v := range q.Voters {
		voters = append(voters, v.NodeID)
		if v.Status == "Leader" {
			leaders++
		}
	}
	for _, o := range q.Observers {
		observers = append(observers, o.NodeID)
	}
	slices.Sort(voters)
	slices.Sort(observers)
	if !slices.Equal(voters, []int32{1, 2, 3}) || !slices.Equal(observers, []int32{4, 5}) || leaders != 1 || q.LeaderID < 1 || q.LeaderID > 3 {
		t.Errorf("cluster quorum --json: voters %v (%d leaders, leader %d), observers %v:\n%s", voters, leaders, q.LeaderID, observers, out)
	}
	// A controller answers on its controller listener too.
	out = ok(t, "", nil, "cluster", "quorum", "--status", "--bootstrap-controller", fmt.Sprintf("127.0.0.1:%d", base+100)).stdout
	if !strings.Contains(out, "CurrentVoters:         [1,2,3]\n") || !strings.Contains(out, "CurrentObservers:      [4,5]\n") {
		t.Errorf("cluster quorum --bootstrap-controller:\n%s", out)
	}

	// Kill broker 5: the dev cluster says so and keeps running, and the
	// controller fences the broker once its session times out.
	if err := syscall.Kill(pids[5], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.waitOutput("Node 5 exited by itself", 10*time.Second)
	node4 := fmt.Sprintf("127.0.0.1:%d", base+3)
	deadline := time.Now().Add(15 * time.Second)
	for {
		out = ok(t, node4, nil, "cluster", "brokers").stdout
		if slices.ContainsFunc(lines(out), func(l string) bool {
			return strings.Join(strings.Fields(l), " ") == fmt.Sprintf("5 127.0.0.1:%d - fenced", base+4)
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker 5 is not shown fenced 15s after it was killed:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(out, fmt.Sprintf("127.0.0.1:%d", base+3)) || strings.Count(out, "unfenced") != 1 {
		t.Errorf("broker 4 should still be unfenced:\n%s", out)
	}

	if code := d.stop(30 * time.Second); code != 0 {
		t.Fatalf("sluice dev cluster exited %d after SIGINT", code)
	}
	out = d.stdout()
	if b, c := strings.Index(out, "Stopping broker 4..."), strings.Index(out, "Stopping controllers 1, 2, 3..."); b < 0 || c < b {
		t.Errorf("the brokers were not stopped before the controllers:\n%s", out)
	}
	for id, pid := range pids {
		if alive(pid) {
			t.Errorf("node %d (pid %d) still exists after sluice dev cluster exited", id, pid)
		}
	}
}
