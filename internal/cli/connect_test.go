package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runConnect runs a connect command line and returns stdout, stderr and
// the error.
func runConnect(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRoot(&app{stdout: &stdout, stderr: &stderr})
	root.SetArgs(args)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := root.ExecuteContext(ctx)
	return stdout.String(), stderr.String(), err
}

func TestConnectPlugins(t *testing.T) {
	out, _, err := runConnect(t, "connect", "plugins")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"org.apache.kafka.connect.file.FileStreamSourceConnector", "FileStreamSource",
		"org.apache.kafka.connect.file.FileStreamSinkConnector",
		"org.apache.kafka.connect.json.JsonConverter", "org.apache.kafka.connect.storage.StringConverter",
		"org.apache.kafka.connect.transforms.Cast$Value", "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plugins output lacks %q", want)
		}
	}
	if strings.Contains(out, "SETTING") {
		t.Error("settings are listed only with names or --configs")
	}

	out, _, err = runConnect(t, "connect", "plugins", "FileStreamSink", "Json")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FileStreamSinkConnector (sink)", "Destination filename", "schemas.enable", "true"} {
		if !strings.Contains(out, want) {
			t.Errorf("plugin settings lack %q:\n%s", want, out)
		}
	}
	out, _, err = runConnect(t, "connect", "plugins", "--type", "predicate")
	if err != nil || strings.Contains(out, "Converter") || !strings.Contains(out, "RecordIsTombstone") {
		t.Fatalf("--type predicate: %v\n%s", err, out)
	}
	if _, _, err := runConnect(t, "connect", "plugins", "NoSuchPlugin"); err == nil || !strings.Contains(err.Error(), "NoSuchPlugin") {
		t.Fatalf("unknown plugin: %v", err)
	}
}

func TestConnectStandaloneConfigErrors(t *testing.T) {
	if _, _, err := runConnect(t, "connect", "standalone"); err == nil {
		t.Fatal("no worker file: want a usage error")
	}
	dir := t.TempDir()
	if _, _, err := runConnect(t, "connect", "standalone", filepath.Join(dir, "missing.properties")); err == nil ||
		!strings.Contains(err.Error(), "missing.properties") {
		t.Fatalf("missing worker file: %v", err)
	}
	worker := filepath.Join(dir, "worker.properties")
	os.WriteFile(worker, []byte("bootstrap.servers=127.0.0.1:1\nvalue.converter=Json\n"), 0o644)
	_, _, err := runConnect(t, "connect", "standalone", worker)
	if err == nil || !strings.Contains(err.Error(), "key.converter") || !strings.Contains(err.Error(), "offset.storage.file.filename") {
		t.Fatalf("worker config without required settings: %v", err)
	}
	os.WriteFile(worker, []byte("key.converter=NoSuchConverter\nvalue.converter=Json\noffset.storage.file.filename="+
		filepath.Join(dir, "offsets")+"\nlisteners=\n"), 0o644)
	_, _, err = runConnect(t, "connect", "standalone", worker)
	if err == nil || !strings.Contains(err.Error(), "NoSuchConverter") {
		t.Fatalf("unknown converter: %v", err)
	}
	if _, _, err := runConnect(t, "connect", "standalone", worker, filepath.Join(dir, "nope.json")); err == nil ||
		!strings.Contains(err.Error(), "nope.json") {
		t.Fatalf("missing connector file: %v", err)
	}
}
