package sasl_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	kgosasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluicehq/sluice/internal/auth/sasl"
	"github.com/sluicehq/sluice/internal/brokerclient"
)

// serve runs ServeExchange on one end of a pipe and the client's login on the other.
func serve(t *testing.T, auth *sasl.Authenticator, login func(c net.Conn) error) (principal string, serverErr, clientErr error) {
	t.Helper()
	s, c := net.Pipe()
	defer s.Close()
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	_ = s.SetDeadline(deadline)
	_ = c.SetDeadline(deadline)
	done := make(chan struct{})
	go func() {
		defer close(done)
		principal, serverErr = auth.ServeExchange(s)
		if serverErr != nil {
			s.Close() // as the caller does: the client then sees the end
		}
	}()
	clientErr = login(c)
	c.Close()
	<-done
	return principal, serverErr, clientErr
}

func TestServeExchange(t *testing.T) {
	auth, err := sasl.New(sasl.Config{Mechanisms: []string{sasl.Plain}, Plain: sasl.StaticUsers{"broker": "broker-pw"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	loginWith := func(m kgosasl.Mechanism) func(net.Conn) error {
		return func(c net.Conn) error { return brokerclient.Authenticate(ctx, c, "test", "127.0.0.1", m) }
	}

	p, serr, cerr := serve(t, auth, loginWith(plain.Auth{User: "broker", Pass: "broker-pw"}.AsMechanism()))
	if serr != nil || cerr != nil || p != "User:broker" {
		t.Fatalf("good login: principal %q, server %v, client %v", p, serr, cerr)
	}

	p, serr, cerr = serve(t, auth, loginWith(plain.Auth{User: "broker", Pass: "wrong"}.AsMechanism()))
	if serr == nil || cerr == nil || !strings.Contains(cerr.Error(), "SASL_AUTHENTICATION_FAILED") || p != "" {
		t.Fatalf("wrong password: principal %q, server %v, client %v", p, serr, cerr)
	}

	// A mechanism the listener does not enable.
	p, serr, cerr = serve(t, auth, loginWith(fakeMechanism("SCRAM-SHA-256")))
	if serr == nil || cerr == nil || !strings.Contains(cerr.Error(), "UNSUPPORTED_SASL_MECHANISM") || p != "" {
		t.Fatalf("mechanism not enabled: principal %q, server %v, client %v", p, serr, cerr)
	}

	// Bytes that are no SASL request: Raft's own, say, sent without a login.
	for _, raw := range [][]byte{
		[]byte("\x00\x00\x00\x0cRAFT-RPC-v1!"),                              // a frame of another API
		{0x7f, 0xff, 0xff, 0xff},                                            // a huge frame
		binary.BigEndian.AppendUint32(nil, 2),                               // a frame too short for a header
		append(binary.BigEndian.AppendUint32(nil, 12), make([]byte, 12)...), // api key 0 (Produce)
	} {
		p, serr, _ = serve(t, auth, func(c net.Conn) error { _, err := c.Write(raw); return err })
		if serr == nil || p != "" {
			t.Errorf("raw %q: principal %q, server error %v; want a refusal", raw, p, serr)
		}
	}
}

// fakeMechanism names a mechanism and sends one empty message.
type fakeMechanism string

func (m fakeMechanism) Name() string { return string(m) }
func (m fakeMechanism) Authenticate(context.Context, string) (kgosasl.Session, []byte, error) {
	return fakeSession{}, nil, nil
}

type fakeSession struct{}

func (fakeSession) Challenge([]byte) (bool, []byte, error) { return true, nil, nil }

// FuzzServeExchange: whatever a peer sends, ServeExchange ends (with an error or a
// principal) without panicking, and lets in only a peer that logged in as a user.
func FuzzServeExchange(f *testing.F) {
	frame := func(key, version int16, body []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(10+len(body)))
		b = binary.BigEndian.AppendUint16(b, uint16(key))
		b = binary.BigEndian.AppendUint16(b, uint16(version))
		b = binary.BigEndian.AppendUint32(b, 7)
		b = binary.BigEndian.AppendUint16(b, 0xffff) // null client id
		return append(b, body...)
	}
	hs := frame(17, 1, append([]byte{0, 5}, "PLAIN"...))
	good := append(append([]byte{}, hs...), frame(36, 1, append([]byte{0, 0, 0, 17}, "\x00broker\x00broker-pw"...))...)
	if p, err := newFuzzAuth(f).ServeExchange(&fuzzConn{in: good}); err != nil || p != "User:broker" {
		f.Fatalf("the good seed does not log in: %q, %v", p, err)
	}
	f.Add(hs)
	f.Add(good)
	f.Add(frame(36, 0, nil))
	f.Add([]byte{0, 0, 0, 10, 0, 17, 0, 1, 0, 0, 0, 1, 0x7f, 0xff})
	auth := newFuzzAuth(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		rw := &fuzzConn{in: in}
		principal, err := auth.ServeExchange(rw)
		if err == nil && principal != "User:broker" {
			t.Fatalf("let in %q", principal)
		}
	})
}

func newFuzzAuth(f *testing.F) *sasl.Authenticator {
	auth, err := sasl.New(sasl.Config{Mechanisms: []string{sasl.Plain}, Plain: sasl.StaticUsers{"broker": "broker-pw"}})
	if err != nil {
		f.Fatal(err)
	}
	return auth
}

// fuzzConn reads from in and discards writes.
type fuzzConn struct{ in []byte }

func (c *fuzzConn) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.in)
	c.in = c.in[n:]
	return n, nil
}

func (c *fuzzConn) Write(p []byte) (int, error) { return len(p), nil }
