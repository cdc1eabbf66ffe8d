package security

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

// pki is a test certificate authority with the broker's certificate and a client's, as
// PEM files in dir.
type pki struct {
	dir string
	// CA is the CA certificate; Server the broker's key and chain in one file, as
	// ssl.keystore.location with ssl.keystore.type=PEM takes it.
	CA, Server string
	// ClientCert and ClientKey are alice's certificate (CN=alice,O=sluice) and key.
	ClientCert, ClientKey string

	pool   *x509.CertPool
	client tls.Certificate
}

func newPKI(dir string) (*pki, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice test CA"},
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
	p := &pki{dir: dir, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.CA = filepath.Join(dir, "ca.pem")
	if err := writePEM(p.CA, "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	leaf := func(serial int64, subject pkix.Name, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: subject,
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		return der, key, err
	}
	serverDER, serverKey, err := leaf(2, pkix.Name{CommonName: "localhost"}, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(serverKey)
	if err != nil {
		return nil, err
	}
	p.Server = filepath.Join(dir, "server.pem")
	if err := os.WriteFile(p.Server, append(pemBytes("PRIVATE KEY", keyDER), pemBytes("CERTIFICATE", serverDER)...), 0o600); err != nil {
		return nil, err
	}
	clientDER, clientKey, err := leaf(3, pkix.Name{CommonName: "alice", Organization: []string{"sluice"}}, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	clientKeyDER, err := x509.MarshalPKCS8PrivateKey(clientKey)
	if err != nil {
		return nil, err
	}
	p.ClientCert, p.ClientKey = filepath.Join(dir, "alice.pem"), filepath.Join(dir, "alice.key")
	if err := writePEM(p.ClientCert, "CERTIFICATE", clientDER); err != nil {
		return nil, err
	}
	if err := writePEM(p.ClientKey, "PRIVATE KEY", clientKeyDER); err != nil {
		return nil, err
	}
	p.client = tls.Certificate{Certificate: [][]byte{clientDER}, PrivateKey: clientKey}
	return p, nil
}

func pemBytes(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func writePEM(path, typ string, der []byte) error {
	if err := os.WriteFile(path, pemBytes(typ, der), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// clientTLS is a client configuration trusting the test CA, with alice's certificate
// when withCert.
func (p *pki) clientTLS(withCert bool) *tls.Config {
	c := &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if withCert {
		c.Certificates = []tls.Certificate{p.client}
	}
	return c
}
