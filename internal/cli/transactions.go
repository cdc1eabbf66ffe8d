package cli

// The transactions commands are Kafka's kafka-transactions.sh for Sluice (KIP-664):
// `list` (ListTransactions to every broker, merged), `describe` (the coordinator's view
// of one transactional id), `find-hanging` (open transactions in partitions that no
// coordinator will ever close) and `abort` (closing one with an abort marker). `sluice
// producers describe` shows a partition's producer state (DescribeProducers), the
// partition's side of the same story.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnStates are the transaction states a coordinator reports, in Kafka's names.
var txnStates = []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

// inProgress reports whether a coordinator state means the transaction is still being
// carried out: its partitions will get markers.
func inProgress(state string) bool {
	return state == "Ongoing" || state == "PrepareCommit" || state == "PrepareAbort"
}

func (a *app) transactionsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "transactions",
		Short: "List and describe transactions; find and abort hanging ones",
		Long: `Inspect the transaction coordinators, as Kafka's kafka-transactions.sh does.

  sluice transactions list --state Ongoing
  sluice transactions describe --transactional-id my-app-0
  sluice transactions find-hanging --broker-id 1
  sluice transactions abort --topic orders --partition 0 --start-offset 1234`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.txnListCmd(), a.txnDescribeCmd(), a.txnFindHangingCmd(), a.txnAbortCmd())
	return cmd
}

func (a *app) producersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "producers",
		Short: "Show the idempotent and transactional producers of partitions",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(a.producersDescribeCmd())
	return cmd
}

// withClient runs fn with a client built from cf, turning its errors into words.
func withClient(cmd *cobra.Command, cf *clientFlags, fn func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error) error {
	ctx, cancel := signalContext(cmd)
	defer cancel()
	cl, adm, err := cf.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	return cf.explain(fn(ctx, cl, adm))
}

// --- list ----------------------------------------------------------------------

// listedTxn is one line of `sluice transactions list`.
type listedTxn struct {
	TransactionalID string `json:"transactional_id"`
	Coordinator     int32  `json:"coordinator"`
	ProducerID      int64  `json:"producer_id"`
	State           string `json:"state"`
}

func (a *app) txnListCmd() *cobra.Command {
	var states []string
	var pids []int64
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the transactional ids every coordinator knows, with producer id and state",
		Args:  cobra.NoArgs,
	}
	cf := a.addClientFlags(cmd)
	fl := cmd.Flags()
	fl.StringSliceVar(&states, "state", nil, "only transactions in these states ("+strings.Join(txnStates, ", ")+")")
	fl.Int64SliceVar(&pids, "producer-id", nil, "only transactions of these producer ids")
	fl.BoolVar(&jsonOut, "json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		for _, s := range states {
			if !slices.Contains(txnStates, s) {
				return fmt.Errorf("--state %q: want one of %s", s, strings.Join(txnStates, ", "))
			}
		}
		return withClient(cmd, cf, func(ctx context.Context, _ *kgo.Client, adm *kadm.Client) error {
			listed, err := adm.ListTransactions(ctx, pids, states)
			out := []listedTxn{}
			for _, l := range listed.Sorted() {
				out = append(out, listedTxn{TransactionalID: l.TxnID, Coordinator: l.Coordinator, ProducerID: l.ProducerID, State: l.State})
			}
			if err != nil && len(out) == 0 {
				return fmt.Errorf("list transactions: %w", err)
			}
			if jsonOut {
				if perr := writeJSON(cmd.OutOrStdout(), out); perr != nil {
					return perr
				}
			} else {
				printListedTxns(cmd.OutOrStdout(), out)
			}
			if err != nil {
				return fmt.Errorf("some brokers did not answer, the list may lack their transactions: %w", err)
			}
			return nil
		})
	}
	return cmd
}

