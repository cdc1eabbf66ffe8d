package groups848

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/test/chaos"
)

// describeGroup asks the group's coordinator for its ConsumerGroupDescribe view. A
// classic group is an error (Kafka answers GROUP_ID_NOT_FOUND for it).
func describeGroup(ctx context.Context, adm *kadm.Client, group string) (kadm.DescribedConsumerGroup, error) {
	ds, err := adm.DescribeConsumerGroups(ctx, group)
	if err != nil {
		return kadm.DescribedConsumerGroup{}, fmt.Errorf("ConsumerGroupDescribe %s: %w", group, err)
	}
	d, ok := ds[group]
	if !ok {
		return d, fmt.Errorf("ConsumerGroupDescribe %s: group missing from the answer", group)
	}
	if d.Err != nil {
		return d, fmt.Errorf("ConsumerGroupDescribe %s: %w", group, d.Err)
	}
	return d, nil
}

// stableError says why a described group is not yet converged for members: "Stable",
// with the member ids of exactly those members, every member at the group epoch with
// its target assignment reached, that assignment being what the member's own callbacks
// say it owns, and every partition of the topic assigned once.
func stableError(d kadm.DescribedConsumerGroup, topic string, partitions int32, members []*member, owned map[int][]int32) error {
	if d.State != "Stable" {
		return fmt.Errorf("state %s (epoch %d, assignment epoch %d)", d.State, d.Epoch, d.AssignmentEpoch)
	}
	if d.Epoch != d.AssignmentEpoch {
		return fmt.Errorf("group epoch %d, assignment epoch %d", d.Epoch, d.AssignmentEpoch)
	}
	byID := map[string]*member{}
	for _, m := range members {
		id, _ := m.cl.GroupMetadata()
		byID[id] = m
	}
	if len(d.Members) != len(members) {
		return fmt.Errorf("%d members described, %d running", len(d.Members), len(members))
	}
	count := map[int32]int{}
	for _, dm := range d.Members {
		m := byID[dm.MemberID]
		if m == nil {
			return fmt.Errorf("described member %s is none of the running members", dm.MemberID)
		}
		if dm.MemberEpoch != d.Epoch {
			return fmt.Errorf("member %d at epoch %d, group at %d", m.id, dm.MemberEpoch, d.Epoch)
		}
		got := slices.Sorted(maps.Keys(dm.Assignment[topic]))
		want := slices.Sorted(maps.Keys(dm.TargetAssignment[topic]))
		if !slices.Equal(got, want) {
			return fmt.Errorf("member %d has %v of its target %v", m.id, got, want)
		}
		if !slices.Equal(got, owned[m.id]) {
			return fmt.Errorf("member %d is described with %v but its callbacks gave it %v", m.id, got, owned[m.id])
		}
		for _, p := range got {
			count[p]++
		}
	}
	for p := range partitions {
		if count[p] != 1 {
			return fmt.Errorf("partition %d assigned %d times", p, count[p])
		}
	}
	return nil
}

// balancedError says why the members' own view (their callbacks) is not yet that they,
// and no one else, own every partition once, as evenly as possible.
func balancedError(owned map[int][]int32, members []int, partitions int32) error {
	live := map[int]bool{}
	for _, id := range members {
		live[id] = true
	}
	owner := map[int32]int{}
	lo, hi := int(partitions)+1, -1
	for _, id := range slices.Sorted(maps.Keys(owned)) {
		ps := owned[id]
		if !live[id] {
			if len(ps) > 0 {
				return fmt.Errorf("member %d, gone, still owns %v", id, ps)
			}
			continue
		}
		for _, p := range ps {
			if o, dup := owner[p]; dup {
				return fmt.Errorf("partition %d owned by members %d and %d", p, o, id)
			}
			owner[p] = id
		}
	}
	for _, id := range members {
		lo, hi = min(lo, len(owned[id])), max(hi, len(owned[id]))
	}
	if len(owner) != int(partitions) {
		return fmt.Errorf("%d of %d partitions owned", len(owner), partitions)
	}
	if hi-lo > 1 {
		return fmt.Errorf("members own between %d and %d partitions", lo, hi)
	}
	return nil
}

// classicStableError says why a classic group is not yet Stable with exactly members.
func classicStableError(ctx context.Context, adm *kadm.Client, group string, members []*member) error {
	ds, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return err
	}
	d := ds[group]
	if d.Err != nil {
		return d.Err
	}
	if d.State != "Stable" {
		return fmt.Errorf("state %s", d.State)
	}
	described := map[string]bool{}
	for _, dm := range d.Members {
		described[dm.MemberID] = true
	}
	for _, m := range members {
		if id, _ := m.cl.GroupMetadata(); !described[id] {
			return fmt.Errorf("member %d (%s) not in the group", m.id, id)
		}
	}
	if len(d.Members) != len(members) {
		return fmt.Errorf("%d members described, %d running", len(d.Members), len(members))
	}
	return nil
}

func memberIDs(ms []*member) []int {
	ids := make([]int, len(ms))
	for i, m := range ms {
		ids[i] = m.id
	}
	return ids
}

// waitConverged waits until the group has converged on members, by their callbacks and
// by ConsumerGroupDescribe, and returns when it saw that.
func waitConverged(t testing.TB, adm *kadm.Client, h *history, group string, partitions int32, members []*member, within time.Duration) time.Time {
	t.Helper()
	return waitConvergedOr(t, adm, h, group, partitions, members, within, nil)
}

