package streams_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/streams"
	"github.com/sluicehq/sluice/streams/streamstest"
)

func at(ms int64) time.Time { return time.UnixMilli(ms) }

// timed reads an output topic as "k=v@ms" strings.
func timed[K, V any](t *testing.T, out *streamstest.OutputTopic[K, V]) string {
	t.Helper()
	recs, err := out.ReadRecords()
	must(t, err)
	var s []string
	for _, r := range recs {
		if r.NullValue {
			s = append(s, fmt.Sprintf("%v=null@%d", r.Key, r.Timestamp.UnixMilli()))
		} else {
			s = append(s, fmt.Sprintf("%v=%v@%d", r.Key, r.Value, r.Timestamp.UnixMilli()))
		}
	}
	return strings.Join(s, " ")
}

func opt[V any](v *V) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprint(*v)
}

// joinTopics wires left (string values) and right (int values) streams.
func joinTopics(b *streams.Builder) (streams.KStream[string, string], streams.KStream[string, int]) {
	return streams.Stream[string, string](b, []string{"left"}), streams.Stream[string, int](b, []string{"right"})
}

type step struct {
	right bool
	key   string
	value any // string on the left, int on the right
	ts    int64
	want  string // output of this step, "" for none
}

// play pipes steps and checks the output after each.
func play(t *testing.T, d *streamstest.Driver, out *streamstest.OutputTopic[string, string], steps []step) {
	t.Helper()
	left := streamstest.CreateInputTopic[string, string](d, "left", nil, nil)
	right := streamstest.CreateInputTopic[string, int](d, "right", nil, nil)
	for i, s := range steps {
		if s.right {
			must(t, right.PipeAt(s.key, s.value.(int), at(s.ts)))
		} else {
			must(t, left.PipeAt(s.key, s.value.(string), at(s.ts)))
		}
		if got := timed(t, out); got != s.want {
			side := "left"
			if s.right {
				side = "right"
			}
			t.Fatalf("step %d (%s %s=%v@%d): got %q, want %q", i, side, s.key, s.value, s.ts, got, s.want)
		}
	}
}

func TestStreamStreamInnerJoinWindowBounds(t *testing.T) {
	b := streams.NewBuilder()
	l, r := joinTopics(b)
	streams.Join(l, r, func(lv string, rv int) string { return fmt.Sprintf("%s+%d", lv, rv) },
		streams.OfTimeDifferenceAndGrace(10*time.Millisecond, 100*time.Millisecond)).To("out")
	d := run(t, b)
	play(t, d, streamstest.CreateOutputTopic[string, string](d, "out", nil, nil), []step{
		{false, "k", "A", 100, ""},
		// A at 100 joins right records in [90, 110], bounds included.
		{true, "k", 1, 90, "k=A+1@100"},
		{true, "k", 2, 110, "k=A+2@110"},
		{true, "k", 3, 89, ""},
		{true, "k", 4, 111, ""},
		{false, "j", "B", 100, ""}, // another key joins nothing
		// C at 121 reaches back to 111, and finds 4; both buffered right
		// records stay joinable by later left records.
		{false, "k", "C", 121, "k=C+4@121"},
		{false, "k", "D", 100, "k=D+1@100 k=D+2@110"},
	})
}

func TestStreamStreamJoinAsymmetricWindow(t *testing.T) {
	b := streams.NewBuilder()
	l, r := joinTopics(b)
	// A left record at t joins right records in [t-5, t+20].
	w := streams.OfTimeDifferenceAndGrace(0, time.Second).Before(5 * time.Millisecond).After(20 * time.Millisecond)
	streams.Join(l, r, func(lv string, rv int) string { return fmt.Sprintf("%s+%d", lv, rv) }, w).To("out")
	d := run(t, b)
	play(t, d, streamstest.CreateOutputTopic[string, string](d, "out", nil, nil), []step{
		{false, "k", "A", 100, ""},
		{true, "k", 1, 94, ""},
		{true, "k", 2, 95, "k=A+2@100"},
		{true, "k", 3, 120, "k=A+3@120"},
		{true, "k", 4, 121, ""},
		// From the right, 4 at 121 joins left records in [101, 126].
		{false, "k", "B", 126, "k=B+4@126"},
		{false, "k", "C", 127, ""},
	})
}