func printListedTxns(w io.Writer, ls []listedTxn) {
	tw := newTable(w)
	fmt.Fprintln(tw, "TRANSACTIONAL-ID\tCOORDINATOR\tPRODUCER-ID\tSTATE")
	for _, l := range ls {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", l.TransactionalID, l.Coordinator, l.ProducerID, l.State)
	}
	tw.Flush()
}

// --- describe ------------------------------------------------------------------

// describedTxn is what `sluice transactions describe` prints.
type describedTxn struct {
	TransactionalID string `json:"transactional_id"`
	Coordinator     int32  `json:"coordinator"`
	ProducerID      int64  `json:"producer_id"`
	ProducerEpoch   int16  `json:"producer_epoch"`
	State           string `json:"state"`
	TimeoutMs       int32  `json:"timeout_ms"`
	// StartTimeMs and DurationMs are null when no transaction is open.
	StartTimeMs *int64 `json:"start_time_ms"`
	DurationMs  *int64 `json:"duration_ms"`
	// Partitions are those of the open transaction, as topic-partition.
	Partitions []string `json:"partitions"`
}

func newDescribedTxn(d kadm.DescribedTransaction, now time.Time) describedTxn {
	out := describedTxn{TransactionalID: d.TxnID, Coordinator: d.Coordinator, ProducerID: d.ProducerID,
		ProducerEpoch: d.ProducerEpoch, State: d.State, TimeoutMs: d.TimeoutMillis, Partitions: []string{}}
	if d.StartTimestamp >= 0 {
		start, dur := d.StartTimestamp, max(now.UnixMilli()-d.StartTimestamp, 0)
		out.StartTimeMs, out.DurationMs = &start, &dur
	}
	for _, t := range d.Topics.Sorted() {
		for _, p := range t.Partitions {
			out.Partitions = append(out.Partitions, fmt.Sprintf("%s-%d", t.Topic, p))
		}
	}
	return out
}

func (a *app) txnDescribeCmd() *cobra.Command {
	var id string
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "describe --transactional-id ID",
		Short: "Describe a transactional id as its coordinator knows it: producer, state, open transaction",
		Args:  cobra.NoArgs,
	}
	cf := a.addClientFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&id, "transactional-id", "", "the transactional id (required)")
	fl.BoolVar(&jsonOut, "json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if id == "" {
			return errors.New("--transactional-id is required")
		}
		return withClient(cmd, cf, func(ctx context.Context, _ *kgo.Client, adm *kadm.Client) error {
			// kadm finds the coordinator (FindCoordinator, key type 1) and asks it.
			described, err := adm.DescribeTransactions(ctx, id)
			if err != nil {
				return fmt.Errorf("describe transaction %s: %w", id, err)
			}
			d, err := described.On(id, nil)
			if err == nil {
				err = d.Err
			}
			if err != nil {
				return fmt.Errorf("transactional id %s: %w", id, err)
			}
			out := newDescribedTxn(d, time.Now())
			if jsonOut {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			printDescribedTxn(cmd.OutOrStdout(), out)
			return nil
		})
	}
	return cmd
}

func printDescribedTxn(w io.Writer, d describedTxn) {
	opt := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatInt(*p, 10)
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "COORDINATOR\tTRANSACTIONAL-ID\tPRODUCER-ID\tPRODUCER-EPOCH\tSTATE\tTIMEOUT-MS\tSTART-TIME-MS\tDURATION-MS\tPARTITIONS")
	parts := "-"
	if len(d.Partitions) > 0 {
		parts = strings.Join(d.Partitions, ",")
	}
	fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%d\t%s\t%s\t%s\n", d.Coordinator, d.TransactionalID, d.ProducerID, d.ProducerEpoch,
		d.State, d.TimeoutMs, opt(d.StartTimeMs), opt(d.DurationMs), parts)
	tw.Flush()
}

// --- producers describe ----------------------------------------------------------

