package streams_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/streams"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/state"
	"github.com/sluicehq/sluice/streams/streamstest"
)

var sessionKeys = streams.SessionWindowedSerde(serde.String)

// sessionAt is a timestamp in milliseconds since the epoch.
func sessionAt(ms int64) time.Time { return time.UnixMilli(ms) }

// sessionCount builds in -> groupByKey -> session count -> out.
func sessionCount(w streams.SessionWindows, opts ...streams.Option) *streams.Builder {
	b := streams.NewBuilder()
	in := streams.Stream[string, string](b, []string{"in"})
	streams.WindowedBySession(in.GroupByKey(), w).Count(opts...).ToStream().To("out")
	return b
}

// pipeSessions writes key@ms records ("a@0") with value v.
func pipeSessions(t *testing.T, in *streamstest.InputTopic[string, string], recs ...string) {
	t.Helper()
	for _, r := range recs {
		k, ms, _ := strings.Cut(r, "@")
		var ts int64
		if _, err := fmt.Sscan(ms, &ts); err != nil {
			t.Fatalf("bad record %q", r)
		}
		must(t, in.PipeAt(k, "v", sessionAt(ts)))
	}
}

// storeSessions lists a key's sessions in a session store.
func storeSessions[V any](t *testing.T, s state.ReadOnlySessionStore[string, V], key string) string {
	t.Helper()
	var out []string
	must(t, s.Fetch(key, func(sn state.Session[string, V]) bool {
		out = append(out, fmt.Sprintf("[%d,%d]=%v", sn.Start, sn.End, sn.Value))
		return true
	}))
	return strings.Join(out, " ")
}

func TestSessionCountPerKeyWithGaps(t *testing.T) {
	for _, cached := range []bool{false, true} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			// A long retention keeps closed sessions to look at.
			opts := []streams.Option{streams.WithStore("sessions"), streams.WithRetention(time.Hour)}
			if !cached {
				opts = append(opts, streams.WithoutCaching())
			}
			d := run(t, sessionCount(streams.OfInactivityGapWithNoGrace(10*time.Millisecond), opts...))
			in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
			out := streamstest.CreateOutputTopic(d, "out", sessionKeys, serde.Int64)
			steps := []struct{ rec, want string }{
				{"a@0", "[a@0/0]=1"},
				{"b@3", "[b@3/3]=1"},
				// Within a's gap: a's session grows to [0,5]; the old one goes.
				{"a@5", "[a@0/0]=null [a@0/5]=2"},
				// 10 after a's last record: still the same session.
				{"a@15", "[a@0/5]=null [a@0/15]=3"},
				// More than the gap after it: a new session.
				{"a@26", "[a@26/26]=1"},
				{"b@40", "[b@40/40]=1"},
			}
			for _, s := range steps {
				pipeSessions(t, in, s.rec)
				if got := pairs(t, out); got != s.want {
					t.Fatalf("after %s: out = %q, want %q", s.rec, got, s.want)
				}
			}
			st, err := streamstest.SessionStore[string, int64](d, "sessions")
			must(t, err)
			if got := storeSessions(t, st, "a"); got != "[0,15]=3 [26,26]=1" {
				t.Fatalf("store a = %s", got)
			}
			if got := storeSessions(t, st, "b"); got != "[3,3]=1 [40,40]=1" {
				t.Fatalf("store b = %s", got)
			}
			var found []string
			must(t, st.FindSessions("a", 16, 30, func(sn state.Session[string, int64]) bool {
				found = append(found, fmt.Sprintf("[%d,%d]", sn.Start, sn.End))
				return true
			}))
			if strings.Join(found, " ") != "[26,26]" {
				t.Fatalf("FindSessions(a, 16, 30) = %v", found)
			}
			// The output is stamped with each session's end.
			pipeSessions(t, in, "c@47")
			recs, err := out.ReadRecords()
			must(t, err)
			if len(recs) != 1 || recs[0].Timestamp.UnixMilli() != 47 {
				t.Fatalf("c@47 gave %+v", recs)
			}
			pipeSessions(t, in, "c@45")
			recs, err = out.ReadRecords()
			must(t, err)
			if len(recs) != 2 || recs[0].Timestamp.UnixMilli() != 47 || recs[1].Timestamp.UnixMilli() != 47 ||
				recs[1].Key.Window != (streams.Window{Start: 45, End: 47}) {
				t.Fatalf("c@45 gave %+v, want the tombstone of [47,47] and [45,47], both at 47", recs)
			}
		})
	}
}

