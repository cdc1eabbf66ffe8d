// Package sasl is the server side of Kafka's SASL authentication: the mechanisms PLAIN
// (RFC 4616) and SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677, with Kafka's
// extensions), SCRAM credentials as Kafka stores them (UserScramCredentialRecord: salt,
// iterations, stored key, server key per mechanism), the JAAS option string that lists
// PLAIN's users, and the planning of DescribeUserScramCredentials and
// AlterUserScramCredentials (KIP-554).
//
// # Semantics
//
// A Session is one authentication exchange of one connection: the client's SaslAuthenticate
// bytes go into Step, which returns the bytes for the response, whether the exchange is
// over, and, once it is, the authenticated principal ("User:<name>").
//
// Failures are *Error values carrying Kafka's code (SASL_AUTHENTICATION_FAILED) and the
// message Kafka sends with it; the reason for the operator is in Error.Detail, never on the
// wire. The client-visible message never says whether the user exists: SCRAM answers an
// unknown user with a fabricated salt (stable per user, derived from Config.Secret) and
// fails at the proof, exactly as for a wrong password, where Kafka would fail at the first
// message. PLAIN answers "Invalid username or password" for both. A malformed message gets
// Kafka's generic "Authentication failed during authentication due to invalid credentials
// with SASL mechanism <name>".
//
// SCRAM follows Kafka's ScramSaslServer: no channel binding (the GS2 flag must be "n"), an
// authorization id, if any, must equal the user name, the only extension understood is
// "tokenauth" (delegation tokens, which Sluice does not have, so such a login fails), and a
// credential's iterations must lie in 4096..16384. The SCRAM exchange itself is
// github.com/xdg-go/scram's server conversation; a new random server nonce per session means
// a replayed client-final message never verifies.
//
// # Wiring (for internal/server)
//
// At start, per listener whose security protocol is SASL_PLAINTEXT or SASL_SSL:
//
//	users, err := sasl.PlainUsersFromJAAS(cfg[sasl.JAASConfigKey(listener, "PLAIN")])
//	auth, err := sasl.New(sasl.Config{
//		Mechanisms: strings.Split(cfg["sasl.enabled.mechanisms"], ","), // default GSSAPI in Kafka; Sluice: PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
//		Scram:      sasl.ScramLookupFunc(func(u string, m sasl.ScramMechanism) (sasl.ScramCredential, bool) {
//			return currentImage().ScramCredential(u, m)   // from UserScramCredentialRecords
//		}),
//		Plain:  sasl.PlainVerifiers{users, sasl.ScramPlainVerifier{Store: ...}},
//		Secret: clusterWideSecret,  // e.g. derived from cluster.id: fake salts then agree across brokers
//	})
//
// Per connection, before authentication only ApiVersions, SaslHandshake and SaslAuthenticate
// are accepted (anything else closes the connection, as Kafka does):
//
//   - SaslHandshake (v0 means raw SASL frames follow; v1 means SaslAuthenticate requests):
//     sess, err := auth.Start(req.Mechanism); on error answer its code
//     (UNSUPPORTED_SASL_MECHANISM) with SupportedMechanisms = auth.Mechanisms().
//   - SaslAuthenticate: out, done, principal, err := sess.Step(req.SASLAuthBytes). On err,
//     answer ErrorCode/ErrorMessage from the *Error, log err.(*Error).Detail(), wait
//     connection.failed.authentication.delay.ms, and close the connection. Otherwise answer
//     SASLAuthBytes = out; when done, the connection's principal is principal and, from v1,
//     SessionLifetimeMillis = connections.max.reauth.ms (0 when unset).
//   - Re-authentication (KIP-368): a new SaslHandshake + SaslAuthenticate on an
//     authenticated connection runs a new Session; CheckReauthentication refuses a change of
//     mechanism or principal. A connection whose session lifetime has passed without
//     re-authentication is closed at its next request.
//
// The KIP-554 APIs: DescribeUserScramCredentials is Describe(store, req) (DESCRIBE on
// CLUSTER); AlterUserScramCredentials is PlanAlter(store, req) (ALTER on CLUSTER), which gives
// the per-user results and the changes to write as UserScramCredentialRecord and
// RemoveUserScramCredentialRecord. A CLI that takes a password builds an upsertion with
// NewUpsertion.
package sasl
