package conformance

import (
	"bytes"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The admin APIs: every advertised version, Kafka's semantics.

func init() {
	for key, test := range map[int16]string{
		21: "TestDeleteRecords",
		23: "TestOffsetForLeaderEpoch",
		32: "TestDescribeConfigs",
		33: "TestAlterConfigs",
		35: "TestDescribeLogDirs",
		37: "TestCreatePartitions",
		44: "TestIncrementalAlterConfigs",
		60: "TestDescribeCluster",
		75: "TestDescribeTopicPartitions",
	} {
		covered[key] = test
	}
}

// --- DescribeConfigs (key 32) ------------------------------------------------

// describeTopicConfigs describes a topic's configs at version v, narrowed to
// names when not nil, and returns them by name.
func describeTopicConfigs(t testing.TB, c *client, v int16, topic string, names []string, synonyms, docs bool) (map[string]kmsg.DescribeConfigsResponseResourceConfig, int16) {
	t.Helper()
	req := versioned(kmsg.NewPtrDescribeConfigsRequest(), v)
	req.IncludeSynonyms, req.IncludeDocumentation = synonyms, docs
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = kmsg.ConfigResourceTypeTopic, topic, names
	req.Resources = append(req.Resources, rr)
	resp := c.do(req).(*kmsg.DescribeConfigsResponse)
	if len(resp.Resources) != 1 {
		t.Fatalf("DescribeConfigs v%d: %d resources answered", v, len(resp.Resources))
	}
	res := resp.Resources[0]
	if res.ResourceType != kmsg.ConfigResourceTypeTopic || res.ResourceName != topic {
		t.Errorf("DescribeConfigs v%d: answered resource %v %q", v, res.ResourceType, res.ResourceName)
	}
	out := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
	for _, cfg := range res.Configs {
		if _, dup := out[cfg.Name]; dup {
			t.Errorf("DescribeConfigs v%d: %s listed twice", v, cfg.Name)
		}
		out[cfg.Name] = cfg
	}
	return out, res.ErrorCode
}

// configValue is a config's value, "<null>" for a null one and "<absent>"
// when it is not in the map.
func configValue(cfgs map[string]kmsg.DescribeConfigsResponseResourceConfig, name string) string {
	cfg, ok := cfgs[name]
	switch {
	case !ok:
		return "<absent>"
	case cfg.Value == nil:
		return "<null>"
	}
	return *cfg.Value
}

func TestDescribeConfigs(t *testing.T) {
	setup := dial(t, shared.addr)
	topic := topicName(t, "cfg")
	createTopic(t, setup, topic, 1, map[string]string{"retention.ms": "123456", "cleanup.policy": "compact"})

	forVersions(t, 32, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		all, code := describeTopicConfigs(t, c, v, topic, nil, false, false)
		wantCode(t, "describe topic", code, nil)
		want := []struct {
			name, value string
			source      kmsg.ConfigSource
			typ         kmsg.ConfigType
		}{
			{"retention.ms", "123456", kmsg.ConfigSourceDynamicTopicConfig, kmsg.ConfigTypeLong},
			{"cleanup.policy", "compact", kmsg.ConfigSourceDynamicTopicConfig, kmsg.ConfigTypeList},
			{"max.message.bytes", "1048588", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeInt},
			{"retention.bytes", "-1", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeLong},
			{"min.insync.replicas", "1", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeInt},
			{"compression.type", "producer", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeString},
			{"unclean.leader.election.enable", "false", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeBoolean},
		}
		for _, w := range want {
			cfg, ok := all[w.name]
			if !ok {
				t.Errorf("%s missing from a full describe", w.name)
				continue
			}
			if got := configValue(all, w.name); got != w.value {
				t.Errorf("%s = %s, want %s", w.name, got, w.value)
			}
			if cfg.Source != w.source {
				t.Errorf("%s: source %v, want %v", w.name, cfg.Source, w.source)
			}
			if v >= 3 && cfg.ConfigType != w.typ {
				t.Errorf("%s: type %v, want %v", w.name, cfg.ConfigType, w.typ)
			}
			if cfg.ReadOnly || cfg.IsSensitive {
				t.Errorf("%s: read-only %v, sensitive %v; topic configs are neither", w.name, cfg.ReadOnly, cfg.IsSensitive)
			}
			if len(cfg.ConfigSynonyms) != 0 {
				t.Errorf("%s: synonyms %v although not asked for", w.name, cfg.ConfigSynonyms)
			}
			if v >= 3 && cfg.Documentation != nil {
				t.Errorf("%s: documentation although not asked for", w.name)
			}
		}

		// Narrowed, with synonyms and documentation.
		one, code := describeTopicConfigs(t, c, v, topic, []string{"retention.ms"}, true, true)
		wantCode(t, "describe one config", code, nil)
		if len(one) != 1 {
			t.Fatalf("ConfigNames [retention.ms]: %d configs answered", len(one))
		}
		syn := one["retention.ms"].ConfigSynonyms
		if len(syn) == 0 || syn[0].Name != "retention.ms" || syn[0].Value == nil || *syn[0].Value != "123456" ||
			syn[0].Source != kmsg.ConfigSourceDynamicTopicConfig {
			t.Errorf("retention.ms synonyms %+v, want the topic override first", syn)
		}
		for _, s := range syn[1:] {
			if !strings.HasPrefix(s.Name, "log.retention.") {
				t.Errorf("retention.ms synonym %s, want broker log.retention.* settings after the override", s.Name)
			}
		}
		if d := one["retention.ms"].Documentation; v >= 3 && (d == nil || *d == "") {
			t.Errorf("documentation asked for and not given")
		}

		// Errors per resource.
		if _, code := describeTopicConfigs(t, c, v, topicName(t, "missing"), nil, false, false); code != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("unknown topic: %s", errName(code))
		}

		// This broker, by its node id.
		req := versioned(kmsg.NewPtrDescribeConfigsRequest(), v)
		for _, name := range []string{"1", "2", ""} {
			rr := kmsg.NewDescribeConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, name
			req.Resources = append(req.Resources, rr)
		}
		resp := c.do(req).(*kmsg.DescribeConfigsResponse)
		if len(resp.Resources) != 3 {
			t.Fatalf("3 broker resources asked, %d answered", len(resp.Resources))
		}
		self := resp.Resources[0]
		wantCode(t, "describe broker 1", self.ErrorCode, nil)
		found := false
		for _, cfg := range self.Configs {
			if cfg.Name == "num.partitions" {
				found = true
				if cfg.Value == nil || *cfg.Value != "1" {
					t.Errorf("broker num.partitions = %v, want 1", cfg.Value)
				}
			}
		}
		if !found {
			t.Errorf("broker 1's configs lack num.partitions (%d configs)", len(self.Configs))
		}
		wantCode(t, "describe another broker's configs", resp.Resources[1].ErrorCode, kerr.InvalidRequest)
		wantCode(t, "describe the cluster default", resp.Resources[2].ErrorCode, nil)
	})
}

