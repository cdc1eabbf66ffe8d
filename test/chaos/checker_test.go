package chaos

import (
	"bytes"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/anishathalye/porcupine"
)

// hb builds a synthetic history. Times are explicit so that tests control which
// operations are concurrent.
type hb struct{ ops []Op }

func (b *hb) add(op Op) *hb {
	op.ID = len(b.ops)
	if op.Outcome == "" {
		op.Outcome = OK
	}
	b.ops = append(b.ops, op)
	return b
}

// send is one acknowledged (or failed, or unknown) send of one record.
func (b *hb) send(process string, call, ret int64, outcome Outcome, p int32, o int64, v string) *hb {
	return b.add(Op{Process: process, Kind: KindSend, Outcome: outcome, Call: call, Return: ret,
		Records: []Record{{Partition: p, Offset: o, Value: v}}})
}

func (b *hb) assign(process string, at int64, p int32, o int64) *hb {
	return b.add(Op{Process: process, Kind: KindAssign, Call: at, Return: at, Records: []Record{{Partition: p, Offset: o}}})
}

// poll returns records of partition p: "0=a 1=b" means offset 0 holds a, 1 holds b.
func (b *hb) poll(process string, call, ret int64, p int32, recs string) *hb {
	return b.add(Op{Process: process, Kind: KindPoll, Call: call, Return: ret, Records: parseRecs(p, recs)})
}

func parseRecs(p int32, s string) []Record {
	var out []Record
	for _, f := range strings.Fields(s) {
		o, v, _ := strings.Cut(f, "=")
		var off int64
		for _, ch := range o {
			off = off*10 + int64(ch-'0')
		}
		out = append(out, Record{Partition: p, Offset: off, Value: v})
	}
	return out
}

func (b *hb) history() *History { return &History{Ops: b.ops} }

// goodLog is a healthy run on one partition: two producers, a consumer that reads
// everything in two polls, and the final read.
func goodLog() *hb {
	b := &hb{}
	b.send("producer-0", 0, 10, OK, 0, 0, "a")
	b.send("producer-1", 1, 12, OK, 0, 1, "b")
	b.send("producer-0", 11, 20, OK, 0, 2, "c")
	b.assign("consumer-0", 0, 0, 0)
	b.poll("consumer-0", 5, 15, 0, "0=a 1=b")
	b.poll("consumer-0", 16, 25, 0, "2=c")
	b.assign(FinalReader, 30, 0, 0)
	b.poll(FinalReader, 30, 31, 0, "0=a 1=b 2=c")
	return b
}

