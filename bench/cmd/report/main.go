// Command report reads the raw results of bench/run.sh, prints every figure
// with its ratios to the baselines and peers of the same run (medians over
// the runs), writes the "Performance" section of docs/benchmarks.md between
// its markers, and draws the charts with gnuplot when it is installed.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/sluicehq/sluice/internal/perf"
)

const (
	beginMarker = "<!-- performance:begin (written by bench/run.sh; edit bench/cmd/report and bench/PROFILE.md instead) -->"
	endMarker   = "<!-- performance:end -->"
)

func main() {
	out := flag.String("out", "bench/out", "bench/run.sh's output directory")
	doc := flag.String("doc", "docs/benchmarks.md", "markdown file whose Performance section is written (empty: none)")
	img := flag.String("img", "docs/img", "directory of the charts")
	notes := flag.String("notes", "bench/PROFILE.md", "markdown appended to the section: the profiles and what they show")
	flag.Parse()
	if err := run(*out, *doc, *img, *notes); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

type disk struct {
	WriteMBPerSec float64      `json:"write_mb_per_sec"`
	SyncMBPerSec  float64      `json:"write_fdatasync_mb_per_sec"`
	Bytes         int64        `json:"bytes"`
	Chunk         int          `json:"chunk"`
	Fsync         perf.Latency `json:"fdatasync"`
}

type iperf struct {
	End struct {
		SumReceived struct {
			BitsPerSecond float64 `json:"bits_per_second"`
			Bytes         float64 `json:"bytes"`
			Seconds       float64 `json:"seconds"`
		} `json:"sum_received"`
	} `json:"end"`
}

type scale struct {
	ColdStartMs     []float64 `json:"cold_start_ms"`
	Partitions      int       `json:"partitions"`
	RSSMiB          float64   `json:"rss_mib"`
	RestartRSSMiB   float64   `json:"restart_rss_mib"`
	MetadataMs      []float64 `json:"metadata_all_ms"`
	RestartReadyMs  float64   `json:"restart_ready_ms"`
	MetadataAfterMs []float64 `json:"metadata_all_after_restart_ms"`
	ProducedSeconds float64   `json:"produce_one_each_seconds"`
	Error           string    `json:"error"`
}

// runData is one run's results, by name (the file name without .json).
type runData struct {
	perf  map[string]*perf.Result
	disk  *disk // sequential writes
	fsync *disk // fdatasync latency, taken before the latency runs
	iperf *iperf
}

func load(path string, v any) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	return json.Unmarshal(b, v) == nil
}

// metric is one figure: a value per run, and its median.
type metric struct {
	name, unit string
	vals       []float64
}

func (m *metric) add(v float64, ok bool) {
	if ok {
		m.vals = append(m.vals, v)
	}
}

