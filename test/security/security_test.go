package security

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// ioTimeout bounds each client operation.
const ioTimeout = 15 * time.Second

var seq atomic.Int64

// unique is a name unique to the test run.
func unique(t *testing.T, what string) string {
	return fmt.Sprintf("%s-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), what, seq.Add(1))
}

// client is a franz-go client of addr with opts, closed with the test.
func client(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RetryTimeout(5 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// admin is a super user's admin client over SASL_SSL with PLAIN (a JAAS user).
func admin(t *testing.T) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl := client(t, saslSSLAddr, kgo.DialTLSConfig(certs.clientTLS(false)),
		kgo.SASL(plain.Auth{User: "admin", Pass: adminPassword}.AsMechanism()))
	return cl, kadm.NewClient(cl)
}

// scramUser creates a SCRAM credential for user with password, through the admin.
func scramUser(t *testing.T, adm *kadm.Client, user, password string, m kadm.ScramMechanism) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: user, Mechanism: m, Iterations: 4096, Password: password}})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Error(); err != nil {
		t.Fatalf("create SCRAM user %s: %v", user, err)
	}
}

// grant allows principal op on a literal resource, as the admin.
func grant(t *testing.T, cl *kgo.Client, principal string, rt kmsg.ACLResourceType, name string, op kmsg.ACLOperation) {
	t.Helper()
	req := kmsg.NewPtrCreateACLsRequest()
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.ResourcePatternType = rt, name, kmsg.ACLResourcePatternTypeLiteral
	c.Principal, c.Host, c.Operation, c.PermissionType = principal, "*", op, kmsg.ACLPermissionTypeAllow
	req.Creations = append(req.Creations, c)
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Results[0].ErrorCode); err != nil {
		t.Fatalf("grant %s %s on %s %s: %v", principal, op, rt, name, err)
	}
}

func createTopic(t *testing.T, adm *kadm.Client, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	res, err := adm.CreateTopic(ctx, 1, 1, nil, topic)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// produce sends one record and returns the error.
func produce(cl *kgo.Client, topic, value string) error {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr()
}

// consumeOne polls until a record or an error arrives.
func consumeOne(cl *kgo.Client) (*kgo.Record, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("no record within %v: %w", ioTimeout, err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return nil, errs[0].Err
		}
		if recs := fs.Records(); len(recs) > 0 {
			return recs[0], nil
		}
	}
}

// TestSCRAMAndPLAIN: SCRAM-SHA-256 and SCRAM-SHA-512 users created with
// AlterUserScramCredentials log in with their passwords over SASL_SSL and SASL_PLAINTEXT,
// and PLAIN checks them too; wrong passwords and unknown users are refused with
// SASL_AUTHENTICATION_FAILED, no sooner than connection.failed.authentication.delay.ms.
func TestSCRAMAndPLAIN(t *testing.T) {
	_, adm := admin(t)
	user256, user512 := unique(t, "u256"), unique(t, "u512")
	scramUser(t, adm, user256, "pw-256", kadm.ScramSha256)
	scramUser(t, adm, user512, "pw-512", kadm.ScramSha512)

	tlsOpt := kgo.DialTLSConfig(certs.clientTLS(false))
	for _, tc := range []struct {
		name string
		addr string
		mech sasl.Mechanism
		ok   bool
	}{
		{"SHA-256 over SASL_SSL", saslSSLAddr, scram.Auth{User: user256, Pass: "pw-256"}.AsSha256Mechanism(), true},
		{"SHA-512 over SASL_SSL", saslSSLAddr, scram.Auth{User: user512, Pass: "pw-512"}.AsSha512Mechanism(), true},
		{"SHA-512 over SASL_PLAINTEXT", saslAddr, scram.Auth{User: user512, Pass: "pw-512"}.AsSha512Mechanism(), true},
		{"PLAIN with a SCRAM password", saslSSLAddr, plain.Auth{User: user512, Pass: "pw-512"}.AsMechanism(), true},
		{"SHA-256 wrong password", saslSSLAddr, scram.Auth{User: user256, Pass: "nope"}.AsSha256Mechanism(), false},
		{"SHA-512 for a SHA-256 user", saslSSLAddr, scram.Auth{User: user256, Pass: "pw-256"}.AsSha512Mechanism(), false},
		{"SHA-256 unknown user", saslSSLAddr, scram.Auth{User: unique(t, "ghost"), Pass: "x"}.AsSha256Mechanism(), false},
		{"PLAIN wrong password", saslAddr, plain.Auth{User: "admin", Pass: "guess"}.AsMechanism(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []kgo.Opt{kgo.SASL(tc.mech), kgo.RequestRetries(0)}
			if tc.addr == saslSSLAddr {
				opts = append(opts, tlsOpt)
			}
			cl := client(t, tc.addr, opts...)
			ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
			defer cancel()
			start := time.Now()
			err := cl.Ping(ctx)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("login refused: %v", err)
			case !tc.ok && err == nil:
				t.Fatal("login with wrong credentials accepted")
			case !tc.ok && !errors.Is(err, kerr.SaslAuthenticationFailed):
				t.Fatalf("refused with %v, want SASL_AUTHENTICATION_FAILED", err)
			case !tc.ok && time.Since(start) < failedAuthDelay:
				t.Errorf("refused after %v, before connection.failed.authentication.delay.ms (%v)", time.Since(start), failedAuthDelay)
			}
		})
	}
}

