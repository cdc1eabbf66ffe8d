// Metadata (key 3), versions 0-12.
//
// Behaviour: answers the brokers (this node, at the address advertised for the
// listener the request came in on), the cluster id, the controller, and the
// asked topics with their partitions, leaders, leader epochs, replicas and ISR.
// Which topics: v0 with an empty list, and v1+ with a null list, mean all;
// from v1 an empty list means none. From v10 topics carry their IDs; from v12
// they may be asked for by ID alone (a null name below v12 is
// INVALID_REQUEST, as in Kafka). A missing topic is created when the request allows it
// (always below v4, AllowAutoTopicCreation from v4) and auto.create.topics.enable
// is on, with num.partitions and default.replication.factor; as in Kafka,
// Produce never creates topics.
// With an authorizer, a topic needs DESCRIBE: an all-topics answer leaves out the others,
// a named one is answered TOPIC_AUTHORIZATION_FAILED; auto-creation needs CREATE on the
// cluster or the topic.
// Errors: UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID (asked by ID),
// INVALID_TOPIC_EXCEPTION (a bad name), TOPIC_AUTHORIZATION_FAILED, and the creation's
// error. Authorized operations (v8+) are the authorizer's answers for the principal
// (every operation without an authorizer).
package api

import (
	"context"
	"errors"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
)

// Kafka's ACL operation codes, as bits of an authorized-operations field.
const (
	opRead            = 3
	opWrite           = 4
	opCreate          = 5
	opDelete          = 6
	opAlter           = 7
	opDescribe        = 8
	opClusterAction   = 9
	opDescribeConfigs = 10
	opAlterConfigs    = 11
	opIdempotentWrite = 12
)

func opBits(ops ...int) int32 {
	var b int32
	for _, o := range ops {
		b |= 1 << o
	}
	return b
}

var (
	topicOps   = opBits(opRead, opWrite, opCreate, opDelete, opAlter, opDescribe, opDescribeConfigs, opAlterConfigs)
	clusterOps = opBits(opCreate, opAlter, opDescribe, opClusterAction, opDescribeConfigs, opAlterConfigs, opIdempotentWrite)
)

func (h *handlers) metadata(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.MetadataRequest)
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	img := h.Meta.Image()

	resp.Brokers = h.brokers(img, req)
	clusterID := img.ClusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = clientControllerID(img)
	if r.Version >= 8 && r.Version <= 10 && r.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = h.authorizedOps(req, kmsg.ACLResourceTypeCluster, "kafka-cluster", clusterOps)
	}

	all := (r.Version == 0 && len(r.Topics) == 0) || (r.Version >= 1 && r.Topics == nil)
	if all {
		names := make([]string, 0, len(img.Topics))
		for name := range img.Topics {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if h.authorized(req, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, name) {
				resp.Topics = append(resp.Topics, h.describeTopic(req, r, img, img.Topics[name]))
			}
		}
		return &server.Reply{Msg: resp}
	}

	// Asking by ID alone is served from v12; v10-11 carry the field but a
	// null name there is an invalid request, answered for every topic.
	if r.Version < 12 {
		for _, rt := range r.Topics {
			if rt.Topic == nil {
				for _, rt := range r.Topics {
					mt := kmsg.NewMetadataResponseTopic()
					mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
					mt.ErrorCode = kerr.InvalidRequest.Code
					resp.Topics = append(resp.Topics, mt)
				}
				return &server.Reply{Msg: resp}
			}
		}
	}

	autoCreate := h.Config.AutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation)
	for _, rt := range r.Topics {
		var t *metadata.Topic
		if rt.Topic == nil {
			// Asked by ID alone (v10+).
			t = img.TopicsByID[rt.TopicID]
			if t == nil {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, mt)
				continue
			}
		} else {
			t = img.Topics[*rt.Topic]
		}
		if name := topicNameOr(t, rt.Topic); !h.authorized(req, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, name) ||
			(t == nil && autoCreate && !h.authorizedCreate(req, name)) {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
			mt.ErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		if t == nil && autoCreate {
			created, err := h.Meta.CreateTopic(ctx, metadata.TopicSpec{
				Name:              *rt.Topic,
				Partitions:        int32(h.Config.NumPartitions),
				ReplicationFactor: int16(h.Config.DefaultReplicationFactor),
			})
			switch {
			case err == nil:
				t = created
			case errors.Is(err, kerr.TopicAlreadyExists):
				t = h.Meta.Image().Topics[*rt.Topic]
			default:
				h.Logger.Debug("auto-create topic", "topic", *rt.Topic, "err", err)
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic = rt.Topic
				mt.ErrorCode = errCode(err)
				resp.Topics = append(resp.Topics, mt)
				continue
			}
		}
		if t == nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic = rt.Topic
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if err := metadata.ValidateTopicName(*rt.Topic); err != nil {
				mt.ErrorCode = kerr.InvalidTopicException.Code
			}
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		resp.Topics = append(resp.Topics, h.describeTopic(req, r, img, t))
	}
	return &server.Reply{Msg: resp}
}

// clientControllerID is the controller id clients are told: the active controller
// when it is a live broker, else (a dedicated controller, which clients cannot reach)
// the lowest live broker, as KRaft answers with some live broker; -1 when none is live.
func clientControllerID(img *metadata.Image) int32 {
	if b := img.Brokers[img.ControllerID]; b != nil && !b.Fenced {
		return img.ControllerID
	}
	id := int32(-1)
	for _, b := range img.Brokers {
		if !b.Fenced && (id < 0 || b.NodeID < id) {
			id = b.NodeID
		}
	}
	return id
}

// brokers lists the live (unfenced) brokers at their endpoints for the request's
// listener; before this node has registered, it lists itself.
func (h *handlers) brokers(img *metadata.Image, req *server.Request) []kmsg.MetadataResponseBroker {
	listener := req.Conn.Listener
	var out []kmsg.MetadataResponseBroker
	for _, b := range img.Brokers {
		if b.Fenced {
			continue
		}
		for _, ep := range b.Endpoints {
			if ep.Listener != listener {
				continue
			}
			mb := kmsg.NewMetadataResponseBroker()
			mb.NodeID, mb.Host, mb.Port, mb.Rack = b.NodeID, ep.Host, ep.Port, b.Rack
			out = append(out, mb)
		}
	}
	if len(out) == 0 {
		if hp, ok := h.Advertised[listener]; ok {
			mb := kmsg.NewMetadataResponseBroker()
			mb.NodeID, mb.Host, mb.Port = h.NodeID, hp.Host, hp.Port
			out = append(out, mb)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out
}

func (h *handlers) describeTopic(req *server.Request, r *kmsg.MetadataRequest, img *metadata.Image, t *metadata.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = isInternalTopic(t.Name)
	if r.Version >= 8 && r.IncludeTopicAuthorizedOperations {
		mt.AuthorizedOperations = h.authorizedOps(req, kmsg.ACLResourceTypeTopic, t.Name, topicOps)
	}
	for _, p := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		offline := []int32{}
		for _, id := range p.Replicas {
			if b := img.Brokers[id]; b == nil || b.Fenced {
				offline = append(offline, id)
			}
		}
		mp.Partition = p.Index
		mp.Leader = p.Leader
		mp.LeaderEpoch = p.LeaderEpoch
		mp.Replicas = p.Replicas
		mp.ISR = p.ISR
		mp.OfflineReplicas = offline
		if p.Leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
