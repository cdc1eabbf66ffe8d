package broker

import (
	"log/slog"
	"maps"
	"sync/atomic"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/storage"
)

// dynamicConfig is the broker configuration with the dynamic configs of the
// metadata log applied over the static ones: first the cluster-wide ones
// (AlterConfigs on the default broker resource), then this node's own (the
// broker resource named by its node id), which win, as in Kafka. Topic logs
// take their defaults from it, so a change of, say, log.retention.ms reaches
// every log without a restart.
type dynamicConfig struct {
	static *config.Broker
	logger *slog.Logger

	cur atomic.Pointer[config.Broker]
	// The dynamic configs cur was built from; FSM goroutine only.
	applied, appliedNode map[string]string
}

// newDynamicConfig starts from the dynamic configs of img.
func newDynamicConfig(static *config.Broker, img *metadata.Image, logger *slog.Logger) *dynamicConfig {
	d := &dynamicConfig{static: static, logger: logger}
	d.cur.Store(static)
	d.update(img)
	return d
}

// Current returns the effective broker configuration.
func (d *dynamicConfig) Current() *config.Broker { return d.cur.Load() }

// update rebuilds the configuration when img's dynamic broker configs (the
// cluster-wide ones or this node's) differ from the ones it was built from,
// and reports whether it changed. A set that does not resolve (which
// validation keeps out of the log) is logged and ignored.
func (d *dynamicConfig) update(img *metadata.Image) bool {
	if img == nil {
		return false
	}
	node := img.NodeConfigs[d.static.NodeID]
	if maps.Equal(d.applied, img.BrokerConfigs) && maps.Equal(d.appliedNode, node) {
		return false
	}
	next := d.static
	if len(img.BrokerConfigs) > 0 || len(node) > 0 {
		b, err := d.static.WithDynamic(img.BrokerConfigs, node)
		if err != nil {
			d.logger.Warn("ignoring dynamic broker configs that do not resolve", "err", err)
			return false
		}
		next = b
	}
	d.applied = maps.Clone(img.BrokerConfigs)
	d.appliedNode = maps.Clone(node)
	d.cur.Store(next)
	d.logger.Info("dynamic broker configs applied", "configs", len(img.BrokerConfigs), "node_configs", len(node))
	return true
}

// applyToLogs gives every open log its topic's settings under the current
// configuration.
func (d *dynamicConfig) applyToLogs(img *metadata.Image, logs *storage.Manager) {
	bcfg := d.Current()
	for _, l := range logs.Logs() {
		tp := l.TopicPartition()
		t := img.Topics[tp.Topic]
		if t == nil {
			continue
		}
		tc, err := config.TopicConfig(bcfg, t.Configs)
		if err != nil {
			d.logger.Warn("topic configs do not resolve under the new broker configs", "topic", tp.Topic, "err", err)
			continue
		}
		if err := l.SetConfig(StorageConfig(&tc)); err != nil {
			d.logger.Warn("apply config to log", "topic", tp.Topic, "partition", tp.Partition, "err", err)
		}
	}
}