// --- AlterConfigs (key 33) ---------------------------------------------------

func TestAlterConfigs(t *testing.T) {
	forVersions(t, 33, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		topic := topicName(t, "alter")
		createTopic(t, c, topic, 1, map[string]string{"retention.ms": "123456"})
		alter := func(validate bool, name string, kv ...string) kmsg.AlterConfigsResponseResource {
			t.Helper()
			req := versioned(kmsg.NewPtrAlterConfigsRequest(), v)
			req.ValidateOnly = validate
			rr := kmsg.NewAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, name
			for i := 0; i+1 < len(kv); i += 2 {
				cfg := kmsg.NewAlterConfigsRequestResourceConfig()
				cfg.Name, cfg.Value = kv[i], kmsg.StringPtr(kv[i+1])
				rr.Configs = append(rr.Configs, cfg)
			}
			req.Resources = append(req.Resources, rr)
			resp := c.do(req).(*kmsg.AlterConfigsResponse)
			if len(resp.Resources) != 1 {
				t.Fatalf("AlterConfigs v%d: %d resources answered", v, len(resp.Resources))
			}
			r := resp.Resources[0]
			if r.ResourceType != kmsg.ConfigResourceTypeTopic || r.ResourceName != name {
				t.Errorf("answered resource %v %q", r.ResourceType, r.ResourceName)
			}
			return r
		}
		current := func() map[string]kmsg.DescribeConfigsResponseResourceConfig {
			cfgs, code := describeTopicConfigs(t, c, maxVersion(t, 32), topic, nil, false, false)
			if code != 0 {
				t.Fatalf("describe: %s", errName(code))
			}
			return cfgs
		}

		// validate_only: nothing changes.
		wantCode(t, "validate_only", alter(true, topic, "max.message.bytes", "2048").ErrorCode, nil)
		if got := configValue(current(), "max.message.bytes"); got != "1048588" {
			t.Errorf("validate_only changed max.message.bytes to %s", got)
		}

		// The set replaces every dynamic config: retention.ms returns to
		// its default.
		wantCode(t, "alter", alter(false, topic, "max.message.bytes", "2048").ErrorCode, nil)
		cfgs := current()
		if got := configValue(cfgs, "max.message.bytes"); got != "2048" || cfgs["max.message.bytes"].Source != kmsg.ConfigSourceDynamicTopicConfig {
			t.Errorf("max.message.bytes = %s from %v, want 2048 from the topic", got, cfgs["max.message.bytes"].Source)
		}
		if cfgs["retention.ms"].Source == kmsg.ConfigSourceDynamicTopicConfig {
			t.Errorf("retention.ms kept its override %s; AlterConfigs replaces the whole set", configValue(cfgs, "retention.ms"))
		}
		// And applies at once.
		big := batchSpec{firstTS: nowMs(), recs: []rec{{value: bytes.Repeat([]byte{7}, 3000)}}}.encode()
		if p := produce(t, c, min(maxVersion(t, 0), 12), topic, [16]byte{}, 0, big); p.ErrorCode != kerr.MessageTooLarge.Code {
			t.Errorf("a 3000-byte batch after max.message.bytes=2048: %s, want MESSAGE_TOO_LARGE", errName(p.ErrorCode))
		}

		wantCode(t, "bad value", alter(false, topic, "retention.ms", "soon").ErrorCode, kerr.InvalidConfig)
		wantCode(t, "unknown name", alter(false, topic, "no.such.config", "1").ErrorCode, kerr.InvalidConfig)
		wantCode(t, "unknown topic", alter(false, topicName(t, "missing"), "retention.ms", "1000").ErrorCode, kerr.UnknownTopicOrPartition)
		if got := configValue(current(), "max.message.bytes"); got != "2048" {
			t.Errorf("refused alters changed max.message.bytes to %s", got)
		}
	})
}

