package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Consumer-protocol groups (KIP-848) in the groups commands: ListGroups
// with the group type, and ConsumerGroupDescribe's epochs and current and
// target assignments, as Kafka's kafka-consumer-groups shows them.

// listGroups lists the groups of every broker, sorted by name, with their
// type (ListGroups v5; "" from older brokers). states and types filter
// case-insensitively, on the broker and again here for brokers that do not
// know the filter.
func listGroups(ctx context.Context, cl *kgo.Client, states, types []string) ([]kmsg.ListGroupsResponseGroup, error) {
	req := kmsg.NewPtrListGroupsRequest()
	req.StatesFilter, req.TypesFilter = states, types
	var out []kmsg.ListGroupsResponseGroup
	var errs []error
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			errs = append(errs, fmt.Errorf("broker %d: %w", shard.Meta.NodeID, shard.Err))
			continue
		}
		resp := shard.Resp.(*kmsg.ListGroupsResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			errs = append(errs, fmt.Errorf("broker %d: %w", shard.Meta.NodeID, err))
			continue
		}
		for _, g := range resp.Groups {
			if matchesAny(g.GroupState, states) && matchesAny(g.GroupType, types) {
				out = append(out, g)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out, errors.Join(errs...)
}

// matchesAny reports whether v is one of filter (case-insensitive); an
// empty filter or an unknown v (an older broker's answer) matches.
func matchesAny(v string, filter []string) bool {
	if len(filter) == 0 || v == "" {
		return true
	}
	return slices.ContainsFunc(filter, func(f string) bool { return strings.EqualFold(f, v) })
}

// describeConsumerGroups describes names with ConsumerGroupDescribe and
// returns those that are consumer-protocol groups. The others (classic
// groups are GROUP_ID_NOT_FOUND here, and brokers before Kafka 4 do not
// know the request) are left to DescribeGroups, which reports their errors.
func describeConsumerGroups(ctx context.Context, adm *kadm.Client, names []string) map[string]kadm.DescribedConsumerGroup {
	out := make(map[string]kadm.DescribedConsumerGroup)
	if len(names) == 0 {
		return out
	}
	described, _ := adm.DescribeConsumerGroups(ctx, names...)
	for name, g := range described {
		if g.Err == nil {
			out[name] = g
		}
	}
	return out
}

// printConsumerGroup prints a consumer-protocol group: with state, its
// summary; with members, its members; by default both, then its offsets.
func (a *app) printConsumerGroup(ctx context.Context, adm *kadm.Client, g *kadm.DescribedConsumerGroup, state, members bool) error {
	switch {
	case state:
		printConsumerGroupState(a.stdout, g)
		return nil
	case members:
		printConsumerGroupMembers(a.stdout, g)
		return nil
	}
	printConsumerGroupState(a.stdout, g)
	fmt.Fprintln(a.stdout)
	printConsumerGroupMembers(a.stdout, g)
	fmt.Fprintln(a.stdout)
	return printConsumerGroupOffsets(ctx, a.stdout, adm, g)
}

func printConsumerGroupState(w io.Writer, g *kadm.DescribedConsumerGroup) {
	tw := newTable(w)
	fmt.Fprintln(tw, "GROUP\tCOORDINATOR (ID)\tASSIGNOR\tSTATE\tGROUP-EPOCH\tASSIGNMENT-EPOCH\t#MEMBERS")
	fmt.Fprintf(tw, "%s\t%s:%d (%d)\t%s\t%s\t%d\t%d\t%d\n", g.Group, g.Coordinator.Host, g.Coordinator.Port, g.Coordinator.NodeID,
		dash(g.AssignorName), g.State, g.Epoch, g.AssignmentEpoch, len(g.Members))
	tw.Flush()
}

func printConsumerGroupMembers(w io.Writer, g *kadm.DescribedConsumerGroup) {
	if len(g.Members) == 0 {
		fmt.Fprintf(w, "Consumer group '%s' has no active members.\n", g.Group)
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "GROUP\tCONSUMER-ID\tGROUP-INSTANCE-ID\tHOST\tCLIENT-ID\tMEMBER-EPOCH\t#PARTITIONS\tASSIGNMENT\tTARGET-ASSIGNMENT")
	for _, m := range g.Members {
		inst := "-"
		if m.InstanceID != nil {
			inst = *m.InstanceID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", g.Group, m.MemberID, inst, dash(m.ClientHost), dash(m.ClientID),
			m.MemberEpoch, countPartitions(m.Assignment), formatAssignment(m.Assignment), formatAssignment(m.TargetAssignment))
	}
	tw.Flush()
}

// printConsumerGroupOffsets prints, per partition a member owns or the
// group has committed, the committed offset, log end, lag and owner (the
// member whose current assignment holds it).
func printConsumerGroupOffsets(ctx context.Context, w io.Writer, adm *kadm.Client, g *kadm.DescribedConsumerGroup) error {
	committed, err := adm.FetchOffsets(ctx, g.Group)
	if err != nil {
		return fmt.Errorf("fetch offsets: %w", err)
	}
	owner := make(map[string]map[int32]*kadm.ConsumerGroupMember)
	parts := g.AssignedPartitions()
	for i := range g.Members {
		m := &g.Members[i]
		for t, ps := range m.Assignment {
			if owner[t] == nil {
				owner[t] = make(map[int32]*kadm.ConsumerGroupMember)
			}
			for p := range ps {
				owner[t][p] = m
			}
		}
	}
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 {
			parts.Add(o.Topic, o.Partition)
		}
	})
	var starts, ends kadm.ListedOffsets
	if topics := parts.Topics(); len(topics) > 0 {
		// A topic that cannot be listed shows "-" for its log end.
		starts, _ = adm.ListStartOffsets(ctx, topics...)
		ends, _ = adm.ListEndOffsets(ctx, topics...)
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tCONSUMER-ID\tHOST\tCLIENT-ID")
	for _, tp := range parts.Sorted() {
		for _, p := range tp.Partitions {
			cur, end, lag := "-", "-", "-"
			c, hasCommit := committed.Lookup(tp.Topic, p)
			hasCommit = hasCommit && c.Err == nil && c.At >= 0
			if hasCommit {
				cur = strconv.FormatInt(c.At, 10)
			}
			if e, ok := ends.Lookup(tp.Topic, p); ok && e.Err == nil {
				end = strconv.FormatInt(e.Offset, 10)
				// As kadm computes lag: from the commit, else from the
				// log start.
				l := e.Offset
				if s, ok := starts.Lookup(tp.Topic, p); ok && s.Err == nil {
					l -= s.Offset
				}
				if hasCommit {
					l = e.Offset - c.At
				}
				lag = strconv.FormatInt(max(l, 0), 10)
			}
			member, host, client := "-", "-", "-"
			if m := owner[tp.Topic][p]; m != nil {
				member, host, client = m.MemberID, dash(m.ClientHost), dash(m.ClientID)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Group, tp.Topic, p, cur, end, lag, member, host, client)
		}
	}
	return tw.Flush()
}

// formatAssignment writes partitions as topic(0,1,2),other(3), topics and
// partitions in order; "-" for none.
func formatAssignment(s kadm.TopicsSet) string {
	var parts []string
	for _, t := range s.Sorted() {
		if len(t.Partitions) == 0 {
			continue
		}
		ps := make([]string, len(t.Partitions))
		for i, p := range t.Partitions {
			ps[i] = strconv.Itoa(int(p))
		}
		parts = append(parts, t.Topic+"("+strings.Join(ps, ",")+")")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

func countPartitions(s kadm.TopicsSet) int {
	n := 0
	for _, ps := range s {
		n += len(ps)
	}
	return n
}
