package conformance

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/sasl"
)

// TestAuthorizationMatrixEveryAPI (issue #14): for every API the shared broker advertises,
// a principal without the ACLs Kafka requires (its "Authorization and ACLs" table) gets the
// API's *_AUTHORIZATION_FAILED answer, or the documented behaviour (Metadata, ListGroups and
// ListTransactions leave out what it may not describe; ApiVersions, SaslHandshake and
// SaslAuthenticate need no ACL), and with those ACLs granted the same request gets past
// authorization to the answer written in its row. It fails if an advertised API has no row.

// authzGrant is one ALLOW binding for alice on a literal resource.
type authzGrant struct {
	rt   kmsg.ACLResourceType
	name string
	op   kmsg.ACLOperation
}

// authzRow is one request of the matrix: do sends it as alice and returns the code a
// client reads from it; before is the answer with only the ACLs in have (none for most
// rows), after the answer once grants are added too. Each row starts and ends with alice
// holding no ACL, so that a row proves its own grants are the ones that count.
type authzRow struct {
	key           int16
	name          string
	grants        []authzGrant
	do            func() int16
	before, after *kerr.Error
	have          []authzGrant
}

// hidden is the code a row reports for a listing that leaves out the resource it looks
// for: Kafka filters such listings instead of failing them.
func hidden(listed bool, err *kerr.Error) int16 {
	if listed {
		return 0
	}
	return err.Code
}

