package admin

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/config"
)

// topicConfigs describes one topic's configs with kadm.
func topicConfigs(t testing.TB, adm *kadm.Client, topic string) map[string]kadm.Config {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		t.Fatalf("describe configs of %s: %v", topic, err)
	}
	out := make(map[string]kadm.Config, len(rc.Configs))
	for _, c := range rc.Configs {
		out[c.Key] = c
	}
	return out
}

// val is a config's value, "" when null.
func val(c kadm.Config) string { return c.MaybeValue() }

func wantConfig(t testing.TB, cs map[string]kadm.Config, key, value string, src kmsg.ConfigSource) {
	t.Helper()
	c, ok := cs[key]
	if !ok {
		t.Fatalf("config %s not described", key)
	}
	if c.MaybeValue() != value || c.Source != src {
		t.Fatalf("%s = %q from %v, want %q from %v", key, c.MaybeValue(), c.Source, value, src)
	}
}

func TestDescribeTopicConfigs(t *testing.T) {
	n := startNode(t, "log.retention.hours=48")
	_, adm := n.client(t)
	topic := topicName(t)
	createTopic(t, adm, topic, 1, map[string]*string{"segment.bytes": ptr("2097152")})

	cs := topicConfigs(t, adm, topic)
	visible := 0
	for _, d := range config.TopicDefs() {
		if !d.Internal {
			visible++
		}
	}
	if len(cs) != visible {
		t.Errorf("%d topic configs described, want every one of the %d known", len(cs), visible)
	}
	wantConfig(t, cs, "segment.bytes", "2097152", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(t, cs, "retention.ms", "172800000", kmsg.ConfigSourceStaticBrokerConfig)
	wantConfig(t, cs, "max.message.bytes", "1048588", kmsg.ConfigSourceDefaultConfig)
	wantConfig(t, cs, "cleanup.policy", "delete", kmsg.ConfigSourceDefaultConfig)

	// Synonyms, most preferred first: the override, then the broker
	// setting's layers.
	var syn []string
	for _, s := range cs["segment.bytes"].Synonyms {
		syn = append(syn, s.Key+"="+*s.Value+"/"+s.Source.String())
	}
	want := []string{
		"segment.bytes=2097152/DYNAMIC_TOPIC_CONFIG",
		"log.segment.bytes=1073741824/DEFAULT_CONFIG",
	}
	if strings.Join(syn, " ") != strings.Join(want, " ") {
		t.Errorf("segment.bytes synonyms %v, want %v", syn, want)
	}
	syn = nil
	for _, s := range cs["retention.ms"].Synonyms {
		syn = append(syn, s.Key+"="+*s.Value+"/"+s.Source.String())
	}
	want = []string{"log.retention.hours=48/STATIC_BROKER_CONFIG", "log.retention.hours=168/DEFAULT_CONFIG"}
	if strings.Join(syn, " ") != strings.Join(want, " ") {
		t.Errorf("retention.ms synonyms %v, want %v", syn, want)
	}
}

func TestDescribeConfigsRaw(t *testing.T) {
	n := startNode(t)
	_, adm := n.client(t)
	topic := topicName(t)
	createTopic(t, adm, topic, 1, nil)

	res := func(typ kmsg.ConfigResourceType, name string, names ...string) kmsg.DescribeConfigsRequestResource {
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName = typ, name
		if names != nil {
			r.ConfigNames = names
		}
		return r
	}
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeDocumentation = true
	req.Resources = []kmsg.DescribeConfigsRequestResource{
		res(kmsg.ConfigResourceTypeBroker, "1", "num.io.threads", "message.max.bytes", "no.such.config"),
		res(kmsg.ConfigResourceTypeTopic, topic, "retention.ms"),
		res(kmsg.ConfigResourceTypeTopic, topic+"-missing"),
		res(kmsg.ConfigResourceTypeTopic, "bad/name"),
		res(kmsg.ConfigResourceTypeTopic, ""),
		res(kmsg.ConfigResourceTypeBroker, "7"),
		res(kmsg.ConfigResourceTypeBroker, "one"),
		res(kmsg.ConfigResourceTypeBrokerLogger, "1"),
		res(kmsg.ConfigResourceTypeBroker, ""),
	}
	resp := dialRaw(t, n.addr).do(versioned(req, 4)).(*kmsg.DescribeConfigsResponse)
	if len(resp.Resources) != len(req.Resources) {
		t.Fatalf("%d resources answered, want %d", len(resp.Resources), len(req.Resources))
	}
	wantCodes := []*kerr.Error{nil, nil, kerr.UnknownTopicOrPartition, kerr.InvalidTopicException,
		kerr.InvalidRequest, kerr.InvalidRequest, kerr.InvalidRequest, kerr.InvalidRequest, nil}
	for i, w := range wantCodes {
		r := resp.Resources[i]
		wantCode(t, r.ResourceType.String()+" "+r.ResourceName, r.ErrorCode, w)
		if w != nil && (r.ErrorMessage == nil || *r.ErrorMessage == "") {
			t.Errorf("%s %q: no error message", r.ResourceType, r.ResourceName)
		}
	}

	b := resp.Resources[0]
	if len(b.Configs) != 2 {
		t.Fatalf("broker configs %v, want the 2 known names asked for", b.Configs)
	}
	for _, c := range b.Configs {
		switch c.Name {
		case "num.io.threads":
			if !c.ReadOnly || c.ConfigType != kmsg.ConfigTypeInt || *c.Value != "8" {
				t.Errorf("num.io.threads: %+v, want read-only INT 8", c)
			}
		case "message.max.bytes":
			if c.ReadOnly {
				t.Errorf("message.max.bytes is dynamic but described read-only")
			}
		}
		if c.Documentation == nil || *c.Documentation == "" {
			t.Errorf("%s: no documentation although asked for", c.Name)
		}
		if c.ConfigSynonyms != nil && len(c.ConfigSynonyms) != 0 {
			t.Errorf("%s: synonyms although not asked for", c.Name)
		}
	}
	tc := resp.Resources[1].Configs
	if len(tc) != 1 || tc[0].Name != "retention.ms" || *tc[0].Value != "604800000" || tc[0].ConfigType != kmsg.ConfigTypeLong {
		t.Errorf("topic retention.ms: %+v", tc)
	}
	if d := resp.Resources[8]; len(d.Configs) != 0 {
		t.Errorf("cluster default resource without dynamic configs lists %d configs", len(d.Configs))
	}
}

func TestIncrementalAlterTopicConfigs(t *testing.T) {
	n := startNode(t)
	_, adm := n.client(t)
	topic := topicName(t)
	createTopic(t, adm, topic, 1, map[string]*string{"flush.ms": ptr("60000")})

	steps := []struct {
		name  string
		ops   []kadm.AlterConfig
		check map[string]string // key -> value; "" for default source
		want  *kerr.Error
	}{
		{
			name:  "set two",
			ops:   []kadm.AlterConfig{{Name: "retention.ms", Value: ptr("3600000")}, {Name: "segment.bytes", Value: ptr("1048576")}},
			check: map[string]string{"retention.ms": "3600000", "segment.bytes": "1048576", "flush.ms": "60000"},
		},
		{
			name:  "delete one, others stay",
			ops:   []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "segment.bytes"}},
			check: map[string]string{"retention.ms": "3600000", "segment.bytes": "", "flush.ms": "60000"},
		},
		{
			name:  "append to a list from its default",
			ops:   []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: ptr("compact")}},
			check: map[string]string{"cleanup.policy": "delete,compact"},
		},
		{
			name:  "append what is there already",
			ops:   []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: ptr("delete")}},
			check: map[string]string{"cleanup.policy": "delete,compact"},
		},
		{
			name:  "subtract",
			ops:   []kadm.AlterConfig{{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: ptr("delete")}},
			check: map[string]string{"cleanup.policy": "compact"},
		},
		{
			name: "bad value",
			ops:  []kadm.AlterConfig{{Name: "retention.ms", Value: ptr("soon")}},
			want: kerr.InvalidConfig,
		},
		{
			name: "below minimum",
			ops:  []kadm.AlterConfig{{Name: "segment.bytes", Value: ptr("1000")}},
			want: kerr.InvalidConfig,
		},
		{
			name: "unknown name",
			ops:  []kadm.AlterConfig{{Name: "retention.weeks", Value: ptr("1")}},
			want: kerr.InvalidConfig,
		},
		{
			name: "append to a non-list",
			ops:  []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "retention.ms", Value: ptr("1")}},
			want: kerr.InvalidConfig,
		},
		{
			name: "contradicting pair",
			ops:  []kadm.AlterConfig{{Name: "min.compaction.lag.ms", Value: ptr("100")}, {Name: "max.compaction.lag.ms", Value: ptr("50")}},
			want: kerr.InvalidConfig,
		},
		{
			name: "one bad change refuses all",
			ops:  []kadm.AlterConfig{{Name: "retention.ms", Value: ptr("1")}, {Name: "cleanup.policy", Value: ptr("shred")}},
			want: kerr.InvalidConfig,
		},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before := topicConfigs(t, adm, topic)
			resps, err := adm.AlterTopicConfigs(ctxT(t), s.ops, topic)
			if err != nil {
				t.Fatal(err)
			}
			r, err := resps.On(topic, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantErr(t, s.name, r.Err, s.want)
			after := topicConfigs(t, adm, topic)
			if s.want != nil {
				if r.ErrMessage == "" {
					t.Errorf("refused without a message")
				}
				for k, c := range before {
					if val(after[k]) != val(c) {
						t.Errorf("refused change altered %s: %q -> %q", k, val(c), val(after[k]))
					}
				}
				return
			}
			for k, v := range s.check {
				if v == "" {
					if after[k].Source != kmsg.ConfigSourceDefaultConfig {
						t.Errorf("%s after delete: %q from %v, want the default", k, val(after[k]), after[k].Source)
					}
					continue
				}
				wantConfig(t, after, k, v, kmsg.ConfigSourceDynamicTopicConfig)
			}
		})
	}
}

