package cli

import (
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestACLPlan checks the operations each resource gets, as kafka-acls.sh's
// --producer and --consumer give them.
func TestACLPlan(t *testing.T) {
	topic := aclResource{kmsg.ACLResourceTypeTopic, "orders"}
	group := aclResource{kmsg.ACLResourceTypeGroup, "billing"}
	txn := aclResource{kmsg.ACLResourceTypeTransactionalId, "tx"}
	cluster := aclResource{kmsg.ACLResourceTypeCluster, "kafka-cluster"}
	const (
		R  = kmsg.ACLOperationRead
		W  = kmsg.ACLOperationWrite
		C  = kmsg.ACLOperationCreate
		D  = kmsg.ACLOperationDescribe
		IW = kmsg.ACLOperationIdempotentWrite
	)
	for _, tc := range []struct {
		name    string
		flags   aclEntryFlags
		res     []aclResource
		filter  bool
		want    map[aclResource][]kmsg.ACLOperation
		wantErr string
	}{
		{name: "operations", flags: aclEntryFlags{operations: []string{"Read", "describe,READ"}}, res: []aclResource{topic, group},
			want: map[aclResource][]kmsg.ACLOperation{topic: {R, D}, group: {R, D}}},
		{name: "producer", flags: aclEntryFlags{producer: true, idempotent: true}, res: []aclResource{topic, txn},
			want: map[aclResource][]kmsg.ACLOperation{topic: {W, D, C}, txn: {W, D}, cluster: {IW}}},
		{name: "consumer", flags: aclEntryFlags{consumer: true}, res: []aclResource{topic, group},
			want: map[aclResource][]kmsg.ACLOperation{topic: {R, D}, group: {R}}},
		{name: "both", flags: aclEntryFlags{producer: true, consumer: true}, res: []aclResource{topic, group},
			want: map[aclResource][]kmsg.ACLOperation{topic: {W, D, C, R}, group: {R}}},
		{name: "filter any", flags: aclEntryFlags{}, res: []aclResource{topic}, filter: true,
			want: map[aclResource][]kmsg.ACLOperation{topic: nil}},
		{name: "any refused in create", flags: aclEntryFlags{operations: []string{"any"}}, res: []aclResource{topic}, wantErr: "--operation \"any\""},
		{name: "no operation", flags: aclEntryFlags{}, res: []aclResource{topic}, wantErr: "give --operation"},
		{name: "consumer without group", flags: aclEntryFlags{consumer: true}, res: []aclResource{topic}, wantErr: "--consumer needs --group"},
		{name: "producer on a cluster", flags: aclEntryFlags{producer: true}, res: []aclResource{topic, cluster}, wantErr: "not cluster"},
		{name: "idempotent alone", flags: aclEntryFlags{idempotent: true, operations: []string{"Read"}}, res: []aclResource{topic}, wantErr: "--idempotent goes with --producer"},
		{name: "mixed", flags: aclEntryFlags{producer: true, operations: []string{"Read"}}, res: []aclResource{topic}, wantErr: "do not go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got, err := tc.flags.plan(tc.res, tc.filter)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("plan %v, want %v", got, tc.want)
			}
		})
	}
}

func TestACLEntries(t *testing.T) {
	f := aclEntryFlags{allow: []string{"User:a", "User:b"}, allowHosts: []string{"10.0.0.1"}, deny: []string{"User:c"}}
	got, err := f.entries(false)
	if err != nil {
		t.Fatal(err)
	}
	want := []aclEntry{
		{"User:a", "10.0.0.1", kmsg.ACLPermissionTypeAllow},
		{"User:b", "10.0.0.1", kmsg.ACLPermissionTypeAllow},
		{"User:c", "*", kmsg.ACLPermissionTypeDeny},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("create entries %v, want %v", got, want)
	}
	got, err = f.entries(true)
	if err != nil {
		t.Fatal(err)
	}
	if got[2].host != "" {
		t.Errorf("a filter without --deny-host matches any host, got %q", got[2].host)
	}
}

// TestQuotaEntityFlags checks that each --entity-name and --entity-default
// pairs with the --entity-type before it.
func TestQuotaEntityFlags(t *testing.T) {
	parse := func(args ...string) (*quotaEntityFlags, error) {
		var q quotaEntityFlags
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		q.register(fs)
		return &q, fs.Parse(args)
	}
	q, err := parse("--entity-type", "users", "--entity-default", "--entity-type", "clients", "--entity-name", "app")
	if err != nil {
		t.Fatal(err)
	}
	e, err := q.entity()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := quotaEntityString(e), "the default user-principal, client-id 'app'"; got != want {
		t.Errorf("entity %q, want %q", got, want)
	}
	f := q.filter()
	if len(f) != 2 || f[0].Type != "user" || f[0].MatchType != 1 || f[1].Type != "client-id" || f[1].MatchType != 0 || *f[1].MatchName != "app" {
		t.Errorf("filter %+v", f)
	}
	q, err = parse("--entity-type", "ips")
	if err != nil {
		t.Fatal(err)
	}
	if f := q.filter(); len(f) != 1 || f[0].MatchType != 2 {
		t.Errorf("a type alone matches any entity of it: %+v", f)
	}
	if _, err := q.entity(); err == nil {
		t.Errorf("alter of a type without a name or default: no error")
	}
	for _, bad := range [][]string{
		{"--entity-name", "alice"},
		{"--entity-type", "users", "--entity-name", "a", "--entity-name", "b"},
		{"--entity-type", "users", "--entity-type", "user"},
		{"--entity-type", "topics"},
	} {
		if _, err := parse(bad...); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	name := "bob"
	if got, want := quotaEntityString(kadm.ClientQuotaEntity{{Type: "client-id", Name: &name}, {Type: "user"}}), "the default user-principal, client-id 'bob'"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	for v, want := range map[float64]string{1048576: "1048576.0", 0.5: "0.5", 50: "50.0"} {
		if got := quotaValue(v); got != want {
			t.Errorf("quotaValue(%v) = %q, want %q", v, got, want)
		}
	}
}
