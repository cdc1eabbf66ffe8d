package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sluicehq/sluice/internal/perf"
)

// perfFlags are the settings of the perf commands; each command registers
// the ones that apply to it.
type perfFlags struct {
	brokers    string
	topic      string
	partitions int
	topicCfgs  []string
	records    int64
	duration   time.Duration
	interval   time.Duration
	jsonOut    bool

	recordSize  int
	throughput  float64
	acks        string
	compression string
	batchSize   int
	linger      time.Duration
	producers   int
	idempotent  bool
	maxInFlight int

	consumers              int
	fetchMaxBytes          int
	fetchMaxPartitionBytes int
}

func (f *perfFlags) common(fs *pflag.FlagSet) {
	fs.StringVarP(&f.brokers, "bootstrap-server", "b", "127.0.0.1:9092", "host:port,... of brokers to bootstrap from")
	fs.StringVarP(&f.topic, "topic", "t", "sluice-perf", "topic to use")
	fs.IntVar(&f.partitions, "partitions", 3, "create the topic with this many partitions if it does not exist (0: never create)")
	fs.StringArrayVar(&f.topicCfgs, "topic-config", nil, "key=value config of the created topic, repeatable (flush.messages=1, ...)")
	fs.Int64VarP(&f.records, "num-records", "n", 0, "stop after this many records")
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long (with --num-records, whichever comes first)")
	fs.DurationVar(&f.interval, "interval", time.Second, "time between progress lines on stderr (0: none)")
	fs.BoolVar(&f.jsonOut, "json", false, "print the summary as JSON on stdout")
}

func (f *perfFlags) produce(fs *pflag.FlagSet, throughput float64, acks string) {
	fs.IntVarP(&f.recordSize, "record-size", "s", 1024, "bytes of each record value (random, incompressible)")
	fs.Float64Var(&f.throughput, "throughput", throughput, "target records/s across producers (0: as fast as possible)")
	fs.StringVar(&f.acks, "acks", acks, "acks: all (-1), 1 or 0")
	fs.StringVar(&f.compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	fs.IntVar(&f.batchSize, "batch-size", 0, "maximum bytes of one record batch (0: the client's default, about 1 MB)")
	fs.DurationVar(&f.linger, "linger", 0, "how long a producer waits to fill a batch")
	fs.IntVar(&f.producers, "producers", 1, "number of producer clients")
	fs.BoolVar(&f.idempotent, "idempotent", false, "idempotent producer (needs --acks all)")
	fs.IntVar(&f.maxInFlight, "max-in-flight", 5, "produce requests in flight per broker when not idempotent")
}

func (f *perfFlags) consume(fs *pflag.FlagSet) {
	fs.IntVar(&f.consumers, "consumers", 1, "number of consumer clients, sharing the partitions")
	fs.IntVar(&f.fetchMaxBytes, "fetch-max-bytes", 0, "maximum bytes of one fetch response (0: the client's default, 50 MiB)")
	fs.IntVar(&f.fetchMaxPartitionBytes, "fetch-max-partition-bytes", 0, "maximum bytes per partition of one fetch (0: the client's default, 1 MiB)")
}

func (f *perfFlags) commonConfig(stderr io.Writer) (perf.Common, error) {
	c := perf.Common{Topic: f.topic, Partitions: f.partitions, Records: f.records,
		Duration: f.duration, Interval: f.interval}
	for _, b := range strings.Split(f.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.Brokers = append(c.Brokers, b)
		}
	}
	for _, kv := range f.topicCfgs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return c, fmt.Errorf("--topic-config %q: want key=value", kv)
		}
		if c.TopicConfigs == nil {
			c.TopicConfigs = map[string]string{}
		}
		c.TopicConfigs[k] = v
	}
	if f.records <= 0 && f.duration <= 0 {
		return c, errors.New("set --num-records or --duration")
	}
	if f.interval > 0 {
		c.Progress = func(p perf.Progress) { fmt.Fprintln(stderr, progressLine(p)) }
	}
	return c, nil
}

func (f *perfFlags) produceConfig(stderr io.Writer) (perf.ProduceConfig, error) {
	c, err := f.commonConfig(stderr)
	if err != nil {
		return perf.ProduceConfig{}, err
	}
	acks, err := perf.ParseAcks(f.acks)
	if err != nil {
		return perf.ProduceConfig{}, err
	}
	return perf.ProduceConfig{Common: c, RecordSize: f.recordSize, Throughput: max(f.throughput, 0),
		Acks: acks, Compression: f.compression, BatchBytes: f.batchSize, Linger: f.linger,
		Producers: f.producers, Idempotent: f.idempotent, MaxInFlight: f.maxInFlight}, nil
}

