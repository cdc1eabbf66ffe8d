package runtime

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/streams/processor"
)

// Keys land where Kafka's default partitioner puts them, so a Java
// application and this library agree: compared with franz-go's
// Kafka-compatible sticky-key partitioner.
func TestPartitionerMatchesKafkasDefault(t *testing.T) {
	ref := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	ours := partitioner{}.ForTopic("t")
	for i := range 2000 {
		key := []byte(fmt.Sprintf("key-%d-%s", i, string(make([]byte, i%7))))
		for _, n := range []int{1, 3, 4, 16} {
			r := &kgo.Record{Key: key}
			if got, want := ours.Partition(r, n), ref.Partition(r, n); got != want {
				t.Fatalf("key %q over %d partitions: %d, Kafka's partitioner says %d", key, n, got, want)
			}
		}
	}
	r := &kgo.Record{Key: []byte("x"), Partition: 2, Context: manualCtx}
	if got := ours.Partition(r, 4); got != 2 {
		t.Fatalf("a record with a chosen partition went to %d", got)
	}
}

func member(id string, t *taskBalancer, owned map[string][]int32, local []processor.TaskID) kmsg.JoinGroupResponseMember {
	t.localTasks = func() []processor.TaskID { return local }
	m := kmsg.NewJoinGroupResponseMember()
	m.MemberID = id
	m.ProtocolMetadata = t.JoinGroupMetadata([]string{"in", "app-rep"}, owned, 1)
	return m
}

func assignment(t *testing.T, b *taskBalancer, members []kmsg.JoinGroupResponseMember) map[string]map[string][]int32 {
	t.Helper()
	mb, _, err := b.MemberBalancer(members)
	if err != nil {
		t.Fatal(err)
	}
	into, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(map[string]int32{"in": 3, "app-rep": 3})
	if err != nil {
		t.Fatal(err)
	}
	return into.(*syncPlan).plan.AsMemberIDMap()
}

func TestBalancerAssignsWholeTasksEvenlyAndSticks(t *testing.T) {
	b := &taskBalancer{
		subOf:    map[string]int{"in": 0, "app-rep": 1},
		topicsOf: map[int][]string{0: {"in"}, 1: {"app-rep"}},
	}
	// Fresh group of two: 6 tasks, 3 each.
	got := assignment(t, b, []kmsg.JoinGroupResponseMember{member("a", b, nil, nil), member("b", b, nil, nil)})
	for m, a := range got {
		n := 0
		for _, ps := range a {
			n += len(ps)
		}
		if n != 3 {
			t.Fatalf("member %s got %d tasks: %v", m, n, got)
		}
	}
	// Stickiness: each keeps what it ran (a through its owned partitions,
	// b through the previous tasks an eager member reports after its
	// revocation); a third member with local state for task 1_2 gets it.
	a := map[string][]int32{"in": {0, 2}, "app-rep": {1}}
	b.prevTasks = func() []processor.TaskID {
		return []processor.TaskID{{Subtopology: 0, Partition: 1}, {Subtopology: 1, Partition: 0}, {Subtopology: 1, Partition: 2}}
	}
	mb := member("b", b, nil, nil)
	b.prevTasks = nil
	got = assignment(t, b, []kmsg.JoinGroupResponseMember{
		member("a", b, a, nil), mb,
		member("c", b, nil, []processor.TaskID{{Subtopology: 1, Partition: 2}}),
	})
	want := map[string]map[string][]int32{
		"a": {"in": {0}, "app-rep": {1}},
		"b": {"in": {1}, "app-rep": {0}},
		"c": {"in": {2}, "app-rep": {2}},
	}
	// Each sub-topology's 3 tasks are spread one per member: a and b keep
	// one of each that they ran, c gets 1_2 (its local state) and the
	// input task left over.
	if !equalAssign(got, want) {
		t.Fatalf("sticky assignment %v, want %v", got, want)
	}
}

func equalAssign(a, b map[string]map[string][]int32) bool {
	norm := func(m map[string]map[string][]int32) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			clean := map[string][]int32{}
			for t, ps := range v {
				if len(ps) > 0 {
					clean[t] = ps
				}
			}
			out[k] = fmt.Sprint(clean)
		}
		return out
	}
	return maps.Equal(norm(a), norm(b))
}

func TestCheckpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if m, err := readCheckpoint(dir); err != nil || m != nil {
		t.Fatalf("missing checkpoint read as %v, %v", m, err)
	}
	want := map[string]int64{"app-a-changelog": 42, "app-b-changelog": 0}
	if err := writeCheckpoint(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := readCheckpoint(dir)
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("checkpoint read back %v, %v", got, err)
	}
}

func TestConfigFromProperties(t *testing.T) {
	c, err := ConfigFromProperties(map[string]string{
		"application.id": "wc", "bootstrap.servers": "a:9092, b:9092", "commit.interval.ms": "250",
		"statestore.cache.max.bytes": "0", "processing.guarantee": "at_least_once",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.setDefaults(); err != nil {
		t.Fatal(err)
	}
	if c.ApplicationID != "wc" || len(c.Brokers) != 2 || c.Brokers[1] != "b:9092" ||
		c.CommitInterval != 250*time.Millisecond || c.CacheMaxBytes != 0 {
		t.Fatalf("config %+v", c)
	}
	if _, err := ConfigFromProperties(map[string]string{"aplication.id": "x"}); err == nil {
		t.Fatal("a misspelt property was accepted")
	}
}
