package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/sasl"
	"github.com/sluicehq/sluice/internal/server"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// securityFixture is a gate over a Mux serving the SASL APIs and a stub Metadata, on one
// SASL_PLAINTEXT listener with PLAIN user alice.
type securityFixture struct {
	sec   *Security
	h     *handlers
	gate  server.Handler
	clock *fakeClock
}

func newSecurityFixture(t *testing.T, lifetime, delay time.Duration) *securityFixture {
	t.Helper()
	auth, err := sasl.New(sasl.Config{Mechanisms: []string{sasl.Plain}, Plain: sasl.StaticUsers{"alice": "pw", "bob": "pw2"}})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	sec := &Security{
		Listeners:       map[string]*ListenerSecurity{"SASL": {Protocol: "SASL_PLAINTEXT", SASL: auth}},
		SessionLifetime: lifetime,
		FailedAuthDelay: delay,
		Now:             clock.Now,
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	h := &handlers{Deps{Security: sec}}
	mux := server.NewMux()
	mux.Register(keySaslHandshake, 0, 1, h.saslHandshake)
	mux.Register(keySaslAuthenticate, 0, 2, h.saslAuthenticate)
	mux.Register(3, 0, 12, func(_ context.Context, req *server.Request) *server.Reply {
		return &server.Reply{Msg: req.Msg.ResponseKind()}
	})
	return &securityFixture{sec: sec, h: h, gate: sec.Gate(mux), clock: clock}
}

func newConnInfo() *server.ConnInfo {
	return &server.ConnInfo{Listener: "SASL", Remote: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 5000}}
}

// send passes one request through the gate, resolving any Then.
func (f *securityFixture) send(ci *server.ConnInfo, msg kmsg.Request) *server.Reply {
	req := &server.Request{Key: msg.Key(), Version: msg.GetVersion(), Msg: msg, Conn: ci}
	r := f.gate.Handle(context.Background(), req)
	for r != nil && r.Then != nil {
		r = r.Then(context.Background())
	}
	return r
}

func (f *securityFixture) login(t *testing.T, ci *server.ConnInfo, user, password string) *kmsg.SASLAuthenticateResponse {
	t.Helper()
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.SetVersion(1)
	hs.Mechanism = sasl.Plain
	if r := f.send(ci, hs); r.Close || r.Msg.(*kmsg.SASLHandshakeResponse).ErrorCode != 0 {
		t.Fatalf("handshake: %+v", r)
	}
	au := kmsg.NewPtrSASLAuthenticateRequest()
	au.SetVersion(2)
	au.SASLAuthBytes = []byte("\x00" + user + "\x00" + password)
	return f.send(ci, au).Msg.(*kmsg.SASLAuthenticateResponse)
}

func metadataRequest() kmsg.Request {
	r := kmsg.NewPtrMetadataRequest()
	r.SetVersion(12)
	return r
}

// TestGateSessionLifetime: before authentication only the SASL APIs pass; after it, every
// request does until connections.max.reauth.ms ends the session, which a
// re-authentication renews.
func TestGateSessionLifetime(t *testing.T) {
	f := newSecurityFixture(t, time.Hour, 0)
	ci := newConnInfo()
	if r := f.send(ci, metadataRequest()); !r.Close || !r.NoResponse {
		t.Fatalf("Metadata before authentication: %+v, want the connection closed", r)
	}
	ci = newConnInfo()
	resp := f.login(t, ci, "alice", "pw")
	if resp.ErrorCode != 0 || resp.SessionLifetimeMillis != time.Hour.Milliseconds() {
		t.Fatalf("login: %s, lifetime %d", kerr.ErrorForCode(resp.ErrorCode), resp.SessionLifetimeMillis)
	}
	if got := principalOf(&server.Request{Conn: ci}); got != "User:alice" {
		t.Errorf("principal %q", got)
	}
	f.clock.advance(59 * time.Minute)
	if r := f.send(ci, metadataRequest()); r.Close {
		t.Fatal("closed within the session")
	}
	if resp := f.login(t, ci, "alice", "pw"); resp.ErrorCode != 0 {
		t.Fatalf("re-authentication: %s", kerr.ErrorForCode(resp.ErrorCode))
	}
	f.clock.advance(59 * time.Minute)
	if r := f.send(ci, metadataRequest()); r.Close {
		t.Fatal("closed within the renewed session")
	}
	f.clock.advance(2 * time.Minute)
	if r := f.send(ci, metadataRequest()); !r.Close {
		t.Fatal("served after the session expired")
	}
}

// TestFailedAuthenticationIsDelayed: a wrong password is answered with
// SASL_AUTHENTICATION_FAILED no sooner than connection.failed.authentication.delay.ms,
// and the connection closes; a re-authentication as another user fails the same way.
func TestFailedAuthenticationIsDelayed(t *testing.T) {
	const delay = 50 * time.Millisecond
	f := newSecurityFixture(t, 0, delay)
	ci := newConnInfo()
	start := time.Now()
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.SetVersion(1)
	hs.Mechanism = sasl.Plain
	f.send(ci, hs)
	au := kmsg.NewPtrSASLAuthenticateRequest()
	au.SetVersion(1)
	au.SASLAuthBytes = []byte("\x00alice\x00wrong")
	r := f.send(ci, au)
	if took := time.Since(start); took < delay {
		t.Errorf("answered after %v, before the %v delay", took, delay)
	}
	resp := r.Msg.(*kmsg.SASLAuthenticateResponse)
	if !errors.Is(kerr.ErrorForCode(resp.ErrorCode), kerr.SaslAuthenticationFailed) || !r.Close {
		t.Errorf("wrong password: %s, close %v", kerr.ErrorForCode(resp.ErrorCode), r.Close)
	}

	ci = newConnInfo()
	if resp := f.login(t, ci, "alice", "pw"); resp.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(resp.ErrorCode))
	}
	if resp := f.login(t, ci, "bob", "pw2"); resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Errorf("re-authentication as another user: %s", kerr.ErrorForCode(resp.ErrorCode))
	}
	if got := principalOf(&server.Request{Conn: ci}); got != "User:alice" {
		t.Errorf("principal after a refused re-authentication: %q", got)
	}
}