func (m *metric) median() (float64, bool) {
	if len(m.vals) == 0 {
		return 0, false
	}
	s := slices.Clone(m.vals)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

func (m *metric) String() string {
	v, ok := m.median()
	if !ok {
		return "n/a"
	}
	return format(v, m.unit)
}

func format(v float64, unit string) string {
	switch unit {
	case "x":
		return fmt.Sprintf("%.2f×", v)
	case "%":
		return fmt.Sprintf("%.0f%%", v*100)
	case "rec/s":
		return fmt.Sprintf("%.0f rec/s", v)
	case "ms":
		return fmt.Sprintf("%.3f ms", v)
	case "MiB":
		return fmt.Sprintf("%.0f MiB", v)
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

func (m *metric) runs() string {
	parts := make([]string, len(m.vals))
	for i, v := range m.vals {
		parts[i] = strings.TrimSuffix(format(v, m.unit), " "+m.unit)
	}
	return strings.Join(parts, ", ")
}

// check is a target: a metric's median against a bound.
type check struct {
	what    string
	m       *metric
	atLeast bool
	bound   float64
	text    string // the target as the issue states it
	failed  string // why it could not be measured, when the run failed
}

func (c check) verdict() string {
	v, ok := c.m.median()
	switch {
	case !ok && c.failed != "":
		return "**missed**: " + c.failed
	case !ok:
		return "not measured"
	case c.atLeast && v >= c.bound, !c.atLeast && v <= c.bound:
		return "met"
	}
	return "**missed**"
}

func run(out, doc, img, notesPath string) error {
	raw := filepath.Join(out, "raw")
	dirs, _ := filepath.Glob(filepath.Join(raw, "run[0-9]*"))
	sort.Strings(dirs)
	if len(dirs) == 0 {
		return fmt.Errorf("no runs under %s", raw)
	}
	var runs []*runData
	var commands []string
	for _, d := range dirs {
		rd := &runData{perf: map[string]*perf.Result{}}
		files, _ := filepath.Glob(filepath.Join(d, "*.json"))
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".json")
			switch name {
			case "disk", "fsync":
				var x disk
				if load(f, &x) {
					if name == "disk" {
						rd.disk = &x
					} else {
						rd.fsync = &x
					}
				}
			case "iperf3":
				var x iperf
				if load(f, &x) && x.End.SumReceived.BitsPerSecond > 0 {
					rd.iperf = &x
				}
			default:
				var x perf.Result
				if load(f, &x) && x.Records > 0 {
					rd.perf[name] = &x
				}
			}
		}
		runs = append(runs, rd)
		if len(commands) == 0 {
			if b, err := os.ReadFile(filepath.Join(d, "commands.txt")); err == nil {
				commands = strings.Split(strings.TrimSpace(string(b)), "\n")
			}
		}
	}
	var sc *scale
	var x scale
	if load(filepath.Join(raw, "runscale", "scale.json"), &x) {
		sc = &x
	}
	if b, err := os.ReadFile(filepath.Join(raw, "runscale", "commands.txt")); err == nil {
		commands = append(commands, strings.TrimSpace(string(b)))
	}

	mb := func(r *runData, n string) (float64, bool) {
		if p := r.perf[n]; p != nil {
			return p.MBPerSec, true
		}
		return 0, false
	}
	rps := func(r *runData, n string) (float64, bool) {
		if p := r.perf[n]; p != nil {
			return p.RecordsPerSec, true
		}
		return 0, false
	}
	ratio := func(a float64, aok bool, b float64, bok bool) (float64, bool) {
		if !aok || !bok || b == 0 {
			return 0, false
		}
		return a / b, true
	}
	lat := func(r *runData, n string, e2e bool, pick func(*perf.Latency) float64) (float64, bool) {
		p := r.perf[n]
		if p == nil {
			return 0, false
		}
		l := p.Latency
		if e2e {
			l = p.EndToEnd
		}
		if l == nil || l.Count == 0 {
			return 0, false
		}
		return pick(l), true
	}
	p50 := func(l *perf.Latency) float64 { return l.P50Ms }
	p99 := func(l *perf.Latency) float64 { return l.P99Ms }
	p999 := func(l *perf.Latency) float64 { return l.P999Ms }

	M := func(name, unit string) *metric { return &metric{name: name, unit: unit} }
	var (
		iperfMB   = M("loopback TCP, iperf3", "MB/s")
		diskW     = M("disk sequential write, buffered", "MB/s")
		diskS     = M("disk sequential write, fdatasync each MiB", "MB/s")
		fsyncP50  = M("fdatasync of a 1 KiB append, p50", "ms")
		fsyncP99  = M("fdatasync of a 1 KiB append, p99", "ms")
		tput      = map[string]*metric{}
		ratios    = map[string]*metric{}
		latencies = map[string]*metric{}
	)
	systems := []string{"sluice", "null", "kfake", "nats"}
	for _, s := range systems {
		tput[s+"-produce-1k"] = M(s+" produce 1 KiB", "MB/s")
		tput[s+"-produce-100"] = M(s+" produce 100 B", "rec/s")
		tput[s+"-consume-1k"] = M(s+" consume 1 KiB", "MB/s")
	}
	for _, k := range []string{"p1k/null", "p1k/kfake", "p1k/nats", "p1k/disk", "p100/null", "p100/kfake",
		"c1k/kfake", "c1k/iperf", "c1k/nats", "c1k/null"} {
		ratios[k] = M(k, "x")
	}
	for _, k := range []string{"ack-p50", "ack-p99", "ack-p999",
		"e2e-ack-p50", "e2e-ack-p99", "e2e-ack-p999", "e2e-p50", "e2e-p99", "e2e-p999",
		"dur-ack-p50", "dur-ack-p99", "dur-ack-p999", "dur-e2e-p50", "dur-e2e-p99", "dur-bound",
		"kfake-ack-p50", "kfake-ack-p99", "kfake-e2e-p50", "kfake-e2e-p99", "nats-p50", "nats-p99", "nats-p999",
		"null-p50", "null-p99", "null-p999"} {
		latencies[k] = M(k, "ms")
	}
	for _, r := range runs {
		if r.iperf != nil {
			iperfMB.add(r.iperf.End.SumReceived.BitsPerSecond/8/1e6, true)
		}
		if r.disk != nil {
			diskW.add(r.disk.WriteMBPerSec, r.disk.WriteMBPerSec > 0)
			diskS.add(r.disk.SyncMBPerSec, r.disk.SyncMBPerSec > 0)
		}
		fs := r.fsync
		if fs == nil || fs.Fsync.Count == 0 {
			fs = r.disk
		}
		if fs != nil && fs.Fsync.Count > 0 {
			fsyncP50.add(fs.Fsync.P50Ms, true)
			fsyncP99.add(fs.Fsync.P99Ms, true)
		} else {
			fs = nil
		}
		for _, s := range systems {
			tput[s+"-produce-1k"].add(mb(r, s+"-produce-1k"))
			tput[s+"-produce-100"].add(rps(r, s+"-produce-100"))
			tput[s+"-consume-1k"].add(mb(r, s+"-consume-1k"))
		}
		s1, ok1 := mb(r, "sluice-produce-1k")
		for _, peer := range []string{"null", "kfake", "nats"} {
			b, ok := mb(r, peer+"-produce-1k")
			ratios["p1k/"+peer].add(ratio(s1, ok1, b, ok))
		}
		if r.disk != nil {
			ratios["p1k/disk"].add(ratio(s1, ok1, r.disk.WriteMBPerSec, true))
		}
		s100, ok100 := rps(r, "sluice-produce-100")
		for _, peer := range []string{"null", "kfake"} {
			b, ok := rps(r, peer+"-produce-100")
			ratios["p100/"+peer].add(ratio(s100, ok100, b, ok))
		}
		c1, okc := mb(r, "sluice-consume-1k")
		for _, peer := range []string{"null", "kfake", "nats"} {
			b, ok := mb(r, peer+"-consume-1k")
			ratios["c1k/"+peer].add(ratio(c1, okc, b, ok))
		}
		if r.iperf != nil {
			ratios["c1k/iperf"].add(ratio(c1, okc, r.iperf.End.SumReceived.BitsPerSecond/8/1e6, true))
		}
		// Acknowledgement latency from a producer alone, as against the null
		// broker and kfake; the e2e runs' producers share their process with a
		// polling consumer.
		latencies["ack-p50"].add(lat(r, "sluice-latency", false, p50))
		latencies["ack-p99"].add(lat(r, "sluice-latency", false, p99))
		latencies["ack-p999"].add(lat(r, "sluice-latency", false, p999))
		latencies["e2e-ack-p50"].add(lat(r, "sluice-e2e", false, p50))
		latencies["e2e-ack-p99"].add(lat(r, "sluice-e2e", false, p99))
		latencies["e2e-ack-p999"].add(lat(r, "sluice-e2e", false, p999))
		latencies["e2e-p50"].add(lat(r, "sluice-e2e", true, p50))
		latencies["e2e-p99"].add(lat(r, "sluice-e2e", true, p99))
		latencies["e2e-p999"].add(lat(r, "sluice-e2e", true, p999))
		latencies["dur-ack-p50"].add(lat(r, "sluice-latency-durable", false, p50))
		latencies["dur-ack-p99"].add(lat(r, "sluice-latency-durable", false, p99))
		latencies["dur-ack-p999"].add(lat(r, "sluice-latency-durable", false, p999))
		latencies["dur-e2e-p50"].add(lat(r, "sluice-e2e-durable", true, p50))
		latencies["dur-e2e-p99"].add(lat(r, "sluice-e2e-durable", true, p99))
		if v, ok := lat(r, "sluice-latency-durable", false, p99); ok && fs != nil {
			// Margin over the same run's fsync p99: the target is <= 1 ms.
			latencies["dur-bound"].add(v-fs.Fsync.P99Ms, true)
		}
		latencies["null-p50"].add(lat(r, "null-latency", false, p50))
		latencies["null-p99"].add(lat(r, "null-latency", false, p99))
		latencies["null-p999"].add(lat(r, "null-latency", false, p999))
		latencies["kfake-ack-p50"].add(lat(r, "kfake-latency", false, p50))
		latencies["kfake-ack-p99"].add(lat(r, "kfake-latency", false, p99))
		latencies["kfake-e2e-p50"].add(lat(r, "kfake-e2e", true, p50))
		latencies["kfake-e2e-p99"].add(lat(r, "kfake-e2e", true, p99))
		latencies["nats-p50"].add(lat(r, "nats-latency", false, p50))
		latencies["nats-p99"].add(lat(r, "nats-latency", false, p99))
		latencies["nats-p999"].add(lat(r, "nats-latency", false, p999))
	}

	scM := map[string]*metric{
		"rss": M("resident memory, 10,000 partitions", "MiB"), "restart": M("restart to ready", "ms"),
		"meta": M("Metadata, all topics", "ms"), "cold": M("cold start to CreateTopics", "ms"),
	}
	if sc != nil {
		scM["rss"].add(max(sc.RSSMiB, sc.RestartRSSMiB), sc.RSSMiB > 0)
		scM["restart"].add(sc.RestartReadyMs, sc.RestartReadyMs > 0)
		for _, v := range append(slices.Clone(sc.MetadataMs), sc.MetadataAfterMs...) {
			scM["meta"].add(v, true)
		}
		for _, v := range sc.ColdStartMs {
			scM["cold"].add(v, true)
		}
	}

	scaleErr := ""
	if sc != nil && sc.Error != "" {
		scaleErr = "the restart failed (see Scale and start)"
	}
	checks := []check{
		{"produce 1 KiB, acks=1: Sluice / null broker", ratios["p1k/null"], true, 0.70, "≥ 70%", ""},
		{"produce 1 KiB, acks=1: Sluice / kfake", ratios["p1k/kfake"], true, 3, "≥ 3×", ""},
		{"produce 100 B: Sluice / null broker", ratios["p100/null"], true, 0.70, "≥ 70%", ""},
		{"produce 100 B: Sluice records/s", tput["sluice-produce-100"], true, 1.5e6, "≥ 1,500,000", ""},
		{"consume 1 KiB: Sluice / kfake", ratios["c1k/kfake"], true, 1.5, "≥ 1.5×", ""},
		{"consume 1 KiB: Sluice / iperf3 loopback", ratios["c1k/iperf"], true, 0.5, "≥ 50%", ""},
		{"produce 1 KiB: Sluice / NATS JetStream", ratios["p1k/nats"], true, 5, "≥ 5×", ""},
		{"consume 1 KiB: Sluice / NATS JetStream", ratios["c1k/nats"], true, 5, "≥ 5×", ""},
		{"10k/s acks=all: produce ack p50", latencies["ack-p50"], false, 0.3, "≤ 0.3 ms", ""},
		{"10k/s acks=all: produce ack p99", latencies["ack-p99"], false, 1, "≤ 1 ms", ""},
		{"10k/s acks=all: end-to-end p50", latencies["e2e-p50"], false, 1, "≤ 1 ms", ""},
		{"10k/s acks=all: end-to-end p99", latencies["e2e-p99"], false, 3, "≤ 3 ms", ""},
		{"durable (flush.messages=1): ack p99 − fsync p99", latencies["dur-bound"], false, 1, "≤ 1 ms", ""},
		{"10,000 partitions: resident memory", scM["rss"], false, 1024, "< 1 GiB", ""},
		{"10,000 partitions: restart to ready", scM["restart"], false, 5000, "< 5 s", scaleErr},
		{"10,000 partitions: Metadata for all", scM["meta"], false, 100, "< 100 ms", ""},
		{"cold start to CreateTopics", scM["cold"], false, 300, "≤ 300 ms", ""},
	}

	// Plain text on stdout.
	fmt.Printf("%d runs; medians, with each run's value in brackets\n\n", len(runs))
	for _, c := range checks {
		fmt.Printf("%-52s %14s  [%s]  target %s: %s\n", c.what, c.m.String(), c.m.runs(), c.text, c.verdict())
	}
	fmt.Println()
	for _, m := range []*metric{iperfMB, diskW, diskS, fsyncP50, fsyncP99} {
		fmt.Printf("%-52s %14s  [%s]\n", m.name, m.String(), m.runs())
	}
	for _, k := range []string{"ack-p50", "ack-p99", "e2e-ack-p50", "e2e-ack-p99", "e2e-p50", "e2e-p99", "dur-ack-p50", "dur-ack-p99", "kfake-ack-p50", "kfake-ack-p99", "null-p50", "null-p99", "nats-p50", "nats-p99"} {
		m := latencies[k]
		fmt.Printf("%-52s %14s  [%s]\n", m.name, m.String(), m.runs())
	}
	for _, s := range systems {
		for _, w := range []string{"-produce-1k", "-produce-100", "-consume-1k"} {
			m := tput[s+w]
			if len(m.vals) > 0 {
				fmt.Printf("%-52s %14s  [%s]\n", m.name, m.String(), m.runs())
			}
		}
	}

	machine, _ := os.ReadFile(filepath.Join(out, "machine.txt"))
	var md strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&md, f, a...) }
	w("%s\n## Performance\n\n", beginMarker)
	w("Measured by `make bench` (`bench/run.sh`): %d runs on one machine, client and server on it together; every figure is the median of the runs, every ratio the median of the ratios taken within each run (each run's values in brackets). Throughput counts record values: MB = 10^6 bytes.\n\n", len(runs))
	w("Machine:\n\n```\n%s```\n\n", string(machine))
	w("### Targets\n\n| what | measured | runs | target | |\n|---|---|---|---|---|\n")
	for _, c := range checks {
		w("| %s | %s | %s | %s | %s |\n", c.what, c.m.String(), c.m.runs(), c.text, c.verdict())
	}
	w("\n### Throughput\n\n| workload | Sluice | null broker (client ceiling) | kfake | NATS JetStream |\n|---|---|---|---|---|\n")
	for _, wl := range []struct{ key, label string }{
		{"-produce-1k", "produce 1 KiB, acks=1, 3 partitions, 1 producer"},
		{"-produce-100", "produce 100 B, acks=1, 3 partitions, 1 producer"},
		{"-consume-1k", "consume 1 KiB from the start, 1 consumer"},
	} {
		w("| %s |", wl.label)
		for _, s := range systems {
			w(" %s |", tput[s+wl.key].String())
		}
		w("\n")
	}
	w("\nBaselines of the same runs: loopback TCP %s; sequential write %s buffered, %s with fdatasync after every MiB; fdatasync of a 1 KiB append p50 %s, p99 %s.\n\n",
		iperfMB, diskW, diskS, fsyncP50, fsyncP99)
	w("Ratios: produce 1 KiB Sluice/disk buffered write %s, consume 1 KiB Sluice/null broker %s, produce 100 B Sluice/kfake %s.\n\n",
		ratios["p1k/disk"], ratios["c1k/null"], ratios["p100/kfake"])
	w("![throughput](img/bench-throughput.png)\n\n")
	w("### Latency\n\n1 KiB records at 10,000 records/s, acks=all, 3 partitions; produce latency runs from the Produce call to its acknowledgement, end-to-end latency to the moment a consumer in the same process polls the record. Acknowledgement latencies come from a producer alone (`perf produce`), as for the null broker and kfake; the same producer's acknowledgements in the end-to-end runs, where a consumer polls in its process, are listed apart.\n\n")
	w("| | p50 | p99 | p99.9 |\n|---|---|---|---|\n")
	w("| Sluice, default flush policy: produce ack | %s | %s | %s |\n", latencies["ack-p50"], latencies["ack-p99"], latencies["ack-p999"])
	w("| Sluice, default flush policy: produce ack beside a consumer (e2e run) | %s | %s | %s |\n", latencies["e2e-ack-p50"], latencies["e2e-ack-p99"], latencies["e2e-ack-p999"])
	w("| Sluice, default flush policy: end to end | %s | %s | %s |\n", latencies["e2e-p50"], latencies["e2e-p99"], latencies["e2e-p999"])
	w("| Sluice, durable (flush.messages=1): produce ack | %s | %s | %s |\n", latencies["dur-ack-p50"], latencies["dur-ack-p99"], latencies["dur-ack-p999"])
	w("| Sluice, durable: end to end | %s | %s | |\n", latencies["dur-e2e-p50"], latencies["dur-e2e-p99"])
	w("| kfake: produce ack | %s | %s | |\n", latencies["kfake-ack-p50"], latencies["kfake-ack-p99"])
	w("| kfake: end to end | %s | %s | |\n", latencies["kfake-e2e-p50"], latencies["kfake-e2e-p99"])
	w("| null broker: produce ack (the client's own floor) | %s | %s | %s |\n", latencies["null-p50"], latencies["null-p99"], latencies["null-p999"])
	w("| NATS JetStream synchronous publish | %s | %s | %s |\n", latencies["nats-p50"], latencies["nats-p99"], latencies["nats-p999"])
	w("| fdatasync of a 1 KiB append (baseline) | %s | %s | |\n\n", fsyncP50, fsyncP99)
	w("![latency](img/bench-latency.png)\n\n")
	if sc != nil {
		w("### Scale and start\n\n%d partitions (10 topics of 1,000, one record produced to each, which took %.0f s): resident memory %s, restart to ready %s, Metadata for all topics %s (median of the requests before and after the restart); cold start of an empty broker to its first CreateTopics %s (runs: %s ms).\n\n",
			sc.Partitions, sc.ProducedSeconds, scM["rss"], scM["restart"], scM["meta"], scM["cold"], scM["cold"].runs())
		if sc.Error != "" {
			w("The run stopped early: `%s`\n\n", sc.Error)
		}
	}
	w("### Commands\n\nEach run (`$OUT` is `bench/out`; `sluice` is the freshly built binary, the others `bench/cmd/*`; ports are picked free):\n\n```\n%s\n```\n\n", strings.Join(commands, "\n"))
	if b, err := os.ReadFile(notesPath); err == nil {
		md.Write(b)
		if !strings.HasSuffix(string(b), "\n") {
			md.WriteString("\n")
		}
	}
	w("%s\n", endMarker)

	if doc != "" {
		if err := writeSection(doc, md.String()); err != nil {
			return err
		}
		fmt.Printf("\nwrote the Performance section of %s\n", doc)
	}
	if img != "" {
		if err := charts(out, img, systems, tput, latencies); err != nil {
			fmt.Fprintln(os.Stderr, "report: charts:", err)
		}
	}
	return nil
}

