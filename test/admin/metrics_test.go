package admin

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"
)

// scrape fetches /metrics and parses it.
func scrape(t testing.TB, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp := httpGet(t, "http://"+addr+"/metrics")
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

func httpGet(t testing.TB, url string) *http.Response {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp
}

// series returns the value of name{labels...} (a counter, gauge, or a
// histogram's count), summed over series matching the labels.
func series(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf, ok := mfs[name]
	if !ok {
		return 0, false
	}
	var sum float64
	found := false
next:
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if got[labels[i]] != labels[i+1] {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, found
}

func TestMetricsAfterTraffic(t *testing.T) {
	n := startNode(t)
	addr := n.b.HTTPAddr()
	if addr == "" {
		t.Fatal("no HTTP address although http.addr is set")
	}
	// Uncompressed, so the log holds exactly what was produced.
	cl, adm := n.client(t, kgo.ProducerBatchCompression(kgo.NoCompression()))
	topic := topicName(t)
	createTopic(t, adm, topic, 2, nil)
	const records = 1000
	produce(t, cl, topic, 0, records, 100)

	// Consume it all back.
	cons, _ := n.client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	got := 0
	for got < records {
		fs := cons.PollFetches(ctxT(t))
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got += fs.NumRecords()
	}
	cons.Close()

	// A request is counted once its response is written, by the connection's writer
	// after the client may already have read it: wait (bounded) for the counts.
	mfs := scrape(t, addr)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); mfs = scrape(t, addr) {
		_, produced := series(mfs, "sluice_requests_total", "api", "Produce")
		_, fetched := series(mfs, "sluice_requests_total", "api", "Fetch")
		if produced && fetched {
			break
		}
	}
	must := func(name string, labels ...string) float64 {
		t.Helper()
		v, ok := series(mfs, name, labels...)
		if !ok {
			t.Fatalf("no series %s%v", name, labels)
		}
		return v
	}
	if v := must("sluice_requests_total", "api", "Produce"); v < 1 {
		t.Errorf("Produce requests %v, want at least 1", v)
	}
	if v := must("sluice_requests_total", "api", "Fetch"); v < 1 {
		t.Errorf("Fetch requests %v, want at least 1", v)
	}
	if v := must("sluice_request_duration_seconds", "api", "Metadata"); v < 1 {
		t.Errorf("Metadata latency observations %v, want at least 1", v)
	}
	if v := must("sluice_requests_total", "api", "CreateTopics", "version", "7"); v != 1 {
		t.Errorf("CreateTopics v7 requests %v, want 1", v)
	}
	in := must("sluice_topic_bytes_in_total", "topic", topic)
	if v := must("sluice_topic_records_in_total", "topic", topic); v != records {
		t.Errorf("records in %v, want %d", v, records)
	}
	if in < records*100 || in > records*200 {
		t.Errorf("bytes in %v for %d records of 100 bytes", in, records)
	}
	// Batches are stored as they came, so the log is exactly what came in.
	if v := must("sluice_log_size_bytes", "topic", topic, "partition", "0"); v != in {
		t.Errorf("log size %v, want the %v bytes produced", v, in)
	}
	if v := must("sluice_log_end_offset", "topic", topic, "partition", "0"); v != records {
		t.Errorf("log end offset %v, want %d", v, records)
	}
	if v := must("sluice_log_high_watermark", "topic", topic, "partition", "0"); v != records {
		t.Errorf("high watermark %v, want %d", v, records)
	}
	if v := must("sluice_partitions"); v < 1 {
		t.Errorf("partitions %v", v)
	}
	if v := must("sluice_response_bytes_total", "api", "Fetch"); v < in {
		t.Errorf("Fetch response bytes %v, less than the %v bytes consumed", v, in)
	}
	if v := must("sluice_connections_accepted_total"); v < 2 {
		t.Errorf("connections accepted %v, want at least 2", v)
	}
	if v := must("sluice_connections"); v < 1 {
		t.Errorf("open connections %v, want at least the producer's", v)
	}
	must("sluice_purgatory_size", "api", "Fetch")
	must("sluice_purgatory_size", "api", "Produce")
	if v := must("go_goroutines"); v < 1 {
		t.Errorf("go_goroutines %v", v)
	}
}

func TestHealthEndpoints(t *testing.T) {
	n := startNode(t)
	addr := n.b.HTTPAddr()
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 200, "ready"},
		{"/debug/pprof/", 404, ""}, // off unless http.pprof.enable
		{"/nope", 404, ""},
	} {
		resp := httpGet(t, "http://"+addr+tc.path)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
			t.Errorf("GET %s: %d %q, want %d with %q", tc.path, resp.StatusCode, b, tc.code, tc.body)
		}
	}

	p := startNode(t, "http.pprof.enable=true")
	resp := httpGet(t, "http://"+p.b.HTTPAddr()+"/debug/pprof/goroutine?debug=1")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "goroutine") {
		t.Errorf("pprof with http.pprof.enable=true: %d %.100q", resp.StatusCode, b)
	}

	off := startNode(t, "http.addr=")
	if a := off.b.HTTPAddr(); a != "" {
		t.Errorf("http.addr empty, but the broker listens on %s", a)
	}
}

func TestHTTPAddrTaken(t *testing.T) {
	first := startNode(t)
	taken := first.b.HTTPAddr()

	// Given explicitly, a taken address is an error.
	n := &node{t: t, dir: t.TempDir(), sets: []string{"http.addr=" + taken}}
	if err := n.tryStart(); err == nil {
		n.shutdown()
		t.Fatalf("broker started although its http.addr %s is taken", taken)
	}

	// The default address taken (by this test, or by whatever holds it):
	// the broker starts without HTTP rather than not at all.
	if ln, err := net.Listen("tcp", "127.0.0.1:9644"); err == nil {
		defer ln.Close()
	}
	d := &node{t: t, dir: t.TempDir(), defaultHTTP: true}
	if err := d.tryStart(); err != nil {
		t.Fatalf("broker with the default http.addr taken: %v", err)
	}
	defer d.shutdown()
	if a := d.b.HTTPAddr(); a != "" {
		t.Errorf("broker reports HTTP on %s although the default address is taken", a)
	}
	if !strings.Contains(d.logs.String(), "default http.addr is taken") {
		t.Errorf("no warning about the taken default address in the log")
	}
}