// producerState is one producer of one partition, as DescribeProducers reports it.
type producerState struct {
	Topic            string `json:"topic"`
	Partition        int32  `json:"partition"`
	ProducerID       int64  `json:"producer_id"`
	ProducerEpoch    int16  `json:"producer_epoch"`
	CoordinatorEpoch int32  `json:"coordinator_epoch"` // -1: no marker written yet
	LastSequence     int32  `json:"last_sequence"`
	LastTimestamp    int64  `json:"last_timestamp"`
	// TxnStartOffset is the first offset of the producer's open transaction; null
	// when none is open.
	TxnStartOffset *int64 `json:"txn_start_offset"`
}

func newProducerState(d kadm.DescribedProducer) producerState {
	ps := producerState{Topic: d.Topic, Partition: d.Partition, ProducerID: d.ProducerID, ProducerEpoch: d.ProducerEpoch,
		CoordinatorEpoch: d.CoordinatorEpoch, LastSequence: d.LastSequence, LastTimestamp: d.LastTimestamp}
	if d.CurrentTxnStartOffset >= 0 {
		o := d.CurrentTxnStartOffset
		ps.TxnStartOffset = &o
	}
	return ps
}

// describeProducers asks the leaders of a topic's partitions (all of them when parts is
// empty) for their producers. A partition that answered an error makes an error; the
// producers of the others are returned beside it.
func describeProducers(ctx context.Context, adm *kadm.Client, topic string, parts []int32) ([]producerState, error) {
	set := kadm.TopicsSet{}
	set.Add(topic, parts...)
	described, err := adm.DescribeProducers(ctx, set)
	if err != nil {
		return nil, fmt.Errorf("describe producers of %s: %w", topic, err)
	}
	dt, ok := described[topic]
	if !ok || len(dt.Partitions) == 0 {
		return nil, fmt.Errorf("topic %s: %w", topic, kerr.UnknownTopicOrPartition)
	}
	var out []producerState
	var errs []error
	for _, want := range parts {
		if _, ok := dt.Partitions[want]; !ok {
			errs = append(errs, fmt.Errorf("%s-%d: %w", topic, want, kerr.UnknownTopicOrPartition))
		}
	}
	for _, p := range dt.Partitions.Sorted() {
		if p.Err != nil {
			errs = append(errs, fmt.Errorf("%s-%d: %w", topic, p.Partition, brokerErr(p.Err, p.ErrMessage)))
			continue
		}
		for _, d := range p.ActiveProducers.Sorted() {
			out = append(out, newProducerState(d))
		}
	}
	return out, errors.Join(errs...)
}

func (a *app) producersDescribeCmd() *cobra.Command {
	var partitions []int32
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "describe TOPIC",
		Short: "Show each partition's producers: epoch, last sequence and time, open transaction",
		Long: `Show the producer state the leader of each partition keeps (DescribeProducers): for
every idempotent or transactional producer that wrote to it recently, its producer id
and epoch, the epoch of the transaction coordinator that wrote its last marker (-1:
none yet), its last sequence number and timestamp, and where its open transaction
starts ("-": none open).`,
		Args: cobra.ExactArgs(1),
	}
	cf := a.addClientFlags(cmd)
	fl := cmd.Flags()
	fl.Int32SliceVarP(&partitions, "partition", "p", nil, "only these partitions (default: all)")
	fl.BoolVar(&jsonOut, "json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return withClient(cmd, cf, func(ctx context.Context, _ *kgo.Client, adm *kadm.Client) error {
			out, err := describeProducers(ctx, adm, args[0], partitions)
			if out == nil && err != nil {
				return err
			}
			if out == nil {
				out = []producerState{}
			}
			if jsonOut {
				if perr := writeJSON(cmd.OutOrStdout(), out); perr != nil {
					return perr
				}
			} else {
				printProducers(cmd.OutOrStdout(), out)
			}
			return err
		})
	}
	return cmd
}

