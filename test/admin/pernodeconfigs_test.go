package admin

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// brokerConfig describes one config of a broker resource (the cluster-wide
// default when brokers is empty) with its synonyms.
func brokerConfig(t testing.TB, adm *kadm.Client, key string, brokers ...int32) kadm.Config {
	t.Helper()
	rcs, err := adm.DescribeBrokerConfigs(ctxT(t), brokers...)
	if err != nil {
		t.Fatal(err)
	}
	if len(rcs) != 1 || rcs[0].Err != nil {
		t.Fatalf("describe broker %v: %+v", brokers, rcs)
	}
	for _, c := range rcs[0].Configs {
		if c.Key == key {
			return c
		}
	}
	t.Fatalf("broker %v does not describe %s", brokers, key)
	return kadm.Config{}
}

// wantSynonyms checks the sources of a config's synonyms, most preferred
// first, and the value of each.
func wantSynonyms(t testing.TB, c kadm.Config, want ...kadm.ConfigSynonym) {
	t.Helper()
	if len(c.Synonyms) != len(want) {
		t.Fatalf("%s synonyms %+v, want %+v", c.Key, c.Synonyms, want)
	}
	for i, w := range want {
		s := c.Synonyms[i]
		if s.Key != w.Key || deref(s.Value) != deref(w.Value) || s.Source != w.Source {
			t.Fatalf("%s synonym %d is %s=%q from %v, want %s=%q from %v", c.Key, i,
				s.Key, deref(s.Value), s.Source, w.Key, deref(w.Value), w.Source)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

func alterBroker(t testing.TB, what string, f func() (kadm.AlterConfigsResponses, error), want *kerr.Error) {
	t.Helper()
	resps, err := f()
	if err == nil {
		if len(resps) != 1 {
			t.Fatalf("%s: %d responses", what, len(resps))
		}
		err = resps[0].Err
	}
	wantErr(t, what, err, want)
}

// TestPerBrokerDynamicConfigs sets, describes and removes dynamic configs of
// one broker (kafka-configs.sh --entity-type brokers --entity-name 1) through
// both alter APIs, over a cluster-wide default, and checks that they apply
// to produce at once and survive a restart.
func TestPerBrokerDynamicConfigs(t *testing.T) {
	n := startNode(t)
	// Uncompressed, so that batch sizes are what the records weigh.
	cl, adm := n.client(t, kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordRetries(1))
	topic := topicName(t)
	createTopic(t, adm, topic, 1, nil)
	big := bytes.Repeat([]byte("x"), 4000)
	send := func() error {
		return cl.ProduceSync(ctxT(t), &kgo.Record{Topic: topic, Value: big}).FirstErr()
	}

	alterBroker(t, "set cluster default", func() (kadm.AlterConfigsResponses, error) {
		return adm.AlterBrokerConfigs(ctxT(t), []kadm.AlterConfig{{Name: "message.max.bytes", Value: ptr("900000")}})
	}, nil)
	alterBroker(t, "incremental SET on broker 1", func() (kadm.AlterConfigsResponses, error) {
		return adm.AlterBrokerConfigs(ctxT(t), []kadm.AlterConfig{{Name: "message.max.bytes", Value: ptr("1000")}}, 1)
	}, nil)

	perBroker := func(t *testing.T) {
		t.Helper()
		c := brokerConfig(t, adm, "message.max.bytes", 1)
		if c.MaybeValue() != "1000" || c.Source != kmsg.ConfigSourceDynamicBrokerConfig {
			t.Fatalf("broker 1 message.max.bytes = %q from %v, want 1000 from DYNAMIC_BROKER_CONFIG", c.MaybeValue(), c.Source)
		}
		wantSynonyms(t, c,
			kadm.ConfigSynonym{Key: "message.max.bytes", Value: ptr("1000"), Source: kmsg.ConfigSourceDynamicBrokerConfig},
			kadm.ConfigSynonym{Key: "message.max.bytes", Value: ptr("900000"), Source: kmsg.ConfigSourceDynamicDefaultBrokerConfig},
			kadm.ConfigSynonym{Key: "message.max.bytes", Value: ptr("1048588"), Source: kmsg.ConfigSourceDefaultConfig},
		)
		// The cluster-wide resource is unaffected by broker 1's own value.
		d := brokerConfig(t, adm, "message.max.bytes")
		if d.MaybeValue() != "900000" || d.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
			t.Fatalf("cluster default message.max.bytes = %q from %v, want 900000 from DYNAMIC_DEFAULT_BROKER_CONFIG", d.MaybeValue(), d.Source)
		}
		// The topic inherits the per-broker value, and produce obeys it.
		wantConfig(t, topicConfigs(t, adm, topic), "max.message.bytes", "1000", kmsg.ConfigSourceDynamicBrokerConfig)
		wantErr(t, "produce under the per-broker message.max.bytes", send(), kerr.MessageTooLarge)
	}
	perBroker(t)
	n.restart()
	cl, adm = n.client(t, kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordRetries(1))
	perBroker(t)

	alterBroker(t, "incremental DELETE on broker 1", func() (kadm.AlterConfigsResponses, error) {
		return adm.AlterBrokerConfigs(ctxT(t), []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "message.max.bytes"}}, 1)
	}, nil)
	c := brokerConfig(t, adm, "message.max.bytes", 1)
	if c.MaybeValue() != "900000" || c.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Fatalf("after DELETE broker 1 message.max.bytes = %q from %v, want 900000 from DYNAMIC_DEFAULT_BROKER_CONFIG", c.MaybeValue(), c.Source)
	}
	wantSynonyms(t, c,
		kadm.ConfigSynonym{Key: "message.max.bytes", Value: ptr("900000"), Source: kmsg.ConfigSourceDynamicDefaultBrokerConfig},
		kadm.ConfigSynonym{Key: "message.max.bytes", Value: ptr("1048588"), Source: kmsg.ConfigSourceDefaultConfig},
	)
	wantErr(t, "produce after the per-broker value is deleted", send(), nil)

	// The legacy AlterConfigs sets the broker's whole set: a second call
	// without message.max.bytes removes it.
	alterBroker(t, "legacy alter on broker 1", func() (kadm.AlterConfigsResponses, error) {
		return adm.AlterBrokerConfigsState(ctxT(t), []kadm.AlterConfig{
			{Name: "message.max.bytes", Value: ptr("1000")}, {Name: "log.retention.ms", Value: ptr("3600000")},
		}, 1)
	}, nil)
	wantErr(t, "produce after the legacy per-broker alter", send(), kerr.MessageTooLarge)
	if c := brokerConfig(t, adm, "log.retention.ms", 1); c.MaybeValue() != "3600000" || c.Source != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Fatalf("broker 1 log.retention.ms = %q from %v", c.MaybeValue(), c.Source)
	}
	alterBroker(t, "legacy alter replacing broker 1's set", func() (kadm.AlterConfigsResponses, error) {
		return adm.AlterBrokerConfigsState(ctxT(t), []kadm.AlterConfig{{Name: "log.retention.ms", Value: ptr("7200000")}}, 1)
	}, nil)
	if c := brokerConfig(t, adm, "message.max.bytes", 1); c.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Fatalf("message.max.bytes left from %v after the legacy alter replaced the set", c.Source)
	}
	wantErr(t, "produce after the legacy alter dropped message.max.bytes", send(), nil)

	// Validate-only and refused requests change nothing.
	alterBroker(t, "validate-only on broker 1", func() (kadm.AlterConfigsResponses, error) {
		return adm.ValidateAlterBrokerConfigs(ctxT(t), []kadm.AlterConfig{{Name: "message.max.bytes", Value: ptr("1000")}}, 1)
	}, nil)
	alterBroker(t, "bad value on broker 1", func() (kadm.AlterConfigsResponses, error) {
		return adm.AlterBrokerConfigs(ctxT(t), []kadm.AlterConfig{{Name: "message.max.bytes", Value: ptr("lots")}}, 1)
	}, kerr.InvalidConfig)
	alterBroker(t, "read-only setting on broker 1", func() (kadm.AlterConfigsResponses, error) {
		return adm.AlterBrokerConfigs(ctxT(t), []kadm.AlterConfig{{Name: "num.io.threads", Value: ptr("4")}}, 1)
	}, kerr.InvalidConfig)
	// A broker default that would break an existing topic is refused per
	// broker as it is cluster-wide.
	alter(t, adm, topic, kadm.AlterConfig{Name: "min.compaction.lag.ms", Value: ptr("1000")})
	alterBroker(t, "per-broker setting that breaks a topic", func() (kadm.AlterConfigsResponses, error) {
		return adm.AlterBrokerConfigs(ctxT(t), []kadm.AlterConfig{{Name: "log.cleaner.max.compaction.lag.ms", Value: ptr("10")}}, 1)
	}, kerr.InvalidConfig)
	if c := brokerConfig(t, adm, "message.max.bytes", 1); c.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Fatalf("message.max.bytes from %v after validate-only and refused requests", c.Source)
	}
	wantErr(t, "produce after validate-only and refused requests", send(), nil)
}
