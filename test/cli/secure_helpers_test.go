package cli

import (
	"context"
	"crypto/x509/pkix"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/broker"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/testpki"
)

// testPKI is a test certificate authority with a broker certificate (CA,
// Server) and carol's client certificate (ClientCert, ClientKey:
// CN=carol,O=sluice), as PEM files.
type testPKI = testpki.PKI

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	p, err := testpki.New(t.TempDir(), testpki.CAName("sluice cli test CA"),
		testpki.Client("carol", pkix.Name{CommonName: "carol", Organization: []string{"sluice"}}))
	if err != nil {
		t.Fatalf("certificates: %v", err)
	}
	return p
}

// Settings of the secured broker.
const (
	adminPassword = "admin-secret"
	// adminPrincipal is the super user, a PLAIN user from JAAS.
	adminPrincipal = "User:admin"
)

// secureBroker is a broker with an authorizer and two listeners: SASL_SSL
// (PLAIN for admin from JAAS, SCRAM for users made with the CLI) and SSL
// that requires client certificates.
type secureBroker struct {
	pki              *testPKI
	saslSSL, sslAddr string
}

// startSecureBroker starts a secured broker in-process; it stops when the
// test ends.
func startSecureBroker(t testing.TB) *secureBroker {
	t.Helper()
	p := newTestPKI(t)
	jaas := `org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="` + adminPassword + `";`
	cfg, _, err := config.Load("", []string{
		"listeners=SASL_SSL://127.0.0.1:0,SSL://127.0.0.1:0",
		"log.dirs=" + t.TempDir(),
		"http.addr=127.0.0.1:0",
		"ssl.keystore.location=" + p.Server,
		"ssl.truststore.location=" + p.CA,
		"listener.name.ssl.ssl.client.auth=required",
		"listener.name.sasl_ssl.plain.sasl.jaas.config=" + jaas,
		"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users=" + adminPrincipal,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	b, err := broker.New(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("broker did not stop within 30s")
		}
		if t.Failed() {
			logs.mu.Lock()
			t.Logf("broker log:\n%s", clip(logs.buf.String()))
			logs.mu.Unlock()
		}
	})
	select {
	case <-b.Ready():
	case err := <-done:
		t.Fatalf("broker stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("broker not ready within 30s")
	}
	sb := &secureBroker{pki: p}
	for _, ep := range b.Endpoints() {
		addr := net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port)))
		switch ep.SecurityProtocol {
		case "SASL_SSL":
			sb.saslSSL = addr
		case "SSL":
			sb.sslAddr = addr
		}
	}
	if sb.saslSSL == "" || sb.sslAddr == "" {
		t.Fatalf("endpoints %+v: want a SASL_SSL and an SSL listener", b.Endpoints())
	}
	return sb
}

// as returns the flags that connect to the SASL_SSL listener as user with
// mechanism; the password goes in SLUICE_PASSWORD (see runEnv).
func (b *secureBroker) as(user, mechanism string) []string {
	return []string{"--brokers", b.saslSSL, "--tls-ca", b.pki.CA, "--sasl-mechanism", mechanism, "--user", user}
}
