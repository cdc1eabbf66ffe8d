package chaos

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// Anomaly names. Most are Jepsen's, from its Kafka analyses (Redpanda 2022, Bufstream
// 2024); unexpected-value and nonlinearizable are Sluice's.
const (
	// LostWrite: an acknowledged record, at or below the highest offset any consumer
	// read in its partition, that nobody ever read.
	LostWrite = "lost-write"
	// Unseen: an acknowledged record that nobody ever read, above the highest offset
	// read in its partition. The final read covers every partition up to its high
	// watermark, so an unseen record is one the log no longer reaches.
	Unseen = "unseen"
	// Duplicate: one value at several offsets.
	Duplicate = "duplicate"
	// InconsistentOffsets: one offset with several values, between acknowledgements
	// and reads.
	InconsistentOffsets = "inconsistent-offsets"
	// G1a: an aborted read, a value whose write definitely failed.
	G1a = "G1a"
	// NonmonotonicSend: a producer's acknowledged offsets in one partition do not
	// increase in the order it sent the records, across operations.
	NonmonotonicSend = "nonmonotonic-send"
	// IntNonmonotonicSend: the same within one send operation.
	IntNonmonotonicSend = "int-nonmonotonic-send"
	// NonmonotonicPoll: a consumer's offsets in one partition go backwards or repeat
	// between polls (or fall below the position it was assigned).
	NonmonotonicPoll = "nonmonotonic-poll"
	// IntNonmonotonicPoll: the same within one poll.
	IntNonmonotonicPoll = "int-nonmonotonic-poll"
	// PollSkip: a consumer's next offset in a partition jumps over offsets that hold
	// records, between polls (or from the position it was assigned).
	PollSkip = "poll-skip"
	// IntPollSkip: the same within one poll.
	IntPollSkip = "int-poll-skip"
	// UnexpectedValue: a read returned a value no producer sent.
	UnexpectedValue = "unexpected-value"
	// Nonlinearizable: porcupine found no linearization of a partition's sends and
	// polls against a list-append model of the log.
	Nonlinearizable = "nonlinearizable"

	// Transactional anomalies, checked in transactional histories (txncheck.go).
	// PrecommittedRead: a read of a transaction's record that returned before the
	// transaction asked to commit, or a transaction reading its own record.
	PrecommittedRead = "precommitted-read"
	// G0: a cycle of write-write orders between transactions (allowed by Kafka).
	G0 = "G0"
	// G1c: a cycle of write-read dependencies between transactions, or one closed by
	// a single write-write order.
	G1c = "G1c"
)

// CheckedAnomalies lists every anomaly Check looks for, in report order.
var CheckedAnomalies = []string{
	LostWrite, Unseen, Duplicate, InconsistentOffsets, G1a,
	NonmonotonicSend, IntNonmonotonicSend, NonmonotonicPoll, IntNonmonotonicPoll,
	PollSkip, IntPollSkip, UnexpectedValue, Nonlinearizable,
}

// notChecked says why the transactional anomalies are absent from a summary.
var notChecked = map[string]string{
	PrecommittedRead: "needs a transactional workload (-workload txn)",
	G0:               "needs a transactional workload (-workload txn)",
	G0Realtime:       "needs a transactional workload (-workload txn); plain sends are checked for real-time order by nonlinearizable",
	G1c:              "needs a transactional workload (-workload txn)",
}

// Anomaly is one instance of an anomaly, with what a person needs to find it in the
// history.
type Anomaly struct {
	Name      string `json:"name"`
	Partition int32  `json:"p"`
	Offset    int64  `json:"o"` // -1 where no single offset applies
	Value     string `json:"v,omitempty"`
	Ops       []int  `json:"ops,omitempty"` // IDs of the operations involved
	Detail    string `json:"detail"`
}

func (a Anomaly) String() string {
	return fmt.Sprintf("%s p%d o%d v%q ops %v: %s", a.Name, a.Partition, a.Offset, a.Value, a.Ops, a.Detail)
}

// CheckOptions tunes Check. The zero value is usable.
type CheckOptions struct {
	// LinearizabilityTimeout bounds porcupine's search per partition; a partition it
	// cannot decide in time is reported as "unknown", not as an anomaly. Default 30s.
	LinearizabilityTimeout time.Duration
	// MaxLinearizableOps skips porcupine on partitions with more operations than this:
	// its memory grows with the square of the operation count. Default 40000.
	MaxLinearizableOps int
	// MaxExamples bounds the anomalies listed per name. Default 20.
	MaxExamples int
}

