package offsets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileStoreRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "offsets.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	part := map[string]any{"filename": "/tmp/in.txt"}
	if off, _ := s.Get("src", part); off != nil {
		t.Fatalf("empty store: %v", off)
	}
	if err := s.Set("src", []Entry{{Partition: part, Offset: map[string]any{"position": int64(12)}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("other", []Entry{{Partition: part, Offset: map[string]any{"position": int64(99)}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), `["src",{"filename":"/tmp/in.txt"}]`) {
		t.Fatalf("file lacks Kafka's key form:\n%s", raw)
	}
	re, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	off, err := re.Get("src", map[string]any{"filename": "/tmp/in.txt"})
	if err != nil || off["position"] != int64(12) {
		t.Fatalf("reloaded offset %v %v", off, err)
	}
	if e := re.Entries("other"); len(e) != 1 || e[0].Offset["position"] != int64(99) {
		t.Fatalf("entries %v", e)
	}
	// An unchanged set does not rewrite the file.
	before, _ := os.Stat(path)
	re.Set("src", []Entry{{Partition: part, Offset: map[string]any{"position": int64(12)}}})
	if err := re.Flush(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("an unchanged store must not be rewritten")
	}
	os.WriteFile(path, []byte("{broken"), 0o644)
	if _, err := Open(path); err == nil {
		t.Fatal("a corrupt file must be reported, not taken as empty")
	}
}
