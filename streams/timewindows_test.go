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

// msAt is a timestamp of ms milliseconds after the epoch.
func msAt(ms int64) time.Time { return time.UnixMilli(ms) }

// windowedOut reads a topic of string keys in windows of size ms.
func windowedOut[V any](d *streamstest.Driver, topic string, size int64, vals serde.Serde[V]) *streamstest.OutputTopic[streams.Windowed[string], V] {
	return streamstest.CreateOutputTopic(d, topic, streams.TimeWindowedSerde(serde.String, size), vals)
}

// windowed reads what is new in a topic of windowed keys (windows of size
// ms) as "key@start/end=value@timestamp" strings.
func windowed[V any](t *testing.T, d *streamstest.Driver, topic string, size int64, vals serde.Serde[V]) string {
	t.Helper()
	return readWindowed(t, windowedOut(d, topic, size, vals))
}

func readWindowed[V any](t *testing.T, out *streamstest.OutputTopic[streams.Windowed[string], V]) string {
	t.Helper()
	recs, err := out.ReadRecords()
	must(t, err)
	var s []string
	for _, r := range recs {
		v := fmt.Sprint(r.Value)
		if r.NullValue {
			v = "null"
		}
		s = append(s, fmt.Sprintf("%s@%d/%d=%s@%d", r.Key.Key, r.Key.Window.Start, r.Key.Window.End, v, r.Timestamp.UnixMilli()))
	}
	return strings.Join(s, " ")
}

// windowCounts builds in -> windowed count -> out over windows w.
func windowCounts(w streams.TimeWindows, opts ...streams.Option) *streams.Builder {
	b := streams.NewBuilder()
	in := streams.Stream[string, string](b, []string{"in"})
	streams.WindowedBy(in.GroupByKey(), w).Count(opts...).ToStream().To("out")
	return b
}

func TestTumblingWindowCounts(t *testing.T) {
	// Retention set beyond the default (size + grace) so that the store still
	// holds the early windows when they are read at the end.
	d := run(t, windowCounts(streams.OfSizeWithNoGrace(10*time.Millisecond), streams.WithStore("counts"), streams.WithRetention(time.Second)))
	in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	for _, r := range []struct {
		k  string
		ts int64
	}{{"a", 0}, {"a", 9}, {"b", 5}, {"a", 10}, {"a", 25}} {
		must(t, in.PipeAt(r.k, "x", msAt(r.ts)))
	}
	// [0,10) holds a@0, a@9, b@5; [10,20) a@10; [20,30) a@25. Each update
	// is forwarded (the driver commits after every record), stamped with
	// the largest timestamp in the window.
	want := "a@0/10=1@0 a@0/10=2@9 b@0/10=1@5 a@10/20=1@10 a@20/30=1@25"
	if got := windowed(t, d, "out", 10, serde.Int64); got != want {
		t.Errorf("output:\n got %s\nwant %s", got, want)
	}
	ws, err := streamstest.WindowStore[string, int64](d, "counts")
	must(t, err)
	var fetched []string
	must(t, ws.Fetch("a", 0, 100, func(start int64, n int64) bool {
		fetched = append(fetched, fmt.Sprintf("%d:%d", start, n))
		return true
	}))
	if got := strings.Join(fetched, " "); got != "0:2 10:1 20:1" {
		t.Errorf("fetch a over [0,100] = %q", got)
	}
	fetched = nil
	must(t, ws.Fetch("a", -1000, 15, func(start int64, n int64) bool {
		fetched = append(fetched, fmt.Sprintf("%d:%d", start, n))
		return true
	}))
	if got := strings.Join(fetched, " "); got != "0:2 10:1" {
		t.Errorf("fetch a over [-1000,15] = %q, want the windows from the epoch on", got)
	}
	if n, ok, err := ws.Get("b", 0); err != nil || !ok || n != 1 {
		t.Errorf("get b@0 = %d %v %v, want 1", n, ok, err)
	}
	if _, ok, _ := ws.Get("b", 10); ok {
		t.Error("b has a window at 10")
	}
	var all []string
	must(t, ws.FetchAll(0, 10, func(k string, start int64, n int64) bool {
		all = append(all, fmt.Sprintf("%s@%d:%d", k, start, n))
		return true
	}))
	if got := strings.Join(all, " "); got != "a@0:2 b@0:1 a@10:1" {
		t.Errorf("fetch all over [0,10] = %q (want time order)", got)
	}
}