// --- IncrementalAlterConfigs (key 44) ----------------------------------------

func TestIncrementalAlterConfigs(t *testing.T) {
	forVersions(t, 44, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		topic := topicName(t, "incr")
		createTopic(t, c, topic, 1, map[string]string{"max.message.bytes": "5000"})
		type op struct {
			name  string
			op    kmsg.IncrementalAlterConfigOp
			value *string
		}
		alter := func(validate bool, name string, ops ...op) int16 {
			t.Helper()
			req := versioned(kmsg.NewPtrIncrementalAlterConfigsRequest(), v)
			req.ValidateOnly = validate
			rr := kmsg.NewIncrementalAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, name
			for _, o := range ops {
				cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
				cfg.Name, cfg.Op, cfg.Value = o.name, o.op, o.value
				rr.Configs = append(rr.Configs, cfg)
			}
			req.Resources = append(req.Resources, rr)
			resp := c.do(req).(*kmsg.IncrementalAlterConfigsResponse)
			if len(resp.Resources) != 1 {
				t.Fatalf("IncrementalAlterConfigs v%d: %d resources answered", v, len(resp.Resources))
			}
			if r := resp.Resources[0]; r.ResourceName != name || r.ResourceType != kmsg.ConfigResourceTypeTopic {
				t.Errorf("answered resource %v %q", r.ResourceType, r.ResourceName)
			}
			return resp.Resources[0].ErrorCode
		}
		get := func(name string) (string, kmsg.ConfigSource) {
			cfgs, code := describeTopicConfigs(t, c, maxVersion(t, 32), topic, []string{name}, false, false)
			if code != 0 {
				t.Fatalf("describe: %s", errName(code))
			}
			return configValue(cfgs, name), cfgs[name].Source
		}
		s := kmsg.StringPtr
		set, del := kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpDelete
		appendOp, subtract := kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract

		wantCode(t, "validate_only SET", alter(true, topic, op{"retention.ms", set, s("5000")}), nil)
		if val, src := get("retention.ms"); src == kmsg.ConfigSourceDynamicTopicConfig {
			t.Errorf("validate_only set retention.ms to %s", val)
		}
		wantCode(t, "SET", alter(false, topic, op{"retention.ms", set, s("5000")}), nil)
		if val, _ := get("retention.ms"); val != "5000" {
			t.Errorf("retention.ms = %s after SET 5000", val)
		}
		if val, _ := get("max.message.bytes"); val != "5000" {
			t.Errorf("max.message.bytes = %s; a SET of another config must leave it", val)
		}
		wantCode(t, "DELETE", alter(false, topic, op{"retention.ms", del, nil}), nil)
		if val, src := get("retention.ms"); src == kmsg.ConfigSourceDynamicTopicConfig {
			t.Errorf("retention.ms still overridden (%s) after DELETE", val)
		}
		wantCode(t, "APPEND to a list", alter(false, topic, op{"cleanup.policy", appendOp, s("compact")}), nil)
		if val, _ := get("cleanup.policy"); val != "delete,compact" {
			t.Errorf("cleanup.policy = %s after APPEND compact, want delete,compact", val)
		}
		wantCode(t, "APPEND an element already there", alter(false, topic, op{"cleanup.policy", appendOp, s("compact")}), nil)
		if val, _ := get("cleanup.policy"); val != "delete,compact" {
			t.Errorf("cleanup.policy = %s after a second APPEND compact, want delete,compact", val)
		}
		wantCode(t, "SUBTRACT from a list", alter(false, topic, op{"cleanup.policy", subtract, s("delete")}), nil)
		if val, _ := get("cleanup.policy"); val != "compact" {
			t.Errorf("cleanup.policy = %s after SUBTRACT delete, want compact", val)
		}

		wantCode(t, "APPEND to a non-list", alter(false, topic, op{"retention.ms", appendOp, s("1")}), kerr.InvalidConfig)
		wantCode(t, "bad value", alter(false, topic, op{"retention.ms", set, s("later")}), kerr.InvalidConfig)
		wantCode(t, "unknown name", alter(false, topic, op{"no.such.config", set, s("1")}), kerr.InvalidConfig)
		wantCode(t, "unknown operation", alter(false, topic, op{"retention.ms", 9, s("1")}), kerr.InvalidRequest)
		wantCode(t, "a name twice", alter(false, topic, op{"retention.ms", set, s("1000")}, op{"retention.ms", set, s("2000")}), kerr.InvalidRequest)
		wantCode(t, "unknown topic", alter(false, topicName(t, "missing"), op{"retention.ms", set, s("1000")}), kerr.UnknownTopicOrPartition)
		if val, src := get("retention.ms"); src == kmsg.ConfigSourceDynamicTopicConfig {
			t.Errorf("a refused change set retention.ms to %s", val)
		}
	})
}

