package groups848

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// The checks below read a history as a time line. What they hold a group to is what
// Kafka guarantees a consumer that commits synchronously in OnPartitionsRevoked:
//
//   - Exclusive ownership. Under KIP-848 the coordinator gives a partition to its next
//     owner only after the previous owner has acknowledged its revocation in a
//     heartbeat, and franz-go sends that heartbeat only once OnPartitionsRevoked has
//     returned. So one member's ownership of a partition (from OnPartitionsAssigned to
//     the end of OnPartitionsRevoked) never overlaps another's, and every record a
//     member processes falls within its own ownership. Only a member that lost its
//     partitions (fenced, session expired: OnPartitionsLost) may still be processing
//     when they are reassigned.
//   - At least once. Every acknowledged record is consumed.
//   - Duplicates only after an unclean handover. A new owner starts at the committed
//     offset. When the previous owner revoked the partition and its commit of the
//     offset after its last record succeeded, the new owner's first record is exactly
//     that one: no record twice, none skipped. After a loss, or a failed commit, the
//     new owner may re-consume from the last acknowledged commit, never from before it.

// interval is one member's uninterrupted ownership of a partition.
type interval struct {
	member     int
	partition  int32
	from, to   time.Time
	lost, open bool // ended by OnPartitionsLost; still owned when the history ended
}

func (iv interval) String() string {
	end := "revoked"
	switch {
	case iv.open:
		end = "still owned"
	case iv.lost:
		end = "lost"
	}
	return fmt.Sprintf("member %d [%s, %s %s]", iv.member, iv.from.Format("15:04:05.000"), iv.to.Format("15:04:05.000"), end)
}

// contains reports whether t falls within the interval.
func (iv interval) contains(t time.Time) bool { return !t.Before(iv.from) && !t.After(iv.to) }

// intervals turns callbacks into ownership intervals per partition, each partition's in
// order of start. Intervals still open close at end. A callback that contradicts the
// member's own state (assigned what it owns, revoked what it does not own) is reported.
func intervals(cbs []callback, end time.Time) (map[int32][]interval, []string) {
	type key struct {
		member    int
		partition int32
	}
	open := map[key]*interval{}
	out := map[int32][]interval{}
	var problems []string
	for _, cb := range cbs {
		for _, p := range cb.partitions {
			k := key{cb.member, p}
			switch cb.kind {
			case assigned:
				if iv := open[k]; iv != nil {
					problems = append(problems, fmt.Sprintf("member %d was assigned partition %d at %s while it owned it since %s",
						cb.member, p, cb.start.Format("15:04:05.000"), iv.from.Format("15:04:05.000")))
					continue
				}
				open[k] = &interval{member: cb.member, partition: p, from: cb.start}
			default:
				iv := open[k]
				if iv == nil {
					problems = append(problems, fmt.Sprintf("member %d had partition %d %s at %s without owning it",
						cb.member, p, cb.kind, cb.start.Format("15:04:05.000")))
					continue
				}
				iv.to, iv.lost = cb.end, cb.kind == lost
				out[p] = append(out[p], *iv)
				delete(open, k)
			}
		}
	}
	for _, iv := range open {
		iv.to, iv.open = end, true
		out[iv.partition] = append(out[iv.partition], *iv)
	}
	for p := range out {
		sort.Slice(out[p], func(i, j int) bool { return out[p][i].from.Before(out[p][j].from) })
	}
	return out, problems
}

// checkExclusive reports every pair of members whose ownership of a partition overlaps,
// except where the earlier one ended in a loss (see above).
func checkExclusive(ivs map[int32][]interval) []string {
	var problems []string
	for _, p := range sortedKeys(ivs) {
		list := ivs[p]
		for i := range list {
			for j := i + 1; j < len(list); j++ {
				a, b := list[i], list[j]
				if a.member == b.member || !b.from.Before(a.to) || a.lost {
					continue
				}
				problems = append(problems, fmt.Sprintf("partition %d owned by two members at once: %v and %v", p, a, b))
			}
		}
	}
	return problems
}

// ownerAt returns the interval of the partition's owner at t, if any.
func ownerAt(list []interval, t time.Time) (interval, bool) {
	for _, iv := range list {
		if iv.contains(t) {
			return iv, true
		}
	}
	return interval{}, false
}