func found(s Summary) []string {
	var names []string
	for name, n := range s.Anomalies {
		if n > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func TestCheckValidHistory(t *testing.T) {
	s := Check(goodLog().history(), CheckOptions{})
	if !s.Valid || len(found(s)) > 0 {
		t.Fatalf("healthy history judged invalid: %v\n%v", s, s.Examples)
	}
	if got := s.Linearizability[0]; got != "ok; order check: ok" {
		t.Errorf("linearizability of partition 0 = %q, want ok from both checks", got)
	}
	if s.Stats.SendsOK != 3 || s.Stats.FinalRead != 3 || s.Stats.Partitions[0].EndOffset != 3 {
		t.Errorf("stats = %+v", s.Stats)
	}
	for _, name := range CheckedAnomalies {
		if _, ok := s.Anomalies[name]; !ok {
			t.Errorf("summary lacks a count for %s", name)
		}
	}
}

// TestCheckFindsAnomalies feeds the checker histories with one injected bug each and
// asserts exactly which anomalies it reports. Where one bug necessarily shows as
// several anomalies (a read of a value nobody wrote cannot be linearized either), the
// case lists them all.
func TestCheckFindsAnomalies(t *testing.T) {
	tests := []struct {
		name  string
		build func() *hb
		want  []string
	}{
		{
			name: "lost ack: acknowledged at 1, reads pass it, never read",
			build: func() *hb {
				b := &hb{}
				b.send("producer-0", 0, 10, OK, 0, 0, "a")
				b.send("producer-0", 1, 11, OK, 0, 1, "b")
				b.send("producer-1", 12, 20, OK, 0, 1, "c") // the broker reused offset 1
				b.assign(FinalReader, 30, 0, 0)
				b.poll(FinalReader, 30, 31, 0, "0=a 1=c")
				return b
			},
			want: []string{InconsistentOffsets, LostWrite, Nonlinearizable},
		},
		{
			name: "lost ack with a gap where it was",
			build: func() *hb {
				b := &hb{}
				b.send("producer-0", 0, 10, OK, 0, 0, "a")
				b.send("producer-0", 1, 11, OK, 0, 1, "b")
				b.send("producer-0", 2, 12, OK, 0, 2, "c")
				b.assign(FinalReader, 30, 0, 0)
				b.poll(FinalReader, 30, 31, 0, "0=a 2=c")
				return b
			},
			want: []string{IntPollSkip, LostWrite},
		},
		{
			name: "unseen: acknowledged beyond the end of the log",
			build: func() *hb {
				b := &hb{}
				b.send("producer-0", 0, 10, OK, 0, 0, "a")
				b.send("producer-0", 1, 11, OK, 0, 1, "b")
				b.assign(FinalReader, 30, 0, 0)
				b.poll(FinalReader, 30, 31, 0, "0=a")
				return b
			},
			want: []string{Unseen},
		},
		{
			name: "unseen: read once, then the log shrank below it",
			build: func() *hb {
				b := &hb{}
				b.send("producer-0", 0, 10, OK, 0, 0, "a")
				b.send("producer-0", 1, 11, OK, 0, 1, "b")
				b.assign("consumer-0", 0, 0, 0)
				b.poll("consumer-0", 12, 13, 0, "0=a 1=b")
				b.assign(FinalReader, 30, 0, 0)
				b.poll(FinalReader, 30, 31, 0, "0=a")
				return b
			},
			want: []string{Unseen},
		},
		{
			name: "duplicate: one value at two offsets",
			build: func() *hb {
				b := &hb{}
				b.send("producer-0", 0, 10, OK, 0, 0, "a")
				b.send("producer-0", 1, 11, OK, 0, 1, "b")
				b.assign(FinalReader, 30, 0, 0)
				b.poll(FinalReader, 30, 31, 0, "0=a 1=b 2=a")
				return b
			},
			want: []string{Duplicate, Nonlinearizable},
		},
		{
			name: "duplicate of a retried send of unknown outcome",
			build: func() *hb {
				b := &hb{}
				b.send("producer-0", 0, 10, Info, 0, -1, "a")
				b.send("producer-0", 1, 11, OK, 0, 1, "b")
				b.assign(FinalReader, 30, 0, 0)
				b.poll(FinalReader, 30, 31, 0, "0=a 1=b 2=a")
				return b
			},
			want: []string{Duplicate, Nonlinearizable},
		},
		{
			name: "wrong value at an acknowledged offset",
			build: func() *hb {
				b := &hb{}
				b.send("producer-0", 0, 10, OK, 0, 0, "a")
				b.send("producer-1", 1, 11, Info, 0, -1, "x")
				b.assign(FinalReader, 30, 0, 0)
				b.poll(FinalReader, 30, 31, 0, "0=x")
				return b
			},
			want: []string{InconsistentOffsets, LostWrite, Nonlinearizable},
		},
		{
			name: "two consumers disagree on an offset",
			build: func() *hb {
				b := &hb{}
				b.send("producer-0", 0, 10, Info, 0, -1, "a")
				b.send("producer-0", 1, 11, Info, 0, -1, "b")
				b.poll("consumer-0", 12, 13, 0, "0=a")
				b.poll("consumer-1", 12, 13, 0, "0=b")
				return b
			},
			want: []string{InconsistentOffsets, Nonlinearizable},
		},
		{
			name: "reorder between polls",
			build: func() *hb {
				b := goodLog()
				b.assign("consumer-1", 26, 0, 0)
				b.poll("consumer-1", 26, 27, 0, "0=a 1=b 2=c")
				b.poll("consumer-1", 28, 29, 0, "1=b")
				return b
			},
			want: []string{NonmonotonicPoll},
		},
		{
			name: "reorder within a poll",
			build: func() *hb {
				b := goodLog()
				b.assign("consumer-1", 26, 0, 0)
				b.poll("consumer-1", 26, 27, 0, "0=a 2=c 1=b")
				return b
			},
			want: []string{IntNonmonotonicPoll, IntPollSkip},
		},
		{
			name: "read below the assigned position",
			build: func() *hb {
				b := goodLog()
				b.assign("consumer-1", 26, 0, 2)
				b.poll("consumer-1", 26, 27, 0, "1=b")
				return b
			},
			want: []string{NonmonotonicPoll},
		},
		{
			name: "skip between polls",
			build: func() *hb {
				b := goodLog()
				b.assign("consumer-1", 26, 0, 0)
				b.poll("consumer-1", 26, 27, 0, "0=a")
				b.poll("consumer-1", 28, 29, 0, "2=c")
				return b
			},
			want: []string{PollSkip},
		},
		{
			name: "skip from the assigned position",
			build: func() *hb {
				b := goodLog()
				b.assign("consumer-1", 26, 0, 0)
				b.poll("consumer-1", 26, 27, 0, "1=b 2=c")
				return b
			},
			want: []string{PollSkip},
		},
		{
			name: "a producer's acknowledgements out of send order",
			build: func() *hb {
				b := &hb{}
				// Concurrent, so real time allows either order; the producer's own
				// order does not.
				b.send("producer-0", 0, 10, OK, 0, 1, "a")
				b.send("producer-0", 1, 10, OK, 0, 0, "b")
				b.assign(FinalReader, 30, 0, 0)
				b.poll(FinalReader, 30, 31, 0, "0=b 1=a")
				return b
			},
			want: []string{NonmonotonicSend},
		},
		{
			name: "a producer's acknowledgements out of order within one send",
			build: func() *hb {
				b := &hb{}
				b.add(Op{Process: "producer-0", Kind: KindSend, Call: 0, Return: 10, Records: []Record{
					{Partition: 0, Offset: 1, Value: "a"}, {Partition: 0, Offset: 0, Value: "b"}}})
				b.assign(FinalReader, 30, 0, 0)
				b.poll(FinalReader, 30, 31, 0, "0=b 1=a")
				return b
			},
			want: []string{IntNonmonotonicSend},
		},
		{
			name: "aborted read: a value whose send definitely failed",
			build: func() *hb {
				b := &hb{}
				b.send("producer-0", 0, 10, Fail, 0, -1, "a")
				b.assign(FinalReader, 30, 0, 0)
				b.poll(FinalReader, 30, 31, 0, "0=a")
				return b
			},
			want: []string{G1a, Nonlinearizable},
		},
		{
			name: "a value nobody sent",
			build: func() *hb {
				b := &hb{}
				b.assign(FinalReader, 30, 0, 0)
				b.poll(FinalReader, 30, 31, 0, "0=zzz")
				return b
			},
			want: []string{Nonlinearizable, UnexpectedValue},
		},
		{
			name: "real-time order: a later send got an earlier offset",
			build: func() *hb {
				b := &hb{}
				b.send("producer-0", 0, 10, OK, 0, 1, "a")
				b.send("producer-1", 20, 30, OK, 0, 0, "b")
				b.assign(FinalReader, 40, 0, 0)
				b.poll(FinalReader, 40, 41, 0, "0=b 1=a")
				return b
			},
			want: []string{Nonlinearizable},
		},
		{
			name: "a read of a value before its send was invoked",
			build: func() *hb {
				b := &hb{}
				b.poll("consumer-0", 0, 5, 0, "0=a")
				b.send("producer-0", 10, 20, OK, 0, 0, "a")
				b.assign(FinalReader, 40, 0, 0)
				b.poll(FinalReader, 40, 41, 0, "0=a")
				return b
			},
			want: []string{Nonlinearizable},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Check(tt.build().history(), CheckOptions{})
			got := found(s)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("anomalies = %v, want %v\nexamples:\n%v", got, want, s.Examples)
			}
			if s.Valid {
				t.Errorf("history with anomalies judged valid")
			}
		})
	}
}

