// SaslAuthenticate (key 36), versions 0-2.
//
// Behaviour: carries one step of the SASL exchange SaslHandshake started (PLAIN: one
// step; SCRAM-SHA-256/512: two) and answers the server's bytes. When the exchange
// completes, the connection's principal is User:<name>, and from v1 the answer carries
// the session lifetime, connections.max.reauth.ms (0 when sessions do not expire); the
// client re-authenticates within it with a new handshake. A re-authentication that
// changes the mechanism or the principal fails.
// Errors: SASL_AUTHENTICATION_FAILED (wrong password, unknown user, malformed message),
// answered after connection.failed.authentication.delay.ms, after which the connection
// closes; ILLEGAL_SASL_STATE without a handshake (closed), or on a listener without SASL
// (open, as in Kafka).
package api

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/sasl"
	"github.com/sluicehq/sluice/internal/auth/tlsconfig"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) saslAuthenticate(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.SASLAuthenticateRequest)
	resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	sec := h.Security
	ls := sec.listener(req.Conn.Listener)
	if ls == nil || ls.SASL == nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		msg := "SaslAuthenticate request received on a listener without SASL"
		resp.ErrorMessage = &msg
		return &server.Reply{Msg: resp}
	}
	st := sec.conn(req.Conn)
	st.mu.Lock()
	defer st.mu.Unlock()
	sess := st.sess
	if sess == nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		msg := "Unexpected SaslAuthenticate request without a SaslHandshake"
		resp.ErrorMessage = &msg
		sec.logger().Info("closing connection: SaslAuthenticate without a handshake",
			"listener", req.Conn.Listener, "remote", req.Conn.Remote.String())
		return &server.Reply{Msg: resp, Close: true}
	}
	out, done, principal, err := sess.Step(r.SASLAuthBytes)
	if err == nil && done && st.principal != "" && st.principal != tlsconfig.Anonymous {
		err = sasl.CheckReauthentication(st.mechanism, st.principal, sess.Mechanism(), principal)
	}
	if err != nil {
		st.sess = nil
		return h.authenticationFailed(req, resp, err)
	}
	resp.SASLAuthBytes = out
	if !done {
		return &server.Reply{Msg: resp}
	}
	st.sess = nil
	st.principal, st.mechanism = principal, sess.Mechanism()
	st.expires = time.Time{}
	if sec.SessionLifetime > 0 {
		st.expires = sec.now().Add(sec.SessionLifetime)
		resp.SessionLifetimeMillis = sec.SessionLifetime.Milliseconds()
	}
	sec.logger().Debug("authenticated", "listener", req.Conn.Listener, "remote", req.Conn.Remote.String(),
		"principal", principal, "mechanism", sess.Mechanism())
	return &server.Reply{Msg: resp}
}

// authenticationFailed answers a failed exchange after connection.failed.authentication.delay.ms
// and closes the connection; the reason is logged, never sent.
func (h *handlers) authenticationFailed(req *server.Request, resp *kmsg.SASLAuthenticateResponse, err error) *server.Reply {
	sec := h.Security
	code, msg, detail := kerr.SaslAuthenticationFailed, err.Error(), err.Error()
	var se *sasl.Error
	if errors.As(err, &se) {
		code, msg, detail = se.Code, se.Message, se.Detail()
	}
	resp.ErrorCode, resp.ErrorMessage = code.Code, &msg
	sec.logger().Info("authentication failed; closing connection", "listener", req.Conn.Listener,
		"remote", req.Conn.Remote.String(), "err", detail)
	delay := sec.FailedAuthDelay
	return &server.Reply{Then: func(ctx context.Context) *server.Reply {
		if delay > 0 {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
		return &server.Reply{Msg: resp, Close: true}
	}}
}
