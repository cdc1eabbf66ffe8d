package config

import (
	"slices"
	"strings"
	"testing"
)

func TestSecurityDefaults(t *testing.T) {
	b, _, err := load("", nil, nil, fixedHost)
	if err != nil {
		t.Fatal(err)
	}
	if b.AuthorizerEnabled() || b.AllowEveryoneIfNoACLFound || b.SuperUsers != "" {
		t.Errorf("authorizer on by default: %q %v %q", b.AuthorizerClassName, b.AllowEveryoneIfNoACLFound, b.SuperUsers)
	}
	if want := []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}; !slices.Equal(b.SaslEnabledMechanisms, want) {
		t.Errorf("sasl.enabled.mechanisms %v, want %v", b.SaslEnabledMechanisms, want)
	}
	if b.ConnectionFailedAuthenticationDelayMs != 100 || b.ConnectionsMaxReauthMs != 0 || b.QuotaWindowNum != 11 || b.QuotaWindowSizeSeconds != 1 {
		t.Errorf("defaults: delay %d reauth %d quota %d x %ds", b.ConnectionFailedAuthenticationDelayMs, b.ConnectionsMaxReauthMs, b.QuotaWindowNum, b.QuotaWindowSizeSeconds)
	}
	if v, ok := b.ListenerSetting("PLAINTEXT", "ssl.client.auth"); !ok || v != "none" {
		t.Errorf("ssl.client.auth default %q %v", v, ok)
	}
	if _, ok := b.ListenerSetting("PLAINTEXT", "ssl.keystore.location"); ok {
		t.Error("ssl.keystore.location has no default")
	}
}

func TestListenerSettings(t *testing.T) {
	sets := []string{
		"listeners=PLAINTEXT://127.0.0.1:9092,SECURE://127.0.0.1:9093,SASL_SSL://127.0.0.1:9094",
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SECURE:SSL,SASL_SSL:SASL_SSL",
		"ssl.keystore.location=/etc/all.pem",
		"listener.name.secure.ssl.keystore.location=/etc/secure.pem",
		"listener.name.secure.ssl.client.auth=required",
		"listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512",
		`listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_a="b";`,
		"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users=User:admin;User:CN=ops,O=example",
	}
	b, warns, err := load("", sets, nil, fixedHost)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("per-listener settings warned as unknown: %v", warns)
	}
	for _, tc := range []struct{ listener, key, want string }{
		{"SECURE", "ssl.keystore.location", "/etc/secure.pem"},
		{"SASL_SSL", "ssl.keystore.location", "/etc/all.pem"},
		{"SECURE", "ssl.client.auth", "required"},
		{"SASL_SSL", "ssl.client.auth", "none"},
	} {
		if got, _ := b.ListenerSetting(tc.listener, tc.key); got != tc.want {
			t.Errorf("%s %s = %q, want %q", tc.listener, tc.key, got, tc.want)
		}
	}
	if got := b.ListenerMechanisms("SASL_SSL"); !slices.Equal(got, []string{"SCRAM-SHA-512"}) {
		t.Errorf("SASL_SSL mechanisms %v", got)
	}
	if got := b.ListenerMechanisms("SECURE"); len(got) != 3 {
		t.Errorf("SECURE mechanisms %v, want the plain setting's", got)
	}
	if !b.AuthorizerEnabled() {
		t.Error("authorizer.class.name set but the authorizer is off")
	}
	if b.Listeners[1].SecurityProtocol != "SSL" {
		t.Errorf("SECURE maps to %s", b.Listeners[1].SecurityProtocol)
	}
}

func TestSecurityErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		sets []string
		want string
	}{
		{"bad client auth", []string{"ssl.client.auth=maybe"}, "ssl.client.auth"},
		{"bad per-listener client auth", []string{"listener.name.plaintext.ssl.client.auth=maybe"}, "listener.name.plaintext.ssl.client.auth"},
		{"unsupported mechanism", []string{"sasl.enabled.mechanisms=GSSAPI"}, "GSSAPI"},
		{"unsupported per-listener mechanism", []string{"listener.name.plaintext.sasl.enabled.mechanisms=OAUTHBEARER"}, "OAUTHBEARER"},
		{"protocol list", []string{"ssl.enabled.protocols=SSLv3"}, "SSLv3"},
		{"super user without type", []string{"super.users=admin"}, "Type:Name"},
		{"inter-broker mechanism", []string{"sasl.mechanism.inter.broker.protocol=GSSAPI"}, "sasl.mechanism.inter.broker.protocol"},
		{"controller mechanism", []string{"sasl.mechanism.controller.protocol=OAUTHBEARER"}, "sasl.mechanism.controller.protocol"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := load("", tc.sets, nil, fixedHost)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// TLS between nodes is fine.
	b, _, err := load("", []string{
		"listeners=SSL://localhost:9092,CONTROLLER://localhost:9093", "controller.listener.names=CONTROLLER",
		"controller.quorum.voters=1@localhost:9093", "inter.broker.listener.name=SSL",
		"listener.security.protocol.map=SSL:SSL,CONTROLLER:SSL",
	}, nil, fixedHost)
	if err != nil {
		t.Fatalf("SSL between nodes: %v", err)
	}
	if p, ok := b.ListenerProtocol("CONTROLLER"); !ok || p != "SSL" {
		t.Errorf("ListenerProtocol(CONTROLLER) = %q, %v; want SSL", p, ok)
	}
	// SASL on the controller listener is fine.
	for _, proto := range []string{"SASL_PLAINTEXT", "SASL_SSL"} {
		_, _, err = load("", []string{
			"listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093", "controller.listener.names=CONTROLLER",
			"controller.quorum.voters=1@localhost:9093", "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:" + proto,
			"sasl.mechanism.controller.protocol=SCRAM-SHA-512",
		}, nil, fixedHost)
		if err != nil {
			t.Errorf("%s controller listener: %v", proto, err)
		}
	}
	// SASL_PLAINTEXT between brokers is fine, on combined and broker-only nodes.
	for _, node := range [][]string{
		{"listeners=SASL_PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093"},
		{"node.id=2", "process.roles=broker", "listeners=SASL_PLAINTEXT://localhost:9092"},
	} {
		_, _, err = load("", append(node, "controller.listener.names=CONTROLLER",
			"controller.quorum.voters=1@localhost:9093", "inter.broker.listener.name=SASL_PLAINTEXT",
			"listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
		), nil, fixedHost)
		if err != nil {
			t.Errorf("SASL_PLAINTEXT between brokers (%v): %v", node, err)
		}
	}
	// A cluster whose client listener alone is secured is fine.
	_, _, err = load("", []string{
		"listeners=PLAINTEXT://localhost:9092,SASL_SSL://localhost:9094,CONTROLLER://localhost:9093", "controller.listener.names=CONTROLLER",
		"controller.quorum.voters=1@localhost:9093", "inter.broker.listener.name=PLAINTEXT",
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
	}, nil, fixedHost)
	if err != nil {
		t.Errorf("secured client listener in a cluster: %v", err)
	}
}

func TestSecuritySecretsHidden(t *testing.T) {
	b, _, err := load("", []string{"ssl.keystore.password=hunter2"}, nil, fixedHost)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := b.Entry("ssl.keystore.password")
	if !ok || !e.Sensitive || (e.Value != nil && *e.Value == "hunter2") {
		t.Errorf("ssl.keystore.password entry %+v", e)
	}
}
