package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// quorumResponse builds a DescribeQuorum answer for __cluster_metadata-0.
func quorumResponse(version int16, leader int32, hw int64, voters, observers []kmsg.DescribeQuorumResponseTopicPartitionReplicaState) *kmsg.DescribeQuorumResponse {
	resp := kmsg.NewPtrDescribeQuorumResponse()
	resp.Version = version
	t := kmsg.NewDescribeQuorumResponseTopic()
	t.Topic = metadataTopic
	p := kmsg.NewDescribeQuorumResponseTopicPartition()
	p.LeaderID, p.LeaderEpoch, p.HighWatermark = leader, 7, hw
	p.CurrentVoters, p.Observers = voters, observers
	t.Partitions = append(t.Partitions, p)
	resp.Topics = append(resp.Topics, t)
	return resp
}

func replicaState(id int32, leo, fetch, caughtUp int64) kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
	r := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
	r.ReplicaID, r.LogEndOffset, r.LastFetchTimestamp, r.LastCaughtUpTimestamp = id, leo, fetch, caughtUp
	return r
}

func TestBuildQuorum(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	ms := now.UnixMilli()
	resp := quorumResponse(2, 2, 100,
		[]kmsg.DescribeQuorumResponseTopicPartitionReplicaState{
			replicaState(3, 90, ms-40, ms-2000), // behind by 10 records, caught up 2s ago
			replicaState(1, 100, ms-50, ms-50),
			replicaState(2, 105, ms, ms), // the leader, ahead of the high watermark
		},
		[]kmsg.DescribeQuorumResponseTopicPartitionReplicaState{
			replicaState(5, 99, ms-1500, ms-1500),
			replicaState(4, -1, -1, -1), // never fetched
		})
	resp.Topics[0].Partitions[0].CurrentVoters[1].ReplicaDirectoryID = [16]byte{1}
	node := kmsg.NewDescribeQuorumResponseNode()
	node.NodeID = 1
	node.Listeners = []kmsg.DescribeQuorumResponseNodeListener{{Name: "CONTROLLER", Host: "127.0.0.1", Port: 19192}}
	resp.Nodes = append(resp.Nodes, node)

	q, err := buildQuorum(resp, now)
	if err != nil {
		t.Fatal(err)
	}
	if q.LeaderID != 2 || q.LeaderEpoch != 7 || q.HighWatermark != 100 || q.MaxFollowerLag != 10 ||
		q.MaxFollowerLagTimeMs == nil || *q.MaxFollowerLagTimeMs != 2000 {
		t.Errorf("status: %+v (lag time %v)", q, q.MaxFollowerLagTimeMs)
	}
	type row struct {
		id     int32
		status string
		lag    int64 // -1: null
		fetch  int64 // age, -1: null
	}
	rows := func(rs []quorumReplica) []row {
		var out []row
		for _, r := range rs {
			x := row{r.NodeID, r.Status, -1, -1}
			if r.Lag != nil {
				x.lag = *r.Lag
			}
			if r.LastFetchAgeMs != nil {
				x.fetch = *r.LastFetchAgeMs
			}
			out = append(out, x)
		}
		return out
	}
	wantVoters := []row{{2, "Leader", 0, 0}, {1, "Follower", 0, 50}, {3, "Follower", 10, 40}}
	wantObservers := []row{{4, "Observer", -1, -1}, {5, "Observer", 1, 1500}}
	if got := rows(q.Voters); !slices.Equal(got, wantVoters) {
		t.Errorf("voters %+v, want %+v", got, wantVoters)
	}
	if got := rows(q.Observers); !slices.Equal(got, wantObservers) {
		t.Errorf("observers %+v, want %+v", got, wantObservers)
	}
	if v := q.Voters[1]; v.DirectoryID != "AQAAAAAAAAAAAAAAAAAAAA" || len(v.Endpoints) != 1 || v.Endpoints[0] != "CONTROLLER://127.0.0.1:19192" {
		t.Errorf("node 1: directory %q endpoints %v", v.DirectoryID, v.Endpoints)
	}
	if o := q.Observers[0]; o.LastFetchTimestamp != nil || o.LastCaughtUpTimestamp != nil || o.DirectoryID != "" {
		t.Errorf("node 4 never fetched: %+v", o)
	}

	var out bytes.Buffer
	printQuorumStatus(&out, q)
	for _, want := range []string{"LeaderId:              2\n", "LeaderEpoch:           7\n", "HighWatermark:         100\n",
		"MaxFollowerLag:        10\n", "MaxFollowerLagTimeMs:  2000\n", "CurrentVoters:         [1,2,3]\n", "CurrentObservers:      [4,5]\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := printQuorumReplication(&out, q); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	wantLines := [][]string{
		{"NODE", "STATUS", "LOG-END-OFFSET", "LAG", "LAST-FETCH", "LAST-CAUGHT-UP", "ENDPOINTS"},
		{"2", "Leader", "105", "0", "0ms", "ago", "0ms", "ago", "-"},
		{"1", "Follower", "100", "0", "50ms", "ago", "50ms", "ago", "CONTROLLER://127.0.0.1:19192"},
		{"3", "Follower", "90", "10", "40ms", "ago", "2.0s", "ago", "-"},
		{"4", "Observer", "-1", "-", "-", "-", "-"},
		{"5", "Observer", "99", "1", "1.5s", "ago", "1.5s", "ago", "-"},
	}
	if len(lines) != len(wantLines) {
		t.Fatalf("replication table:\n%s", out.String())
	}
	for i, l := range lines {
		if got := strings.Fields(l); strings.Join(got, " ") != strings.Join(wantLines[i], " ") {
			t.Errorf("line %d: %q, want %q", i, got, wantLines[i])
		}
	}
}