// --- CreatePartitions (key 37) -----------------------------------------------

func TestCreatePartitions(t *testing.T) {
	forVersions(t, 37, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		topic := topicName(t, "grow")
		createTopic(t, c, topic, 1, nil)
		grow := func(validate bool, topics ...kmsg.CreatePartitionsRequestTopic) map[string]int16 {
			t.Helper()
			req := versioned(kmsg.NewPtrCreatePartitionsRequest(), v)
			req.TimeoutMillis, req.ValidateOnly = 10000, validate
			req.Topics = topics
			resp := c.do(req).(*kmsg.CreatePartitionsResponse)
			out := map[string]int16{}
			for _, rt := range resp.Topics {
				out[rt.Topic] = rt.ErrorCode
			}
			if len(resp.Topics) != len(topics) {
				t.Errorf("%d topics answered, %d asked", len(resp.Topics), len(topics))
			}
			return out
		}
		to := func(name string, count int32, assignment ...[]int32) kmsg.CreatePartitionsRequestTopic {
			rt := kmsg.NewCreatePartitionsRequestTopic()
			rt.Topic, rt.Count = name, count
			for _, a := range assignment {
				ra := kmsg.NewCreatePartitionsRequestTopicAssignment()
				ra.Replicas = a
				rt.Assignment = append(rt.Assignment, ra)
			}
			return rt
		}
		partitions := func() int { return len(metadataTopic(t, c, topic).Partitions) }

		wantCode(t, "validate_only to 3", grow(true, to(topic, 3))[topic], nil)
		if n := partitions(); n != 1 {
			t.Errorf("validate_only grew the topic to %d partitions", n)
		}
		wantCode(t, "grow to 3", grow(false, to(topic, 3))[topic], nil)
		waitServed(t, c, topic, 3)
		if n := partitions(); n != 3 {
			t.Errorf("after growing to 3: %d partitions", n)
		}
		if p := produce(t, c, min(maxVersion(t, 0), 12), topic, [16]byte{}, 2, simpleBatch(nowMs(), "new", 1)); p.ErrorCode != 0 || p.BaseOffset != 0 {
			t.Errorf("produce to new partition 2: %s at %d", errName(p.ErrorCode), p.BaseOffset)
		}
		wantCode(t, "grow to the current count", grow(false, to(topic, 3))[topic], kerr.InvalidPartitions)
		wantCode(t, "shrink", grow(false, to(topic, 2))[topic], kerr.InvalidPartitions)
		wantCode(t, "assignment on this node", grow(false, to(topic, 4, []int32{1}))[topic], nil)
		wantCode(t, "assignment naming an unknown broker", grow(false, to(topic, 5, []int32{7}))[topic], kerr.InvalidReplicaAssignment)
		wantCode(t, "assignment of the wrong length", grow(false, to(topic, 6, []int32{1}))[topic], kerr.InvalidReplicaAssignment)
		missing := topicName(t, "missing")
		wantCode(t, "unknown topic", grow(false, to(missing, 2))[missing], kerr.UnknownTopicOrPartition)
		for name, code := range grow(false, to(topic, 9), to(topic, 9)) {
			wantCode(t, "a topic twice ("+name+")", code, kerr.InvalidRequest)
		}
		waitServed(t, c, topic, 4)
		if n := partitions(); n != 4 {
			t.Errorf("after the refused requests: %d partitions, want 4", n)
		}
	})
}

