package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/config"
)

// fakeBroker records the configuration it was started with and runs until
// its context is done.
type fakeBroker struct {
	mu      sync.Mutex
	cfg     *config.Broker
	started chan struct{}
	err     error // returned at once when set
}

func newFake() *fakeBroker { return &fakeBroker{started: make(chan struct{})} }

func (f *fakeBroker) run(ctx context.Context, cfg *config.Broker, logger *slog.Logger) error {
	f.mu.Lock()
	f.cfg = cfg
	f.mu.Unlock()
	close(f.started)
	if f.err != nil {
		return f.err
	}
	logger.Info("listening", "addr", cfg.Listeners[0].Addr())
	<-ctx.Done()
	return ctx.Err()
}

// run executes the command line with a fake broker and returns stdout,
// stderr and the error. The context is cancelled once the fake starts, as a
// signal would, unless the test wants to do that itself.
func run(t *testing.T, fake *fakeBroker, environ []string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRoot(&app{stdout: &stdout, stderr: &stderr, environ: environ, runBroker: fake.run})
	root.SetArgs(args)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-fake.started:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := root.ExecuteContext(ctx)
	return stdout.String(), stderr.String(), err
}

func TestServerDefaults(t *testing.T) {
	fake := newFake()
	_, stderr, err := run(t, fake, nil, "server")
	if err != nil {
		t.Fatalf("server: %v\n%s", err, stderr)
	}
	if fake.cfg == nil || fake.cfg.Listeners[0].Addr() != "127.0.0.1:9092" || fake.cfg.LogDirs[0] != "./sluice-data" || fake.cfg.NodeID != 1 {
		t.Fatalf("config %+v", fake.cfg)
	}
	if !strings.Contains(stderr, "level=INFO msg=listening addr=127.0.0.1:9092") {
		t.Errorf("stderr %q: want the broker's text log line", stderr)
	}
}

func TestServerSettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(file, []byte("num.partitions=4\nlog.retention.hours=2\nnode.id=9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"SLUICE_LOG_RETENTION_HOURS=3", "SLUICE_DEFAULT_REPLICATION_FACTOR=1"}
	tests := []struct {
		name  string
		args  []string
		check func(c *config.Broker) bool
	}{
		{"config file", []string{"server", "--config", file}, func(c *config.Broker) bool { return c.NumPartitions == 4 && c.NodeID == 9 }},
		{"config file as argument", []string{"server", file}, func(c *config.Broker) bool { return c.NumPartitions == 4 }},
		{"env over file", []string{"server", "-c", file}, func(c *config.Broker) bool { return c.TopicDefaults.RetentionMs == 3*3600000 }},
		{"set over env", []string{"server", "-c", file, "--set", "log.retention.hours=5"}, func(c *config.Broker) bool { return c.TopicDefaults.RetentionMs == 5*3600000 }},
		{"last set wins", []string{"server", "-s", "num.partitions=2", "--set", "num.partitions=3"}, func(c *config.Broker) bool { return c.NumPartitions == 3 }},
		{"set keeps commas", []string{"server", "--set", "listeners=PLAINTEXT://127.0.0.1:0,B://127.0.0.1:0", "--set", "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,B:PLAINTEXT"},
			func(c *config.Broker) bool { return len(c.Listeners) == 2 }},
		{"shorthands", []string{"server", "--listeners", "PLAINTEXT://127.0.0.1:19092", "--log-dirs", dir + "/a," + dir + "/b", "--node-id", "5", "--http-addr", ""},
			func(c *config.Broker) bool {
				return c.Listeners[0].Port == 19092 && len(c.LogDirs) == 2 && c.NodeID == 5 && c.HTTPAddr == ""
			}},
		{"set beats shorthand", []string{"server", "--set", "node.id=6", "--node-id", "5"}, func(c *config.Broker) bool { return c.NodeID == 6 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake()
			_, stderr, err := run(t, fake, env, tt.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			if !tt.check(fake.cfg) {
				t.Errorf("config not as expected: %+v", fake.cfg)
			}
		})
	}
}

func TestServerStartFailures(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad value", []string{"server", "--set", "num.partitions=0"}, "configuration: Invalid value 0 for configuration num.partitions: Value must be at least 1"},
		{"bad shorthand", []string{"server", "--node-id", "x"}, "node.id"},
		{"missing file", []string{"server", "--config", "/no/such/file"}, "/no/such/file"},
		{"two files", []string{"server", "--config", "a.properties", "b.properties"}, "two config files"},
		{"set without equals", []string{"server", "--set", "num.partitions"}, "key=value"},
		{"bad log level", []string{"server", "--log-level", "loud"}, "--log-level"},
		{"bad log format", []string{"server", "--log-format", "xml"}, "--log-format"},
		{"unknown flag", []string{"server", "--bogus"}, "unknown flag: --bogus"},
		{"too many args", []string{"server", "a", "b"}, "accepts at most 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake()
			_, _, err := run(t, fake, nil, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if fake.cfg != nil {
				t.Error("the broker was started despite the error")
			}
		})
	}

	// A broker that fails to start makes the command fail.
	fake := newFake()
	fake.err = errors.New("listen tcp 127.0.0.1:9092: bind: address already in use")
	_, _, err := run(t, fake, nil, "server")
	if err == nil || !strings.Contains(err.Error(), "broker: listen tcp") {
		t.Errorf("broker failure: %v", err)
	}
}

func TestServerWarnsUnknownKeys(t *testing.T) {
	fake := newFake()
	_, stderr, err := run(t, fake, []string{"SLUICE_LOG_FORMAT=json"}, "server", "--set", "zookeeper.connect=zk:2181")
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON (SLUICE_LOG_FORMAT=json): %v", line, err)
		}
		if rec["level"] == "WARN" && strings.Contains(rec["msg"].(string), "'zookeeper.connect' was supplied but isn't a known config") {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning for zookeeper.connect in %q", stderr)
	}
}

