package streams_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/streams"
	"github.com/sluicehq/sluice/streams/internal/task"
	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/streamstest"
	"github.com/sluicehq/sluice/streams/topology"
)

// run builds b and starts a driver that the test closes.
func run(t *testing.T, b *streams.Builder, opts ...streamstest.Option) *streamstest.Driver {
	t.Helper()
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	d, err := streamstest.New(topo, opts...)
	if err != nil {
		t.Fatalf("driver: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close driver: %v", err)
		}
	})
	return d
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// pairs reads an output topic as "k=v" strings (k=null for tombstones).
func pairs[K, V any](t *testing.T, out *streamstest.OutputTopic[K, V]) string {
	t.Helper()
	recs, err := out.ReadRecords()
	must(t, err)
	var s []string
	for _, r := range recs {
		if r.NullValue {
			s = append(s, fmt.Sprintf("%v=null", r.Key))
		} else {
			s = append(s, fmt.Sprintf("%v=%v", r.Key, r.Value))
		}
	}
	return strings.Join(s, " ")
}

func TestStatelessOperators(t *testing.T) {
	b := streams.NewBuilder()
	in := streams.Stream[string, string](b, []string{"in"})
	in.Filter(func(_, v string) bool { return strings.HasPrefix(v, "a") }).To("filter")
	in.FilterNot(func(_, v string) bool { return strings.HasPrefix(v, "a") }).To("filternot")
	streams.Map(in, func(k, v string) (string, int) { return v, len(k) }).To("map")
	streams.MapValues(in, strings.ToUpper).To("mapvalues")
	streams.MapValuesWithKey(in, func(k, v string) string { return k + v }).To("mapvalueswithkey")
	streams.FlatMap(in, func(k, v string) []streams.KeyValue[string, string] {
		return []streams.KeyValue[string, string]{streams.Pair(k+"1", v), streams.Pair(k+"2", v)}
	}).To("flatmap")
	streams.FlatMapValues(in, strings.Fields).To("flatmapvalues")
	streams.SelectKey(in, func(_, v string) string { return v }).To("selectkey")
	var peeked, each []string
	in.Peek(func(k, v string) { peeked = append(peeked, k+v) }).To("peek")
	in.Foreach(func(k, v string) { each = append(each, k+v) })
	d := run(t, b)

	input := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	must(t, input.Pipe("k", "apple pie"))
	must(t, input.Pipe("kk", "banana"))

	for topic, want := range map[string]string{
		"filter":           "k=apple pie",
		"filternot":        "kk=banana",
		"mapvalues":        "k=APPLE PIE kk=BANANA",
		"mapvalueswithkey": "k=kapple pie kk=kkbanana",
		"flatmap":          "k1=apple pie k2=apple pie kk1=banana kk2=banana",
		"flatmapvalues":    "k=apple k=pie kk=banana",
		"selectkey":        "apple pie=apple pie banana=banana",
		"peek":             "k=apple pie kk=banana",
	} {
		if got := pairs(t, streamstest.CreateOutputTopic[string, string](d, topic, nil, nil)); got != want {
			t.Errorf("%s: got %q, want %q", topic, got, want)
		}
	}
	if got := pairs(t, streamstest.CreateOutputTopic[string, int](d, "map", nil, nil)); got != "apple pie=1 banana=2" {
		t.Errorf("map: got %q", got)
	}
	if fmt.Sprint(peeked) != "[kapple pie kkbanana]" || fmt.Sprint(each) != "[kapple pie kkbanana]" {
		t.Errorf("peek saw %v, foreach saw %v", peeked, each)
	}
}

