package config

import (
	"fmt"
	"math"
	"slices"
)

// Topic holds one topic's effective settings. Fields are named after the
// keys (SegmentBytes is segment.bytes) and keep Kafka's units. The storage
// engine's Config is filled from them.
type Topic struct {
	// CleanupPolicy is a subset of {delete, compact}.
	CleanupPolicy                []string
	CompressionType              string // producer, uncompressed, gzip, snappy, lz4, zstd
	CompressionGzipLevel         int32
	CompressionLz4Level          int32
	CompressionZstdLevel         int32
	DeleteRetentionMs            int64
	FileDeleteDelayMs            int64
	FlushMessages                int64
	FlushMs                      int64
	IndexIntervalBytes           int32
	MaxCompactionLagMs           int64
	MaxMessageBytes              int32
	MessageTimestampType         string // CreateTime or LogAppendTime
	MessageTimestampBeforeMaxMs  int64
	MessageTimestampAfterMaxMs   int64
	MinCleanableDirtyRatio       float64
	MinCompactionLagMs           int64
	MinInsyncReplicas            int32
	Preallocate                  bool
	RetentionBytes               int64 // -1: no limit
	RetentionMs                  int64 // -1: forever
	SegmentBytes                 int32
	SegmentIndexBytes            int32
	SegmentJitterMs              int64
	SegmentMs                    int64
	UncleanLeaderElectionEnable  bool
	LeaderReplicationThrottled   []string
	FollowerReplicationThrottled []string

	// Overrides are the topic's own settings (DYNAMIC_TOPIC_CONFIG), as
	// given.
	Overrides map[string]string

	entries map[string]Entry
}

// Compact reports whether cleanup.policy includes compact.
func (t *Topic) Compact() bool { return slices.Contains(t.CleanupPolicy, "compact") }

// Delete reports whether cleanup.policy includes delete.
func (t *Topic) Delete() bool { return slices.Contains(t.CleanupPolicy, "delete") }

// LogAppendTime reports whether message.timestamp.type is LogAppendTime.
func (t *Topic) LogAppendTime() bool { return t.MessageTimestampType == "LogAppendTime" }

// Entry is one setting as DescribeConfigs reports it.
type Entry struct {
	Name string
	// Value is nil when the setting is null or sensitive.
	Value     *string
	Source    Source
	ReadOnly  bool
	Sensitive bool
	Type      Type
	Doc       string
	// Synonyms are the settings the value could come from, most preferred
	// first, each with the layer that sets it, the entry's own name
	// included (Kafka's order: topic override, then each broker synonym
	// through its dynamic per-broker, dynamic default, static and default
	// layers).
	Synonyms []EntrySynonym
}

// EntrySynonym is one synonym of an Entry.
type EntrySynonym struct {
	Name   string
	Value  *string // nil when sensitive
	Source Source
}

// Entries returns every non-internal topic setting as DescribeConfigs
// reports it, sorted by name.
func (t *Topic) Entries() []Entry {
	out := make([]Entry, 0, len(t.entries))
	for _, d := range TopicDefs() {
		if e, ok := t.entries[d.Name]; ok && !d.Internal {
			out = append(out, e)
		}
	}
	return out
}

// Entry returns one topic setting as DescribeConfigs reports it.
func (t *Topic) Entry(name string) (Entry, bool) {
	e, ok := t.entries[name]
	return e, ok
}

// ValidateTopicConfigs checks topic settings as CreateTopics,
// AlterConfigs and IncrementalAlterConfigs receive them. The error is an
// *Error (errors.Is(err, kerr.InvalidConfig) holds) whose message is
// Kafka's: "Unknown topic config name: x" for an unknown key, "Invalid
// value v for configuration k: reason" for a bad value.
func ValidateTopicConfigs(configs map[string]string) error {
	for _, name := range sortedKeys(configs) {
		d, ok := topicIndex[name]
		if !ok {
			return &Error{Name: name, Unknown: true, Reason: "Unknown topic config name: " + name}
		}
		if _, err := d.check(configs[name]); err != nil {
			return err
		}
	}
	return nil
}

