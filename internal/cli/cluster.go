package cli

// The cluster commands show the cluster as a whole: `info` (id, controller,
// brokers, topic counts), `brokers` (every broker with its endpoint, rack
// and whether it is fenced) and `quorum` (the metadata quorum: leader,
// epoch, high watermark, voters and observers with their lag, as Kafka's
// kafka-metadata-quorum describe --status and --replication show it).

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metadataTopic is the name of the metadata log, the partition the quorum
// replicates.
const metadataTopic = "__cluster_metadata"

func (a *app) clusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show the cluster: id, controller, brokers, metadata quorum",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(a.clusterInfoCmd(), a.clusterBrokersCmd(), a.clusterQuorumCmd())
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

// clusterBrokers is what `sluice cluster brokers --json` prints.
type clusterBrokers struct {
	ClusterID    string `json:"cluster_id"`
	ControllerID int32  `json:"controller_id"`
	// FencedShown is false when the broker's answer could not include
	// fenced brokers (DescribeCluster below v2, or Metadata): then only
	// unfenced brokers are listed.
	FencedShown bool            `json:"fenced_shown"`
	Brokers     []clusterBroker `json:"brokers"`
	// via names the request that answered, for the note on older brokers.
	via string
}

// describeCluster lists the brokers with DescribeCluster, asking for fenced
// brokers too (v2+). A broker that does not serve DescribeCluster (before
// Kafka 2.8) is asked for Metadata instead, which lists unfenced brokers.
func describeCluster(ctx context.Context, cl *kgo.Client) (clusterBrokers, error) {
	req := kmsg.NewPtrDescribeClusterRequest()
	req.IncludeFencedBrokers = true
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		// Errors from a response come back as codes, not here; so this is
		// a transport error or a request the broker cannot take. Metadata
		// tells which: it fails as well on the former.
		var ke *kerr.Error
		if errors.As(err, &ke) || ctx.Err() != nil {
			return clusterBrokers{}, err
		}
		out, mdErr := metadataBrokers(ctx, cl)
		if mdErr != nil {
			return clusterBrokers{}, err
		}
		return out, nil
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return clusterBrokers{}, topicErr("describe cluster", err, deref(resp.ErrorMessage))
	}
	out := clusterBrokers{
		ClusterID: resp.ClusterID, ControllerID: resp.ControllerID, Brokers: []clusterBroker{},
		FencedShown: resp.Version >= 2,
		via:         fmt.Sprintf("DescribeCluster v%d", resp.Version),
	}
	for _, b := range resp.Brokers {
		out.Brokers = append(out.Brokers, clusterBroker{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack, Fenced: b.IsFenced})
	}
	sortBrokers(out.Brokers)
	return out, nil
}

// metadataBrokers lists the brokers Metadata answers: the unfenced ones.
func metadataBrokers(ctx context.Context, cl *kgo.Client) (clusterBrokers, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // no topics, only the brokers
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return clusterBrokers{}, err
	}
	out := clusterBrokers{ClusterID: deref(resp.ClusterID), ControllerID: resp.ControllerID, Brokers: []clusterBroker{},
		via: fmt.Sprintf("Metadata v%d", resp.Version)}
	for _, b := range resp.Brokers {
		out.Brokers = append(out.Brokers, clusterBroker{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack})
	}
	sortBrokers(out.Brokers)
	return out, nil
}

func sortBrokers(bs []clusterBroker) {
	sort.Slice(bs, func(i, j int) bool { return bs[i].NodeID < bs[j].NodeID })
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
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
		cb, err := describeCluster(ctx, cl)
		if err != nil {
			return cf.explain(err)
		}
		info := clusterInfo{ClusterID: cb.ClusterID, ControllerID: cb.ControllerID, Brokers: cb.Brokers}
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
			return writeJSON(out, info)
		}
		fmt.Fprintf(out, "Cluster ID:  %s\n", info.ClusterID)
		fmt.Fprintf(out, "Controller:  %d\n", info.ControllerID)
		fmt.Fprintf(out, "Topics:      %d (%d partitions)\n", info.Topics, info.Partitions)
		fmt.Fprintf(out, "Brokers:     %d\n", len(info.Brokers))
		for _, b := range info.Brokers {
			state := ""
			if b.Fenced {
				state = "  (fenced)"
			}
			fmt.Fprintf(out, "  %d  %s:%d  rack=%s%s\n", b.NodeID, b.Host, b.Port, dash(deref(b.Rack)), state)
		}
		return nil
	}
	return cmd
}

