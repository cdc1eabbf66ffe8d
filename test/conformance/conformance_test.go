package conformance

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// covered are the API keys this file sends every advertised version of. An
// advertised API missing here fails TestEveryAdvertisedAPIIsCovered, so
// that nothing is advertised untested (DESIGN §1).
var covered = map[int16]string{
	0:  "TestProduce",
	1:  "TestFetch",
	2:  "TestListOffsets",
	3:  "TestMetadata",
	18: "TestApiVersions",
	19: "TestCreateTopics",
	20: "TestDeleteTopics",
	22: "TestInitProducerID",
}

func TestEveryAdvertisedAPIIsCovered(t *testing.T) {
	for key, r := range shared.ranges {
		name := kmsg.NameForKey(key)
		if _, ok := covered[key]; !ok {
			t.Errorf("%s (key %d) v%d-%d is advertised but has no conformance test", name, key, r[0], r[1])
		}
		req := kmsg.RequestForKey(key)
		switch {
		case req == nil:
			t.Errorf("key %d is advertised but unknown to kmsg", key)
		case r[0] < 0 || r[0] > r[1]:
			t.Errorf("%s: advertised range v%d-%d is empty", name, r[0], r[1])
		case r[1] > req.MaxVersion():
			t.Errorf("%s: advertised max v%d is beyond what kmsg knows (v%d)", name, r[1], req.MaxVersion())
		}
	}
	for key, test := range covered {
		if _, ok := shared.ranges[key]; !ok {
			t.Errorf("%s (key %d) is not advertised, but issue 4 requires it (%s)", kmsg.NameForKey(key), key, test)
		}
	}
	// librdkafka 2.0.2 turns features off silently unless these v0s are in
	// range (KAFKA-18659; DESIGN §1).
	for _, key := range []int16{0, 3, 18, 22} {
		if r, ok := shared.ranges[key]; ok && r[0] != 0 {
			t.Errorf("%s: min version %d, want 0 for librdkafka's feature detection", kmsg.NameForKey(key), r[0])
		}
	}
	// Versions the issue names: Fetch from v4 (KIP-896), Metadata up to the
	// topic ID versions, Produce v13 by topic ID.
	if r := shared.ranges[1]; r[0] > 4 || r[1] < 13 {
		t.Errorf("Fetch v%d-%d: want a range covering v4..v13", r[0], r[1])
	}
	if r := shared.ranges[3]; r[1] < 12 {
		t.Errorf("Metadata max v%d: want v12 (topic IDs in requests)", r[1])
	}
}

// --- ApiVersions (key 18) ----------------------------------------------------

func TestApiVersions(t *testing.T) {
	forVersions(t, 18, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		req := versioned(kmsg.NewPtrApiVersionsRequest(), v)
		if v >= 3 {
			req.ClientSoftwareName, req.ClientSoftwareVersion = "sluice-conformance", "1.0.0"
		}
		// recv decodes with no header tag section even for flexible v3+,
		// and rejects trailing bytes: a v1 header would fail it.
		resp := c.do(req).(*kmsg.ApiVersionsResponse)
		wantCode(t, "ApiVersions", resp.ErrorCode, nil)
		got := map[int16][2]int16{}
		for _, k := range resp.ApiKeys {
			if _, dup := got[k.ApiKey]; dup {
				t.Errorf("key %d listed twice", k.ApiKey)
			}
			got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
		}
		if len(got) != len(shared.ranges) {
			t.Errorf("v%d lists %d keys, v0 listed %d", v, len(got), len(shared.ranges))
		}
		for k, r := range shared.ranges {
			if got[k] != r {
				t.Errorf("key %d: v%d says %v, v0 said %v", k, v, got[k], r)
			}
		}
		if v >= 3 {
			// KIP-511: names outside [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
			// are INVALID_REQUEST.
			bad := versioned(kmsg.NewPtrApiVersionsRequest(), v)
			bad.ClientSoftwareName, bad.ClientSoftwareVersion = "bad name!", "1.0"
			br := c.do(bad).(*kmsg.ApiVersionsResponse)
			wantCode(t, "invalid client software name", br.ErrorCode, kerr.InvalidRequest)
		}
	})

	// A version the broker does not know: answered in v0 (header and body)
	// with UNSUPPORTED_VERSION and ApiVersions' own range, and the
	// connection stays usable (KIP-511).
	_, max := apiVersionsRange()
	for _, v := range []int16{max + 1, 127} {
		t.Run(fmt.Sprintf("unknown-v%d", v), func(t *testing.T) {
			c := dial(t, shared.addr)
			req := versioned(kmsg.NewPtrApiVersionsRequest(), v)
			req.ClientSoftwareName, req.ClientSoftwareVersion = "sluice-conformance", "1.0.0"
			resp := c.do(req).(*kmsg.ApiVersionsResponse) // decoded as v0
			wantCode(t, "ApiVersions v127", resp.ErrorCode, kerr.UnsupportedVersion)
			found := false
			for _, k := range resp.ApiKeys {
				if k.ApiKey == 18 {
					found = true
					if r := shared.ranges[18]; k.MinVersion != r[0] || k.MaxVersion != r[1] {
						t.Errorf("ApiVersions range in the error answer: v%d-%d, want v%d-%d", k.MinVersion, k.MaxVersion, r[0], r[1])
					}
				}
			}
			if !found {
				t.Errorf("the UNSUPPORTED_VERSION answer lacks ApiVersions' own range: %+v", resp.ApiKeys)
			}
			again := c.do(versioned(kmsg.NewPtrApiVersionsRequest(), 0)).(*kmsg.ApiVersionsResponse)
			wantCode(t, "ApiVersions v0 after the unknown version", again.ErrorCode, nil)
		})
	}
}

// --- Metadata (key 3) --------------------------------------------------------

