package chaos

import (
	"testing"
)

// TestRecoveryMeasures checks the time to the first write after a fault on a small
// history: per partition, it counts only records sent after the fault hit, however
// early an older record was acknowledged.
func TestRecoveryMeasures(t *testing.T) {
	const ms = int64(1e6)
	h := new(hb).
		// Sent before the hit, acknowledged after it: not a write after the fault.
		send("p0", 50*ms, 1200*ms, OK, 0, 0, "a").
		add(Op{Process: "nemesis", Kind: KindFault, Outcome: OK, Call: 90 * ms, Hit: 100 * ms, Return: 2000 * ms, Fault: "kill -9 node 1", Led: []int32{0}}).
		// Partition 0 (led by the node hit) takes writes again 3000 ms after the hit,
		// partition 1 after 500 ms; the slower of two sends to partition 0 does not count.
		send("p1", 110*ms, 3600*ms, OK, 0, 1, "b").
		send("p2", 120*ms, 3100*ms, OK, 0, 2, "c").
		send("p1", 130*ms, 600*ms, OK, 1, 0, "d").
		send("p2", 140*ms, 700*ms, Info, 1, -1, "e").
		history()
	recs := Check(h, CheckOptions{}).Stats.Recovery
	if len(recs) != 1 {
		t.Fatalf("%d recoveries, want 1: %+v", len(recs), recs)
	}
	r := recs[0]
	if got := r.FirstWriteMs[0]; got != 3000 {
		t.Errorf("partition 0: first write %v ms after the hit, want 3000", got)
	}
	if got := r.FirstWriteMs[1]; got != 500 {
		t.Errorf("partition 1: first write %v ms after the hit, want 500", got)
	}
	if got := r.WriteMs(r.Led...); got != 3000 {
		t.Errorf("partitions led: %v ms, want 3000", got)
	}
	if got := r.WriteMs(); got != 3000 {
		t.Errorf("every partition: %v ms, want 3000", got)
	}
	if r.HealMs != 1900 || r.AckAfterHealMs != 1100 {
		t.Errorf("heal %v ms after the hit and next ack %v ms later, want 1900 and 1100", r.HealMs, r.AckAfterHealMs)
	}
	if got := r.WriteMs(0, 7); got != -1 {
		t.Errorf("a partition without writes: %v, want -1", got)
	}
	s := SummarizeRecovery(recs)
	if len(s) != 1 || s[0].Fault != "kill" || s[0].Count != 1 || s[0].Led.Max != 3000 || s[0].NoWrite != 0 {
		t.Errorf("summary %+v", s)
	}
}
