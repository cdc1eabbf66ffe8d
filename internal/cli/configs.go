package cli

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// entityFlags name the resource of a configs command, both Sluice's way
// (--topic, --broker, --broker-defaults) and kafka-configs.sh's
// (--entity-type, --entity-name, --entity-default).
type entityFlags struct {
	topic          string
	broker         int32
	brokerDefaults bool
	entityType     string
	entityName     string
	entityDefault  bool
}

func (e *entityFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&e.topic, "topic", "", "a topic")
	fl.Int32Var(&e.broker, "broker", -1, "a broker, by node id")
	fl.BoolVar(&e.brokerDefaults, "broker-defaults", false, "the cluster-wide broker defaults (kafka-configs.sh --entity-default)")
	fl.StringVar(&e.entityType, "entity-type", "", "topics or brokers, as kafka-configs.sh")
	fl.StringVar(&e.entityName, "entity-name", "", "the topic name or broker id, as kafka-configs.sh")
	fl.BoolVar(&e.entityDefault, "entity-default", false, "with --entity-type brokers: the cluster-wide defaults")
}

// entity is the resolved resource.
type entity struct {
	topic          string // set for a topic
	broker         int32  // >= 0 for one broker
	brokerDefaults bool
}

func (e entity) String() string {
	switch {
	case e.topic != "":
		return "topic " + e.topic
	case e.brokerDefaults:
		return "the cluster-wide broker defaults"
	}
	return "broker " + strconv.Itoa(int(e.broker))
}

func (e *entityFlags) resolve() (entity, error) {
	var out []entity
	if e.topic != "" {
		out = append(out, entity{topic: e.topic, broker: -1})
	}
	if e.broker >= 0 {
		out = append(out, entity{broker: e.broker})
	}
	if e.brokerDefaults {
		out = append(out, entity{broker: -1, brokerDefaults: true})
	}
	switch strings.ToLower(e.entityType) {
	case "":
		if e.entityName != "" || e.entityDefault {
			return entity{}, fmt.Errorf("--entity-name and --entity-default need --entity-type topics or brokers")
		}
	case "topics", "topic":
		if e.entityName == "" {
			return entity{}, fmt.Errorf("--entity-type topics needs --entity-name TOPIC")
		}
		out = append(out, entity{topic: e.entityName, broker: -1})
	case "brokers", "broker":
		switch {
		case e.entityDefault:
			out = append(out, entity{broker: -1, brokerDefaults: true})
		case e.entityName != "":
			id, err := parseInt32("--entity-name", e.entityName)
			if err != nil {
				return entity{}, err
			}
			out = append(out, entity{broker: id})
		default:
			return entity{}, fmt.Errorf("--entity-type brokers needs --entity-name ID or --entity-default")
		}
	default:
		return entity{}, fmt.Errorf("--entity-type %q: want topics or brokers", e.entityType)
	}
	if len(out) != 1 {
		return entity{}, fmt.Errorf("name exactly one resource: --topic NAME, --broker ID or --broker-defaults")
	}
	return out[0], nil
}

func (a *app) configsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "configs",
		Short: "Describe and change topic and broker settings",
		Long: `Describe and change the settings of topics, of one broker, and the cluster-wide
broker defaults, as kafka-configs.sh does. Changes go through the metadata log
and apply without a restart.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.configsDescribeCmd(), a.configsAlterCmd())
	return cmd
}

func (a *app) configsDescribeCmd() *cobra.Command {
	var (
		ef  entityFlags
		all bool
	)
	cmd := &cobra.Command{
		Use:   "describe (--topic NAME | --broker ID | --broker-defaults)",
		Short: "Show the settings set on a topic or broker (--all: every setting)",
		Example: `  sluice configs describe --topic orders
  sluice configs describe --topic orders --all
  sluice configs describe --broker 1 --all
  sluice configs describe --entity-type brokers --entity-default`,
		Args: cobra.NoArgs,
	}
	cf := a.addClientFlags(cmd)
	ef.register(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "every setting with its effective value, not only those set dynamically")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		e, err := ef.resolve()
		if err != nil {
			return err
		}
		ctx, cancel := signalContext(cmd)
		defer cancel()
		cl, adm, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		var rcs kadm.ResourceConfigs
		switch {
		case e.topic != "":
			rcs, err = adm.DescribeTopicConfigs(ctx, e.topic)
		case e.brokerDefaults:
			rcs, err = adm.DescribeBrokerConfigs(ctx)
		default:
			rcs, err = adm.DescribeBrokerConfigs(ctx, e.broker)
		}
		if err != nil {
			return cf.explain(err)
		}
		if len(rcs) != 1 {
			return fmt.Errorf("%s: no answer from the broker", e)
		}
		rc := rcs[0]
		if rc.Err != nil {
			return topicErr(e.String(), rc.Err, rc.ErrMessage)
		}
		printConfigs(cmd.OutOrStdout(), e, rc.Configs, all)
		return nil
	}
	return cmd
}

// printConfigs prints configs as kafka-configs.sh --describe does.
func printConfigs(w io.Writer, e entity, cs []kadm.Config, all bool) {
	switch {
	case e.brokerDefaults:
		fmt.Fprintln(w, "Default configs for brokers in the cluster are:")
	case all:
		fmt.Fprintf(w, "All configs for %s are:\n", e)
	default:
		fmt.Fprintf(w, "Dynamic configs for %s are:\n", e)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Key < cs[j].Key })
	for _, c := range cs {
		dynamic := c.Source == kmsg.ConfigSourceDynamicTopicConfig || c.Source == kmsg.ConfigSourceDynamicBrokerConfig ||
			c.Source == kmsg.ConfigSourceDynamicDefaultBrokerConfig
		if !all && !dynamic {
			continue
		}
		v := c.MaybeValue()
		if c.Sensitive {
			v = "null"
		}
		syns := make([]string, 0, len(c.Synonyms))
		for _, s := range c.Synonyms {
			sv := "null"
			if s.Value != nil && !c.Sensitive {
				sv = *s.Value
			}
			syns = append(syns, fmt.Sprintf("%s:%s=%s", s.Source, s.Key, sv))
		}
		fmt.Fprintf(w, "  %s=%s sensitive=%t synonyms={%s}\n", c.Key, v, c.Sensitive, strings.Join(syns, ", "))
	}
}

func (a *app) configsAlterCmd() *cobra.Command {
	var (
		ef       entityFlags
		add      []string
		set      []string
		del      []string
		validate bool
	)
	cmd := &cobra.Command{
		Use:   "alter (--topic NAME | --broker-defaults) [--add-config k=v,...] [--config k=v]... [--delete-config k,...]",
		Short: "Set or remove settings of a topic or the cluster-wide broker defaults",
		Long: `Set or remove settings, as kafka-configs.sh --alter does. --add-config takes