func TestHoppingWindowsHoldEachRecordSizeOverAdvanceTimes(t *testing.T) {
	// Windows of 10ms every 5ms: [0,10) [5,15) [10,20) ...; a record at 12
	// is in [5,15) and [10,20), one at 3 only in [0,10) (none start
	// before 0).
	d := run(t, windowCounts(streams.OfSizeWithNoGrace(10*time.Millisecond).AdvanceBy(5*time.Millisecond), streams.WithoutCaching()))
	in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	must(t, in.PipeAt("k", "x", msAt(3)))
	must(t, in.PipeAt("k", "x", msAt(12)))
	must(t, in.PipeAt("k", "x", msAt(14)))
	want := "k@0/10=1@3 k@5/15=1@12 k@10/20=1@12 k@5/15=2@14 k@10/20=2@14"
	if got := windowed(t, d, "out", 10, serde.Int64); got != want {
		t.Errorf("output:\n got %s\nwant %s", got, want)
	}
}

func TestTimeWindowsMatchKafkasWindowsFor(t *testing.T) {
	w := streams.OfSizeWithNoGrace(10 * time.Millisecond).AdvanceBy(3 * time.Millisecond)
	var got []string
	for _, win := range w.WindowsFor(21) {
		got = append(got, fmt.Sprint(win.Start, "-", win.End))
	}
	// Starts are multiples of 3 in (21-10, 21]: 12, 15, 18, 21.
	if strings.Join(got, " ") != "12-22 15-25 18-28 21-31" {
		t.Errorf("windows for 21: %v", got)
	}
}

func TestOutOfOrderWithinGraceUpdatesAndLateIsDropped(t *testing.T) {
	d := run(t, windowCounts(streams.OfSizeAndGrace(10*time.Millisecond, 5*time.Millisecond), streams.WithoutCaching()))
	in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	must(t, in.PipeAt("a", "x", msAt(2)))
	must(t, in.PipeAt("a", "x", msAt(13))) // stream time 13: [0,10) closes at 10+5=15
	must(t, in.PipeAt("a", "x", msAt(7)))  // out of order, within grace: [0,10) becomes 2
	must(t, in.PipeAt("a", "x", msAt(15))) // stream time 15: [0,10) is closed
	must(t, in.PipeAt("a", "x", msAt(8)))  // late: dropped
	must(t, in.PipeAt("a", "x", msAt(11))) // out of order, [10,20) still open
	want := "a@0/10=1@2 a@10/20=1@13 a@0/10=2@7 a@10/20=2@15 a@10/20=3@15"
	if got := windowed(t, d, "out", 10, serde.Int64); got != want {
		t.Errorf("output:\n got %s\nwant %s", got, want)
	}
	if n := d.DroppedRecords(); n != 1 {
		t.Errorf("dropped records = %d, want 1", n)
	}
}

func TestWindowedReduceAndAggregate(t *testing.T) {
	b := streams.NewBuilder()
	in := streams.Stream[string, int64](b, []string{"in"})
	w := streams.WindowedBy(in.GroupByKey(), streams.OfSizeWithNoGrace(10*time.Millisecond))
	w.Reduce(func(a, v int64) int64 { return a + v }).ToStream().To("sum")
	streams.AggregateWindowed(w, func() string { return "" },
		func(_ string, v int64, agg string) string { return agg + fmt.Sprint(v) },
		streams.WithValueSerde(serde.String)).ToStream().To("concat")
	d := run(t, b)
	input := streamstest.CreateInputTopic[string, int64](d, "in", nil, nil)
	must(t, input.PipeAt("k", 1, msAt(1)))
	must(t, input.PipeAt("k", 2, msAt(4)))
	must(t, input.PipeAt("k", 5, msAt(12)))
	if got := windowed(t, d, "sum", 10, serde.Int64); got != "k@0/10=1@1 k@0/10=3@4 k@10/20=5@12" {
		t.Errorf("sum: %s", got)
	}
	if got := windowed(t, d, "concat", 10, serde.String); got != "k@0/10=1@1 k@0/10=12@4 k@10/20=5@12" {
		t.Errorf("concat: %s", got)
	}
}

