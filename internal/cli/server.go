package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/config"
)

// shorthand is a server flag that stands for --set key=value.
type shorthand struct {
	flag, key, usage string
	value            string
}

// serverFlags are the server command's flags.
type serverFlags struct {
	configFile string
	sets       []string
	shorthands []*shorthand
}

func (a *app) serverCmd() *cobra.Command {
	f := &serverFlags{shorthands: []*shorthand{
		{flag: "listeners", key: config.KeyListeners, usage: "NAME://host:port,... to listen on"},
		{flag: "advertised-listeners", key: config.KeyAdvertisedListeners, usage: "NAME://host:port,... given to clients"},
		{flag: "log-dirs", key: config.KeyLogDirs, usage: "comma-separated data directories"},
		{flag: "node-id", key: config.KeyNodeID, usage: "this node's id"},
		{flag: "process-roles", key: config.KeyProcessRoles, usage: "broker, controller, or broker,controller"},
		{flag: "controller-quorum-voters", key: config.KeyControllerQuorumVoters, usage: "id@host:port,... of the controllers"},
		{flag: "http-addr", key: config.KeyHTTPAddr, usage: "host:port of /metrics and /healthz, empty for none"},
	}}
	cmd := &cobra.Command{
		Use:   "server [server.properties]",
		Short: "Run a broker (and controller) until SIGINT or SIGTERM",
		Long: `Run a Sluice node: a Kafka-compatible broker and, by default, its own controller.

With no arguments it starts a single-node cluster on 127.0.0.1:9092 with data in
./sluice-data.

Settings use Apache Kafka's names (listeners, log.dirs, num.partitions,
log.retention.hours, ...). Later sources override earlier ones:

  1. built-in defaults
  2. the properties file (--config, or the single argument, as with
     kafka-server-start.sh); Java .properties syntax
  3. environment variables SLUICE_<KEY>: upper case, '.' as '_', '_' as '__',
     '-' as '___' (SLUICE_LOG_DIRS=/data is log.dirs=/data)
  4. --set key=value, repeatable; shorthand flags such as --listeners count as
     --set given before all others, so an explicit --set wins

Unknown keys are reported as warnings, as Kafka does. See docs for every key.`,
		Example: `  sluice server
  sluice server --config server.properties
  sluice server --listeners PLAINTEXT://0.0.0.0:9092 --advertised-listeners PLAINTEXT://kafka1:9092
  sluice server --set log.dirs=/var/lib/sluice --set num.partitions=3
  SLUICE_LOG_RETENTION_HOURS=24 sluice server`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runServer(cmd, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.configFile, "config", "c", envOr(a.environ, "SLUICE_CONFIG", ""),
		"properties file with broker settings (env SLUICE_CONFIG)")
	// StringArray, not StringSlice: values such as listeners contain commas.
	fl.StringArrayVarP(&f.sets, "set", "s", nil, "set a broker setting, key=value (repeatable; the last one wins)")
	for _, s := range f.shorthands {
		fl.StringVar(&s.value, s.flag, "", "shorthand of --set "+s.key+"=...: "+s.usage)
	}
	return cmd
}

// settings returns the --set list with the shorthands first.
func (f *serverFlags) settings(cmd *cobra.Command) []string {
	var sets []string
	for _, s := range f.shorthands {
		if cmd.Flags().Changed(s.flag) {
			sets = append(sets, s.key+"="+s.value)
		}
	}
	return append(sets, f.sets...)
}

func (a *app) runServer(cmd *cobra.Command, f *serverFlags, args []string) error {
	logger, err := a.logger()
	if err != nil {
		return err
	}
	file := f.configFile
	if len(args) == 1 {
		if cmd.Flags().Changed("config") && file != args[0] {
			return fmt.Errorf("two config files given: --config %s and %s", file, args[0])
		}
		file = args[0]
	}
	cfg, warnings, err := config.Load(file, f.settings(cmd), a.environ)
	for _, w := range warnings {
		logger.Warn(w)
	}
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}

	// The first SIGINT or SIGTERM starts a graceful shutdown; once it has
	// been received the handler is removed, so a second one kills the
	// process at once.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	err = a.runBroker(ctx, cfg, logger)
	if err != nil && !(errors.Is(err, context.Canceled) && ctx.Err() != nil) {
		return fmt.Errorf("broker: %w", err)
	}
	return nil
}
