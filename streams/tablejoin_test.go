package streams_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/streams"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/streamstest"
)

// joinedAt reads an output topic as "k=v@ts" strings (k=null@ts for
// tombstones).
func joinedAt[K, V any](t *testing.T, out *streamstest.OutputTopic[K, V]) string {
	t.Helper()
	recs, err := out.ReadRecords()
	must(t, err)
	var s []string
	for _, r := range recs {
		v := fmt.Sprint(r.Value)
		if r.NullValue {
			v = "null"
		}
		s = append(s, fmt.Sprintf("%v=%s@%d", r.Key, v, r.Timestamp.UnixMilli()))
	}
	return strings.Join(s, " ")
}

func orDash(p *string) string {
	if p == nil {
		return "-"
	}
	return *p
}

// TestTableTableJoins drives the inner, left and outer joins of two tables
// through inserts, updates and deletes on both sides. The expectations
// follow Kafka's KTableKTableJoin, LeftJoin and OuterJoin: a change on one
// side joins with the other side's current value, a result that stops
// existing is a tombstone, and the timestamp is the later of the two
// sides'. Counting the rows of each result downstream checks that the old
// results are forwarded too (without them the counts would only grow).
func TestTableTableJoins(t *testing.T) {
	b := streams.NewBuilder()
	left := streams.Table[string, string](b, "left", streams.WithoutCaching())
	right := streams.Table[string, string](b, "right", streams.WithoutCaching())

	inner := streams.JoinTables(left, right, func(l, r string) string { return l + "/" + r },
		streams.WithStore("inner-store"), streams.WithoutCaching())
	inner.ToStream().To("inner")
	leftJoin := streams.LeftJoinTables(left, right, func(l string, r *string) string { return l + "/" + orDash(r) })
	leftJoin.ToStream().To("left-join")
	outer := streams.OuterJoinTables(left, right, func(l, r *string) string { return orDash(l) + "/" + orDash(r) })
	outer.ToStream().To("outer")
	rows := func(k, v string) (string, string) { return "n", v }
	streams.GroupTableBy(leftJoin, rows).Count(streams.WithStore("left-rows"))
	streams.GroupTableBy(outer, rows).Count(streams.WithStore("outer-rows"))
	d := run(t, b)

	in := map[string]*streamstest.InputTopic[string, string]{
		"L": streamstest.CreateInputTopic[string, string](d, "left", nil, nil),
		"R": streamstest.CreateInputTopic[string, string](d, "right", nil, nil),
	}
	outs := map[string]*streamstest.OutputTopic[string, string]{}
	for _, name := range []string{"inner", "left-join", "outer"} {
		outs[name] = streamstest.CreateOutputTopic[string, string](d, name, nil, nil)
	}
	count := func(store string) int64 {
		kv, err := streamstest.KeyValueStore[string, int64](d, store)
		must(t, err)
		n, _, err := kv.Get("n")
		must(t, err)
		return n
	}

	const del = "<delete>"
	steps := []struct {
		side, key, value    string
		inner, left, outer  string
		leftRows, outerRows int64
	}{
		{"L", "a", "1", "", "a=1/-@10", "a=1/-@10", 1, 1},
		{"R", "a", "x", "a=1/x@20", "a=1/x@20", "a=1/x@20", 1, 1},
		{"L", "a", "2", "a=2/x@30", "a=2/x@30", "a=2/x@30", 1, 1},
		{"R", "b", "y", "", "", "b=-/y@40", 1, 2},
		{"R", "a", "z", "a=2/z@50", "a=2/z@50", "a=2/z@50", 1, 2},
		{"L", "a", del, "a=null@60", "a=null@60", "a=-/z@60", 0, 2},
		{"R", "a", del, "", "", "a=null@70", 0, 1},
		{"L", "b", "3", "b=3/y@80", "b=3/y@80", "b=3/y@80", 1, 1},
		{"R", "b", del, "b=null@90", "b=3/-@90", "b=3/-@90", 1, 1},
		{"L", "c", "4", "", "c=4/-@100", "c=4/-@100", 2, 2},
	}
	for i, s := range steps {
		ts := time.UnixMilli(int64(i+1) * 10)
		if s.value == del {
			must(t, in[s.side].PipeRaw([]byte(s.key), nil, ts))
		} else {
			must(t, in[s.side].PipeAt(s.key, s.value, ts))
		}
		for name, want := range map[string]string{"inner": s.inner, "left-join": s.left, "outer": s.outer} {
			if got := joinedAt(t, outs[name]); got != want {
				t.Errorf("step %d (%s %s=%s): %s emitted %q, want %q", i+1, s.side, s.key, s.value, name, got, want)
			}
		}
		if got := count("left-rows"); got != s.leftRows {
			t.Errorf("step %d: left join has %d rows downstream, want %d", i+1, got, s.leftRows)
		}
		if got := count("outer-rows"); got != s.outerRows {
			t.Errorf("step %d: outer join has %d rows downstream, want %d", i+1, got, s.outerRows)
		}
	}

	kv, err := streamstest.KeyValueStore[string, string](d, "inner-store")
	must(t, err)
	got := map[string]string{}
	must(t, kv.All(func(k, v string) bool { got[k] = v; return true }))
	if fmt.Sprint(got) != "map[]" {
		t.Errorf("inner-store holds %v at the end, want nothing (b lost its right side)", got)
	}
}

