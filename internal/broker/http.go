package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/metrics"
	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/storage"
)

// ops is the broker's operations side: its Prometheus metrics, and the HTTP
// listener on http.addr that serves them with health checks and, when
// http.pprof.enable is set, Go's profiler.
//
//   - /metrics: Prometheus exposition format.
//   - /healthz: 200 while the process serves HTTP at all (liveness).
//   - /readyz: 200 once the broker takes Kafka clients, 503 before that and
//     from the start of shutdown (readiness).
//   - /debug/pprof/: only with http.pprof.enable=true.
type ops struct {
	metrics *metrics.Metrics
	logger  *slog.Logger
	srv     *http.Server
	ln      net.Listener
	served  chan error
}

// startOps creates the metrics over the broker's logs and metadata and
// starts the HTTP listener, unless http.addr is empty. ctx is the broker's
// run context: readiness ends with it.
func (b *Broker) startOps(ctx context.Context, logs *storage.Manager, meta *metadata.Store) (*ops, error) {
	o := &ops{logger: b.logger.With("subsystem", "http")}
	o.metrics = metrics.New(metrics.Options{
		Partitions: func() []metrics.PartitionStats { return partitionStats(logs) },
		TopicName: func(id [16]byte) (string, bool) {
			t := meta.Image().TopicsByID[id]
			if t == nil {
				return "", false
			}
			return t.Name, true
		},
	})
	b.ops = o
	if b.cfg.HTTPAddr == "" {
		return o, nil
	}
	ready := func() bool {
		select {
		case <-b.ready:
			return ctx.Err() == nil
		default:
			return false
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", o.metrics.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready")
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if b.cfg.HTTPPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	ln, err := net.Listen("tcp", b.cfg.HTTPAddr)
	if err != nil {
		// An address given explicitly must work. The default one may be
		// taken by another broker on the same host (a development cluster,
		// tests): that must not keep this one from starting.
		if b.cfg.Source(config.KeyHTTPAddr) != config.SourceDefault {
			return nil, fmt.Errorf("http.addr %s: %w", b.cfg.HTTPAddr, err)
		}
		o.logger.Warn("metrics and health checks are off: the default http.addr is taken; set http.addr to another address",
			"address", b.cfg.HTTPAddr, "err", err)
		return o, nil
	}
	o.ln = ln
	o.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	o.served = make(chan error, 1)
	go func() { o.served <- o.srv.Serve(ln) }()
	o.logger.Info("serving metrics and health checks", "address", ln.Addr().String(), "pprof", b.cfg.HTTPPprof)
	return o, nil
}

// handler wraps the Kafka request handler with the metrics' observations.
func (o *ops) handler(h server.Handler) server.Handler { return o.metrics.Wrap(h) }

// close stops the HTTP listener, letting scrapes in flight finish for a
// few seconds.
func (o *ops) close() {
	if o.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.srv.Shutdown(ctx); err != nil {
		o.logger.Warn("http shutdown", "err", err)
		_ = o.srv.Close()
	}
	if err := <-o.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		o.logger.Warn("http server", "err", err)
	}
}

// HTTPAddr is the address the HTTP listener (metrics, health checks) is
// bound to, or "" when http.addr is empty. Call it only after Ready is
// closed.
func (b *Broker) HTTPAddr() string {
	if b.ops == nil || b.ops.ln == nil {
		return ""
	}
	return b.ops.ln.Addr().String()
}

// partitionStats reads every open log for the partition metrics.
func partitionStats(logs *storage.Manager) []metrics.PartitionStats {
	ls := logs.Logs()
	out := make([]metrics.PartitionStats, 0, len(ls))
	seen := make(map[storage.TopicPartition]bool, len(ls))
	for _, l := range ls {
		tp := l.TopicPartition()
		if seen[tp] {
			continue
		}
		seen[tp] = true
		out = append(out, metrics.PartitionStats{
			Topic:          tp.Topic,
			Partition:      tp.Partition,
			SizeBytes:      l.Size(),
			Segments:       l.NumSegments(),
			LogStartOffset: l.LogStartOffset(),
			LogEndOffset:   l.LogEndOffset(),
			HighWatermark:  l.HighWatermark(),
		})
	}
	return out
}
