package sasl

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// rdkafkaFinal builds the final message librdkafka sends for a server-first message:
// its client nonce in front of the whole server nonce, and the proof over that message.
// It returns the message and the server signature the client expects back.
func rdkafkaFinal(t *testing.T, m ScramMechanism, c1bare, cnonce, s1, password string) (string, string) {
	t.Helper()
	full, _ := attr(s1, 'r')
	saltB64, _ := attr(s1, 's')
	iters, _ := attr(s1, 'i')
	salt, err := base64.StdEncoding.DecodeString(saltB64)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(iters)
	sp, err := SaltedPassword(m, password, salt, n)
	if err != nil {
		t.Fatal(err)
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(m.hash(), key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	clientKey := mac(sp, "Client Key")
	h := m.hash()()
	h.Write(clientKey)
	withoutProof := "c=biws,r=" + cnonce + full
	authMessage := c1bare + "," + s1 + "," + withoutProof
	sig := mac(h.Sum(nil), authMessage)
	proof := make([]byte, len(sig))
	for i := range sig {
		proof[i] = clientKey[i] ^ sig[i]
	}
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof),
		"v=" + base64.StdEncoding.EncodeToString(mac(mac(sp, "Server Key"), authMessage))
}

// TestScramLibrdkafkaNonce: librdkafka's final message, whose nonce repeats the client's
// part, authenticates with the right password (as Kafka accepts it) and not otherwise.
func TestScramLibrdkafkaNonce(t *testing.T) {
	store := storeWith(t, map[string]string{"carol": "pw"}, MinIterations)
	auth := newAuth(t, Config{Scram: store, Plain: StaticUsers{}})
	for _, m := range []ScramMechanism{MechanismSHA256, MechanismSHA512} {
		for _, tc := range []struct {
			user, password string
			ok             bool
		}{{"carol", "pw", true}, {"carol", "wrong", false}, {"nobody", "pw", false}} {
			sess, err := auth.Start(m.String())
			if err != nil {
				t.Fatal(err)
			}
			cnonce := "rdkafkaClientNonce0123"
			c1bare := "n=" + tc.user + ",r=" + cnonce
			s1, _, _, err := sess.Step([]byte("n,," + c1bare))
			if err != nil {
				t.Fatal(err)
			}
			c2, wantV := rdkafkaFinal(t, m, c1bare, cnonce, string(s1), tc.password)
			out, done, principal, err := sess.Step([]byte(c2))
			switch {
			case tc.ok && (err != nil || !done || principal != "User:carol" || string(out) != wantV):
				t.Errorf("%s %s: done %v principal %q err %v, answer %q want %q", m, tc.user, done, principal, err, out, wantV)
			case !tc.ok && (err == nil || done || !errors.Is(err, kerr.SaslAuthenticationFailed)):
				t.Errorf("%s %s with %q: accepted (done %v, err %v)", m, tc.user, tc.password, done, err)
			}
		}
	}
}
