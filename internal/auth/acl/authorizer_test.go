package acl

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	topic   = kmsg.ACLResourceTypeTopic
	group   = kmsg.ACLResourceTypeGroup
	cluster = kmsg.ACLResourceTypeCluster
	txnID   = kmsg.ACLResourceTypeTransactionalId

	literal  = kmsg.ACLResourcePatternTypeLiteral
	prefixed = kmsg.ACLResourcePatternTypePrefixed

	allow = kmsg.ACLPermissionTypeAllow
	deny  = kmsg.ACLPermissionTypeDeny

	opAll        = kmsg.ACLOperationAll
	opRead       = kmsg.ACLOperationRead
	opWrite      = kmsg.ACLOperationWrite
	opCreate     = kmsg.ACLOperationCreate
	opDelete     = kmsg.ACLOperationDelete
	opAlter      = kmsg.ACLOperationAlter
	opDescribe   = kmsg.ACLOperationDescribe
	opDescConfig = kmsg.ACLOperationDescribeConfigs
	opAltConfig  = kmsg.ACLOperationAlterConfigs
	opIdemWrite  = kmsg.ACLOperationIdempotentWrite
)

// b builds a binding: resource type, pattern, name, principal, host, operation, permission.
func b(rt kmsg.ACLResourceType, pt kmsg.ACLResourcePatternType, name, principal, host string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) Binding {
	return Binding{ResourceType: rt, PatternType: pt, ResourceName: name, Principal: principal, Host: host, Operation: op, Permission: perm}
}

func act(principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) Action {
	return Action{Principal: principal, Host: host, Operation: op, ResourceType: rt, ResourceName: name}
}

