package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/perf"
	"github.com/sluicehq/sluice/internal/perf/nullbroker"
)

func runPerfCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRoot(&app{stdout: &out, stderr: &errb})
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errb.String(), err
}

func TestPerfCommands(t *testing.T) {
	nb, err := nullbroker.Listen("127.0.0.1:0", nullbroker.Config{RecordSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Close()

	out, errOut, err := runPerfCmd(t, "perf", "produce", "-b", nb.Addr(), "-n", "5000", "-s", "100", "--acks", "1", "--interval", "1ms")
	if err != nil {
		t.Fatalf("produce: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "produce sluice-perf: 5000 records of 100 bytes (500000 bytes)") || !strings.Contains(out, "produce latency ms: p50") {
		t.Errorf("produce summary:\n%s", out)
	}

	out, _, err = runPerfCmd(t, "perf", "consume", "-b", nb.Addr(), "-n", "3000", "--json", "--interval", "0")
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	var res perf.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("consume --json is not JSON: %v\n%s", err, out)
	}
	if res.Workload != "consume" || res.Records < 3000 || res.Bytes != res.Records*100 {
		t.Errorf("consume result %+v", res)
	}
}

func TestPerfFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"perf", "produce"}, // neither count nor duration
		{"perf", "produce", "-n", "1", "--acks", "2"},
		{"perf", "produce", "-n", "1", "--compression", "brotli"},
		{"perf", "consume", "-n", "1", "extra"},
		{"perf", "consume", "-n", "1", "--topic-config", "novalue"},
	} {
		if _, _, err := runPerfCmd(t, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestProgressLine(t *testing.T) {
	l := progressLine(perf.Progress{Workload: "produce", Records: 10, RecordsPerSec: 5, MBPerSec: 0.5,
		Latency: perf.Latency{Count: 3, P50Ms: 1.5, P99Ms: 2, MaxMs: 3}})
	for _, want := range []string{"produce", "10 records", "5 records/s", "0.5 MB/s", "p50 1.500", "max 3.000"} {
		if !strings.Contains(l, want) {
			t.Errorf("progress line %q lacks %q", l, want)
		}
	}
}
