package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/xdg-go/scram"
)

// ScramMechanism is a SCRAM hash, with Kafka's codes (the Mechanism field of the KIP-554
// APIs and of UserScramCredentialRecord).
type ScramMechanism int8

// Kafka's ScramMechanism codes.
const (
	MechanismUnknown ScramMechanism = 0
	MechanismSHA256  ScramMechanism = 1
	MechanismSHA512  ScramMechanism = 2
)

// Kafka's bounds on a credential's iteration count, the same for both hashes.
const (
	MinIterations     = 4096
	MaxIterations     = 16384
	DefaultIterations = 4096
)

// ParseScramMechanism maps "SCRAM-SHA-256" and "SCRAM-SHA-512" to their codes, anything
// else to MechanismUnknown.
func ParseScramMechanism(name string) ScramMechanism {
	switch strings.ToUpper(name) {
	case ScramSHA256:
		return MechanismSHA256
	case ScramSHA512:
		return MechanismSHA512
	}
	return MechanismUnknown
}

func (m ScramMechanism) String() string {
	switch m {
	case MechanismSHA256:
		return ScramSHA256
	case MechanismSHA512:
		return ScramSHA512
	}
	return "UNKNOWN"
}

// Valid says whether m is SHA-256 or SHA-512.
func (m ScramMechanism) Valid() bool { return m == MechanismSHA256 || m == MechanismSHA512 }

func (m ScramMechanism) hash() func() hash.Hash {
	if m == MechanismSHA512 {
		return sha512.New
	}
	return sha256.New
}

func (m ScramMechanism) hashGen() scram.HashGeneratorFcn {
	if m == MechanismSHA512 {
		return scram.SHA512
	}
	return scram.SHA256
}

// ScramCredential is what the server keeps of a SCRAM password: Kafka's
// UserScramCredentialRecord without the user name.
type ScramCredential struct {
	Mechanism  ScramMechanism
	Salt       []byte
	StoredKey  []byte // H(HMAC(SaltedPassword, "Client Key"))
	ServerKey  []byte // HMAC(SaltedPassword, "Server Key")
	Iterations int32
}

// ScramCredentials looks up a user's credential for a mechanism.
type ScramCredentials interface {
	ScramCredential(user string, m ScramMechanism) (ScramCredential, bool)
}

// ScramLookupFunc adapts a function to ScramCredentials.
type ScramLookupFunc func(user string, m ScramMechanism) (ScramCredential, bool)

// ScramCredential calls f.
func (f ScramLookupFunc) ScramCredential(user string, m ScramMechanism) (ScramCredential, bool) {
	return f(user, m)
}

// ScramKey names one credential: a user and a mechanism.
type ScramKey struct {
	User      string
	Mechanism ScramMechanism
}

// ScramStore is an in-memory credential set; a metadata image can hold one. Treat it as
// immutable once shared.
type ScramStore map[ScramKey]ScramCredential

// ScramCredential looks up one credential.
func (s ScramStore) ScramCredential(user string, m ScramMechanism) (ScramCredential, bool) {
	c, ok := s[ScramKey{user, m}]
	return c, ok
}

// ScramUsers lists the users with at least one credential.
func (s ScramStore) ScramUsers() []string {
	seen := make(map[string]bool)
	var users []string
	for k := range s {
		if !seen[k.User] {
			seen[k.User] = true
			users = append(users, k.User)
		}
	}
	return users
}

// SaltedPassword is Hi(password, salt, iterations) of RFC 5802 (PBKDF2 with the
// mechanism's HMAC). Kafka does not SASLprep passwords: their UTF-8 bytes are used as is.
func SaltedPassword(m ScramMechanism, password string, salt []byte, iterations int) ([]byte, error) {
	if !m.Valid() {
		return nil, fmt.Errorf("scram: unknown mechanism %d", m)
	}
	h := m.hash()
	return pbkdf2.Key(h, password, salt, iterations, h().Size())
}

// CredentialFromSaltedPassword derives the stored and server keys from a salted password,
// as the controller does with an AlterUserScramCredentials upsertion.
func CredentialFromSaltedPassword(m ScramMechanism, salt, saltedPassword []byte, iterations int32) ScramCredential {
	h := m.hash()
	mac := func(key []byte, s string) []byte {
		x := hmac.New(h, key)
		x.Write([]byte(s))
		return x.Sum(nil)
	}
	d := h()
	d.Write(mac(saltedPassword, "Client Key"))
	return ScramCredential{
		Mechanism:  m,
		Salt:       append([]byte(nil), salt...),
		StoredKey:  d.Sum(nil),
		ServerKey:  mac(saltedPassword, "Server Key"),
		Iterations: iterations,
	}
}