// TestCheckUnknownOutcomes checks the forms a healthy run takes under faults: sends
// of unknown outcome that did land, sends that failed and were never read, and a
// consumer that re-seeks to an earlier offset.
func TestCheckUnknownOutcomes(t *testing.T) {
	b := &hb{}
	b.send("producer-0", 0, 100, Info, 0, -1, "a") // landed; the ack was lost
	b.send("producer-0", 1, 100, Info, 0, -1, "b") // never landed
	b.send("producer-1", 2, 100, Fail, 1, -1, "c") // refused
	b.send("producer-1", 101, 110, OK, 0, 1, "d")
	b.assign("consumer-0", 0, 0, 0)
	b.poll("consumer-0", 105, 112, 0, "0=a 1=d")
	b.assign("consumer-0", 113, 0, 1) // re-seek backwards: not a reorder
	b.poll("consumer-0", 113, 114, 0, "1=d")
	b.assign(FinalReader, 120, 0, 0)
	b.poll(FinalReader, 120, 121, 0, "0=a 1=d")
	s := Check(b.history(), CheckOptions{})
	if !s.Valid {
		t.Fatalf("healthy history with unknown outcomes judged invalid: %v\n%v", s, s.Examples)
	}
	if s.Stats.SendsInfo != 2 || s.Stats.SendsFailed != 1 || s.Stats.SendsOK != 1 {
		t.Errorf("stats = %+v", s.Stats)
	}
}