func printProducers(w io.Writer, ps []producerState) {
	tw := newTable(w)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tPRODUCER-ID\tPRODUCER-EPOCH\tCOORDINATOR-EPOCH\tLAST-SEQUENCE\tLAST-TIMESTAMP\tTXN-START-OFFSET")
	for _, p := range ps {
		start := "-"
		if p.TxnStartOffset != nil {
			start = strconv.FormatInt(*p.TxnStartOffset, 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", p.Topic, p.Partition, p.ProducerID, p.ProducerEpoch,
			p.CoordinatorEpoch, p.LastSequence, p.LastTimestamp, start)
	}
	tw.Flush()
}

// --- find-hanging ----------------------------------------------------------------

// hangingTxn is an open transaction in a partition that no coordinator is carrying
// out: nothing will ever write its marker, and it holds the partition's last stable
// offset back (read_committed consumers stall) until it is aborted.
type hangingTxn struct {
	Topic            string `json:"topic"`
	Partition        int32  `json:"partition"`
	ProducerID       int64  `json:"producer_id"`
	ProducerEpoch    int16  `json:"producer_epoch"`
	CoordinatorEpoch int32  `json:"coordinator_epoch"`
	StartOffset      int64  `json:"start_offset"`
	LastTimestamp    int64  `json:"last_timestamp"`
	DurationMs       int64  `json:"duration_ms"`
	// TransactionalID is the id whose producer this is, when a coordinator knows one.
	TransactionalID string `json:"transactional_id,omitempty"`
	// Reason says why the coordinator will not close it.
	Reason string `json:"reason"`
}

// hangingCandidates are the open transactions of ps older than maxAge: those a
// coordinator should already have aborted.
func hangingCandidates(ps []producerState, now time.Time, maxAge time.Duration) []producerState {
	var out []producerState
	for _, p := range ps {
		if p.TxnStartOffset != nil && now.UnixMilli()-p.LastTimestamp > maxAge.Milliseconds() {
			out = append(out, p)
		}
	}
	return out
}

// judgeHanging decides which candidates hang, given the transactional ids the
// coordinators list for their producer ids (producer id -> id) and those ids'
// descriptions. A candidate is not hanging when the coordinator of its producer's
// transactional id is carrying out a transaction that includes the partition: that
// transaction's markers will close it.
func judgeHanging(cands []producerState, ids map[int64]string, described map[string]kadm.DescribedTransaction, now time.Time) []hangingTxn {
	var out []hangingTxn
	for _, c := range cands {
		h := hangingTxn{Topic: c.Topic, Partition: c.Partition, ProducerID: c.ProducerID, ProducerEpoch: c.ProducerEpoch,
			CoordinatorEpoch: c.CoordinatorEpoch, StartOffset: *c.TxnStartOffset, LastTimestamp: c.LastTimestamp,
			DurationMs: max(now.UnixMilli()-c.LastTimestamp, 0)}
		id, ok := ids[c.ProducerID]
		if !ok {
			h.Reason = "no coordinator knows a transactional id with this producer id"
			out = append(out, h)
			continue
		}
		h.TransactionalID = id
		d, ok := described[id]
		switch {
		case !ok || d.Err != nil:
			h.Reason = "the transactional id could not be described"
			if ok {
				h.Reason += ": " + d.Err.Error()
			}
		case d.ProducerID != c.ProducerID:
			h.Reason = fmt.Sprintf("the transactional id now uses producer id %d", d.ProducerID)
		case !inProgress(d.State):
			h.Reason = "the coordinator's transaction is " + d.State
		case !d.Topics.Lookup(c.Topic, c.Partition):
			h.Reason = "the coordinator's transaction does not include the partition"
		default:
			continue // in progress with this partition: its markers will close it
		}
		out = append(out, h)
	}
	return out
}

func (a *app) txnFindHangingCmd() *cobra.Command {
	var brokerID int32
	var topic string
	var partition int32
	var maxTimeoutMin int
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "find-hanging (--broker-id N | --topic TOPIC [--partition P])",
		Short: "Find open transactions in partitions that no coordinator will ever close",
		Long: `Find hanging transactions, as kafka-transactions.sh find-hanging does: open
transactions in a partition's producer state (DescribeProducers) that have been open
longer than the longest transaction timeout, and that no coordinator is carrying out
(ListTransactions and DescribeTransactions for their producer ids). A hanging
transaction holds back the partition's last stable offset, so read_committed
consumers stall; close it with 'sluice transactions abort'.

--broker-id asks that broker about every partition it hosts; --topic asks the leaders
of the topic's partitions (or of --partition alone).`,
		Args: cobra.NoArgs,
	}
	cf := a.addClientFlags(cmd)
	fl := cmd.Flags()
	fl.Int32Var(&brokerID, "broker-id", -1, "look in every partition this broker hosts")
	fl.StringVar(&topic, "topic", "", "look in this topic's partitions")
	fl.Int32Var(&partition, "partition", -1, "with --topic, only this partition")
	fl.IntVar(&maxTimeoutMin, "max-transaction-timeout", 15,
		"minutes a transaction may stay open before it counts as a candidate: the brokers' transaction.max.timeout.ms (0: every open transaction)")
	fl.BoolVar(&jsonOut, "json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		switch {
		case (brokerID >= 0) == (topic != ""):
			return errors.New("give --broker-id or --topic")
		case partition >= 0 && topic == "":
			return errors.New("--partition needs --topic")
		case maxTimeoutMin < 0:
			return errors.New("--max-transaction-timeout must not be negative")
		}
		return withClient(cmd, cf, func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
			var ps []producerState
			var err error
			if brokerID >= 0 {
				ps, err = brokerProducers(ctx, cl, adm, brokerID)
			} else {
				var parts []int32
				if partition >= 0 {
					parts = []int32{partition}
				}
				ps, err = describeProducers(ctx, adm, topic, parts)
			}
			if ps == nil && err != nil {
				return err
			}
			partial := err
			hanging, err := findHanging(ctx, adm, ps, time.Now(), time.Duration(maxTimeoutMin)*time.Minute)
			if err != nil {
				return err
			}
			if jsonOut {
				if hanging == nil {
					hanging = []hangingTxn{}
				}
				if err := writeJSON(cmd.OutOrStdout(), hanging); err != nil {
					return err
				}
			} else {
				printHanging(cmd.OutOrStdout(), hanging)
			}
			if partial != nil {
				return fmt.Errorf("some partitions could not be described: %w", partial)
			}
			return nil
		})
	}
	return cmd
}