// --- DeleteRecords (key 21) --------------------------------------------------

func TestDeleteRecords(t *testing.T) {
	forVersions(t, 21, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		topic := topicName(t, "trim")
		createTopic(t, c, topic, 1, nil)
		now := nowMs()
		mustProduce(t, c, topic, 0, simpleBatch(now, "a", 3))
		b2 := simpleBatch(now, "b", 2)
		mustProduce(t, c, topic, 0, b2)
		del := func(name string, partition int32, offset int64) kmsg.DeleteRecordsResponseTopicPartition {
			t.Helper()
			req := versioned(kmsg.NewPtrDeleteRecordsRequest(), v)
			req.TimeoutMillis = 10000
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = name
			rp := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp.Partition, rp.Offset = partition, offset
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := c.do(req).(*kmsg.DeleteRecordsResponse)
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Topic != name {
				t.Fatalf("DeleteRecords v%d: answer %+v", v, resp.Topics)
			}
			return resp.Topics[0].Partitions[0]
		}

		p := del(topic, 0, 3)
		wantCode(t, "delete before 3", p.ErrorCode, nil)
		if p.LowWatermark != 3 {
			t.Errorf("low watermark %d, want 3", p.LowWatermark)
		}
		if e, _ := listOffset(t, c, maxVersion(t, 2), topic, 0, -2, 0); e.Offset != 3 {
			t.Errorf("earliest offset %d after deleting below 3", e.Offset)
		}
		_, fp := fetchOne(t, c, fetchReq(min(maxVersion(t, 1), 12), topic, [16]byte{}, 0, 0, 1<<20, 1<<20))
		wantCode(t, "fetch below the log start", fp.ErrorCode, kerr.OffsetOutOfRange)
		_, fp = fetchOne(t, c, fetchReq(min(maxVersion(t, 1), 12), topic, [16]byte{}, 0, 3, 1<<20, 1<<20))
		if got, _ := splitBatches(fp.RecordBatches); fp.ErrorCode != 0 || fp.LogStartOffset != 3 || len(got) != 1 || sameBatch(got[0], b2, 3) != nil {
			t.Errorf("fetch from 3: %s, log start %d, %d batches; want NONE, 3, the second batch", errName(fp.ErrorCode), fp.LogStartOffset, len(got))
		}

		if p := del(topic, 0, 1); p.ErrorCode != 0 || p.LowWatermark != 3 {
			t.Errorf("deleting below the current start: %s, low watermark %d; want NONE, 3", errName(p.ErrorCode), p.LowWatermark)
		}
		wantCode(t, "offset past the high watermark", del(topic, 0, 6).ErrorCode, kerr.OffsetOutOfRange)
		wantCode(t, "unknown partition", del(topic, 4, 1).ErrorCode, kerr.UnknownTopicOrPartition)
		wantCode(t, "unknown topic", del(topicName(t, "missing"), 0, 1).ErrorCode, kerr.UnknownTopicOrPartition)
		if p := del(topic, 0, -1); p.ErrorCode != 0 || p.LowWatermark != 5 {
			t.Errorf("delete to -1 (the high watermark): %s, low watermark %d; want NONE, 5", errName(p.ErrorCode), p.LowWatermark)
		}
		// Producing goes on from the end.
		if base := mustProduce(t, c, topic, 0, simpleBatch(now, "c", 1)); base != 5 {
			t.Errorf("produce after trimming everything: base offset %d, want 5", base)
		}
	})
}