func TestCheckLinearizabilityLimits(t *testing.T) {
	h := goodLog().history() // 3 sends, 2 consumer polls, 1 final read
	s := Check(h, CheckOptions{MaxLinearizableOps: 2})
	if got := s.Linearizability[0]; got != "porcupine skipped: sends and final read alone are 4 operations, over 2; order check: ok" {
		t.Errorf("partition whose sends exceed the limit: linearizability %q", got)
	}
	if !s.Valid {
		t.Errorf("skipping porcupine made a valid history invalid: %v", s)
	}
	s = Check(h, CheckOptions{MaxLinearizableOps: 5})
	if got := s.Linearizability[0]; got != "ok (all sends, 1 consumer polls of 2 checked); order check: ok" {
		t.Errorf("thinned partition: linearizability %q", got)
	}

	// Thinning must keep the final read: a real-time violation only it shows is
	// still found.
	b := &hb{}
	b.send("producer-0", 0, 10, OK, 0, 0, "a")
	for i := range int64(10) {
		b.poll("consumer-0", 11+i, 11+i, 0, "0=a")
	}
	b.send("producer-1", 30, 40, OK, 0, 1, "b")
	b.assign(FinalReader, 50, 0, 0)
	b.poll(FinalReader, 5, 6, 0, "0=a 1=b") // "returned" b before b was sent
	s = Check(b.history(), CheckOptions{MaxLinearizableOps: 5})
	if s.Anomalies[Nonlinearizable] != 1 {
		t.Errorf("thinned history lost the final read's violation: %v", s.Linearizability)
	}
}

// TestCheckLargeHistory runs porcupine on a long healthy history with many concurrent
// operations, as a run produces, to keep its cost in view.
func TestCheckLargeHistory(t *testing.T) {
	b := &hb{}
	const n = 5000
	for i := range int64(n) {
		// Three producers with overlapping sends; the broker orders them by i.
		b.send("producer-"+string(rune('0'+i%3)), i*10, i*10+25, OK, 0, i, "v"+itoa(i))
	}
	b.assign("consumer-0", 0, 0, 0)
	for i := int64(0); i < n; i += 7 {
		var recs []string
		for j := i; j < min(i+7, n); j++ {
			recs = append(recs, itoa(j)+"=v"+itoa(j))
		}
		end := min(i+7, n) - 1
		b.poll("consumer-0", end*10+20, end*10+40, 0, strings.Join(recs, " "))
	}
	s := Check(b.history(), CheckOptions{})
	if !s.Valid || s.Linearizability[0] != "ok; order check: ok" {
		t.Fatalf("large healthy history: %v, linearizability %v\n%v", s, s.Linearizability, s.Examples)
	}
}

