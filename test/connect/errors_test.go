package connect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produce writes records to a topic and waits for them.
func produce(t *testing.T, recs ...*kgo.Record) {
	t.Helper()
	cl := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// With errors.tolerance=all, records a converter or a transform cannot
// handle go to the dead-letter queue as they were consumed (key, value and
// headers), with the __connect.errors.* context headers, while the good
// records reach the sink and the group's offsets move past all of them.
func TestDeadLetterQueue(t *testing.T) {
	topic, dlq, name := uniqueName(t, "in"), uniqueName(t, "dlq"), uniqueName(t, "sink")
	createTopic(t, topic, 1)
	out := filepath.Join(t.TempDir(), "out.txt")
	w := newWorker(t, nil, map[string]string{
		"name": name, "connector.class": "FileStreamSink", "file": out, "topics": topic,
		"key.converter":   "org.apache.kafka.connect.storage.StringConverter",
		"value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "false",
		"transforms": "extract", "transforms.extract.type": "org.apache.kafka.connect.transforms.ExtractField$Value",
		"transforms.extract.field": "n",
		"errors.tolerance":         "all", "errors.log.enable": "true", "errors.log.include.messages": "true",
		"errors.deadletterqueue.topic.name": dlq, "errors.deadletterqueue.topic.replication.factor": "1",
		"errors.deadletterqueue.context.headers.enable": "true",
	})
	// Offsets 0..29: every third record fails the JSON converter, every
	// fifth good one is a JSON string the transform cannot take a field of.
	type poison struct {
		offset int64
		stage  string
		class  string
		value  string
	}
	var recs []*kgo.Record
	var wantLines []string
	var poisons []poison
	for i := 0; i < 30; i++ {
		r := &kgo.Record{Topic: topic, Key: []byte("k" + strconv.Itoa(i)), Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t" + strconv.Itoa(i))}}}
		switch {
		case i%3 == 1:
			r.Value = []byte(fmt.Sprintf("not json {%d", i))
			poisons = append(poisons, poison{int64(i), "VALUE_CONVERTER", "org.apache.kafka.connect.json.JsonConverter", string(r.Value)})
		case i%5 == 0:
			r.Value = []byte(fmt.Sprintf(`"just a string %d"`, i))
			poisons = append(poisons, poison{int64(i), "TRANSFORMATION", "org.apache.kafka.connect.transforms.ExtractField$Value", string(r.Value)})
		default:
			r.Value = []byte(fmt.Sprintf(`{"n":%d,"other":"x"}`, i))
			wantLines = append(wantLines, strconv.Itoa(i))
		}
		recs = append(recs, r)
	}
	produce(t, recs...)
	w.start(t, name)

	waitFor(t, 30*time.Second, "the good records in the file", func() (bool, string) {
		n := lineCount(out)
		return n >= len(wantLines), fmt.Sprintf("%d of %d lines", n, len(wantLines))
	})
	if got := readLines(t, out); strings.Join(got, ",") != strings.Join(wantLines, ",") {
		t.Fatalf("sink file: got %v, want %v", got, wantLines)
	}
	dead := readTopic(t, dlq, len(poisons))
	if len(dead) != len(poisons) {
		t.Fatalf("DLQ holds %d records, want %d", len(dead), len(poisons))
	}
	for i, d := range dead {
		p := poisons[i]
		if string(d.Value) != p.value || string(d.Key) != "k"+strconv.FormatInt(p.offset, 10) {
			t.Errorf("DLQ record %d: key %q value %q, want the original k%d %q", i, d.Key, d.Value, p.offset, p.value)
		}
		want := map[string]string{
			"trace":                           "t" + strconv.FormatInt(p.offset, 10),
			"__connect.errors.topic":          topic,
			"__connect.errors.partition":      "0",
			"__connect.errors.offset":         strconv.FormatInt(p.offset, 10),
			"__connect.errors.connector.name": name,
			"__connect.errors.task.id":        "0",
			"__connect.errors.stage":          p.stage,
			"__connect.errors.class.name":     p.class,
		}
		for k, v := range want {
			if got, ok := header(d, k); !ok || got != v {
				t.Errorf("DLQ record %d (offset %d): header %s = %q, want %q", i, p.offset, k, got, v)
			}
		}
		for _, k := range []string{"__connect.errors.exception.class.name", "__connect.errors.exception.message", "__connect.errors.exception.stacktrace"} {
			if v, ok := header(d, k); !ok || v == "" {
				t.Errorf("DLQ record %d: header %s missing", i, k)
			}
		}
	}
	// The group committed past every record, poison included.
	waitFor(t, 30*time.Second, "offsets committed past the last record", func() (bool, string) {
		var offs struct {
			Offsets []struct {
				Offset map[string]any `json:"offset"`
			} `json:"offsets"`
		}
		getJSON(t, w.url("/connectors/"+name+"/offsets"), &offs)
		if len(offs.Offsets) != 1 {
			return false, fmt.Sprintf("%+v", offs)
		}
		return offs.Offsets[0].Offset["kafka_offset"] == float64(30), fmt.Sprintf("%+v", offs)
	})
	w.stop(t)
	if !strings.Contains(w.proc.log(), "Error encountered in task") {
		t.Error("errors.log.enable=true: the worker log should report each failure")
	}
}

// With errors.tolerance=none (the default), the first bad record fails the
// task: its status is FAILED with the reason, and nothing after the bad
// record reaches the sink.
func TestToleranceNoneFailsTask(t *testing.T) {
	topic, name := uniqueName(t, "in"), uniqueName(t, "sink")
	createTopic(t, topic, 1)
	out := filepath.Join(t.TempDir(), "out.txt")
	w := newWorker(t, map[string]string{"key.converter": "StringConverter"}, map[string]string{
		"name": name, "connector.class": "FileStreamSink", "file": out, "topics": topic,
		"value.converter": "JsonConverter", "value.converter.schemas.enable": "false",
	})
	produce(t,
		&kgo.Record{Topic: topic, Value: []byte(`"first"`)},
		&kgo.Record{Topic: topic, Value: []byte(`{broken`)},
		&kgo.Record{Topic: topic, Value: []byte(`"third"`)},
	)
	w.start(t)
	var st status
	waitFor(t, 30*time.Second, "the task FAILED", func() (bool, string) {
		getJSON(t, w.url("/connectors/"+name+"/status"), &st)
		return len(st.Tasks) == 1 && st.Tasks[0].State == "FAILED", fmt.Sprintf("%+v", st)
	})
	if !strings.Contains(st.Tasks[0].Trace, "Tolerance exceeded") || !strings.Contains(st.Tasks[0].Trace, "VALUE_CONVERTER") ||
		strings.Contains(st.Tasks[0].Trace, "schemas.enable") || st.Connector.State != "RUNNING" {
		t.Fatalf("status %+v: want the connector RUNNING and the task FAILED with the tolerance error", st)
	}
	t.Logf("task trace: %s", st.Tasks[0].Trace)
	w.stop(t)
	if got, _ := os.ReadFile(out); strings.Contains(string(got), "third") {
		t.Fatalf("a record after the failure reached the sink:\n%s", got)
	}
}
