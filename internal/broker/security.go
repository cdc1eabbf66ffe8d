package broker

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/acl"
	"github.com/sluicehq/sluice/internal/auth/sasl"
	"github.com/sluicehq/sluice/internal/auth/tlsconfig"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/server/api"
)

// security is the broker's connection security: the TLS configurations that wrap its
// SSL and SASL_SSL client listeners, what the handlers need to authenticate, authorize
// and throttle (api.Security), and the subscriptions that keep the authorizer's ACLs and
// the client quotas in step with the metadata image.
type security struct {
	tls         map[string]*tls.Config // by listener name
	api         *api.Security
	unsubscribe func()
}

// newSecurity builds the security of the client listeners from cfg. An error (a
// keystore that cannot be read, an unparsable JAAS user list, an unknown mechanism)
// stops the broker: a listener must never fall back to less security than configured.
func newSecurity(cfg *config.Broker, meta *metadata.Store, logger *slog.Logger) (*security, error) {
	s := &security{tls: map[string]*tls.Config{}, unsubscribe: func() {}}
	sec := &api.Security{
		Listeners:       map[string]*api.ListenerSecurity{},
		SessionLifetime: time.Duration(cfg.ConnectionsMaxReauthMs) * time.Millisecond,
		FailedAuthDelay: time.Duration(cfg.ConnectionFailedAuthenticationDelayMs) * time.Millisecond,
		Logger:          logger,
		TopicName: func(id [16]byte) string {
			if t := meta.Image().TopicByID(id); t != nil {
				return t.Name
			}
			return ""
		},
	}
	scram := api.ScramStore(meta.Image)
	for _, l := range cfg.Listeners {
		if containsName(cfg.ControllerListenerNames, l.Name) {
			continue
		}
		ls := &api.ListenerSecurity{Protocol: l.SecurityProtocol}
		switch l.SecurityProtocol {
		case "SSL", "SASL_SSL":
			settings := tlsconfig.FromProperties(cfg.Setting, l.Name)
			tc, err := tlsconfig.ServerConfig(settings)
			if err != nil {
				return nil, fmt.Errorf("listener %s: %w", l.Name, err)
			}
			s.tls[l.Name] = tc
			if l.SecurityProtocol == "SSL" {
				if ls.Principals, err = tlsconfig.NewPrincipalBuilder(settings.PrincipalMappingRules); err != nil {
					return nil, fmt.Errorf("listener %s: %w", l.Name, err)
				}
			}
		}
		switch l.SecurityProtocol {
		case "SASL_PLAINTEXT", "SASL_SSL":
			auth, err := listenerSASL(cfg, l.Name, scram)
			if err != nil {
				return nil, err
			}
			ls.SASL = auth
		}
		sec.Listeners[l.Name] = ls
	}
	quotas := api.QuotaManager(int(cfg.QuotaWindowNum), time.Duration(cfg.QuotaWindowSizeSeconds)*time.Second)
	unsubscribeQuotas := meta.Subscribe(func(prev, next *metadata.Image) {
		if prev == nil || !reflect.DeepEqual(prev.ClientQuotas, next.ClientQuotas) {
			quotas.Update(api.QuotasFromImage(next))
		}
	})
	sec.Quotas = quotas
	s.unsubscribe = unsubscribeQuotas
	if cfg.AuthorizerEnabled() {
		authz := acl.NewAuthorizer(acl.Config{
			SuperUsers:                acl.ParseSuperUsers(cfg.SuperUsers),
			AllowEveryoneIfNoACLFound: cfg.AllowEveryoneIfNoACLFound,
		})
		unsubscribeACLs := meta.Subscribe(func(prev, next *metadata.Image) {
			if prev == nil || !maps.Equal(prev.ACLs, next.ACLs) {
				authz.Update(aclSnapshot(next))
			}
		})
		s.unsubscribe = func() { unsubscribeACLs(); unsubscribeQuotas() }
		sec.Authorizer = authz
		logger.Info("authorizer on", "authorizer.class.name", cfg.AuthorizerClassName,
			"super.users", cfg.SuperUsers, "allow.everyone.if.no.acl.found", cfg.AllowEveryoneIfNoACLFound)
	}
	s.api = sec
	return s, nil
}

// listenerSASL is the SASL authenticator of a listener: its sasl.enabled.mechanisms,
// PLAIN checked against the user_<name> options of its PLAIN JAAS config and then the
// SCRAM credentials, SCRAM against the credentials in scram.
func listenerSASL(cfg *config.Broker, listener string, scram sasl.ScramCredentials) (*sasl.Authenticator, error) {
	var plain sasl.PlainVerifiers
	if jaas, ok := cfg.Setting(sasl.JAASConfigKey(listener, sasl.Plain)); ok {
		users, err := sasl.PlainUsersFromJAAS(jaas)
		if err != nil {
			return nil, fmt.Errorf("listener %s: %s: %w", listener, sasl.JAASConfigKey(listener, sasl.Plain), err)
		}
		plain = append(plain, users)
	}
	plain = append(plain, sasl.ScramPlainVerifier{Store: scram})
	auth, err := sasl.New(sasl.Config{Mechanisms: cfg.ListenerMechanisms(listener), Scram: scram, Plain: plain})
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", listener, err)
	}
	return auth, nil
}

// connectionLimits is max.connections, max.connections.per.ip and its overrides (host
// names resolved now, as Kafka resolves them when it reads the setting), with the
// inter-broker listener exempt from max.connections.
func connectionLimits(cfg *config.Broker) (*server.ConnectionLimits, error) {
	lim := &server.ConnectionLimits{
		Max:       int(cfg.MaxConnections),
		PerIP:     int(cfg.MaxConnectionsPerIP),
		Protected: cfg.InterBrokerListenerName,
	}
	raw, _ := cfg.Setting("max.connections.per.ip.overrides")
	hosts, err := config.ParseConnectionOverrides(raw)
	if err != nil {
		return nil, fmt.Errorf("max.connections.per.ip.overrides: %w", err)
	}
	for host, n := range hosts {
		ips := []netip.Addr{}
		if ip, err := netip.ParseAddr(host); err == nil {
			ips = append(ips, ip.Unmap())
		} else {
			addrs, err := net.LookupIP(host)
			if err != nil {
				return nil, fmt.Errorf("max.connections.per.ip.overrides: resolve %s: %w", host, err)
			}
			for _, a := range addrs {
				if ip, ok := netip.AddrFromSlice(a); ok {
					ips = append(ips, ip.Unmap())
				}
			}
		}
		if lim.PerIPOverrides == nil {
			lim.PerIPOverrides = map[netip.Addr]int{}
		}
		for _, ip := range ips {
			lim.PerIPOverrides[ip] = n
		}
	}
	return lim, nil
}

// aclSnapshot indexes the image's ACL bindings for the authorizer.
func aclSnapshot(img *metadata.Image) *acl.Snapshot {
	list := img.ACLList()
	bs := make([]acl.Binding, len(list))
	for i, a := range list {
		bs[i] = acl.Binding{
			ResourceType: kmsg.ACLResourceType(a.ResourceType),
			ResourceName: a.ResourceName,
			PatternType:  kmsg.ACLResourcePatternType(a.PatternType),
			Principal:    a.Principal,
			Host:         a.Host,
			Operation:    kmsg.ACLOperation(a.Operation),
			Permission:   kmsg.ACLPermissionType(a.Permission),
		}
	}
	return acl.NewSnapshot(bs)
}