func (o CheckOptions) withDefaults() CheckOptions {
	if o.LinearizabilityTimeout <= 0 {
		o.LinearizabilityTimeout = 30 * time.Second
	}
	if o.MaxLinearizableOps <= 0 {
		o.MaxLinearizableOps = 40_000
	}
	if o.MaxExamples <= 0 {
		o.MaxExamples = 20
	}
	return o
}

// Stats counts what a history holds.
type Stats struct {
	Sends       int `json:"sends"`
	SendsOK     int `json:"sends_ok"`
	SendsFailed int `json:"sends_failed"`
	SendsInfo   int `json:"sends_info"`
	Polls       int `json:"polls"`
	// RecordsPolled counts records returned by polls, final read included.
	RecordsPolled int `json:"records_polled"`
	// FinalRead counts the records the final reader read.
	FinalRead int `json:"final_read"`
	// Faults counts faults by kind (the first word of their description).
	Faults map[string]int `json:"faults"`
	// Partitions holds, per partition, the acknowledged records and the end of the
	// log as read (the highest offset read, plus one).
	Partitions map[int32]PartitionStats `json:"partitions"`
	// Recovery holds, per fault, how long writes took to be acknowledged again.
	Recovery []Recovery `json:"recovery,omitempty"`
	// Txns counts the transactions of a transactional history, by outcome. (Sends
	// then count their records, by their transaction's outcome.)
	Txns          int `json:"txns,omitempty"`
	TxnsCommitted int `json:"txns_committed,omitempty"`
	TxnsAborted   int `json:"txns_aborted,omitempty"`
	TxnsInfo      int `json:"txns_info,omitempty"`
}

// Recovery is how a fault affected writes.
type Recovery struct {
	Fault string `json:"fault"`
	// Fault is how long the fault lasted, from injection to heal (a restart
	// included), in milliseconds.
	FaultMs float64 `json:"fault_ms"`
	// AckAfterHealMs is the time from the heal to the first acknowledgement after
	// it; -1 if none came.
	AckAfterHealMs float64 `json:"ack_after_heal_ms"`
	// HealMs is the time from the moment the fault hit (Op.Hit, else its start) to
	// its heal.
	HealMs float64 `json:"heal_ms"`
	// Led lists the partitions whose leader the fault hit (Op.Led).
	Led []int32 `json:"led,omitempty"`
	// FirstWriteMs is, per partition, the time from the moment the fault hit to the
	// acknowledgement of the first record sent to that partition after it: how long
	// a producer that began to write then waited. -1 where none was acknowledged.
	FirstWriteMs map[int32]float64 `json:"first_write_ms,omitempty"`
}

// WriteMs is the longest FirstWriteMs over the given partitions (every partition
// when none is given): the time until all of them took writes again. It is -1 if one
// of them took none, or if there is no partition to measure.
func (r Recovery) WriteMs(parts ...int32) float64 {
	if len(parts) == 0 {
		parts = slices.Sorted(maps.Keys(r.FirstWriteMs))
	}
	if len(parts) == 0 {
		return -1
	}
	worst := 0.0
	for _, p := range parts {
		ms, ok := r.FirstWriteMs[p]
		if !ok || ms < 0 {
			return -1
		}
		worst = max(worst, ms)
	}
	return worst
}

// PartitionStats is one partition's share of Stats.
type PartitionStats struct {
	Acked     int   `json:"acked"`
	EndOffset int64 `json:"end_offset"`
}

// Summary is the checker's verdict on a history.
type Summary struct {
	// Valid is true when no anomaly was found.
	Valid bool `json:"valid"`
	// Anomalies counts each checked anomaly, zeros included.
	Anomalies map[string]int `json:"anomalies"`
	// Allowed counts what a transactional history shows that Kafka allows by design
	// (AllowedAnomalies): reported, not invalid.
	Allowed map[string]int `json:"allowed,omitempty"`
	// NotChecked names anomalies this history cannot show, and why.
	NotChecked map[string]string `json:"not_checked"`
	// Examples lists up to MaxExamples instances of each anomaly found.
	Examples []Anomaly `json:"examples,omitempty"`
	// Linearizability is porcupine's result per partition: "ok", "illegal",
	// "unknown" (timed out) or "skipped: ..." (too many operations).
	Linearizability map[int32]string `json:"linearizability"`
	Stats           Stats            `json:"stats"`
}