// TestACLDenyThenAllow: a SCRAM user can neither produce to nor consume from a topic until
// the admin grants it WRITE, READ and the group's READ with CreateAcls.
func TestACLDenyThenAllow(t *testing.T) {
	acl, adm := admin(t)
	topic, group, user := unique(t, "topic"), unique(t, "group"), unique(t, "bob")
	createTopic(t, adm, topic)
	scramUser(t, adm, user, "bob-pw", kadm.ScramSha512)
	principal := "User:" + user

	bob := []kgo.Opt{kgo.DialTLSConfig(certs.clientTLS(false)), kgo.SASL(scram.Auth{User: user, Pass: "bob-pw"}.AsSha512Mechanism())}
	producer := client(t, saslSSLAddr, append(bob, kgo.RequestRetries(1))...)
	if err := produce(producer, topic, "denied"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce without ACLs: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	grant(t, acl, principal, kmsg.ACLResourceTypeTopic, topic, kmsg.ACLOperationWrite)
	if err := produce(producer, topic, "allowed"); err != nil {
		t.Fatalf("produce with WRITE granted: %v", err)
	}

	direct := client(t, saslSSLAddr, append(bob, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if _, err := consumeOne(direct); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("consume without READ: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	grant(t, acl, principal, kmsg.ACLResourceTypeTopic, topic, kmsg.ACLOperationRead)
	consumer := client(t, saslSSLAddr, append(bob, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	rec, err := consumeOne(consumer)
	if err != nil || string(rec.Value) != "allowed" {
		t.Fatalf("consume with READ granted: %v %v, want the record produced", rec, err)
	}

	groupOpts := append(bob, kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	refused, err := kgo.NewClient(append(groupOpts, kgo.SeedBrokers(saslSSLAddr))...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = consumeOne(refused)
	refused.Close() // it would otherwise join once allowed, and take the partition
	if !errors.Is(err, kerr.GroupAuthorizationFailed) {
		t.Fatalf("group consume without the group's READ: %v, want GROUP_AUTHORIZATION_FAILED", err)
	}
	grant(t, acl, principal, kmsg.ACLResourceTypeGroup, group, kmsg.ACLOperationRead)
	grouped := client(t, saslSSLAddr, groupOpts...)
	if rec, err := consumeOne(grouped); err != nil || string(rec.Value) != "allowed" {
		t.Fatalf("group consume with READ granted: %v %v", rec, err)
	}
}

// TestMutualTLS: the SSL listener refuses a client without a certificate; a client with
// one is the principal its subject names, User:CN=alice,O=sluice, which ACLs then allow.
func TestMutualTLS(t *testing.T) {
	acl, adm := admin(t)
	topic := unique(t, "topic")
	createTopic(t, adm, topic)

	anon := client(t, sslAddr, kgo.DialTLSConfig(certs.clientTLS(false)), kgo.RequestRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := anon.Ping(ctx); err == nil {
		t.Fatal("a TLS client without a certificate connected to a listener with ssl.client.auth=required")
	}

	alice := client(t, sslAddr, kgo.DialTLSConfig(certs.clientTLS(true)), kgo.RequestRetries(1))
	if err := produce(alice, topic, "x"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce without ACLs: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	grant(t, acl, "User:CN=alice,O=sluice", kmsg.ACLResourceTypeTopic, topic, kmsg.ACLOperationWrite)
	if err := produce(alice, topic, "x"); err != nil {
		t.Fatalf("produce as User:CN=alice,O=sluice with WRITE granted: %v", err)
	}
}

// kcat runs kcat with args and stdin, and returns its output and error.
func kcat(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not installed (apt-get install kcat): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// TestKcat: librdkafka produces and consumes over SASL_SSL with SCRAM-SHA-512 and over
// mutual TLS, and a wrong SCRAM password fails its authentication.
func TestKcat(t *testing.T) {
	acl, adm := admin(t)
	topic, user := unique(t, "topic"), unique(t, "carol")
	createTopic(t, adm, topic)
	scramUser(t, adm, user, "carol-pw", kadm.ScramSha512)
	for _, op := range []kmsg.ACLOperation{kmsg.ACLOperationWrite, kmsg.ACLOperationRead} {
		grant(t, acl, "User:"+user, kmsg.ACLResourceTypeTopic, topic, op)
		grant(t, acl, "User:CN=alice,O=sluice", kmsg.ACLResourceTypeTopic, topic, op)
	}
	scramArgs := func(password string) []string {
		return []string{"-b", saslSSLAddr, "-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=SCRAM-SHA-512",
			"-X", "sasl.username=" + user, "-X", "sasl.password=" + password, "-X", "ssl.ca.location=" + certs.CA}
	}
	mtlsArgs := []string{"-b", sslAddr, "-X", "security.protocol=SSL", "-X", "ssl.ca.location=" + certs.CA,
		"-X", "ssl.certificate.location=" + certs.ClientCert, "-X", "ssl.key.location=" + certs.ClientKey}

	if out, errOut, err := kcat(t, "one\ntwo\n", append(scramArgs("carol-pw"), "-P", "-t", topic)...); err != nil {
		t.Fatalf("kcat produce over SASL_SSL: %v\n%s%s", err, out, errOut)
	}
	if out, errOut, err := kcat(t, "three\n", append(mtlsArgs, "-P", "-t", topic)...); err != nil {
		t.Fatalf("kcat produce over mTLS: %v\n%s%s", err, out, errOut)
	}
	for name, args := range map[string][]string{"SASL_SSL": scramArgs("carol-pw"), "mTLS": mtlsArgs} {
		out, errOut, err := kcat(t, "", append(args, "-C", "-t", topic, "-o", "beginning", "-c", "3", "-e")...)
		if err != nil || out != "one\ntwo\nthree\n" {
			t.Errorf("kcat consume over %s: %v\n%q\n%s", name, err, out, errOut)
		}
	}
	out, errOut, err := kcat(t, "", append(scramArgs("wrong"), "-L", "-m", "5")...)
	if err == nil || !strings.Contains(errOut+out, "Authentication failed") {
		t.Errorf("kcat with a wrong password: %v\n%s%s", err, out, errOut)
	}
}

// TestConfluentPLAIN produces and consumes with librdkafka through
// confluent-kafka-python, logging in with SASL PLAIN, over SASL_PLAINTEXT and
// SASL_SSL (wrong passwords are TestSCRAMAndPLAIN's and TestKcat's).
func TestConfluentPLAIN(t *testing.T) {
	_, adm := admin(t)
	for _, tc := range []struct {
		name, addr, protocol string
		extra                []string
	}{
		{"SASL_PLAINTEXT", saslAddr, "SASL_PLAINTEXT", nil},
		{"SASL_SSL", saslSSLAddr, "SASL_SSL", []string{certs.CA}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := unique(t, "plain")
			createTopic(t, adm, topic)
			run := func(password string) (string, error) {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
				defer cancel()
				args := append([]string{"testdata/plain_confluent.py", tc.addr, tc.protocol, "admin", password, topic, "20"}, tc.extra...)
				out, err := exec.CommandContext(ctx, "/usr/bin/python3", args...).CombinedOutput()
				return string(out), err
			}
			out, err := run(adminPassword)
			if err != nil {
				t.Fatalf("confluent-kafka over %s: %v\n%s", tc.name, err, out)
			}
			var want []string
			for i := range 20 {
				want = append(want, fmt.Sprintf("v%d", i))
			}
			if got := strings.Fields(out); !slices.Equal(got, want) {
				t.Fatalf("consumed %q, want %q", got, want)
			}
		})
	}
}
