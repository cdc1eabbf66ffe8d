// Package demux shares one TCP listener between the Kafka protocol and Sluice's own
// node-to-node traffic: Raft and the controller's RPCs.
//
// A Kafka connection opens with a request whose first four bytes are its big-endian
// size. Sluice's internal dialers instead open with one prefix byte, chosen so that no
// Kafka frame can start with it: RaftPrefix ('R') as a size's high byte would announce a
// request of at least 1.3 GiB, far above socket.request.max.bytes. So the first byte of a
// connection tells the two apart, and a cluster needs no ports beyond Kafka's own
// listeners (the CONTROLLER listener on controllers, the inter-broker listener on
// brokers).
//
// The first byte is peeked, not read, on a Kafka connection: the server gets the
// original *net.TCPConn, so sendfile and its other fast paths stay in place.
//
// On a listener that takes TLS (SSL, SASL_SSL) the prefix still travels in the clear, as
// the first byte of the TCP stream, and TLS follows it (DialTLS, TLS): a Kafka client's
// ClientHello opens with 0x16, never a prefix, so Kafka connections are told apart before
// any handshake and keep going to the Kafka share untouched, for the server to wrap. The
// prefix says only which protocol follows, as a port number would. On SASL_PLAINTEXT a SASL
// login follows the prefix instead (Authenticated).
package demux

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// The prefixes of Sluice's internal connections.
const (
	// RaftPrefix opens a connection of hashicorp/raft's network transport.
	RaftPrefix byte = 'R'
	// ControlPrefix opens a connection of controller RPCs (broker registration,
	// heartbeats, forwarded metadata changes).
	ControlPrefix byte = 'C'
)

// firstByteTimeout bounds how long an accepted connection may stay silent before it is
// dropped; Kafka clients and Sluice's dialers all write at once.
const firstByteTimeout = 30 * time.Second

// Listener splits one net.Listener by the first byte of each connection.
type Listener struct {
	inner  net.Listener
	logger *slog.Logger

	kafka *sub
	subs  map[byte]*sub

	closeOnce sync.Once
	done      chan struct{}
	wg        sync.WaitGroup
}

// New starts splitting l. Connections that open with one of prefixes go, with the
// prefix consumed, to Prefixed(prefix); all others, untouched, to Kafka().
func New(l net.Listener, logger *slog.Logger, prefixes ...byte) *Listener {
	if logger == nil {
		logger = slog.Default()
	}
	d := &Listener{inner: l, logger: logger, subs: map[byte]*sub{}, done: make(chan struct{})}
	d.kafka = newSub(l.Addr())
	for _, p := range prefixes {
		d.subs[p] = newSub(l.Addr())
	}
	d.wg.Add(1)
	go d.acceptLoop()
	return d
}

// Addr is the address of the shared listener.
func (d *Listener) Addr() net.Addr { return d.inner.Addr() }

// Kafka returns the listener of Kafka-protocol connections. Closing it stops only its
// own share; Close stops all.
func (d *Listener) Kafka() net.Listener { return d.kafka }

// Prefixed returns the listener of connections that opened with prefix (which New must
// have been given), or nil.
func (d *Listener) Prefixed(prefix byte) net.Listener {
	if s, ok := d.subs[prefix]; ok {
		return s
	}
	return nil
}

// Close closes the shared listener and every share of it.
func (d *Listener) Close() error {
	var err error
	d.closeOnce.Do(func() {
		close(d.done)
		err = d.inner.Close()
		d.wg.Wait()
		d.kafka.Close()
		for _, s := range d.subs {
			s.Close()
		}
	})
	return err
}

func (d *Listener) acceptLoop() {
	defer d.wg.Done()
	var backoff time.Duration
	for {
		c, err := d.inner.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			d.logger.Warn("accept failed; retrying", "addr", d.inner.Addr(), "err", err, "backoff", backoff)
			select {
			case <-time.After(backoff):
			case <-d.done:
				return
			}
			continue
		}
		backoff = 0
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.route(c)
		}()
	}
}

