package cli

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (a *app) clusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show the cluster: id, controller, brokers",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(a.clusterInfoCmd())
	return cmd
}

// clusterInfo is what `sluice cluster info --json` prints.
type clusterInfo struct {
	ClusterID    string          `json:"cluster_id"`
	ControllerID int32           `json:"controller_id"`
	Brokers      []clusterBroker `json:"brokers"`
	Topics       int             `json:"topics"`
	Partitions   int             `json:"partitions"`
}

type clusterBroker struct {
	NodeID int32   `json:"node_id"`
	Host   string  `json:"host"`
	Port   int32   `json:"port"`
	Rack   *string `json:"rack"`
	Fenced bool    `json:"fenced"`
}

func (a *app) clusterInfoCmd() *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show the cluster id, the controller, the brokers and how many topics and partitions there are",
		Args:  cobra.NoArgs,
	}
	cf := a.addClientFlags(cmd)
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, cancel := signalContext(cmd)
		defer cancel()
		cl, adm, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		req := kmsg.NewPtrDescribeClusterRequest()
		req.IncludeFencedBrokers = true
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return cf.explain(err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			msg := ""
			if resp.ErrorMessage != nil {
				msg = *resp.ErrorMessage
			}
			return topicErr("describe cluster", err, msg)
		}
		info := clusterInfo{ClusterID: resp.ClusterID, ControllerID: resp.ControllerID, Brokers: []clusterBroker{}}
		for _, b := range resp.Brokers {
			info.Brokers = append(info.Brokers, clusterBroker{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack, Fenced: b.IsFenced})
		}
		sort.Slice(info.Brokers, func(i, j int) bool { return info.Brokers[i].NodeID < info.Brokers[j].NodeID })
		tds, err := adm.ListTopicsWithInternal(ctx)
		if err != nil {
			return cf.explain(err)
		}
		info.Topics = len(tds)
		for _, td := range tds {
			info.Partitions += len(td.Partitions)
		}
		out := cmd.OutOrStdout()
		if jsonOut {
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return enc.Encode(info)
		}
		fmt.Fprintf(out, "Cluster ID:  %s\n", info.ClusterID)
		fmt.Fprintf(out, "Controller:  %d\n", info.ControllerID)
		fmt.Fprintf(out, "Topics:      %d (%d partitions)\n", info.Topics, info.Partitions)
		fmt.Fprintf(out, "Brokers:     %d\n", len(info.Brokers))
		for _, b := range info.Brokers {
			rack := "-"
			if b.Rack != nil {
				rack = *b.Rack
			}
			state := ""
			if b.Fenced {
				state = "  (fenced)"
			}
			fmt.Fprintf(out, "  %d  %s:%d  rack=%s%s\n", b.NodeID, b.Host, b.Port, rack, state)
		}
		return nil
	}
	return cmd
}
