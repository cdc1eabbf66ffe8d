package distributed

// Exactly-once sources in distributed mode (KIP-618).
//
// With exactly.once.source.support=enabled, each source task produces in
// transactions with the transactional.id <group.id>-<connector>-<task>, and
// writes its offsets to the offset topic in the same transactions; the
// offset topic is read with read_committed. A task that starts again
// (elsewhere, after its worker died) fences the producer it replaces by
// initializing its own with the same id, before it reads its offsets.
//
// When a connector's task configs change (or it is stopped), the leader
// fences the transactional ids of the previous generation before it
// writes the new configs (with preparing and enabled), and records the new
// generation's task count as tasks-fencing-<name> {"task-count":N}: the
// next fencing covers that many ids. Kafka fences when the first task of
// the new generation starts, through an internal REST request to the
// leader; Sluice fences when it writes the configs, so a task of the old
// generation still running then fails at its next commit instead of being
// stopped first (its uncommitted transaction is aborted either way).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/offsets"
	"github.com/sluicehq/sluice/connect/runtime"
)

// eosMode is exactly.once.source.support: disabled, preparing or enabled.
func (h *Herder) eosMode() string {
	return strings.ToLower(strings.TrimSpace(h.wcfg.String(ExactlyOnceSourceSupport)))
}

// transactionalID is a source task's transactional.id, as Kafka names it.
func transactionalID(group, connector string, task int32) string {
	return fmt.Sprintf("%s-%s-%d", group, connector, task)
}

// transactional returns what makes a source task exactly-once, nil when
// the worker does not run exactly-once sources.
func (h *Herder) transactional(it item) *runtime.Transactional {
	if h.eosMode() != eosEnabled {
		return nil
	}
	return &runtime.Transactional{
		ID:            transactionalID(h.wcfg.String(GroupID), it.Connector, it.Task),
		OffsetRecords: h.offsets.records,
		ReadOffsets:   h.offsets.log.readToEnd,
	}
}

// records encodes offsets as records of the offset topic, for a task's
// transaction.
func (s *offsetStore) records(connector string, entries []offsets.Entry) ([]*kgo.Record, error) {
	recs := make([]*kgo.Record, 0, len(entries))
	for _, e := range entries {
		k, err := s.key(connector, e.Partition)
		if err != nil {
			return nil, err
		}
		var v []byte
		if e.Offset != nil {
			if v, err = s.conv.FromConnectData("", nil, nil, e.Offset); err != nil {
				return nil, fmt.Errorf("encode source offset %v: %w", e.Offset, err)
			}
		}
		recs = append(recs, &kgo.Record{Topic: s.log.topic, Key: k, Value: v})
	}
	return recs, nil
}

// writeTaskConfigs is the leader's write of a connector's task configs:
// for a source connector of a cluster with exactly-once sources (preparing
// or enabled), the producers of the previous generation are fenced first.
func (h *Herder) writeTaskConfigs(ctx context.Context, name string, cfgs []map[string]string) error {
	snap := h.configs.snapshot()
	fence := false
	if mode := h.eosMode(); mode == eosPreparing || mode == eosEnabled {
		if _, plugin, err := h.reg.NewConnector(snap.Connectors[name][runtime.ConnectorClass]); err == nil && plugin.Type == connect.SourcePlugin {
			fence = true
		}
	}
	if fence {
		n := max(snap.TaskCounts[name], snap.FenceCounts[name])
		if err := h.fenceZombies(ctx, name, n); err != nil {
			return fmt.Errorf("fence the earlier tasks of connector %s: %w", name, err)
		}
	}
	return h.configs.putTaskConfigs(ctx, name, cfgs, fence)
}

// fenceZombies fences the transactional producers of a connector's tasks
// 0..n-1, as Kafka's Admin.fenceProducers: InitProducerId with each
// transactional id bumps its epoch, so an older producer can neither
// produce nor commit again, and the broker aborts its open transaction.
func (h *Herder) fenceZombies(ctx context.Context, name string, n int) error {
	if n == 0 {
		return nil
	}
	opts, err := h.worker.AdminOptions(nil)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	group := h.wcfg.String(GroupID)
	for i := range n {
		id := transactionalID(group, name, int32(i))
		if err := fenceProducer(ctx, cl, id); err != nil {
			return err
		}
	}
	h.log.Info("connect: fenced the transactional producers of the earlier tasks", "connector", name, "tasks", n)
	return nil
}

// fenceProducer initializes a producer id for a transactional id, retrying
// while the coordinator is busy (it may be aborting the transaction).
func fenceProducer(ctx context.Context, cl *kgo.Client, id string) error {
	for {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = &id
		req.TransactionTimeoutMillis = 60000
		resp, err := req.RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err == nil {
			return nil
		}
		if !kerr.IsRetriable(err) && !errors.Is(err, kerr.ConcurrentTransactions) {
			return fmt.Errorf("fence transactional id %s: %w", id, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fence transactional id %s: %w", id, errors.Join(err, ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
