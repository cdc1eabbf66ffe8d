package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Settings are Kafka's ssl.* settings of one listener or client. Empty means unset.
type Settings struct {
	KeystoreType             string // ssl.keystore.type: PEM (default here) or PKCS12
	KeystoreLocation         string // ssl.keystore.location
	KeystorePassword         string // ssl.keystore.password (PKCS12)
	KeyPassword              string // ssl.key.password (encrypted keys: refused)
	KeystoreCertificateChain string // ssl.keystore.certificate.chain (inline PEM)
	KeystoreKey              string // ssl.keystore.key (inline PEM)

	TruststoreType         string // ssl.truststore.type: PEM (default here) or PKCS12
	TruststoreLocation     string // ssl.truststore.location
	TruststorePassword     string // ssl.truststore.password (PKCS12)
	TruststoreCertificates string // ssl.truststore.certificates (inline PEM)

	ClientAuth       string // ssl.client.auth: none, requested, required
	EnabledProtocols string // ssl.enabled.protocols, comma-separated
	CipherSuites     string // ssl.cipher.suites, comma-separated

	// EndpointIdentificationAlgorithm is ssl.endpoint.identification.algorithm, for
	// clients; nil means Kafka's default, https.
	EndpointIdentificationAlgorithm *string
	PrincipalMappingRules           string // ssl.principal.mapping.rules; DEFAULT when empty
}

// Setting names.
const (
	KeyKeystoreType                    = "ssl.keystore.type"
	KeyKeystoreLocation                = "ssl.keystore.location"
	KeyKeystorePassword                = "ssl.keystore.password"
	KeyKeyPassword                     = "ssl.key.password"
	KeyKeystoreCertificateChain        = "ssl.keystore.certificate.chain"
	KeyKeystoreKey                     = "ssl.keystore.key"
	KeyTruststoreType                  = "ssl.truststore.type"
	KeyTruststoreLocation              = "ssl.truststore.location"
	KeyTruststorePassword              = "ssl.truststore.password"
	KeyTruststoreCertificates          = "ssl.truststore.certificates"
	KeyClientAuth                      = "ssl.client.auth"
	KeyEnabledProtocols                = "ssl.enabled.protocols"
	KeyCipherSuites                    = "ssl.cipher.suites"
	KeyEndpointIdentificationAlgorithm = "ssl.endpoint.identification.algorithm"
	KeyPrincipalMappingRules           = "ssl.principal.mapping.rules"
)

// FromProperties reads the settings through get, preferring
// listener.name.<listener>.<key> (listener lower-cased) to <key>, as Kafka does. An empty
// listener reads the plain keys only.
func FromProperties(get func(key string) (string, bool), listener string) Settings {
	lookup := func(key string) (string, bool) {
		if listener != "" {
			if v, ok := get("listener.name." + strings.ToLower(listener) + "." + key); ok {
				return v, true
			}
		}
		return get(key)
	}
	str := func(key string) string {
		v, _ := lookup(key)
		return v
	}
	s := Settings{
		KeystoreType:             str(KeyKeystoreType),
		KeystoreLocation:         str(KeyKeystoreLocation),
		KeystorePassword:         str(KeyKeystorePassword),
		KeyPassword:              str(KeyKeyPassword),
		KeystoreCertificateChain: str(KeyKeystoreCertificateChain),
		KeystoreKey:              str(KeyKeystoreKey),
		TruststoreType:           str(KeyTruststoreType),
		TruststoreLocation:       str(KeyTruststoreLocation),
		TruststorePassword:       str(KeyTruststorePassword),
		TruststoreCertificates:   str(KeyTruststoreCertificates),
		ClientAuth:               str(KeyClientAuth),
		EnabledProtocols:         str(KeyEnabledProtocols),
		CipherSuites:             str(KeyCipherSuites),
		PrincipalMappingRules:    str(KeyPrincipalMappingRules),
	}
	if v, ok := lookup(KeyEndpointIdentificationAlgorithm); ok {
		s.EndpointIdentificationAlgorithm = &v
	}
	return s
}

// ServerConfig builds the configuration of a listener: it must have a keystore.
func ServerConfig(s Settings) (*tls.Config, error) {
	cert, err := loadKeystore(s)
	if err != nil {
		return nil, err
	}
	if cert == nil {
		return nil, errors.New("tls: a listener needs a keystore: set ssl.keystore.location, or ssl.keystore.certificate.chain and ssl.keystore.key")
	}
	c, err := base(s)
	if err != nil {
		return nil, err
	}
	c.Certificates = []tls.Certificate{*cert}
	if c.ClientCAs, err = loadTruststore(s); err != nil {
		return nil, err
	}
	switch strings.ToLower(strings.TrimSpace(s.ClientAuth)) {
	case "", "none":
		c.ClientAuth = tls.NoClientCert
	case "requested":
		c.ClientAuth = tls.VerifyClientCertIfGiven
	case "required":
		c.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil, fmt.Errorf("tls: invalid %s %q: want none, requested or required", KeyClientAuth, s.ClientAuth)
	}
	return c, nil
}

