// Package standalone runs a Kafka Connect worker in standalone mode, as
// Kafka's connect-standalone: one process, a worker config and connector
// configs from files, source offsets in a local file, and the REST API's
// read endpoints.
package standalone

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/logging"
	"github.com/sluicehq/sluice/connect/rest"
	"github.com/sluicehq/sluice/connect/runtime"
)

// Options configure a standalone worker.
type Options struct {
	// Worker is the worker's settings.
	Worker map[string]string
	// Connectors are the connectors' configs.
	Connectors []map[string]string
	Registry   *connect.Registry
	// Version and Commit are shown by GET /.
	Version, Commit string
	Log             *slog.Logger
	// Loggers is the level table Log's handler consults (served at
	// /admin/loggers); when nil, one is made over Log (logging.Wrap).
	Loggers *logging.Levels
	// Started, when set, is called once the connectors are started, with
	// the REST API's address (nil when it has no listener).
	Started func(rest net.Addr)
}

// Run runs the worker until ctx is done, then stops the connectors
// gracefully (tasks flush and store their offsets) and returns. A bad
// worker or connector config, or an unreachable Kafka cluster, is an error
// at once.
func Run(ctx context.Context, o Options) error {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	levels := o.Loggers
	if levels == nil {
		log, levels = logging.Wrap(log)
	}
	wcfg, err := runtime.WorkerConfig().Parse(o.Worker)
	if err != nil {
		return &connect.ConfigError{Msg: "worker config", Err: err}
	}
	var addr net.Addr
	workerID := ""
	var stopREST func()
	listeners := wcfg.List(runtime.Listeners)
	var herder *runtime.Herder
	if len(listeners) > 0 {
		// The REST API starts first so its address names the worker; it
		// answers once the herder is set.
		h := &lateHerder{levels: levels}
		srv, a, err := rest.Listen(listeners[0], rest.Handler(h, o.Version, o.Commit, log), log)
		if err != nil {
			return err
		}
		addr = a
		stopREST = func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}
		defer stopREST()
		workerID = advertised(wcfg.String(runtime.RestAdvertisedHost), int(wcfg.Int(runtime.RestAdvertisedPort)), a)
		log.Info("connect: REST API listening", "address", a.String())
		defer func() { h.set(nil) }()
		herder, err = runtime.NewHerder(ctx, runtime.Options{Registry: o.Registry, Worker: o.Worker, WorkerID: workerID, Log: log, Loggers: levels})
		if err != nil {
			return err
		}
		h.set(herder)
	} else {
		herder, err = runtime.NewHerder(ctx, runtime.Options{Registry: o.Registry, Worker: o.Worker, Log: log, Loggers: levels})
		if err != nil {
			return err
		}
	}
	for _, c := range o.Connectors {
		if err := herder.AddConnector(c); err != nil {
			herder.Stop()
			return fmt.Errorf("failed to create connector: %w", err)
		}
		log.Info("connect: created connector", "connector", c[runtime.Name])
	}
	if o.Started != nil {
		o.Started(addr)
	}
	<-ctx.Done()
	log.Info("connect: stopping")
	herder.Stop()
	log.Info("connect: stopped")
	return nil
}

// advertised returns the worker id: the advertised host and port, or the
// listener's, with the machine's name for an unspecified host.
func advertised(host string, port int, a net.Addr) string {
	lhost, lport, _ := net.SplitHostPort(a.String())
	if host == "" {
		host = lhost
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			if hn, err := os.Hostname(); err == nil {
				host = hn
			}
		}
	}
	if port == 0 {
		port, _ = strconv.Atoi(lport)
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}
