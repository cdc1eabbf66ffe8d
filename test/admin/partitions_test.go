package admin

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestCreatePartitions(t *testing.T) {
	n := startNode(t)
	cl, adm := n.client(t)
	topic := topicName(t)
	createTopic(t, adm, topic, 1, nil)

	// Validate-only changes nothing.
	resps, err := adm.ValidateUpdatePartitions(ctxT(t), 4, topic)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "validate 1->4", resps[topic].Err, nil)
	if got := partitionCount(t, n, topic); got != 1 {
		t.Fatalf("after validate-only: %d partitions, want 1", got)
	}

	resps, err = adm.UpdatePartitions(ctxT(t), 3, topic)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "grow 1->3", resps[topic].Err, nil)
	if got := partitionCount(t, n, topic); got != 3 {
		t.Fatalf("after growing: %d partitions, want 3", got)
	}
	// The new partition takes writes at once.
	produce(t, cl, topic, 2, 10, 100)

	// kadm's CreatePartitions adds to the current count.
	resps, err = adm.CreatePartitions(ctxT(t), 2, topic)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "add 2", resps[topic].Err, nil)
	if got := partitionCount(t, n, topic); got != 5 {
		t.Fatalf("after adding 2: %d partitions, want 5", got)
	}

	for _, tc := range []struct {
		name  string
		topic string
		count int
		want  *kerr.Error
	}{
		{"fewer than now", topic, 2, kerr.InvalidPartitions},
		{"same as now", topic, 5, kerr.InvalidPartitions},
		{"unknown topic", topic + "-nope", 3, kerr.UnknownTopicOrPartition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resps, err := adm.UpdatePartitions(ctxT(t), tc.count, tc.topic)
			if err != nil && tc.want != kerr.UnknownTopicOrPartition {
				t.Fatal(err)
			}
			if err == nil {
				err = resps[tc.topic].Err
			}
			wantErr(t, tc.name, err, tc.want)
		})
	}
	if got := partitionCount(t, n, topic); got != 5 {
		t.Fatalf("after refused changes: %d partitions, want 5", got)
	}
}

func TestCreatePartitionsRequestChecks(t *testing.T) {
	n := startNode(t)
	cl, adm := n.client(t)
	topic := topicName(t)
	createTopic(t, adm, topic, 2, nil)

	assignment := func(replicas ...[]int32) []kmsg.CreatePartitionsRequestTopicAssignment {
		var out []kmsg.CreatePartitionsRequestTopicAssignment
		for _, r := range replicas {
			a := kmsg.NewCreatePartitionsRequestTopicAssignment()
			a.Replicas = r
			out = append(out, a)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		topics []kmsg.CreatePartitionsRequestTopic
		want   []*kerr.Error
		after  int
	}{
		{
			name:   "topic twice",
			topics: []kmsg.CreatePartitionsRequestTopic{{Topic: topic, Count: 3}, {Topic: topic, Count: 4}},
			want:   []*kerr.Error{kerr.InvalidRequest, kerr.InvalidRequest},
			after:  2,
		},
		{
			name:   "too few assignments",
			topics: []kmsg.CreatePartitionsRequestTopic{{Topic: topic, Count: 4, Assignment: assignment([]int32{1})}},
			want:   []*kerr.Error{kerr.InvalidReplicaAssignment},
			after:  2,
		},
		{
			name:   "unknown broker",
			topics: []kmsg.CreatePartitionsRequestTopic{{Topic: topic, Count: 3, Assignment: assignment([]int32{7})}},
			want:   []*kerr.Error{kerr.InvalidReplicaAssignment},
			after:  2,
		},
		{
			name:   "wrong replication factor",
			topics: []kmsg.CreatePartitionsRequestTopic{{Topic: topic, Count: 3, Assignment: assignment([]int32{1, 1})}},
			want:   []*kerr.Error{kerr.InvalidReplicaAssignment},
			after:  2,
		},
		{
			name:   "bad topic name",
			topics: []kmsg.CreatePartitionsRequestTopic{{Topic: "bad/name", Count: 3}},
			want:   []*kerr.Error{kerr.InvalidTopicException},
			after:  2,
		},
		{
			name:   "valid assignment",
			topics: []kmsg.CreatePartitionsRequestTopic{{Topic: topic, Count: 3, Assignment: assignment([]int32{1})}},
			want:   []*kerr.Error{nil},
			after:  3,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrCreatePartitionsRequest()
			req.TimeoutMillis = 5000
			req.Topics = tc.topics
			resp := request[*kmsg.CreatePartitionsResponse](t, cl, req)
			if len(resp.Topics) != len(tc.want) {
				t.Fatalf("%d topics answered, want %d", len(resp.Topics), len(tc.want))
			}
			for i, w := range tc.want {
				wantCode(t, resp.Topics[i].Topic, resp.Topics[i].ErrorCode, w)
				if w != nil && resp.Topics[i].ErrorMessage == nil {
					t.Errorf("%s: no error message", w.Message)
				}
			}
			if got := partitionCount(t, n, topic); got != tc.after {
				t.Fatalf("%d partitions afterwards, want %d", got, tc.after)
			}
		})
	}
}

// partitionCount asks Metadata how many partitions a topic has.
func partitionCount(t testing.TB, n *node, topic string) int {
	t.Helper()
	_, adm := n.client(t)
	md, err := adm.Metadata(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		t.Fatalf("metadata of %s: %v", topic, td.Err)
	}
	return len(td.Partitions)
}
