package groups848

import (
	"strings"
	"testing"
	"time"
)

// TestChecksCatchViolations feeds the checks histories with a known fault each, so that
// a check that cannot fail does not pass for a broker that misbehaves.
func TestChecksCatchViolations(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	cb := func(member int, kind string, from, to int, ps ...int32) callback {
		return callback{member: member, kind: kind, partitions: ps, start: at(from), end: at(to)}
	}
	con := func(member int, p int32, offset int64, ms int) consumption {
		return consumption{member: member, partition: p, offset: offset, seq: offset, at: at(ms)}
	}
	commit := func(member int, p int32, offset int64, ms int) commitResult {
		return commitResult{member: member, partition: p, offset: offset, at: at(ms)}
	}
	// A clean handover of partition 0 from member 1 to member 2 at 100-110 ms.
	cleanCBs := []callback{cb(1, assigned, 0, 0, 0), cb(1, revoked, 100, 110, 0), cb(2, assigned, 120, 120, 0)}
	cleanCons := []consumption{con(1, 0, 0, 10), con(1, 0, 1, 50), con(2, 0, 2, 130), con(2, 0, 3, 150)}
	cleanCommits := []commitResult{commit(1, 0, 2, 105)}
	acked := map[int32]map[int64]int64{0: {0: 0, 1: 1, 2: 2, 3: 3}}

	check := func(cbs []callback, cons []consumption, commits []commitResult, acked map[int32]map[int64]int64) []string {
		ivs, problems := intervals(cbs, at(1000))
		problems = append(problems, checkExclusive(ivs)...)
		byIv, outside := splitByInterval(ivs, cons)
		problems = append(problems, outside...)
		problems = append(problems, checkMissed(acked, cons)...)
		_, hp := checkHandoffs(ivs, byIv, commits)
		problems = append(problems, hp...)
		return append(problems, checkCommitsMonotonic(commits)...)
	}

	if got := check(cleanCBs, cleanCons, cleanCommits, acked); len(got) > 0 {
		t.Fatalf("a clean history has problems: %v", got)
	}
	cases := []struct {
		name    string
		cbs     []callback
		cons    []consumption
		commits []commitResult
		acked   map[int32]map[int64]int64
		want    string
	}{
		{"assigned before revoked", []callback{cb(1, assigned, 0, 0, 0), cb(2, assigned, 90, 90, 0), cb(1, revoked, 100, 110, 0)},
			cleanCons, cleanCommits, acked, "owned by two members at once"},
		{"consumed after revoke", cleanCBs, append(cleanCons[:2:2], con(1, 0, 2, 115), con(2, 0, 2, 130), con(2, 0, 3, 150)),
			cleanCommits, acked, "without owning it"},
		{"record missed", cleanCBs, []consumption{con(1, 0, 0, 10), con(1, 0, 1, 50), con(2, 0, 3, 150)},
			[]commitResult{commit(1, 0, 2, 105)}, acked, "never consumed"},
		{"rewind after a clean handover", cleanCBs, append(cleanCons[:2:2], con(2, 0, 1, 130), con(2, 0, 2, 140), con(2, 0, 3, 150)),
			cleanCommits, acked, "after a clean handover"},
		{"skip within an owner", cleanCBs, []consumption{con(1, 0, 0, 10), con(1, 0, 2, 50), con(1, 0, 1, 60), con(2, 0, 3, 150)},
			[]commitResult{commit(1, 0, 3, 105)}, acked, "consumed offset 2 after 0"},
		{"commit went backwards", cleanCBs, cleanCons, []commitResult{commit(1, 0, 2, 105), commit(2, 0, 1, 140)}, acked, "acknowledged at"},
		{"revoke of what was not owned", append(cleanCBs[:3:3], cb(3, revoked, 200, 200, 0)), cleanCons, cleanCommits, acked, "without owning it"},
	}
	for _, c := range cases {
		got := check(c.cbs, c.cons, c.commits, c.acked)
		if !strings.Contains(strings.Join(got, "\n"), c.want) {
			t.Errorf("%s: problems %q, want one containing %q", c.name, got, c.want)
		}
	}

	// A loss excuses the overlap and the duplicates it causes, but not a start behind an
	// acknowledged commit.
	lostCBs := []callback{cb(1, assigned, 0, 0, 0), cb(2, assigned, 90, 90, 0), cb(1, lost, 100, 100, 0)}
	lostCons := []consumption{con(1, 0, 0, 10), con(1, 0, 1, 50), con(2, 0, 1, 130), con(2, 0, 2, 140), con(2, 0, 3, 150)}
	if got := check(lostCBs, lostCons, []commitResult{commit(1, 0, 1, 20)}, acked); len(got) > 0 {
		t.Errorf("a loss with duplicates after the last commit: %v", got)
	}
	if got := check(lostCBs, lostCons, []commitResult{commit(1, 0, 2, 60)}, acked); !strings.Contains(strings.Join(got, "\n"), "behind the acknowledged commit") {
		t.Errorf("a new owner starting behind an acknowledged commit: problems %q", got)
	}

	// A join that moves a partition between two members that stay.
	ph := phase{name: "join", member: 3, join: true, start: at(500), end: at(900)}
	ivs, _ := intervals([]callback{
		cb(1, assigned, 0, 0, 0, 1), cb(2, assigned, 0, 0, 2),
		cb(1, revoked, 600, 610, 1), cb(2, assigned, 620, 620, 1),
		cb(2, revoked, 600, 610, 2), cb(3, assigned, 620, 620, 2),
	}, at(1000))
	rep := analysePhase(ph, 3, ivs, []consumption{con(1, 0, 5, 450), con(1, 0, 6, 1200), con(1, 0, 7, 1250)})
	if len(rep.wrongMoves) != 1 || !strings.Contains(rep.wrongMoves[0], "partition 1 moved from member 1 to member 2") {
		t.Errorf("wrong moves %q, want partition 1's", rep.wrongMoves)
	}
	if rep.gapPartition != 0 || rep.longestGap != 750*time.Millisecond {
		t.Errorf("longest gap %v on partition %d, want 750ms on partition 0", rep.longestGap, rep.gapPartition)
	}
}