func TestSessionRecordBridgingTwoSessionsMergesThem(t *testing.T) {
	// A record between two sessions comes out of order, so the earlier
	// session must still be open: without a grace period it closed when
	// stream time passed its end plus the gap (and left the store, whose
	// retention is gap + grace).
	d := run(t, sessionCount(streams.OfInactivityGapAndGrace(10*time.Millisecond, 20*time.Millisecond), streams.WithStore("sessions")))
	in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	out := streamstest.CreateOutputTopic(d, "out", sessionKeys, serde.Int64)
	pipeSessions(t, in, "a@0", "a@2", "a@15")
	if got := pairs(t, out); got != "[a@0/0]=1 [a@0/0]=null [a@0/2]=2 [a@15/15]=1" {
		t.Fatalf("out = %s", got)
	}
	// 8 is within 10 of both [0,2] and [15,15]: one session [0,15] of 4.
	pipeSessions(t, in, "a@8")
	if got := pairs(t, out); got != "[a@0/2]=null [a@15/15]=null [a@0/15]=4" {
		t.Fatalf("bridge: out = %s", got)
	}
	st, err := streamstest.SessionStore[string, int64](d, "sessions")
	must(t, err)
	if got := storeSessions(t, st, "a"); got != "[0,15]=4" {
		t.Fatalf("store a = %s", got)
	}
	// The changelog has the merged session and tombstones for the others,
	// keyed as Kafka's session stores key them (key|end|start).
	cl := streamstest.CreateOutputTopic(d, "test-app-sessions-changelog", sessionKeys, serde.Int64)
	if got := pairs(t, cl); got != "[a@0/0]=1 [a@0/0]=null [a@0/2]=2 [a@15/15]=1 [a@0/2]=null [a@15/15]=null [a@0/15]=4" {
		t.Fatalf("changelog = %s", got)
	}
}

func TestSessionOutOfOrderWithinGrace(t *testing.T) {
	for _, cached := range []bool{false, true} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			opts := []streams.Option{streams.WithStore("sessions"), streams.InMemory()}
			if !cached {
				opts = append(opts, streams.WithoutCaching())
			}
			d := run(t, sessionCount(streams.OfInactivityGapAndGrace(10*time.Millisecond, 20*time.Millisecond), opts...))
			in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
			out := streamstest.CreateOutputTopic(d, "out", sessionKeys, serde.Int64)
			// A record inside an existing session replaces it: without a
			// cache Kafka forwards the removal and then the new count; the
			// cache folds the two into one update.
			inside := "[a@92/130]=null [a@92/130]=7"
			if cached {
				inside = "[a@92/130]=7"
			}
			steps := []struct{ rec, want string }{
				{"a@100", "[a@100/100]=1"},
				{"a@130", "[a@130/130]=1"},
				// Stream time 130, sessions close at 130-10-20 = 100.
				{"a@125", "[a@130/130]=null [a@125/130]=2"},
				// Extends [100,100] back to 92; its end 100 is not before 100.
				{"a@92", "[a@100/100]=null [a@92/100]=2"},
				// Within 10 of [125,130]'s start only.
				{"a@115", "[a@125/130]=null [a@115/130]=3"},
				// Within 10 of both: one session of 2+3+1.
				{"a@108", "[a@92/100]=null [a@115/130]=null [a@92/130]=6"},
				{"a@120", inside},
			}
			for _, s := range steps {
				pipeSessions(t, in, s.rec)
				if got := pairs(t, out); got != s.want {
					t.Fatalf("after %s: out = %q, want %q", s.rec, got, s.want)
				}
			}
			st, err := streamstest.SessionStore[string, int64](d, "sessions")
			must(t, err)
			if got := storeSessions(t, st, "a"); got != "[92,130]=7" {
				t.Fatalf("store a = %s", got)
			}
		})
	}
}

