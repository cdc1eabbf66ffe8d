package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sluicehq/sluice/internal/broker"
	"github.com/sluicehq/sluice/internal/config"
)

// runBroker is the one place the CLI touches the broker: it builds it and
// runs it until ctx is done and shutdown has finished.
func runBroker(ctx context.Context, cfg *config.Broker, logger *slog.Logger) error {
	b, err := broker.New(cfg, logger)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	return b.Run(ctx)
}
