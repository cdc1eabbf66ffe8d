package distributed

import (
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// The config topic is read as Kafka Connect writes it: task configs apply
// at their commit, an incomplete commit leaves the connector without tasks
// until new configs come, target states read state.v2, and a deleted
// connector takes its tasks with it.
func TestConfigStoreReadsKafkaConnectRecords(t *testing.T) {
	var changed []string
	c := newConfigStore(quiet, func(n string) { changed = append(changed, n) })
	off := int64(0)
	put := func(key, value string) {
		r := &kgo.Record{Key: []byte(key), Offset: off}
		if value != "" {
			r.Value = []byte(value)
		}
		off++
		c.apply(r)
	}
	put("connector-my-conn", `{"properties":{"connector.class":"FileStreamSource","tasks.max":"2","x":null}}`)
	put("task-my-conn-0", `{"properties":{"file":"a"}}`)
	put("task-my-conn-1", `{"properties":{"file":"b"}}`)
	s := c.snapshot()
	if s.TaskCounts["my-conn"] != 0 || len(s.Tasks) != 0 {
		t.Fatalf("task configs wait for their commit: %+v", s)
	}
	if _, ok := s.Connectors["my-conn"]["x"]; ok || s.Connectors["my-conn"]["tasks.max"] != "2" {
		t.Fatalf("connector config %v: a null property is dropped", s.Connectors["my-conn"])
	}
	put("commit-my-conn", `{"tasks":2}`)
	s = c.snapshot()
	if s.TaskCounts["my-conn"] != 2 || s.Tasks[item{"my-conn", 1}]["file"] != "b" || s.Offset != 3 {
		t.Fatalf("after the commit: %+v", s)
	}
	if got := s.work(); !slices.Equal(got, []item{{"my-conn", -1}, {"my-conn", 0}, {"my-conn", 1}}) {
		t.Fatalf("work %v", got)
	}

	// A commit of three tasks with only one config written.
	put("task-my-conn-2", `{"properties":{"file":"c"}}`)
	put("commit-my-conn", `{"tasks":4}`)
	s = c.snapshot()
	if !s.Inconsistent["my-conn"] || !slices.Equal(s.work(), []item{{"my-conn", -1}}) {
		t.Fatalf("an incomplete commit: %+v, work %v", s, s.work())
	}
	put("task-my-conn-0", `{"properties":{"file":"a2"}}`)
	put("task-my-conn-1", `{"properties":{"file":"b2"}}`)
	put("task-my-conn-3", `{"properties":{"file":"d"}}`)
	put("commit-my-conn", `{"tasks":4}`)
	s = c.snapshot()
	if s.Inconsistent["my-conn"] || s.TaskCounts["my-conn"] != 4 || s.Tasks[item{"my-conn", 0}]["file"] != "a2" {
		t.Fatalf("complete again: %+v", s)
	}

	put("target-state-my-conn", `{"state":"PAUSED","state.v2":"STOPPED"}`)
	if got := c.snapshot().target("my-conn"); got != targetStopped {
		t.Fatalf("state.v2 wins: %s", got)
	}
	put("target-state-my-conn", `{"state":"PAUSED"}`)
	if got := c.snapshot().target("my-conn"); got != targetPaused {
		t.Fatalf("state alone: %s", got)
	}
	put("restart-connector-my-conn", `{"include-tasks":true,"only-failed":false}`)
	if rs := c.restartsAfter(off - 2); len(rs) != 1 || !rs[0].IncludeTasks || rs[0].OnlyFailed || rs[0].Offset != off-1 {
		t.Fatalf("restart requests %+v", rs)
	}

	put("connector-my-conn", "")
	s = c.snapshot()
	if len(s.Connectors)+len(s.Tasks)+len(s.TaskCounts)+len(s.Targets) != 0 {
		t.Fatalf("a deleted connector leaves nothing: %+v", s)
	}
	put("session-key", `{"key":"x"}`)
	put("garbage-key", `not json`)
	if len(changed) == 0 || changed[len(changed)-1] != "my-conn" {
		t.Fatalf("changes reported: %v", changed)
	}
}

// A status written in an older generation than the one shown is ignored.
func TestStatusStoreKeepsTheNewestGeneration(t *testing.T) {
	s := newStatusStore(quiet)
	put := func(key, value string) { s.apply(&kgo.Record{Key: []byte(key), Value: []byte(value)}) }
	put("status-task-c-0", `{"state":"RUNNING","trace":null,"worker_id":"b:8083","generation":5}`)
	put("status-task-c-0", `{"state":"UNASSIGNED","trace":null,"worker_id":"a:8083","generation":4}`)
	if st, _ := s.task(item{"c", 0}); st.State != "RUNNING" || st.WorkerID != "b:8083" {
		t.Fatalf("a stale status replaced a newer one: %+v", st)
	}
	put("status-task-c-0", `{"state":"FAILED","trace":"boom","worker_id":"b:8083","generation":5}`)
	if st, _ := s.task(item{"c", 0}); st.State != "FAILED" || st.Trace == nil || *st.Trace != "boom" {
		t.Fatalf("same generation, later write: %+v", st)
	}
	put("status-topic-my.topic:connector-c", `{"topic":{"name":"my.topic","connector":"c","task":0,"discoverTimestamp":1}}`)
	if got := s.connectorTopics("c"); !slices.Equal(got, []string{"my.topic"}) {
		t.Fatalf("topics %v", got)
	}
}
