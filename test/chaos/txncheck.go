package chaos

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Anomalies of transactional histories, beside the plain ones that still apply.
const (
	// PartialTxn: a transaction whose commit outcome is unknown is visible in part:
	// the final read (of everything, read_committed) holds some of its records and
	// not others. (A committed transaction missing records shows as lost-write; an
	// aborted one showing any as G1a.)
	PartialTxn = "partial-txn"
	// EOSDuplicate: a record read by two committed transactions of the processors'
	// consumer group: it was processed twice, though each transaction committed the
	// group's offsets past it.
	EOSDuplicate = "eos-duplicate"
	// EOSSkip: a record below the group's final committed offset in its partition
	// that no committed (or possibly committed) processor transaction read: offsets
	// committed past it without it being processed, as when an aborted transaction's
	// offsets become visible.
	EOSSkip = "eos-skip"
	// G0Realtime: a write order that contradicts real time. In some partition a
	// committed transaction's record lies below another's, though the other had all
	// its writes acknowledged before the first began: a cycle of one ww edge and one
	// real-time edge (Elle's G0-realtime, of length two). Concurrent transactions may
	// interleave their writes in any order (G0), but appends that did not overlap
	// must keep their order in a partition's log.
	G0Realtime = "G0-realtime"
	// G1cWW names cycles of the dependency graph with ww edges included that run
	// through a wr edge (Jepsen's G1c with ww-deps). Kafka allows them by design, as
	// it allows G0.
	G1cWW = "G1c-ww"
)

// TxnCheckedAnomalies lists every anomaly Check looks for in a transactional
// history, in report order.
var TxnCheckedAnomalies = []string{
	LostWrite, Unseen, Duplicate, InconsistentOffsets, G1a, PrecommittedRead, PartialTxn, G1c,
	G0Realtime, EOSDuplicate, EOSSkip, NonmonotonicSend, IntNonmonotonicSend, NonmonotonicPoll, IntNonmonotonicPoll,
	PollSkip, IntPollSkip, UnexpectedValue,
}

// AllowedAnomalies are counted and shown with examples but do not make a history
// invalid: Kafka's transactions allow them by design. Transactions do not isolate
// writes from each other, so concurrent transactions interleave their records in
// different orders in different partitions, which is a write cycle (G0), and a
// cycle through reads and such write orders (G1c-ww). Jepsen's Kafka and Redpanda
// analyses say the same.
var AllowedAnomalies = []string{G0, G1cWW}

// txnNotChecked says why some anomalies are absent from a transactional summary.
var txnNotChecked = map[string]string{
	Nonlinearizable: "the list-append model is for plain sends; transactions are checked by the anomalies above",
}

// isTxnHistory reports whether h comes from the transactional workload.
func isTxnHistory(h *History) bool {
	return slices.ContainsFunc(h.Ops, func(op Op) bool { return op.Kind == KindTxn })
}

// txn is one transaction as the checker sees it. A plain send (an end marker) is a
// transaction of one write that commits with its acknowledgement.
type txn struct {
	op        *Op
	processor bool  // a consume-transform-produce transaction of ProcessorGroup
	endCall   int64 // when it asked to commit (for a plain send, its call)
	visible   bool  // some read returned one of its writes
	final     int   // how many of its writes the final read returned
}

// committed reports whether the transaction is known or seen to have committed.
func (t *txn) committed() bool { return t.op.Outcome == OK || (t.op.Outcome == Info && t.visible) }

// txnChecker adds transactions to the plain checker's indexes.
type txnChecker struct {
	*checker
	txns      []*txn
	writer    map[string]*txn // value -> the transaction that wrote it
	byOp      map[int]*txn
	procReads map[string][]*txn // value -> processor transactions that read it
	offsets   map[int32]int64   // the processors' group's final committed offsets
	hasOffs   bool
	readAt    map[string]map[int]int64 // value -> poll op -> its return time
	allowed   []Anomaly
}

