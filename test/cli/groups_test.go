package cli

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// describedConsumerGroup is `sluice groups describe` of a consumer-protocol
// group, read back from its three tables.
type describedConsumerGroup struct {
	assignor, state        string
	epoch, assignmentEpoch int
	members                map[string]describedMember // by member id
	offsets                map[int32][]string         // partition -> CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID
	stateRow               string
}

type describedMember struct {
	epoch              int
	assignment, target string
}

// parseConsumerDescribe reads the output of `groups describe GROUP` for a
// consumer group: the state table, the members table and the offsets
// table, separated by blank lines.
func parseConsumerDescribe(t *testing.T, group, out string) (describedConsumerGroup, bool) {
	t.Helper()
	sections := strings.Split(strings.TrimSpace(out), "\n\n")
	if len(sections) != 3 {
		return describedConsumerGroup{}, false
	}
	d := describedConsumerGroup{members: map[string]describedMember{}, offsets: map[int32][]string{}}
	state := lines(sections[0])
	if len(state) != 2 || !strings.Contains(state[0], "GROUP-EPOCH") {
		return d, false
	}
	// GROUP COORDINATOR (ID) ASSIGNOR STATE GROUP-EPOCH ASSIGNMENT-EPOCH #MEMBERS
	f := strings.Fields(state[1])
	if len(f) != 8 || f[0] != group {
		t.Fatalf("state row %q\n%s", state[1], out)
	}
	d.stateRow = state[1]
	d.assignor, d.state = f[3], f[4]
	d.epoch, _ = strconv.Atoi(f[5])
	d.assignmentEpoch, _ = strconv.Atoi(f[6])
	// GROUP CONSUMER-ID GROUP-INSTANCE-ID HOST CLIENT-ID MEMBER-EPOCH #PARTITIONS ASSIGNMENT TARGET-ASSIGNMENT
	members := lines(sections[1])
	if !strings.Contains(members[0], "MEMBER-EPOCH") {
		return d, false
	}
	for _, row := range members[1:] {
		f := strings.Fields(row)
		if len(f) != 9 || f[0] != group {
			t.Fatalf("member row %q\n%s", row, out)
		}
		epoch, _ := strconv.Atoi(f[5])
		d.members[f[1]] = describedMember{epoch: epoch, assignment: f[7], target: f[8]}
	}
	// GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
	for _, row := range lines(sections[2])[1:] {
		f := strings.Fields(row)
		if len(f) != 9 || f[0] != group {
			t.Fatalf("offset row %q\n%s", row, out)
		}
		p, _ := strconv.Atoi(f[2])
		d.offsets[int32(p)] = f[3:7]
	}
	return d, true
}

