package chaos

import (
	"slices"
	"strings"
	"testing"
)

// txn adds a transaction. writes and reads are "p:o=v ..." (o "?" when the offset
// is unknown); end is EndCommit or EndAbort, asked for at endCall.
func (b *hb) txn(process string, call, endCall, ret int64, outcome Outcome, end, writes, reads string) *hb {
	return b.add(Op{Process: process, Kind: KindTxn, Outcome: outcome, Call: call, Return: ret,
		End: end, EndCall: endCall, Records: parsePRecs(writes), Reads: parsePRecs(reads)})
}

func parsePRecs(s string) []Record {
	var out []Record
	for _, f := range strings.Fields(s) {
		p, rest, _ := strings.Cut(f, ":")
		o, v, _ := strings.Cut(rest, "=")
		r := Record{Partition: int32(p[0] - '0'), Offset: -1, Value: v}
		if o != "?" {
			r.Offset = parseRecs(0, o+"=x")[0].Offset
		}
		out = append(out, r)
	}
	return out
}

func (b *hb) groupOffsets(at int64, offs string) *hb {
	return b.add(Op{Process: "group-offsets", Kind: KindOffsets, Call: at, Return: at, Records: parsePRecs(offs)})
}

// finalRead assigns the final reader to offset 0 of partitions 0 and 1 and reads
// them in one poll each.
func (b *hb) finalRead(at int64, p0, p1 string) *hb {
	b.add(Op{Process: FinalReader, Kind: KindAssign, Call: at, Return: at,
		Records: []Record{{Partition: 0, Offset: 0}, {Partition: 1, Offset: 0}}})
	b.poll(FinalReader, at, at+1, 0, p0)
	return b.poll(FinalReader, at+2, at+3, 1, p1)
}

// goodTxnLog is a healthy transactional run on two partitions. Offsets missing from
// the reads hold commit and abort markers or aborted records.
//
//	p0: 0 a (T1)  1 marker  2 c (T2, aborted)  3 marker  4 e (T3)  5 marker  6 x0 (T4)  7 marker  8 end-0
//	p1: 0 b (T1)  1 marker  2 d (T2, aborted)  3 marker  4 f (T3)  5 marker  6 end-1
func goodTxnLog() *hb {
	b := &hb{}
	b.txn("producer-0", 0, 10, 12, OK, EndCommit, "0:0=a 1:0=b", "")
	b.txn("producer-1", 1, 13, 15, Fail, EndAbort, "0:2=c 1:2=d", "")
	b.txn("producer-0", 20, 30, 40, Info, EndCommit, "0:4=e 1:4=f", "") // a lost answer, but it committed
	b.txn("processor-0", 45, 50, 52, OK, EndCommit, "0:6=x0", "0:0=a 1:0=b 0:4=e 1:4=f")
	b.txn("processor-1", 60, 61, 62, OK, EndCommit, "", "0:6=x0")
	b.assign("consumer-0", 0, 0, 0)
	b.poll("consumer-0", 11, 16, 0, "0=a")
	b.poll("consumer-0", 41, 55, 0, "4=e 6=x0")
	b.send("end-marker", 70, 71, OK, 0, 8, "end-0")
	b.send("end-marker", 72, 73, OK, 1, 6, "end-1")
	b.groupOffsets(75, "0:7 1:5")
	b.finalRead(80, "0=a 4=e 6=x0 8=end-0", "0=b 4=f 6=end-1")
	return b
}

func TestCheckTxnValidHistory(t *testing.T) {
	s := Check(goodTxnLog().history(), CheckOptions{})
	if !s.Valid || len(found(s)) > 0 {
		t.Fatalf("healthy transactional history judged invalid: %v\n%v", s, s.Examples)
	}
	for _, name := range TxnCheckedAnomalies {
		if _, ok := s.Anomalies[name]; !ok {
			t.Errorf("summary lacks a count for %s", name)
		}
	}
	if st := s.Stats; st.Txns != 5 || st.TxnsCommitted != 3 || st.TxnsAborted != 1 || st.TxnsInfo != 1 || st.FinalRead != 7 {
		t.Errorf("stats = %+v", st)
	}
	if s.Allowed[G0] != 0 || s.Allowed[G1cWW] != 0 {
		t.Errorf("allowed cycles in a history without any: %v", s.Allowed)
	}
	if _, ok := s.NotChecked[EOSSkip]; ok {
		t.Errorf("eos-skip not checked though the history has the group's offsets: %v", s.NotChecked)
	}
}