func TestStreamStreamLeftJoinEmitsUnmatchedOnlyAfterWindowCloses(t *testing.T) {
	b := streams.NewBuilder()
	l, r := joinTopics(b)
	streams.LeftJoin(l, r, func(lv string, rv *int) string { return lv + "+" + opt(rv) },
		streams.OfTimeDifferenceAndGrace(10*time.Millisecond, 5*time.Millisecond), streams.Named("lj")).To("out")
	d := run(t, b)
	out := streamstest.CreateOutputTopic[string, string](d, "out", nil, nil)
	play(t, d, out, []step{
		{false, "k1", "A", 100, ""},
		{true, "k1", 1, 105, "k1=A+1@105"},
		{false, "k2", "B", 110, ""}, // unmatched: waits until stream time passes 110+10+5
		{true, "k3", 2, 115, ""},    // right records alone give nothing in a left join
		{false, "k1", "C", 120, ""}, // 1 at 105 is outside [110, 130]
		{true, "k9", 3, 125, ""},    // stream time 125: B's window is still open
		{true, "k9", 4, 126, "k2=B+null@110"},
		// Out of order within the grace period: joined.
		{false, "k4", "D", 122, ""},
		{true, "k4", 5, 127, "k4=D+5@127"},
		// Beyond the grace period (stream time 127): dropped, both sides.
		{false, "k5", "E", 121, ""},
		{true, "k5", 6, 121, ""},
		// C closes at 135; D was matched, and A; E was dropped.
		{true, "k9", 7, 135, ""},
		{true, "k9", 8, 136, "k1=C+null@120"},
		{true, "k9", 9, 500, ""},
	})

	// A null key cannot join; a left record with one is emitted at once.
	in := streamstest.CreateInputTopic[string, string](d, "left", nil, nil)
	must(t, in.PipeRaw(nil, []byte("N"), at(501)))
	if got := timed(t, out); got != "=N+null@501" {
		t.Errorf("null key: got %q", got)
	}
}

func TestStreamStreamOuterJoin(t *testing.T) {
	b := streams.NewBuilder()
	l, r := joinTopics(b)
	streams.OuterJoin(l, r, func(lv *string, rv *int) string { return opt(lv) + "+" + opt(rv) },
		streams.OfTimeDifferenceWithNoGrace(10*time.Millisecond)).To("out")
	d := run(t, b)
	play(t, d, streamstest.CreateOutputTopic[string, string](d, "out", nil, nil), []step{
		{false, "k1", "A", 100, ""},
		{true, "k2", 1, 103, ""},
		{true, "k1", 2, 108, "k1=A+2@108"},
		{false, "k3", "B", 111, ""},
		{false, "k3", "B", 112, ""}, // same key, both kept
		{true, "k9", 3, 113, ""},    // 1 at 103 closes after 113
		// No grace: a record behind stream time is dropped.
		{true, "k3", 4, 112, ""},
		{false, "k2", "C", 114, "k2=null+1@103"},
		// 3 at 113 is still open at 122; at 200 everything has closed, and
		// is emitted in time order whatever its side.
		{true, "k9", 5, 122, "k3=B+null@111"},
		{true, "k9", 6, 200, "k3=B+null@112 k9=null+3@113 k2=C+null@114 k9=null+5@122"},
	})
}

func TestStreamStreamOuterJoinClosesEachSideOnItsOwnWindow(t *testing.T) {
	b := streams.NewBuilder()
	l, r := joinTopics(b)
	// Left records wait 20ms for right ones; right records wait for none.
	w := streams.OfTimeDifferenceWithNoGrace(0).After(20 * time.Millisecond)
	streams.OuterJoin(l, r, func(lv *string, rv *int) string { return opt(lv) + "+" + opt(rv) }, w).To("out")
	d := run(t, b)
	play(t, d, streamstest.CreateOutputTopic[string, string](d, "out", nil, nil), []step{
		{false, "k1", "A", 100, ""},
		{true, "k2", 1, 105, ""},
		// The right record behind the open left one is emitted.
		{false, "k9", "B", 106, "k2=null+1@105"},
		{true, "k9", 2, 120, "k9=B+2@120"},
		{true, "k8", 3, 121, "k1=A+null@100"},
	})
}

