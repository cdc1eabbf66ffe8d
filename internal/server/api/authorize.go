package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/acl"
	"github.com/sluicehq/sluice/internal/server"
)

// Request authorization for the APIs whose resources the request names plainly (a group,
// a transactional id, the cluster, a list of topics or groups): the gate asks
// preAuthorize after authentication, before the handler, so that the handlers of those
// APIs need no authorization code. A request refused as a whole gets the API's answer
// with Kafka's *_AUTHORIZATION_FAILED code; a request some of whose topics or groups are
// refused reaches the handler without them, and their refusals are added to its answer
// (Kafka answers both in one response too). The APIs whose authorization depends on what
// the handler resolves (Produce, Fetch, Metadata, CreateTopics, DeleteTopics, the config
// APIs, DescribeTopicPartitions, the ACL and SCRAM APIs) check in their handlers
// (authz.go).

// authz is one request's authorization questions.
type authz struct {
	a         *acl.Authorizer
	principal string
	host      string
	topicName func(id [16]byte) string
}

// topicByID asks about a topic named by its ID; an unknown ID is allowed, for the
// handler to answer UNKNOWN_TOPIC_ID.
func (z authz) topicByID(op kmsg.ACLOperation, id [16]byte) bool {
	name := ""
	if z.topicName != nil {
		name = z.topicName(id)
	}
	return name == "" || z.topic(op, name)
}

func (z authz) allowed(op kmsg.ACLOperation, t kmsg.ACLResourceType, name string) bool {
	return z.a.Allowed(acl.Action{Principal: z.principal, Host: z.host, Operation: op, ResourceType: t, ResourceName: name})
}

// ops is the authorized-operations bit field of a resource: of the operations in all,
// those allowed.
func (z authz) ops(t kmsg.ACLResourceType, name string, all int32) int32 {
	var out int32
	for op := 0; op < 32; op++ {
		if all&(1<<op) != 0 && z.allowed(kmsg.ACLOperation(op), t, name) {
			out |= 1 << op
		}
	}
	return out
}

func (z authz) cluster(op kmsg.ACLOperation) bool {
	return z.allowed(op, kmsg.ACLResourceTypeCluster, acl.ClusterName)
}

func (z authz) group(op kmsg.ACLOperation, g string) bool {
	return z.allowed(op, kmsg.ACLResourceTypeGroup, g)
}

func (z authz) topic(op kmsg.ACLOperation, t string) bool {
	return z.allowed(op, kmsg.ACLResourceTypeTopic, t)
}

func (z authz) txn(op kmsg.ACLOperation, id string) bool {
	return z.allowed(op, kmsg.ACLResourceTypeTransactionalId, id)
}

// split keeps the items allowed says yes to, and returns the others apart.
func split[T any](items []T, allowed func(T) bool) (kept, denied []T) {
	for _, it := range items {
		if allowed(it) {
			kept = append(kept, it)
		} else {
			denied = append(denied, it)
		}
	}
	return kept, denied
}

// answer is the reply carrying resp, the API's answer without calling the handler.
func answer(resp kmsg.Response) *server.Reply { return &server.Reply{Msg: resp} }

// after calls add with the handler's final response, through any Then continuations.
func after(r *server.Reply, add func(kmsg.Response)) *server.Reply {
	switch {
	case r == nil:
		return nil
	case r.Then != nil:
		then := r.Then
		return &server.Reply{Then: func(ctx context.Context) *server.Reply { return after(then(ctx), add) }}
	case r.Msg != nil:
		add(r.Msg)
	}
	return r
}

