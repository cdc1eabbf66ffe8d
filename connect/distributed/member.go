package distributed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupHandler is what a group member asks of its worker.
type groupHandler interface {
	// metadata is the member's join metadata: its REST URL, how far it
	// read the config topic, and the work it runs.
	metadata() *memberMetadata
	// assign is the leader's: it decides every member's assignment.
	assign(ctx context.Context, generation int32, leaderID string, members []kmsg.JoinGroupResponseMember) (map[string]*assignment, error)
	// assigned hands the member its assignment: it returns once revoked
	// work has stopped and new work has started.
	assigned(ctx context.Context, generation int32, memberID string, a *assignment)
	// lost says the member is out of the group: whatever it runs may
	// already run elsewhere, so it must stop everything.
	lost()
}

// groupMember is a worker's membership of the Connect group, through the
// classic group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup)
// with protocol type "connect", sent with franz-go's low-level requests
// (kgo routes them to the group coordinator).
type groupMember struct {
	cl      *kgo.Client
	group   string
	session time.Duration
	rebal   time.Duration
	hbEvery time.Duration
	h       groupHandler
	log     *slog.Logger

	rejoinCh chan struct{}

	mu         sync.Mutex
	memberID   string
	generation int32
}

func newGroupMember(cl *kgo.Client, group string, session, rebalance, heartbeat time.Duration, h groupHandler, log *slog.Logger) *groupMember {
	return &groupMember{cl: cl, group: group, session: session, rebal: rebalance, hbEvery: heartbeat, h: h, log: log,
		rejoinCh: make(chan struct{}, 1)}
}

// requestRejoin makes the member rejoin the group soon, so the leader
// assigns again (after a config change).
func (m *groupMember) requestRejoin() {
	select {
	case m.rejoinCh <- struct{}{}:
	default:
	}
}

func (m *groupMember) ids() (string, int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.memberID, m.generation
}

// run takes part in the group until ctx is done, then leaves it.
func (m *groupMember) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		a, gen, err := m.joinAndSync(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			m.log.Warn("connect: joining the worker group failed; retrying", "group", m.group, "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		m.stable(ctx, gen, a)
	}
	m.leave()
}

var errLost = errors.New("lost group membership")

// joinAndSync joins the group and gets this member's assignment.
func (m *groupMember) joinAndSync(ctx context.Context) (*assignment, int32, error) {
	for {
		memberID, _ := m.ids()
		join := kmsg.NewPtrJoinGroupRequest()
		join.Group = m.group
		join.SessionTimeoutMillis = int32(m.session.Milliseconds())
		join.RebalanceTimeoutMillis = int32(m.rebal.Milliseconds())
		join.MemberID = memberID
		join.ProtocolType = protocolType
		proto := kmsg.NewJoinGroupRequestProtocol()
		proto.Name = protocolName
		proto.Metadata = encodeMetadata(m.h.metadata())
		join.Protocols = append(join.Protocols, proto)
		resp, err := join.RequestWith(ctx, m.cl)
		if err != nil {
			return nil, 0, fmt.Errorf("join group %s: %w", m.group, err)
		}
		switch err := kerr.ErrorForCode(resp.ErrorCode); {
		case err == nil:
		case errors.Is(err, kerr.MemberIDRequired):
			m.setIDs(resp.MemberID, -1)
			continue
		case errors.Is(err, kerr.UnknownMemberID):
			m.setIDs("", -1)
			m.h.lost()
			continue
		default:
			return nil, 0, fmt.Errorf("join group %s: %w", m.group, err)
		}
		m.setIDs(resp.MemberID, resp.Generation)
		m.log.Debug("connect: joined the worker group", "group", m.group, "generation", resp.Generation, "member", resp.MemberID, "leader", resp.LeaderID == resp.MemberID)

		sync := kmsg.NewPtrSyncGroupRequest()
		sync.Group = m.group
		sync.Generation = resp.Generation
		sync.MemberID = resp.MemberID
		sync.ProtocolType = kmsg.StringPtr(protocolType)
		sync.Protocol = kmsg.StringPtr(protocolName)
		if resp.LeaderID == resp.MemberID {
			plan, err := m.h.assign(ctx, resp.Generation, resp.LeaderID, resp.Members)
			if err != nil {
				return nil, 0, fmt.Errorf("assign work as the group leader: %w", err)
			}
			for id, a := range plan {
				ga := kmsg.NewSyncGroupRequestGroupAssignment()
				ga.MemberID = id
				ga.MemberAssignment = encodeAssignment(a)
				sync.GroupAssignment = append(sync.GroupAssignment, ga)
			}
		}
		sresp, err := sync.RequestWith(ctx, m.cl)
		if err != nil {
			return nil, 0, fmt.Errorf("sync group %s: %w", m.group, err)
		}
		switch err := kerr.ErrorForCode(sresp.ErrorCode); {
		case err == nil:
		case errors.Is(err, kerr.RebalanceInProgress):
			continue
		case errors.Is(err, kerr.UnknownMemberID):
			m.setIDs("", -1)
			m.h.lost()
			continue
		case errors.Is(err, kerr.IllegalGeneration):
			m.h.lost()
			continue
		default:
			return nil, 0, fmt.Errorf("sync group %s: %w", m.group, err)
		}
		a, err := decodeAssignment(sresp.MemberAssignment)
		if err != nil {
			return nil, 0, err
		}
		return a, resp.Generation, nil
	}
}