// NewSalt draws a random salt of 32 bytes from r (crypto/rand when nil).
func NewSalt(r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	salt := make([]byte, 32)
	if _, err := io.ReadFull(r, salt); err != nil {
		return nil, fmt.Errorf("scram: draw a salt: %w", err)
	}
	return salt, nil
}

// NewScramCredential makes a credential from a password, with a random salt from r
// (crypto/rand when nil); for a tool that writes credentials itself.
func NewScramCredential(m ScramMechanism, password string, iterations int, r io.Reader) (ScramCredential, error) {
	if iterations < MinIterations || iterations > MaxIterations {
		return ScramCredential{}, fmt.Errorf("scram: iterations %d outside %d..%d", iterations, MinIterations, MaxIterations)
	}
	salt, err := NewSalt(r)
	if err != nil {
		return ScramCredential{}, err
	}
	sp, err := SaltedPassword(m, password, salt, iterations)
	if err != nil {
		return ScramCredential{}, err
	}
	return CredentialFromSaltedPassword(m, salt, sp, int32(iterations)), nil
}

func checkIterations(i int32) error {
	if i < MinIterations {
		return errors.New("Too few iterations")
	}
	if i > MaxIterations {
		return errors.New("Too many iterations")
	}
	return nil
}

// VerifyPassword says whether password is the one c was made from: the PLAIN mechanism's
// check against a SCRAM credential.
func (c ScramCredential) VerifyPassword(password string) bool {
	if !c.Mechanism.Valid() || c.Iterations < 1 || c.Iterations > MaxIterations {
		return false
	}
	sp, err := SaltedPassword(c.Mechanism, password, c.Salt, int(c.Iterations))
	if err != nil {
		return false
	}
	got := CredentialFromSaltedPassword(c.Mechanism, c.Salt, sp, c.Iterations)
	return hmac.Equal(got.StoredKey, c.StoredKey)
}

// ScramPlainVerifier checks PLAIN passwords against SCRAM credentials: the user's
// SCRAM-SHA-512 credential if there is one, else its SCRAM-SHA-256 one. An unknown user
// costs PBKDF2 work too, so that timing says little about which users exist.
type ScramPlainVerifier struct {
	Store ScramCredentials
}

// VerifyPlain checks password against the user's credential.
func (v ScramPlainVerifier) VerifyPlain(user, password string) bool {
	for _, m := range []ScramMechanism{MechanismSHA512, MechanismSHA256} {
		if c, ok := v.Store.ScramCredential(user, m); ok {
			return c.VerifyPassword(password)
		}
	}
	dummy := ScramCredential{Mechanism: MechanismSHA512, Salt: []byte("sluice"), Iterations: DefaultIterations}
	dummy.VerifyPassword(password)
	return false
}

// scramSession runs one SCRAM exchange over xdg-go/scram's server conversation.
//
// One quirk needs two conversations. A client that sends an authorization id puts it in
// its GS2 header ("n,a=alice,"), and RFC 5802 wants that header, base64-encoded, as the
// channel binding of the final message. franz-go sends "c=biws" (the header "n,,") all the
// same, and Kafka accepts it, since it does not check the channel binding; xdg-go does. So
// when the header carries an authorization id, a second conversation is fed the first
// message without it; both share the server nonce and the credential, so they answer the
// same server-first message, and the final message goes to the one whose header it binds.
type scramSession struct {
	a     *Authenticator
	mech  ScramMechanism
	conv  *scram.ServerConversation // fed the client-first message as sent
	bare  *scram.ServerConversation // fed it without the authorization id, when there is one
	cred  *scram.StoredCredentials  // looked up once, for both conversations
	known bool                      // the user has a usable credential
	user  string
	step  int // 0: expects client-first, 1: expects client-final, 2: over
	// c1bare, s1 and nonce (client's and server's) are kept for librdkafka's final
	// message (scram_rdkafka.go).
	c1bare, s1, nonce string
}

func (a *Authenticator) newScramSession(m ScramMechanism) *scramSession {
	return &scramSession{a: a, mech: m}
}

// conversation starts an xdg-go server conversation with a fixed server nonce. NewServer
// cannot fail: it only stores its arguments.
func (s *scramSession) conversation(nonce string) *scram.ServerConversation {
	srv, _ := s.mech.hashGen().NewServer(s.lookup)
	return srv.WithNonceGenerator(func() string { return nonce }).NewConversation()
}

func (s *scramSession) Mechanism() string { return s.mech.String() }