// TopicConfig resolves a topic's effective settings: the topic's override
// if it has one, else the first broker synonym set in the broker's layers,
// else the broker synonym's default, else the topic default. It validates
// overrides as ValidateTopicConfigs does and checks the combination
// (min.compaction.lag.ms must not exceed max.compaction.lag.ms).
func TopicConfig(brokerCfg *Broker, overrides map[string]string) (Topic, error) {
	if err := ValidateTopicConfigs(overrides); err != nil {
		return Topic{}, err
	}
	t := Topic{Overrides: make(map[string]string, len(overrides)), entries: make(map[string]Entry, len(topicDefs))}
	for k, v := range overrides {
		t.Overrides[k] = v
	}
	values := make(valueMap, len(topicDefs))
	for i := range topicDefs {
		d := &topicDefs[i]
		v, e, err := resolveTopic(d, brokerCfg, overrides)
		if err != nil {
			return Topic{}, err
		}
		values[d.Name] = v
		t.entries[d.Name] = e
	}
	t.fill(values)
	if t.MinCompactionLagMs > t.MaxCompactionLagMs {
		return Topic{}, &Error{Name: TopicMaxCompactionLagMs, Value: fmt.Sprint(t.MaxCompactionLagMs),
			Reason: fmt.Sprintf("conflicts with min.compaction.lag.ms (%d): the maximum compaction lag must not be below the minimum", t.MinCompactionLagMs)}
	}
	return t, nil
}

// resolveTopic finds one topic setting's value and builds its Entry.
func resolveTopic(d *Def, b *Broker, overrides map[string]string) (any, Entry, error) {
	e := Entry{Name: d.Name, Type: d.Type, Doc: d.Doc, Sensitive: d.Sensitive()}
	var (
		value any
		found bool
	)
	if text, ok := overrides[d.Name]; ok {
		v, err := d.check(text)
		if err != nil {
			return nil, Entry{}, err
		}
		value, found, e.Source = v, true, SourceTopic
		e.Synonyms = append(e.Synonyms, EntrySynonym{Name: d.Name, Value: shown(d, v), Source: SourceTopic})
	}
	for _, syn := range d.Synonyms {
		bd, ok := brokerIndex[syn.Name]
		if !ok || b == nil {
			continue
		}
		for _, layer := range b.layers(bd) {
			e.Synonyms = append(e.Synonyms, EntrySynonym{Name: syn.Name, Value: shown(bd, layer.value), Source: layer.source})
			if found {
				continue
			}
			v, err := convert(layer.value, syn.Scale, d.Type)
			if err != nil {
				return nil, Entry{}, fmt.Errorf("%s from broker setting %s: %w", d.Name, syn.Name, err)
			}
			if n, ok := v.(int64); ok && n < 0 && d.Name == TopicRetentionMs {
				v = int64(-1) // any negative broker retention means "forever", as in Kafka
			}
			value, found, e.Source = v, true, layer.source
		}
	}
	if !found {
		v, err := d.defaultValue()
		if err != nil {
			return nil, Entry{}, err
		}
		value, e.Source = v, SourceDefault
	}
	// Broker synonyms were validated against the broker's rules; the
	// topic's rules can be stricter (retention.ms rejects below -1), so
	// check the converted value too.
	if d.Validator != nil && value != nil && e.Source != SourceTopic {
		if reason := d.Validator.Validate(value); reason != "" {
			return nil, Entry{}, &Error{Name: d.Name, Value: formatValue(value), Reason: reason + " (value inherited from the broker configuration)"}
		}
	}
	e.Value = shown(d, value)
	return value, e, nil
}

// shown renders a value for DescribeConfigs: nil when null or sensitive.
func shown(d *Def, v any) *string {
	if v == nil || d.Sensitive() {
		return nil
	}
	s := formatValue(v)
	return &s
}

// brokerLayer is one place a broker setting is set.
type brokerLayer struct {
	value  any
	source Source
}

