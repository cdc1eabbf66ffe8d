package cli

// The partitions commands move replicas and leaderships between brokers, as
// Kafka's kafka-reassign-partitions.sh and kafka-leader-election.sh do, with
// the same JSON files:
//
//   - `reassign` takes a plan in Kafka's reassignment format
//     ({"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[2,3,4]}]})
//     and starts it (--execute), reports its progress (--verify) or cancels it
//     (--cancel); --generate proposes a plan that moves the partitions of the
//     topics a file names (Kafka's {"version":1,"topics":[{"topic":"t"}]})
//     onto a list of brokers;
//   - `elect-leaders` runs preferred or unclean leader elections.
//
// The moves themselves are the brokers' (AlterPartitionReassignments): new
// replicas catch up as followers and join the ISR, and only then are the
// replicas left out dropped.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (a *app) partitionsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "partitions",
		Short: "Move partitions between brokers and elect their leaders",
		Long: `Move replicas between brokers (reassign) and elect partition leaders
(elect-leaders), as Kafka's kafka-reassign-partitions.sh and
kafka-leader-election.sh do, with the same JSON files.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.partitionsReassignCmd(), a.partitionsElectLeadersCmd())
	return cmd
}

// tp names one partition of a topic.
type tp struct {
	Topic     string
	Partition int32
}

func (p tp) String() string { return p.Topic + "-" + strconv.Itoa(int(p.Partition)) }

func compareTP(a, b tp) int {
	return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// assignment is each partition's replicas, in order: the first is the
// preferred leader.
type assignment map[tp][]int32

// partitions returns the partitions in topic and partition order.
func (a assignment) partitions() []tp {
	return slices.SortedFunc(maps.Keys(a), compareTP)
}

// topics returns the topics, sorted.
func (a assignment) topics() []string {
	set := map[string]bool{}
	for p := range a {
		set[p.Topic] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// reassignmentFile is Kafka's reassignment JSON, which --execute, --verify and
// --cancel read and --generate writes.
type reassignmentFile struct {
	Version    int                 `json:"version"`
	Partitions []reassignmentEntry `json:"partitions"`
}

type reassignmentEntry struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
	// LogDirs is accepted when every entry is "any": Sluice does not move
	// replicas between the log directories of one broker.
	LogDirs []string `json:"log_dirs,omitempty"`
}

// planJSON renders an assignment in Kafka's reassignment format, on one line
// as Kafka's tool prints it, so that it can be saved to a file as it is.
func planJSON(a assignment) string {
	f := reassignmentFile{Version: 1, Partitions: []reassignmentEntry{}}
	for _, p := range a.partitions() {
		f.Partitions = append(f.Partitions, reassignmentEntry{Topic: p.Topic, Partition: p.Partition, Replicas: append([]int32{}, a[p]...)})
	}
	b, _ := json.Marshal(f) // cannot fail: plain structs
	return string(b)
}

// parsePlan reads Kafka's reassignment JSON and checks it: version 1, at least
// one partition, each named once, with at least one replica, no broker twice,
// and log_dirs (if given) all "any".
func parsePlan(data []byte) (assignment, error) {
	var f struct {
		Version    *int                `json:"version"`
		Partitions []reassignmentEntry `json:"partitions"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a reassignment plan (%v); want {\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1,2,3]}]}", err)
	}
	if f.Version != nil && *f.Version != 1 {
		return nil, fmt.Errorf("version %d: only version 1 of the reassignment format exists", *f.Version)
	}
	if len(f.Partitions) == 0 {
		return nil, errors.New("the plan lists no partitions")
	}
	out := assignment{}
	for i, e := range f.Partitions {
		p := tp{e.Topic, e.Partition}
		switch {
		case e.Topic == "":
			return nil, fmt.Errorf("entry %d has no topic", i)
		case e.Partition < 0:
			return nil, fmt.Errorf("%s: the partition must be 0 or more", p)
		case len(e.Replicas) == 0:
			return nil, fmt.Errorf("%s: no replicas", p)
		case out[p] != nil:
			return nil, fmt.Errorf("%s is listed twice", p)
		case e.LogDirs != nil && len(e.LogDirs) != len(e.Replicas):
			return nil, fmt.Errorf("%s: %d log_dirs for %d replicas", p, len(e.LogDirs), len(e.Replicas))
		}
		for j, id := range e.Replicas {
			if id < 0 {
				return nil, fmt.Errorf("%s: broker id %d", p, id)
			}
			if slices.Contains(e.Replicas[:j], id) {
				return nil, fmt.Errorf("%s: broker %d is listed twice in replicas %v", p, id, e.Replicas)
			}
		}
		for _, d := range e.LogDirs {
			if d != "any" {
				return nil, fmt.Errorf("%s: log_dirs %q: Sluice does not place replicas in a given log directory; use \"any\" or leave log_dirs out", p, d)
			}
		}
		out[p] = slices.Clone(e.Replicas)
	}
	return out, nil
}

