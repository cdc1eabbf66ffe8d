package conformance

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { covered[55] = "TestDescribeQuorum" }

// TestDescribeQuorum: a single node is the whole quorum, its only voter and leader, and
// has applied the log up to the high watermark.
func TestDescribeQuorum(t *testing.T) {
	forVersions(t, 55, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		req := versioned(kmsg.NewPtrDescribeQuorumRequest(), v)
		rt := kmsg.NewDescribeQuorumRequestTopic()
		rt.Topic = "__cluster_metadata"
		for _, p := range []int32{0, 1} {
			rp := kmsg.NewDescribeQuorumRequestTopicPartition()
			rp.Partition = p
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp := c.do(req).(*kmsg.DescribeQuorumResponse)
		wantCode(t, "DescribeQuorum", resp.ErrorCode, nil)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 {
			t.Fatalf("answer %+v, want one topic with two partitions", resp.Topics)
		}
		p0, p1 := resp.Topics[0].Partitions[0], resp.Topics[0].Partitions[1]
		wantCode(t, "partition 1", p1.ErrorCode, kerr.UnknownTopicOrPartition)
		wantCode(t, "partition 0", p0.ErrorCode, nil)
		if p0.LeaderID != 1 || p0.LeaderEpoch < 1 || p0.HighWatermark < 1 {
			t.Errorf("leader %d epoch %d high watermark %d, want node 1 leading with a committed log",
				p0.LeaderID, p0.LeaderEpoch, p0.HighWatermark)
		}
		if len(p0.CurrentVoters) != 1 || p0.CurrentVoters[0].ReplicaID != 1 || len(p0.Observers) != 0 {
			t.Fatalf("voters %+v observers %+v, want node 1 alone", p0.CurrentVoters, p0.Observers)
		}
		if leo := p0.CurrentVoters[0].LogEndOffset; leo < p0.HighWatermark {
			t.Errorf("the leader's log end %d is below the high watermark %d", leo, p0.HighWatermark)
		}
		if v >= 1 && p0.CurrentVoters[0].LastCaughtUpTimestamp <= 0 {
			t.Errorf("v%d: last caught-up time %d, want the leader's own, now", v, p0.CurrentVoters[0].LastCaughtUpTimestamp)
		}
		if v >= 2 && (len(resp.Nodes) != 1 || resp.Nodes[0].NodeID != 1) {
			t.Errorf("v%d: nodes %+v, want node 1", v, resp.Nodes)
		}
	})
}
