// Package server is Sluice's Kafka protocol server: listeners, connections,
// framing, request decoding with kmsg, dispatch to a Handler, pipelining
// with responses in request order, and response writing (writev for bytes,
// sendfile for file regions).
//
// One connection is served by two goroutines. The reader reads frames,
// decodes them and calls Handler.Handle one request at a time, in order;
// the writer writes the replies in the same order. Between them sits a
// bounded queue of replies in flight: when it is full the reader stops
// reading, which pushes back on the client through TCP. A reply whose
// answer is not ready yet (Reply.Then) is resolved on its own goroutine, so
// the waits of pipelined requests overlap while their replies still leave
// in order.
//
// Quotas reach the connection in two ways. A handler that throttles a
// client mutes its connection (ConnInfo.Mute): the reader handles nothing
// more from it until the throttle time has passed, as Kafka mutes a
// throttled channel (KIP-219), so a client that ignores throttle_time_ms is
// held to its rate anyway. And the accept loops apply Kafka's connection
// limits (Config.Limits: max.connections, max.connections.per.ip and its
// overrides; limits.go).
//
// Bad input never panics the broker: frames that Kafka refuses close the
// connection with a log line, as Kafka's SocketServer does, and a panic in
// a handler is recovered, logged with its stack and closes only that
// connection.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults, with Kafka's values where Kafka has the setting.
const (
	// DefaultMaxRequestBytes is socket.request.max.bytes.
	DefaultMaxRequestBytes = 100 * 1024 * 1024
	// DefaultMaxInFlight bounds the replies queued per connection.
	DefaultMaxInFlight = 100
	// DefaultConnectionsMaxIdle is connections.max.idle.ms.
	DefaultConnectionsMaxIdle = 10 * time.Minute
	// DefaultShutdownTimeout bounds how long Close lets in-flight replies
	// finish.
	DefaultShutdownTimeout = 10 * time.Second
)

// Listener is one address to accept connections on.
type Listener struct {
	// Name is Kafka's listener name (PLAINTEXT, INTERNAL, ...), reported to
	// handlers in ConnInfo.Listener and used in logs and metrics.
	Name string
	// Addr is host:port; port 0 picks a free port (see Server.Addrs).
	Addr string
	// Listener, when set, is used instead of listening on Addr: the broker passes the
	// Kafka share of a listener it splits with Raft (internal/demux). The server closes
	// it on shutdown.
	Listener net.Listener
}

// Config configures a Server. Handler and at least one listener are
// required; zero values elsewhere mean the default.
type Config struct {
	Listeners []Listener
	// MaxRequestBytes is socket.request.max.bytes: a frame larger than this
	// (or with a negative size) closes the connection, as Kafka's
	// InvalidReceiveException does.
	MaxRequestBytes int
	// MaxInFlight bounds the replies queued on one connection; when
	// reached, the connection's reader stops reading until the writer has
	// caught up.
	MaxInFlight int
	// ConnectionsMaxIdle is connections.max.idle.ms: a connection on which
	// no request arrives for this long is closed. Negative disables it.
	ConnectionsMaxIdle time.Duration
	// ShutdownTimeout is how long Close lets in-flight replies finish
	// before it closes connections anyway.
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	Handler         Handler
	Metrics         Metrics
	// Limits bounds the connections the server keeps open (nil: no bound).
	Limits *ConnectionLimits
}

// Server accepts Kafka connections and serves them with a Handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	ranger  VersionRanger
	metrics Metrics

	// ctx is the parent of every connection's context; cancel ends them
	// all (the hard stop after a graceful shutdown times out).
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	started   bool
	closed    bool
	listeners []boundListener
	conns     map[*conn]struct{}

	stopping atomic.Bool // set once Shutdown begins: readers stop reading
	acceptWG sync.WaitGroup
	connWG   sync.WaitGroup
	nextID   atomic.Uint64

	// sendfileBytes counts bytes sent with sendfile, for tests and
	// (later) metrics.
	sendfileBytes atomic.Int64

	// frames recycles the frames of Produce requests (framepool.go).
	frames framePool

	// counts are the open connections, for Config.Limits (limits.go).
	counts connCounts
	// quit is closed when Shutdown begins, to wake accept loops waiting
	// for a connection slot.
	quit chan struct{}
}