// Checked lists the anomalies the summary's history was checked for, in report
// order.
func (s Summary) Checked() []string {
	if s.Stats.Txns > 0 {
		return TxnCheckedAnomalies
	}
	return CheckedAnomalies
}

// String is a one-line verdict with every non-zero count.
func (s Summary) String() string {
	var found []string
	for _, name := range s.Checked() {
		if n := s.Anomalies[name]; n > 0 {
			found = append(found, fmt.Sprintf("%s=%d", name, n))
		}
	}
	verdict := "valid"
	if !s.Valid {
		verdict = "INVALID: " + strings.Join(found, " ")
	}
	if s.Stats.Txns > 0 {
		var allowed []string
		for _, name := range AllowedAnomalies {
			allowed = append(allowed, fmt.Sprintf("%s=%d", name, s.Allowed[name]))
		}
		return fmt.Sprintf("%s (allowed by design: %s); %d txns (%d committed, %d not, %d unknown) writing %d records, %d polls, %d records polled, final read %d records",
			verdict, strings.Join(allowed, " "), s.Stats.Txns, s.Stats.TxnsCommitted, s.Stats.TxnsAborted, s.Stats.TxnsInfo,
			s.Stats.Sends, s.Stats.Polls, s.Stats.RecordsPolled, s.Stats.FinalRead)
	}
	return fmt.Sprintf("%s; %d sends (%d ok, %d failed, %d info), %d polls, %d records polled, final read %d records",
		verdict, s.Stats.Sends, s.Stats.SendsOK, s.Stats.SendsFailed, s.Stats.SendsInfo,
		s.Stats.Polls, s.Stats.RecordsPolled, s.Stats.FinalRead)
}

// pos is a place in the log.
type pos struct {
	p int32
	o int64
}

// sent is what the history says about one value's send.
type sent struct {
	op      int
	outcome Outcome
	p       int32
	o       int64 // the acknowledged offset, or -1
}

// checker holds the indexes Check builds over a history.
type checker struct {
	opts     CheckOptions
	h        *History
	sends    map[string]sent
	read     map[string]bool        // values returned by some poll
	final    map[string]bool        // values returned by the final read
	hasFinal bool                   // the history has a final read
	finalMax map[int32]int64        // highest offset the final read returned per partition
	maxRead  map[int32]int64        // highest offset read per partition
	at       map[pos]map[string]int // values seen at a position (ack or read) -> first op
	where    map[string]map[pos]int // positions a value was seen at -> first op
	known    map[int32][]int64      // sorted offsets known to hold a record, per partition
	found    []Anomaly
}

