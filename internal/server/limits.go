package server

import (
	"math"
	"net"
	"net/netip"
	"sync"
)

// ConnectionLimits are Kafka's connection quotas (its SocketServer's
// ConnectionQuotas), applied by each listener's accept loop. Values are taken
// as Kafka takes them: 0 allows no connection; NoLimit is Kafka's default.
type ConnectionLimits struct {
	// Max is max.connections: the most connections open at once, across
	// listeners. At the bound the accept loop waits, holding the connection it
	// has just accepted, until another one closes (later clients wait in the
	// listen backlog), as Kafka's acceptor blocks.
	Max int
	// Protected names the inter-broker listener. When the server has more
	// than one listener, its connections are accepted even at Max, so that
	// replication goes on (Kafka then also closes the least recently used
	// connection of another listener; Sluice does not).
	Protected string
	// PerIP is max.connections.per.ip: a new connection from an address that
	// already has this many open is closed at once.
	PerIP int
	// PerIPOverrides is max.connections.per.ip.overrides: PerIP for the
	// addresses listed.
	PerIPOverrides map[netip.Addr]int
}

// NoLimit is Kafka's default for max.connections and max.connections.per.ip.
const NoLimit = math.MaxInt32

func (l *ConnectionLimits) perIP(ip netip.Addr) int {
	if n, ok := l.PerIPOverrides[ip]; ok {
		return n
	}
	return l.PerIP
}

// ConnectionRefusedMetrics may be implemented by a Config.Metrics that counts
// the connections Config.Limits refuses. reason is the setting that refused
// it (max.connections.per.ip).
type ConnectionRefusedMetrics interface {
	ConnectionRefused(listener, reason string)
}

// connCounts counts the open connections, in total and per client address.
type connCounts struct {
	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
	// freed is closed, and replaced, each time a connection closes: accept
	// loops waiting for a slot wait on it.
	freed chan struct{}
}

func (c *connCounts) init() {
	c.perIP = make(map[netip.Addr]int)
	c.freed = make(chan struct{})
}

func (c *connCounts) dec(ip netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if n := c.perIP[ip]; n <= 1 {
		delete(c.perIP, ip)
	} else {
		c.perIP[ip] = n - 1
	}
	close(c.freed)
	c.freed = make(chan struct{})
}

// remoteIP is the client's address, without an IPv4-in-IPv6 prefix; the
// zero Addr when the connection has none.
func remoteIP(nc net.Conn) netip.Addr {
	switch a := nc.RemoteAddr().(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	case nil:
		return netip.Addr{}
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Addr{}
		}
		return ap.Addr().Unmap()
	}
}

// admit counts a connection just accepted on listener against the limits,
// waiting for a slot at max.connections. It closes the connection and
// reports false when max.connections.per.ip refuses it, or when the server
// shuts down while it waits.
func (s *Server) admit(listener string, nc net.Conn) (netip.Addr, bool) {
	ip := remoteIP(nc)
	lim := s.cfg.Limits
	protected := lim != nil && lim.Protected == listener && len(s.cfg.Listeners) > 1
	waiting := false
	for {
		s.counts.mu.Lock()
		if lim != nil {
			if max := lim.perIP(ip); s.counts.perIP[ip] >= max {
				s.counts.mu.Unlock()
				s.log.Info("refused connection: the address has max.connections.per.ip connections open",
					"listener", listener, "remote", nc.RemoteAddr().String(), "max", max)
				if m, ok := s.metrics.(ConnectionRefusedMetrics); ok {
					m.ConnectionRefused(listener, "max.connections.per.ip")
				}
				nc.Close()
				return ip, false
			}
		}
		if lim == nil || protected || s.counts.total < lim.Max {
			s.counts.total++
			s.counts.perIP[ip]++
			s.counts.mu.Unlock()
			return ip, true
		}
		freed := s.counts.freed
		s.counts.mu.Unlock()
		if !waiting {
			waiting = true
			s.log.Info("max.connections reached: waiting for a connection to close before serving the next",
				"listener", listener, "remote", nc.RemoteAddr().String(), "max", lim.Max)
		}
		select {
		case <-freed:
		case <-s.quit:
			nc.Close()
			return ip, false
		}
	}
}

// OpenConnections is the number of connections open, for tests.
func (s *Server) OpenConnections() int {
	s.counts.mu.Lock()
	defer s.counts.mu.Unlock()
	return s.counts.total
}
