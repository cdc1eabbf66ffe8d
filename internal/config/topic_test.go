package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func mustLoad(t *testing.T, sets ...string) *Broker {
	t.Helper()
	b, _, err := load("", sets, nil, fixedHost)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTopicSynonyms(t *testing.T) {
	tests := []struct {
		name      string
		sets      []string
		overrides map[string]string
		key       string
		value     string
		source    Source
	}{
		{"retention default from log.retention.hours", nil, nil, "retention.ms", "604800000", SourceDefault},
		{"retention from hours", []string{"log.retention.hours=24"}, nil, "retention.ms", "86400000", SourceStatic},
		{"minutes beat hours", []string{"log.retention.hours=24", "log.retention.minutes=5"}, nil, "retention.ms", "300000", SourceStatic},
		{"ms beat minutes", []string{"log.retention.minutes=5", "log.retention.ms=1234"}, nil, "retention.ms", "1234", SourceStatic},
		{"negative hours mean forever", []string{"log.retention.hours=-1"}, nil, "retention.ms", "-1", SourceStatic},
		{"negative ms mean forever", []string{"log.retention.ms=-5"}, nil, "retention.ms", "-1", SourceStatic},
		{"topic override wins", []string{"log.retention.ms=1234"}, map[string]string{"retention.ms": "99"}, "retention.ms", "99", SourceTopic},
		{"segment.ms from log.roll.hours", []string{"log.roll.hours=1"}, nil, "segment.ms", "3600000", SourceStatic},
		{"segment.ms from log.roll.ms", []string{"log.roll.hours=1", "log.roll.ms=500"}, nil, "segment.ms", "500", SourceStatic},
		{"segment.jitter.ms from hours", []string{"log.roll.jitter.hours=2"}, nil, "segment.jitter.ms", "7200000", SourceStatic},
		{"segment.bytes", []string{"log.segment.bytes=2097152"}, nil, "segment.bytes", "2097152", SourceStatic},
		{"segment.index.bytes", []string{"log.index.size.max.bytes=4096"}, nil, "segment.index.bytes", "4096", SourceStatic},
		{"index.interval.bytes", []string{"log.index.interval.bytes=100"}, nil, "index.interval.bytes", "100", SourceStatic},
		{"flush.ms from the scheduler interval", []string{"log.flush.scheduler.interval.ms=1000"}, nil, "flush.ms", "1000", SourceStatic},
		{"flush.ms from log.flush.interval.ms", []string{"log.flush.scheduler.interval.ms=1000", "log.flush.interval.ms=10"}, nil, "flush.ms", "10", SourceStatic},
		{"flush.messages", []string{"log.flush.interval.messages=1"}, nil, "flush.messages", "1", SourceStatic},
		{"max.message.bytes from message.max.bytes", []string{"message.max.bytes=100"}, nil, "max.message.bytes", "100", SourceStatic},
		{"cleanup.policy", []string{"log.cleanup.policy=compact"}, nil, "cleanup.policy", "compact", SourceStatic},
		{"cleanup.policy override", nil, map[string]string{"cleanup.policy": "compact, delete"}, "cleanup.policy", "compact,delete", SourceTopic},
		{"compression.type", []string{"compression.type=zstd"}, nil, "compression.type", "zstd", SourceStatic},
		{"timestamp type", []string{"log.message.timestamp.type=LogAppendTime"}, nil, "message.timestamp.type", "LogAppendTime", SourceStatic},
		{"file.delete.delay.ms", []string{"log.segment.delete.delay.ms=0"}, nil, "file.delete.delay.ms", "0", SourceStatic},
		{"delete.retention.ms", []string{"log.cleaner.delete.retention.ms=5"}, nil, "delete.retention.ms", "5", SourceStatic},
		{"min.cleanable.dirty.ratio", []string{"log.cleaner.min.cleanable.ratio=0.1"}, nil, "min.cleanable.dirty.ratio", "0.1", SourceStatic},
		{"min.insync.replicas", []string{"min.insync.replicas=2"}, nil, "min.insync.replicas", "2", SourceStatic},
		{"retention.bytes", []string{"log.retention.bytes=1000"}, nil, "retention.bytes", "1000", SourceStatic},
		{"unclean election", []string{"unclean.leader.election.enable=true"}, nil, "unclean.leader.election.enable", "true", SourceStatic},
		{"no synonym: default", nil, nil, "leader.replication.throttled.replicas", "", SourceDefault},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc, err := TopicConfig(mustLoad(t, tt.sets...), tt.overrides)
			if err != nil {
				t.Fatal(err)
			}
			e, ok := tc.Entry(tt.key)
			if !ok || e.Value == nil || *e.Value != tt.value || e.Source != tt.source {
				t.Fatalf("%s = %v from %v, want %s from %v", tt.key, deref(e.Value), e.Source, tt.value, tt.source)
			}
		})
	}
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// TestTopicTypedFields checks that the typed fields follow the entries.
func TestTopicTypedFields(t *testing.T) {
	b := mustLoad(t, "log.retention.hours=1", "log.segment.bytes=2097152", "log.cleanup.policy=compact")
	tc, err := TopicConfig(b, map[string]string{
		"segment.ms": "1000", "max.message.bytes": "500", "message.timestamp.type": "LogAppendTime",
		"compression.type": "lz4", "flush.messages": "1", "min.compaction.lag.ms": "7",
	})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(tc.RetentionMs, tc.SegmentBytes, tc.SegmentMs, tc.MaxMessageBytes, tc.LogAppendTime(),
		tc.CompressionType, tc.FlushMessages, tc.MinCompactionLagMs, tc.Compact(), tc.Delete(), tc.SegmentIndexBytes, tc.IndexIntervalBytes)
	want := fmt.Sprint(int64(3600000), int32(2097152), int64(1000), int32(500), true, "lz4", int64(1), int64(7), true, false, int32(10485760), int32(4096))
	if got != want {
		t.Errorf("typed fields %s, want %s", got, want)
	}
	if tc.Overrides["segment.ms"] != "1000" || len(tc.Overrides) != 6 {
		t.Errorf("overrides %v", tc.Overrides)
	}
}

