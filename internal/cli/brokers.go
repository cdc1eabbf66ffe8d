package cli

// The brokers commands manage brokers one at a time: `list` (the same table
// as `cluster brokers`), `decommission` (move every replica off a broker,
// then unregister it) and `unregister`.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (a *app) brokersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "brokers",
		Short: "List brokers, move every replica off one, unregister one",
		Args:  cobra.NoArgs,
	}
	list := a.clusterBrokersCmd()
	list.Use = "list"
	list.Short += " (the same as `sluice cluster brokers`)"
	cmd.AddCommand(list, a.brokersDecommissionCmd(), a.brokersUnregisterCmd())
	return cmd
}

// brokerArg parses the broker id argument.
func brokerArg(s string) (int32, error) {
	id, err := strconv.ParseInt(s, 10, 32)
	if err != nil || id < 0 {
		return 0, fmt.Errorf("broker id %q: want a node.id, as 4", s)
	}
	return int32(id), nil
}

// decommissionPollInterval is how often --wait checks the moves.
const decommissionPollInterval = 500 * time.Millisecond

func (a *app) brokersDecommissionCmd() *cobra.Command {
	var (
		wait        bool
		waitTimeout time.Duration
		noRacks     bool
	)
	cmd := &cobra.Command{
		Use:   "decommission ID",
		Short: "Move every replica off a broker, then unregister it",
		Long: `Take a broker out of the cluster for good.

1. Every partition with a replica on the broker is reassigned: that replica
   moves to another live broker, keeping the partition's replica count and its
   place in the replica list (a partition the broker was the preferred leader of
   gets a new preferred leader). The brokers that receive replicas are chosen
   evenly, and, where brokers have a broker.rack, in racks the partition does
   not use yet. The plan and the assignment from before it are printed; the
   latter rolls the moves back with partitions reassign --execute.
2. With --wait, the command waits until the moves are complete (as partitions
   reassign --verify would report), up to --wait-timeout.
3. It then unregisters the broker (UnregisterBroker), which removes it from
   the cluster's metadata, if the broker process has stopped. A broker that
   still runs registers again at once, so while it runs the command only says
   so: stop its process, then run this command again (or brokers unregister).
   Stopping it before the moves is possible too; the partitions then keep
   one replica fewer in sync until the moves complete.

The command can be run again at any point: what has moved already is not
planned again. Without --wait it starts the moves and returns.`,
		Example: `  sluice brokers decommission 4 --wait
  # then stop broker 4's process, and:
  sluice brokers decommission 4 --wait`,
		Args: cobra.ExactArgs(1),
	}
	cf := a.addClientFlags(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&wait, "wait", false, "wait for the moves to complete, then unregister the broker if its process has stopped")
	fl.DurationVar(&waitTimeout, "wait-timeout", 30*time.Minute, "with --wait: give up waiting for the moves after this long")
	fl.BoolVar(&noRacks, "disable-rack-aware", false, "ignore the brokers' racks when choosing where replicas go")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		id, err := brokerArg(args[0])
		if err != nil {
			return err
		}
		ctx, stop := signalContext(cmd)
		defer stop()
		cl, adm, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		d := &decommission{id: id, out: cmd.OutOrStdout(), cf: cf, cl: cl, adm: adm, rackAware: !noRacks}
		return d.run(ctx, wait, waitTimeout)
	}
	return cmd
}

// decommission is one run of `brokers decommission`.
type decommission struct {
	id        int32
	out       io.Writer
	cf        *clientFlags
	cl        *kgo.Client
	adm       *kadm.Client
	rackAware bool
}

func (d *decommission) run(ctx context.Context, wait bool, waitTimeout time.Duration) error {
	br, err := fetchBrokers(ctx, d.cl)
	if err != nil {
		return d.cf.explain(err)
	}
	if _, ok := br.live[d.id]; !ok {
		return fmt.Errorf("broker %d is not registered: it is unregistered already, or was never part of this cluster", d.id)
	}
	states, err := fetchPartitions(ctx, d.cl, nil)
	if err != nil {
		return d.cf.explain(err)
	}
	var others []int32
	for b, live := range br.live {
		if b != d.id && live {
			others = append(others, b)
		}
	}
	slices.Sort(others)
	var racks map[int32]string
	if d.rackAware {
		racks = br.racks
	}
	plan, err := planDecommission(states, d.id, others, racks)
	if err != nil {
		return err
	}
	if len(plan) > 0 {
		before := assignment{}
		for p := range plan {
			before[p] = states[p].target()
		}
		fmt.Fprintf(d.out, "Current assignment of the partitions to move (save it to roll back with partitions reassign --execute):\n\n%s\n\n", planJSON(before))
		fmt.Fprintf(d.out, "Moving %d partition(s) off broker %d onto brokers %s:\n\n%s\n\n", len(plan), d.id, idList(others), planJSON(plan))
		ok, failed, err := alterAssignments(ctx, d.adm, plan)
		if err != nil {
			return d.cf.explain(err)
		}
		if len(ok) > 0 {
			fmt.Fprintf(d.out, "Started the reassignment of %s.\n", joinTPs(ok))
		}
		if err := reportFailed(d.out, "reassign", failed, len(plan)); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(d.out, "No partition is being placed on broker %d.\n", d.id)
	}
	if !wait {
		fmt.Fprintf(d.out, "Follow the moves with `sluice brokers decommission %d --wait`, which unregisters the broker once they are complete and its process has stopped.\n", d.id)
		return nil
	}

	wctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	if err := d.waitMoved(wctx); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "Broker %d holds no replicas.\n", d.id)

	br, err = fetchBrokers(ctx, d.cl)
	if err != nil {
		return d.cf.explain(err)
	}
	if live, ok := br.live[d.id]; !ok {
		fmt.Fprintf(d.out, "Broker %d is not registered any more.\n", d.id)
		return nil
	} else if live {
		fmt.Fprintf(d.out, "Broker %d still runs, so it is not unregistered: a running broker registers again at once. "+
			"Stop its process, then run `sluice brokers decommission %d --wait` again (or `sluice brokers unregister %d`).\n", d.id, d.id, d.id)
		return nil
	}
	return unregisterBroker(ctx, d.out, d.cf, d.cl, d.id)
}

