package chaos

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// A partition is a list that sends append to and polls read from. This file checks
// that each partition's history is linearizable against that model: there is one
// order of the sends and polls, consistent with real time (an operation that returned
// before another was invoked comes first), in which every send that was acknowledged
// at offset o appends when the list has length o, and every poll returns values the
// list holds at that point.
//
// This catches what the per-record checks do not: a send acknowledged at offset 10
// before another send was invoked that then got offset 5, or a poll that returned a
// value before its send was invoked.

// sendInput is a send of one value; its output is the offset it got (int64).
type sendInput struct{ value string }

// pollInput is a poll; its output is the records it returned from one partition.
type pollInput struct{}

// logState is an immutable list: a node per element, sharing prefixes between
// states. Jump pointers (a skew-binary ancestor scheme) find the element at an offset
// in O(log n) steps. The root is the empty list.
type logState struct {
	n     int64 // length of the list
	value string
	hash  uint64 // hash of the whole list, so Equal is O(1)
	prev  *logState
	jump  *logState
}

func emptyLog() *logState {
	s := &logState{hash: 14695981039346656037}
	s.jump = s
	return s
}

func (s *logState) append(v string) *logState {
	h := fnv.New64a()
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], s.hash)
	h.Write(buf[:])
	h.Write([]byte(v))
	next := &logState{n: s.n + 1, value: v, hash: h.Sum64(), prev: s, jump: s}
	if s.n-s.jump.n == s.jump.n-s.jump.jump.n {
		next.jump = s.jump.jump
	}
	return next
}

// at returns the value at offset o, which must be below s.n.
func (s *logState) at(o int64) string {
	n := s
	for n.n > o+1 {
		if n.jump.n >= o+1 {
			n = n.jump
		} else {
			n = n.prev
		}
	}
	return n.value
}

// logModel is the porcupine model of one partition.
var logModel = porcupine.Model{
	Init: func() any { return emptyLog() },
	Step: func(state, input, output any) (bool, any) {
		s := state.(*logState)
		switch in := input.(type) {
		case sendInput:
			if output.(int64) != s.n {
				return false, s
			}
			return true, s.append(in.value)
		case pollInput:
			for _, r := range output.([]Record) {
				if r.Offset < 0 || r.Offset >= s.n || s.at(r.Offset) != r.Value {
					return false, s
				}
			}
			return true, s
		}
		return false, s
	},
	// Two lists of one length with one hash are taken as equal; a 64-bit collision
	// between two states of one search is not a practical worry.
	Equal: func(a, b any) bool {
		x, y := a.(*logState), b.(*logState)
		return x.n == y.n && x.hash == y.hash
	},
	Hash: func(state any) uint64 { return state.(*logState).hash },
	DescribeOperation: func(input, output any) string {
		switch in := input.(type) {
		case sendInput:
			return fmt.Sprintf("send %q -> %d", in.value, output)
		case pollInput:
			return fmt.Sprintf("poll -> %v", output)
		}
		return "?"
	},
	DescribeState: func(state any) string { return fmt.Sprintf("log of %d", state.(*logState).n) },
}

// linearOps builds each partition's porcupine history:
//   - acknowledged sends, returning their offset;
//   - sends of unknown outcome whose value was read at exactly one place: they took
//     effect, at that offset, at some time after their call (return time is unbounded);
//   - polls that returned records, one operation per partition.
//
// Sends that failed or were never seen did not take effect and are left out; if one
// was read anyway, the per-record checks report it (G1a).
func (c *checker) linearOps() map[int32][]porcupine.Operation {
	ops := make(map[int32][]porcupine.Operation)
	for _, op := range c.h.Ops {
		switch op.Kind {
		case KindSend:
			for _, r := range op.Records {
				switch {
				case op.Outcome == OK && r.Offset >= 0:
					ops[r.Partition] = append(ops[r.Partition], porcupine.Operation{
						ClientId: op.ID, Input: sendInput{r.Value}, Output: r.Offset, Call: op.Call, Return: op.Return,
					})
				case op.Outcome == Info && len(c.where[r.Value]) == 1:
					for k := range c.where[r.Value] {
						ops[k.p] = append(ops[k.p], porcupine.Operation{
							ClientId: op.ID, Input: sendInput{r.Value}, Output: k.o, Call: op.Call, Return: math.MaxInt64,
						})
					}
				}
			}
		case KindPoll:
			byPartition := make(map[int32][]Record)
			for _, r := range op.Records {
				byPartition[r.Partition] = append(byPartition[r.Partition], r)
			}
			for p, recs := range byPartition {
				ops[p] = append(ops[p], porcupine.Operation{
					ClientId: op.ID, Input: pollInput{}, Output: recs, Call: op.Call, Return: op.Return,
					Metadata: op.Process,
				})
			}
		}
	}
	return ops
}