// preAuthorize authorizes req, which the gate has authenticated, and returns the reply:
// next's, for a request allowed whole or in part, or the refusal.
func (s *Security) preAuthorize(ctx context.Context, req *server.Request, next server.Handler) *server.Reply {
	if s.Authorizer == nil {
		return next.Handle(ctx, req)
	}
	z := authz{a: s.Authorizer, principal: principalOf(req), host: hostOf(req), topicName: s.TopicName}
	switch r := req.Msg.(type) {
	// Groups.
	case *kmsg.JoinGroupRequest:
		if !z.group(kmsg.ACLOperationRead, r.Group) {
			resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			return answer(resp)
		}
	case *kmsg.SyncGroupRequest:
		if !z.group(kmsg.ACLOperationRead, r.Group) {
			resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			return answer(resp)
		}
	case *kmsg.HeartbeatRequest:
		if !z.group(kmsg.ACLOperationRead, r.Group) {
			resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			return answer(resp)
		}
	case *kmsg.LeaveGroupRequest:
		if !z.group(kmsg.ACLOperationRead, r.Group) {
			resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			return answer(resp)
		}
	case *kmsg.OffsetCommitRequest:
		return s.offsetCommit(ctx, req, r, z, next)
	case *kmsg.OffsetFetchRequest:
		return s.offsetFetch(ctx, req, r, z, next)
	case *kmsg.OffsetDeleteRequest:
		if !z.group(kmsg.ACLOperationDelete, r.Group) {
			resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			return answer(resp)
		}
		kept, denied := split(r.Topics, func(t kmsg.OffsetDeleteRequestTopic) bool { return z.topic(kmsg.ACLOperationRead, t.Topic) })
		if len(denied) > 0 {
			r.Topics = kept
			return after(next.Handle(ctx, req), func(m kmsg.Response) {
				resp := m.(*kmsg.OffsetDeleteResponse)
				for _, t := range denied {
					ot := kmsg.NewOffsetDeleteResponseTopic()
					ot.Topic = t.Topic
					for _, p := range t.Partitions {
						op := kmsg.NewOffsetDeleteResponseTopicPartition()
						op.Partition, op.ErrorCode = p.Partition, kerr.TopicAuthorizationFailed.Code
						ot.Partitions = append(ot.Partitions, op)
					}
					resp.Topics = append(resp.Topics, ot)
				}
			})
		}
	case *kmsg.ConsumerGroupHeartbeatRequest:
		if !z.group(kmsg.ACLOperationRead, r.Group) {
			resp := r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			return answer(resp)
		}
	case *kmsg.ConsumerGroupDescribeRequest:
		kept, denied := split(r.Groups, func(g string) bool { return z.group(kmsg.ACLOperationDescribe, g) })
		r.Groups = kept
		return after(next.Handle(ctx, req), func(m kmsg.Response) {
			resp := m.(*kmsg.ConsumerGroupDescribeResponse)
			if r.IncludeAuthorizedOperations {
				for i := range resp.Groups {
					resp.Groups[i].AuthorizedOperations = z.ops(kmsg.ACLResourceTypeGroup, resp.Groups[i].Group, groupOps)
				}
			}
			for _, g := range denied {
				og := kmsg.NewConsumerGroupDescribeResponseGroup()
				og.Group, og.ErrorCode = g, kerr.GroupAuthorizationFailed.Code
				resp.Groups = append(resp.Groups, og)
			}
		})
	case *kmsg.DescribeGroupsRequest:
		kept, denied := split(r.Groups, func(g string) bool { return z.group(kmsg.ACLOperationDescribe, g) })
		r.Groups = kept
		return after(next.Handle(ctx, req), func(m kmsg.Response) {
			resp := m.(*kmsg.DescribeGroupsResponse)
			if r.Version >= 3 && r.IncludeAuthorizedOperations {
				for i := range resp.Groups {
					resp.Groups[i].AuthorizedOperations = z.ops(kmsg.ACLResourceTypeGroup, resp.Groups[i].Group, groupOps)
				}
			}
			for _, g := range denied {
				og := kmsg.NewDescribeGroupsResponseGroup()
				og.Group, og.ErrorCode = g, kerr.GroupAuthorizationFailed.Code
				resp.Groups = append(resp.Groups, og)
			}
		})
	case *kmsg.DeleteGroupsRequest:
		kept, denied := split(r.Groups, func(g string) bool { return z.group(kmsg.ACLOperationDelete, g) })
		if len(denied) > 0 {
			r.Groups = kept
			return after(next.Handle(ctx, req), func(m kmsg.Response) {
				resp := m.(*kmsg.DeleteGroupsResponse)
				for _, g := range denied {
					og := kmsg.NewDeleteGroupsResponseGroup()
					og.Group, og.ErrorCode = g, kerr.GroupAuthorizationFailed.Code
					resp.Groups = append(resp.Groups, og)
				}
			})
		}
	case *kmsg.ListGroupsRequest:
		if !z.cluster(kmsg.ACLOperationDescribe) {
			return after(next.Handle(ctx, req), func(m kmsg.Response) {
				resp := m.(*kmsg.ListGroupsResponse)
				resp.Groups, _ = split(resp.Groups, func(g kmsg.ListGroupsResponseGroup) bool { return z.group(kmsg.ACLOperationDescribe, g.Group) })
			})
		}
	case *kmsg.FindCoordinatorRequest:
		return s.findCoordinator(ctx, req, r, z, next)

	// Producers and transactions.
	case *kmsg.InitProducerIDRequest:
		resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ProducerID, resp.ProducerEpoch = -1, -1
		switch {
		case r.TransactionalID != nil:
			if !z.txn(kmsg.ACLOperationWrite, *r.TransactionalID) {
				resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
				return answer(resp)
			}
		case !z.cluster(kmsg.ACLOperationIdempotentWrite) &&
			!s.Authorizer.AuthorizeByResourceType(z.principal, z.host, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic):
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return answer(resp)
		}
	case *kmsg.EndTxnRequest:
		if !z.txn(kmsg.ACLOperationWrite, r.TransactionalID) {
			resp := r.ResponseKind().(*kmsg.EndTxnResponse)
			resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			return answer(resp)
		}
	case *kmsg.AddOffsetsToTxnRequest:
		resp := r.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
		switch {
		case !z.txn(kmsg.ACLOperationWrite, r.TransactionalID):
			resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			return answer(resp)
		case !z.group(kmsg.ACLOperationRead, r.Group):
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			return answer(resp)
		}
	case *kmsg.AddPartitionsToTxnRequest:
		if r.Version <= 3 {
			return s.addPartitionsToTxn(ctx, req, r, z, next)
		}
	case *kmsg.TxnOffsetCommitRequest:
		code := int16(0)
		switch {
		case !z.txn(kmsg.ACLOperationWrite, r.TransactionalID):
			code = kerr.TransactionalIDAuthorizationFailed.Code
		case !z.group(kmsg.ACLOperationRead, r.Group):
			code = kerr.GroupAuthorizationFailed.Code
		}
		if code != 0 {
			resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
			for _, t := range r.Topics {
				ot := kmsg.NewTxnOffsetCommitResponseTopic()
				ot.Topic, ot.TopicID = t.Topic, t.TopicID
				for _, p := range t.Partitions {
					op := kmsg.NewTxnOffsetCommitResponseTopicPartition()
					op.Partition, op.ErrorCode = p.Partition, code
					ot.Partitions = append(ot.Partitions, op)
				}
				resp.Topics = append(resp.Topics, ot)
			}
			return answer(resp)
		}
	case *kmsg.DescribeTransactionsRequest:
		kept, denied := split(r.TransactionalIDs, func(id string) bool { return z.txn(kmsg.ACLOperationDescribe, id) })
		if len(denied) > 0 {
			r.TransactionalIDs = kept
			return after(next.Handle(ctx, req), func(m kmsg.Response) {
				resp := m.(*kmsg.DescribeTransactionsResponse)
				for _, id := range denied {
					st := kmsg.NewDescribeTransactionsResponseTransactionState()
					st.TransactionalID, st.ErrorCode = id, kerr.TransactionalIDAuthorizationFailed.Code
					resp.TransactionStates = append(resp.TransactionStates, st)
				}
			})
		}
	case *kmsg.ListTransactionsRequest:
		return after(next.Handle(ctx, req), func(m kmsg.Response) {
			resp := m.(*kmsg.ListTransactionsResponse)
			resp.TransactionStates, _ = split(resp.TransactionStates, func(st kmsg.ListTransactionsResponseTransactionState) bool {
				return z.txn(kmsg.ACLOperationDescribe, st.TransactionalID)
			})
		})

	// Topics.
	case *kmsg.ListOffsetsRequest:
		kept, denied := split(r.Topics, func(t kmsg.ListOffsetsRequestTopic) bool { return z.topic(kmsg.ACLOperationDescribe, t.Topic) })
		if len(denied) > 0 {
			r.Topics = kept
			return after(next.Handle(ctx, req), func(m kmsg.Response) {
				resp := m.(*kmsg.ListOffsetsResponse)
				for _, t := range denied {
					ot := kmsg.NewListOffsetsResponseTopic()
					ot.Topic = t.Topic
					for _, p := range t.Partitions {
						op := kmsg.NewListOffsetsResponseTopicPartition()
						op.Partition, op.ErrorCode = p.Partition, kerr.TopicAuthorizationFailed.Code
						op.Timestamp, op.Offset = -1, -1
						ot.Partitions = append(ot.Partitions, op)
					}
					resp.Topics = append(resp.Topics, ot)
				}
			})
		}
	case *kmsg.OffsetForLeaderEpochRequest:
		// CLUSTER_ACTION (a follower's) or DESCRIBE on the topic (a consumer's, KIP-320),
		// whatever the replica id says, as Kafka.
		clusterAction := z.cluster(kmsg.ACLOperationClusterAction)
		kept, denied := split(r.Topics, func(t kmsg.OffsetForLeaderEpochRequestTopic) bool {
			return clusterAction || z.topic(kmsg.ACLOperationDescribe, t.Topic)
		})
		if len(denied) > 0 {
			r.Topics = kept
			return after(next.Handle(ctx, req), func(m kmsg.Response) {
				resp := m.(*kmsg.OffsetForLeaderEpochResponse)
				for _, t := range denied {
					ot := kmsg.NewOffsetForLeaderEpochResponseTopic()
					ot.Topic = t.Topic
					for _, p := range t.Partitions {
						op := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
						op.Partition, op.ErrorCode = p.Partition, kerr.TopicAuthorizationFailed.Code
						op.LeaderEpoch, op.EndOffset = -1, -1
						ot.Partitions = append(ot.Partitions, op)
					}
					resp.Topics = append(resp.Topics, ot)
				}
			})
		}
	case *kmsg.DeleteRecordsRequest:
		kept, denied := split(r.Topics, func(t kmsg.DeleteRecordsRequestTopic) bool { return z.topic(kmsg.ACLOperationDelete, t.Topic) })
		if len(denied) > 0 {
			r.Topics = kept
			return after(next.Handle(ctx, req), func(m kmsg.Response) {
				resp := m.(*kmsg.DeleteRecordsResponse)
				for _, t := range denied {
					ot := kmsg.NewDeleteRecordsResponseTopic()
					ot.Topic = t.Topic
					for _, p := range t.Partitions {
						op := kmsg.NewDeleteRecordsResponseTopicPartition()
						op.Partition, op.ErrorCode, op.LowWatermark = p.Partition, kerr.TopicAuthorizationFailed.Code, -1
						ot.Partitions = append(ot.Partitions, op)
					}
					resp.Topics = append(resp.Topics, ot)
				}
			})
		}
	case *kmsg.CreatePartitionsRequest:
		kept, denied := split(r.Topics, func(t kmsg.CreatePartitionsRequestTopic) bool { return z.topic(kmsg.ACLOperationAlter, t.Topic) })
		if len(denied) > 0 {
			r.Topics = kept
			return after(next.Handle(ctx, req), func(m kmsg.Response) {
				resp := m.(*kmsg.CreatePartitionsResponse)
				for _, t := range denied {
					ot := kmsg.NewCreatePartitionsResponseTopic()
					ot.Topic, ot.ErrorCode = t.Topic, kerr.TopicAuthorizationFailed.Code
					resp.Topics = append(resp.Topics, ot)
				}
			})
		}

	case *kmsg.DescribeProducersRequest:
		kept, denied := split(r.Topics, func(t kmsg.DescribeProducersRequestTopic) bool { return z.topic(kmsg.ACLOperationRead, t.Topic) })
		if len(denied) > 0 {
			r.Topics = kept
			return after(next.Handle(ctx, req), func(m kmsg.Response) {
				resp := m.(*kmsg.DescribeProducersResponse)
				for _, t := range denied {
					ot := kmsg.NewDescribeProducersResponseTopic()
					ot.Topic = t.Topic
					for _, p := range t.Partitions {
						op := kmsg.NewDescribeProducersResponseTopicPartition()
						op.Partition, op.ErrorCode = p, kerr.TopicAuthorizationFailed.Code
						ot.Partitions = append(ot.Partitions, op)
					}
					resp.Topics = append(resp.Topics, ot)
				}
			})
		}

	// The cluster.
	case *kmsg.ElectLeadersRequest:
		if !z.cluster(kmsg.ACLOperationAlter) {
			resp := r.ResponseKind().(*kmsg.ElectLeadersResponse)
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			for _, t := range r.Topics {
				ot := kmsg.NewElectLeadersResponseTopic()
				ot.Topic = t.Topic
				for _, p := range t.Partitions {
					op := kmsg.NewElectLeadersResponseTopicPartition()
					op.Partition, op.ErrorCode = p, kerr.ClusterAuthorizationFailed.Code
					ot.Partitions = append(ot.Partitions, op)
				}
				resp.Topics = append(resp.Topics, ot)
			}
			return answer(resp)
		}
	case *kmsg.AlterPartitionAssignmentsRequest:
		if !z.cluster(kmsg.ACLOperationAlter) {
			resp := r.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return answer(resp)
		}
	case *kmsg.ListPartitionReassignmentsRequest:
		if !z.cluster(kmsg.ACLOperationDescribe) {
			resp := r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return answer(resp)
		}
	case *kmsg.DescribeLogDirsRequest:
		if !z.cluster(kmsg.ACLOperationDescribe) {
			resp := r.ResponseKind().(*kmsg.DescribeLogDirsResponse)
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return answer(resp)
		}
	case *kmsg.UnregisterBrokerRequest:
		if !z.cluster(kmsg.ACLOperationAlter) {
			resp := r.ResponseKind().(*kmsg.UnregisterBrokerResponse)
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return answer(resp)
		}
	case *kmsg.DescribeQuorumRequest:
		if !z.cluster(kmsg.ACLOperationDescribe) {
			resp := r.ResponseKind().(*kmsg.DescribeQuorumResponse)
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return answer(resp)
		}
	case *kmsg.WriteTxnMarkersRequest:
		if !z.cluster(kmsg.ACLOperationClusterAction) {
			resp := r.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
			for _, m := range r.Markers {
				om := kmsg.NewWriteTxnMarkersResponseMarker()
				om.ProducerID = m.ProducerID
				for _, t := range m.Topics {
					ot := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
					ot.Topic = t.Topic
					for _, p := range t.Partitions {
						op := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
						op.Partition, op.ErrorCode = p, kerr.ClusterAuthorizationFailed.Code
						ot.Partitions = append(ot.Partitions, op)
					}
					om.Topics = append(om.Topics, ot)
				}
				resp.Markers = append(resp.Markers, om)
			}
			return answer(resp)
		}
	}
	return next.Handle(ctx, req)
}