func TestSessionRecordsBeyondGraceAreDropped(t *testing.T) {
	d := run(t, sessionCount(streams.OfInactivityGapAndGrace(10*time.Millisecond, 5*time.Millisecond), streams.WithStore("sessions")))
	in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	out := streamstest.CreateOutputTopic(d, "out", sessionKeys, serde.Int64)
	pipeSessions(t, in, "a@100", "b@200")
	if got := pairs(t, out); got != "[a@100/100]=1 [b@200/200]=1" {
		t.Fatalf("out = %s", got)
	}
	// Stream time 200: sessions ending before 200-10-5 = 185 are closed.
	pipeSessions(t, in, "a@184") // a new session [184,184]: closed already
	pipeSessions(t, in, "a@95")  // would extend [100,100] to [95,100]: closed
	if got := pairs(t, out); got != "" {
		t.Fatalf("late records gave %s", got)
	}
	if n := d.DroppedRecords(); n != 2 {
		t.Fatalf("dropped records = %d, want the 2 late ones", n)
	}
	pipeSessions(t, in, "a@185")
	if got := pairs(t, out); got != "[a@185/185]=1" {
		t.Fatalf("a@185 (on time) gave %q", got)
	}
	st, err := streamstest.SessionStore[string, int64](d, "sessions")
	must(t, err)
	// [100,100] ended before 200 - 15 (the retention: gap + grace), so
	// the store dropped it.
	if got := storeSessions(t, st, "a"); got != "[185,185]=1" {
		t.Fatalf("store a = %s", got)
	}
}

func TestSessionReduceAndAggregateWithMerger(t *testing.T) {
	b := streams.NewBuilder()
	in := streams.Stream[string, string](b, []string{"in"})
	sw := streams.WindowedBySession(in.GroupByKey(), streams.OfInactivityGapAndGrace(10*time.Millisecond, 50*time.Millisecond))
	sw.Reduce(func(agg, v string) string { return agg + v }, streams.WithStore("reduced")).ToStream().To("reduced")
	streams.AggregateSessions(sw,
		func() string { return "<" },
		func(_ string, v, agg string) string { return agg + v },
		func(k string, agg, next string) string { return agg + "+" + next },
		streams.WithStore("aggregated"), streams.WithValueSerde(serde.String),
	).ToStream().To("aggregated")
	d := run(t, b)
	input := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	reduced := streamstest.CreateOutputTopic(d, "reduced", sessionKeys, serde.String)
	aggregated := streamstest.CreateOutputTopic(d, "aggregated", sessionKeys, serde.String)
	must(t, input.PipeAt("a", "x", sessionAt(0)))
	must(t, input.PipeAt("a", "y", sessionAt(15)))
	if got := pairs(t, reduced); got != "[a@0/0]=x [a@15/15]=y" {
		t.Fatalf("reduced = %s", got)
	}
	if got := pairs(t, aggregated); got != "[a@0/0]=<x [a@15/15]=<y" {
		t.Fatalf("aggregated = %s", got)
	}
	// z merges both sessions: reduce folds the earlier session's value then
	// the later one's, then z; the aggregation starts from init and merges
	// each session's aggregate in with the merger.
	must(t, input.PipeAt("a", "z", sessionAt(8)))
	if got := pairs(t, reduced); got != "[a@0/0]=null [a@15/15]=null [a@0/15]=xyz" {
		t.Fatalf("reduced after merge = %s", got)
	}
	if got := pairs(t, aggregated); got != "[a@0/0]=null [a@15/15]=null [a@0/15]=<+<x+<yz" {
		t.Fatalf("aggregated after merge = %s", got)
	}
	must(t, input.PipeAt("a", "w", sessionAt(20)))
	if got := pairs(t, reduced); got != "[a@0/15]=null [a@0/20]=xyzw" {
		t.Fatalf("reduced after extension = %s", got)
	}
	st, err := streamstest.SessionStore[string, string](d, "aggregated")
	must(t, err)
	if v, ok, err := st.FetchSession("a", 0, 20); err != nil || !ok || v != "<+<+<x+<yzw" {
		t.Fatalf("aggregated [0,20] = %q %v %v", v, ok, err)
	}
}

func TestSessionRetentionDropsOldSessions(t *testing.T) {
	d := run(t, sessionCount(streams.OfInactivityGapWithNoGrace(10*time.Millisecond),
		streams.WithStore("sessions"), streams.WithRetention(50*time.Millisecond)))
	in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	st, err := streamstest.SessionStore[string, int64](d, "sessions")
	must(t, err)
	pipeSessions(t, in, "a@0", "a@5", "b@55")
	// Stream time 55, retention 50: a session ending at 5 is still kept.
	if got := storeSessions(t, st, "a"); got != "[0,5]=2" {
		t.Fatalf("a after stream time 55 = %q", got)
	}
	pipeSessions(t, in, "b@56")
	if got := storeSessions(t, st, "a"); got != "" {
		t.Fatalf("a after stream time 56 = %q, want expired", got)
	}
	if got := storeSessions(t, st, "b"); got != "[55,56]=2" {
		t.Fatalf("b = %q", got)
	}
	// 50 is on time (sessions close at 56 - 10), and kept until stream
	// time passes 100.
	pipeSessions(t, in, "c@50", "b@60")
	if got := storeSessions(t, st, "c"); got != "[50,50]=1" {
		t.Fatalf("c = %q", got)
	}
	pipeSessions(t, in, "b@101")
	if got := storeSessions(t, st, "c"); got != "" {
		t.Fatalf("c after stream time 101 = %q", got)
	}
	if got := storeSessions(t, st, "b"); got != "[55,60]=3 [101,101]=1" {
		t.Fatalf("b = %q", got)
	}
}

