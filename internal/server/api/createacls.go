// CreateAcls (key 30), versions 0-3.
//
// Behaviour: validates each creation as Kafka does (a concrete resource type, LITERAL or
// PREFIXED pattern, a concrete operation, ALLOW or DENY, a "Type:Name" principal, a host,
// "kafka-cluster" as the only CLUSTER name) and writes the new bindings to the metadata
// log together; every broker's authorizer then applies them. A binding that exists
// already succeeds without a second copy. v0 creations are LITERAL. Needs ALTER on the
// cluster.
// Errors: SECURITY_DISABLED for every creation without an authorizer
// (authorizer.class.name), CLUSTER_AUTHORIZATION_FAILED, INVALID_REQUEST for an invalid
// binding, or the metadata log's error for every valid creation when the write fails.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/acl"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) createACLs(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.CreateACLsRequest)
	resp := r.ResponseKind().(*kmsg.CreateACLsResponse)
	fail := func(code *kerr.Error, msg string) *server.Reply {
		for range r.Creations {
			res := kmsg.NewCreateACLsResponseResult()
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
	results, add := acl.PlanCreate(a.Snapshot(), r.Creations)
	resp.Results = results
	if err := h.Meta.AlterACLs(ctx, metadataACLs(add), nil); err != nil {
		for i := range resp.Results {
			if resp.Results[i].ErrorCode == 0 {
				resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = errCode(err), errMessage(err)
			}
		}
	}
	return &server.Reply{Msg: resp}
}

// metadataACLs converts bindings to the metadata log's form.
func metadataACLs(bs []acl.Binding) []metadata.ACL {
	out := make([]metadata.ACL, len(bs))
	for i, b := range bs {
		out[i] = metadata.ACL{
			ResourceType: int8(b.ResourceType), ResourceName: b.ResourceName, PatternType: int8(b.PatternType),
			Principal: b.Principal, Host: b.Host, Operation: int8(b.Operation), Permission: int8(b.Permission),
		}
	}
	return out
}
