package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (a *app) topicsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "Create, list, describe, delete and change topics",
		Long: `Manage topics, as kafka-topics.sh does: create, list, describe, delete,
alter-config (change a topic's settings) and add-partitions.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.topicsCreateCmd(), a.topicsListCmd(), a.topicsDescribeCmd(),
		a.topicsDeleteCmd(), a.topicsAlterConfigCmd(), a.topicsAddPartitionsCmd())
	return cmd
}

// topicArgs returns the topics named as arguments or with --topic.
func topicArgs(args, flagTopics []string) []string {
	out := append([]string(nil), args...)
	for _, t := range flagTopics {
		for _, s := range strings.Split(t, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// configFlags parses repeated --config key=value flags.
func configFlags(flag string, kvs []string) (map[string]*string, error) {
	out := make(map[string]*string, len(kvs))
	for _, kv := range kvs {
		k, v, err := parseKV(flag, kv)
		if err != nil {
			return nil, err
		}
		out[k] = &v
	}
	return out, nil
}

func (a *app) topicsCreateCmd() *cobra.Command {
	var (
		topics      []string
		partitions  int32
		rf          int16
		configs     []string
		ifNotExists bool
		validate    bool
	)
	cmd := &cobra.Command{
		Use:   "create TOPIC...",
		Short: "Create topics",
		Long: `Create topics with a partition count, a replication factor and settings.
-1 (the default) takes the broker's num.partitions and default.replication.factor.`,
		Example: `  sluice topics create orders --partitions 6
  sluice topics create events --partitions 3 --replication-factor 1 --config retention.ms=86400000 --config cleanup.policy=compact`,
	}
	cf := a.addClientFlags(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&topics, "topic", nil, "topic to create (or give topics as arguments)")
	fl.Int32Var(&partitions, "partitions", -1, "number of partitions (-1: the broker's num.partitions)")
	fl.Int16Var(&rf, "replication-factor", -1, "replicas of each partition (-1: the broker's default.replication.factor)")
	fl.StringArrayVar(&configs, "config", nil, "topic setting key=value, repeatable (retention.ms=..., cleanup.policy=compact, ...)")
	fl.BoolVar(&ifNotExists, "if-not-exists", false, "succeed if a topic exists already")
	fl.BoolVar(&validate, "validate-only", false, "check everything, create nothing")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		names := topicArgs(args, topics)
		if len(names) == 0 {
			return fmt.Errorf("name a topic to create: sluice topics create TOPIC")
		}
		cfgs, err := configFlags("--config", configs)
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
		create := adm.CreateTopics
		if validate {
			create = adm.ValidateCreateTopics
		}
		resps, err := create(ctx, partitions, rf, cfgs, names...)
		if err != nil {
			return cf.explain(err)
		}
		var failed int
		for _, name := range names {
			r, ok := resps[name]
			switch {
			case !ok:
				failed++
				fmt.Fprintf(cmd.ErrOrStderr(), "Error creating topic %s: no answer from the broker\n", name)
			case r.Err == nil && validate:
				fmt.Fprintf(cmd.OutOrStdout(), "Topic %s would be created with %d partitions and replication factor %d.\n", name, r.NumPartitions, r.ReplicationFactor)
			case r.Err == nil:
				fmt.Fprintf(cmd.OutOrStdout(), "Created topic %s.\n", name)
			case ifNotExists && r.Err == kerr.TopicAlreadyExists:
			default:
				failed++
				fmt.Fprintf(cmd.ErrOrStderr(), "Error creating topic %s: %v\n", name, brokerErr(r.Err, r.ErrMessage))
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d topics not created", failed, len(names))
		}
		return nil
	}
	return cmd
}

func (a *app) topicsListCmd() *cobra.Command {
	var excludeInternal bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List topic names, one per line",
		Args:  cobra.NoArgs,
	}
	cf := a.addClientFlags(cmd)
	cmd.Flags().BoolVar(&excludeInternal, "exclude-internal", false, "leave out internal topics (__consumer_offsets, ...)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, cancel := signalContext(cmd)
		defer cancel()
		cl, adm, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		list := adm.ListTopicsWithInternal
		if excludeInternal {
			list = adm.ListTopics
		}
		tds, err := list(ctx)
		if err != nil {
			return cf.explain(err)
		}
		for _, name := range tds.Names() {
			fmt.Fprintln(cmd.OutOrStdout(), name)
		}
		return nil
	}
	return cmd
}