func TestSplitMergeAndTopicPerRecord(t *testing.T) {
	b := streams.NewBuilder()
	in := streams.Stream[string, int](b, []string{"numbers"})
	br := in.Split([]streams.Branch[string, int]{
		{Name: "neg", Predicate: func(_ string, v int) bool { return v < 0 }},
		{Name: "small", Predicate: func(_ string, v int) bool { return v < 10 }},
	}, "big", streams.Named("split-"))
	if len(br) != 3 {
		t.Fatalf("branches %v", slices.Collect(maps.Keys(br)))
	}
	br["split-neg"].To("neg")
	br["split-small"].Merge(br["split-big"]).To("nonneg")
	in.ToFunc(func(k string, v int, _ processor.RecordMetadata) string {
		return "by-" + k
	})
	d := run(t, b)
	input := streamstest.CreateInputTopic[string, int](d, "numbers", nil, nil)
	for i, v := range []int{-1, 5, 50, -7, 9} {
		must(t, input.Pipe([]string{"a", "b"}[i%2], v))
	}
	if got := pairs(t, streamstest.CreateOutputTopic[string, int](d, "neg", nil, nil)); got != "a=-1 b=-7" {
		t.Errorf("neg branch: %q", got)
	}
	if got := pairs(t, streamstest.CreateOutputTopic[string, int](d, "nonneg", nil, nil)); got != "b=5 a=50 a=9" {
		t.Errorf("merged small and big branches: %q", got)
	}
	if got := pairs(t, streamstest.CreateOutputTopic[string, int](d, "by-b", nil, nil)); got != "b=5 b=-7" {
		t.Errorf("topic chosen per record: %q", got)
	}
}

func wordCount(b *streams.Builder, opts ...streams.Option) streams.KTable[string, int64] {
	lines := streams.Stream[string, string](b, []string{"lines"})
	words := streams.FlatMapValues(lines, func(l string) []string { return strings.Fields(strings.ToLower(l)) })
	return streams.GroupBy(words, func(_, w string) string { return w }).Count(opts...)
}

func TestWordCountThroughRepartitionTopic(t *testing.T) {
	b := streams.NewBuilder()
	wordCount(b, streams.WithStore("counts")).ToStream().To("counts")
	topo, err := b.Build()
	must(t, err)
	desc := topo.Describe()
	for _, want := range []string{"Sub-topology: 0", "Sub-topology: 1", "counts-repartition", "(stores: [counts])"} {
		if !strings.Contains(desc, want) {
			t.Errorf("Describe lacks %q:\n%s", want, desc)
		}
	}
	d := run(t, b, streamstest.WithApplicationID("wc"))
	in := streamstest.CreateInputTopic[string, string](d, "lines", nil, nil)
	must(t, in.Pipe("", "the quick brown fox"))
	must(t, in.Pipe("", "The lazy dog and the fox"))
	out := streamstest.CreateOutputTopic[string, int64](d, "counts", nil, nil)
	m, err := streamstest.ReadKeyValuesToMap(out)
	must(t, err)
	want := map[string]int64{"the": 3, "quick": 1, "brown": 1, "fox": 2, "lazy": 1, "dog": 1, "and": 1}
	if !maps.Equal(m, want) {
		t.Errorf("counts %v, want %v", m, want)
	}
	store, err := streamstest.KeyValueStore[string, int64](d, "counts")
	must(t, err)
	if n, ok, err := store.Get("the"); err != nil || !ok || n != 3 {
		t.Errorf("store: the = %d %v %v", n, ok, err)
	}
	// The repartition topic and the changelog are real topics with the
	// application id in front.
	if n := streamstest.CreateOutputTopic[string, string](d, "wc-counts-repartition", nil, nil).QueueSize(); n != 10 {
		t.Errorf("repartition topic holds %d records, want 10 (one per word)", n)
	}
	chg := streamstest.CreateOutputTopic[string, int64](d, "wc-counts-changelog", nil, nil)
	cm, err := streamstest.ReadKeyValuesToMap(chg)
	must(t, err)
	if !maps.Equal(cm, want) {
		t.Errorf("changelog %v, want %v", cm, want)
	}
}

func TestRecordCacheBoundsOutputUntilCommit(t *testing.T) {
	// Without the driver's commit per record, the cache would hold every
	// update; here the budget is tiny, so evictions write through early,
	// and with caching off every update goes out.
	b := streams.NewBuilder()
	wordCount(b, streams.WithStore("counts"), streams.WithoutCaching()).ToStream().To("counts")
	d := run(t, b)
	in := streamstest.CreateInputTopic[string, string](d, "lines", nil, nil)
	must(t, in.Pipe("", "a a a"))
	if got := pairs(t, streamstest.CreateOutputTopic[string, int64](d, "counts", nil, nil)); got != "a=1 a=2 a=3" {
		t.Errorf("uncached count emitted %q, want every update", got)
	}

	b = streams.NewBuilder()
	wordCount(b, streams.WithStore("counts")).ToStream().To("counts")
	d = run(t, b)
	in = streamstest.CreateInputTopic[string, string](d, "lines", nil, nil)
	must(t, in.Pipe("", "a a a"))
	if got := pairs(t, streamstest.CreateOutputTopic[string, int64](d, "counts", nil, nil)); got != "a=3" {
		t.Errorf("cached count emitted %q, want one update per commit", got)
	}
}