// TestGroupsDescribeConsumerProtocol runs franz-go consumers on the KIP-848
// protocol and checks what `sluice groups list` and `sluice groups describe`
// show of their group: its type, epochs and assignor, each member's epoch
// (as the client itself knows it) and current and target assignment, and
// the committed offsets and lag.
func TestGroupsDescribeConsumerProtocol(t *testing.T) {
	addr := startBroker(t)
	topic, group := topicName(t), "group-"+topicName(t)
	ok(t, addr, nil, "topics", "create", topic, "--partitions", "4")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	producer, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	produce := func(partition int32) {
		t.Helper()
		if err := producer.ProduceSync(ctx, &kgo.Record{Partition: partition, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	for i := range 8 {
		produce(int32(i % 4))
	}

	newConsumer := func(clientID string) *kgo.Client {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID(clientID),
			kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ServerSideBalancer(), kgo.Balancers(kgo.CooperativeStickyBalancer()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}

	// One consumer reads all 8 records and commits them.
	c1 := newConsumer("cli-848-one")
	for seen := 0; seen < 8; {
		fs := c1.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of 8: %v", seen, err)
		}
		seen += fs.NumRecords()
	}
	if err := c1.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}

	// describeUntil runs `groups describe` until cond holds of it.
	describeUntil := func(what string, cond func(d describedConsumerGroup) bool) describedConsumerGroup {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			r := run(t, addr, nil, "groups", "describe", group)
			if r.code == 0 {
				if d, parsed := parseConsumerDescribe(t, group, r.stdout); parsed && cond(d) {
					return d
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("groups describe never showed %s\n%s", what, r)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// settled: Stable, every member at the group epoch with its target,
	// and each client at the epoch the group shows for it.
	settled := func(clients ...*kgo.Client) func(d describedConsumerGroup) bool {
		return func(d describedConsumerGroup) bool {
			if d.state != "Stable" || len(d.members) != len(clients) {
				return false
			}
			for _, cl := range clients {
				id, epoch := cl.GroupMetadata()
				m, found := d.members[id]
				if !found || m.epoch != d.epoch || int(epoch) != m.epoch || m.assignment != m.target {
					return false
				}
			}
			return true
		}
	}

	one := describeUntil("one settled member", settled(c1))
	id1, _ := c1.GroupMetadata()
	if one.assignor != "uniform" || one.epoch < 1 || one.assignmentEpoch != one.epoch {
		t.Errorf("state row %q: want assignor uniform (franz-go's cooperative-sticky), epochs >= 1 and equal", one.stateRow)
	}
	if got := one.members[id1].assignment; got != topic+"(0,1,2,3)" {
		t.Errorf("the only member's assignment %q, want %s(0,1,2,3)", got, topic)
	}
	for p := range int32(4) {
		// CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID
		if o := one.offsets[p]; !slices.Equal(o, []string{"2", "2", "0", id1}) {
			t.Errorf("partition %d: offsets %v, want committed 2, end 2, lag 0, owned by %s", p, o, id1)
		}
	}

	// A second consumer: the group epoch moves, partitions are handed over,
	// and both end at the new epoch with two partitions each.
	c2 := newConsumer("cli-848-two")
	go func() {
		for ctx.Err() == nil {
			if c2.PollFetches(ctx).IsClientClosed() {
				return
			}
		}
	}()
	two := describeUntil("two settled members", settled(c1, c2))
	if two.epoch <= one.epoch {
		t.Errorf("group epoch %d after a second member joined, want above %d", two.epoch, one.epoch)
	}
	owners := map[int32]string{}
	for id, m := range two.members {
		ps := strings.TrimSuffix(strings.TrimPrefix(m.assignment, topic+"("), ")")
		parts := strings.Split(ps, ",")
		if len(parts) != 2 {
			t.Errorf("member %s: assignment %q, want 2 partitions of %s", id, m.assignment, topic)
		}
		for _, p := range parts {
			n, _ := strconv.Atoi(p)
			if prev, dup := owners[int32(n)]; dup {
				t.Errorf("partition %d assigned to %s and %s", n, prev, id)
			}
			owners[int32(n)] = id
		}
	}
	if len(owners) != 4 {
		t.Errorf("partitions owned: %v, want all 4", owners)
	}
	produce(0)
	final := describeUntil("lag 1 on partition 0", func(d describedConsumerGroup) bool {
		o := d.offsets[0]
		return len(o) == 4 && o[1] == "3"
	})
	if o := final.offsets[0]; o[0] != "2" || o[2] != "1" || o[3] != owners[0] {
		t.Errorf("partition 0 after one more record: %v, want committed 2, lag 1, owner %s", o, owners[0])
	}

	// --state and --members alone.
	r := ok(t, addr, nil, "groups", "describe", group, "--state")
	if l := lines(r.stdout); len(l) != 2 || !strings.Contains(l[0], "ASSIGNMENT-EPOCH") || !strings.Contains(l[1], "Stable") {
		t.Errorf("describe --state:\n%s", r.stdout)
	}
	r = ok(t, addr, nil, "groups", "describe", group, "--members")
	if l := lines(r.stdout); len(l) != 3 || !strings.Contains(l[0], "TARGET-ASSIGNMENT") {
		t.Errorf("describe --members:\n%s", r.stdout)
	}

	// list shows the group's type, and filters by it.
	listed := func(args ...string) []string {
		t.Helper()
		r := ok(t, addr, nil, append([]string{"groups", "list"}, args...)...)
		for _, l := range lines(r.stdout) {
			if f := strings.Fields(l); len(f) > 0 && f[0] == group {
				return f
			}
		}
		return nil
	}
	// GROUP STATE PROTOCOL-TYPE TYPE
	if f := listed(); !slices.Equal(f, []string{group, "Stable", "consumer", "consumer"}) {
		t.Errorf("groups list: row %v, want %s Stable consumer consumer", f, group)
	}
	if f := listed("--type", "consumer"); f == nil {
		t.Errorf("groups list --type consumer leaves the group out")
	}
	if f := listed("--type", "classic"); f != nil {
		t.Errorf("groups list --type classic lists a consumer group: %v", f)
	}
}
