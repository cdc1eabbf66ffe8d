package broker

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/internal/auth/tlsconfig"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/demux"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/server/api"
)

// nodeListeners are the node's bound listeners. On a node of a cluster each is split
// (internal/demux) so that Raft and controller RPCs share Kafka's ports: the CONTROLLER
// listener carries a voter's Raft traffic and the controller RPCs, and a broker-only
// node takes its Raft traffic as an observer on its inter-broker listener. A single
// node keeps Raft in memory and binds no CONTROLLER listener.
type nodeListeners struct {
	entries []nodeListener
}

type nodeListener struct {
	name  string
	ctrl  bool
	ln    net.Listener    // the bound listener
	split *demux.Listener // nil on a single node
	// tls is the listener's server configuration when it takes TLS on a node of a
	// cluster: its Raft and controller RPC shares then take only mutual TLS (demux.TLS),
	// and the CONTROLLER listener's Kafka share takes TLS too.
	tls *tls.Config
	// login, on a SASL_PLAINTEXT listener of a cluster, is the SASL login its Raft and
	// controller RPC shares take first (demux.Authenticated), as they take mutual TLS on
	// a listener with TLS.
	login func(net.Conn) error
	// served are the prefixes whose shares the node serves (prefixed was called).
	served map[byte]bool
}

// prefixed is the share of connections that open with prefix, behind mutual TLS when
// the listener takes TLS and behind a SASL login on SASL_PLAINTEXT.
func (e *nodeListener) prefixed(prefix byte) net.Listener {
	if e.served == nil {
		e.served = map[byte]bool{}
	}
	e.served[prefix] = true
	l := e.split.Prefixed(prefix)
	if e.tls != nil {
		l = demux.TLS(l, e.tls)
	}
	if e.login != nil {
		l = demux.Authenticated(l, e.login)
	}
	return l
}

func (b *Broker) listen() (*nodeListeners, error) {
	cfg := b.cfg
	multi := len(cfg.ControllerQuorumVoters) > 0
	nl := &nodeListeners{}
	for _, l := range cfg.Listeners {
		ctrl := containsName(cfg.ControllerListenerNames, l.Name)
		if ctrl && !multi {
			continue
		}
		ln, err := net.Listen("tcp", l.Addr())
		if err != nil {
			nl.close()
			return nil, fmt.Errorf("listen on %s (%s): %w", l.Addr(), l.Name, err)
		}
		e := nodeListener{name: l.Name, ctrl: ctrl, ln: ln}
		if multi {
			if l.SecurityProtocol == "SSL" || l.SecurityProtocol == "SASL_SSL" {
				if e.tls, err = tlsconfig.ServerConfig(tlsconfig.FromProperties(cfg.Setting, l.Name)); err != nil {
					ln.Close()
					nl.close()
					return nil, fmt.Errorf("listener %s: %w", l.Name, err)
				}
			}
			if l.SecurityProtocol == "SASL_PLAINTEXT" {
				if e.login, err = b.peerLogin(l.Name); err != nil {
					ln.Close()
					nl.close()
					return nil, err
				}
			}
			e.split = demux.New(ln, b.logger.With("listener", l.Name), demux.RaftPrefix, demux.ControlPrefix)
		}
		nl.entries = append(nl.entries, e)
	}
	return nl, nil
}

// closeUnserved closes the prefixed shares the node does not serve, such as the Raft
// share of a voter's client listeners, once the metadata layer has taken the ones it
// serves: a connection opening with their prefix is then closed at once, where it would
// otherwise wait for an Accept that never comes, holding its socket until shutdown.
func (nl *nodeListeners) closeUnserved() {
	for i := range nl.entries {
		e := &nl.entries[i]
		if e.split == nil {
			continue
		}
		for _, p := range []byte{demux.RaftPrefix, demux.ControlPrefix} {
			if !e.served[p] {
				e.split.Prefixed(p).Close()
			}
		}
	}
}

// bound maps each client listener's name to its bound address.
func (nl *nodeListeners) bound() map[string]net.Addr {
	m := map[string]net.Addr{}
	for _, e := range nl.entries {
		if !e.ctrl {
			m[e.name] = e.ln.Addr()
		}
	}
	return m
}

