package acl

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzACLRequests feeds arbitrary codes and strings, as a client may send them, through
// CreateAcls, DescribeAcls, DeleteAcls and Authorize: nothing may panic, an accepted
// binding must be valid, and a binding once created must be found by the filter that
// names it exactly.
func FuzzACLRequests(f *testing.F) {
	f.Add(int8(2), "orders", int8(3), "User:alice", "*", int8(3), int8(3), "orders")
	f.Add(int8(4), "kafka-cluster", int8(3), "User:*", "10.0.0.1", int8(2), int8(2), "kafka-cluster")
	f.Add(int8(1), "", int8(2), "nocolon", "", int8(0), int8(1), "*")
	f.Add(int8(2), "pre", int8(4), "User:a:b", "::1", int8(8), int8(3), "prefix")
	f.Fuzz(func(t *testing.T, rt int8, name string, pt int8, principal, host string, op, perm int8, resource string) {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceType(rt), name, kmsg.ACLResourcePatternType(pt)
		c.Principal, c.Host, c.Operation, c.PermissionType = principal, host, kmsg.ACLOperation(op), kmsg.ACLPermissionType(perm)
		results, add := PlanCreate(NewSnapshot(nil), []kmsg.CreateACLsRequestCreation{c})
		if len(results) != 1 {
			t.Fatalf("%d results", len(results))
		}
		if results[0].ErrorCode != 0 {
			if results[0].ErrorCode != kerr.InvalidRequest.Code || len(add) != 0 {
				t.Fatalf("refusal %d with %d bindings", results[0].ErrorCode, len(add))
			}
		} else if len(add) != 1 || add[0].Validate() != nil {
			t.Fatalf("accepted %v", add)
		}
		s := NewSnapshot(add)

		df := kmsg.NewDeleteACLsRequestFilter()
		df.ResourceType, df.ResourceName, df.ResourcePatternType = c.ResourceType, &c.ResourceName, c.ResourcePatternType
		df.Principal, df.Host, df.Operation, df.PermissionType = &c.Principal, &c.Host, c.Operation, c.PermissionType
		dres, remove := PlanDelete(s, []kmsg.DeleteACLsRequestFilter{df})
		if len(add) == 1 && (len(remove) != 1 || remove[0] != add[0] || len(dres[0].MatchingACLs) != 1) {
			t.Fatalf("the exact filter of %v removes %v", add[0], remove)
		}

		dr := kmsg.NewPtrDescribeACLsRequest()
		dr.ResourceType, dr.ResourceName, dr.ResourcePatternType = c.ResourceType, &resource, kmsg.ACLResourcePatternTypeMatch
		dr.Operation, dr.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		Describe(s, FilterFromDescribe(dr))

		a := NewAuthorizer(Config{SuperUsers: []string{principal}})
		a.Update(s)
		act := Action{Principal: "User:x", Host: host, Operation: kmsg.ACLOperation(op), ResourceType: kmsg.ACLResourceType(rt), ResourceName: resource}
		a.Authorize(act)
		a.AuthorizeByResourceType("User:x", host, kmsg.ACLOperation(op), kmsg.ACLResourceType(rt))
		act.Principal = principal
		if !a.Allowed(act) {
			t.Fatal("a super user was refused")
		}
	})
}