func TestSlidingWindowsAsKIP450(t *testing.T) {
	b := streams.NewBuilder()
	in := streams.Stream[string, string](b, []string{"in"})
	w := streams.WindowedBySliding(in.GroupByKey(), streams.SlidingOfTimeDifferenceAndGrace(10*time.Millisecond, 20*time.Millisecond))
	w.Count(streams.WithoutCaching(), streams.WithStore("sliding")).ToStream().To("out")
	d := run(t, b)
	input := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	out := windowedOut(d, "out", 10, serde.Int64)
	step := func(ts int64, want string) {
		t.Helper()
		must(t, input.PipeAt("a", "x", msAt(ts)))
		if got := readWindowed(t, out); got != want {
			t.Errorf("after a record at %d:\n got %s\nwant %s", ts, got, want)
		}
	}
	// A record at 100 makes its window [90,100].
	step(100, "a@90/100=1@100")
	// 105: the window right after 100, [101,111], now holds 105; 105's own
	// window [95,105] holds 100 and 105.
	step(105, "a@101/111=1@105 a@95/105=2@105")
	// 120: [110,120] holds only itself; 105's right window [106,116]
	// would be empty, so it is not made.
	step(120, "a@110/120=1@120")
	// 108, out of order (within grace): it joins [101,111]; it opens
	// 105's right window [106,116]; its own window [98,108] holds 100,
	// 105 and 108; its right window [109,119] would be empty.
	step(108, "a@101/111=2@108 a@106/116=1@108 a@98/108=3@108")
	// 50 is beyond the grace period (stream time 120 - 20 = 100 >= 61).
	step(50, "")
	if n := d.DroppedRecords(); n != 1 {
		t.Errorf("dropped records = %d, want 1", n)
	}
	ws, err := streamstest.WindowStore[string, int64](d, "sliding")
	must(t, err)
	var got []string
	must(t, ws.All(func(k string, start int64, n int64) bool {
		got = append(got, fmt.Sprintf("%d:%d", start, n))
		return true
	}))
	if s := strings.Join(got, " "); s != "90:1 95:2 98:3 101:2 106:1 110:1" {
		t.Errorf("store: %s", s)
	}
}

func TestSlidingWindowsRightWindowOfOutOfOrderRecord(t *testing.T) {
	b := streams.NewBuilder()
	in := streams.Stream[string, string](b, []string{"in"})
	w := streams.WindowedBySliding(in.GroupByKey(), streams.SlidingOfTimeDifferenceAndGrace(10*time.Millisecond, 50*time.Millisecond))
	w.Count(streams.WithoutCaching()).ToStream().To("out")
	d := run(t, b)
	input := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	must(t, input.PipeAt("a", "x", msAt(100)))
	must(t, input.PipeAt("a", "x", msAt(115)))
	out := windowedOut(d, "out", 10, serde.Int64)
	readWindowed(t, out)
	// 108 arrives late: it is in 115's window [105,115] (now 2); its own
	// window [98,108] holds 100 and 108; its right window [109,119] holds
	// 115 (copied from [105,115] as it was before 108 joined); 100's right
	// window [101,111] holds 108.
	must(t, input.PipeAt("a", "x", msAt(108)))
	want := "a@105/115=2@115 a@101/111=1@108 a@98/108=2@108 a@109/119=1@115"
	if got := readWindowed(t, out); got != want {
		t.Errorf("output:\n got %s\nwant %s", got, want)
	}
}

