package sasl

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	kgosasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	xdgscram "github.com/xdg-go/scram"
)

// exchange drives a franz-go client mechanism against a server session as a broker would:
// the client's first message, then server answer and client challenge in turn until both
// sides are done or one fails.
func exchange(t *testing.T, client kgosasl.Mechanism, auth *Authenticator) (principal string, serverErr, clientErr error) {
	t.Helper()
	sess, err := auth.Start(client.Name())
	if err != nil {
		t.Fatalf("Start(%s): %v", client.Name(), err)
	}
	csess, msg, err := client.Authenticate(context.Background(), "broker:9092")
	if err != nil {
		t.Fatalf("client Authenticate: %v", err)
	}
	for range 5 {
		out, done, p, err := sess.Step(msg)
		if err != nil {
			return "", err, nil
		}
		cdone, next, err := csess.Challenge(out)
		if err != nil {
			return "", nil, err
		}
		if done != cdone {
			t.Fatalf("server done %v, client done %v", done, cdone)
		}
		if done {
			if next != nil {
				t.Fatalf("client has a message after the end: %q", next)
			}
			return p, nil, nil
		}
		msg = next
	}
	t.Fatal("exchange did not end in 5 rounds")
	return "", nil, nil
}

// storeWith makes a SCRAM store with the users' passwords for both mechanisms.
func storeWith(t *testing.T, users map[string]string, iterations int) ScramStore {
	t.Helper()
	s := make(ScramStore)
	for u, p := range users {
		for _, m := range []ScramMechanism{MechanismSHA256, MechanismSHA512} {
			c, err := NewScramCredential(m, p, iterations, nil)
			if err != nil {
				t.Fatal(err)
			}
			s[ScramKey{u, m}] = c
		}
	}
	return s
}