func TestStreamStreamJoinRepartitionsAKeyChangedSide(t *testing.T) {
	b := streams.NewBuilder()
	l, r := joinTopics(b)
	// The left values name the key to join on.
	rekeyed := streams.SelectKey(l, func(_, v string) string { return strings.Split(v, ":")[0] })
	streams.Join(rekeyed, r, func(lv string, rv int) string { return fmt.Sprintf("%s+%d", lv, rv) },
		streams.OfTimeDifferenceWithNoGrace(time.Second), streams.Named("rk")).To("out")
	topo, err := b.Build()
	must(t, err)
	if desc := topo.Describe(); !strings.Contains(desc, "rk-merge-left-repartition") {
		t.Fatalf("no repartition topic for the rekeyed side:\n%s", desc)
	}
	d := run(t, b)
	play(t, d, streamstest.CreateOutputTopic[string, string](d, "out", nil, nil), []step{
		{true, "x", 1, 100, ""},
		{false, "ignored", "x:A", 100, "x=x:A+1@100"},
	})
}

func TestJoinWindowsValidated(t *testing.T) {
	for name, w := range map[string]streams.JoinWindows{
		"negative difference": streams.OfTimeDifferenceWithNoGrace(-time.Millisecond),
		"negative grace":      streams.OfTimeDifferenceAndGrace(time.Millisecond, -time.Millisecond),
		"negative size":       streams.OfTimeDifferenceWithNoGrace(10 * time.Millisecond).Before(-11 * time.Millisecond),
	} {
		b := streams.NewBuilder()
		l, r := joinTopics(b)
		streams.Join(l, r, func(string, int) string { return "" }, w).To("out")
		if _, err := b.Build(); err == nil {
			t.Errorf("%s: built", name)
		}
	}
	w := streams.OfTimeDifferenceAndGrace(10*time.Millisecond, 3*time.Millisecond).Before(-4 * time.Millisecond)
	if w.BeforeMs() != -4 || w.AfterMs() != 10 || w.GracePeriodMs() != 3 || w.Size() != 6 {
		t.Errorf("windows %+v", w)
	}
}

// leftJoinTopology is built again for each driver of the restart test.
func leftJoinTopology(t *testing.T) *streams.Builder {
	b := streams.NewBuilder()
	l, r := joinTopics(b)
	streams.LeftJoin(l, r, func(lv string, rv *int) string { return lv + "+" + opt(rv) },
		streams.OfTimeDifferenceWithNoGrace(10*time.Millisecond), streams.Named("lj")).To("out")
	return b
}

func TestStreamStreamJoinBuffersSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	topo, err := leftJoinTopology(t).Build()
	must(t, err)
	d, err := streamstest.New(topo, streamstest.WithStateDir(dir))
	must(t, err)
	play(t, d, streamstest.CreateOutputTopic[string, string](d, "out", nil, nil), []step{
		{false, "k1", "A", 100, ""},
		{false, "k2", "B", 101, ""},
	})
	must(t, d.Close())

	topo, err = leftJoinTopology(t).Build()
	must(t, err)
	d, err = streamstest.New(topo, streamstest.WithStateDir(dir))
	must(t, err)
	defer d.Close()
	play(t, d, streamstest.CreateOutputTopic[string, string](d, "out", nil, nil), []step{
		// A is still in the left buffer, and B still waits in the outer one.
		{true, "k1", 1, 105, "k1=A+1@105"},
		{true, "k9", 2, 112, "k2=B+null@101"},
	})
}

