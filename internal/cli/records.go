package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

func (a *app) recordsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "records",
		Short: "Delete records from the start of partitions",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(a.recordsDeleteCmd())
	return cmd
}

// deleteRecordsFile is kafka-delete-records.sh's --offset-json-file.
type deleteRecordsFile struct {
	Partitions []struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	} `json:"partitions"`
	Version int `json:"version"`
}

func (a *app) recordsDeleteCmd() *cobra.Command {
	var (
		partitions []int32
		offset     int64
		jsonFile   string
	)
	cmd := &cobra.Command{
		Use:   "delete [TOPIC --offset N [--partition P]...] | --offset-json-file FILE",
		Short: "Delete every record below an offset (DeleteRecords)",
		Long: `Move partitions' log start offsets up to --offset, as kafka-delete-records.sh
does: records below it can no longer be read, and whole segments below it are
removed. -1 means the high watermark (everything written so far). Without
--partition, every partition of the topic. --offset-json-file takes Kafka's file
format: {"partitions":[{"topic":"t","partition":0,"offset":42}],"version":1}.
Topics whose cleanup.policy is compact only refuse (POLICY_VIOLATION).`,
		Example: `  sluice records delete orders --partition 0 --offset 1000
  sluice records delete orders --offset -1
  sluice records delete --offset-json-file offsets.json`,
		Args: cobra.MaximumNArgs(1),
	}
	cf := a.addClientFlags(cmd)
	fl := cmd.Flags()
	fl.Int32SliceVarP(&partitions, "partition", "p", nil, "partitions to delete from (repeatable, or comma-separated; default: all)")
	fl.Int64Var(&offset, "offset", -2, "delete records below this offset (-1: the high watermark)")
	fl.StringVar(&jsonFile, "offset-json-file", "", "Kafka's JSON file of topic, partition and offset triples")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var os kadm.Offsets
		switch {
		case jsonFile != "" && len(args) > 0:
			return fmt.Errorf("give either TOPIC --offset N or --offset-json-file, not both")
		case jsonFile != "":
			f, err := readDeleteRecordsFile(jsonFile)
			if err != nil {
				return err
			}
			for _, p := range f.Partitions {
				os.Add(kadm.Offset{Topic: p.Topic, Partition: p.Partition, At: p.Offset})
			}
		case len(args) == 0:
			return fmt.Errorf("name a topic (with --offset N) or give --offset-json-file")
		case offset < -1:
			return fmt.Errorf("--offset N is required: delete the records below offset N (-1: all records written so far)")
		}
		ctx, cancel := signalContext(cmd)
		defer cancel()
		cl, adm, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		if len(args) == 1 {
			topic := args[0]
			if len(partitions) == 0 {
				md, err := adm.Metadata(ctx, topic)
				if err != nil {
					return cf.explain(err)
				}
				td, ok := md.Topics[topic]
				if !ok || td.Err != nil {
					return fmt.Errorf("topic %s: %v", topic, td.Err)
				}
				for p := range td.Partitions {
					partitions = append(partitions, p)
				}
			}
			for _, p := range partitions {
				os.Add(kadm.Offset{Topic: topic, Partition: p, At: offset})
			}
		}
		if len(os) == 0 {
			return fmt.Errorf("no partitions to delete records from")
		}
		resps, err := adm.DeleteRecords(ctx, os)
		if err != nil && len(resps) == 0 {
			return cf.explain(err)
		}
		type row struct {
			topic string
			p     int32
			r     kadm.DeleteRecordsResponse
			ok    bool
		}
		var rows []row
		os.Each(func(o kadm.Offset) {
			r, ok := resps.Lookup(o.Topic, o.Partition)
			rows = append(rows, row{o.Topic, o.Partition, r, ok})
		})
		sort.Slice(rows, func(i, j int) bool {
			if rows[i].topic != rows[j].topic {
				return rows[i].topic < rows[j].topic
			}
			return rows[i].p < rows[j].p
		})
		out := cmd.OutOrStdout()
		fmt.Fprintln(out, "Records delete operation completed:")
		failed := 0
		for _, r := range rows {
			switch {
			case !r.ok:
				failed++
				why := "no answer from the broker"
				if err != nil {
					why = cf.explain(err).Error()
				}
				fmt.Fprintf(out, "partition: %s-%d\terror: %s\n", r.topic, r.p, why)
			case r.r.Err != nil:
				failed++
				fmt.Fprintf(out, "partition: %s-%d\terror: %v\n", r.topic, r.p, r.r.Err)
			default:
				fmt.Fprintf(out, "partition: %s-%d\tlow_watermark: %d\n", r.topic, r.p, r.r.LowWatermark)
			}
		}
		if failed > 0 {
			return fmt.Errorf("records of %d of %d partitions were not deleted", failed, len(rows))
		}
		return nil
	}
	return cmd
}

func readDeleteRecordsFile(name string) (*deleteRecordsFile, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("--offset-json-file: %w", err)
	}
	var f deleteRecordsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("--offset-json-file %s: %w", name, err)
	}
	if len(f.Partitions) == 0 {
		return nil, fmt.Errorf(`--offset-json-file %s: no partitions; want {"partitions":[{"topic":"t","partition":0,"offset":42}],"version":1}`, name)
	}
	return &f, nil
}
