package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// Kind is what an operation did.
type Kind string

// Operation kinds.
const (
	// KindSend is a produce of one or more records; Records hold the values sent and,
	// once acknowledged, the offsets the broker gave them.
	KindSend Kind = "send"
	// KindPoll is one poll of a consumer; Records hold what it returned, in the order
	// returned.
	KindPoll Kind = "poll"
	// KindAssign is a consumer (re)starting at explicit positions; Records hold the
	// partition and offset of each position, without values.
	KindAssign Kind = "assign"
	// KindFault is a fault the nemesis injected and healed; Fault describes it.
	KindFault Kind = "fault"
	// KindTxn is one transaction of a transactional producer, from its begin to its
	// end: Records hold its writes in the order sent (with their offsets once
	// acknowledged), Reads what it consumed (a consume-transform-produce
	// transaction), End what it asked for at its end ("commit" or "abort") and
	// EndCall when. Its Outcome is the commit's: OK committed, Fail definitely not
	// committed (aborted, as asked or after a failed write), Info unknown (a commit
	// whose answer was lost).
	KindTxn Kind = "txn"
	// KindOffsets is a read of the processors' group's committed offsets
	// (ProcessorGroup): Records hold the partition and offset of each, without
	// values.
	KindOffsets Kind = "offsets"
)

// Ends of a transaction (Op.End).
const (
	EndCommit = "commit"
	EndAbort  = "abort"
)

// Outcome is how an operation ended, in Jepsen's terms.
type Outcome string

// Outcomes.
const (
	// OK means the operation definitely took effect (a send was acknowledged, a poll
	// returned).
	OK Outcome = "ok"
	// Fail means the operation definitely did not take effect.
	Fail Outcome = "fail"
	// Info means the outcome is unknown: a send that timed out may or may not have been
	// written.
	Info Outcome = "info"
)

// Record is one record of an operation. Offset is -1 where it is not known, as for a
// send that was never acknowledged.
type Record struct {
	Partition int32  `json:"p"`
	Offset    int64  `json:"o"`
	Value     string `json:"v,omitempty"`
}

// Op is one operation of the history: its invocation and its completion together.
type Op struct {
	// ID orders operations by invocation: a process's operations have increasing IDs in
	// the order the process invoked them.
	ID int `json:"id"`
	// Process names the actor: "producer-0", "consumer-1", "final-reader", "nemesis".
	Process string  `json:"process"`
	Kind    Kind    `json:"f"`
	Outcome Outcome `json:"type"`
	// Call and Return are nanoseconds since the history began (monotonic clock).
	// An operation that never completed has Outcome Info and Return at the end of the
	// history.
	Call    int64    `json:"call"`
	Return  int64    `json:"return"`
	Records []Record `json:"records,omitempty"`
	Error   string   `json:"error,omitempty"`
	// Fault describes a fault operation, such as "kill node 1".
	Fault string `json:"fault,omitempty"`
	// Hit is when a fault took effect (the signal delivered and the process gone or
	// stopped, the links cut), on the same clock as Call; 0 if not recorded, in which
	// case Call stands for it.
	Hit int64 `json:"hit,omitempty"`
	// Led lists the partitions whose leader a fault hit: those the faulted node led
	// just before, as its Metadata said (every partition for a fault on every node).
	Led []int32 `json:"led,omitempty"`
	// Reads, End and EndCall describe a transaction (KindTxn).
	Reads   []Record `json:"reads,omitempty"`
	End     string   `json:"end,omitempty"`
	EndCall int64    `json:"end_call,omitempty"`
}

// FinalReader is the process name of the read of every partition from the beginning
// that ends a run.
const FinalReader = "final-reader"

// History is a completed history, ordered by operation ID.
type History struct {
	// Start is the wall-clock time the history began, for humans reading it.
	Start time.Time `json:"start"`
	Ops   []Op      `json:"ops"`
}

// WriteJSON writes the history as JSON, one operation a line.
func (h *History) WriteJSON(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "{\"start\": %q, \"ops\": [\n", h.Start.Format(time.RFC3339Nano)); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	for i, op := range h.Ops {
		b, err := json.Marshal(op)
		if err != nil {
			return fmt.Errorf("encode history: %w", err)
		}
		sep := ",\n"
		if i == len(h.Ops)-1 {
			sep = "\n"
		}
		if _, err := fmt.Fprintf(w, "%s%s", b, sep); err != nil {
			return fmt.Errorf("write history: %w", err)
		}
	}
	if _, err := io.WriteString(w, "]}\n"); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	return nil
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	return nil
}