func TestStreamStreamJoinBuffersExpireAndLog(t *testing.T) {
	b := streams.NewBuilder()
	l, r := joinTopics(b)
	streams.Join(l, r, func(lv string, rv int) string { return fmt.Sprintf("%s+%d", lv, rv) },
		streams.OfTimeDifferenceWithNoGrace(10*time.Millisecond), streams.Named("x")).To("out")
	d := run(t, b)
	play(t, d, streamstest.CreateOutputTopic[string, string](d, "out", nil, nil), []step{
		{false, "k1", "A", 100, ""},
		{false, "k2", "B", 100, ""},
		{false, "k2", "B", 100, ""},
	})
	count := func(store string) int64 {
		kv, err := streamstest.KeyValueStore[[]byte, []byte](d, store)
		must(t, err)
		n, err := kv.ApproximateNumEntries()
		must(t, err)
		return n
	}
	if n := count("x-this-join-store"); n != 3 {
		t.Fatalf("left buffer holds %d records, want 3", n)
	}
	// A minute of stream time later the buffers are cleared of records
	// older than the retention (20ms).
	right := streamstest.CreateInputTopic[string, int](d, "right", nil, nil)
	must(t, right.PipeAt("k9", 1, at(100+time.Minute.Milliseconds())))
	if l, r := count("x-this-join-store"), count("x-other-join-store"); l != 0 || r != 1 {
		t.Errorf("after a minute the buffers hold %d left and %d right records, want 0 and 1", l, r)
	}
	// Every buffered record and every removal went to the changelog.
	log := streamstest.CreateOutputTopic[[]byte, []byte](d, "test-app-x-this-join-store-changelog", nil, nil)
	recs, err := log.ReadRecords()
	must(t, err)
	var puts, deletes int
	for _, r := range recs {
		if r.NullValue {
			deletes++
		} else {
			puts++
		}
	}
	if puts != 3 || deletes != 3 {
		t.Errorf("changelog has %d puts and %d deletes, want 3 and 3", puts, deletes)
	}
}

func TestStreamTableJoin(t *testing.T) {
	for _, tc := range []struct {
		name   string
		left   bool
		filter bool // join an unmaterialized (filtered) table
		want   []string
	}{
		{"inner", false, false, []string{"", "k=2/alice", "", "k=3/bob", "", ""}},
		{"left", true, false, []string{"k=1/null", "k=2/alice", "", "k=3/bob", "k=4/null", "=5/null"}},
		{"inner over a filtered table", false, true, []string{"", "k=2/alice", "", "k=3/bob", "", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := streams.NewBuilder()
			clicks := streams.Stream[string, int](b, []string{"clicks"})
			users := streams.Table[string, string](b, "users")
			if tc.filter {
				users = users.Filter(func(_, v string) bool { return !strings.HasPrefix(v, "x") })
			}
			if tc.left {
				streams.LeftJoinTable(clicks, users, func(c int, u *string) string { return fmt.Sprintf("%d/%s", c, opt(u)) }).To("out")
			} else {
				streams.JoinTable(clicks, users, func(c int, u string) string { return fmt.Sprintf("%d/%s", c, u) }).To("out")
			}
			d := run(t, b)
			in := streamstest.CreateInputTopic[string, int](d, "clicks", nil, nil)
			table := streamstest.CreateInputTopic[string, string](d, "users", nil, nil)
			out := streamstest.CreateOutputTopic[string, string](d, "out", nil, nil)
			check := func(i int) {
				t.Helper()
				if got := pairs(t, out); got != tc.want[i] {
					t.Errorf("click %d: got %q, want %q", i+1, got, tc.want[i])
				}
			}
			must(t, in.Pipe("k", 1)) // before the table has the key
			check(0)
			must(t, table.Pipe("k", "alice"))
			must(t, in.Pipe("k", 2))
			check(1)
			must(t, table.Pipe("k", "bob")) // a table update emits nothing
			check(2)
			must(t, in.Pipe("k", 3))
			check(3)
			must(t, table.PipeTombstone("k"))
			must(t, in.Pipe("k", 4))
			check(4)
			must(t, in.PipeRaw(nil, []byte{0, 0, 0, 0, 0, 0, 0, 5}, at(0))) // a null key
			check(5)
		})
	}
}

