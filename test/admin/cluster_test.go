package admin

import (
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDescribeCluster(t *testing.T) {
	n := startNode(t, "broker.rack=r1")
	_, adm := n.client(t)
	md, err := adm.BrokerMetadata(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	raw := dialRaw(t, n.addr)
	for v := int16(0); v <= 2; v++ {
		req := versioned(kmsg.NewPtrDescribeClusterRequest(), v)
		req.IncludeClusterAuthorizedOperations = true
		resp := raw.do(req).(*kmsg.DescribeClusterResponse)
		wantCode(t, "DescribeCluster", resp.ErrorCode, nil)
		if resp.ClusterID != md.Cluster || resp.ControllerID != md.Controller {
			t.Errorf("v%d: cluster %q controller %d, want %q and %d as Metadata says", v, resp.ClusterID, resp.ControllerID, md.Cluster, md.Controller)
		}
		if len(resp.Brokers) != 1 {
			t.Fatalf("v%d: %d brokers, want 1", v, len(resp.Brokers))
		}
		b := resp.Brokers[0]
		if b.NodeID != 1 || b.Host != md.Brokers[0].Host || b.Port != md.Brokers[0].Port || b.Rack == nil || *b.Rack != "r1" {
			t.Errorf("v%d: broker %+v, want node 1 at %s:%d in rack r1", v, b, md.Brokers[0].Host, md.Brokers[0].Port)
		}
		if resp.ClusterAuthorizedOperations == -2147483648 || resp.ClusterAuthorizedOperations == 0 {
			t.Errorf("v%d: no authorized operations although asked for", v)
		}
	}
	req := versioned(kmsg.NewPtrDescribeClusterRequest(), 1)
	req.EndpointType = 2 // controllers
	resp := raw.do(req).(*kmsg.DescribeClusterResponse)
	wantCode(t, "DescribeCluster for controllers", resp.ErrorCode, kerr.UnsupportedEndpointType)
}

func TestDescribeLogDirs(t *testing.T) {
	n := startNode(t)
	cl, adm := n.client(t)
	a, b := topicName(t), topicName(t)
	createTopic(t, adm, a, 2, nil)
	createTopic(t, adm, b, 1, nil)
	produce(t, cl, a, 1, 50, 100)

	all, err := adm.DescribeAllLogDirs(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	dirs := all[1]
	abs, _ := filepath.Abs(n.dir)
	d, ok := dirs[abs]
	if !ok || len(dirs) != 1 {
		t.Fatalf("log dirs %v, want exactly %s", dirs, abs)
	}
	wantErr(t, "log dir", d.Err, nil)
	if d.TotalBytes <= 0 || d.UsableBytes <= 0 || d.UsableBytes > d.TotalBytes {
		t.Errorf("total %d usable %d bytes: want 0 < usable <= total", d.TotalBytes, d.UsableBytes)
	}
	p1, ok := d.Topics.Lookup(a, 1)
	if !ok || p1.Size <= 0 {
		t.Errorf("%s-1: %+v, want the size of 50 records", a, p1)
	}
	p0, ok := d.Topics.Lookup(a, 0)
	if !ok || p0.Size != 0 {
		t.Errorf("%s-0: %+v, want an empty partition", a, p0)
	}
	if _, ok := d.Topics.Lookup(b, 0); !ok {
		t.Errorf("%s-0 missing", b)
	}

	// Only what is asked for.
	some, err := adm.DescribeAllLogDirs(ctxT(t), kadm.TopicsSet{a: {1: {}}})
	if err != nil {
		t.Fatal(err)
	}
	d = some[1][abs]
	if len(d.Topics) != 1 || len(d.Topics[a]) != 1 {
		t.Fatalf("filtered log dirs: %+v, want only %s-1", d.Topics, a)
	}
}

func TestDescribeTopicPartitions(t *testing.T) {
	n := startNode(t)
	_, adm := n.client(t)
	base := topicName(t)
	ta, tb, tc := base+"-a", base+"-b", base+"-c"
	createTopic(t, adm, ta, 3, nil)
	createTopic(t, adm, tb, 2, nil)
	createTopic(t, adm, tc, 1, nil)
	raw := dialRaw(t, n.addr)

	type page struct {
		parts  []string // topic:partition answered
		cursor string   // "" when none
	}
	describe := func(t *testing.T, limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor, topics ...string) (page, *kmsg.DescribeTopicPartitionsResponse) {
		t.Helper()
		req := kmsg.NewPtrDescribeTopicPartitionsRequest()
		req.ResponsePartitionLimit = limit
		req.Cursor = cursor
		for _, name := range topics {
			rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
			rt.Topic = name
			req.Topics = append(req.Topics, rt)
		}
		resp := raw.do(req).(*kmsg.DescribeTopicPartitionsResponse)
		var p page
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				p.parts = append(p.parts, shortName(*rt.Topic, base)+":"+itoa(rp.Partition))
				if rp.LeaderID != 1 || len(rp.Replicas) != 1 || len(rp.ISR) != 1 {
					t.Errorf("%s-%d: leader %d replicas %v isr %v", *rt.Topic, rp.Partition, rp.LeaderID, rp.Replicas, rp.ISR)
				}
			}
		}
		if resp.NextCursor != nil {
			p.cursor = shortName(resp.NextCursor.Topic, base) + ":" + itoa(resp.NextCursor.Partition)
		}
		return p, resp
	}
	eq := func(a, b []string) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}

	// Page through the three topics four partitions at a time.
	p, _ := describe(t, 4, nil, tc, ta, tb)
	if want := []string{"a:0", "a:1", "a:2", "b:0"}; !eq(p.parts, want) || p.cursor != "b:1" {
		t.Fatalf("first page %v cursor %q, want %v and b:1", p.parts, p.cursor, want)
	}
	p, _ = describe(t, 4, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: tb, Partition: 1}, tc, ta, tb)
	if want := []string{"b:1", "c:0"}; !eq(p.parts, want) || p.cursor != "" {
		t.Fatalf("second page %v cursor %q, want %v and none", p.parts, p.cursor, want)
	}
	// The limit falling at a topic's end points the cursor at the next topic.
	p, _ = describe(t, 3, nil, ta, tb)
	if want := []string{"a:0", "a:1", "a:2"}; !eq(p.parts, want) || p.cursor != "b:0" {
		t.Fatalf("page of 3: %v cursor %q, want %v and b:0", p.parts, p.cursor, want)
	}

	// Unknown and invalid topics are answered with errors.
	_, resp := describe(t, 100, nil, ta, base+"-missing", "bad/name")
	codes := map[string]int16{}
	for _, rt := range resp.Topics {
		codes[*rt.Topic] = rt.ErrorCode
	}
	wantCode(t, "existing topic", codes[ta], nil)
	wantCode(t, "missing topic", codes[base+"-missing"], kerr.UnknownTopicOrPartition)
	wantCode(t, "invalid topic", codes["bad/name"], kerr.InvalidTopicException)

	// A cursor on a topic not asked for is refused.
	_, resp = describe(t, 100, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: tc}, ta, tb)
	for _, rt := range resp.Topics {
		wantCode(t, "cursor outside the list", rt.ErrorCode, kerr.InvalidRequest)
	}

	// No topics named: every topic, from the cursor on.
	p, _ = describe(t, 2000, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: tb, Partition: 0})
	if want := []string{"b:0", "b:1", "c:0"}; !eq(p.parts, want) || p.cursor != "" {
		t.Fatalf("all topics from b: %v cursor %q, want %v", p.parts, p.cursor, want)
	}
}

func shortName(topic, base string) string {
	if len(topic) > len(base)+1 && topic[:len(base)] == base {
		return topic[len(base)+1:]
	}
	return topic
}

func itoa(i int32) string {
	return fmtInt(int64(i))
}
