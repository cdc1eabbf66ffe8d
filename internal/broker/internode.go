package broker

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	ksasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluicehq/sluice/internal/auth/acl"
	"github.com/sluicehq/sluice/internal/auth/sasl"
	"github.com/sluicehq/sluice/internal/auth/tlsconfig"
	"github.com/sluicehq/sluice/internal/brokerclient"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/demux"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server/api"
)

// peerDialer opens this node's connections to other nodes: Raft and controller RPCs
// (Dial, for metadata.Config) and Kafka requests to another broker's inter-broker
// listener (DialBroker, for brokerclient). A connection takes TLS when the listener it
// reaches maps to SSL or SASL_SSL in listener.security.protocol.map (Raft and controller
// RPCs take mutual TLS on SASL_SSL too, not SASL), with this node's own ssl.*
// settings of that listener, as Kafka's inter-broker and controller clients use the
// listener's: the truststore checks the other node, the keystore is this node's client
// certificate (mutual TLS). Where the listener is SASL_PLAINTEXT, Raft and controller RPC
// connections log in with SASL instead, as Kafka connections on SASL listeners do.
type peerDialer struct {
	cfg    *config.Broker
	voters map[string]bool // controller.quorum.voters addresses: their CONTROLLER listeners
	// sasl authenticates connections to the inter-broker listener when it is
	// SASL_PLAINTEXT or SASL_SSL: sasl.mechanism.inter.broker.protocol with the username
	// and password of the listener's JAAS config. nil otherwise.
	sasl ksasl.Mechanism
	// ctrlSASL authenticates Raft and controller RPC connections to the CONTROLLER
	// listener when it is SASL_PLAINTEXT: sasl.mechanism.controller.protocol with the
	// listener's JAAS config. nil otherwise.
	ctrlSASL ksasl.Mechanism
	clientID string

	// meta is the broker's metadata store once open (nil before): the registrations
	// name the listener and protocol of an observer's address.
	meta *atomic.Pointer[metadata.Store]

	mu      sync.Mutex
	configs map[string]*tls.Config // by listener and host
}

func newPeerDialer(cfg *config.Broker) (*peerDialer, error) {
	d := &peerDialer{cfg: cfg, voters: map[string]bool{}, configs: map[string]*tls.Config{},
		clientID: fmt.Sprintf("sluice-broker-%d", cfg.NodeID)}
	for _, v := range cfg.ControllerQuorumVoters {
		d.voters[net.JoinHostPort(v.Host, strconv.Itoa(v.Port))] = true
	}
	if len(cfg.ControllerQuorumVoters) == 0 {
		return d, nil
	}
	if p, _ := cfg.ListenerProtocol(cfg.InterBrokerListenerName); p == "SASL_SSL" || p == "SASL_PLAINTEXT" {
		m, err := loginMechanism(cfg, cfg.InterBrokerListenerName, "inter-broker", cfg.SaslMechanismInterBrokerProtocol)
		if err != nil {
			return nil, err
		}
		d.sasl = m
	}
	if len(cfg.ControllerListenerNames) > 0 {
		ctrl := cfg.ControllerListenerNames[0]
		if p, _ := cfg.ListenerProtocol(ctrl); p == "SASL_PLAINTEXT" {
			m, err := loginMechanism(cfg, ctrl, "controller", cfg.SaslMechanismControllerProtocol)
			if err != nil {
				return nil, err
			}
			d.ctrlSASL = m
		}
	}
	return d, nil
}

// loginMechanism is this node's SASL login on a listener of other nodes (the role names
// it in errors: inter-broker, controller): mech (sasl.mechanism.inter.broker.protocol or
// sasl.mechanism.controller.protocol), with the username and password options of
// listener.name.<listener>.<mechanism>.sasl.jaas.config, as a Kafka broker's JAAS config
// names its own client credentials beside the user_<name> entries it checks.
func loginMechanism(cfg *config.Broker, listener, role, mech string) (ksasl.Mechanism, error) {
	key := sasl.JAASConfigKey(listener, mech)
	jaas, ok := cfg.Setting(key)
	if !ok {
		return nil, fmt.Errorf("the %s listener %s takes SASL: set %s with this node's username and password", role, listener, key)
	}
	modules, err := sasl.ParseJAAS(jaas)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if len(modules) != 1 {
		return nil, fmt.Errorf("%s: %d login modules, want 1", key, len(modules))
	}
	user, pass := modules[0].Options["username"], modules[0].Options["password"]
	if user == "" {
		return nil, fmt.Errorf("%s: no username option: the %s listener %s takes SASL", key, role, listener)
	}
	switch mech {
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("SASL mechanism %s for the %s listener is not supported", mech, role)
}

// clientTLS is the TLS configuration for reaching listener on host, or nil when that
// listener is not TLS.
func (d *peerDialer) clientTLS(listener, host string) (*tls.Config, error) {
	p, _ := d.cfg.ListenerProtocol(listener)
	return d.clientTLSFor(listener, p, host)
}

// clientTLSFor is clientTLS for a listener whose protocol is known to be proto.
func (d *peerDialer) clientTLSFor(listener, proto, host string) (*tls.Config, error) {
	if proto != "SSL" && proto != "SASL_SSL" {
		return nil, nil
	}
	key := listener + " " + host
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.configs[key]; c != nil {
		return c, nil
	}
	c, err := tlsconfig.ClientConfig(tlsconfig.FromProperties(d.cfg.Setting, listener), host)
	if err != nil {
		return nil, fmt.Errorf("TLS to listener %s of %s: %w", listener, host, err)
	}
	d.configs[key] = c
	return c, nil
}

// target is the listener a Raft or controller RPC connection to addr reaches, and its
// protocol: a voter's CONTROLLER listener, or a broker-only node's inter-broker listener
// (Raft to an observer). For an observer the broker's registration says which listener
// and protocol addr is, so a controller-only node configured as Kafka's are, without
// the brokers' listener settings, still reaches it with the right protocol.
func (d *peerDialer) target(addr string) (listener, proto string) {
	if d.voters[addr] && len(d.cfg.ControllerListenerNames) > 0 {
		listener = d.cfg.ControllerListenerNames[0]
		proto, _ = d.cfg.ListenerProtocol(listener)
		return listener, proto
	}
	if s := d.meta.Load(); s != nil {
		for _, b := range s.Image().Brokers {
			for _, ep := range b.Endpoints {
				if net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port))) == addr {
					return ep.Listener, ep.SecurityProtocol
				}
			}
		}
	}
	listener = d.cfg.InterBrokerListenerName
	proto, _ = d.cfg.ListenerProtocol(listener)
	return listener, proto
}