func TestWindowDefinitionsValidated(t *testing.T) {
	for name, build := range map[string]func(g streams.KGroupedStream[string, string]){
		"zero size": func(g streams.KGroupedStream[string, string]) { streams.WindowedBy(g, streams.OfSizeWithNoGrace(0)) },
		"negative grace": func(g streams.KGroupedStream[string, string]) {
			streams.WindowedBy(g, streams.OfSizeAndGrace(time.Second, -1))
		},
		"advance too big": func(g streams.KGroupedStream[string, string]) {
			streams.WindowedBy(g, streams.OfSizeWithNoGrace(time.Second).AdvanceBy(2*time.Second))
		},
		"advance zero": func(g streams.KGroupedStream[string, string]) {
			streams.WindowedBy(g, streams.OfSizeWithNoGrace(time.Second).AdvanceBy(0))
		},
		"undefined": func(g streams.KGroupedStream[string, string]) { streams.WindowedBy(g, streams.TimeWindows{}) },
		"negative diff": func(g streams.KGroupedStream[string, string]) {
			streams.WindowedBySliding(g, streams.SlidingOfTimeDifferenceWithNoGrace(-time.Second))
		},
		"sliding grace": func(g streams.KGroupedStream[string, string]) {
			streams.WindowedBySliding(g, streams.SlidingOfTimeDifferenceAndGrace(time.Second, -1))
		},
		"retention short": func(g streams.KGroupedStream[string, string]) {
			streams.WindowedBy(g, streams.OfSizeAndGrace(time.Minute, time.Minute)).Count(streams.WithRetention(time.Minute))
		},
	} {
		b := streams.NewBuilder()
		build(streams.Stream[string, string](b, []string{"in"}).GroupByKey())
		if _, err := b.Build(); err == nil {
			t.Errorf("%s: built without an error", name)
		}
	}
}

func TestWindowStoreRetentionDropsOldWindows(t *testing.T) {
	// Retention 2 minutes: a window is kept while its start is within
	// 2 minutes of the latest window start the store has seen.
	d := run(t, windowCounts(streams.OfSizeWithNoGrace(time.Minute), streams.WithStore("counts"), streams.WithRetention(2*time.Minute)))
	in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	const min = 60_000
	must(t, in.PipeAt("a", "x", msAt(0)))
	must(t, in.PipeAt("b", "x", msAt(min)))
	ws, err := streamstest.WindowStore[string, int64](d, "counts")
	must(t, err)
	starts := func() string {
		var s []string
		must(t, ws.All(func(k string, start int64, _ int64) bool {
			s = append(s, fmt.Sprintf("%s@%d", k, start/min))
			return true
		}))
		return strings.Join(s, " ")
	}
	if got := starts(); got != "a@0 b@1" {
		t.Fatalf("windows at stream time 1min: %s", got)
	}
	// At 2 minutes the window starting at 0 is a full retention period
	// behind (Kafka keeps starts after stream time - retention): gone,
	// for Get and Fetch alike.
	must(t, in.PipeAt("a", "x", msAt(2*min)))
	if got := starts(); got != "b@1 a@2" {
		t.Errorf("windows at stream time 2min: %s", got)
	}
	if _, ok, _ := ws.Get("a", 0); ok {
		t.Error("expired window a@0 still readable")
	}
	// It is also deleted from the byte store underneath.
	rs, ok := state.Unwrap[*state.RetentionStore](ws.(*state.TypedWindowStore[string, int64]).Bytes())
	if !ok {
		t.Fatal("no retention layer in the window store")
	}
	if n, _ := rs.Inner().ApproximateNumEntries(); n != 2 {
		t.Errorf("byte store holds %d entries, want 2", n)
	}
	// A record for the expired window is dropped by the aggregation
	// (its window closed long ago), and nothing reappears.
	must(t, in.PipeAt("a", "x", msAt(30_000)))
	if got := starts(); got != "b@1 a@2" {
		t.Errorf("windows after a late record: %s", got)
	}
}