func TestAlterConfigErrorMessages(t *testing.T) {
	n := startNode(t)
	_, adm := n.client(t)
	topic := topicName(t)
	createTopic(t, adm, topic, 1, nil)
	raw := dialRaw(t, n.addr)

	resps, err := adm.AlterTopicConfigs(ctxT(t), []kadm.AlterConfig{{Name: "retention.ms", Value: ptr("soon")}}, topic)
	if err != nil {
		t.Fatal(err)
	}
	if msg := resps[0].ErrMessage; !strings.Contains(msg, "Invalid value soon for configuration retention.ms") {
		t.Errorf("bad value message %q, want Kafka's wording", msg)
	}
	resps, err = adm.AlterTopicConfigs(ctxT(t), []kadm.AlterConfig{{Name: "retention.weeks", Value: ptr("1")}}, topic)
	if err != nil {
		t.Fatal(err)
	}
	if msg := resps[0].ErrMessage; msg != "Unknown topic config name: retention.weeks" {
		t.Errorf("unknown name message %q", msg)
	}

	// Request-level checks kadm does not let one send.
	inc := func(name string, op kmsg.IncrementalAlterConfigOp, value *string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = name, op, value
		return c
	}
	res := func(typ kmsg.ConfigResourceType, name string, cs ...kmsg.IncrementalAlterConfigsRequestResourceConfig) kmsg.IncrementalAlterConfigsRequestResource {
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName, r.Configs = typ, name, cs
		return r
	}
	for _, tc := range []struct {
		name string
		res  []kmsg.IncrementalAlterConfigsRequestResource
		want []*kerr.Error
	}{
		{"set null", []kmsg.IncrementalAlterConfigsRequestResource{res(kmsg.ConfigResourceTypeTopic, topic, inc("retention.ms", 0, nil))}, []*kerr.Error{kerr.InvalidRequest}},
		{"name twice", []kmsg.IncrementalAlterConfigsRequestResource{res(kmsg.ConfigResourceTypeTopic, topic, inc("retention.ms", 0, ptr("1")), inc("retention.ms", 1, nil))}, []*kerr.Error{kerr.InvalidRequest}},
		{"unknown op", []kmsg.IncrementalAlterConfigsRequestResource{res(kmsg.ConfigResourceTypeTopic, topic, inc("retention.ms", 9, ptr("1")))}, []*kerr.Error{kerr.InvalidRequest}},
		{"resource twice", []kmsg.IncrementalAlterConfigsRequestResource{
			res(kmsg.ConfigResourceTypeTopic, topic, inc("retention.ms", 0, ptr("1"))),
			res(kmsg.ConfigResourceTypeTopic, topic, inc("segment.ms", 0, ptr("1"))),
		}, []*kerr.Error{kerr.InvalidRequest, kerr.InvalidRequest}},
		{"unknown topic", []kmsg.IncrementalAlterConfigsRequestResource{res(kmsg.ConfigResourceTypeTopic, topic+"-nope", inc("retention.ms", 0, ptr("1")))}, []*kerr.Error{kerr.UnknownTopicOrPartition}},
		{"another broker", []kmsg.IncrementalAlterConfigsRequestResource{res(kmsg.ConfigResourceTypeBroker, "2", inc("log.retention.ms", 0, ptr("1")))}, []*kerr.Error{kerr.InvalidRequest}},
		{"not a broker id", []kmsg.IncrementalAlterConfigsRequestResource{res(kmsg.ConfigResourceTypeBroker, "one", inc("log.retention.ms", 0, ptr("1")))}, []*kerr.Error{kerr.InvalidRequest}},
		{"read-only broker config", []kmsg.IncrementalAlterConfigsRequestResource{res(kmsg.ConfigResourceTypeBroker, "", inc("num.io.threads", 0, ptr("4")))}, []*kerr.Error{kerr.InvalidConfig}},
		{"unknown broker config", []kmsg.IncrementalAlterConfigsRequestResource{res(kmsg.ConfigResourceTypeBroker, "", inc("log.retention.weeks", 0, ptr("4")))}, []*kerr.Error{kerr.InvalidConfig}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrIncrementalAlterConfigsRequest()
			req.Resources = tc.res
			resp := raw.do(versioned(req, 1)).(*kmsg.IncrementalAlterConfigsResponse)
			if len(resp.Resources) != len(tc.want) {
				t.Fatalf("%d resources answered, want %d", len(resp.Resources), len(tc.want))
			}
			for i, w := range tc.want {
				wantCode(t, tc.name, resp.Resources[i].ErrorCode, w)
			}
		})
	}
	// None of that changed anything.
	cs := topicConfigs(t, adm, topic)
	for _, k := range []string{"retention.ms", "segment.ms"} {
		if cs[k].Source != kmsg.ConfigSourceDefaultConfig {
			t.Errorf("%s changed by a refused request: %q", k, val(cs[k]))
		}
	}
}

