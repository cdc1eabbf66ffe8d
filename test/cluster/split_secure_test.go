package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluicehq/sluice/internal/testpki"
)

// TestSecureSplitRoles runs a pure controller and a pure broker, configured as a Kafka
// KRaft deployment is: the controller binds only its CONTROLLER listener and names no
// inter-broker listener, the broker takes the metadata log as an observer on its secured
// inter-broker listener. The broker must get the metadata log from the controller, over
// SASL_SSL and over SASL_PLAINTEXT.
func TestSecureSplitRoles(t *testing.T) {
	for _, proto := range []string{"SASL_SSL", "SASL_PLAINTEXT"} {
		t.Run(proto, func(t *testing.T) { testSecureSplitRoles(t, proto) })
	}
}

func testSecureSplitRoles(t *testing.T, proto string) {
	dir := t.TempDir()
	pki, err := testpki.New(dir, testpki.CAName("sluice split test CA"), testpki.Node("sluice-node"))
	if err != nil {
		t.Fatal(err)
	}
	withTLS := proto == "SASL_SSL"
	ctrlAddr, brokerAddr := freeAddr(t), freeAddr(t)
	jaas := func(l, user string) string {
		return "listener.name." + strings.ToLower(l) + ".plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required " +
			fmt.Sprintf(`username=%q password="%s-pw" user_%s="%s-pw" user_alice="alice-pw";`, user, user, user, user)
	}
	common := []string{
		"http.addr=",
		"controller.listener.names=CONTROLLER",
		"controller.quorum.voters=1@" + ctrlAddr,
		"cluster.id=c2x1aWNlLXNwbGl0LXNlYw",
		"ssl.keystore.location=" + pki.Server,
		"ssl.truststore.location=" + pki.CA,
		"ssl.client.auth=required",
		"listener.name.controller.ssl.client.auth=none",
		"sasl.mechanism.controller.protocol=PLAIN",
		jaas("CONTROLLER", "controller"),
	}
	// Sluice's controllers push the metadata log to broker-only nodes (Kafka's brokers
	// fetch it), so on SASL_PLAINTEXT a controller needs a login on the brokers'
	// listener: its JAAS config. The listener's name and protocol come from the brokers'
	// registrations; TLS uses the controller's own ssl.* settings.
	var controllerExtra []string
	if proto == "SASL_PLAINTEXT" {
		controllerExtra = append(controllerExtra, jaas(proto, "broker"))
	}
	nodes := [][]string{
		append([]string{"node.id=1", "process.roles=controller", "listeners=CONTROLLER://" + ctrlAddr,
			"listener.security.protocol.map=CONTROLLER:" + proto}, append(controllerExtra, common...)...),
		append([]string{"node.id=2", "process.roles=broker", "listeners=" + proto + "://" + brokerAddr,
			"listener.security.protocol.map=CONTROLLER:" + proto + "," + proto + ":" + proto,
			"inter.broker.listener.name=" + proto, "sasl.mechanism.inter.broker.protocol=PLAIN",
			jaas(proto, "broker")}, common...),
	}
	for i, settings := range nodes {
		settings = append(settings, "log.dirs="+filepath.Join(dir, fmt.Sprint("node", i+1)))
		args := []string{"server"}
		for _, kv := range append(settings, clusterSettings...) {
			args = append(args, "--set", kv)
		}
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("node%d.log", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(testBinary, args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			logf.Close()
			if t.Failed() {
				b, _ := os.ReadFile(logf.Name())
				t.Logf("node %d log tail:\n%s", i+1, tailLines(string(b), 60))
			}
		})
	}

	opts := []kgo.Opt{kgo.SeedBrokers(brokerAddr), kgo.SASL(plain.Auth{User: "alice", Pass: "alice-pw"}.AsMechanism())}
	if withTLS {
		opts = append(opts, kgo.DialTLSConfig(pki.TLS(pki.ServerPair)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	const topic = "split-secure"
	waitFor(t, ctx, "the broker registered and serving", func() error {
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return err
		}
		defer cl.Close()
		_, err = kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic)
		if err != nil && !strings.Contains(err.Error(), "TOPIC_ALREADY_EXISTS") {
			return err
		}
		return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("hello")}).FirstErr()
	})
}