// --- OffsetForLeaderEpoch (key 23) -------------------------------------------

func TestOffsetForLeaderEpoch(t *testing.T) {
	setup := dial(t, shared.addr)
	topic := topicName(t, "epochs")
	createTopic(t, setup, topic, 1, nil)
	mustProduce(t, setup, topic, 0, simpleBatch(nowMs(), "e", 4))
	epoch := metadataTopic(t, setup, topic).Partitions[0].LeaderEpoch

	forVersions(t, 23, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		ask := func(name string, partition, current, leaderEpoch int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
			t.Helper()
			req := versioned(kmsg.NewPtrOffsetForLeaderEpochRequest(), v)
			req.ReplicaID = -1
			rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
			rt.Topic = name
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = partition, current, leaderEpoch
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := c.do(req).(*kmsg.OffsetForLeaderEpochResponse)
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Topic != name {
				t.Fatalf("OffsetForLeaderEpoch v%d: answer %+v", v, resp.Topics)
			}
			return resp.Topics[0].Partitions[0]
		}
		p := ask(topic, 0, -1, epoch)
		wantCode(t, "the current epoch", p.ErrorCode, nil)
		if p.LeaderEpoch != epoch || p.EndOffset != 4 {
			t.Errorf("epoch %d: answered epoch %d end offset %d; want %d, 4 (the log end)", epoch, p.LeaderEpoch, p.EndOffset, epoch)
		}
		p = ask(topic, 0, epoch, epoch)
		wantCode(t, "with CurrentLeaderEpoch", p.ErrorCode, nil)
		p = ask(topic, 0, -1, epoch+5)
		if p.ErrorCode != 0 || p.LeaderEpoch != -1 || p.EndOffset != -1 {
			t.Errorf("an epoch above the latest: %s, %d, %d; want NONE, -1, -1", errName(p.ErrorCode), p.LeaderEpoch, p.EndOffset)
		}
		wantCode(t, "a future CurrentLeaderEpoch", ask(topic, 0, epoch+1, epoch).ErrorCode, kerr.UnknownLeaderEpoch)
		if epoch > 0 {
			wantCode(t, "a stale CurrentLeaderEpoch", ask(topic, 0, epoch-1, epoch).ErrorCode, kerr.FencedLeaderEpoch)
		}
		wantCode(t, "unknown partition", ask(topic, 3, -1, epoch).ErrorCode, kerr.UnknownTopicOrPartition)
		wantCode(t, "unknown topic", ask(topicName(t, "missing"), 0, -1, 0).ErrorCode, kerr.UnknownTopicOrPartition)
	})
}

// --- DescribeLogDirs (key 35) ------------------------------------------------

