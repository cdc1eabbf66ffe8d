package runtime

import (
	"strings"
	"testing"
	"time"
)

func TestExactlyOnceConfig(t *testing.T) {
	c, err := ConfigFromProperties(map[string]string{
		"application.id": "wc", "bootstrap.servers": "a:9092", "processing.guarantee": "exactly_once_v2",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.setDefaults(); err != nil {
		t.Fatalf("exactly_once_v2 refused: %v", err)
	}
	if c.ProcessingGuarantee != ExactlyOnceV2 || c.CommitInterval != 100*time.Millisecond {
		t.Fatalf("guarantee %q, commit interval %v; want %s and 100ms", c.ProcessingGuarantee, c.CommitInterval, ExactlyOnceV2)
	}
	// An explicit interval stays.
	c = Config{ApplicationID: "x", Brokers: []string{"a"}, ProcessingGuarantee: ExactlyOnceV2, CommitInterval: time.Second}
	if err := c.setDefaults(); err != nil || c.CommitInterval != time.Second {
		t.Fatalf("explicit commit interval: %v, %v", c.CommitInterval, err)
	}
	// At least once keeps Kafka's 30s.
	c = Config{ApplicationID: "x", Brokers: []string{"a"}}
	if err := c.setDefaults(); err != nil || c.CommitInterval != 30*time.Second {
		t.Fatalf("at_least_once commit interval: %v, %v", c.CommitInterval, err)
	}
	for _, old := range []string{"exactly_once", "exactly_once_beta"} {
		c := Config{ApplicationID: "x", Brokers: []string{"a"}, ProcessingGuarantee: old}
		err := c.setDefaults()
		if err == nil || !strings.Contains(err.Error(), "removed in Kafka 4") || !strings.Contains(err.Error(), ExactlyOnceV2) {
			t.Fatalf("%s: %v; want an error naming its removal and %s", old, err, ExactlyOnceV2)
		}
	}
	c = Config{ApplicationID: "x", Brokers: []string{"a"}, ProcessingGuarantee: "at_most_once"}
	if err := c.setDefaults(); err == nil {
		t.Fatal("an unknown guarantee was accepted")
	}
}

// The process id, and so the transactional.id, survives a restart with the
// same state directory and differs between directories.
func TestProcessIDIsStable(t *testing.T) {
	dir := t.TempDir()
	a, err := processID(dir, "app")
	if err != nil {
		t.Fatal(err)
	}
	b, err := processID(dir, "app")
	if err != nil {
		t.Fatal(err)
	}
	if a == "" || a != b {
		t.Fatalf("process ids %q and %q from one state directory", a, b)
	}
	c, err := processID(t.TempDir(), "app")
	if err != nil {
		t.Fatal(err)
	}
	if c == a {
		t.Fatalf("two state directories share the process id %q", a)
	}
	if _, ok := parseTaskID(processIDFile); ok {
		t.Fatalf("the process id file %q parses as a task directory", processIDFile)
	}
}
