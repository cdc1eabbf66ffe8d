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

// finalCounts builds in -> count in 10ms windows with 5ms grace ->
// suppressed until the windows close -> out.
func finalCounts(opts ...streams.Option) *streams.Builder {
	b := streams.NewBuilder()
	in := streams.Stream[string, string](b, []string{"in"})
	counts := streams.WindowedBy(in.GroupByKey(), streams.OfSizeAndGrace(10*time.Millisecond, 5*time.Millisecond)).Count()
	streams.SuppressUntilWindowCloses(counts, streams.UnboundedBuffer(), opts...).ToStream().To("out")
	return b
}

func TestSuppressUntilWindowClosesEmitsOneFinalResultPerWindow(t *testing.T) {
	d := run(t, finalCounts())
	in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	out := windowedOut(d, "out", 10, serde.Int64)
	step := func(k string, ts int64, want string) {
		t.Helper()
		must(t, in.PipeAt(k, "x", msAt(ts)))
		if got := readWindowed(t, out); got != want {
			t.Errorf("after %s@%d:\n got %q\nwant %q", k, ts, got, want)
		}
	}
	step("a", 1, "")
	step("a", 4, "")
	step("b", 6, "")
	step("a", 12, "") // stream time 12: [0,10) closes at 15
	step("a", 8, "")  // late but within grace: [0,10) of a becomes 3
	// Stream time 15 closes [0,10): one final record per key, with the
	// update made within the grace period, stamped with its latest
	// record's timestamp.
	step("a", 15, "a@0/10=3@8 b@0/10=1@6")
	step("a", 9, "") // too late: dropped by the aggregation, nothing emitted again
	step("b", 24, "")
	step("a", 25, "a@10/20=2@15")
	if n := d.DroppedRecords(); n != 1 {
		t.Errorf("dropped records = %d, want 1", n)
	}
}

func TestSuppressBufferSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	open := func() *streamstest.Driver {
		topo, err := finalCounts(streams.Named("final")).Build()
		must(t, err)
		d, err := streamstest.New(topo, streamstest.WithStateDir(dir))
		must(t, err)
		return d
	}
	d := open()
	in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	must(t, in.PipeAt("a", "x", msAt(1)))
	must(t, in.PipeAt("a", "x", msAt(4)))
	// The buffer is logged to its own changelog.
	cl := streamstest.CreateOutputTopic(d, "test-app-final-store-changelog", serde.Bytes, serde.Bytes)
	if recs, err := cl.ReadRecords(); err != nil || len(recs) != 2 {
		t.Errorf("buffer changelog: %d records, %v; want 2 (one per commit)", len(recs), err)
	}
	if got := windowed(t, d, "out", 10, serde.Int64); got != "" {
		t.Errorf("emitted before the window closed: %s", got)
	}
	must(t, d.Close())

	d = open()
	defer d.Close()
	in = streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	must(t, in.PipeAt("b", "x", msAt(15)))
	if got := windowed(t, d, "out", 10, serde.Int64); got != "a@0/10=2@4" {
		t.Errorf("after reopening and closing the window: %q", got)
	}
}

// timeLimited builds a table -> suppressed for 10ms of stream time -> out.
func timeLimited(buf streams.BufferConfig, limit time.Duration) *streams.Builder {
	b := streams.NewBuilder()
	streams.Table[string, string](b, "in").SuppressUntilTimeLimit(limit, buf).ToStream().To("out")
	return b
}

// stamped reads "k=v@ts" strings.
func stamped(t *testing.T, out *streamstest.OutputTopic[string, string]) string {
	t.Helper()
	recs, err := out.ReadRecords()
	must(t, err)
	var s []string
	for _, r := range recs {
		s = append(s, fmt.Sprintf("%s=%s@%d", r.Key, r.Value, r.Timestamp.UnixMilli()))
	}
	return strings.Join(s, " ")
}

func TestSuppressUntilTimeLimit(t *testing.T) {
	d := run(t, timeLimited(streams.UnboundedBuffer(), 10*time.Millisecond))
	in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	out := streamstest.CreateOutputTopic[string, string](d, "out", nil, nil)
	must(t, in.PipeAt("a", "1", msAt(0)))
	must(t, in.PipeAt("a", "2", msAt(5)))
	must(t, in.PipeAt("b", "1", msAt(7)))
	if got := stamped(t, out); got != "" {
		t.Errorf("emitted early: %s", got)
	}
	// Stream time 10: a's first update (at 0) has waited 10ms; its latest
	// value goes out, including the update that arrived with this record.
	must(t, in.PipeAt("a", "3", msAt(10)))
	if got := stamped(t, out); got != "a=3@10" {
		t.Errorf("at 10: %q", got)
	}
	must(t, in.PipeAt("c", "1", msAt(17)))
	if got := stamped(t, out); got != "b=1@7" {
		t.Errorf("at 17: %q", got)
	}
}

func TestSuppressBufferFullEmitsEarly(t *testing.T) {
	for name, tc := range map[string]struct {
		buf  streams.BufferConfig
		want string
	}{
		"records": {streams.BufferMaxRecords(1), "a=1@0 b=2@2"},
		// Each entry here is 1 byte of key, 1 of value and 24 of
		// bookkeeping: two fit in 60 bytes, three do not.
		"bytes": {streams.BufferMaxBytes(60), "a=1@0"},
	} {
		t.Run(name, func(t *testing.T) {
			d := run(t, timeLimited(tc.buf, time.Hour))
			in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
			out := streamstest.CreateOutputTopic[string, string](d, "out", nil, nil)
			must(t, in.PipeAt("a", "1", msAt(0)))
			must(t, in.PipeAt("b", "1", msAt(1)))
			must(t, in.PipeAt("b", "2", msAt(2)))
			must(t, in.PipeAt("c", "1", msAt(3)))
			if got := stamped(t, out); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSuppressBufferFullShutsDown(t *testing.T) {
	d := run(t, timeLimited(streams.BufferMaxRecords(1).ShutDownWhenFull(), time.Hour))
	in := streamstest.CreateInputTopic[string, string](d, "in", nil, nil)
	must(t, in.PipeAt("a", "1", msAt(0)))
	must(t, in.PipeAt("a", "2", msAt(1)))
	err := in.PipeAt("b", "1", msAt(2))
	if err == nil || !strings.Contains(err.Error(), "buffer exceeded its capacity") {
		t.Fatalf("a second key in a full strict buffer: %v", err)
	}
}

func TestSuppressUntilWindowClosesRefusesMisuse(t *testing.T) {
	b := streams.NewBuilder()
	in := streams.Stream[string, string](b, []string{"in"})
	counts := streams.WindowedBy(in.GroupByKey(), streams.OfSizeWithNoGrace(time.Second)).Count()
	streams.SuppressUntilWindowCloses(counts, streams.BufferMaxRecords(10))
	if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "shuts down when full") {
		t.Errorf("an emit-early buffer: %v", err)
	}

	b = streams.NewBuilder()
	table := streams.Table[streams.Windowed[string], string](b, "t", streams.WithKeySerde(streams.TimeWindowedSerde(serde.String, 10)))
	streams.SuppressUntilWindowCloses(table, streams.UnboundedBuffer())
	if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "windowed aggregation") {
		t.Errorf("a table not from a windowed aggregation: %v", err)
	}
}