func TestMetadata(t *testing.T) {
	setup := dial(t, shared.addr)
	known := topicName(t, "known")
	knownID := createTopic(t, setup, known, 2, nil)
	// The cluster id every version must agree on.
	ref := metaReq(maxVersion(t, 3), nil)
	clusterID := setup.do(ref).(*kmsg.MetadataResponse).ClusterID

	forVersions(t, 3, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)

		// Which topics: v0 empty = all; v1+ null = all, empty = none.
		all := metaReq(v, nil)
		if v == 0 {
			all.Topics = []kmsg.MetadataRequestTopic{}
		}
		resp := c.do(all).(*kmsg.MetadataResponse)
		checkBrokers(t, v, resp, clusterID)
		mt := findMetaTopic(resp, known)
		if mt == nil {
			t.Fatalf("all-topics answer lacks %s", known)
		}
		checkKnownTopic(t, v, mt, knownID)
		if v >= 1 {
			none := c.do(metaReq(v, []string{})).(*kmsg.MetadataResponse)
			if len(none.Topics) != 0 {
				t.Errorf("an empty topic list (v1+) must mean none, got %d topics", len(none.Topics))
			}
			checkBrokers(t, v, none, clusterID)
		}

		// By name.
		one := c.do(metaReq(v, []string{known})).(*kmsg.MetadataResponse)
		if len(one.Topics) != 1 {
			t.Fatalf("asked one topic, got %d", len(one.Topics))
		}
		checkKnownTopic(t, v, &one.Topics[0], knownID)

		// Auto-creation: always allowed below v4, by the flag from v4.
		auto := topicName(t, "auto")
		areq := metaReq(v, []string{auto})
		areq.AllowAutoTopicCreation = true
		at := c.do(areq).(*kmsg.MetadataResponse).Topics
		if len(at) != 1 || (at[0].ErrorCode != 0 && at[0].ErrorCode != kerr.LeaderNotAvailable.Code) {
			t.Errorf("auto-create %s: %+v, want NONE or LEADER_NOT_AVAILABLE", auto, at)
		}
		if got := metadataTopic(t, c, auto); got.ErrorCode != 0 || len(got.Partitions) == 0 {
			t.Errorf("auto-created %s is not there afterwards: %s, %d partitions", auto, errName(got.ErrorCode), len(got.Partitions))
		}
		if v >= 4 {
			no := topicName(t, "noauto")
			nt := c.do(metaReq(v, []string{no})).(*kmsg.MetadataResponse).Topics
			if len(nt) != 1 {
				t.Fatalf("asked one topic, got %d", len(nt))
			}
			wantCode(t, "AllowAutoTopicCreation=false, unknown topic", nt[0].ErrorCode, kerr.UnknownTopicOrPartition)
			if got := metadataTopic(t, c, no); got.ErrorCode != kerr.UnknownTopicOrPartition.Code {
				t.Errorf("%s was created although the request did not allow it (%s)", no, errName(got.ErrorCode))
			}
		}

		// An invalid name, with and without auto-creation.
		for _, allow := range []bool{true, false} {
			if !allow && v < 4 {
				continue
			}
			ireq := metaReq(v, []string{"bad/name"})
			ireq.AllowAutoTopicCreation = allow
			it := c.do(ireq).(*kmsg.MetadataResponse).Topics
			if len(it) != 1 {
				t.Fatalf("asked one topic, got %d", len(it))
			}
			wantCode(t, "invalid topic name", it[0].ErrorCode, kerr.InvalidTopicException)
		}

		// Topic IDs in requests: from v12 (Kafka refuses them with
		// INVALID_REQUEST in v10 and v11).
		if v >= 10 {
			byID := metaReq(v, nil)
			byID.Topics = []kmsg.MetadataRequestTopic{{TopicID: knownID}}
			idt := c.do(byID).(*kmsg.MetadataResponse).Topics
			if len(idt) != 1 {
				t.Fatalf("asked one topic by ID, got %d", len(idt))
			}
			if v < 12 {
				wantCode(t, "topic by ID in v10/v11 (Kafka: name can not be null)", idt[0].ErrorCode, kerr.InvalidRequest)
			} else {
				wantCode(t, "topic by ID", idt[0].ErrorCode, nil)
				if idt[0].Topic == nil || *idt[0].Topic != known || idt[0].TopicID != knownID {
					t.Errorf("by ID: got name %v, ID %x; want %s, %x", idt[0].Topic, idt[0].TopicID, known, knownID)
				}
				unknown := metaReq(v, nil)
				unknown.Topics = []kmsg.MetadataRequestTopic{{TopicID: [16]byte{0xde, 0xad, 1}}}
				ut := c.do(unknown).(*kmsg.MetadataResponse).Topics
				if len(ut) != 1 {
					t.Fatalf("asked one topic by ID, got %d", len(ut))
				}
				wantCode(t, "unknown topic ID", ut[0].ErrorCode, kerr.UnknownTopicID)
			}
		}

		// Authorized operations (v8+): the sentinel unless asked.
		if v >= 8 {
			if mt.AuthorizedOperations != math.MinInt32 {
				t.Errorf("topic authorized operations not asked for: got %d, want %d", mt.AuthorizedOperations, math.MinInt32)
			}
			areq := metaReq(v, []string{known})
			areq.IncludeTopicAuthorizedOperations = true
			ops := c.do(areq).(*kmsg.MetadataResponse).Topics[0].AuthorizedOperations
			if ops == math.MinInt32 || ops&(1<<3) == 0 || ops&(1<<4) == 0 {
				t.Errorf("topic authorized operations asked for: %b, want READ and WRITE set", ops)
			}
		}
	})
}

// metaReq builds a Metadata request; nil topics means null (all, v1+).
func metaReq(v int16, topics []string) *kmsg.MetadataRequest {
	req := versioned(kmsg.NewPtrMetadataRequest(), v)
	if topics != nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
		for _, name := range topics {
			mt := kmsg.NewMetadataRequestTopic()
			mt.Topic = kmsg.StringPtr(name)
			req.Topics = append(req.Topics, mt)
		}
	}
	return req
}

func findMetaTopic(resp *kmsg.MetadataResponse, name string) *kmsg.MetadataResponseTopic {
	for i := range resp.Topics {
		if resp.Topics[i].Topic != nil && *resp.Topics[i].Topic == name {
			return &resp.Topics[i]
		}
	}
	return nil
}

