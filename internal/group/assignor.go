package group

import (
	"bytes"
	"slices"
	"sort"
)

// The server-side assignors of consumer-protocol groups (KIP-848). The
// coordinator computes a group's target assignment with one of them each
// time the group epoch moves; members then reconcile towards it.

// Assignors names the server-side assignors Sluice has, in Kafka's names.
var assignorNames = []string{"uniform", "range"}

// KnownAssignor reports whether name is a server-side assignor Sluice has.
func KnownAssignor(name string) bool { return slices.Contains(assignorNames, name) }

// topicPart is one partition of a topic, by topic ID.
type topicPart struct {
	topic     [16]byte
	partition int32
}

// assignment is a member's partitions by topic ID, each list sorted.
type assignment map[[16]byte][]int32

func (a assignment) clone() assignment {
	out := make(assignment, len(a))
	for t, ps := range a {
		out[t] = slices.Clone(ps)
	}
	return out
}

func (a assignment) equal(b assignment) bool {
	if len(a.nonEmpty()) != len(b.nonEmpty()) {
		return false
	}
	for t, ps := range a {
		if len(ps) == 0 {
			continue
		}
		if !slices.Equal(ps, b[t]) {
			return false
		}
	}
	return true
}

// nonEmpty returns the topics with at least one partition.
func (a assignment) nonEmpty() [][16]byte {
	var out [][16]byte
	for t, ps := range a {
		if len(ps) > 0 {
			out = append(out, t)
		}
	}
	return out
}

func (a assignment) count() int {
	n := 0
	for _, ps := range a {
		n += len(ps)
	}
	return n
}

func (a assignment) has(t [16]byte, p int32) bool {
	_, ok := slices.BinarySearch(a[t], p)
	return ok
}

func (a assignment) add(t [16]byte, p int32) {
	ps := a[t]
	i, ok := slices.BinarySearch(ps, p)
	if !ok {
		a[t] = slices.Insert(ps, i, p)
	}
}

// assignorMember is one member as an assignor sees it: its id and the
// topics (by ID) it subscribes to that exist.
type assignorMember struct {
	id     string
	topics map[[16]byte]bool
}

// assignTarget computes a target assignment of the partitions of the
// subscribed topics (partitions gives each topic's count) to members, with
// the named assignor. prev is the previous target, which the uniform
// assignor keeps where it can.
func assignTarget(assignor string, members []assignorMember, partitions map[[16]byte]int32, prev map[string]assignment) map[string]assignment {
	sort.Slice(members, func(i, j int) bool { return members[i].id < members[j].id })
	out := make(map[string]assignment, len(members))
	for _, m := range members {
		out[m.id] = make(assignment)
	}
	if assignor == "range" {
		assignRange(members, partitions, out)
	} else {
		assignUniform(members, partitions, prev, out)
	}
	return out
}

// sortedTopics returns the topic IDs of m in byte order, so that
// assignments do not depend on map order.
func sortedTopics[V any](m map[[16]byte]V) [][16]byte {
	ts := make([][16]byte, 0, len(m))
	for t := range m {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return bytes.Compare(ts[i][:], ts[j][:]) < 0 })
	return ts
}

// assignRange gives each topic's subscribers contiguous ranges of its
// partitions, members in id order, the first ones one more when the count
// does not divide, as the classic range assignor does: members subscribing
// to the same co-partitioned topics get the same partition numbers.
func assignRange(members []assignorMember, partitions map[[16]byte]int32, out map[string]assignment) {
	for _, t := range sortedTopics(partitions) {
		var subs []string
		for _, m := range members {
			if m.topics[t] {
				subs = append(subs, m.id)
			}
		}
		if len(subs) == 0 {
			continue
		}
		n := int(partitions[t])
		per, extra := n/len(subs), n%len(subs)
		p := 0
		for i, id := range subs {
			k := per
			if i < extra {
				k++
			}
			for range k {
				out[id].add(t, int32(p))
				p++
			}
		}
	}
}

// assignUniform spreads the partitions evenly over the members that
// subscribe to their topics, keeping each partition with its previous
// owner where balance allows, so a rebalance moves as few partitions as it
// can (Kafka's uniform assignor is sticky in the same way).
func assignUniform(members []assignorMember, partitions map[[16]byte]int32, prev map[string]assignment, out map[string]assignment) {
	counts := make(map[string]int, len(members))
	owner := make(map[topicPart]string)
	eligible := func(t [16]byte) []string {
		var ids []string
		for _, m := range members {
			if m.topics[t] {
				ids = append(ids, m.id)
			}
		}
		return ids
	}
	topics := sortedTopics(partitions)
	subs := make(map[[16]byte][]string, len(topics))
	for _, t := range topics {
		subs[t] = eligible(t)
	}
	// Fair share of a homogeneous group: no member keeps more than the
	// ceiling of the total over the members.
	total := 0
	for _, t := range topics {
		if len(subs[t]) > 0 {
			total += int(partitions[t])
		}
	}
	ceiling := 0
	if len(members) > 0 {
		ceiling = (total + len(members) - 1) / len(members)
	}
	// Keep previous owners, up to the ceiling.
	ids := make([]string, 0, len(prev))
	for id := range prev {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	subscribed := make(map[string]map[[16]byte]bool, len(members))
	for _, m := range members {
		subscribed[m.id] = m.topics
	}
	for _, id := range ids {
		topicsOf := subscribed[id]
		if topicsOf == nil {
			continue
		}
		for _, t := range sortedTopics(prev[id]) {
			if !topicsOf[t] {
				continue
			}
			for _, p := range prev[id][t] {
				tp := topicPart{t, p}
				if p >= partitions[t] || owner[tp] != "" || counts[id] >= ceiling {
					continue
				}
				owner[tp] = id
				counts[id]++
			}
		}
	}
	// Give the rest to the least loaded subscriber.
	least := func(cands []string) string {
		best := ""
		for _, id := range cands {
			if best == "" || counts[id] < counts[best] {
				best = id
			}
		}
		return best
	}
	for _, t := range topics {
		for p := range partitions[t] {
			tp := topicPart{t, p}
			if owner[tp] != "" || len(subs[t]) == 0 {
				continue
			}
			id := least(subs[t])
			owner[tp] = id
			counts[id]++
		}
	}
	// Balance: move a partition from a member that has two more than
	// another subscriber of its topic, until none does. Each move lowers
	// the sum of squared counts, so this ends.
	for moved := true; moved; {
		moved = false
		for _, t := range topics {
			for p := range partitions[t] {
				tp := topicPart{t, p}
				from := owner[tp]
				if from == "" {
					continue
				}
				to := least(subs[t])
				if counts[from] > counts[to]+1 {
					owner[tp] = to
					counts[from]--
					counts[to]++
					moved = true
				}
			}
		}
	}
	for tp, id := range owner {
		out[id].add(tp.topic, tp.partition)
	}
}
