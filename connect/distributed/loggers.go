package distributed

import (
	"context"

	"github.com/sluicehq/sluice/connect/logging"
	"github.com/sluicehq/sluice/connect/rest"
)

// LoggerLevels is the worker's level table, served at /admin/loggers.
func (h *Herder) LoggerLevels() *logging.Levels { return h.levels }

// SetClusterLoggerLevel sets a logging level on every worker of the
// cluster (KIP-976): the worker that received the request writes a
// logger-cluster-<namespace> record to the config topic, and every worker
// running then sets the level when it reads it, this one before the
// request returns.
func (h *Herder) SetClusterLoggerLevel(ctx context.Context, namespace, level string) error {
	if _, ok := logging.ParseLevel(level); !ok {
		return rest.Errorf(400, "Invalid log level '%s'.", level)
	}
	if err := h.configs.putLoggerLevel(ctx, namespace, level); err != nil {
		return rest.Errorf(500, "write the logging level to the config topic: %v", err)
	}
	return nil
}

// setLoggerLevel sets a level read from the config topic.
func (h *Herder) setLoggerLevel(namespace, level string) {
	if h.levels == nil {
		return
	}
	if _, err := h.levels.Set(namespace, level); err != nil {
		h.log.Warn("connect: ignored a logging level from the config topic", "namespace", namespace, "level", level, "error", err)
	}
}