func (a *app) clusterBrokersCmd() *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "brokers",
		Short: "List every broker: id, host:port, rack, and whether it is fenced",
		Long: `List every broker the cluster knows: its id, the host:port of the listener
this command reached, its rack, and its state: unfenced (serving), or fenced
(registered but not serving: it has stopped heartbeating to the controller, or
has not yet caught up with the metadata log).

Fenced brokers are shown when the broker answers DescribeCluster v2 or later
(Kafka 3.7+, Sluice); with older brokers only unfenced brokers are listed, and
a note on stderr says so.`,
		Args: cobra.NoArgs,
	}
	cf := a.addClientFlags(cmd)
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, cancel := signalContext(cmd)
		defer cancel()
		cl, _, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		cb, err := describeCluster(ctx, cl)
		if err != nil {
			return cf.explain(err)
		}
		if !cb.FencedShown {
			fmt.Fprintf(cmd.ErrOrStderr(), "Note: the broker answered %s, which lists only unfenced brokers; fenced brokers are not shown.\n", cb.via)
		}
		out := cmd.OutOrStdout()
		if jsonOut {
			return writeJSON(out, cb)
		}
		return printBrokers(out, cb.Brokers)
	}
	return cmd
}

// printBrokers prints the brokers as a table.
func printBrokers(w io.Writer, bs []clusterBroker) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tHOST:PORT\tRACK\tSTATE")
	for _, b := range bs {
		state := "unfenced"
		if b.Fenced {
			state = "fenced"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", b.NodeID, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))), dash(deref(b.Rack)), state)
	}
	return tw.Flush()
}

// quorumInfo is what `sluice cluster quorum --json` prints: the metadata
// quorum as its leader (or the node asked) describes it.
type quorumInfo struct {
	LeaderID      int32 `json:"leader_id"`
	LeaderEpoch   int32 `json:"leader_epoch"`
	HighWatermark int64 `json:"high_watermark"`
	// MaxFollowerLag is the largest lag of a voter other than the leader.
	MaxFollowerLag int64 `json:"max_follower_lag"`
	// MaxFollowerLagTimeMs is how far in time the furthest voter is behind
	// the leader: the leader's last caught-up time less the voter's. Null
	// when a voter's time is unknown (DescribeQuorum v0, or never caught up).
	MaxFollowerLagTimeMs *int64          `json:"max_follower_lag_time_ms"`
	Voters               []quorumReplica `json:"voters"`
	Observers            []quorumReplica `json:"observers"`
}

// quorumReplica is one voter or observer of the metadata log.
type quorumReplica struct {
	NodeID int32 `json:"node_id"`
	// DirectoryID is the replica's metadata log directory id (v2+), in
	// base64; empty when the answer has none.
	DirectoryID string `json:"directory_id,omitempty"`
	// Status is Leader, Follower (a voter) or Observer.
	Status       string `json:"status"`
	LogEndOffset int64  `json:"log_end_offset"`
	// Lag is the high watermark less the log end offset (at least 0); null
	// when the log end offset is unknown.
	Lag *int64 `json:"lag"`
	// The timestamps are milliseconds since the epoch by the leader's
	// clock, null when unknown (v0, or never); the ages are measured from
	// now by this machine's clock.
	LastFetchTimestamp    *int64 `json:"last_fetch_timestamp"`
	LastCaughtUpTimestamp *int64 `json:"last_caught_up_timestamp"`
	LastFetchAgeMs        *int64 `json:"last_fetch_age_ms"`
	LastCaughtUpAgeMs     *int64 `json:"last_caught_up_age_ms"`
	// Endpoints are the node's listeners as the answer lists them (v2+).
	Endpoints []string `json:"endpoints,omitempty"`
}

// Replica statuses, as kafka-metadata-quorum names them.
const (
	statusLeader   = "Leader"
	statusFollower = "Follower"
	statusObserver = "Observer"
)

// newQuorumRequest asks DescribeQuorum about the metadata log.
func newQuorumRequest() *kmsg.DescribeQuorumRequest {
	req := kmsg.NewPtrDescribeQuorumRequest()
	t := kmsg.NewDescribeQuorumRequestTopic()
	t.Topic = metadataTopic
	t.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	req.Topics = append(req.Topics, t)
	return req
}

