package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"
)

var aliceSubject = pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"Acme"}, Country: []string{"US"}}

// fixture is a CA, a broker certificate and a client certificate, as PEM settings.
type fixture struct {
	ca             *pki
	server, client Settings
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ca := newPKI(t, "test CA")
	srvCert, srvKey := ca.leaf(t, pkix.Name{CommonName: "broker"})
	cliCert, cliKey := ca.leaf(t, aliceSubject)
	return fixture{
		ca: ca,
		server: Settings{
			KeystoreLocation:       writeFile(t, "broker.pem", keyPEM(t, srvKey)+certPEM(srvCert, ca.caCert)),
			TruststoreCertificates: certPEM(ca.caCert),
		},
		client: Settings{
			KeystoreCertificateChain: certPEM(cliCert),
			KeystoreKey:              keyPEM(t, cliKey),
			TruststoreLocation:       writeFile(t, "ca.pem", certPEM(ca.caCert)),
		},
	}
}

func mustServer(t *testing.T, s Settings) *tls.Config {
	t.Helper()
	c, err := ServerConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustClient(t *testing.T, s Settings, name string) *tls.Config {
	t.Helper()
	c, err := ClientConfig(s, name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientAuthAndPrincipal(t *testing.T) {
	f := newFixture(t)
	pb, err := NewPrincipalBuilder("")
	if err != nil {
		t.Fatal(err)
	}
	stranger := newPKI(t, "other CA")
	strangerCert, strangerKey := stranger.leaf(t, pkix.Name{CommonName: "mallory"})
	noCert := f.client
	noCert.KeystoreCertificateChain, noCert.KeystoreKey = "", ""
	wrongCA := f.client
	wrongCA.KeystoreCertificateChain, wrongCA.KeystoreKey = certPEM(strangerCert), keyPEM(t, strangerKey)

	tests := []struct {
		name       string
		clientAuth string
		client     Settings
		force      bool // send the certificate even if the server does not list its CA
		wantErr    bool
		principal  string
	}{
		{name: "required, with certificate", clientAuth: "required", client: f.client, principal: "User:CN=alice,OU=eng,O=Acme,C=US"},
		{name: "required, without", clientAuth: "required", client: noCert, wantErr: true},
		{name: "required, unknown CA", clientAuth: "required", client: wrongCA, force: true, wantErr: true},
		{name: "requested, with certificate", clientAuth: "requested", client: f.client, principal: "User:CN=alice,OU=eng,O=Acme,C=US"},
		{name: "requested, without", clientAuth: "requested", client: noCert, principal: Anonymous},
		{name: "requested, unknown CA", clientAuth: "requested", client: wrongCA, force: true, wantErr: true},
		{name: "requested, unknown CA not sent", clientAuth: "requested", client: wrongCA, principal: Anonymous},
		{name: "none ignores the certificate", clientAuth: "none", client: f.client, principal: Anonymous},
		{name: "default is none", clientAuth: "", client: f.client, principal: Anonymous},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := f.server
			s.ClientAuth = tt.clientAuth
			cc := mustClient(t, tt.client, "localhost")
			if tt.force {
				cc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cc.Certificates[0], nil }
			}
			serr, cerr, state := handshake(t, mustServer(t, s), cc)
			if tt.wantErr {
				if serr == nil || cerr == nil {
					t.Fatalf("handshake succeeded: server %v, client %v", serr, cerr)
				}
				return
			}
			if serr != nil || cerr != nil {
				t.Fatalf("handshake: server %v, client %v", serr, cerr)
			}
			p, err := pb.Principal(state)
			if err != nil || p != tt.principal {
				t.Fatalf("principal %q (%v), want %q", p, err, tt.principal)
			}
		})
	}
	s := f.server
	s.ClientAuth = "sometimes"
	if _, err := ServerConfig(s); err == nil {
		t.Fatal("ssl.client.auth=sometimes accepted")
	}
}