func TestSessionWindowsValidation(t *testing.T) {
	for _, c := range []struct {
		name string
		w    streams.SessionWindows
		opts []streams.Option
		want string
	}{
		{"zero gap", streams.OfInactivityGapWithNoGrace(0), nil, "gap time cannot be zero or negative"},
		{"negative gap", streams.OfInactivityGapAndGrace(-time.Second, 0), nil, "gap time cannot be zero or negative"},
		{"sub-millisecond gap", streams.OfInactivityGapWithNoGrace(500 * time.Microsecond), nil, "gap time cannot be zero or negative"},
		{"negative grace", streams.OfInactivityGapAndGrace(time.Second, -time.Millisecond), nil, "grace period must not be negative"},
		{"zero value", streams.SessionWindows{}, nil, "session windows without a gap"},
		{"retention under gap plus grace", streams.OfInactivityGapAndGrace(time.Second, time.Second),
			[]streams.Option{streams.WithRetention(1999 * time.Millisecond)}, "must be no smaller than the inactivity gap plus the grace period"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := sessionCount(c.w, c.opts...).Build()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("build error = %v, want one saying %q", err, c.want)
			}
		})
	}
	w := streams.OfInactivityGapAndGrace(time.Minute, time.Second)
	if w.InactivityGap() != time.Minute || w.GracePeriod() != time.Second {
		t.Fatalf("windows = %v, %v", w.InactivityGap(), w.GracePeriod())
	}
	topo, err := sessionCount(w, streams.WithStore("s"), streams.WithRetention(time.Hour)).Build()
	must(t, err)
	sb, ok := topo.Store("s")
	if !ok {
		t.Fatal("no store s")
	}
	if cfg := sb.LogConfig(); cfg["cleanup.policy"] != "compact,delete" || cfg["retention.ms"] != fmt.Sprint(3600000+86400000) {
		t.Fatalf("changelog config = %v", cfg)
	}
	topo, err = sessionCount(w, streams.WithStore("s")).Build()
	must(t, err)
	sb, _ = topo.Store("s")
	if cfg := sb.LogConfig(); cfg["retention.ms"] != fmt.Sprint(61000+86400000) {
		t.Fatalf("default retention: changelog config = %v, want gap+grace+1 day", cfg)
	}
}

func TestSessionStateSurvivesReopenOnPebble(t *testing.T) {
	dir := t.TempDir()
	w := streams.OfInactivityGapWithNoGrace(10 * time.Millisecond)
	open := func() *streamstest.Driver {
		topo, err := sessionCount(w, streams.WithStore("sessions"), streams.WithRetention(time.Hour)).Build()
		must(t, err)
		d, err := streamstest.New(topo, streamstest.WithStateDir(dir))
		must(t, err)
		return d
	}
	d := open()
	in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	pipeSessions(t, in, "a@0", "a@4", "b@10", "a@30")
	st, err := streamstest.SessionStore[string, int64](d, "sessions")
	must(t, err)
	before := storeSessions(t, st, "a") + " | " + storeSessions(t, st, "b")
	if before != "[0,4]=2 [30,30]=1 | [10,10]=1" {
		t.Fatalf("before close = %s", before)
	}
	must(t, d.Close())

	d = open()
	defer d.Close()
	st, err = streamstest.SessionStore[string, int64](d, "sessions")
	must(t, err)
	if after := storeSessions(t, st, "a") + " | " + storeSessions(t, st, "b"); after != before {
		t.Fatalf("after reopen = %s, want %s", after, before)
	}
	// Aggregation goes on from the reopened sessions: 14 extends [0,4] (30
	// is 16 away), then 22 bridges [0,14] and [30,30].
	in = streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	out := streamstest.CreateOutputTopic(d, "out", sessionKeys, serde.Int64)
	pipeSessions(t, in, "a@14", "a@22")
	if got := pairs(t, out); got != "[a@0/4]=null [a@0/14]=3 [a@0/14]=null [a@30/30]=null [a@0/30]=5" {
		t.Fatalf("after reopen: out = %s", got)
	}
}

