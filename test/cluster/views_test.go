package cluster

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/test/chaos"
)

// probeTimeout bounds one request to one node.
const probeTimeout = 3 * time.Second

// request sends req at version v to addr alone.
func request[R kmsg.Response](ctx context.Context, addr string, req kmsg.Request, v int16) (R, error) {
	var zero R
	req.SetVersion(v)
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	resp, err := chaos.RoundTrip(ctx, addr, req)
	if err != nil {
		return zero, fmt.Errorf("%s v%d to %s: %w", kmsg.NameForKey(req.Key()), v, addr, err)
	}
	return resp.(R), nil
}

// metaView is what one broker's Metadata answer says of the cluster.
type metaView struct {
	ClusterID    string
	ControllerID int32
	Brokers      []brokerInfo // by id
	Topics       map[string]topicInfo
}

type brokerInfo struct {
	ID   int32
	Addr string
	Rack string
}

type topicInfo struct {
	ID         [16]byte
	Internal   bool
	Partitions []partInfo // by partition
}

type partInfo struct {
	Partition      int32
	Leader         int32
	LeaderEpoch    int32
	Replicas, ISR  []int32
	OfflineReplica []int32
}

func (v metaView) brokerIDs() []int32 {
	var ids []int32
	for _, b := range v.Brokers {
		ids = append(ids, b.ID)
	}
	return ids
}

// metadataOf asks addr for Metadata v12 of every topic.
func metadataOf(ctx context.Context, addr string) (metaView, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = nil // v1+: null is every topic
	resp, err := request[*kmsg.MetadataResponse](ctx, addr, req, 12)
	if err != nil {
		return metaView{}, err
	}
	v := metaView{ControllerID: resp.ControllerID, Topics: map[string]topicInfo{}}
	if resp.ClusterID != nil {
		v.ClusterID = *resp.ClusterID
	}
	for _, b := range resp.Brokers {
		bi := brokerInfo{ID: b.NodeID, Addr: fmt.Sprintf("%s:%d", b.Host, b.Port)}
		if b.Rack != nil {
			bi.Rack = *b.Rack
		}
		v.Brokers = append(v.Brokers, bi)
	}
	slices.SortFunc(v.Brokers, func(a, b brokerInfo) int { return int(a.ID - b.ID) })
	for _, t := range resp.Topics {
		name := "<null>"
		if t.Topic != nil {
			name = *t.Topic
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return metaView{}, fmt.Errorf("metadata from %s: topic %s: %w", addr, name, err)
		}
		ti := topicInfo{ID: t.TopicID, Internal: t.IsInternal}
		for _, p := range t.Partitions {
			// A partition without a live leader answers LEADER_NOT_AVAILABLE; it is part
			// of the view, not a failure to get one.
			ti.Partitions = append(ti.Partitions, partInfo{
				Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
				Replicas: sorted(p.Replicas), ISR: sorted(p.ISR), OfflineReplica: sorted(p.OfflineReplicas),
			})
		}
		slices.SortFunc(ti.Partitions, func(a, b partInfo) int { return int(a.Partition - b.Partition) })
		v.Topics[name] = ti
	}
	return v, nil
}

// clusterView is what one broker's DescribeCluster v2 (fenced brokers included) says.
type clusterView struct {
	ClusterID    string
	ControllerID int32
	Fenced       map[int32]bool // every broker listed, fenced or not
}

func describeCluster(ctx context.Context, addr string, version int16, includeFenced bool) (clusterView, error) {
	req := kmsg.NewPtrDescribeClusterRequest()
	req.EndpointType = 1
	req.IncludeFencedBrokers = includeFenced
	resp, err := request[*kmsg.DescribeClusterResponse](ctx, addr, req, version)
	if err != nil {
		return clusterView{}, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return clusterView{}, fmt.Errorf("DescribeCluster from %s: %w", addr, err)
	}
	v := clusterView{ClusterID: resp.ClusterID, ControllerID: resp.ControllerID, Fenced: map[int32]bool{}}
	for _, b := range resp.Brokers {
		v.Fenced[b.NodeID] = b.IsFenced
	}
	return v, nil
}

// state is what every running node agreed on in one pass over them.
type state struct {
	quorum  chaos.Quorum
	meta    metaView    // ControllerID is the first broker's answer
	cluster clusterView // fenced brokers included
}