func TestReduceAggregateAndTimestamps(t *testing.T) {
	b := streams.NewBuilder()
	in := streams.Stream[string, int64](b, []string{"in"})
	g := in.GroupByKey()
	g.Reduce(func(a, v int64) int64 { return max(a, v) }, streams.InMemory()).ToStream().To("max")
	streams.Aggregate(g, func() string { return "" }, func(_ string, v int64, agg string) string {
		return agg + fmt.Sprint(v)
	}).ToStream().To("concat")
	d := run(t, b)
	input := streamstest.CreateInputTopic[string, int64](d, "in", nil, nil)
	must(t, input.PipeAt("x", 3, time.UnixMilli(100)))
	must(t, input.PipeAt("x", 1, time.UnixMilli(50)))
	must(t, input.PipeAt("y", 7, time.UnixMilli(200)))
	must(t, input.PipeAt("x", 9, time.UnixMilli(120)))
	if got := pairs(t, streamstest.CreateOutputTopic[string, int64](d, "max", nil, nil)); got != "x=3 x=3 y=7 x=9" {
		t.Errorf("reduce: %q", got)
	}
	out := streamstest.CreateOutputTopic[string, string](d, "concat", nil, nil)
	recs, err := out.ReadRecords()
	must(t, err)
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s=%s@%d", r.Key, r.Value, r.Timestamp.UnixMilli()))
	}
	// An aggregate carries the largest timestamp of the records in it.
	if s := strings.Join(got, " "); s != "x=3@100 x=31@100 y=7@200 x=319@120" {
		t.Errorf("aggregate: %q", s)
	}
}

func TestTableFilterMapValuesToStream(t *testing.T) {
	b := streams.NewBuilder()
	tbl := streams.Table[string, int64](b, "prices", streams.WithStore("prices"), streams.WithoutCaching())
	cheap := tbl.Filter(func(_ string, p int64) bool { return p < 100 })
	cheap.ToStream().To("cheap")
	streams.MapTableValues(tbl, func(k string, p int64) string { return fmt.Sprintf("%s:%d", k, p) }).ToStream().To("labels")
	tbl.FilterNot(func(_ string, p int64) bool { return p < 100 }).ToStream().To("dear")
	d := run(t, b)
	in := streamstest.CreateInputTopic[string, int64](d, "prices", nil, nil)
	must(t, in.Pipe("a", 50))
	must(t, in.Pipe("b", 500))
	must(t, in.Pipe("a", 150)) // a stops matching the filter: a delete downstream
	must(t, in.PipeTombstone("b"))
	if got := pairs(t, streamstest.CreateOutputTopic[string, int64](d, "cheap", nil, nil)); got != "a=50 b=null a=null b=null" {
		t.Errorf("filtered table: %q", got)
	}
	if got := pairs(t, streamstest.CreateOutputTopic[string, int64](d, "dear", nil, nil)); got != "a=null b=500 a=150 b=null" {
		t.Errorf("filterNot table: %q", got)
	}
	if got := pairs(t, streamstest.CreateOutputTopic[string, string](d, "labels", nil, nil)); got != "a=a:50 b=b:500 a=a:150 b=null" {
		t.Errorf("mapValues table: %q", got)
	}
	store, err := streamstest.KeyValueStore[string, int64](d, "prices")
	must(t, err)
	if _, ok, _ := store.Get("b"); ok {
		t.Error("tombstone left b in the table's store")
	}
	if v, ok, _ := store.Get("a"); !ok || v != 150 {
		t.Errorf("a = %d %v in the table's store", v, ok)
	}
}

