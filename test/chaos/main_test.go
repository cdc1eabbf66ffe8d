package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// testBinary is the sluice binary the tests run: $SLUICE_BIN, or one TestMain builds
// from this checkout, so that a stale bin/sluice is never what is tested.
var testBinary string

func TestMain(m *testing.M) {
	if helper := os.Getenv("SLUICE_CHAOS_HELPER"); helper != "" {
		os.Exit(runHelper(helper, os.Args[len(os.Args)-1]))
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	testBinary = os.Getenv("SLUICE_BIN")
	if testBinary == "" {
		dir, err := os.MkdirTemp("", "sluice-chaos-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos tests:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		testBinary = filepath.Join(dir, "sluice")
		// go test runs in the package directory, test/chaos.
		cmd := exec.Command("go", "build", "-o", testBinary, "../../cmd/sluice")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "chaos tests: build sluice: %v\n%s", err, out)
			return 1
		}
	}
	return m.Run()
}

// runHelper is the test binary acting as a tiny network peer inside a namespace:
// "listen" accepts connections on addr until killed; "dial" exits 0 if addr accepts a
// connection within a second, else 1.
func runHelper(mode, addr string) int {
	switch mode {
	case "listen":
		l, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		for {
			c, err := l.Accept()
			if err != nil {
				return 2
			}
			c.Close()
		}
	case "dial":
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return 1
		}
		c.Close()
		return 0
	}
	return 2
}

// testLogger sends the harness's log lines to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// startCluster starts nodes on a loopback network, closed when the test ends (its
// logs shown if the test failed).
func startCluster(t *testing.T, nodes int, settings ...string) *Cluster {
	t.Helper()
	c, err := NewCluster(ClusterConfig{
		Binary: testBinary, Dir: t.TempDir(), Nodes: nodes, Settings: settings, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
		if t.Failed() {
			for _, n := range c.Nodes() {
				t.Log(n.LogTail(40))
			}
		}
	})
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}