// offsetCommit needs READ on the group, and READ on each topic.
func (s *Security) offsetCommit(ctx context.Context, req *server.Request, r *kmsg.OffsetCommitRequest, z authz, next server.Handler) *server.Reply {
	fill := func(resp *kmsg.OffsetCommitResponse, topics []kmsg.OffsetCommitRequestTopic, code int16) {
		for _, t := range topics {
			ot := kmsg.NewOffsetCommitResponseTopic()
			ot.Topic, ot.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				op := kmsg.NewOffsetCommitResponseTopicPartition()
				op.Partition, op.ErrorCode = p.Partition, code
				ot.Partitions = append(ot.Partitions, op)
			}
			resp.Topics = append(resp.Topics, ot)
		}
	}
	if !z.group(kmsg.ACLOperationRead, r.Group) {
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		fill(resp, r.Topics, kerr.GroupAuthorizationFailed.Code)
		return answer(resp)
	}
	kept, denied := split(r.Topics, func(t kmsg.OffsetCommitRequestTopic) bool {
		if r.Version >= 10 {
			return z.topicByID(kmsg.ACLOperationRead, t.TopicID)
		}
		return z.topic(kmsg.ACLOperationRead, t.Topic)
	})
	if len(denied) == 0 {
		return next.Handle(ctx, req)
	}
	r.Topics = kept
	return after(next.Handle(ctx, req), func(m kmsg.Response) {
		fill(m.(*kmsg.OffsetCommitResponse), denied, kerr.TopicAuthorizationFailed.Code)
	})
}

