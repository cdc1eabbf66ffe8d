package conformance

import (
	"bytes"
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
		29: "TestDescribeAcls",
		30: "TestCreateAcls",
		31: "TestDeleteAcls",
		48: "TestDescribeClientQuotas",
		49: "TestAlterClientQuotas",
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

// --- CreateAcls (key 30), DescribeAcls (key 29), DeleteAcls (key 31) ----------

// aclSets start a SASL broker with an authorizer, admin its super user.
func aclSets(extra ...string) []string {
	return saslSets(append([]string{
		"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users=User:admin",
	}, extra...)...)
}

// login opens a connection authenticated as user (password user-secret).
func login(t *testing.T, f *fixture, user string) *client {
	t.Helper()
	c := dial(t, f.addr)
	c.plainLogin(maxVersion(t, 36), user, user+"-secret")
	return c
}

func creation(rt kmsg.ACLResourceType, name string, pattern kmsg.ACLResourcePatternType, principal string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) kmsg.CreateACLsRequestCreation {
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.ResourcePatternType = rt, name, pattern
	c.Principal, c.Host, c.Operation, c.PermissionType = principal, "*", op, perm
	return c
}

func createACLs(t *testing.T, c *client, v int16, cs ...kmsg.CreateACLsRequestCreation) []kmsg.CreateACLsResponseResult {
	t.Helper()
	req := versioned(kmsg.NewPtrCreateACLsRequest(), v)
	req.Creations = cs
	resp := c.do(req).(*kmsg.CreateACLsResponse)
	if len(resp.Results) != len(cs) {
		t.Fatalf("CreateAcls v%d: %d results for %d creations", v, len(resp.Results), len(cs))
	}
	return resp.Results
}

// allow grants principal op on a literal resource, as admin, failing unless it worked.
func allow(t *testing.T, admin *client, principal string, rt kmsg.ACLResourceType, name string, op kmsg.ACLOperation) {
	t.Helper()
	res := createACLs(t, admin, maxVersion(t, 30), creation(rt, name, kmsg.ACLResourcePatternTypeLiteral, principal, op, kmsg.ACLPermissionTypeAllow))
	wantCode(t, "grant", res[0].ErrorCode, nil)
}

func describeACLsReq(v int16, rt kmsg.ACLResourceType, name *string, pattern kmsg.ACLResourcePatternType, principal *string) *kmsg.DescribeACLsRequest {
	req := versioned(kmsg.NewPtrDescribeACLsRequest(), v)
	req.ResourceType, req.ResourceName, req.ResourcePatternType, req.Principal = rt, name, pattern, principal
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	return req
}

func TestCreateAcls(t *testing.T) {
	f := startSecured(t, aclSets())
	forVersions(t, 30, func(t *testing.T, v int16) {
		plain := dial(t, shared.addr)
		res := createACLs(t, plain, v, creation(kmsg.ACLResourceTypeTopic, "t", kmsg.ACLResourcePatternTypeLiteral, "User:a", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow))
		wantCode(t, "without an authorizer", res[0].ErrorCode, kerr.SecurityDisabled)

		admin := login(t, f, "admin")
		topic := topicName(t, "t")
		pattern := kmsg.ACLResourcePatternTypePrefixed
		if v == 0 {
			pattern = kmsg.ACLResourcePatternTypeLiteral // v0 has no pattern type
		}
		good := creation(kmsg.ACLResourceTypeTopic, topic, pattern, "User:alice", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow)
		noColon := creation(kmsg.ACLResourceTypeTopic, topic, pattern, "alice", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow)
		badCluster := creation(kmsg.ACLResourceTypeCluster, "other", kmsg.ACLResourcePatternTypeLiteral, "User:alice", kmsg.ACLOperationAlter, kmsg.ACLPermissionTypeAllow)
		anyOp := creation(kmsg.ACLResourceTypeTopic, topic, pattern, "User:alice", kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAllow)
		res = createACLs(t, admin, v, good, noColon, badCluster, anyOp, good)
		wantCode(t, "valid binding", res[0].ErrorCode, nil)
		wantCode(t, "principal without a type", res[1].ErrorCode, kerr.InvalidRequest)
		wantCode(t, "cluster not named kafka-cluster", res[2].ErrorCode, kerr.InvalidRequest)
		wantCode(t, "operation ANY", res[3].ErrorCode, kerr.InvalidRequest)
		wantCode(t, "the same binding twice", res[4].ErrorCode, nil)

		d := admin.do(describeACLsReq(maxVersion(t, 29), kmsg.ACLResourceTypeTopic, &topic, pattern, nil)).(*kmsg.DescribeACLsResponse)
		if len(d.Resources) != 1 || len(d.Resources[0].ACLs) != 1 || d.Resources[0].ACLs[0].Principal != "User:alice" {
			t.Errorf("described after creation: %+v", d.Resources)
		}

		alice := login(t, f, "alice")
		res = createACLs(t, alice, v, good)
		wantCode(t, "created by a user without ALTER on the cluster", res[0].ErrorCode, kerr.ClusterAuthorizationFailed)
	})
}

func TestDescribeAcls(t *testing.T) {
	f := startSecured(t, aclSets())
	admin := login(t, f, "admin")
	createACLs(t, admin, maxVersion(t, 30),
		creation(kmsg.ACLResourceTypeTopic, "orders", kmsg.ACLResourcePatternTypeLiteral, "User:alice", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow),
		creation(kmsg.ACLResourceTypeTopic, "orders", kmsg.ACLResourcePatternTypeLiteral, "User:bob", kmsg.ACLOperationWrite, kmsg.ACLPermissionTypeDeny),
		creation(kmsg.ACLResourceTypeTopic, "ord", kmsg.ACLResourcePatternTypePrefixed, "User:alice", kmsg.ACLOperationDescribe, kmsg.ACLPermissionTypeAllow),
		creation(kmsg.ACLResourceTypeGroup, "g", kmsg.ACLResourcePatternTypeLiteral, "User:alice", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow),
	)
	forVersions(t, 29, func(t *testing.T, v int16) {
		plain := dial(t, shared.addr)
		wantCode(t, "without an authorizer", plain.do(describeACLsReq(v, kmsg.ACLResourceTypeAny, nil, kmsg.ACLResourcePatternTypeAny, nil)).(*kmsg.DescribeACLsResponse).ErrorCode, kerr.SecurityDisabled)

		c := login(t, f, "admin")
		orders := "orders"
		literal := c.do(describeACLsReq(v, kmsg.ACLResourceTypeTopic, &orders, kmsg.ACLResourcePatternTypeLiteral, nil)).(*kmsg.DescribeACLsResponse)
		wantCode(t, "describe literal", literal.ErrorCode, nil)
		if len(literal.Resources) != 1 || len(literal.Resources[0].ACLs) != 2 {
			t.Errorf("literal orders: %+v, want one resource with 2 ACLs", literal.Resources)
		}
		if v >= 1 {
			// MATCH: every binding that applies to the topic orders, prefixes included.
			match := c.do(describeACLsReq(v, kmsg.ACLResourceTypeTopic, &orders, kmsg.ACLResourcePatternTypeMatch, nil)).(*kmsg.DescribeACLsResponse)
			if len(match.Resources) != 2 {
				t.Errorf("match orders: %+v, want the literal and the prefixed resource", match.Resources)
			}
			alice := "User:alice"
			any := c.do(describeACLsReq(v, kmsg.ACLResourceTypeAny, nil, kmsg.ACLResourcePatternTypeAny, &alice)).(*kmsg.DescribeACLsResponse)
			n := 0
			for _, r := range any.Resources {
				n += len(r.ACLs)
			}
			if n != 3 {
				t.Errorf("alice's bindings: %d, want 3 (%+v)", n, any.Resources)
			}
		}
		bad := describeACLsReq(v, kmsg.ACLResourceTypeTopic, &orders, kmsg.ACLResourcePatternTypeLiteral, nil)
		bad.Operation = 99
		wantCode(t, "unknown operation", c.do(bad).(*kmsg.DescribeACLsResponse).ErrorCode, kerr.InvalidRequest)

		alice := login(t, f, "alice")
		wantCode(t, "described by a user without DESCRIBE on the cluster",
			alice.do(describeACLsReq(v, kmsg.ACLResourceTypeAny, nil, kmsg.ACLResourcePatternTypeAny, nil)).(*kmsg.DescribeACLsResponse).ErrorCode,
			kerr.ClusterAuthorizationFailed)
	})
}

func TestDeleteAcls(t *testing.T) {
	f := startSecured(t, aclSets())
	forVersions(t, 31, func(t *testing.T, v int16) {
		plain := dial(t, shared.addr)
		req := versioned(kmsg.NewPtrDeleteACLsRequest(), v)
		req.Filters = []kmsg.DeleteACLsRequestFilter{kmsg.NewDeleteACLsRequestFilter()}
		wantCode(t, "without an authorizer", plain.do(req).(*kmsg.DeleteACLsResponse).Results[0].ErrorCode, kerr.SecurityDisabled)

		admin := login(t, f, "admin")
		topic := topicName(t, "t")
		createACLs(t, admin, maxVersion(t, 30),
			creation(kmsg.ACLResourceTypeTopic, topic, kmsg.ACLResourcePatternTypeLiteral, "User:alice", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow),
			creation(kmsg.ACLResourceTypeTopic, topic, kmsg.ACLResourcePatternTypeLiteral, "User:bob", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow),
		)
		filter := func(principal *string) kmsg.DeleteACLsRequestFilter {
			f := kmsg.NewDeleteACLsRequestFilter()
			f.ResourceType, f.ResourceName, f.ResourcePatternType = kmsg.ACLResourceTypeTopic, &topic, kmsg.ACLResourcePatternTypeLiteral
			f.Principal, f.Operation, f.PermissionType = principal, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			return f
		}
		alicePrincipal := "User:alice"
		bad := filter(nil)
		bad.PermissionType = 42
		req = versioned(kmsg.NewPtrDeleteACLsRequest(), v)
		req.Filters = []kmsg.DeleteACLsRequestFilter{filter(&alicePrincipal), bad, filter(&alicePrincipal)}
		resp := admin.do(req).(*kmsg.DeleteACLsResponse)
		if len(resp.Results) != 3 {
			t.Fatalf("%d results for 3 filters", len(resp.Results))
		}
		wantCode(t, "filter", resp.Results[0].ErrorCode, nil)
		if m := resp.Results[0].MatchingACLs; len(m) != 1 || m[0].Principal != "User:alice" || m[0].ResourceName != topic {
			t.Errorf("matching ACLs %+v, want alice's binding", m)
		}
		wantCode(t, "unknown permission", resp.Results[1].ErrorCode, kerr.InvalidRequest)
		left := admin.do(describeACLsReq(maxVersion(t, 29), kmsg.ACLResourceTypeTopic, &topic, kmsg.ACLResourcePatternTypeLiteral, nil)).(*kmsg.DescribeACLsResponse)
		if len(left.Resources) != 1 || len(left.Resources[0].ACLs) != 1 || left.Resources[0].ACLs[0].Principal != "User:bob" {
			t.Errorf("left after delete: %+v, want bob's binding alone", left.Resources)
		}

		alice := login(t, f, "alice")
		req = versioned(kmsg.NewPtrDeleteACLsRequest(), v)
		req.Filters = []kmsg.DeleteACLsRequestFilter{filter(nil)}
		wantCode(t, "deleted by a user without ALTER on the cluster", alice.do(req).(*kmsg.DeleteACLsResponse).Results[0].ErrorCode, kerr.ClusterAuthorizationFailed)
	})
}

// --- Authorization -------------------------------------------------------------

// TestAuthorizationMatrix sends the main APIs as a principal without ACLs, which gets
// Kafka's *_AUTHORIZATION_FAILED codes (and no trace of the topic in Metadata), then with
// the operations each API needs granted, which succeeds, then with a DENY, which wins.
func TestAuthorizationMatrix(t *testing.T) {
	f := startSecured(t, aclSets("group.initial.rebalance.delay.ms=0"))
	admin := login(t, f, "admin")
	topic := topicName(t, "t")
	id := createTopic(t, admin, topic, 1, nil)
	mustProduce(t, admin, topic, 0, simpleBatch(nowMs(), "a", 2))
	group := groupName(t, "g")
	coordinator(t, admin, group) // creates __consumer_offsets as a super user

	alice := login(t, f, "alice")
	const principal = "User:alice"
	newTopic := topicName(t, "new")

	type check struct {
		name string
		do   func() int16
		want *kerr.Error // before the grants
	}
	checks := []check{
		{"Produce", func() int16 {
			return produce(t, alice, maxVersion(t, 0), topic, id, 0, simpleBatch(nowMs(), "b", 1)).ErrorCode
		}, kerr.TopicAuthorizationFailed},
		{"Fetch", func() int16 {
			_, p := fetchOne(t, alice, fetchReq(maxVersion(t, 1), topic, id, 0, 0, 1<<20, 1<<20))
			return p.ErrorCode
		}, kerr.TopicAuthorizationFailed},
		{"Metadata named", func() int16 { return metadataTopic(t, alice, topic).ErrorCode }, kerr.TopicAuthorizationFailed},
		{"ListOffsets", func() int16 {
			_, code := listOffset(t, alice, maxVersion(t, 2), topic, 0, -1, 0)
			return code
		}, kerr.TopicAuthorizationFailed},
		{"DescribeConfigs topic", func() int16 {
			_, code := describeTopicConfigs(t, alice, maxVersion(t, 32), topic, []string{"retention.ms"}, false, false)
			return code
		}, kerr.TopicAuthorizationFailed},
		{"CreateTopics", func() int16 {
			req := versioned(kmsg.NewPtrCreateTopicsRequest(), maxVersion(t, 19))
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = newTopic, 1, 1
			req.Topics = append(req.Topics, rt)
			return alice.do(req).(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode
		}, kerr.TopicAuthorizationFailed},
		{"FindCoordinator", func() int16 {
			req := versioned(kmsg.NewPtrFindCoordinatorRequest(), 3)
			req.CoordinatorKey = group
			return alice.do(req).(*kmsg.FindCoordinatorResponse).ErrorCode
		}, kerr.GroupAuthorizationFailed},
		{"JoinGroup", func() int16 {
			code := alice.do(joinReq(maxVersion(t, 11), group, "", subscription(topic))).(*kmsg.JoinGroupResponse).ErrorCode
			if code == kerr.MemberIDRequired.Code {
				return 0 // allowed: the first step of a join
			}
			return code
		}, kerr.GroupAuthorizationFailed},
		{"OffsetFetch", func() int16 {
			req := versioned(kmsg.NewPtrOffsetFetchRequest(), 7)
			req.Group = group
			return alice.do(req).(*kmsg.OffsetFetchResponse).ErrorCode
		}, kerr.GroupAuthorizationFailed},
		{"InitProducerId", func() int16 {
			req := versioned(kmsg.NewPtrInitProducerIDRequest(), maxVersion(t, 22))
			req.ProducerID, req.ProducerEpoch = -1, -1
			return alice.do(req).(*kmsg.InitProducerIDResponse).ErrorCode
		}, kerr.ClusterAuthorizationFailed},
		{"DeleteTopics", func() int16 {
			req := versioned(kmsg.NewPtrDeleteTopicsRequest(), 5)
			req.TopicNames = []string{newTopic}
			return alice.do(req).(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode
		}, kerr.TopicAuthorizationFailed},
	}
	for _, c := range checks {
		wantCode(t, c.name+" without ACLs", c.do(), c.want)
	}
	all := alice.do(metaReq(maxVersion(t, 3), nil)).(*kmsg.MetadataResponse)
	if findMetaTopic(all, topic) != nil {
		t.Errorf("Metadata for every topic lists %s, which alice may not describe", topic)
	}
	// Broker configs and cluster operations need the cluster.
	req := versioned(kmsg.NewPtrDescribeConfigsRequest(), maxVersion(t, 32))
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
	req.Resources = append(req.Resources, rr)
	wantCode(t, "DescribeConfigs broker", alice.do(req).(*kmsg.DescribeConfigsResponse).Resources[0].ErrorCode, kerr.ClusterAuthorizationFailed)
	wantCode(t, "DescribeClientQuotas", describeQuotas(t, alice, maxVersion(t, 48), "c").ErrorCode, kerr.ClusterAuthorizationFailed)
	wantCode(t, "AlterClientQuotas", alterQuotas(t, alice, maxVersion(t, 49), false, quotaEntry("c", "producer_byte_rate", 1, false))[0].ErrorCode,
		kerr.ClusterAuthorizationFailed)
	dc := versioned(kmsg.NewPtrDescribeClusterRequest(), maxVersion(t, 60))
	dc.EndpointType, dc.IncludeClusterAuthorizedOperations = 1, true
	if ops := alice.do(dc).(*kmsg.DescribeClusterResponse).ClusterAuthorizedOperations; ops != 0 {
		t.Errorf("alice's authorized cluster operations %b, want none", ops)
	}
	if ops := admin.do(dc).(*kmsg.DescribeClusterResponse).ClusterAuthorizedOperations; ops&(1<<uint(kmsg.ACLOperationAlter)) == 0 {
		t.Errorf("a super user's authorized cluster operations %b lack ALTER", ops)
	}

	// Grant what each API needs: WRITE and READ (which implies DESCRIBE) on the topic,
	// READ on the group, CREATE and DELETE on the new topic.
	allow(t, admin, principal, kmsg.ACLResourceTypeTopic, topic, kmsg.ACLOperationWrite)
	allow(t, admin, principal, kmsg.ACLResourceTypeTopic, topic, kmsg.ACLOperationRead)
	allow(t, admin, principal, kmsg.ACLResourceTypeTopic, topic, kmsg.ACLOperationDescribeConfigs)
	allow(t, admin, principal, kmsg.ACLResourceTypeGroup, group, kmsg.ACLOperationRead)
	allow(t, admin, principal, kmsg.ACLResourceTypeTopic, newTopic, kmsg.ACLOperationCreate)
	allow(t, admin, principal, kmsg.ACLResourceTypeTopic, newTopic, kmsg.ACLOperationDelete)
	for _, c := range checks {
		wantCode(t, c.name+" with ACLs", c.do(), nil)
	}
	all = alice.do(metaReq(maxVersion(t, 3), nil)).(*kmsg.MetadataResponse)
	mt := findMetaTopic(all, topic)
	if mt == nil {
		t.Fatalf("Metadata for every topic leaves out %s, which alice may now describe", topic)
	}
	if findMetaTopic(all, "__consumer_offsets") != nil {
		t.Error("Metadata for every topic lists __consumer_offsets, which alice may not describe")
	}
	md := metaReq(maxVersion(t, 3), []string{topic})
	md.IncludeTopicAuthorizedOperations = true
	ops := alice.do(md).(*kmsg.MetadataResponse).Topics[0].AuthorizedOperations
	for _, op := range []kmsg.ACLOperation{kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe} {
		if ops&(1<<uint(op)) == 0 {
			t.Errorf("authorized topic operations %b lack %s", ops, op)
		}
	}
	if ops&(1<<uint(kmsg.ACLOperationDelete)) != 0 {
		t.Errorf("authorized topic operations %b include DELETE, which was not granted", ops)
	}

	dg := versioned(kmsg.NewPtrDescribeGroupsRequest(), maxVersion(t, 15))
	dg.Groups, dg.IncludeAuthorizedOperations = []string{group}, true
	gops := alice.do(dg).(*kmsg.DescribeGroupsResponse).Groups[0].AuthorizedOperations
	if gops&(1<<uint(kmsg.ACLOperationRead)) == 0 || gops&(1<<uint(kmsg.ACLOperationDescribe)) == 0 || gops&(1<<uint(kmsg.ACLOperationDelete)) != 0 {
		t.Errorf("authorized group operations %b, want READ and DESCRIBE without DELETE", gops)
	}

	// A DENY wins over the ALLOW.
	res := createACLs(t, admin, maxVersion(t, 30), creation(kmsg.ACLResourceTypeTopic, topic, kmsg.ACLResourcePatternTypeLiteral, principal, kmsg.ACLOperationRead, kmsg.ACLPermissionTypeDeny))
	wantCode(t, "deny", res[0].ErrorCode, nil)
	wantCode(t, "Fetch with a DENY", checks[1].do(), kerr.TopicAuthorizationFailed)
	wantCode(t, "Produce beside a DENY of READ", checks[0].do(), nil)
}

// --- DescribeClientQuotas (key 48), AlterClientQuotas (key 49) -----------------

// quotaEntry sets (or, with remove, removes) key on a client-id entity.
func quotaEntry(clientID, key string, value float64, remove bool) kmsg.AlterClientQuotasRequestEntry {
	e := kmsg.NewAlterClientQuotasRequestEntry()
	ee := kmsg.NewAlterClientQuotasRequestEntryEntity()
	ee.Type, ee.Name = "client-id", &clientID
	e.Entity = append(e.Entity, ee)
	op := kmsg.NewAlterClientQuotasRequestEntryOp()
	op.Key, op.Value, op.Remove = key, value, remove
	e.Ops = append(e.Ops, op)
	return e
}

func alterQuotas(t *testing.T, c *client, v int16, validateOnly bool, entries ...kmsg.AlterClientQuotasRequestEntry) []kmsg.AlterClientQuotasResponseEntry {
	t.Helper()
	req := versioned(kmsg.NewPtrAlterClientQuotasRequest(), v)
	req.Entries, req.ValidateOnly = entries, validateOnly
	resp := c.do(req).(*kmsg.AlterClientQuotasResponse)
	if len(resp.Entries) != len(entries) {
		t.Fatalf("AlterClientQuotas v%d: %d results for %d entries", v, len(resp.Entries), len(entries))
	}
	return resp.Entries
}

func describeQuotas(t *testing.T, c *client, v int16, clientID string) *kmsg.DescribeClientQuotasResponse {
	t.Helper()
	req := versioned(kmsg.NewPtrDescribeClientQuotasRequest(), v)
	comp := kmsg.NewDescribeClientQuotasRequestComponent()
	comp.EntityType, comp.MatchType, comp.Match = "client-id", kmsg.QuotasMatchTypeExact, &clientID
	req.Components = append(req.Components, comp)
	return c.do(req).(*kmsg.DescribeClientQuotasResponse)
}

func TestAlterClientQuotas(t *testing.T) {
	forVersions(t, 49, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		id := topicName(t, "client")
		wantCode(t, "validate only", alterQuotas(t, c, v, true, quotaEntry(id, "producer_byte_rate", 1024, false))[0].ErrorCode, nil)
		if d := describeQuotas(t, c, maxVersion(t, 48), id); len(d.Entries) != 0 {
			t.Fatalf("validate_only wrote %+v", d.Entries)
		}
		res := alterQuotas(t, c, v, false,
			quotaEntry(id, "producer_byte_rate", 1024, false),
			quotaEntry(id+"-bad", "producer_byte_rate", 1.5, false),
			quotaEntry(id+"-ip", "connection_creation_rate", 3, false))
		wantCode(t, "set", res[0].ErrorCode, nil)
		wantCode(t, "fractional byte rate", res[1].ErrorCode, kerr.InvalidRequest)
		wantCode(t, "ip key on a client id", res[2].ErrorCode, kerr.InvalidRequest)
		d := describeQuotas(t, c, maxVersion(t, 48), id)
		if len(d.Entries) != 1 || len(d.Entries[0].Values) != 1 || d.Entries[0].Values[0].Value != 1024 {
			t.Fatalf("described %+v, want producer_byte_rate 1024", d.Entries)
		}
		wantCode(t, "remove", alterQuotas(t, c, v, false, quotaEntry(id, "producer_byte_rate", 0, true))[0].ErrorCode, nil)
		if d := describeQuotas(t, c, maxVersion(t, 48), id); len(d.Entries) != 0 {
			t.Errorf("after removal: %+v", d.Entries)
		}
	})
}

func TestDescribeClientQuotas(t *testing.T) {
	setup := dial(t, shared.addr)
	id := topicName(t, "client")
	wantCode(t, "set", alterQuotas(t, setup, maxVersion(t, 49), false, quotaEntry(id, "consumer_byte_rate", 2048, false))[0].ErrorCode, nil)
	t.Cleanup(func() {
		alterQuotas(t, dial(t, shared.addr), maxVersion(t, 49), false, quotaEntry(id, "consumer_byte_rate", 0, true))
	})
	forVersions(t, 48, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		d := describeQuotas(t, c, v, id)
		wantCode(t, "describe", d.ErrorCode, nil)
		if len(d.Entries) != 1 || d.Entries[0].Entity[0].Type != "client-id" || *d.Entries[0].Entity[0].Name != id ||
			d.Entries[0].Values[0].Key != "consumer_byte_rate" || d.Entries[0].Values[0].Value != 2048 {
			t.Errorf("described %+v", d.Entries)
		}
		req := versioned(kmsg.NewPtrDescribeClientQuotasRequest(), v)
		comp := kmsg.NewDescribeClientQuotasRequestComponent()
		comp.EntityType, comp.MatchType = "nonsense", kmsg.QuotasMatchTypeAny
		req.Components = append(req.Components, comp)
		// Kafka refuses custom entity types with UNSUPPORTED_VERSION.
		wantCode(t, "unknown entity type", c.do(req).(*kmsg.DescribeClientQuotasResponse).ErrorCode, kerr.UnsupportedVersion)
	})
}

// TestProduceThrottle: a client id over its producer_byte_rate gets a throttle time in its
// Produce responses, and its connection is muted for that long (KIP-219); another client
// beside it, on its own connection, is not throttled.
func TestProduceThrottle(t *testing.T) {
	c := dial(t, shared.addr)
	topic := topicName(t, "t")
	createTopic(t, c, topic, 1, nil)
	slow := topicName(t, "slow")
	wantCode(t, "set quota", alterQuotas(t, c, maxVersion(t, 49), false, quotaEntry(slow, "producer_byte_rate", 1024, false))[0].ErrorCode, nil)
	t.Cleanup(func() {
		alterQuotas(t, dial(t, shared.addr), maxVersion(t, 49), false, quotaEntry(slow, "producer_byte_rate", 0, true))
	})
	value := bytes.Repeat([]byte("x"), 64<<10)
	send := func(c *client, id string) int32 {
		req := produceReq(maxVersion(t, 0)-1, topic, [16]byte{}, 0, -1, batchSpec{firstTS: nowMs(), recs: []rec{{value: value}}}.encode())
		c.corr++
		c.write(appendRequest(nil, req, c.corr, &id))
		resp := c.recv(req, c.corr).(*kmsg.ProduceResponse)
		wantCode(t, "produce as "+id, resp.Topics[0].Partitions[0].ErrorCode, nil)
		return resp.ThrottleMillis
	}
	if ms := send(dial(t, shared.addr), slow); ms <= 0 {
		t.Errorf("64 KiB against a 1 KiB/s quota: throttle %d ms, want > 0", ms)
	}
	if ms := send(dial(t, shared.addr), topicName(t, "free")); ms != 0 {
		t.Errorf("a client without a quota: throttle %d ms", ms)
	}
}