func TestAuthorize(t *testing.T) {
	const alice, bob = "User:alice", "User:bob"
	const ip = "10.0.0.1"
	tests := []struct {
		name       string
		bindings   []Binding
		cfg        Config
		action     Action
		want       bool
		wantReason Reason
	}{
		{
			name:       "no ACLs denies by default",
			action:     act(alice, ip, opRead, topic, "t"),
			wantReason: ReasonNoACL,
		},
		{
			name:       "no ACLs with allow.everyone.if.no.acl.found",
			cfg:        Config{AllowEveryoneIfNoACLFound: true},
			action:     act(alice, ip, opRead, topic, "t"),
			want:       true,
			wantReason: ReasonNoACL,
		},
		{
			name:       "ACLs on another resource leave allow.everyone in force",
			cfg:        Config{AllowEveryoneIfNoACLFound: true},
			bindings:   []Binding{b(topic, literal, "other", bob, "*", opRead, allow)},
			action:     act(alice, ip, opRead, topic, "t"),
			want:       true,
			wantReason: ReasonNoACL,
		},
		{
			name:       "ACLs on the resource for another principal deny even with allow.everyone",
			cfg:        Config{AllowEveryoneIfNoACLFound: true},
			bindings:   []Binding{b(topic, literal, "t", bob, "*", opRead, allow)},
			action:     act(alice, ip, opRead, topic, "t"),
			wantReason: ReasonNoMatchingACL,
		},
		{
			name:       "same name but another resource type does not apply",
			bindings:   []Binding{b(group, literal, "t", alice, "*", opRead, allow)},
			action:     act(alice, ip, opRead, topic, "t"),
			wantReason: ReasonNoACL,
		},
		{
			name:       "literal allow",
			bindings:   []Binding{b(topic, literal, "t", alice, "*", opRead, allow)},
			action:     act(alice, ip, opRead, topic, "t"),
			want:       true,
			wantReason: ReasonAllowACL,
		},
		{
			name:       "literal allow is for its name only",
			bindings:   []Binding{b(topic, literal, "t", alice, "*", opRead, allow)},
			action:     act(alice, ip, opRead, topic, "t2"),
			wantReason: ReasonNoACL,
		},
		{
			name:       "wildcard resource allow",
			bindings:   []Binding{b(topic, literal, "*", alice, "*", opRead, allow)},
			action:     act(alice, ip, opRead, topic, "anything"),
			want:       true,
			wantReason: ReasonAllowACL,
		},
		{
			name:       "prefixed allow",
			bindings:   []Binding{b(topic, prefixed, "orders-", alice, "*", opWrite, allow)},
			action:     act(alice, ip, opWrite, topic, "orders-eu"),
			want:       true,
			wantReason: ReasonAllowACL,
		},
		{
			name:       "prefixed allow covers the prefix itself",
			bindings:   []Binding{b(topic, prefixed, "orders", alice, "*", opWrite, allow)},
			action:     act(alice, ip, opWrite, topic, "orders"),
			want:       true,
			wantReason: ReasonAllowACL,
		},
		{
			name:       "a longer prefix does not cover a shorter name",
			bindings:   []Binding{b(topic, prefixed, "orders-", alice, "*", opWrite, allow)},
			action:     act(alice, ip, opWrite, topic, "orders"),
			wantReason: ReasonNoACL,
		},
		{
			name:       "prefixed star is a prefix, not a wildcard",
			bindings:   []Binding{b(topic, prefixed, "*", alice, "*", opWrite, allow)},
			action:     act(alice, ip, opWrite, topic, "orders"),
			wantReason: ReasonNoACL,
		},
		{
			name:       "wildcard principal",
			bindings:   []Binding{b(topic, literal, "t", "User:*", "*", opRead, allow)},
			action:     act(alice, ip, opRead, topic, "t"),
			want:       true,
			wantReason: ReasonAllowACL,
		},
		{
			name:       "principal type matters",
			bindings:   []Binding{b(topic, literal, "t", "Group:alice", "*", opRead, allow)},
			action:     act(alice, ip, opRead, topic, "t"),
			wantReason: ReasonNoMatchingACL,
		},
		{
			name:       "host must match",
			bindings:   []Binding{b(topic, literal, "t", alice, "10.0.0.2", opRead, allow)},
			action:     act(alice, ip, opRead, topic, "t"),
			wantReason: ReasonNoMatchingACL,
		},
		{
			name:       "host matches",
			bindings:   []Binding{b(topic, literal, "t", alice, ip, opRead, allow)},
			action:     act(alice, ip, opRead, topic, "t"),
			want:       true,
			wantReason: ReasonAllowACL,
		},
		{
			name:       "IPv6 host written as Java writes it",
			bindings:   []Binding{b(topic, literal, "t", alice, "0:0:0:0:0:0:0:1", opRead, allow)},
			action:     act(alice, "::1", opRead, topic, "t"),
			want:       true,
			wantReason: ReasonAllowACL,
		},
		{
			name:       "IPv4-mapped client address matches the IPv4 ACL",
			bindings:   []Binding{b(topic, literal, "t", alice, "127.0.0.1", opRead, allow)},
			action:     act(alice, "::ffff:127.0.0.1", opRead, topic, "t"),
			want:       true,
			wantReason: ReasonAllowACL,
		},
		{
			name: "deny wins over allow",
			bindings: []Binding{
				b(topic, literal, "t", alice, "*", opRead, allow),
				b(topic, literal, "t", alice, "*", opRead, deny),
			},
			action:     act(alice, ip, opRead, topic, "t"),
			wantReason: ReasonDenyACL,
		},
		{
			name: "wildcard-principal deny wins over a principal's allow",
			bindings: []Binding{
				b(topic, literal, "t", alice, "*", opRead, allow),
				b(topic, literal, "t", "User:*", "*", opRead, deny),
			},
			action:     act(alice, ip, opRead, topic, "t"),
			wantReason: ReasonDenyACL,
		},
		{
			name: "prefixed deny wins over literal allow",
			bindings: []Binding{
				b(topic, literal, "secret-x", alice, "*", opRead, allow),
				b(topic, prefixed, "secret-", alice, "*", opRead, deny),
			},
			action:     act(alice, ip, opRead, topic, "secret-x"),
			wantReason: ReasonDenyACL,
		},
		{
			name: "host-specific deny wins over any-host allow",
			bindings: []Binding{
				b(topic, literal, "t", alice, "*", opRead, allow),
				b(topic, literal, "t", alice, ip, opRead, deny),
			},
			action:     act(alice, ip, opRead, topic, "t"),
			wantReason: ReasonDenyACL,
		},
		{
			name: "deny from another host does not apply",
			bindings: []Binding{
				b(topic, literal, "t", alice, "*", opRead, allow),
				b(topic, literal, "t", alice, "10.9.9.9", opRead, deny),
			},
			action:     act(alice, ip, opRead, topic, "t"),
			want:       true,
			wantReason: ReasonAllowACL,
		},
		{
			name:       "READ implies DESCRIBE",
			bindings:   []Binding{b(topic, literal, "t", alice, "*", opRead, allow)},
			action:     act(alice, ip, opDescribe, topic, "t"),
			want:       true,
			wantReason: ReasonAllowACL,
		},
		{
			name:       "WRITE implies DESCRIBE",
			bindings:   []Binding{b(topic, literal, "t", alice, "*", opWrite, allow)},
			action:     act(alice, ip, opDescribe, topic, "t"),
			want:       true,
			wantReason: ReasonAllowACL,
		},
		{
			name:       "DELETE implies DESCRIBE",
			bindings:   []Binding{b(topic, literal, "t", alice, "*", opDelete, allow)},
			action:     act(alice, ip, opDescribe, topic, "t"),
			want:       true,
			wantReason: ReasonAllowACL,
		},
		{
			name:       "ALTER implies DESCRIBE",
			bindings:   []Binding{b(topic, literal, "t", alice, "*", opAlter, allow)},
			action:     act(alice, ip, opDescribe, topic, "t"),
			want:       true,
			wantReason: ReasonAllowACL,
		},
		{
			name:       "CREATE does not imply DESCRIBE",
			bindings:   []Binding{b(topic, literal, "t", alice, "*", opCreate, allow)},
			action:     act(alice, ip, opDescribe, topic, "t"),
			wantReason: ReasonNoMatchingACL,
		},
		{
			name:       "WRITE does not imply READ",
			bindings:   []Binding{b(topic, literal, "t", alice, "*", opWrite, allow)},
			action:     act(alice, ip, opRead, topic, "t"),
			wantReason: ReasonNoMatchingACL,
		},
		{
			name:       "ALTER_CONFIGS implies DESCRIBE_CONFIGS",
			bindings:   []Binding{b(topic, literal, "t", alice, "*", opAltConfig, allow)},
			action:     act(alice, ip, opDescConfig, topic, "t"),
			want:       true,
			wantReason: ReasonAllowACL,
		},
		{
			name:       "DESCRIBE_CONFIGS does not imply ALTER_CONFIGS",
			bindings:   []Binding{b(topic, literal, "t", alice, "*", opDescConfig, allow)},
			action:     act(alice, ip, opAltConfig, topic, "t"),
			wantReason: ReasonNoMatchingACL,
		},
		{
			name:       "ALL allows everything",
			bindings:   []Binding{b(cluster, literal, ClusterName, alice, "*", opAll, allow)},
			action:     act(alice, ip, opIdemWrite, cluster, ClusterName),
			want:       true,
			wantReason: ReasonAllowACL,
		},
		{
			name: "DENY ALL denies everything",
			bindings: []Binding{
				b(topic, literal, "t", alice, "*", opRead, allow),
				b(topic, literal, "t", alice, "*", opAll, deny),
			},
			action:     act(alice, ip, opRead, topic, "t"),
			wantReason: ReasonDenyACL,
		},
		{
			name: "DENY READ does not deny an allowed DESCRIBE",
			bindings: []Binding{
				b(topic, literal, "t", alice, "*", opDescribe, allow),
				b(topic, literal, "t", alice, "*", opRead, deny),
			},
			action:     act(alice, ip, opDescribe, topic, "t"),
			want:       true,
			wantReason: ReasonAllowACL,
		},
		{
			name: "DENY DESCRIBE does not deny an allowed READ",
			bindings: []Binding{
				b(topic, literal, "t", alice, "*", opRead, allow),
				b(topic, literal, "t", alice, "*", opDescribe, deny),
			},
			action:     act(alice, ip, opRead, topic, "t"),
			want:       true,
			wantReason: ReasonAllowACL,
		},
		{
			name: "DENY DESCRIBE wins over the DESCRIBE that READ implies",
			bindings: []Binding{
				b(topic, literal, "t", alice, "*", opRead, allow),
				b(topic, literal, "t", alice, "*", opDescribe, deny),
			},
			action:     act(alice, ip, opDescribe, topic, "t"),
			wantReason: ReasonDenyACL,
		},
		{
			name:       "super user overrides a deny",
			cfg:        Config{SuperUsers: []string{"User:admin"}},
			bindings:   []Binding{b(topic, literal, "*", "User:*", "*", opAll, deny)},
			action:     act("User:admin", ip, opWrite, topic, "t"),
			want:       true,
			wantReason: ReasonSuperUser,
		},
		{
			name:       "super users compare whole principals",
			cfg:        Config{SuperUsers: []string{"User:admin"}},
			action:     act("Group:admin", ip, opWrite, topic, "t"),
			wantReason: ReasonNoACL,
		},
		{
			name:       "an ANY operation is not an action",
			cfg:        Config{AllowEveryoneIfNoACLFound: true},
			action:     act(alice, ip, kmsg.ACLOperationAny, topic, "t"),
			wantReason: ReasonInvalidAction,
		},
		{
			name:       "transactional id",
			bindings:   []Binding{b(txnID, prefixed, "app-", alice, "*", opWrite, allow)},
			action:     act(alice, ip, opWrite, txnID, "app-1"),
			want:       true,
			wantReason: ReasonAllowACL,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAuthorizer(tt.cfg)
			a.Update(NewSnapshot(tt.bindings))
			d := a.Authorize(tt.action)
			if d.Allowed != tt.want || d.Reason != tt.wantReason {
				t.Fatalf("Authorize = allowed %v (%s), want %v (%s)", d.Allowed, d.Reason, tt.want, tt.wantReason)
			}
			if (d.Reason == ReasonAllowACL || d.Reason == ReasonDenyACL) && !NewSnapshot(tt.bindings).Contains(d.Binding) {
				t.Fatalf("decision names binding %v, which is not in the snapshot", d.Binding)
			}
		})
	}
}

