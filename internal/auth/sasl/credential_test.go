package sasl

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCredentialMatchesRFC7677 derives a credential from RFC 7677's example (user "user",
// password "pencil") and checks the example's client proof and server signature against it.
func TestCredentialMatchesRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	sp, err := SaltedPassword(MechanismSHA256, "pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	c := CredentialFromSaltedPassword(MechanismSHA256, salt, sp, 4096)
	const nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	authMsg := "n=user,r=rOprNGfwEbeRWgbNEkqO," + "r=" + nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," + "c=biws,r=" + nonce
	proof, _ := base64.StdEncoding.DecodeString("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")

	sig := hmac.New(sha256.New, c.StoredKey)
	sig.Write([]byte(authMsg))
	clientKey := sig.Sum(nil)
	for i := range clientKey {
		clientKey[i] ^= proof[i]
	}
	if h := sha256.Sum256(clientKey); !hmac.Equal(h[:], c.StoredKey) {
		t.Fatal("the RFC's client proof does not verify against the derived stored key")
	}
	ss := hmac.New(sha256.New, c.ServerKey)
	ss.Write([]byte(authMsg))
	if got := base64.StdEncoding.EncodeToString(ss.Sum(nil)); got != "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" {
		t.Fatalf("server signature %s", got)
	}
	if !c.VerifyPassword("pencil") || c.VerifyPassword("pencil2") {
		t.Fatal("VerifyPassword disagrees with the credential")
	}
}

