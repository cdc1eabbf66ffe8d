package sasl

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// librdkafka (kcat, confluent-kafka-python, ...) puts its client nonce in front of the
// whole nonce of the server-first message in its final message: r=<client nonce><client
// nonce><server nonce>, and computes its proof over that message. Kafka accepts it: its
// ScramSaslServer checks only that the final nonce ends with the nonce it sent. xdg-go
// checks the nonce for equality, so such a final message is verified here, by RFC 5802's
// rules, over the message as the client sent it.

// clientFirstBare is the client-first message without its GS2 header.
func clientFirstBare(c1 string) string {
	// The header is "n,[a=authzid]," : two commas.
	i := strings.IndexByte(c1, ',')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(c1[i+1:], ',')
	if j < 0 {
		return ""
	}
	return c1[i+1+j+1:]
}

// attr returns the value of attribute k in a SCRAM message.
func attr(msg string, k byte) (string, bool) {
	for _, f := range strings.Split(msg, ",") {
		if len(f) >= 2 && f[0] == k && f[1] == '=' {
			return f[2:], true
		}
	}
	return "", false
}

// serverFirstNonce is the whole nonce of a server-first message.
func serverFirstNonce(s1 string) string {
	r, _ := attr(s1, 'r')
	return r
}

// repeatsClientNonce reports whether a final message carries librdkafka's nonce: longer
// than the one sent and ending with it.
func repeatsClientNonce(c2, nonce string) bool {
	r, ok := attr(c2, 'r')
	return ok && nonce != "" && len(r) > len(nonce) && strings.HasSuffix(r, nonce)
}

// finalRepeatedNonce verifies a final message with librdkafka's nonce and answers the
// server-final message.
func (s *scramSession) finalRepeatedNonce(c2 string) ([]byte, bool, string, error) {
	i := strings.LastIndex(c2, ",p=")
	if i < 0 || s.cred == nil || s.c1bare == "" {
		return s.fail(errors.New("client-final message without a proof"))
	}
	withoutProof := c2[:i]
	proof, err := base64.StdEncoding.DecodeString(c2[i+3:])
	if err != nil {
		return s.fail(fmt.Errorf("client-final message of user %q: proof: %w", s.user, err))
	}
	authMessage := s.c1bare + "," + s.s1 + "," + withoutProof
	mac := func(key []byte, msg string) []byte {
		m := hmac.New(s.mech.hash(), key)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	clientSignature := mac(s.cred.StoredKey, authMessage)
	if len(proof) != len(clientSignature) {
		return s.fail(fmt.Errorf("client-final message of user %q: proof of %d bytes", s.user, len(proof)))
	}
	clientKey := make([]byte, len(proof))
	for k := range proof {
		clientKey[k] = proof[k] ^ clientSignature[k]
	}
	h := s.mech.hash()()
	h.Write(clientKey)
	if !hmac.Equal(h.Sum(nil), s.cred.StoredKey) || !s.known {
		return s.fail(fmt.Errorf("client-final message of user %q: wrong proof or unknown user", s.user))
	}
	out := "v=" + base64.StdEncoding.EncodeToString(mac(s.cred.ServerKey, authMessage))
	return []byte(out), true, userPrefix + s.user, nil
}