// Check analyses a history and returns its summary. It never fails: a history it
// cannot make sense of shows up as anomalies.
func Check(h *History, opts CheckOptions) Summary {
	if isTxnHistory(h) {
		return checkTxn(h, opts)
	}
	c := &checker{
		opts:     opts.withDefaults(),
		h:        h,
		sends:    make(map[string]sent),
		read:     make(map[string]bool),
		final:    make(map[string]bool),
		finalMax: make(map[int32]int64),
		maxRead:  make(map[int32]int64),
		at:       make(map[pos]map[string]int),
		where:    make(map[string]map[pos]int),
		known:    make(map[int32][]int64),
	}
	stats := c.index()
	c.checkOffsets()
	c.checkAcks()
	c.checkReads()
	c.checkSendOrder()
	c.checkPollOrder()
	lin := c.checkLinearizability()

	sum := Summary{
		Valid:           true,
		Anomalies:       make(map[string]int, len(CheckedAnomalies)),
		NotChecked:      maps.Clone(notChecked),
		Linearizability: lin,
		Stats:           stats,
	}
	for _, name := range CheckedAnomalies {
		sum.Anomalies[name] = 0
	}
	slices.SortStableFunc(c.found, func(a, b Anomaly) int {
		return cmp.Or(cmp.Compare(slices.Index(CheckedAnomalies, a.Name), slices.Index(CheckedAnomalies, b.Name)),
			cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
	for _, a := range c.found {
		sum.Anomalies[a.Name]++
		sum.Valid = false
		if sum.Anomalies[a.Name] <= c.opts.MaxExamples {
			sum.Examples = append(sum.Examples, a)
		}
	}
	return sum
}

func (c *checker) report(name string, p int32, o int64, v string, ops []int, format string, args ...any) {
	c.found = append(c.found, Anomaly{Name: name, Partition: p, Offset: o, Value: v, Ops: ops, Detail: fmt.Sprintf(format, args...)})
}

// observe notes that op saw value v at (p, o), by acknowledgement or read.
func (c *checker) observe(p int32, o int64, v string, op int) {
	k := pos{p, o}
	if c.at[k] == nil {
		c.at[k] = make(map[string]int)
	}
	if _, ok := c.at[k][v]; !ok {
		c.at[k][v] = op
	}
	if c.where[v] == nil {
		c.where[v] = make(map[pos]int)
	}
	if _, ok := c.where[v][k]; !ok {
		c.where[v][k] = op
	}
}

// index builds the checker's maps and counts the history.
func (c *checker) index() Stats {
	st := Stats{Faults: make(map[string]int), Partitions: make(map[int32]PartitionStats)}
	knownSet := make(map[pos]bool)
	for _, op := range c.h.Ops {
		switch op.Kind {
		case KindSend:
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
				if _, dup := c.sends[r.Value]; dup {
					// The workload never sends a value twice; a history that does is
					// not one this checker can judge, so say so.
					c.report(Duplicate, r.Partition, -1, r.Value, []int{c.sends[r.Value].op, op.ID}, "value sent twice: the workload must send unique values")
					continue
				}
				s := sent{op: op.ID, outcome: op.Outcome, p: r.Partition, o: -1}
				if op.Outcome == OK && r.Offset >= 0 {
					s.o = r.Offset
					c.observe(r.Partition, r.Offset, r.Value, op.ID)
					knownSet[pos{r.Partition, r.Offset}] = true
					ps := st.Partitions[r.Partition]
					ps.Acked++
					st.Partitions[r.Partition] = ps
				}
				c.sends[r.Value] = s
			}
		case KindPoll:
			st.Polls++
			st.RecordsPolled += len(op.Records)
			if op.Process == FinalReader {
				st.FinalRead += len(op.Records)
				c.hasFinal = true
			}
			for _, r := range op.Records {
				if op.Process == FinalReader {
					c.final[r.Value] = true
					if m, ok := c.finalMax[r.Partition]; !ok || r.Offset > m {
						c.finalMax[r.Partition] = r.Offset
					}
				}
				c.read[r.Value] = true
				if m, ok := c.maxRead[r.Partition]; !ok || r.Offset > m {
					c.maxRead[r.Partition] = r.Offset
				}
				c.observe(r.Partition, r.Offset, r.Value, op.ID)
				knownSet[pos{r.Partition, r.Offset}] = true
				ps := st.Partitions[r.Partition]
				ps.EndOffset = max(ps.EndOffset, r.Offset+1)
				st.Partitions[r.Partition] = ps
			}
		case KindFault:
			kind, _, _ := strings.Cut(op.Fault, " ")
			st.Faults[kind]++
		case KindAssign:
			if op.Process == FinalReader {
				c.hasFinal = true
			}
		}
	}
	for k := range knownSet {
		c.known[k.p] = append(c.known[k.p], k.o)
	}
	st.Recovery = c.recovery()
	for _, offs := range c.known {
		slices.Sort(offs)
	}
	return st
}

// recovery measures, for each fault, the time from its heal to the next
// acknowledgement, and per partition the time from the moment it hit to the
// acknowledgement of the first record sent after that.
func (c *checker) recovery() []Recovery {
	var acks []int64 // return times of acknowledged sends, sorted
	// Per partition, acknowledged sends by call time, with the earliest return of
	// any send called at or after each one (a suffix minimum).
	type sendTimes struct{ call, firstReturn []int64 }
	byPart := make(map[int32]*sendTimes)
	for _, op := range c.h.Ops { // ordered by ID, and so by call time
		if (op.Kind != KindSend && op.Kind != KindTxn) || op.Outcome != OK {
			continue
		}
		acks = append(acks, op.Return)
		for _, p := range partitionsOf(op.Records) {
			st := byPart[p]
			if st == nil {
				st = &sendTimes{}
				byPart[p] = st
			}
			st.call = append(st.call, op.Call)
			st.firstReturn = append(st.firstReturn, op.Return)
		}
	}
	slices.Sort(acks)
	for _, st := range byPart {
		for i := len(st.firstReturn) - 2; i >= 0; i-- {
			st.firstReturn[i] = min(st.firstReturn[i], st.firstReturn[i+1])
		}
	}
	var out []Recovery
	for _, op := range c.h.Ops {
		if op.Kind != KindFault {
			continue
		}
		hit := op.Hit
		if hit == 0 {
			hit = op.Call
		}
		r := Recovery{
			Fault: op.Fault, FaultMs: ms(op.Return - op.Call), AckAfterHealMs: -1,
			HealMs: ms(op.Return - hit), Led: op.Led, FirstWriteMs: make(map[int32]float64, len(byPart)),
		}
		if i := sort.Search(len(acks), func(i int) bool { return acks[i] > op.Return }); i < len(acks) {
			r.AckAfterHealMs = ms(acks[i] - op.Return)
		}
		for p, st := range byPart {
			r.FirstWriteMs[p] = -1
			if i := sort.Search(len(st.call), func(i int) bool { return st.call[i] > hit }); i < len(st.call) {
				r.FirstWriteMs[p] = ms(st.firstReturn[i] - hit)
			}
		}
		out = append(out, r)
	}
	return out
}

// partitionsOf lists the partitions records are in, each once.
func partitionsOf(recs []Record) []int32 {
	var ps []int32
	for _, r := range recs {
		if !slices.Contains(ps, r.Partition) {
			ps = append(ps, r.Partition)
		}
	}
	return ps
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// checkOffsets finds offsets with several values and values at several offsets.
func (c *checker) checkOffsets() {
	for _, k := range sortedKeys(c.at, comparePos) {
		vals := c.at[k]
		if len(vals) < 2 {
			continue
		}
		names := slices.Sorted(maps.Keys(vals))
		c.report(InconsistentOffsets, k.p, k.o, "", opsOf(vals), "offset holds %d values: %q", len(vals), names)
	}
	for _, v := range slices.Sorted(maps.Keys(c.where)) {
		places := c.where[v]
		if len(places) < 2 {
			continue
		}
		ks := sortedKeys(places, comparePos)
		var where []string
		for _, k := range ks {
			where = append(where, fmt.Sprintf("%d@%d", k.p, k.o))
		}
		c.report(Duplicate, ks[0].p, ks[0].o, v, opsOf(places), "value at %d offsets: %s", len(places), strings.Join(where, ", "))
	}
}

// checkAcks finds acknowledged values that nobody read, or that the final read no
// longer reaches.
func (c *checker) checkAcks() {
	for _, v := range slices.Sorted(maps.Keys(c.sends)) {
		s := c.sends[v]
		if s.o < 0 {
			continue
		}
		top, ok := c.maxRead[s.p]
		switch {
		case !c.read[v] && ok && s.o <= top:
			c.report(LostWrite, s.p, s.o, v, []int{s.op}, "acknowledged at offset %d, never read, though reads reached offset %d", s.o, top)
		case !c.read[v] && ok:
			c.report(Unseen, s.p, s.o, v, []int{s.op}, "acknowledged at offset %d, never read; reads reached offset %d", s.o, top)
		case !c.read[v]:
			c.report(Unseen, s.p, s.o, v, []int{s.op}, "acknowledged at offset %d, never read; nothing was read from the partition", s.o)
		case c.hasFinal && !c.final[v]:
			end, ok := c.finalMax[s.p]
			if !ok {
				end = -1
			}
			if s.o > end {
				// Read once, gone since: the log shrank below it.
				c.report(Unseen, s.p, s.o, v, []int{s.op}, "acknowledged at offset %d and read, but the final read ends at offset %d", s.o, end)
			}
			// Otherwise the final read passed its offset without it: that shows as
			// inconsistent-offsets or a skip.
		}
	}
}

// checkReads finds reads of values that were never written or definitely failed.
func (c *checker) checkReads() {
	for _, v := range slices.Sorted(maps.Keys(c.where)) {
		if !c.read[v] {
			continue
		}
		places := c.where[v]
		first := sortedKeys(places, comparePos)[0]
		s, ok := c.sends[v]
		switch {
		case !ok:
			c.report(UnexpectedValue, first.p, first.o, v, opsOf(places), "read a value no producer sent")
		case s.outcome == Fail:
			c.report(G1a, first.p, first.o, v, append([]int{s.op}, opsOf(places)...), "read a value whose send definitely failed")
		}
	}
}

// checkSendOrder checks that each producer's acknowledged offsets in a partition
// increase in the order it sent.
func (c *checker) checkSendOrder() {
	type key struct {
		process string
		p       int32
	}
	type last struct {
		o  int64
		op int
	}
	prev := make(map[key]last)
	for _, op := range c.h.Ops {
		// A transaction's records are in the log whatever its fate, so all of them
		// count, in the order sent; a plain send's only once acknowledged.
		if op.Kind != KindTxn && (op.Kind != KindSend || op.Outcome != OK) {
			continue
		}
		for _, r := range op.Records {
			if r.Offset < 0 {
				continue
			}
			k := key{op.Process, r.Partition}
			if l, ok := prev[k]; ok && r.Offset <= l.o {
				name := NonmonotonicSend
				if l.op == op.ID {
					name = IntNonmonotonicSend
				}
				c.report(name, r.Partition, r.Offset, r.Value, uniqueOps(l.op, op.ID),
					"%s sent this after a record acknowledged at offset %d, but it was acknowledged at %d", op.Process, l.o, r.Offset)
			}
			prev[k] = last{r.Offset, op.ID}
		}
	}
}

// checkPollOrder checks that each consumer reads each partition in offset order
// without skipping an offset known to hold a record, from the position it was
// assigned.
func (c *checker) checkPollOrder() {
	type key struct {
		process string
		p       int32
	}
	type next struct {
		o  int64
		op int // the operation that set it: an assign or a poll
	}
	expect := make(map[key]next)
	for _, op := range c.h.Ops {
		switch op.Kind {
		case KindAssign:
			for _, r := range op.Records {
				expect[key{op.Process, r.Partition}] = next{r.Offset, op.ID}
			}
		case KindPoll:
			for _, r := range op.Records {
				k := key{op.Process, r.Partition}
				n, ok := expect[k]
				if ok {
					within := n.op == op.ID
					switch {
					case r.Offset < n.o:
						name := NonmonotonicPoll
						if within {
							name = IntNonmonotonicPoll
						}
						c.report(name, r.Partition, r.Offset, r.Value, uniqueOps(n.op, op.ID),
							"%s read offset %d when its next offset was %d", op.Process, r.Offset, n.o)
					case r.Offset > n.o:
						if skipped, ok := c.firstKnown(r.Partition, n.o, r.Offset); ok {
							name := PollSkip
							if within {
								name = IntPollSkip
							}
							c.report(name, r.Partition, r.Offset, r.Value, uniqueOps(n.op, op.ID),
								"%s read offset %d after position %d, skipping offset %d which holds a record", op.Process, r.Offset, n.o, skipped)
						}
					}
				}
				expect[k] = next{r.Offset + 1, op.ID}
			}
		}
	}
}

// firstKnown returns the first offset in [from, to) known to hold a record in p.
func (c *checker) firstKnown(p int32, from, to int64) (int64, bool) {
	offs := c.known[p]
	i := sort.Search(len(offs), func(i int) bool { return offs[i] >= from })
	if i < len(offs) && offs[i] < to {
		return offs[i], true
	}
	return 0, false
}

func comparePos(a, b pos) int {
	return cmp.Or(cmp.Compare(a.p, b.p), cmp.Compare(a.o, b.o))
}

func sortedKeys[K comparable, V any](m map[K]V, compare func(a, b K) int) []K {
	ks := slices.Collect(maps.Keys(m))
	slices.SortFunc(ks, compare)
	return ks
}

// opsOf returns the sorted, distinct operation IDs in m's values.
func opsOf[K comparable](m map[K]int) []int {
	ops := slices.Collect(maps.Values(m))
	slices.Sort(ops)
	return slices.Compact(ops)
}

func uniqueOps(ids ...int) []int {
	slices.Sort(ids)
	return slices.Compact(ids)
}
