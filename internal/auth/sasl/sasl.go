package sasl

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Mechanism names, as SaslHandshake carries them.
const (
	Plain        = "PLAIN"
	ScramSHA256  = "SCRAM-SHA-256"
	ScramSHA512  = "SCRAM-SHA-512"
	userPrefix   = "User:"
	secretLength = 32
)

// Error is a failed authentication: the Kafka error code and the message for the client,
// and, for the operator's log, the reason (Detail). errors.Is(err,
// kerr.SaslAuthenticationFailed) works through Unwrap.
type Error struct {
	Code    *kerr.Error
	Message string // sent to the client
	Reason  error  // why, for the log; never sent
}

func (e *Error) Error() string { return e.Message }

// Unwrap exposes the code and the reason.
func (e *Error) Unwrap() []error {
	if e.Reason == nil {
		return []error{e.Code}
	}
	return []error{e.Code, e.Reason}
}

// Detail is the message with its reason, for logs.
func (e *Error) Detail() string {
	if e.Reason == nil {
		return e.Message
	}
	return e.Message + ": " + e.Reason.Error()
}

// authFailed is Kafka's answer to a SaslAuthenticationException: its message is sent as is.
func authFailed(message string, reason error) *Error {
	return &Error{Code: kerr.SaslAuthenticationFailed, Message: message, Reason: reason}
}

// invalidCredentials is Kafka's answer to any other SaslException: a message that says
// nothing of what was wrong.
func invalidCredentials(mechanism string, reason error) *Error {
	return authFailed("Authentication failed during authentication due to invalid credentials with SASL mechanism "+mechanism, reason)
}

// Session is one connection's authentication exchange with one mechanism.
type Session interface {
	// Mechanism is the mechanism's name.
	Mechanism() string
	// Step takes the client's next message and returns the server's answer; done is true
	// once the client is authenticated, with principal "User:<name>". After an error or
	// once done, the session is over and Step fails with ILLEGAL_SASL_STATE.
	Step(msg []byte) (out []byte, done bool, principal string, err error)
}

// Config configures an Authenticator.
type Config struct {
	// Mechanisms is sasl.enabled.mechanisms: any of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512.
	Mechanisms []string
	// Scram looks up SCRAM credentials; required when a SCRAM mechanism is enabled.
	Scram ScramCredentials
	// Plain verifies PLAIN passwords; required when PLAIN is enabled.
	Plain PlainVerifier
	// Secret keys the salts fabricated for unknown SCRAM users. Brokers of one cluster
	// should share it, so that a user's fake salt is the same whichever broker answers.
	// When empty, a random secret is drawn.
	Secret []byte
	// Rand is the source of a drawn Secret and of the keys of fabricated credentials;
	// crypto/rand when nil. SCRAM nonces always come from crypto/rand.
	Rand io.Reader
}

// Authenticator starts sessions for the enabled mechanisms. It is safe for concurrent use.
type Authenticator struct {
	mechanisms []string
	scram      ScramCredentials
	plain      PlainVerifier
	secret     []byte
	rand       io.Reader
}

// New checks cfg and returns an Authenticator.
func New(cfg Config) (*Authenticator, error) {
	a := &Authenticator{scram: cfg.Scram, plain: cfg.Plain, rand: cfg.Rand, secret: cfg.Secret}
	if a.rand == nil {
		a.rand = rand.Reader
	}
	seen := make(map[string]bool)
	for _, m := range cfg.Mechanisms {
		m = strings.TrimSpace(m)
		if m == "" || seen[m] {
			continue
		}
		seen[m] = true
		switch m {
		case Plain:
			if cfg.Plain == nil {
				return nil, errors.New("sasl: PLAIN is enabled but no PLAIN users are configured")
			}
		case ScramSHA256, ScramSHA512:
			if cfg.Scram == nil {
				return nil, fmt.Errorf("sasl: %s is enabled but no SCRAM credential store is configured", m)
			}
		default:
			return nil, fmt.Errorf("sasl: unsupported mechanism %q in sasl.enabled.mechanisms (supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)", m)
		}
		a.mechanisms = append(a.mechanisms, m)
	}
	if len(a.mechanisms) == 0 {
		return nil, errors.New("sasl: no mechanism enabled")
	}
	if len(a.secret) == 0 {
		a.secret = make([]byte, secretLength)
		if _, err := io.ReadFull(a.rand, a.secret); err != nil {
			return nil, fmt.Errorf("sasl: draw a secret: %w", err)
		}
	}
	return a, nil
}

// Mechanisms lists the enabled mechanisms, for SaslHandshake's SupportedMechanisms.
func (a *Authenticator) Mechanisms() []string { return append([]string(nil), a.mechanisms...) }

// Start begins a session with the mechanism the client asked for in SaslHandshake. A
// mechanism that is not enabled gets UNSUPPORTED_SASL_MECHANISM.
func (a *Authenticator) Start(mechanism string) (Session, error) {
	enabled := false
	for _, m := range a.mechanisms {
		enabled = enabled || m == mechanism
	}
	if !enabled {
		return nil, &Error{Code: kerr.UnsupportedSaslMechanism, Message: fmt.Sprintf("Unsupported SASL mechanism %s", mechanism)}
	}
	switch mechanism {
	case Plain:
		return &plainSession{verifier: a.plain}, nil
	case ScramSHA256:
		return a.newScramSession(MechanismSHA256), nil
	default:
		return a.newScramSession(MechanismSHA512), nil
	}
}

// CheckReauthentication refuses a re-authentication (KIP-368) that changes the mechanism or
// the principal of a connection, as Kafka does.
func CheckReauthentication(previousMechanism, previousPrincipal, mechanism, principal string) error {
	if mechanism != previousMechanism {
		return authFailed(fmt.Sprintf("SASL mechanism '%s' requested by client is not supported for re-authentication of mechanism '%s'", mechanism, previousMechanism), nil)
	}
	if principal != previousPrincipal {
		return authFailed(fmt.Sprintf("Cannot change principals during re-authentication from %s: %s", previousPrincipal, principal), nil)
	}
	return nil
}

// JAASConfigKey is the broker setting holding a listener's JAAS options for a mechanism:
// listener.name.<listener>.<mechanism>.sasl.jaas.config, both lower-cased.
func JAASConfigKey(listener, mechanism string) string {
	return "listener.name." + strings.ToLower(listener) + "." + strings.ToLower(mechanism) + ".sasl.jaas.config"
}

// sessionOver answers a Step after the exchange ended.
func sessionOver() *Error {
	return &Error{Code: kerr.IllegalSaslState, Message: "SASL authentication exchange is already over"}
}