// waitConvergedOr is waitConverged, calling onFail (if set) before failing the test.
func waitConvergedOr(t testing.TB, adm *kadm.Client, h *history, group string, partitions int32, members []*member, within time.Duration, onFail func()) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	ids := memberIDs(members)
	err := chaos.WaitFor(ctx, fmt.Sprintf("group %s to converge on members %v", group, ids), func(ctx context.Context) (bool, error) {
		owned := h.ownership()
		if err := balancedError(owned, ids, partitions); err != nil {
			return false, fmt.Errorf("by the members' callbacks: %w", err)
		}
		if len(members) > 0 && members[0].cfg.protocol == protoClassic {
			if err := classicStableError(ctx, adm, group, members); err != nil {
				return false, fmt.Errorf("by DescribeGroups: %w", err)
			}
			return true, nil
		}
		d, err := describeGroup(ctx, adm, group)
		if err != nil {
			return false, err
		}
		if err := stableError(d, h.topic, partitions, members, owned); err != nil {
			return false, fmt.Errorf("by ConsumerGroupDescribe: %w", err)
		}
		return true, nil
	})
	if err != nil {
		if onFail != nil {
			onFail()
		}
		t.Fatal(err)
	}
	return time.Now()
}

// waitFlow waits until every partition has been consumed up to the highest offset
// acknowledged to the producer when it was called: records flow to the members.
func waitFlow(t testing.TB, prod *producer, h *history, within time.Duration) {
	t.Helper()
	target := prod.highest()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	err := chaos.WaitFor(ctx, "records produced so far to be consumed", func(context.Context) (bool, error) {
		got := h.consumedUpTo()
		now := prod.highest()
		for p := range prod.partitions {
			want, ok := target[p]
			if !ok { // nothing acknowledged on p at the call: wait for what is now
				want, ok = now[p]
				target[p] = want
			}
			if !ok {
				delete(target, p)
				_, failed := prod.ackedRecords()
				if len(failed) > 0 {
					return false, fmt.Errorf("nothing acknowledged on partition %d; %d records failed, the last: %s", p, len(failed), failed[len(failed)-1])
				}
				return false, fmt.Errorf("nothing acknowledged on partition %d", p)
			}
			if c, ok := got[p]; !ok || c < want {
				return false, fmt.Errorf("partition %d consumed up to %d of %d", p, got[p], want)
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// requireConsumerGroup fails the test unless group is a KIP-848 group made of members:
// ConsumerGroupDescribe knows it, with the "uniform" assignor the members asked for
// and positive member epochs under the member ids the clients hold; ListGroups gives
// its type as "consumer"; and each client sent ConsumerGroupHeartbeat and never
// JoinGroup.
func requireConsumerGroup(t testing.TB, cl *kgo.Client, group string, members []*member) {
	t.Helper()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var problems []string
	d, err := describeGroup(ctx, adm, group)
	if err != nil {
		t.Fatalf("group %s is not a KIP-848 group: %v", group, err)
	}
	if d.AssignorName != "uniform" {
		problems = append(problems, fmt.Sprintf("assignor %q, the members asked for \"uniform\"", d.AssignorName))
	}
	described := map[string]int32{}
	for _, dm := range d.Members {
		described[dm.MemberID] = dm.MemberEpoch
	}
	for _, m := range members {
		id, epoch := m.cl.GroupMetadata()
		if e, ok := described[id]; !ok {
			problems = append(problems, fmt.Sprintf("member %d (member id %q, epoch %d) is not described", m.id, id, epoch))
		} else if e <= 0 {
			problems = append(problems, fmt.Sprintf("member %d is described at member epoch %d", m.id, e))
		}
		if n := m.reqs.joinGroup.Load(); n > 0 {
			problems = append(problems, fmt.Sprintf("member %d sent %d JoinGroup requests (classic protocol)", m.id, n))
		}
		if m.reqs.consumerHeartbeat.Load() == 0 {
			problems = append(problems, fmt.Sprintf("member %d sent no ConsumerGroupHeartbeat", m.id))
		}
	}
	req := kmsg.NewPtrListGroupsRequest()
	req.TypesFilter = []string{"consumer"}
	resp, err := req.RequestWith(ctx, cl)
	switch {
	case err != nil:
		problems = append(problems, fmt.Sprintf("ListGroups: %v", err))
	case resp.Version < 5:
		problems = append(problems, fmt.Sprintf("ListGroups answered at v%d, which has no group type", resp.Version))
	default:
		var typ string
		found := false
		for _, g := range resp.Groups {
			if g.Group == group {
				typ, found = g.GroupType, true
			}
		}
		if !found || typ != "consumer" {
			problems = append(problems, fmt.Sprintf("ListGroups filtered on type \"consumer\": group listed %v with type %q", found, typ))
		}
	}
	if len(problems) > 0 {
		t.Fatalf("group %s is not the KIP-848 group expected:\n%s", group, joinLines(problems))
	}
}

// coordinatorOf returns the node id of group's coordinator.
func coordinatorOf(t testing.TB, adm *kadm.Client, group string) int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var node int32 = -1
	err := chaos.WaitFor(ctx, "the coordinator of "+group, func(ctx context.Context) (bool, error) {
		r := adm.FindGroupCoordinators(ctx, group)[group]
		if r.Err != nil {
			return false, r.Err
		}
		node = r.NodeID
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return node
}

// committedOffsets reads the group's committed offsets of topic.
func committedOffsets(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	resps, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p, r := range resps[topic] {
		if r.Err != nil {
			return nil, fmt.Errorf("partition %d: %w", p, r.Err)
		}
		out[p] = r.At
	}
	return out, nil
}

func joinLines(lines []string) string {
	out := ""
	for _, l := range lines {
		out += "  " + l + "\n"
	}
	return out
}
