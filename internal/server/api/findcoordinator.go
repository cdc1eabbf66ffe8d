// FindCoordinator (key 10), versions 0-6.
//
// Behaviour: answers the broker that coordinates a group: the leader of its
// partition of __consumer_offsets, abs(hashCode(group)) % partitions as Kafka
// places it, at its endpoint for the request's listener. v0-3 ask for one key
// (v0: a group), v4+ for a batch (KIP-699), each answered on its own. The
// first request creates __consumer_offsets with offsets.topic.num.partitions
// partitions, cleanup.policy=compact, and a replication factor of
// offsets.topic.replication.factor or the live brokers if fewer (as Kafka's
// single-broker development setups end up with). As in Kafka, a coordinator
// still loading its partition is answered: the group APIs then say
// COORDINATOR_LOAD_IN_PROGRESS until it has loaded.
// Errors: COORDINATOR_NOT_AVAILABLE while the topic cannot be created or the
// partition has no live leader; for transactional ids (key type 1),
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED until the transaction coordinator
// exists, as InitProducerId and Produce answer them; INVALID_REQUEST for any
// other key type (share groups are not served).
package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/group"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/txn"
)

type coordinatorAnswer struct {
	node int32
	host string
	port int32
	err  error
}

func (h *handlers) findCoordinator(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.FindCoordinatorRequest)
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	keyType := r.CoordinatorType
	if r.Version == 0 {
		keyType = 0
	}
	if r.Version >= 4 {
		var topic *metadata.Topic
		var topicErr error
		if len(r.CoordinatorKeys) > 0 {
			topic, topicErr = h.coordinatorTopic(ctx, keyType)
		}
		for _, key := range r.CoordinatorKeys {
			a := h.coordinatorFor(req, keyType, key, topic, topicErr)
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key = key
			c.NodeID, c.Host, c.Port = a.node, a.host, a.port
			c.ErrorCode = errCode(a.err)
			c.ErrorMessage = errMessage(a.err)
			resp.Coordinators = append(resp.Coordinators, c)
		}
		return &server.Reply{Msg: resp}
	}
	var topic *metadata.Topic
	var topicErr error
	topic, topicErr = h.coordinatorTopic(ctx, keyType)
	a := h.coordinatorFor(req, keyType, r.CoordinatorKey, topic, topicErr)
	resp.NodeID, resp.Host, resp.Port = a.node, a.host, a.port
	resp.ErrorCode = errCode(a.err)
	if r.Version >= 1 {
		resp.ErrorMessage = errMessage(a.err)
	}
	return &server.Reply{Msg: resp}
}

// coordinatorFor finds the coordinator of one key.
func (h *handlers) coordinatorFor(req *server.Request, keyType int8, key string, topic *metadata.Topic, topicErr error) coordinatorAnswer {
	fail := func(err error) coordinatorAnswer { return coordinatorAnswer{node: -1, port: -1, err: err} }
	switch keyType {
	case 0:
	case 1:
		if h.Txns == nil {
			return fail(kerr.TransactionalIDAuthorizationFailed)
		}
	default:
		return fail(fmt.Errorf("%w: unknown coordinator type %d", kerr.InvalidRequest, keyType))
	}
	if topicErr != nil {
		return fail(topicErr)
	}
	p := group.PartitionFor(key, int32(len(topic.Partitions)))
	leader := topic.Partitions[p].Leader
	if leader < 0 {
		return fail(kerr.CoordinatorNotAvailable)
	}
	img := h.Meta.Image()
	b := img.Brokers[leader]
	if b == nil || b.Fenced {
		if leader == h.NodeID {
			if hp, ok := h.Advertised[req.Conn.Listener]; ok {
				return coordinatorAnswer{node: leader, host: hp.Host, port: hp.Port}
			}
		}
		return fail(kerr.CoordinatorNotAvailable)
	}
	for _, ep := range b.Endpoints {
		if ep.Listener == req.Conn.Listener {
			return coordinatorAnswer{node: leader, host: ep.Host, port: ep.Port}
		}
	}
	return fail(kerr.CoordinatorNotAvailable)
}

// coordinatorTopic returns the internal topic of a coordinator type: __consumer_offsets
// for groups (0), __transaction_state for transactional ids (1); nil for others.
func (h *handlers) coordinatorTopic(ctx context.Context, keyType int8) (*metadata.Topic, error) {
	switch {
	case keyType == 0:
		return h.offsetsTopic(ctx)
	case keyType == 1 && h.Txns != nil:
		return h.internalTopic(ctx, txn.Topic, int(h.Config.TransactionStateLogReplication),
			h.Config.TransactionStateLogNumPartitions, map[string]string{
				"cleanup.policy":      "compact",
				"compression.type":    "uncompressed",
				"min.insync.replicas": strconv.Itoa(int(h.Config.TransactionStateLogMinISR)),
				"segment.bytes":       strconv.Itoa(int(h.Config.TransactionStateLogSegmentBytes)),
			})
	}
	return nil, nil
}

// offsetsTopic returns __consumer_offsets, creating it on first use.
func (h *handlers) offsetsTopic(ctx context.Context) (*metadata.Topic, error) {
	return h.internalTopic(ctx, group.Topic, int(h.Config.OffsetsTopicReplicationFactor),
		h.Config.OffsetsTopicNumPartitions, map[string]string{
			"cleanup.policy":   "compact",
			"compression.type": "producer",
			"segment.bytes":    strconv.Itoa(int(h.Config.OffsetsTopicSegmentBytes)),
		})
}

// internalTopic returns a coordinator's internal topic, creating it on first use with
// partitions, configs and a replication factor of rf lowered to the number of
// registered brokers, so that a smaller cluster (a single node above all) works
// without configuration; but while registered brokers are down, the topic waits for
// them rather than be created with fewer replicas for good, as Kafka waits. A
// min.insync.replicas above the replication factor is lowered to it.
func (h *handlers) internalTopic(ctx context.Context, name string, rf int, partitions int32, configs map[string]string) (*metadata.Topic, error) {
	img := h.Meta.Image()
	if t := img.Topics[name]; t != nil && len(t.Partitions) > 0 {
		return t, nil
	}
	rf = min(rf, len(img.Brokers))
	if rf < 1 || len(img.UnfencedBrokers()) < rf {
		return nil, kerr.CoordinatorNotAvailable
	}
	if v, ok := configs["min.insync.replicas"]; ok {
		if n, err := strconv.Atoi(v); err == nil && n > rf {
			configs["min.insync.replicas"] = strconv.Itoa(rf)
		}
	}
	t, err := h.Meta.CreateTopic(ctx, metadata.TopicSpec{
		Name: name, Partitions: partitions, ReplicationFactor: int16(rf), Configs: configs,
	})
	if err != nil {
		if errors.Is(err, kerr.TopicAlreadyExists) {
			if t := h.Meta.Image().Topics[name]; t != nil && len(t.Partitions) > 0 {
				return t, nil
			}
		}
		h.Logger.Warn("create internal topic", "topic", name, "err", err)
		return nil, kerr.CoordinatorNotAvailable
	}
	h.Logger.Info("created internal topic", "topic", name, "partitions", len(t.Partitions), "replication.factor", rf)
	return t, nil
}
