// DescribeClientQuotas (key 48), versions 0-1.
//
// Behaviour: answers the client quotas (producer_byte_rate, consumer_byte_rate,
// request_percentage, controller_mutation_rate, connection_creation_rate) of the entities
// a filter matches: per entity type, a name (MATCH), <default> (DEFAULT) or any (ANY);
// strict filters match only entities of exactly the given types. Quotas come from this
// broker's metadata image. Needs DESCRIBE_CONFIGS on the cluster.
// Errors: CLUSTER_AUTHORIZATION_FAILED, INVALID_REQUEST for an invalid filter.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/quota"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) describeClientQuotas(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.DescribeClientQuotasRequest)
	resp := r.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	if !h.authorizedCluster(req, kmsg.ACLOperationDescribeConfigs) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return &server.Reply{Msg: resp}
	}
	resp.ErrorCode, resp.ErrorMessage, resp.Entries = quota.Describe(QuotasFromImage(h.Meta.Image()), r)
	return &server.Reply{Msg: resp}
}