// checkLinearizability checks each partition twice, and reports a partition that
// fails either check as one Nonlinearizable anomaly:
//   - porcupine, on the whole history where it fits in MaxLinearizableOps (consumer
//     polls thinned out if need be);
//   - an exact order check of the same model (orderCheck), which is linear in the
//     history's size and so covers runs of any length.
func (c *checker) checkLinearizability() map[int32]string {
	results := make(map[int32]string)
	ops := c.linearOps()
	for _, p := range slices.Sorted(maps.Keys(ops)) {
		var bad []string
		history, dropped := thinPolls(ops[p], c.opts.MaxLinearizableOps)
		switch {
		case len(history) > c.opts.MaxLinearizableOps:
			results[p] = fmt.Sprintf("porcupine skipped: sends and final read alone are %d operations, over %d", len(history), c.opts.MaxLinearizableOps)
		default:
			switch porcupine.CheckOperationsTimeout(logModel, history, c.opts.LinearizabilityTimeout) {
			case porcupine.Ok:
				results[p] = "ok"
				if dropped > 0 {
					n := countPolls(history) - countFinal(history)
					results[p] = fmt.Sprintf("ok (all sends, %d consumer polls of %d checked)", n, n+dropped)
				}
			case porcupine.Illegal:
				results[p] = "illegal"
				bad = append(bad, fmt.Sprintf("porcupine: no order of the partition's %d sends and polls agrees with real time and a list-append log", len(history)))
			default:
				results[p] = fmt.Sprintf("porcupine unknown: no answer within %v", c.opts.LinearizabilityTimeout)
			}
		}
		if v := orderCheck(ops[p]); v != "" {
			results[p] += "; order check: illegal"
			bad = append(bad, "order check: "+v)
		} else {
			results[p] += "; order check: ok"
		}
		if len(bad) > 0 {
			c.report(Nonlinearizable, p, -1, "", nil, "%s", strings.Join(bad, "; "))
		}
	}
	return results
}

// orderCheck decides the list-append model directly, for a history whose log is
// consistent (each offset one value; the per-record checks report it otherwise).
// Sends must take effect in offset order, each at a moment within its [call,
// return]; the earliest such schedule gives each send its moment t(o) =
// max(call(o), t(o-1)), and the history is linearizable exactly when t(o) <=
// return(o) for every send and, for every poll, t(m) <= return of the poll, m being
// the highest offset it returned. It returns the first violation, or "".
func orderCheck(ops []porcupine.Operation) string {
	type span struct{ call, ret int64 }
	sends := make(map[int64]span)
	for _, op := range ops {
		if _, ok := op.Input.(sendInput); ok {
			o := op.Output.(int64)
			if _, dup := sends[o]; dup {
				return fmt.Sprintf("two sends acknowledged at offset %d", o)
			}
			sends[o] = span{op.Call, op.Return}
		}
	}
	at := make(map[int64]int64, len(sends)) // offset -> earliest moment it can exist
	t := int64(math.MinInt64)
	for _, o := range slices.Sorted(maps.Keys(sends)) {
		s := sends[o]
		t = max(t, s.call)
		if t > s.ret {
			return fmt.Sprintf("the send at offset %d returned at %v, before a send at a lower offset was invoked (at %v)", o, time.Duration(s.ret), time.Duration(t))
		}
		at[o] = t
	}
	for _, op := range ops {
		recs, ok := op.Output.([]Record)
		if !ok || len(recs) == 0 {
			continue
		}
		m := recs[0].Offset
		for _, r := range recs {
			m = max(m, r.Offset)
		}
		if t, ok := at[m]; ok && t > op.Return {
			return fmt.Sprintf("a poll returned offset %d at %v, before the sends up to it could all have taken effect (at %v)", m, time.Duration(op.Return), time.Duration(t))
		}
	}
	return ""
}

// thinPolls keeps a history within max operations by leaving out consumer polls,
// evenly spread: every send stays (the model needs each offset's append), and so
// does the final read. Leaving out reads keeps a linearizable history linearizable,
// so thinning never invents an anomaly; it only checks fewer reads. It returns the
// history and how many polls it left out.
func thinPolls(ops []porcupine.Operation, max int) ([]porcupine.Operation, int) {
	if len(ops) <= max {
		return ops, 0
	}
	var keep []porcupine.Operation
	var polls []porcupine.Operation
	for _, op := range ops {
		if _, ok := op.Input.(pollInput); ok && op.Metadata != FinalReader {
			polls = append(polls, op)
			continue
		}
		keep = append(keep, op)
	}
	budget := max - len(keep)
	if budget <= 0 {
		return keep, len(polls)
	}
	kept := 0
	for i, op := range polls {
		// Keep poll i when it moves the running share of kept polls up a step.
		if (i+1)*budget/len(polls) > kept {
			keep = append(keep, op)
			kept++
		}
	}
	return keep, len(polls) - kept
}

func countPolls(ops []porcupine.Operation) int {
	n := 0
	for _, op := range ops {
		if _, ok := op.Input.(pollInput); ok {
			n++
		}
	}
	return n
}

func countFinal(ops []porcupine.Operation) int {
	n := 0
	for _, op := range ops {
		if op.Metadata == FinalReader {
			n++
		}
	}
	return n
}