// clientListeners are the Kafka shares of the client listeners, for the server. Those
// with a TLS configuration (SSL and SASL_SSL) are wrapped with it: the server then sees
// *tls.Conn connections, which it never hands to sendfile.
func (nl *nodeListeners) clientListeners(tlsConfigs map[string]*tls.Config) []server.Listener {
	var out []server.Listener
	for _, e := range nl.entries {
		if e.ctrl {
			continue
		}
		l := server.Listener{Name: e.name, Addr: e.ln.Addr().String(), Listener: e.ln}
		if e.split != nil {
			l.Listener = e.split.Kafka()
		}
		if tc := tlsConfigs[e.name]; tc != nil {
			l.Listener = tls.NewListener(l.Listener, tc)
		}
		out = append(out, l)
	}
	return out
}

// controller returns the split CONTROLLER listener, or nil.
func (nl *nodeListeners) controller() *nodeListener {
	for i := range nl.entries {
		if e := &nl.entries[i]; e.ctrl && e.split != nil {
			return e
		}
	}
	return nil
}

func (nl *nodeListeners) controllerName() string {
	for _, e := range nl.entries {
		if e.ctrl {
			return e.name
		}
	}
	return ""
}

// raft returns where this node takes Raft traffic, and the address others reach it at:
// a voter's CONTROLLER listener at its controller.quorum.voters entry, or a broker's
// inter-broker listener at its advertised endpoint.
func (nl *nodeListeners) raft(cfg *config.Broker, endpoints []metadata.Endpoint) (net.Listener, string, error) {
	for _, v := range cfg.ControllerQuorumVoters {
		if v.ID == cfg.NodeID {
			c := nl.controller()
			if c == nil {
				return nil, "", fmt.Errorf("node %d is a voter but has no controller listener (%v)", cfg.NodeID, cfg.ControllerListenerNames)
			}
			return c.prefixed(demux.RaftPrefix), net.JoinHostPort(v.Host, strconv.Itoa(v.Port)), nil
		}
	}
	for _, ep := range endpoints {
		if ep.Listener != cfg.InterBrokerListenerName {
			continue
		}
		for i := range nl.entries {
			if e := &nl.entries[i]; e.name == ep.Listener && e.split != nil {
				return e.prefixed(demux.RaftPrefix), net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port))), nil
			}
		}
	}
	return nil, "", fmt.Errorf("no inter-broker listener %q to take the metadata log on", cfg.InterBrokerListenerName)
}

func (nl *nodeListeners) close() {
	for _, e := range nl.entries {
		if e.split != nil {
			e.split.Close()
		} else {
			e.ln.Close()
		}
	}
}

// serveController serves the Kafka-protocol share of the CONTROLLER listener.
func (b *Broker) serveController(meta *metadata.Store, nl *nodeListeners) (*server.Server, error) {
	c := nl.controller()
	name := nl.controllerName()
	// On SASL_PLAINTEXT and SASL_SSL, a Kafka client logs in before DescribeQuorum,
	// with the listener's mechanisms and users, as on the client listeners.
	var sec *api.Security
	if p, _ := b.cfg.ListenerProtocol(name); p == "SASL_PLAINTEXT" || p == "SASL_SSL" {
		auth, err := listenerSASL(b.cfg, name, api.ScramStore(meta.Image))
		if err != nil {
			return nil, err
		}
		sec = &api.Security{
			Listeners:       map[string]*api.ListenerSecurity{name: {Protocol: p, SASL: auth}},
			SessionLifetime: time.Duration(b.cfg.ConnectionsMaxReauthMs) * time.Millisecond,
			FailedAuthDelay: time.Duration(b.cfg.ConnectionFailedAuthenticationDelayMs) * time.Millisecond,
			Logger:          b.logger.With("subsystem", "controller-server"),
		}
	}
	mux := server.NewMux()
	api.RegisterController(mux, api.Deps{NodeID: b.cfg.NodeID, Config: b.cfg, Meta: meta, Security: sec, Logger: b.logger.With("subsystem", "api")})
	kafka := c.split.Kafka()
	if c.tls != nil {
		kafka = tls.NewListener(kafka, c.tls)
	}
	srv, err := server.New(server.Config{
		Listeners:       []server.Listener{{Name: name, Addr: c.split.Addr().String(), Listener: kafka}},
		MaxRequestBytes: int(b.cfg.SocketRequestMaxBytes),
		Logger:          b.logger.With("subsystem", "controller-server"),
		Handler:         sec.Gate(mux),
	})
	if err != nil {
		return nil, fmt.Errorf("controller listener: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("controller listener: %w", err)
	}
	return srv, nil
}
