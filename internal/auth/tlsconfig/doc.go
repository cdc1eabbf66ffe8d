// Package tlsconfig builds *tls.Config values from Kafka's ssl.* settings, and the principal
// of a TLS client from its certificate, as Kafka's SslFactory and
// DefaultKafkaPrincipalBuilder do.
//
// # Settings
//
//   - Keystore (the node's own certificate and key): ssl.keystore.type PEM with either
//     ssl.keystore.location (a PEM file holding the private key and the certificate chain,
//     leaf first) or the inline ssl.keystore.certificate.chain and ssl.keystore.key; or
//     ssl.keystore.type PKCS12 with ssl.keystore.location and ssl.keystore.password (through
//     software.sslmate.com/src/go-pkcs12). Kafka's default type, JKS, is refused with a hint
//     to convert; an unset type means PEM. Encrypted PEM keys (ssl.key.password) are not
//     supported: Go's standard library cannot decrypt PKCS#8.
//   - Truststore (the CAs that sign the peer): ssl.truststore.type PEM with
//     ssl.truststore.location or the inline ssl.truststore.certificates, or PKCS12 with a
//     location and ssl.truststore.password. Without one, the system's roots are used, as the
//     JVM's default truststore would be.
//   - ssl.client.auth: none (default), requested (a certificate is verified if sent) or
//     required.
//   - ssl.enabled.protocols: default TLSv1.2,TLSv1.3; any contiguous range of TLSv1,
//     TLSv1.1, TLSv1.2, TLSv1.3 (Go has a minimum and a maximum, not a set).
//   - ssl.cipher.suites: IANA names (which Java uses too); TLS 1.3 suites are accepted and
//     always on, as Go does not let them be chosen.
//   - ssl.endpoint.identification.algorithm (clients): https (default) checks the server's
//     host name; empty checks the chain only.
//   - ssl.principal.mapping.rules: DEFAULT, or RULE:pattern/replacement/[LU] entries (Go's
//     regexp syntax, which has no look-around or back-references; $1 in the replacement as in
//     Java).
//
// # Principal
//
// A client that presented a verified certificate is "User:" + its subject's distinguished
// name in RFC 2253 form, as Java's X500Principal.getName() writes it (most specific RDN
// first; CN, C, L, ST, O, OU, STREET, DC and UID by keyword, other attributes as
// OID=#hex of their DER value; ",=+<>#;\"\\" escaped), after the mapping rules. A client
// without a certificate is User:ANONYMOUS. On SASL_SSL listeners the principal comes from
// SASL instead.
//
// # Wiring (for internal/server and internal/broker)
//
// Per listener whose security protocol is SSL or SASL_SSL (listener.security.protocol.map),
// read the settings with the listener's prefix taking precedence, as Kafka does:
//
//	s := tlsconfig.FromProperties(func(k string) (string, bool) { v, ok := cfg[k]; return v, ok }, listenerName)
//	tc, err := tlsconfig.ServerConfig(s)             // at start; an error stops the broker
//	pb, err := tlsconfig.NewPrincipalBuilder(s.PrincipalMappingRules)
//	ln = tls.NewListener(ln, tc)
//
// After the handshake (force it with (*tls.Conn).HandshakeContext before reading requests):
//
//	principal, err := pb.Principal(conn.ConnectionState())  // err: no rule matched; close
//
// TLS connections cannot use sendfile: the Fetch path must copy segment bytes through the
// tls.Conn. Inter-broker and controller clients, and the CLI, use ClientConfig with the
// same settings (without a prefix, or the inter-broker listener's).
package tlsconfig