// Dial opens a Raft or controller RPC connection to addr: a voter's CONTROLLER listener,
// or (Raft to an observer) a broker's inter-broker listener.
func (d *peerDialer) Dial(addr string, prefix byte, timeout time.Duration) (net.Conn, error) {
	listener, proto := d.target(addr)
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	tc, err := d.clientTLSFor(listener, proto, host)
	if err != nil {
		return nil, err
	}
	if tc != nil {
		return demux.DialTLS("tcp", addr, prefix, timeout, tc)
	}
	c, err := demux.Dial("tcp", addr, prefix, timeout)
	if err != nil {
		return nil, err
	}
	// A SASL_PLAINTEXT listener's Raft and RPC shares take a SASL login first
	// (peerLogin).
	if proto == "SASL_PLAINTEXT" {
		mech, err := d.loginFor(listener)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("%q connection to %s: %w", prefix, addr, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := brokerclient.Authenticate(ctx, c, d.clientID, host, mech); err != nil {
			c.Close()
			return nil, fmt.Errorf("%q connection to %s: %w", prefix, addr, err)
		}
	}
	return c, nil
}

// loginFor is this node's SASL login on a SASL_PLAINTEXT listener of other nodes: the
// controller login on CONTROLLER, the inter-broker login on the inter-broker listener,
// and for another listener (a broker's, reached by a controller-only node that names no
// inter-broker listener) sasl.mechanism.inter.broker.protocol with that listener's JAAS
// config, which the node must then have.
func (d *peerDialer) loginFor(listener string) (ksasl.Mechanism, error) {
	switch {
	case len(d.cfg.ControllerListenerNames) > 0 && listener == d.cfg.ControllerListenerNames[0] && d.ctrlSASL != nil:
		return d.ctrlSASL, nil
	case listener == d.cfg.InterBrokerListenerName && d.sasl != nil:
		return d.sasl, nil
	}
	return loginMechanism(d.cfg, listener, "broker", d.cfg.SaslMechanismInterBrokerProtocol)
}

// DialBroker opens a Kafka connection to the inter-broker listener at addr.
func (d *peerDialer) DialBroker(ctx context.Context, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	tc, err := d.clientTLS(d.cfg.InterBrokerListenerName, host)
	if err != nil {
		return nil, err
	}
	nd := net.Dialer{Timeout: 5 * time.Second}
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if tc != nil {
		tlsc := tls.Client(c, tc)
		if err := tlsc.HandshakeContext(hctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		c = tlsc
	}
	if d.sasl != nil {
		if err := brokerclient.Authenticate(hctx, c, d.clientID, host, d.sasl); err != nil {
			c.Close()
			return nil, fmt.Errorf("authenticate to %s: %w", addr, err)
		}
	}
	return c, nil
}

// peerLogin is the SASL login that Raft and controller RPC connections take on the
// SASL_PLAINTEXT listener named listener (a broker-only node's inter-broker listener,
// where it takes the metadata log): the listener's own mechanisms and users, SCRAM
// credentials from the metadata image this node has (none before it has caught up, so
// nodes log in to each other with PLAIN and the JAAS users until then). With an
// authorizer, only super users pass, as only principals allowed CLUSTER_ACTION may send
// Kafka's inter-broker requests; without one, any authenticated principal does.
func (b *Broker) peerLogin(listener string) (func(net.Conn) error, error) {
	image := func() *metadata.Image {
		if s := b.meta.Load(); s != nil {
			return s.Image()
		}
		return &metadata.Image{}
	}
	auth, err := listenerSASL(b.cfg, listener, api.ScramStore(image))
	if err != nil {
		return nil, err
	}
	var supers *acl.Authorizer
	if b.cfg.AuthorizerEnabled() {
		supers = acl.NewAuthorizer(acl.Config{SuperUsers: acl.ParseSuperUsers(b.cfg.SuperUsers)})
	}
	logger := b.logger.With("listener", listener)
	return func(c net.Conn) error {
		principal, err := auth.ServeExchange(c)
		if err == nil && supers != nil && !supers.IsSuperUser(principal) {
			err = fmt.Errorf("%s is not in super.users, which a node's principal must be with an authorizer", principal)
		}
		if err != nil {
			logger.Warn("refused a Raft or controller RPC connection", "remote", c.RemoteAddr(), "err", err)
		}
		return err
	}, nil
}
