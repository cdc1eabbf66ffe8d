package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestTables checks every definition: a unique name, documentation, a
// default that parses and passes its own validator, and synonyms that exist.
func TestTables(t *testing.T) {
	for _, table := range []struct {
		name string
		defs []Def
	}{{"broker", brokerDefs}, {"topic", topicDefs}} {
		seen := map[string]bool{}
		for _, d := range table.defs {
			if seen[d.Name] {
				t.Errorf("%s table: %s defined twice", table.name, d.Name)
			}
			seen[d.Name] = true
			if strings.TrimSpace(d.Doc) == "" {
				t.Errorf("%s: no documentation", d.Name)
			}
			if d.Type < Bool || d.Type > Password {
				t.Errorf("%s: type %d", d.Name, d.Type)
			}
			if !d.NoDefault {
				if _, err := d.check(d.Default); err != nil {
					t.Errorf("%s: default %q does not pass its own rules: %v", d.Name, d.Default, err)
				}
			}
			for _, s := range d.Synonyms {
				if _, ok := brokerIndex[s.Name]; !ok {
					t.Errorf("%s: synonym %s is not a broker setting", d.Name, s.Name)
				}
			}
			if table.name == "topic" && d.Mode != ReadOnly {
				t.Errorf("%s: topic settings carry no broker update mode", d.Name)
			}
		}
	}
	// Each topic default equals what its broker synonyms give when unset, so
	// the documentation's "Default" and the resolved value agree.
	b, _, err := load("", nil, nil, fixedHost)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range topicDefs {
		e, _ := b.TopicDefaults.Entry(d.Name)
		if e.Value == nil || *e.Value != d.Default {
			v := "<nil>"
			if e.Value != nil {
				v = *e.Value
			}
			t.Errorf("%s: resolves to %s with no settings, but its documented default is %q", d.Name, v, d.Default)
		}
	}
}

func TestParseTypes(t *testing.T) {
	tests := []struct {
		typ    Type
		in     string
		want   any
		reason string // "" for success
	}{
		{Bool, "true", true, ""},
		{Bool, " FALSE ", false, ""},
		{Bool, "yes", nil, "either true or false"},
		{Int, "42", int32(42), ""},
		{Int, " -7 ", int32(-7), ""},
		{Int, "2147483648", nil, "not a number of type INT"},
		{Int, "", nil, "not a number of type INT"},
		{Int, "1e3", nil, "not a number of type INT"},
		{Short, "32767", int16(32767), ""},
		{Short, "32768", nil, "not a number of type SHORT"},
		{Long, "9223372036854775807", int64(9223372036854775807), ""},
		{Long, "9223372036854775808", nil, "not a number of type LONG"},
		{Double, "0.25", 0.25, ""},
		{Double, "half", nil, "not a number of type DOUBLE"},
		{String, "  padded  ", "padded", ""},
		{Password, "s3cret", "s3cret", ""},
	}
	for _, tt := range tests {
		d := Def{Name: "x.y", Type: tt.typ}
		got, err := d.parse(tt.in)
		if tt.reason != "" {
			var ce *Error
			if !errors.As(err, &ce) || ce.Name != "x.y" || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("%v %q: err %v, want one naming x.y with %q", tt.typ, tt.in, err, tt.reason)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%v %q = %v (%T), %v; want %v (%T)", tt.typ, tt.in, got, got, err, tt.want, tt.want)
		}
	}
	// Lists split at commas with optional whitespace.
	d := Def{Name: "l", Type: List}
	got, _ := d.parse(" a , b,c ")
	if l := got.([]string); strings.Join(l, "|") != "a|b|c" {
		t.Errorf("list = %q", l)
	}
	if got, _ := d.parse("  "); len(got.([]string)) != 0 {
		t.Errorf("blank list = %q, want empty", got)
	}
}

func TestPasswordHiddenInErrors(t *testing.T) {
	d := Def{Name: "ssl.key.password", Type: Password, Validator: nonEmptyString}
	_, err := d.check("")
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "[hidden]") {
		t.Errorf("err %v", err)
	}
}

