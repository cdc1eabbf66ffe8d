package acl

import (
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config is the authorizer's static configuration.
type Config struct {
	// SuperUsers are principals ("User:admin") allowed everything: super.users.
	SuperUsers []string
	// AllowEveryoneIfNoACLFound allows an action on a resource that no binding applies to:
	// allow.everyone.if.no.acl.found (default false).
	AllowEveryoneIfNoACLFound bool
}

// Action is one question to the authorizer: may Principal, connected from Host, perform
// Operation on the resource?
type Action struct {
	Principal    string // "User:alice"; "User:ANONYMOUS" on an unauthenticated listener
	Host         string // the client's IP address
	Operation    kmsg.ACLOperation
	ResourceType kmsg.ACLResourceType
	ResourceName string
}

// Reason says which rule decided.
type Reason int8

const (
	// ReasonSuperUser: the principal is a super user.
	ReasonSuperUser Reason = iota + 1
	// ReasonAllowACL: a binding allows the action and none denies it.
	ReasonAllowACL
	// ReasonDenyACL: a binding denies the action.
	ReasonDenyACL
	// ReasonNoMatchingACL: bindings apply to the resource but none to this principal, host
	// and operation.
	ReasonNoMatchingACL
	// ReasonNoACL: no binding applies to the resource; allow.everyone.if.no.acl.found
	// decided.
	ReasonNoACL
	// ReasonInvalidAction: the action's operation or resource type is not a concrete one.
	ReasonInvalidAction
)

func (r Reason) String() string {
	switch r {
	case ReasonSuperUser:
		return "super user"
	case ReasonAllowACL:
		return "allowed by ACL"
	case ReasonDenyACL:
		return "denied by ACL"
	case ReasonNoMatchingACL:
		return "no matching ACL"
	case ReasonNoACL:
		return "no ACL for resource"
	case ReasonInvalidAction:
		return "invalid action"
	default:
		return "unknown"
	}
}

// Decision is the authorizer's answer, with what decided it for audit logs.
type Decision struct {
	Allowed bool
	Reason  Reason
	// Binding is the binding that decided, when Reason is ReasonAllowACL or ReasonDenyACL.
	Binding Binding
}

// Authorizer answers actions against the current snapshot. Update swaps the snapshot
// atomically; Authorize never blocks and is safe for concurrent use.
type Authorizer struct {
	superUsers   map[string]struct{}
	allowIfNoACL bool
	snap         atomic.Pointer[Snapshot]
}

// NewAuthorizer makes an authorizer with no bindings.
func NewAuthorizer(cfg Config) *Authorizer {
	a := &Authorizer{superUsers: make(map[string]struct{}, len(cfg.SuperUsers)), allowIfNoACL: cfg.AllowEveryoneIfNoACLFound}
	for _, p := range cfg.SuperUsers {
		a.superUsers[p] = struct{}{}
	}
	a.snap.Store(NewSnapshot(nil))
	return a
}

// Update publishes a new snapshot; later Authorize calls see it.
func (a *Authorizer) Update(s *Snapshot) { a.snap.Store(s) }

// Snapshot returns the current snapshot.
func (a *Authorizer) Snapshot() *Snapshot { return a.snap.Load() }

// IsSuperUser says whether principal is listed in super.users.
func (a *Authorizer) IsSuperUser(principal string) bool {
	_, ok := a.superUsers[principal]
	return ok
}

// Allowed is Authorize(act).Allowed.
func (a *Authorizer) Allowed(act Action) bool { return a.Authorize(act).Allowed }

// Authorize decides one action, as the package documentation describes.
func (a *Authorizer) Authorize(act Action) Decision {
	if a.IsSuperUser(act.Principal) {
		return Decision{Allowed: true, Reason: ReasonSuperUser}
	}
	if !concreteOperation(act.Operation) || !concreteResourceType(act.ResourceType) {
		return Decision{Reason: ReasonInvalidAction}
	}
	s := a.snap.Load()
	var (
		found        bool
		allow, deny  = -1, -1
		clientAddr   = parseAddr(act.Host)
		resourceType = act.ResourceType
	)
	s.forEachApplicable(resourceType, act.ResourceName, func(e entry) bool {
		found = true
		if !principalMatches(e.principal, act.Principal) || !hostMatches(e.host, act.Host, clientAddr) {
			return true
		}
		switch e.permission {
		case kmsg.ACLPermissionTypeDeny:
			if e.op == kmsg.ACLOperationAll || e.op == act.Operation {
				deny = e.binding
				return false
			}
		case kmsg.ACLPermissionTypeAllow:
			if allow < 0 && implies(e.op, act.Operation) {
				allow = e.binding
			}
		}
		return true
	})
	switch {
	case deny >= 0:
		return Decision{Reason: ReasonDenyACL, Binding: s.bindings[deny]}
	case allow >= 0:
		return Decision{Allowed: true, Reason: ReasonAllowACL, Binding: s.bindings[allow]}
	case found:
		return Decision{Reason: ReasonNoMatchingACL}
	default:
		return Decision{Allowed: a.allowIfNoACL, Reason: ReasonNoACL}
	}
}

// implies says whether an ALLOW of granted allows op.
func implies(granted, op kmsg.ACLOperation) bool {
	if granted == op || granted == kmsg.ACLOperationAll {
		return true
	}
	switch op {
	case kmsg.ACLOperationDescribe:
		switch granted {
		case kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationDelete, kmsg.ACLOperationAlter:
			return true
		}
	case kmsg.ACLOperationDescribeConfigs:
		return granted == kmsg.ACLOperationAlterConfigs
	}
	return false
}

func principalMatches(aclPrincipal, principal string) bool {
	return aclPrincipal == principal || aclPrincipal == WildcardPrincipal
}

// hostMatches compares an ACL's host with the client's: "*" matches all, and two IP
// addresses match when they are the same address however they are written.
func hostMatches(aclHost, host string, addr netip.Addr) bool {
	if aclHost == Wildcard || aclHost == host {
		return true
	}
	if !addr.IsValid() {
		return false
	}
	a := parseAddr(aclHost)
	return a.IsValid() && a == addr
}

func parseAddr(s string) netip.Addr {
	if s == "" || s == Wildcard {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// AuthorizeByResourceType says whether principal may perform op on at least one resource
// of type t, as Kafka's Authorizer.authorizeByResourceType (KIP-679): InitProducerId
// without a transactional id asks it for WRITE on TOPIC when IDEMPOTENT_WRITE on the
// cluster is not granted.
//
// Allowed when a super user, or when allowed on a resource named "hardcode" (so a literal
// "*" ALLOW, or no ACLs at all under allow.everyone.if.no.acl.found, suffice), or when an
// ALLOW binding of op (or ALL) for the principal and host exists whose pattern no DENY
// covers: a literal name with no literal DENY of the same name and no PREFIXED DENY of a
// prefix of it; a prefix with no PREFIXED DENY of a prefix of it. A literal "*" DENY denies.
// Implied operations play no part here, as in Kafka.
func (a *Authorizer) AuthorizeByResourceType(principal, host string, op kmsg.ACLOperation, t kmsg.ACLResourceType) bool {
	if !concreteOperation(op) || !concreteResourceType(t) {
		return false
	}
	if a.Allowed(Action{Principal: principal, Host: host, Operation: op, ResourceType: t, ResourceName: "hardcode"}) {
		return true
	}
	ti := a.snap.Load().byType[t]
	if ti == nil {
		return false
	}
	addr := parseAddr(host)
	applies := func(e entry) bool {
		return principalMatches(e.principal, principal) && hostMatches(e.host, host, addr) &&
			(e.op == op || e.op == kmsg.ACLOperationAll)
	}
	denied := func(es []entry) bool {
		for _, e := range es {
			if e.permission == kmsg.ACLPermissionTypeDeny && applies(e) {
				return true
			}
		}
		return false
	}
	allowed := func(es []entry) bool {
		for _, e := range es {
			if e.permission == kmsg.ACLPermissionTypeAllow && applies(e) {
				return true
			}
		}
		return false
	}
	if denied(ti.literal[Wildcard]) {
		return false
	}
	if allowed(ti.literal[Wildcard]) {
		return true
	}
	// deniedByPrefix says whether a PREFIXED DENY covers name: one of its prefixes (name
	// itself included) is denied.
	deniedByPrefix := func(name string) bool {
		for _, n := range ti.prefixLens {
			if n > len(name) {
				break
			}
			if denied(ti.prefixed[name[:n]]) {
				return true
			}
		}
		return false
	}
	for name, es := range ti.literal {
		if name != Wildcard && allowed(es) && !denied(es) && !deniedByPrefix(name) {
			return true
		}
	}
	for name, es := range ti.prefixed {
		if allowed(es) && !deniedByPrefix(name) {
			return true
		}
	}
	return false
}