// TestAuthorizeMatchesReference compares the indexed decision with a plain reading of the
// rules over every binding (Filter's MATCH pattern type selects the bindings that apply to
// a resource), for random bindings and actions.
func TestAuthorizeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "ab", "abc", "b", "ba", "*", "abd"}
	principals := []string{"User:alice", "User:bob", "User:*"}
	hosts := []string{"*", "10.0.0.1", "10.0.0.2"}
	ops := []kmsg.ACLOperation{opAll, opRead, opWrite, opDescribe, opAlter, opAltConfig, opDescConfig}
	types := []kmsg.ACLResourceType{topic, group}
	pick := func(n int) int { return rng.IntN(n) }
	for round := range 300 {
		var bs []Binding
		for range pick(12) {
			pt := literal
			if pick(2) == 0 {
				pt = prefixed
			}
			perm := allow
			if pick(3) == 0 {
				perm = deny
			}
			bs = append(bs, b(types[pick(2)], pt, names[pick(len(names))], principals[pick(3)], hosts[pick(3)], ops[pick(len(ops))], perm))
		}
		cfg := Config{AllowEveryoneIfNoACLFound: pick(2) == 0}
		a := NewAuthorizer(cfg)
		a.Update(NewSnapshot(bs))
		for range 20 {
			name := names[pick(len(names)-1)]
			if name == "*" {
				name = "abcd"
			}
			ac := act([]string{"User:alice", "User:bob"}[pick(2)], []string{"10.0.0.1", "10.0.0.2"}[pick(2)],
				ops[1+pick(len(ops)-1)], types[pick(2)], name)
			got := a.Authorize(ac).Allowed
			want := referenceAuthorize(bs, cfg, ac)
			if got != want {
				t.Fatalf("round %d: %+v with bindings %v: got %v, reference %v", round, ac, bs, got, want)
			}
		}
	}
}

