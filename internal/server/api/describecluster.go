// DescribeCluster (key 60), versions 0-2.
//
// Behaviour: answers the cluster id, the controller id and the brokers, each
// at its endpoint for the listener the request came in on, with its rack.
// Fenced brokers are left out unless IncludeFencedBrokers (v2+) asks for
// them, flagged IsFenced. EndpointType (v1+) must be 1 (brokers): this
// listener serves clients, so describing controllers is refused as a Kafka
// broker refuses it. Authorized operations, when asked for, are the cluster
// operations the authorizer allows the principal (all without an authorizer).
// Errors: UNSUPPORTED_ENDPOINT_TYPE.
package api

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

// endpointTypeBrokers is DescribeCluster's EndpointType for brokers.
const endpointTypeBrokers = 1

func (h *handlers) describeCluster(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.DescribeClusterRequest)
	resp := r.ResponseKind().(*kmsg.DescribeClusterResponse)
	img := h.Meta.Image()

	resp.EndpointType = r.EndpointType
	if r.Version >= 1 && r.EndpointType != endpointTypeBrokers {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		msg := fmt.Sprintf("The request was sent to an endpoint of type BROKER, but endpoint type %d was requested; Sluice serves only brokers (1) here.", r.EndpointType)
		resp.ErrorMessage = &msg
		return &server.Reply{Msg: resp}
	}
	resp.ClusterID = img.ClusterID
	resp.ControllerID = clientControllerID(img)
	if r.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = h.authorizedOps(req, kmsg.ACLResourceTypeCluster, "kafka-cluster", clusterOps)
	}
	listener := req.Conn.Listener
	for _, b := range img.Brokers {
		if b.Fenced && !(r.Version >= 2 && r.IncludeFencedBrokers) {
			continue
		}
		for _, ep := range b.Endpoints {
			if ep.Listener != listener {
				continue
			}
			ob := kmsg.NewDescribeClusterResponseBroker()
			ob.NodeID, ob.Host, ob.Port, ob.Rack = b.NodeID, ep.Host, ep.Port, b.Rack
			ob.IsFenced = b.Fenced
			resp.Brokers = append(resp.Brokers, ob)
		}
	}
	if len(resp.Brokers) == 0 {
		// Before this node's registration is applied, it knows itself.
		if hp, ok := h.Advertised[listener]; ok {
			ob := kmsg.NewDescribeClusterResponseBroker()
			ob.NodeID, ob.Host, ob.Port = h.NodeID, hp.Host, hp.Port
			resp.Brokers = append(resp.Brokers, ob)
		}
	}
	sort.Slice(resp.Brokers, func(i, j int) bool { return resp.Brokers[i].NodeID < resp.Brokers[j].NodeID })
	return &server.Reply{Msg: resp}
}