func TestCogroup(t *testing.T) {
	b := streams.NewBuilder()
	clicks := streams.Stream[string, int64](b, []string{"clicks"}).GroupByKey()
	views := streams.Stream[string, string](b, []string{"views"}).GroupByKey()
	type stats struct{ Clicks, Views int64 }
	c := streams.Cogroup(clicks, func(_ string, n int64, s stats) stats { s.Clicks += n; return s })
	c = streams.CogroupWith(c, views, func(_ string, _ string, s stats) stats { s.Views++; return s })
	c.Aggregate(func() stats { return stats{} }, streams.WithStore("stats")).ToStream().To("stats")
	d := run(t, b)
	ci := streamstest.CreateInputTopic[string, int64](d, "clicks", nil, nil)
	vi := streamstest.CreateInputTopic[string, string](d, "views", nil, nil)
	must(t, ci.Pipe("u1", 2))
	must(t, vi.Pipe("u1", "home"))
	must(t, vi.Pipe("u2", "home"))
	must(t, ci.Pipe("u1", 3))
	m, err := streamstest.ReadKeyValuesToMap(streamstest.CreateOutputTopic[string, stats](d, "stats", nil, nil))
	must(t, err)
	if m["u1"] != (stats{5, 1}) || m["u2"] != (stats{0, 1}) || len(m) != 2 {
		t.Errorf("cogrouped stats %v", m)
	}
}

func TestExplicitRepartitionAndGroupByKeyAfterKeyChange(t *testing.T) {
	b := streams.NewBuilder()
	in := streams.Stream[string, string](b, []string{"in"})
	in.Repartition(streams.Named("by-key"), streams.WithPartitions(3)).To("out")
	streams.SelectKey(in, func(_, v string) string { return v }).GroupByKey(streams.Named("by-value")).Count().ToStream().To("count")
	topo, err := b.Build()
	must(t, err)
	for name, want := range map[string]int32{"by-key-repartition": 3, "by-value-repartition": 0} {
		it, ok := topo.InternalTopic(name)
		if !ok || it.Partitions != want {
			t.Errorf("internal topic %s: %+v %v", name, it, ok)
		}
	}
	d := run(t, b, streamstest.WithApplicationID("app"))
	input := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	must(t, input.Pipe("k", "v"))
	if got := pairs(t, streamstest.CreateOutputTopic[string, string](d, "out", nil, nil)); got != "k=v" {
		t.Errorf("through explicit repartition: %q", got)
	}
	if got := pairs(t, streamstest.CreateOutputTopic[string, int64](d, "count", nil, nil)); got != "v=1" {
		t.Errorf("count after key change: %q", got)
	}
	if n := streamstest.CreateOutputTopic[string, string](d, "app-by-value-repartition", nil, nil).QueueSize(); n != 1 {
		t.Errorf("by-value repartition topic has %d records", n)
	}
}

func TestGlobalTableReadByProcessor(t *testing.T) {
	b := streams.NewBuilder()
	g := streams.GlobalTable[string, string](b, "users", streams.WithStore("users"), streams.InMemory())
	orders := streams.Stream[string, string](b, []string{"orders"})
	streams.Process(orders, func() processor.Processor[string, string, string, string] {
		return &enrich{store: g.StoreName()}
	}, nil).To("enriched")
	d := run(t, b)
	users := streamstest.CreateInputTopic[string, string](d, "users", nil, nil)
	ords := streamstest.CreateInputTopic[string, string](d, "orders", nil, nil)
	must(t, users.Pipe("u1", "Ada"))
	must(t, ords.Pipe("u1", "book"))
	must(t, ords.Pipe("u2", "pen"))
	must(t, users.PipeTombstone("u1"))
	must(t, ords.Pipe("u1", "lamp"))
	if got := pairs(t, streamstest.CreateOutputTopic[string, string](d, "enriched", nil, nil)); got != "u1=book for Ada u2=pen for ? u1=lamp for ?" {
		t.Errorf("enriched: %q", got)
	}
}

type enrich struct {
	store string
	ctx   processor.Context[string, string]
	users interface {
		Get(string) (string, bool, error)
	}
}

func (e *enrich) Init(ctx processor.Context[string, string]) error {
	e.ctx = ctx
	s, err := ctx.Store(e.store)
	if err != nil {
		return err
	}
	kv, ok := s.(interface {
		Get(string) (string, bool, error)
	})
	if !ok {
		return fmt.Errorf("store %T", s)
	}
	e.users = kv
	return nil
}

func (e *enrich) Process(r processor.Record[string, string]) error {
	name, ok, err := e.users.Get(r.Key)
	if err != nil {
		return err
	}
	if !ok {
		name = "?"
	}
	return e.ctx.Forward(processor.WithValue(r, r.Value+" for "+name))
}

func (e *enrich) Close() error { return nil }

