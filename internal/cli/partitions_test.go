package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParsePlan(t *testing.T) {
	got, err := parsePlan([]byte(`{"version":1,"partitions":[
		{"topic":"b","partition":1,"replicas":[3,1]},
		{"topic":"a","partition":0,"replicas":[2,3,4],"log_dirs":["any","any","any"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := assignment{{"a", 0}: {2, 3, 4}, {"b", 1}: {3, 1}}
	if len(got) != len(want) || !slices.Equal(got[tp{"a", 0}], want[tp{"a", 0}]) || !slices.Equal(got[tp{"b", 1}], want[tp{"b", 1}]) {
		t.Errorf("parsed %v, want %v", got, want)
	}
	// What --generate and --execute print reads back as the same plan.
	again, err := parsePlan([]byte(planJSON(got)))
	if err != nil || planJSON(again) != planJSON(got) {
		t.Errorf("round trip: %v, %v", planJSON(again), err)
	}
	if s := planJSON(got); s != `{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[2,3,4]},{"topic":"b","partition":1,"replicas":[3,1]}]}` {
		t.Errorf("planJSON: %s", s)
	}

	for _, tc := range []struct{ in, want string }{
		{`{"partitions":[{"topic":"a","partition":0,"replicas":[1]}]}`, ""}, // version may be left out
		{`not json`, "not a reassignment plan"},
		{`{"version":2,"partitions":[{"topic":"a","partition":0,"replicas":[1]}]}`, "version 2"},
		{`{"version":1,"partitions":[]}`, "no partitions"},
		{`{"version":1,"partitions":[{"partition":0,"replicas":[1]}]}`, "no topic"},
		{`{"version":1,"partitions":[{"topic":"a","partition":-1,"replicas":[1]}]}`, "0 or more"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[]}]}`, "no replicas"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1,1]}]}`, "listed twice"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1]},{"topic":"a","partition":0,"replicas":[2]}]}`, "a-0 is listed twice"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1,2],"log_dirs":["any"]}]}`, "1 log_dirs for 2"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1],"log_dirs":["/data"]}]}`, "log directory"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replica":[1]}]}`, "unknown field"},
	} {
		_, err := parsePlan([]byte(tc.in))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want an error with %q", tc.in, err, tc.want)
		}
	}
}

