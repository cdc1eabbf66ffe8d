package connect

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A source's transforms run before its converters, as Kafka's: the lines
// are hoisted into a struct, fields and a header inserted, the topic
// renamed, and the JSON converter writes Kafka's envelope.
func TestSourceTransformsOnTheWire(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	base := uniqueName(t, "x")
	raw, clean, name := base+"-raw", base+"-clean", uniqueName(t, "src")
	createTopic(t, clean, 1)
	if err := os.WriteFile(in, []byte("alpha\nbeta\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := newWorker(t, nil, map[string]string{
		"name": name, "connector.class": "FileStreamSource", "file": in, "topic": raw,
		"transforms":                      "hoist,insert,route,header",
		"transforms.hoist.type":           "org.apache.kafka.connect.transforms.HoistField$Value",
		"transforms.hoist.field":          "line",
		"transforms.insert.type":          "InsertField$Value",
		"transforms.insert.topic.field":   "from",
		"transforms.insert.static.field":  "origin",
		"transforms.insert.static.value":  "file",
		"transforms.route.type":           "RegexRouter",
		"transforms.route.regex":          "(.*)-raw",
		"transforms.route.replacement":    "$1-clean",
		"transforms.header.type":          "InsertHeader",
		"transforms.header.header":        "source",
		"transforms.header.value.literal": "file-source",
	})
	w.start(t, name)
	recs := readTopic(t, clean, 2)
	want := func(line string) string {
		return `{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"line"},` +
			`{"type":"string","optional":true,"field":"from"},{"type":"string","optional":true,"field":"origin"}],"optional":false},` +
			`"payload":{"line":"` + line + `","from":"` + raw + `","origin":"file"}}`
	}
	for i, line := range []string{"alpha", "beta"} {
		r := recs[i]
		if string(r.Value) != want(line) {
			t.Errorf("record %d value:\n got %s\nwant %s", i, r.Value, want(line))
		}
		if r.Key != nil {
			t.Errorf("record %d key %q: a null key with no schema must be a null key", i, r.Key)
		}
		if v, ok := header(r, "source"); !ok || v != "file-source" {
			t.Errorf("record %d header source = %q", i, v)
		}
	}
	w.stop(t)
}

// A sink reads the topics topics.regex matches; a Filter with a predicate
// drops the records of one of them; with the ByteArrayConverter values
// reach the file byte for byte, invalid UTF-8 included; RecordIsTombstone
// drops tombstones.
func TestSinkPredicatesAndBytes(t *testing.T) {
	// The regex matches this run's topics only: with -count=2 the broker
	// still holds the first run's.
	base, name := uniqueName(t, "x"), uniqueName(t, "sink")
	keep, drop := base+"-keep", base+"-drop"
	createTopic(t, keep, 1)
	createTopic(t, drop, 1)
	out := filepath.Join(t.TempDir(), "out.bin")
	w := newWorker(t, nil, map[string]string{
		"name": name, "connector.class": "FileStreamSink", "file": out, "topics.regex": regexp.QuoteMeta(base) + "-(keep|drop)",
		"value.converter":                     "org.apache.kafka.connect.converters.ByteArrayConverter",
		"key.converter":                       "StringConverter",
		"transforms":                          "dropTopic,dropTombstones",
		"transforms.dropTopic.type":           "Filter",
		"transforms.dropTopic.predicate":      "isDrop",
		"transforms.dropTombstones.type":      "org.apache.kafka.connect.transforms.Filter",
		"transforms.dropTombstones.predicate": "tomb",
		"predicates":                          "isDrop,tomb",
		"predicates.isDrop.type":              "TopicNameMatches",
		"predicates.isDrop.pattern":           ".*-drop",
		"predicates.tomb.type":                "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
	})
	var want bytes.Buffer
	var recs []*kgo.Record
	for i := 0; i < 50; i++ {
		v := []byte{0xff, 0xfe, byte(i), 'v', 0xc3}
		recs = append(recs, &kgo.Record{Topic: keep, Value: v}, &kgo.Record{Topic: drop, Value: []byte("dropped")})
		want.Write(v)
		want.WriteByte('\n')
		if i%10 == 0 {
			recs = append(recs, &kgo.Record{Topic: keep, Key: []byte("gone"), Value: nil})
		}
	}
	produce(t, recs...)
	w.start(t, name)
	waitFor(t, 30*time.Second, "50 records in the file", func() (bool, string) {
		got, _ := os.ReadFile(out)
		return len(got) >= want.Len(), fmt.Sprintf("%d of %d bytes", len(got), want.Len())
	})
	var topics map[string]map[string][]string
	getJSON(t, w.url("/connectors/"+name+"/topics"), &topics)
	if got := topics[name]["topics"]; !slices.Equal(got, []string{drop, keep}) {
		t.Fatalf("topics.regex consumed %v, want both %s and %s", got, keep, drop)
	}
	w.stop(t)
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("file differs:\n got %q\nwant %q", got, want.Bytes())
	}
	if strings.Contains(string(got), "dropped") || strings.Contains(string(got), "null") {
		t.Fatal("filtered records reached the file")
	}
}
