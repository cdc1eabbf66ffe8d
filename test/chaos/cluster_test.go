package chaos

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestNodeLifecycle drives one node through every transition the nemesis uses and
// checks, after each, what a client sees.
func TestNodeLifecycle(t *testing.T) {
	c := startCluster(t, 1)
	n := c.Node(1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	answers := func() error {
		probe, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		return ProbeAPIVersions(probe, n.Addr)
	}
	if err := answers(); err != nil {
		t.Fatalf("started node does not answer: %v", err)
	}
	pid := n.PID()

	// Paused: the socket accepts (the kernel does that) but nothing answers.
	if err := n.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if n.State() != Paused {
		t.Errorf("state %s after Pause", n.State())
	}
	if err := answers(); err == nil {
		t.Errorf("paused node answered ApiVersions")
	}
	if err := n.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitReady(ctx); err != nil {
		t.Fatalf("resumed node: %v", err)
	}
	if n.PID() != pid {
		t.Errorf("pause and resume changed the pid from %d to %d", pid, n.PID())
	}

	// Killed: gone at once, nothing listens.
	if err := n.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if n.State() != Stopped || n.PID() != 0 {
		t.Errorf("after kill: state %s, pid %d", n.State(), n.PID())
	}
	if err := answers(); err == nil {
		t.Errorf("killed node answered ApiVersions")
	}
	if err := n.Kill(ctx); err == nil {
		t.Errorf("killing a stopped node succeeded")
	}
	if err := n.Start(ctx); err != nil {
		t.Fatalf("restart after kill: %v", err)
	}
	if n.PID() == pid {
		t.Errorf("restart kept pid %d", pid)
	}

	// Graceful restart, including from a paused state.
	if err := n.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Restart(ctx, c.StopGrace()); err != nil {
		t.Fatalf("restart of a paused node: %v", err)
	}
	if err := answers(); err != nil {
		t.Errorf("restarted node does not answer: %v", err)
	}
	if err := n.Start(ctx); err == nil {
		t.Errorf("starting a running node succeeded")
	}

	if crashes := c.Crashes(); len(crashes) > 0 {
		t.Errorf("unexpected exits: %v", crashes)
	}
	log, err := os.ReadFile(n.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(log), "chaos: start"); got != 3 {
		t.Errorf("node log shows %d starts, want 3", got)
	}
}

// TestNodeCrashIsReported checks that an exit the harness did not cause is recorded:
// a broker dying by itself during a run is a finding.
func TestNodeCrashIsReported(t *testing.T) {
	c := startCluster(t, 1)
	n := c.Node(1)
	if err := exec.Command("kill", "-9", itoa(int64(n.PID()))).Run(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := WaitFor(ctx, "the crash to be noticed", func(context.Context) (bool, error) {
		return len(c.Crashes()) == 1 && n.State() == Stopped, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Crashes()[0].Error(); !strings.Contains(got, "exited by itself") {
		t.Errorf("crash = %q", got)
	}
}

// TestClusterLayout checks the settings each node of a 3-node cluster gets: KRaft
// combined mode with a CONTROLLER listener and every node a voter. (Multi-node
// clusters do not run yet; this checks only what the harness would start.)
func TestClusterLayout(t *testing.T) {
	c, err := NewCluster(ClusterConfig{Binary: "/bin/sluice", Dir: t.TempDir(), Nodes: 3, Settings: []string{"num.partitions=4"}})
	if err != nil {
		t.Fatal(err)
	}
	var voters []string
	for _, n := range c.Nodes() {
		voters = append(voters, itoa(int64(n.ID))+"@"+n.ControllerAddr)
	}
	seen := map[string]bool{}
	for _, n := range c.Nodes() {
		args := strings.Join(n.Args(), " ")
		for _, want := range []string{
			"--set node.id=" + itoa(int64(n.ID)),
			"--set log.dirs=" + n.DataDir,
			"--set listeners=PLAINTEXT://" + n.Addr + ",CONTROLLER://" + n.ControllerAddr,
			"--set controller.listener.names=CONTROLLER",
			"--set process.roles=broker,controller",
			"--set controller.quorum.voters=" + strings.Join(voters, ","),
			"--set cluster.id=" + clusterID,
			"--set http.addr= ",
		} {
			if !strings.Contains(args+" ", want) {
				t.Errorf("node %d lacks %q in %s", n.ID, want, args)
			}
		}
		if !strings.HasSuffix(args, "--set num.partitions=4") {
			t.Errorf("node %d: extra settings must come last, to win: %s", n.ID, args)
		}
		for _, a := range []string{n.Addr, n.ControllerAddr, n.DataDir} {
			if seen[a] {
				t.Errorf("%s used twice", a)
			}
			seen[a] = true
		}
	}
	if err := c.Network().Partition([]int32{1}, []int32{2, 3}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("partition on loopback: %v, want ErrUnsupported", err)
	}
}

// TestClusterLayoutSplit checks the settings of a cluster with separate roles: three
// pure controllers (the voters, with only a CONTROLLER listener) and two pure brokers
// (only a client listener) that know the voters.
func TestClusterLayoutSplit(t *testing.T) {
	c, err := NewCluster(ClusterConfig{Binary: "/bin/sluice", Dir: t.TempDir(), Nodes: 5, Controllers: 3})
	if err != nil {
		t.Fatal(err)
	}
	var voters []string
	for _, n := range c.Nodes()[:3] {
		voters = append(voters, itoa(int64(n.ID))+"@"+n.ControllerAddr)
	}
	for _, n := range c.Nodes() {
		args := strings.Join(n.Args(), " ") + " "
		want := []string{
			"--set controller.listener.names=CONTROLLER ",
			"--set controller.quorum.voters=" + strings.Join(voters, ",") + " ",
			"--set cluster.id=" + clusterID + " ",
		}
		if n.ID <= 3 {
			if !n.IsController() || n.IsBroker() || n.Addr != "" || n.ControllerAddr == "" {
				t.Errorf("node %d: roles %v, addr %q, controller addr %q; want a pure controller", n.ID, n.Roles, n.Addr, n.ControllerAddr)
			}
			want = append(want, "--set process.roles=controller ", "--set listeners=CONTROLLER://"+n.ControllerAddr+" ")
		} else {
			if n.IsController() || !n.IsBroker() || n.Addr == "" || n.ControllerAddr != "" {
				t.Errorf("node %d: roles %v, addr %q, controller addr %q; want a pure broker", n.ID, n.Roles, n.Addr, n.ControllerAddr)
			}
			want = append(want, "--set process.roles=broker ", "--set listeners=PLAINTEXT://"+n.Addr+" ")
		}
		for _, w := range want {
			if !strings.Contains(args, w) {
				t.Errorf("node %d lacks %q in %s", n.ID, w, args)
			}
		}
	}
	if got, want := c.Bootstrap(), []string{c.Node(4).Addr, c.Node(5).Addr}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("bootstrap %v, want only the brokers %v", got, want)
	}
	for _, bad := range []int{-1, 6} {
		if _, err := NewCluster(ClusterConfig{Binary: "/bin/sluice", Dir: t.TempDir(), Nodes: 5, Controllers: bad}); err == nil {
			t.Errorf("%d controllers of 5 nodes accepted", bad)
		}
	}
}

// TestNetnsPartition checks the partition mechanism itself with three helper processes
// standing in for nodes (a real multi-node Sluice does not exist yet): links between
// groups are cut both ways, links within a group and from clients stay, and Heal
// restores everything.
func TestNetnsPartition(t *testing.T) {
	if err := NetnsAvailable(); err != nil {
		t.Skipf("partitions cannot be tested here: %v", err)
	}
	nw, err := NewNetns(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := nw.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	addrs := map[int32]string{}
	for id := int32(1); id <= 3; id++ {
		addr, err := nw.Addr(id, 0)
		if err != nil {
			t.Fatal(err)
		}
		addrs[id] = addr
		cmd := nw.Command(id, self, addr)
		cmd.Env = append(os.Environ(), "SLUICE_CHAOS_HELPER=listen")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for id, addr := range addrs {
		if err := WaitFor(ctx, "helper listening", func(context.Context) (bool, error) {
			return canDial(nw, 0, addr), nil
		}); err != nil {
			t.Fatalf("node %d: %v", id, err)
		}
	}

	check := func(stage string, want map[[2]int32]bool) {
		t.Helper()
		for link, ok := range want {
			if got := canDial(nw, link[0], addrs[link[1]]); got != ok {
				t.Errorf("%s: %d -> %d reachable = %v, want %v", stage, link[0], link[1], got, ok)
			}
		}
	}
	all := func(ok bool) map[[2]int32]bool {
		m := map[[2]int32]bool{}
		for a := int32(0); a <= 3; a++ { // 0 is the harness (clients)
			for b := int32(1); b <= 3; b++ {
				if a != b {
					m[[2]int32{a, b}] = ok
				}
			}
		}
		return m
	}
	check("before", all(true))

	if err := nw.Partition([]int32{1}, []int32{2, 3}); err != nil {
		t.Fatal(err)
	}
	want := all(true)
	for _, l := range [][2]int32{{1, 2}, {2, 1}, {1, 3}, {3, 1}} {
		want[l] = false
	}
	check("1 | 2 3", want)

	if err := nw.Partition([]int32{1, 2}); err != nil { // 3 alone
		t.Fatal(err)
	}
	want = all(true)
	for _, l := range [][2]int32{{1, 3}, {3, 1}, {2, 3}, {3, 2}} {
		want[l] = false
	}
	check("1 2 | 3", want)

	if err := nw.Heal(); err != nil {
		t.Fatal(err)
	}
	check("healed", all(true))
}

// canDial reports whether from (0: the harness) reaches addr.
func canDial(nw *Netns, from int32, addr string) bool {
	self, _ := os.Executable()
	var cmd *exec.Cmd
	if from == 0 {
		cmd = exec.Command(self, addr)
	} else {
		cmd = nw.Command(from, self, addr)
	}
	cmd.Env = append(os.Environ(), "SLUICE_CHAOS_HELPER=dial")
	return cmd.Run() == nil
}

// TestStartFailsFast checks that a node that exits while starting ends the wait at
// once, with its log in the error, rather than after the start timeout.
func TestStartFailsFast(t *testing.T) {
	c, err := NewCluster(ClusterConfig{
		Binary: testBinary, Dir: t.TempDir(), Settings: []string{"no.such.setting.type=x", "num.partitions=not-a-number"},
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	err = c.Start(ctx)
	if err == nil {
		t.Fatal("a node with an invalid setting started")
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("start failed after %v: it should fail as soon as the process exits", took)
	}
	if !strings.Contains(err.Error(), "process exited") || !strings.Contains(err.Error(), "num.partitions") {
		t.Errorf("error does not say the process exited and why: %v", err)
	}
	if crashes := c.Crashes(); len(crashes) != 1 {
		t.Errorf("crashes = %v, want the one failed start", crashes)
	}
}

// TestProbesAgainstNode checks LeaderOf and ValidateLog against a real node: a fresh
// topic, a few acknowledged records, every partition valid.
func TestProbesAgainstNode(t *testing.T) {
	c := startCluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec := NewRecorder()
	w := NewWorkload(WorkloadConfig{Topic: "probe", Partitions: 2}, 1, c.Bootstrap(), rec, testLogger(t))
	if err := w.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if id, err := LeaderOf(ctx, c.Node(1).Addr, "probe", 1); err != nil || id != 1 {
		t.Errorf("LeaderOf = %d, %v; want node 1", id, err)
	}
	if _, err := LeaderOf(ctx, c.Node(1).Addr, "probe", 7); err == nil {
		t.Errorf("LeaderOf a partition that does not exist succeeded")
	}
	// RoundTrip frames flexible versions too (header tags; ApiVersions' v0 response
	// header).
	av := kmsg.NewPtrApiVersionsRequest()
	av.SetVersion(3)
	av.ClientSoftwareName, av.ClientSoftwareVersion = "chaos", "1"
	if resp, err := RoundTrip(ctx, c.Node(1).Addr, av); err != nil || len(resp.(*kmsg.ApiVersionsResponse).ApiKeys) == 0 {
		t.Errorf("ApiVersions v3: %v, %v", resp, err)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(12)
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("probe")
	md.Topics = append(md.Topics, rt)
	if resp, err := RoundTrip(ctx, c.Node(1).Addr, md); err != nil {
		t.Errorf("Metadata v12: %v", err)
	} else if m := resp.(*kmsg.MetadataResponse); len(m.Topics) != 1 || m.Topics[0].TopicID == [16]byte{} || len(m.Topics[0].Partitions) != 2 {
		t.Errorf("Metadata v12 of probe: %+v, want its id and 2 partitions", m.Topics)
	}
	for p := range int32(2) {
		if err := ValidateLog(ctx, c.Node(1).Addr, "probe", p); err != nil {
			t.Errorf("empty partition %d: %v", p, err)
		}
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	err := WaitFor(ctx, "50 acknowledged records", func(context.Context) (bool, error) { return w.Acked() >= 50, nil })
	w.StopProducers()
	if err == nil {
		var ends map[int32]int64
		if ends, err = w.EndOffsets(ctx); err == nil {
			err = w.CatchUp(ctx, ends)
		}
	}
	w.StopConsumers()
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(2) {
		if err := ValidateLog(ctx, c.Node(1).Addr, "probe", p); err != nil {
			t.Errorf("partition %d: %v", p, err)
		}
	}
	if s := Check(rec.History(), CheckOptions{}); !s.Valid {
		t.Errorf("history of a run without faults: %v", s)
	}
}
