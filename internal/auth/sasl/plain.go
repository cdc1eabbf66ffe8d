package sasl

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
)

// PlainVerifier checks a PLAIN user name and password.
type PlainVerifier interface {
	VerifyPlain(user, password string) bool
}

// StaticUsers is a fixed user list: name to password, as the user_<name>="<password>"
// options of PlainLoginModule give it.
type StaticUsers map[string]string

// VerifyPlain compares in constant time, and spends the same time on an unknown user.
func (u StaticUsers) VerifyPlain(user, password string) bool {
	want, ok := u[user]
	// Compare digests, so that the comparison's time does not depend on the lengths.
	w, g := sha256.Sum256([]byte(want)), sha256.Sum256([]byte(password))
	return hmac.Equal(w[:], g[:]) && ok
}

// PlainVerifiers accepts a password that any of its verifiers accepts, in order.
type PlainVerifiers []PlainVerifier

// VerifyPlain asks each verifier in turn.
func (vs PlainVerifiers) VerifyPlain(user, password string) bool {
	for _, v := range vs {
		if v != nil && v.VerifyPlain(user, password) {
			return true
		}
	}
	return false
}

type plainSession struct {
	verifier PlainVerifier
	over     bool
}

func (s *plainSession) Mechanism() string { return Plain }

// Step checks the one PLAIN message: authzid NUL authcid NUL password.
func (s *plainSession) Step(msg []byte) ([]byte, bool, string, error) {
	if s.over {
		return nil, false, "", sessionOver()
	}
	s.over = true
	tokens := splitPlain(msg)
	if len(tokens) != 3 {
		return nil, false, "", invalidCredentials(Plain, fmt.Errorf("invalid SASL/PLAIN response: expected 3 tokens, got %d", len(tokens)))
	}
	authzid, user, password := string(tokens[0]), string(tokens[1]), string(tokens[2])
	if user == "" {
		return nil, false, "", authFailed("Authentication failed: username not specified", nil)
	}
	if password == "" {
		return nil, false, "", authFailed("Authentication failed: password not specified", nil)
	}
	if !s.verifier.VerifyPlain(user, password) {
		return nil, false, "", authFailed("Authentication failed: Invalid username or password", fmt.Errorf("PLAIN login of user %q refused", user))
	}
	if authzid != "" && authzid != user {
		return nil, false, "", authFailed("Authentication failed: Client requested an authorization id that is different from username",
			errors.New("authorization id "+authzid+" for user "+user))
	}
	return []byte{}, true, userPrefix + user, nil
}

// splitPlain splits at NUL into at most four tokens, as Kafka does, so that a fourth
// token (an extra NUL) makes the message invalid rather than part of the password.
func splitPlain(msg []byte) [][]byte {
	var tokens [][]byte
	for range 4 {
		i := bytes.IndexByte(msg, 0)
		if i < 0 {
			tokens = append(tokens, msg)
			break
		}
		tokens = append(tokens, msg[:i])
		msg = msg[i+1:]
	}
	return tokens
}
