// DeleteGroups (key 42), versions 0-3.
//
// Behaviour: deletes empty groups with their committed offsets: tombstones go
// to __consumer_offsets and the answer waits for them. v3 adds an error
// message per group.
// Errors (per group): NON_EMPTY_GROUP while members remain,
// GROUP_ID_NOT_FOUND, NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS,
// COORDINATOR_NOT_AVAILABLE.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) deleteGroups(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.DeleteGroupsRequest)
	return awaitReply(h.Groups.DeleteGroups(r.Groups), func(errs []error) *server.Reply {
		resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
		for i, name := range r.Groups {
			og := kmsg.NewDeleteGroupsResponseGroup()
			og.Group = name
			og.ErrorCode = groupCode(errs[i])
			if r.Version >= 3 {
				og.ErrorMessage = errMessage(errs[i])
			}
			resp.Groups = append(resp.Groups, og)
		}
		return &server.Reply{Msg: resp}
	})
}