func (m *groupMember) setIDs(id string, gen int32) {
	m.mu.Lock()
	m.memberID, m.generation = id, gen
	m.mu.Unlock()
}

// stable hands the assignment over and heartbeats until the member must
// rejoin: the coordinator started a rebalance, the worker asked for one,
// the assignment revoked work or asked to come back after a delay, or the
// membership was lost.
func (m *groupMember) stable(ctx context.Context, gen int32, a *assignment) {
	hctx, stopHB := context.WithCancel(ctx)
	defer stopHB()
	hb := make(chan error, 1)
	memberID, _ := m.ids()
	go func() { hb <- m.heartbeat(hctx, gen, memberID) }()

	m.h.assigned(ctx, gen, memberID, a)

	var delay <-chan time.Time
	switch {
	case a.Error != errNone || len(a.Revoked) > 0:
		return
	case a.Delay > 0:
		delay = time.After(time.Duration(a.Delay) * time.Millisecond)
	}
	select {
	case <-ctx.Done():
	case <-m.rejoinCh:
	case <-delay:
	case err := <-hb:
		if errors.Is(err, errLost) {
			m.log.Warn("connect: this worker lost its place in the group; stopping its work before joining again", "group", m.group, "error", err)
			m.h.lost()
		}
	}
}

// heartbeat sends heartbeats until the coordinator asks for a rebalance
// (nil), the membership is lost (errLost) or ctx is done.
func (m *groupMember) heartbeat(ctx context.Context, gen int32, memberID string) error {
	lastOK := time.Now()
	t := time.NewTicker(m.hbEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		req := kmsg.NewPtrHeartbeatRequest()
		req.Group, req.Generation, req.MemberID = m.group, gen, memberID
		rctx, cancel := context.WithTimeout(ctx, m.session)
		resp, err := req.RequestWith(rctx, m.cl)
		cancel()
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		switch {
		case err == nil:
			lastOK = time.Now()
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, kerr.RebalanceInProgress):
			return nil
		case errors.Is(err, kerr.UnknownMemberID):
			m.setIDs("", -1)
			return fmt.Errorf("%w: %v", errLost, err)
		case errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.FencedInstanceID):
			return fmt.Errorf("%w: %v", errLost, err)
		default:
			if time.Since(lastOK) > m.session {
				// The coordinator has surely dropped this member by now.
				return fmt.Errorf("%w: no heartbeat for %v: %v", errLost, time.Since(lastOK).Round(time.Millisecond), err)
			}
			m.log.Debug("connect: heartbeat failed; retrying", "group", m.group, "error", err)
		}
	}
}

// leave leaves the group, so the others rebalance at once.
func (m *groupMember) leave() {
	memberID, _ := m.ids()
	if memberID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = m.group
	req.MemberID = memberID
	mem := kmsg.NewLeaveGroupRequestMember()
	mem.MemberID = memberID
	req.Members = append(req.Members, mem)
	if _, err := req.RequestWith(ctx, m.cl); err != nil {
		m.log.Warn("connect: leaving the worker group failed", "group", m.group, "error", err)
	}
	m.setIDs("", -1)
}
