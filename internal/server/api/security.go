package api

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/acl"
	"github.com/sluicehq/sluice/internal/auth/quota"
	"github.com/sluicehq/sluice/internal/auth/sasl"
	"github.com/sluicehq/sluice/internal/auth/tlsconfig"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
)

// Connection security: who a connection is (its principal) and whether it may send
// requests yet. The broker builds a Security from its configuration; Gate wraps the Mux
// so that every request passes it first, and the SASL handlers (saslhandshake.go,
// saslauthenticate.go) move a connection's state forward.
//
// A connection's principal comes from its listener's security protocol, as in Kafka:
//
//   - PLAINTEXT: User:ANONYMOUS;
//   - SSL: the client certificate's distinguished name after ssl.principal.mapping.rules,
//     or User:ANONYMOUS without a certificate;
//   - SASL_PLAINTEXT and SASL_SSL: the SASL exchange's user. Until it completes, only
//     ApiVersions, SaslHandshake and SaslAuthenticate are answered; any other request
//     closes the connection, as Kafka's SaslServerAuthenticator does. A session expires
//     after connections.max.reauth.ms unless the client re-authenticates (KIP-368); the
//     first other request after that closes the connection.

// Security is the broker's connection security and authorizer.
type Security struct {
	// Listeners are the secured listeners by name; a listener missing here is
	// PLAINTEXT.
	Listeners map[string]*ListenerSecurity
	// Authorizer decides ACLs; nil when authorizer.class.name is unset, which allows
	// everything and answers the ACL APIs with SECURITY_DISABLED.
	Authorizer *acl.Authorizer
	// SessionLifetime is connections.max.reauth.ms (0: sessions do not expire).
	SessionLifetime time.Duration
	// FailedAuthDelay is connection.failed.authentication.delay.ms: how long the answer to a
	// failed authentication, and the close after it, are held back.
	FailedAuthDelay time.Duration
	// Quotas throttles clients over their quotas (quotas.go); nil throttles nothing.
	Quotas *quota.Manager
	// Throttled, when set, is told of each throttled response: the quota (producer_byte_rate,
	// consumer_byte_rate or request_percentage) and the throttle time.
	Throttled func(key string, t time.Duration)
	// TopicName names a topic by its ID ("" when unknown), for the APIs that name topics
	// by ID; nil knows no topic.
	TopicName func(id [16]byte) string
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

// ListenerSecurity is one listener's security.
type ListenerSecurity struct {
	// Protocol is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
	Protocol string
	// SASL authenticates SASL_PLAINTEXT and SASL_SSL connections.
	SASL *sasl.Authenticator
	// Principals names SSL clients from their certificates.
	Principals *tlsconfig.PrincipalBuilder
}

func (s *Security) now() time.Time {
	if s == nil || s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Security) logger() *slog.Logger {
	if s == nil || s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// listener returns a listener's security, nil for PLAINTEXT.
func (s *Security) listener(name string) *ListenerSecurity {
	if s == nil {
		return nil
	}
	return s.Listeners[name]
}

// connAuth is one connection's authentication state, kept in its ConnInfo's security
// slot. Handle calls of one connection come one at a time, but Then continuations may
// read the principal concurrently, hence the lock.
type connAuth struct {
	mu sync.Mutex
	// principal is the authenticated principal; "" until a SASL exchange completes.
	principal string
	// mechanism is the SASL mechanism that authenticated the connection.
	mechanism string
	// expires ends the SASL session (zero: never).
	expires time.Time
	// sess is a SASL exchange in progress, begun by SaslHandshake.
	sess sasl.Session
	// broken is set when the connection's certificate gave no principal: every request
	// closes it.
	broken bool
}

// conn returns the connection's state, creating it on its first request. It runs on
// the connection's read goroutine (Handle), never concurrently for one connection.
func (s *Security) conn(ci *server.ConnInfo) *connAuth {
	if st, ok := ci.Security().(*connAuth); ok {
		return st
	}
	st := &connAuth{}
	ls := s.listener(ci.Listener)
	switch {
	case ls == nil || ls.Protocol == "PLAINTEXT":
		st.principal = tlsconfig.Anonymous
	case ls.Protocol == "SSL":
		cs, _ := ci.TLSState()
		p, err := ls.Principals.Principal(cs)
		if err != nil {
			s.logger().Warn("closing connection: no principal for the client certificate",
				"listener", ci.Listener, "remote", ci.Remote.String(), "err", err)
			st.broken = true
		}
		st.principal = p
	}
	ci.SetSecurity(st)
	return st
}

// principalOf is the principal of the connection a request came on: User:ANONYMOUS on
// a connection no Gate has seen (a server without security).
func principalOf(req *server.Request) string {
	if st, ok := req.Conn.Security().(*connAuth); ok {
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.principal != "" {
			return st.principal
		}
	}
	return tlsconfig.Anonymous
}

// hostOf is the client's IP address, as ACL hosts name it.
func hostOf(req *server.Request) string {
	if a, ok := req.Conn.Remote.(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(req.Conn.Remote.String())
	if err != nil {
		return req.Conn.Remote.String()
	}
	return host
}

// Gate wraps next (the Mux) with connection security; a nil Security returns next.
func (s *Security) Gate(next server.Handler) server.Handler {
	if s == nil {
		return next
	}
	g := &gate{s: s, next: next}
	if vr, ok := next.(server.VersionRanger); ok {
		return &rangedGate{gate: g, vr: vr}
	}
	return g
}

type gate struct {
	s    *Security
	next server.Handler
}

type rangedGate struct {
	*gate
	vr server.VersionRanger
}

func (g *rangedGate) VersionRange(key int16) (min, max int16, ok bool) { return g.vr.VersionRange(key) }

// API keys the gate lets through before authentication.
const (
	keySaslHandshake    = 17
	keyApiVersions      = 18
	keySaslAuthenticate = 36
)

// Handle lets a request through to next, or closes the connection.
func (g *gate) Handle(ctx context.Context, req *server.Request) *server.Reply {
	st := g.s.conn(req.Conn)
	st.mu.Lock()
	broken, principal, expires := st.broken, st.principal, st.expires
	st.mu.Unlock()
	closeConn := func(msg string) *server.Reply {
		g.s.logger().Info(msg, "listener", req.Conn.Listener, "remote", req.Conn.Remote.String(),
			"api", kmsg.NameForKey(req.Key), "principal", principal)
		return &server.Reply{NoResponse: true, Close: true}
	}
	if broken {
		return closeConn("closing connection: its certificate gave no principal")
	}
	switch req.Key {
	case keyApiVersions, keySaslHandshake, keySaslAuthenticate:
		return g.next.Handle(ctx, req)
	}
	if principal == "" {
		return closeConn("closing connection: request before SASL authentication")
	}
	if !expires.IsZero() && !g.s.now().Before(expires) {
		return closeConn("closing connection: SASL session expired without re-authentication (connections.max.reauth.ms)")
	}
	return g.s.withQuotas(req, func() *server.Reply { return g.s.preAuthorize(ctx, req, g.next) })
}

// scramStore reads SCRAM credentials from the current metadata image, for the SASL
// mechanisms and the KIP-554 APIs.
type scramStore struct{ image func() *metadata.Image }

// ScramStore returns the SCRAM credential store of the metadata image image returns.
func ScramStore(image func() *metadata.Image) sasl.ScramUserLister { return scramStore{image} }

func (s scramStore) ScramCredential(user string, m sasl.ScramMechanism) (sasl.ScramCredential, bool) {
	c, ok := s.image().ScramCredential(user, int8(m))
	if !ok {
		return sasl.ScramCredential{}, false
	}
	return sasl.ScramCredential{Mechanism: m, Salt: c.Salt, StoredKey: c.StoredKey, ServerKey: c.ServerKey, Iterations: c.Iterations}, true
}

func (s scramStore) ScramUsers() []string { return s.image().ScramUsers() }

// registerSecurity adds the SASL, ACL, client quota and SCRAM credential APIs. They are served on every
// listener, as in Kafka: on one without SASL, the SASL APIs answer ILLEGAL_SASL_STATE, and
// without an authorizer the ACL APIs answer SECURITY_DISABLED.
func registerSecurity(mux *server.Mux, h *handlers) {
	mux.Register(keySaslHandshake, 0, 1, h.saslHandshake)
	mux.Register(keySaslAuthenticate, 0, 2, h.saslAuthenticate)
	mux.Register(29, 0, 3, h.describeACLs)
	mux.Register(30, 0, 3, h.createACLs)
	mux.Register(31, 0, 3, h.deleteACLs)
	mux.Register(48, 0, 1, h.describeClientQuotas)
	mux.Register(49, 0, 1, h.alterClientQuotas)
	mux.Register(50, 0, 0, h.describeUserScramCredentials)
	mux.Register(51, 0, 0, h.alterUserScramCredentials)
}
