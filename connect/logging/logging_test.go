package logging

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

// lines logs one record at each level through log and returns the
// messages written.
func lines(buf *bytes.Buffer, log *slog.Logger, tag string) []string {
	buf.Reset()
	log.Log(context.Background(), LevelTrace, tag+"-trace")
	log.Debug(tag + "-debug")
	log.Info(tag + "-info")
	log.Warn(tag + "-warn")
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if i := strings.Index(l, "msg="); i >= 0 {
			out = append(out, strings.Fields(l[i+4:])[0])
		}
	}
	return out
}

// A record is checked against its connector's logger when that has a
// level, else its named logger or the nearest ancestor with one, else
// root; setting a namespace sets it for the loggers under it.
func TestLevelsFilter(t *testing.T) {
	var buf bytes.Buffer
	levels := New(slog.LevelInfo)
	root := levels.Logger(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: LevelAll}))
	rt := root.With(Key, "connect.runtime")
	task := rt.With(ConnectorKey, "src", "task", 0)
	dist := root.With(Key, "connect.distributed")

	if got := lines(&buf, task, "t"); !slices.Equal(got, []string{"t-info", "t-warn"}) {
		t.Fatalf("at INFO: %v", got)
	}
	if strings.Contains(buf.String(), "logger=") {
		t.Fatalf("the logger attribute is written: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "connector=src") {
		t.Fatalf("the connector attribute is not written: %s", buf.String())
	}
	changed, err := levels.Set("connect", "debug")
	if err != nil || !slices.Equal(changed, []string{"connect", "connect.distributed", "connect.runtime"}) {
		t.Fatalf("Set connect: %v %v", changed, err)
	}
	if got := lines(&buf, rt, "r"); !slices.Equal(got, []string{"r-debug", "r-info", "r-warn"}) {
		t.Fatalf("connect.runtime at DEBUG: %v", got)
	}
	if got := lines(&buf, task, "t"); !slices.Equal(got, []string{"t-debug", "t-info", "t-warn"}) {
		t.Fatalf("a task under connect.runtime at DEBUG: %v", got)
	}
	if got := lines(&buf, root, "x"); !slices.Equal(got, []string{"x-info", "x-warn"}) {
		t.Fatalf("root stays at INFO: %v", got)
	}
	if changed, _ := levels.Set("src", "TRACE"); !slices.Equal(changed, []string{"src"}) {
		t.Fatalf("Set src: %v", changed)
	}
	if got := lines(&buf, task, "t"); !slices.Equal(got, []string{"t-trace", "t-debug", "t-info", "t-warn"}) {
		t.Fatalf("the connector's logger at TRACE: %v", got)
	}
	if changed, _ := levels.Set("connect.distributed", "WARN"); !slices.Equal(changed, []string{"connect.distributed"}) {
		t.Fatalf("Set connect.distributed: %v", changed)
	}
	if got := lines(&buf, dist, "d"); !slices.Equal(got, []string{"d-warn"}) {
		t.Fatalf("connect.distributed at WARN: %v", got)
	}
	// Setting the same level again changes nothing.
	if changed, _ := levels.Set("connect.distributed", "warn"); len(changed) != 0 {
		t.Fatalf("Set to the same level: %v", changed)
	}
	if changed, _ := levels.Set("root", "ERROR"); !slices.Equal(changed, []string{"connect", "connect.distributed", "connect.runtime", "root", "src"}) {
		t.Fatalf("Set root: %v", changed)
	}
	if got := lines(&buf, task, "t"); len(got) != 0 {
		t.Fatalf("everything at ERROR: %v", got)
	}
	if _, err := levels.Set("connect", "LOUD"); err == nil {
		t.Fatal("an unknown level is refused")
	}
}

// Level and All show what the REST API shows: effective levels, when
// they changed, and only loggers that exist.
func TestLevelsReport(t *testing.T) {
	levels := New(slog.LevelWarn)
	now := time.UnixMilli(1700000000123)
	levels.now = func() time.Time { return now }
	log := levels.Logger(slog.DiscardHandler)
	_ = log.With(Key, "connect.rest")

	if _, ok := levels.Level("connect"); ok {
		t.Fatal("connect exists before it is used or set")
	}
	if ll, ok := levels.Level("connect.rest"); !ok || ll.Level != "WARN" || ll.LastModified != nil {
		t.Fatalf("connect.rest: %+v %v", ll, ok)
	}
	if ll, ok := levels.Level("ROOT"); !ok || ll.Level != "WARN" {
		t.Fatalf("root: %+v %v", ll, ok)
	}
	if _, err := levels.Set("connect.rest", "OFF"); err != nil {
		t.Fatal(err)
	}
	if _, err := levels.Set("connect.runtime", "DEBUG"); err != nil {
		t.Fatal(err)
	}
	all := levels.All()
	if _, ok := all["connect.rest"]; ok || len(all) != 2 {
		t.Fatalf("All lists OFF loggers, or not root and connect.runtime: %+v", all)
	}
	if rt := all["connect.runtime"]; rt.Level != "DEBUG" || rt.LastModified == nil || *rt.LastModified != now.UnixMilli() {
		t.Fatalf("connect.runtime: %+v", rt)
	}
	if all["root"].Level != "WARN" || all["root"].LastModified != nil {
		t.Fatalf("root: %+v", all["root"])
	}
}

// Wrap keeps the wrapped handler's level as the root level.
func TestWrap(t *testing.T) {
	_, levels := Wrap(slog.New(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if ll, _ := levels.Level(Root); ll.Level != "WARN" {
		t.Fatalf("root: %+v", ll)
	}
	for _, c := range []struct {
		in   string
		want string
	}{{"trace", "TRACE"}, {"Debug", "DEBUG"}, {"INFO", "INFO"}, {"warn", "WARN"}, {"error", "ERROR"}, {"fatal", "FATAL"}, {"off", "OFF"}, {"all", "ALL"}} {
		lv, ok := ParseLevel(c.in)
		if !ok || LevelName(lv) != c.want {
			t.Errorf("%s: %v %v", c.in, LevelName(lv), ok)
		}
	}
	if _, ok := ParseLevel("WARNING"); ok {
		t.Error("WARNING is not a log4j level")
	}
}