// ClientConfig builds the configuration of a client connecting to serverName (a host name
// or IP address): the truststore verifies the server, the keystore, if any, is the client's
// certificate, and ssl.endpoint.identification.algorithm decides whether the server's name
// is checked.
func ClientConfig(s Settings, serverName string) (*tls.Config, error) {
	c, err := base(s)
	if err != nil {
		return nil, err
	}
	cert, err := loadKeystore(s)
	if err != nil {
		return nil, err
	}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	if c.RootCAs, err = loadTruststore(s); err != nil {
		return nil, err
	}
	c.ServerName = serverName
	alg := "https"
	if s.EndpointIdentificationAlgorithm != nil {
		alg = strings.TrimSpace(*s.EndpointIdentificationAlgorithm)
	}
	switch strings.ToLower(alg) {
	case "https":
	case "":
		// Check the chain, not the name: Go's check does both, so do the chain here.
		roots := c.RootCAs
		c.InsecureSkipVerify = true
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: the server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, ic := range cs.PeerCertificates[1:] {
				inter.AddCert(ic)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	default:
		return nil, fmt.Errorf("tls: unsupported %s %q: want https or empty", KeyEndpointIdentificationAlgorithm, alg)
	}
	return c, nil
}

// base sets what servers and clients share: protocol versions and cipher suites.
func base(s Settings) (*tls.Config, error) {
	c := &tls.Config{}
	var err error
	if c.MinVersion, c.MaxVersion, err = parseProtocols(s.EnabledProtocols); err != nil {
		return nil, err
	}
	var only13 bool
	if c.CipherSuites, only13, err = parseCipherSuites(s.CipherSuites); err != nil {
		return nil, err
	}
	if only13 {
		// Only TLS 1.3 suites listed: no handshake below TLS 1.3 could pick a suite.
		if c.MaxVersion < tls.VersionTLS13 {
			return nil, fmt.Errorf("tls: %s lists only TLS 1.3 suites but %s excludes TLS 1.3", KeyCipherSuites, KeyEnabledProtocols)
		}
		c.MinVersion = tls.VersionTLS13
	}
	return c, nil
}

var protocolVersions = []struct {
	name    string
	version uint16
}{
	{"TLSv1", tls.VersionTLS10},
	{"TLSv1.1", tls.VersionTLS11},
	{"TLSv1.2", tls.VersionTLS12},
	{"TLSv1.3", tls.VersionTLS13},
}

// parseProtocols turns ssl.enabled.protocols into a version range; the versions listed
// must be contiguous.
func parseProtocols(list string) (lo, hi uint16, err error) {
	if strings.TrimSpace(list) == "" {
		list = "TLSv1.2,TLSv1.3"
	}
	var idx []int
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		i := slices.IndexFunc(protocolVersions, func(v struct {
			name    string
			version uint16
		}) bool {
			return strings.EqualFold(v.name, p) || (strings.EqualFold(p, "TLSv1.0") && v.version == tls.VersionTLS10)
		})
		if i < 0 {
			return 0, 0, fmt.Errorf("tls: unsupported protocol %q in %s (supported: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)", p, KeyEnabledProtocols)
		}
		idx = append(idx, i)
	}
	if len(idx) == 0 {
		return 0, 0, fmt.Errorf("tls: %s lists no protocol", KeyEnabledProtocols)
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	if idx[len(idx)-1]-idx[0] != len(idx)-1 {
		return 0, 0, fmt.Errorf("tls: %s %q is not a contiguous range of versions, which Go cannot enable", KeyEnabledProtocols, list)
	}
	return protocolVersions[idx[0]].version, protocolVersions[idx[len(idx)-1]].version, nil
}

// parseCipherSuites turns ssl.cipher.suites into suite ids; nil (Go's defaults) when empty.
// TLS 1.3 suites are accepted and left out, as Go always enables all three; only13 says the
// list named nothing else.
func parseCipherSuites(list string) (ids []uint16, only13 bool, err error) {
	if strings.TrimSpace(list) == "" {
		return nil, false, nil
	}
	byName := make(map[string]*tls.CipherSuite)
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		byName[cs.Name] = cs
	}
	only13 = true
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		cs, ok := byName[name]
		if !ok {
			return nil, false, fmt.Errorf("tls: unknown cipher suite %q in %s", name, KeyCipherSuites)
		}
		if slices.Equal(cs.SupportedVersions, []uint16{tls.VersionTLS13}) {
			continue
		}
		only13 = false
		ids = append(ids, cs.ID)
	}
	if only13 {
		return nil, true, nil
	}
	return ids, false, nil
}