// offsetFetch needs DESCRIBE on the group (each group from v8); topics the principal may
// not describe are answered TOPIC_AUTHORIZATION_FAILED when named.
func (s *Security) offsetFetch(ctx context.Context, req *server.Request, r *kmsg.OffsetFetchRequest, z authz, next server.Handler) *server.Reply {
	topicAllowed := func(t kmsg.OffsetFetchRequestTopic) bool { return z.topic(kmsg.ACLOperationDescribe, t.Topic) }
	deniedTopics := func(topics []kmsg.OffsetFetchRequestTopic) []kmsg.OffsetFetchResponseTopic {
		var out []kmsg.OffsetFetchResponseTopic
		for _, t := range topics {
			ot := kmsg.NewOffsetFetchResponseTopic()
			ot.Topic = t.Topic
			for _, p := range t.Partitions {
				op := kmsg.NewOffsetFetchResponseTopicPartition()
				op.Partition, op.Offset, op.LeaderEpoch, op.ErrorCode = p, -1, -1, kerr.TopicAuthorizationFailed.Code
				ot.Partitions = append(ot.Partitions, op)
			}
			out = append(out, ot)
		}
		return out
	}
	if r.Version < 8 {
		if !z.group(kmsg.ACLOperationDescribe, r.Group) {
			resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			for _, t := range deniedTopics(r.Topics) { // v0-1 have no top-level error
				for i := range t.Partitions {
					t.Partitions[i].ErrorCode = kerr.GroupAuthorizationFailed.Code
				}
				resp.Topics = append(resp.Topics, t)
			}
			return answer(resp)
		}
		kept, denied := split(r.Topics, topicAllowed)
		if r.Topics == nil {
			return after(next.Handle(ctx, req), func(m kmsg.Response) {
				resp := m.(*kmsg.OffsetFetchResponse)
				resp.Topics, _ = split(resp.Topics, func(t kmsg.OffsetFetchResponseTopic) bool { return z.topic(kmsg.ACLOperationDescribe, t.Topic) })
			})
		}
		if len(denied) == 0 {
			return next.Handle(ctx, req)
		}
		r.Topics = kept
		if kept == nil {
			r.Topics = []kmsg.OffsetFetchRequestTopic{} // not null: null asks for every topic
		}
		return after(next.Handle(ctx, req), func(m kmsg.Response) {
			resp := m.(*kmsg.OffsetFetchResponse)
			resp.Topics = append(resp.Topics, deniedTopics(denied)...)
		})
	}
	kept, denied := split(r.Groups, func(g kmsg.OffsetFetchRequestGroup) bool { return z.group(kmsg.ACLOperationDescribe, g.Group) })
	r.Groups = kept
	return after(next.Handle(ctx, req), func(m kmsg.Response) {
		resp := m.(*kmsg.OffsetFetchResponse)
		for i := range resp.Groups {
			resp.Groups[i].Topics, _ = split(resp.Groups[i].Topics, func(t kmsg.OffsetFetchResponseGroupTopic) bool {
				if r.Version >= 10 {
					return z.topicByID(kmsg.ACLOperationDescribe, t.TopicID)
				}
				return z.topic(kmsg.ACLOperationDescribe, t.Topic)
			})
		}
		for _, g := range denied {
			og := kmsg.NewOffsetFetchResponseGroup()
			og.Group, og.ErrorCode = g.Group, kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, og)
		}
	})
}