// TestCheckTxnFindsAnomalies feeds the transactional checker histories with one
// injected bug each and asserts exactly which anomalies it reports.
func TestCheckTxnFindsAnomalies(t *testing.T) {
	tests := []struct {
		name  string
		build func() *hb
		want  []string
	}{
		{
			name: "aborted read: a consumer returns a record of an aborted transaction",
			build: func() *hb {
				b := &hb{}
				b.txn("producer-0", 0, 10, 12, Fail, EndAbort, "0:0=a 1:0=b", "")
				b.assign("consumer-0", 0, 0, 0)
				b.poll("consumer-0", 13, 14, 0, "0=a")
				b.send("end-marker", 20, 21, OK, 0, 2, "end-0")
				b.send("end-marker", 20, 21, OK, 1, 2, "end-1")
				return b.finalRead(30, "2=end-0", "2=end-1")
			},
			want: []string{G1a},
		},
		{
			name: "aborted read by a processor",
			build: func() *hb {
				b := &hb{}
				b.txn("producer-0", 0, 10, 12, Fail, EndAbort, "0:0=a 1:0=b", "")
				b.txn("processor-0", 20, 21, 22, OK, EndCommit, "", "1:0=b")
				return b.finalRead(30, "", "")
			},
			want: []string{G1a},
		},
		{
			name: "lost write: a committed record the final read passes over",
			build: func() *hb {
				b := &hb{}
				b.txn("producer-0", 0, 10, 12, OK, EndCommit, "0:0=a 1:0=b", "")
				b.send("end-marker", 20, 21, OK, 1, 2, "end-1")
				return b.finalRead(30, "0=a", "2=end-1")
			},
			want: []string{LostWrite, PollSkip},
		},
		{
			name: "partial transaction: the outcome unknown, one record visible, the other not",
			build: func() *hb {
				b := &hb{}
				b.txn("producer-0", 0, 10, 12, Info, EndCommit, "0:0=a 1:0=b", "")
				b.send("end-marker", 20, 21, OK, 1, 2, "end-1")
				return b.finalRead(30, "0=a", "2=end-1")
			},
			want: []string{PartialTxn},
		},
		{
			name: "precommitted read: a poll returns a record before its transaction asks to commit",
			build: func() *hb {
				b := &hb{}
				b.txn("producer-0", 0, 50, 60, OK, EndCommit, "0:0=a 1:0=b", "")
				b.assign("consumer-0", 0, 0, 0)
				b.poll("consumer-0", 30, 40, 0, "0=a")
				return b.finalRead(70, "0=a", "0=b")
			},
			want: []string{PrecommittedRead},
		},
		{
			name: "precommitted read: a processor reads its own record",
			build: func() *hb {
				b := &hb{}
				b.txn("processor-0", 0, 10, 12, OK, EndCommit, "0:0=x0", "0:0=x0")
				return b.finalRead(30, "0=x0", "")
			},
			want: []string{PrecommittedRead},
		},
		{
			name: "G1c: two processors each read the other's record",
			build: func() *hb {
				b := &hb{}
				b.txn("processor-0", 10, 20, 22, OK, EndCommit, "0:0=x0", "1:0=x1")
				b.txn("processor-1", 12, 21, 23, OK, EndCommit, "1:0=x1", "0:0=x0")
				return b.finalRead(30, "0=x0", "0=x1")
			},
			// Mutual reads also mean one of them read before the other asked to
			// commit: any wr cycle is a precommitted read too.
			want: []string{G1c, PrecommittedRead},
		},
		{
			name: "G1c: a processor reads T1's record, yet its own record precedes T1's in a partition",
			build: func() *hb {
				b := &hb{}
				b.txn("producer-0", 0, 10, 12, OK, EndCommit, "0:0=a 1:1=b", "")
				b.txn("processor-0", 20, 30, 32, OK, EndCommit, "1:0=x0", "0:0=a")
				return b.finalRead(40, "0=a", "0=x0 1=b")
			},
			// The processor began after T1 committed, so its record below T1's
			// contradicts real time too.
			want: []string{G1c, G0Realtime},
		},
		{
			name: "duplicate: one record at two offsets",
			build: func() *hb {
				b := &hb{}
				b.txn("producer-0", 0, 10, 12, OK, EndCommit, "0:0=a 1:0=b", "")
				return b.finalRead(30, "0=a 2=a", "0=b")
			},
			want: []string{Duplicate},
		},
		{
			name: "inconsistent offsets: two committed records acknowledged at one offset",
			build: func() *hb {
				b := &hb{}
				b.txn("producer-0", 0, 10, 12, OK, EndCommit, "0:0=a 1:0=b", "")
				b.txn("producer-1", 1, 11, 13, OK, EndCommit, "0:0=c 1:2=d", "")
				return b.finalRead(30, "0=a", "0=b 2=d")
			},
			want: []string{InconsistentOffsets, LostWrite},
		},
		{
			name: "nonmonotonic send: a producer's later transaction lands below its earlier one",
			build: func() *hb {
				b := &hb{}
				b.txn("producer-0", 0, 10, 12, OK, EndCommit, "0:5=a 1:0=b", "")
				b.txn("producer-0", 20, 30, 32, OK, EndCommit, "0:3=c 1:2=d", "")
				return b.finalRead(40, "3=c 5=a", "0=b 2=d")
			},
			want: []string{NonmonotonicSend, G0Realtime},
		},
		{
			name: "G0-realtime: a transaction begun after another's writes were acknowledged lands below them",
			build: func() *hb {
				b := &hb{}
				b.txn("producer-0", 0, 10, 12, OK, EndCommit, "0:5=a 1:0=b", "")
				b.txn("producer-1", 20, 30, 32, OK, EndCommit, "0:3=c 1:2=d", "")
				return b.finalRead(40, "3=c 5=a", "0=b 2=d")
			},
			want: []string{G0Realtime},
		},
		{
			name: "G0-realtime: a record sent after a plain send's acknowledgement lands below it",
			build: func() *hb {
				b := &hb{}
				b.send("end-marker", 1, 5, OK, 0, 4, "end-0")
				b.txn("producer-0", 10, 20, 22, OK, EndCommit, "0:2=a 1:0=b", "")
				return b.finalRead(40, "2=a 4=end-0", "0=b")
			},
			want: []string{G0Realtime},
		},
		{
			name: "exactly-once: two committed transactions of the group process one record",
			build: func() *hb {
				b := &hb{}
				b.txn("producer-0", 0, 10, 12, OK, EndCommit, "0:0=a 1:0=b", "")
				b.txn("processor-0", 20, 21, 22, OK, EndCommit, "", "0:0=a 1:0=b")
				b.txn("processor-1", 30, 31, 32, OK, EndCommit, "", "0:0=a")
				return b.finalRead(40, "0=a", "0=b")
			},
			want: []string{EOSDuplicate},
		},
		{
			name: "exactly-once: the group's offsets pass a record only an aborted transaction read",
			build: func() *hb {
				b := &hb{}
				b.txn("producer-0", 0, 10, 12, OK, EndCommit, "0:0=a 1:0=b", "")
				b.txn("processor-0", 20, 21, 22, Fail, EndAbort, "", "0:0=a 1:0=b")
				b.groupOffsets(30, "0:2 1:2")
				return b.finalRead(40, "0=a", "0=b")
			},
			want: []string{EOSSkip},
		},
		{
			name: "a value nobody wrote",
			build: func() *hb {
				b := &hb{}
				b.txn("producer-0", 0, 10, 12, OK, EndCommit, "0:0=a 1:0=b", "")
				return b.finalRead(40, "0=a 2=zz", "0=b")
			},
			want: []string{UnexpectedValue},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Check(tc.build().history(), CheckOptions{})
			got := found(s)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("found %v, want %v\n%v", got, want, s.Examples)
			}
			if s.Valid {
				t.Errorf("history with %v judged valid", want)
			}
		})
	}
}