func TestEndpointIdentification(t *testing.T) {
	f := newFixture(t)
	srv := mustServer(t, f.server)
	if serr, cerr, _ := handshake(t, srv, mustClient(t, f.client, "localhost")); serr != nil || cerr != nil {
		t.Fatalf("localhost: %v / %v", serr, cerr)
	}
	if _, cerr, _ := handshake(t, srv, mustClient(t, f.client, "127.0.0.1")); cerr != nil {
		t.Fatalf("127.0.0.1: %v", cerr)
	}
	if _, cerr, _ := handshake(t, srv, mustClient(t, f.client, "kafka.example.com")); cerr == nil {
		t.Fatal("a server certificate for another name was accepted")
	}
	off := f.client
	empty := ""
	off.EndpointIdentificationAlgorithm = &empty
	if _, cerr, _ := handshake(t, srv, mustClient(t, off, "kafka.example.com")); cerr != nil {
		t.Fatalf("without endpoint identification: %v", cerr)
	}
	// The chain is still checked without endpoint identification.
	stranger := newPKI(t, "other CA")
	off.TruststoreLocation = writeFile(t, "other.pem", certPEM(stranger.caCert))
	if _, cerr, _ := handshake(t, srv, mustClient(t, off, "localhost")); cerr == nil {
		t.Fatal("an untrusted server was accepted without endpoint identification")
	}
	bad := "ldap"
	off.EndpointIdentificationAlgorithm = &bad
	if _, err := ClientConfig(off, "x"); err == nil {
		t.Fatal("endpoint identification ldap accepted")
	}
}

func TestProtocols(t *testing.T) {
	tests := []struct {
		in      string
		lo, hi  uint16
		wantErr bool
	}{
		{in: "", lo: tls.VersionTLS12, hi: tls.VersionTLS13},
		{in: "TLSv1.2,TLSv1.3", lo: tls.VersionTLS12, hi: tls.VersionTLS13},
		{in: " TLSv1.3 ", lo: tls.VersionTLS13, hi: tls.VersionTLS13},
		{in: "TLSv1,TLSv1.1,TLSv1.2", lo: tls.VersionTLS10, hi: tls.VersionTLS12},
		{in: "tlsv1.2", lo: tls.VersionTLS12, hi: tls.VersionTLS12},
		{in: "TLSv1.1,TLSv1.3", wantErr: true},
		{in: "SSLv3", wantErr: true},
		{in: ",", wantErr: true},
	}
	for _, tt := range tests {
		lo, hi, err := parseProtocols(tt.in)
		if (err != nil) != tt.wantErr || lo != tt.lo || hi != tt.hi {
			t.Errorf("parseProtocols(%q) = %x %x %v", tt.in, lo, hi, err)
		}
	}
	f := newFixture(t)
	s := f.server
	s.EnabledProtocols = "TLSv1.3"
	c := f.client
	c.EnabledProtocols = "TLSv1.2"
	if serr, cerr, _ := handshake(t, mustServer(t, s), mustClient(t, c, "localhost")); serr == nil || cerr == nil {
		t.Fatal("a TLS 1.2 client reached a TLS 1.3 listener")
	}
	c.EnabledProtocols = "TLSv1.2,TLSv1.3"
	_, _, state := handshake(t, mustServer(t, s), mustClient(t, c, "localhost"))
	if state.Version != tls.VersionTLS13 {
		t.Fatalf("negotiated %x", state.Version)
	}
}

func TestCipherSuites(t *testing.T) {
	f := newFixture(t)
	s := f.server
	s.CipherSuites = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256"
	s.EnabledProtocols = "TLSv1.2"
	srv := mustServer(t, s)
	if len(srv.CipherSuites) != 1 || srv.CipherSuites[0] != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 {
		t.Fatalf("suites %v", srv.CipherSuites)
	}
	c := f.client
	c.CipherSuites = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
	c.EnabledProtocols = "TLSv1.2"
	if serr, cerr, _ := handshake(t, srv, mustClient(t, c, "localhost")); serr == nil || cerr == nil {
		t.Fatal("handshake without a common suite succeeded")
	}
	c.CipherSuites = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
	_, _, state := handshake(t, srv, mustClient(t, c, "localhost"))
	if state.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 {
		t.Fatalf("negotiated %x", state.CipherSuite)
	}

	s.CipherSuites = "TLS_NOT_A_SUITE"
	if _, err := ServerConfig(s); err == nil || !strings.Contains(err.Error(), "TLS_NOT_A_SUITE") {
		t.Fatalf("unknown suite: %v", err)
	}
	s.CipherSuites, s.EnabledProtocols = "TLS_AES_256_GCM_SHA384", ""
	if c := mustServer(t, s); c.MinVersion != tls.VersionTLS13 {
		t.Fatalf("TLS 1.3 suites only: min version %x", c.MinVersion)
	}
	s.EnabledProtocols = "TLSv1.2"
	if _, err := ServerConfig(s); err == nil {
		t.Fatal("TLS 1.3 suites with TLS 1.2 only accepted")
	}
}

