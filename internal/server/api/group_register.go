package api

import "github.com/sluicehq/sluice/internal/server"

// registerGroups adds FindCoordinator and the consumer-group APIs.
func registerGroups(mux *server.Mux, h *handlers) {}