func TestValidateOnlyChangesNothing(t *testing.T) {
	n := startNode(t)
	_, adm := n.client(t)
	topic := topicName(t)
	createTopic(t, adm, topic, 1, nil)

	resps, err := adm.ValidateAlterTopicConfigs(ctxT(t), []kadm.AlterConfig{{Name: "retention.ms", Value: ptr("1000")}}, topic)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "validate incremental", resps[0].Err, nil)
	resps, err = adm.ValidateAlterTopicConfigsState(ctxT(t), []kadm.AlterConfig{{Name: "retention.ms", Value: ptr("1000")}}, topic)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "validate legacy", resps[0].Err, nil)
	resps, err = adm.ValidateAlterTopicConfigs(ctxT(t), []kadm.AlterConfig{{Name: "retention.ms", Value: ptr("x")}}, topic)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "validate bad value", resps[0].Err, kerr.InvalidConfig)
	wantConfig(t, topicConfigs(t, adm, topic), "retention.ms", "604800000", kmsg.ConfigSourceDefaultConfig)
}

func TestLegacyAlterConfigsReplacesAll(t *testing.T) {
	n := startNode(t)
	_, adm := n.client(t)
	topic := topicName(t)
	createTopic(t, adm, topic, 1, map[string]*string{"retention.ms": ptr("1000"), "flush.ms": ptr("2000")})

	resps, err := adm.AlterTopicConfigsState(ctxT(t), []kadm.AlterConfig{{Name: "segment.ms", Value: ptr("3000")}}, topic)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "legacy alter", resps[0].Err, nil)
	cs := topicConfigs(t, adm, topic)
	wantConfig(t, cs, "segment.ms", "3000", kmsg.ConfigSourceDynamicTopicConfig)
	wantConfig(t, cs, "retention.ms", "604800000", kmsg.ConfigSourceDefaultConfig)
	wantConfig(t, cs, "flush.ms", "9223372036854775807", kmsg.ConfigSourceDefaultConfig)

	resps, err = adm.AlterTopicConfigsState(ctxT(t), []kadm.AlterConfig{{Name: "segment.ms", Value: ptr("0")}}, topic)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "legacy alter with a bad value", resps[0].Err, kerr.InvalidConfig)
	wantConfig(t, topicConfigs(t, adm, topic), "segment.ms", "3000", kmsg.ConfigSourceDynamicTopicConfig)
}

