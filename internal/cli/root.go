// Package cli is the sluice command line: one cobra command tree, one file
// per command group (server.go, version.go; later topics, produce,
// consume, groups, perf).
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/config"
)

// app holds what the commands share: where they write, the environment they
// read, and the persistent flags. Tests build one with fakes.
type app struct {
	stdout, stderr io.Writer
	environ        []string
	// runBroker starts the broker and blocks until ctx is done and the
	// broker has shut down. See server_broker.go.
	runBroker func(ctx context.Context, cfg *config.Broker, logger *slog.Logger) error

	logLevel  string
	logFormat string
}

// NewRoot returns the sluice root command, wired to the process's standard
// streams and environment.
func NewRoot() *cobra.Command {
	return newRoot(&app{stdout: os.Stdout, stderr: os.Stderr, environ: os.Environ(), runBroker: runBroker})
}

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "sluice",
		Short: "Sluice: a Kafka-compatible event-streaming platform in one binary",
		Long: `Sluice is a Kafka-compatible broker, controller and command line in one binary.
Existing Kafka clients talk to it unchanged.

Start a single-node broker on 127.0.0.1:9092 with data in ./sluice-data:

  sluice server`,
		SilenceUsage: true, // usage only for usage errors; see SetFlagErrorFunc
		Version:      versionString(),
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nRun '%s --help' for usage", err, c.CommandPath())
	})
	pf := root.PersistentFlags()
	pf.StringVar(&a.logLevel, "log-level", envOr(a.environ, "SLUICE_LOG_LEVEL", "info"),
		"log level: debug, info, warn or error (env SLUICE_LOG_LEVEL)")
	pf.StringVar(&a.logFormat, "log-format", envOr(a.environ, "SLUICE_LOG_FORMAT", "text"),
		"log format on stderr: text or json (env SLUICE_LOG_FORMAT)")

	root.AddCommand(
		a.serverCmd(),
		a.versionCmd(),
		a.perfCmd(),
		a.topicsCmd(),
		a.produceCmd(),
		a.consumeCmd(),
		a.configsCmd(),
		a.recordsCmd(),
		a.clusterCmd(),
		a.groupsCmd(),
		a.connectCmd(),
		a.devCmd(),
		a.partitionsCmd(),
		a.brokersCmd(),
		a.transactionsCmd(), a.producersCmd(),
		a.aclsCmd(), a.usersCmd(), a.quotasCmd(),
		// Later command groups, one file each: topics, produce, consume, groups, perf.
	)
	return root
}

// envOr returns the value of name in environ, or def.
func envOr(environ []string, name, def string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name && v != "" {
			return v
		}
	}
	return def
}

// logger builds the slog logger the flags ask for, writing to stderr.
func (a *app) logger() (*slog.Logger, error) {
	level, err := a.level()
	if err != nil {
		return nil, err
	}
	h, err := a.logHandler(level)
	if err != nil {
		return nil, err
	}
	return slog.New(h), nil
}

// level is the --log-level flag's level.
func (a *app) level() (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", a.logLevel)
	}
	return level, nil
}

// logHandler builds the handler of --log-format, writing to stderr the
// records at level or above.
func (a *app) logHandler(level slog.Leveler) (slog.Handler, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(a.logFormat) {
	case "text":
		return slog.NewTextHandler(a.stderr, opts), nil
	case "json":
		return slog.NewJSONHandler(a.stderr, opts), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", a.logFormat)
	}
}
