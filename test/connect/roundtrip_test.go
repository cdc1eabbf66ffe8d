package connect

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// line returns line i of the test file: its number and text that JSON must
// escape (quotes, backslashes, tabs, non-ASCII), some lines empty.
func line(i int) string {
	variants := []string{
		"plain text",
		`"quoted" and \backslashed\`,
		"tab\tseparated\tvalues",
		"héllo wörld ✓ 日本語",
		`{"looks":"like json"}`,
		"",
		strings.Repeat("x", 200),
	}
	v := variants[i%len(variants)]
	if v == "" && i%2 == 0 {
		return ""
	}
	return fmt.Sprintf("%06d %s", i, v)
}

// appendLines appends lines [from, to) to path in chunks, pausing between
// chunks so the worker reads a file that grows while it runs.
func appendLines(t *testing.T, path string, from, to, chunk int, pause time.Duration, written *atomic.Int64) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	var buf bytes.Buffer
	for i := from; i < to; i++ {
		buf.WriteString(line(i))
		buf.WriteByte('\n')
		if (i+1-from)%chunk == 0 || i == to-1 {
			if _, err := f.Write(buf.Bytes()); err != nil {
				t.Error(err)
				return
			}
			buf.Reset()
			written.Store(int64(i + 1))
			time.Sleep(pause)
		}
	}
}

// A file source and a file sink in one worker copy 100,000 lines through a
// topic with the JSON converter (schemas on). The file grows while the
// worker runs, and the worker is stopped (SIGTERM) and started again
// mid-way: the source resumes from its stored offset and the sink from its
// committed offsets, so the copy is byte for byte the original, and the
// topic holds each line exactly once.
func TestFileRoundTripAcrossRestart(t *testing.T) {
	const total = 100_000
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	topic, src, sink := uniqueName(t, "lines"), uniqueName(t, "src"), uniqueName(t, "sink")
	w := newWorker(t, nil,
		map[string]string{"name": src, "connector.class": "FileStreamSource", "file": in, "topic": topic,
			"topic.creation.default.replication.factor": "1", "topic.creation.default.partitions": "1"},
		map[string]string{"name": sink, "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
			"file": out, "topics": topic},
	)
	var written atomic.Int64
	appendLines(t, in, 0, 20_000, 20_000, 0, &written)
	w.start(t, src, sink)

	// The file grows while the worker runs, while it is down, and after
	// it restarts.
	growing := make(chan struct{})
	go func() {
		defer close(growing)
		appendLines(t, in, 20_000, 60_000, 1_000, 10*time.Millisecond, &written)
	}()
	waitFor(t, 60*time.Second, "30,000 lines copied", func() (bool, string) {
		n := lineCount(out)
		return n >= 30_000, fmt.Sprintf("%d lines in the copy", n)
	})
	w.stop(t)
	t.Logf("worker stopped with %d lines copied, %d written", lineCount(out), written.Load())
	offsets, err := os.ReadFile(filepath.Join(w.dir, "connect.offsets"))
	if err != nil || !bytes.Contains(offsets, []byte(`"position":`)) {
		t.Fatalf("the offsets file holds no position after a graceful stop: %v\n%s", err, offsets)
	}
	<-growing
	appendLines(t, in, 60_000, 80_000, 20_000, 0, &written)
	w.start(t, src, sink)
	appendLines(t, in, 80_000, total, 2_000, 5*time.Millisecond, &written)

	want, _ := os.ReadFile(in)
	waitFor(t, 90*time.Second, "the whole file copied", func() (bool, string) {
		got, _ := os.ReadFile(out)
		return len(got) >= len(want), fmt.Sprintf("%d of %d bytes, %d lines", len(got), len(want), bytes.Count(got, []byte{'\n'}))
	})
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("the copy differs from line %d: got %q, want %q (%d lines, want %d)", i+1, gl[i], wl[i], len(gl)-1, len(wl)-1)
			}
		}
		t.Fatalf("the copy has %d lines, want %d", len(gl)-1, len(wl)-1)
	}
	if n := endOffset(t, topic); n != total {
		t.Fatalf("the topic holds %d records, want %d: a graceful restart must neither lose nor repeat lines", n, total)
	}
	w.stop(t)
}

// After kill -9 the worker loses nothing: lines after the last stored
// offset are sent again (at least once, as Kafka Connect's standalone mode
// promises), so the copy holds every line, in order, with possible repeats
// of a run after the restart point.
func TestFileRoundTripAfterKill9(t *testing.T) {
	const total = 20_000
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	topic, src, sink := uniqueName(t, "lines"), uniqueName(t, "src"), uniqueName(t, "sink")
	createTopic(t, topic, 3)
	// A short session, so the group drops the killed worker's member soon.
	w := newWorker(t, map[string]string{"key.converter": "StringConverter", "value.converter": "StringConverter",
		"offset.flush.interval.ms": "100", "consumer.session.timeout.ms": "6000", "consumer.heartbeat.interval.ms": "500"},
		map[string]string{"name": src, "connector.class": "FileStreamSource", "file": in, "topic": topic, "batch.size": "500"},
		map[string]string{"name": sink, "connector.class": "FileStreamSink", "file": out, "topics": topic},
	)
	var written atomic.Int64
	appendLines(t, in, 0, 5_000, 5_000, 0, &written)
	w.start(t, src, sink)
	done := make(chan struct{})
	go func() {
		defer close(done)
		appendLines(t, in, 5_000, total, 1_000, 20*time.Millisecond, &written)
	}()
	waitFor(t, 60*time.Second, "5,000 lines copied", func() (bool, string) {
		n := lineCount(out)
		return n >= 5_000, fmt.Sprintf("%d lines", n)
	})
	w.kill9(t)
	w.start(t, src, sink)
	<-done
	wantLines := readLines(t, in)
	waitFor(t, 60*time.Second, "every line copied", func() (bool, string) {
		counts := map[string]int{}
		for _, l := range readLines(t, out) {
			counts[l]++
		}
		missing := 0
		for _, l := range wantLines {
			if counts[l] == 0 {
				missing++
			} else {
				counts[l]--
			}
		}
		return missing == 0, fmt.Sprintf("%d lines missing", missing)
	})
	w.stop(t)
	// Every line is there at least as often as in the original (some lines
	// are empty, so count occurrences); with three partitions order holds
	// per partition only.
	counts := map[string]int{}
	gotLines := readLines(t, out)
	for _, l := range gotLines {
		counts[l]++
	}
	for _, l := range wantLines {
		if counts[l] == 0 {
			t.Fatalf("line %q lost", l)
		}
		counts[l]--
	}
	t.Logf("after kill -9: %d lines copied as %d (%d sent again)", len(wantLines), len(gotLines), len(gotLines)-len(wantLines))
}