// splitByInterval assigns every consumption to the ownership interval of its member
// that contains it, and reports the consumptions outside any: records processed by a
// member that did not own the partition.
func splitByInterval(ivs map[int32][]interval, cons []consumption) (map[int32][][]consumption, []string) {
	out := map[int32][][]consumption{}
	for p, list := range ivs {
		out[p] = make([][]consumption, len(list))
	}
	var problems []string
	outside := 0
	for _, c := range cons {
		found := false
		for i, iv := range ivs[c.partition] {
			if iv.member == c.member && iv.contains(c.at) {
				out[c.partition][i] = append(out[c.partition][i], c)
				found = true
				break
			}
		}
		if !found {
			outside++
			if outside <= 10 {
				problems = append(problems, fmt.Sprintf("member %d consumed partition %d offset %d at %s without owning it (owners: %v)",
					c.member, c.partition, c.offset, c.at.Format("15:04:05.000"), ivs[c.partition]))
			}
		}
	}
	if outside > 10 {
		problems = append(problems, fmt.Sprintf("... %d records consumed outside their member's ownership in all", outside))
	}
	return out, problems
}

// checkMissed reports every acknowledged record that no member consumed, or consumed
// with another value than was produced at its offset.
func checkMissed(acked map[int32]map[int64]int64, cons []consumption) []string {
	seen := map[int32]map[int64]int64{}
	for _, c := range cons {
		if seen[c.partition] == nil {
			seen[c.partition] = map[int64]int64{}
		}
		seen[c.partition][c.offset] = c.seq
	}
	var problems []string
	for _, p := range sortedKeys(acked) {
		var missing, wrong []int64
		for o, seq := range acked[p] {
			got, ok := seen[p][o]
			switch {
			case !ok:
				missing = append(missing, o)
			case got != seq:
				wrong = append(wrong, o)
			}
		}
		slices.Sort(missing)
		slices.Sort(wrong)
		if len(missing) > 0 {
			problems = append(problems, fmt.Sprintf("partition %d: %d acknowledged records never consumed, offsets %s",
				p, len(missing), ranges(missing)))
		}
		if len(wrong) > 0 {
			problems = append(problems, fmt.Sprintf("partition %d: %d records consumed with another value than produced, offsets %s",
				p, len(wrong), ranges(wrong)))
		}
	}
	return problems
}

// handoffReport sums up how partitions changed hands.
type handoffReport struct {
	clean, unclean int // handovers after a clean revoke with its commit acknowledged; others
	duplicates     int // records consumed again by a new owner after an unclean handover
}

// checkHandoffs checks, within each ownership interval, that offsets were consumed one
// after another with no repeat or skip, and, at each handover, where the new owner
// started (see the guarantees above).
func checkHandoffs(ivs map[int32][]interval, byIv map[int32][][]consumption, commits []commitResult) (handoffReport, []string) {
	var rep handoffReport
	var problems []string
	for _, p := range sortedKeys(ivs) {
		list := ivs[p]
		// Only owners that consumed records move the committed offset: an owner that
		// consumed none commits nothing for the partition, and the next one starts where
		// the last owner with records left it.
		var lastEnd int64 = -1 // offset after the last record consumed by an earlier owner
		var prev *interval     // the last earlier interval with records, or nil
		prevClean := false     // it ended with a revoke and an acknowledged commit of lastEnd
		for i, iv := range list {
			cs := byIv[p][i]
			for k := 1; k < len(cs); k++ {
				if cs[k].offset != cs[k-1].offset+1 {
					problems = append(problems, fmt.Sprintf("partition %d, %v: consumed offset %d after %d",
						p, iv, cs[k].offset, cs[k-1].offset))
				}
			}
			if len(cs) > 0 {
				first := cs[0].offset
				floor := ackedCommitBefore(commits, p, iv.from)
				switch {
				case prev == nil:
				case prevClean:
					rep.clean++
					if first != lastEnd {
						problems = append(problems, fmt.Sprintf("partition %d: after a clean handover from %v (last record %d, commit of %d acknowledged), %v started at %d",
							p, *prev, lastEnd-1, lastEnd, iv, first))
					}
				default:
					rep.unclean++
					if first < lastEnd {
						rep.duplicates += int(lastEnd - first)
					}
				}
				if first < floor {
					problems = append(problems, fmt.Sprintf("partition %d: %v started at %d, behind the acknowledged commit of %d",
						p, iv, first, floor))
				}
				lastEnd = max(lastEnd, cs[len(cs)-1].offset+1)
				prev = &list[i]
				prevClean = !iv.lost && !iv.open && committedIn(commits, iv, lastEnd)
			}
		}
	}
	return rep, problems
}

