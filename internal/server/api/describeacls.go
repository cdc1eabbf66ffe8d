// DescribeAcls (key 29), versions 0-3.
//
// Behaviour: answers the bindings a filter selects (ANY and null match everything of
// their field; MATCH patterns select the bindings that apply to a resource name:
// literal, "*" and prefixes), grouped by resource pattern and sorted. v0 filters are
// LITERAL. Needs DESCRIBE on the cluster.
// Errors: SECURITY_DISABLED without an authorizer (authorizer.class.name),
// CLUSTER_AUTHORIZATION_FAILED, INVALID_REQUEST for a filter with unknown codes.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/acl"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) describeACLs(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.DescribeACLsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeACLsResponse)
	a := h.authorizer()
	switch {
	case a == nil:
		msg := "No Authorizer is configured on the broker"
		resp.ErrorCode, resp.ErrorMessage = kerr.SecurityDisabled.Code, &msg
	case !h.authorizedCluster(req, kmsg.ACLOperationDescribe):
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
	default:
		resp.ErrorCode, resp.ErrorMessage, resp.Resources = acl.Describe(a.Snapshot(), acl.FilterFromDescribe(r))
	}
	return &server.Reply{Msg: resp}
}
