package security

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// The broker every test of the package shares, started once in TestMain.
var (
	certs *pki
	// sslAddr requires client certificates; saslSSLAddr and saslAddr take SASL PLAIN
	// (admin, from JAAS) and SCRAM.
	sslAddr, saslSSLAddr, saslAddr string
	brokerLog                      string
)

// Passwords and settings of the shared broker.
const (
	adminPassword = "admin-secret"
	// failedAuthDelay is connection.failed.authentication.delay.ms.
	failedAuthDelay = 300 * time.Millisecond
	readyTimeout    = 30 * time.Second
)

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "security tests:", err)
		if b, rerr := os.ReadFile(brokerLog); rerr == nil {
			fmt.Fprintf(os.Stderr, "broker log:\n%s\n", tail(string(b), 8000))
		}
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "sluice-security-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if certs, err = newPKI(dir); err != nil {
		return 0, fmt.Errorf("certificates: %w", err)
	}
	addrs := make([]string, 3)
	for i := range addrs {
		if addrs[i], err = freeAddr(); err != nil {
			return 0, err
		}
	}
	sslAddr, saslSSLAddr, saslAddr = addrs[0], addrs[1], addrs[2]
	jaas := `org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="` + adminPassword + `";`
	props := strings.Join([]string{
		"node.id=1",
		"log.dirs=" + filepath.Join(dir, "data"),
		"http.addr=",
		"listeners=SSL://" + sslAddr + ",SASL_SSL://" + saslSSLAddr + ",SASL_PLAINTEXT://" + saslAddr,
		"ssl.keystore.location=" + certs.Server,
		"ssl.truststore.location=" + certs.CA,
		"listener.name.ssl.ssl.client.auth=required",
		"listener.name.sasl_ssl.plain.sasl.jaas.config=" + jaas,
		"listener.name.sasl_plaintext.plain.sasl.jaas.config=" + jaas,
		"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users=User:admin",
		fmt.Sprintf("connection.failed.authentication.delay.ms=%d", failedAuthDelay.Milliseconds()),
		"group.initial.rebalance.delay.ms=0",
	}, "\n") + "\n"
	propsPath := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(propsPath, []byte(props), 0o600); err != nil {
		return 0, err
	}
	brokerLog = filepath.Join(dir, "sluice.log")
	logFile, err := os.Create(brokerLog)
	if err != nil {
		return 0, err
	}
	defer logFile.Close()
	bin, err := binary()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(bin, "server", "--config", propsPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Killed with the test process if that dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()
	if err := waitReady(exited); err != nil {
		return 0, err
	}
	code := m.Run()
	if code != 0 {
		if b, err := os.ReadFile(brokerLog); err == nil {
			fmt.Fprintf(os.Stderr, "broker log:\n%s\n", tail(string(b), 8000))
		}
	}
	return code, nil
}

// binary is the broker under test: $SLUICE_BIN, or bin/sluice at the repository root.
func binary() (string, error) {
	if p := os.Getenv("SLUICE_BIN"); p != "" {
		return p, nil
	}
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "bin", "sluice")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("the sluice binary is missing (%v): build it first with `make build`, or set SLUICE_BIN", err)
	}
	return p, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady polls the SASL_PLAINTEXT listener as admin until the broker answers, or
// fails when it exits or takes longer than readyTimeout.
func waitReady(exited <-chan error) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		cl, err := kgo.NewClient(kgo.SeedBrokers(saslAddr), kgo.SASL(plain.Auth{User: "admin", Pass: adminPassword}.AsMechanism()))
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = cl.Ping(ctx)
		cancel()
		cl.Close()
		if err == nil {
			return nil
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("the broker exited before it was ready: %v", werr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the broker did not answer within %v: %w", readyTimeout, err)
		}
		time.Sleep(50 * time.Millisecond) // between connection attempts to a starting process
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