func newAuth(t *testing.T, cfg Config) *Authenticator {
	t.Helper()
	if cfg.Mechanisms == nil {
		cfg.Mechanisms = []string{Plain, ScramSHA256, ScramSHA512}
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestScramWithFranzGo(t *testing.T) {
	store := storeWith(t, map[string]string{"alice": "alice-secret", "we,ird=name": "p"}, MinIterations)
	auth := newAuth(t, Config{Scram: store, Plain: StaticUsers{}})
	mechs := map[string]func(scram.Auth) kgosasl.Mechanism{
		ScramSHA256: scram.Auth.AsSha256Mechanism,
		ScramSHA512: scram.Auth.AsSha512Mechanism,
	}
	tests := []struct {
		name          string
		auth          scram.Auth
		wantPrincipal string
		wantMessage   string
	}{
		{name: "good password", auth: scram.Auth{User: "alice", Pass: "alice-secret"}, wantPrincipal: "User:alice"},
		{name: "escaped user name", auth: scram.Auth{User: "we,ird=name", Pass: "p"}, wantPrincipal: "User:we,ird=name"},
		{name: "authzid equal to the user", auth: scram.Auth{User: "alice", Pass: "alice-secret", Zid: "alice"}, wantPrincipal: "User:alice"},
		{name: "wrong password", auth: scram.Auth{User: "alice", Pass: "nope"},
			wantMessage: "Authentication failed during authentication due to invalid credentials with SASL mechanism %s"},
		{name: "unknown user", auth: scram.Auth{User: "mallory", Pass: "nope"},
			wantMessage: "Authentication failed during authentication due to invalid credentials with SASL mechanism %s"},
		{name: "authzid of another user", auth: scram.Auth{User: "alice", Pass: "alice-secret", Zid: "admin"},
			wantMessage: "Authentication failed: Client requested an authorization id that is different from username"},
		{name: "delegation token", auth: scram.Auth{User: "alice", Pass: "alice-secret", IsToken: true},
			wantMessage: "Authentication failed during authentication due to invalid credentials with SASL mechanism %s"},
	}
	for mech, mk := range mechs {
		for _, tt := range tests {
			t.Run(mech+"/"+tt.name, func(t *testing.T) {
				p, serr, cerr := exchange(t, mk(tt.auth), auth)
				if cerr != nil {
					t.Fatalf("client refused the server: %v", cerr)
				}
				if tt.wantMessage == "" {
					if serr != nil {
						t.Fatalf("server refused: %v", serr)
					}
					if p != tt.wantPrincipal {
						t.Fatalf("principal %q, want %q", p, tt.wantPrincipal)
					}
					return
				}
				want := tt.wantMessage
				if strings.Contains(want, "%s") {
					want = strings.ReplaceAll(want, "%s", mech)
				}
				var e *Error
				if !errors.As(serr, &e) || !errors.Is(serr, kerr.SaslAuthenticationFailed) || e.Message != want {
					t.Fatalf("server error %v, want SASL_AUTHENTICATION_FAILED %q", serr, want)
				}
			})
		}
	}
}

// TestScramUnknownUserLooksLikeKnown checks that the server's first answer for an unknown
// user has the shape of a known user's and a stable salt, so that neither the step at which
// the exchange fails nor the salt tells whether the user exists.
func TestScramUnknownUserLooksLikeKnown(t *testing.T) {
	store := storeWith(t, map[string]string{"alice": "pw"}, MinIterations)
	auth := newAuth(t, Config{Scram: store, Plain: StaticUsers{}, Secret: []byte("cluster secret")})
	first := func(user string) string {
		s, _ := auth.Start(ScramSHA256)
		out, done, _, err := s.Step([]byte("n,,n=" + user + ",r=clientnonce"))
		if err != nil || done {
			t.Fatalf("first step for %s: done %v, err %v", user, done, err)
		}
		return string(out)
	}
	salt := func(s1 string) string {
		for _, f := range strings.Split(s1, ",") {
			if v, ok := strings.CutPrefix(f, "s="); ok {
				return v
			}
		}
		t.Fatalf("no salt in %q", s1)
		return ""
	}
	known, unknown, unknown2 := first("alice"), first("mallory"), first("mallory")
	if !strings.HasPrefix(unknown, "r=clientnonce") || !strings.HasSuffix(unknown, ",i=4096") {
		t.Fatalf("unknown user's server-first %q", unknown)
	}
	if len(salt(known)) != len(salt(unknown)) {
		t.Fatalf("salt lengths differ: known %q, unknown %q", salt(known), salt(unknown))
	}
	if salt(unknown) != salt(unknown2) {
		t.Fatal("an unknown user's salt changes between attempts")
	}
	if salt(unknown) == salt(first("trudy")) {
		t.Fatal("two unknown users share a salt")
	}
	other := newAuth(t, Config{Scram: store, Plain: StaticUsers{}, Secret: []byte("cluster secret")})
	s, _ := other.Start(ScramSHA256)
	out, _, _, _ := s.Step([]byte("n,,n=mallory,r=clientnonce"))
	if salt(string(out)) != salt(unknown) {
		t.Fatal("brokers sharing a secret give an unknown user different salts")
	}
}

// TestScramReplayedFinalMessage replays a client-final message that succeeded in one session
// into another session for the same user: the server nonce differs, so it fails.
func TestScramReplayedFinalMessage(t *testing.T) {
	store := storeWith(t, map[string]string{"alice": "pw"}, MinIterations)
	auth := newAuth(t, Config{Scram: store, Plain: StaticUsers{}})
	client := scram.Auth{User: "alice", Pass: "pw", Nonce: []byte("fixed-client-nonce")}.AsSha256Mechanism()

	s1, _ := auth.Start(ScramSHA256)
	cs, c1, _ := client.Authenticate(context.Background(), "")
	out, _, _, err := s1.Step(c1)
	if err != nil {
		t.Fatal(err)
	}
	_, c2, err := cs.Challenge(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, done, _, err := s1.Step(c2); err != nil || !done {
		t.Fatalf("original exchange: done %v, err %v", done, err)
	}

	s2, _ := auth.Start(ScramSHA256)
	if _, _, _, err := s2.Step(c1); err != nil {
		t.Fatal(err)
	}
	if _, done, _, err := s2.Step(c2); !errors.Is(err, kerr.SaslAuthenticationFailed) || done {
		t.Fatalf("replayed final message: done %v, err %v", done, err)
	}
}

func TestScramMalformedMessages(t *testing.T) {
	store := storeWith(t, map[string]string{"alice": "pw"}, MinIterations)
	auth := newAuth(t, Config{Scram: store, Plain: StaticUsers{}})
	firsts := []string{
		"",
		"n,,",
		"n,,n=alice",
		"y,,n=alice,r=abc",
		"p=tls-unique,,n=alice,r=abc",
		"n,,m=ext,n=alice,r=abc",
		"n,,n=al=ZZice,r=abc",
		"n,,n=alice,r=abc,foo=bar",
		"n,a=x=y,n=alice,r=abc",
		"\x00\xff",
	}
	for _, c1 := range firsts {
		s, _ := auth.Start(ScramSHA512)
		_, done, _, err := s.Step([]byte(c1))
		if !errors.Is(err, kerr.SaslAuthenticationFailed) || done {
			t.Errorf("client-first %q: done %v, err %v", c1, done, err)
		}
		if _, _, _, err := s.Step([]byte("c=biws,r=abc,p=AAAA")); !errors.Is(err, kerr.IllegalSaslState) {
			t.Errorf("step after a failed first message: %v", err)
		}
	}
	finals := []string{"", "c=biws", "c=biws,r=abc", "c=biws,r=wrong,p=AAAA", "c=!!,r=x,p=y", "c=biws,r=x,p=!!"}
	for _, c2 := range finals {
		s, _ := auth.Start(ScramSHA512)
		if _, _, _, err := s.Step([]byte("n,,n=alice,r=abc")); err != nil {
			t.Fatal(err)
		}
		_, done, _, err := s.Step([]byte(c2))
		if !errors.Is(err, kerr.SaslAuthenticationFailed) || done {
			t.Errorf("client-final %q: done %v, err %v", c2, done, err)
		}
	}
}

func TestScramCredentialOutOfBoundsIsRefused(t *testing.T) {
	// A credential with too few iterations (one written by hand, say) cannot be used.
	c, err := NewScramCredential(MechanismSHA256, "pw", MinIterations, nil)
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := SaltedPassword(MechanismSHA256, "pw", c.Salt, 1000)
	weak := CredentialFromSaltedPassword(MechanismSHA256, c.Salt, sp, 1000)
	auth := newAuth(t, Config{Scram: ScramStore{{"alice", MechanismSHA256}: weak}, Plain: StaticUsers{}})
	_, serr, cerr := exchange(t, scram.Auth{User: "alice", Pass: "pw"}.AsSha256Mechanism(), auth)
	if serr == nil && cerr == nil {
		t.Fatal("a credential of 1000 iterations authenticated")
	}
}

func TestPlainWithFranzGo(t *testing.T) {
	users := StaticUsers{"alice": "alice-secret", "bob": "b"}
	scramStore := storeWith(t, map[string]string{"carol": "carol-secret"}, MinIterations)
	auth := newAuth(t, Config{Plain: PlainVerifiers{users, ScramPlainVerifier{Store: scramStore}}, Scram: scramStore})
	tests := []struct {
		name          string
		auth          plain.Auth
		wantPrincipal string
		wantMessage   string
	}{
		{name: "static user", auth: plain.Auth{User: "alice", Pass: "alice-secret"}, wantPrincipal: "User:alice"},
		{name: "SCRAM user", auth: plain.Auth{User: "carol", Pass: "carol-secret"}, wantPrincipal: "User:carol"},
		{name: "authzid equal", auth: plain.Auth{User: "bob", Pass: "b", Zid: "bob"}, wantPrincipal: "User:bob"},
		{name: "wrong password", auth: plain.Auth{User: "alice", Pass: "x"}, wantMessage: "Authentication failed: Invalid username or password"},
		{name: "wrong SCRAM password", auth: plain.Auth{User: "carol", Pass: "x"}, wantMessage: "Authentication failed: Invalid username or password"},
		{name: "unknown user", auth: plain.Auth{User: "mallory", Pass: "x"}, wantMessage: "Authentication failed: Invalid username or password"},
		{name: "other authzid", auth: plain.Auth{User: "bob", Pass: "b", Zid: "alice"},
			wantMessage: "Authentication failed: Client requested an authorization id that is different from username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, serr, cerr := exchange(t, tt.auth.AsMechanism(), auth)
			if cerr != nil {
				t.Fatalf("client: %v", cerr)
			}
			if tt.wantMessage == "" {
				if serr != nil || p != tt.wantPrincipal {
					t.Fatalf("principal %q, err %v; want %q", p, serr, tt.wantPrincipal)
				}
				return
			}
			if !errors.Is(serr, kerr.SaslAuthenticationFailed) || serr.Error() != tt.wantMessage {
				t.Fatalf("err %v, want %q", serr, tt.wantMessage)
			}
		})
	}
}

func TestPlainMalformed(t *testing.T) {
	auth := newAuth(t, Config{Plain: StaticUsers{"alice": "pw"}, Mechanisms: []string{Plain}})
	tests := []struct {
		msg  string
		want string
	}{
		{"", "Authentication failed during authentication due to invalid credentials with SASL mechanism PLAIN"},
		{"alice\x00pw", "Authentication failed during authentication due to invalid credentials with SASL mechanism PLAIN"},
		{"\x00alice\x00pw\x00", "Authentication failed during authentication due to invalid credentials with SASL mechanism PLAIN"},
		{"\x00\x00pw", "Authentication failed: username not specified"},
		{"\x00alice\x00", "Authentication failed: password not specified"},
	}
	for _, tt := range tests {
		s, _ := auth.Start(Plain)
		_, done, _, err := s.Step([]byte(tt.msg))
		if done || !errors.Is(err, kerr.SaslAuthenticationFailed) || err.Error() != tt.want {
			t.Errorf("%q: done %v, err %v; want %q", tt.msg, done, err, tt.want)
		}
	}
	s, _ := auth.Start(Plain)
	if _, done, p, err := s.Step([]byte("\x00alice\x00pw")); err != nil || !done || p != "User:alice" {
		t.Fatalf("good login: %v %v %v", done, p, err)
	}
	if _, _, _, err := s.Step([]byte("\x00alice\x00pw")); !errors.Is(err, kerr.IllegalSaslState) {
		t.Fatalf("second step: %v", err)
	}
}

func TestStartAndNew(t *testing.T) {
	auth := newAuth(t, Config{Plain: StaticUsers{}, Mechanisms: []string{"PLAIN", " PLAIN"}})
	if got := auth.Mechanisms(); len(got) != 1 || got[0] != Plain {
		t.Fatalf("Mechanisms = %q", got)
	}
	_, err := auth.Start(ScramSHA256)
	if !errors.Is(err, kerr.UnsupportedSaslMechanism) || err.Error() != "Unsupported SASL mechanism SCRAM-SHA-256" {
		t.Fatalf("Start of a disabled mechanism: %v", err)
	}
	for _, cfg := range []Config{
		{Mechanisms: []string{"GSSAPI"}, Plain: StaticUsers{}},
		{Mechanisms: []string{Plain}},
		{Mechanisms: []string{ScramSHA512}, Plain: StaticUsers{}},
		{Mechanisms: nil, Plain: StaticUsers{}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestCheckReauthentication(t *testing.T) {
	if err := CheckReauthentication(Plain, "User:a", Plain, "User:a"); err != nil {
		t.Fatal(err)
	}
	if err := CheckReauthentication(Plain, "User:a", ScramSHA256, "User:a"); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("mechanism change: %v", err)
	}
	if err := CheckReauthentication(Plain, "User:a", Plain, "User:b"); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("principal change: %v", err)
	}
}

func TestJAASConfigKey(t *testing.T) {
	if got := JAASConfigKey("SASL_SSL", "SCRAM-SHA-256"); got != "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config" {
		t.Fatal(got)
	}
}

func TestErrorDetailKeepsReasonOffTheWire(t *testing.T) {
	auth := newAuth(t, Config{Plain: StaticUsers{"alice": "pw"}, Mechanisms: []string{Plain}})
	s, _ := auth.Start(Plain)
	_, _, _, err := s.Step([]byte("\x00mallory\x00pw"))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%T", err)
	}
	if strings.Contains(e.Message, "mallory") || !strings.Contains(e.Detail(), "mallory") {
		t.Fatalf("message %q, detail %q", e.Message, e.Detail())
	}
}

// TestScramAuthzIDWithRFCChannelBinding uses xdg-go's client, which binds the GS2 header
// with its authorization id as RFC 5802 says (franz-go sends "biws" instead; both work).
func TestScramAuthzIDWithRFCChannelBinding(t *testing.T) {
	store := storeWith(t, map[string]string{"alice": "pw"}, MinIterations)
	auth := newAuth(t, Config{Scram: store, Plain: StaticUsers{}})
	for _, authz := range []string{"", "alice"} {
		client, err := xdgscram.SHA512.NewClient("alice", "pw", authz)
		if err != nil {
			t.Fatal(err)
		}
		conv := client.NewConversation()
		c1, err := conv.Step("")
		if err != nil {
			t.Fatal(err)
		}
		s, _ := auth.Start(ScramSHA512)
		s1, _, _, err := s.Step([]byte(c1))
		if err != nil {
			t.Fatalf("authzid %q: first step: %v", authz, err)
		}
		c2, err := conv.Step(string(s1))
		if err != nil {
			t.Fatal(err)
		}
		if authz != "" && strings.HasPrefix(c2, "c=biws,") {
			t.Fatalf("xdg-go's client did not bind the authorization id: %q", c2)
		}
		s2, done, p, err := s.Step([]byte(c2))
		if err != nil || !done || p != "User:alice" {
			t.Fatalf("authzid %q: final step: done %v, principal %q, err %v", authz, done, p, err)
		}
		if _, err := conv.Step(string(s2)); err != nil || !conv.Valid() {
			t.Fatalf("client refused the server's signature: %v", err)
		}
	}
}