// checkBrokers checks the broker list, cluster id and controller of a
// Metadata answer at version v.
func checkBrokers(t *testing.T, v int16, resp *kmsg.MetadataResponse, clusterID *string) {
	t.Helper()
	if len(resp.Brokers) != 1 {
		t.Fatalf("brokers: %+v, want this node alone", resp.Brokers)
	}
	b := resp.Brokers[0]
	if b.NodeID != 1 || b.Host != shared.host || b.Port != shared.port {
		t.Errorf("broker %d at %s:%d, want 1 at %s:%d", b.NodeID, b.Host, b.Port, shared.host, shared.port)
	}
	if v >= 1 && resp.ControllerID != 1 {
		t.Errorf("controller id %d, want 1", resp.ControllerID)
	}
	if v >= 2 {
		if resp.ClusterID == nil || *resp.ClusterID == "" {
			t.Errorf("cluster id missing")
		} else if clusterID == nil || *resp.ClusterID != *clusterID {
			t.Errorf("cluster id %q, the highest version said %v", *resp.ClusterID, clusterID)
		}
	}
}

// checkKnownTopic checks a described two-partition topic.
func checkKnownTopic(t *testing.T, v int16, mt *kmsg.MetadataResponseTopic, id [16]byte) {
	t.Helper()
	wantCode(t, "known topic", mt.ErrorCode, nil)
	if v >= 10 && mt.TopicID != id {
		t.Errorf("topic ID %x, CreateTopics said %x", mt.TopicID, id)
	}
	if v >= 10 && mt.TopicID == [16]byte{} {
		t.Errorf("topic ID is zero")
	}
	if mt.IsInternal {
		t.Errorf("a user topic is reported internal")
	}
	if len(mt.Partitions) != 2 {
		t.Fatalf("%d partitions, want 2", len(mt.Partitions))
	}
	seen := map[int32]bool{}
	for _, p := range mt.Partitions {
		seen[p.Partition] = true
		wantCode(t, "partition", p.ErrorCode, nil)
		if p.Leader != 1 || !slices.Equal(p.Replicas, []int32{1}) || !slices.Equal(p.ISR, []int32{1}) {
			t.Errorf("partition %d: leader %d, replicas %v, ISR %v; want 1, [1], [1]", p.Partition, p.Leader, p.Replicas, p.ISR)
		}
		if v >= 7 && p.LeaderEpoch < 0 {
			t.Errorf("partition %d: leader epoch %d", p.Partition, p.LeaderEpoch)
		}
		if v >= 5 && len(p.OfflineReplicas) != 0 {
			t.Errorf("partition %d: offline replicas %v", p.Partition, p.OfflineReplicas)
		}
	}
	if !seen[0] || !seen[1] {
		t.Errorf("partitions %v, want 0 and 1", seen)
	}
}

// --- CreateTopics (key 19) ---------------------------------------------------

