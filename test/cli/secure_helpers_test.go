package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/broker"
	"github.com/sluicehq/sluice/internal/config"
)

// testPKI is a test certificate authority with a broker certificate and a
// client certificate, as PEM files (the same shape as test/security's).
type testPKI struct {
	// CA is the CA certificate; Server the broker's key and certificate in
	// one file, as ssl.keystore.location with PEM takes it.
	CA, Server string
	// ClientCert and ClientKey are carol's certificate (CN=carol,O=sluice)
	// and key.
	ClientCert, ClientKey string
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("certificates: %v", err)
		}
	}
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, bl := range blocks {
			b = append(b, pem.EncodeToMemory(bl)...)
		}
		p := filepath.Join(dir, name)
		must(os.WriteFile(p, b, 0o600))
		return p
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice cli test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(err)
	ca, err := x509.ParseCertificate(caDER)
	must(err)
	leaf := func(serial int64, subject pkix.Name, usage x509.ExtKeyUsage) (cert, key *pem.Block) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: subject,
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		must(err)
		kder, err := x509.MarshalPKCS8PrivateKey(k)
		must(err)
		return &pem.Block{Type: "CERTIFICATE", Bytes: der}, &pem.Block{Type: "PRIVATE KEY", Bytes: kder}
	}
	p := &testPKI{CA: write("ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: caDER})}
	serverCert, serverKey := leaf(2, pkix.Name{CommonName: "localhost"}, x509.ExtKeyUsageServerAuth)
	p.Server = write("server.pem", serverKey, serverCert)
	clientCert, clientKey := leaf(3, pkix.Name{CommonName: "carol", Organization: []string{"sluice"}}, x509.ExtKeyUsageClientAuth)
	p.ClientCert, p.ClientKey = write("carol.pem", clientCert), write("carol.key", clientKey)
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
