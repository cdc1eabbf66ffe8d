package distributed

import (
	"encoding/hex"
	"fmt"
	"slices"
	"testing"
	"time"
)

func work(connectors map[string]int) []item {
	var out []item
	for c, n := range connectors {
		out = append(out, item{c, connectorTask})
		for i := range n {
			out = append(out, item{c, int32(i)})
		}
	}
	sortItems(out)
	return out
}

// cluster plays rebalances: members apply what the leader decides, as the
// workers do, and rejoin while anything was revoked.
type cluster struct {
	t     *testing.T
	a     assignor
	owned map[string][]item
	now   time.Time
}

func (c *cluster) round(configured []item) map[string]*result {
	var ms []member
	for id, owned := range c.owned {
		ms = append(ms, member{ID: id, Owned: slices.Clone(owned)})
	}
	res := c.a.assign(ms, configured, c.now, 10*time.Second)
	for id, r := range res {
		owned := slices.DeleteFunc(c.owned[id], func(it item) bool { return slices.Contains(r.Revoked, it) })
		c.owned[id] = append(owned, r.Assigned...)
	}
	return res
}

// settle runs rounds until nobody revokes anything, as members rejoin
// after revoking.
func (c *cluster) settle(configured []item) map[string]*result {
	for range 10 {
		res := c.round(configured)
		revoked := false
		for _, r := range res {
			revoked = revoked || len(r.Revoked) > 0
		}
		if !revoked {
			return res
		}
	}
	c.t.Fatalf("no stable assignment after 10 rounds: %v", c.owned)
	return nil
}

// check asserts that every piece of work runs exactly once and the load
// differs by at most one between members.
func (c *cluster) check(configured []item) {
	c.t.Helper()
	seen := map[item]string{}
	minC, maxC, minT, maxT := 1<<30, -1, 1<<30, -1
	for id, owned := range c.owned {
		nc, nt := 0, 0
		for _, it := range owned {
			if other, dup := seen[it]; dup {
				c.t.Fatalf("%v runs on %s and %s", it, other, id)
			}
			seen[it] = id
			if it.isConnector() {
				nc++
			} else {
				nt++
			}
		}
		minC, maxC, minT, maxT = min(minC, nc), max(maxC, nc), min(minT, nt), max(maxT, nt)
	}
	for _, it := range configured {
		if _, ok := seen[it]; !ok {
			c.t.Fatalf("%v runs nowhere: %v", it, c.owned)
		}
	}
	if len(seen) != len(configured) {
		c.t.Fatalf("%d pieces of work run, %d configured: %v", len(seen), len(configured), c.owned)
	}
	if maxC-minC > 1 || maxT-minT > 1 {
		c.t.Fatalf("unbalanced: connectors %d..%d, tasks %d..%d: %v", minC, maxC, minT, maxT, c.owned)
	}
}

func TestAssignorSpreadsAndKeeps(t *testing.T) {
	c := &cluster{t: t, owned: map[string][]item{"w1": nil, "w2": nil, "w3": nil}, now: time.Unix(1000, 0)}
	cfg := work(map[string]int{"a": 4, "b": 2, "c": 0})
	c.settle(cfg)
	c.check(cfg)

	// A rebalance with nothing new moves nothing.
	before := fmt.Sprint(c.owned)
	res := c.round(cfg)
	for id, r := range res {
		if len(r.Assigned)+len(r.Revoked) != 0 || r.Delay != 0 {
			t.Fatalf("%s: a quiet rebalance changed %+v", id, r)
		}
	}
	if fmt.Sprint(c.owned) != before {
		t.Fatal("a quiet rebalance moved work")
	}

	// A new task is added without revoking anything.
	cfg = work(map[string]int{"a": 5, "b": 2, "c": 0})
	res = c.round(cfg)
	for id, r := range res {
		if len(r.Revoked) != 0 {
			t.Fatalf("%s: adding a task revoked %v", id, r.Revoked)
		}
	}
	c.check(cfg)

	// A deleted connector's work is revoked from whoever runs it.
	cfg = work(map[string]int{"a": 5, "c": 0})
	c.settle(cfg)
	c.check(cfg)
}

func TestAssignorNewMemberGetsShare(t *testing.T) {
	c := &cluster{t: t, owned: map[string][]item{"w1": nil}, now: time.Unix(1000, 0)}
	cfg := work(map[string]int{"a": 6})
	c.settle(cfg)
	c.owned["w2"], c.owned["w3"] = nil, nil
	res := c.round(cfg)
	if len(res["w1"].Revoked) != 4 || len(res["w2"].Assigned) != 0 {
		t.Fatalf("first round revokes w1's extra tasks before handing them out: %+v %+v", res["w1"], res["w2"])
	}
	c.settle(cfg)
	c.check(cfg)
}

