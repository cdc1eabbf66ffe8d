package conformance

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The reassignment and election APIs on a single node: what one broker can show of
// them (moves between brokers are tested on clusters in test/cluster).

func init() {
	covered[43] = "TestElectLeaders"
	covered[45] = "TestAlterPartitionReassignments"
	covered[46] = "TestListPartitionReassignments"
	covered[64] = "TestUnregisterBroker"
}

func TestElectLeaders(t *testing.T) {
	setup := dial(t, shared.addr)
	topic := topicName(t, "elect")
	createTopic(t, setup, topic, 2, nil)
	forVersions(t, 43, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		for _, typ := range []int8{0, 1} {
			if typ == 1 && v == 0 {
				continue
			}
			req := versioned(kmsg.NewPtrElectLeadersRequest(), v)
			req.ElectionType = typ
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic, rt.Partitions = topic, []int32{0, 1, 9}
			req.Topics = append(req.Topics, rt)
			resp := c.do(req).(*kmsg.ElectLeadersResponse)
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 3 {
				t.Fatalf("type %d: answer %+v, want 3 partitions", typ, resp.Topics)
			}
			for _, p := range resp.Topics[0].Partitions {
				want := kerr.ElectionNotNeeded // led by its preferred, live replica
				if p.Partition == 9 {
					want = kerr.UnknownTopicOrPartition
				}
				wantCode(t, "partition", p.ErrorCode, want)
			}
			// Every partition (Topics null): nothing needed, so nothing listed.
			all := versioned(kmsg.NewPtrElectLeadersRequest(), v)
			all.ElectionType = typ
			if got := c.do(all).(*kmsg.ElectLeadersResponse); len(got.Topics) != 0 {
				t.Errorf("type %d, all partitions: %+v, want none listed", typ, got.Topics)
			}
		}
	})
}

func TestAlterPartitionReassignments(t *testing.T) {
	setup := dial(t, shared.addr)
	topic := topicName(t, "reassign")
	createTopic(t, setup, topic, 1, nil)
	forVersions(t, 45, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		ask := func(replicas []int32, allowRF bool) int16 {
			req := versioned(kmsg.NewPtrAlterPartitionAssignmentsRequest(), v)
			req.AllowReplicationFactorChange = allowRF
			rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
			rp.Partition, rp.Replicas = 0, replicas
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := c.do(req).(*kmsg.AlterPartitionAssignmentsResponse)
			wantCode(t, "AlterPartitionReassignments", resp.ErrorCode, nil)
			return resp.Topics[0].Partitions[0].ErrorCode
		}
		wantCode(t, "the same replicas", ask([]int32{1}, false), nil)
		wantCode(t, "an unregistered broker", ask([]int32{7}, false), kerr.InvalidReplicaAssignment)
		wantCode(t, "a broker twice", ask([]int32{1, 1}, true), kerr.InvalidReplicaAssignment)
		wantCode(t, "no replica", ask([]int32{}, false), kerr.InvalidReplicaAssignment)
		wantCode(t, "a cancel with none in progress", ask(nil, false), kerr.NoReassignmentInProgress)
		if v >= 1 {
			wantCode(t, "another replication factor", ask([]int32{1, 7}, false), kerr.InvalidReplicationFactor)
		}
	})
}

func TestListPartitionReassignments(t *testing.T) {
	setup := dial(t, shared.addr)
	topic := topicName(t, "listreassign")
	createTopic(t, setup, topic, 1, nil)
	forVersions(t, 46, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		req := versioned(kmsg.NewPtrListPartitionReassignmentsRequest(), v)
		resp := c.do(req).(*kmsg.ListPartitionReassignmentsResponse)
		wantCode(t, "ListPartitionReassignments", resp.ErrorCode, nil)
		if len(resp.Topics) != 0 {
			t.Errorf("reassignments %+v on a single node, want none", resp.Topics)
		}
		rt := kmsg.NewListPartitionReassignmentsRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0}
		req.Topics = append(req.Topics, rt)
		if got := c.do(req).(*kmsg.ListPartitionReassignmentsResponse); len(got.Topics) != 0 {
			t.Errorf("named partition with no reassignment: %+v, want it left out", got.Topics)
		}
	})
}

func TestUnregisterBroker(t *testing.T) {
	setup := dial(t, shared.addr)
	createTopic(t, setup, topicName(t, "unregister"), 1, nil)
	forVersions(t, 64, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		req := versioned(kmsg.NewPtrUnregisterBrokerRequest(), v)
		req.BrokerID = 7
		wantCode(t, "an unknown broker", c.do(req).(*kmsg.UnregisterBrokerResponse).ErrorCode, kerr.BrokerIDNotRegistered)
		req.BrokerID = 1
		wantCode(t, "a broker hosting replicas", c.do(req).(*kmsg.UnregisterBrokerResponse).ErrorCode, kerr.InvalidRequest)
	})
}
