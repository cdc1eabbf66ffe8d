package config

import (
	"fmt"
	"strings"
)

// Security settings: TLS (ssl.*), SASL, ACLs and quotas. Their definitions are in the
// broker table; this file reads the per-listener forms and checks what the table cannot.
//
// As in Kafka, a listener's own value is listener.name.<listener>.<setting>, with the
// listener name lower-cased, and wins over the plain setting. Such keys, and the JAAS
// options of a listener's SASL mechanism, listener.name.<listener>.<mechanism>.sasl.jaas.config,
// are static settings: they are read from the file, the environment and --set only.

// listenerPrefix starts a per-listener setting.
const listenerPrefix = "listener.name."

// jaasSuffix ends the JAAS setting of a listener's mechanism.
const jaasSuffix = ".sasl.jaas.config"

// listenerScoped reports whether a known setting may be given per listener.
func listenerScoped(key string) bool {
	if _, ok := brokerIndex[key]; !ok {
		return false
	}
	return strings.HasPrefix(key, "ssl.") || key == "sasl.enabled.mechanisms"
}

// splitListenerKey splits listener.name.<listener>.<rest>.
func splitListenerKey(key string) (listener, rest string, ok bool) {
	tail, ok := strings.CutPrefix(key, listenerPrefix)
	if !ok {
		return "", "", false
	}
	listener, rest, ok = strings.Cut(tail, ".")
	if !ok || listener == "" || rest == "" {
		return "", "", false
	}
	return listener, rest, true
}

// jaasMechanism returns the mechanism of a "<mechanism>.sasl.jaas.config" key rest.
func jaasMechanism(rest string) (string, bool) {
	mech, ok := strings.CutSuffix(rest, jaasSuffix)
	if !ok || mech == "" || strings.Contains(mech, ".") {
		return "", false
	}
	return mech, true
}

// knownBrokerKey reports whether key is a broker setting: one of the table, or a
// per-listener form of a security setting.
func knownBrokerKey(key string) bool {
	if _, ok := brokerIndex[key]; ok {
		return true
	}
	_, rest, ok := splitListenerKey(key)
	if !ok {
		return false
	}
	if _, ok := jaasMechanism(rest); ok {
		return true
	}
	return listenerScoped(rest)
}

// Setting returns the text of a broker setting: as given (file, environment, --set) for
// any key, per-listener forms included, else the effective value of a known one. ok is
// false when the key is neither given nor has a default.
func (b *Broker) Setting(key string) (string, bool) {
	if v, ok := b.Raw[key]; ok {
		return v, true
	}
	v, ok := b.values[key]
	if !ok || v == nil {
		return "", false
	}
	return formatValue(v), true
}

// ListenerSetting returns a listener's value of a setting that may be given per
// listener: listener.name.<listener>.<key> when set, else the plain setting.
func (b *Broker) ListenerSetting(listener, key string) (string, bool) {
	if v, ok := b.Raw[listenerPrefix+strings.ToLower(listener)+"."+key]; ok {
		return v, true
	}
	return b.Setting(key)
}

// ListenerMechanisms is a listener's sasl.enabled.mechanisms.
func (b *Broker) ListenerMechanisms(listener string) []string {
	v, ok := b.Raw[listenerPrefix+strings.ToLower(listener)+".sasl.enabled.mechanisms"]
	if !ok {
		return append([]string(nil), b.SaslEnabledMechanisms...)
	}
	return splitList(strings.TrimSpace(v))
}

// AuthorizerEnabled reports whether ACLs are checked: authorizer.class.name is set.
func (b *Broker) AuthorizerEnabled() bool { return b.AuthorizerClassName != "" }

func (b *Broker) fillSecurity() {
	b.SaslEnabledMechanisms = b.values.list("sasl.enabled.mechanisms")
	b.AuthorizerClassName = b.values.str("authorizer.class.name")
	b.SuperUsers = b.values.str("super.users")
	b.SaslMechanismInterBrokerProtocol = b.values.str("sasl.mechanism.inter.broker.protocol")
	b.SaslMechanismControllerProtocol = b.values.str("sasl.mechanism.controller.protocol")
	b.AllowEveryoneIfNoACLFound = b.values.bool("allow.everyone.if.no.acl.found")
	b.ConnectionsMaxReauthMs = b.values.i64("connections.max.reauth.ms")
	b.ConnectionFailedAuthenticationDelayMs = b.values.i32("connection.failed.authentication.delay.ms")
	b.QuotaWindowNum = b.values.i32("quota.window.num")
	b.QuotaWindowSizeSeconds = b.values.i32("quota.window.size.seconds")
}

// checkSecurity checks the per-listener settings with their plain setting's rules, the
// principals of super.users, and what Sluice cannot serve yet: between the nodes of a
// cluster (Raft, controller RPCs, replication) it speaks plaintext only.
func (b *Broker) checkSecurity() error {
	for _, key := range sortedKeys(b.Raw) {
		listener, rest, ok := splitListenerKey(key)
		if !ok || !listenerScoped(rest) {
			continue
		}
		if !validListenerName(strings.ToUpper(listener)) {
			return &Error{Name: key, Value: "[hidden]", Reason: "the listener name may only contain letters, digits and underscores"}
		}
		d := *brokerIndex[rest]
		d.Name = key
		if _, err := d.check(b.Raw[key]); err != nil {
			return err
		}
	}
	for _, p := range strings.Split(b.SuperUsers, ";") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if typ, _, ok := strings.Cut(p, ":"); !ok || typ == "" {
			return &Error{Name: "super.users", Value: b.SuperUsers, Reason: fmt.Sprintf("principal %q is not in the form Type:Name (User:alice)", p)}
		}
	}
	return nil
}

// ListenerProtocol is the security protocol listener.security.protocol.map gives a
// listener name, whether or not this node binds it: a broker-only node reaches the
// controllers' CONTROLLER listener without one of its own.
func (b *Broker) ListenerProtocol(name string) (string, bool) {
	protos, err := parseProtocolMap(b.values.str(KeyListenerSecurityProtocol))
	if err != nil {
		return "", false
	}
	p, ok := protos[name]
	return p, ok
}
