package cli

import (
	"strings"
	"testing"
	"time"
)

// The security commands end to end: users, ACLs and quotas made with the
// CLI, and the CLI speaking TLS, mutual TLS and SASL (PLAIN, SCRAM).

// secureWait bounds how long a change made through the metadata log (an
// ACL, a credential) may take to reach the broker's authorizer.
const secureWait = 20 * time.Second

// eventually runs sluice until check passes on its result, or fails the test
// after secureWait with the last result.
func eventually(t *testing.T, what string, check func(result) bool, env []string, stdin []byte, args ...string) result {
	t.Helper()
	deadline := time.Now().Add(secureWait)
	for {
		r := runEnv(t, env, stdin, args...)
		if check(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last run of sluice %s:\n%s", what, secureWait, strings.Join(args, " "), r)
		}
		time.Sleep(100 * time.Millisecond) // between runs of a process, while the change propagates
	}
}

// okEnv runs sluice with env and fails unless it exits 0.
func okEnv(t *testing.T, env []string, stdin []byte, args ...string) result {
	t.Helper()
	r := runEnv(t, env, stdin, args...)
	if r.code != 0 {
		t.Fatalf("sluice %s: want exit code 0\n%s", strings.Join(args, " "), r)
	}
	return r
}

// failsEnv runs sluice with env and fails unless it exits non-zero with
// stderr containing every one of want.
func failsEnv(t *testing.T, env []string, stdin []byte, want []string, args ...string) result {
	t.Helper()
	r := runEnv(t, env, stdin, args...)
	if r.code == 0 {
		t.Fatalf("sluice %s: want a non-zero exit code\n%s", strings.Join(args, " "), r)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Fatalf("sluice %s: stderr lacks %q\n%s", strings.Join(args, " "), w, r)
		}
	}
	return r
}