func TestDescribeLogDirs(t *testing.T) {
	setup := dial(t, shared.addr)
	topic := topicName(t, "dirs")
	createTopic(t, setup, topic, 2, nil)
	batch := simpleBatch(nowMs(), "d", 5)
	mustProduce(t, setup, topic, 1, batch)
	wantDir, err := filepath.Abs(shared.dir)
	if err != nil {
		t.Fatal(err)
	}

	forVersions(t, 35, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		describe := func(topics []kmsg.DescribeLogDirsRequestTopic) kmsg.DescribeLogDirsResponseDir {
			t.Helper()
			req := versioned(kmsg.NewPtrDescribeLogDirsRequest(), v)
			req.Topics = topics
			resp := c.do(req).(*kmsg.DescribeLogDirsResponse)
			if v >= 3 {
				wantCode(t, "DescribeLogDirs", resp.ErrorCode, nil)
			}
			if len(resp.Dirs) != 1 {
				t.Fatalf("%d log dirs, want the one configured", len(resp.Dirs))
			}
			d := resp.Dirs[0]
			wantCode(t, "log dir", d.ErrorCode, nil)
			if d.Dir != wantDir {
				t.Errorf("log dir %q, want %q", d.Dir, wantDir)
			}
			if v >= 4 && (d.TotalBytes <= 0 || d.UsableBytes <= 0 || d.UsableBytes > d.TotalBytes) {
				t.Errorf("total %d, usable %d bytes", d.TotalBytes, d.UsableBytes)
			}
			return d
		}
		partitionsOf := func(d kmsg.DescribeLogDirsResponseDir, name string) []kmsg.DescribeLogDirsResponseDirTopicPartition {
			for _, dt := range d.Topics {
				if strings.HasPrefix(dt.Topic, "__cluster_metadata") {
					t.Errorf("the metadata log is listed as a partition")
				}
				if dt.Topic == name {
					return dt.Partitions
				}
			}
			return nil
		}

		all := describe(nil)
		ps := partitionsOf(all, topic)
		if len(ps) != 2 {
			t.Fatalf("all partitions: %s has %d, want 2", topic, len(ps))
		}
		for _, p := range ps {
			want := int64(0)
			if p.Partition == 1 {
				want = int64(len(batch))
			}
			if p.Size != want || p.OffsetLag != 0 || p.IsFuture {
				t.Errorf("partition %d: size %d, lag %d, future %v; want %d, 0, false", p.Partition, p.Size, p.OffsetLag, p.IsFuture, want)
			}
		}

		one := describe([]kmsg.DescribeLogDirsRequestTopic{{Topic: topic, Partitions: []int32{1}}, {Topic: topicName(t, "missing"), Partitions: []int32{0}}})
		if len(one.Topics) != 1 || one.Topics[0].Topic != topic || len(one.Topics[0].Partitions) != 1 || one.Topics[0].Partitions[0].Partition != 1 {
			t.Errorf("asked %s-1 and a missing topic: got %+v", topic, one.Topics)
		}
		if none := describe([]kmsg.DescribeLogDirsRequestTopic{}); len(none.Topics) != 0 {
			t.Errorf("an empty topic list: %d topics listed, want none", len(none.Topics))
		}
	})
}

// --- DescribeCluster (key 60) ------------------------------------------------

func TestDescribeCluster(t *testing.T) {
	setup := dial(t, shared.addr)
	md := setup.do(metaReq(maxVersion(t, 3), []string{})).(*kmsg.MetadataResponse)

	forVersions(t, 60, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		req := versioned(kmsg.NewPtrDescribeClusterRequest(), v)
		req.EndpointType = 1
		resp := c.do(req).(*kmsg.DescribeClusterResponse)
		wantCode(t, "DescribeCluster", resp.ErrorCode, nil)
		if md.ClusterID == nil || resp.ClusterID != *md.ClusterID {
			t.Errorf("cluster id %q, Metadata says %v", resp.ClusterID, md.ClusterID)
		}
		if resp.ControllerID != 1 {
			t.Errorf("controller %d, want 1", resp.ControllerID)
		}
		if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 1 || resp.Brokers[0].Host != shared.host ||
			resp.Brokers[0].Port != shared.port || resp.Brokers[0].IsFenced {
			t.Errorf("brokers %+v, want node 1 at %s:%d, not fenced", resp.Brokers, shared.host, shared.port)
		}
		if v >= 1 && resp.EndpointType != 1 {
			t.Errorf("endpoint type %d, want 1", resp.EndpointType)
		}
		if resp.ClusterAuthorizedOperations != math.MinInt32 {
			t.Errorf("authorized operations %d although not asked for", resp.ClusterAuthorizedOperations)
		}
		req.IncludeClusterAuthorizedOperations = true
		if ops := c.do(req).(*kmsg.DescribeClusterResponse).ClusterAuthorizedOperations; ops == math.MinInt32 || ops&(1<<8) == 0 {
			t.Errorf("authorized operations asked for: %b, want DESCRIBE set", ops)
		}
		if v >= 1 {
			ctl := versioned(kmsg.NewPtrDescribeClusterRequest(), v)
			ctl.EndpointType = 2
			wantCode(t, "controllers asked of a broker", c.do(ctl).(*kmsg.DescribeClusterResponse).ErrorCode, kerr.UnsupportedEndpointType)
		}
	})
}

