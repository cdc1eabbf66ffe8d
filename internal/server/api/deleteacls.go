// DeleteAcls (key 31), versions 0-3.
//
// Behaviour: deletes every binding each filter selects (the filters of DescribeAcls) and
// answers, per filter, the bindings it matched; the deletions are written to the
// metadata log together. v0 filters are LITERAL. Needs ALTER on the cluster.
// Errors: SECURITY_DISABLED for every filter without an authorizer
// (authorizer.class.name), CLUSTER_AUTHORIZATION_FAILED, INVALID_REQUEST for a filter
// with unknown codes, or the metadata log's error for every valid filter when the write
// fails.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/acl"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) deleteACLs(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.DeleteACLsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteACLsResponse)
	fail := func(code *kerr.Error, msg string) *server.Reply {
		for range r.Filters {
			res := kmsg.NewDeleteACLsResponseResult()
			res.ErrorCode, res.ErrorMessage = code.Code, &msg
			resp.Results = append(resp.Results, res)
		}
		return &server.Reply{Msg: resp}
	}
	a := h.authorizer()
	switch {
	case a == nil:
		return fail(kerr.SecurityDisabled, "No Authorizer is configured on the broker")
	case !h.authorizedCluster(req, kmsg.ACLOperationAlter):
		return fail(kerr.ClusterAuthorizationFailed, kerr.ClusterAuthorizationFailed.Description)
	}
	results, remove := acl.PlanDelete(a.Snapshot(), r.Filters)
	resp.Results = results
	if err := h.Meta.AlterACLs(ctx, nil, metadataACLs(remove)); err != nil {
		for i := range resp.Results {
			if resp.Results[i].ErrorCode == 0 {
				resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = errCode(err), errMessage(err)
				resp.Results[i].MatchingACLs = nil
			}
		}
	}
	return &server.Reply{Msg: resp}
}