func TestBrokerDynamicConfigs(t *testing.T) {
	n := startNode(t)
	_, adm := n.client(t)
	topic := topicName(t)
	createTopic(t, adm, topic, 1, nil)

	resps, err := adm.AlterBrokerConfigs(ctxT(t), []kadm.AlterConfig{{Name: "log.retention.ms", Value: ptr("7200000")}})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "alter cluster default", resps[0].Err, nil)

	check := func(t *testing.T) {
		t.Helper()
		// The topic inherits it.
		wantConfig(t, topicConfigs(t, adm, topic), "retention.ms", "7200000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		// The cluster-default resource lists only what is set there.
		rcs, err := adm.DescribeBrokerConfigs(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(rcs) != 1 || len(rcs[0].Configs) != 1 || rcs[0].Configs[0].Key != "log.retention.ms" ||
			rcs[0].Configs[0].Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
			t.Fatalf("cluster default configs: %+v", rcs)
		}
		// This broker shows it with its source.
		rcs, err = adm.DescribeBrokerConfigs(ctxT(t), 1)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range rcs[0].Configs {
			if c.Key == "log.retention.ms" {
				found = true
				if c.MaybeValue() != "7200000" || c.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
					t.Errorf("broker 1 log.retention.ms: %q from %v", c.MaybeValue(), c.Source)
				}
			}
		}
		if !found {
			t.Errorf("broker 1 does not describe log.retention.ms")
		}
	}
	check(t)
	n.restart()
	_, adm = n.client(t)
	check(t)

	resps, err = adm.AlterBrokerConfigs(ctxT(t), []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "log.retention.ms"}})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "delete cluster default", resps[0].Err, nil)
	wantConfig(t, topicConfigs(t, adm, topic), "retention.ms", "604800000", kmsg.ConfigSourceDefaultConfig)

	// A broker setting that would break an existing topic is refused.
	_, err = adm.AlterTopicConfigs(ctxT(t), []kadm.AlterConfig{{Name: "min.compaction.lag.ms", Value: ptr("1000")}}, topic)
	if err != nil {
		t.Fatal(err)
	}
	resps, err = adm.AlterBrokerConfigs(ctxT(t), []kadm.AlterConfig{{Name: "log.cleaner.max.compaction.lag.ms", Value: ptr("10")}})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "broker default that breaks a topic", resps[0].Err, kerr.InvalidConfig)
}