func args(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func cmd(s string) []string { return strings.Fields(s) }

// TestSecureUsersAndACLs is the story of a new user: the admin creates a
// SCRAM user with the CLI; the user, over SASL_SSL with --tls-ca, is
// refused until the admin grants ACLs with the CLI, then produces and
// consumes with the CLI; the ACLs are listed and one is deleted, which
// refuses the user again; a wrong password is refused; and once the user
// is deleted it cannot log in.
func TestSecureUsersAndACLs(t *testing.T) {
	b := startSecureBroker(t)
	adminEnv := []string{"SLUICE_PASSWORD=" + adminPassword}
	admin := b.as("admin", "PLAIN")
	aliceEnv := []string{"SLUICE_PASSWORD=alice-secret"}
	alice := b.as("alice", "SCRAM-SHA-512")
	topic := topicName(t)

	okEnv(t, adminEnv, nil, args(cmd("topics create "+topic+" --partitions 1"), admin)...)

	// Users: alice with SCRAM-SHA-512 (password on stdin), bob with both
	// mechanisms (password in the environment).
	r := okEnv(t, adminEnv, []byte("alice-secret\n"), args(cmd("users create alice --mechanism SCRAM-SHA-512 --scram-password-stdin"), admin)...)
	if want := "Set the SCRAM-SHA-512 credential of user alice (4096 iterations).\n"; r.stdout != want {
		t.Errorf("users create alice: stdout %q, want %q", r.stdout, want)
	}
	okEnv(t, append([]string{"SLUICE_SCRAM_PASSWORD=bob-secret"}, adminEnv...), nil, args(cmd("users create bob --iterations 8192"), admin)...)
	r = okEnv(t, adminEnv, nil, args(cmd("users list"), admin)...)
	want := "SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-512=iterations=4096\n" +
		"SCRAM credential configs for user-principal 'bob' are SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=8192\n"
	if r.stdout != want {
		t.Errorf("users list: stdout\n%s\nwant\n%s", r.stdout, want)
	}
	failsEnv(t, adminEnv, nil, []string{"nobody has no SCRAM credentials"}, args(cmd("users list nobody"), admin)...)

	// alice authenticates but may not write yet.
	lines := []byte("one\ntwo\nthree\n")
	produce := args(cmd("produce "+topic), alice)
	eventually(t, "alice's produce refused for want of ACLs", func(r result) bool {
		return r.code != 0 && strings.Contains(r.stderr, "TOPIC_AUTHORIZATION_FAILED")
	}, aliceEnv, lines, produce...)

	r = okEnv(t, adminEnv, nil, args(cmd("acls create --allow-principal User:alice --operation Write --operation Describe --topic "+topic), admin)...)
	pattern := "ResourcePattern(resourceType=TOPIC, name=" + topic + ", patternType=LITERAL)"
	want = "Adding ACLs for resource `" + pattern + "`:\n" +
		" \t(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)\n" +
		" \t(principal=User:alice, host=*, operation=DESCRIBE, permissionType=ALLOW)\n"
	if r.stdout != want {
		t.Errorf("acls create: stdout\n%s\nwant\n%s", r.stdout, want)
	}
	eventually(t, "alice's produce allowed by the ACL", func(r result) bool { return r.code == 0 }, aliceEnv, lines, produce...)

	consume := args(cmd("consume "+topic+" --from-beginning --exit-at-end"), alice)
	failsEnv(t, aliceEnv, nil, []string{"TOPIC_AUTHORIZATION_FAILED"}, consume...)
	okEnv(t, adminEnv, nil, args(cmd("acls create --allow-principal User:alice --operation Read --topic "+topic), admin)...)
	r = eventually(t, "alice's consume allowed by the ACL", func(r result) bool { return r.code == 0 }, aliceEnv, nil, consume...)
	if r.stdout != string(lines) {
		t.Errorf("alice consumed %q, want %q", r.stdout, lines)
	}

	r = okEnv(t, adminEnv, nil, args(cmd("acls list --topic "+topic), admin)...)
	want = "Current ACLs for resource `" + pattern + "`:\n" +
		" \t(principal=User:alice, host=*, operation=DESCRIBE, permissionType=ALLOW)\n" +
		" \t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)\n" +
		" \t(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)\n\n"
	if r.stdout != want {
		t.Errorf("acls list --topic: stdout\n%s\nwant\n%s", r.stdout, want)
	}
	r = okEnv(t, adminEnv, nil, args(cmd("acls list --principal User:alice"), admin)...)
	if r.stdout != want {
		t.Errorf("acls list --principal: stdout\n%s\nwant\n%s", r.stdout, want)
	}
	r = okEnv(t, adminEnv, nil, args(cmd("acls list --principal User:bob"), admin)...)
	if r.stdout != "" {
		t.Errorf("acls list --principal User:bob: stdout %q, want nothing", r.stdout)
	}

	// alice may not list ACLs herself: that needs Describe on the cluster.
	failsEnv(t, aliceEnv, nil, []string{"CLUSTER_AUTHORIZATION_FAILED"}, args(cmd("acls list"), alice)...)

	r = okEnv(t, adminEnv, nil, args(cmd("acls delete --allow-principal User:alice --operation Write --topic "+topic), admin)...)
	want = "Removed ACLs for resource `" + pattern + "`:\n" +
		" \t(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)\n\n"
	if r.stdout != want {
		t.Errorf("acls delete: stdout\n%s\nwant\n%s", r.stdout, want)
	}
	// Without Write on any topic, the idempotent producer's InitProducerId
	// is refused first, as Kafka refuses it: CLUSTER_AUTHORIZATION_FAILED.
	eventually(t, "alice's produce refused once the ACL is deleted", func(r result) bool {
		return r.code != 0 && (strings.Contains(r.stderr, "TOPIC_AUTHORIZATION_FAILED") || strings.Contains(r.stderr, "CLUSTER_AUTHORIZATION_FAILED"))
	}, aliceEnv, lines, produce...)
	r = okEnv(t, adminEnv, nil, args(cmd("acls list --topic "+topic), admin)...)
	if strings.Contains(r.stdout, "WRITE") || !strings.Contains(r.stdout, "READ") {
		t.Errorf("acls list after deleting Write: stdout\n%s", r.stdout)
	}
	r = okEnv(t, adminEnv, nil, args(cmd("acls delete --topic "+topic), admin)...)
	if strings.Count(r.stdout, "principal=User:alice") != 2 {
		t.Errorf("acls delete --topic: want alice's two remaining ACLs removed, stdout\n%s", r.stdout)
	}
	r = okEnv(t, adminEnv, nil, args(cmd("acls list"), admin)...)
	if r.stdout != "" {
		t.Errorf("acls list after deleting all: stdout %q, want nothing", r.stdout)
	}

	// A wrong password, and a user deleted.
	failsEnv(t, []string{"SLUICE_PASSWORD=wrong"}, nil, []string{"SASL_AUTHENTICATION_FAILED"}, args(cmd("topics list"), alice)...)
	r = okEnv(t, adminEnv, nil, args(cmd("users delete alice"), admin)...)
	if want := "Deleted the SCRAM-SHA-512 credential of user alice.\n"; r.stdout != want {
		t.Errorf("users delete alice: stdout %q, want %q", r.stdout, want)
	}
	eventually(t, "alice refused once deleted", func(r result) bool {
		return r.code != 0 && strings.Contains(r.stderr, "SASL_AUTHENTICATION_FAILED")
	}, aliceEnv, nil, args(cmd("topics list"), alice)...)
	failsEnv(t, adminEnv, nil, []string{"alice", "no SCRAM credentials"}, args(cmd("users delete alice"), admin)...)
	okEnv(t, adminEnv, nil, args(cmd("users delete alice --if-exists"), admin)...)
	// bob, with both mechanisms, logs in with SCRAM-SHA-256 too.
	okEnv(t, []string{"SLUICE_PASSWORD=bob-secret"}, nil, args(cmd("topics list"), b.as("bob", "SCRAM-SHA-256"))...)
}

// TestSecureMutualTLS connects to a listener that requires client
// certificates: with --tls-cert and --tls-key the certificate's subject is
// the principal, which ACLs made with the CLI name; without a certificate,
// or without --tls-ca, the CLI is refused with a message that says why.
func TestSecureMutualTLS(t *testing.T) {
	b := startSecureBroker(t)
	adminEnv := []string{"SLUICE_PASSWORD=" + adminPassword}
	admin := b.as("admin", "PLAIN")
	topic := topicName(t)
	okEnv(t, adminEnv, nil, args(cmd("topics create "+topic+" --partitions 1"), admin)...)

	carol := []string{"--brokers", b.sslAddr, "--tls-ca", b.pki.CA, "--tls-cert", b.pki.ClientCert, "--tls-key", b.pki.ClientKey, "--timeout", "10s"}
	r := okEnv(t, nil, nil, args(cmd("topics list"), carol)...)
	if strings.Contains(r.stdout, topic) {
		t.Errorf("carol sees %s without an ACL:\n%s", topic, r.stdout)
	}
	okEnv(t, adminEnv, nil, args(cmd("acls create --operation Describe --topic "+topic), []string{"--allow-principal", "User:CN=carol,O=sluice"}, admin)...)
	eventually(t, "carol sees the topic the ACL lets her describe", func(r result) bool {
		return r.code == 0 && strings.Contains(r.stdout, topic)
	}, nil, nil, args(cmd("topics list"), carol)...)

	noCert := []string{"--brokers", b.sslAddr, "--tls-ca", b.pki.CA, "--timeout", "5s"}
	failsEnv(t, nil, nil, []string{"certificate required", "--tls-cert and --tls-key"}, args(cmd("topics list"), noCert)...)
	noCA := []string{"--brokers", b.saslSSL, "--tls", "--sasl-mechanism", "PLAIN", "--user", "admin", "--timeout", "5s"}
	failsEnv(t, adminEnv, nil, []string{"not signed by a trusted CA", "--tls-ca"}, args(cmd("topics list"), noCA)...)
	okEnv(t, adminEnv, nil, args(cmd("topics list --tls-insecure-skip-verify"), noCA)...)
}

// TestSecureFlagErrors checks the TLS and SASL flags' own errors, which
// need no broker.
func TestSecureFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		args string
		want []string
	}{
		{nil, "topics list --user alice", []string{"--user needs --sasl-mechanism"}},
		{nil, "topics list --sasl-mechanism PLAIN", []string{"needs --user"}},
		{nil, "topics list --sasl-mechanism SCRAM-SHA-512 --user alice", []string{"SLUICE_PASSWORD"}},
		{[]string{"SLUICE_PASSWORD=x"}, "topics list --sasl-mechanism GSSAPI --user alice", []string{"--sasl-mechanism \"GSSAPI\"", "SCRAM-SHA-512"}},
		{nil, "topics list --tls-ca /nonexistent/ca.pem", []string{"--tls-ca"}},
		{nil, "topics list --tls-key /nonexistent/key.pem", []string{"--tls-key needs --tls-cert"}},
		{nil, "users create alice", []string{"--scram-password-stdin", "SLUICE_SCRAM_PASSWORD"}},
		{nil, "users create alice --scram-password x --iterations 100", []string{"--iterations 100"}},
		{nil, "users create alice --scram-password x --mechanism SCRAM-SHA-1", []string{"--mechanism \"SCRAM-SHA-1\""}},
		{nil, "acls create --operation Read --topic t", []string{"--allow-principal or --deny-principal"}},
		{nil, "acls create --allow-principal alice --operation Read --topic t", []string{"want Type:Name", "User:alice"}},
		{nil, "acls create --allow-principal User:alice --topic t", []string{"give --operation"}},
		{nil, "acls create --allow-principal User:alice --operation Fly --topic t", []string{"--operation \"Fly\""}},
		{nil, "acls create --allow-principal User:alice --operation Read", []string{"name a resource"}},
		{nil, "acls create --allow-principal User:alice --consumer --topic t", []string{"--consumer needs --group"}},
		{nil, "acls create --allow-principal User:alice --operation Read --topic t --resource-pattern-type match", []string{"want literal or prefixed"}},
		{nil, "acls delete --allow-principal User:alice", []string{"name a resource"}},
		{nil, "quotas alter --add-config producer_byte_rate=1", []string{"--entity-type"}},
		{nil, "quotas alter --entity-name alice --add-config producer_byte_rate=1", []string{"give --entity-type first"}},
		{nil, "quotas alter --entity-type users --add-config producer_byte_rate=1", []string{"needs --entity-name NAME or --entity-default"}},
		{nil, "quotas alter --entity-type users --entity-name alice", []string{"nothing to change"}},
		{nil, "quotas alter --entity-type users --entity-name alice --add-config producer_byte_rate=fast", []string{"not a number"}},
		{nil, "quotas alter --entity-type groups --entity-name g --add-config producer_byte_rate=1", []string{"want users, clients or ips"}},
	} {
		t.Run(tc.args, func(t *testing.T) {
			env := append([]string{"SLUICE_BROKERS=127.0.0.1:1"}, tc.env...)
			failsEnv(t, env, nil, tc.want, strings.Fields(tc.args)...)
		})
	}
}