// findHanging asks the coordinators about the candidates of ps and returns the
// transactions that hang.
func findHanging(ctx context.Context, adm *kadm.Client, ps []producerState, now time.Time, maxAge time.Duration) ([]hangingTxn, error) {
	cands := hangingCandidates(ps, now, maxAge)
	if len(cands) == 0 {
		return nil, nil
	}
	var pids []int64
	for _, c := range cands {
		if !slices.Contains(pids, c.ProducerID) {
			pids = append(pids, c.ProducerID)
		}
	}
	listed, err := adm.ListTransactions(ctx, pids, nil)
	if err != nil {
		// Without every coordinator's answer, a transaction could look hanging
		// that is not: refuse to say.
		return nil, fmt.Errorf("list the transactions of producer ids %v: %w", pids, err)
	}
	ids := map[int64]string{}
	var names []string
	for _, l := range listed.Sorted() {
		ids[l.ProducerID] = l.TxnID
		names = append(names, l.TxnID)
	}
	described := map[string]kadm.DescribedTransaction{}
	if len(names) > 0 {
		d, err := adm.DescribeTransactions(ctx, names...)
		if err != nil {
			return nil, fmt.Errorf("describe transactions %v: %w", names, err)
		}
		described = d
	}
	return judgeHanging(cands, ids, described, now), nil
}