func (a *app) topicsDescribeCmd() *cobra.Command {
	var topics []string
	cmd := &cobra.Command{
		Use:   "describe [TOPIC...]",
		Short: "Describe topics: partitions, leaders, replicas, ISR and changed settings",
		Long: `Describe topics as kafka-topics.sh --describe does: a line per topic with its ID,
partition count, replication factor and the settings set on it, then a line per
partition with its leader, replicas and in-sync replicas. With no topic, every
topic.`,
		Example: `  sluice topics describe orders`,
	}
	cf := a.addClientFlags(cmd)
	cmd.Flags().StringArrayVar(&topics, "topic", nil, "topic to describe (or give topics as arguments)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		names := topicArgs(args, topics)
		ctx, cancel := signalContext(cmd)
		defer cancel()
		cl, adm, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		md, err := adm.Metadata(ctx, names...)
		if err != nil {
			return cf.explain(err)
		}
		if len(names) == 0 {
			names = md.Topics.Names()
		}
		return describeTopics(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), adm, md, names)
	}
	return cmd
}

func describeTopics(ctx context.Context, out, errOut io.Writer, adm *kadm.Client, md kadm.Metadata, names []string) error {
	var ok []string
	failed := 0
	for _, name := range names {
		td, found := md.Topics[name]
		if !found || td.Err != nil {
			err := td.Err
			if !found {
				err = kerr.UnknownTopicOrPartition
			}
			fmt.Fprintf(errOut, "Error describing topic %s: %v\n", name, err)
			failed++
			continue
		}
		ok = append(ok, name)
	}
	overrides := map[string][]string{}
	if len(ok) > 0 {
		rcs, err := adm.DescribeTopicConfigs(ctx, ok...)
		if err == nil {
			for _, rc := range rcs {
				for _, c := range rc.Configs {
					if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
						overrides[rc.Name] = append(overrides[rc.Name], c.Key+"="+c.MaybeValue())
					}
				}
			}
		}
	}
	for _, name := range ok {
		td := md.Topics[name]
		rf := 0
		parts := td.Partitions.Sorted()
		if len(parts) > 0 {
			rf = len(parts[0].Replicas)
		}
		cfgs := overrides[name]
		sort.Strings(cfgs)
		fmt.Fprintf(out, "Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n",
			name, topicID(td.ID), len(parts), rf, strings.Join(cfgs, ","))
		for _, p := range parts {
			fmt.Fprintf(out, "\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s\n",
				name, p.Partition, leaderString(p.Leader), joinIDs(p.Replicas), joinIDs(p.ISR))
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d topics could not be described", failed, len(names))
	}
	return nil
}

// topicID renders a topic ID as Kafka does: URL-safe base64 without padding.
func topicID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

func leaderString(id int32) string {
	if id < 0 {
		return "none"
	}
	return fmt.Sprint(id)
}

func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ",")
}

func (a *app) topicsDeleteCmd() *cobra.Command {
	var (
		topics   []string
		ifExists bool
	)
	cmd := &cobra.Command{
		Use:     "delete TOPIC...",
		Short:   "Delete topics and all their records",
		Example: `  sluice topics delete orders`,
	}
	cf := a.addClientFlags(cmd)
	cmd.Flags().StringArrayVar(&topics, "topic", nil, "topic to delete (or give topics as arguments)")
	cmd.Flags().BoolVar(&ifExists, "if-exists", false, "succeed if a topic does not exist")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		names := topicArgs(args, topics)
		if len(names) == 0 {
			return fmt.Errorf("name a topic to delete: sluice topics delete TOPIC")
		}
		ctx, cancel := signalContext(cmd)
		defer cancel()
		cl, adm, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		resps, err := adm.DeleteTopics(ctx, names...)
		if err != nil {
			return cf.explain(err)
		}
		failed := 0
		for _, name := range names {
			r, ok := resps[name]
			switch {
			case !ok:
				failed++
				fmt.Fprintf(cmd.ErrOrStderr(), "Error deleting topic %s: no answer from the broker\n", name)
			case r.Err == nil:
				fmt.Fprintf(cmd.OutOrStdout(), "Deleted topic %s.\n", name)
			case ifExists && r.Err == kerr.UnknownTopicOrPartition:
			default:
				failed++
				fmt.Fprintf(cmd.ErrOrStderr(), "Error deleting topic %s: %v\n", name, brokerErr(r.Err, r.ErrMessage))
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d topics not deleted", failed, len(names))
		}
		return nil
	}
	return cmd
}