func TestCreateTopics(t *testing.T) {
	forVersions(t, 19, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		names := map[string]string{}
		for _, k := range []string{"ok", "zero", "negative", "rf3", "rf0", "validate", "badconfig", "unknownconfig", "defaults"} {
			names[k] = topicName(t, k)
		}
		topic := func(name string, parts int32, rf int16, configs ...string) kmsg.CreateTopicsRequestTopic {
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, parts, rf
			for i := 0; i+1 < len(configs); i += 2 {
				c := kmsg.NewCreateTopicsRequestTopicConfig()
				c.Name, c.Value = configs[i], kmsg.StringPtr(configs[i+1])
				rt.Configs = append(rt.Configs, c)
			}
			return rt
		}
		req := versioned(kmsg.NewPtrCreateTopicsRequest(), v)
		req.TimeoutMillis = 10000
		req.Topics = []kmsg.CreateTopicsRequestTopic{
			topic(names["ok"], 3, 1, "retention.ms", "123456"),
			topic(names["zero"], 0, 1),
			topic(names["negative"], -5, 1),
			topic(names["rf3"], 1, 3),
			topic(names["rf0"], 1, 0),
			topic(names["badconfig"], 1, 1, "retention.ms", "not-a-number"),
			topic(names["unknownconfig"], 1, 1, "no.such.config", "1"),
			topic("bad/name", 1, 1),
		}
		if v >= 4 {
			req.Topics = append(req.Topics, topic(names["defaults"], -1, -1))
		}
		resp := c.do(req).(*kmsg.CreateTopicsResponse)
		got := map[string]kmsg.CreateTopicsResponseTopic{}
		for _, rt := range resp.Topics {
			got[rt.Topic] = rt
		}
		if len(got) != len(req.Topics) {
			t.Fatalf("%d topics answered, %d asked", len(got), len(req.Topics))
		}
		want := map[string]*kerr.Error{
			names["ok"]:            nil,
			names["zero"]:          kerr.InvalidPartitions,
			names["negative"]:      kerr.InvalidPartitions,
			names["rf3"]:           kerr.InvalidReplicationFactor,
			names["rf0"]:           kerr.InvalidReplicationFactor,
			names["badconfig"]:     kerr.InvalidConfig,
			names["unknownconfig"]: kerr.InvalidConfig,
			"bad/name":             kerr.InvalidTopicException,
		}
		if v >= 4 {
			want[names["defaults"]] = nil
		}
		for name, w := range want {
			wantCode(t, "create "+name, got[name].ErrorCode, w)
			if w != nil {
				if got[name].ErrorMessage == nil {
					t.Errorf("create %s: no error message", name)
				}
				if mt := metadataTopic(t, c, name); name != "bad/name" && mt.ErrorCode != kerr.UnknownTopicOrPartition.Code {
					t.Errorf("refused topic %s exists anyway (%s)", name, errName(mt.ErrorCode))
				}
			}
		}

		ok := got[names["ok"]]
		waitServed(t, c, names["ok"], 3)
		mt := metadataTopic(t, c, names["ok"])
		if len(mt.Partitions) != 3 {
			t.Errorf("created with 3 partitions, Metadata shows %d", len(mt.Partitions))
		}
		if v >= 5 {
			if ok.NumPartitions != 3 || ok.ReplicationFactor != 1 {
				t.Errorf("v5+ answer: %d partitions, RF %d; want 3, 1", ok.NumPartitions, ok.ReplicationFactor)
			}
			cfg := map[string]kmsg.CreateTopicsResponseTopicConfig{}
			for _, c := range ok.Configs {
				cfg[c.Name] = c
			}
			if r, found := cfg["retention.ms"]; !found || r.Value == nil || *r.Value != "123456" || r.Source != 1 {
				t.Errorf("v5+ configs: retention.ms = %+v, want 123456 from DYNAMIC_TOPIC_CONFIG (1)", r)
			}
			if cp, found := cfg["cleanup.policy"]; !found || cp.Value == nil || *cp.Value != "delete" {
				t.Errorf("v5+ configs: cleanup.policy = %+v, want the default delete", cp)
			}
		}
		if v >= 7 {
			if ok.TopicID == [16]byte{} || ok.TopicID != mt.TopicID {
				t.Errorf("v7 topic ID %x, Metadata says %x", ok.TopicID, mt.TopicID)
			}
		}
		if v >= 4 {
			waitServed(t, c, names["defaults"], 1)
			d := metadataTopic(t, c, names["defaults"])
			if len(d.Partitions) != 1 || len(d.Partitions[0].Replicas) != 1 {
				t.Errorf("-1/-1 takes num.partitions=1 and default.replication.factor=1: got %d partitions", len(d.Partitions))
			}
			if v >= 5 {
				if dt := got[names["defaults"]]; dt.NumPartitions != 1 || dt.ReplicationFactor != 1 {
					t.Errorf("-1/-1 answer: %d partitions, RF %d; want 1, 1", dt.NumPartitions, dt.ReplicationFactor)
				}
			}
		}

		// Again: TOPIC_ALREADY_EXISTS. validate_only: checks, creates nothing.
		// A name twice in one request: INVALID_REQUEST for both.
		req2 := versioned(kmsg.NewPtrCreateTopicsRequest(), v)
		req2.Topics = []kmsg.CreateTopicsRequestTopic{topic(names["ok"], 3, 1)}
		wantCode(t, "create an existing topic", c.do(req2).(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode, kerr.TopicAlreadyExists)

		vreq := versioned(kmsg.NewPtrCreateTopicsRequest(), v)
		vreq.ValidateOnly = true
		vreq.Topics = []kmsg.CreateTopicsRequestTopic{topic(names["validate"], 2, 1), topic(names["ok"], 1, 1)}
		vr := c.do(vreq).(*kmsg.CreateTopicsResponse)
		for _, rt := range vr.Topics {
			switch rt.Topic {
			case names["validate"]:
				wantCode(t, "validate_only", rt.ErrorCode, nil)
				if v >= 5 && rt.NumPartitions != 2 {
					t.Errorf("validate_only v5+: %d partitions in the answer, want 2", rt.NumPartitions)
				}
			case names["ok"]:
				wantCode(t, "validate_only of an existing topic", rt.ErrorCode, kerr.TopicAlreadyExists)
			}
		}
		if mt := metadataTopic(t, c, names["validate"]); mt.ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("validate_only created %s (%s)", names["validate"], errName(mt.ErrorCode))
		}

		dup := topicName(t, "dup")
		dreq := versioned(kmsg.NewPtrCreateTopicsRequest(), v)
		dreq.Topics = []kmsg.CreateTopicsRequestTopic{topic(dup, 1, 1), topic(dup, 1, 1)}
		for _, rt := range c.do(dreq).(*kmsg.CreateTopicsResponse).Topics {
			wantCode(t, "a name given twice", rt.ErrorCode, kerr.InvalidRequest)
		}
		if mt := metadataTopic(t, c, dup); mt.ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("a name given twice was created (%s)", errName(mt.ErrorCode))
		}
	})
}

// --- DeleteTopics (key 20) ---------------------------------------------------

func TestDeleteTopics(t *testing.T) {
	forVersions(t, 20, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		name := topicName(t, "byname")
		id := createTopic(t, c, name, 1, nil)
		mustProduce(t, c, name, 0, simpleBatch(nowMs(), "old", 3))

		del := func(topic *string, tid [16]byte) kmsg.DeleteTopicsResponseTopic {
			t.Helper()
			req := versioned(kmsg.NewPtrDeleteTopicsRequest(), v)
			req.TimeoutMillis = 10000
			if v >= 6 {
				rt := kmsg.NewDeleteTopicsRequestTopic()
				rt.Topic, rt.TopicID = topic, tid
				req.Topics = append(req.Topics, rt)
			} else {
				req.TopicNames = append(req.TopicNames, *topic)
			}
			resp := c.do(req).(*kmsg.DeleteTopicsResponse)
			if len(resp.Topics) != 1 {
				t.Fatalf("DeleteTopics v%d: %d topics answered", v, len(resp.Topics))
			}
			return resp.Topics[0]
		}

		r := del(&name, [16]byte{})
		wantCode(t, "delete by name", r.ErrorCode, nil)
		if r.Topic == nil || *r.Topic != name {
			t.Errorf("answered topic %v, want %s", r.Topic, name)
		}
		if v >= 6 && r.TopicID != id {
			t.Errorf("v6 answer topic ID %x, want %x", r.TopicID, id)
		}
		if mt := metadataTopic(t, c, name); mt.ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("deleted topic still described (%s)", errName(mt.ErrorCode))
		}
		unknown := topicName(t, "unknown")
		wantCode(t, "delete an unknown name", del(&unknown, [16]byte{}).ErrorCode, kerr.UnknownTopicOrPartition)

		// The name again: a new, empty log, none of the old records.
		newID := createTopic(t, c, name, 1, nil)
		if newID == id {
			t.Errorf("re-created topic reuses the old topic ID %x", id)
		}
		if hw := latest(t, c, name, 0); hw != 0 {
			t.Errorf("re-created topic has high watermark %d, want 0", hw)
		}
		if got := readAll(t, c, name, 0); len(got) != 0 {
			t.Errorf("re-created topic serves %d old batches", len(got))
		}

		if v >= 6 {
			r := del(nil, newID)
			wantCode(t, "delete by ID", r.ErrorCode, nil)
			if r.Topic == nil || *r.Topic != name || r.TopicID != newID {
				t.Errorf("by ID answer: name %v, ID %x", r.Topic, r.TopicID)
			}
			if mt := metadataTopic(t, c, name); mt.ErrorCode != kerr.UnknownTopicOrPartition.Code {
				t.Errorf("topic deleted by ID still described (%s)", errName(mt.ErrorCode))
			}
			wantCode(t, "delete an unknown ID", del(nil, [16]byte{0xba, 0xd1}).ErrorCode, kerr.UnknownTopicID)
		}
	})
}

