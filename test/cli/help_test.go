package cli

import (
	"strings"
	"testing"
)

// subcommands lists the commands in a --help text's "Available Commands".
func subcommands(help string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(help, "\n") {
		switch {
		case strings.HasPrefix(l, "Available Commands:"):
			in = true
		case in && strings.TrimSpace(l) == "":
			in = false
		case in:
			if f := strings.Fields(l); len(f) > 0 && f[0] != "help" {
				out = append(out, f[0])
			}
		}
	}
	return out
}

// TestHelpForEveryCommand walks the whole command tree through --help and
// checks every command explains itself and exits 0.
func TestHelpForEveryCommand(t *testing.T) {
	seen := map[string]bool{}
	var walk func(path []string)
	walk = func(path []string) {
		args := append(append([]string(nil), path...), "--help")
		r := ok(t, "", nil, args...)
		name := strings.Join(append([]string{"sluice"}, path...), " ")
		if !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, name) {
			t.Errorf("%s --help does not show its usage:\n%s", name, r.stdout)
		}
		seen[strings.Join(path, " ")] = true
		for _, sub := range subcommands(r.stdout) {
			walk(append(append([]string(nil), path...), sub))
		}
	}
	walk(nil)

	client := []string{
		"topics create", "topics list", "topics describe", "topics delete", "topics alter-config", "topics add-partitions",
		"produce", "consume", "configs describe", "configs alter", "records delete", "cluster info",
		"acls create", "acls list", "acls delete", "users create", "users list", "users delete",
		"quotas describe", "quotas alter",
	}
	for _, c := range client {
		if !seen[c] {
			t.Errorf("sluice %s is missing from the command tree", c)
			continue
		}
		r := ok(t, "", nil, append(strings.Fields(c), "--help")...)
		for _, flag := range []string{"--brokers", "--bootstrap-server", "SLUICE_BROKERS",
			"--tls-ca", "--tls-cert", "--tls-key", "--tls-insecure-skip-verify", "--sasl-mechanism", "--user", "SLUICE_PASSWORD"} {
			if !strings.Contains(r.stdout, flag) {
				t.Errorf("sluice %s --help does not mention %s", c, flag)
			}
		}
	}
	if !seen["completion"] {
		t.Errorf("no shell completion command")
	}
	t.Logf("%d commands checked", len(seen))
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"topics", "create"}, []string{"name a topic"}},
		{[]string{"produce"}, []string{"accepts 1 arg"}},
		{[]string{"consume", "t", "--no-such-flag"}, []string{"unknown flag: --no-such-flag", "--help"}},
		{[]string{"produce", "t", "--acks", "2"}, []string{"--acks"}},
		{[]string{"consume", "t", "--format", "xml"}, []string{"--format"}},
		{[]string{"configs", "describe"}, []string{"--topic NAME, --broker ID or --broker-defaults"}},
		{[]string{"topics", "add-partitions", "t"}, []string{"--partitions N is required"}},
		{[]string{"topics", "list", "--brokers", "nonsense"}, []string{"not host:port"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			fails(t, "127.0.0.1:1", nil, tc.want, tc.args...)
		})
	}
}