func TestStreamTableJoinRepartitionsTheStream(t *testing.T) {
	b := streams.NewBuilder()
	clicks := streams.Stream[string, string](b, []string{"clicks"})
	users := streams.Table[string, string](b, "users")
	byUser := streams.SelectKey(clicks, func(_, v string) string { return v })
	streams.JoinTable(byUser, users, func(c, u string) string { return c + "/" + u }, streams.Named("enrich")).To("out")
	topo, err := b.Build()
	must(t, err)
	if desc := topo.Describe(); !strings.Contains(desc, "enrich-repartition") {
		t.Fatalf("no repartition topic:\n%s", desc)
	}
	d := run(t, b)
	must(t, streamstest.CreateInputTopic[string, string](d, "users", nil, nil).Pipe("u1", "alice"))
	must(t, streamstest.CreateInputTopic[string, string](d, "clicks", nil, nil).Pipe("page", "u1"))
	if got := pairs(t, streamstest.CreateOutputTopic[string, string](d, "out", nil, nil)); got != "u1=u1/alice" {
		t.Errorf("got %q", got)
	}
}

func TestStreamGlobalTableJoin(t *testing.T) {
	b := streams.NewBuilder()
	orders := streams.Stream[string, string](b, []string{"orders"}) // order id -> "product:qty"
	products := streams.GlobalTable[string, string](b, "products")
	product := func(_ string, v string) string { return strings.Split(v, ":")[0] }
	streams.JoinGlobal(orders, products, product, func(o, p string) string { return o + "=" + p }).To("inner")
	streams.LeftJoinGlobal(orders, products, product, func(o string, p *string) string { return o + "=" + opt(p) }).To("left")
	d := run(t, b)
	prod := streamstest.CreateInputTopic[string, string](d, "products", nil, nil)
	in := streamstest.CreateInputTopic[string, string](d, "orders", nil, nil)
	must(t, prod.Pipe("p1", "pen"))
	must(t, in.Pipe("o1", "p1:2"))
	must(t, in.Pipe("o2", "p2:1"))
	must(t, prod.Pipe("p2", "ink")) // emits nothing by itself
	must(t, in.Pipe("o3", "p2:5"))
	must(t, prod.PipeTombstone("p1"))
	must(t, in.Pipe("o4", "p1:1"))
	for topic, want := range map[string]string{
		"inner": "o1=p1:2=pen o3=p2:5=ink",
		"left":  "o1=p1:2=pen o2=p2:1=null o3=p2:5=ink o4=p1:1=null",
	} {
		if got := pairs(t, streamstest.CreateOutputTopic[string, string](d, topic, nil, nil)); got != want {
			t.Errorf("%s: got %q, want %q", topic, got, want)
		}
	}
}

func TestRepartitionedJoinSideTakesTheOtherSidesPartitionCount(t *testing.T) {
	b := streams.NewBuilder()
	l, r := joinTopics(b)
	rekeyed := streams.SelectKey(l, func(_, v string) string { return v })
	streams.Join(rekeyed, r, func(lv string, rv int) string { return lv }, streams.OfTimeDifferenceWithNoGrace(time.Second), streams.Named("rk")).To("out")
	topo, err := b.Build()
	must(t, err)
	subs, err := topo.Subtopologies()
	must(t, err)
	// left has 2 partitions and right 4: the repartition topic gets 4, so
	// that the join's sources are co-partitioned.
	counts, internal, err := topo.PartitionCounts(subs, map[string]int32{"left": 2, "right": 4})
	must(t, err)
	if internal["rk-merge-left-repartition"] != 4 {
		t.Errorf("repartition topic gets %d partitions, want 4", internal["rk-merge-left-repartition"])
	}
	if len(counts) != 2 || counts[0] != 2 || counts[1] != 4 {
		t.Errorf("sub-topology task counts %v, want 2 and 4", counts)
	}
}