func (a *app) perfCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "perf",
		Short: "Measure throughput and latency: produce, consume, e2e",
		Long: `Drive a broker with franz-go producers and consumers and report throughput
(records/s, and MB/s of record values, 1 MB = 10^6 bytes) and latency
percentiles, like Kafka's perf-test tools. A progress line goes to stderr every
--interval; the summary goes to stdout, as JSON with --json.

Records are random bytes, incompressible. Consumers are assigned partitions
directly (no group). Ctrl-C ends a run early and prints what it measured.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.perfProduceCmd(), a.perfConsumeCmd(), a.perfE2ECmd())
	return cmd
}

func (a *app) perfProduceCmd() *cobra.Command {
	f := &perfFlags{}
	cmd := &cobra.Command{
		Use:   "produce",
		Short: "Produce records as fast as asked and report throughput and acknowledgement latency",
		Example: `  sluice perf produce -n 1000000 -s 1024 --acks 1
  sluice perf produce --duration 30s -s 100 --throughput 500000 --compression lz4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.produceConfig(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return a.runPerf(cmd, f.jsonOut, func(ctx context.Context) (*perf.Result, error) {
				return perf.Produce(ctx, cfg)
			})
		},
	}
	f.common(cmd.Flags())
	f.produce(cmd.Flags(), 0, "all")
	return cmd
}

func (a *app) perfConsumeCmd() *cobra.Command {
	f := &perfFlags{}
	cmd := &cobra.Command{
		Use:   "consume",
		Short: "Consume a topic from its start and report throughput",
		Example: `  sluice perf consume -n 1000000
  sluice perf consume --duration 10s --consumers 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.commonConfig(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			cfg := perf.ConsumeConfig{Common: c, Consumers: f.consumers,
				FetchMaxBytes: f.fetchMaxBytes, FetchMaxPartitionBytes: f.fetchMaxPartitionBytes}
			return a.runPerf(cmd, f.jsonOut, func(ctx context.Context) (*perf.Result, error) {
				return perf.Consume(ctx, cfg)
			})
		},
	}
	f.common(cmd.Flags())
	f.consume(cmd.Flags())
	return cmd
}

func (a *app) perfE2ECmd() *cobra.Command {
	f := &perfFlags{}
	cmd := &cobra.Command{
		Use:   "e2e",
		Short: "Produce at a steady rate while consuming, and report end-to-end latency",
		Long: `Produce at --throughput records/s while consumers in the same process read
from the log end, and report the acknowledgement latency and the end-to-end
latency (Produce call to poll) of every record.`,
		Example: `  sluice perf e2e -n 100000 --throughput 10000 -s 1024 --acks all`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pc, err := f.produceConfig(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			cfg := perf.E2EConfig{ProduceConfig: pc, Consumers: f.consumers,
				FetchMaxBytes: f.fetchMaxBytes, FetchMaxPartitionBytes: f.fetchMaxPartitionBytes}
			return a.runPerf(cmd, f.jsonOut, func(ctx context.Context) (*perf.Result, error) {
				return perf.EndToEnd(ctx, cfg)
			})
		},
	}
	f.common(cmd.Flags())
	f.produce(cmd.Flags(), 10000, "all")
	f.consume(cmd.Flags())
	return cmd
}

// runPerf runs a workload until it ends or SIGINT/SIGTERM, then prints its
// summary. A run cut short by a signal still prints what it measured.
func (a *app) runPerf(cmd *cobra.Command, jsonOut bool, run func(context.Context) (*perf.Result, error)) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx)
	interrupted := err != nil && ctx.Err() != nil
	if err != nil && (res == nil || !interrupted) {
		if res != nil {
			a.printPerf(cmd.OutOrStdout(), res, jsonOut)
		}
		return err
	}
	if perr := a.printPerf(cmd.OutOrStdout(), res, jsonOut); perr != nil {
		return perr
	}
	if res.Errors > 0 {
		return fmt.Errorf("%d records failed; the first: %s", res.Errors, res.FirstError)
	}
	return nil
}

func (a *app) printPerf(w io.Writer, res *perf.Result, jsonOut bool) error {
	if jsonOut {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	_, err := io.WriteString(w, summary(res))
	return err
}

// summary is the human-readable final report.
func summary(r *perf.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d records", r.Workload, r.Topic, r.Records)
	if r.RecordSize > 0 {
		fmt.Fprintf(&b, " of %d bytes", r.RecordSize)
	}
	fmt.Fprintf(&b, " (%d bytes) in %.2f s: %.0f records/s, %.1f MB/s\n", r.Bytes, r.Seconds, r.RecordsPerSec, r.MBPerSec)
	lat := func(name string, l *perf.Latency) {
		if l != nil && l.Count > 0 {
			fmt.Fprintf(&b, "%s latency ms: p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (mean %.3f, %d samples)\n",
				name, l.P50Ms, l.P99Ms, l.P999Ms, l.MaxMs, l.MeanMs, l.Count)
		}
	}
	lat("produce", r.Latency)
	lat("end-to-end", r.EndToEnd)
	if r.Errors > 0 {
		fmt.Fprintf(&b, "errors: %d (first: %s)\n", r.Errors, r.FirstError)
	}
	return b.String()
}

// progressLine is one interval's report.
func progressLine(p perf.Progress) string {
	s := fmt.Sprintf("%s %6.1fs %12d records %10.0f records/s %8.1f MB/s",
		p.Workload, p.Elapsed.Seconds(), p.Records, p.RecordsPerSec, p.MBPerSec)
	if l := p.Latency; l.Count > 0 {
		s += fmt.Sprintf("  latency ms p50 %.3f p99 %.3f max %.3f", l.P50Ms, l.P99Ms, l.MaxMs)
	}
	return s
}