func TestLogLevel(t *testing.T) {
	fake := newFake()
	_, stderr, err := run(t, fake, nil, "server", "--log-level", "warn")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr, "listening") {
		t.Errorf("info line logged at level warn: %q", stderr)
	}
}

// TestServerSignal sends the process a real SIGTERM while the server runs
// and checks that the broker's context is cancelled and the command ends
// without an error.
func TestServerSignal(t *testing.T) {
	fake := newFake()
	var stdout, stderr bytes.Buffer
	root := newRoot(&app{stdout: &stdout, stderr: &stderr, runBroker: fake.run})
	root.SetArgs([]string{"server"})
	done := make(chan error, 1)
	go func() { done <- root.Execute() }()
	select {
	case <-fake.started:
	case err := <-done:
		t.Fatalf("server ended before the broker started: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the broker was not started")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop after SIGTERM")
	}
}

func TestVersionAndHelp(t *testing.T) {
	out, _, err := run(t, newFake(), nil, "version")
	if err != nil || !strings.HasPrefix(out, "sluice ") {
		t.Errorf("version: %q %v", out, err)
	}
	out, _, err = run(t, newFake(), nil, "--version")
	if err != nil || !strings.HasPrefix(out, "sluice ") {
		t.Errorf("--version: %q %v", out, err)
	}
	out, _, err = run(t, newFake(), nil, "server", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--config", "--set stringArray", "--listeners", "shorthand of --set listeners=", "SLUICE_LOG_DIRS", "127.0.0.1:9092", "--log-level", "--log-format"} {
		if !strings.Contains(out, want) {
			t.Errorf("server --help lacks %q:\n%s", want, out)
		}
	}
	out, _, err = run(t, newFake(), nil, "--help")
	if err != nil || !strings.Contains(out, "server") || !strings.Contains(out, "version") {
		t.Errorf("--help: %q %v", out, err)
	}
}