// --- Produce (key 0) ---------------------------------------------------------

func TestProduce(t *testing.T) {
	forVersions(t, 0, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		if v < 3 {
			// Message format v0/v1: advertised for librdkafka's feature
			// detection, refused by closing the connection (Kafka 4).
			c.send(produceReq(v, "any", [16]byte{}, 0, 1, simpleBatch(nowMs(), "x", 1)))
			c.expectClosed(fmt.Sprintf("Produce v%d", v))
			return
		}
		topic := topicName(t, "p")
		id := createTopic(t, c, topic, 1, map[string]string{"max.message.bytes": "4096"})
		now := nowMs()

		// A valid batch gets offsets; the next one follows it.
		b1 := simpleBatch(now, "a", 3)
		p := produce(t, c, v, topic, id, 0, b1)
		wantCode(t, "valid batch", p.ErrorCode, nil)
		if p.BaseOffset != 0 {
			t.Errorf("first batch base offset %d, want 0", p.BaseOffset)
		}
		if p.LogAppendTime != -1 {
			t.Errorf("CreateTime topic: log append time %d, want -1", p.LogAppendTime)
		}
		if v >= 5 && p.LogStartOffset != 0 {
			t.Errorf("log start offset %d, want 0", p.LogStartOffset)
		}
		b2 := simpleBatch(now+100, "b", 2)
		if p := produce(t, c, v, topic, id, 0, b2); p.ErrorCode != 0 || p.BaseOffset != 3 {
			t.Errorf("second batch: %s at %d, want NONE at 3", errName(p.ErrorCode), p.BaseOffset)
		}

		// Errors that leave the log alone.
		badCRC := simpleBatch(now, "crc", 2)
		badCRC[len(badCRC)-1] ^= 0xff
		big := batchSpec{firstTS: now, recs: []rec{{value: bytes.Repeat([]byte{0x5a}, 8000)}}}.encode()
		future := batchSpec{firstTS: now, recs: []rec{{value: []byte("ok")}, {tsDelta: 48 * 3600 * 1000, value: []byte("late")}}}.encode()
		cases := []struct {
			name  string
			batch []byte
			want  *kerr.Error
		}{
			{"bad CRC", badCRC, kerr.CorruptMessage},
			{"larger than max.message.bytes", big, kerr.MessageTooLarge},
			{"timestamp beyond message.timestamp.after.max.ms", future, kerr.InvalidTimestamp},
		}
		for _, tc := range cases {
			p := produce(t, c, v, topic, id, 0, tc.batch)
			wantCode(t, tc.name, p.ErrorCode, tc.want)
			if p.BaseOffset != -1 {
				t.Errorf("%s: base offset %d, want -1", tc.name, p.BaseOffset)
			}
			if tc.want == kerr.InvalidTimestamp && v >= 8 {
				// Per-record errors (KIP-467): the second record only.
				if len(p.ErrorRecords) != 1 || p.ErrorRecords[0].RelativeOffset != 1 {
					t.Errorf("v%d record errors %+v, want the record at relative offset 1", v, p.ErrorRecords)
				}
			}
		}
		acks2 := produceReq(v, topic, id, 0, 2, simpleBatch(now, "acks2", 1))
		ar := c.do(acks2).(*kmsg.ProduceResponse)
		wantCode(t, "acks=2", ar.Topics[0].Partitions[0].ErrorCode, kerr.InvalidRequiredAcks)

		unknownTopic := topicName(t, "missing")
		up := produce(t, c, v, unknownTopic, [16]byte{0xaa, 0xbb}, 0, simpleBatch(now, "u", 1))
		if v >= 13 {
			wantCode(t, "unknown topic ID", up.ErrorCode, kerr.UnknownTopicID)
		} else {
			wantCode(t, "unknown topic", up.ErrorCode, kerr.UnknownTopicOrPartition)
			if mt := metadataTopic(t, c, unknownTopic); mt.ErrorCode != kerr.UnknownTopicOrPartition.Code {
				t.Errorf("Produce auto-created %s (Kafka never does)", unknownTopic)
			}
		}
		wantCode(t, "unknown partition", produce(t, c, v, topic, id, 7, simpleBatch(now, "u", 1)).ErrorCode, kerr.UnknownTopicOrPartition)

		if hw := latest(t, c, topic, 0); hw != 5 {
			t.Fatalf("after two accepted and several refused batches, high watermark %d, want 5", hw)
		}

		// acks=0: no response. The next request's answer is the next frame.
		c.send(produceReq(v, topic, id, 0, 0, simpleBatch(now, "acks0", 1)))
		av := versioned(kmsg.NewPtrApiVersionsRequest(), 0)
		if resp := c.recv(av, c.send(av)).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
			t.Errorf("ApiVersions after acks=0 produce: %s", errName(resp.ErrorCode))
		}
		// The append happened in request order, before ApiVersions.
		if hw := latest(t, c, topic, 0); hw != 6 {
			t.Errorf("after an acks=0 batch, high watermark %d, want 6", hw)
		}

		// All that is stored is exactly what was accepted.
		got := readAll(t, c, topic, 0)
		if len(got) != 3 {
			t.Fatalf("stored %d batches, want 3", len(got))
		}
		for i, w := range []struct {
			b    []byte
			base int64
		}{{b1, 0}, {b2, 3}} {
			if err := sameBatch(got[i], w.b, w.base); err != nil {
				t.Errorf("batch %d: %v", i, err)
			}
		}

		// acks=0 and an error: the connection is closed.
		c0 := dial(t, shared.addr)
		c0.send(produceReq(v, unknownTopic, [16]byte{0xaa, 0xbb}, 0, 0, simpleBatch(now, "u", 1)))
		c0.expectClosed("failed acks=0 produce")

		testIdempotent(t, c, v, topic, id)
	})
}