// route peeks at c's first byte and hands c to its share.
func (d *Listener) route(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(firstByteTimeout))
	b, err := peekByte(c)
	if err != nil {
		c.Close()
		return
	}
	s, prefixed := d.subs[b]
	if prefixed {
		// Consume the prefix the peek left in place.
		var one [1]byte
		if _, err := c.Read(one[:]); err != nil {
			c.Close()
			return
		}
	} else {
		s = d.kafka
	}
	_ = c.SetReadDeadline(time.Time{})
	if !s.deliver(c, d.done) {
		c.Close()
	}
}

// sub is one share of the split listener.
type sub struct {
	addr      net.Addr
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newSub(addr net.Addr) *sub {
	return &sub{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (s *sub) deliver(c net.Conn, done <-chan struct{}) bool {
	select {
	case s.conns <- c:
		return true
	case <-s.closed:
		return false
	case <-done:
		return false
	}
}

func (s *sub) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.closed:
		return nil, fmt.Errorf("accept on %s: %w", s.addr, net.ErrClosed)
	}
}

func (s *sub) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return nil
}

func (s *sub) Addr() net.Addr { return s.addr }

// Dial connects to addr and opens the connection with prefix, for the Prefixed
// listener of the node there.
func Dial(network, addr string, prefix byte, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return nil, err
	}
	_ = c.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte{prefix}); err != nil {
		c.Close()
		return nil, fmt.Errorf("open %q connection to %s: %w", prefix, addr, err)
	}
	_ = c.SetWriteDeadline(time.Time{})
	return c, nil
}

// DialTLS is Dial for a listener that takes TLS: the prefix goes first, in the clear, and
// TLS with config (the node's own certificate, mutual TLS) then carries every byte of the
// connection. The handshake completes within timeout.
func DialTLS(network, addr string, prefix byte, timeout time.Duration, config *tls.Config) (net.Conn, error) {
	c, err := Dial(network, addr, prefix, timeout)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(c, config)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS handshake of %q connection to %s: %w", prefix, addr, err)
	}
	return tc, nil
}

// TLS wraps a prefixed share of a listener that takes TLS (SSL, SASL_SSL): each
// connection accepted, its prefix already consumed in the clear, continues as the server
// side of TLS with config, and must present a client certificate the listener's
// truststore verifies, whatever ssl.client.auth says: Raft and controller RPCs are
// accepted only from authenticated nodes. The handshake runs on the connection's first
// read or write, in the goroutine that serves it, so a silent peer never holds up Accept.
func TLS(share net.Listener, config *tls.Config) net.Listener {
	c := config.Clone()
	c.ClientAuth = tls.RequireAndVerifyClientCert
	return &tlsShare{Listener: share, config: c}
}

type tlsShare struct {
	net.Listener
	config *tls.Config
}

func (l *tlsShare) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(c, l.config), nil
}

// loginTimeout bounds a SASL login on a prefixed share (Authenticated).
const loginTimeout = 10 * time.Second

// Authenticated wraps a prefixed share of a SASL_PLAINTEXT listener: each connection
// accepted must first pass login (a SASL exchange, which returns an error for a peer
// that is not let in) before any of its bytes reach the share's server. As with TLS,
// login runs on the connection's first read or write, in the goroutine that serves it,
// so a silent peer never holds up Accept; a refused connection is closed.
func Authenticated(share net.Listener, login func(net.Conn) error) net.Listener {
	return &authShare{Listener: share, login: login}
}

type authShare struct {
	net.Listener
	login func(net.Conn) error
}

func (l *authShare) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &authConn{Conn: c, login: l.login}, nil
}

// authConn runs its login once, before the first read or write.
type authConn struct {
	net.Conn
	login func(net.Conn) error
	once  sync.Once
	err   error
}

func (c *authConn) handshake() error {
	c.once.Do(func() {
		_ = c.Conn.SetDeadline(time.Now().Add(loginTimeout))
		if c.err = c.login(c.Conn); c.err != nil {
			c.err = fmt.Errorf("login of %s: %w", c.Conn.RemoteAddr(), c.err)
			c.Conn.Close()
			return
		}
		_ = c.Conn.SetDeadline(time.Time{})
	})
	return c.err
}

func (c *authConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *authConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