// agree asks every running node for DescribeQuorum, and every running broker for
// Metadata and DescribeCluster v2, and returns what they agree on, or an error saying
// where they differ or what is wrong with the answer. What they must agree on:
//   - the quorum: one running leader among the voters, the same epoch and high
//     watermark, voters exactly the cluster's controllers, the same observers, and
//     every running node following with a log end offset at the high watermark;
//   - the metadata: the cluster id, the brokers (exactly the running ones, at their
//     addresses), and every topic with its id and each partition's leader, epoch,
//     replicas and ISR;
//   - the controller: with combined nodes, Metadata's and DescribeCluster's controller
//     id is the quorum leader; with pure controllers, whom clients cannot reach, it is a
//     running broker, so that admin requests have somewhere to go;
//   - DescribeCluster v2 with fenced brokers: the running brokers unfenced, and any
//     stopped broker that is still listed fenced;
//   - no partition sends clients to a broker that is not running: its leader is a
//     running broker, or none (-1) when no replica in its ISR runs, and its offline
//     replicas are exactly those that do not run.
func (f *fixture) agree(ctx context.Context) (state, error) {
	var st state
	var controllers, running, runningBrokers []int32
	for _, n := range f.c.Nodes() {
		if n.IsController() {
			controllers = append(controllers, n.ID)
		}
		if n.State() == chaos.Running {
			running = append(running, n.ID)
			if n.IsBroker() {
				runningBrokers = append(runningBrokers, n.ID)
			}
		}
	}

	for i, n := range f.running() {
		q, err := chaos.ProbeQuorum(ctx, quorumAddr(n))
		if err != nil {
			return st, fmt.Errorf("node %d: %w", n.ID, err)
		}
		q.Voters, q.Observers = sorted(q.Voters), sorted(q.Observers)
		if i == 0 {
			st.quorum = q
			continue
		}
		a, b := st.quorum, q
		if a.LeaderID != b.LeaderID || a.LeaderEpoch != b.LeaderEpoch || a.HighWatermark != b.HighWatermark ||
			!slices.Equal(a.Voters, b.Voters) || !slices.Equal(a.Observers, b.Observers) {
			return st, fmt.Errorf("DescribeQuorum differs: node %d says %s, node %d says %s",
				f.running()[0].ID, quorumString(a), n.ID, quorumString(b))
		}
	}
	q := st.quorum
	if q.LeaderID < 0 {
		return st, fmt.Errorf("no quorum leader: %s", quorumString(q))
	}
	if !slices.Contains(running, q.LeaderID) {
		return st, fmt.Errorf("the quorum leader %d is not running: %s", q.LeaderID, quorumString(q))
	}
	if !slices.Equal(q.Voters, controllers) {
		return st, fmt.Errorf("voters %v, want the controllers %v", q.Voters, controllers)
	}
	for _, id := range running {
		if !slices.Contains(q.Voters, id) && !slices.Contains(q.Observers, id) {
			return st, fmt.Errorf("running node %d is neither a voter nor an observer: %s", id, quorumString(q))
		}
		if leo := q.LogEndOffset[id]; leo < q.HighWatermark {
			return st, fmt.Errorf("node %d lags: log end offset %d below the high watermark: %s", id, leo, quorumString(q))
		}
	}
	for _, id := range q.Observers {
		if slices.Contains(controllers, id) {
			return st, fmt.Errorf("controller %d listed as an observer: %s", id, quorumString(q))
		}
	}

	for i, n := range f.brokers() {
		v, err := metadataOf(ctx, n.Addr)
		if err != nil {
			return st, err
		}
		cv, err := describeCluster(ctx, n.Addr, 2, true)
		if err != nil {
			return st, err
		}
		if !f.split {
			if v.ControllerID != q.LeaderID || cv.ControllerID != q.LeaderID {
				return st, fmt.Errorf("node %d names controller %d in Metadata and %d in DescribeCluster; the quorum leader is %d",
					n.ID, v.ControllerID, cv.ControllerID, q.LeaderID)
			}
		} else if !slices.Contains(runningBrokers, v.ControllerID) || !slices.Contains(runningBrokers, cv.ControllerID) {
			return st, fmt.Errorf("node %d names controller %d in Metadata and %d in DescribeCluster, not a running broker %v (clients cannot reach the controllers)",
				n.ID, v.ControllerID, cv.ControllerID, runningBrokers)
		}
		if i == 0 {
			st.meta, st.cluster = v, cv
		} else {
			a, b := st.meta, v
			b.ControllerID = a.ControllerID // checked above, and may differ by design with pure controllers
			if !reflect.DeepEqual(a, b) {
				return st, fmt.Errorf("Metadata differs: node %d says %s; node %d says %s", f.brokers()[0].ID, a, n.ID, b)
			}
			c := cv
			c.ControllerID = st.cluster.ControllerID
			if !reflect.DeepEqual(st.cluster, c) {
				return st, fmt.Errorf("DescribeCluster v2 differs: node %d says %+v; node %d says %+v", f.brokers()[0].ID, st.cluster, n.ID, cv)
			}
		}
	}
	if len(runningBrokers) == 0 {
		return st, nil
	}
	if !slices.Equal(st.meta.brokerIDs(), runningBrokers) {
		return st, fmt.Errorf("Metadata lists brokers %v, want the running ones %v", st.meta.brokerIDs(), runningBrokers)
	}
	for _, b := range st.meta.Brokers {
		if want := f.c.Node(b.ID).Addr; b.Addr != want {
			return st, fmt.Errorf("broker %d listed at %s, want %s", b.ID, b.Addr, want)
		}
	}
	if st.meta.ClusterID == "" || st.meta.ClusterID != st.cluster.ClusterID {
		return st, fmt.Errorf("cluster id %q in Metadata, %q in DescribeCluster", st.meta.ClusterID, st.cluster.ClusterID)
	}
	for _, name := range sortedTopics(st) {
		for _, p := range st.meta.Topics[name].Partitions {
			var offline []int32
			for _, r := range p.Replicas {
				if !slices.Contains(runningBrokers, r) {
					offline = append(offline, r)
				}
			}
			switch {
			case p.Leader >= 0 && !slices.Contains(runningBrokers, p.Leader):
				return st, fmt.Errorf("%s-%d: leader %d is not a running broker %v", name, p.Partition, p.Leader, runningBrokers)
			case p.Leader < 0 && slices.ContainsFunc(p.ISR, func(r int32) bool { return slices.Contains(runningBrokers, r) }):
				return st, fmt.Errorf("%s-%d: no leader, though ISR %v has running brokers %v", name, p.Partition, p.ISR, runningBrokers)
			case !slices.Equal(p.OfflineReplica, offline):
				return st, fmt.Errorf("%s-%d: offline replicas %v, want %v (replicas %v, running brokers %v)", name, p.Partition, p.OfflineReplica, offline, p.Replicas, runningBrokers)
			}
		}
	}
	for _, n := range f.c.Nodes() {
		if !n.IsBroker() {
			continue
		}
		fenced, listed := st.cluster.Fenced[n.ID]
		switch {
		case n.State() == chaos.Running && (!listed || fenced):
			return st, fmt.Errorf("running broker %d: listed %v, fenced %v in DescribeCluster v2", n.ID, listed, fenced)
		case n.State() != chaos.Running && listed && !fenced:
			return st, fmt.Errorf("stopped broker %d is not fenced in DescribeCluster v2", n.ID)
		}
	}
	return st, nil
}