// layers lists where a broker setting is set, highest precedence first,
// ending with its default when that is not null.
func (b *Broker) layers(d *Def) []brokerLayer {
	var out []brokerLayer
	for _, l := range []struct {
		m   map[string]string
		src Source
	}{{b.dynBroker, SourceDynamicBroker}, {b.dynDefault, SourceDynamicDefault}, {b.Raw, SourceStatic}} {
		if text, ok := l.m[d.Name]; ok {
			// Load validated every layer, so this parse succeeds.
			if v, err := d.check(text); err == nil {
				out = append(out, brokerLayer{v, l.src})
			}
		}
	}
	if v, err := d.defaultValue(); err == nil && v != nil {
		out = append(out, brokerLayer{v, SourceDefault})
	}
	return out
}

// convert turns a broker value into the topic setting's type, scaling
// units (hours to milliseconds). Negative scaled durations mean "forever"
// and become -1, as Kafka treats them.
func convert(v any, scale int64, to Type) (any, error) {
	if scale == 0 {
		scale = 1
	}
	n, isInt := asInt64(v)
	if !isInt {
		return v, nil // bool, string, list, double: same type on both sides
	}
	if n < 0 && scale != 1 {
		n = -1
	} else if scale != 1 {
		if n > math.MaxInt64/scale {
			n = math.MaxInt64
		} else {
			n *= scale
		}
	}
	switch to {
	case Long:
		return n, nil
	case Int:
		if n < math.MinInt32 || n > math.MaxInt32 {
			return nil, fmt.Errorf("value %d does not fit an INT", n)
		}
		return int32(n), nil
	case Short:
		if n < math.MinInt16 || n > math.MaxInt16 {
			return nil, fmt.Errorf("value %d does not fit a SHORT", n)
		}
		return int16(n), nil
	}
	return v, nil
}

func (t *Topic) fill(b valueMap) {
	t.CleanupPolicy = b.list(TopicCleanupPolicy)
	t.CompressionType = b.str(TopicCompressionType)
	t.CompressionGzipLevel = b.i32("compression.gzip.level")
	t.CompressionLz4Level = b.i32("compression.lz4.level")
	t.CompressionZstdLevel = b.i32("compression.zstd.level")
	t.DeleteRetentionMs = b.i64(TopicDeleteRetentionMs)
	t.FileDeleteDelayMs = b.i64(TopicFileDeleteDelayMs)
	t.FlushMessages = b.i64(TopicFlushMessages)
	t.FlushMs = b.i64(TopicFlushMs)
	t.IndexIntervalBytes = b.i32(TopicIndexIntervalBytes)
	t.MaxCompactionLagMs = b.i64(TopicMaxCompactionLagMs)
	t.MaxMessageBytes = b.i32(TopicMaxMessageBytes)
	t.MessageTimestampType = b.str(TopicMessageTimestampType)
	t.MessageTimestampBeforeMaxMs = b.i64(TopicMessageTimestampBeforeMaxMs)
	t.MessageTimestampAfterMaxMs = b.i64(TopicMessageTimestampAfterMaxMs)
	t.MinCleanableDirtyRatio = b.f64(TopicMinCleanableDirtyRatio)
	t.MinCompactionLagMs = b.i64(TopicMinCompactionLagMs)
	t.MinInsyncReplicas = b.i32(TopicMinInsyncReplicas)
	t.Preallocate = b.bool("preallocate")
	t.RetentionBytes = b.i64(TopicRetentionBytes)
	t.RetentionMs = b.i64(TopicRetentionMs)
	t.SegmentBytes = b.i32(TopicSegmentBytes)
	t.SegmentIndexBytes = b.i32(TopicSegmentIndexBytes)
	t.SegmentJitterMs = b.i64(TopicSegmentJitterMs)
	t.SegmentMs = b.i64(TopicSegmentMs)
	t.UncleanLeaderElectionEnable = b.bool(TopicUncleanLeaderElection)
	t.LeaderReplicationThrottled = b.list("leader.replication.throttled.replicas")
	t.FollowerReplicationThrottled = b.list("follower.replication.throttled.replicas")
}