func TestExceptionHandlers(t *testing.T) {
	build := func() *streams.Builder {
		b := streams.NewBuilder()
		in := streams.Stream[string, int64](b, []string{"in"})
		streams.MapValues(in, func(v int64) int64 {
			if v == 13 {
				panic("unlucky")
			}
			return v
		}, streams.Named("check")).To("out")
		return b
	}
	// Default: a record that cannot be read stops processing.
	d := run(t, build())
	in := streamstest.CreateInputTopic[string, int64](d, "in", nil, nil)
	if err := in.PipeRaw([]byte("k"), []byte("short"), time.UnixMilli(1)); !errors.Is(err, task.ErrStopped) {
		t.Fatalf("bad value with the default handler: %v", err)
	}
	// Continue handlers skip the bad record and the failing one.
	var deser, proc []string
	d = run(t, build(), streamstest.WithExceptionHandlers(
		func(ctx task.ErrorContext, err error) task.HandlerResponse {
			deser = append(deser, fmt.Sprintf("%s@%d", ctx.Record.Topic, ctx.Record.Offset))
			return task.Continue
		},
		func(ctx task.ErrorContext, err error) task.HandlerResponse {
			proc = append(proc, ctx.Node+": "+err.Error())
			return task.Continue
		}))
	in = streamstest.CreateInputTopic[string, int64](d, "in", nil, nil)
	must(t, in.PipeRaw([]byte("k"), []byte("short"), time.UnixMilli(1)))
	must(t, in.Pipe("k", 13))
	must(t, in.Pipe("k", 14))
	if got := pairs(t, streamstest.CreateOutputTopic[string, int64](d, "out", nil, nil)); got != "k=14" {
		t.Errorf("output after skips: %q", got)
	}
	if fmt.Sprint(deser) != "[in@0]" || len(proc) != 1 || !strings.Contains(proc[0], "check: panic: unlucky") {
		t.Errorf("handlers saw deserialization %v, processing %v", deser, proc)
	}
}

// punctuating emits its running count on a schedule.
type punctuating struct {
	typ   processor.PunctuationType
	count int64
	fired []int64
}

func (p *punctuating) Init(ctx processor.Context[string, int64]) error {
	_, err := ctx.Schedule(10*time.Second, p.typ, func(ts int64) error {
		p.fired = append(p.fired, ts)
		return ctx.Forward(processor.Record[string, int64]{Key: "count", Value: p.count, Timestamp: ts})
	})
	return err
}
func (p *punctuating) Process(processor.Record[string, string]) error { p.count++; return nil }
func (p *punctuating) Close() error                                   { return nil }

func TestPunctuators(t *testing.T) {
	for _, typ := range []processor.PunctuationType{processor.StreamTime, processor.WallClockTime} {
		t.Run(typ.String(), func(t *testing.T) {
			topo := topology.New()
			topology.AddSource(topo, "src", []string{"in"}, serde.String, serde.String)
			p := &punctuating{typ: typ}
			topology.AddProcessor(topo, "p", func() processor.Processor[string, string, string, int64] { return p }, "src")
			topology.AddSink(topo, "sink", "out", serde.String, serde.Int64, "p")
			d, err := streamstest.New(topo)
			must(t, err)
			defer d.Close()
			in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
			for _, ts := range []int64{0, 5_000, 12_000, 45_000} {
				must(t, in.PipeAt("k", "v", time.UnixMilli(ts)))
			}
			must(t, d.AdvanceWallClockTime(25*time.Second))
			want := "[0 12000 45000]" // stream time: first record, then each interval crossed once
			if typ == processor.WallClockTime {
				want = "[25000]" // due at 10s, the clock jumped to 25s: fires once, with the time now
			}
			if fmt.Sprint(p.fired) != want {
				t.Errorf("fired at %v, want %s", p.fired, want)
			}
		})
	}
}

func TestTopologyErrors(t *testing.T) {
	topo := topology.New()
	topology.AddSource(topo, "a", []string{"x"}, serde.String, serde.String)
	topology.AddSource(topo, "b", []string{"x"}, serde.String, serde.String)
	topology.AddSink(topo, "s", "out", serde.String, serde.String, "missing")
	err := topo.Err()
	if err == nil || !strings.Contains(err.Error(), "read by both") || !strings.Contains(err.Error(), "parent missing") {
		t.Fatalf("errors: %v", err)
	}
	b := streams.NewBuilder()
	streams.Stream[string, string](b, []string{"in"}, streams.WithKeySerde(serde.Int64)).To("out")
	if _, err := b.Build(); err == nil {
		t.Fatal("an int64 serde was accepted for string keys")
	}
}