// ReadHistory decodes a history written by WriteJSON.
func ReadHistory(r io.Reader) (*History, error) {
	var h History
	if err := json.NewDecoder(r).Decode(&h); err != nil {
		return nil, fmt.Errorf("decode history: %w", err)
	}
	slices.SortFunc(h.Ops, func(a, b Op) int { return a.ID - b.ID })
	return &h, nil
}

// Recorder collects a history from many goroutines. Processes call Invoke when they
// start an operation and Complete when it ends; the zero Recorder is not usable, use
// NewRecorder.
type Recorder struct {
	start time.Time

	mu      sync.Mutex
	nextID  int
	done    []Op
	pending map[int]Op
}

// NewRecorder returns a recorder whose clock starts now.
func NewRecorder() *Recorder {
	return &Recorder{start: time.Now(), pending: make(map[int]Op)}
}

// Now is the recorder's clock: nanoseconds since it started.
func (r *Recorder) Now() int64 { return int64(time.Since(r.start)) }

// Invoke records the start of an operation and returns its ID. records are what the
// operation is about to do (the values a send sends), copied.
func (r *Recorder) Invoke(process string, kind Kind, records []Record) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.nextID
	r.nextID++
	r.pending[id] = Op{
		ID: id, Process: process, Kind: kind, Outcome: Info,
		Call: r.Now(), Records: slices.Clone(records),
	}
	return id
}

// Complete records the end of operation id. records, if not nil, replace what Invoke
// recorded (a send's acknowledged offsets, a poll's results). A second Complete of the
// same operation is ignored.
func (r *Recorder) Complete(id int, outcome Outcome, records []Record, err error) {
	now := r.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	op, ok := r.pending[id]
	if !ok {
		return
	}
	delete(r.pending, id)
	op.Outcome, op.Return = outcome, now
	if records != nil {
		op.Records = slices.Clone(records)
	}
	if err != nil {
		op.Error = err.Error()
	}
	r.done = append(r.done, op)
}

// CompleteTxn records the end of transaction id (invoked with Invoke and
// KindTxn): its outcome, its writes with what the broker acknowledged, what it
// read, what it asked for at its end and when (0 if it never got that far).
func (r *Recorder) CompleteTxn(id int, outcome Outcome, writes, reads []Record, end string, endCall int64, err error) {
	now := r.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	op, ok := r.pending[id]
	if !ok {
		return
	}
	delete(r.pending, id)
	op.Outcome, op.Return = outcome, now
	op.Records, op.Reads = slices.Clone(writes), slices.Clone(reads)
	op.End, op.EndCall = end, endCall
	if err != nil {
		op.Error = err.Error()
	}
	r.done = append(r.done, op)
}

// Discard forgets operation id, invoked but of no interest (a poll that returned
// nothing).
func (r *Recorder) Discard(id int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pending, id)
}

// InvokeFault records the start of a fault, described for humans ("kill -9 node 1"),
// and returns its ID for Complete when the fault is healed.
func (r *Recorder) InvokeFault(desc string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.nextID
	r.nextID++
	r.pending[id] = Op{ID: id, Process: "nemesis", Kind: KindFault, Outcome: Info, Call: r.Now(), Fault: desc}
	return id
}

// FaultHit records that fault id has taken effect now, hitting the leaders of the
// partitions in led, and returns the time it recorded.
func (r *Recorder) FaultHit(id int, led []int32) int64 {
	now := r.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if op, ok := r.pending[id]; ok && op.Kind == KindFault {
		op.Hit, op.Led = now, slices.Clone(led)
		r.pending[id] = op
	}
	return now
}

// History returns the operations recorded so far, ordered by ID. Operations still
// pending are included as Info, returning now: their outcome is unknown.
func (r *Recorder) History() *History {
	now := r.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := slices.Clone(r.done)
	for _, op := range r.pending {
		op.Return = now
		ops = append(ops, op)
	}
	slices.SortFunc(ops, func(a, b Op) int { return a.ID - b.ID })
	return &History{Start: r.start, Ops: ops}
}
