package connect

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The REST API's read endpoints answer as Kafka Connect's do.
func TestRESTReadEndpoints(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	topic, src, sink := uniqueName(t, "t"), uniqueName(t, "src"), uniqueName(t, "sink")
	createTopic(t, topic, 2)
	os.WriteFile(in, []byte("one\ntwo\nthree\n"), 0o644)
	w := newWorker(t, nil,
		map[string]string{"name": src, "connector.class": "FileStreamSource", "file": in, "topic": topic},
		map[string]string{"name": sink, "connector.class": "FileStreamSink", "file": out, "topics": topic, "tasks.max": "2"},
	)
	w.start(t, src, sink)
	waitFor(t, 30*time.Second, "3 lines copied", func() (bool, string) { return lineCount(out) == 3, "" })

	var root map[string]string
	if code := getJSON(t, w.url("/"), &root); code != 200 || root["kafka_cluster_id"] == "" || root["version"] == "" {
		t.Fatalf("GET /: %d %v", code, root)
	}
	var names []string
	getJSON(t, w.url("/connectors"), &names)
	if !slices.Equal(names, slices.Sorted(slices.Values([]string{sink, src}))) {
		t.Fatalf("GET /connectors: %v", names)
	}
	var expanded map[string]map[string]any
	getJSON(t, w.url("/connectors?expand=status&expand=info"), &expanded)
	if _, ok := expanded[src]["status"]; !ok || expanded[sink]["info"] == nil {
		t.Fatalf("GET /connectors?expand: %v", expanded)
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
	getJSON(t, w.url("/connectors/"+sink), &info)
	if info.Name != sink || info.Type != "sink" || len(info.Tasks) != 2 || info.Config["topics"] != topic {
		t.Fatalf("GET /connectors/%s: %+v", sink, info)
	}
	var cfg map[string]string
	getJSON(t, w.url("/connectors/"+src+"/config"), &cfg)
	if cfg["connector.class"] != "FileStreamSource" || cfg["file"] != in {
		t.Fatalf("GET config: %v", cfg)
	}
	var st status
	getJSON(t, w.url("/connectors/"+sink+"/status"), &st)
	if st.Type != "sink" || st.Connector.State != "RUNNING" || len(st.Tasks) != 2 || st.Connector.WorkerID != w.rest {
		t.Fatalf("GET status: %+v (worker id should be %s)", st, w.rest)
	}
	var tasks []struct {
		ID     map[string]any    `json:"id"`
		Config map[string]string `json:"config"`
	}
	getJSON(t, w.url("/connectors/"+src+"/tasks"), &tasks)
	if len(tasks) != 1 || tasks[0].ID["connector"] != src || tasks[0].Config["topic"] != topic {
		t.Fatalf("GET tasks: %+v", tasks)
	}
	var ts map[string]any
	if code := getJSON(t, w.url("/connectors/"+sink+"/tasks/1/status"), &ts); code != 200 || ts["state"] != "RUNNING" || ts["id"] != float64(1) {
		t.Fatalf("GET task status: %d %v", code, ts)
	}
	var topics map[string]map[string][]string
	getJSON(t, w.url("/connectors/"+src+"/topics"), &topics)
	if !slices.Equal(topics[src]["topics"], []string{topic}) {
		t.Fatalf("GET topics: %v", topics)
	}
	waitFor(t, 10*time.Second, "the source offset stored", func() (bool, string) {
		var offs struct {
			Offsets []struct {
				Partition map[string]any `json:"partition"`
				Offset    map[string]any `json:"offset"`
			} `json:"offsets"`
		}
		getJSON(t, w.url("/connectors/"+src+"/offsets"), &offs)
		ok := len(offs.Offsets) == 1 && offs.Offsets[0].Partition["filename"] == in && offs.Offsets[0].Offset["position"] == float64(14)
		return ok, fmt.Sprintf("%+v", offs)
	})
	var plugins []map[string]string
	getJSON(t, w.url("/connector-plugins"), &plugins)
	classes := []string{}
	for _, p := range plugins {
		classes = append(classes, p["class"]+"/"+p["type"])
	}
	// The file and PostgreSQL connectors.
	if !slices.Contains(classes, "org.apache.kafka.connect.file.FileStreamSourceConnector/source") || len(plugins) != 4 {
		t.Fatalf("GET /connector-plugins (connectors only): %v", classes)
	}
	getJSON(t, w.url("/connector-plugins?connectorsOnly=false"), &plugins)
	if len(plugins) < 30 {
		t.Fatalf("GET /connector-plugins?connectorsOnly=false: %d plugins", len(plugins))
	}
	var keys []map[string]any
	getJSON(t, w.url("/connector-plugins/FileStreamSource/config"), &keys)
	if len(keys) != 3 || keys[1]["name"] != "topic" || keys[1]["required"] != true {
		t.Fatalf("GET plugin config: %v", keys)
	}
	if code := getJSON(t, w.url("/connectors/nope/status"), nil); code != 404 {
		t.Fatalf("unknown connector: HTTP %d, want 404", code)
	}
	resp, err := http.Post(w.url("/connectors"), "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /connectors: HTTP %d, want 405 (read endpoints only)", resp.StatusCode)
	}
	w.stop(t)
}