func TestCopartitioningChecked(t *testing.T) {
	b := streams.NewBuilder()
	a := streams.Stream[string, int64](b, []string{"a"})
	c := streams.Stream[string, int64](b, []string{"c"})
	a.Merge(c).GroupByKey().Count()
	topo, err := b.Build()
	must(t, err)
	subs, err := topo.Subtopologies()
	must(t, err)
	if _, _, err := topo.PartitionCounts(subs, map[string]int32{"a": 4, "c": 4}); err != nil {
		t.Fatalf("co-partitioned sources refused: %v", err)
	}
	if _, _, err := topo.PartitionCounts(subs, map[string]int32{"a": 4, "c": 2}); !errors.Is(err, topology.ErrNotCopartitioned) {
		t.Fatalf("sources with 4 and 2 partitions: %v", err)
	}
	if _, _, err := topo.PartitionCounts(subs, map[string]int32{"a": 4}); !errors.Is(err, topology.ErrMissingSourceTopic) {
		t.Fatalf("missing source: %v", err)
	}
}

func TestTableGroupByWithAdderAndSubtractor(t *testing.T) {
	// Users and their city; count users per city and sum their ages.
	type user struct {
		City string
		Age  int64
	}
	b := streams.NewBuilder()
	users := streams.Table[string, user](b, "users", streams.WithoutCaching())
	byCity := streams.GroupTableBy(users, func(_ string, u user) (string, int64) { return u.City, u.Age }, streams.Named("by-city"))
	byCity.Count(streams.WithStore("city-count"), streams.WithoutCaching()).ToStream().To("counts")
	byCity.Reduce(func(a, v int64) int64 { return a + v }, func(a, v int64) int64 { return a - v },
		streams.WithStore("city-ages"), streams.WithoutCaching()).ToStream().To("ages")
	d := run(t, b, streamstest.WithApplicationID("app"))
	in := streamstest.CreateInputTopic[string, user](d, "users", nil, nil)
	must(t, in.Pipe("ann", user{"Oslo", 30}))
	must(t, in.Pipe("bob", user{"Oslo", 40}))
	must(t, in.Pipe("ann", user{"Rome", 31})) // moves: leaves Oslo, joins Rome
	must(t, in.PipeTombstone("bob"))          // leaves Oslo
	if got := pairs(t, streamstest.CreateOutputTopic[string, int64](d, "counts", nil, nil)); got != "Oslo=1 Oslo=2 Oslo=1 Rome=1 Oslo=0" {
		t.Errorf("count per city: %q", got)
	}
	if got := pairs(t, streamstest.CreateOutputTopic[string, int64](d, "ages", nil, nil)); got != "Oslo=30 Oslo=70 Oslo=40 Rome=31 Oslo=0" {
		t.Errorf("sum of ages per city: %q", got)
	}
	if n := streamstest.CreateOutputTopic[string, []byte](d, "app-by-city-repartition", nil, nil).QueueSize(); n != 5 {
		t.Errorf("repartition topic holds %d records, want 5 (two adds, a subtract and an add, a subtract)", n)
	}
}

func TestMaterializedTableFilterAndMapValues(t *testing.T) {
	b := streams.NewBuilder()
	prices := streams.Table[string, int64](b, "prices", streams.WithoutCaching())
	cheap := prices.Filter(func(_ string, p int64) bool { return p < 100 }, streams.WithStore("cheap"), streams.WithoutCaching())
	cheap.ToStream().To("cheap")
	streams.MapTableValues(prices, func(_ string, p int64) int64 { return p * 2 }, streams.WithStore("doubled"), streams.InMemory()).
		ToStream().To("doubled")
	if cheap.StoreName() != "cheap" {
		t.Fatalf("materialized filter's store is %q", cheap.StoreName())
	}
	d := run(t, b)
	in := streamstest.CreateInputTopic[string, int64](d, "prices", nil, nil)
	must(t, in.Pipe("a", 50))
	must(t, in.Pipe("b", 500)) // never matched: a materialized filter has nothing to delete
	must(t, in.Pipe("a", 150))
	if got := pairs(t, streamstest.CreateOutputTopic[string, int64](d, "cheap", nil, nil)); got != "a=50 a=null" {
		t.Errorf("materialized filter: %q", got)
	}
	cs, err := streamstest.KeyValueStore[string, int64](d, "cheap")
	must(t, err)
	if n, err := cs.ApproximateNumEntries(); err != nil || n != 0 {
		t.Errorf("filter store holds %d entries, want none", n)
	}
	ds, err := streamstest.KeyValueStore[string, int64](d, "doubled")
	must(t, err)
	if v, ok, _ := ds.Get("b"); !ok || v != 1000 {
		t.Errorf("doubled b = %d %v", v, ok)
	}
	if got := pairs(t, streamstest.CreateOutputTopic[string, int64](d, "doubled", nil, nil)); got != "a=100 b=1000 a=300" {
		t.Errorf("materialized mapValues: %q", got)
	}
}