// lookup gives xdg-go the user's credential, or, for an unknown user or an unusable
// credential, a fabricated one whose proof can never verify: a salt derived from the
// secret and the user name (stable across attempts and brokers) and random keys.
func (s *scramSession) lookup(user string) (scram.StoredCredentials, error) {
	if s.cred != nil {
		return *s.cred, nil
	}
	s.user = user
	if c, ok := s.a.scram.ScramCredential(user, s.mech); ok && checkIterations(c.Iterations) == nil {
		s.known = true
		s.cred = &scram.StoredCredentials{
			KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: int(c.Iterations)},
			StoredKey:  c.StoredKey,
			ServerKey:  c.ServerKey,
		}
		return *s.cred, nil
	}
	mac := hmac.New(sha256.New, s.a.secret)
	fmt.Fprintf(mac, "%d\x00%s", s.mech, user)
	key := make([]byte, s.mech.hash()().Size())
	if _, err := io.ReadFull(s.a.rand, key); err != nil {
		return scram.StoredCredentials{}, fmt.Errorf("draw a fake key: %w", err)
	}
	s.cred = &scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(mac.Sum(nil)), Iters: DefaultIterations},
		StoredKey:  key,
		ServerKey:  key,
	}
	return *s.cred, nil
}

func (s *scramSession) fail(reason error) ([]byte, bool, string, error) {
	s.step = 2
	return nil, false, "", invalidCredentials(s.mech.String(), reason)
}

// Step runs client-first -> server-first, then client-final -> server-final.
func (s *scramSession) Step(msg []byte) ([]byte, bool, string, error) {
	switch s.step {
	case 0:
		s.step = 1
		c1 := string(msg)
		if err := checkClientFirst(c1); err != nil {
			return s.fail(err)
		}
		nonce, err := newNonce()
		if err != nil {
			return s.fail(err)
		}
		s.conv = s.conversation(nonce)
		out, err := s.conv.Step(c1)
		if err != nil {
			return s.fail(fmt.Errorf("client-first message: %w", err))
		}
		if z := s.conv.AuthzID(); z != "" {
			if z != s.conv.Username() {
				s.step = 2
				return nil, false, "", authFailed("Authentication failed: Client requested an authorization id that is different from username",
					fmt.Errorf("authorization id %q for user %q", z, s.conv.Username()))
			}
			// "n,a=<authzid>,rest" without the authorization id: "n,,rest".
			_, rest, _ := strings.Cut(c1[2:], ",")
			s.bare = s.conversation(nonce)
			if bareOut, err := s.bare.Step("n,," + rest); err != nil || bareOut != out {
				return s.fail(fmt.Errorf("client-first message without its authorization id: %v", err))
			}
		}
		s.s1 = out
		s.c1bare, s.nonce = clientFirstBare(c1), serverFirstNonce(out)
		return []byte(out), false, "", nil
	case 1:
		s.step = 2
		c2 := string(msg)
		if repeatsClientNonce(c2, s.nonce) {
			return s.finalRepeatedNonce(c2)
		}
		conv := s.conv
		if s.bare != nil && strings.HasPrefix(c2, "c=biws,") {
			conv = s.bare
		}
		out, err := conv.Step(c2)
		if err != nil {
			return s.fail(fmt.Errorf("client-final message of user %q: %w", s.user, err))
		}
		if !conv.Valid() || !s.known {
			return s.fail(fmt.Errorf("user %q unknown", s.user))
		}
		return []byte(out), true, userPrefix + conv.Username(), nil
	default:
		return nil, false, "", sessionOver()
	}
}

// newNonce draws a server nonce: 24 bytes of crypto/rand, base64-encoded (which has no
// comma, as SCRAM requires).
func newNonce() (string, error) {
	b := make([]byte, 24)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return "", fmt.Errorf("draw a nonce: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// checkClientFirst applies Kafka's rules that xdg-go does not: the GS2 header must be "n"
// (no channel binding), and the only extension allowed after the nonce is tokenauth, which
// needs delegation tokens that Sluice does not have.
func checkClientFirst(c1 string) error {
	if !strings.HasPrefix(c1, "n,") {
		return errors.New("invalid SCRAM client first message format: channel binding is not supported")
	}
	fields := strings.Split(c1, ",")
	if len(fields) < 4 {
		return errors.New("invalid SCRAM client first message format")
	}
	for _, ext := range fields[4:] {
		k, v, _ := strings.Cut(ext, "=")
		if k == "tokenauth" {
			if strings.EqualFold(v, "true") {
				return errors.New("delegation token authentication is not supported")
			}
			continue
		}
		return fmt.Errorf("unsupported SCRAM extension %q", k)
	}
	return nil
}
