package cli

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/builtin"
	"github.com/sluicehq/sluice/connect/distributed"
	"github.com/sluicehq/sluice/connect/standalone"
)

// The connect commands run Kafka Connect connectors (package connect):
// `connect standalone` is Kafka's connect-standalone, `connect distributed`
// its connect-distributed, and `connect plugins` lists the plugins compiled
// in and their settings.

func (a *app) connectCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connect",
		Short: "Run Kafka Connect connectors: standalone and distributed workers, and the plugins they have",
		Long: `Kafka Connect for Sluice: connectors that move data between Kafka (any Kafka
cluster, not only Sluice) and other systems, with Kafka Connect's settings,
converters and transforms.`,
	}
	cmd.AddCommand(a.connectStandaloneCmd(), a.connectDistributedCmd(), a.connectPluginsCmd())
	return cmd
}

func (a *app) connectStandaloneCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "standalone WORKER.properties [CONNECTOR.properties|CONNECTOR.json ...]",
		Short: "Run connectors in a standalone worker, as Kafka's connect-standalone",
		Long: `Run a standalone Kafka Connect worker with the connectors of the given
config files, until interrupted (SIGINT or SIGTERM stop it gracefully: tasks
flush, source offsets are stored, sink offsets committed).

The worker file uses Kafka Connect's settings: bootstrap.servers,
key.converter, value.converter, offset.storage.file.filename,
offset.flush.interval.ms, listeners (the REST API's read endpoints), and
producer.* / consumer.* client settings. A connector file is a .properties
file or JSON ({"name": ..., "config": {...}} or a bare config object).

Example:

  sluice connect standalone worker.properties file-source.properties`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			log, levels, err := a.connectLogger()
			if err != nil {
				return err
			}
			worker, err := standalone.ReadProperties(args[0])
			if err != nil {
				return fmt.Errorf("worker config: %w", err)
			}
			var conns []map[string]string
			for _, f := range args[1:] {
				c, err := standalone.ReadConnectorConfig(f)
				if err != nil {
					return fmt.Errorf("connector config %s: %w", f, err)
				}
				conns = append(conns, c)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			v, commit := buildVersion()
			return standalone.Run(ctx, standalone.Options{
				Worker: worker, Connectors: conns, Registry: builtin.Registry(),
				Version: v, Commit: commit, Log: log, Loggers: levels,
				Started: func(addr net.Addr) {
					where := "no REST API"
					if addr != nil {
						where = "REST API on " + addr.String()
					}
					log.Info("connect: worker started", "connectors", len(conns), "rest", where)
				},
			})
		},
	}
}

func (a *app) connectDistributedCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "distributed WORKER.properties",
		Short: "Run a worker of a Kafka Connect cluster, as Kafka's connect-distributed",
		Long: `Run a distributed Kafka Connect worker until interrupted (SIGINT or SIGTERM
stop its tasks gracefully, then it leaves the group and the other workers
take its work over).

Workers with the same group.id form a cluster: they share connectors and
tasks, and keep configs, source offsets and statuses in the topics
config.storage.topic, offset.storage.topic and status.storage.topic
(created when missing). Connectors are created and managed with the REST
API (listeners, default http://:8083) of any worker.

Example worker.properties:

  bootstrap.servers=localhost:9092
  group.id=connect-cluster
  key.converter=org.apache.kafka.connect.json.JsonConverter
  value.converter=org.apache.kafka.connect.json.JsonConverter
  config.storage.replication.factor=1
  offset.storage.replication.factor=1
  status.storage.replication.factor=1
  listeners=http://:8083

  sluice connect distributed worker.properties
  curl -X POST -H 'Content-Type: application/json' localhost:8083/connectors \
    -d '{"name":"src","config":{"connector.class":"FileStreamSource","file":"/tmp/in.txt","topic":"t"}}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			log, levels, err := a.connectLogger()
			if err != nil {
				return err
			}
			worker, err := standalone.ReadProperties(args[0])
			if err != nil {
				return fmt.Errorf("worker config: %w", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			v, commit := buildVersion()
			return distributed.Run(ctx, distributed.Options{
				Worker: worker, Registry: builtin.Registry(), Version: v, Commit: commit, Log: log, Loggers: levels,
				Started: func(addr net.Addr) {
					log.Info("connect: worker started", "rest", "REST API on "+addr.String())
				},
			})
		},
	}
}

func (a *app) connectPluginsCmd() *cobra.Command {
	var configs bool
	var types []string
	cmd := &cobra.Command{
		Use:   "plugins [NAME ...]",
		Short: "List the connectors, converters, transforms and predicates, and their settings",
		Long: `List the plugins compiled into this binary: class, type, version and the
short names it also answers to. Given plugin names (classes or aliases), or
with --configs, also list each plugin's settings: name, type, default,
importance and documentation.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := builtin.Registry()
			var sel []connect.PluginType
			for _, t := range types {
				sel = append(sel, connect.PluginType(strings.ToLower(strings.TrimSpace(t))))
			}
			var plugins []connect.Plugin
			if len(args) == 0 {
				plugins = reg.Plugins(sel...)
			} else {
				for _, name := range args {
					p, err := reg.Lookup(name, sel...)
					if err != nil {
						return err
					}
					plugins = append(plugins, p)
				}
				configs = true
			}
			out := cmd.OutOrStdout()
			tw := newTable(out)
			fmt.Fprintln(tw, "CLASS\tTYPE\tVERSION\tALIASES")
			for _, p := range plugins {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Class, p.Type, p.Version, strings.Join(p.Aliases(), ", "))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if !configs {
				return nil
			}
			for _, p := range plugins {
				fmt.Fprintf(out, "\n%s (%s)\n", p.Class, p.Type)
				keys := p.Config().Keys()
				if len(keys) == 0 {
					fmt.Fprintln(out, "  no settings")
					continue
				}
				tw := newTable(out)
				fmt.Fprintln(tw, "  SETTING\tTYPE\tDEFAULT\tVALID\tIMPORTANCE\tDOC")
				for _, k := range keys {
					def := k.Default
					switch {
					case k.Required:
						def = "(required)"
					case def == "":
						def = "null"
					}
					valid := ""
					if k.Validator != nil {
						valid = k.Validator.String()
					}
					fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", k.Name, strings.ToLower(k.Type.String()), def, valid,
						strings.ToLower(k.Importance.String()), k.Doc)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&configs, "configs", false, "also list every plugin's settings")
	cmd.Flags().StringSliceVar(&types, "type", nil, "only plugins of these types: source, sink, converter, header_converter, transformation, predicate")
	return cmd
}

// buildVersion returns this build's version and VCS revision, for the
// REST API's GET /.
func buildVersion() (string, string) {
	v, rev := version, ""
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	if v == "" || v == "(devel)" {
		v = "dev"
	}
	return v, rev
}