// testIdempotent checks sequence handling at produce version v on a topic
// whose high watermark is hw0 = 6.
func testIdempotent(t *testing.T, c *client, v int16, topic string, id [16]byte) {
	ip := c.do(versioned(kmsg.NewPtrInitProducerIDRequest(), maxVersion(t, 22))).(*kmsg.InitProducerIDResponse)
	if ip.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %s", errName(ip.ErrorCode))
	}
	now := nowMs()
	batch := func(seq int32, n int) []byte {
		s := batchSpec{firstTS: now, producerID: ip.ProducerID, epoch: ip.ProducerEpoch, seq: seq, idempotent: true}
		for i := range n {
			s.recs = append(s.recs, rec{tsDelta: int64(i), value: []byte{byte(seq), byte(i)}})
		}
		return s.encode()
	}
	hw0 := latest(t, c, topic, 0)
	first := batch(0, 3)
	p := produce(t, c, v, topic, id, 0, first)
	wantCode(t, "idempotent seq 0", p.ErrorCode, nil)
	base := p.BaseOffset
	if base != hw0 {
		t.Errorf("idempotent seq 0 at %d, want %d", base, hw0)
	}
	// The retry of an appended batch: NONE with the original offset, and
	// nothing new in the log.
	p = produce(t, c, v, topic, id, 0, first)
	wantCode(t, "retry of seq 0", p.ErrorCode, nil)
	if p.BaseOffset != base {
		t.Errorf("retry of seq 0 answered base offset %d, want the original %d", p.BaseOffset, base)
	}
	if hw := latest(t, c, topic, 0); hw != hw0+3 {
		t.Errorf("after a duplicate, high watermark %d, want %d", hw, hw0+3)
	}
	p = produce(t, c, v, topic, id, 0, batch(3, 2))
	if p.ErrorCode != 0 || p.BaseOffset != hw0+3 {
		t.Errorf("seq 3: %s at %d, want NONE at %d", errName(p.ErrorCode), p.BaseOffset, hw0+3)
	}
	// The retry of a batch that is no longer the last but among the last
	// five: still NONE with its original offset.
	p = produce(t, c, v, topic, id, 0, first)
	if p.ErrorCode != 0 || p.BaseOffset != base {
		t.Errorf("retry of seq 0 after seq 3: %s at %d, want NONE at %d", errName(p.ErrorCode), p.BaseOffset, base)
	}
	// A gap: sequence 9 where 5 is next.
	p = produce(t, c, v, topic, id, 0, batch(9, 1))
	wantCode(t, "sequence gap", p.ErrorCode, kerr.OutOfOrderSequenceNumber)
	if hw := latest(t, c, topic, 0); hw != hw0+5 {
		t.Errorf("after a refused gap, high watermark %d, want %d", hw, hw0+5)
	}
	// Five more batches push seq 0 out of the cached five: its retry is
	// then out of order, not a duplicate.
	next := int32(5)
	for range 5 {
		if p := produce(t, c, v, topic, id, 0, batch(next, 1)); p.ErrorCode != 0 {
			t.Fatalf("seq %d: %s", next, errName(p.ErrorCode))
		}
		next++
	}
	wantCode(t, "retry of a batch older than the last five", produce(t, c, v, topic, id, 0, first).ErrorCode, kerr.OutOfOrderSequenceNumber)

	// A client-side epoch bump (KIP-360) starts again at sequence 0; the
	// old epoch is then fenced.
	bumped := func(epoch int16, seq int32) []byte {
		s := batchSpec{firstTS: now, producerID: ip.ProducerID, epoch: epoch, seq: seq, idempotent: true,
			recs: []rec{{value: []byte("e")}}}
		return s.encode()
	}
	wantCode(t, "new epoch at seq 3", produce(t, c, v, topic, id, 0, bumped(ip.ProducerEpoch+2, 3)).ErrorCode, kerr.OutOfOrderSequenceNumber)
	wantCode(t, "new epoch at seq 0", produce(t, c, v, topic, id, 0, bumped(ip.ProducerEpoch+1, 0)).ErrorCode, nil)
	wantCode(t, "old epoch after a bump", produce(t, c, v, topic, id, 0, bumped(ip.ProducerEpoch, next)).ErrorCode, kerr.InvalidProducerEpoch)

	// A producer the partition has no state for (its state may have
	// expired) is taken at any sequence, as Kafka does since KIP-360; from
	// then on its sequence is checked.
	stranger := func(seq int32) []byte {
		s := batchSpec{firstTS: now, producerID: ip.ProducerID + 1_000_000, epoch: 0, seq: seq, idempotent: true,
			recs: []rec{{value: []byte("s")}}}
		return s.encode()
	}
	wantCode(t, "unknown producer at seq 5", produce(t, c, v, topic, id, 0, stranger(5)).ErrorCode, nil)
	wantCode(t, "that producer at seq 6", produce(t, c, v, topic, id, 0, stranger(6)).ErrorCode, nil)
	wantCode(t, "that producer at seq 8", produce(t, c, v, topic, id, 0, stranger(8)).ErrorCode, kerr.OutOfOrderSequenceNumber)
}

// TestPipelining sends several requests on one connection without waiting:
// a long-poll Fetch first, then quick ones. The answers must come back in
// request order, the quick ones held behind the Fetch.
func TestPipelining(t *testing.T) {
	c := dial(t, shared.addr)
	topic := topicName(t, "pipe")
	id := createTopic(t, c, topic, 1, nil)
	fetch := fetchReq(maxVersion(t, 1), topic, id, 0, 0, 1<<20, 1<<20)
	fetch.MinBytes, fetch.MaxWaitMillis = 1, 300
	reqs := []kmsg.Request{
		fetch,
		versioned(kmsg.NewPtrApiVersionsRequest(), 0),
		metaReq(maxVersion(t, 3), []string{topic}),
		versioned(kmsg.NewPtrInitProducerIDRequest(), maxVersion(t, 22)),
		versioned(kmsg.NewPtrApiVersionsRequest(), maxVersion(t, 18)),
	}
	var out []byte
	corrs := make([]int32, len(reqs))
	for i, r := range reqs {
		corrs[i] = int32(500 + i)
		out = appendRequest(out, r, corrs[i], &clientID)
	}
	start := time.Now()
	c.write(out)
	for i, r := range reqs {
		c.recv(r, corrs[i]) // fails on a correlation id out of order
		if i == 0 && time.Since(start) < 250*time.Millisecond {
			t.Errorf("the long-poll Fetch answered after %v, want about 300ms", time.Since(start))
		}
	}
}

