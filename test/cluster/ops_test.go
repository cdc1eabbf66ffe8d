package cluster

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The changes below are sent to one broker alone, whichever it is: one that is not the
// active controller must forward them there.

// opTimeoutMs is the timeout the requests give the controller.
const opTimeoutMs = 10000

// createTopic creates topic with partitions and replication factor rf through addr
// (CreateTopics v7) and returns the topic id the answer carries.
func createTopic(ctx context.Context, addr, topic string, partitions int32, rf int16) ([16]byte, error) {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = opTimeoutMs
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, rf
	req.Topics = append(req.Topics, rt)
	resp, err := request[*kmsg.CreateTopicsResponse](ctx, addr, req, 7)
	if err != nil {
		return [16]byte{}, err
	}
	if len(resp.Topics) != 1 || resp.Topics[0].Topic != topic {
		return [16]byte{}, fmt.Errorf("create %s through %s: answer %+v", topic, addr, resp.Topics)
	}
	t := resp.Topics[0]
	if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
		return [16]byte{}, fmt.Errorf("create %s through %s: %w (%s)", topic, addr, err, deref(t.ErrorMessage))
	}
	if t.TopicID == [16]byte{} {
		return [16]byte{}, fmt.Errorf("create %s through %s: no topic id in the answer", topic, addr)
	}
	if t.NumPartitions != partitions || t.ReplicationFactor != rf {
		return [16]byte{}, fmt.Errorf("create %s through %s: answered %d partitions, RF %d; asked %d, %d", topic, addr, t.NumPartitions, t.ReplicationFactor, partitions, rf)
	}
	return t.TopicID, nil
}

// deleteTopic deletes topic through addr (DeleteTopics v4).
func deleteTopic(ctx context.Context, addr, topic string) error {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = opTimeoutMs
	req.TopicNames = []string{topic}
	resp, err := request[*kmsg.DeleteTopicsResponse](ctx, addr, req, 4)
	if err != nil {
		return err
	}
	if len(resp.Topics) != 1 {
		return fmt.Errorf("delete %s through %s: answer %+v", topic, addr, resp.Topics)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		return fmt.Errorf("delete %s through %s: %w", topic, addr, err)
	}
	return nil
}

// createPartitions grows topic to count partitions through addr (CreatePartitions v3).
func createPartitions(ctx context.Context, addr, topic string, count int32) error {
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.TimeoutMillis = opTimeoutMs
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, count
	req.Topics = append(req.Topics, rt)
	resp, err := request[*kmsg.CreatePartitionsResponse](ctx, addr, req, 3)
	if err != nil {
		return err
	}
	if len(resp.Topics) != 1 {
		return fmt.Errorf("create partitions of %s through %s: answer %+v", topic, addr, resp.Topics)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		return fmt.Errorf("create partitions of %s through %s: %w (%s)", topic, addr, err, deref(resp.Topics[0].ErrorMessage))
	}
	return nil
}

// setTopicConfig sets one config of topic through addr (IncrementalAlterConfigs v1).
func setTopicConfig(ctx context.Context, addr, topic, name, value string) error {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Op, c.Value = name, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(value)
	res.Configs = append(res.Configs, c)
	req.Resources = append(req.Resources, res)
	resp, err := request[*kmsg.IncrementalAlterConfigsResponse](ctx, addr, req, 1)
	if err != nil {
		return err
	}
	if len(resp.Resources) != 1 {
		return fmt.Errorf("set %s of %s through %s: answer %+v", name, topic, addr, resp.Resources)
	}
	if err := kerr.ErrorForCode(resp.Resources[0].ErrorCode); err != nil {
		return fmt.Errorf("set %s of %s through %s: %w (%s)", name, topic, addr, err, deref(resp.Resources[0].ErrorMessage))
	}
	return nil
}

// topicConfig asks addr for one config of topic (DescribeConfigs v4) and returns its
// value and whether it was set on the topic.
func topicConfig(ctx context.Context, addr, topic, name string) (string, bool, error) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType, res.ResourceName, res.ConfigNames = kmsg.ConfigResourceTypeTopic, topic, []string{name}
	req.Resources = append(req.Resources, res)
	resp, err := request[*kmsg.DescribeConfigsResponse](ctx, addr, req, 4)
	if err != nil {
		return "", false, err
	}
	for _, r := range resp.Resources {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return "", false, fmt.Errorf("describe configs of %s at %s: %w", topic, addr, err)
		}
		for _, c := range r.Configs {
			if c.Name == name {
				return deref(c.Value), c.Source == kmsg.ConfigSourceDynamicTopicConfig, nil
			}
		}
	}
	return "", false, fmt.Errorf("describe configs of %s at %s: no %s", topic, addr, name)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