// TestBuildQuorumV0: DescribeQuorum v0 has no timestamps, so the lag in
// time is unknown rather than zero.
func TestBuildQuorumV0(t *testing.T) {
	resp := quorumResponse(0, 1, 10, []kmsg.DescribeQuorumResponseTopicPartitionReplicaState{
		replicaState(1, 10, -1, -1), replicaState(2, 8, -1, -1),
	}, nil)
	q, err := buildQuorum(resp, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if q.MaxFollowerLag != 2 || q.MaxFollowerLagTimeMs != nil || q.Observers == nil {
		t.Errorf("%+v", q)
	}
	var out bytes.Buffer
	printQuorumStatus(&out, q)
	if !strings.Contains(out.String(), "MaxFollowerLagTimeMs:  -\n") || !strings.Contains(out.String(), "CurrentObservers:      []\n") {
		t.Errorf("status:\n%s", out.String())
	}
	// A lone voter has no follower to lag.
	q, err = buildQuorum(quorumResponse(1, 1, 3, []kmsg.DescribeQuorumResponseTopicPartitionReplicaState{replicaState(1, 3, 5, 5)}, nil), time.Now())
	if err != nil || q.MaxFollowerLag != 0 || q.MaxFollowerLagTimeMs == nil || *q.MaxFollowerLagTimeMs != 0 {
		t.Errorf("lone voter: %+v, %v", q, err)
	}
}

func TestBuildQuorumErrors(t *testing.T) {
	msg := "no controller answered"
	top := quorumResponse(2, 1, 1, nil, nil)
	top.ErrorCode, top.ErrorMessage = kerr.NotController.Code, &msg
	part := quorumResponse(2, 1, 1, nil, nil)
	part.Topics[0].Partitions[0].ErrorCode = kerr.UnknownTopicOrPartition.Code
	other := quorumResponse(2, 1, 1, nil, nil)
	other.Topics[0].Topic = "something-else"
	for _, tc := range []struct {
		resp *kmsg.DescribeQuorumResponse
		is   error
		want string
	}{
		{top, kerr.NotController, "no controller answered (NOT_CONTROLLER)"},
		{part, kerr.UnknownTopicOrPartition, "UNKNOWN_TOPIC_OR_PARTITION"},
		{other, errNoQuorumPartition, "lacks __cluster_metadata-0"},
	} {
		_, err := buildQuorum(tc.resp, time.Now())
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err %v, want %v with %q", err, tc.is, tc.want)
		}
	}
}

func TestAgeText(t *testing.T) {
	for ms, want := range map[int64]string{0: "0ms ago", 999: "999ms ago", 1000: "1.0s ago", 42_400: "42.4s ago", 192_000: "3m12s ago"} {
		if got := ageText(&ms); got != want {
			t.Errorf("%dms: %q, want %q", ms, got, want)
		}
	}
	if got := ageText(nil); got != "-" {
		t.Errorf("unknown age: %q", got)
	}
}