func (a *app) topicsAlterConfigCmd() *cobra.Command {
	var (
		set, del []string
		validate bool
	)
	cmd := &cobra.Command{
		Use:   "alter-config TOPIC --config key=value... [--delete-config key...]",
		Short: "Change a topic's settings",
		Long: `Set or remove a topic's settings. The change applies at once to the topic's
logs (retention, segment size, max.message.bytes, cleanup.policy, ...); a removed
setting falls back to the broker's default.`,
		Example: `  sluice topics alter-config orders --config retention.ms=3600000
  sluice topics alter-config orders --delete-config retention.ms`,
		Args: cobra.ExactArgs(1),
	}
	cf := a.addClientFlags(cmd)
	cmd.Flags().StringArrayVar(&set, "config", nil, "setting to set, key=value, repeatable")
	cmd.Flags().StringArrayVar(&del, "delete-config", nil, "setting to remove, repeatable")
	cmd.Flags().BoolVar(&validate, "validate-only", false, "check the change, apply nothing")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
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
		return alterTopic(ctx, cmd.OutOrStdout(), cf, adm, args[0], alters, validate)
	}
	return cmd
}

// alterOps turns --config k=v and --delete-config k flags into incremental
// changes.
func alterOps(set, del []string) ([]kadm.AlterConfig, error) {
	var out []kadm.AlterConfig
	for _, kv := range set {
		k, v, err := parseKV("--config", kv)
		if err != nil {
			return nil, err
		}
		out = append(out, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
	}
	for _, k := range del {
		for _, name := range strings.Split(k, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out = append(out, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: name})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("nothing to change: give --config key=value or --delete-config key")
	}
	return out, nil
}

func alterTopic(ctx context.Context, out io.Writer, cf *clientFlags, adm *kadm.Client, topic string, alters []kadm.AlterConfig, validate bool) error {
	alter := adm.AlterTopicConfigs
	if validate {
		alter = adm.ValidateAlterTopicConfigs
	}
	resps, err := alter(ctx, alters, topic)
	if err != nil {
		return cf.explain(err)
	}
	r, err := resps.On(topic, nil)
	if err != nil {
		return fmt.Errorf("topic %s: no answer from the broker", topic)
	}
	if r.Err != nil {
		return topicErr("topic "+topic, r.Err, r.ErrMessage)
	}
	if validate {
		fmt.Fprintf(out, "The config change for topic %s is valid.\n", topic)
	} else {
		fmt.Fprintf(out, "Completed updating config for topic %s.\n", topic)
	}
	return nil
}

func (a *app) topicsAddPartitionsCmd() *cobra.Command {
	var (
		total    int
		validate bool
	)
	cmd := &cobra.Command{
		Use:   "add-partitions TOPIC --partitions N",
		Short: "Grow a topic to N partitions",
		Long: `Grow a topic to N partitions in all, as kafka-topics.sh --alter --partitions N
does. Partitions are never removed. Keys hash to partitions by the partition
count, so adding partitions moves where new records of a key go.`,
		Example: `  sluice topics add-partitions orders --partitions 12`,
		Args:    cobra.ExactArgs(1),
	}
	cf := a.addClientFlags(cmd)
	cmd.Flags().IntVar(&total, "partitions", 0, "the partition count to grow to (required)")
	cmd.Flags().BoolVar(&validate, "validate-only", false, "check the change, apply nothing")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if total <= 0 {
			return fmt.Errorf("--partitions N is required: the total partition count to grow to")
		}
		topic := args[0]
		ctx, cancel := signalContext(cmd)
		defer cancel()
		cl, adm, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		update := adm.UpdatePartitions
		if validate {
			update = adm.ValidateUpdatePartitions
		}
		resps, err := update(ctx, total, topic)
		if err != nil {
			if err == kerr.UnknownTopicOrPartition {
				return fmt.Errorf("topic %s: %w", topic, err)
			}
			return cf.explain(err)
		}
		r, ok := resps[topic]
		switch {
		case !ok:
			return fmt.Errorf("topic %s: no answer from the broker", topic)
		case r.Err != nil:
			return topicErr("topic "+topic, r.Err, r.ErrMessage)
		case validate:
			fmt.Fprintf(cmd.OutOrStdout(), "Topic %s can grow to %d partitions.\n", topic, total)
		default:
			fmt.Fprintf(cmd.OutOrStdout(), "Topic %s now has %d partitions.\n", topic, total)
		}
		return nil
	}
	return cmd
}
