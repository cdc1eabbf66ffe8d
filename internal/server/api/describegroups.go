// DescribeGroups (key 15), versions 0-6.
//
// Behaviour: describes each asked group: state, protocol type, and members
// with their client id and host; the chosen protocol, each member's metadata
// and assignment only when the group is Stable (as Kafka). A group that does
// not exist is described as Dead, and from v6 also answered
// GROUP_ID_NOT_FOUND (KIP-1043); a consumer-protocol (KIP-848) group is
// GROUP_ID_NOT_FOUND too, "not a classic group", as in Kafka 4: its type
// shows in ListGroups and ConsumerGroupDescribe describes it. v3 can ask for the authorized operations
// (every group operation until ACLs exist), v4 adds instance ids.
// Errors: GROUP_ID_NOT_FOUND (v6), NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE.
package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

// groupOps are the ACL operations on a group: READ, DELETE, DESCRIBE.
var groupOps = opBits(opRead, opDelete, opDescribe)

func (h *handlers) describeGroups(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.DescribeGroupsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, name := range r.Groups {
		og := kmsg.NewDescribeGroupsResponseGroup()
		og.Group = name
		d, err := h.Groups.DescribeGroup(name)
		switch {
		case errors.Is(err, kerr.GroupIDNotFound):
			og.State = d.State
			if r.Version >= 6 {
				og.ErrorCode = kerr.GroupIDNotFound.Code
				msg := fmt.Sprintf("Group %s not found.", name)
				if d.NotClassic {
					msg = fmt.Sprintf("Group %s is not a classic group.", name)
				}
				og.ErrorMessage = &msg
			}
		case err != nil:
			og.ErrorCode = errCode(err)
		default:
			og.State, og.ProtocolType, og.Protocol = d.State, d.ProtocolType, d.Protocol
			for _, m := range d.Members {
				om := kmsg.NewDescribeGroupsResponseGroupMember()
				om.MemberID, om.InstanceID, om.ClientID, om.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
				om.ProtocolMetadata, om.MemberAssignment = m.Metadata, m.Assignment
				og.Members = append(og.Members, om)
			}
			if r.Version >= 3 && r.IncludeAuthorizedOperations {
				og.AuthorizedOperations = groupOps
			}
		}
		resp.Groups = append(resp.Groups, og)
	}
	return &server.Reply{Msg: resp}
}
