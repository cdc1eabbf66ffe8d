package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The groups commands are Kafka's kafka-consumer-groups for Sluice: list,
// describe (members, assignments, committed offsets, log ends and lag),
// delete, reset-offsets and delete-offsets, through kadm.

// grpConn holds the connection flags of the groups commands, shared by
// every subcommand.
type grpConn struct {
	cf *clientFlags
}

func (c *grpConn) admin() (*kgo.Client, *kadm.Client, error) {
	return c.cf.client()
}

// run builds a client, bounds ctx by --timeout and calls fn.
func (c *grpConn) run(cmd *cobra.Command, fn func(ctx context.Context, adm *kadm.Client) error) error {
	return c.runClient(cmd, func(ctx context.Context, _ *kgo.Client, adm *kadm.Client) error { return fn(ctx, adm) })
}

// runClient is run for commands that also send requests kadm has no call
// for.
func (c *grpConn) runClient(cmd *cobra.Command, fn func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error) error {
	cl, adm, err := c.admin()
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), c.cf.timeout)
	defer cancel()
	return fn(ctx, cl, adm)
}

func (a *app) groupsCmd() *cobra.Command {
	conn := &grpConn{}
	cmd := &cobra.Command{
		Use:   "groups",
		Short: "List, describe and delete consumer groups; reset and delete their offsets",
		Long: `Manage consumer groups, as Kafka's kafka-consumer-groups does.

  sluice groups list
  sluice groups describe my-group
  sluice groups reset-offsets --group my-group --topic orders --to-earliest --execute
  sluice groups delete-offsets --group my-group --topic old-topic
  sluice groups delete my-group`,
	}
	conn.cf = a.clientFlagsOn(cmd.PersistentFlags())
	cmd.AddCommand(
		a.groupsListCmd(conn),
		a.groupsDescribeCmd(conn),
		a.groupsDeleteCmd(conn),
		a.groupsResetCmd(conn),
		a.groupsDeleteOffsetsCmd(conn),
	)
	return cmd
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func (a *app) groupsListCmd(conn *grpConn) *cobra.Command {
	var states, types []string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the groups with their state, protocol type and group type (classic or consumer)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return conn.runClient(cmd, func(ctx context.Context, cl *kgo.Client, _ *kadm.Client) error {
				groups, err := listGroups(ctx, cl, states, types)
				if err != nil {
					return fmt.Errorf("list groups: %w", err)
				}
				tw := newTable(a.stdout)
				fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL-TYPE\tTYPE")
				for _, g := range groups {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.Group, dash(g.GroupState), dash(g.ProtocolType), dash(g.GroupType))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringSliceVar(&states, "state", nil, "only groups in these states (classic: Empty, Stable, PreparingRebalance, CompletingRebalance; consumer: Empty, Assigning, Reconciling, Stable)")
	cmd.Flags().StringSliceVar(&types, "type", nil, "only groups of these types (classic, consumer)")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (a *app) groupsDescribeCmd(conn *grpConn) *cobra.Command {
	var all, members, state bool
	cmd := &cobra.Command{
		Use:   "describe [GROUP...]",
		Short: "Describe groups: per partition the committed offset, log end, lag and owner",
		Long: `Describe groups. By default, one line per partition with a committed offset or
an owner: the committed offset, the log end offset, the lag, and the member that
owns it (id, host, client id). --members lists the members with their
assignments instead, --state the group's state, protocol and size.

A consumer-protocol group (KIP-848) is described with its state, assignor,
group epoch and target assignment epoch, and each member with its member epoch
and its current and target assignment (ASSIGNMENT and TARGET-ASSIGNMENT differ
while the member reconciles); by default these come before the offsets.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return errors.New("name the groups to describe, or give --all-groups")
			}
			return conn.run(cmd, func(ctx context.Context, adm *kadm.Client) error {
				names := args
				if all {
					listed, err := adm.ListGroups(ctx)
					if err != nil {
						return fmt.Errorf("list groups: %w", err)
					}
					names = listed.Groups()
					sort.Strings(names)
				}
				consumer := describeConsumerGroups(ctx, adm, names)
				var classic []string
				for _, name := range names {
					if _, ok := consumer[name]; !ok {
						classic = append(classic, name)
					}
				}
				var lags kadm.DescribedGroupLags
				if len(classic) > 0 {
					var err error
					if lags, err = adm.Lag(ctx, classic...); err != nil {
						return fmt.Errorf("describe groups: %w", err)
					}
				}
				var errs []error
				for i, name := range names {
					if i > 0 {
						fmt.Fprintln(a.stdout)
					}
					if g, ok := consumer[name]; ok {
						if err := a.printConsumerGroup(ctx, adm, &g, state, members); err != nil {
							errs = append(errs, fmt.Errorf("group %s: %w", name, err))
						}
						continue
					}
					l, ok := lags[name]
					if !ok {
						errs = append(errs, fmt.Errorf("group %s: not described", name))
						continue
					}
					if err := l.Error(); err != nil {
						errs = append(errs, fmt.Errorf("group %s: %w", name, err))
						continue
					}
					switch {
					case state:
						printGroupState(a.stdout, &l)
					case members:
						printGroupMembers(a.stdout, &l)
					default:
						printGroupOffsets(a.stdout, &l)
					}
				}
				return errors.Join(errs...)
			})
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&all, "all-groups", false, "describe every group")
	fl.BoolVar(&members, "members", false, "list the members and their assignments")
	fl.BoolVar(&state, "state", false, "show the group's state, protocol and member count")
	return cmd
}

func printGroupState(w io.Writer, l *kadm.DescribedGroupLag) {
	tw := newTable(w)
	fmt.Fprintln(tw, "GROUP\tCOORDINATOR (ID)\tASSIGNMENT-STRATEGY\tSTATE\t#MEMBERS")
	fmt.Fprintf(tw, "%s\t%s:%d (%d)\t%s\t%s\t%d\n", l.Group, l.Coordinator.Host, l.Coordinator.Port, l.Coordinator.NodeID,
		dash(l.Protocol), l.State, len(l.Members))
	tw.Flush()
}

func printGroupMembers(w io.Writer, l *kadm.DescribedGroupLag) {
	if len(l.Members) == 0 {
		fmt.Fprintf(w, "Consumer group '%s' has no active members.\n", l.Group)
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "GROUP\tCONSUMER-ID\tGROUP-INSTANCE-ID\tHOST\tCLIENT-ID\t#PARTITIONS\tASSIGNMENT")
	for _, m := range l.Members {
		inst := "-"
		if m.InstanceID != nil {
			inst = *m.InstanceID
		}
		n, assignment := 0, "-"
		if c, ok := m.Assigned.AsConsumer(); ok {
			set := make(kadm.TopicsSet)
			for _, t := range c.Topics {
				set.Add(t.Topic, t.Partitions...)
			}
			n, assignment = countPartitions(set), formatAssignment(set)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", l.Group, m.MemberID, inst, m.ClientHost, m.ClientID, n, assignment)
	}
	tw.Flush()
}

func printGroupOffsets(w io.Writer, l *kadm.DescribedGroupLag) {
	if len(l.Members) == 0 {
		fmt.Fprintf(w, "Consumer group '%s' has no active members.\n\n", l.Group)
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tCONSUMER-ID\tHOST\tCLIENT-ID")
	for _, pl := range l.Lag.Sorted() {
		cur, end, lag := "-", "-", "-"
		if pl.Commit.At >= 0 {
			cur = strconv.FormatInt(pl.Commit.At, 10)
		}
		if pl.End.Err == nil {
			end = strconv.FormatInt(pl.End.Offset, 10)
		}
		if pl.Err == nil && pl.Lag >= 0 {
			lag = strconv.FormatInt(pl.Lag, 10)
		}
		member, host, client := "-", "-", "-"
		if pl.Member != nil {
			member, host, client = pl.Member.MemberID, pl.Member.ClientHost, pl.Member.ClientID
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Group, pl.Topic, pl.Partition, cur, end, lag, member, host, client)
	}
	tw.Flush()
}

func (a *app) groupsDeleteCmd(conn *grpConn) *cobra.Command {
	return &cobra.Command{
		Use:   "delete GROUP...",
		Short: "Delete empty groups with their committed offsets",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return conn.run(cmd, func(ctx context.Context, adm *kadm.Client) error {
				resps, err := adm.DeleteGroups(ctx, args...)
				if err != nil {
					return fmt.Errorf("delete groups: %w", err)
				}
				var errs []error
				for _, name := range args {
					r, ok := resps[name]
					switch {
					case !ok:
						errs = append(errs, fmt.Errorf("group %s: no answer", name))
					case r.Err != nil:
						errs = append(errs, fmt.Errorf("group %s: %w", name, r.Err))
					default:
						fmt.Fprintf(a.stdout, "Deleted group %s.\n", name)
					}
				}
				return errors.Join(errs...)
			})
		},
	}
}

// topicSpec is --topic TOPIC or TOPIC:P,P,...
type topicSpec struct {
	topic      string
	partitions []int32 // nil: all
}

func parseTopicSpecs(specs []string) ([]topicSpec, error) {
	var out []topicSpec
	for _, s := range specs {
		name, list, hasList := strings.Cut(s, ":")
		if name == "" {
			return nil, fmt.Errorf("--topic %q: no topic name", s)
		}
		ts := topicSpec{topic: name}
		if hasList {
			for _, p := range strings.Split(list, ",") {
				n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("--topic %q: %q is not a partition number", s, p)
				}
				ts.partitions = append(ts.partitions, int32(n))
			}
		}
		out = append(out, ts)
	}
	return out, nil
}

type resetFlags struct {
	group                           string
	topics                          []string
	allTopics                       bool
	toEarliest, toLatest, toCurrent bool
	toOffset, shiftBy               int64
	toDatetime                      string
	toOffsetSet, shiftBySet         bool
	dryRun, execute                 bool
}

func (a *app) groupsResetCmd(conn *grpConn) *cobra.Command {
	f := &resetFlags{}
	cmd := &cobra.Command{
		Use:   "reset-offsets --group GROUP (--topic TOPIC[:P,...]... | --all-topics) SCENARIO [--dry-run | --execute]",
		Short: "Move a group's committed offsets (the group must have no active members)",
		Long: `Reset the committed offsets of an inactive group, for some topics (--topic, with
optional partitions: orders:0,1) or every topic it has offsets for (--all-topics).

Scenarios (one):
  --to-earliest       the log start offset
  --to-latest         the log end offset
  --to-current        the committed offset (no change)
  --to-offset N       offset N (kept within the log)
  --to-datetime T     the first offset at or after T (RFC 3339, or YYYY-MM-DDTHH:mm:SS[.sss] local time)
  --shift-by N        the committed offset plus N, which may be negative (kept within the log)

Without --execute, the new offsets are only shown (as with --dry-run).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.toOffsetSet = cmd.Flags().Changed("to-offset")
			f.shiftBySet = cmd.Flags().Changed("shift-by")
			if err := f.check(); err != nil {
				return err
			}
			return conn.run(cmd, func(ctx context.Context, adm *kadm.Client) error {
				return a.resetOffsets(ctx, adm, f)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.group, "group", "g", "", "the group (required)")
	fl.StringArrayVarP(&f.topics, "topic", "t", nil, "a topic, optionally with partitions: TOPIC:0,1,2 (repeatable)")
	fl.BoolVar(&f.allTopics, "all-topics", false, "every topic the group has committed offsets for")
	fl.BoolVar(&f.toEarliest, "to-earliest", false, "reset to the log start offset")
	fl.BoolVar(&f.toLatest, "to-latest", false, "reset to the log end offset")
	fl.BoolVar(&f.toCurrent, "to-current", false, "reset to the committed offset")
	fl.Int64Var(&f.toOffset, "to-offset", 0, "reset to this offset")
	fl.StringVar(&f.toDatetime, "to-datetime", "", "reset to the first offset at or after this time")
	fl.Int64Var(&f.shiftBy, "shift-by", 0, "move the committed offset by this many (negative: back)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "only show the new offsets")
	fl.BoolVar(&f.execute, "execute", false, "commit the new offsets")
	return cmd
}

func (f *resetFlags) check() error {
	if f.group == "" {
		return errors.New("--group is required")
	}
	if f.allTopics == (len(f.topics) > 0) {
		return errors.New("give --topic (one or more) or --all-topics")
	}
	n := 0
	for _, on := range []bool{f.toEarliest, f.toLatest, f.toCurrent, f.toOffsetSet, f.toDatetime != "", f.shiftBySet} {
		if on {
			n++
		}
	}
	if n != 1 {
		return errors.New("give exactly one of --to-earliest, --to-latest, --to-current, --to-offset, --to-datetime, --shift-by")
	}
	if f.dryRun && f.execute {
		return errors.New("--dry-run and --execute exclude each other")
	}
	return nil
}

// parseDatetime reads --to-datetime: RFC 3339, or Kafka's
// YYYY-MM-DDTHH:mm:SS[.sss] in local time.
func parseDatetime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.000", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--to-datetime %q: want RFC 3339 (2024-05-01T12:00:00Z) or YYYY-MM-DDTHH:mm:SS[.sss]", s)
}

func (a *app) resetOffsets(ctx context.Context, adm *kadm.Client, f *resetFlags) error {
	described, err := adm.DescribeGroups(ctx, f.group)
	if err != nil {
		return fmt.Errorf("describe group %s: %w", f.group, err)
	}
	if d, ok := described[f.group]; ok && d.Err == nil && d.State != "Empty" && d.State != "Dead" {
		return fmt.Errorf("offsets can be reset only while group %s is inactive, but it is %s with %d members: stop its consumers first",
			f.group, d.State, len(d.Members))
	}
	committed, err := adm.FetchOffsets(ctx, f.group)
	if err != nil {
		return fmt.Errorf("fetch offsets of %s: %w", f.group, err)
	}

	// Which partitions.
	want := make(map[string]map[int32]bool)
	var topics []string
	if f.allTopics {
		committed.Each(func(o kadm.OffsetResponse) {
			if want[o.Topic] == nil {
				want[o.Topic] = make(map[int32]bool)
				topics = append(topics, o.Topic)
			}
			want[o.Topic][o.Partition] = true
		})
	} else {
		specs, err := parseTopicSpecs(f.topics)
		if err != nil {
			return err
		}
		for _, s := range specs {
			if want[s.topic] == nil {
				want[s.topic] = make(map[int32]bool)
				topics = append(topics, s.topic)
			}
			for _, p := range s.partitions {
				want[s.topic][p] = true
			}
		}
	}
	if len(topics) == 0 {
		return fmt.Errorf("group %s has no committed offsets to reset", f.group)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	var after kadm.ListedOffsets
	if f.toDatetime != "" {
		at, err := parseDatetime(f.toDatetime)
		if err != nil {
			return err
		}
		if after, err = adm.ListOffsetsAfterMilli(ctx, at.UnixMilli(), topics...); err != nil {
			return fmt.Errorf("list offsets by time: %w", err)
		}
	}

	type plan struct {
		topic     string
		partition int32
		offset    int64
	}
	var plans []plan
	var errs []error
	for _, t := range topics {
		partitions := want[t]
		if len(partitions) == 0 { // the whole topic
			ends.Each(func(o kadm.ListedOffset) {
				if o.Topic == t {
					partitions[o.Partition] = true
				}
			})
			if len(partitions) == 0 {
				errs = append(errs, fmt.Errorf("topic %s: unknown or without partitions", t))
			}
		}
		for p := range partitions {
			start, sok := starts.Lookup(t, p)
			end, eok := ends.Lookup(t, p)
			if !sok || !eok || start.Err != nil || end.Err != nil {
				errs = append(errs, fmt.Errorf("%s-%d: cannot read the partition's offsets (%v %v)", t, p, start.Err, end.Err))
				continue
			}
			clamp := func(o int64) int64 { return min(max(o, start.Offset), end.Offset) }
			cur, hasCur := committed.Lookup(t, p)
			hasCur = hasCur && cur.Err == nil && cur.At >= 0
			var to int64
			switch {
			case f.toEarliest:
				to = start.Offset
			case f.toLatest:
				to = end.Offset
			case f.toOffsetSet:
				to = clamp(f.toOffset)
			case f.toDatetime != "":
				o, ok := after.Lookup(t, p)
				if !ok || o.Err != nil || o.Offset < 0 {
					to = end.Offset
				} else {
					to = clamp(o.Offset)
				}
			case f.toCurrent, f.shiftBySet:
				if !hasCur {
					errs = append(errs, fmt.Errorf("%s-%d: no committed offset to start from", t, p))
					continue
				}
				to = clamp(cur.At + f.shiftBy)
			}
			plans = append(plans, plan{t, p, to})
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	sort.Slice(plans, func(i, j int) bool {
		if plans[i].topic != plans[j].topic {
			return plans[i].topic < plans[j].topic
		}
		return plans[i].partition < plans[j].partition
	})
	tw := newTable(a.stdout)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tNEW-OFFSET")
	for _, p := range plans {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", f.group, p.topic, p.partition, p.offset)
	}
	tw.Flush()
	if !f.execute {
		if !f.dryRun {
			fmt.Fprintln(a.stderr, "No offsets changed: add --execute to commit them.")
		}
		return nil
	}
	offsets := make(kadm.Offsets)
	for _, p := range plans {
		offsets.Add(kadm.Offset{Topic: p.topic, Partition: p.partition, At: p.offset, LeaderEpoch: -1})
	}
	resps, err := adm.CommitOffsets(ctx, f.group, offsets)
	if err != nil {
		return fmt.Errorf("commit offsets: %w", err)
	}
	if err := resps.Error(); err != nil {
		return fmt.Errorf("commit offsets: %w", err)
	}
	return nil
}

func (a *app) groupsDeleteOffsetsCmd(conn *grpConn) *cobra.Command {
	var group string
	var topics []string
	cmd := &cobra.Command{
		Use:   "delete-offsets --group GROUP --topic TOPIC[:P,...]...",
		Short: "Delete a group's committed offsets (only of topics its members do not consume)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if group == "" || len(topics) == 0 {
				return errors.New("--group and at least one --topic are required")
			}
			specs, err := parseTopicSpecs(topics)
			if err != nil {
				return err
			}
			return conn.run(cmd, func(ctx context.Context, adm *kadm.Client) error {
				set := make(kadm.TopicsSet)
				var whole []string
				for _, s := range specs {
					if s.partitions == nil {
						whole = append(whole, s.topic)
						continue
					}
					set.Add(s.topic, s.partitions...)
				}
				if len(whole) > 0 {
					ends, err := adm.ListEndOffsets(ctx, whole...)
					if err != nil {
						return fmt.Errorf("list partitions: %w", err)
					}
					ends.Each(func(o kadm.ListedOffset) { set.Add(o.Topic, o.Partition) })
					for _, t := range whole {
						if _, ok := set[t]; !ok {
							return fmt.Errorf("topic %s: unknown or without partitions", t)
						}
					}
				}
				resps, err := adm.DeleteOffsets(ctx, group, set)
				if err != nil {
					return fmt.Errorf("delete offsets of %s: %w", group, err)
				}
				tw := newTable(a.stdout)
				fmt.Fprintln(tw, "TOPIC\tPARTITION\tSTATUS")
				var errs []error
				for _, t := range set.Sorted() {
					for _, p := range t.Partitions {
						status := "Successful"
						if err, ok := resps.Lookup(t.Topic, p); ok && err != nil {
							status = "Error: " + err.Error()
							errs = append(errs, fmt.Errorf("%s-%d: %w", t.Topic, p, err))
						}
						fmt.Fprintf(tw, "%s\t%d\t%s\n", t.Topic, p, status)
					}
				}
				tw.Flush()
				return errors.Join(errs...)
			})
		},
	}
	cmd.Flags().StringVarP(&group, "group", "g", "", "the group (required)")
	cmd.Flags().StringArrayVarP(&topics, "topic", "t", nil, "a topic, optionally with partitions: TOPIC:0,1 (repeatable)")
	return cmd
}