// TestValidators runs each validator through the settings that use it.
func TestValidators(t *testing.T) {
	tests := []struct {
		key, value string
		reason     string // "" for valid
	}{
		{"num.partitions", "1", ""},
		{"num.partitions", "0", "at least 1"},
		{"log.segment.bytes", "1048576", ""},
		{"log.segment.bytes", "1048575", "at least 1048576"},
		{"log.cleaner.min.cleanable.ratio", "1", ""},
		{"log.cleaner.min.cleanable.ratio", "1.5", "no more than 1"},
		{"log.cleaner.min.cleanable.ratio", "-0.1", "at least 0"},
		{"log.cleaner.min.cleanable.ratio", "NaN", "number"},
		{"compression.type", "zstd", ""},
		{"compression.type", "ZSTD", "one of"},
		{"compression.type", "brotli", "one of"},
		{"compression.gzip.level", "-1", ""},
		{"compression.gzip.level", "9", ""},
		{"compression.gzip.level", "0", "-1 or between 1 and 9"},
		{"compression.lz4.level", "18", "no more than 17"},
		{"compression.zstd.level", "-131072", ""},
		{"log.cleanup.policy", "compact,delete", ""},
		{"log.cleanup.policy", "compact, delete", ""},
		{"log.cleanup.policy", "", "Empty list"},
		{"log.cleanup.policy", "compact,,delete", "empty element"},
		{"log.cleanup.policy", "delete,delete", "duplicate"},
		{"log.cleanup.policy", "shred", "valid values are: compact, delete"},
		{"log.message.timestamp.type", "LogAppendTime", ""},
		{"log.message.timestamp.type", "logappendtime", "one of"},
		{"process.roles", "broker", ""},
		{"process.roles", "broker,voter", "valid values"},
		{"listeners", "PLAINTEXT://:9092,CONTROLLER://127.0.0.1:9093", ""},
		{"listeners", "PLAINTEXT://[::1]:9092", ""},
		{"listeners", "PLAINTEXT://host", "host:port"},
		{"listeners", "host:9092", "NAME://host:port"},
		{"listeners", "PLAINTEXT://:99999", "between 0 and 65535"},
		{"listeners", "A://:9092,A://:9093", "different name"},
		{"listeners", "A://:9092,B://:9092", "different port"},
		{"listeners", "A://:0,B://:0", ""},
		{"listeners", "BAD-NAME://:9092", "letters, digits and underscores"},
		{"listener.security.protocol.map", "EXTERNAL:SSL,INTERNAL:PLAINTEXT", ""},
		{"listener.security.protocol.map", "EXTERNAL:TLS", "unknown security protocol"},
		{"listener.security.protocol.map", "EXTERNAL", "NAME:PROTOCOL"},
		{"listener.security.protocol.map", "A:SSL,a:PLAINTEXT", "mapped twice"},
		{"controller.quorum.voters", "1@c1:9093,2@c2:9093,3@[::1]:9093", ""},
		{"controller.quorum.voters", "1@c1:9093,1@c2:9093", "appears twice"},
		{"controller.quorum.voters", "c1:9093", "id@host:port"},
		{"controller.quorum.voters", "x@c1:9093", "non-negative INT"},
		{"controller.quorum.voters", "1@:9093", "host and a non-zero port"},
		{"controller.quorum.bootstrap.servers", "c1:9093,c2:9093", ""},
		{"controller.quorum.bootstrap.servers", "c1", "host:port"},
		{"log.dirs", "/a,/b", ""},
		{"log.dirs", "/a,,/b", "empty element"},
		{"log.dirs", "/a,/a", "duplicate"},
		{"log.dir", "", "must not be empty"},
		{"cluster.id", "MkU3OEVBNTcwNTJENDM2Qk", ""},
		{"cluster.id", "not-a-uuid", "UUID"},
		{"http.addr", "", ""},
		{"http.addr", "127.0.0.1:0", ""},
		{"http.addr", "localhost", "host:port"},
		{"security.inter.broker.protocol", "SASL_SSL", ""},
		{"security.inter.broker.protocol", "KERBEROS", "one of"},
		{"node.id", "-1", "at least 0"},
		{"auto.create.topics.enable", "maybe", "true or false"},
	}
	for _, tt := range tests {
		d, ok := brokerIndex[tt.key]
		if !ok {
			t.Fatalf("%s: not in the broker table", tt.key)
		}
		_, err := d.check(tt.value)
		switch {
		case tt.reason == "" && err != nil:
			t.Errorf("%s=%q: unexpected error %v", tt.key, tt.value, err)
		case tt.reason != "" && err == nil:
			t.Errorf("%s=%q: accepted, want an error with %q", tt.key, tt.value, tt.reason)
		case tt.reason != "":
			msg := err.Error()
			if !strings.Contains(msg, tt.key) || !strings.Contains(msg, tt.reason) {
				t.Errorf("%s=%q: error %q should name the key and say %q", tt.key, tt.value, msg, tt.reason)
			}
			if !errors.Is(err, kerr.InvalidConfig) {
				t.Errorf("%s=%q: error does not map to INVALID_CONFIG", tt.key, tt.value)
			}
		}
	}
}

func TestThrottledReplicas(t *testing.T) {
	for in, ok := range map[string]bool{"": true, "*": true, "0:1,1:2": true, "0:1, 1 : 2": true, "0-1": false, "a:1": false, "*,0:1": false} {
		err := ValidateTopicConfigs(map[string]string{"leader.replication.throttled.replicas": in})
		if (err == nil) != ok {
			t.Errorf("%q: err %v, want ok=%v", in, err, ok)
		}
	}
}
