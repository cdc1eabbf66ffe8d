package testpki

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// certIn returns the certificate in a PEM file (the first CERTIFICATE block).
func certIn(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for len(b) > 0 {
		var bl *pem.Block
		bl, b = pem.Decode(b)
		if bl == nil {
			break
		}
		if bl.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(bl.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	t.Fatalf("%s: no certificate", path)
	return nil
}

func TestDefaultsAndClient(t *testing.T) {
	dir := t.TempDir()
	p, err := New(dir, CAName("my CA"), Client("alice", pkix.Name{CommonName: "alice", Organization: []string{"sluice"}}))
	if err != nil {
		t.Fatal(err)
	}
	if p.CA != filepath.Join(dir, "ca.pem") || p.Server != filepath.Join(dir, "server.pem") ||
		p.ClientCert != filepath.Join(dir, "alice.pem") || p.ClientKey != filepath.Join(dir, "alice.key") {
		t.Fatalf("files %+v", p)
	}
	if got := certIn(t, p.CA).Subject.CommonName; got != "my CA" {
		t.Errorf("CA CN %q", got)
	}
	srv := certIn(t, p.Server)
	if srv.Subject.CommonName != "localhost" || len(srv.DNSNames) != 1 || srv.DNSNames[0] != "localhost" ||
		len(srv.IPAddresses) != 1 || !srv.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("server certificate %v %v %v", srv.Subject, srv.DNSNames, srv.IPAddresses)
	}
	if _, err := srv.Verify(x509.VerifyOptions{Roots: p.Pool, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("server certificate: %v", err)
	}
	cl := certIn(t, p.ClientCert)
	if got := cl.Subject.String(); got != "CN=alice,O=sluice" {
		t.Errorf("client subject %q", got)
	}
	if _, err := cl.Verify(x509.VerifyOptions{Roots: p.Pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if _, err := tls.LoadX509KeyPair(p.ClientCert, p.ClientKey); err != nil {
		t.Errorf("client key pair: %v", err)
	}
	if _, err := tls.LoadX509KeyPair(p.Server, p.Server); err != nil {
		t.Errorf("server key and certificate: %v", err)
	}
}

// TestNodeMutualTLS: a node certificate serves and authenticates as a client, in a real
// handshake that requires a client certificate.
func TestNodeMutualTLS(t *testing.T) {
	p, err := New(t.TempDir(), Node("sluice-node"))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p.Server) != "node.pem" || p.ClientCert != "" {
		t.Fatalf("files %+v", p)
	}
	if got := certIn(t, p.Server).Subject.CommonName; got != "sluice-node" {
		t.Errorf("node CN %q", got)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{p.ServerPair}, ClientCAs: p.Pool, ClientAuth: tls.RequireAndVerifyClientCert,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			peer <- err.Error()
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			peer <- err.Error()
			return
		}
		peer <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), p.TLS(p.ServerPair))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := <-peer; got != "sluice-node" {
		t.Errorf("server saw client %q", got)
	}
}
