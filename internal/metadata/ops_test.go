package metadata

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func ptr(s string) *string { return &s }

func TestCreateTopicErrors(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	registerBroker(t, s, 2)
	ctx := context.Background()
	existing, err := s.CreateTopic(ctx, TopicSpec{Name: "exists", Partitions: 1, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTopic(ctx, TopicSpec{Name: "a.b", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		spec TopicSpec
		want *kerr.Error
	}{
		{"exists", TopicSpec{Name: "exists", Partitions: 1, ReplicationFactor: 1}, kerr.TopicAlreadyExists},
		{"exists is checked before the counts", TopicSpec{Name: "exists", Partitions: 0, ReplicationFactor: 0}, kerr.TopicAlreadyExists},
		{"empty name", TopicSpec{Name: "", Partitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"dot", TopicSpec{Name: ".", Partitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"dot dot", TopicSpec{Name: "..", Partitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"250 chars", TopicSpec{Name: strings.Repeat("x", 250), Partitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"space", TopicSpec{Name: "a b", Partitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"slash", TopicSpec{Name: "a/b", Partitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"non-ASCII", TopicSpec{Name: "café", Partitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"collides with a.b", TopicSpec{Name: "a_b", Partitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"zero partitions", TopicSpec{Name: "p0", Partitions: 0, ReplicationFactor: 1}, kerr.InvalidPartitions},
		{"negative partitions", TopicSpec{Name: "pn", Partitions: -1, ReplicationFactor: 1}, kerr.InvalidPartitions},
		{"too many partitions", TopicSpec{Name: "pbig", Partitions: MaxPartitionsPerRequest + 1, ReplicationFactor: 1}, kerr.InvalidPartitions},
		{"zero replication factor", TopicSpec{Name: "r0", Partitions: 1, ReplicationFactor: 0}, kerr.InvalidReplicationFactor},
		{"more replicas than brokers", TopicSpec{Name: "r3", Partitions: 1, ReplicationFactor: 3}, kerr.InvalidReplicationFactor},
		{"assignment to unknown broker", TopicSpec{Name: "m1", Assignments: [][]int32{{7}}}, kerr.InvalidReplicaAssignment},
		{"assignment with a broker twice", TopicSpec{Name: "m2", Assignments: [][]int32{{1, 1}}}, kerr.InvalidReplicaAssignment},
		{"empty assignment", TopicSpec{Name: "m3", Assignments: [][]int32{{}}}, kerr.InvalidReplicaAssignment},
		{"assignments of different lengths", TopicSpec{Name: "m4", Assignments: [][]int32{{1, 2}, {1}}}, kerr.InvalidReplicaAssignment},
		{"assignment and partition count disagree", TopicSpec{Name: "m5", Partitions: 3, Assignments: [][]int32{{1}}}, kerr.InvalidRequest},
		{"assignment and replication factor disagree", TopicSpec{Name: "m6", ReplicationFactor: 2, Assignments: [][]int32{{1}}}, kerr.InvalidRequest},
		{"topic id in use", TopicSpec{Name: "dup-id", ID: existing.ID, Partitions: 1, ReplicationFactor: 1}, kerr.TopicAlreadyExists},
		{"empty config name", TopicSpec{Name: "c1", Partitions: 1, ReplicationFactor: 1, Configs: map[string]string{"": "x"}}, kerr.InvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Image()
			for _, validateOnly := range []bool{true, false} {
				spec := tc.spec
				spec.ValidateOnly = validateOnly
				_, err := s.CreateTopic(ctx, spec)
				if !errors.Is(err, tc.want) {
					t.Fatalf("CreateTopic(validateOnly=%v): %v, want %s", validateOnly, err, tc.want.Message)
				}
				code, msg := KafkaError(err)
				if code != tc.want || msg == "" {
					t.Fatalf("KafkaError: %v %q", code, msg)
				}
			}
			if s.Image() != before {
				t.Fatal("a rejected CreateTopic changed the image")
			}
		})
	}
}

func TestCreateTopic(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	registerBroker(t, s, 2)
	registerBroker(t, s, 3)
	ctx := context.Background()

	long := strings.Repeat("x", MaxTopicNameLength)
	for _, name := range []string{long, "a-b_c.D9", "..."} {
		if _, err := s.CreateTopic(ctx, TopicSpec{Name: name, Partitions: 1, ReplicationFactor: 1}); err != nil {
			t.Errorf("CreateTopic(%q): %v", name, err)
		}
	}

	// Validate-only answers with the topic it would create, and creates nothing.
	v, err := s.CreateTopic(ctx, TopicSpec{Name: "dry", Partitions: 4, ReplicationFactor: 3, ValidateOnly: true})
	if err != nil || v == nil || len(v.Partitions) != 4 {
		t.Fatalf("validate-only: %+v, %v", v, err)
	}
	if s.Image().Topic("dry") != nil {
		t.Fatal("validate-only created the topic")
	}

	tp, err := s.CreateTopic(ctx, TopicSpec{Name: "spread", Partitions: 6, ReplicationFactor: 3})
	if err != nil {
		t.Fatal(err)
	}
	leaders := map[int32]int{}
	for i, p := range tp.Partitions {
		if p.Index != int32(i) || len(p.Replicas) != 3 || p.Leader != p.Replicas[0] ||
			fmt.Sprint(p.ISR) != fmt.Sprint(p.Replicas[:1]) || p.LeaderEpoch != 0 || p.PartitionEpoch != 0 {
			t.Errorf("partition %d: %+v", i, p)
		}
		leaders[p.Leader]++
	}
	if len(leaders) != 3 || leaders[1] != 2 || leaders[2] != 2 || leaders[3] != 2 {
		t.Errorf("leaders of 6 partitions over 3 brokers: %v, want 2 each", leaders)
	}
	if tp.ReplicationFactor() != 3 {
		t.Errorf("ReplicationFactor() = %d", tp.ReplicationFactor())
	}

	// An explicit id and an explicit assignment are used as given.
	id := NewUUID()
	m, err := s.CreateTopic(ctx, TopicSpec{Name: "manual", ID: id, Assignments: [][]int32{{3, 1}, {2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != id || fmt.Sprint(m.Partitions[0].Replicas, m.Partitions[1].Replicas) != "[3 1] [2 3]" || m.Partitions[1].Leader != 2 {
		t.Fatalf("manual topic: %+v", m)
	}
	if got := s.Image().TopicByID(id); got == nil || got.Name != "manual" {
		t.Fatalf("TopicByID: %+v", got)
	}
}

// TestCreateTopicRace creates one name from many goroutines: exactly one wins, the others
// get TOPIC_ALREADY_EXISTS.
func TestCreateTopicRace(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.CreateTopic(context.Background(), TopicSpec{Name: "race", Partitions: 2, ReplicationFactor: 1})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, kerr.TopicAlreadyExists):
			t.Errorf("loser got %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creates of one topic succeeded", won)
	}
}

func TestDeleteTopic(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	ctx := context.Background()
	a, err := s.CreateTopic(ctx, TopicSpec{Name: "a.x", Partitions: 2, ReplicationFactor: 1, Configs: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTopic(ctx, TopicSpec{Name: "b", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTopic(ctx, NewUUID()); !errors.Is(err, kerr.UnknownTopicID) {
		t.Fatalf("delete unknown id: %v", err)
	}
	if err := s.DeleteTopicByName(ctx, "nope"); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("delete unknown name: %v", err)
	}
	if err := s.DeleteTopic(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	img := s.Image()
	if img.Topic("a.x") != nil || img.TopicByID(a.ID) != nil || img.Topic("b") == nil {
		t.Fatalf("after delete: topics %v", img.TopicNames())
	}
	if err := s.DeleteTopic(ctx, a.ID); !errors.Is(err, kerr.UnknownTopicID) {
		t.Fatalf("second delete: %v", err)
	}
	// The name, and its '.'/'_' twin, are free again; the new topic has a new id and none
	// of the old configs.
	a2, err := s.CreateTopic(ctx, TopicSpec{Name: "a_x", Partitions: 1, ReplicationFactor: 1})
	if err != nil {
		t.Fatalf("create a_x after deleting a.x: %v", err)
	}
	if err := s.DeleteTopicByName(ctx, "a_x"); err != nil {
		t.Fatal(err)
	}
	a3, err := s.CreateTopic(ctx, TopicSpec{Name: "a.x", Partitions: 1, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	if a3.ID == a.ID || a3.ID == a2.ID || len(a3.Configs) != 0 {
		t.Fatalf("recreated topic %+v reuses the old id or configs", a3)
	}
}

func TestCreatePartitions(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	registerBroker(t, s, 2)
	ctx := context.Background()
	if _, err := s.CreateTopic(ctx, TopicSpec{Name: "grow", Partitions: 2, ReplicationFactor: 2}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		topic string
		total int32
		want  *kerr.Error
	}{
		{"nope", 3, kerr.UnknownTopicOrPartition},
		{"grow", 1, kerr.InvalidPartitions},
		{"grow", 2, kerr.InvalidPartitions},
		{"grow", 2 + MaxPartitionsPerRequest + 1, kerr.InvalidPartitions},
	} {
		if err := s.CreatePartitions(ctx, tc.topic, tc.total); !errors.Is(err, tc.want) {
			t.Errorf("CreatePartitions(%s, %d): %v, want %s", tc.topic, tc.total, err, tc.want.Message)
		}
	}
	before := s.Image().Topic("grow")
	if err := s.CreatePartitions(ctx, "grow", 5); err != nil {
		t.Fatal(err)
	}
	after := s.Image().Topic("grow")
	if len(after.Partitions) != 5 || after.ID != before.ID {
		t.Fatalf("after growing: %+v", after)
	}
	for i, p := range after.Partitions {
		if p.Index != int32(i) || len(p.Replicas) != 2 || p.Replicas[0] == p.Replicas[1] {
			t.Errorf("partition %+v", p)
		}
		if i < 2 && fmt.Sprint(p) != fmt.Sprint(before.Partitions[i]) {
			t.Errorf("existing partition %d changed: %+v -> %+v", i, before.Partitions[i], p)
		}
	}
	if len(before.Partitions) != 2 {
		t.Fatal("growing changed the older image's topic")
	}
}

func TestConfigs(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	ctx := context.Background()
	if _, err := s.CreateTopic(ctx, TopicSpec{Name: "c", Partitions: 1, ReplicationFactor: 1,
		Configs: map[string]string{"retention.ms": "1", "cleanup.policy": "compact"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTopicConfigs(ctx, "c", map[string]*string{"retention.ms": ptr("2"), "cleanup.policy": nil, "segment.bytes": ptr("1024")}); err != nil {
		t.Fatal(err)
	}
	got := s.Image().Topic("c").Configs
	if fmt.Sprint(got) != "map[retention.ms:2 segment.bytes:1024]" {
		t.Fatalf("topic configs %v", got)
	}
	if err := s.SetTopicConfigs(ctx, "nope", map[string]*string{"a": ptr("b")}); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("configs of unknown topic: %v", err)
	}
	if err := s.SetTopicConfigs(ctx, "c", map[string]*string{"": ptr("b")}); !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("empty config name: %v", err)
	}
	if err := s.SetBrokerConfigs(ctx, map[string]*string{"log.retention.ms": ptr("5"), "x": ptr("y")}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBrokerConfigs(ctx, map[string]*string{"x": nil}); err != nil {
		t.Fatal(err)
	}
	if got := s.Image().BrokerConfigs; fmt.Sprint(got) != "map[log.retention.ms:5]" {
		t.Fatalf("broker configs %v", got)
	}
}

// TestNodeConfigs checks per-broker dynamic configs: set and delete per node, kept apart
// from the cluster-wide ones and from other nodes, a node's entry gone with its last
// config, and resource names that are not node ids refused.
func TestNodeConfigs(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	ctx := context.Background()
	if err := s.SetBrokerConfigs(ctx, map[string]*string{"message.max.bytes": ptr("1000")}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNodeConfigs(ctx, 1, map[string]*string{"message.max.bytes": ptr("500"), "x": ptr("y")}); err != nil {
		t.Fatal(err)
	}
	// A node not registered (yet) may hold configs, as in Kafka.
	if err := s.SetNodeConfigs(ctx, 7, map[string]*string{"x": ptr("z")}); err != nil {
		t.Fatal(err)
	}
	img := s.Image()
	if got := fmt.Sprint(img.NodeConfigs); got != "map[1:map[message.max.bytes:500 x:y] 7:map[x:z]]" {
		t.Fatalf("node configs %s", got)
	}
	if got := fmt.Sprint(img.BrokerConfigs); got != "map[message.max.bytes:1000]" {
		t.Fatalf("cluster-wide broker configs %s", got)
	}
	if err := s.SetNodeConfigs(ctx, 1, map[string]*string{"x": nil}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNodeConfigs(ctx, 7, map[string]*string{"x": nil}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(s.Image().NodeConfigs); got != "map[1:map[message.max.bytes:500]]" {
		t.Fatalf("node configs after deletes %s", got)
	}
	if err := s.SetNodeConfigs(ctx, -1, map[string]*string{"x": ptr("y")}); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("SetNodeConfigs(-1): %v, want INVALID_REQUEST", err)
	}
	if err := s.SetNodeConfigs(ctx, 1, map[string]*string{"": ptr("y")}); !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("empty config name: %v, want INVALID_CONFIG", err)
	}
	for _, name := range []string{"x", "-1", "1.5", "99999999999", " 1"} {
		rec := &ConfigRecord{ResourceType: ConfigResourceBroker, ResourceName: name, Name: "k", Value: ptr("v")}
		if _, err := s.propose(ctx, []Record{rec}); !errors.Is(err, kerr.InvalidRequest) {
			t.Errorf("broker resource %q: %v, want INVALID_REQUEST", name, err)
		}
	}
	if got := fmt.Sprint(s.Image().NodeConfigs); got != "map[1:map[message.max.bytes:500]]" {
		t.Fatalf("node configs after refused records %s", got)
	}
}

func TestAllocateProducerIDs(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	s := openWithBroker(t, cfg)
	ctx := context.Background()
	for _, n := range []int64{0, -1} {
		if _, err := s.AllocateProducerIDs(ctx, n); !errors.Is(err, kerr.InvalidRequest) {
			t.Errorf("AllocateProducerIDs(%d): %v", n, err)
		}
	}
	var wg sync.WaitGroup
	firsts := make([]int64, 10)
	for i := range firsts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if firsts[i], err = s.AllocateProducerIDs(ctx, ProducerIDBlockSize); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, f := range firsts {
		if f%ProducerIDBlockSize != 0 || f < 0 || f >= 10*ProducerIDBlockSize || seen[f] {
			t.Fatalf("blocks start at %v: want 10 distinct multiples of %d below %d", firsts, ProducerIDBlockSize, 10*ProducerIDBlockSize)
		}
		seen[f] = true
	}
	s.Close()
	s = openStore(t, cfg)
	defer s.Close()
	if f, err := s.AllocateProducerIDs(ctx, 1); err != nil || f != 10*ProducerIDBlockSize {
		t.Fatalf("after reopen: first %d, %v; want %d", f, err, 10*ProducerIDBlockSize)
	}
}

func TestBrokers(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	ctx := context.Background()
	b := s.Image().Brokers[1]
	if b == nil || b.Fenced || b.Epoch <= 0 || len(b.Endpoints) != 1 || b.Endpoints[0].Port != 9092 {
		t.Fatalf("registered broker %+v", b)
	}
	rack := "r1"
	if err := s.RegisterBroker(ctx, BrokerRegistration{NodeID: 1, Rack: &rack,
		Endpoints: []Endpoint{{Listener: "A", Port: 1}, {Listener: "B", Port: 2}}}); err != nil {
		t.Fatal(err)
	}
	b2 := s.Image().Brokers[1]
	if b2.Epoch <= b.Epoch || *b2.Rack != "r1" || len(b2.Endpoints) != 2 {
		t.Fatalf("re-registered broker %+v (before %+v)", b2, b)
	}
	for _, bad := range []BrokerRegistration{
		{NodeID: -1},
		{NodeID: 2, Endpoints: []Endpoint{{Listener: "A"}, {Listener: "A"}}},
		{NodeID: 2, Endpoints: []Endpoint{{Listener: ""}}},
		{NodeID: 2, Endpoints: []Endpoint{{Listener: "A", Port: 70000}}},
	} {
		if err := s.RegisterBroker(ctx, bad); !errors.Is(err, kerr.InvalidRequest) {
			t.Errorf("RegisterBroker(%+v): %v", bad, err)
		}
	}
	if err := s.SetBrokerFenced(ctx, 9, true); !errors.Is(err, kerr.BrokerIDNotRegistered) {
		t.Fatalf("fence unknown broker: %v", err)
	}
	if err := s.SetBrokerFenced(ctx, 1, true); err != nil {
		t.Fatal(err)
	}
	if !s.Image().Brokers[1].Fenced || len(s.Image().UnfencedBrokers()) != 0 {
		t.Fatal("broker 1 not fenced")
	}
	// No unfenced broker: nothing can be placed.
	if _, err := s.CreateTopic(ctx, TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 1}); !errors.Is(err, kerr.InvalidReplicationFactor) {
		t.Fatalf("create with every broker fenced: %v", err)
	}
}

// TestRejectedBatchIsAtomic proposes a batch whose last record is invalid: nothing of it
// applies, now or when the log is replayed on restart.
func TestRejectedBatchIsAtomic(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	s := openWithBroker(t, cfg)
	ctx := context.Background()
	id := NewUUID()
	_, err := s.propose(ctx, []Record{
		&TopicRecord{Name: "half", TopicID: id},
		newPartitionRecord(id, 0, []int32{1}),
		newPartitionRecord(id, 1, []int32{42}), // broker 42 is not registered
	})
	if !errors.Is(err, kerr.InvalidReplicaAssignment) {
		t.Fatalf("bad batch: %v", err)
	}
	if s.Image().Topic("half") != nil {
		t.Fatal("part of a rejected batch was applied")
	}
	// A topic with no partition is refused too.
	if _, err := s.propose(ctx, []Record{&TopicRecord{Name: "empty", TopicID: NewUUID()}}); !errors.Is(err, kerr.InvalidPartitions) {
		t.Fatalf("topic without partitions: %v", err)
	}
	// A snapshot header has no place in the log.
	if _, err := s.propose(ctx, []Record{&SnapshotHeaderRecord{}}); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("snapshot header in the log: %v", err)
	}
	if _, err := s.CreateTopic(ctx, TopicSpec{Name: "after", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, cfg)
	defer s.Close()
	if img := s.Image(); img.Topic("half") != nil || img.Topic("empty") != nil || img.Topic("after") == nil {
		t.Fatalf("after replay: topics %v", img.TopicNames())
	}
}

func TestClosedStore(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.CreateTopic(context.Background(), TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("CreateTopic on a closed store: %v", err)
	}
	if s.Image().Brokers[1] == nil {
		t.Fatal("Image of a closed store lost its content")
	}
}

func TestProposeHonoursContext(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.CreateTopic(ctx, TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 1}); !errors.Is(err, kerr.RequestTimedOut) {
		t.Fatalf("CreateTopic with a canceled context: %v", err)
	}
}