// buildQuorum turns a DescribeQuorum answer into a quorumInfo, with lags and
// ages as of now.
func buildQuorum(resp *kmsg.DescribeQuorumResponse, now time.Time) (quorumInfo, error) {
	p, err := quorumPartition(resp)
	if err != nil {
		return quorumInfo{}, err
	}
	endpoints := map[int32][]string{}
	for _, n := range resp.Nodes {
		for _, l := range n.Listeners {
			endpoints[n.NodeID] = append(endpoints[n.NodeID], l.Name+"://"+net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port))))
		}
	}
	ms := func(ts int64) *int64 {
		if ts < 0 {
			return nil
		}
		return &ts
	}
	age := func(ts *int64) *int64 {
		if ts == nil {
			return nil
		}
		a := max(now.UnixMilli()-*ts, 0)
		return &a
	}
	replica := func(r kmsg.DescribeQuorumResponseTopicPartitionReplicaState, status string) quorumReplica {
		q := quorumReplica{
			NodeID: r.ReplicaID, Status: status, LogEndOffset: r.LogEndOffset,
			LastFetchTimestamp: ms(r.LastFetchTimestamp), LastCaughtUpTimestamp: ms(r.LastCaughtUpTimestamp),
			Endpoints: endpoints[r.ReplicaID],
		}
		if r.ReplicaDirectoryID != [16]byte{} {
			q.DirectoryID = base64.RawURLEncoding.EncodeToString(r.ReplicaDirectoryID[:])
		}
		if r.LogEndOffset >= 0 {
			lag := max(p.HighWatermark-r.LogEndOffset, 0)
			q.Lag = &lag
		}
		q.LastFetchAgeMs, q.LastCaughtUpAgeMs = age(q.LastFetchTimestamp), age(q.LastCaughtUpTimestamp)
		return q
	}
	info := quorumInfo{LeaderID: p.LeaderID, LeaderEpoch: p.LeaderEpoch, HighWatermark: p.HighWatermark,
		Voters: []quorumReplica{}, Observers: []quorumReplica{}}
	for _, v := range p.CurrentVoters {
		status := statusFollower
		if v.ReplicaID == p.LeaderID {
			status = statusLeader
		}
		info.Voters = append(info.Voters, replica(v, status))
	}
	for _, o := range p.Observers {
		info.Observers = append(info.Observers, replica(o, statusObserver))
	}
	byID := func(rs []quorumReplica) {
		sort.SliceStable(rs, func(i, j int) bool {
			if (rs[i].Status == statusLeader) != (rs[j].Status == statusLeader) {
				return rs[i].Status == statusLeader
			}
			return rs[i].NodeID < rs[j].NodeID
		})
	}
	byID(info.Voters)
	byID(info.Observers)

	// The follower lag in time is measured against the leader's own
	// caught-up time, so that both come from the leader's clock; without
	// one, against now.
	ref := now.UnixMilli()
	for _, v := range info.Voters {
		if v.Status == statusLeader && v.LastCaughtUpTimestamp != nil {
			ref = *v.LastCaughtUpTimestamp
		}
	}
	lagTime := int64(0)
	known := true
	for _, v := range info.Voters {
		if v.Status == statusLeader {
			continue
		}
		if v.Lag != nil {
			info.MaxFollowerLag = max(info.MaxFollowerLag, *v.Lag)
		}
		if v.LastCaughtUpTimestamp == nil {
			known = false
			continue
		}
		lagTime = max(lagTime, ref-*v.LastCaughtUpTimestamp)
	}
	if known {
		info.MaxFollowerLagTimeMs = &lagTime
	}
	return info, nil
}

// describeQuorum asks for DescribeQuorum. With direct set, cl's seed (a
// controller's listener, from --bootstrap-controller) is asked. Otherwise
// any broker may answer: the one Metadata names as the controller first,
// then the others.
func describeQuorum(ctx context.Context, cl *kgo.Client, direct bool) (*kmsg.DescribeQuorumResponse, error) {
	ask := func(b *kgo.Broker) (*kmsg.DescribeQuorumResponse, error) {
		resp, err := b.RetriableRequest(ctx, newQuorumRequest())
		if err != nil {
			return nil, err
		}
		return resp.(*kmsg.DescribeQuorumResponse), nil
	}
	if direct {
		return ask(cl.SeedBrokers()[0])
	}
	md, err := metadataBrokers(ctx, cl)
	if err != nil {
		return nil, err
	}
	var order []int32
	for _, b := range md.Brokers {
		order = append(order, b.NodeID)
	}
	if i := slices.Index(order, md.ControllerID); i > 0 {
		order = append(append([]int32{md.ControllerID}, order[:i]...), order[i+1:]...)
	}
	var errs []error
	for _, id := range order {
		resp, err := ask(cl.Broker(int(id)))
		if err == nil {
			// A broker that cannot reach the active controller says
			// NOT_CONTROLLER; another may do better.
			if _, perr := quorumPartition(resp); !errors.Is(perr, kerr.NotController) {
				return resp, nil
			}
			err = kerr.NotController
		}
		errs = append(errs, fmt.Errorf("broker %d: %w", id, err))
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, errors.New("the cluster lists no brokers to ask")
	}
	return nil, errors.Join(errs...)
}