// checkTxn analyses a transactional history.
func checkTxn(h *History, opts CheckOptions) Summary {
	tc := &txnChecker{
		checker: &checker{
			opts: opts.withDefaults(), h: h,
			sends: make(map[string]sent), read: make(map[string]bool), final: make(map[string]bool),
			finalMax: make(map[int32]int64), maxRead: make(map[int32]int64),
			at: make(map[pos]map[string]int), where: make(map[string]map[pos]int), known: make(map[int32][]int64),
		},
		writer:    make(map[string]*txn),
		byOp:      make(map[int]*txn),
		procReads: make(map[string][]*txn),
		offsets:   make(map[int32]int64),
		readAt:    make(map[string]map[int]int64),
	}
	stats := tc.index()
	tc.checkOffsets()
	tc.checkWrites()
	tc.checkAtomicity()
	tc.checkPrecommitted()
	tc.checkCycles()
	tc.checkRealtimeOrder()
	tc.checkProcessing()
	tc.checkSendOrder()
	tc.checkPollOrder()

	sum := Summary{
		Valid:      true,
		Anomalies:  make(map[string]int, len(TxnCheckedAnomalies)),
		Allowed:    make(map[string]int, len(AllowedAnomalies)),
		NotChecked: maps.Clone(txnNotChecked),
		Stats:      stats,
	}
	if !tc.hasOffs {
		sum.NotChecked[EOSSkip] = "no read of the processors' committed offsets in the history"
	}
	for _, name := range TxnCheckedAnomalies {
		sum.Anomalies[name] = 0
	}
	for _, name := range AllowedAnomalies {
		sum.Allowed[name] = 0
	}
	order := append(slices.Clone(TxnCheckedAnomalies), AllowedAnomalies...)
	found := append(tc.found, tc.allowed...)
	slices.SortStableFunc(found, func(a, b Anomaly) int {
		return cmp.Or(cmp.Compare(slices.Index(order, a.Name), slices.Index(order, b.Name)),
			cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
	for _, a := range found {
		counts := sum.Anomalies
		if slices.Contains(AllowedAnomalies, a.Name) {
			counts = sum.Allowed
		} else {
			sum.Valid = false
		}
		counts[a.Name]++
		if counts[a.Name] <= tc.opts.MaxExamples {
			sum.Examples = append(sum.Examples, a)
		}
	}
	return sum
}

// index builds the indexes and counts the history.
func (tc *txnChecker) index() Stats {
	st := Stats{Faults: make(map[string]int), Partitions: make(map[int32]PartitionStats)}
	knownSet := make(map[pos]bool)
	readPos := make(map[pos]string)
	read := func(op *Op, recs []Record, final bool) {
		for _, r := range recs {
			if final {
				tc.final[r.Value] = true
				if m, ok := tc.finalMax[r.Partition]; !ok || r.Offset > m {
					tc.finalMax[r.Partition] = r.Offset
				}
			}
			tc.read[r.Value] = true
			if m, ok := tc.maxRead[r.Partition]; !ok || r.Offset > m {
				tc.maxRead[r.Partition] = r.Offset
			}
			tc.observe(r.Partition, r.Offset, r.Value, op.ID)
			readPos[pos{r.Partition, r.Offset}] = r.Value
			ps := st.Partitions[r.Partition]
			ps.EndOffset = max(ps.EndOffset, r.Offset+1)
			st.Partitions[r.Partition] = ps
		}
	}
	for i := range tc.h.Ops {
		op := &tc.h.Ops[i]
		switch op.Kind {
		case KindTxn, KindSend:
			t := &txn{op: op, processor: strings.HasPrefix(op.Process, "processor-"), endCall: op.EndCall}
			if op.Kind == KindSend {
				t.endCall = op.Call
			}
			tc.txns = append(tc.txns, t)
			tc.byOp[op.ID] = t
			if op.Kind == KindTxn {
				st.Txns++
				switch op.Outcome {
				case OK:
					st.TxnsCommitted++
				case Fail:
					st.TxnsAborted++
				default:
					st.TxnsInfo++
				}
			}
			for _, r := range op.Records {
				st.Sends++
				switch op.Outcome {
				case OK:
					st.SendsOK++
				case Fail:
					st.SendsFailed++
				default:
					st.SendsInfo++
				}
				if prev, dup := tc.sends[r.Value]; dup {
					tc.report(Duplicate, r.Partition, -1, r.Value, []int{prev.op, op.ID}, "value sent twice: the workload must send unique values")
					continue
				}
				s := sent{op: op.ID, outcome: op.Outcome, p: r.Partition, o: -1}
				if r.Offset >= 0 {
					// An acknowledged offset holds the value whatever the transaction's
					// fate: an aborted record stays in the log, unread.
					s.o = r.Offset
					tc.observe(r.Partition, r.Offset, r.Value, op.ID)
					if op.Outcome == OK {
						knownSet[pos{r.Partition, r.Offset}] = true
						ps := st.Partitions[r.Partition]
						ps.Acked++
						st.Partitions[r.Partition] = ps
					}
				}
				tc.sends[r.Value] = s
				tc.writer[r.Value] = t
			}
			if t.processor {
				read(op, op.Reads, false)
				for _, r := range op.Reads {
					tc.procReads[r.Value] = append(tc.procReads[r.Value], t)
				}
			}
		case KindPoll:
			st.Polls++
			st.RecordsPolled += len(op.Records)
			final := op.Process == FinalReader
			if final {
				st.FinalRead += len(op.Records)
				tc.hasFinal = true
			}
			read(op, op.Records, final)
			for _, r := range op.Records {
				if tc.readAt[r.Value] == nil {
					tc.readAt[r.Value] = make(map[int]int64)
				}
				tc.readAt[r.Value][op.ID] = op.Return
			}
		case KindAssign:
			if op.Process == FinalReader {
				tc.hasFinal = true
			}
		case KindOffsets:
			tc.hasOffs = true
			for _, r := range op.Records {
				tc.offsets[r.Partition] = r.Offset
			}
		case KindFault:
			kind, _, _ := strings.Cut(op.Fault, " ")
			st.Faults[kind]++
		}
	}
	// A position read holds a record every reader must return, unless what was
	// read there is an aborted record (G1a, reported as such).
	for k, v := range readPos {
		if w := tc.writer[v]; w == nil || w.op.Outcome != Fail {
			knownSet[k] = true
		}
	}
	for k := range knownSet {
		tc.known[k.p] = append(tc.known[k.p], k.o)
	}
	for _, offs := range tc.known {
		slices.Sort(offs)
	}
	for v := range tc.read {
		if t := tc.writer[v]; t != nil {
			t.visible = true
			if tc.final[v] {
				t.final++
			}
		}
	}
	st.Recovery = tc.recovery()
	return st
}

// checkWrites checks each write against the reads: a committed write must be read
// (lost-write, unseen), an aborted one never (G1a), and every value read must have
// been written (unexpected-value).
func (tc *txnChecker) checkWrites() {
	for _, v := range slices.Sorted(maps.Keys(tc.sends)) {
		s := tc.sends[v]
		switch s.outcome {
		case Fail:
			if tc.read[v] {
				places := tc.where[v]
				first := sortedKeys(places, comparePos)[0]
				tc.report(G1a, first.p, first.o, v, append([]int{s.op}, opsOf(places)...),
					"read a record of a transaction that did not commit (%s)", tc.writer[v].describe())
			}
		case OK:
			if s.o < 0 {
				continue
			}
			top, ok := tc.maxRead[s.p]
			switch {
			case !tc.read[v] && ok && s.o <= top:
				tc.report(LostWrite, s.p, s.o, v, []int{s.op}, "committed at offset %d, never read, though reads reached offset %d", s.o, top)
			case !tc.read[v]:
				tc.report(Unseen, s.p, s.o, v, []int{s.op}, "committed at offset %d, never read; reads reached offset %d", s.o, top)
			case tc.hasFinal && !tc.final[v]:
				if end, ok := tc.finalMax[s.p]; !ok || s.o > end {
					tc.report(Unseen, s.p, s.o, v, []int{s.op}, "committed at offset %d and read, but the final read ends at offset %d", s.o, end)
				}
			}
		}
	}
	for _, v := range slices.Sorted(maps.Keys(tc.read)) {
		if _, ok := tc.sends[v]; !ok {
			places := tc.where[v]
			first := sortedKeys(places, comparePos)[0]
			tc.report(UnexpectedValue, first.p, first.o, v, opsOf(places), "read a value no producer sent")
		}
	}
}

// checkAtomicity checks that each transaction whose outcome is unknown is visible
// wholly or not at all in the final read.
func (tc *txnChecker) checkAtomicity() {
	if !tc.hasFinal {
		return
	}
	for _, t := range tc.txns {
		if t.op.Outcome != Info || !t.visible || t.final == len(t.op.Records) {
			continue
		}
		var missing []string
		for _, r := range t.op.Records {
			if !tc.final[r.Value] {
				missing = append(missing, r.Value)
			}
		}
		r := t.op.Records[0]
		tc.report(PartialTxn, r.Partition, r.Offset, r.Value, []int{t.op.ID},
			"%s is visible, but the final read lacks %d of its %d records: %v", t.describe(), len(missing), len(t.op.Records), missing)
	}
}

// checkPrecommitted finds reads of a transaction's records that returned before the
// transaction asked to commit, and transactions that read their own records.
func (tc *txnChecker) checkPrecommitted() {
	for _, v := range slices.Sorted(maps.Keys(tc.readAt)) {
		t := tc.writer[v]
		if t == nil || t.op.Outcome == Fail {
			continue // unexpected-value or G1a
		}
		for _, pollID := range slices.Sorted(maps.Keys(tc.readAt[v])) {
			if ret := tc.readAt[v][pollID]; t.endCall == 0 || ret < t.endCall {
				s := tc.sends[v]
				tc.report(PrecommittedRead, s.p, s.o, v, []int{t.op.ID, pollID},
					"a poll returned it at %s, before %s asked to commit at %s", nanos(ret), t.describe(), nanos(t.endCall))
			}
		}
	}
	for _, r := range tc.txns {
		if !r.processor {
			continue
		}
		for _, rd := range r.op.Reads {
			w := tc.writer[rd.Value]
			switch {
			case w == nil || w.op.Outcome == Fail:
			case w == r:
				tc.report(PrecommittedRead, rd.Partition, rd.Offset, rd.Value, []int{r.op.ID},
					"%s read its own record before it committed", r.describe())
			case w.endCall == 0 || r.op.Call < w.endCall:
				// The processor's poll returned before its transaction began.
				tc.report(PrecommittedRead, rd.Partition, rd.Offset, rd.Value, []int{w.op.ID, r.op.ID},
					"%s read it before %s at %s, which asked to commit only at %s", r.describe(), nanos(r.op.Call), w.describe(), nanos(w.endCall))
			}
		}
	}
}

// An edge of the dependency graph between transactions.
type depEdge struct {
	to   *txn
	kind string // "ww" or "wr"
	why  string
}

// checkCycles builds the dependency graph of the transactions that committed (or,
// with an unknown outcome, are visible): a wr edge T1 -> T2 when processor
// transaction T2 read a record T1 wrote, a ww edge T1 -> T2 when, in some
// partition, T2's record is the next committed record after T1's. A cycle of wr
// edges alone is G1c: each of its transactions saw another's commit before its
// own; so is one closed by a single ww edge (checkOneWWCycles). Other cycles with
// ww edges are counted among the allowed (G0, G1c-ww).
func (tc *txnChecker) checkCycles() {
	wr := make(map[*txn][]depEdge)
	for _, r := range tc.txns {
		if !r.processor || !r.committed() {
			continue
		}
		for _, rd := range r.op.Reads {
			if w := tc.writer[rd.Value]; w != nil && w != r && w.committed() {
				wr[w] = append(wr[w], depEdge{to: r, kind: "wr", why: fmt.Sprintf("read %s", rd.Value)})
			}
		}
	}
	ww := make(map[*txn][]depEdge)
	for p, order := range tc.committedOrder() {
		for i := 1; i < len(order); i++ {
			prev, cur := order[i-1], order[i]
			if prev.t != cur.t {
				ww[prev.t] = append(ww[prev.t], depEdge{to: cur.t, kind: "ww", why: fmt.Sprintf("%s then %s in partition %d", prev.v, cur.v, p)})
			}
		}
	}
	both := make(map[*txn][]depEdge)
	for _, g := range []map[*txn][]depEdge{wr, ww} {
		for from, es := range g {
			both[from] = append(both[from], es...)
		}
	}
	// One report per strongly connected component, with one of its cycles.
	for _, scc := range tc.cycles(wr) {
		tc.report(G1c, -1, -1, "", scc.ops, "%d transactions in cycles of write-read dependencies; one: %s", scc.size, scc.path)
	}
	tc.checkOneWWCycles(wr, ww)
	for _, scc := range tc.cycles(ww) {
		tc.allow(G0, scc.ops, "%d transactions in cycles of write-write orders; one: %s", scc.size, scc.path)
	}
	for _, scc := range tc.cycles(both) {
		if strings.Contains(scc.kinds, "wr") {
			tc.allow(G1cWW, scc.ops, "%d transactions in cycles through write-read dependencies and write orders; one: %s", scc.size, scc.path)
		}
	}
}

// committedRecord is a record of a committed transaction at an offset.
type committedRecord struct {
	o int64
	v string
	t *txn
}

// committedOrder returns each partition's records of committed transactions in
// offset order (Jepsen's version order). Offsets that hold two values are left
// out: inconsistent-offsets reports them.
func (tc *txnChecker) committedOrder() map[int32][]committedRecord {
	out := make(map[int32][]committedRecord)
	for k, vals := range tc.at {
		if len(vals) != 1 {
			continue
		}
		for v := range vals {
			if w := tc.writer[v]; w != nil && w.committed() {
				out[k.p] = append(out[k.p], committedRecord{o: k.o, v: v, t: w})
			}
		}
	}
	for _, recs := range out {
		slices.SortFunc(recs, func(a, b committedRecord) int { return cmp.Compare(a.o, b.o) })
	}
	return out
}

// checkRealtimeOrder finds G0-realtime: a committed record below another
// committed transaction's record in a partition, although that transaction began
// only after the other had every write acknowledged. A transaction's writes are
// all sent after it began (its operation's call), and a committed transaction's
// are all acknowledged before it asked to commit (a plain send's at its return).
func (tc *txnChecker) checkRealtimeOrder() {
	order := tc.committedOrder()
	for _, p := range slices.Sorted(maps.Keys(order)) {
		var last committedRecord // so far in the partition, the record whose transaction began last
		for _, r := range order[p] {
			if done, ok := r.t.writesDone(); ok && last.t != nil && last.t != r.t && last.t.op.Call > done {
				tc.report(G0Realtime, p, r.o, r.v, []int{min(r.t.op.ID, last.t.op.ID), max(r.t.op.ID, last.t.op.ID)},
					"%s is below it at offset %d (%s), though it began at %s, after %s had every write acknowledged (by %s)",
					last.t.describe(), last.o, last.v, nanos(last.t.op.Call), r.t.describe(), nanos(done))
			}
			if last.t == nil || r.t.op.Call > last.t.op.Call {
				last = r
			}
		}
	}
}

// writesDone is when every write of a committed transaction had been
// acknowledged: when it asked to commit, which the workload does only after all
// of them were answered, or a plain send's return. Unknown for a send whose
// answer never came.
func (t *txn) writesDone() (int64, bool) {
	if t.op.Kind == KindSend {
		return t.op.Return, t.op.Outcome == OK
	}
	return t.endCall, t.endCall > 0
}

// checkOneWWCycles finds cycles of wr edges closed by a single ww edge u -> v (a
// wr path from v back to u), and reports them as G1c: unlike cycles through
// several ww edges, which concurrent transactions interleaving their writes
// explain, such a cycle cannot happen. Along the wr path every transaction
// began after the previous one committed, so u's writes came after v's; yet u's
// record precedes v's in a partition.
//
// The search from v goes only through transactions that began no later than u:
// in a history without precommitted reads the path's transactions begin ever
// later, so this keeps it short without losing a cycle that precommitted-read
// does not already report.
func (tc *txnChecker) checkOneWWCycles(wr, ww map[*txn][]depEdge) {
	for _, u := range tc.txns {
		for _, e := range ww[u] {
			v := e.to
			if len(wr[v]) == 0 {
				continue
			}
			from := map[*txn]depEdge{v: {}}
			parent := map[*txn]*txn{}
			queue := []*txn{v}
			for len(queue) > 0 && parent[u] == nil {
				t := queue[0]
				queue = queue[1:]
				for _, re := range wr[t] {
					if _, seen := from[re.to]; seen || re.to.op.Call > u.op.Call {
						continue
					}
					from[re.to], parent[re.to] = re, t
					queue = append(queue, re.to)
				}
			}
			if parent[u] == nil {
				continue
			}
			steps := []string{fmt.Sprintf("%s -ww-> %s (%s)", u.describe(), v.describe(), e.why)}
			ops := []int{u.op.ID}
			var path []string
			for t := u; t != v; t = parent[t] {
				path = append(path, fmt.Sprintf("%s -wr-> %s (%s)", parent[t].describe(), t.describe(), from[t].why))
				ops = append(ops, parent[t].op.ID)
			}
			slices.Reverse(path)
			slices.Sort(ops)
			tc.report(G1c, -1, -1, "", slices.Compact(ops), "a cycle of write-read dependencies closed by one write order: %s",
				strings.Join(append(path, steps...), "; "))
		}
	}
}

func (tc *txnChecker) allow(name string, ops []int, format string, args ...any) {
	tc.allowed = append(tc.allowed, Anomaly{Name: name, Partition: -1, Offset: -1, Ops: ops, Detail: fmt.Sprintf(format, args...)})
}

// cycleReport describes a strongly connected component with one of its cycles.
type cycleReport struct {
	size  int    // transactions in the component
	ops   []int  // the cycle's operations
	path  string // the cycle, edge by edge
	kinds string // the kinds of the edges inside the component, sorted, joined
}

// cycles finds the strongly connected components of g with more than one
// transaction (Tarjan's algorithm, iteratively) and, for each, a shortest cycle
// through its first transaction.
func (tc *txnChecker) cycles(g map[*txn][]depEdge) []cycleReport {
	index := make(map[*txn]int)
	low := make(map[*txn]int)
	onStack := make(map[*txn]bool)
	var stack []*txn
	var sccs [][]*txn
	next := 0
	type frame struct {
		t *txn
		i int
	}
	// Visit in history order, so that reports are stable.
	for _, root := range tc.txns {
		if _, seen := index[root]; seen || len(g[root]) == 0 {
			continue
		}
		call := []frame{{t: root}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			if f.i < len(g[f.t]) {
				w := g[f.t][f.i].to
				f.i++
				if _, seen := index[w]; !seen {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{t: w})
				} else if onStack[w] {
					low[f.t] = min(low[f.t], index[w])
				}
				continue
			}
			v := f.t
			call = call[:len(call)-1]
			if len(call) > 0 {
				u := call[len(call)-1].t
				low[u] = min(low[u], low[v])
			}
			if low[v] == index[v] {
				var scc []*txn
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					scc = append(scc, w)
					if w == v {
						break
					}
				}
				if len(scc) > 1 {
					sccs = append(sccs, scc)
				}
			}
		}
	}
	var out []cycleReport
	for _, scc := range sccs {
		in := make(map[*txn]bool, len(scc))
		for _, t := range scc {
			in[t] = true
		}
		start := slices.MinFunc(scc, func(a, b *txn) int { return a.op.ID - b.op.ID })
		kinds := make(map[string]bool)
		for _, t := range scc {
			for _, e := range g[t] {
				if in[e.to] {
					kinds[e.kind] = true
				}
			}
		}
		// Breadth-first from start back to start, within the component.
		prev := map[*txn]depEdge{}
		from := map[*txn]*txn{}
		queue := []*txn{start}
		var last *txn
	search:
		for len(queue) > 0 {
			t := queue[0]
			queue = queue[1:]
			for _, e := range g[t] {
				if !in[e.to] {
					continue
				}
				if e.to == start {
					prev[start], from[start], last = e, t, t
					break search
				}
				if _, seen := from[e.to]; !seen {
					prev[e.to], from[e.to] = e, t
					queue = append(queue, e.to)
				}
			}
		}
		var steps []string
		var ops []int
		for t := start; ; {
			e, f := prev[t], from[t]
			steps = append(steps, fmt.Sprintf("%s -%s-> %s (%s)", f.describe(), e.kind, t.describe(), e.why))
			ops = append(ops, t.op.ID)
			t = f
			if t == start || last == nil {
				break
			}
		}
		slices.Reverse(steps)
		slices.Sort(ops)
		out = append(out, cycleReport{size: len(scc), ops: ops, path: strings.Join(steps, "; "),
			kinds: strings.Join(slices.Sorted(maps.Keys(kinds)), ",")})
	}
	return out
}

// checkProcessing checks exactly-once processing by the processors' group: no
// record read by two committed transactions, and every record below the group's
// final offsets read by one that committed or may have.
func (tc *txnChecker) checkProcessing() {
	for _, v := range slices.Sorted(maps.Keys(tc.procReads)) {
		var by []*txn
		for _, t := range tc.procReads[v] {
			if t.committed() && !slices.Contains(by, t) {
				by = append(by, t)
			}
		}
		if len(by) < 2 {
			continue
		}
		var ids []string
		var ops []int
		for _, t := range by {
			ops = append(ops, t.op.ID)
			ids = append(ids, t.describe())
		}
		s := tc.sends[v]
		tc.report(EOSDuplicate, s.p, s.o, v, ops, "read by %d committed transactions of %s: %s", len(by), ProcessorGroup, strings.Join(ids, ", "))
	}
	if !tc.hasOffs || !tc.hasFinal {
		return
	}
	for _, v := range slices.Sorted(maps.Keys(tc.final)) {
		for k := range tc.where[v] {
			end, ok := tc.offsets[k.p]
			if !ok || k.o >= end {
				continue
			}
			if slices.ContainsFunc(tc.procReads[v], func(t *txn) bool { return t.op.Outcome != Fail }) {
				continue
			}
			tc.report(EOSSkip, k.p, k.o, v, opsOf(tc.where[v]),
				"below %s's committed offset %d in partition %d, but no transaction of the group that committed (or may have) read it", ProcessorGroup, end, k.p)
		}
	}
}

// describe names a transaction for reports.
func (t *txn) describe() string {
	if t == nil {
		return "no transaction"
	}
	if t.op.Kind == KindSend {
		return fmt.Sprintf("send %d of %s", t.op.ID, t.op.Process)
	}
	state := map[Outcome]string{OK: "committed", Fail: "not committed", Info: "outcome unknown"}[t.op.Outcome]
	return fmt.Sprintf("txn %d of %s (%s, %s)", t.op.ID, t.op.Process, t.op.End, state)
}

func nanos(ns int64) string { return fmt.Sprintf("%.3fs", float64(ns)/1e9) }