// TestTopicEntrySynonyms checks the synonym list DescribeConfigs shows:
// the topic override, then each broker synonym through its layers.
func TestTopicEntrySynonyms(t *testing.T) {
	b := mustLoad(t, "log.retention.minutes=30")
	b, err := b.WithDynamic(map[string]string{"log.retention.ms": "5000"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := TopicConfig(b, map[string]string{"retention.ms": "100"})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := tc.Entry("retention.ms")
	var got []string
	for _, s := range e.Synonyms {
		got = append(got, s.Name+"="+deref(s.Value)+"/"+s.Source.String())
	}
	want := []string{
		"retention.ms=100/DYNAMIC_TOPIC_CONFIG",
		"log.retention.ms=5000/DYNAMIC_DEFAULT_BROKER_CONFIG",
		"log.retention.minutes=30/STATIC_BROKER_CONFIG",
		"log.retention.hours=168/DEFAULT_CONFIG",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("synonyms\n%q\nwant\n%q", got, want)
	}
	if e.ReadOnly || e.Type != Long || e.Doc == "" || *e.Value != "100" || e.Source != SourceTopic {
		t.Errorf("entry %+v", e)
	}

	// Without the override the dynamic default wins.
	tc, _ = TopicConfig(b, nil)
	if tc.RetentionMs != 5000 {
		t.Errorf("retention %d, want 5000 from the dynamic cluster default", tc.RetentionMs)
	}
	if len(tc.Entries()) != len(topicDefs) {
		t.Errorf("%d entries, want %d", len(tc.Entries()), len(topicDefs))
	}
}

func TestValidateTopicConfigs(t *testing.T) {
	tests := []struct {
		configs map[string]string
		want    string // "" for valid
	}{
		{map[string]string{"retention.ms": "-1", "cleanup.policy": "compact,delete", "segment.bytes": "1048576"}, ""},
		{map[string]string{"retention.ms": "-2"}, "Invalid value -2 for configuration retention.ms: Value must be at least -1"},
		{map[string]string{"segment.bytes": "1000"}, "Invalid value 1000 for configuration segment.bytes: Value must be at least 1048576"},
		{map[string]string{"segment.ms": "0"}, "segment.ms"},
		{map[string]string{"max.message.bytes": "big"}, "Invalid value big for configuration max.message.bytes: not a number of type INT"},
		{map[string]string{"cleanup.policy": "remove"}, "cleanup.policy"},
		{map[string]string{"message.timestamp.type": "Now"}, "message.timestamp.type"},
		{map[string]string{"min.cleanable.dirty.ratio": "2"}, "min.cleanable.dirty.ratio"},
		{map[string]string{"min.insync.replicas": "0"}, "min.insync.replicas"},
		{map[string]string{"unclean.leader.election.enable": "no"}, "unclean.leader.election.enable"},
		{map[string]string{"flush.messages": "0"}, "flush.messages"},
		{map[string]string{"segment.index.bytes": "3"}, "segment.index.bytes"},
		{map[string]string{"log.retention.ms": "1"}, "Unknown topic config name: log.retention.ms"},
		{map[string]string{"retention.ms": "1", "bogus": "x"}, "Unknown topic config name: bogus"},
	}
	for _, tt := range tests {
		err := ValidateTopicConfigs(tt.configs)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%v: %v", tt.configs, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.configs, err, tt.want)
			continue
		}
		if !errors.Is(err, kerr.InvalidConfig) {
			t.Errorf("%v: %v does not map to INVALID_CONFIG", tt.configs, err)
		}
	}
	// TopicConfig applies the same checks, plus the combination.
	b := mustLoad(t)
	if _, err := TopicConfig(b, map[string]string{"nope": "1"}); err == nil || err.Error() != "Unknown topic config name: nope" {
		t.Errorf("unknown override: %v", err)
	}
	_, err := TopicConfig(b, map[string]string{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"})
	if err == nil || !strings.Contains(err.Error(), "max.compaction.lag.ms") || !errors.Is(err, kerr.InvalidConfig) {
		t.Errorf("compaction lags: %v", err)
	}
}

func TestBrokerDynamic(t *testing.T) {
	b := mustLoad(t, "message.max.bytes=2000")
	d, err := b.WithDynamic(map[string]string{"message.max.bytes": "3000", "log.segment.bytes": "2097152"},
		map[string]string{"message.max.bytes": "4000"})
	if err != nil {
		t.Fatal(err)
	}
	if d.MessageMaxBytes != 4000 || d.TopicDefaults.MaxMessageBytes != 4000 || d.TopicDefaults.SegmentBytes != 2097152 {
		t.Errorf("dynamic: %d %d %d", d.MessageMaxBytes, d.TopicDefaults.MaxMessageBytes, d.TopicDefaults.SegmentBytes)
	}
	if b.MessageMaxBytes != 2000 {
		t.Error("WithDynamic changed its receiver")
	}
	e, _ := d.Entry("message.max.bytes")
	var got []string
	for _, s := range e.Synonyms {
		got = append(got, deref(s.Value)+"/"+s.Source.String())
	}
	want := "4000/DYNAMIC_BROKER_CONFIG 3000/DYNAMIC_DEFAULT_BROKER_CONFIG 2000/STATIC_BROKER_CONFIG 1048588/DEFAULT_CONFIG"
	if strings.Join(got, " ") != want || e.Source != SourceDynamicBroker || e.ReadOnly {
		t.Errorf("entry %v from %v synonyms %q, want %q", deref(e.Value), e.Source, got, want)
	}
	if d.AdvertisedListeners[0].Host != "127.0.0.1" {
		t.Errorf("advertised %v", d.AdvertisedListeners)
	}

	for _, tt := range []struct {
		cluster, broker map[string]string
		want            string
	}{
		{map[string]string{"log.dirs": "/x"}, nil, "read-only"},
		{nil, map[string]string{"num.partitions": "3"}, "read-only"},
		{nil, map[string]string{"no.such": "1"}, "Unknown broker config name: no.such"},
		{nil, map[string]string{"message.max.bytes": "-1"}, "at least 0"},
	} {
		if _, err := b.WithDynamic(tt.cluster, tt.broker); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("WithDynamic(%v, %v): %v, want %q", tt.cluster, tt.broker, err, tt.want)
		}
	}
}

func TestBrokerEntries(t *testing.T) {
	b := mustLoad(t, "log.retention.hours=24")
	entries := b.Entries()
	if len(entries) != len(brokerDefs) {
		t.Fatalf("%d entries, want %d", len(entries), len(brokerDefs))
	}
	for i := 1; i < len(entries); i++ {
		if entries[i-1].Name >= entries[i].Name {
			t.Fatalf("entries not sorted: %s before %s", entries[i-1].Name, entries[i].Name)
		}
	}
	e, _ := b.Entry("log.retention.ms")
	if e.Value != nil || e.Source != SourceDefault {
		t.Errorf("log.retention.ms = %v from %v, want null default", deref(e.Value), e.Source)
	}
	var got []string
	for _, s := range e.Synonyms {
		got = append(got, s.Name+"="+deref(s.Value)+"/"+s.Source.String())
	}
	if want := "log.retention.hours=24/STATIC_BROKER_CONFIG log.retention.hours=168/DEFAULT_CONFIG"; strings.Join(got, " ") != want {
		t.Errorf("synonyms %q, want %q", got, want)
	}
	if e, _ := b.Entry("log.dirs"); !e.ReadOnly {
		t.Error("log.dirs should be read-only")
	}
	if _, ok := b.Entry("nope"); ok {
		t.Error("Entry of an unknown key")
	}
}

func TestSensitiveEntries(t *testing.T) {
	d := &Def{Name: "p", Type: Password}
	if shown(d, "secret") != nil {
		t.Error("a password value is shown")
	}
}

// TestDynamicKeepsHostName checks that a rebuild with dynamic settings
// advertises the host name the static load chose, for each listener.
func TestDynamicKeepsHostName(t *testing.T) {
	b := mustLoad(t, "listeners=A://10.0.0.1:9092,PLAINTEXT://:9093", "listener.security.protocol.map=A:PLAINTEXT,PLAINTEXT:PLAINTEXT")
	d, err := b.WithDynamic(nil, map[string]string{"message.max.bytes": "10"})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.AdvertisedListeners[0].Host + " " + d.AdvertisedListeners[1].Host; got != "10.0.0.1 node-a" {
		t.Errorf("advertised hosts %q, want %q", got, "10.0.0.1 node-a")
	}
}
