package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProduceConsumeRoundTrip sends 100,000 lines with keys and headers
// through `sluice produce` and reads them back with `sluice consume`,
// through the CLI alone, and checks every record came back once, whole, in
// order per key.
func TestProduceConsumeRoundTrip(t *testing.T) {
	const n = 100_000
	addr := startBroker(t)
	topic := topicName(t)
	ok(t, addr, nil, "topics", "create", topic, "--partitions", "3")

	// Kafka's console-producer line format: headers TAB key TAB value.
	file := filepath.Join(t.TempDir(), "in.txt")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "src:cli,seq:%d\tkey-%d\tvalue %d: the quick brown fox jumps over the lazy dog\n", i, i%1000, i)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	start := time.Now()
	ok(t, addr, nil, "produce", topic, "--file", file, "--property", "parse.key=true", "--property", "parse.headers=true", "--compression", "lz4")
	produced := time.Since(start)

	start = time.Now()
	r := ok(t, addr, nil, "consume", topic, "--from-beginning", "--exit-at-end", "--format", "json")
	consumed := time.Since(start)
	t.Logf("produce %d lines: %v; consume: %v", n, produced.Round(time.Millisecond), consumed.Round(time.Millisecond))
	if want := fmt.Sprintf("Processed a total of %d messages", n); !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q: %s", want, r.stderr)
	}

	type rec struct {
		Topic     string  `json:"topic"`
		Partition int32   `json:"partition"`
		Offset    int64   `json:"offset"`
		Key       *string `json:"key"`
		Value     *string `json:"value"`
		Headers   []struct {
			Key   string  `json:"key"`
			Value *string `json:"value"`
		} `json:"headers"`
	}
	seen := make([]bool, n)
	lastSeq := map[string]int{}  // key -> last seq seen
	partOf := map[string]int32{} // key -> partition
	lastOffset := map[int32]int64{0: -1, 1: -1, 2: -1}
	count := 0
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var x rec
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			t.Fatalf("line %d is not JSON: %v: %q", count+1, err, sc.Text())
		}
		count++
		if len(x.Headers) != 2 || x.Headers[0].Key != "src" || *x.Headers[0].Value != "cli" || x.Headers[1].Key != "seq" {
			t.Fatalf("record %s-%d@%d headers %+v", x.Topic, x.Partition, x.Offset, x.Headers)
		}
		seq, err := strconv.Atoi(*x.Headers[1].Value)
		if err != nil || seq < 0 || seq >= n {
			t.Fatalf("bad seq header %q", *x.Headers[1].Value)
		}
		if seen[seq] {
			t.Fatalf("seq %d consumed twice", seq)
		}
		seen[seq] = true
		wantKey := fmt.Sprintf("key-%d", seq%1000)
		wantVal := fmt.Sprintf("value %d: the quick brown fox jumps over the lazy dog", seq)
		if x.Topic != topic || x.Key == nil || *x.Key != wantKey || x.Value == nil || *x.Value != wantVal {
			t.Fatalf("seq %d: topic %q key %v value %v", seq, x.Topic, x.Key, x.Value)
		}
		if x.Offset <= lastOffset[x.Partition] {
			t.Fatalf("partition %d: offset %d after %d", x.Partition, x.Offset, lastOffset[x.Partition])
		}
		lastOffset[x.Partition] = x.Offset
		if p, ok := partOf[wantKey]; ok && p != x.Partition {
			t.Fatalf("key %s in partitions %d and %d", wantKey, p, x.Partition)
		}
		partOf[wantKey] = x.Partition
		if last, ok := lastSeq[wantKey]; ok && seq < last {
			t.Fatalf("key %s: seq %d after %d", wantKey, seq, last)
		}
		lastSeq[wantKey] = seq
	}
	if count != n {
		t.Fatalf("consumed %d records, want %d", count, n)
	}
	used := map[int32]bool{}
	for _, p := range partOf {
		used[p] = true
	}
	if len(used) != 3 {
		t.Errorf("keys landed in %d partitions, want all 3", len(used))
	}

	// The plain format with Kafka's properties, and a count.
	r = ok(t, addr, nil, "consume", topic, "-p", "0", "--from-beginning", "-n", "3",
		"--property", "print.key=true", "--property", "print.headers=true", "--property", "print.offset=true", "--property", "key.separator=|")
	got := lines(r.stdout)
	if len(got) != 3 {
		t.Fatalf("-n 3 printed %d lines", len(got))
	}
	for i, l := range got {
		parts := strings.Split(l, "|")
		if len(parts) != 4 || parts[0] != "Offset:"+strconv.Itoa(i) || !strings.HasPrefix(parts[1], "src:cli,seq:") || !strings.HasPrefix(parts[2], "key-") || !strings.HasPrefix(parts[3], "value ") {
			t.Fatalf("plain line %q", l)
		}
	}
}

func TestConsumeStartsAndFormats(t *testing.T) {
	addr := startBroker(t)
	topic := topicName(t)
	ok(t, addr, nil, "topics", "create", topic, "--partitions", "1")
	before := time.Now()
	var in strings.Builder
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&in, "k%d=v%d\n", i, i)
	}
	ok(t, addr, []byte(in.String()), "produce", topic, "-K", "=", "-H", "app=test", "--acks", "1")

	values := func(r result) string { return strings.Join(lines(r.stdout), " ") }
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"from beginning", []string{"--from-beginning"}, "v0 v1 v2 v3 v4 v5 v6 v7 v8 v9"},
		{"offset", []string{"--offset", "7"}, "v7 v8 v9"},
		{"last n", []string{"--offset", "-2"}, "v8 v9"},
		{"end", []string{"--offset", "end"}, ""},
		{"count", []string{"--offset", "beginning", "-n", "2"}, "v0 v1"},
		{"time before", []string{"--from-time", before.Add(-time.Minute).UTC().Format(time.RFC3339)}, "v0 v1 v2 v3 v4 v5 v6 v7 v8 v9"},
		{"time after", []string{"--from-time", strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)}, ""},
		{"template", []string{"--from-beginning", "-n", "2", "--template", "{{.Offset}}:{{.Key}}={{.Value}}:{{range .Headers}}{{.Key}}={{.Value}}{{end}}"}, "0:k0=v0:app=test 1:k1=v1:app=test"},
		{"read_committed", []string{"--from-beginning", "-n", "1", "--isolation-level", "read_committed"}, "v0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"consume", topic, "-e"}, tc.args...)
			if got := values(ok(t, addr, nil, args...)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	fails(t, addr, nil, []string{"topic " + topic + "-missing does not exist"}, "consume", topic+"-missing", "-e")
	fails(t, addr, nil, []string{"has no partition 4"}, "consume", topic, "-p", "4", "-e")
	fails(t, addr, nil, []string{"only one of"}, "consume", topic, "--from-beginning", "--offset", "3")
	fails(t, addr, []byte("no separator here\n"), []string{"line 1: no key separator"}, "produce", topic, "-K", "=")
}
