package sasl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxExchangeFrame bounds one request of a ServeExchange: SASL messages are small (a
// SCRAM client-final message is about 200 bytes).
const maxExchangeFrame = 64 << 10

// ServeExchange runs the server side of a SASL login on rw, a connection that carries
// nothing else until the login is done: Sluice's Raft and controller RPC connections on
// a SASL_PLAINTEXT listener, whose dialer logs in as a Kafka client does
// (brokerclient.Authenticate). It reads Kafka-framed requests, SaslHandshake v0-1 and then
// SaslAuthenticate v0-1 until the mechanism is done, answers each, and returns the
// authenticated principal ("User:<name>"). Any other request, a mechanism that is not
// enabled or a failed login ends it with an error, after the answer that says so where
// there is one; the caller then closes the connection.
func (a *Authenticator) ServeExchange(rw io.ReadWriter) (string, error) {
	var sess Session
	for {
		key, version, corr, body, err := readExchangeRequest(rw)
		if err != nil {
			return "", err
		}
		switch {
		case sess == nil && key == 17 && version <= 1:
			req := kmsg.NewPtrSASLHandshakeRequest()
			req.Version = version
			if err := req.ReadFrom(body); err != nil {
				return "", fmt.Errorf("SaslHandshake: %w", err)
			}
			resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
			resp.SupportedMechanisms = a.Mechanisms()
			sess, err = a.Start(req.Mechanism)
			if err != nil {
				resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
			}
			if werr := writeExchangeResponse(rw, corr, resp); werr != nil || err != nil {
				return "", errors.Join(err, werr)
			}
		case sess != nil && key == 36 && version <= 1:
			req := kmsg.NewPtrSASLAuthenticateRequest()
			req.Version = version
			if err := req.ReadFrom(body); err != nil {
				return "", fmt.Errorf("SaslAuthenticate: %w", err)
			}
			resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
			out, done, principal, err := sess.Step(req.SASLAuthBytes)
			if err != nil {
				resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
				var se *Error
				if errors.As(err, &se) && se.Code != nil {
					resp.ErrorCode = se.Code.Code
				}
				msg := err.Error()
				resp.ErrorMessage = &msg
			}
			resp.SASLAuthBytes = out
			if werr := writeExchangeResponse(rw, corr, resp); werr != nil || err != nil {
				return "", errors.Join(err, werr)
			}
			if done {
				return principal, nil
			}
		default:
			return "", fmt.Errorf("request key %d v%d where a SASL login was expected", key, version)
		}
	}
}

// readExchangeRequest reads one request with a v1 header (api key, version, correlation
// id, client id), as the non-flexible SASL versions have.
func readExchangeRequest(r io.Reader) (key, version int16, corr int32, body []byte, err error) {
	var size [4]byte
	if _, err = io.ReadFull(r, size[:]); err != nil {
		return 0, 0, 0, nil, fmt.Errorf("read SASL request: %w", err)
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 10 || n > maxExchangeFrame {
		return 0, 0, 0, nil, fmt.Errorf("SASL request of %d bytes: want 10 to %d", n, maxExchangeFrame)
	}
	buf := make([]byte, n)
	if _, err = io.ReadFull(r, buf); err != nil {
		return 0, 0, 0, nil, fmt.Errorf("read SASL request: %w", err)
	}
	key = int16(binary.BigEndian.Uint16(buf))
	version = int16(binary.BigEndian.Uint16(buf[2:]))
	corr = int32(binary.BigEndian.Uint32(buf[4:]))
	idLen := int(int16(binary.BigEndian.Uint16(buf[8:])))
	rest := buf[10:]
	if idLen > 0 {
		if idLen > len(rest) {
			return 0, 0, 0, nil, errors.New("SASL request: client id past the end")
		}
		rest = rest[idLen:]
	}
	return key, version, corr, rest, nil
}

// writeExchangeResponse writes a response with a v0 header (the correlation id).
func writeExchangeResponse(w io.Writer, corr int32, resp kmsg.Response) error {
	buf := make([]byte, 8, 64)
	binary.BigEndian.PutUint32(buf[4:], uint32(corr))
	buf = resp.AppendTo(buf)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write SASL response: %w", err)
	}
	return nil
}