func TestAuthorizationMatrixEveryAPI(t *testing.T) {
	f := startSecured(t, aclSets("group.initial.rebalance.delay.ms=0"))
	admin := login(t, f, "admin")
	topic := topicName(t, "t")
	id := createTopic(t, admin, topic, 1, nil)
	mustProduce(t, admin, topic, 0, simpleBatch(nowMs(), "a", 2))
	newTopic := topicName(t, "new")
	gCommit, gJoin, gDel, g848, gTxn := groupName(t, "commit"), groupName(t, "join"), groupName(t, "del"), groupName(t, "848"), groupName(t, "txn")
	coordinator(t, admin, gCommit) // creates __consumer_offsets as a super user
	for _, g := range []string{gCommit, gDel} {
		resp := retry(t, admin, simpleCommit(t, g, topic, 1), func(r *kmsg.OffsetCommitResponse) int16 { return r.Topics[0].Partitions[0].ErrorCode })
		wantCode(t, "admin commits to "+g, resp.Topics[0].Partitions[0].ErrorCode, nil)
	}
	txnID, txnOther := "txn-"+gTxn, "txn-"+groupName(t, "other")
	pid, epoch := initTxn(t, admin, txnID) // creates __transaction_state, and a transaction alice may list

	alice := login(t, f, "alice")
	const principal = "User:alice"
	topicGrant := func(op kmsg.ACLOperation) authzGrant { return authzGrant{kmsg.ACLResourceTypeTopic, topic, op} }
	groupGrant := func(g string, op kmsg.ACLOperation) authzGrant { return authzGrant{kmsg.ACLResourceTypeGroup, g, op} }
	txnGrant := func(id string) authzGrant {
		return authzGrant{kmsg.ACLResourceTypeTransactionalId, id, kmsg.ACLOperationWrite}
	}
	clusterGrant := func(op kmsg.ACLOperation) authzGrant {
		return authzGrant{kmsg.ACLResourceTypeCluster, "kafka-cluster", op}
	}
	brokerRes := func() kmsg.DescribeConfigsRequestResource {
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
		return rr
	}
	scramUser := topicName(t, "nobody")

	initIdempotent := func() int16 {
		req := versioned(kmsg.NewPtrInitProducerIDRequest(), maxVersion(t, 22))
		req.ProducerID, req.ProducerEpoch = -1, -1
		return alice.do(req).(*kmsg.InitProducerIDResponse).ErrorCode
	}
	addOffsets := func() int16 {
		req := versioned(kmsg.NewPtrAddOffsetsToTxnRequest(), maxVersion(t, 25))
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = txnID, pid, epoch, gTxn
		return alice.do(req).(*kmsg.AddOffsetsToTxnResponse).ErrorCode
	}
	txnOffsetCommit := func() int16 {
		req := txnCommitReq(maxVersion(t, 28), gTxn, pid, epoch, -1, "", topic, map[int32]int64{0: 1}, "")
		return alice.do(req).(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
	}
	addPartitionsV3 := func() int16 {
		return addPartitions(t, alice, clientAdd(t), txnID, pid, epoch, topic, 0).Topics[0].Partitions[0].ErrorCode
	}
	offsetCommit := func() int16 {
		return alice.do(simpleCommit(t, gCommit, topic, 2)).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
	}
	offsetDelete := func() int16 {
		req := versioned(kmsg.NewPtrOffsetDeleteRequest(), maxVersion(t, 47))
		req.Group = gCommit
		rt := kmsg.NewOffsetDeleteRequestTopic()
		rt.Topic = topic
		rt.Partitions = append(rt.Partitions, kmsg.NewOffsetDeleteRequestTopicPartition())
		req.Topics = append(req.Topics, rt)
		resp := alice.do(req).(*kmsg.OffsetDeleteResponse)
		if resp.ErrorCode != 0 || len(resp.Topics) == 0 {
			return resp.ErrorCode
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}

	listGroups := func() int16 {
		resp := alice.do(versioned(kmsg.NewPtrListGroupsRequest(), maxVersion(t, 16))).(*kmsg.ListGroupsResponse)
		if resp.ErrorCode != 0 {
			return resp.ErrorCode
		}
		listed := false
		for _, g := range resp.Groups {
			listed = listed || g.Group == gCommit
		}
		return hidden(listed, kerr.GroupAuthorizationFailed)
	}

	// offsetForLeaderEpoch asks as a consumer (replica -1) or as the follower replica.
	offsetForLeaderEpoch := func(replica int32) int16 {
		req := versioned(kmsg.NewPtrOffsetForLeaderEpochRequest(), maxVersion(t, 23))
		req.ReplicaID = replica
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = 0, -1, 0
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return alice.do(req).(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0].ErrorCode
	}

	rows := []authzRow{
		// Topics.
		{0, "Produce", []authzGrant{topicGrant(kmsg.ACLOperationWrite)}, func() int16 {
			return produce(t, alice, maxVersion(t, 0), topic, id, 0, simpleBatch(nowMs(), "b", 1)).ErrorCode
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{1, "Fetch", []authzGrant{topicGrant(kmsg.ACLOperationRead)}, func() int16 {
			_, p := fetchOne(t, alice, fetchReq(maxVersion(t, 1), topic, id, 0, 0, 1<<20, 1<<20))
			return p.ErrorCode
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{2, "ListOffsets", []authzGrant{topicGrant(kmsg.ACLOperationDescribe)}, func() int16 {
			_, code := listOffset(t, alice, maxVersion(t, 2), topic, 0, -1, 0)
			return code
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{3, "Metadata named", []authzGrant{topicGrant(kmsg.ACLOperationDescribe)}, func() int16 {
			return metadataTopic(t, alice, topic).ErrorCode
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{3, "Metadata of every topic (hides it)", []authzGrant{topicGrant(kmsg.ACLOperationDescribe)}, func() int16 {
			all := alice.do(metaReq(maxVersion(t, 3), nil)).(*kmsg.MetadataResponse)
			return hidden(findMetaTopic(all, topic) != nil, kerr.TopicAuthorizationFailed)
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{19, "CreateTopics", []authzGrant{{kmsg.ACLResourceTypeTopic, newTopic, kmsg.ACLOperationCreate}}, func() int16 {
			req := versioned(kmsg.NewPtrCreateTopicsRequest(), maxVersion(t, 19))
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = newTopic, 1, 1
			req.Topics = append(req.Topics, rt)
			return alice.do(req).(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{19, "CreateTopics (CREATE on the cluster)", []authzGrant{clusterGrant(kmsg.ACLOperationCreate)}, func() int16 {
			req := versioned(kmsg.NewPtrCreateTopicsRequest(), maxVersion(t, 19))
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topicName(t, "bycluster"), 1, 1
			req.Topics, req.ValidateOnly = append(req.Topics, rt), true
			return alice.do(req).(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{20, "DeleteTopics", []authzGrant{{kmsg.ACLResourceTypeTopic, newTopic, kmsg.ACLOperationDelete}}, func() int16 {
			req := versioned(kmsg.NewPtrDeleteTopicsRequest(), maxVersion(t, 20))
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.Topic = kmsg.StringPtr(newTopic)
			req.Topics, req.TopicNames = []kmsg.DeleteTopicsRequestTopic{rt}, []string{newTopic}
			return alice.do(req).(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{21, "DeleteRecords", []authzGrant{topicGrant(kmsg.ACLOperationDelete)}, func() int16 {
			req := versioned(kmsg.NewPtrDeleteRecordsRequest(), maxVersion(t, 21))
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp.Partition, rp.Offset = 0, 0
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics, req.TimeoutMillis = append(req.Topics, rt), 5000
			return alice.do(req).(*kmsg.DeleteRecordsResponse).Topics[0].Partitions[0].ErrorCode
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{23, "OffsetForLeaderEpoch", []authzGrant{topicGrant(kmsg.ACLOperationDescribe)}, func() int16 {
			return offsetForLeaderEpoch(-1)
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{23, "OffsetForLeaderEpoch (CLUSTER_ACTION also answers a consumer)", []authzGrant{clusterGrant(kmsg.ACLOperationClusterAction)}, func() int16 {
			return offsetForLeaderEpoch(-1)
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{23, "OffsetForLeaderEpoch as a follower", []authzGrant{clusterGrant(kmsg.ACLOperationClusterAction)}, func() int16 {
			return offsetForLeaderEpoch(2)
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{23, "OffsetForLeaderEpoch as a follower (DESCRIBE on the topic suffices)", []authzGrant{topicGrant(kmsg.ACLOperationDescribe)}, func() int16 {
			return offsetForLeaderEpoch(2)
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{32, "DescribeConfigs topic", []authzGrant{topicGrant(kmsg.ACLOperationDescribeConfigs)}, func() int16 {
			_, code := describeTopicConfigs(t, alice, maxVersion(t, 32), topic, []string{"retention.ms"}, false, false)
			return code
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{32, "DescribeConfigs broker", []authzGrant{clusterGrant(kmsg.ACLOperationDescribeConfigs)}, func() int16 {
			req := versioned(kmsg.NewPtrDescribeConfigsRequest(), maxVersion(t, 32))
			req.Resources = append(req.Resources, brokerRes())
			return alice.do(req).(*kmsg.DescribeConfigsResponse).Resources[0].ErrorCode
		}, kerr.ClusterAuthorizationFailed, nil, nil},
		{33, "AlterConfigs topic", []authzGrant{topicGrant(kmsg.ACLOperationAlterConfigs)}, func() int16 {
			req := versioned(kmsg.NewPtrAlterConfigsRequest(), maxVersion(t, 33))
			rr := kmsg.NewAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, topic
			rc := kmsg.NewAlterConfigsRequestResourceConfig()
			rc.Name, rc.Value = "retention.ms", kmsg.StringPtr("3600000")
			rr.Configs = append(rr.Configs, rc)
			req.Resources, req.ValidateOnly = append(req.Resources, rr), true
			return alice.do(req).(*kmsg.AlterConfigsResponse).Resources[0].ErrorCode
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{37, "CreatePartitions", []authzGrant{topicGrant(kmsg.ACLOperationAlter)}, func() int16 {
			req := versioned(kmsg.NewPtrCreatePartitionsRequest(), maxVersion(t, 37))
			rt := kmsg.NewCreatePartitionsRequestTopic()
			rt.Topic, rt.Count = topic, 2
			req.Topics, req.ValidateOnly, req.TimeoutMillis = append(req.Topics, rt), true, 5000
			return alice.do(req).(*kmsg.CreatePartitionsResponse).Topics[0].ErrorCode
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{44, "IncrementalAlterConfigs topic", []authzGrant{topicGrant(kmsg.ACLOperationAlterConfigs)}, func() int16 {
			req := versioned(kmsg.NewPtrIncrementalAlterConfigsRequest(), maxVersion(t, 44))
			rr := kmsg.NewIncrementalAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, topic
			rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			rc.Name, rc.Op, rc.Value = "retention.ms", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("3600000")
			rr.Configs = append(rr.Configs, rc)
			req.Resources, req.ValidateOnly = append(req.Resources, rr), true
			return alice.do(req).(*kmsg.IncrementalAlterConfigsResponse).Resources[0].ErrorCode
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{61, "DescribeProducers", []authzGrant{topicGrant(kmsg.ACLOperationRead)}, func() int16 {
			req := versioned(kmsg.NewPtrDescribeProducersRequest(), maxVersion(t, 61))
			rt := kmsg.NewDescribeProducersRequestTopic()
			rt.Topic, rt.Partitions = topic, []int32{0}
			req.Topics = append(req.Topics, rt)
			return alice.do(req).(*kmsg.DescribeProducersResponse).Topics[0].Partitions[0].ErrorCode
		}, kerr.TopicAuthorizationFailed, nil, nil},
		{75, "DescribeTopicPartitions", []authzGrant{topicGrant(kmsg.ACLOperationDescribe)}, func() int16 {
			req := versioned(kmsg.NewPtrDescribeTopicPartitionsRequest(), maxVersion(t, 75))
			rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
			rt.Topic = topic
			req.Topics, req.ResponsePartitionLimit = append(req.Topics, rt), 100
			return alice.do(req).(*kmsg.DescribeTopicPartitionsResponse).Topics[0].ErrorCode
		}, kerr.TopicAuthorizationFailed, nil, nil},

		// Groups.
		{8, "OffsetCommit", []authzGrant{groupGrant(gCommit, kmsg.ACLOperationRead), topicGrant(kmsg.ACLOperationRead)}, offsetCommit,
			kerr.GroupAuthorizationFailed, nil, nil},
		{8, "OffsetCommit (READ on the topic too)", []authzGrant{topicGrant(kmsg.ACLOperationRead)}, offsetCommit,
			kerr.TopicAuthorizationFailed, nil, []authzGrant{groupGrant(gCommit, kmsg.ACLOperationRead)}},
		{9, "OffsetFetch", []authzGrant{groupGrant(gCommit, kmsg.ACLOperationDescribe)}, func() int16 {
			req := versioned(kmsg.NewPtrOffsetFetchRequest(), min(maxVersion(t, 9), 7))
			req.Group = gCommit
			return alice.do(req).(*kmsg.OffsetFetchResponse).ErrorCode
		}, kerr.GroupAuthorizationFailed, nil, nil},
		{10, "FindCoordinator group", []authzGrant{groupGrant(gCommit, kmsg.ACLOperationDescribe)}, func() int16 {
			req := versioned(kmsg.NewPtrFindCoordinatorRequest(), 3)
			req.CoordinatorKey = gCommit
			return alice.do(req).(*kmsg.FindCoordinatorResponse).ErrorCode
		}, kerr.GroupAuthorizationFailed, nil, nil},
		{10, "FindCoordinator transaction", []authzGrant{txnGrant(txnID)}, func() int16 {
			req := versioned(kmsg.NewPtrFindCoordinatorRequest(), 3)
			req.CoordinatorType, req.CoordinatorKey = 1, txnID
			return alice.do(req).(*kmsg.FindCoordinatorResponse).ErrorCode
		}, kerr.TransactionalIDAuthorizationFailed, nil, nil},
		{11, "JoinGroup", []authzGrant{groupGrant(gJoin, kmsg.ACLOperationRead)}, func() int16 {
			return alice.do(joinReq(maxVersion(t, 11), gJoin, "", subscription(topic))).(*kmsg.JoinGroupResponse).ErrorCode
		}, kerr.GroupAuthorizationFailed, kerr.MemberIDRequired, nil},
		{12, "Heartbeat", []authzGrant{groupGrant(gJoin, kmsg.ACLOperationRead)}, func() int16 {
			req := versioned(kmsg.NewPtrHeartbeatRequest(), maxVersion(t, 12))
			req.Group, req.Generation, req.MemberID = gJoin, 1, "nobody"
			return alice.do(req).(*kmsg.HeartbeatResponse).ErrorCode
		}, kerr.GroupAuthorizationFailed, kerr.UnknownMemberID, nil},
		{13, "LeaveGroup", []authzGrant{groupGrant(gJoin, kmsg.ACLOperationRead)}, func() int16 {
			req := versioned(kmsg.NewPtrLeaveGroupRequest(), maxVersion(t, 13))
			req.Group, req.MemberID = gJoin, "nobody"
			m := kmsg.NewLeaveGroupRequestMember()
			m.MemberID = "nobody"
			req.Members = append(req.Members, m)
			resp := alice.do(req).(*kmsg.LeaveGroupResponse)
			if resp.ErrorCode == 0 && len(resp.Members) == 1 {
				return resp.Members[0].ErrorCode
			}
			return resp.ErrorCode
		}, kerr.GroupAuthorizationFailed, kerr.UnknownMemberID, nil},
		{14, "SyncGroup", []authzGrant{groupGrant(gJoin, kmsg.ACLOperationRead)}, func() int16 {
			req := versioned(kmsg.NewPtrSyncGroupRequest(), maxVersion(t, 14))
			req.Group, req.Generation, req.MemberID = gJoin, 1, "nobody"
			req.ProtocolType, req.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
			return alice.do(req).(*kmsg.SyncGroupResponse).ErrorCode
		}, kerr.GroupAuthorizationFailed, kerr.UnknownMemberID, nil},
		{15, "DescribeGroups", []authzGrant{groupGrant(gCommit, kmsg.ACLOperationDescribe)}, func() int16 {
			req := versioned(kmsg.NewPtrDescribeGroupsRequest(), maxVersion(t, 15))
			req.Groups = []string{gCommit}
			return alice.do(req).(*kmsg.DescribeGroupsResponse).Groups[0].ErrorCode
		}, kerr.GroupAuthorizationFailed, nil, nil},
		{16, "ListGroups (hides it)", []authzGrant{groupGrant(gCommit, kmsg.ACLOperationDescribe)}, listGroups,
			kerr.GroupAuthorizationFailed, nil, nil},
		{16, "ListGroups (DESCRIBE on the cluster lists every group)", []authzGrant{clusterGrant(kmsg.ACLOperationDescribe)}, listGroups,
			kerr.GroupAuthorizationFailed, nil, nil},
		{47, "OffsetDelete", []authzGrant{groupGrant(gCommit, kmsg.ACLOperationDelete), topicGrant(kmsg.ACLOperationRead)}, offsetDelete,
			kerr.GroupAuthorizationFailed, nil, nil},
		{47, "OffsetDelete (READ on the topic too)", []authzGrant{topicGrant(kmsg.ACLOperationRead)}, offsetDelete,
			kerr.TopicAuthorizationFailed, nil, []authzGrant{groupGrant(gCommit, kmsg.ACLOperationDelete)}},
		{42, "DeleteGroups", []authzGrant{groupGrant(gDel, kmsg.ACLOperationDelete)}, func() int16 {
			req := versioned(kmsg.NewPtrDeleteGroupsRequest(), maxVersion(t, 42))
			req.Groups = []string{gDel}
			return alice.do(req).(*kmsg.DeleteGroupsResponse).Groups[0].ErrorCode
		}, kerr.GroupAuthorizationFailed, nil, nil},
		{68, "ConsumerGroupHeartbeat", []authzGrant{groupGrant(g848, kmsg.ACLOperationRead)}, func() int16 {
			req := versioned(kmsg.NewPtrConsumerGroupHeartbeatRequest(), maxVersion(t, 68))
			req.Group, req.MemberID, req.MemberEpoch = g848, "alice-member-00000001", 0
			req.RebalanceTimeoutMillis, req.SubscribedTopicNames = 30000, []string{topic}
			req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
			return alice.do(req).(*kmsg.ConsumerGroupHeartbeatResponse).ErrorCode
		}, kerr.GroupAuthorizationFailed, nil, nil},
		{69, "ConsumerGroupDescribe", []authzGrant{groupGrant(g848, kmsg.ACLOperationDescribe)}, func() int16 {
			req := versioned(kmsg.NewPtrConsumerGroupDescribeRequest(), maxVersion(t, 69))
			req.Groups = []string{g848}
			return alice.do(req).(*kmsg.ConsumerGroupDescribeResponse).Groups[0].ErrorCode
		}, kerr.GroupAuthorizationFailed, nil, nil},

		// Producers and transactions.
		{22, "InitProducerId idempotent", []authzGrant{clusterGrant(kmsg.ACLOperationIdempotentWrite)}, initIdempotent, kerr.ClusterAuthorizationFailed, nil, nil},
		{22, "InitProducerId idempotent (WRITE on any topic suffices)", []authzGrant{topicGrant(kmsg.ACLOperationWrite)}, initIdempotent,
			kerr.ClusterAuthorizationFailed, nil, nil},
		{22, "InitProducerId transactional", []authzGrant{txnGrant(txnOther)}, func() int16 {
			req := versioned(kmsg.NewPtrInitProducerIDRequest(), maxVersion(t, 22))
			req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(txnOther), 60000
			req.ProducerID, req.ProducerEpoch = -1, -1
			return alice.do(req).(*kmsg.InitProducerIDResponse).ErrorCode
		}, kerr.TransactionalIDAuthorizationFailed, nil, nil},
		{24, "AddPartitionsToTxn (producer's v0-3)", []authzGrant{txnGrant(txnID), topicGrant(kmsg.ACLOperationWrite)}, addPartitionsV3,
			kerr.TransactionalIDAuthorizationFailed, nil, nil},
		{24, "AddPartitionsToTxn (producer's v0-3, WRITE on the topic too)", []authzGrant{topicGrant(kmsg.ACLOperationWrite)}, addPartitionsV3,
			kerr.TopicAuthorizationFailed, nil, []authzGrant{txnGrant(txnID)}},
		{24, "AddPartitionsToTxn (brokers' v4+)", []authzGrant{clusterGrant(kmsg.ACLOperationClusterAction)}, func() int16 {
			code, parts := brokerAdd(t, alice, maxVersion(t, 24), true, txnID, pid, epoch, topic, 0)
			if code != 0 {
				return code
			}
			return parts[0]
		}, kerr.ClusterAuthorizationFailed, nil, nil},
		{25, "AddOffsetsToTxn", []authzGrant{txnGrant(txnID), groupGrant(gTxn, kmsg.ACLOperationRead)}, addOffsets,
			kerr.TransactionalIDAuthorizationFailed, nil, nil},
		{25, "AddOffsetsToTxn (READ on the group too)", []authzGrant{groupGrant(gTxn, kmsg.ACLOperationRead)}, addOffsets,
			kerr.GroupAuthorizationFailed, nil, []authzGrant{txnGrant(txnID)}},
		{28, "TxnOffsetCommit", []authzGrant{txnGrant(txnID), groupGrant(gTxn, kmsg.ACLOperationRead), topicGrant(kmsg.ACLOperationRead)}, txnOffsetCommit,
			kerr.TransactionalIDAuthorizationFailed, nil, nil},
		{28, "TxnOffsetCommit (READ on the group too)", []authzGrant{groupGrant(gTxn, kmsg.ACLOperationRead)}, txnOffsetCommit,
			kerr.GroupAuthorizationFailed, nil, []authzGrant{txnGrant(txnID), topicGrant(kmsg.ACLOperationRead)}},
		{65, "DescribeTransactions", []authzGrant{txnGrant(txnID)}, func() int16 {
			req := versioned(kmsg.NewPtrDescribeTransactionsRequest(), maxVersion(t, 65))
			req.TransactionalIDs = []string{txnID}
			return alice.do(req).(*kmsg.DescribeTransactionsResponse).TransactionStates[0].ErrorCode
		}, kerr.TransactionalIDAuthorizationFailed, nil, nil},
		{66, "ListTransactions (hides it)", []authzGrant{txnGrant(txnID)}, func() int16 {
			resp := alice.do(versioned(kmsg.NewPtrListTransactionsRequest(), maxVersion(t, 66))).(*kmsg.ListTransactionsResponse)
			if resp.ErrorCode != 0 {
				return resp.ErrorCode
			}
			listed := false
			for _, st := range resp.TransactionStates {
				listed = listed || st.TransactionalID == txnID
			}
			return hidden(listed, kerr.TransactionalIDAuthorizationFailed)
		}, kerr.TransactionalIDAuthorizationFailed, nil, nil},
		{26, "EndTxn", []authzGrant{txnGrant(txnID)}, func() int16 {
			return endTxn(t, alice, maxVersion(t, 26), txnID, pid, epoch, true)
		}, kerr.TransactionalIDAuthorizationFailed, nil, nil},
		{27, "WriteTxnMarkers", []authzGrant{clusterGrant(kmsg.ACLOperationClusterAction)}, func() int16 {
			req := versioned(kmsg.NewPtrWriteTxnMarkersRequest(), maxVersion(t, 27))
			m := kmsg.NewWriteTxnMarkersRequestMarker()
			m.ProducerID, m.ProducerEpoch = 999999, 0
			mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			mt.Topic, mt.Partitions = topicName(t, "missing"), []int32{0}
			m.Topics = append(m.Topics, mt)
			req.Markers = append(req.Markers, m)
			return alice.do(req).(*kmsg.WriteTxnMarkersResponse).Markers[0].Topics[0].Partitions[0].ErrorCode
		}, kerr.ClusterAuthorizationFailed, kerr.UnknownTopicOrPartition, nil},

		// The cluster.
		{29, "DescribeAcls", []authzGrant{clusterGrant(kmsg.ACLOperationDescribe)}, func() int16 {
			req := describeACLsReq(maxVersion(t, 29), kmsg.ACLResourceTypeAny, nil, kmsg.ACLResourcePatternTypeAny, nil)
			return alice.do(req).(*kmsg.DescribeACLsResponse).ErrorCode
		}, kerr.ClusterAuthorizationFailed, nil, nil},
		{30, "CreateAcls", []authzGrant{clusterGrant(kmsg.ACLOperationAlter)}, func() int16 {
			return createACLs(t, alice, maxVersion(t, 30), creation(kmsg.ACLResourceTypeTopic, newTopic, kmsg.ACLResourcePatternTypeLiteral,
				"User:carol", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow))[0].ErrorCode
		}, kerr.ClusterAuthorizationFailed, nil, nil},
		{31, "DeleteAcls", []authzGrant{clusterGrant(kmsg.ACLOperationAlter)}, func() int16 {
			req := versioned(kmsg.NewPtrDeleteACLsRequest(), maxVersion(t, 31))
			fl := kmsg.NewDeleteACLsRequestFilter()
			fl.ResourceType, fl.ResourceName, fl.ResourcePatternType = kmsg.ACLResourceTypeTopic, kmsg.StringPtr(newTopic), kmsg.ACLResourcePatternTypeLiteral
			fl.Principal, fl.Operation, fl.PermissionType = kmsg.StringPtr("User:carol"), kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			req.Filters = append(req.Filters, fl)
			return alice.do(req).(*kmsg.DeleteACLsResponse).Results[0].ErrorCode
		}, kerr.ClusterAuthorizationFailed, nil, nil},
		{35, "DescribeLogDirs", []authzGrant{clusterGrant(kmsg.ACLOperationDescribe)}, func() int16 {
			return alice.do(versioned(kmsg.NewPtrDescribeLogDirsRequest(), maxVersion(t, 35))).(*kmsg.DescribeLogDirsResponse).ErrorCode
		}, kerr.ClusterAuthorizationFailed, nil, nil},
		{43, "ElectLeaders", []authzGrant{clusterGrant(kmsg.ACLOperationAlter)}, func() int16 {
			req := versioned(kmsg.NewPtrElectLeadersRequest(), maxVersion(t, 43))
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic, rt.Partitions = topic, []int32{0}
			req.Topics, req.TimeoutMillis = append(req.Topics, rt), 5000
			return alice.do(req).(*kmsg.ElectLeadersResponse).ErrorCode
		}, kerr.ClusterAuthorizationFailed, nil, nil},
		{45, "AlterPartitionReassignments", []authzGrant{clusterGrant(kmsg.ACLOperationAlter)}, func() int16 {
			req := versioned(kmsg.NewPtrAlterPartitionAssignmentsRequest(), maxVersion(t, 45))
			req.TimeoutMillis = 5000
			return alice.do(req).(*kmsg.AlterPartitionAssignmentsResponse).ErrorCode
		}, kerr.ClusterAuthorizationFailed, nil, nil},
		{46, "ListPartitionReassignments", []authzGrant{clusterGrant(kmsg.ACLOperationDescribe)}, func() int16 {
			req := versioned(kmsg.NewPtrListPartitionReassignmentsRequest(), maxVersion(t, 46))
			req.TimeoutMillis = 5000
			return alice.do(req).(*kmsg.ListPartitionReassignmentsResponse).ErrorCode
		}, kerr.ClusterAuthorizationFailed, nil, nil},
		{48, "DescribeClientQuotas", []authzGrant{clusterGrant(kmsg.ACLOperationDescribeConfigs)}, func() int16 {
			return describeQuotas(t, alice, maxVersion(t, 48), "c").ErrorCode
		}, kerr.ClusterAuthorizationFailed, nil, nil},
		{49, "AlterClientQuotas", []authzGrant{clusterGrant(kmsg.ACLOperationAlterConfigs)}, func() int16 {
			return alterQuotas(t, alice, maxVersion(t, 49), true, quotaEntry("c", "producer_byte_rate", 1, false))[0].ErrorCode
		}, kerr.ClusterAuthorizationFailed, nil, nil},
		{50, "DescribeUserScramCredentials", []authzGrant{clusterGrant(kmsg.ACLOperationDescribe)}, func() int16 {
			return describeScram(t, alice, maxVersion(t, 50)).ErrorCode
		}, kerr.ClusterAuthorizationFailed, nil, nil},
		{51, "AlterUserScramCredentials", []authzGrant{clusterGrant(kmsg.ACLOperationAlter)}, func() int16 {
			return alterScram(t, alice, nil, deletion(scramUser, sasl.MechanismSHA256))[scramUser]
		}, kerr.ClusterAuthorizationFailed, kerr.ResourceNotFound, nil},
		{55, "DescribeQuorum", []authzGrant{clusterGrant(kmsg.ACLOperationDescribe)}, func() int16 {
			req := versioned(kmsg.NewPtrDescribeQuorumRequest(), maxVersion(t, 55))
			rt := kmsg.NewDescribeQuorumRequestTopic()
			rt.Topic = "__cluster_metadata"
			rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
			req.Topics = append(req.Topics, rt)
			return alice.do(req).(*kmsg.DescribeQuorumResponse).ErrorCode
		}, kerr.ClusterAuthorizationFailed, nil, nil},
		{60, "DescribeCluster (answers, without authorized operations)", []authzGrant{clusterGrant(kmsg.ACLOperationDescribe)}, func() int16 {
			req := versioned(kmsg.NewPtrDescribeClusterRequest(), maxVersion(t, 60))
			req.IncludeClusterAuthorizedOperations = true
			resp := alice.do(req).(*kmsg.DescribeClusterResponse)
			if resp.ErrorCode != 0 || len(resp.Brokers) == 0 {
				return kerr.UnknownServerError.Code
			}
			return hidden(resp.ClusterAuthorizedOperations&(1<<uint(kmsg.ACLOperationDescribe)) != 0, kerr.ClusterAuthorizationFailed)
		}, kerr.ClusterAuthorizationFailed, nil, nil},
		{64, "UnregisterBroker", []authzGrant{clusterGrant(kmsg.ACLOperationAlter)}, func() int16 {
			req := versioned(kmsg.NewPtrUnregisterBrokerRequest(), maxVersion(t, 64))
			req.BrokerID = 999
			return alice.do(req).(*kmsg.UnregisterBrokerResponse).ErrorCode
		}, kerr.ClusterAuthorizationFailed, kerr.BrokerIDNotRegistered, nil},

		// The APIs that need no ACL.
		{17, "SaslHandshake", nil, func() int16 {
			return login(t, f, "alice").handshake(maxVersion(t, 17), "PLAIN").ErrorCode
		}, nil, nil, nil},
		{18, "ApiVersions", nil, func() int16 {
			req := versioned(kmsg.NewPtrApiVersionsRequest(), maxVersion(t, 18))
			req.ClientSoftwareName, req.ClientSoftwareVersion = "sluice-conformance", "1.0"
			return alice.do(req).(*kmsg.ApiVersionsResponse).ErrorCode
		}, nil, nil, nil},
		{36, "SaslAuthenticate", nil, func() int16 {
			c := dial(t, f.addr)
			if hs := c.handshake(1, "PLAIN"); hs.ErrorCode != 0 {
				return hs.ErrorCode
			}
			return c.authenticate(maxVersion(t, 36), []byte("\x00alice\x00alice-secret")).ErrorCode
		}, nil, nil, nil},
	}

	for key, r := range shared.ranges {
		found := false
		for _, row := range rows {
			found = found || row.key == key
		}
		if !found {
			t.Errorf("%s (key %d) v%d-%d is advertised but has no row in the authorization matrix", kmsg.NameForKey(key), key, r[0], r[1])
		}
	}

	revoke := func() {
		req := versioned(kmsg.NewPtrDeleteACLsRequest(), maxVersion(t, 31))
		fl := kmsg.NewDeleteACLsRequestFilter()
		fl.ResourceType, fl.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
		fl.Principal, fl.Operation, fl.PermissionType = kmsg.StringPtr(principal), kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		req.Filters = append(req.Filters, fl)
		wantCode(t, "revoke alice's ACLs", admin.do(req).(*kmsg.DeleteACLsResponse).Results[0].ErrorCode, nil)
	}
	for _, row := range rows {
		for _, g := range row.have {
			allow(t, admin, principal, g.rt, g.name, g.op)
		}
		what := " without ACLs"
		if len(row.have) > 0 {
			what = " with only " + describeGrants(row.have)
		}
		wantCode(t, row.name+what, row.do(), row.before)
		for _, g := range row.grants {
			allow(t, admin, principal, g.rt, g.name, g.op)
		}
		wantCode(t, row.name+" with "+describeGrants(append(row.have, row.grants...)), row.do(), row.after)
		revoke()
	}
}

func describeGrants(gs []authzGrant) string {
	if len(gs) == 0 {
		return "no ACLs"
	}
	out := ""
	for i, g := range gs {
		if i > 0 {
			out += ", "
		}
		out += g.op.String() + " on " + g.rt.String() + " " + g.name
	}
	return out
}

// simpleCommit is a commit of offset to partition 0 of topic by group outside of any
// generation, as an admin tool commits (OffsetCommit at most v9, which names topics).
func simpleCommit(t testing.TB, group, topic string, offset int64) *kmsg.OffsetCommitRequest {
	req := versioned(kmsg.NewPtrOffsetCommitRequest(), min(maxVersion(t, 8), 9))
	req.Group, req.Generation, req.MemberID = group, -1, ""
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = 0, offset, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}
