package acl

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Names with a meaning of their own in Kafka's ACL model.
const (
	// Wildcard is the literal resource name that matches every resource of its type, and the
	// host that matches every client address.
	Wildcard = "*"
	// WildcardPrincipal matches every principal.
	WildcardPrincipal = "User:*"
	// ClusterName is the only name a CLUSTER resource has.
	ClusterName = "kafka-cluster"
)

// Binding is one ACL: Kafka's AclBinding, a resource pattern with an access control entry. It
// is comparable, so it can key a map; two equal bindings are one ACL.
type Binding struct {
	ResourceType kmsg.ACLResourceType
	ResourceName string
	PatternType  kmsg.ACLResourcePatternType
	Principal    string // "Type:Name", e.g. "User:alice"
	Host         string // an IP address or "*"
	Operation    kmsg.ACLOperation
	Permission   kmsg.ACLPermissionType
}

func (b Binding) String() string {
	return fmt.Sprintf("(pattern=%s:%s:%s, principal=%s, host=%s, operation=%s, permission=%s)",
		b.ResourceType, b.PatternType, b.ResourceName, b.Principal, b.Host, b.Operation, b.Permission)
}

// Error is a Kafka error code with the message Kafka sends beside it. errors.Is(err,
// kerr.InvalidRequest) and friends work through Unwrap.
type Error struct {
	Code    *kerr.Error
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap exposes the Kafka error code.
func (e *Error) Unwrap() error { return e.Code }

func invalid(format string, args ...any) error {
	return &Error{Code: kerr.InvalidRequest, Message: fmt.Sprintf(format, args...)}
}

// Validate checks a binding as CreateAcls does: a concrete resource type, a LITERAL or
// PREFIXED pattern, a concrete operation, ALLOW or DENY, a non-empty resource name
// ("kafka-cluster" for CLUSTER), a principal "Type:Name" and a host. Every failure is
// INVALID_REQUEST, as in Kafka.
func (b Binding) Validate() error {
	if !concreteResourceType(b.ResourceType) {
		return invalid("Invalid resourceType %s", b.ResourceType)
	}
	switch b.PatternType {
	case kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed:
	default:
		return invalid("Invalid patternType %s", b.PatternType)
	}
	if !concreteOperation(b.Operation) {
		return invalid("Invalid operation %s", b.Operation)
	}
	switch b.Permission {
	case kmsg.ACLPermissionTypeAllow, kmsg.ACLPermissionTypeDeny:
	default:
		return invalid("Invalid permissionType %s", b.Permission)
	}
	if b.ResourceName == "" {
		return invalid("Resource name should not be empty")
	}
	if b.ResourceType == kmsg.ACLResourceTypeCluster && b.ResourceName != ClusterName {
		return invalid("The only valid name for the CLUSTER resource is %s", ClusterName)
	}
	if _, _, err := ParsePrincipal(b.Principal); err != nil {
		return err
	}
	if b.Host == "" {
		return invalid("Invalid empty host")
	}
	return nil
}

// ParsePrincipal splits "Type:Name" at its first colon, as Kafka's SecurityUtils does. The
// name may itself contain colons ("User:CN=a:b").
func ParsePrincipal(p string) (typ, name string, err error) {
	typ, name, ok := strings.Cut(p, ":")
	if !ok || typ == "" {
		return "", "", invalid("Could not parse principal from `%s` (no colon is present separating the principal type from the principal name)", p)
	}
	return typ, name, nil
}

// ParseSuperUsers splits the super.users setting: principals separated by semicolons
// ("User:admin;User:ops"), blanks ignored.
func ParseSuperUsers(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// DeniedError is the error code Kafka answers when an operation on a resource of type t is
// refused: TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED,
// CLUSTER_AUTHORIZATION_FAILED, TRANSACTIONAL_ID_AUTHORIZATION_FAILED or
// DELEGATION_TOKEN_AUTHORIZATION_FAILED.
func DeniedError(t kmsg.ACLResourceType) *kerr.Error {
	switch t {
	case kmsg.ACLResourceTypeTopic:
		return kerr.TopicAuthorizationFailed
	case kmsg.ACLResourceTypeGroup:
		return kerr.GroupAuthorizationFailed
	case kmsg.ACLResourceTypeTransactionalId:
		return kerr.TransactionalIDAuthorizationFailed
	case kmsg.ACLResourceTypeDelegationToken, kmsg.ACLResourceTypeUser:
		return kerr.DelegationTokenAuthorizationFailed
	default:
		return kerr.ClusterAuthorizationFailed
	}
}

func concreteResourceType(t kmsg.ACLResourceType) bool {
	return t >= kmsg.ACLResourceTypeTopic && t <= kmsg.ACLResourceTypeUser
}

func concreteOperation(op kmsg.ACLOperation) bool {
	return op >= kmsg.ACLOperationAll && op <= kmsg.ACLOperationDescribeTokens
}

// knownResourceType, knownPattern, knownOperation and knownPermission say whether a code is
// one Kafka defines other than UNKNOWN; a filter carrying anything else is refused, as Kafka
// decodes an unknown code as UNKNOWN.
func knownResourceType(t kmsg.ACLResourceType) bool {
	return t >= kmsg.ACLResourceTypeAny && t <= kmsg.ACLResourceTypeUser
}

func knownPattern(p kmsg.ACLResourcePatternType) bool {
	return p >= kmsg.ACLResourcePatternTypeAny && p <= kmsg.ACLResourcePatternTypePrefixed
}

func knownOperation(op kmsg.ACLOperation) bool {
	return op >= kmsg.ACLOperationAny && op <= kmsg.ACLOperationDescribeTokens
}

func knownPermission(p kmsg.ACLPermissionType) bool {
	return p >= kmsg.ACLPermissionTypeAny && p <= kmsg.ACLPermissionTypeAllow
}