// --- Fetch (key 1) -----------------------------------------------------------

func TestFetch(t *testing.T) {
	setup := dial(t, shared.addr)
	topic := topicName(t, "data")
	id := createTopic(t, setup, topic, 1, nil)
	now := nowMs()
	b1, b2 := simpleBatch(now, "one", 3), simpleBatch(now+50, "two", 2)
	mustProduce(t, setup, topic, 0, b1)
	mustProduce(t, setup, topic, 0, b2)

	forVersions(t, 1, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		req := func(offset int64, maxBytes, partMax int32) *kmsg.FetchRequest {
			return fetchReq(v, topic, id, 0, offset, maxBytes, partMax)
		}

		resp, p := fetchOne(t, c, req(0, 1<<20, 1<<20))
		wantCode(t, "fetch from 0", p.ErrorCode, nil)
		if v >= 13 && resp.Topics[0].TopicID != id {
			t.Errorf("v13+: answered topic ID %x, want %x", resp.Topics[0].TopicID, id)
		}
		if v < 13 && resp.Topics[0].Topic != topic {
			t.Errorf("answered topic %q, want %q", resp.Topics[0].Topic, topic)
		}
		if v >= 7 && resp.SessionID != 0 {
			t.Errorf("session id %d, want 0 (no sessions kept)", resp.SessionID)
		}
		if p.HighWatermark != 5 || p.LastStableOffset != 5 {
			t.Errorf("high watermark %d, last stable offset %d; want 5, 5", p.HighWatermark, p.LastStableOffset)
		}
		if v >= 5 && p.LogStartOffset != 0 {
			t.Errorf("log start offset %d, want 0", p.LogStartOffset)
		}
		if v >= 11 && p.PreferredReadReplica != -1 {
			t.Errorf("preferred read replica %d, want -1", p.PreferredReadReplica)
		}
		if p.AbortedTransactions != nil {
			t.Errorf("read_uncommitted: aborted transactions %v, want null", p.AbortedTransactions)
		}
		got, rest := splitBatches(p.RecordBatches)
		if len(got) != 2 || len(rest) != 0 {
			t.Fatalf("fetched %d batches and %d stray bytes, want 2 and 0", len(got), len(rest))
		}
		if err := sameBatch(got[0], b1, 0); err != nil {
			t.Errorf("batch 1: %v", err)
		}
		if err := sameBatch(got[1], b2, 3); err != nil {
			t.Errorf("batch 2: %v", err)
		}

		// From inside the first batch: the whole batch holding the offset.
		_, p = fetchOne(t, c, req(1, 1<<20, 1<<20))
		if got, _ := splitBatches(p.RecordBatches); len(got) != 2 || sameBatch(got[0], b1, 0) != nil {
			t.Errorf("fetch from offset 1: want both batches starting with the one at 0, got %d", len(got))
		}

		// Byte limits: never more than asked, except that the first batch
		// is always sent (KIP-74), whole.
		for _, lim := range []struct {
			name             string
			maxBytes, partMx int32
		}{
			{"max_bytes 1", 1, 1 << 20},
			{"partition_max_bytes 1", 1 << 20, 1},
			{"max_bytes one byte short of both batches", int32(len(b1) + len(b2) - 1), 1 << 20},
		} {
			_, p := fetchOne(t, c, req(0, lim.maxBytes, lim.partMx))
			wantCode(t, lim.name, p.ErrorCode, nil)
			got, _ := splitBatches(p.RecordBatches)
			if len(got) != 1 || sameBatch(got[0], b1, 0) != nil {
				t.Errorf("%s: %d whole batches, want exactly the first", lim.name, len(got))
			}
			if len(p.RecordBatches) > max(int(min(lim.maxBytes, lim.partMx)), len(b1)) {
				t.Errorf("%s: %d bytes sent", lim.name, len(p.RecordBatches))
			}
		}

		// At the end: nothing, no error. Past it: OFFSET_OUT_OF_RANGE.
		_, p = fetchOne(t, c, req(5, 1<<20, 1<<20))
		wantCode(t, "fetch at the log end", p.ErrorCode, nil)
		if len(p.RecordBatches) != 0 {
			t.Errorf("fetch at the log end returned %d bytes", len(p.RecordBatches))
		}
		_, p = fetchOne(t, c, req(6, 1<<20, 1<<20))
		wantCode(t, "fetch past the log end", p.ErrorCode, kerr.OffsetOutOfRange)
		if len(p.RecordBatches) != 0 {
			t.Errorf("OFFSET_OUT_OF_RANGE with %d bytes of records", len(p.RecordBatches))
		}

		// read_committed: the LSO (= HW without transactions) and an empty,
		// non-null aborted list.
		rc := req(0, 1<<20, 1<<20)
		rc.IsolationLevel = 1
		_, p = fetchOne(t, c, rc)
		if p.AbortedTransactions == nil || len(p.AbortedTransactions) != 0 {
			t.Errorf("read_committed: aborted transactions %v, want an empty list", p.AbortedTransactions)
		}
		if got, _ := splitBatches(p.RecordBatches); len(got) != 2 || p.LastStableOffset != 5 {
			t.Errorf("read_committed: %d batches, LSO %d; want 2, 5", len(got), p.LastStableOffset)
		}

		// Unknown topic and partition.
		unknown := fetchReq(v, topicName(t, "missing"), [16]byte{0x77}, 0, 0, 1<<20, 1<<20)
		_, p = fetchOne(t, c, unknown)
		if v >= 13 {
			wantCode(t, "unknown topic ID", p.ErrorCode, kerr.UnknownTopicID)
		} else {
			wantCode(t, "unknown topic", p.ErrorCode, kerr.UnknownTopicOrPartition)
		}
		_, p = fetchOne(t, c, fetchReq(v, topic, id, 9, 0, 1<<20, 1<<20))
		wantCode(t, "unknown partition", p.ErrorCode, kerr.UnknownTopicOrPartition)

		// Fetch sessions are not kept: naming one is FETCH_SESSION_ID_NOT_FOUND.
		if v >= 7 {
			s := req(0, 1<<20, 1<<20)
			s.SessionID, s.SessionEpoch = 12345, 1
			sr := c.do(s).(*kmsg.FetchResponse)
			wantCode(t, "unknown fetch session", sr.ErrorCode, kerr.FetchSessionIDNotFound)
		}
	})
}

