package rest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/runtime"
)

// fakeWriter is a herder whose pause is served elsewhere (next), or here
// when next is empty.
type fakeWriter struct {
	Writer   // the other methods are not called
	next     string
	paused   []string
	forwards []string
}

func (f *fakeWriter) ClusterID() string    { return "c" }
func (f *fakeWriter) Connectors() []string { return []string{} }
func (f *fakeWriter) ConnectorInfo(string) (runtime.ConnectorInfo, error) {
	return runtime.ConnectorInfo{}, Errorf(404, "nope")
}
func (f *fakeWriter) ConnectorStatus(string) (runtime.ConnectorStatus, error) {
	return runtime.ConnectorStatus{}, Errorf(404, "nope")
}
func (f *fakeWriter) TaskConfigs(string) ([]runtime.TaskInfo, error) { return nil, Errorf(404, "nope") }
func (f *fakeWriter) TaskStatus(string, int) (runtime.StateInfo, error) {
	return runtime.StateInfo{}, Errorf(404, "nope")
}
func (f *fakeWriter) ActiveTopics(string) ([]string, error) { return nil, Errorf(404, "nope") }
func (f *fakeWriter) Offsets(context.Context, string) ([]runtime.OffsetInfo, error) {
	return nil, Errorf(404, "nope")
}
func (f *fakeWriter) Registry() *connect.Registry { return connect.NewRegistry() }

func (f *fakeWriter) PauseConnector(_ context.Context, name string) error {
	if f.next != "" {
		return &NotHereError{URL: f.next, Why: "not the leader"}
	}
	if name == "missing" {
		return Errorf(http.StatusNotFound, "Connector %s not found", name)
	}
	f.paused = append(f.paused, name)
	return nil
}

func serve(t *testing.T, w *fakeWriter) *httptest.Server {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := Handler(w, "v", "c", log)
	s := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.forwards = append(w.forwards, r.URL.Query().Get("forward"))
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func put(t *testing.T, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A write goes to the worker that serves it in at most two hops, as Kafka
// Connect forwards: forward=true on the first, forward=false on the
// second, and a third is refused with 409.
func TestForwarding(t *testing.T) {
	owner := &fakeWriter{}
	ownerSrv := serve(t, owner)
	leader := &fakeWriter{next: ownerSrv.URL + "/"}
	leaderSrv := serve(t, leader)
	follower := &fakeWriter{next: leaderSrv.URL}
	followerSrv := serve(t, follower)

	if code, body := put(t, followerSrv.URL+"/connectors/c1/pause"); code != http.StatusAccepted {
		t.Fatalf("two hops: HTTP %d %s", code, body)
	}
	if strings.Join(owner.paused, ",") != "c1" || strings.Join(leader.forwards, ",") != "true" || strings.Join(owner.forwards, ",") != "false" {
		t.Fatalf("paused %v; forward params leader %v owner %v", owner.paused, leader.forwards, owner.forwards)
	}

	// A third hop is a conflict: the workers disagree, the client retries.
	owner.next = followerSrv.URL
	code, body := put(t, followerSrv.URL+"/connectors/c2/pause")
	if code != http.StatusConflict || !strings.Contains(body, `"error_code":409`) {
		t.Fatalf("three hops: HTTP %d %s", code, body)
	}

	// Errors keep their codes across a forward.
	owner.next = ""
	code, body = put(t, followerSrv.URL+"/connectors/missing/pause")
	if code != http.StatusNotFound || !strings.Contains(body, "Connector missing not found") {
		t.Fatalf("404: HTTP %d %s", code, body)
	}
	// A method the API does not serve.
	req, _ := http.NewRequest(http.MethodPost, ownerSrv.URL+"/connectors/c1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /connectors/c1: HTTP %d", resp.StatusCode)
	}
}
