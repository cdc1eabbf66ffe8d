package chaos

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"slices"

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
				})
			}
		}
	}
	return ops
}

// checkLinearizability runs porcupine on each partition and reports a partition with
// no linearization as a Nonlinearizable anomaly.
func (c *checker) checkLinearizability() map[int32]string {
	results := make(map[int32]string)
	ops := c.linearOps()
	for _, p := range slices.Sorted(maps.Keys(ops)) {
		history := ops[p]
		if len(history) > c.opts.MaxLinearizableOps {
			results[p] = fmt.Sprintf("skipped: %d operations > %d", len(history), c.opts.MaxLinearizableOps)
			continue
		}
		switch porcupine.CheckOperationsTimeout(logModel, history, c.opts.LinearizabilityTimeout) {
		case porcupine.Ok:
			results[p] = "ok"
		case porcupine.Illegal:
			results[p] = "illegal"
			c.report(Nonlinearizable, p, -1, "", nil, "no order of the partition's %d sends and polls agrees with real time and a list-append log", len(history))
		default:
			results[p] = fmt.Sprintf("unknown: no answer within %v", c.opts.LinearizabilityTimeout)
		}
	}
	return results
}
