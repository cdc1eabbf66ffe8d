package file

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/data"
)

type offsets map[string]any

func (o offsets) Configs() map[string]string                     { return nil }
func (o offsets) Logger() *slog.Logger                           { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func (o offsets) TransactionContext() connect.TransactionContext { return nil }
func (o offsets) Offset(p map[string]any) (map[string]any, error) {
	if v, ok := o[p[FilenameField].(string)]; ok {
		return map[string]any{PositionField: v}, nil
	}
	return nil, nil
}

func startSource(t *testing.T, file string, stored offsets, batch string) *SourceTask {
	t.Helper()
	c := &SourceConnector{}
	props := map[string]string{"file": file, "topic": "lines", "batch.size": batch}
	if err := c.Start(nil, props); err != nil {
		t.Fatal(err)
	}
	cfgs, _ := c.TaskConfigs(5)
	if len(cfgs) != 1 {
		t.Fatalf("a file source has one task, got %d", len(cfgs))
	}
	task := c.NewTask().(*SourceTask)
	if err := task.Start(stored, cfgs[0]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { task.Stop() })
	return task
}

func pollAll(t *testing.T, task *SourceTask, want int) []*connect.SourceRecord {
	t.Helper()
	var out []*connect.SourceRecord
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < want {
		if time.Now().After(deadline) {
			t.Fatalf("got %d records, want %d", len(out), want)
		}
		recs, err := task.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, recs...)
	}
	return out
}

func TestSourceLinesAndOffsets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(path, []byte("one\ntwo\r\nthree\rfour\nhalf"), 0o644); err != nil {
		t.Fatal(err)
	}
	task := startSource(t, path, offsets{}, "2")
	recs := pollAll(t, task, 4)
	var lines []string
	var positions []int64
	for _, r := range recs {
		lines = append(lines, r.Value.(string))
		positions = append(positions, r.SourceOffset[PositionField].(int64))
		if r.Topic != "lines" || r.Key != nil || r.ValueSchema != data.StringSchema || r.SourcePartition[FilenameField] != path {
			t.Fatalf("record %+v", r)
		}
	}
	if strings.Join(lines, "|") != "one|two|three|four" {
		t.Fatalf("lines %q", lines)
	}
	if want := []int64{4, 9, 15, 20}; !equal(positions, want) {
		t.Fatalf("positions %v, want %v (the byte after each line)", positions, want)
	}
	// The unfinished last line waits for its end.
	if recs, _ := task.Poll(context.Background()); len(recs) != 0 {
		t.Fatalf("an unfinished line must wait: %v", recs)
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("way\n")
	f.Close()
	recs = pollAll(t, task, 1)
	if recs[0].Value != "halfway" || recs[0].SourceOffset[PositionField] != int64(28) {
		t.Fatalf("appended line: %v %v", recs[0].Value, recs[0].SourceOffset)
	}

	// A new task resumes after the stored offset.
	resumed := startSource(t, path, offsets{path: int64(9)}, "100")
	recs = pollAll(t, resumed, 3)
	if recs[0].Value != "three" || recs[2].Value != "halfway" {
		t.Fatalf("resumed at %v", recs[0].Value)
	}
}

func TestSourceLongLinesAndMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.txt")
	task := startSource(t, path, offsets{}, "10")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if recs, err := task.Poll(ctx); err != nil || len(recs) != 0 {
		t.Fatalf("missing file: %v %v, want a quiet wait", recs, err)
	}
	long := strings.Repeat("x", 200_000)
	os.WriteFile(path, []byte(long+"\nshort\n"), 0o644)
	recs := pollAll(t, task, 2)
	if recs[0].Value != long || recs[1].Value != "short" {
		t.Fatal("a line longer than the buffer must come whole")
	}
}

