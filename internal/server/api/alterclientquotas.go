// AlterClientQuotas (key 49), versions 0-1.
//
// Behaviour: sets and removes client quotas per entity (user, client-id, both, or ip; each
// named or <default>), writing the valid entries' changes to the metadata log together;
// every broker then throttles by them. An entry is all or nothing. validate_only checks and
// writes nothing. Needs ALTER_CONFIGS on the cluster.
// Errors: CLUSTER_AUTHORIZATION_FAILED, INVALID_REQUEST (an invalid entity, a key twice, a
// key the entity cannot have, a bad value, an entity twice in the request), or the metadata
// log's error for every valid entry when the write fails.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/quota"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) alterClientQuotas(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.AlterClientQuotasRequest)
	resp := r.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	if !h.authorizedCluster(req, kmsg.ACLOperationAlterConfigs) {
		for _, e := range r.Entries {
			out := kmsg.NewAlterClientQuotasResponseEntry()
			for _, c := range e.Entity {
				oe := kmsg.NewAlterClientQuotasResponseEntryEntity()
				oe.Type, oe.Name = c.Type, c.Name
				out.Entity = append(out.Entity, oe)
			}
			out.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			resp.Entries = append(resp.Entries, out)
		}
		return &server.Reply{Msg: resp}
	}
	results, changes := quota.PlanAlter(QuotasFromImage(h.Meta.Image()), r.Entries)
	resp.Entries = results
	if r.ValidateOnly || len(changes) == 0 {
		return &server.Reply{Msg: resp}
	}
	recs := make([]metadata.ClientQuotaRecord, len(changes))
	for i, c := range changes {
		recs[i] = metadata.ClientQuotaRecord{Entity: metadataEntity(c.Entity), Key: c.Key, Value: c.Value, Remove: c.Remove}
	}
	if err := h.Meta.AlterClientQuotas(ctx, recs); err != nil {
		for i := range resp.Entries {
			if resp.Entries[i].ErrorCode == 0 {
				resp.Entries[i].ErrorCode, resp.Entries[i].ErrorMessage = errCode(err), errMessage(err)
			}
		}
	}
	return &server.Reply{Msg: resp}
}
