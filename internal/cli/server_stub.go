//go:build !sluice_broker

package cli

import (
	"context"
	"errors"
	"log/slog"

	"github.com/sluicehq/sluice/internal/config"
)

// runBroker stands in until internal/broker provides New and Run: build with
// -tags sluice_broker to use server_broker.go. The integrator deletes this
// file and the build line of server_broker.go once the broker exists.
func runBroker(context.Context, *config.Broker, *slog.Logger) error {
	return errors.New("this binary was built without the broker (build with -tags sluice_broker)")
}
