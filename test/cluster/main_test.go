package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/test/chaos"
)

// testBinary is the sluice binary under test: $SLUICE_BIN, or one TestMain builds from
// this checkout (as test/chaos does), so that a stale bin/sluice is never what is tested.
var testBinary string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	testBinary = os.Getenv("SLUICE_BIN")
	if testBinary == "" {
		dir, err := os.MkdirTemp("", "sluice-cluster-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "cluster tests:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		testBinary = filepath.Join(dir, "sluice")
		// go test runs in the package directory, test/cluster.
		cmd := exec.Command("go", "build", "-o", testBinary, "../../cmd/sluice")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "cluster tests: build sluice: %v\n%s", err, out)
			return 1
		}
	}
	return m.Run()
}

// Settings every test cluster runs with. A short broker session makes fencing quick to
// observe; the election timeout stays at its default, so that the failover time measured
// is the one users get.
var clusterSettings = []string{
	"broker.session.timeout.ms=2500",
	"broker.heartbeat.interval.ms=500",
}

// fixture is one running cluster and the test that drives it.
type fixture struct {
	t *testing.T
	c *chaos.Cluster
	// split: pure controllers and pure brokers, rather than combined nodes.
	split bool
}

// startCluster starts nodes processes (controllers of them voters, 0 meaning all,
// combined) and waits until every one is ready. The cluster is closed when the test
// ends, with every node's log tail shown if it failed.
func startCluster(t *testing.T, nodes, controllers int, extra ...string) *fixture {
	t.Helper()
	c, err := chaos.NewCluster(chaos.ClusterConfig{
		Binary: testBinary, Dir: t.TempDir(), Nodes: nodes, Controllers: controllers,
		Settings: append(append([]string(nil), clusterSettings...), extra...),
		Logger:   slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, c: c, split: controllers > 0 && controllers < nodes}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
		if crashes := c.Crashes(); len(crashes) > 0 {
			t.Errorf("nodes exited by themselves: %v", crashes)
		}
		if t.Failed() {
			for _, n := range c.Nodes() {
				t.Log(n.LogTail(60))
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	start := time.Now()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d nodes ready after %v", nodes, time.Since(start).Round(time.Millisecond))
	return f
}

// ctx returns a context for one step of a test, ended with it.
func (f *fixture) ctx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// brokers returns the nodes with the broker role that run now.
func (f *fixture) brokers() []*chaos.Node {
	var out []*chaos.Node
	for _, n := range f.c.Nodes() {
		if n.IsBroker() && n.State() == chaos.Running {
			out = append(out, n)
		}
	}
	return out
}

// running returns every node that runs now.
func (f *fixture) running() []*chaos.Node {
	var out []*chaos.Node
	for _, n := range f.c.Nodes() {
		if n.State() == chaos.Running {
			out = append(out, n)
		}
	}
	return out
}

// quorumAddr is where a node answers DescribeQuorum: its client listener, or a pure
// controller's CONTROLLER listener.
func quorumAddr(n *chaos.Node) string {
	if n.IsBroker() {
		return n.Addr
	}
	return n.ControllerAddr
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}
