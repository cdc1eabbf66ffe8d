package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/acl"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
)

// Authorization: the handlers ask here, once per resource, whether the connection's
// principal may perform an operation, with Kafka's operations per API. Without an
// authorizer (authorizer.class.name unset) everything is allowed, as in Kafka.

// authorizer returns the authorizer, or nil when ACLs are off.
func (h *handlers) authorizer() *acl.Authorizer {
	if h.Security == nil {
		return nil
	}
	return h.Security.Authorizer
}

// authorized says whether the request's principal may perform op on the resource.
func (h *handlers) authorized(req *server.Request, op kmsg.ACLOperation, t kmsg.ACLResourceType, name string) bool {
	a := h.authorizer()
	if a == nil {
		return true
	}
	return a.Allowed(acl.Action{Principal: principalOf(req), Host: hostOf(req), Operation: op, ResourceType: t, ResourceName: name})
}

// authorizedCluster says whether the request's principal may perform op on the cluster.
func (h *handlers) authorizedCluster(req *server.Request, op kmsg.ACLOperation) bool {
	return h.authorized(req, op, kmsg.ACLResourceTypeCluster, acl.ClusterName)
}

// topicNameByID is the name of the topic with id, or "" when there is none (the
// handler then answers UNKNOWN_TOPIC_ID, as Kafka does before any authorization).
func topicNameByID(img *metadata.Image, id [16]byte) string {
	if t := img.TopicsByID[id]; t != nil {
		return t.Name
	}
	return ""
}

// fetchDenied is TOPIC_AUTHORIZATION_FAILED for a topic of a Fetch the principal may not
// read: a consumer needs READ on the topic, a follower CLUSTER_ACTION on the cluster.
func (h *handlers) fetchDenied(req *server.Request, img *metadata.Image, r *kmsg.FetchRequest, rt *kmsg.FetchRequestTopic, follower int32) error {
	if h.authorizer() == nil {
		return nil
	}
	if follower >= 0 {
		if h.authorizedCluster(req, kmsg.ACLOperationClusterAction) {
			return nil
		}
		return kerr.TopicAuthorizationFailed
	}
	name := rt.Topic
	if r.Version >= 13 {
		if name = topicNameByID(img, rt.TopicID); name == "" {
			return nil
		}
	}
	if h.authorized(req, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, name) {
		return nil
	}
	return kerr.TopicAuthorizationFailed
}

// authorizedCreate says whether the principal may create the topic: CREATE on the
// cluster or on the topic.
func (h *handlers) authorizedCreate(req *server.Request, topic string) bool {
	return h.authorizedCluster(req, kmsg.ACLOperationCreate) ||
		h.authorized(req, kmsg.ACLOperationCreate, kmsg.ACLResourceTypeTopic, topic)
}

// authorizedOps is an authorized-operations bit field (Metadata, DescribeCluster,
// DescribeGroups, DescribeTopicPartitions): of the operations in all, those the
// principal may perform on the resource. Without an authorizer it is all.
func (h *handlers) authorizedOps(req *server.Request, t kmsg.ACLResourceType, name string, all int32) int32 {
	if h.authorizer() == nil {
		return all
	}
	var out int32
	for op := 0; op < 32; op++ {
		if all&(1<<op) != 0 && h.authorized(req, kmsg.ACLOperation(op), t, name) {
			out |= 1 << op
		}
	}
	return out
}

// topicNameOr is t's name, or the asked name when t is nil.
func topicNameOr(t *metadata.Topic, asked *string) string {
	switch {
	case t != nil:
		return t.Name
	case asked != nil:
		return *asked
	}
	return ""
}

// configDenied is the error for a config resource the principal may not perform op on
// (DESCRIBE_CONFIGS or ALTER_CONFIGS): TOPIC_AUTHORIZATION_FAILED for a topic,
// CLUSTER_AUTHORIZATION_FAILED for a broker (Kafka checks brokers on the cluster).
func (h *handlers) configDenied(req *server.Request, t kmsg.ConfigResourceType, name string, op kmsg.ACLOperation) error {
	if h.authorizer() == nil {
		return nil
	}
	if t == kmsg.ConfigResourceTypeTopic {
		if h.authorized(req, op, kmsg.ACLResourceTypeTopic, name) {
			return nil
		}
		return kerr.TopicAuthorizationFailed
	}
	if h.authorizedCluster(req, op) {
		return nil
	}
	return kerr.ClusterAuthorizationFailed
}