func TestTimestampExtractors(t *testing.T) {
	// The event time is in the value; negative means "skip".
	fromValue := func(r topology.InputRecord, _ int64) (int64, error) {
		v, err := serde.Int64.Deserialize(r.Topic, r.Value)
		return v, err
	}
	b := streams.NewBuilder()
	g := streams.Stream[string, int64](b, []string{"events"}, streams.WithTimestampExtractor(fromValue)).GroupByKey()
	streams.Aggregate(g, func() int64 { return 0 }, func(_ string, v, n int64) int64 { return n + v }).
		ToStream().To("sums")
	d := run(t, b)
	in := streamstest.CreateInputTopic[string, int64](d, "events", nil, nil)
	must(t, in.PipeAt("k", 500, time.UnixMilli(1)))
	must(t, in.PipeAt("k", -1, time.UnixMilli(2))) // skipped: a negative timestamp
	must(t, in.PipeAt("k", 300, time.UnixMilli(3)))
	recs, err := streamstest.CreateOutputTopic[string, int64](d, "sums", nil, nil).ReadRecords()
	must(t, err)
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%d@%d", r.Value, r.Timestamp.UnixMilli()))
	}
	if s := strings.Join(got, " "); s != "500@500 800@500" {
		t.Errorf("sums with event time from the value: %q", s)
	}

	// The default extractor fails on a negative record timestamp.
	b = streams.NewBuilder()
	streams.Stream[string, int64](b, []string{"events"}).To("out")
	d = run(t, b)
	in = streamstest.CreateInputTopic[string, int64](d, "events", nil, nil)
	if err := in.PipeAt("k", 1, time.UnixMilli(-5)); !errors.Is(err, task.ErrStopped) {
		t.Fatalf("negative record timestamp with the default extractor: %v", err)
	}
}

func TestPartitionerOption(t *testing.T) {
	var seen []string
	b := streams.NewBuilder()
	streams.Stream[string, int64](b, []string{"in"}).To("out", streams.WithPartitioner(func(topic, k string, v int64, n int) int {
		seen = append(seen, fmt.Sprintf("%s %s=%d of %d", topic, k, v, n))
		return 0
	}))
	d := run(t, b)
	must(t, streamstest.CreateInputTopic[string, int64](d, "in", nil, nil).Pipe("k", 7))
	if fmt.Sprint(seen) != "[out k=7 of 1]" {
		t.Errorf("partitioner saw %v", seen)
	}
	b = streams.NewBuilder()
	streams.Stream[string, int64](b, []string{"in"}).To("out", streams.WithPartitioner(func(string, string, string, int) int { return 0 }))
	if _, err := b.Build(); err == nil {
		t.Error("a partitioner of string values was accepted for int64 values")
	}
}

// A delete that leaves a cached table at a flush carries the delete's own
// timestamp downstream, not that of the value it removed, as in Kafka: the
// cache keeps each entry's record time with it.
func TestCachedTableDeleteCarriesItsOwnTimestamp(t *testing.T) {
	b := streams.NewBuilder()
	streams.Table[string, string](b, "in", streams.WithStore("t")).ToStream().To("out")
	d := run(t, b, streamstest.WithStartTime(time.UnixMilli(1000)))
	in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	if err := in.PipeAt("k", "v", time.UnixMilli(10)); err != nil {
		t.Fatal(err)
	}
	if err := in.PipeTombstone("k"); err != nil { // at the wall clock, 1000
		t.Fatal(err)
	}
	recs, err := streamstest.CreateOutputTopic[string, string](d, "out", nil, nil).ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || !recs[1].NullValue || recs[1].Timestamp.UnixMilli() != 1000 {
		t.Fatalf("output %+v, want k=v at 10 then a tombstone at 1000", recs)
	}
}