// waitMoved polls until no partition has a replica on the broker and no
// reassignment places one there.
func (d *decommission) waitMoved(ctx context.Context) error {
	t := time.NewTicker(decommissionPollInterval)
	defer t.Stop()
	last := -1
	for {
		states, err := fetchPartitions(ctx, d.cl, nil)
		if err == nil {
			var left []tp
			for p, s := range states {
				if slices.Contains(s.Replicas, d.id) {
					left = append(left, p)
				}
			}
			if len(left) == 0 {
				return nil
			}
			if len(left) != last {
				slices.SortFunc(left, compareTP)
				fmt.Fprintf(d.out, "Waiting for %d partition(s) to leave broker %d: %s\n", len(left), d.id, joinTPs(left))
				last = len(left)
			}
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("waiting for the moves off broker %d: %w (last error: %v)", d.id, ctx.Err(), d.cf.explain(err))
			}
			return fmt.Errorf("waiting for the moves off broker %d: %w; follow them with `sluice brokers decommission %d --wait`", d.id, ctx.Err(), d.id)
		case <-t.C:
		}
	}
}

// planDecommission moves every replica on broker id, of the partitions'
// current or target replicas, to one of others (the live brokers), in the
// same place in the replica list. Each goes to a broker that is not a replica
// of the partition yet, in a rack the partition does not use where racks
// allow, then to the broker with the fewest preferred leaderships (for a first
// replica) and replicas, then the lowest id.
func planDecommission(states map[tp]partitionState, id int32, others []int32, racks map[int32]string) (assignment, error) {
	cur := assignment{}
	for p, s := range states {
		cur[p] = s.target()
	}
	pl := newPlacer(cur, others, racks)
	out := assignment{}
	for _, p := range cur.partitions() {
		i := slices.Index(pl.next[p], id)
		if i < 0 {
			continue
		}
		to, ok := pl.best(p, i, others)
		if !ok {
			return nil, fmt.Errorf("%s has %d replicas %s, and no live broker other than %d is free to take the one on %d (live brokers: %s): "+
				"lower its replication factor with partitions reassign, or start another broker", p, len(cur[p]), idList(cur[p]), id, id, idList(others))
		}
		pl.move(p, i, to)
		out[p] = pl.next[p]
	}
	return out, nil
}

func (a *app) brokersUnregisterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "unregister ID",
		Short: "Remove a stopped broker, which holds no replicas, from the cluster",
		Long: `Remove a broker's registration from the cluster's metadata
(UnregisterBroker): the last step of decommissioning. The broker must hold no
replicas (brokers decommission moves them), and its process must be stopped: a
running broker registers again at once.`,
		Example: `  sluice brokers unregister 4`,
		Args:    cobra.ExactArgs(1),
	}
	cf := a.addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		id, err := brokerArg(args[0])
		if err != nil {
			return err
		}
		ctx, stop := signalContext(cmd)
		defer stop()
		cl, _, err := cf.client()
		if err != nil {
			return err
		}
		defer cl.Close()
		br, err := fetchBrokers(ctx, cl)
		if err != nil {
			return cf.explain(err)
		}
		if br.live[id] {
			fmt.Fprintf(cmd.ErrOrStderr(), "Note: broker %d still runs; it registers again at once. Stop its process first.\n", id)
		}
		return unregisterBroker(ctx, cmd.OutOrStdout(), cf, cl, id)
	}
	return cmd
}

// unregisterBroker sends UnregisterBroker for id.
func unregisterBroker(ctx context.Context, out io.Writer, cf *clientFlags, cl *kgo.Client, id int32) error {
	req := kmsg.NewPtrUnregisterBrokerRequest()
	req.BrokerID = id
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return cf.explain(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		err = brokerErr(err, deref(resp.ErrorMessage))
		if errors.Is(err, kerr.InvalidRequest) {
			return fmt.Errorf("unregister broker %d: %w; move its replicas first with `sluice brokers decommission %d --wait`", id, err, id)
		}
		return fmt.Errorf("unregister broker %d: %w", id, err)
	}
	fmt.Fprintf(out, "Unregistered broker %d. Starting a broker with node.id %d again registers it anew.\n", id, id)
	return nil
}