type boundListener struct {
	name string
	ln   net.Listener
}

// New checks cfg and returns a Server that is not yet listening.
func New(cfg Config) (*Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("server: Config.Handler is required")
	}
	if len(cfg.Listeners) == 0 {
		return nil, errors.New("server: at least one listener is required")
	}
	seen := make(map[string]bool)
	for _, l := range cfg.Listeners {
		if l.Name == "" {
			return nil, fmt.Errorf("server: listener %q has no name", l.Addr)
		}
		if seen[l.Name] {
			return nil, fmt.Errorf("server: listener name %q used twice", l.Name)
		}
		seen[l.Name] = true
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.ConnectionsMaxIdle == 0 {
		cfg.ConnectionsMaxIdle = DefaultConnectionsMaxIdle
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NopMetrics{}
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: cfg.Metrics,
		conns:   make(map[*conn]struct{}),
		quit:    make(chan struct{}),
	}
	s.counts.init()
	s.ranger, _ = cfg.Handler.(VersionRanger)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Start binds every listener and starts accepting connections. It returns
// once all listeners are bound, or the first bind error (after closing the
// ones already bound).
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("server: Start after Close")
	}
	if s.started {
		return nil
	}
	var bound []boundListener
	for _, l := range s.cfg.Listeners {
		ln, err := l.Listener, error(nil)
		if ln == nil {
			ln, err = net.Listen("tcp", l.Addr)
		}
		if err != nil {
			for _, b := range bound {
				b.ln.Close()
			}
			return fmt.Errorf("server: listen on %s (%s): %w", l.Addr, l.Name, err)
		}
		bound = append(bound, boundListener{name: l.Name, ln: ln})
	}
	s.listeners = bound
	s.started = true
	for _, b := range bound {
		s.log.Info("listening", "listener", b.name, "addr", b.ln.Addr().String())
		s.acceptWG.Add(1)
		go s.accept(b)
	}
	return nil
}

// Addrs returns the bound addresses, in the order of Config.Listeners (nil
// before Start).
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	addrs := make([]net.Addr, len(s.listeners))
	for i, b := range s.listeners {
		addrs[i] = b.ln.Addr()
	}
	return addrs
}

// Serve starts the server if needed, serves until ctx is done, then shuts
// down gracefully within Config.ShutdownTimeout.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	return s.Close()
}

// Close shuts down gracefully within Config.ShutdownTimeout.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	return s.Shutdown(ctx)
}

// Shutdown stops accepting connections and reading requests, lets the
// replies already in flight be written, and closes every connection. When
// ctx ends first, it cancels the handlers' contexts, closes the remaining
// connections at once and returns ctx's error. It waits for every
// connection goroutine to end, so handlers must honour their context.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.connWG.Wait()
		return nil
	}
	s.closed = true
	s.stopping.Store(true)
	close(s.quit)
	for _, b := range s.listeners {
		b.ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	s.acceptWG.Wait()
	for _, c := range conns {
		c.stopReading()
	}
	done := make(chan struct{})
	go func() {
		s.connWG.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("server: shutdown: in-flight replies did not finish: %w", ctx.Err())
		s.log.Warn("shutdown deadline reached; closing connections with replies in flight")
		s.cancel()
		for _, c := range conns {
			c.nc.Close()
		}
		<-done
	}
	s.cancel()
	s.log.Info("server stopped")
	return err
}

// accept accepts connections on one listener until it is closed.
func (s *Server) accept(b boundListener) {
	defer s.acceptWG.Done()
	var backoff time.Duration
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: keep the listener, slow down (as
			// net/http does) rather than spin.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
			s.log.Warn("accept failed; retrying", "listener", b.name, "err", err, "backoff", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		backoff = 0
		ip, ok := s.admit(b.name, nc)
		if !ok {
			continue
		}
		s.serveConn(b.name, nc, ip)
	}
}

func (s *Server) serveConn(listener string, nc net.Conn, ip netip.Addr) {
	c := newConn(s, listener, nc)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.counts.dec(ip)
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	s.mu.Unlock()
	s.metrics.ConnectionOpened(listener)
	go func() {
		defer s.connWG.Done()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.counts.dec(ip)
		s.metrics.ConnectionClosed(listener)
	}()
}