func TestConfigChangesApplyLive(t *testing.T) {
	n := startNode(t)
	// Uncompressed, so that batch sizes are what the records weigh.
	cl, adm := n.client(t, kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordRetries(1))
	topic := topicName(t)
	createTopic(t, adm, topic, 1, nil)
	big := bytes.Repeat([]byte("x"), 4000)
	send := func() error {
		return cl.ProduceSync(ctxT(t), &kgo.Record{Topic: topic, Value: big}).FirstErr()
	}

	t.Run("topic max.message.bytes", func(t *testing.T) {
		wantErr(t, "produce before", send(), nil)
		alter(t, adm, topic, kadm.AlterConfig{Name: "max.message.bytes", Value: ptr("1000")})
		wantErr(t, "produce after lowering max.message.bytes", send(), kerr.MessageTooLarge)
		alter(t, adm, topic, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "max.message.bytes"})
		wantErr(t, "produce after deleting the override", send(), nil)
	})

	t.Run("broker message.max.bytes", func(t *testing.T) {
		resps, err := adm.AlterBrokerConfigs(ctxT(t), []kadm.AlterConfig{{Name: "message.max.bytes", Value: ptr("1000")}})
		if err == nil {
			err = resps[0].Err
		}
		wantErr(t, "alter message.max.bytes", err, nil)
		wantErr(t, "produce under the lowered broker default", send(), kerr.MessageTooLarge)
		resps, err = adm.AlterBrokerConfigs(ctxT(t), []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "message.max.bytes"}})
		if err == nil {
			err = resps[0].Err
		}
		wantErr(t, "delete message.max.bytes", err, nil)
		wantErr(t, "produce after the broker default is back", send(), nil)
	})

	t.Run("segment.bytes rolls", func(t *testing.T) {
		dir := filepath.Join(n.dir, topic+"-0")
		before := segments(t, dir)
		alter(t, adm, topic, kadm.AlterConfig{Name: "segment.bytes", Value: ptr("1048576")})
		// 4 MiB in batches of about 100 KiB: at least three rolls.
		value := bytes.Repeat([]byte("y"), 10<<10)
		for i := 0; i < 41; i++ {
			var recs []*kgo.Record
			for j := 0; j < 10; j++ {
				recs = append(recs, &kgo.Record{Topic: topic, Value: value})
			}
			if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if after := segments(t, dir); after < before+3 {
			t.Fatalf("%d segments after 4 MiB with segment.bytes=1 MiB (was %d), want at least %d", after, before, before+3)
		}
	})
}

func alter(t testing.TB, adm *kadm.Client, topic string, c kadm.AlterConfig) {
	t.Helper()
	resps, err := adm.AlterTopicConfigs(ctxT(t), []kadm.AlterConfig{c}, topic)
	if err == nil {
		err = resps[0].Err
	}
	if err != nil {
		t.Fatalf("alter %s of %s: %v", c.Name, topic, err)
	}
}

// segments counts the .log files of a partition directory.
func segments(t testing.TB, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".log") {
			n++
		}
	}
	return n
}
