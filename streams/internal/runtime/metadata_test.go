package runtime

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/streams/processor"
)

// Every member learns from its own assignment which tasks each advertised
// application.server runs, and the task counts: the same map for all, and
// the one the plan carries out.
func TestAssignmentCarriesHostsOfAllMembers(t *testing.T) {
	newBalancer := func(host string) *taskBalancer {
		return &taskBalancer{
			subOf:    map[string]int{"in": 0, "app-rep": 1},
			topicsOf: map[int][]string{0: {"in"}, 1: {"app-rep"}},
			host:     host, meta: &hostMetadata{},
		}
	}
	ba, bb, bc := newBalancer("a.example:7001"), newBalancer("b.example:7002"), newBalancer("")
	members := []kmsg.JoinGroupResponseMember{member("a", ba, nil, nil), member("b", bb, nil, nil), member("c", bc, nil, nil)}
	mb, _, err := ba.MemberBalancer(members)
	if err != nil {
		t.Fatal(err)
	}
	into, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(map[string]int32{"in": 3, "app-rep": 3})
	if err != nil {
		t.Fatal(err)
	}
	plan := into.(*syncPlan).plan.AsMemberIDMap()
	tasksOf := func(member string) string {
		var ids []processor.TaskID
		for topic, ps := range plan[member] {
			for _, p := range ps {
				ids = append(ids, processor.TaskID{Subtopology: map[string]int{"in": 0, "app-rep": 1}[topic], Partition: p})
			}
		}
		return fmt.Sprint(sortedIDs(toSet(ids)))
	}
	byMember := map[string]*taskBalancer{"a": ba, "b": bb, "c": bc}
	for _, sa := range into.IntoSyncAssignment() {
		b := byMember[sa.MemberID]
		parts, err := b.ParseSyncAssignment(sa.MemberAssignment)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(parts) != fmt.Sprint(normalize(plan[sa.MemberID])) {
			t.Fatalf("member %s parsed %v, plan %v", sa.MemberID, parts, plan[sa.MemberID])
		}
		hosts, counts, known := b.meta.snapshot()
		if !known {
			t.Fatalf("member %s got no metadata", sa.MemberID)
		}
		if len(hosts) != 2 {
			t.Fatalf("member %s: hosts %v, want the two advertised ones", sa.MemberID, hosts)
		}
		if got, want := fmt.Sprint(hosts["a.example:7001"]), tasksOf("a"); got != want {
			t.Fatalf("member %s: a's tasks %s, plan %s", sa.MemberID, got, want)
		}
		if got, want := fmt.Sprint(hosts["b.example:7002"]), tasksOf("b"); got != want {
			t.Fatalf("member %s: b's tasks %s, plan %s", sa.MemberID, got, want)
		}
		if counts[0] != 3 || counts[1] != 3 {
			t.Fatalf("member %s: task counts %v, want 3 and 3", sa.MemberID, counts)
		}
	}
}

func toSet(ids []processor.TaskID) map[processor.TaskID]bool {
	m := make(map[processor.TaskID]bool)
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func normalize(m map[string][]int32) map[string][]int32 {
	out := make(map[string][]int32)
	for t, ps := range m {
		if len(ps) > 0 {
			out[t] = ps
		}
	}
	return out
}
