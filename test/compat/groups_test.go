package compat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Consumer groups with real clients (issue #7):
//
//   - TestConfluentGroupRebalance: three and more librdkafka (confluent-kafka-python)
//     members share a 6-partition topic while records flow; members join and leave
//     mid-stream. A member that leaves gracefully commits on revoke, so no record is
//     consumed twice; a member killed with SIGKILL loses nothing (its partitions go to the
//     others from its last commit). In both, the assignments the coordinator stored in
//     __consumer_offsets never give one partition to two members of one generation.
//   - TestKafkaPythonGroupResume, TestKafkajsGroupResume: a group consumes part of a topic,
//     commits and leaves; a new consumer process resumes at the committed offsets, and so
//     does one after the broker is killed and restarted.

// groupLine is one JSON line of group_confluent.py.
type groupLine struct {
	Member     string  `json:"member"`
	Event      string  `json:"event"`
	Partitions []int32 `json:"partitions"`
	Error      string  `json:"error"`
	Partition  int32   `json:"partition"`
	Offset     int64   `json:"offset"`
	Value      *string `json:"value"`
}

// groupMember is one running group_confluent.py.
type groupMember struct {
	name   string
	cmd    *exec.Cmd
	stderr bytes.Buffer
	exited chan struct{}
	err    error
}

// startGroupMember starts a member; its lines go to lines.
func startGroupMember(t *testing.T, addr, topic, group, name string, lines chan<- groupLine) *groupMember {
	t.Helper()
	m := &groupMember{name: name, exited: make(chan struct{})}
	m.cmd = exec.Command(debianPython, "testdata/group_confluent.py", addr, topic, group, name, "50")
	m.cmd.Env = append(os.Environ(), pythonEnv...)
	m.cmd.Stderr = &m.stderr
	out, err := m.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start member %s: %v", name, err)
	}
	var reading sync.WaitGroup
	reading.Add(1)
	go func() {
		defer reading.Done()
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l groupLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l = groupLine{Member: name, Event: "garbage", Error: sc.Text()}
			}
			lines <- l
		}
	}()
	go func() {
		reading.Wait()
		m.err = m.cmd.Wait()
		close(m.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-m.exited:
		default:
			_ = m.cmd.Process.Kill()
			<-m.exited
		}
	})
	return m
}

func (m *groupMember) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := m.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to member %s: %v", sig, m.name, err)
	}
}

func TestConfluentGroupRebalance(t *testing.T) {
	lookPath(t, debianPython)
	b := startBroker(t)
	t.Run("graceful", func(t *testing.T) { testConfluentRebalance(t, b.Addr, false) })
	t.Run("kill", func(t *testing.T) { testConfluentRebalance(t, b.Addr, true) })
}