// TestCheckTxnAllowsWriteCycles: two transactions that interleave their writes in
// two partitions in opposite orders make a write cycle (G0), which Kafka's
// transactions allow. It is counted, with an example, and the history stays
// valid. A processor that reads from both and closes a cycle through several
// write orders (G1c-ww) is allowed too.
func TestCheckTxnAllowsWriteCycles(t *testing.T) {
	b := &hb{}
	b.txn("producer-0", 0, 10, 12, OK, EndCommit, "0:0=a 1:1=b", "")
	b.txn("producer-1", 1, 11, 13, OK, EndCommit, "0:1=c 1:0=d", "")
	b.finalRead(30, "0=a 1=c", "0=d 1=b")
	s := Check(b.history(), CheckOptions{})
	if !s.Valid || len(found(s)) > 0 {
		t.Fatalf("a write cycle made the history invalid: %v\n%v", s, s.Examples)
	}
	if s.Allowed[G0] != 1 {
		t.Fatalf("allowed = %v, want one G0", s.Allowed)
	}
	i := slices.IndexFunc(s.Examples, func(a Anomaly) bool { return a.Name == G0 })
	if i < 0 || !slices.Equal(s.Examples[i].Ops, []int{0, 1}) {
		t.Errorf("G0 example = %v, want ops [0 1]", s.Examples)
	}
}