func TestSourceStdin(t *testing.T) {
	c := &SourceConnector{Stdin: strings.NewReader("a\nb\n")}
	if err := c.Start(nil, map[string]string{"topic": "t"}); err != nil {
		t.Fatal(err)
	}
	task := c.NewTask().(*SourceTask)
	if err := task.Start(offsets{}, map[string]string{"topic": "t"}); err != nil {
		t.Fatal(err)
	}
	recs := pollAll(t, task, 2)
	if recs[0].Value != "a" || recs[1].Value != "b" || recs[0].SourceOffset != nil {
		t.Fatalf("stdin records %v %v %v", recs[0].Value, recs[1].Value, recs[0].SourceOffset)
	}
}

func TestSourceConfig(t *testing.T) {
	for _, props := range []map[string]string{{"file": "x"}, {"topic": "a,b"}, {"topic": "a", "batch.size": "0"}} {
		if err := (&SourceConnector{}).Start(nil, props); err == nil {
			t.Errorf("%v: want an error", props)
		}
	}
}

func TestSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	os.WriteFile(path, []byte("existing\n"), 0o644)
	c := &SinkConnector{}
	if err := c.Start(nil, map[string]string{"file": path, "topics": "t"}); err != nil {
		t.Fatal(err)
	}
	cfgs, _ := c.TaskConfigs(2)
	if len(cfgs) != 2 {
		t.Fatalf("tasks %d", len(cfgs))
	}
	task := c.NewTask()
	if err := task.Start(nil, cfgs[0]); err != nil {
		t.Fatal(err)
	}
	st := data.NewStruct(data.NewStructSchema("", data.Field{Name: "a", Schema: data.Int32Schema})).MustPut("a", int32(1))
	recs := []*connect.SinkRecord{
		{Record: connect.Record{Value: "line"}}, {Record: connect.Record{Value: nil}},
		{Record: connect.Record{Value: int64(5)}}, {Record: connect.Record{Value: st}}, {Record: connect.Record{Value: []byte("raw")}},
	}
	if err := task.Put(recs); err != nil {
		t.Fatal(err)
	}
	if err := task.Flush(nil); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if want := "existing\nline\nnull\n5\nStruct{a=1}\nraw\n"; string(got) != want {
		t.Fatalf("file:\n%q\nwant\n%q", got, want)
	}
	if err := task.Stop(); err != nil {
		t.Fatal(err)
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// writeRecorder keeps every write the sink makes.
type writeRecorder struct{ writes [][]byte }

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.writes = append(w.writes, append([]byte(nil), p...))
	return len(p), nil
}

// A worker may be killed between any two writes of the sink: each write must
// end a line, or the lines sent again after a restart run into the torn one.
func TestSinkWritesWholeLines(t *testing.T) {
	out := &writeRecorder{}
	c := &SinkConnector{Stdout: out}
	if err := c.Start(nil, map[string]string{"topics": "t"}); err != nil {
		t.Fatal(err)
	}
	task := c.NewTask()
	if err := task.Start(nil, map[string]string{"topics": "t"}); err != nil {
		t.Fatal(err)
	}
	var recs []*connect.SinkRecord
	var want bytes.Buffer
	for i := range 40_000 { // several times the sink's buffer, lines of varied lengths
		v := fmt.Sprintf("line-%d-%s", i, strings.Repeat("x", i%97))
		if i%10_000 == 5 {
			v = strings.Repeat("long", 100_000) // longer than the buffer
		}
		recs = append(recs, &connect.SinkRecord{Record: connect.Record{Value: v}})
		want.WriteString(v + "\n")
	}
	if err := task.Put(recs); err != nil {
		t.Fatal(err)
	}
	if err := task.Flush(nil); err != nil {
		t.Fatal(err)
	}
	if len(out.writes) < 3 {
		t.Fatalf("%d writes: the test wants the buffer to fill several times", len(out.writes))
	}
	var got []byte
	for i, w := range out.writes {
		if len(w) == 0 || w[len(w)-1] != '\n' {
			t.Fatalf("write %d of %d (%d bytes) ends mid-line: %q", i, len(out.writes), len(w), w[max(0, len(w)-20):])
		}
		got = append(got, w...)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("the writes hold %d bytes, want the %d of the lines in order", len(got), want.Len())
	}
}