func TestWindowStoreChangelogConfigAndRestoreAfterReopen(t *testing.T) {
	build := func() *streams.Builder {
		return windowCounts(streams.OfSizeWithNoGrace(10*time.Millisecond), streams.WithStore("counts"))
	}
	topo, err := build().Build()
	must(t, err)
	sb, ok := topo.Store("counts")
	if !ok {
		t.Fatal("no store counts")
	}
	cfg := sb.LogConfig()
	// Retention defaults to size + grace (10 ms); the changelog keeps a day
	// more.
	if cfg["cleanup.policy"] != "compact,delete" || cfg["retention.ms"] != fmt.Sprint(24*60*60*1000+10) {
		t.Errorf("changelog config %v", cfg)
	}

	dir := t.TempDir()
	d, err := streamstest.New(topo, streamstest.WithStateDir(dir))
	must(t, err)
	in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	must(t, in.PipeAt("a", "x", msAt(1)))
	must(t, in.PipeAt("a", "x", msAt(2)))
	must(t, in.PipeAt("b", "x", msAt(15)))
	// The changelog records are keyed by the composite key.
	cl := streamstest.CreateOutputTopic(d, "test-app-counts-changelog", serde.Bytes, serde.Int64)
	recs, err := cl.ReadRecords()
	must(t, err)
	if len(recs) != 3 || string(recs[2].Key) != string(state.WindowKey([]byte("b"), 10, 0)) || recs[2].Value != 1 {
		t.Errorf("changelog records %v", recs)
	}
	must(t, d.Close())

	topo2, err := build().Build()
	must(t, err)
	d2, err := streamstest.New(topo2, streamstest.WithStateDir(dir))
	must(t, err)
	defer d2.Close()
	in2 := streamstest.CreateInputTopic[string, string](d2, "in", nil, nil)
	must(t, in2.PipeAt("a", "x", msAt(3)))
	if got := windowed(t, d2, "out", 10, serde.Int64); got != "a@0/10=3@3" {
		t.Errorf("after reopening: %s", got)
	}
	ws, err := streamstest.WindowStore[string, int64](d2, "counts")
	must(t, err)
	if n, ok, _ := ws.Get("b", 10); !ok || n != 1 {
		t.Errorf("b@10 after reopening = %d %v", n, ok)
	}
}

