package acl

import (
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func ptr(s string) *string { return &s }

func TestFilterMatches(t *testing.T) {
	const alice = "User:alice"
	lit := b(topic, literal, "orders", alice, "*", opRead, allow)
	wild := b(topic, literal, "*", alice, "*", opRead, allow)
	pre := b(topic, prefixed, "ord", alice, "*", opRead, allow)
	other := b(group, literal, "orders", "User:bob", "10.0.0.1", opWrite, deny)
	all := []Binding{lit, wild, pre, other}
	tests := []struct {
		name   string
		filter Filter
		want   []Binding
	}{
		{name: "match all", filter: MatchAll, want: all},
		{name: "resource type", filter: Filter{ResourceType: group, PatternType: kmsg.ACLResourcePatternTypeAny,
			Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny}, want: []Binding{other}},
		{name: "any pattern, exact name", filter: Filter{ResourceType: kmsg.ACLResourceTypeAny, ResourceName: ptr("orders"),
			PatternType: kmsg.ACLResourcePatternTypeAny, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny},
			want: []Binding{lit, other}},
		{name: "literal star is exact", filter: Filter{ResourceType: topic, ResourceName: ptr("*"),
			PatternType: literal, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny},
			want: []Binding{wild}},
		{name: "prefixed exact", filter: Filter{ResourceType: topic, ResourceName: ptr("ord"),
			PatternType: prefixed, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny},
			want: []Binding{pre}},
		{name: "prefixed with another name", filter: Filter{ResourceType: topic, ResourceName: ptr("orders"),
			PatternType: prefixed, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny}},
		{name: "match: literal, wildcard and prefix", filter: Filter{ResourceType: topic, ResourceName: ptr("orders"),
			PatternType: kmsg.ACLResourcePatternTypeMatch, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny},
			want: []Binding{lit, wild, pre}},
		{name: "match: a name the prefix does not cover", filter: Filter{ResourceType: topic, ResourceName: ptr("or"),
			PatternType: kmsg.ACLResourcePatternTypeMatch, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny},
			want: []Binding{wild}},
		{name: "match without a name", filter: Filter{ResourceType: topic,
			PatternType: kmsg.ACLResourcePatternTypeMatch, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny},
			want: []Binding{lit, wild, pre}},
		{name: "principal is exact, no wildcard expansion", filter: Filter{ResourceType: kmsg.ACLResourceTypeAny, Principal: ptr("User:*"),
			PatternType: kmsg.ACLResourcePatternTypeAny, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny}},
		{name: "principal", filter: Filter{ResourceType: kmsg.ACLResourceTypeAny, Principal: ptr("User:bob"),
			PatternType: kmsg.ACLResourcePatternTypeAny, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny},
			want: []Binding{other}},
		{name: "host is exact", filter: Filter{ResourceType: kmsg.ACLResourceTypeAny, Host: ptr("10.0.0.1"),
			PatternType: kmsg.ACLResourcePatternTypeAny, Operation: kmsg.ACLOperationAny, Permission: kmsg.ACLPermissionTypeAny},
			want: []Binding{other}},
		{name: "operation is exact", filter: Filter{ResourceType: kmsg.ACLResourceTypeAny,
			PatternType: kmsg.ACLResourcePatternTypeAny, Operation: opWrite, Permission: kmsg.ACLPermissionTypeAny},
			want: []Binding{other}},
		{name: "operation ALL selects only ALL bindings", filter: Filter{ResourceType: kmsg.ACLResourceTypeAny,
			PatternType: kmsg.ACLResourcePatternTypeAny, Operation: opAll, Permission: kmsg.ACLPermissionTypeAny}},
		{name: "permission", filter: Filter{ResourceType: kmsg.ACLResourceTypeAny,
			PatternType: kmsg.ACLResourcePatternTypeAny, Operation: kmsg.ACLOperationAny, Permission: allow},
			want: []Binding{lit, wild, pre}},
	}
	s := NewSnapshot(all)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.filter.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			got := s.Match(tt.filter)
			want := NewSnapshot(tt.want).Bindings()
			if !slices.Equal(got, want) {
				t.Fatalf("Match =\n%v\nwant\n%v", got, want)
			}
		})
	}
}

func TestFilterValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Filter)
	}{
		{"unknown resource type", func(f *Filter) { f.ResourceType = kmsg.ACLResourceTypeUnknown }},
		{"undefined resource type", func(f *Filter) { f.ResourceType = 42 }},
		{"unknown pattern", func(f *Filter) { f.PatternType = kmsg.ACLResourcePatternTypeUnknown }},
		{"unknown operation", func(f *Filter) { f.Operation = kmsg.ACLOperationUnknown }},
		{"undefined operation", func(f *Filter) { f.Operation = -3 }},
		{"unknown permission", func(f *Filter) { f.Permission = kmsg.ACLPermissionTypeUnknown }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := MatchAll
			tt.mod(&f)
			if err := f.Validate(); !errors.Is(err, kerr.InvalidRequest) {
				t.Fatalf("Validate = %v, want INVALID_REQUEST", err)
			}
		})
	}
}

func TestBindingValidate(t *testing.T) {
	good := b(topic, literal, "t", "User:alice", "*", opRead, allow)
	if err := good.Validate(); err != nil {
		t.Fatalf("valid binding refused: %v", err)
	}
	if err := b(cluster, literal, ClusterName, "User:CN=a:b,O=x", "10.0.0.1", opAll, deny).Validate(); err != nil {
		t.Fatalf("valid cluster binding refused: %v", err)
	}
	tests := []struct {
		name    string
		mod     func(*Binding)
		message string
	}{
		{"any resource type", func(x *Binding) { x.ResourceType = kmsg.ACLResourceTypeAny }, "Invalid resourceType ANY"},
		{"unknown resource type", func(x *Binding) { x.ResourceType = kmsg.ACLResourceTypeUnknown }, "Invalid resourceType UNKNOWN"},
		{"match pattern", func(x *Binding) { x.PatternType = kmsg.ACLResourcePatternTypeMatch }, "Invalid patternType MATCH"},
		{"any pattern", func(x *Binding) { x.PatternType = kmsg.ACLResourcePatternTypeAny }, "Invalid patternType ANY"},
		{"any operation", func(x *Binding) { x.Operation = kmsg.ACLOperationAny }, "Invalid operation ANY"},
		{"any permission", func(x *Binding) { x.Permission = kmsg.ACLPermissionTypeAny }, "Invalid permissionType ANY"},
		{"empty name", func(x *Binding) { x.ResourceName = "" }, "Resource name should not be empty"},
		{"cluster name", func(x *Binding) { x.ResourceType = cluster; x.ResourceName = "c" }, "The only valid name for the CLUSTER resource is kafka-cluster"},
		{"principal without colon", func(x *Binding) { x.Principal = "alice" }, "Could not parse principal from `alice` (no colon is present separating the principal type from the principal name)"},
		{"empty host", func(x *Binding) { x.Host = "" }, "Invalid empty host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := good
			tt.mod(&x)
			err := x.Validate()
			if !errors.Is(err, kerr.InvalidRequest) || err.Error() != tt.message {
				t.Fatalf("Validate = %v, want INVALID_REQUEST %q", err, tt.message)
			}
		})
	}
}

func TestDeniedError(t *testing.T) {
	for rt, want := range map[kmsg.ACLResourceType]*kerr.Error{
		topic:                               kerr.TopicAuthorizationFailed,
		group:                               kerr.GroupAuthorizationFailed,
		cluster:                             kerr.ClusterAuthorizationFailed,
		txnID:                               kerr.TransactionalIDAuthorizationFailed,
		kmsg.ACLResourceTypeDelegationToken: kerr.DelegationTokenAuthorizationFailed,
	} {
		if got := DeniedError(rt); got != want {
			t.Errorf("DeniedError(%s) = %v, want %v", rt, got, want)
		}
	}
}

func TestSnapshotWith(t *testing.T) {
	x := b(topic, literal, "x", "User:a", "*", opRead, allow)
	y := b(topic, prefixed, "y", "User:a", "*", opRead, allow)
	z := b(group, literal, "z", "User:a", "*", opRead, deny)
	s := NewSnapshot([]Binding{x, y, x})
	if s.Len() != 2 {
		t.Fatalf("duplicates kept: %v", s.Bindings())
	}
	s2 := s.With([]Binding{z}, []Binding{x})
	if !slices.Equal(s2.Bindings(), NewSnapshot([]Binding{y, z}).Bindings()) {
		t.Fatalf("With = %v", s2.Bindings())
	}
	if !s.Contains(x) || s.Contains(z) {
		t.Fatal("With changed the original snapshot")
	}
	a := NewAuthorizer(Config{})
	a.Update(s2)
	if a.Allowed(act("User:a", "1.2.3.4", opRead, topic, "x")) {
		t.Fatal("removed binding still allows")
	}
	if !a.Allowed(act("User:a", "1.2.3.4", opRead, topic, "yes")) {
		t.Fatal("kept prefixed binding does not allow")
	}
}
