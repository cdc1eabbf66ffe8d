// DescribeUserScramCredentials (key 50), version 0 (KIP-554).
//
// Behaviour: lists, for each user asked (every user with a credential when the list is
// null or empty, sorted), the SCRAM mechanisms it has a credential for and their
// iterations; never a salt or a key. Credentials come from this broker's metadata image.
// Needs DESCRIBE on the cluster when an authorizer is configured.
// Errors: CLUSTER_AUTHORIZATION_FAILED (top level), RESOURCE_NOT_FOUND for a user without
// credentials, DUPLICATE_RESOURCE for a user named twice.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/sasl"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) describeUserScramCredentials(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	if !h.authorizedCluster(req, kmsg.ACLOperationDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return &server.Reply{Msg: resp}
	}
	resp.Results = sasl.Describe(ScramStore(h.Meta.Image), r)
	return &server.Reply{Msg: resp}
}