// TestQuotas sets, shows and removes client quotas of a user, the default
// user and a user with a client id, with the CLI.
func TestQuotas(t *testing.T) {
	addr := startBroker(t)
	ok(t, addr, nil, "quotas", "alter", "--entity-type", "users", "--entity-name", "alice",
		"--add-config", "producer_byte_rate=1048576,consumer_byte_rate=2097152")
	r := ok(t, addr, nil, "quotas", "alter", "--entity-type", "users", "--entity-default", "--add-config", "consumer_byte_rate=1000")
	if want := "Completed updating quotas for the default user-principal.\n"; r.stdout != want {
		t.Errorf("alter default: stdout %q, want %q", r.stdout, want)
	}
	ok(t, addr, nil, "quotas", "alter", "--entity-type", "users", "--entity-name", "alice", "--entity-type", "clients", "--entity-name", "app",
		"--add-config", "request_percentage=50")
	ok(t, addr, nil, "quotas", "alter", "--entity-type", "ips", "--entity-name", "10.0.0.7", "--add-config", "connection_creation_rate=10")

	alice := "Quota configs for user-principal 'alice' are consumer_byte_rate=2097152.0, producer_byte_rate=1048576.0\n"
	aliceApp := "Quota configs for user-principal 'alice', client-id 'app' are request_percentage=50.0\n"
	dflt := "Quota configs for the default user-principal are consumer_byte_rate=1000.0\n"
	ip := "Quota configs for ip '10.0.0.7' are connection_creation_rate=10.0\n"
	for _, tc := range []struct {
		filter string
		want   string
	}{
		{"", ip + dflt + alice + aliceApp},
		{"--entity-type users", dflt + alice},
		{"--entity-type users --entity-name alice", alice},
		{"--entity-type users --entity-default", dflt},
		{"--entity-type users --entity-name alice --entity-type clients", aliceApp},
		{"--entity-type ips", ip},
		{"--entity-type users --entity-name bob", ""},
	} {
		r := ok(t, addr, nil, append(cmd("quotas describe"), strings.Fields(tc.filter)...)...)
		if r.stdout != tc.want {
			t.Errorf("quotas describe %s: stdout\n%s\nwant\n%s", tc.filter, r.stdout, tc.want)
		}
	}

	r = ok(t, addr, nil, "quotas", "alter", "--entity-type", "users", "--entity-name", "alice", "--delete-config", "consumer_byte_rate")
	if want := "Completed updating quotas for user-principal 'alice'.\n"; r.stdout != want {
		t.Errorf("alter alice: stdout %q, want %q", r.stdout, want)
	}
	r = ok(t, addr, nil, "quotas", "describe", "--entity-type", "users", "--entity-name", "alice")
	if want := "Quota configs for user-principal 'alice' are producer_byte_rate=1048576.0\n"; r.stdout != want {
		t.Errorf("after --delete-config: stdout %q, want %q", r.stdout, want)
	}
	r = ok(t, addr, nil, "quotas", "alter", "--validate-only", "--entity-type", "users", "--entity-name", "alice", "--add-config", "producer_byte_rate=1")
	if want := "The quota change for user-principal 'alice' is valid.\n"; r.stdout != want {
		t.Errorf("--validate-only: stdout %q, want %q", r.stdout, want)
	}
	r = ok(t, addr, nil, "quotas", "describe", "--entity-type", "users", "--entity-name", "alice")
	if !strings.Contains(r.stdout, "producer_byte_rate=1048576.0") {
		t.Errorf("--validate-only changed the quota: %s", r.stdout)
	}
	// The broker's own refusal: an IP entity has no byte rates.
	fails(t, addr, nil, []string{"ip '10.0.0.7'", "INVALID_REQUEST"},
		"quotas", "alter", "--entity-type", "ips", "--entity-name", "10.0.0.7", "--add-config", "producer_byte_rate=1")
}