func TestParseTopicsAndElectionFiles(t *testing.T) {
	topics, err := parseTopicsToMove([]byte(`{"version":1,"topics":[{"topic":"b"},{"topic":"a"},{"topic":"b"}]}`))
	if err != nil || !slices.Equal(topics, []string{"b", "a"}) {
		t.Errorf("topics %v, %v", topics, err)
	}
	for _, in := range []string{`{"topics":[]}`, `{"topics":[{"name":"a"}]}`, `{"version":3,"topics":[{"topic":"a"}]}`, `[]`} {
		if _, err := parseTopicsToMove([]byte(in)); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
	parts, err := parseElectionFile([]byte(`{"partitions":[{"topic":"a","partition":1},{"topic":"a","partition":0}]}`))
	if err != nil || !slices.Equal(parts, []tp{{"a", 1}, {"a", 0}}) {
		t.Errorf("election file %v, %v", parts, err)
	}
	for _, in := range []string{`{"partitions":[]}`, `{"partitions":[{"topic":"a"}]}`, `{"partitions":[{"topic":"a","partition":0},{"topic":"a","partition":0}]}`} {
		if _, err := parseElectionFile([]byte(in)); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
	if ids, err := parseBrokerList(" 3, 1,2 "); err != nil || !slices.Equal(ids, []int32{3, 1, 2}) {
		t.Errorf("broker list %v, %v", ids, err)
	}
	for _, in := range []string{"", "1,x", "1,1", "-2"} {
		if _, err := parseBrokerList(in); err == nil {
			t.Errorf("--broker-list %q: no error", in)
		}
	}
}

// uniform builds n partitions of topic t, partition p on replicas(p).
func uniform(t string, n int, replicas func(p int) []int32) assignment {
	a := assignment{}
	for p := range n {
		a[tp{t, int32(p)}] = replicas(p)
	}
	return a
}

// loads counts replicas and first replicas per broker in a after the plan.
func loads(cur, plan assignment) (replicas, leaders map[int32]int) {
	replicas, leaders = map[int32]int{}, map[int32]int{}
	for p, rs := range cur {
		if np, ok := plan[p]; ok {
			rs = np
		}
		for i, id := range rs {
			replicas[id]++
			if i == 0 {
				leaders[id]++
			}
		}
	}
	return replicas, leaders
}

// spread returns the largest difference between two brokers' counts.
func spread(counts map[int32]int, brokers []int32) int {
	lo, hi := 1<<30, -1
	for _, b := range brokers {
		lo, hi = min(lo, counts[b]), max(hi, counts[b])
	}
	return hi - lo
}

func checkValid(t *testing.T, cur, plan assignment, brokers []int32) {
	t.Helper()
	for p, rs := range plan {
		if len(rs) != len(cur[p]) {
			t.Errorf("%s: %v has %d replicas, had %d", p, rs, len(rs), len(cur[p]))
		}
		for i, id := range rs {
			if !slices.Contains(brokers, id) || slices.Contains(rs[:i], id) {
				t.Errorf("%s: replicas %v, want distinct brokers of %v", p, rs, brokers)
			}
		}
	}
}

func TestPlanMovesOntoNewBroker(t *testing.T) {
	// 8 partitions on brokers 1-3, RF 3: broker 4 joins.
	cur := uniform("t", 8, func(p int) []int32 { return []int32{int32(p%3 + 1), int32((p+1)%3 + 1), int32((p+2)%3 + 1)} })
	brokers := []int32{1, 2, 3, 4}
	plan, err := planMoves(cur, brokers, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkValid(t, cur, plan, brokers)
	replicas, leaders := loads(cur, plan)
	if spread(replicas, brokers) > 1 || spread(leaders, brokers) > 1 {
		t.Errorf("replicas %v, leaders %v: want each within one of the others", replicas, leaders)
	}
	// Only 6 of 24 replicas must move; a few more for the leaders' sake is fine,
	// moving everything is not.
	moved := 0
	for p, rs := range plan {
		for _, id := range rs {
			if !slices.Contains(cur[p], id) {
				moved++
			}
		}
	}
	if moved != 6 {
		t.Errorf("%d replicas moved, want 6 (24 replicas over 4 brokers)", moved)
	}
	// Balanced already: nothing to move.
	again := assignment{}
	for p, rs := range cur {
		again[p] = rs
	}
	for p, rs := range plan {
		again[p] = rs
	}
	if more, err := planMoves(again, brokers, nil); err != nil || len(more) != 0 {
		t.Errorf("replanning a balanced assignment: %v, %v", more, err)
	}
}

func TestPlanMovesOffBroker(t *testing.T) {
	// {1,2,3} to {2,3,4}, the example.
	cur := uniform("t", 3, func(p int) []int32 { return []int32{int32(p%3 + 1), int32((p+1)%3 + 1), int32((p+2)%3 + 1)} })
	plan, err := planMoves(cur, []int32{2, 3, 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkValid(t, cur, plan, []int32{2, 3, 4})
	for p, rs := range plan {
		// Broker 4 takes broker 1's place; 2 and 3 stay.
		want := slices.Clone(cur[p])
		want[slices.Index(want, 1)] = 4
		if !slices.Equal(rs, want) {
			t.Errorf("%s: %v, want %v", p, rs, want)
		}
	}
	if len(plan) != 3 {
		t.Errorf("plan %v: want every partition moved", plan)
	}
	if _, err := planMoves(cur, []int32{2, 3}, nil); err == nil || !strings.Contains(err.Error(), "3 replicas and only 2 brokers") {
		t.Errorf("RF 3 on 2 brokers: %v", err)
	}
}

func TestPlanMovesRackAware(t *testing.T) {
	racks := map[int32]string{1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "c"}
	// RF 2 on brokers 1 and 2, both in rack a: each partition must end up in two racks.
	cur := uniform("t", 6, func(p int) []int32 { return []int32{int32(p%2 + 1), int32((p+1)%2 + 1)} })
	brokers := []int32{1, 2, 3, 4, 5, 6}
	plan, err := planMoves(cur, brokers, racks)
	if err != nil {
		t.Fatal(err)
	}
	checkValid(t, cur, plan, brokers)
	replicas, _ := loads(cur, plan)
	if spread(replicas, brokers) > 1 {
		t.Errorf("replicas %v: want them spread", replicas)
	}
	// Spreading moves one replica of most partitions off rack a; none may end
	// with both replicas in one rack unless it already was (the planner never
	// makes a partition span fewer racks).
	for p, rs := range plan {
		if racks[rs[0]] == racks[rs[1]] {
			t.Errorf("%s: replicas %v in one rack", p, rs)
		}
	}
	// Off rack a with racks: the replacement goes to another rack than the
	// remaining replica.
	cur = assignment{{"t", 0}: {1, 3}}
	plan, err = planMoves(cur, []int32{3, 4, 5}, racks)
	if err != nil || !slices.Equal(plan[tp{"t", 0}], []int32{5, 3}) {
		t.Errorf("off broker 1: %v, %v; want [5 3] (rack c, not b)", plan, err)
	}
	// Without racks, the least loaded: 4.
	plan, err = planMoves(cur, []int32{3, 4, 5}, nil)
	if err != nil || !slices.Equal(plan[tp{"t", 0}], []int32{4, 3}) {
		t.Errorf("off broker 1, rack-unaware: %v, %v; want [4 3]", plan, err)
	}
}

func TestPlanDecommission(t *testing.T) {
	racks := map[int32]string{1: "a", 2: "b", 3: "c", 4: "a"}
	states := map[tp]partitionState{}
	// 8 partitions of RF 2 over 1-4, and one in the middle of a reassignment
	// from [1 2] to [4 2] (4 being added): its target holds 4.
	for p := range 8 {
		states[tp{"t", int32(p)}] = partitionState{Replicas: []int32{int32(p%4 + 1), int32((p+1)%4 + 1)}}
	}
	states[tp{"m", 0}] = partitionState{Replicas: []int32{4, 2, 1}, Adding: []int32{4}, Removing: []int32{1}}
	plan, err := planDecommission(states, 4, []int32{1, 2, 3}, racks)
	if err != nil {
		t.Fatal(err)
	}
	for p, s := range states {
		tgt := s.target()
		rs, moved := plan[p]
		if slices.Contains(tgt, 4) != moved {
			t.Errorf("%s (target %v): planned %v", p, tgt, rs)
		}
		if !moved {
			continue
		}
		i := slices.Index(tgt, 4)
		for j := range tgt {
			if j != i && rs[j] != tgt[j] {
				t.Errorf("%s: %v from %v moved more than broker 4's replica", p, rs, tgt)
			}
		}
		if slices.Contains(rs, 4) || slices.Contains(rs[:i], rs[i]) || slices.Contains(rs[i+1:], rs[i]) {
			t.Errorf("%s: %v", p, rs)
		}
		// Rack a holds broker 1 only, once 4 is gone: the replacement avoids
		// the rack the other replica is in whenever another is free.
		other := tgt[1-i]
		if racks[rs[i]] == racks[other] {
			t.Errorf("%s: %v puts both replicas in rack %s", p, rs, racks[other])
		}
	}
	if len(plan) != 5 {
		t.Errorf("plan %v: want the 5 partitions whose target holds broker 4", plan)
	}
	// RF 3 with 2 other live brokers: the replica has nowhere to go.
	states = map[tp]partitionState{{"x", 0}: {Replicas: []int32{1, 2, 4}}}
	if _, err := planDecommission(states, 4, []int32{1, 2}, nil); err == nil || !strings.Contains(err.Error(), "no live broker") {
		t.Errorf("no broker free: %v", err)
	}
}

func TestVerifyStatuses(t *testing.T) {
	plan := assignment{{"t", 0}: {2, 3, 4}, {"t", 1}: {2, 3, 4}, {"t", 2}: {2, 3, 4}, {"gone", 0}: {1}}
	states := map[tp]partitionState{
		{"t", 0}: {Replicas: []int32{2, 3, 4}},
		{"t", 1}: {Replicas: []int32{2, 3, 4, 1}, Adding: []int32{4}, Removing: []int32{1}},
		{"t", 2}: {Replicas: []int32{3, 2, 4}},
	}
	got := map[string]string{}
	for _, s := range verifyStatuses(plan, states) {
		got[tp{s.Topic, s.Partition}.String()] = s.Status
	}
	want := map[string]string{"t-0": reassignComplete, "t-1": reassignInProgress, "t-2": reassignDiffers, "gone-0": reassignMissing}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
}

// partitionsRun runs `sluice ARGS -b addr` and returns its output.
func partitionsRun(t *testing.T, addr string, args ...string) (string, string, error) {
	t.Helper()
	var o, e bytes.Buffer
	root := newRoot(&app{stdout: &o, stderr: &e})
	root.SetArgs(append(args, "-b", addr, "--timeout", "20s"))
	err := root.ExecuteContext(context.Background())
	return o.String(), e.String(), err
}

// TestReassignSingleNode drives the commands against one broker: a plan to
// the same broker completes at once; one to a broker that does not exist is
// refused per partition; --verify and --cancel report what they find.
func TestReassignSingleNode(t *testing.T) {
	addr := grpStartBroker(t)
	if out, errOut, err := partitionsRun(t, addr, "topics", "create", "moved", "--partitions", "2", "--replication-factor", "1"); err != nil {
		t.Fatalf("%v\n%s%s", err, out, errOut)
	}
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{"version":1,"partitions":[{"topic":"moved","partition":0,"replicas":[1]},{"topic":"moved","partition":1,"replicas":[1]}]}`)
	out, errOut, err := partitionsRun(t, addr, "partitions", "reassign", "--execute", "--reassignment-json-file", good)
	if err != nil {
		t.Fatalf("execute: %v\n%s%s", err, out, errOut)
	}
	for _, want := range []string{`{"version":1,"partitions":[{"topic":"moved","partition":0,"replicas":[1]},{"topic":"moved","partition":1,"replicas":[1]}]}`, "Started the reassignment of moved-0,moved-1."} {
		if !strings.Contains(out, want) {
			t.Errorf("execute printed:\n%s\nwant %q", out, want)
		}
	}
	out, _, err = partitionsRun(t, addr, "partitions", "reassign", "--verify", "--reassignment-json-file", good)
	if err != nil || !strings.Contains(out, "Reassignment of partition moved-0 is complete.") || !strings.Contains(out, "moved-1 is complete") {
		t.Errorf("verify: %v\n%s", err, out)
	}
	out, _, err = partitionsRun(t, addr, "partitions", "reassign", "--cancel", "--reassignment-json-file", good)
	if err != nil || !strings.Contains(out, "No reassignment of moved-0,moved-1 was in progress.") {
		t.Errorf("cancel with none in progress: %v\n%s", err, out)
	}

	bad := write("bad.json", `{"version":1,"partitions":[{"topic":"moved","partition":0,"replicas":[7]}]}`)
	_, errOut, err = partitionsRun(t, addr, "partitions", "reassign", "--execute", "--reassignment-json-file", bad)
	if err == nil || !strings.Contains(errOut, "Could not reassign moved-0") || !strings.Contains(errOut, "INVALID_REPLICA_ASSIGNMENT") {
		t.Errorf("execute to broker 7: %v\n%s", err, errOut)
	}
	out, _, err = partitionsRun(t, addr, "partitions", "reassign", "--verify", "--reassignment-json-file", bad, "--json")
	var statuses []reassignStatus
	if jerr := json.Unmarshal([]byte(out), &statuses); err == nil || jerr != nil || len(statuses) != 1 || statuses[0].Status != reassignDiffers ||
		!slices.Equal(statuses[0].Replicas, []int32{1}) {
		t.Errorf("verify of a plan not carried out: %v\n%s", err, out)
	}
	missing := write("missing.json", `{"version":1,"partitions":[{"topic":"nope","partition":0,"replicas":[1]}]}`)
	if _, _, err := partitionsRun(t, addr, "partitions", "reassign", "--execute", "--reassignment-json-file", missing); err == nil || !strings.Contains(err.Error(), "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Errorf("execute on a missing topic: %v", err)
	}

	topics := write("topics.json", `{"version":1,"topics":[{"topic":"moved"}]}`)
	out, _, err = partitionsRun(t, addr, "partitions", "reassign", "--generate", "--topics-to-move-json-file", topics, "--broker-list", "1")
	if err != nil || !strings.Contains(out, "nothing to move") {
		t.Errorf("generate onto the broker it is on: %v\n%s", err, out)
	}
	if _, _, err := partitionsRun(t, addr, "partitions", "reassign", "--generate", "--topics-to-move-json-file", topics, "--broker-list", "1,9"); err == nil || !strings.Contains(err.Error(), "broker 9 is not registered") {
		t.Errorf("generate onto an unknown broker: %v", err)
	}
	for _, args := range [][]string{
		{"--reassignment-json-file", good},
		{"--execute", "--verify", "--reassignment-json-file", good},
		{"--execute"},
		{"--generate", "--topics-to-move-json-file", topics},
	} {
		if _, _, err := partitionsRun(t, addr, append([]string{"partitions", "reassign"}, args...)...); err == nil {
			t.Errorf("reassign %v: no error", args)
		}
	}
}

// TestElectLeadersSingleNode: the one broker leads every partition, which is
// its preferred leader; no election is needed, and none fails.
func TestElectLeadersSingleNode(t *testing.T) {
	addr := grpStartBroker(t)
	if _, _, err := partitionsRun(t, addr, "topics", "create", "led", "--partitions", "2", "--replication-factor", "1"); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := partitionsRun(t, addr, "partitions", "elect-leaders", "--election-type", "preferred", "--topic", "led")
	if err != nil || !strings.Contains(out, "already the one the election would pick for led-0, led-1") {
		t.Errorf("preferred on led: %v\n%s%s", err, out, errOut)
	}
	out, _, err = partitionsRun(t, addr, "partitions", "elect-leaders", "--election-type", "PREFERRED", "--all-topic-partitions")
	if err != nil || !strings.Contains(out, "No partition needed an election.") {
		t.Errorf("preferred on all: %v\n%s", err, out)
	}
	out, _, err = partitionsRun(t, addr, "partitions", "elect-leaders", "--election-type", "unclean", "--topic", "led", "--partition", "1", "--json")
	var results []electResult
	if jerr := json.Unmarshal([]byte(out), &results); err != nil || jerr != nil || len(results) != 1 || results[0].Result != "not_needed" {
		t.Errorf("unclean with a live leader: %v\n%s", err, out)
	}
	_, errOut, err = partitionsRun(t, addr, "partitions", "elect-leaders", "--election-type", "preferred", "--topic", "led", "--partition", "5")
	if err == nil || !strings.Contains(errOut, "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Errorf("missing partition: %v\n%s", err, errOut)
	}
	for _, args := range [][]string{
		{"--topic", "led"},
		{"--election-type", "fast", "--topic", "led"},
		{"--election-type", "preferred"},
		{"--election-type", "preferred", "--topic", "led", "--all-topic-partitions"},
		{"--election-type", "preferred", "--partition", "0", "--all-topic-partitions"},
	} {
		if _, _, err := partitionsRun(t, addr, append([]string{"partitions", "elect-leaders"}, args...)...); err == nil {
			t.Errorf("elect-leaders %v: no error", args)
		}
	}
}

func TestThrottledReplicas(t *testing.T) {
	cur := assignment{{"t", 0}: {1, 2, 3}, {"t", 1}: {2, 3, 1}, {"u", 0}: {1}}
	plan := assignment{{"t", 0}: {2, 3, 4}, {"t", 1}: {2, 3, 1}, {"u", 0}: {5}}
	leader, follower, brokers := throttledReplicas(cur, plan)
	if fmt.Sprint(leader) != "map[t:[0:1 0:2 0:3] u:[0:1]]" || fmt.Sprint(follower) != "map[t:[0:4] u:[0:5]]" || !slices.Equal(brokers, []int32{1, 2, 3, 4, 5}) {
		t.Errorf("leader %v follower %v brokers %v", leader, follower, brokers)
	}
	for _, tc := range []struct {
		cur  string
		add  []string
		want string
	}{
		{"", []string{"0:1", "0:2"}, "0:1,0:2"},
		{"1:3, 0:1", []string{"0:1", "0:2"}, "1:3,0:1,0:2"},
		{"*", []string{"0:1"}, "*"},
	} {
		if got := mergeThrottled(tc.cur, tc.add); got != tc.want {
			t.Errorf("merge %q with %v: %q, want %q", tc.cur, tc.add, got, tc.want)
		}
	}
}

// TestVerifyClearsThrottles: once a plan is complete, --verify removes the
// throttle rates set dynamically on the brokers and the throttled replicas
// of the plan's topics; --preserve-throttles keeps them, and a static rate
// is left alone.
func TestVerifyClearsThrottles(t *testing.T) {
	addr := grpStartBroker(t)
	if _, _, err := partitionsRun(t, addr, "topics", "create", "slow", "--partitions", "1", "--replication-factor", "1",
		"--config", "leader.replication.throttled.replicas=0:1", "--config", "follower.replication.throttled.replicas=*"); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := partitionsRun(t, addr, "configs", "alter", "--entity-type", "brokers", "--entity-name", "1",
		"--add-config", "leader.replication.throttled.rate=1000,follower.replication.throttled.rate=1000"); err != nil {
		t.Fatalf("set the rates: %v\n%s%s", err, out, errOut)
	}
	plan := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(plan, []byte(`{"version":1,"partitions":[{"topic":"slow","partition":0,"replicas":[1]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := partitionsRun(t, addr, "partitions", "reassign", "--verify", "--reassignment-json-file", plan, "--preserve-throttles")
	if err != nil || strings.Contains(out, "Removed") {
		t.Errorf("verify --preserve-throttles: %v\n%s", err, out)
	}
	out, _, err = partitionsRun(t, addr, "partitions", "reassign", "--verify", "--reassignment-json-file", plan)
	if err != nil || !strings.Contains(out, "Removed the replication throttles (brokers [1], topics slow).") {
		t.Errorf("verify: %v\n%s", err, out)
	}
	out, _, err = partitionsRun(t, addr, "configs", "describe", "--entity-type", "topics", "--entity-name", "slow")
	if err != nil || strings.Contains(out, "throttled.replicas") {
		t.Errorf("topic configs after verify: %v\n%s", err, out)
	}
	out, _, err = partitionsRun(t, addr, "configs", "describe", "--entity-type", "brokers", "--entity-name", "1")
	if err != nil || strings.Contains(out, "throttled.rate") {
		t.Errorf("broker configs after verify: %v\n%s", err, out)
	}
	out, _, err = partitionsRun(t, addr, "partitions", "reassign", "--verify", "--reassignment-json-file", plan)
	if err != nil || strings.Contains(out, "Removed") {
		t.Errorf("verify with nothing to remove: %v\n%s", err, out)
	}
	if _, _, err := partitionsRun(t, addr, "partitions", "reassign", "--verify", "--reassignment-json-file", plan, "--throttle", "5"); err == nil {
		t.Error("--throttle with --verify: no error")
	}
}
