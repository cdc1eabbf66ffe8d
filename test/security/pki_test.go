package security

import (
	"crypto/tls"
	"crypto/x509/pkix"

	"github.com/sluicehq/sluice/internal/testpki"
)

// pki is a test certificate authority with the broker's certificate (CA, Server) and
// alice's (ClientCert, ClientKey: CN=alice,O=sluice), as PEM files in dir.
type pki struct{ *testpki.PKI }

func newPKI(dir string) (*pki, error) {
	p, err := testpki.New(dir, testpki.Client("alice", pkix.Name{CommonName: "alice", Organization: []string{"sluice"}}))
	if err != nil {
		return nil, err
	}
	return &pki{p}, nil
}

// clientTLS is a client configuration trusting the test CA, with alice's certificate
// when withCert.
func (p *pki) clientTLS(withCert bool) *tls.Config {
	if withCert {
		return p.TLS(p.ClientPair)
	}
	return p.TLS()
}