// parseTopicsToMove reads Kafka's topics-to-move JSON:
// {"version":1,"topics":[{"topic":"t"}]}.
func parseTopicsToMove(data []byte) ([]string, error) {
	var f struct {
		Version *int `json:"version"`
		Topics  []struct {
			Topic string `json:"topic"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a topics-to-move file (%v); want {\"version\":1,\"topics\":[{\"topic\":\"t\"}]}", err)
	}
	if f.Version != nil && *f.Version != 1 {
		return nil, fmt.Errorf("version %d: only version 1 of the topics-to-move format exists", *f.Version)
	}
	var out []string
	for i, t := range f.Topics {
		if t.Topic == "" {
			return nil, fmt.Errorf("entry %d has no topic", i)
		}
		if !slices.Contains(out, t.Topic) {
			out = append(out, t.Topic)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("the file lists no topics")
	}
	return out, nil
}

// readInput reads a file, or standard input for "-".
func readInput(cmd *cobra.Command, flag, path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("%s is required", flag)
	}
	if path == "-" {
		b, err := io.ReadAll(cmd.InOrStdin())
		if err != nil {
			return nil, fmt.Errorf("%s -: %w", flag, err)
		}
		return b, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return b, nil
}

// parseBrokerList parses --broker-list 1,2,3.
func parseBrokerList(s string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		id, err := parseInt32("--broker-list", f)
		if err != nil || id < 0 {
			return nil, fmt.Errorf("--broker-list %q: %q is not a broker id", s, f)
		}
		if slices.Contains(out, id) {
			return nil, fmt.Errorf("--broker-list %q: broker %d is listed twice", s, id)
		}
		out = append(out, id)
	}
	if len(out) == 0 {
		return nil, errors.New("--broker-list is required: the ids of the brokers to move the partitions onto, as 1,2,3")
	}
	return out, nil
}

// partitionState is what the cluster says of one partition: its replicas
// (during a reassignment, the target followed by the replicas being removed),
// and the replicas being added and removed.
type partitionState struct {
	Replicas, Adding, Removing []int32
	Leader                     int32
	ISR                        []int32
}

// reassigning reports whether a reassignment of the partition is in progress.
func (s partitionState) reassigning() bool { return len(s.Adding)+len(s.Removing) > 0 }

// target is the replica set the partition has once its reassignment, if any,
// completes.
func (s partitionState) target() []int32 {
	return slices.DeleteFunc(slices.Clone(s.Replicas), func(id int32) bool { return slices.Contains(s.Removing, id) })
}

// fetchPartitions asks a broker for Metadata of topics (every topic when none)
// and the controller for the reassignments in progress, both fresh (not from
// the client's metadata cache): the planning commands and --verify must see
// the latest state. A topic the cluster does not know is an error.
func fetchPartitions(ctx context.Context, cl *kgo.Client, topics []string) (map[tp]partitionState, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	out := map[tp]partitionState{}
	for _, t := range resp.Topics {
		name := deref(t.Topic)
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return nil, fmt.Errorf("topic %s: %w", name, err)
		}
		for _, p := range t.Partitions {
			// A partition without a live leader still lists its replicas.
			out[tp{name, p.Partition}] = partitionState{Replicas: p.Replicas, Leader: p.Leader, ISR: p.ISR}
		}
	}
	lr := kmsg.NewPtrListPartitionReassignmentsRequest()
	if topics != nil {
		lr.Topics = []kmsg.ListPartitionReassignmentsRequestTopic{}
		byTopic := map[string][]int32{}
		for p := range out {
			byTopic[p.Topic] = append(byTopic[p.Topic], p.Partition)
		}
		for _, name := range slices.Sorted(maps.Keys(byTopic)) {
			rt := kmsg.NewListPartitionReassignmentsRequestTopic()
			rt.Topic, rt.Partitions = name, byTopic[name]
			lr.Topics = append(lr.Topics, rt)
		}
		if len(lr.Topics) == 0 {
			return out, nil
		}
	}
	lresp, err := lr.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("list reassignments: %w", err)
	}
	if err := kerr.ErrorForCode(lresp.ErrorCode); err != nil {
		return nil, fmt.Errorf("list reassignments: %w", brokerErr(err, deref(lresp.ErrorMessage)))
	}
	for _, t := range lresp.Topics {
		for _, p := range t.Partitions {
			k := tp{t.Topic, p.Partition}
			s := out[k]
			// The controller's answer is at least as new as the broker's Metadata.
			s.Replicas, s.Adding, s.Removing = p.Replicas, p.AddingReplicas, p.RemovingReplicas
			out[k] = s
		}
	}
	return out, nil
}

// alterAssignments sends a plan (nil replicas cancel) and returns the
// partitions it started and the errors of those it did not, in order.
func alterAssignments(ctx context.Context, adm *kadm.Client, plan map[tp][]int32) (ok []tp, failed map[tp]error, err error) {
	var req kadm.AlterPartitionAssignmentsReq
	for p, replicas := range plan {
		req.Assign(p.Topic, p.Partition, replicas)
	}
	resps, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	failed = map[tp]error{}
	for _, p := range slices.SortedFunc(maps.Keys(plan), compareTP) {
		r, found := resps[p.Topic][p.Partition]
		switch {
		case !found:
			failed[p] = errors.New("no answer from the broker")
		case r.Err != nil:
			failed[p] = brokerErr(r.Err, r.ErrMessage)
		default:
			ok = append(ok, p)
		}
	}
	return ok, failed, nil
}

// joinTPs renders partitions as t-0,t-1.
func joinTPs(ps []tp) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// idList renders broker ids as Kafka's tool does: [1,2,3].
func idList(ids []int32) string { return "[" + joinIDs(ids) + "]" }

func (a *app) partitionsReassignCmd() *cobra.Command {
	var (
		planFile, topicsFile, brokerList string
		execute, verify, cancel, gen     bool
		additional, noRacks, jsonOut     bool
		preserveThrottles                bool
		throttle                         int64
	)
	cmd := &cobra.Command{
		Use:   "reassign (--execute | --verify | --cancel) --reassignment-json-file FILE | --generate --topics-to-move-json-file FILE --broker-list IDS",
		Short: "Move partition replicas between brokers with a JSON plan",
		Long: `Move partition replicas between brokers, as kafka-reassign-partitions.sh does,
with its JSON plan:

  {"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[2,3,4]}]}

The first replica of each list is the partition's preferred leader.

--execute starts the moves and prints the current assignment first: save it to
  roll back. The partition keeps serving while it moves: the new replicas catch
  up as followers and join the in-sync replicas, and only then are the replicas
  left out dropped (and their data deleted). It refuses while other
  reassignments are in progress, unless --additional. --throttle RATE limits
  the catch-up traffic to RATE bytes/s per broker: it sets
  leader.replication.throttled.rate and follower.replication.throttled.rate on
  the brokers involved, and leader.replication.throttled.replicas (the current
  replicas) and follower.replication.throttled.replicas (the added ones) on the
  topics; replicas in sync are never throttled.
--verify reports, per partition, whether its reassignment is complete, still in
  progress, or over with other replicas than the plan's; it exits non-zero
  until every partition has the plan's replicas. Once they all have, it
  removes the throttles (unless --preserve-throttles).
--cancel stops the reassignments of the plan's partitions: each goes back to
  the replicas it had before, and the replicas being added are dropped. As in
  Kafka, the order of the replicas (and so the preferred leader) may stay the
  plan's; --execute the assignment --execute printed to restore it. The
  throttles are removed too (unless --preserve-throttles).
--generate proposes a plan that puts the partitions of the topics in
  --topics-to-move-json-file ({"version":1,"topics":[{"topic":"orders"}]}) on
  the brokers of --broker-list, moving as few replicas as it can: replicas on
  brokers outside the list move onto the least loaded listed brokers, then
  replicas and preferred leaders are spread evenly. Replicas of a partition
  go to different racks where brokers have a broker.rack (unless
  --disable-rack-aware). It prints the current and the proposed assignment
  and changes nothing. A FILE of - is read from standard input.`,
		Example: `  sluice partitions reassign --generate --topics-to-move-json-file topics.json --broker-list 2,3,4
  sluice partitions reassign --execute --reassignment-json-file plan.json --throttle 50000000
  sluice partitions reassign --verify --reassignment-json-file plan.json
  sluice partitions reassign --cancel --reassignment-json-file plan.json`,
		Args: cobra.NoArgs,
	}
	cf := a.addClientFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&planFile, "reassignment-json-file", "", "the plan, in Kafka's reassignment JSON (- for standard input)")
	fl.StringVar(&topicsFile, "topics-to-move-json-file", "", "with --generate: the topics to move, as {\"version\":1,\"topics\":[{\"topic\":\"t\"}]}")
	fl.StringVar(&brokerList, "broker-list", "", "with --generate: the brokers to place the partitions on, as 1,2,3")
	fl.BoolVar(&execute, "execute", false, "start the plan's reassignments")
	fl.BoolVar(&verify, "verify", false, "report whether the plan's reassignments are complete (exit status 1 until they are)")
	fl.BoolVar(&cancel, "cancel", false, "cancel the plan's reassignments in progress")
	fl.BoolVar(&gen, "generate", false, "propose a plan; change nothing")
	fl.BoolVar(&additional, "additional", false, "with --execute: start even while other reassignments are in progress")
	fl.Int64Var(&throttle, "throttle", -1, "with --execute: limit the moves' replication to this many bytes per second on each broker involved")
	fl.BoolVar(&preserveThrottles, "preserve-throttles", false, "with --verify and --cancel: leave the throttles --execute --throttle set in place")
	fl.BoolVar(&noRacks, "disable-rack-aware", false, "with --generate: ignore the brokers' racks")
	fl.BoolVar(&jsonOut, "json", false, "with --generate and --verify: print one JSON document")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		n := 0
		for _, b := range []bool{execute, verify, cancel, gen} {
			if b {
				n++
			}
		}
		if n != 1 {
			return errors.New("give one of --execute, --verify, --cancel or --generate")
		}
		if cmd.Flags().Changed("throttle") && (!execute || throttle <= 0) {
			return errors.New("--throttle goes with --execute, and must be a positive number of bytes per second")
		}
		var plan assignment
		var topics []string
		var brokers []int32
		if gen {
			b, err := readInput(cmd, "--topics-to-move-json-file", topicsFile)
			if err != nil {
				return err
			}
			if topics, err = parseTopicsToMove(b); err != nil {
				return fmt.Errorf("--topics-to-move-json-file: %w", err)
			}
			if brokers, err = parseBrokerList(brokerList); err != nil {
				return err
			}
		} else {
			b, err := readInput(cmd, "--reassignment-json-file", planFile)
			if err != nil {
				return err
			}
			if plan, err = parsePlan(b); err != nil {
				return fmt.Errorf("--reassignment-json-file: %w", err)
			}
		}
		ctx, stop := signalContext(cmd)
		defer stop()
		cl, adm, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
		switch {
		case gen:
			return generateReassignment(ctx, out, cf, cl, topics, brokers, !noRacks, jsonOut)
		case execute:
			return executeReassignment(ctx, out, errOut, cf, cl, adm, plan, additional, throttle)
		case verify:
			return verifyReassignment(ctx, out, cf, cl, adm, plan, jsonOut, preserveThrottles)
		default:
			return cancelReassignment(ctx, out, errOut, cf, cl, adm, plan, preserveThrottles)
		}
	}
	return cmd
}

// currentOf returns the current (target) replicas of the plan's partitions,
// or an error naming the partitions that do not exist.
func currentOf(states map[tp]partitionState, plan assignment) (assignment, error) {
	cur := assignment{}
	var missing []tp
	for _, p := range plan.partitions() {
		s, ok := states[p]
		if !ok {
			missing = append(missing, p)
			continue
		}
		cur[p] = s.target()
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s", kerr.UnknownTopicOrPartition, joinTPs(missing))
	}
	return cur, nil
}

func executeReassignment(ctx context.Context, out, errOut io.Writer, cf *clientFlags, cl *kgo.Client, adm *kadm.Client, plan assignment, additional bool, throttle int64) error {
	states, err := fetchPartitions(ctx, cl, plan.topics())
	if err != nil {
		return cf.explain(err)
	}
	cur, err := currentOf(states, plan)
	if err != nil {
		return err
	}
	if !additional {
		all, err := fetchPartitions(ctx, cl, nil)
		if err != nil {
			return cf.explain(err)
		}
		var busy []tp
		for p, s := range all {
			if s.reassigning() {
				busy = append(busy, p)
			}
		}
		if len(busy) > 0 {
			slices.SortFunc(busy, compareTP)
			return fmt.Errorf("reassignments are in progress (%s): wait until --verify reports them complete, or add --additional to start these as well", joinTPs(busy))
		}
	}
	fmt.Fprintf(out, "Current partition replica assignment (save it to roll back with --execute):\n\n%s\n\n", planJSON(cur))
	if throttle > 0 {
		if err := setThrottles(ctx, out, cf, adm, cur, plan, throttle); err != nil {
			return err
		}
	}
	ok, failed, err := alterAssignments(ctx, adm, plan)
	if err != nil {
		return cf.explain(err)
	}
	if len(ok) > 0 {
		fmt.Fprintf(out, "Started the reassignment of %s.\n", joinTPs(ok))
	}
	return reportFailed(errOut, "reassign", failed, len(plan))
}

// reportFailed prints each partition's error and returns an error counting
// them, or nil when there are none.
func reportFailed(errOut io.Writer, what string, failed map[tp]error, total int) error {
	if len(failed) == 0 {
		return nil
	}
	for _, p := range slices.SortedFunc(maps.Keys(failed), compareTP) {
		fmt.Fprintf(errOut, "Could not %s %s: %v\n", what, p, failed[p])
	}
	return fmt.Errorf("%d of %d partitions failed", len(failed), total)
}

// Reassignment statuses --verify reports.
const (
	reassignComplete   = "complete"
	reassignInProgress = "in_progress"
	reassignDiffers    = "differs"
	reassignMissing    = "missing"
)

// reassignStatus is one partition's line of --verify.
type reassignStatus struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Status    string  `json:"status"`
	Target    []int32 `json:"target"`
	Replicas  []int32 `json:"replicas"`
	Adding    []int32 `json:"adding_replicas"`
	Removing  []int32 `json:"removing_replicas"`
}

// verifyStatuses compares the plan with the cluster's partitions.
func verifyStatuses(plan assignment, states map[tp]partitionState) []reassignStatus {
	var out []reassignStatus
	for _, p := range plan.partitions() {
		s, ok := states[p]
		st := reassignStatus{Topic: p.Topic, Partition: p.Partition, Target: plan[p],
			Replicas: orEmpty(s.Replicas), Adding: orEmpty(s.Adding), Removing: orEmpty(s.Removing)}
		switch {
		case !ok:
			st.Status = reassignMissing
		case s.reassigning():
			st.Status = reassignInProgress
		case slices.Equal(s.Replicas, plan[p]):
			st.Status = reassignComplete
		default:
			st.Status = reassignDiffers
		}
		out = append(out, st)
	}
	return out
}

func orEmpty(ids []int32) []int32 {
	if ids == nil {
		return []int32{}
	}
	return ids
}

func verifyReassignment(ctx context.Context, out io.Writer, cf *clientFlags, cl *kgo.Client, adm *kadm.Client, plan assignment, jsonOut, preserveThrottles bool) error {
	// Every topic is asked for and the missing ones are reported per
	// partition, rather than the whole request failing on one.
	states, err := fetchPartitions(ctx, cl, nil)
	if err != nil {
		return cf.explain(err)
	}
	statuses := verifyStatuses(plan, states)
	pending := 0
	for _, s := range statuses {
		if s.Status != reassignComplete {
			pending++
		}
	}
	if jsonOut {
		if err := writeJSON(out, statuses); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(out, "Status of partition reassignment:")
		for _, s := range statuses {
			p := tp{s.Topic, s.Partition}
			switch s.Status {
			case reassignComplete:
				fmt.Fprintf(out, "Reassignment of partition %s is complete.\n", p)
			case reassignInProgress:
				fmt.Fprintf(out, "Reassignment of partition %s is still in progress (adding %s, removing %s).\n", p, idList(s.Adding), idList(s.Removing))
			case reassignMissing:
				fmt.Fprintf(out, "Partition %s does not exist.\n", p)
			default:
				fmt.Fprintf(out, "There is no reassignment of partition %s in progress, but its replicas are %s, not %s.\n", p, idList(s.Replicas), idList(s.Target))
			}
		}
	}
	if pending > 0 {
		return fmt.Errorf("%d of %d partitions do not have the plan's replicas yet", pending, len(statuses))
	}
	if preserveThrottles {
		return nil
	}
	// Complete: the throttles --execute --throttle set have done their work.
	msg := out
	if jsonOut {
		msg = io.Discard
	}
	return clearThrottles(ctx, msg, cf, cl, adm, plan)
}

func cancelReassignment(ctx context.Context, out, errOut io.Writer, cf *clientFlags, cl *kgo.Client, adm *kadm.Client, plan assignment, preserveThrottles bool) error {
	cancels := map[tp][]int32{}
	for p := range plan {
		cancels[p] = nil
	}
	ok, failed, err := alterAssignments(ctx, adm, cancels)
	if err != nil {
		return cf.explain(err)
	}
	var idle []tp
	for p, err := range failed {
		if errors.Is(err, kerr.NoReassignmentInProgress) {
			idle = append(idle, p)
			delete(failed, p)
		}
	}
	slices.SortFunc(idle, compareTP)
	if len(ok) > 0 {
		fmt.Fprintf(out, "Cancelled the reassignment of %s: each is back on the replicas it had before, "+
			"in the order the reassignment left them (--execute the assignment --execute printed to restore the order).\n", joinTPs(ok))
	}
	if len(idle) > 0 {
		fmt.Fprintf(out, "No reassignment of %s was in progress.\n", joinTPs(idle))
	}
	if err := reportFailed(errOut, "cancel the reassignment of", failed, len(plan)); err != nil {
		return err
	}
	if preserveThrottles {
		return nil
	}
	return clearThrottles(ctx, out, cf, cl, adm, plan)
}

// The replication throttles, as kafka-reassign-partitions.sh sets them: a
// rate on every broker a move involves, and on each topic the replicas it
// applies to: on the leader side the partition's current replicas (any may be
// the leader that sends), on the follower side the replicas being added (which
// fetch). Brokers apply them to replicas out of sync only, so the moves are
// slowed and the replication acknowledgements wait for is not.
const (
	leaderRateConfig       = "leader.replication.throttled.rate"
	followerRateConfig     = "follower.replication.throttled.rate"
	leaderReplicasConfig   = "leader.replication.throttled.replicas"
	followerReplicasConfig = "follower.replication.throttled.replicas"
)

// throttledReplicas returns, per topic, the leader-side and follower-side
// entries ("partition:broker") for the partitions the plan changes.
func throttledReplicas(cur, plan assignment) (leader, follower map[string][]string, brokers []int32) {
	leader, follower = map[string][]string{}, map[string][]string{}
	involved := map[int32]bool{}
	for _, p := range plan.partitions() {
		if slices.Equal(cur[p], plan[p]) {
			continue
		}
		for _, id := range cur[p] {
			leader[p.Topic] = append(leader[p.Topic], fmt.Sprintf("%d:%d", p.Partition, id))
			involved[id] = true
		}
		for _, id := range plan[p] {
			if !slices.Contains(cur[p], id) {
				follower[p.Topic] = append(follower[p.Topic], fmt.Sprintf("%d:%d", p.Partition, id))
			}
			involved[id] = true
		}
	}
	return leader, follower, slices.Sorted(maps.Keys(involved))
}

// mergeThrottled merges entries into a topic's current list: "*" stays.
func mergeThrottled(current string, entries []string) string {
	if strings.TrimSpace(current) == "*" {
		return "*"
	}
	var out []string
	for _, e := range strings.Split(current, ",") {
		if e = strings.TrimSpace(e); e != "" && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	for _, e := range entries {
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return strings.Join(out, ",")
}

// setThrottles sets the throttle rate on the brokers the plan involves and
// the throttled replicas on its topics, merged with what the topics list.
func setThrottles(ctx context.Context, out io.Writer, cf *clientFlags, adm *kadm.Client, cur, plan assignment, rate int64) error {
	leader, follower, brokers := throttledReplicas(cur, plan)
	if len(brokers) == 0 {
		return nil
	}
	topics := slices.Sorted(maps.Keys(leader))
	current := map[string]map[string]string{}
	rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return cf.explain(err)
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			return topicErr("describe the configs of topic "+rc.Name, rc.Err, rc.ErrMessage)
		}
		current[rc.Name] = map[string]string{}
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				current[rc.Name][c.Key] = c.MaybeValue()
			}
		}
	}
	for _, topic := range topics {
		l := mergeThrottled(current[topic][leaderReplicasConfig], leader[topic])
		f := mergeThrottled(current[topic][followerReplicasConfig], follower[topic])
		alters := []kadm.AlterConfig{
			{Op: kadm.SetConfig, Name: leaderReplicasConfig, Value: &l},
			{Op: kadm.SetConfig, Name: followerReplicasConfig, Value: &f},
		}
		if err := alterTopic(ctx, io.Discard, cf, adm, topic, alters, false); err != nil {
			return fmt.Errorf("throttle: %w", err)
		}
	}
	v := strconv.FormatInt(rate, 10)
	resps, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: leaderRateConfig, Value: &v},
		{Op: kadm.SetConfig, Name: followerRateConfig, Value: &v},
	}, brokers...)
	if err != nil {
		return cf.explain(err)
	}
	for _, r := range resps {
		if r.Err != nil {
			return topicErr("throttle: broker "+r.Name, r.Err, r.ErrMessage)
		}
	}
	fmt.Fprintf(out, "Throttled the moves' replication to %d bytes/s on brokers %s (topics %s); --verify removes the throttles once the moves are complete.\n",
		rate, idList(brokers), strings.Join(topics, ", "))
	return nil
}

// clearThrottles removes the throttle rates from every broker and the
// throttled replicas from the plan's topics, as Kafka's tool does once the
// moves are over. Nothing is printed when there was nothing to remove.
func clearThrottles(ctx context.Context, out io.Writer, cf *clientFlags, cl *kgo.Client, adm *kadm.Client, plan assignment) error {
	br, err := fetchBrokers(ctx, cl)
	if err != nil {
		return cf.explain(err)
	}
	brokers := slices.Sorted(maps.Keys(br.live))
	var throttledBrokers, throttledTopics []string
	rcs, err := adm.DescribeBrokerConfigs(ctx, brokers...)
	if err != nil {
		return cf.explain(err)
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if (c.Key == leaderRateConfig || c.Key == followerRateConfig) && c.Source == kmsg.ConfigSourceDynamicBrokerConfig && !slices.Contains(throttledBrokers, rc.Name) {
				throttledBrokers = append(throttledBrokers, rc.Name)
			}
		}
	}
	trcs, err := adm.DescribeTopicConfigs(ctx, plan.topics()...)
	if err != nil {
		return cf.explain(err)
	}
	for _, rc := range trcs {
		for _, c := range rc.Configs {
			if (c.Key == leaderReplicasConfig || c.Key == followerReplicasConfig) && c.Source == kmsg.ConfigSourceDynamicTopicConfig && !slices.Contains(throttledTopics, rc.Name) {
				throttledTopics = append(throttledTopics, rc.Name)
			}
		}
	}
	for _, topic := range throttledTopics {
		alters := []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: leaderReplicasConfig}, {Op: kadm.DeleteConfig, Name: followerReplicasConfig}}
		if err := alterTopic(ctx, io.Discard, cf, adm, topic, alters, false); err != nil {
			return fmt.Errorf("remove the throttle: %w", err)
		}
	}
	var ids []int32
	for _, name := range throttledBrokers {
		id, err := strconv.ParseInt(name, 10, 32)
		if err == nil {
			ids = append(ids, int32(id))
		}
	}
	if len(ids) > 0 {
		resps, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: leaderRateConfig}, {Op: kadm.DeleteConfig, Name: followerRateConfig}}, ids...)
		if err != nil {
			return cf.explain(err)
		}
		for _, r := range resps {
			if r.Err != nil {
				return topicErr("remove the throttle: broker "+r.Name, r.Err, r.ErrMessage)
			}
		}
	}
	if len(ids)+len(throttledTopics) > 0 {
		slices.Sort(ids)
		fmt.Fprintf(out, "Removed the replication throttles (brokers %s, topics %s).\n", idList(ids), dash(strings.Join(throttledTopics, ", ")))
	}
	return nil
}

// brokerRacks lists the registered brokers: whether each is live (unfenced),
// and its rack ("" for none).
type brokerRacks struct {
	live  map[int32]bool
	racks map[int32]string
}

func fetchBrokers(ctx context.Context, cl *kgo.Client) (brokerRacks, error) {
	cb, err := describeCluster(ctx, cl)
	if err != nil {
		return brokerRacks{}, err
	}
	out := brokerRacks{live: map[int32]bool{}, racks: map[int32]string{}}
	for _, b := range cb.Brokers {
		out.live[b.NodeID] = !b.Fenced
		out.racks[b.NodeID] = deref(b.Rack)
	}
	return out, nil
}

// generateOutput is what --generate --json prints.
type generateOutput struct {
	Current  reassignmentFile `json:"current"`
	Proposed reassignmentFile `json:"proposed"`
}

func generateReassignment(ctx context.Context, out io.Writer, cf *clientFlags, cl *kgo.Client, topics []string, brokers []int32, rackAware bool, jsonOut bool) error {
	br, err := fetchBrokers(ctx, cl)
	if err != nil {
		return cf.explain(err)
	}
	for _, id := range brokers {
		if _, ok := br.live[id]; !ok {
			return fmt.Errorf("--broker-list: broker %d is not registered", id)
		}
	}
	states, err := fetchPartitions(ctx, cl, topics)
	if err != nil {
		return cf.explain(err)
	}
	cur := assignment{}
	for p, s := range states {
		cur[p] = s.target()
	}
	var racks map[int32]string
	if rackAware {
		racks = br.racks
	}
	proposed, err := planMoves(cur, brokers, racks)
	if err != nil {
		return err
	}
	before := assignment{}
	for p := range proposed {
		before[p] = cur[p]
	}
	if jsonOut {
		var g generateOutput
		for _, x := range []struct {
			a   assignment
			dst *reassignmentFile
		}{{before, &g.Current}, {proposed, &g.Proposed}} {
			if err := json.Unmarshal([]byte(planJSON(x.a)), x.dst); err != nil {
				return err
			}
		}
		return writeJSON(out, g)
	}
	if len(proposed) == 0 {
		fmt.Fprintf(out, "The partitions of %s are already spread over brokers %s: nothing to move.\n", strings.Join(topics, ", "), idList(brokers))
		return nil
	}
	fmt.Fprintf(out, "Current partition replica assignment\n%s\n\nProposed partition reassignment configuration\n%s\n", planJSON(before), planJSON(proposed))
	return nil
}

// planMoves proposes new replicas for the partitions of cur so that they all
// sit on brokers, keeping each partition's replica count, and returns the
// partitions whose replicas change. It moves as few replicas as it can:
//
//  1. a replica on a broker outside brokers moves to the listed broker with
//     the fewest replicas that the partition does not use yet, preferring
//     one whose rack the partition does not use yet;
//  2. while one listed broker holds two replicas more than another, a
//     replica moves from the most to the least loaded, from a partition whose
//     racks it does not make fewer;
//  3. while one broker is the preferred leader (first replica) of two
//     partitions more than another that is a replica of one of them, the two
//     swap places in that partition's list.
//
// racks maps broker ids to racks; nil, or every rack empty, ignores racks. A
// broker without a rack counts as a rack of its own.
func planMoves(cur assignment, brokers []int32, racks map[int32]string) (assignment, error) {
	pl := newPlacer(cur, brokers, racks)
	parts := cur.partitions()
	for _, p := range parts {
		if n := len(cur[p]); n > len(brokers) {
			return nil, fmt.Errorf("%s has %d replicas and only %d brokers are listed: a broker holds one replica of a partition at most", p, n, len(brokers))
		}
	}
	// 1. Off the brokers that are not listed.
	for _, p := range parts {
		for i, id := range pl.next[p] {
			if slices.Contains(brokers, id) {
				continue
			}
			to, ok := pl.best(p, i, brokers)
			if !ok {
				return nil, fmt.Errorf("%s: no listed broker left for replica %d", p, id)
			}
			pl.move(p, i, to)
		}
	}
	// 2. Spread replicas. Each move lowers the sum of squared loads, so the
	// loop ends.
	for pl.spreadOnce(parts, brokers) {
	}
	// 3. Spread preferred leaders, by swaps within a partition (no data moves).
	for pl.spreadLeadersOnce(parts, brokers) {
	}
	out := assignment{}
	for _, p := range parts {
		if !slices.Equal(pl.next[p], cur[p]) {
			out[p] = pl.next[p]
		}
	}
	return out, nil
}

// placer holds a proposed assignment and each broker's load in it.
type placer struct {
	next    assignment
	racks   map[int32]string // nil: rack-unaware
	load    map[int32]int    // replicas per broker
	leaders map[int32]int    // first replicas per broker
}

func newPlacer(cur assignment, brokers []int32, racks map[int32]string) *placer {
	pl := &placer{next: assignment{}, load: map[int32]int{}, leaders: map[int32]int{}}
	for _, id := range brokers {
		if racks[id] != "" {
			pl.racks = racks
		}
		pl.load[id] = 0
		pl.leaders[id] = 0
	}
	for p, replicas := range cur {
		pl.next[p] = slices.Clone(replicas)
		for i, id := range replicas {
			pl.load[id]++
			if i == 0 {
				pl.leaders[id]++
			}
		}
	}
	return pl
}

// rackOf returns a broker's rack; without one, a rack of its own.
func (pl *placer) rackOf(id int32) string {
	if r := pl.racks[id]; r != "" {
		return r
	}
	return "\x00" + strconv.Itoa(int(id))
}

// rackUsed reports whether a replica of p other than the one at skip sits in
// the rack of id.
func (pl *placer) rackUsed(p tp, skip int, id int32) bool {
	if pl.racks == nil {
		return false
	}
	for i, r := range pl.next[p] {
		if i != skip && pl.rackOf(r) == pl.rackOf(id) {
			return true
		}
	}
	return false
}

// distinctRacks counts the racks p's replicas span.
func (pl *placer) distinctRacks(replicas []int32) int {
	set := map[string]bool{}
	for _, r := range replicas {
		set[pl.rackOf(r)] = true
	}
	return len(set)
}

// best picks the broker of candidates to take p's replica at position i: one
// that is not a replica of p, in a rack p does not use if there is one, then
// (for the first replica) the fewest preferred leaderships, then the fewest
// replicas, then the lowest id.
func (pl *placer) best(p tp, i int, candidates []int32) (int32, bool) {
	type key struct{ rackUsed, leaders, load int }
	var bestID int32
	var bestKey key
	found := false
	for _, c := range candidates {
		if slices.Contains(pl.next[p], c) {
			continue
		}
		k := key{load: pl.load[c]}
		if pl.rackUsed(p, i, c) {
			k.rackUsed = 1
		}
		if i == 0 {
			k.leaders = pl.leaders[c]
		}
		better := !found || k.rackUsed < bestKey.rackUsed ||
			k.rackUsed == bestKey.rackUsed && (k.leaders < bestKey.leaders ||
				k.leaders == bestKey.leaders && (k.load < bestKey.load || k.load == bestKey.load && c < bestID))
		if better {
			bestID, bestKey, found = c, k, true
		}
	}
	return bestID, found
}

// move puts broker to in p's position i.
func (pl *placer) move(p tp, i int, to int32) {
	from := pl.next[p][i]
	pl.load[from]--
	pl.load[to]++
	if i == 0 {
		pl.leaders[from]--
		pl.leaders[to]++
	}
	pl.next[p][i] = to
}

// byLoad returns brokers ordered by count, fewest first, then by id.
func byLoad(brokers []int32, count map[int32]int) []int32 {
	out := slices.Clone(brokers)
	slices.SortFunc(out, func(a, b int32) int { return cmp.Or(cmp.Compare(count[a], count[b]), cmp.Compare(a, b)) })
	return out
}

// spreadOnce makes one move from a broker holding at least two replicas more
// than another, and reports whether it found one.
func (pl *placer) spreadOnce(parts []tp, brokers []int32) bool {
	order := byLoad(brokers, pl.load)
	for hi := len(order) - 1; hi >= 0; hi-- {
		for lo := 0; lo < hi; lo++ {
			from, to := order[hi], order[lo]
			if pl.load[from]-pl.load[to] < 2 {
				break
			}
			for _, p := range parts {
				i := slices.Index(pl.next[p], from)
				if i < 0 || slices.Contains(pl.next[p], to) {
					continue
				}
				after := slices.Clone(pl.next[p])
				after[i] = to
				if pl.distinctRacks(after) < pl.distinctRacks(pl.next[p]) {
					continue
				}
				pl.move(p, i, to)
				return true
			}
		}
	}
	return false
}

// spreadLeadersOnce swaps a partition's first replica with another of its
// replicas that leads at least two partitions fewer, and reports whether it
// found one.
func (pl *placer) spreadLeadersOnce(parts []tp, brokers []int32) bool {
	order := byLoad(brokers, pl.leaders)
	for hi := len(order) - 1; hi >= 0; hi-- {
		for lo := 0; lo < hi; lo++ {
			from, to := order[hi], order[lo]
			if pl.leaders[from]-pl.leaders[to] < 2 {
				break
			}
			for _, p := range parts {
				rs := pl.next[p]
				j := slices.Index(rs, to)
				if rs[0] != from || j < 0 {
					continue
				}
				rs[0], rs[j] = to, from
				pl.leaders[from]--
				pl.leaders[to]++
				return true
			}
		}
	}
	return false
}

// Election types, as kafka-leader-election.sh names them.
const (
	electPreferred = "PREFERRED"
	electUnclean   = "UNCLEAN"
)

// electResult is one partition's line of elect-leaders --json.
type electResult struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Result is "elected", "not_needed" (the leader was already the one the
	// election would pick) or "failed".
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// parseElectionFile reads kafka-leader-election.sh's JSON:
// {"partitions":[{"topic":"t","partition":0}]}.
func parseElectionFile(data []byte) ([]tp, error) {
	var f struct {
		Partitions []struct {
			Topic     string `json:"topic"`
			Partition *int32 `json:"partition"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not an election file (%v); want {\"partitions\":[{\"topic\":\"t\",\"partition\":0}]}", err)
	}
	var out []tp
	for i, e := range f.Partitions {
		if e.Topic == "" || e.Partition == nil || *e.Partition < 0 {
			return nil, fmt.Errorf("entry %d: want a topic and a partition", i)
		}
		p := tp{e.Topic, *e.Partition}
		if slices.Contains(out, p) {
			return nil, fmt.Errorf("%s is listed twice", p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("the file lists no partitions")
	}
	return out, nil
}

func (a *app) partitionsElectLeadersCmd() *cobra.Command {
	var (
		electionType, topic, pathFile string
		partition                     int32
		all, jsonOut                  bool
	)
	cmd := &cobra.Command{
		Use:   "elect-leaders --election-type preferred|unclean (--topic T [--partition P] | --all-topic-partitions | --path-to-json-file FILE)",
		Short: "Move partition leaderships to their preferred replicas, or elect leaders of leaderless partitions uncleanly",
		Long: `Run leader elections, as kafka-leader-election.sh does.

preferred moves each partition's leadership to its preferred replica (the first
of its replicas) when that replica is live and in sync. Brokers do this by
themselves with auto.leader.rebalance.enable (every
leader.imbalance.check.interval.seconds, for brokers whose share of partitions
led by another exceeds leader.imbalance.per.broker.percentage).

unclean gives a partition that has no live leader its first live replica, in
sync or not: records that replica had not copied are lost. Use it only to bring
back a partition whose in-sync replicas are all gone for good.

Name the partitions with --topic and --partition (every partition of the topic
without --partition), with --all-topic-partitions, or with
--path-to-json-file ({"partitions":[{"topic":"orders","partition":0}]}, - for
standard input). A partition whose leader is already the one the election would
pick is not an error. The exit status is 1 if any election failed.`,
		Example: `  sluice partitions elect-leaders --election-type preferred --all-topic-partitions
  sluice partitions elect-leaders --election-type preferred --topic orders --partition 0
  sluice partitions elect-leaders --election-type unclean --path-to-json-file partitions.json`,
		Args: cobra.NoArgs,
	}
	cf := a.addClientFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&electionType, "election-type", "", "preferred or unclean (required)")
	fl.StringVar(&topic, "topic", "", "the topic whose partitions to elect leaders of")
	fl.Int32Var(&partition, "partition", -1, "with --topic: the partition (every partition of the topic without it)")
	fl.BoolVar(&all, "all-topic-partitions", false, "every partition of every topic")
	fl.StringVar(&pathFile, "path-to-json-file", "", "the partitions, as {\"partitions\":[{\"topic\":\"t\",\"partition\":0}]}")
	fl.BoolVar(&jsonOut, "json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		how := strings.ToUpper(electionType)
		var kind int8
		switch how {
		case electPreferred:
		case electUnclean:
			kind = 1
		case "":
			return errors.New("--election-type is required: preferred or unclean")
		default:
			return fmt.Errorf("--election-type %q: want preferred or unclean", electionType)
		}
		given := 0
		for _, b := range []bool{topic != "", all, pathFile != ""} {
			if b {
				given++
			}
		}
		if given != 1 {
			return errors.New("name the partitions with one of --topic, --all-topic-partitions or --path-to-json-file")
		}
		if cmd.Flags().Changed("partition") && (topic == "" || partition < 0) {
			return errors.New("--partition goes with --topic, and must be 0 or more")
		}
		var parts []tp
		if pathFile != "" {
			b, err := readInput(cmd, "--path-to-json-file", pathFile)
			if err != nil {
				return err
			}
			if parts, err = parseElectionFile(b); err != nil {
				return fmt.Errorf("--path-to-json-file: %w", err)
			}
		}
		ctx, stop := signalContext(cmd)
		defer stop()
		cl, _, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		if topic != "" {
			if partition >= 0 {
				parts = []tp{{topic, partition}}
			} else {
				states, err := fetchPartitions(ctx, cl, []string{topic})
				if err != nil {
					return cf.explain(err)
				}
				parts = slices.SortedFunc(maps.Keys(states), compareTP)
			}
		}
		results, err := electLeaders(ctx, cl, kind, parts, all)
		if err != nil {
			return cf.explain(err)
		}
		out := cmd.OutOrStdout()
		if jsonOut {
			if err := writeJSON(out, results); err != nil {
				return err
			}
		}
		var elected, notNeeded []tp
		failed := 0
		for _, r := range results {
			p := tp{r.Topic, r.Partition}
			switch r.Result {
			case "elected":
				elected = append(elected, p)
			case "not_needed":
				notNeeded = append(notNeeded, p)
			default:
				failed++
				if !jsonOut {
					fmt.Fprintf(cmd.ErrOrStderr(), "Could not elect a leader (%s) for %s: %s\n", how, p, r.Error)
				}
			}
		}
		if !jsonOut {
			if len(elected) > 0 {
				fmt.Fprintf(out, "Completed the leader election (%s) for %s.\n", how, strings.ReplaceAll(joinTPs(elected), ",", ", "))
			}
			if len(notNeeded) > 0 {
				fmt.Fprintf(out, "The leader is already the one the election would pick for %s.\n", strings.ReplaceAll(joinTPs(notNeeded), ",", ", "))
			}
			if len(results) == 0 {
				fmt.Fprintln(out, "No partition needed an election.")
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d elections failed", failed, len(results))
		}
		return nil
	}
	return cmd
}

// electLeaders sends ElectLeaders for parts, or every partition with all
// (the brokers then leave out those that needed no election), and returns a
// result per partition, in order.
func electLeaders(ctx context.Context, cl *kgo.Client, kind int8, parts []tp, all bool) ([]electResult, error) {
	req := kmsg.NewPtrElectLeadersRequest()
	req.ElectionType = kind
	if !all {
		req.Topics = []kmsg.ElectLeadersRequestTopic{}
		byTopic := map[string][]int32{}
		for _, p := range parts {
			byTopic[p.Topic] = append(byTopic[p.Topic], p.Partition)
		}
		for _, name := range slices.Sorted(maps.Keys(byTopic)) {
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic, rt.Partitions = name, byTopic[name]
			req.Topics = append(req.Topics, rt)
		}
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if kind == 1 && resp.Version == 0 {
		return nil, errors.New("the broker only knows preferred elections (ElectLeaders v0)")
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, err
	}
	out := []electResult{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			r := electResult{Topic: t.Topic, Partition: p.Partition, Result: "elected"}
			if err := kerr.ErrorForCode(p.ErrorCode); errors.Is(err, kerr.ElectionNotNeeded) {
				r.Result = "not_needed"
			} else if err != nil {
				r.Result, r.Error = "failed", brokerErr(err, deref(p.ErrorMessage)).Error()
			}
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b electResult) int { return compareTP(tp{a.Topic, a.Partition}, tp{b.Topic, b.Partition}) })
	return out, nil
}
