package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/acl"
	"github.com/sluicehq/sluice/internal/server"
)

// Authorization: the handlers ask here, once per resource, whether the connection's
// principal may perform an operation, with Kafka's operations per API. Without an
// authorizer (authorizer.class.name unset) everything is allowed, as in Kafka.

// authorizer returns the authorizer, or nil when ACLs are off.
func (h *handlers) authorizer() *acl.Authorizer {
	if h.Security == nil {
		return nil
	}
	return h.Security.Authorizer
}

// authorized says whether the request's principal may perform op on the resource.
func (h *handlers) authorized(req *server.Request, op kmsg.ACLOperation, t kmsg.ACLResourceType, name string) bool {
	a := h.authorizer()
	if a == nil {
		return true
	}
	return a.Allowed(acl.Action{Principal: principalOf(req), Host: hostOf(req), Operation: op, ResourceType: t, ResourceName: name})
}

// authorizedCluster says whether the request's principal may perform op on the cluster.
func (h *handlers) authorizedCluster(req *server.Request, op kmsg.ACLOperation) bool {
	return h.authorized(req, op, kmsg.ACLResourceTypeCluster, acl.ClusterName)
}