// testConfluentRebalance runs the scenario: m1 and m2 start; once records flow m3 joins;
// once m3 has partitions, m2 leaves (SIGTERM, or SIGKILL with kill); then m4 joins; once
// m4 consumes, production stops, and the test waits until every record was consumed.
func testConfluentRebalance(t *testing.T, addr string, kill bool) {
	const partitions = 6
	topic := topicName(t, "grp")
	group := topicName(t, "group")
	createTopic(t, addr, topic, partitions)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// The producer: 20 records every 40 ms, round robin over the partitions, until told
	// to stop. Every acknowledged record is remembered.
	type tp struct {
		p int32
		o int64
	}
	var (
		producedMu sync.Mutex
		produced   = make(map[tp]string)
	)
	stopProducing := make(chan struct{})
	producerDone := make(chan error, 1)
	go func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
			kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
		if err != nil {
			producerDone <- err
			return
		}
		defer cl.Close()
		tick := time.NewTicker(40 * time.Millisecond)
		defer tick.Stop()
		seq := 0
		for {
			select {
			case <-stopProducing:
				producerDone <- nil
				return
			case <-ctx.Done():
				producerDone <- ctx.Err()
				return
			case <-tick.C:
			}
			var recs []*kgo.Record
			for range 20 {
				recs = append(recs, &kgo.Record{Value: []byte(strconv.Itoa(seq))})
				seq++
			}
			res := cl.ProduceSync(ctx, recs...)
			if err := res.FirstErr(); err != nil {
				producerDone <- err
				return
			}
			producedMu.Lock()
			for _, r := range res {
				produced[tp{r.Record.Partition, r.Record.Offset}] = string(r.Record.Value)
			}
			producedMu.Unlock()
		}
	}()

	lines := make(chan groupLine, 4096)
	members := map[string]*groupMember{}
	start := func(name string) {
		members[name] = startGroupMember(t, addr, topic, group, name, lines)
		t.Logf("%s: started", name)
	}
	start("m1")
	start("m2")

	consumed := make(map[tp][]string) // by whom, in order
	perMember := make(map[string]int)
	assigned := make(map[string]bool)        // has had a non-empty assignment
	lastAssigned := make(map[string][]int32) // each member's latest assignment
	m2Gone, takenOver := false, false        // m2 stopped; its partitions since assigned to others
	var commitFailures []groupLine
	step := 0
	stopped := false
	allConsumed := func() bool {
		producedMu.Lock()
		defer producedMu.Unlock()
		for k := range produced {
			if len(consumed[k]) == 0 {
				return false
			}
		}
		return true
	}
	for {
		// Advance the scenario on what has been observed.
		switch {
		case step == 0 && len(consumed) >= 600:
			start("m3")
			step++
		case step == 1 && assigned["m3"] && perMember["m3"] >= 100:
			if kill {
				members["m2"].signal(t, syscall.SIGKILL)
				t.Logf("m2: killed after %d records", perMember["m2"])
			} else {
				members["m2"].signal(t, syscall.SIGTERM)
				t.Logf("m2: asked to leave after %d records", perMember["m2"])
			}
			m2Gone = true
			step++
		case step == 2 && isClosed(members["m2"].exited) && (!kill || takenOver):
			// A killed member's partitions move once its session ends (no
			// one else joins meanwhile); then m4 joins.
			start("m4")
			step++
		case step == 3 && assigned["m4"] && perMember["m4"] >= 100:
			close(stopProducing)
			if err := <-producerDone; err != nil {
				t.Fatalf("producer: %v", err)
			}
			stopped = true
			step++
		}
		if stopped && allConsumed() {
			break
		}
		select {
		case l := <-lines:
			switch l.Event {
			case "":
				k := tp{l.Partition, l.Offset}
				producedMu.Lock()
				want, ok := produced[k]
				producedMu.Unlock()
				if ok && l.Value != nil && *l.Value != want {
					t.Fatalf("%s consumed %d@%d = %q, produced %q", l.Member, l.Partition, l.Offset, *l.Value, want)
				}
				consumed[k] = append(consumed[k], l.Member)
				perMember[l.Member]++
			case "assign":
				if len(l.Partitions) > 0 {
					assigned[l.Member] = true
				}
				lastAssigned[l.Member] = l.Partitions
				if m2Gone && l.Member != "m2" {
					for _, p := range l.Partitions {
						for _, q := range lastAssigned["m2"] {
							takenOver = takenOver || p == q
						}
					}
				}
				t.Logf("%s: assigned %v", l.Member, l.Partitions)
			case "revoke":
				t.Logf("%s: revoked %v", l.Member, l.Partitions)
			case "commit_failed":
				commitFailures = append(commitFailures, l)
				t.Logf("%s: commit failed for %v: %s", l.Member, l.Partitions, l.Error)
			case "closed":
				t.Logf("%s: closed", l.Member)
			default:
				t.Fatalf("%s printed %q", l.Member, l.Error)
			}
		case err := <-producerDone:
			t.Fatalf("producer stopped early: %v", err)
		case <-ctx.Done():
			producedMu.Lock()
			n := len(produced)
			producedMu.Unlock()
			t.Fatalf("scenario stuck at step %d: %d of %d records consumed, per member %v\n%s",
				step, len(consumed), n, perMember, membersStderr(members))
		}
	}

	// Everyone leaves; each must exit cleanly (the killed one aside).
	for name, m := range members {
		if kill && name == "m2" {
			continue
		}
		if !isClosed(m.exited) {
			m.signal(t, syscall.SIGTERM)
		}
	}
	for name, m := range members {
		select {
		case <-m.exited:
		case <-ctx.Done():
			t.Fatalf("member %s did not exit", name)
		}
		if kill && name == "m2" {
			continue
		}
		if m.err != nil {
			t.Errorf("member %s exited with %v\n%s", name, m.err, tail(m.stderr.Bytes(), 4000))
		}
	}

	// Nothing missed; nothing twice unless a member was killed.
	producedMu.Lock()
	total := len(produced)
	producedMu.Unlock()
	dups := 0
	var examples []string
	for k, by := range consumed {
		if len(by) > 1 {
			dups++
			if len(examples) < 5 {
				examples = append(examples, fmt.Sprintf("%d@%d by %v", k.p, k.o, by))
			}
		}
	}
	t.Logf("%d records produced, %d consumed at least once, %d more than once; per member %v",
		total, len(consumed), dups, perMember)
	if !kill && dups > 0 {
		t.Errorf("%d records consumed twice although every member left gracefully, e.g. %v (commit failures: %v)",
			dups, examples, commitFailures)
	}
	if !kill && len(commitFailures) > 0 {
		t.Errorf("commits failed: %v", commitFailures)
	}

	// The coordinator's stored assignments: one owner per partition per generation.
	gens := storedAssignments(t, addr, group)
	if len(gens) < 4 {
		t.Errorf("%d generations stored, want at least 4 (two joins, a leave, a join)", len(gens))
	}
	for _, g := range gens {
		owner := make(map[int32]string)
		for member, parts := range g.assignments {
			for _, p := range parts {
				if other, ok := owner[p]; ok {
					t.Errorf("generation %d: partition %d assigned to %s and %s", g.generation, p, other, member)
				}
				owner[p] = member
			}
		}
		if len(g.assignments) > 0 && len(owner) != partitions {
			t.Errorf("generation %d: %d of %d partitions assigned: %v", g.generation, len(owner), partitions, g.assignments)
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func membersStderr(ms map[string]*groupMember) string {
	var b strings.Builder
	for name, m := range ms {
		if isClosed(m.exited) {
			fmt.Fprintf(&b, "--- %s (exited: %v) stderr ---\n%s\n", name, m.err, tail(m.stderr.Bytes(), 2000))
		}
	}
	return b.String()
}

// storedGeneration is one group metadata record of __consumer_offsets: a generation and
// what each member was assigned (topic partitions of the consumer protocol).
type storedGeneration struct {
	generation  int32
	assignments map[string][]int32
}

// storedAssignments reads every group metadata record of group from __consumer_offsets,
// in log order, as a Kafka tool could: it does not rely on the broker's placement of the
// group, it reads every partition.
func storedAssignments(t *testing.T, addr, group string) []storedGeneration {
	t.Helper()
	ends := endOffsets(t, addr, "__consumer_offsets")
	var out []storedGeneration
	for p, recs := range readRange(t, addr, "__consumer_offsets", ends, 0) {
		_ = p
		for _, r := range recs {
			if len(r.Key) < 2 || binary.BigEndian.Uint16(r.Key) != 2 || r.Value == nil {
				continue
			}
			var k kmsg.GroupMetadataKey
			if err := k.ReadFrom(r.Key); err != nil || k.Group != group {
				continue
			}
			var v kmsg.GroupMetadataValue
			if err := v.ReadFrom(r.Value); err != nil {
				t.Fatalf("group metadata of %s at %d: %v", group, r.Offset, err)
			}
			g := storedGeneration{generation: v.Generation, assignments: make(map[string][]int32)}
			for _, m := range v.Members {
				if len(m.Assignment) == 0 {
					continue
				}
				var a kmsg.ConsumerMemberAssignment
				if err := a.ReadFrom(m.Assignment); err != nil {
					t.Fatalf("generation %d: assignment of %s: %v", v.Generation, m.MemberID, err)
				}
				for _, at := range a.Topics {
					g.assignments[m.MemberID] = append(g.assignments[m.MemberID], at.Partitions...)
				}
			}
			out = append(out, g)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].generation < out[j].generation })
	return out
}

// resumeClient runs a group consumer script: `<command> BOOTSTRAP TOPIC GROUP COUNT`.
type resumeClient struct {
	command []string
	env     []string
}

func (c resumeClient) consume(t *testing.T, addr, topic, group string, count int) []scriptRecord {
	t.Helper()
	args := append(append([]string{}, c.command[1:]...), addr, topic, group, strconv.Itoa(count))
	return parseScriptRecords(t, runClient(t, nil, c.env, c.command[0], args...))
}

// testGroupResume: 3 partitions of 100 records; the group consumes 100 records, commits
// and leaves; a new consumer process takes 100 more from the committed offsets; the broker
// is killed and restarted; a third process takes the last 100. Together: every record
// exactly once, each partition in offset order across the runs.
func testGroupResume(t *testing.T, c resumeClient) {
	const partitions, perRun, runs = 3, 100, 3
	b := startOwnBroker(t, t.TempDir(), freeAddr(t))
	topic := topicName(t, "resume")
	group := topicName(t, "group")
	createTopic(t, b.Addr, topic, partitions)
	cl := newClient(t, b.Addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range perRun * runs {
		r := &kgo.Record{Partition: int32(i % partitions), Value: []byte("v" + strconv.Itoa(i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	stored := readAll(t, b.Addr, topic)

	seen := make(map[int32]map[int64]int)
	next := map[int32]int64{} // per partition: the offset the next run must start from
	check := func(run int, recs []scriptRecord) {
		t.Helper()
		if len(recs) != perRun {
			t.Fatalf("run %d: %d records, want %d", run, len(recs), perRun)
		}
		first := map[int32]int64{}
		for _, r := range recs {
			if seen[r.Partition] == nil {
				seen[r.Partition] = make(map[int64]int)
			}
			seen[r.Partition][r.Offset]++
			if seen[r.Partition][r.Offset] > 1 {
				t.Fatalf("run %d: %d@%d consumed again", run, r.Partition, r.Offset)
			}
			if want := string(stored[r.Partition][r.Offset].Value); r.Value == nil || *r.Value != want {
				t.Fatalf("run %d: %d@%d = %v, stored %q", run, r.Partition, r.Offset, r.Value, want)
			}
			if _, ok := first[r.Partition]; !ok {
				first[r.Partition] = r.Offset
			}
		}
		for p, o := range first {
			if o != next[p] {
				t.Fatalf("run %d: partition %d resumed at %d, want the committed %d", run, p, o, next[p])
			}
		}
		// The committed offsets are right after what was consumed.
		offs, err := kadm.NewClient(newClient(t, b.Addr)).FetchOffsets(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			next[r.Partition] = max(next[r.Partition], r.Offset+1)
		}
		for p, o := range next {
			got, ok := offs.Lookup(topic, p)
			if !ok || got.Err != nil || got.At != o {
				t.Fatalf("run %d: committed offset of partition %d is %+v, want %d", run, p, got, o)
			}
		}
	}

	check(1, c.consume(t, b.Addr, topic, group, perRun))
	check(2, c.consume(t, b.Addr, topic, group, perRun)) // a consumer restart

	b.kill9(t)
	b.restart(t)
	check(3, c.consume(t, b.Addr, topic, group, perRun)) // after a broker restart

	for p := range int32(partitions) {
		if len(seen[p]) != perRun {
			t.Errorf("partition %d: %d records consumed, want %d", p, len(seen[p]), perRun)
		}
	}
}

func TestKafkaPythonGroupResume(t *testing.T) {
	lookPath(t, debianPython)
	testGroupResume(t, resumeClient{command: []string{debianPython, "testdata/group_kafka_python.py"}, env: pythonEnv})
}

func TestKafkajsGroupResume(t *testing.T) {
	lookPath(t, "node")
	if _, err := os.Stat("node_modules/kafkajs/package.json"); err != nil {
		t.Fatalf("kafkajs is not installed in test/compat/node_modules (%v): run scripts/install-test-deps.sh", err)
	}
	testGroupResume(t, resumeClient{command: []string{"node", "testdata/group_kafkajs.js"}, env: []string{"KAFKAJS_NO_PARTITIONER_WARNING=1"}})
}

// BenchmarkGroupRebalance measures a whole rebalance of a stable group of 100 members
// over the wire: every member sends JoinGroup (as clients do after REBALANCE_IN_PROGRESS),
// the leader gets the 100 subscriptions and sends SyncGroup with the assignment, which the
// coordinator writes to __consumer_offsets, and every member gets its part. Each member is
// its own franz-go client and connection, sending raw requests; what a client adds on top
// (noticing the rebalance on its next heartbeat, revoking, re-fetching offsets) is not
// measured.
func BenchmarkGroupRebalance(b *testing.B) {
	const n = 100
	br := startBroker(b)
	topic := topicName(b, "bench")
	group := topicName(b, "group")
	createTopic(b, br.Addr, topic, n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = []string{topic}
	meta := md.AppendTo(nil)
	clients := make([]*kgo.Client, n)
	for i := range clients {
		clients[i] = newClient(b, br.Addr)
	}
	join := func(i int, memberID string) (*kmsg.JoinGroupResponse, error) {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID, req.ProtocolType = group, memberID, "consumer"
		req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 60_000, 60_000
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "range", meta
		req.Protocols = []kmsg.JoinGroupRequestProtocol{p}
		return req.RequestWith(ctx, clients[i])
	}
	ids := make([]string, n)
	heartbeat := func(i int, gen int32) int16 {
		req := kmsg.NewPtrHeartbeatRequest()
		req.Group, req.Generation, req.MemberID = group, gen, ids[i]
		resp, err := req.RequestWith(ctx, clients[i])
		if err != nil {
			b.Fatalf("heartbeat %d: %v", i, err)
		}
		return resp.ErrorCode
	}
	// joinAll: member 0 (the leader once the group is stable) rejoins, which starts a
	// rebalance; the others learn of it from a heartbeat, as clients do, and rejoin.
	// (Joining a stable group with unchanged metadata is answered at once with the
	// current generation, so the order matters.)
	joinAll := func(gen int32) (int32, string) {
		var wg sync.WaitGroup
		resps := make([]*kmsg.JoinGroupResponse, n)
		errs := make([]error, n)
		run := func(i int) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resps[i], errs[i] = join(i, ids[i])
			}()
		}
		run(0)
		if gen >= 0 {
			for heartbeat(1, gen) != kerr.RebalanceInProgress.Code {
			}
		}
		for i := 1; i < n; i++ {
			run(i)
		}
		wg.Wait()
		for i, r := range resps {
			if errs[i] != nil {
				b.Fatalf("join %d: %v", i, errs[i])
			}
			if r.ErrorCode != 0 {
				b.Fatalf("join %d: error %d", i, r.ErrorCode)
			}
			ids[i] = r.MemberID
		}
		return resps[0].Generation, resps[0].LeaderID
	}
	syncAll := func(gen int32, leader string) {
		var assignments []kmsg.SyncGroupRequestGroupAssignment
		for i, id := range ids {
			a := kmsg.NewConsumerMemberAssignment()
			a.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: topic, Partitions: []int32{int32(i)}}}
			sa := kmsg.NewSyncGroupRequestGroupAssignment()
			sa.MemberID, sa.MemberAssignment = id, a.AppendTo(nil)
			assignments = append(assignments, sa)
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := kmsg.NewPtrSyncGroupRequest()
				req.Group, req.Generation, req.MemberID = group, gen, ids[i]
				if ids[i] == leader {
					req.GroupAssignment = assignments
				}
				resp, err := req.RequestWith(ctx, clients[i])
				if err == nil && resp.ErrorCode != 0 {
					err = fmt.Errorf("error %d", resp.ErrorCode)
				}
				if err == nil && len(resp.MemberAssignment) == 0 {
					err = fmt.Errorf("empty assignment")
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				b.Fatalf("sync %d: %v", i, err)
			}
		}
	}
	// Form the group: first joins get MEMBER_ID_REQUIRED (KIP-394).
	for i := range n {
		r, err := join(i, "")
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = r.MemberID
	}
	gen, leader := joinAll(-1)
	syncAll(gen, leader)
	for i := range ids { // make the leader member 0
		if ids[i] == leader {
			ids[0], ids[i] = ids[i], ids[0]
			clients[0], clients[i] = clients[i], clients[0]
		}
	}
	b.ResetTimer()
	for b.Loop() {
		gen, leader = joinAll(gen)
		syncAll(gen, leader)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/rebalance")
}

// TestGroupSurvivesBrokerRestart: a franz-go consumer group keeps consuming across a kill -9
// and restart of the broker. The coordinator reloads the group from __consumer_offsets, so
// the members carry on in the same generation with no rebalance, and every record is
// consumed; with commits after each poll, none twice.
func TestGroupSurvivesBrokerRestart(t *testing.T) {
	const partitions, before, after = 3, 3000, 3000
	b := startOwnBroker(t, t.TempDir(), freeAddr(t))
	topic := topicName(t, "restart")
	group := topicName(t, "group")
	createTopic(t, b.Addr, topic, partitions)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	produce := func(from, to int) {
		t.Helper()
		cl := newClient(t, b.Addr, kgo.DefaultProduceTopic(topic))
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			recs = append(recs, &kgo.Record{Value: []byte(strconv.Itoa(i))})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		cl.Close()
	}
	produce(0, before)

	var (
		mu      sync.Mutex
		seen    = make(map[string]int)
		revoked int
	)
	consumer := newClient(t, b.Addr, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(30*time.Second), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.OnPartitionsRevoked(func(context.Context, *kgo.Client, map[string][]int32) {
			mu.Lock()
			revoked++
			mu.Unlock()
		}))
	pollUntil := func(n int) {
		t.Helper()
		for {
			mu.Lock()
			got := len(seen)
			mu.Unlock()
			if got >= n {
				return
			}
			fs := consumer.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("consumed %d of %d records: %v", got, n, err)
			}
			mu.Lock()
			fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
			mu.Unlock()
			// Commit what was polled; errors while the broker is down are
			// retried by the next commit.
			_ = consumer.CommitUncommittedOffsets(ctx)
		}
	}
	pollUntil(before)
	adm := kadm.NewClient(newClient(t, b.Addr))
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	d := described[group]
	if d.State != "Stable" || len(d.Members) != 1 {
		t.Fatalf("before the restart: %+v", d)
	}
	memberBefore := d.Members[0].MemberID

	b.kill9(t)
	b.restart(t)
	produce(before, before+after)
	pollUntil(before + after)

	described, err = adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	d = described[group]
	if d.State != "Stable" || len(d.Members) != 1 || d.Members[0].MemberID != memberBefore {
		t.Errorf("after the restart: state %s, members %+v; want the same single member %s", d.State, d.Members, memberBefore)
	}
	mu.Lock()
	defer mu.Unlock()
	if revoked != 0 {
		t.Errorf("partitions were revoked %d times: the restart caused a rebalance", revoked)
	}
	for i := range before + after {
		if n := seen[strconv.Itoa(i)]; n != 1 {
			t.Fatalf("record %d consumed %d times", i, n)
		}
	}
}
