package config

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Listener is one entry of listeners or advertised.listeners.
type Listener struct {
	// Name is upper-case, as Kafka normalises listener names.
	Name string
	// Host is empty to bind every interface.
	Host string
	// Port 0 asks the system for a free port (useful in tests).
	Port int
	// SecurityProtocol comes from listener.security.protocol.map:
	// PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
	SecurityProtocol string
}

// Addr is host:port, suitable for net.Listen.
func (l Listener) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

// String is the listener in its configuration form, NAME://host:port.
func (l Listener) String() string { return l.Name + "://" + l.Addr() }

// ParseListeners parses a comma-separated list of NAME://host:port. Hosts
// may be empty (every interface) and IPv6 hosts are written in brackets.
// Names and ports must be unique, as Kafka requires (port 0 may repeat).
func ParseListeners(s string) ([]Listener, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out []Listener
	names := map[string]bool{}
	ports := map[int]bool{}
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		name, addr, ok := strings.Cut(e, "://")
		if !ok || name == "" {
			return nil, fmt.Errorf("listener %q is not in the form NAME://host:port", e)
		}
		name = strings.ToUpper(name)
		if !validListenerName(name) {
			return nil, fmt.Errorf("listener name %q may only contain letters, digits and underscores", name)
		}
		host, port, err := splitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("listener %q: %w", e, err)
		}
		if names[name] {
			return nil, fmt.Errorf("each listener must have a different name; %s appears twice", name)
		}
		if port != 0 && ports[port] {
			return nil, fmt.Errorf("each listener must have a different port; %d appears twice", port)
		}
		names[name], ports[port] = true, true
		out = append(out, Listener{Name: name, Host: host, Port: port})
	}
	return out, nil
}

func validListenerName(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return s != ""
}

// securityProtocols are the protocols Kafka defines. Which of them a Sluice
// listener can actually serve is the server's business, not the parser's.
var securityProtocols = []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}

// parseProtocolMap parses NAME:PROTOCOL pairs into a map keyed by the
// upper-cased listener name.
func parseProtocolMap(s string) (map[string]string, error) {
	m := map[string]string{}
	s = strings.TrimSpace(s)
	if s == "" {
		return m, nil
	}
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		name, proto, ok := strings.Cut(e, ":")
		name, proto = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || !validListenerName(name) {
			return nil, fmt.Errorf("entry %q is not in the form NAME:PROTOCOL", e)
		}
		if !slices.Contains(securityProtocols, proto) {
			return nil, fmt.Errorf("entry %q: unknown security protocol %s (known: %s)", e, proto, strings.Join(securityProtocols, ", "))
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("listener name %s is mapped twice", name)
		}
		m[name] = proto
	}
	return m, nil
}

// Voter is one entry of controller.quorum.voters.
type Voter struct {
	ID   int32
	Host string
	Port int
}

// Addr is host:port.
func (v Voter) Addr() string { return net.JoinHostPort(v.Host, strconv.Itoa(v.Port)) }

// parseVoters parses id@host:port entries with unique ids.
func parseVoters(list []string) ([]Voter, error) {
	var out []Voter
	ids := map[int32]bool{}
	for _, e := range list {
		idStr, addr, ok := strings.Cut(e, "@")
		if !ok {
			return nil, fmt.Errorf("voter %q is not in the form id@host:port", e)
		}
		id, err := strconv.ParseInt(strings.TrimSpace(idStr), 10, 32)
		if err != nil || id < 0 {
			return nil, fmt.Errorf("voter %q: id %q is not a non-negative INT", e, idStr)
		}
		host, port, err := splitHostPort(strings.TrimSpace(addr))
		if err != nil {
			return nil, fmt.Errorf("voter %q: %w", e, err)
		}
		if host == "" || port == 0 {
			return nil, fmt.Errorf("voter %q needs a host and a non-zero port", e)
		}
		if ids[int32(id)] {
			return nil, fmt.Errorf("voter id %d appears twice", id)
		}
		ids[int32(id)] = true
		out = append(out, Voter{ID: int32(id), Host: host, Port: port})
	}
	return out, nil
}