func TestAssignorHoldsLostWorkUntilTheDelay(t *testing.T) {
	// w4 runs nothing: an idle worker is not a newcomer.
	c := &cluster{t: t, owned: map[string][]item{"w1": nil, "w2": nil, "w3": nil, "w4": nil}, now: time.Unix(1000, 0)}
	cfg := work(map[string]int{"a": 1})
	c.settle(cfg)
	if len(c.owned["w4"]) != 0 || len(c.owned["w2"]) == 0 {
		t.Fatalf("2 pieces of work on 4 workers: %v", c.owned)
	}
	lost := c.owned["w2"]
	delete(c.owned, "w2")

	res := c.round(cfg)
	for id, r := range res {
		if len(r.Assigned) != 0 || r.Delay != 10*time.Second {
			t.Fatalf("%s: lost work must wait for the delay: %+v", id, r)
		}
	}
	c.now = c.now.Add(4 * time.Second)
	res = c.round(cfg)
	if res["w1"].Delay != 6*time.Second || len(res["w1"].Assigned) != 0 {
		t.Fatalf("the delay counts down from the first rebalance: %+v", res["w1"])
	}
	c.now = c.now.Add(6 * time.Second)
	res = c.round(cfg)
	var got []item
	for _, r := range res {
		got = append(got, r.Assigned...)
		if r.Delay != 0 {
			t.Fatalf("no delay once handed out: %+v", r)
		}
	}
	sortItems(got)
	sortItems(lost)
	if !slices.Equal(got, lost) {
		t.Fatalf("after the delay the lost work %v is handed out, got %v", lost, got)
	}
	c.settle(cfg)
	c.check(cfg)
}

// A worker that joins while lost work is held back (the one that left,
// restarted with a new member id) gets it at once.
func TestAssignorGivesLostWorkToAWorkerThatJoins(t *testing.T) {
	c := &cluster{t: t, owned: map[string][]item{"w1": nil, "w2": nil, "w3": nil}, now: time.Unix(1000, 0)}
	cfg := work(map[string]int{"a": 3, "b": 3})
	c.settle(cfg)
	lost := c.owned["w2"]
	delete(c.owned, "w2")
	if res := c.round(cfg); res["w1"].Delay == 0 {
		t.Fatal("lost work is held back")
	}
	c.owned["w2-restarted"] = nil
	res := c.round(cfg)
	got := res["w2-restarted"].Assigned
	sortItems(got)
	sortItems(lost)
	if !slices.Equal(got, lost) || res["w1"].Delay != 0 {
		t.Fatalf("the new worker gets the lost work %v at once: %+v", lost, res["w2-restarted"])
	}
	c.settle(cfg)
	c.check(cfg)
}

func TestProtocolRoundTrip(t *testing.T) {
	a := &assignment{Error: errConfigMismatch, Leader: "m-1", LeaderURL: "http://h:8083/", ConfigOffset: 42,
		Assigned: []item{{"a", connectorTask}, {"a", 0}, {"b", 3}}, Revoked: []item{{"c", 1}}, Delay: 5000}
	got, err := decodeAssignment(encodeAssignment(a))
	if err != nil || fmt.Sprint(got) != fmt.Sprint(a) {
		t.Fatalf("assignment round trip: %+v %v", got, err)
	}
	m := &memberMetadata{URL: "http://h:8083/", ConfigOffset: 7, Owned: []item{{"a", connectorTask}, {"a", 1}}}
	gm, err := decodeMetadata(encodeMetadata(m))
	if err != nil || fmt.Sprint(gm) != fmt.Sprint(m) {
		t.Fatalf("metadata round trip: %+v %v", gm, err)
	}
	// The bytes of Kafka's format: version 1, url, offset, null allocation.
	want := "0001" + "0003" + hex.EncodeToString([]byte("u:1")) + "0000000000000009" + "ffffffff"
	if got := hex.EncodeToString(encodeMetadata(&memberMetadata{URL: "u:1", ConfigOffset: 9})); got != want {
		t.Fatalf("metadata bytes %s, want %s", got, want)
	}
	// Truncated input is an error, not a panic; the fields version 1
	// added may be missing, as Kafka tolerates.
	b := encodeAssignment(a)
	a0 := *a
	a0.Revoked, a0.Delay = nil, 0
	required := len(encodeAssignment(&a0)) - 8
	for i := range b {
		_, err := decodeAssignment(b[:i])
		if err == nil && i < required {
			t.Fatalf("decoding %d of %d bytes succeeded", i, len(b))
		}
	}
}
