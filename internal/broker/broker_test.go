package broker

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/config"
)

func startBroker(t *testing.T, dir string, sets ...string) (addr string, stop func() error) {
	t.Helper()
	cfg, _, err := config.Load("", append([]string{
		"listeners=PLAINTEXT://127.0.0.1:0", "log.dirs=" + dir, "http.addr=",
	}, sets...), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	select {
	case <-b.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("broker stopped before ready: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("broker not ready after 10s")
	}
	ep := b.Endpoints()[0]
	return net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port))), func() error {
		cancel()
		return <-done
	}
}

func clusterID(t *testing.T, addr string) string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ClusterID == nil || *resp.ClusterID == "" {
		t.Fatal("no cluster id in metadata")
	}
	if len(resp.Brokers) != 1 || net.JoinHostPort(resp.Brokers[0].Host, strconv.Itoa(int(resp.Brokers[0].Port))) != addr {
		t.Fatalf("brokers %+v, want one at %s", resp.Brokers, addr)
	}
	return *resp.ClusterID
}

func TestRestartKeepsClusterID(t *testing.T) {
	dir := t.TempDir()
	addr, stop := startBroker(t, dir)
	first := clusterID(t, addr)
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	addr, stop = startBroker(t, dir)
	defer stop()
	if again := clusterID(t, addr); again != first {
		t.Fatalf("cluster id changed across restart: %s then %s", first, again)
	}
}

func TestLogDirOfAnotherNodeIsRefused(t *testing.T) {
	dir := t.TempDir()
	_, stop := startBroker(t, dir, "node.id=1")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load("", []string{"listeners=PLAINTEXT://127.0.0.1:0", "log.dirs=" + dir, "http.addr=", "node.id=2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	err = b.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "belongs to node 1") {
		t.Fatalf("Run with another node.id: err = %v, want a refusal naming node 1", err)
	}
}
