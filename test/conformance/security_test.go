package conformance

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/sasl"
)

// The security APIs: SASL on a SASL_PLAINTEXT broker started here, SCRAM credentials, and
// (with an authorizer) the ACL APIs.

func init() {
	for key, test := range map[int16]string{
		17: "TestSaslHandshake",
		36: "TestSaslAuthenticate",
		50: "TestDescribeUserScramCredentials",
		51: "TestAlterUserScramCredentials",
	} {
		covered[key] = test
	}
}

// jaasUsers is the PLAIN user list of the SASL brokers of these tests.
const jaasUsers = `org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_alice="alice-secret";`

// saslSets are the settings of a broker whose only listener is SASL_PLAINTEXT with PLAIN
// and SCRAM, whose failed authentications are answered at once.
func saslSets(extra ...string) []string {
	return append([]string{
		"listeners=SASL_PLAINTEXT://127.0.0.1:0",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config=" + jaasUsers,
		"connection.failed.authentication.delay.ms=0",
	}, extra...)
}

// startSecured starts a broker with sets for one test.
func startSecured(t *testing.T, sets []string) *fixture {
	t.Helper()
	f, err := startBroker(sets)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.cleanup)
	return f
}

// handshake sends SaslHandshake at version v for mechanism.
func (c *client) handshake(v int16, mechanism string) *kmsg.SASLHandshakeResponse {
	c.t.Helper()
	req := versioned(kmsg.NewPtrSASLHandshakeRequest(), v)
	req.Mechanism = mechanism
	return c.do(req).(*kmsg.SASLHandshakeResponse)
}

// authenticate sends one SaslAuthenticate step at version v.
func (c *client) authenticate(v int16, token []byte) *kmsg.SASLAuthenticateResponse {
	c.t.Helper()
	req := versioned(kmsg.NewPtrSASLAuthenticateRequest(), v)
	req.SASLAuthBytes = token
	return c.do(req).(*kmsg.SASLAuthenticateResponse)
}

// plainLogin authenticates c with PLAIN at SaslAuthenticate version v and fails the
// test unless it succeeds.
func (c *client) plainLogin(v int16, user, password string) {
	c.t.Helper()
	if hs := c.handshake(1, "PLAIN"); hs.ErrorCode != 0 {
		c.t.Fatalf("SaslHandshake PLAIN: %s", errName(hs.ErrorCode))
	}
	if resp := c.authenticate(v, []byte("\x00"+user+"\x00"+password)); resp.ErrorCode != 0 {
		c.t.Fatalf("SaslAuthenticate v%d as %s: %s %v", v, user, errName(resp.ErrorCode), resp.ErrorMessage)
	}
}

// --- SaslHandshake (key 17) ---------------------------------------------------

func TestSaslHandshake(t *testing.T) {
	f := startSecured(t, saslSets())
	forVersions(t, 17, func(t *testing.T, v int16) {
		// A listener without SASL answers ILLEGAL_SASL_STATE and stays open.
		plain := dial(t, shared.addr)
		wantCode(t, "handshake on PLAINTEXT", plain.handshake(v, "PLAIN").ErrorCode, kerr.IllegalSaslState)
		plain.do(metaReq(1, nil))

		c := dial(t, f.addr)
		resp := c.handshake(v, "PLAIN")
		wantCode(t, "handshake PLAIN", resp.ErrorCode, nil)
		if want := []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}; !equalStrings(resp.SupportedMechanisms, want) {
			t.Errorf("mechanisms %v, want %v", resp.SupportedMechanisms, want)
		}
		// A second handshake before SaslAuthenticate is illegal and closes.
		wantCode(t, "second handshake", c.handshake(v, "PLAIN").ErrorCode, kerr.IllegalSaslState)
		c.expectClosed("after a second handshake")

		c = dial(t, f.addr)
		resp = c.handshake(v, "GSSAPI")
		wantCode(t, "handshake GSSAPI", resp.ErrorCode, kerr.UnsupportedSaslMechanism)
		if len(resp.SupportedMechanisms) != 3 {
			t.Errorf("mechanisms with UNSUPPORTED_SASL_MECHANISM: %v", resp.SupportedMechanisms)
		}
		c.expectClosed("after an unsupported mechanism")
	})
}

// --- SaslAuthenticate (key 36) ------------------------------------------------