func TestWindowedCountThroughCacheForwardsOncePerCommit(t *testing.T) {
	// One input line becomes three records in one step; the cache holds
	// their updates until the commit after it, so one result per window
	// goes out, while without the cache every update does.
	for name, tc := range map[string]struct {
		opts []streams.Option
		want string
	}{
		"cached":   {nil, "a@0/10=3@5"},
		"uncached": {[]streams.Option{streams.WithoutCaching()}, "a@0/10=1@5 a@0/10=2@5 a@0/10=3@5"},
	} {
		t.Run(name, func(t *testing.T) {
			b := streams.NewBuilder()
			words := streams.FlatMapValues(streams.Stream[string, string](b, []string{"in"}), strings.Fields)
			streams.WindowedBy(words.GroupByKey(), streams.OfSizeWithNoGrace(10*time.Millisecond)).Count(tc.opts...).ToStream().To("out")
			d := run(t, b)
			must(t, streamstest.CreateInputTopic[string, string](d, "in", nil, nil).PipeAt("a", "x y z", msAt(5)))
			if got := windowed(t, d, "out", 10, serde.Int64); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSlidingWindowsEarlyRecords(t *testing.T) {
	// Records before the time difference would make windows starting
	// before 0; Kafka puts them all in [0,diff] instead.
	b := streams.NewBuilder()
	in := streams.Stream[string, string](b, []string{"in"})
	w := streams.WindowedBySliding(in.GroupByKey(), streams.SlidingOfTimeDifferenceAndGrace(10*time.Millisecond, 100*time.Millisecond))
	w.Count(streams.WithoutCaching()).ToStream().To("out")
	d := run(t, b)
	input := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	out := windowedOut(d, "out", 10, serde.Int64)
	for _, s := range []struct {
		ts   int64
		want string
	}{
		{2, "a@0/10=1@2"},
		// 5: joins [0,10]; opens 2's right window [3,13].
		{5, "a@3/13=1@5 a@0/10=2@5"},
		// 4, out of order: joins [3,13]; its right window [5,15] holds 5.
		{4, "a@3/13=2@5 a@5/15=1@5 a@0/10=3@5"},
		// 12: joins [3,13] and [5,15]; opens 5's right window [6,16]; its
		// own [2,12] holds 2, 4, 5 and 12.
		{12, "a@3/13=3@12 a@5/15=2@12 a@6/16=1@12 a@2/12=4@12"},
	} {
		must(t, input.PipeAt("a", "x", msAt(s.ts)))
		if got := readWindowed(t, out); got != s.want {
			t.Errorf("after %d:\n got %s\nwant %s", s.ts, got, s.want)
		}
	}
}

func TestDefaultRetentions(t *testing.T) {
	const day = 24 * 60 * 60 * 1000
	for name, tc := range map[string]struct {
		count func(g streams.KGroupedStream[string, string])
		want  int64
	}{
		// Time windows keep the window and its grace, as Kafka's
		// materializer does.
		"tumbling": {func(g streams.KGroupedStream[string, string]) {
			streams.WindowedBy(g, streams.OfSizeAndGrace(time.Minute, time.Minute)).Count(streams.WithStore("s"))
		}, 2 * 60_000},
		"long tumbling": {func(g streams.KGroupedStream[string, string]) {
			streams.WindowedBy(g, streams.OfSizeAndGrace(24*time.Hour, time.Hour)).Count(streams.WithStore("s"))
		}, day + 60*60*1000},
		// Sliding windows keep twice the time difference and the grace.
		"sliding": {func(g streams.KGroupedStream[string, string]) {
			streams.WindowedBySliding(g, streams.SlidingOfTimeDifferenceAndGrace(time.Minute, time.Second)).Count(streams.WithStore("s"))
		}, 2*60_000 + 1000},
		"set": {func(g streams.KGroupedStream[string, string]) {
			streams.WindowedBy(g, streams.OfSizeWithNoGrace(time.Minute)).Count(streams.WithStore("s"), streams.WithRetention(time.Hour))
		}, 60 * 60 * 1000},
	} {
		b := streams.NewBuilder()
		tc.count(streams.Stream[string, string](b, []string{"in"}).GroupByKey())
		topo, err := b.Build()
		must(t, err)
		sb, _ := topo.Store("s")
		if got := sb.LogConfig()["retention.ms"]; got != fmt.Sprint(tc.want+day) {
			t.Errorf("%s: changelog retention.ms = %s, want the store's %d + a day", name, got, tc.want)
		}
	}
}

func TestWindowedCountAfterRegroupingKeepsEventTime(t *testing.T) {
	// Grouping by the value goes through a repartition topic; the records
	// keep their timestamps there, so they land in the same windows.
	b := streams.NewBuilder()
	in := streams.Stream[string, string](b, []string{"in"})
	g := streams.GroupBy(in, func(_, v string) string { return v }, streams.Named("by-page"))
	streams.WindowedBy(g, streams.OfSizeWithNoGrace(10*time.Millisecond)).Count(streams.WithoutCaching()).ToStream().To("out")
	d := run(t, b)
	input := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	must(t, input.PipeAt("u1", "home", msAt(3)))
	must(t, input.PipeAt("u2", "home", msAt(8)))
	must(t, input.PipeAt("u1", "cart", msAt(11)))
	if got := windowed(t, d, "out", 10, serde.Int64); got != "home@0/10=1@3 home@0/10=2@8 cart@10/20=1@11" {
		t.Errorf("output: %s", got)
	}
	rep := streamstest.CreateOutputTopic[string, string](d, "test-app-by-page-repartition", nil, nil)
	if recs, err := rep.ReadRecords(); err != nil || len(recs) != 3 || recs[1].Timestamp.UnixMilli() != 8 {
		t.Errorf("repartition topic: %v %v", recs, err)
	}
}