func referenceAuthorize(bs []Binding, cfg Config, a Action) bool {
	name := a.ResourceName
	f := Filter{ResourceType: a.ResourceType, ResourceName: &name, PatternType: kmsg.ACLResourcePatternTypeMatch,
		Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny}
	var applicable []Binding
	for _, x := range bs {
		if f.Matches(x) {
			applicable = append(applicable, x)
		}
	}
	if len(applicable) == 0 {
		return cfg.AllowEveryoneIfNoACLFound
	}
	allowed := false
	for _, x := range applicable {
		if x.Principal != a.Principal && x.Principal != "User:*" {
			continue
		}
		if x.Host != "*" && x.Host != a.Host {
			continue
		}
		if x.Permission == deny && (x.Operation == opAll || x.Operation == a.Operation) {
			return false
		}
		if x.Permission == allow {
			switch {
			case x.Operation == opAll || x.Operation == a.Operation:
				allowed = true
			case a.Operation == opDescribe && (x.Operation == opRead || x.Operation == opWrite || x.Operation == opDelete || x.Operation == opAlter):
				allowed = true
			case a.Operation == opDescConfig && x.Operation == opAltConfig:
				allowed = true
			}
		}
	}
	return allowed
}

func TestAuthorizeDoesNotAllocate(t *testing.T) {
	a := NewAuthorizer(Config{})
	var bs []Binding
	for i := range 100 {
		bs = append(bs, b(topic, literal, fmt.Sprintf("t%d", i), "User:alice", "*", opRead, allow))
		bs = append(bs, b(topic, prefixed, fmt.Sprintf("p%d-", i), "User:bob", "10.0.0.1", opWrite, allow))
	}
	a.Update(NewSnapshot(bs))
	ac := act("User:bob", "10.0.0.1", opWrite, topic, "p42-orders")
	if !a.Allowed(ac) {
		t.Fatal("bob may not write p42-orders")
	}
	if n := testing.AllocsPerRun(100, func() { a.Authorize(ac) }); n != 0 {
		t.Fatalf("Authorize allocates %v times", n)
	}
}

