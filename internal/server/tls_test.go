package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// testPKI is a CA with a server and a client certificate, made fresh for a test.
type testPKI struct {
	pool   *x509.CertPool
	server tls.Certificate
	client tls.Certificate
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := key()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage) tls.Certificate {
		k := key()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"sluice"}},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
	}
	p := &testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.server = leaf(2, "broker", x509.ExtKeyUsageServerAuth)
	p.client = leaf(3, "alice", x509.ExtKeyUsageClientAuth)
	return p
}

// TestTLSConnection serves a TLS listener: file regions are copied through the TLS layer
// (never sendfile, which would write them unencrypted), replies still leave in order, and
// handlers see the client's certificate and keep per-connection state across requests.
func TestTLSConnection(t *testing.T) {
	pki := newTestPKI(t)
	content := make([]byte, 300<<10)
	for i := range content {
		content[i] = byte(i * 13)
	}
	path := filepath.Join(t.TempDir(), "segment")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	osf, err := vfs.OS().OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer osf.Close()

	var releases atomic.Int32
	type state struct{ requests int }
	m := newTestMux(t)
	m.Register(3, 0, 12, func(ctx context.Context, req *Request) *Reply {
		cs, ok := req.Conn.TLSState()
		if !ok || !cs.HandshakeComplete || len(cs.PeerCertificates) == 0 || cs.PeerCertificates[0].Subject.CommonName != "alice" {
			t.Errorf("handler sees TLS state %v, complete %v, %d peer certificates", ok, cs.HandshakeComplete, len(cs.PeerCertificates))
		}
		st, _ := req.Conn.Security().(*state)
		if st == nil {
			st = &state{}
		}
		st.requests++
		req.Conn.SetSecurity(st)
		body := &Chunks{}
		body.AppendBytes(binary.BigEndian.AppendUint32(nil, uint32(st.requests)))
		body.AppendFile(osf, 7, len(content)-7, func() { releases.Add(1) })
		return &Reply{Body: body}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serverTLS := &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientCAs: pki.pool, ClientAuth: tls.RequireAndVerifyClientCert}
	ts := startServer(t, m, func(c *Config) {
		c.Listeners = []Listener{{Name: "SSL", Addr: ln.Addr().String(), Listener: tls.NewListener(ln, serverTLS)}}
	})

	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: ioTimeout}, "tcp", ts.addr,
		&tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &rawClient{t: t, c: nc}
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(9)
	name := "tls"
	for i := int32(1); i <= 3; i++ {
		c.write(frame(req, i, &name))
	}
	for i := int32(1); i <= 3; i++ {
		b, err := c.readFrame()
		if err != nil {
			t.Fatal(err)
		}
		if got := int32(binary.BigEndian.Uint32(b)); got != i {
			t.Fatalf("correlation id %d, want %d", got, i)
		}
		if n := binary.BigEndian.Uint32(b[5:]); n != uint32(i) {
			t.Errorf("reply %d counted %d requests on the connection", i, n)
		}
		if !bytes.Equal(b[9:], content[7:]) {
			t.Fatalf("reply %d: file region differs (%d bytes, want %d)", i, len(b)-9, len(content)-7)
		}
	}
	waitFor(t, func() bool { return releases.Load() == 3 }, "3 releases, have %d", releases.Load())
	if n := ts.sendfileBytes.Load(); n != 0 {
		t.Errorf("sendfile sent %d bytes on a TLS connection", n)
	}
}

// TestPlaintextHasNoTLSState checks that a plaintext connection reports no TLS state.
func TestPlaintextHasNoTLSState(t *testing.T) {
	var sawTLS atomic.Bool
	m := newTestMux(t)
	m.Register(3, 0, 12, func(ctx context.Context, req *Request) *Reply {
		_, ok := req.Conn.TLSState()
		sawTLS.Store(ok)
		return &Reply{Msg: req.Msg.ResponseKind()}
	})
	ts := startServer(t, m, nil)
	c := dial(t, ts.addr)
	c.roundTrip(versioned(kmsg.NewPtrMetadataRequest(), 9))
	if sawTLS.Load() {
		t.Error("plaintext connection reports a TLS state")
	}
}

func versioned[R kmsg.Request](r R, v int16) R {
	r.SetVersion(v)
	return r
}