func TestNewScramCredential(t *testing.T) {
	a, err := NewScramCredential(MechanismSHA512, "pw", 8192, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewScramCredential(MechanismSHA512, "pw", 8192, nil)
	if slices.Equal(a.Salt, b.Salt) || slices.Equal(a.StoredKey, b.StoredKey) {
		t.Fatal("two credentials for one password share a salt")
	}
	if len(a.StoredKey) != 64 || len(a.ServerKey) != 64 || a.Iterations != 8192 || a.Mechanism != MechanismSHA512 {
		t.Fatalf("credential %+v", a)
	}
	for _, it := range []int{0, 4095, 16385} {
		if _, err := NewScramCredential(MechanismSHA256, "pw", it, nil); err == nil {
			t.Errorf("%d iterations accepted", it)
		}
	}
	if _, err := NewScramCredential(MechanismUnknown, "pw", 4096, nil); err == nil {
		t.Error("unknown mechanism accepted")
	}
}

func TestParseScramMechanism(t *testing.T) {
	for name, want := range map[string]ScramMechanism{"SCRAM-SHA-256": MechanismSHA256, "scram-sha-512": MechanismSHA512, "PLAIN": MechanismUnknown} {
		if got := ParseScramMechanism(name); got != want {
			t.Errorf("ParseScramMechanism(%q) = %v", name, got)
		}
	}
}

func upsertion(t *testing.T, user string, m ScramMechanism, iterations int32) kmsg.AlterUserSCRAMCredentialsRequestUpsertion {
	t.Helper()
	u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
	u.Name, u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword = user, int8(m), iterations, []byte("salt"), []byte("salted")
	return u
}

func deletion(user string, m ScramMechanism) kmsg.AlterUserSCRAMCredentialsRequestDeletion {
	d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
	d.Name, d.Mechanism = user, int8(m)
	return d
}

func TestPlanAlter(t *testing.T) {
	store := storeWith(t, map[string]string{"old": "pw"}, MinIterations)
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	req.Deletions = []kmsg.AlterUserSCRAMCredentialsRequestDeletion{
		deletion("old", MechanismSHA256),
		deletion("ghost", MechanismSHA256),
		deletion("twice", MechanismSHA256),
		deletion("badmech", 7),
	}
	req.Upsertions = []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{
		upsertion(t, "new", MechanismSHA512, 8192),
		upsertion(t, "twice", MechanismSHA512, 8192),
		upsertion(t, "few", MechanismSHA256, 4095),
		upsertion(t, "many", MechanismSHA256, 16385),
		upsertion(t, "", MechanismSHA256, 4096),
	}
	results, changes := PlanAlter(store, req)
	want := map[string]*kerr.Error{
		"old":     nil,
		"ghost":   kerr.ResourceNotFound,
		"twice":   kerr.DuplicateResource,
		"badmech": kerr.UnsupportedSaslMechanism,
		"new":     nil,
		"few":     kerr.UnacceptableCredential,
		"many":    kerr.UnacceptableCredential,
		"":        kerr.UnacceptableCredential,
	}
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	order := []string{"old", "ghost", "twice", "badmech", "new", "few", "many", ""}
	for i, r := range results {
		if r.User != order[i] {
			t.Errorf("result %d for %q, want %q", i, r.User, order[i])
		}
		w := want[r.User]
		if (w == nil) != (r.ErrorCode == 0) || (w != nil && w.Code != r.ErrorCode) {
			t.Errorf("user %q: code %d, want %v", r.User, r.ErrorCode, w)
		}
	}
	msg := func(user string) string {
		for _, r := range results {
			if r.User == user && r.ErrorMessage != nil {
				return *r.ErrorMessage
			}
		}
		return ""
	}
	for user, m := range map[string]string{
		"few": "Too few iterations", "many": "Too many iterations", "": "Username must not be empty",
		"ghost": "Attempt to delete a user credential that does not exist",
		"twice": "A user credential cannot be altered twice in the same request",
	} {
		if got := msg(user); got != m {
			t.Errorf("message for %q = %q, want %q", user, got, m)
		}
	}
	if len(changes) != 2 {
		t.Fatalf("changes %+v", changes)
	}
	if c := changes[0]; c.User != "old" || !c.Delete || c.Mechanism != MechanismSHA256 {
		t.Errorf("first change %+v", c)
	}
	if c := changes[1]; c.User != "new" || c.Delete || c.Credential.Iterations != 8192 ||
		!slices.Equal(c.Credential.StoredKey, CredentialFromSaltedPassword(MechanismSHA512, []byte("salt"), []byte("salted"), 8192).StoredKey) {
		t.Errorf("second change %+v", c)
	}
}

// TestUpsertionAuthenticates walks a password through the CLI's upsertion, the controller's
// plan and a SCRAM login.
func TestUpsertionAuthenticates(t *testing.T) {
	up, err := NewUpsertion("dana", MechanismSHA512, "dana-pw", 4096, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	req.Upsertions = append(req.Upsertions, up)
	results, changes := PlanAlter(ScramStore{}, req)
	if len(results) != 1 || results[0].ErrorCode != 0 || len(changes) != 1 {
		t.Fatalf("results %+v, changes %+v", results, changes)
	}
	store := ScramStore{{"dana", MechanismSHA512}: changes[0].Credential}
	s, _ := newAuth(t, Config{Scram: store, Plain: StaticUsers{}}).Start(ScramSHA512)
	if !(ScramPlainVerifier{Store: store}).VerifyPlain("dana", "dana-pw") {
		t.Fatal("the stored credential does not verify its password")
	}
	if s.Mechanism() != ScramSHA512 {
		t.Fatal(s.Mechanism())
	}
	if _, err := NewUpsertion("dana", MechanismSHA512, "pw", 100, nil); err == nil {
		t.Fatal("100 iterations accepted")
	}
}

func TestDescribe(t *testing.T) {
	store := storeWith(t, map[string]string{"alice": "a"}, 8192)
	c, _ := NewScramCredential(MechanismSHA256, "b", 4096, nil)
	store[ScramKey{"bob", MechanismSHA256}] = c

	all := Describe(store, kmsg.NewPtrDescribeUserSCRAMCredentialsRequest())
	if len(all) != 2 || all[0].User != "alice" || all[1].User != "bob" {
		t.Fatalf("all users: %+v", all)
	}
	if len(all[0].CredentialInfos) != 2 || all[0].CredentialInfos[0].Mechanism != 1 || all[0].CredentialInfos[1].Iterations != 8192 {
		t.Fatalf("alice: %+v", all[0].CredentialInfos)
	}

	req := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	for _, u := range []string{"bob", "ghost", "alice", "alice"} {
		x := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		x.Name = u
		req.Users = append(req.Users, x)
	}
	res := Describe(store, req)
	if len(res) != 3 {
		t.Fatalf("%d results", len(res))
	}
	if res[0].User != "bob" || res[0].ErrorCode != 0 || len(res[0].CredentialInfos) != 1 {
		t.Errorf("bob: %+v", res[0])
	}
	if res[1].User != "ghost" || res[1].ErrorCode != kerr.ResourceNotFound.Code ||
		*res[1].ErrorMessage != "Attempt to describe a user credential that does not exist: ghost" {
		t.Errorf("ghost: %+v", res[1])
	}
	if res[2].User != "alice" || res[2].ErrorCode != kerr.DuplicateResource.Code || len(res[2].CredentialInfos) != 0 {
		t.Errorf("alice: %+v", res[2])
	}
}

func TestStaticUsers(t *testing.T) {
	u := StaticUsers{"alice": "pw", "empty": ""}
	cases := []struct {
		user, pw string
		want     bool
	}{{"alice", "pw", true}, {"alice", "pw2", false}, {"alice", "", false}, {"bob", "pw", false}, {"bob", "", false}}
	for _, c := range cases {
		if got := u.VerifyPlain(c.user, c.pw); got != c.want {
			t.Errorf("VerifyPlain(%q, %q) = %v", c.user, c.pw, got)
		}
	}
	if !errors.Is(&Error{Code: kerr.SaslAuthenticationFailed}, kerr.SaslAuthenticationFailed) {
		t.Fatal("Error does not unwrap to its code")
	}
}
