package acl

import "github.com/twmb/franz-go/pkg/kmsg"

// Filter selects bindings, as Kafka's AclBindingFilter does for DescribeAcls and DeleteAcls.
// A nil string matches any value; ANY matches any code.
//
// The pattern type decides how the name matches:
//   - ANY: bindings of any pattern type whose name equals the filter's;
//   - LITERAL or PREFIXED: bindings of that pattern type whose name equals the filter's;
//   - MATCH: every binding that would apply to a resource of that name: the LITERAL binding
//     of the name, the LITERAL "*" binding, and PREFIXED bindings whose name is a prefix of it.
//
// Principal and host match exactly: a filter for "User:alice" does not select "User:*".
type Filter struct {
	ResourceType kmsg.ACLResourceType
	ResourceName *string
	PatternType  kmsg.ACLResourcePatternType
	Principal    *string
	Host         *string
	Operation    kmsg.ACLOperation
	Permission   kmsg.ACLPermissionType
}

// MatchAll is the filter that selects every binding.
var MatchAll = Filter{
	ResourceType: kmsg.ACLResourceTypeAny,
	PatternType:  kmsg.ACLResourcePatternTypeAny,
	Operation:    kmsg.ACLOperationAny,
	Permission:   kmsg.ACLPermissionTypeAny,
}

// Validate refuses a filter with an UNKNOWN (or undefined) resource type, pattern type,
// operation or permission, with INVALID_REQUEST as Kafka does.
func (f Filter) Validate() error {
	if !knownResourceType(f.ResourceType) || !knownPattern(f.PatternType) {
		return invalid("Unknown patternFilter.")
	}
	if !knownOperation(f.Operation) || !knownPermission(f.Permission) {
		return invalid("Unknown entryFilter.")
	}
	return nil
}

// Matches says whether the filter selects b. An invalid filter selects nothing.
func (f Filter) Matches(b Binding) bool {
	return f.matchesPattern(b) && f.matchesEntry(b)
}

func (f Filter) matchesPattern(b Binding) bool {
	if f.ResourceType != kmsg.ACLResourceTypeAny && f.ResourceType != b.ResourceType {
		return false
	}
	switch f.PatternType {
	case kmsg.ACLResourcePatternTypeAny, kmsg.ACLResourcePatternTypeMatch:
	default:
		if f.PatternType != b.PatternType {
			return false
		}
	}
	if f.ResourceName == nil {
		return true
	}
	name := *f.ResourceName
	if f.PatternType != kmsg.ACLResourcePatternTypeMatch {
		return name == b.ResourceName
	}
	switch b.PatternType {
	case kmsg.ACLResourcePatternTypeLiteral:
		return name == b.ResourceName || b.ResourceName == Wildcard
	case kmsg.ACLResourcePatternTypePrefixed:
		return len(name) >= len(b.ResourceName) && name[:len(b.ResourceName)] == b.ResourceName
	default:
		return false
	}
}

func (f Filter) matchesEntry(b Binding) bool {
	if f.Principal != nil && *f.Principal != b.Principal {
		return false
	}
	if f.Host != nil && *f.Host != b.Host {
		return false
	}
	if f.Operation != kmsg.ACLOperationAny && f.Operation != b.Operation {
		return false
	}
	return f.Permission == kmsg.ACLPermissionTypeAny || f.Permission == b.Permission
}
