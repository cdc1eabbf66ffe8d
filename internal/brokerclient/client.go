// Package brokerclient sends Kafka requests from one Sluice broker to another: the
// transaction coordinator's WriteTxnMarkers, and any other broker-to-broker call that
// is a Kafka API. It keeps one connection per address and one request in flight on it
// at a time, as Kafka's inter-broker send threads do, and frames requests with kmsg.
package brokerclient

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
)

// Client sends requests to brokers by address.
type Client struct {
	fmt  *kmsg.RequestFormatter
	dial DialFunc

	mu    sync.Mutex
	conns map[string]*conn
}

type conn struct {
	mu   sync.Mutex // one request at a time
	raw  net.Conn
	rw   *bufio.ReadWriter
	corr int32
}

// DialFunc opens a connection to the inter-broker listener of the broker at addr: TCP,
// with TLS over it when that listener takes TLS, authenticated with SASL when it takes
// SASL, ready for Kafka requests.
type DialFunc func(ctx context.Context, addr string) (net.Conn, error)

// New returns a client that names itself clientID in request headers and dials plain
// TCP.
func New(clientID string) *Client { return NewWithDial(clientID, nil) }

// NewWithDial is New with dial opening its connections (nil: plain TCP).
func NewWithDial(clientID string, dial DialFunc) *Client {
	if dial == nil {
		dial = func(ctx context.Context, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: 5 * time.Second}
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	return &Client{fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID)), dial: dial, conns: map[string]*conn{}}
}

// Dial is how the client opens its connections, for another client to the same
// brokers.
func (c *Client) Dial() DialFunc { return c.dial }

// Close closes every connection.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for addr, cn := range c.conns {
		if cn.raw != nil {
			cn.raw.Close()
		}
		delete(c.conns, addr)
	}
}

// Request sends req to the broker at addr and returns its response. The request's
// version must be set; a failed exchange closes the connection, and the next request
// dials again.
func (c *Client) Request(ctx context.Context, addr string, req kmsg.Request) (kmsg.Response, error) {
	c.mu.Lock()
	cn := c.conns[addr]
	if cn == nil {
		cn = &conn{}
		c.conns[addr] = cn
	}
	c.mu.Unlock()

	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.raw == nil {
		raw, err := c.dial(ctx, addr)
		if err != nil {
			return nil, err
		}
		cn.raw, cn.rw = raw, bufio.NewReadWriter(bufio.NewReader(raw), bufio.NewWriter(raw))
	}
	resp, err := cn.roundTrip(ctx, c.fmt, req)
	if err != nil {
		cn.raw.Close()
		cn.raw, cn.rw = nil, nil
		return nil, fmt.Errorf("%s to %s: %w", kmsg.NameForKey(req.Key()), addr, err)
	}
	return resp, nil
}

func (cn *conn) roundTrip(ctx context.Context, f *kmsg.RequestFormatter, req kmsg.Request) (kmsg.Response, error) {
	cn.corr++
	buf := f.AppendRequest(nil, req, cn.corr)
	deadline := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	raw := cn.raw // a failed exchange clears cn.raw while the AfterFunc may run
	_ = raw.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Now()) })
	defer stop()
	if _, err := cn.rw.Write(buf); err != nil {
		return nil, err
	}
	if err := cn.rw.Flush(); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(cn.rw, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 1<<30 {
		return nil, fmt.Errorf("response of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(cn.rw, body); err != nil {
		return nil, err
	}
	rd := kbin.Reader{Src: body}
	if corr := rd.Int32(); corr != cn.corr {
		return nil, fmt.Errorf("response to request %d, want %d", corr, cn.corr)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	// ApiVersions answers with a v0 header whatever its version; every other
	// flexible response's header carries tagged fields.
	if resp.IsFlexible() && req.Key() != 18 {
		for k := rd.Uvarint(); k > 0; k-- {
			rd.Uvarint()
			rd.Span(int(rd.Uvarint()))
		}
	}
	if !rd.Ok() {
		return nil, errors.New("truncated response header")
	}
	if err := resp.ReadFrom(rd.Src); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	return resp, nil
}

// Authenticate runs SASL with mechanism on a new connection c to a broker at host, as a
// Kafka client does before its first request: SaslHandshake v1 naming the mechanism,
// then SaslAuthenticate v1 exchanges until the mechanism is done. A DialFunc calls it
// for a SASL listener.
func Authenticate(ctx context.Context, c net.Conn, clientID, host string, mechanism sasl.Mechanism) error {
	cn := &conn{raw: c, rw: bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))}
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID))
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version = 1
	hs.Mechanism = mechanism.Name()
	resp, err := cn.roundTrip(ctx, f, hs)
	if err != nil {
		return fmt.Errorf("SaslHandshake: %w", err)
	}
	if err := kerr.ErrorForCode(resp.(*kmsg.SASLHandshakeResponse).ErrorCode); err != nil {
		return fmt.Errorf("SaslHandshake %s: %w", mechanism.Name(), err)
	}
	session, out, err := mechanism.Authenticate(ctx, host)
	if err != nil {
		return fmt.Errorf("SASL %s: %w", mechanism.Name(), err)
	}
	for {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.Version = 1
		req.SASLAuthBytes = out
		resp, err := cn.roundTrip(ctx, f, req)
		if err != nil {
			return fmt.Errorf("SaslAuthenticate: %w", err)
		}
		r := resp.(*kmsg.SASLAuthenticateResponse)
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			msg := ""
			if r.ErrorMessage != nil {
				msg = ": " + *r.ErrorMessage
			}
			return fmt.Errorf("SASL %s: %w%s", mechanism.Name(), err, msg)
		}
		done, next, err := session.Challenge(r.SASLAuthBytes)
		if err != nil {
			return fmt.Errorf("SASL %s: %w", mechanism.Name(), err)
		}
		if done {
			_ = c.SetDeadline(time.Time{})
			return nil
		}
		out = next
	}
}

// Addr joins a host and port.
func Addr(host string, port int32) string { return net.JoinHostPort(host, strconv.Itoa(int(port))) }
