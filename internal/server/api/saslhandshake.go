// SaslHandshake (key 17), versions 0-1.
//
// Behaviour: on a SASL_PLAINTEXT or SASL_SSL listener, starts a SASL exchange with the
// mechanism the client names, if sasl.enabled.mechanisms (or the listener's own) has it,
// and answers the enabled mechanisms; SaslAuthenticate requests then carry the exchange.
// A handshake on an authenticated connection starts a re-authentication (KIP-368), which
// must keep the mechanism and the principal. v0 is advertised because librdkafka asks for
// it before it uses SaslHandshake at all, but the raw SASL frames a v0 client sends after
// it are not understood: such a client's connection closes. Every client of the last
// years sends v1.
// Errors: UNSUPPORTED_SASL_MECHANISM (with the enabled mechanisms; the connection then
// closes), ILLEGAL_SASL_STATE on a listener without SASL (the connection stays open, as in
// Kafka) or for a second handshake before SaslAuthenticate (closed).
package api

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/sasl"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) saslHandshake(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.SASLHandshakeRequest)
	resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
	sec := h.Security
	ls := sec.listener(req.Conn.Listener)
	if ls == nil || ls.SASL == nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return &server.Reply{Msg: resp}
	}
	resp.SupportedMechanisms = ls.SASL.Mechanisms()
	st := sec.conn(req.Conn)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.sess != nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		sec.logger().Info("closing connection: second SaslHandshake before SaslAuthenticate",
			"listener", req.Conn.Listener, "remote", req.Conn.Remote.String())
		return &server.Reply{Msg: resp, Close: true}
	}
	sess, err := ls.SASL.Start(r.Mechanism)
	if err != nil {
		code := kerr.UnsupportedSaslMechanism
		var se *sasl.Error
		if errors.As(err, &se) {
			code = se.Code
		}
		resp.ErrorCode = code.Code
		sec.logger().Info("closing connection: SASL mechanism not enabled", "listener", req.Conn.Listener,
			"remote", req.Conn.Remote.String(), "mechanism", r.Mechanism)
		return &server.Reply{Msg: resp, Close: true}
	}
	st.sess = sess
	return &server.Reply{Msg: resp}
}
