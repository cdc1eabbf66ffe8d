package metadata

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

func testConfig(t *testing.T, dir string) Config {
	return Config{Dir: dir, NodeID: 1, ClusterID: "test-cluster-id", Logger: testLogger(t)}
}

func openStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// openWithBroker opens a store and registers broker 1, as the broker does at start.
func openWithBroker(t *testing.T, cfg Config) *Store {
	t.Helper()
	s := openStore(t, cfg)
	t.Cleanup(func() { s.Close() })
	if s.Image().Brokers[cfg.NodeID] == nil {
		registerBroker(t, s, cfg.NodeID)
	}
	return s
}

func registerBroker(t *testing.T, s *Store, id int32) {
	t.Helper()
	err := s.RegisterBroker(context.Background(), BrokerRegistration{
		NodeID:        id,
		Endpoints:     []Endpoint{{Listener: "PLAINTEXT", Host: "127.0.0.1", Port: 9092, SecurityProtocol: "PLAINTEXT"}},
		IncarnationID: NewUUID(),
	})
	if err != nil {
		t.Fatalf("RegisterBroker(%d): %v", id, err)
	}
}

func TestOpenCreateReopen(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	s := openWithBroker(t, cfg)
	img := s.Image()
	if img.ClusterID != cfg.ClusterID || img.ControllerID != cfg.NodeID {
		t.Fatalf("image cluster %q controller %d, want %q and %d", img.ClusterID, img.ControllerID, cfg.ClusterID, cfg.NodeID)
	}
	created, err := s.CreateTopic(context.Background(), TopicSpec{Name: "orders", Partitions: 3, ReplicationFactor: 1,
		Configs: map[string]string{"retention.ms": "1000"}})
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	if UUID(created.ID).IsZero() || len(created.Partitions) != 3 {
		t.Fatalf("created topic %+v", created)
	}
	if err := s.SetNodeConfigs(context.Background(), cfg.NodeID, map[string]*string{"message.max.bytes": ptr("500")}); err != nil {
		t.Fatalf("SetNodeConfigs: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2 := openStore(t, cfg)
	defer s2.Close()
	got := s2.Image().Topic("orders")
	if got == nil {
		t.Fatal("topic lost across reopen")
	}
	if got.ID != created.ID || len(got.Partitions) != 3 || got.Configs["retention.ms"] != "1000" {
		t.Fatalf("after reopen: %+v, want id %s, 3 partitions, retention.ms=1000", got, UUID(created.ID))
	}
	if got := s2.Image().NodeConfigs[cfg.NodeID]["message.max.bytes"]; got != "500" {
		t.Fatalf("after reopen: node %d message.max.bytes %q, want 500", cfg.NodeID, got)
	}
	if _, err := s2.CreateTopic(context.Background(), TopicSpec{Name: "orders", Partitions: 1, ReplicationFactor: 1}); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("re-create after reopen: %v, want TOPIC_ALREADY_EXISTS", err)
	}
}

// TestOpenIsFast checks the single-voter start the broker's 200 ms start budget relies on,
// on a fresh directory and on a reopen with a log to replay.
func TestOpenIsFast(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	var fresh, reopen []time.Duration
	for i := 0; i < 5; i++ {
		if i > 0 {
			cfg.Dir = t.TempDir()
		}
		start := time.Now()
		s := openStore(t, cfg)
		fresh = append(fresh, time.Since(start))
		registerBroker(t, s, 1)
		if _, err := s.CreateTopic(context.Background(), TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 1}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		start = time.Now()
		s = openStore(t, cfg)
		reopen = append(reopen, time.Since(start))
		if s.Image().Topic("t") == nil {
			t.Fatal("topic missing after reopen")
		}
		s.Close()
	}
	for _, d := range append(fresh, reopen...) {
		if d > time.Second {
			t.Errorf("Open took %v, want < 1s (fresh %v, reopen %v)", d, fresh, reopen)
		}
	}
	t.Logf("Open on a fresh dir: %v; reopen: %v", fresh, reopen)
}

func TestOpenRejectsOtherCluster(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	s := openStore(t, cfg)
	s.Close()
	cfg.ClusterID = "another-cluster"
	s, err := Open(context.Background(), cfg)
	if err == nil {
		s.Close()
		t.Fatal("Open with another cluster id succeeded")
	}
	if !errors.Is(err, kerr.InconsistentClusterID) {
		t.Fatalf("Open with another cluster id: %v, want INCONSISTENT_CLUSTER_ID", err)
	}
}

func TestOpenRejectsSecondUserOfDir(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	s := openStore(t, cfg)
	defer s.Close()
	s2, err := Open(context.Background(), cfg)
	if err == nil {
		s2.Close()
		t.Fatal("second Open of the same directory succeeded")
	}
}

func TestOpenBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{NodeID: 1, ClusterID: "c"},
		{Dir: t.TempDir(), NodeID: -1, ClusterID: "c"},
		{Dir: t.TempDir(), NodeID: 1},
	} {
		if s, err := Open(context.Background(), cfg); err == nil {
			s.Close()
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
}

// TestChangeBehindAStuckOneGivesUp: a change waiting for another of the same node gives
// up when its context ends. Before, a mutex held by a change that never completed (a
// request's, without a deadline, waiting for its commit to be applied on a broker whose
// metadata log had stalled) kept every later change of the node waiting with it: a
// leader's ISR changes, whose 10 s timeout never fired, stayed pending and unlogged for
// 204 s in a split-role chaos run.
func TestChangeBehindAStuckOneGivesUp(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	s.proposeLock <- struct{}{} // a change in progress that does not end

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.CreateTopic(ctx, TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 1})
	if !errors.Is(err, kerr.RequestTimedOut) {
		t.Fatalf("CreateTopic behind a stuck change: %v, want REQUEST_TIMED_OUT", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("gave up after %v, long past its deadline", waited)
	}

	<-s.proposeLock // the stuck change ends: changes go through again
	if _, err := s.CreateTopic(context.Background(), TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatalf("CreateTopic after: %v", err)
	}
}

// TestChangeWithoutDeadlineIsBounded: a change whose context has no deadline runs
// under proposeTimeout.
func TestChangeWithoutDeadlineIsBounded(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	ctx, unlock, err := s.lockPropose(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	deadline, ok := ctx.Deadline()
	if !ok || time.Until(deadline) > proposeTimeout {
		t.Fatalf("deadline %v (set %v), want within %v", deadline, ok, proposeTimeout)
	}
}