// TestTableJoinMaterializesUnstoredSidesAndIsQueryable joins a filtered
// table (which has no store of its own) with a source table: the filtered
// side is materialized for the lookups, and the result, kept in a named
// store, can be queried and is cached like any table.
func TestTableJoinMaterializesUnstoredSidesAndIsQueryable(t *testing.T) {
	b := streams.NewBuilder()
	prices := streams.Table[string, int64](b, "prices", streams.WithValueSerde(serde.Int64))
	cheap := prices.Filter(func(_ string, p int64) bool { return p < 100 })
	names := streams.Table[string, string](b, "names")
	joined := streams.JoinTables(cheap, names, func(p int64, n string) string { return fmt.Sprintf("%s:%d", n, p) },
		streams.WithStore("cheap-names"))
	joined.ToStream().To("out")
	d := run(t, b)

	p := streamstest.CreateInputTopic[string, int64](d, "prices", nil, serde.Int64)
	n := streamstest.CreateInputTopic[string, string](d, "names", nil, nil)
	out := streamstest.CreateOutputTopic[string, string](d, "out", nil, nil)
	must(t, p.Pipe("k1", 50))
	must(t, n.Pipe("k1", "pen"))
	must(t, p.Pipe("k2", 500))
	must(t, n.Pipe("k2", "car"))
	must(t, p.Pipe("k1", 150)) // no longer cheap: the filter deletes it, so does the join
	must(t, p.Pipe("k2", 90))
	if got, want := pairs(t, out), "k1=pen:50 k1=null k2=car:90"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	kv, err := streamstest.KeyValueStore[string, string](d, "cheap-names")
	must(t, err)
	v, ok, err := kv.Get("k2")
	must(t, err)
	if !ok || v != "car:90" {
		t.Errorf("cheap-names[k2] = %q, %v; want car:90", v, ok)
	}
	if _, ok, _ := kv.Get("k1"); ok {
		t.Error("cheap-names still holds k1")
	}
}

// TestTableJoinBothSidesFlushedTogether joins two cached tables derived
// from one topic, so that every input changes both sides in the same
// cache flush: the side flushed first already sees the other side's new
// value, and the side flushed second joins the same pair again. The
// result must still be exact: one row counted downstream (not two), and
// the delete of the key must reach the result although, when each side is
// flushed, the other side is already gone.
func TestTableJoinBothSidesFlushedTogether(t *testing.T) {
	b := streams.NewBuilder()
	src := streams.Table[string, string](b, "src")
	upper := streams.MapTableValues(src, func(_ string, v string) string { return strings.ToUpper(v) }, streams.WithStore("upper"))
	lower := streams.MapTableValues(src, func(_ string, v string) string { return strings.ToLower(v) }, streams.WithStore("lower"))
	joined := streams.JoinTables(upper, lower, func(u, l string) string { return u + "/" + l })
	joined.ToStream().To("out")
	streams.GroupTableBy(joined, func(_, v string) (string, string) { return "n", v }).Count(streams.WithStore("rows"))
	d := run(t, b)

	in := streamstest.CreateInputTopic[string, string](d, "src", nil, nil)
	out := streamstest.CreateOutputTopic[string, string](d, "out", nil, nil)
	rows := func() int64 {
		kv, err := streamstest.KeyValueStore[string, int64](d, "rows")
		must(t, err)
		n, _, err := kv.Get("n")
		must(t, err)
		return n
	}
	must(t, in.Pipe("a", "Xy"))
	if got, want := pairs(t, out), "a=XY/xy a=XY/xy"; got != want {
		t.Errorf("insert: output %q, want %q (each side joins once)", got, want)
	}
	if n := rows(); n != 1 {
		t.Errorf("insert: %d rows counted downstream, want 1", n)
	}
	must(t, in.Pipe("a", "Zz"))
	if got, want := pairs(t, out), "a=ZZ/zz a=ZZ/zz"; got != want {
		t.Errorf("update: output %q, want %q", got, want)
	}
	if n := rows(); n != 1 {
		t.Errorf("update: %d rows counted downstream, want 1", n)
	}
	must(t, in.PipeTombstone("a"))
	if got, want := pairs(t, out), "a=null"; got != want {
		t.Errorf("delete: output %q, want %q", got, want)
	}
	if n := rows(); n != 0 {
		t.Errorf("delete: %d rows counted downstream, want 0", n)
	}
}
