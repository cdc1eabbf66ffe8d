// Package security tests Sluice's security end to end: it starts the built binary
// (bin/sluice, or $SLUICE_BIN; build it with `make build`) with an SSL listener that
// requires client certificates, a SASL_SSL and a SASL_PLAINTEXT listener, and an
// authorizer, with certificates made by the test, and drives it with franz-go (TLS
// dialer, SASL PLAIN and SCRAM) and kcat (librdkafka): wrong passwords are refused and
// right ones accepted, a client without a certificate cannot connect to the mTLS
// listener, the certificate's subject is the principal, and ACLs deny until CreateAcls
// allows.
//
// The quota tests (quota_test.go, about 25 s) start brokers of their own and measure
// what clients get: a consumer held to consumer_byte_rate while an unthrottled one beside
// it is not, a raw producer that ignores throttle_time_ms held to producer_byte_rate by
// the muted connection, request_percentage slowing a Metadata hammer, and
// max.connections.per.ip closing the extra connection.
//
// The package has no code of its own; everything is in the _test.go files.
package security
