package api

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/config"
)

// validateTopicConfigs checks a topic's config overrides as Kafka does; the
// error unwraps to INVALID_CONFIG.
func (h *handlers) validateTopicConfigs(configs map[string]string) error {
	if err := config.ValidateTopicConfigs(configs); err != nil {
		return err
	}
	bcfg, err := h.effectiveBrokerConfig(h.Meta.Image())
	if err != nil {
		return err
	}
	_, err = config.TopicConfig(bcfg, configs)
	return err
}

// createdTopicConfigs lists every effective config of a topic with these
// overrides, with sources, as CreateTopics v5+ answers.
func (h *handlers) createdTopicConfigs(overrides map[string]string) []kmsg.CreateTopicsResponseTopicConfig {
	bcfg, err := h.effectiveBrokerConfig(h.Meta.Image())
	if err != nil {
		return nil
	}
	t, err := config.TopicConfig(bcfg, overrides)
	if err != nil {
		return nil
	}
	entries := t.Entries()
	out := make([]kmsg.CreateTopicsResponseTopicConfig, 0, len(entries))
	for _, e := range entries {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name = e.Name
		c.Value = e.Value
		c.ReadOnly = e.ReadOnly
		c.Source = int8(e.Source)
		c.IsSensitive = e.Sensitive
		out = append(out, c)
	}
	return out
}

// isInternalTopic reports whether Kafka treats a topic as internal.
func isInternalTopic(name string) bool {
	return name == "__consumer_offsets" || name == "__transaction_state" || strings.HasPrefix(name, "__cluster_metadata")
}
