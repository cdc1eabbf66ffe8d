package standalone

import (
	"maps"
	"os"
	"path/filepath"
	"testing"
)

func TestParseProperties(t *testing.T) {
	got, err := ParseProperties([]byte(`# a comment
! another
bootstrap.servers = localhost:9092
key.converter:org.apache.kafka.connect.json.JsonConverter
spaced value with spaces
long=one,\
     two
escaped\ key=a\tb\u00e9
empty=
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"bootstrap.servers": "localhost:9092",
		"key.converter":     "org.apache.kafka.connect.json.JsonConverter",
		"spaced":            "value with spaces",
		"long":              "one,two",
		"escaped key":       "a\tbé",
		"empty":             "",
	}
	if !maps.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestReadConnectorConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	want := map[string]string{"name": "src", "connector.class": "FileStreamSource", "tasks.max": "1", "topic": "t"}
	for _, p := range []string{
		write("a.properties", "name=src\nconnector.class=FileStreamSource\ntasks.max=1\ntopic=t\n"),
		write("b.json", `{"name":"src","config":{"connector.class":"FileStreamSource","tasks.max":1,"topic":"t"}}`),
		write("c.json", `{"name":"src","connector.class":"FileStreamSource","tasks.max":"1","topic":"t"}`),
	} {
		got, err := ReadConnectorConfig(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", p, got, want)
		}
	}
	if _, err := ReadConnectorConfig(write("d.json", `{"name":"a","config":{"name":"b"}}`)); err == nil {
		t.Error("differing names must fail")
	}
	if _, err := ReadConnectorConfig(write("e.json", `[1]`)); err == nil {
		t.Error("a JSON array must fail")
	}
}
