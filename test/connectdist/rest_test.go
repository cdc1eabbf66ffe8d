package connectdist

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Every endpoint of the REST API on a two-worker cluster, asked of the
// worker that does not lead where it matters, with Kafka Connect's status
// codes and bodies, and its error cases.
func TestRESTAPI(t *testing.T) {
	c := newCluster(t, 2, map[string]string{
		"key.converter":   "org.apache.kafka.connect.storage.StringConverter",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter",
	})
	w := c.workers[1]
	u := w.url
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	if err := os.WriteFile(in, []byte("one\ntwo\nthree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	topic := c.group + "-t"
	src, sink, later, held := uniqueName(t, "src"), uniqueName(t, "sink"), uniqueName(t, "later"), uniqueName(t, "held")
	srcCfg := map[string]string{"connector.class": "FileStreamSource", "file": in, "topic": topic,
		"topic.creation.default.partitions": "2", "topic.creation.default.replication.factor": "1"}
	sinkCfg := map[string]string{"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "file": out, "topics": topic}

	expectError := func(code int, method, path string, body any, contains string) {
		t.Helper()
		var got int
		var text string
		waitFor(t, 30*time.Second, method+" "+path, func() (bool, string) {
			// 409 during a rebalance means: try again.
			got, text = call(t, method, u(path), body, nil)
			return got != 409 || !strings.Contains(text, "rebalance"), text
		})
		if got != code || !strings.Contains(text, fmt.Sprintf(`"error_code":%d`, code)) || !strings.Contains(text, contains) {
			t.Fatalf("%s %s: HTTP %d %s; want %d with %q", method, path, got, text, code, contains)
		}
	}

	// The worker and the plugins.
	var root map[string]string
	mustCall(t, 200, "GET", u("/"), nil, &root)
	if root["kafka_cluster_id"] == "" || root["version"] == "" {
		t.Fatalf("GET /: %v", root)
	}
	var plugins []struct{ Class, Type string }
	mustCall(t, 200, "GET", u("/connector-plugins"), nil, &plugins)
	classes := map[string]string{}
	for _, p := range plugins {
		classes[p.Class] = p.Type
	}
	if classes["com.sluicehq.connect.postgres.PostgresSinkConnector"] != "sink" || classes["org.apache.kafka.connect.file.FileStreamSourceConnector"] != "source" || len(classes) != 4 {
		t.Fatalf("GET /connector-plugins: %v", plugins)
	}
	mustCall(t, 200, "GET", u("/connector-plugins?connectorsOnly=false"), nil, &plugins)
	if len(plugins) <= 4 {
		t.Fatalf("connectorsOnly=false lists converters and transforms too: %d plugins", len(plugins))
	}
	var keys []struct{ Name string }
	mustCall(t, 200, "GET", u("/connector-plugins/PostgresSink/config"), nil, &keys)
	if !slices.ContainsFunc(keys, func(k struct{ Name string }) bool { return k.Name == "insert.mode" }) {
		t.Fatalf("PostgresSink's settings: %v", keys)
	}
	expectError(404, "GET", "/connector-plugins/NoSuchThing/config", nil, "NoSuchThing")

	// Validation.
	var infos struct {
		Name       string `json:"name"`
		ErrorCount int    `json:"error_count"`
		Configs    []struct {
			Value struct {
				Name   string   `json:"name"`
				Errors []string `json:"errors"`
			} `json:"value"`
		} `json:"configs"`
	}
	mustCall(t, 200, "PUT", u("/connector-plugins/FileStreamSink/config/validate"), map[string]string{"name": "x", "tasks.max": "0"}, &infos)
	errored := map[string]bool{}
	for _, c := range infos.Configs {
		if len(c.Value.Errors) > 0 {
			errored[c.Value.Name] = true
		}
	}
	if infos.Name != "org.apache.kafka.connect.file.FileStreamSinkConnector" || infos.ErrorCount != 3 || !errored["tasks.max"] || !errored["topics"] || !errored["topics.regex"] {
		t.Fatalf("validate a bad sink config: %d errors in %v", infos.ErrorCount, errored)
	}
	mustCall(t, 200, "PUT", u("/connector-plugins/FileStreamSink/config/validate"), map[string]string{"name": "x", "topics": "t"}, &infos)
	if infos.ErrorCount != 0 {
		t.Fatalf("validate a good sink config: %+v", infos)
	}
	expectError(400, "PUT", "/connector-plugins/FileStreamSink/config/validate", map[string]string{"connector.class": "FileStreamSource"}, "does not match")
	expectError(404, "PUT", "/connector-plugins/Nope/config/validate", map[string]string{}, "Nope")

	// Creation and its errors: nothing is half-created.
	expectError(400, "POST", "/connectors", map[string]any{"config": srcCfg}, "name")
	expectError(400, "POST", "/connectors", map[string]any{"name": "bad", "config": map[string]string{"connector.class": "Nope"}}, "Nope")
	expectError(400, "POST", "/connectors", map[string]any{"name": "bad", "config": map[string]string{"connector.class": "FileStreamSink", "file": out}},
		"Must configure one of topics or topics.regex")
	expectError(400, "POST", "/connectors", map[string]any{"name": "bad", "config": map[string]string{"connector.class": "FileStreamSink", "name": "other", "topics": "x"}}, "doesn't match")
	expectError(400, "POST", "/connectors", map[string]any{"name": "bad", "config": sinkCfg, "initial_state": "SLEEPING"}, "initial_state")
	var names []string
	mustCall(t, 200, "GET", u("/connectors"), nil, &names)
	if len(names) != 0 {
		t.Fatalf("failed creations left connectors: %v", names)
	}
	var info struct {
		Name   string            `json:"name"`
		Config map[string]string `json:"config"`
		Tasks  []struct {
			Connector string `json:"connector"`
			Task      int    `json:"task"`
		} `json:"tasks"`
		Type string `json:"type"`
	}
	mustCall(t, 201, "POST", u("/connectors"), map[string]any{"name": src, "config": srcCfg}, &info)
	if info.Name != src || info.Type != "source" || info.Config["name"] != src || info.Config["file"] != in {
		t.Fatalf("POST /connectors: %+v", info)
	}
	expectError(409, "POST", "/connectors", map[string]any{"name": src, "config": srcCfg}, "already exists")
	mustCall(t, 201, "PUT", u("/connectors/"+sink+"/config"), sinkCfg, &info)
	mustCall(t, 201, "POST", u("/connectors"), map[string]any{"name": later, "config": sinkCfg, "initial_state": "PAUSED"}, nil)
	mustCall(t, 201, "POST", u("/connectors"), map[string]any{"name": held, "config": srcCfg, "initial_state": "STOPPED"}, nil)
	waitState(t, w, src, "RUNNING")
	waitState(t, w, sink, "RUNNING")
	// Created paused, a connector makes no task configs until resumed.
	waitFor(t, 30*time.Second, later+" PAUSED", func() (bool, string) {
		var st status
		call(t, "GET", u("/connectors/"+later+"/status"), nil, &st)
		return st.Connector.State == "PAUSED" && len(st.Tasks) == 0, fmt.Sprintf("%+v", st)
	})
	waitState(t, w, held, "STOPPED")
	waitFor(t, 30*time.Second, "the three lines copied", func() (bool, string) {
		b, _ := os.ReadFile(out)
		return string(b) == "one\ntwo\nthree\n", string(b)
	})

	// Reads.
	mustCall(t, 200, "GET", u("/connectors"), nil, &names)
	if !slices.Equal(names, slices.Sorted(slices.Values([]string{held, later, sink, src}))) {
		t.Fatalf("GET /connectors: %v", names)
	}
	var expanded map[string]map[string]map[string]any
	mustCall(t, 200, "GET", u("/connectors?expand=status&expand=info"), nil, &expanded)
	if expanded[src]["status"]["name"] != src || expanded[sink]["info"]["type"] != "sink" {
		t.Fatalf("GET /connectors?expand: %v", expanded)
	}
	mustCall(t, 200, "GET", u("/connectors/"+sink), nil, &info)
	if info.Type != "sink" || len(info.Tasks) != 1 || info.Tasks[0].Connector != sink {
		t.Fatalf("GET /connectors/%s: %+v", sink, info)
	}
	var cfg map[string]string
	mustCall(t, 200, "GET", u("/connectors/"+src+"/config"), nil, &cfg)
	if cfg["file"] != in {
		t.Fatalf("GET config: %v", cfg)
	}
	var tasks []struct {
		ID struct {
			Connector string
			Task      int
		} `json:"id"`
		Config map[string]string `json:"config"`
	}
	mustCall(t, 200, "GET", u("/connectors/"+src+"/tasks"), nil, &tasks)
	if len(tasks) != 1 || tasks[0].ID.Connector != src || tasks[0].Config["file"] != in {
		t.Fatalf("GET tasks: %+v", tasks)
	}
	var ts struct {
		ID       int    `json:"id"`
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
	}
	mustCall(t, 200, "GET", u("/connectors/"+src+"/tasks/0/status"), nil, &ts)
	if ts.State != "RUNNING" || ts.WorkerID == "" {
		t.Fatalf("GET task status: %+v", ts)
	}
	var topics map[string]map[string][]string
	waitFor(t, 30*time.Second, "the sink's active topics", func() (bool, string) {
		topics = nil
		call(t, "GET", u("/connectors/"+sink+"/topics"), nil, &topics)
		return slices.Equal(topics[sink]["topics"], []string{topic}), fmt.Sprint(topics)
	})
	mustCall(t, 202, "PUT", u("/connectors/"+sink+"/topics/reset"), nil, nil)
	waitFor(t, 30*time.Second, "the topics reset", func() (bool, string) {
		topics = nil
		call(t, "GET", u("/connectors/"+sink+"/topics"), nil, &topics)
		return len(topics[sink]["topics"]) == 0, fmt.Sprint(topics)
	})
	for _, p := range []string{"/connectors/nope", "/connectors/nope/config", "/connectors/nope/status", "/connectors/nope/tasks", "/connectors/nope/topics", "/connectors/nope/offsets"} {
		expectError(404, "GET", p, nil, "nope")
	}
	expectError(404, "GET", "/connectors/"+src+"/tasks/5/status", nil, src+"-5")

	// Config changes.
	sink2 := map[string]string{}
	for k, v := range sinkCfg {
		sink2[k] = v
	}
	out2 := filepath.Join(dir, "out2.txt")
	sink2["file"] = out2
	mustCall(t, 200, "PUT", u("/connectors/"+sink+"/config"), sink2, &info)
	if info.Config["file"] != out2 {
		t.Fatalf("PUT config: %+v", info)
	}
	expectError(400, "PUT", "/connectors/"+sink+"/config", map[string]string{"connector.class": "FileStreamSink"}, "topics")
	expectError(400, "PUT", "/connectors/"+sink+"/config", map[string]string{"connector.class": "FileStreamSink", "name": "x", "topics": "t"}, "doesn't match")
	out3 := filepath.Join(dir, "out3.txt")
	mustCall(t, 200, "PATCH", u("/connectors/"+later+"/config"), map[string]any{"file": out3, "errors.log.enable": "true"}, &info)
	if info.Config["file"] != out3 || info.Config["errors.log.enable"] != "true" {
		t.Fatalf("PATCH config: %+v", info)
	}
	mustCall(t, 200, "PATCH", u("/connectors/"+later+"/config"), map[string]any{"errors.log.enable": nil}, &info)
	if _, ok := info.Config["errors.log.enable"]; ok {
		t.Fatalf("PATCH with null removes the setting: %+v", info)
	}
	expectError(404, "PATCH", "/connectors/nope/config", map[string]any{"a": "b"}, "nope")
	// Resumed, the connector created paused consumes the topic.
	mustCall(t, 202, "PUT", u("/connectors/"+later+"/resume"), nil, nil)
	waitState(t, w, later, "RUNNING")
	waitFor(t, 30*time.Second, "the resumed sink to copy the topic", func() (bool, string) {
		b, _ := os.ReadFile(out3)
		return string(b) == "one\ntwo\nthree\n", string(b)
	})

	// Lifecycle errors.
	for _, p := range []string{"/connectors/nope/pause", "/connectors/nope/resume", "/connectors/nope/stop"} {
		expectError(404, "PUT", p, nil, "nope")
	}
	expectError(404, "POST", "/connectors/nope/restart", nil, "nope")
	expectError(404, "POST", "/connectors/"+src+"/tasks/9/restart", nil, src+"-9")
	expectError(404, "DELETE", "/connectors/nope", nil, "nope")
	expectError(400, "PATCH", "/connectors/"+src+"/offsets", map[string]any{"offsets": []any{}}, "STOPPED")
	expectError(400, "DELETE", "/connectors/"+src+"/offsets", nil, "STOPPED")
	expectError(405, "POST", "/connectors/"+src, nil, "not supported")

	// Offsets of a stopped sink (KIP-875).
	mustCall(t, 204, "PUT", u("/connectors/"+sink+"/stop"), nil, nil)
	waitState(t, w, sink, "STOPPED")
	type offsets struct {
		Offsets []struct {
			Partition map[string]any `json:"partition"`
			Offset    map[string]any `json:"offset"`
		} `json:"offsets"`
	}
	var offs offsets
	waitFor(t, 30*time.Second, "the sink's committed offsets", func() (bool, string) {
		offs = offsets{}
		call(t, "GET", u("/connectors/"+sink+"/offsets"), nil, &offs)
		var sum float64
		for _, o := range offs.Offsets {
			sum += o.Offset["kafka_offset"].(float64)
		}
		return sum == 3, fmt.Sprintf("%+v", offs)
	})
	part := offs.Offsets[0].Partition
	var msg map[string]string
	mustCall(t, 200, "PATCH", u("/connectors/"+sink+"/offsets"), map[string]any{"offsets": []any{map[string]any{"partition": part, "offset": map[string]any{"kafka_offset": 0}}}}, &msg)
	if !strings.Contains(msg["message"], "altered successfully") {
		t.Fatalf("PATCH offsets: %v", msg)
	}
	mustCall(t, 200, "GET", u("/connectors/"+sink+"/offsets"), nil, &offs)
	for _, o := range offs.Offsets {
		if fmt.Sprint(o.Partition) == fmt.Sprint(part) && o.Offset["kafka_offset"] != float64(0) {
			t.Fatalf("after PATCH: %+v", offs)
		}
	}
	expectError(400, "PATCH", "/connectors/"+sink+"/offsets", map[string]any{"offsets": []any{map[string]any{"partition": map[string]any{"topic": "x"}, "offset": map[string]any{"kafka_offset": 1}}}}, "kafka_topic")
	mustCall(t, 200, "DELETE", u("/connectors/"+sink+"/offsets"), nil, &msg)
	if !strings.Contains(msg["message"], "reset successfully") {
		t.Fatalf("DELETE offsets: %v", msg)
	}
	mustCall(t, 200, "GET", u("/connectors/"+sink+"/offsets"), nil, &offs)
	if len(offs.Offsets) != 0 {
		t.Fatalf("after DELETE offsets: %+v", offs)
	}
	// Resumed, the sink starts from the beginning: its new file gets all
	// three lines.
	mustCall(t, 202, "PUT", u("/connectors/"+sink+"/resume"), nil, nil)
	waitFor(t, 30*time.Second, "the sink to copy the topic again", func() (bool, string) {
		b, _ := os.ReadFile(out2)
		return strings.Count(string(b), "\n") >= 3, string(b)
	})

	// Offsets of a stopped source: reset, then the file is read again.
	mustCall(t, 204, "PUT", u("/connectors/"+src+"/stop"), nil, nil)
	waitState(t, w, src, "STOPPED")
	mustCall(t, 200, "GET", u("/connectors/"+src+"/offsets"), nil, &offs)
	if len(offs.Offsets) != 1 || offs.Offsets[0].Offset["position"] != float64(14) {
		t.Fatalf("source offsets: %+v", offs)
	}
	mustCall(t, 200, "DELETE", u("/connectors/"+src+"/offsets"), nil, &msg)
	mustCall(t, 200, "GET", u("/connectors/"+src+"/offsets"), nil, &offs)
	if len(offs.Offsets) != 0 {
		t.Fatalf("after reset: %+v", offs)
	}
	before := endOffset(t, topic)
	mustCall(t, 202, "PUT", u("/connectors/"+src+"/resume"), nil, nil)
	waitFor(t, 30*time.Second, "the file sent again", func() (bool, string) {
		n := endOffset(t, topic)
		return n == before+3, fmt.Sprint(n - before)
	})

	// Restart: a plain one answers 204, with includeTasks 202 and the
	// status.
	mustCall(t, 204, "POST", u("/connectors/"+src+"/restart"), nil, nil)
	var st status
	mustCall(t, 202, "POST", u("/connectors/"+src+"/restart?includeTasks=true&onlyFailed=true"), nil, &st)
	if st.Name != src || st.Connector.State != "RUNNING" || st.Tasks[0].State != "RUNNING" {
		t.Fatalf("onlyFailed restarts nothing that runs: %+v", st)
	}
	mustCall(t, 204, "POST", u("/connectors/"+src+"/tasks/0/restart"), nil, nil)
	waitState(t, w, src, "RUNNING")

	// Delete.
	mustCall(t, 204, "DELETE", u("/connectors/"+held), nil, nil)
	expectError(404, "GET", "/connectors/"+held, nil, held)

	// The config topic holds Kafka Connect's keys and values.
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker(t)), kgo.ConsumeTopics(c.group+"-configs"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for seen["target-state-"+held] != "null" {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("config topic: %v", seen)
		}
		f.EachRecord(func(r *kgo.Record) {
			v := string(r.Value)
			if r.Value == nil {
				v = "null"
			}
			seen[string(r.Key)] = v
		})
	}
	for k, want := range map[string]string{
		"connector-" + src:         `{"properties":{`,
		"task-" + sink + "-0":      `{"properties":{`,
		"commit-" + src:            `{"tasks":`,
		"target-state-" + held:     "null",
		"target-state-" + sink:     `"state.v2":"STARTED"`,
		"restart-connector-" + src: `"include-tasks":true`,
	} {
		if !strings.Contains(seen[k], want) {
			t.Fatalf("config topic %s = %s, want %s", k, seen[k], want)
		}
	}
}