func TestSaslAuthenticate(t *testing.T) {
	f := startSecured(t, saslSets("connections.max.reauth.ms=3600000"))
	forVersions(t, 36, func(t *testing.T, v int16) {
		plain := dial(t, shared.addr)
		wantCode(t, "authenticate on PLAINTEXT", plain.authenticate(v, []byte("\x00a\x00b")).ErrorCode, kerr.IllegalSaslState)
		plain.do(metaReq(1, nil))

		// The right password opens the connection to every API.
		c := dial(t, f.addr)
		if hs := c.handshake(1, "PLAIN"); hs.ErrorCode != 0 {
			t.Fatalf("handshake: %s", errName(hs.ErrorCode))
		}
		resp := c.authenticate(v, []byte("\x00alice\x00alice-secret"))
		wantCode(t, "right password", resp.ErrorCode, nil)
		if want := int64(3600000); v >= 1 && resp.SessionLifetimeMillis != want {
			t.Errorf("session lifetime %d, want %d", resp.SessionLifetimeMillis, want)
		}
		md := c.do(metaReq(maxVersion(t, 3), []string{})).(*kmsg.MetadataResponse)
		if len(md.Brokers) != 1 {
			t.Errorf("Metadata after authentication: %+v", md.Brokers)
		}
		// Re-authentication with the same user succeeds; with another, it fails.
		c.plainLogin(v, "alice", "alice-secret")
		if hs := c.handshake(1, "PLAIN"); hs.ErrorCode != 0 {
			t.Fatalf("handshake: %s", errName(hs.ErrorCode))
		}
		wantCode(t, "re-authentication as another user", c.authenticate(v, []byte("\x00admin\x00admin-secret")).ErrorCode, kerr.SaslAuthenticationFailed)
		c.expectClosed("after a re-authentication as another user")

		// A wrong password is refused, with a message, and closes the connection.
		c = dial(t, f.addr)
		c.handshake(1, "PLAIN")
		resp = c.authenticate(v, []byte("\x00alice\x00wrong"))
		wantCode(t, "wrong password", resp.ErrorCode, kerr.SaslAuthenticationFailed)
		if resp.ErrorMessage == nil || *resp.ErrorMessage == "" {
			t.Error("SASL_AUTHENTICATION_FAILED without a message")
		}
		c.expectClosed("after a wrong password")

		// Malformed PLAIN bytes fail the same way.
		c = dial(t, f.addr)
		c.handshake(1, "PLAIN")
		wantCode(t, "malformed token", c.authenticate(v, []byte("alice")).ErrorCode, kerr.SaslAuthenticationFailed)
		c.expectClosed("after a malformed token")

		// SaslAuthenticate without a handshake is illegal and closes.
		c = dial(t, f.addr)
		wantCode(t, "no handshake", c.authenticate(v, []byte("\x00alice\x00alice-secret")).ErrorCode, kerr.IllegalSaslState)
		c.expectClosed("after SaslAuthenticate without a handshake")

		// Before authentication, ApiVersions is answered and anything else closes.
		c = dial(t, f.addr)
		c.do(versioned(kmsg.NewPtrApiVersionsRequest(), 0))
		c.send(metaReq(1, nil))
		c.expectClosed("Metadata before authentication")
	})
}

// --- DescribeUserScramCredentials (key 50), AlterUserScramCredentials (key 51) -----

// upsertion is a SCRAM upsertion of password for user.
func upsertion(t *testing.T, user string, m sasl.ScramMechanism, password string, iterations int) kmsg.AlterUserSCRAMCredentialsRequestUpsertion {
	t.Helper()
	up, err := sasl.NewUpsertion(user, m, password, iterations, nil)
	if err != nil {
		t.Fatal(err)
	}
	return up
}

func alterScram(t *testing.T, c *client, ups []kmsg.AlterUserSCRAMCredentialsRequestUpsertion, dels ...kmsg.AlterUserSCRAMCredentialsRequestDeletion) map[string]int16 {
	t.Helper()
	req := versioned(kmsg.NewPtrAlterUserSCRAMCredentialsRequest(), maxVersion(t, 51))
	req.Upsertions, req.Deletions = ups, dels
	resp := c.do(req).(*kmsg.AlterUserSCRAMCredentialsResponse)
	out := map[string]int16{}
	for _, r := range resp.Results {
		out[r.User] = r.ErrorCode
	}
	return out
}