func itoa(i int64) string {
	if i == 0 {
		return "0"
	}
	var buf []byte
	for ; i > 0; i /= 10 {
		buf = append([]byte{byte('0' + i%10)}, buf...)
	}
	return string(buf)
}

func TestLogStateAt(t *testing.T) {
	s := emptyLog()
	var want []string
	for i := range 1000 {
		v := itoa(int64(i))
		s = s.append(v)
		want = append(want, v)
	}
	for o := range int64(1000) {
		if got := s.at(o); got != want[o] {
			t.Fatalf("at(%d) = %q, want %q", o, got, want[o])
		}
	}
	// A shared prefix with a different tail hashes differently.
	a, b := s.append("x"), s.append("y")
	if logModel.Equal(a, b) || !logModel.Equal(a, s.append("x")) {
		t.Errorf("Equal on lists that differ in their last element is wrong")
	}
}

func TestRecorder(t *testing.T) {
	r := NewRecorder()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 100 {
				id := r.Invoke("producer-"+itoa(int64(w)), KindSend, []Record{{Partition: 0, Offset: -1, Value: itoa(int64(w*1000 + i))}})
				if i%10 == 9 {
					continue // never completed
				}
				r.Complete(id, OK, []Record{{Partition: 0, Offset: int64(i), Value: itoa(int64(w*1000 + i))}}, nil)
				r.Complete(id, Fail, nil, nil) // ignored
			}
		})
	}
	wg.Wait()
	fid := r.InvokeFault("kill -9 node 1")
	r.Complete(fid, OK, nil, nil)
	h := r.History()
	if len(h.Ops) != 401 {
		t.Fatalf("%d operations, want 401", len(h.Ops))
	}
	counts := make(map[Outcome]int)
	for i, op := range h.Ops {
		if op.ID != i {
			t.Fatalf("op %d has ID %d: history not ordered by ID", i, op.ID)
		}
		if op.Return < op.Call {
			t.Errorf("op %d returns at %d before its call at %d", op.ID, op.Return, op.Call)
		}
		counts[op.Outcome]++
	}
	if want := map[Outcome]int{OK: 361, Info: 40}; !maps.Equal(counts, want) {
		t.Errorf("outcomes %v, want %v", counts, want)
	}
	if last := h.Ops[400]; last.Kind != KindFault || last.Fault != "kill -9 node 1" {
		t.Errorf("last op = %+v, want the fault", last)
	}

	var buf bytes.Buffer
	if err := h.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadHistory(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Ops) != len(h.Ops) || back.Ops[17].Records[0] != h.Ops[17].Records[0] {
		t.Errorf("history changed in a JSON round trip")
	}
}

// TestOrderCheckAgreesWithPorcupine compares the exact order check with porcupine on
// random small histories of a consistent log, with random timing: the two must give
// the same verdict on each.
func TestOrderCheckAgreesWithPorcupine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	illegal := 0
	for i := range 2000 {
		var ops []porcupine.Operation
		n := 1 + rng.IntN(6)
		for o := range int64(n) {
			call := rng.Int64N(100)
			ops = append(ops, porcupine.Operation{Input: sendInput{itoa(o)}, Output: o, Call: call, Return: call + rng.Int64N(40)})
		}
		for range rng.IntN(4) {
			from := rng.Int64N(int64(n))
			to := from + rng.Int64N(int64(n)-from)
			var recs []Record
			for o := from; o <= to; o++ {
				recs = append(recs, Record{Offset: o, Value: itoa(o)})
			}
			call := rng.Int64N(140)
			ops = append(ops, porcupine.Operation{Input: pollInput{}, Output: recs, Call: call, Return: call + rng.Int64N(20)})
		}
		pv := porcupine.CheckOperations(logModel, ops)
		ov := orderCheck(ops) == ""
		if pv != ov {
			t.Fatalf("history %d: porcupine linearizable=%v, order check %q\n%+v", i, pv, orderCheck(ops), ops)
		}
		if !pv {
			illegal++
		}
	}
	if illegal < 100 || illegal > 1900 {
		t.Errorf("%d of 2000 random histories illegal: the generator does not exercise both verdicts", illegal)
	}
}
