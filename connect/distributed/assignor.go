package distributed

import (
	"sort"
	"time"
)

// The leader's assignor: incremental cooperative assignment, as Kafka
// Connect's (KIP-415), written for Sluice. Members keep running what they
// own across a rebalance; the leader only adds work and, where needed,
// revokes some, in which case the revoking members rejoin at once and the
// freed work is handed out in the next round. Work that vanished with a
// member that left is held back for scheduled.rebalance.max.delay.ms, in
// case the member comes back (a rolling restart), and then given to the
// others; a member that joins meanwhile gets it at once.
//
// The assignor is a pure state machine: it is given the members, the work
// the config topic describes and the time, and returns what each member
// gets; its only state is what it gave last time.

// member is a member as the leader sees it at a rebalance.
type member struct {
	ID    string
	URL   string
	Owned []item
}

// assignor keeps the leader's memory between rebalances.
type assignor struct {
	// previous is who was given each piece of work last time.
	previous map[item]string
	// deadline is when held-back lost work is handed out; zero when
	// nothing is held back.
	deadline time.Time
	// members are the members of the last rebalance.
	members map[string]bool
}

// result is one member's share of a rebalance.
type result struct {
	Assigned []item
	Revoked  []item
	Delay    time.Duration
}

// assign decides a rebalance. configured is the work the config topic
// describes (connectors, and the tasks of their committed task configs).
func (s *assignor) assign(members []member, configured []item, now time.Time, maxDelay time.Duration) map[string]*result {
	sort.Slice(members, func(i, j int) bool { return members[i].ID < members[j].ID })
	out := map[string]*result{}
	isMember := map[string]bool{}
	for _, m := range members {
		out[m.ID] = &result{}
		isMember[m.ID] = true
	}
	want := map[item]bool{}
	for _, it := range configured {
		want[it] = true
	}

	// Who runs what now; work no longer configured, and work two members
	// claim, is revoked.
	owner := map[item]string{}
	for _, m := range members {
		for _, it := range m.Owned {
			switch _, dup := owner[it]; {
			case !want[it], dup:
				out[m.ID].Revoked = append(out[m.ID].Revoked, it)
			default:
				owner[it] = m.ID
			}
		}
	}

	// Work lost with members that left: held back until the deadline.
	held := map[item]string{}
	for it, was := range s.previous {
		if _, owned := owner[it]; !owned && want[it] && !isMember[was] {
			held[it] = was
		}
	}
	// A worker that joined since (most likely the one that left,
	// restarted) takes the lost work at once.
	for _, m := range members {
		if len(held) > 0 && len(m.Owned) == 0 && !s.members[m.ID] {
			held = map[item]string{}
		}
	}
	s.members = isMember
	var delay time.Duration
	if len(held) > 0 {
		if s.deadline.IsZero() {
			s.deadline = now.Add(maxDelay)
		}
		if now.Before(s.deadline) {
			delay = s.deadline.Sub(now)
		} else {
			held = map[item]string{}
			s.deadline = time.Time{}
		}
	} else {
		s.deadline = time.Time{}
	}

	// Hand out what nobody runs.
	var unassigned []item
	for _, it := range configured {
		if _, owned := owner[it]; !owned {
			if _, h := held[it]; !h {
				unassigned = append(unassigned, it)
			}
		}
	}
	sortItems(unassigned)
	conns, tasks := map[string]int{}, map[string]int{}
	for it, m := range owner {
		if it.isConnector() {
			conns[m]++
		} else {
			tasks[m]++
		}
	}
	if len(members) > 0 {
		for _, it := range unassigned {
			load := tasks
			if it.isConnector() {
				load = conns
			}
			best := members[0].ID
			for _, m := range members[1:] {
				if load[m.ID] < load[best] || (load[m.ID] == load[best] && conns[m.ID]+tasks[m.ID] < conns[best]+tasks[best]) {
					best = m.ID
				}
			}
			load[best]++
			owner[it] = best
			out[best].Assigned = append(out[best].Assigned, it)
		}
	}

	// When nothing else moves, even out the load: members above their
	// share give some up, to be handed out in the next round.
	moved := len(unassigned) > 0 || delay > 0
	for _, r := range out {
		moved = moved || len(r.Revoked) > 0
	}
	if !moved && len(members) > 1 {
		for _, connectors := range []bool{true, false} {
			s.balance(members, owner, connectors, out)
		}
	}

	s.previous = map[item]string{}
	for it, m := range owner {
		s.previous[it] = m
	}
	for it, was := range held {
		s.previous[it] = was
	}
	for _, r := range out {
		for _, it := range r.Revoked {
			delete(s.previous, it)
		}
		sortItems(r.Assigned)
		sortItems(r.Revoked)
		r.Delay = delay
	}
	return out
}

// balance revokes connectors (or tasks) from members holding more than
// their share, enough for every member to reach the floor of the average.
func (s *assignor) balance(members []member, owner map[item]string, connectors bool, out map[string]*result) {
	byMember := map[string][]item{}
	total := 0
	for it, m := range owner {
		if it.isConnector() == connectors {
			byMember[m] = append(byMember[m], it)
			total++
		}
	}
	n := len(members)
	floor, ceil := total/n, (total+n-1)/n
	needed := 0
	for _, m := range members {
		needed += max(0, floor-len(byMember[m.ID]))
	}
	if needed == 0 {
		return
	}
	revoke := func(m string, down int) {
		its := byMember[m]
		sortItems(its)
		for len(its) > down && needed > 0 {
			it := its[len(its)-1]
			its = its[:len(its)-1]
			delete(owner, it)
			out[m].Revoked = append(out[m].Revoked, it)
			needed--
		}
		byMember[m] = its
	}
	// First down to the ceiling, then, if members are still short, down to
	// the floor.
	for _, m := range members {
		revoke(m.ID, ceil)
	}
	for _, m := range members {
		revoke(m.ID, floor)
	}
}
