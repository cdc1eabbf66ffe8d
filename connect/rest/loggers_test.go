package rest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connect/logging"
)

// loggerHerder is a worker with a level table (a standalone worker: no
// cluster scope of its own).
type loggerHerder struct {
	*fakeWriter
	levels *logging.Levels
}

func (l *loggerHerder) LoggerLevels() *logging.Levels { return l.levels }

// clusterHerder also sets levels for its cluster; here it records them.
type clusterHerder struct {
	*loggerHerder
	cluster []string
}

func (c *clusterHerder) SetClusterLoggerLevel(_ context.Context, ns, level string) error {
	c.cluster = append(c.cluster, ns+"="+level)
	return nil
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// The bodies and status codes of Kafka's /admin/loggers: GET lists the
// loggers with their levels and last change, GET of one gives its level or
// 404, PUT sets a namespace and its children and lists those that changed,
// a bad or missing level is 400.
func TestLoggersEndpoints(t *testing.T) {
	levels := logging.New(slog.LevelInfo)
	log := levels.Logger(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: logging.LevelAll}))
	_ = log.With(logging.Key, "connect.runtime")
	_ = log.With(logging.Key, "connect.runtime").With(logging.ConnectorKey, "src")
	h := &loggerHerder{fakeWriter: &fakeWriter{}, levels: levels}
	srv := httptest.NewServer(Handler(h, "v", "c", log))
	defer srv.Close()

	code, body := do(t, "GET", srv.URL+"/admin/loggers", "")
	var all map[string]map[string]any
	if err := json.Unmarshal([]byte(body), &all); code != 200 || err != nil {
		t.Fatalf("GET /admin/loggers: HTTP %d %s", code, body)
	}
	if len(all) != 4 || all["root"]["level"] != "INFO" || all["connect.runtime"]["level"] != "INFO" || all["src"]["level"] != "INFO" {
		t.Fatalf("GET /admin/loggers: %s", body)
	}
	if v, ok := all["connect.runtime"]["last_modified"]; !ok || v != nil {
		t.Fatalf("last_modified of an unchanged logger is null: %s", body)
	}
	if code, body := do(t, "GET", srv.URL+"/admin/loggers/connect.runtime", ""); code != 200 || body != `{"level":"INFO","last_modified":null}` {
		t.Fatalf("GET connect.runtime: HTTP %d %s", code, body)
	}
	if code, body := do(t, "GET", srv.URL+"/admin/loggers/nothing.here", ""); code != 404 || !strings.Contains(body, "Logger nothing.here not found.") {
		t.Fatalf("GET an unknown logger: HTTP %d %s", code, body)
	}

	code, body = do(t, "PUT", srv.URL+"/admin/loggers/connect", `{"level":"DEBUG"}`)
	if code != 200 || body != `["connect","connect.rest","connect.runtime"]` {
		// connect.rest exists too: the API's own logger.
		t.Fatalf("PUT connect: HTTP %d %s", code, body)
	}
	code, body = do(t, "GET", srv.URL+"/admin/loggers/connect.runtime", "")
	var one struct {
		Level        string `json:"level"`
		LastModified *int64 `json:"last_modified"`
	}
	if err := json.Unmarshal([]byte(body), &one); code != 200 || err != nil || one.Level != "DEBUG" || one.LastModified == nil {
		t.Fatalf("GET connect.runtime after PUT: HTTP %d %s", code, body)
	}
	if code, body := do(t, "GET", srv.URL+"/admin/loggers/src", ""); code != 200 || !strings.Contains(body, `"level":"INFO"`) {
		t.Fatalf("a connector's logger is not under connect: HTTP %d %s", code, body)
	}

	for _, c := range []struct{ body, msg string }{
		{`{"level":"LOUD"}`, "Invalid log level 'LOUD'."},
		{`{}`, "Desired 'level' parameter was not specified in request."},
		{`{"level":3}`, "must be a string"},
		{`not json`, "not a JSON object"},
	} {
		if code, body := do(t, "PUT", srv.URL+"/admin/loggers/connect", c.body); code != 400 || !strings.Contains(body, c.msg) {
			t.Errorf("PUT %s: HTTP %d %s", c.body, code, body)
		}
	}

	// Without a cluster, cluster scope sets this worker's level: 204.
	if code, body := do(t, "PUT", srv.URL+"/admin/loggers/src?scope=cluster", `{"level":"warn"}`); code != 204 || body != "" {
		t.Fatalf("PUT cluster scope on a standalone worker: HTTP %d %s", code, body)
	}
	if ll, _ := levels.Level("src"); ll.Level != "WARN" {
		t.Fatalf("src after a cluster-scope PUT: %+v", ll)
	}
}

// Cluster scope goes to the herder (the config topic in distributed mode)
// and answers 204 without a body; worker scope (or none, or an unknown
// one) sets this worker's level only.
func TestLoggersClusterScope(t *testing.T) {
	levels := logging.New(slog.LevelInfo)
	h := &clusterHerder{loggerHerder: &loggerHerder{fakeWriter: &fakeWriter{}, levels: levels}}
	srv := httptest.NewServer(Handler(h, "v", "c", levels.Logger(slog.DiscardHandler)))
	defer srv.Close()

	if code, body := do(t, "PUT", srv.URL+"/admin/loggers/connect?scope=cluster", `{"level":"debug"}`); code != 204 || body != "" {
		t.Fatalf("cluster scope: HTTP %d %s", code, body)
	}
	if !slices.Equal(h.cluster, []string{"connect=DEBUG"}) {
		t.Fatalf("sent to the cluster: %v", h.cluster)
	}
	if _, ok := levels.Level("connect"); ok {
		t.Fatal("cluster scope set the level here before the cluster did")
	}
	for _, scope := range []string{"?scope=worker", "", "?scope=galaxy"} {
		if code, body := do(t, "PUT", srv.URL+"/admin/loggers/connect"+scope, `{"level":"ERROR"}`); code != 200 || !strings.HasPrefix(body, "[") {
			t.Fatalf("scope %q: HTTP %d %s", scope, code, body)
		}
	}
	if len(h.cluster) != 1 {
		t.Fatalf("worker scope went to the cluster: %v", h.cluster)
	}
	if ll, _ := levels.Level("connect"); ll.Level != "ERROR" {
		t.Fatalf("connect: %+v", ll)
	}
}