// writeSection replaces the text between the markers, or appends it.
func writeSection(path, section string) error {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(b)
	if s == "" {
		s = "# Benchmarks\n\n"
	}
	if i := strings.Index(s, beginMarker); i >= 0 {
		j := strings.Index(s[i:], endMarker)
		if j < 0 {
			return fmt.Errorf("%s: begin marker without end marker", path)
		}
		s = s[:i] + strings.TrimSuffix(section, "\n") + s[i+j+len(endMarker):]
	} else {
		if !strings.HasSuffix(s, "\n\n") {
			s += "\n"
		}
		s += section
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// charts writes gnuplot data and draws two PNGs.
func charts(out, img string, systems []string, tput map[string]*metric, lat map[string]*metric) error {
	if _, err := exec.LookPath("gnuplot"); err != nil {
		return fmt.Errorf("gnuplot not installed; no charts")
	}
	if err := os.MkdirAll(img, 0o755); err != nil {
		return err
	}
	labels := map[string]string{"sluice": "Sluice", "null": "null broker", "kfake": "kfake", "nats": "NATS"}
	var t strings.Builder
	t.WriteString("# system produce_1k_MBps produce_100B_krecps consume_1k_MBps\n")
	v := func(m *metric, scale float64) string {
		x, ok := m.median()
		if !ok {
			return "0"
		}
		return fmt.Sprintf("%.4g", x*scale)
	}
	for _, s := range systems {
		fmt.Fprintf(&t, "%q %s %s %s\n", labels[s], v(tput[s+"-produce-1k"], 1), v(tput[s+"-produce-100"], 1e-3), v(tput[s+"-consume-1k"], 1))
	}
	var l strings.Builder
	l.WriteString("# what p50 p99\n")
	for _, row := range [][3]string{
		{"Sluice ack", "ack-p50", "ack-p99"},
		{"Sluice end-to-end", "e2e-p50", "e2e-p99"},
		{"Sluice durable ack", "dur-ack-p50", "dur-ack-p99"},
		{"kfake ack", "kfake-ack-p50", "kfake-ack-p99"},
		{"null broker ack", "null-p50", "null-p99"},
		{"NATS sync publish", "nats-p50", "nats-p99"},
	} {
		fmt.Fprintf(&l, "%q %s %s\n", row[0], v(lat[row[1]], 1), v(lat[row[2]], 1))
	}
	td, ld := filepath.Join(out, "throughput.dat"), filepath.Join(out, "latency.dat")
	if err := os.WriteFile(td, []byte(t.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(ld, []byte(l.String()), 0o644); err != nil {
		return err
	}
	script := fmt.Sprintf(`set terminal pngcairo size 1100,560 font ",11" noenhanced
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set key top right
set grid ytics
set yrange [0:*]
set xtics rotate by -25 scale 0
set output %q
set multiplot layout 1,2 title "Throughput (median of runs; same machine, same run)"
set title "MB/s, 1 KiB records"
set ylabel "MB/s"
plot %q using 2:xtic(1) title "produce", '' using 4 title "consume"
set title "thousand records/s, produce 100 B"
set ylabel "k records/s"
plot %q using 3:xtic(1) title "produce 100 B" lc rgb "#4a7"
unset multiplot
set output %q
set title "Latency at 10,000 records/s of 1 KiB, acks=all (median of runs)"
set ylabel "ms"
set yrange [0.01:*]
set logscale y
plot %q using 2:xtic(1) title "p50", '' using 3 title "p99"
`, filepath.Join(img, "bench-throughput.png"), td, td, filepath.Join(img, "bench-latency.png"), ld)
	sp := filepath.Join(out, "charts.gp")
	if err := os.WriteFile(sp, []byte(script), 0o644); err != nil {
		return err
	}
	cmd := exec.Command("gnuplot", sp)
	cmd.Stderr = os.Stderr
	return cmd.Run()
}