k1=v1,k2=v2 with list values in brackets (cleanup.policy=[compact,delete]);
--config k=v may be repeated instead. Topic settings apply to the topic's logs at
once; broker defaults apply to every topic that does not override them.
Per-broker settings (--broker ID) are not supported yet: use --broker-defaults.`,
		Example: `  sluice configs alter --topic orders --add-config retention.ms=86400000,cleanup.policy=[compact,delete]
  sluice configs alter --topic orders --delete-config retention.ms
  sluice configs alter --broker-defaults --config log.retention.hours=24`,
		Args: cobra.NoArgs,
	}
	cf := a.addClientFlags(cmd)
	ef.register(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&add, "add-config", nil, "k1=v1,k2=[a,b] settings to set")
	fl.StringArrayVar(&set, "config", nil, "one setting key=value to set, repeatable")
	fl.StringArrayVar(&del, "delete-config", nil, "settings to remove, comma-separated or repeated")
	fl.BoolVar(&validate, "validate-only", false, "check the change, apply nothing")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		e, err := ef.resolve()
		if err != nil {
			return err
		}
		for _, a := range add {
			kvs, err := splitAddConfig(a)
			if err != nil {
				return err
			}
			set = append(set, kvs...)
		}
		alters, err := alterOps(set, del)
		if err != nil {
			return err
		}
		ctx, cancel := signalContext(cmd)
		defer cancel()
		cl, adm, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		if e.topic != "" {
			return alterTopic(ctx, cmd.OutOrStdout(), cf, adm, e.topic, alters, validate)
		}
		alter := adm.AlterBrokerConfigs
		if validate {
			alter = adm.ValidateAlterBrokerConfigs
		}
		var brokers []int32
		if !e.brokerDefaults {
			brokers = []int32{e.broker}
		}
		resps, err := alter(ctx, alters, brokers...)
		if err != nil {
			return cf.explain(err)
		}
		if len(resps) != 1 {
			return fmt.Errorf("%s: no answer from the broker", e)
		}
		if r := resps[0]; r.Err != nil {
			return topicErr(e.String(), r.Err, r.ErrMessage)
		}
		if validate {
			fmt.Fprintf(cmd.OutOrStdout(), "The config change for %s is valid.\n", e)
		} else {
			fmt.Fprintf(cmd.OutOrStdout(), "Completed updating config for %s.\n", e)
		}
		return nil
	}
	return cmd
}

// splitAddConfig splits kafka-configs.sh's --add-config value: k=v pairs
// separated by commas, where a value in square brackets may hold commas.
func splitAddConfig(s string) ([]string, error) {
	var out []string
	depth, start := 0, 0
	flush := func(end int) error {
		kv := strings.TrimSpace(s[start:end])
		if kv == "" {
			return nil
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("--add-config %q: %q is not key=value", s, kv)
		}
		if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
			v = v[1 : len(v)-1]
		}
		out = append(out, strings.TrimSpace(k)+"="+v)
		return nil
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			if depth == 0 {
				return nil, fmt.Errorf("--add-config %q: unbalanced ]", s)
			}
			depth--
		case ',':
			if depth == 0 {
				if err := flush(i); err != nil {
					return nil, err
				}
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("--add-config %q: unbalanced [", s)
	}
	if err := flush(len(s)); err != nil {
		return nil, err
	}
	return out, nil
}
