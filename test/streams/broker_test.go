package streams

// A small copy of test/compat's broker harness: start bin/sluice on a free
// port in a temporary data dir, wait until it answers, stop it at the end.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func brokerBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("SLUICE_BIN")
	if bin == "" {
		abs, err := filepath.Abs(filepath.Join("..", "..", "bin", "sluice"))
		if err != nil {
			t.Fatalf("locate bin/sluice: %v", err)
		}
		bin = abs
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("broker binary %s not found (%v): run `make build` first, or set SLUICE_BIN", bin, err)
	}
	return bin
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startBroker starts a broker and returns its address; it is stopped with
// SIGTERM when the test ends, and its log shown if the test failed.
func startBroker(t testing.TB) string {
	t.Helper()
	addr := freeAddr(t)
	logPath := filepath.Join(t.TempDir(), "sluice.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(brokerBinary(t), "server",
		"--set", "log.dirs="+t.TempDir(),
		"--set", "listeners=PLAINTEXT://"+addr,
		"--set", "node.id=1",
		"--set", "http.addr=127.0.0.1:0",
		// Compaction of changelogs is not what these tests are about.
		"--set", "log.cleaner.backoff.ms=1000",
		// Groups form at once rather than after the default 3 s wait.
		"--set", "group.initial.rebalance.delay.ms=0",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start broker: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logFile.Close(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			t.Errorf("broker did not stop within 20s of SIGTERM")
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			lines := strings.Split(string(data), "\n")
			if len(lines) > 80 {
				lines = lines[len(lines)-80:]
			}
			t.Logf("broker log tail:\n%s", strings.Join(lines, "\n"))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := ping(addr)
		if err == nil {
			return addr
		}
		select {
		case <-exited:
			t.Fatalf("broker exited before it was ready: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker on %s not ready within 30s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a readiness check, not a wait for an outcome
	}
}

// ping asks the broker for its metadata.
func ping(addr string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}