// Coordinator types of FindCoordinator.
const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
)

// findCoordinator needs DESCRIBE on the group or the transactional id.
func (s *Security) findCoordinator(ctx context.Context, req *server.Request, r *kmsg.FindCoordinatorRequest, z authz, next server.Handler) *server.Reply {
	allowed := func(key string) (bool, int16) {
		switch r.CoordinatorType {
		case coordinatorGroup:
			return z.group(kmsg.ACLOperationDescribe, key), kerr.GroupAuthorizationFailed.Code
		case coordinatorTransaction:
			return z.txn(kmsg.ACLOperationDescribe, key), kerr.TransactionalIDAuthorizationFailed.Code
		}
		return true, 0
	}
	if r.Version < 4 {
		if ok, code := allowed(r.CoordinatorKey); !ok {
			resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
			resp.ErrorCode, resp.NodeID, resp.Port = code, -1, -1
			return answer(resp)
		}
		return next.Handle(ctx, req)
	}
	kept, denied := split(r.CoordinatorKeys, func(k string) bool { ok, _ := allowed(k); return ok })
	if len(denied) == 0 {
		return next.Handle(ctx, req)
	}
	r.CoordinatorKeys = kept
	return after(next.Handle(ctx, req), func(m kmsg.Response) {
		resp := m.(*kmsg.FindCoordinatorResponse)
		for _, k := range denied {
			_, code := allowed(k)
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key, c.NodeID, c.Port, c.ErrorCode = k, -1, -1, code
			resp.Coordinators = append(resp.Coordinators, c)
		}
	})
}

