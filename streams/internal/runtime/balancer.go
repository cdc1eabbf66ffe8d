package runtime

import (
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/streams/processor"
)

// protocolName is the group protocol every instance of a Sluice Streams
// application speaks.
const protocolName = "sluice-streams"

// taskBalancer assigns tasks, not partitions: every partition of a task's
// source topics goes to the same member, so a task's records and state
// stay together, as Kafka Streams' own assignor does. It is sticky: a task
// stays with the member that had it, or else goes to a member that has its
// state on disk, within an even share per member. The protocol is eager:
// every member gives up all its tasks in a rebalance, and keeps those it
// gets back without restoring them.
type taskBalancer struct {
	// subOf maps each source topic (full name) to its sub-topology.
	subOf map[string]int
	// topicsOf lists each sub-topology's source topics.
	topicsOf map[int][]string
	// localTasks lists the tasks with state on this instance's disk, and
	// prevTasks those it ran until this rebalance (an eager rebalance has
	// already revoked them, so the owned partitions are empty): both are
	// sent to the leader in the join metadata, as "prev|local".
	localTasks func() []processor.TaskID
	prevTasks  func() []processor.TaskID
	// host is this instance's application.server, sent as the third
	// field of the join metadata ("prev|local|host"); meta receives the
	// group's host -> tasks map from the leader's assignment.
	host string
	meta *hostMetadata
}

func joinIDs(ids []processor.TaskID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

var _ kgo.GroupBalancer = (*taskBalancer)(nil)

func (b *taskBalancer) ProtocolName() string { return protocolName }
func (b *taskBalancer) IsCooperative() bool  { return false }

func (b *taskBalancer) JoinGroupMetadata(interests []string, current map[string][]int32, _ int32) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 1
	meta.Topics = interests
	topics := make([]string, 0, len(current))
	for t := range current {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		owned := kmsg.NewConsumerMemberMetadataOwnedPartition()
		owned.Topic = t
		owned.Partitions = current[t]
		meta.OwnedPartitions = append(meta.OwnedPartitions, owned)
	}
	var prev, local []processor.TaskID
	if b.prevTasks != nil {
		prev = b.prevTasks()
	}
	if b.localTasks != nil {
		local = b.localTasks()
	}
	meta.UserData = []byte(joinIDs(prev) + "|" + joinIDs(local) + "|" + b.host)
	return meta.AppendTo(nil)
}

func (b *taskBalancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	return b.parseAssignment(assignment)
}

func (b *taskBalancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	cb, err := kgo.NewConsumerBalancer(b, members)
	if err != nil {
		return nil, nil, err
	}
	return cb, cb.MemberTopics(), nil
}

// Balance is run by the group leader.
func (b *taskBalancer) Balance(cb *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	type member struct {
		m     *kmsg.JoinGroupResponseMember
		owned map[processor.TaskID]bool
		local map[processor.TaskID]bool
		tasks []processor.TaskID
		host  string
	}
	var members []*member
	cb.EachMember(func(m *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		mb := &member{m: m, owned: make(map[processor.TaskID]bool), local: make(map[processor.TaskID]bool)}
		for _, op := range meta.OwnedPartitions {
			if sub, ok := b.subOf[op.Topic]; ok {
				for _, p := range op.Partitions {
					mb.owned[processor.TaskID{Subtopology: sub, Partition: p}] = true
				}
			}
		}
		fields := strings.SplitN(string(meta.UserData), "|", 3)
		prev, local := fields[0], ""
		if len(fields) > 1 {
			local = fields[1]
		}
		if len(fields) > 2 {
			mb.host = fields[2]
		}
		for _, s := range strings.Split(prev, ",") {
			if id, ok := parseTaskID(s); ok {
				mb.owned[id] = true
			}
		}
		for _, s := range strings.Split(local, ",") {
			if id, ok := parseTaskID(s); ok {
				mb.local[id] = true
			}
		}
		members = append(members, mb)
	})
	plan := cb.NewPlan()
	if len(members) == 0 {
		return plan
	}
	counts := make(map[int]int32, len(b.topicsOf))
	// The tasks of each sub-topology are spread evenly on their own, so
	// that stateful work does not all land on one member; within that,
	// a task stays with the member that ran it, else goes to one with its
	// state on disk, else to the member with the fewest tasks.
	subs := make([]int, 0, len(b.topicsOf))
	for sub := range b.topicsOf {
		subs = append(subs, sub)
	}
	sort.Ints(subs)
	for _, sub := range subs {
		var n int32
		for _, t := range b.topicsOf[sub] {
			n = max(n, topics[t])
		}
		counts[sub] = n
		var tasks []processor.TaskID
		for p := range n {
			tasks = append(tasks, processor.TaskID{Subtopology: sub, Partition: p})
		}
		share := (len(tasks) + len(members) - 1) / len(members)
		inSub := make(map[*member]int)
		assigned := make(map[processor.TaskID]bool)
		give := func(pick func(*member, processor.TaskID) bool) {
			for _, id := range tasks {
				if assigned[id] {
					continue
				}
				for _, mb := range members {
					if inSub[mb] < share && pick(mb, id) {
						mb.tasks = append(mb.tasks, id)
						inSub[mb]++
						assigned[id] = true
						break
					}
				}
			}
		}
		give(func(mb *member, id processor.TaskID) bool { return mb.owned[id] })
		give(func(mb *member, id processor.TaskID) bool { return mb.local[id] })
		for _, id := range tasks {
			if assigned[id] {
				continue
			}
			least := members[0]
			for _, mb := range members[1:] {
				if inSub[mb] < inSub[least] || (inSub[mb] == inSub[least] && len(mb.tasks) < len(least.tasks)) {
					least = mb
				}
			}
			least.tasks = append(least.tasks, id)
			inSub[least]++
			assigned[id] = true
		}
	}
	hosts := make(map[string][]processor.TaskID)
	for _, mb := range members {
		slices.SortFunc(mb.tasks, compareTaskIDs)
		if mb.host != "" {
			hosts[mb.host] = append(hosts[mb.host], mb.tasks...)
		}
		for _, id := range mb.tasks {
			for _, t := range b.topicsOf[id.Subtopology] {
				if id.Partition < topics[t] {
					plan.AddPartition(mb.m, t, id.Partition)
				}
			}
		}
	}
	return &syncPlan{plan: plan, info: encodeAssignmentInfo(hosts, counts)}
}

func compareTaskIDs(a, b processor.TaskID) int {
	if a.Subtopology != b.Subtopology {
		return a.Subtopology - b.Subtopology
	}
	return int(a.Partition - b.Partition)
}

// parseTaskID reads "sub_partition".
func parseTaskID(s string) (processor.TaskID, bool) {
	var id processor.TaskID
	i := strings.IndexByte(s, '_')
	if i <= 0 {
		return id, false
	}
	sub, err1 := atoi(s[:i])
	p, err2 := atoi(s[i+1:])
	if !err1 || !err2 {
		return id, false
	}
	return processor.TaskID{Subtopology: sub, Partition: int32(p)}, true
}

func atoi(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