// ackedCommitBefore returns the highest offset of partition p whose commit was
// acknowledged before t (-1 if none).
func ackedCommitBefore(commits []commitResult, p int32, t time.Time) int64 {
	best := int64(-1)
	for _, c := range commits {
		if c.partition == p && c.err == nil && c.at.Before(t) && c.offset > best {
			best = c.offset
		}
	}
	return best
}

// committedIn reports whether the interval's member had the commit of offset for the
// interval's partition acknowledged during the interval.
func committedIn(commits []commitResult, iv interval, offset int64) bool {
	for _, c := range commits {
		if c.member == iv.member && c.partition == iv.partition && c.err == nil && c.offset == offset && iv.contains(c.at) {
			return true
		}
	}
	return false
}

// checkCommitsMonotonic reports an acknowledged commit of a partition that is lower
// than one acknowledged before it.
func checkCommitsMonotonic(commits []commitResult) []string {
	cs := slices.Clone(commits)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].at.Before(cs[j].at) })
	high := map[int32]commitResult{}
	var problems []string
	for _, c := range cs {
		if c.err != nil {
			continue
		}
		if h, ok := high[c.partition]; ok && c.offset < h.offset {
			problems = append(problems, fmt.Sprintf("partition %d: member %d's commit of %d acknowledged at %s, after member %d's commit of %d at %s",
				c.partition, c.member, c.offset, c.at.Format("15:04:05.000"), h.member, h.offset, h.at.Format("15:04:05.000")))
			continue
		}
		high[c.partition] = c
	}
	return problems
}

// phase is a join or leave, from the moment the member was started or closed to the
// moment the group was seen converged again.
type phase struct {
	name       string
	member     int  // who joined or left
	join       bool // a join, else a leave
	start, end time.Time
}

// phaseReport is what a phase moved and how long the partitions it left in place went
// without being consumed.
type phaseReport struct {
	moved, churned []int32 // partitions that changed owner; partitions revoked and given back to the same owner
	stayed         []int32
	longestGap     time.Duration // the longest pause in consumption of a partition that stayed
	gapPartition   int32
	wrongMoves     []string // moves the join or leave did not call for
}

// analysePhase compares the owners of every partition at the phase's start and end,
// and measures, for the partitions whose owner did not change and kept them throughout
// (one interval spans the phase), the longest time between two consecutive
// consumptions of theirs that overlaps the phase.
func analysePhase(ph phase, partitions int32, ivs map[int32][]interval, cons []consumption) phaseReport {
	var rep phaseReport
	rep.gapPartition = -1
	times := map[int32][]time.Time{}
	for _, c := range cons {
		times[c.partition] = append(times[c.partition], c.at)
	}
	for p := range partitions {
		before, hadOwner := ownerAt(ivs[p], ph.start)
		after, hasOwner := ownerAt(ivs[p], ph.end)
		switch {
		case hadOwner && hasOwner && before == after:
			rep.stayed = append(rep.stayed, p)
			ts := times[p]
			slices.SortFunc(ts, time.Time.Compare)
			for i := 1; i < len(ts); i++ {
				if ts[i].After(ph.start) && ts[i-1].Before(ph.end) {
					if gap := ts[i].Sub(ts[i-1]); gap > rep.longestGap {
						rep.longestGap, rep.gapPartition = gap, p
					}
				}
			}
		case hadOwner && hasOwner && before.member == after.member:
			rep.churned = append(rep.churned, p)
		default:
			rep.moved = append(rep.moved, p)
			from, to := -1, -1
			if hadOwner {
				from = before.member
			}
			if hasOwner {
				to = after.member
			}
			if ph.join && to != ph.member && hadOwner {
				rep.wrongMoves = append(rep.wrongMoves, fmt.Sprintf("partition %d moved from member %d to member %d, not to the joining member %d", p, from, to, ph.member))
			}
			if !ph.join && from != ph.member {
				rep.wrongMoves = append(rep.wrongMoves, fmt.Sprintf("partition %d moved from member %d to member %d, though only member %d left", p, from, to, ph.member))
			}
		}
	}
	return rep
}

// ranges prints sorted offsets as compact ranges: "3-7, 9".
func ranges(os []int64) string {
	var parts []string
	for i := 0; i < len(os); {
		j := i
		for j+1 < len(os) && os[j+1] == os[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprint(os[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", os[i], os[j]))
		}
		i = j + 1
		if len(parts) == 20 {
			parts = append(parts, "...")
			break
		}
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[int32]V) []int32 {
	ks := make([]int32, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