// brokerProducers asks broker id, with DescribeProducers, about every partition it
// hosts as leader or follower.
func brokerProducers(ctx context.Context, cl *kgo.Client, adm *kadm.Client, id int32) ([]producerState, error) {
	md, err := adm.Metadata(ctx)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if !slices.Contains(md.Brokers.NodeIDs(), id) {
		return nil, fmt.Errorf("broker %d is not in the cluster (brokers: %v)", id, md.Brokers.NodeIDs())
	}
	req := kmsg.NewPtrDescribeProducersRequest()
	for _, t := range md.Topics.Sorted() {
		rt := kmsg.NewDescribeProducersRequestTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions.Sorted() {
			if slices.Contains(p.Replicas, id) {
				rt.Partitions = append(rt.Partitions, p.Partition)
			}
		}
		if len(rt.Partitions) > 0 {
			req.Topics = append(req.Topics, rt)
		}
	}
	if len(req.Topics) == 0 {
		return []producerState{}, nil
	}
	resp, err := req.RequestWith(ctx, cl.Broker(int(id)))
	if err != nil {
		return nil, fmt.Errorf("describe producers on broker %d: %w", id, err)
	}
	out := []producerState{}
	var errs []error
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				errs = append(errs, fmt.Errorf("%s-%d: %w", rt.Topic, rp.Partition, brokerErr(err, deref(rp.ErrorMessage))))
				continue
			}
			for _, ap := range rp.ActiveProducers {
				out = append(out, newProducerState(kadm.DescribedProducer{Topic: rt.Topic, Partition: rp.Partition,
					ProducerID: ap.ProducerID, ProducerEpoch: int16(ap.ProducerEpoch), LastSequence: ap.LastSequence,
					LastTimestamp: ap.LastTimestamp, CoordinatorEpoch: ap.CoordinatorEpoch, CurrentTxnStartOffset: ap.CurrentTxnStartOffset}))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		l, r := out[i], out[j]
		return l.Topic < r.Topic || l.Topic == r.Topic && (l.Partition < r.Partition || l.Partition == r.Partition && l.ProducerID < r.ProducerID)
	})
	return out, errors.Join(errs...)
}

func printHanging(w io.Writer, hs []hangingTxn) {
	if len(hs) == 0 {
		fmt.Fprintln(w, "No hanging transactions found.")
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tPRODUCER-ID\tPRODUCER-EPOCH\tCOORDINATOR-EPOCH\tSTART-OFFSET\tLAST-TIMESTAMP\tDURATION\tTRANSACTIONAL-ID\tREASON")
	for _, h := range hs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", h.Topic, h.Partition, h.ProducerID, h.ProducerEpoch,
			h.CoordinatorEpoch, h.StartOffset, h.LastTimestamp, (time.Duration(h.DurationMs) * time.Millisecond).Round(time.Second),
			dash(h.TransactionalID), h.Reason)
	}
	tw.Flush()
}

// --- abort -------------------------------------------------------------------------

// abortedTxn is what `sluice transactions abort` prints.
type abortedTxn struct {
	Topic            string `json:"topic"`
	Partition        int32  `json:"partition"`
	ProducerID       int64  `json:"producer_id"`
	ProducerEpoch    int16  `json:"producer_epoch"`
	CoordinatorEpoch int32  `json:"coordinator_epoch"`
	// StartOffset is where the aborted transaction started, when --start-offset found it.
	StartOffset *int64 `json:"start_offset,omitempty"`
}

