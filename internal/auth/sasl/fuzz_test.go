package sasl

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// fuzzAuth is an authenticator with one user known to every mechanism. Its credentials use
// the minimum iterations so that each fuzz input costs little PBKDF2 work.
func fuzzAuth(f *testing.F) *Authenticator {
	store := make(ScramStore)
	for _, m := range []ScramMechanism{MechanismSHA256, MechanismSHA512} {
		c, err := NewScramCredential(m, "pw", MinIterations, nil)
		if err != nil {
			f.Fatal(err)
		}
		store[ScramKey{"alice", m}] = c
	}
	a, err := New(Config{Mechanisms: []string{Plain, ScramSHA256, ScramSHA512}, Scram: store, Plain: StaticUsers{"alice": "pw"}})
	if err != nil {
		f.Fatal(err)
	}
	return a
}

// checkStep asserts what every Step must honour whatever the input: an error is a Kafka
// SASL error, and a successful end names a principal.
func checkStep(t *testing.T, out []byte, done bool, principal string, err error) {
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || (e.Code != kerr.SaslAuthenticationFailed && e.Code != kerr.IllegalSaslState) {
			t.Fatalf("error %v (%T) is not a SASL failure", err, err)
		}
		if done || principal != "" || out != nil {
			t.Fatalf("failed step returned done %v, principal %q, out %q", done, principal, out)
		}
		return
	}
	if done != (principal != "") {
		t.Fatalf("done %v with principal %q", done, principal)
	}
}

func FuzzPlainStep(f *testing.F) {
	a := fuzzAuth(f)
	f.Add([]byte("\x00alice\x00pw"))
	f.Add([]byte("alice\x00alice\x00pw"))
	f.Add([]byte("\x00alice\x00pw\x00"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, msg []byte) {
		s, _ := a.Start(Plain)
		out, done, p, err := s.Step(msg)
		checkStep(t, out, done, p, err)
		if done {
			tokens := strings.Split(string(msg), "\x00")
			if len(tokens) != 3 || tokens[1] != "alice" || tokens[2] != "pw" || (tokens[0] != "" && tokens[0] != "alice") {
				t.Fatalf("%q authenticated as %s", msg, p)
			}
		}
	})
}

// FuzzScramStep feeds two arbitrary messages, and then a genuine first message with an
// arbitrary final one: nothing may panic, and no forged final message may authenticate.
func FuzzScramStep(f *testing.F) {
	a := fuzzAuth(f)
	f.Add([]byte("n,,n=alice,r=abc"), []byte("c=biws,r=abc,p=AAAA"), false)
	f.Add([]byte("n,a=alice,n=alice,r=x,tokenauth=true"), []byte("c=biws,r=x,p="), true)
	f.Add([]byte("y,,n=a=2Cb,r=r"), []byte("c=eSws,r=r,x=1,p=AAAA"), false)
	f.Add([]byte("n,,n=alice,r=abc,m=x"), []byte(""), true)
	f.Fuzz(func(t *testing.T, first, final []byte, sha512 bool) {
		mech := ScramSHA256
		if sha512 {
			mech = ScramSHA512
		}
		s, _ := a.Start(mech)
		out, done, p, err := s.Step(first)
		checkStep(t, out, done, p, err)
		if done {
			t.Fatalf("authenticated after one message %q", first)
		}
		out, done, p, err = s.Step(final)
		checkStep(t, out, done, p, err)
		if done {
			t.Fatalf("authenticated without knowing the password: %q, %q", first, final)
		}

		// A genuine client-first message, then the fuzzed final message.
		client := scram.Auth{User: "alice", Pass: "wrong"}.AsSha256Mechanism()
		if sha512 {
			client = scram.Auth{User: "alice", Pass: "wrong"}.AsSha512Mechanism()
		}
		_, c1, err := client.Authenticate(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		s, _ = a.Start(mech)
		if _, _, _, err := s.Step(c1); err != nil {
			t.Fatalf("genuine first message refused: %v", err)
		}
		out, done, p, err = s.Step(final)
		checkStep(t, out, done, p, err)
		if done {
			t.Fatalf("forged final message %q authenticated", final)
		}
	})
}

func FuzzParseJAAS(f *testing.F) {
	f.Add(`org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" user_alice="alice-secret";`)
	f.Add(`m.M optional /* c */ a='x\101\n' // end`)
	f.Add(`a.A required; b.B requisite x=y;`)
	f.Fuzz(func(t *testing.T, s string) {
		modules, err := ParseJAAS(s)
		if err != nil {
			if modules != nil {
				t.Fatal("modules returned with an error")
			}
			return
		}
		if len(modules) == 0 {
			t.Fatal("no module and no error")
		}
		for _, m := range modules {
			if m.Class == "" || m.Options == nil {
				t.Fatalf("incomplete module %+v", m)
			}
			switch m.Flag {
			case "required", "requisite", "sufficient", "optional":
			default:
				t.Fatalf("flag %q", m.Flag)
			}
		}
		_, _ = PlainUsersFromJAAS(s)
	})
}