func TestAuthorizeByResourceType(t *testing.T) {
	const alice, ip = "User:alice", "10.0.0.1"
	tests := []struct {
		name     string
		cfg      Config
		bindings []Binding
		want     bool
	}{
		{name: "no ACLs", want: false},
		{name: "no ACLs with allow.everyone", cfg: Config{AllowEveryoneIfNoACLFound: true}, want: true},
		{name: "super user", cfg: Config{SuperUsers: []string{alice}}, want: true},
		{name: "literal allow", bindings: []Binding{b(topic, literal, "t", alice, "*", opWrite, allow)}, want: true},
		{name: "ALL allow", bindings: []Binding{b(topic, literal, "t", alice, "*", opAll, allow)}, want: true},
		{name: "allow of another operation", bindings: []Binding{b(topic, literal, "t", alice, "*", opRead, allow)}, want: false},
		{name: "allow for another host", bindings: []Binding{b(topic, literal, "t", alice, "10.0.0.9", opWrite, allow)}, want: false},
		{name: "allow for another type", bindings: []Binding{b(group, literal, "t", alice, "*", opWrite, allow)}, want: false},
		{name: "wildcard allow", bindings: []Binding{b(topic, literal, "*", "User:*", "*", opWrite, allow)}, want: true},
		{name: "literal allow denied literally", bindings: []Binding{
			b(topic, literal, "t", alice, "*", opWrite, allow),
			b(topic, literal, "t", alice, "*", opWrite, deny),
		}, want: false},
		{name: "literal allow denied by a prefix", bindings: []Binding{
			b(topic, literal, "team-t", alice, "*", opWrite, allow),
			b(topic, prefixed, "team-", alice, "*", opWrite, deny),
		}, want: false},
		{name: "prefix allow denied by a shorter prefix", bindings: []Binding{
			b(topic, prefixed, "team-a", alice, "*", opWrite, allow),
			b(topic, prefixed, "team", alice, "*", opWrite, deny),
		}, want: false},
		{name: "prefix allow not covered by a longer deny", bindings: []Binding{
			b(topic, prefixed, "team", alice, "*", opWrite, allow),
			b(topic, prefixed, "team-a", alice, "*", opWrite, deny),
		}, want: true},
		{name: "one of two allows survives", bindings: []Binding{
			b(topic, literal, "x", alice, "*", opWrite, allow),
			b(topic, literal, "x", alice, "*", opWrite, deny),
			b(topic, literal, "y", alice, "*", opWrite, allow),
		}, want: true},
		{name: "wildcard deny", bindings: []Binding{
			b(topic, literal, "t", alice, "*", opWrite, allow),
			b(topic, literal, "*", alice, "*", opWrite, deny),
		}, want: false},
		{name: "literal deny alone", bindings: []Binding{b(topic, literal, "t", alice, "*", opWrite, deny)}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAuthorizer(tt.cfg)
			a.Update(NewSnapshot(tt.bindings))
			if got := a.AuthorizeByResourceType(alice, ip, opWrite, topic); got != tt.want {
				t.Fatalf("AuthorizeByResourceType = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseSuperUsers(t *testing.T) {
	got := ParseSuperUsers(" User:admin ; User:CN=ops,O=Acme;;")
	want := []string{"User:admin", "User:CN=ops,O=Acme"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ParseSuperUsers = %q, want %q", got, want)
	}
	if got := ParseSuperUsers(""); len(got) != 0 {
		t.Fatalf("ParseSuperUsers(\"\") = %q", got)
	}
}

func BenchmarkAuthorize(b_ *testing.B) {
	var bs []Binding
	for i := range 10000 {
		bs = append(bs, b(topic, literal, fmt.Sprintf("topic-%d", i), fmt.Sprintf("User:u%d", i%100), "*", opRead, allow))
	}
	for i := range 100 {
		bs = append(bs, b(topic, prefixed, fmt.Sprintf("team%d-", i), fmt.Sprintf("User:u%d", i), "*", opWrite, allow))
	}
	a := NewAuthorizer(Config{})
	a.Update(NewSnapshot(bs))
	ac := act("User:u7", "10.0.0.1", opWrite, topic, "team7-orders")
	for b_.Loop() {
		if !a.Allowed(ac) {
			b_.Fatal("denied")
		}
	}
}
