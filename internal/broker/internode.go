package broker

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/auth/tlsconfig"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/demux"
)

// peerDialer opens this node's connections to other nodes: Raft and controller RPCs
// (Dial, for metadata.Config) and Kafka requests to another broker's inter-broker
// listener (DialBroker, for brokerclient). A connection takes TLS when the listener it
// reaches maps to SSL in listener.security.protocol.map, with this node's own ssl.*
// settings of that listener, as Kafka's inter-broker and controller clients use the
// listener's: the truststore checks the other node, the keystore is this node's client
// certificate (mutual TLS).
type peerDialer struct {
	cfg    *config.Broker
	voters map[string]bool // controller.quorum.voters addresses: their CONTROLLER listeners

	mu      sync.Mutex
	configs map[string]*tls.Config // by listener and host
}

func newPeerDialer(cfg *config.Broker) *peerDialer {
	d := &peerDialer{cfg: cfg, voters: map[string]bool{}, configs: map[string]*tls.Config{}}
	for _, v := range cfg.ControllerQuorumVoters {
		d.voters[net.JoinHostPort(v.Host, strconv.Itoa(v.Port))] = true
	}
	return d
}

// clientTLS is the TLS configuration for reaching listener on host, or nil when that
// listener is not TLS.
func (d *peerDialer) clientTLS(listener, host string) (*tls.Config, error) {
	if p, _ := d.cfg.ListenerProtocol(listener); p != "SSL" && p != "SASL_SSL" {
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

// Dial opens a Raft or controller RPC connection to addr: a voter's CONTROLLER listener,
// or (Raft to an observer) a broker's inter-broker listener.
func (d *peerDialer) Dial(addr string, prefix byte, timeout time.Duration) (net.Conn, error) {
	listener := d.cfg.InterBrokerListenerName
	if d.voters[addr] && len(d.cfg.ControllerListenerNames) > 0 {
		listener = d.cfg.ControllerListenerNames[0]
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	tc, err := d.clientTLS(listener, host)
	if err != nil {
		return nil, err
	}
	if tc == nil {
		return demux.Dial("tcp", addr, prefix, timeout)
	}
	return demux.DialTLS("tcp", addr, prefix, timeout, tc)
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
	if err != nil || tc == nil {
		return c, err
	}
	tlsc := tls.Client(c, tc)
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := tlsc.HandshakeContext(hctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	return tlsc, nil
}