// TestFetchLongPoll checks MinBytes and MaxWaitMs on every Fetch version:
// an empty partition holds the answer for about MaxWaitMs, and data
// arriving meanwhile releases it at once.
func TestFetchLongPoll(t *testing.T) {
	forVersions(t, 1, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		topic := topicName(t, "empty")
		id := createTopic(t, c, topic, 1, nil)

		req := fetchReq(v, topic, id, 0, 0, 1<<20, 1<<20)
		req.MinBytes, req.MaxWaitMillis = 1, 500
		start := time.Now()
		_, p := fetchOne(t, c, req)
		took := time.Since(start)
		wantCode(t, "long poll on an empty partition", p.ErrorCode, nil)
		if len(p.RecordBatches) != 0 {
			t.Errorf("empty partition returned %d bytes", len(p.RecordBatches))
		}
		if took < 400*time.Millisecond || took >= 3*time.Second {
			t.Errorf("MaxWaitMs=500 on an empty partition answered after %v, want about 500ms", took)
		}

		// Early release: a produce during the wait answers the fetch.
		req.MaxWaitMillis = 10000
		batch := simpleBatch(nowMs(), "wake", 2)
		start = time.Now()
		corr := c.send(req)
		producer := dial(t, shared.addr)
		// Give the broker a moment to park the fetch so that the wake-up
		// is what is tested; if it has not parked yet the fetch finds the
		// data at once, and the assertions below hold all the same.
		time.Sleep(100 * time.Millisecond)
		mustProduce(t, producer, topic, 0, batch)
		resp := c.recv(req, corr).(*kmsg.FetchResponse)
		took = time.Since(start)
		if took >= 3*time.Second {
			t.Errorf("a produce during the wait released the fetch only after %v (MaxWaitMs 10s)", took)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("want one partition in the answer")
		}
		got, _ := splitBatches(resp.Topics[0].Partitions[0].RecordBatches)
		if len(got) != 1 || sameBatch(got[0], batch, 0) != nil {
			t.Errorf("the released fetch carries %d batches, want the produced one", len(got))
		}
	})
}

// --- ListOffsets (key 2) -----------------------------------------------------

func TestListOffsets(t *testing.T) {
	setup := dial(t, shared.addr)
	topic := topicName(t, "ts")
	createTopic(t, setup, topic, 1, nil)
	ts0 := nowMs() - 60_000
	// Offsets 0-2 at ts0, ts0+10, ts0+20; offsets 3-4 at ts0+30, ts0+40.
	mustProduce(t, setup, topic, 0, simpleBatch(ts0, "a", 3))
	mustProduce(t, setup, topic, 0, simpleBatch(ts0+30, "b", 2))

	forVersions(t, 2, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		cases := []struct {
			name       string
			ts         int64
			isolation  int8
			minVersion int16
			offset     int64
			timestamp  int64
		}{
			{"earliest", -2, 0, 0, 0, -1},
			{"latest", -1, 0, 0, 5, -1},
			{"latest read_committed", -1, 1, 2, 5, -1},
			{"before every record", ts0 - 1000, 0, 0, 0, ts0},
			{"first record's time", ts0, 0, 0, 0, ts0},
			{"inside the first batch", ts0 + 15, 0, 0, 2, ts0 + 20},
			{"exact time inside a batch", ts0 + 20, 0, 0, 2, ts0 + 20},
			{"inside the second batch", ts0 + 31, 0, 0, 4, ts0 + 40},
			{"after every record", ts0 + 41, 0, 0, -1, -1},
			{"max timestamp", -3, 0, 7, 4, ts0 + 40},
		}
		for _, tc := range cases {
			if v < tc.minVersion {
				continue
			}
			p, code := listOffset(t, c, v, topic, 0, tc.ts, tc.isolation)
			wantCode(t, tc.name, code, nil)
			if p.Offset != tc.offset || p.Timestamp != tc.timestamp {
				t.Errorf("%s (ts %d): offset %d, timestamp %d; want %d, %d", tc.name, tc.ts, p.Offset, p.Timestamp, tc.offset, tc.timestamp)
			}
			if v >= 4 && p.LeaderEpoch < 0 && tc.offset >= 0 {
				t.Errorf("%s: leader epoch %d", tc.name, p.LeaderEpoch)
			}
		}
		if _, code := listOffset(t, c, v, topic, 3, -1, 0); code != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("unknown partition: %s, want UNKNOWN_TOPIC_OR_PARTITION", errName(code))
		}
		if _, code := listOffset(t, c, v, topicName(t, "missing"), 0, -1, 0); code != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("unknown topic: %s, want UNKNOWN_TOPIC_OR_PARTITION", errName(code))
		}
	})
}

// --- InitProducerId (key 22) -------------------------------------------------

func TestInitProducerID(t *testing.T) {
	var seen sync.Map // producer id -> version that got it, across all versions
	forVersions(t, 22, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		for range 3 {
			req := versioned(kmsg.NewPtrInitProducerIDRequest(), v)
			req.TransactionTimeoutMillis = 60000
			resp := c.do(req).(*kmsg.InitProducerIDResponse)
			wantCode(t, "InitProducerId", resp.ErrorCode, nil)
			if resp.ProducerID < 0 || resp.ProducerEpoch != 0 {
				t.Errorf("producer id %d epoch %d, want a non-negative id with epoch 0", resp.ProducerID, resp.ProducerEpoch)
			}
			if prev, dup := seen.LoadOrStore(resp.ProducerID, v); dup {
				t.Errorf("producer id %d given twice (v%d got it before)", resp.ProducerID, prev)
			}
		}
	})
}