func deletion(user string, m sasl.ScramMechanism) kmsg.AlterUserSCRAMCredentialsRequestDeletion {
	d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
	d.Name, d.Mechanism = user, int8(m)
	return d
}

func describeScram(t *testing.T, c *client, v int16, users ...string) *kmsg.DescribeUserSCRAMCredentialsResponse {
	t.Helper()
	req := versioned(kmsg.NewPtrDescribeUserSCRAMCredentialsRequest(), v)
	for _, u := range users {
		ru := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		ru.Name = u
		req.Users = append(req.Users, ru)
	}
	return c.do(req).(*kmsg.DescribeUserSCRAMCredentialsResponse)
}

func TestAlterUserScramCredentials(t *testing.T) {
	forVersions(t, 51, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		user := topicName(t, "user")
		got := alterScram(t, c, []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{
			upsertion(t, user, sasl.MechanismSHA256, "p1", 4096),
		})
		wantCode(t, "upsert", got[user], nil)
		// The same user twice in one request is refused as a whole.
		got = alterScram(t, c, []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{upsertion(t, user, sasl.MechanismSHA512, "p2", 8192)},
			deletion(user, sasl.MechanismSHA256))
		wantCode(t, "user altered twice", got[user], kerr.DuplicateResource)
		bad := upsertion(t, user+"-x", sasl.MechanismSHA256, "p", 4096)
		bad.Iterations = 100
		other := upsertion(t, user+"-y", sasl.MechanismSHA256, "p", 4096)
		other.Mechanism = 9
		got = alterScram(t, c, []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{bad, other}, deletion(user+"-z", sasl.MechanismSHA512))
		wantCode(t, "too few iterations", got[user+"-x"], kerr.UnacceptableCredential)
		wantCode(t, "unknown mechanism", got[user+"-y"], kerr.UnsupportedSaslMechanism)
		wantCode(t, "delete missing", got[user+"-z"], kerr.ResourceNotFound)

		d := describeScram(t, c, maxVersion(t, 50), user)
		if len(d.Results) != 1 || len(d.Results[0].CredentialInfos) != 1 || d.Results[0].CredentialInfos[0].Mechanism != int8(sasl.MechanismSHA256) ||
			d.Results[0].CredentialInfos[0].Iterations != 4096 {
			t.Fatalf("described %+v, want one SHA-256 credential of 4096 iterations", d.Results)
		}
		wantCode(t, "delete", alterScram(t, c, nil, deletion(user, sasl.MechanismSHA256))[user], nil)
		if d := describeScram(t, c, maxVersion(t, 50), user); len(d.Results) != 1 || d.Results[0].ErrorCode != kerr.ResourceNotFound.Code {
			t.Errorf("after deletion: %+v", d.Results)
		}
	})
}

func TestDescribeUserScramCredentials(t *testing.T) {
	setup := dial(t, shared.addr)
	user := topicName(t, "user")
	got := alterScram(t, setup, []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{
		upsertion(t, user, sasl.MechanismSHA256, "p1", 4096),
	})
	wantCode(t, "upsert SHA-256", got[user], nil)
	wantCode(t, "upsert SHA-512", alterScram(t, setup, []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{
		upsertion(t, user, sasl.MechanismSHA512, "p2", 8192),
	})[user], nil)
	forVersions(t, 50, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		d := describeScram(t, c, v, user, user+"-missing")
		wantCode(t, "describe", d.ErrorCode, nil)
		if len(d.Results) != 2 {
			t.Fatalf("%d results, want 2", len(d.Results))
		}
		r := d.Results[0]
		if r.User != user || r.ErrorCode != 0 || len(r.CredentialInfos) != 2 ||
			r.CredentialInfos[0].Mechanism != 1 || r.CredentialInfos[0].Iterations != 4096 ||
			r.CredentialInfos[1].Mechanism != 2 || r.CredentialInfos[1].Iterations != 8192 {
			t.Errorf("described %+v", r)
		}
		wantCode(t, "missing user", d.Results[1].ErrorCode, kerr.ResourceNotFound)
		wantCode(t, "user named twice", describeScram(t, c, v, user, user).Results[0].ErrorCode, kerr.DuplicateResource)
		all := describeScram(t, c, v)
		found := false
		for _, r := range all.Results {
			found = found || r.User == user
		}
		if !found {
			t.Errorf("describing every user left out %s: %+v", user, all.Results)
		}
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