func (a *app) txnAbortCmd() *cobra.Command {
	var topic string
	var partition int32
	var startOffset, producerID int64
	var producerEpoch int16
	var coordinatorEpoch int32
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "abort --topic TOPIC --partition P (--start-offset O | --producer-id ID --producer-epoch E --coordinator-epoch C)",
		Short: "Abort a hanging transaction in one partition by writing its abort marker",
		Long: `Abort an open transaction in one partition, as kafka-transactions.sh abort does: the
partition's leader writes an abort marker for the producer (WriteTxnMarkers), which
closes the transaction, drops its records for read_committed consumers and lets the
last stable offset move on. Meant for hanging transactions (see find-hanging): a
transaction a coordinator is still carrying out should be left to it.

--start-offset finds the producer whose open transaction starts there
(DescribeProducers) and takes its producer id, epoch and coordinator epoch; without
it, give all three.`,
		Args: cobra.NoArgs,
	}
	cf := a.addClientFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&topic, "topic", "", "the partition's topic (required)")
	fl.Int32Var(&partition, "partition", -1, "the partition (required)")
	fl.Int64Var(&startOffset, "start-offset", -1, "the first offset of the open transaction to abort")
	fl.Int64Var(&producerID, "producer-id", -1, "the producer id of the transaction (without --start-offset)")
	fl.Int16Var(&producerEpoch, "producer-epoch", -1, "the producer epoch of the transaction (without --start-offset)")
	fl.Int32Var(&coordinatorEpoch, "coordinator-epoch", -1, "the coordinator epoch to write the marker with (without --start-offset)")
	fl.BoolVar(&jsonOut, "json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		byOffset := cmd.Flags().Changed("start-offset")
		bySpec := cmd.Flags().Changed("producer-id") || cmd.Flags().Changed("producer-epoch") || cmd.Flags().Changed("coordinator-epoch")
		switch {
		case topic == "" || partition < 0:
			return errors.New("--topic and --partition are required")
		case byOffset == bySpec:
			return errors.New("give --start-offset, or --producer-id, --producer-epoch and --coordinator-epoch")
		case byOffset && startOffset < 0:
			return errors.New("--start-offset must not be negative")
		case bySpec && (producerID < 0 || producerEpoch < 0 || coordinatorEpoch < 0):
			return errors.New("--producer-id, --producer-epoch and --coordinator-epoch are all required, none negative")
		}
		return withClient(cmd, cf, func(ctx context.Context, _ *kgo.Client, adm *kadm.Client) error {
			ab := abortedTxn{Topic: topic, Partition: partition, ProducerID: producerID, ProducerEpoch: producerEpoch, CoordinatorEpoch: coordinatorEpoch}
			if byOffset {
				ps, err := describeProducers(ctx, adm, topic, []int32{partition})
				if err != nil {
					return err
				}
				i := slices.IndexFunc(ps, func(p producerState) bool { return p.TxnStartOffset != nil && *p.TxnStartOffset == startOffset })
				if i < 0 {
					return fmt.Errorf("%s-%d: no open transaction starts at offset %d (see 'sluice producers describe %s')", topic, partition, startOffset, topic)
				}
				p := ps[i]
				// -1 means no marker has been written for the producer: any epoch
				// of a coordinator is then accepted; write 0, as Kafka's tool does.
				ab.ProducerID, ab.ProducerEpoch, ab.CoordinatorEpoch = p.ProducerID, p.ProducerEpoch, max(p.CoordinatorEpoch, 0)
				ab.StartOffset = p.TxnStartOffset
			}
			set := kadm.TopicsSet{}
			set.Add(topic, partition)
			resps, err := adm.WriteTxnMarkers(ctx, kadm.TxnMarkers{ProducerID: ab.ProducerID, ProducerEpoch: ab.ProducerEpoch,
				Commit: false, CoordinatorEpoch: ab.CoordinatorEpoch, Topics: set})
			if err != nil {
				return fmt.Errorf("write the abort marker: %w", err)
			}
			var perr error = kerr.UnknownServerError
			if r, ok := resps[ab.ProducerID]; ok {
				if pr, ok := r.Topics[topic].Partitions[partition]; ok {
					perr = pr.Err
				}
			}
			if perr != nil {
				return fmt.Errorf("abort the transaction of producer %d in %s-%d: %w", ab.ProducerID, topic, partition, perr)
			}
			if jsonOut {
				return writeJSON(cmd.OutOrStdout(), ab)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Aborted the transaction of producer %d (epoch %d) in %s-%d with coordinator epoch %d.\n",
				ab.ProducerID, ab.ProducerEpoch, topic, partition, ab.CoordinatorEpoch)
			return nil
		})
	}
	return cmd
}
