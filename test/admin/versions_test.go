package admin

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestEveryVersion sends every advertised version of every admin API on one
// connection and checks the answer decodes strictly and says what the
// broker knows. It also pins the advertised ranges, so that a change to
// them is a deliberate one.
func TestEveryVersion(t *testing.T) {
	n := startNode(t)
	cl, adm := n.client(t)
	topic := topicName(t)
	createTopic(t, adm, topic, 1, nil)
	produce(t, cl, topic, 0, 10, 10)
	raw := dialRaw(t, n.addr)

	ranges := map[int16][2]int16{}
	av := raw.do(versioned(kmsg.NewPtrApiVersionsRequest(), 0)).(*kmsg.ApiVersionsResponse)
	for _, k := range av.ApiKeys {
		ranges[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	want := map[int16][2]int16{
		21: {0, 2}, 23: {2, 4}, 32: {1, 4}, 33: {0, 2}, 35: {1, 5}, 37: {0, 3}, 44: {0, 1}, 60: {0, 2}, 75: {0, 0},
	}
	for key, w := range want {
		if ranges[key] != w {
			t.Errorf("%s advertised v%d-%d, want v%d-%d", kmsg.NameForKey(key), ranges[key][0], ranges[key][1], w[0], w[1])
		}
	}

	partitions := 1
	each := func(key int16, fn func(t *testing.T, v int16)) {
		r := ranges[key]
		for v := r[0]; v <= r[1]; v++ {
			t.Run(fmt.Sprintf("%s/v%d", kmsg.NameForKey(key), v), func(t *testing.T) { fn(t, v) })
		}
	}

	each(37, func(t *testing.T, v int16) {
		req := versioned(kmsg.NewPtrCreatePartitionsRequest(), v)
		req.TimeoutMillis = 5000
		partitions++
		req.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: topic, Count: int32(partitions)}}
		resp := raw.do(req).(*kmsg.CreatePartitionsResponse)
		wantCode(t, "CreatePartitions", resp.Topics[0].ErrorCode, nil)
	})
	each(32, func(t *testing.T, v int16) {
		req := versioned(kmsg.NewPtrDescribeConfigsRequest(), v)
		req.IncludeSynonyms, req.IncludeDocumentation = true, true
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName, r.ConfigNames = kmsg.ConfigResourceTypeTopic, topic, []string{"retention.ms"}
		req.Resources = append(req.Resources, r)
		resp := raw.do(req).(*kmsg.DescribeConfigsResponse)
		res := resp.Resources[0]
		wantCode(t, "DescribeConfigs", res.ErrorCode, nil)
		if len(res.Configs) != 1 || *res.Configs[0].Value != "604800000" || res.Configs[0].Source != kmsg.ConfigSourceDefaultConfig {
			t.Fatalf("retention.ms: %+v", res.Configs)
		}
		if len(res.Configs[0].ConfigSynonyms) == 0 {
			t.Errorf("no synonyms although asked for")
		}
		if v >= 3 && (res.Configs[0].Documentation == nil || res.Configs[0].ConfigType != kmsg.ConfigTypeLong) {
			t.Errorf("v%d: documentation %v, type %v", v, res.Configs[0].Documentation, res.Configs[0].ConfigType)
		}
	})
	each(33, func(t *testing.T, v int16) {
		req := versioned(kmsg.NewPtrAlterConfigsRequest(), v)
		r := kmsg.NewAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, topic
		value := fmt.Sprint(1000 + v)
		r.Configs = []kmsg.AlterConfigsRequestResourceConfig{{Name: "flush.ms", Value: &value}}
		req.Resources = append(req.Resources, r)
		resp := raw.do(req).(*kmsg.AlterConfigsResponse)
		wantCode(t, "AlterConfigs", resp.Resources[0].ErrorCode, nil)
		wantConfig(t, topicConfigs(t, adm, topic), "flush.ms", value, kmsg.ConfigSourceDynamicTopicConfig)
	})
	each(44, func(t *testing.T, v int16) {
		req := versioned(kmsg.NewPtrIncrementalAlterConfigsRequest(), v)
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, topic
		value := fmt.Sprint(2000 + v)
		r.Configs = []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "segment.ms", Op: kmsg.IncrementalAlterConfigOpSet, Value: &value}}
		req.Resources = append(req.Resources, r)
		resp := raw.do(req).(*kmsg.IncrementalAlterConfigsResponse)
		wantCode(t, "IncrementalAlterConfigs", resp.Resources[0].ErrorCode, nil)
		wantConfig(t, topicConfigs(t, adm, topic), "segment.ms", value, kmsg.ConfigSourceDynamicTopicConfig)
	})
	each(23, func(t *testing.T, v int16) {
		req := versioned(kmsg.NewPtrOffsetForLeaderEpochRequest(), v)
		req.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.LeaderEpoch = 0
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := raw.do(req).(*kmsg.OffsetForLeaderEpochResponse)
		p := resp.Topics[0].Partitions[0]
		wantCode(t, "OffsetForLeaderEpoch", p.ErrorCode, nil)
		if p.EndOffset != 10 || p.LeaderEpoch != 0 {
			t.Fatalf("end offset %d epoch %d, want 10 and 0", p.EndOffset, p.LeaderEpoch)
		}
	})
	deleted := int64(0)
	each(21, func(t *testing.T, v int16) {
		req := versioned(kmsg.NewPtrDeleteRecordsRequest(), v)
		req.TimeoutMillis = 5000
		deleted++
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = topic
		rt.Partitions = []kmsg.DeleteRecordsRequestTopicPartition{{Partition: 0, Offset: deleted}}
		req.Topics = append(req.Topics, rt)
		resp := raw.do(req).(*kmsg.DeleteRecordsResponse)
		p := resp.Topics[0].Partitions[0]
		wantCode(t, "DeleteRecords", p.ErrorCode, nil)
		if p.LowWatermark != deleted {
			t.Fatalf("low watermark %d, want %d", p.LowWatermark, deleted)
		}
	})
	each(60, func(t *testing.T, v int16) {
		resp := raw.do(versioned(kmsg.NewPtrDescribeClusterRequest(), v)).(*kmsg.DescribeClusterResponse)
		wantCode(t, "DescribeCluster", resp.ErrorCode, nil)
		if len(resp.Brokers) != 1 || resp.ClusterID == "" {
			t.Fatalf("brokers %v cluster %q", resp.Brokers, resp.ClusterID)
		}
	})
	each(35, func(t *testing.T, v int16) {
		req := versioned(kmsg.NewPtrDescribeLogDirsRequest(), v)
		rt := kmsg.NewDescribeLogDirsRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0}
		req.Topics = append(req.Topics, rt)
		resp := raw.do(req).(*kmsg.DescribeLogDirsResponse)
		if len(resp.Dirs) != 1 || len(resp.Dirs[0].Topics) != 1 || resp.Dirs[0].Topics[0].Partitions[0].Size <= 0 {
			t.Fatalf("dirs %+v", resp.Dirs)
		}
		if d := resp.Dirs[0]; v >= 4 && (d.TotalBytes <= 0 || d.UsableBytes <= 0) {
			t.Errorf("v%d: total %d usable %d bytes", v, d.TotalBytes, d.UsableBytes)
		}
	})
	each(75, func(t *testing.T, v int16) {
		req := versioned(kmsg.NewPtrDescribeTopicPartitionsRequest(), v)
		req.Topics = []kmsg.DescribeTopicPartitionsRequestTopic{{Topic: topic}}
		resp := raw.do(req).(*kmsg.DescribeTopicPartitionsResponse)
		if len(resp.Topics) != 1 || int(len(resp.Topics[0].Partitions)) != partitions || resp.Topics[0].TopicID == [16]byte{} {
			t.Fatalf("topics %+v, want %d partitions with a topic ID", resp.Topics, partitions)
		}
	})
}
