package acl

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func creation(x Binding) kmsg.CreateACLsRequestCreation {
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.ResourcePatternType = x.ResourceType, x.ResourceName, x.PatternType
	c.Principal, c.Host, c.Operation, c.PermissionType = x.Principal, x.Host, x.Operation, x.Permission
	return c
}

func TestPlanCreate(t *testing.T) {
	existing := b(topic, literal, "t", "User:a", "*", opRead, allow)
	fresh := b(topic, prefixed, "p-", "User:a", "*", opWrite, allow)
	bad := b(cluster, literal, "not-the-cluster", "User:a", "*", opAlter, allow)
	s := NewSnapshot([]Binding{existing})
	results, add := PlanCreate(s, []kmsg.CreateACLsRequestCreation{creation(existing), creation(fresh), creation(bad), creation(fresh)})
	if len(results) != 4 {
		t.Fatalf("%d results for 4 creations", len(results))
	}
	for i, wantCode := range []int16{0, 0, kerr.InvalidRequest.Code, 0} {
		if results[i].ErrorCode != wantCode {
			t.Errorf("result %d: code %d, want %d", i, results[i].ErrorCode, wantCode)
		}
	}
	if m := results[2].ErrorMessage; m == nil || *m != "The only valid name for the CLUSTER resource is kafka-cluster" {
		t.Errorf("result 2 message %v", m)
	}
	if !slices.Equal(add, []Binding{fresh}) {
		t.Fatalf("add = %v, want only %v", add, fresh)
	}
}

func TestDescribe(t *testing.T) {
	x1 := b(topic, literal, "x", "User:a", "*", opRead, allow)
	x2 := b(topic, literal, "x", "User:b", "*", opWrite, deny)
	y := b(topic, prefixed, "x", "User:a", "*", opRead, allow)
	g := b(group, literal, "g", "User:a", "*", opRead, allow)
	s := NewSnapshot([]Binding{g, y, x2, x1})

	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	code, msg, resources := Describe(s, FilterFromDescribe(req))
	if code != 0 || msg != nil {
		t.Fatalf("Describe error %d %v", code, msg)
	}
	type res struct {
		rt   kmsg.ACLResourceType
		pt   kmsg.ACLResourcePatternType
		name string
		n    int
	}
	var got []res
	for _, r := range resources {
		got = append(got, res{r.ResourceType, r.ResourcePatternType, r.ResourceName, len(r.ACLs)})
	}
	want := []res{{topic, literal, "x", 2}, {topic, prefixed, "x", 1}, {group, literal, "g", 1}}
	if !slices.Equal(got, want) {
		t.Fatalf("resources = %v, want %v", got, want)
	}

	req.PermissionType = kmsg.ACLPermissionTypeUnknown
	code, msg, resources = Describe(s, FilterFromDescribe(req))
	if code != kerr.InvalidRequest.Code || msg == nil || resources != nil {
		t.Fatalf("unknown permission: code %d, message %v, %d resources", code, msg, len(resources))
	}
}

func TestPlanDelete(t *testing.T) {
	x := b(topic, literal, "x", "User:a", "*", opRead, allow)
	y := b(topic, literal, "y", "User:a", "*", opRead, allow)
	g := b(group, literal, "g", "User:b", "*", opRead, allow)
	s := NewSnapshot([]Binding{x, y, g})

	byPrincipal := kmsg.NewDeleteACLsRequestFilter()
	byPrincipal.ResourceType, byPrincipal.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	byPrincipal.Operation, byPrincipal.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	byPrincipal.Principal = ptr("User:a")

	byName := byPrincipal
	byName.Principal = nil
	byName.ResourceName = ptr("x")

	unknown := byPrincipal
	unknown.ResourcePatternType = kmsg.ACLResourcePatternTypeUnknown

	results, remove := PlanDelete(s, []kmsg.DeleteACLsRequestFilter{byPrincipal, byName, unknown})
	if len(results) != 3 {
		t.Fatalf("%d results", len(results))
	}
	if n := len(results[0].MatchingACLs); n != 2 || results[0].ErrorCode != 0 {
		t.Errorf("by principal: %d matches, code %d", n, results[0].ErrorCode)
	}
	if n := len(results[1].MatchingACLs); n != 1 || results[1].MatchingACLs[0].ResourceName != "x" {
		t.Errorf("by name: %+v", results[1].MatchingACLs)
	}
	if results[2].ErrorCode != kerr.InvalidRequest.Code || len(results[2].MatchingACLs) != 0 {
		t.Errorf("unknown filter: code %d, %d matches", results[2].ErrorCode, len(results[2].MatchingACLs))
	}
	if !slices.Equal(remove, []Binding{x, y}) {
		t.Fatalf("remove = %v, want x and y once each", remove)
	}
}