func TestKeystoreErrors(t *testing.T) {
	f := newFixture(t)
	cert, key := f.ca.leaf(t, pkix.Name{CommonName: "x"})
	tests := []struct {
		name string
		s    Settings
		want string
	}{
		{"no keystore", Settings{}, "needs a keystore"},
		{"JKS", Settings{KeystoreType: "JKS", KeystoreLocation: "/x.jks"}, "JKS is not supported"},
		{"unknown type", Settings{KeystoreType: "BKS", KeystoreLocation: "/x"}, "unsupported ssl.keystore.type"},
		{"location and inline", Settings{KeystoreLocation: "/x", KeystoreKey: keyPEM(t, key), KeystoreCertificateChain: certPEM(cert)}, "not both"},
		{"inline key alone", Settings{KeystoreKey: keyPEM(t, key)}, "go together"},
		{"missing file", Settings{KeystoreLocation: "/nonexistent/broker.pem"}, "read keystore"},
		{"no key", Settings{KeystoreLocation: writeFile(t, "c.pem", certPEM(cert))}, "no private key"},
		{"no certificate", Settings{KeystoreLocation: writeFile(t, "k.pem", keyPEM(t, key))}, "no certificate"},
		{"encrypted key", Settings{KeystoreLocation: writeFile(t, "e.pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"+certPEM(cert))}, "encrypted private keys are not supported"},
		{"key of another certificate", Settings{KeystoreKey: keyPEM(t, key), KeystoreCertificateChain: certPEM(f.ca.caCert)}, "private key does not match"},
		{"empty truststore", Settings{KeystoreKey: keyPEM(t, key), KeystoreCertificateChain: certPEM(cert), TruststoreCertificates: "nothing"}, "no certificate"},
		{"truststore twice", Settings{KeystoreKey: keyPEM(t, key), KeystoreCertificateChain: certPEM(cert), TruststoreCertificates: certPEM(cert), TruststoreLocation: "/x"}, "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ServerConfig(tt.s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ServerConfig = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestPKCS12Stores(t *testing.T) {
	ca := newPKI(t, "p12 CA")
	srvCert, srvKey := ca.leaf(t, pkix.Name{CommonName: "broker"})
	cliCert, cliKey := ca.leaf(t, aliceSubject)
	ks, err := pkcs12.Modern.Encode(srvKey, srvCert, nil, "ks-pass")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca.caCert}, "ts-pass")
	if err != nil {
		t.Fatal(err)
	}
	server := Settings{
		KeystoreType: "PKCS12", KeystoreLocation: writeFile(t, "ks.p12", string(ks)), KeystorePassword: "ks-pass",
		TruststoreType: "pkcs12", TruststoreLocation: writeFile(t, "ts.p12", string(ts)), TruststorePassword: "ts-pass",
		ClientAuth: "required",
	}
	client := Settings{KeystoreCertificateChain: certPEM(cliCert), KeystoreKey: keyPEM(t, cliKey), TruststoreCertificates: certPEM(ca.caCert)}
	serr, cerr, state := handshake(t, mustServer(t, server), mustClient(t, client, "localhost"))
	if serr != nil || cerr != nil {
		t.Fatalf("handshake: %v / %v", serr, cerr)
	}
	pb, _ := NewPrincipalBuilder("DEFAULT")
	if p, _ := pb.Principal(state); p != "User:CN=alice,OU=eng,O=Acme,C=US" {
		t.Fatalf("principal %q", p)
	}
	server.KeystorePassword = "wrong"
	if _, err := ServerConfig(server); err == nil {
		t.Fatal("a wrong keystore password was accepted")
	}
}

func TestFromProperties(t *testing.T) {
	props := map[string]string{
		"ssl.keystore.location":                                        "/global.pem",
		"listener.name.external.ssl.keystore.location":                 "/external.pem",
		"ssl.client.auth":                                              "required",
		"listener.name.external.ssl.endpoint.identification.algorithm": "",
	}
	get := func(k string) (string, bool) { v, ok := props[k]; return v, ok }
	s := FromProperties(get, "EXTERNAL")
	if s.KeystoreLocation != "/external.pem" || s.ClientAuth != "required" || s.EndpointIdentificationAlgorithm == nil || *s.EndpointIdentificationAlgorithm != "" {
		t.Fatalf("EXTERNAL: %+v", s)
	}
	s = FromProperties(get, "INTERNAL")
	if s.KeystoreLocation != "/global.pem" || s.EndpointIdentificationAlgorithm != nil {
		t.Fatalf("INTERNAL: %+v", s)
	}
}