// addPartitionsToTxn (v0-3) needs WRITE on the transactional id and on each topic; when a
// topic is refused, Kafka adds none of the request's partitions: the others are answered
// OPERATION_NOT_ATTEMPTED.
func (s *Security) addPartitionsToTxn(ctx context.Context, req *server.Request, r *kmsg.AddPartitionsToTxnRequest, z authz, next server.Handler) *server.Reply {
	txnOK := z.txn(kmsg.ACLOperationWrite, r.TransactionalID)
	_, denied := split(r.Topics, func(t kmsg.AddPartitionsToTxnRequestTopic) bool { return z.topic(kmsg.ACLOperationWrite, t.Topic) })
	if txnOK && len(denied) == 0 {
		return next.Handle(ctx, req)
	}
	resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	for _, t := range r.Topics {
		code := kerr.TransactionalIDAuthorizationFailed.Code
		if txnOK {
			code = kerr.OperationNotAttempted.Code
			if !z.topic(kmsg.ACLOperationWrite, t.Topic) {
				code = kerr.TopicAuthorizationFailed.Code
			}
		}
		ot := kmsg.NewAddPartitionsToTxnResponseTopic()
		ot.Topic = t.Topic
		for _, p := range t.Partitions {
			op := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			op.Partition, op.ErrorCode = p, code
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return answer(resp)
}