// BenchmarkSessionCount counts sessions of 10,000 keys, each record
// extending its key's session, through the record cache.
func BenchmarkSessionCount(b *testing.B) {
	for _, mem := range []bool{false, true} {
		b.Run(fmt.Sprintf("inMemory=%v", mem), func(b *testing.B) {
			opts := []streams.Option{streams.WithStore("sessions")}
			if mem {
				opts = append(opts, streams.InMemory())
			}
			topo, err := sessionCount(streams.OfInactivityGapWithNoGrace(time.Minute), opts...).Build()
			if err != nil {
				b.Fatal(err)
			}
			d, err := streamstest.New(topo, streamstest.WithStateDir(b.TempDir()))
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
			keys := make([]string, 10000)
			for i := range keys {
				keys[i] = fmt.Sprintf("key-%05d", i)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := in.PipeAt(keys[i%len(keys)], "v", sessionAt(int64(i))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestSessionNullKeysSkippedNullValuesAggregated(t *testing.T) {
	// As Kafka's session aggregation: a record without a key has no
	// session; one without a value still counts.
	d := run(t, sessionCount(streams.OfInactivityGapWithNoGrace(10*time.Millisecond), streams.WithoutCaching()))
	in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	out := streamstest.CreateOutputTopic(d, "out", sessionKeys, serde.Int64)
	must(t, in.PipeRaw(nil, []byte("v"), sessionAt(0)))
	must(t, in.PipeTombstone("a"))
	if got := pairs(t, out); got != "[a@0/0]=1" {
		t.Fatalf("out = %q", got)
	}
	if n := d.DroppedRecords(); n != 1 {
		t.Fatalf("dropped records = %d, want the one without a key", n)
	}
}

func TestSessionTableFeedsOtherOperators(t *testing.T) {
	// The windowed table's changes as a stream, filtered and rekeyed by the
	// plain key, as Kafka users do with toStream().filter(...).map(...).
	b := streams.NewBuilder()
	in := streams.Stream[string, string](b, []string{"in"})
	counts := streams.WindowedBySession(in.GroupByKey(), streams.OfInactivityGapAndGrace(10*time.Millisecond, time.Second)).
		Count(streams.WithoutCaching())
	busy := counts.ToStream().Filter(func(_ streams.Windowed[string], n int64) bool { return n >= 2 })
	streams.Map(busy, func(wk streams.Windowed[string], n int64) (string, string) {
		return wk.Key, fmt.Sprintf("%d-%d:%d", wk.Window.Start, wk.Window.End, n)
	}).To("busy", streams.WithValueSerde(serde.String))
	d := run(t, b)
	input := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	out := streamstest.CreateOutputTopic[string, string](d, "busy", nil, nil)
	pipeSessions(t, input, "a@0", "b@1", "a@5", "a@30", "a@21")
	// a@21 cannot reach [0,5] (it ended 16 before) but joins [30,30].
	if got := pairs(t, out); got != "a=0-5:2 a=21-30:2" {
		t.Fatalf("busy = %q", got)
	}
}

func TestSessionWindowsAfterGroupByRepartition(t *testing.T) {
	// Grouping by a new key goes through a repartition topic named after
	// the store, as the key-value aggregations do.
	b := streams.NewBuilder()
	in := streams.Stream[string, string](b, []string{"in"})
	byValue := streams.GroupBy(in, func(_, v string) string { return v })
	streams.WindowedBySession(byValue, streams.OfInactivityGapWithNoGrace(10*time.Millisecond)).
		Count(streams.WithStore("by-page")).ToStream().To("out")
	d := run(t, b)
	input := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	out := streamstest.CreateOutputTopic(d, "out", sessionKeys, serde.Int64)
	must(t, input.PipeAt("u1", "home", sessionAt(0)))
	must(t, input.PipeAt("u2", "home", sessionAt(4)))
	must(t, input.PipeAt("u3", "cart", sessionAt(6)))
	if got := pairs(t, out); got != "[home@0/0]=1 [home@0/0]=null [home@0/4]=2 [cart@6/6]=1" {
		t.Fatalf("out = %q", got)
	}
	rep := streamstest.CreateOutputTopic[string, string](d, "test-app-by-page-repartition", nil, nil)
	if got := pairs(t, rep); got != "home=home home=home cart=cart" {
		t.Fatalf("repartition topic = %q", got)
	}
}

func TestCogroupedSessionWindows(t *testing.T) {
	// Clicks and purchases of a user add to the same sessions, each with
	// its own aggregator; a record that merges sessions combines their
	// aggregates with the merger, starting from init.
	b := streams.NewBuilder()
	clicks := streams.Stream[string, string](b, []string{"clicks"})
	buys := streams.Stream[string, int64](b, []string{"buys"})
	c := streams.Cogroup(clicks.GroupByKey(), func(_ string, _ string, agg string) string { return agg + "c" })
	c = streams.CogroupWith(c, buys.GroupByKey(), func(_ string, n int64, agg string) string { return agg + fmt.Sprintf("b%d", n) })
	streams.CogroupWindowedBySession(c, streams.OfInactivityGapAndGrace(10*time.Millisecond, 20*time.Millisecond)).
		Aggregate(func() string { return "" }, func(_ string, agg, next string) string { return agg + "|" + next },
			streams.WithStore("journeys"), streams.WithValueSerde(serde.String)).
		ToStream().To("journeys")
	d := run(t, b)
	ci := streamstest.CreateInputTopic[string, string](d, "clicks", nil, nil)
	bi := streamstest.CreateInputTopic[string, int64](d, "buys", nil, nil)
	out := streamstest.CreateOutputTopic(d, "journeys", sessionKeys, serde.String)
	must(t, ci.PipeAt("a", "home", sessionAt(0)))
	must(t, bi.PipeAt("a", 7, sessionAt(5)))
	must(t, ci.PipeAt("a", "cart", sessionAt(30)))
	must(t, bi.PipeAt("a", 1, sessionAt(20)))
	must(t, ci.PipeAt("b", "home", sessionAt(1)))
	if got := pairs(t, out); got != "[a@0/0]=c [a@0/0]=null [a@0/5]=|cb7 [a@30/30]=c [a@30/30]=null [a@20/30]=|cb1 [b@1/1]=c" {
		t.Fatalf("out = %q", got)
	}
	st, err := streamstest.SessionStore[string, string](d, "journeys")
	must(t, err)
	if got := storeSessions(t, st, "a"); got != "[0,5]=|cb7 [20,30]=|cb1" {
		t.Fatalf("store a = %s", got)
	}
	bad := streams.NewBuilder()
	bc := streams.Cogroup(streams.Stream[string, string](bad, []string{"x"}).GroupByKey(), func(_, _ string, agg int64) int64 { return agg + 1 })
	streams.CogroupWindowedBySession(bc, streams.OfInactivityGapWithNoGrace(0)).
		Aggregate(func() int64 { return 0 }, func(_ string, a, b int64) int64 { return a + b })
	if _, err := bad.Build(); err == nil || !strings.Contains(err.Error(), "gap time cannot be zero") {
		t.Fatalf("cogroup with a zero gap: build error %v", err)
	}
}

func TestSessionFinalResultsWithSuppression(t *testing.T) {
	// Suppression until the window closes emits each session once, when
	// stream time passes its end plus the gap and the grace, as Kafka's
	// final results of session windows; merged-away sessions never show.
	b := streams.NewBuilder()
	in := streams.Stream[string, string](b, []string{"in"})
	counts := streams.WindowedBySession(in.GroupByKey(), streams.OfInactivityGapAndGrace(10*time.Millisecond, 5*time.Millisecond)).Count()
	streams.SuppressUntilWindowCloses(counts, streams.UnboundedBuffer()).ToStream().To("final")
	d := run(t, b)
	input := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	out := streamstest.CreateOutputTopic(d, "final", sessionKeys, serde.Int64)
	steps := []struct{ rec, want string }{
		{"a@0", ""},
		{"a@5", ""},
		{"b@12", ""},
		{"b@19", ""},
		// Stream time 20: a's [0,5] closed at 5 + 10 + 5.
		{"b@20", "[a@0/5]=2"},
		{"c@34", ""},
		{"c@35", "[b@12/20]=3"},
	}
	for _, s := range steps {
		pipeSessions(t, input, s.rec)
		if got := pairs(t, out); got != s.want {
			t.Fatalf("after %s: final = %q, want %q", s.rec, got, s.want)
		}
	}
}
