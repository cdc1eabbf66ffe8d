// ListTransactions (key 66), versions 0-1.
//
// Behaviour: lists the transactional ids this broker coordinates (clients ask every
// broker and merge), filtered by state names (unknown names are echoed in
// UnknownStateFilters), by producer ids, and from v1 by running longer than
// DurationFilterMillis.
// Errors: COORDINATOR_LOAD_IN_PROGRESS is not reported: ids still loading are left out.
package api

import (
	"context"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

var txnStateNames = []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

func (h *handlers) listTransactions(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.ListTransactionsRequest)
	resp := r.ResponseKind().(*kmsg.ListTransactionsResponse)
	for _, s := range r.StateFilters {
		if !slices.Contains(txnStateNames, s) {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, s)
		}
	}
	now := time.Now().UnixMilli()
	for _, d := range h.Txns.List() {
		state := d.State.String()
		switch {
		case len(r.StateFilters) > 0 && !slices.Contains(r.StateFilters, state):
			continue
		case len(r.ProducerIDFilters) > 0 && !slices.Contains(r.ProducerIDFilters, d.ProducerID):
			continue
		case r.Version >= 1 && r.DurationFilterMillis >= 0 && (d.StartMs < 0 || now-d.StartMs < r.DurationFilterMillis):
			continue
		}
		st := kmsg.NewListTransactionsResponseTransactionState()
		st.TransactionalID, st.ProducerID, st.TransactionState = d.ID, d.ProducerID, state
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return &server.Reply{Msg: resp}
}
