package acl

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file turns the ACL APIs' requests into bindings and filters, and plans their
// answers, so that the handlers in internal/server/api stay a few lines each.

// BindingFromCreation is the binding a CreateAcls creation asks for (not yet validated).
func BindingFromCreation(c kmsg.CreateACLsRequestCreation) Binding {
	return Binding{
		ResourceType: c.ResourceType,
		ResourceName: c.ResourceName,
		PatternType:  c.ResourcePatternType,
		Principal:    c.Principal,
		Host:         c.Host,
		Operation:    c.Operation,
		Permission:   c.PermissionType,
	}
}

// FilterFromDescribe is the filter of a DescribeAcls request. kmsg gives v0 requests the
// LITERAL pattern type, which is what Kafka assumes for them.
func FilterFromDescribe(r *kmsg.DescribeACLsRequest) Filter {
	return Filter{
		ResourceType: r.ResourceType,
		ResourceName: r.ResourceName,
		PatternType:  r.ResourcePatternType,
		Principal:    r.Principal,
		Host:         r.Host,
		Operation:    r.Operation,
		Permission:   r.PermissionType,
	}
}

// FilterFromDelete is the filter of one DeleteAcls filter.
func FilterFromDelete(f kmsg.DeleteACLsRequestFilter) Filter {
	return Filter{
		ResourceType: f.ResourceType,
		ResourceName: f.ResourceName,
		PatternType:  f.ResourcePatternType,
		Principal:    f.Principal,
		Host:         f.Host,
		Operation:    f.Operation,
		Permission:   f.PermissionType,
	}
}

// PlanCreate validates each creation against s and returns one result per creation, in
// order, and the new bindings to store (each once). A creation of a binding that exists, or
// that an earlier creation of the request asks for, succeeds without being stored twice.
func PlanCreate(s *Snapshot, creations []kmsg.CreateACLsRequestCreation) ([]kmsg.CreateACLsResponseResult, []Binding) {
	results := make([]kmsg.CreateACLsResponseResult, len(creations))
	var add []Binding
	seen := make(map[Binding]struct{})
	for i, c := range creations {
		results[i] = kmsg.NewCreateACLsResponseResult()
		b := BindingFromCreation(c)
		if err := b.Validate(); err != nil {
			setError(&results[i].ErrorCode, &results[i].ErrorMessage, err)
			continue
		}
		if _, dup := seen[b]; dup || s.Contains(b) {
			continue
		}
		seen[b] = struct{}{}
		add = append(add, b)
	}
	return results, add
}

// Describe answers a DescribeAcls filter: the error code and message (INVALID_REQUEST for a
// filter with unknown codes) and the matching bindings grouped by resource pattern.
func Describe(s *Snapshot, f Filter) (errorCode int16, errorMessage *string, resources []kmsg.DescribeACLsResponseResource) {
	if err := f.Validate(); err != nil {
		setError(&errorCode, &errorMessage, err)
		return errorCode, errorMessage, nil
	}
	return 0, nil, DescribeResources(s.Match(f))
}

// DescribeResources groups bindings by resource pattern, as DescribeAcls answers them.
// Bindings in Snapshot order give resources sorted by type, pattern type and name.
func DescribeResources(bindings []Binding) []kmsg.DescribeACLsResponseResource {
	var out []kmsg.DescribeACLsResponseResource
	type pattern struct {
		t kmsg.ACLResourceType
		p kmsg.ACLResourcePatternType
		n string
	}
	index := make(map[pattern]int)
	for _, b := range bindings {
		key := pattern{b.ResourceType, b.PatternType, b.ResourceName}
		i, ok := index[key]
		if !ok {
			r := kmsg.NewDescribeACLsResponseResource()
			r.ResourceType, r.ResourceName, r.ResourcePatternType = b.ResourceType, b.ResourceName, b.PatternType
			out = append(out, r)
			i = len(out) - 1
			index[key] = i
		}
		a := kmsg.NewDescribeACLsResponseResourceACL()
		a.Principal, a.Host, a.Operation, a.PermissionType = b.Principal, b.Host, b.Operation, b.Permission
		out[i].ACLs = append(out[i].ACLs, a)
	}
	return out
}

// PlanDelete matches each DeleteAcls filter against s and returns one result per filter, in
// order, with the bindings it matched, and the bindings to remove (each once, though several
// filters may match it). An invalid filter gets INVALID_REQUEST and matches nothing.
func PlanDelete(s *Snapshot, filters []kmsg.DeleteACLsRequestFilter) ([]kmsg.DeleteACLsResponseResult, []Binding) {
	results := make([]kmsg.DeleteACLsResponseResult, len(filters))
	var remove []Binding
	seen := make(map[Binding]struct{})
	for i, rf := range filters {
		results[i] = kmsg.NewDeleteACLsResponseResult()
		f := FilterFromDelete(rf)
		if err := f.Validate(); err != nil {
			setError(&results[i].ErrorCode, &results[i].ErrorMessage, err)
			continue
		}
		for _, b := range s.Match(f) {
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName, m.ResourcePatternType = b.ResourceType, b.ResourceName, b.PatternType
			m.Principal, m.Host, m.Operation, m.PermissionType = b.Principal, b.Host, b.Operation, b.Permission
			results[i].MatchingACLs = append(results[i].MatchingACLs, m)
			if _, ok := seen[b]; !ok {
				seen[b] = struct{}{}
				remove = append(remove, b)
			}
		}
	}
	return results, remove
}

func setError(code *int16, msg **string, err error) {
	ke := kerr.UnknownServerError
	var e *Error
	if errors.As(err, &e) {
		ke = e.Code
	}
	m := err.Error()
	*code, *msg = ke.Code, &m
}