func (a *app) clusterQuorumCmd() *cobra.Command {
	var jsonOut, status, replication bool
	var controller string
	cmd := &cobra.Command{
		Use:   "quorum",
		Short: "Show the metadata quorum: leader, epoch, high watermark, voters and observers with their lag",
		Long: `Show the Raft quorum that replicates the cluster's metadata log
(__cluster_metadata), as Kafka's kafka-metadata-quorum describe does.

The status part (--status) gives the leader, its epoch, the high watermark, the
largest lag of a follower in records and in time, and the voters and observers.
The replication part (--replication) gives a line per replica: its log end
offset, its lag behind the high watermark, and how long ago it last fetched and
was last caught up. Voters are the controllers; observers are the brokers that
follow the log without voting. With neither flag, both parts are shown.

Any broker answers (DescribeQuorum). --bootstrap-controller asks a controller
on its controller listener instead, for a cluster whose brokers are down.`,
		Example: `  sluice cluster quorum
  sluice cluster quorum --replication --json
  sluice cluster quorum --bootstrap-controller 127.0.0.1:19192`,
		Args: cobra.NoArgs,
	}
	cf := a.addClientFlags(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&jsonOut, "json", false, "print JSON (always the whole description)")
	fl.BoolVar(&status, "status", false, "show the status part only")
	fl.BoolVar(&replication, "replication", false, "show the replication part only")
	fl.StringVar(&controller, "bootstrap-controller", "", "host:port of a controller listener to ask instead of the brokers")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, cancel := signalContext(cmd)
		defer cancel()
		if controller != "" {
			if cmd.Flags().Changed("brokers") || cmd.Flags().Changed("bootstrap-server") {
				return errors.New("give --bootstrap-controller or --brokers, not both")
			}
			cf.brokers = controller
			if s, err := cf.seeds(); err != nil || len(s) != 1 {
				return fmt.Errorf("--bootstrap-controller %q: want one host:port", controller)
			}
		}
		cl, _, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		resp, err := describeQuorum(ctx, cl, controller != "")
		if err != nil {
			return fmt.Errorf("describe quorum: %w", cf.explain(err))
		}
		info, err := buildQuorum(resp, time.Now())
		if err != nil {
			return fmt.Errorf("describe quorum: %w", err)
		}
		out := cmd.OutOrStdout()
		if jsonOut {
			return writeJSON(out, info)
		}
		if !status && !replication {
			status, replication = true, true
		}
		if status {
			printQuorumStatus(out, info)
		}
		if status && replication {
			fmt.Fprintln(out)
		}
		if replication {
			return printQuorumReplication(out, info)
		}
		return nil
	}
	return cmd
}

// printQuorumStatus prints the status part, with kafka-metadata-quorum's
// labels so that what people grep for is there.
func printQuorumStatus(w io.Writer, q quorumInfo) {
	ids := func(rs []quorumReplica) string {
		var ids []int
		for _, r := range rs {
			ids = append(ids, int(r.NodeID))
		}
		slices.Sort(ids)
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = strconv.Itoa(id)
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	lagTime := "-"
	if q.MaxFollowerLagTimeMs != nil {
		lagTime = strconv.FormatInt(*q.MaxFollowerLagTimeMs, 10)
	}
	leader := strconv.Itoa(int(q.LeaderID))
	if q.LeaderID < 0 {
		leader += " (no leader)"
	}
	fmt.Fprintf(w, "LeaderId:              %s\n", leader)
	fmt.Fprintf(w, "LeaderEpoch:           %d\n", q.LeaderEpoch)
	fmt.Fprintf(w, "HighWatermark:         %d\n", q.HighWatermark)
	fmt.Fprintf(w, "MaxFollowerLag:        %d\n", q.MaxFollowerLag)
	fmt.Fprintf(w, "MaxFollowerLagTimeMs:  %s\n", lagTime)
	fmt.Fprintf(w, "CurrentVoters:         %s\n", ids(q.Voters))
	fmt.Fprintf(w, "CurrentObservers:      %s\n", ids(q.Observers))
}

// printQuorumReplication prints a line per replica, the leader first.
func printQuorumReplication(w io.Writer, q quorumInfo) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "NODE\tSTATUS\tLOG-END-OFFSET\tLAG\tLAST-FETCH\tLAST-CAUGHT-UP\tENDPOINTS")
	for _, r := range slices.Concat(q.Voters, q.Observers) {
		lag := "-"
		if r.Lag != nil {
			lag = strconv.FormatInt(*r.Lag, 10)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\n", r.NodeID, r.Status, r.LogEndOffset, lag,
			ageText(r.LastFetchAgeMs), ageText(r.LastCaughtUpAgeMs), dash(strings.Join(r.Endpoints, ",")))
	}
	return tw.Flush()
}

// ageText renders an age in milliseconds as "350ms ago", "4.2s ago" or
// "3m12s ago"; "-" when unknown.
func ageText(ms *int64) string {
	if ms == nil {
		return "-"
	}
	d := time.Duration(*ms) * time.Millisecond
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms ago", *ms)
	case d < time.Minute:
		return fmt.Sprintf("%.1fs ago", d.Seconds())
	default:
		return d.Round(time.Second).String() + " ago"
	}
}