// waitAgree polls until the running nodes agree (see agree) and check, if given,
// accepts what they agree on, and returns it; it fails the test at the deadline with
// the last disagreement.
func (f *fixture) waitAgree(t interface {
	Helper()
	Fatalf(string, ...any)
}, ctx context.Context, what string, check func(state) error) state {
	t.Helper()
	var st state
	err := chaos.WaitFor(ctx, what, func(ctx context.Context) (bool, error) {
		s, err := f.agree(ctx)
		if err == nil && check != nil {
			err = check(s)
		}
		if err != nil {
			return false, err
		}
		st = s
		return true, nil
	})
	if err != nil {
		t.Fatalf("%v", err)
	}
	return st
}

func quorumString(q chaos.Quorum) string {
	return fmt.Sprintf("leader %d epoch %d hw %d voters %v observers %v log ends %v",
		q.LeaderID, q.LeaderEpoch, q.HighWatermark, q.Voters, q.Observers, q.LogEndOffset)
}

func (v metaView) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster %s controller %d brokers %v topics {", v.ClusterID, v.ControllerID, v.Brokers)
	for _, name := range slices.Sorted(maps.Keys(v.Topics)) {
		t := v.Topics[name]
		fmt.Fprintf(&b, " %s(%x):", name, t.ID[:4])
		for _, p := range t.Partitions {
			fmt.Fprintf(&b, " p%d leader %d epoch %d replicas %v isr %v;", p.Partition, p.Leader, p.LeaderEpoch, p.Replicas, p.ISR)
		}
	}
	b.WriteString(" }")
	return b.String()
}

func sorted(ids []int32) []int32 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// describeQuorum asks addr for DescribeQuorum of __cluster_metadata-0 at version v and
// checks the answer carries that partition without error.
func describeQuorum(ctx context.Context, addr string, v int16) (*kmsg.DescribeQuorumResponse, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	req.Topics = append(req.Topics, rt)
	resp, err := request[*kmsg.DescribeQuorumResponse](ctx, addr, req, v)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("DescribeQuorum v%d from %s: %w", v, addr, err)
	}
	if len(resp.Topics) != 1 || resp.Topics[0].Topic != "__cluster_metadata" || len(resp.Topics[0].Partitions) != 1 {
		return nil, fmt.Errorf("DescribeQuorum v%d from %s: topics %+v, want __cluster_metadata-0", v, addr, resp.Topics)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("DescribeQuorum v%d from %s: %w", v, addr, err)
	}
	return resp, nil
}
