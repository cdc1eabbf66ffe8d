// Package testpki makes a test certificate authority and certificates signed by it, as
// PEM files, for tests that run brokers with SSL listeners.
//
// It is a test-only helper: only _test.go files may import it, never code that ships in
// the broker or the CLI.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// PKI is a test CA with a server certificate and, when asked for, a client certificate.
// Every leaf certificate is valid for 127.0.0.1 and localhost.
type PKI struct {
	// CA is the CA certificate's PEM file; Server the server's key and certificate in
	// one file, as ssl.keystore.location with ssl.keystore.type=PEM takes it.
	CA, Server string
	// ClientCert and ClientKey are the client certificate's and key's PEM files; empty
	// without the Client option.
	ClientCert, ClientKey string

	// Pool holds the CA certificate.
	Pool *x509.CertPool
	// ServerPair is the server certificate and key; ClientPair the client's (empty
	// without the Client option).
	ServerPair, ClientPair tls.Certificate
}

type options struct {
	caName     string
	serverCN   string
	serverFile string
	serverBoth bool
	clientFile string
	clientSubj pkix.Name
}

// Option changes what New makes.
type Option func(*options)

// CAName sets the CA's common name (default "sluice test CA").
func CAName(cn string) Option { return func(o *options) { o.caName = cn } }

// Client adds a client certificate (usage client authentication) with subject, written
// to name.pem and its key to name.key.
func Client(name string, subject pkix.Name) Option {
	return func(o *options) { o.clientFile, o.clientSubj = name, subject }
}

// Node makes the server certificate a node's, CN=cn, usable both as a server and as a
// client certificate (mutual TLS between nodes), written to node.pem.
func Node(cn string) Option {
	return func(o *options) { o.serverCN, o.serverFile, o.serverBoth = cn, "node.pem", true }
}

// New makes the CA and its certificates in dir. Without options the server certificate
// is CN=localhost, for server authentication only, in server.pem.
func New(dir string, opts ...Option) (*PKI, error) {
	o := options{caName: "sluice test CA", serverCN: "localhost", serverFile: "server.pem"}
	for _, opt := range opts {
		opt(&o)
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: o.caName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	p := &PKI{Pool: x509.NewCertPool(), CA: filepath.Join(dir, "ca.pem")}
	p.Pool.AddCert(ca)
	if err := writePEM(p.CA, block("CERTIFICATE", caDER)); err != nil {
		return nil, err
	}
	// leaf makes a certificate signed by the CA, returning it and its key as PEM blocks.
	leaf := func(serial int64, subject pkix.Name, usage ...x509.ExtKeyUsage) (tls.Certificate, *pem.Block, *pem.Block, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: subject,
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage,
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return tls.Certificate{}, nil, nil, err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return tls.Certificate{}, nil, nil, err
		}
		pair := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
		return pair, block("CERTIFICATE", der), block("PRIVATE KEY", keyDER), nil
	}

	usage := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if o.serverBoth {
		usage = append(usage, x509.ExtKeyUsageClientAuth)
	}
	pair, cert, key, err := leaf(2, pkix.Name{CommonName: o.serverCN}, usage...)
	if err != nil {
		return nil, err
	}
	p.ServerPair, p.Server = pair, filepath.Join(dir, o.serverFile)
	if err := writePEM(p.Server, key, cert); err != nil {
		return nil, err
	}

	if o.clientFile != "" {
		pair, cert, key, err := leaf(3, o.clientSubj, x509.ExtKeyUsageClientAuth)
		if err != nil {
			return nil, err
		}
		p.ClientPair = pair
		p.ClientCert, p.ClientKey = filepath.Join(dir, o.clientFile+".pem"), filepath.Join(dir, o.clientFile+".key")
		if err := writePEM(p.ClientCert, cert); err != nil {
			return nil, err
		}
		if err := writePEM(p.ClientKey, key); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// TLS is a client configuration that trusts the CA, for a server at 127.0.0.1, and
// presents certs.
func (p *PKI) TLS(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: p.Pool, Certificates: certs, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

func block(typ string, der []byte) *pem.Block { return &pem.Block{Type: typ, Bytes: der} }

// writePEM writes blocks, in order, to path.
func writePEM(path string, blocks ...*pem.Block) error {
	var b []byte
	for _, bl := range blocks {
		b = append(b, pem.EncodeToMemory(bl)...)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
