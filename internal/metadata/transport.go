package metadata

import (
	"net"
	"time"

	"github.com/hashicorp/raft"
	"github.com/sluicehq/sluice/internal/demux"
)

// streamLayer carries Raft's network transport over the Raft share of a split listener
// (internal/demux): it accepts the connections that opened with demux.RaftPrefix and
// dials others with that prefix. advertised is the address other nodes reach this one
// at, which may differ from the bound one (a wildcard host, say).
type streamLayer struct {
	ln         net.Listener
	advertised net.Addr
	dial       func(addr string, prefix byte, timeout time.Duration) (net.Conn, error)
}

func (s *streamLayer) Accept() (net.Conn, error) { return s.ln.Accept() }
func (s *streamLayer) Close() error              { return s.ln.Close() }
func (s *streamLayer) Addr() net.Addr            { return s.advertised }

func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return s.dial(string(addr), demux.RaftPrefix, timeout)
}

// dialer is cfg.Dial, or a plain demux.Dial when it is nil.
func dialer(cfg Config) func(addr string, prefix byte, timeout time.Duration) (net.Conn, error) {
	if cfg.Dial != nil {
		return cfg.Dial
	}
	return func(addr string, prefix byte, timeout time.Duration) (net.Conn, error) {
		return demux.Dial("tcp", addr, prefix, timeout)
	}
}

// tcpAddr is a net.Addr for an advertised host:port that need not resolve here.
type tcpAddr string

func (a tcpAddr) Network() string { return "tcp" }
func (a tcpAddr) String() string  { return string(a) }

// newNetworkTransport returns Raft's TCP transport over ln, advertising addr.
func newNetworkTransport(ln net.Listener, addr string, cfg Config) raft.Transport {
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  &streamLayer{ln: ln, advertised: tcpAddr(addr), dial: dialer(cfg)},
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  newHclog(cfg.Logger),
	})
}
