// AlterUserScramCredentials (key 51), version 0 (KIP-554).
//
// Behaviour: sets (upsertions: salt, salted password and iterations, which the client
// computes) and removes (deletions) SCRAM credentials, one result per user named. The
// valid alterations are written to the metadata log together; every broker then
// authenticates with them. Needs ALTER on the cluster when an authorizer is configured.
// Errors: CLUSTER_AUTHORIZATION_FAILED, UNACCEPTABLE_CREDENTIAL (empty name, iterations
// outside 4096..16384, empty salt or password), UNSUPPORTED_SASL_MECHANISM,
// RESOURCE_NOT_FOUND (deleting a missing credential), DUPLICATE_RESOURCE (a user altered
// twice in the request), or the metadata log's error for every valid user when the write
// fails.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/sasl"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) alterUserScramCredentials(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := r.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	if !h.authorizedCluster(req, kmsg.ACLOperationAlter) {
		seen := make(map[string]bool)
		add := func(user string) {
			if seen[user] {
				return
			}
			seen[user] = true
			res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
			res.User, res.ErrorCode = user, kerr.ClusterAuthorizationFailed.Code
			resp.Results = append(resp.Results, res)
		}
		for _, d := range r.Deletions {
			add(d.Name)
		}
		for _, u := range r.Upsertions {
			add(u.Name)
		}
		return &server.Reply{Msg: resp}
	}
	results, changes := sasl.PlanAlter(ScramStore(h.Meta.Image), r)
	resp.Results = results
	if len(changes) == 0 {
		return &server.Reply{Msg: resp}
	}
	mc := make([]metadata.ScramChange, len(changes))
	changed := make(map[string]bool, len(changes))
	for i, c := range changes {
		mc[i] = metadata.ScramChange{User: c.User, Mechanism: int8(c.Mechanism), Delete: c.Delete}
		if !c.Delete {
			mc[i].Credential = metadata.ScramCredential{
				Salt: c.Credential.Salt, StoredKey: c.Credential.StoredKey, ServerKey: c.Credential.ServerKey, Iterations: c.Credential.Iterations,
			}
		}
		changed[c.User] = true
	}
	if err := h.Meta.AlterScramCredentials(ctx, mc); err != nil {
		for i := range resp.Results {
			if changed[resp.Results[i].User] {
				resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = errCode(err), errMessage(err)
			}
		}
	}
	return &server.Reply{Msg: resp}
}