// --- DescribeTopicPartitions (key 75) ----------------------------------------

func TestDescribeTopicPartitions(t *testing.T) {
	setup := dial(t, shared.addr)
	first, second := topicName(t, "a"), topicName(t, "b") // sorted: first < second
	firstID := createTopic(t, setup, first, 3, nil)
	createTopic(t, setup, second, 1, nil)

	forVersions(t, 75, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		describe := func(limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor, names ...string) *kmsg.DescribeTopicPartitionsResponse {
			t.Helper()
			req := versioned(kmsg.NewPtrDescribeTopicPartitionsRequest(), v)
			req.ResponsePartitionLimit, req.Cursor = limit, cursor
			for _, n := range names {
				req.Topics = append(req.Topics, kmsg.DescribeTopicPartitionsRequestTopic{Topic: n})
			}
			return c.do(req).(*kmsg.DescribeTopicPartitionsResponse)
		}

		resp := describe(2000, nil, second, first)
		if len(resp.Topics) != 2 || resp.NextCursor != nil {
			t.Fatalf("two topics asked: %d answered, next cursor %v", len(resp.Topics), resp.NextCursor)
		}
		a := resp.Topics[0]
		if a.Topic == nil || *a.Topic != first {
			t.Errorf("topics not sorted by name: first answered %v", a.Topic)
		}
		wantCode(t, "describe", a.ErrorCode, nil)
		if a.TopicID != firstID || a.IsInternal {
			t.Errorf("topic ID %x internal %v; want %x, false", a.TopicID, a.IsInternal, firstID)
		}
		if len(a.Partitions) != 3 {
			t.Fatalf("%d partitions, want 3", len(a.Partitions))
		}
		for i, p := range a.Partitions {
			if p.Partition != int32(i) || p.LeaderID != 1 || p.LeaderEpoch < 0 || !slices.Equal(p.Replicas, []int32{1}) ||
				!slices.Equal(p.ISR, []int32{1}) || len(p.OfflineReplicas) != 0 || p.ErrorCode != 0 {
				t.Errorf("partition %d: %+v", i, p)
			}
		}

		// Paging: a limit of 2 stops inside the first topic.
		page := describe(2, nil, first, second)
		if len(page.Topics) != 1 || len(page.Topics[0].Partitions) != 2 || page.NextCursor == nil ||
			page.NextCursor.Topic != first || page.NextCursor.Partition != 2 {
			t.Fatalf("limit 2: %d topics, cursor %+v; want %s's first two partitions and a cursor at %s-2", len(page.Topics), page.NextCursor, first, first)
		}
		rest := describe(2, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: first, Partition: 2}, first, second)
		if len(rest.Topics) != 2 || len(rest.Topics[0].Partitions) != 1 || rest.Topics[0].Partitions[0].Partition != 2 ||
			len(rest.Topics[1].Partitions) != 1 || rest.NextCursor != nil {
			t.Errorf("from the cursor: %d topics, cursor %+v; want %s-2 and %s-0, no cursor", len(rest.Topics), rest.NextCursor, first, second)
		}

		missing := topicName(t, "missing")
		mr := describe(2000, nil, missing)
		if len(mr.Topics) != 1 {
			t.Fatalf("one missing topic asked, %d answered", len(mr.Topics))
		}
		wantCode(t, "unknown topic", mr.Topics[0].ErrorCode, kerr.UnknownTopicOrPartition)

		all := describe(2000, nil)
		found := 0
		for _, tp := range all.Topics {
			if tp.Topic != nil && (*tp.Topic == first || *tp.Topic == second) {
				found++
			}
		}
		if found != 2 && all.NextCursor == nil {
			t.Errorf("an empty topic list describes every topic: found %d of ours", found)
		}
	})
}