// clusterRun runs `sluice cluster ARGS -b addr`.
func clusterRun(t *testing.T, addr string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	root := newRoot(&app{stdout: &o, stderr: &e})
	root.SetArgs(append(append([]string{"cluster"}, args...), "-b", addr, "--timeout", "20s"))
	err = root.ExecuteContext(context.Background())
	return o.String(), e.String(), err
}

// TestClusterBrokers lists the one broker of a single-node cluster, as a
// table and as JSON.
func TestClusterBrokers(t *testing.T) {
	addr := grpStartBroker(t)
	out, errOut, err := clusterRun(t, addr, "brokers")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "ID HOST:PORT RACK STATE" ||
		strings.Join(strings.Fields(lines[1]), " ") != "1 "+addr+" - unfenced" || errOut != "" {
		t.Errorf("brokers:\n%s\nstderr: %s", out, errOut)
	}

	out, _, err = clusterRun(t, addr, "brokers", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got clusterBrokers
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.ClusterID == "" || got.ControllerID != 1 || !got.FencedShown || len(got.Brokers) != 1 ||
		got.Brokers[0].NodeID != 1 || got.Brokers[0].Fenced || got.Brokers[0].Rack != nil {
		t.Errorf("brokers --json: %s", out)
	}

	if _, _, err := clusterRun(t, "127.0.0.1:1", "brokers", "--timeout", "2s"); err == nil || !strings.Contains(err.Error(), "cannot reach a broker") {
		t.Errorf("no broker: %v", err)
	}
}

// TestDescribeClusterOlderBrokers: a broker that answers DescribeCluster
// below v2 cannot list fenced brokers, and one without DescribeCluster is
// asked for Metadata; both still list the broker, and say which answered.
func TestDescribeClusterOlderBrokers(t *testing.T) {
	addr := grpStartBroker(t)
	for _, tc := range []struct {
		max  int16 // DescribeCluster's max version; -1: the client does not know it
		want string
	}{
		{2, "DescribeCluster v2"},
		{1, "DescribeCluster v1"},
		{-1, "Metadata v"},
	} {
		vs := kversion.Stable()
		vs.SetMaxKeyVersion(60, tc.max)
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MaxVersions(vs))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		got, err := describeCluster(ctx, cl)
		cancel()
		cl.Close()
		if err != nil {
			t.Fatalf("max v%d: %v", tc.max, err)
		}
		if !strings.HasPrefix(got.via, tc.want) || got.FencedShown != (tc.max >= 2) ||
			len(got.Brokers) != 1 || got.Brokers[0].NodeID != 1 || got.ClusterID == "" {
			t.Errorf("max v%d: %+v, want an answer by %s", tc.max, got, tc.want)
		}
	}
}

// TestClusterQuorumSingleNode: a single node is a quorum of one voter, which
// leads.
func TestClusterQuorumSingleNode(t *testing.T) {
	addr := grpStartBroker(t)
	out, errOut, err := clusterRun(t, addr, "quorum", "--json")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, errOut)
	}
	var q quorumInfo
	if err := json.Unmarshal([]byte(out), &q); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if q.LeaderID != 1 || q.LeaderEpoch < 1 || q.HighWatermark < 1 || len(q.Voters) != 1 || len(q.Observers) != 0 {
		t.Fatalf("quorum --json:\n%s", out)
	}
	if v := q.Voters[0]; v.NodeID != 1 || v.Status != statusLeader || v.Lag == nil || *v.Lag != 0 || v.LogEndOffset < q.HighWatermark {
		t.Errorf("voter %+v", v)
	}

	out, _, err = clusterRun(t, addr, "quorum", "--status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "LeaderId:              1\n") || !strings.Contains(out, "CurrentVoters:         [1]\n") || strings.Contains(out, "NODE") {
		t.Errorf("quorum --status:\n%s", out)
	}
	out, _, err = clusterRun(t, addr, "quorum", "--replication")
	if err != nil {
		t.Fatal(err)
	}
	if rows := strings.Split(strings.TrimSpace(out), "\n"); len(rows) != 2 || strings.Fields(rows[1])[1] != statusLeader || strings.Contains(out, "LeaderId") {
		t.Errorf("quorum --replication:\n%s", out)
	}
	if _, _, err := clusterRun(t, addr, "quorum", "--bootstrap-controller", addr); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("--bootstrap-controller with --brokers: %v", err)
	}
}
