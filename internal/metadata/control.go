package metadata

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/rpc"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/demux"
)

// The controller's RPCs: what brokers and controllers ask the active controller (the
// Raft leader). They play the part of KRaft's BrokerRegistration, BrokerHeartbeat and
// request forwarding (Envelope), but between Sluice nodes only, so they use Go's net/rpc
// over the CONTROLLER listener (demux.ControlPrefix) rather than Kafka request types
// that no client ever sends. Kafka errors travel as codes in the replies.

// RPCStatus is the outcome part of every reply. LeaderID, on NOT_CONTROLLER, is the node
// the answering node believes leads, or -1.
type RPCStatus struct {
	Code     int16
	Message  string
	LeaderID int32
}

func (st *RPCStatus) status() *RPCStatus { return st }

func (st *RPCStatus) set(err error) {
	if err == nil {
		return
	}
	var me *Error
	if errors.As(err, &me) {
		st.Code, st.Message = me.Code.Code, me.Message
		return
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		st.Code, st.Message = ke.Code, err.Error()
		return
	}
	st.Code, st.Message = kerr.UnknownServerError.Code, err.Error()
}

func (st *RPCStatus) err() error {
	if st.Code == 0 {
		return nil
	}
	return &Error{Code: kerr.ErrorForCode(st.Code).(*kerr.Error), Message: st.Message}
}

type statusReply interface{ status() *RPCStatus }

// ProposeArgs forwards one metadata batch to the active controller.
type ProposeArgs struct{ Batch []byte }

// ProposeReply is the log offset the batch was committed at; the state machine may still
// have rejected it (Status says why).
type ProposeReply struct {
	RPCStatus
	Offset uint64
}

// RegisterArgs registers a broker. RaftAddr is where the broker takes Raft traffic as a
// non-voter; ClusterID must match the controller's.
type RegisterArgs struct {
	ClusterID    string
	Registration BrokerRegistration
	RaftAddr     string
}

// RegisterReply carries the new broker epoch.
type RegisterReply struct {
	RPCStatus
	Epoch int64
}

// HeartbeatArgs reports a node's progress in the metadata log. Broker is set for a
// registered broker, which then also gives its epoch and may ask to be shut down (Kafka's
// controlled shutdown). Controllers that are not brokers heartbeat too, so that the
// active controller can report every voter's lag in DescribeQuorum.
type HeartbeatArgs struct {
	NodeID       int32
	Applied      uint64
	Broker       bool
	Epoch        int64
	WantShutdown bool
}

// HeartbeatReply tells a broker whether it is fenced, and whether its controlled
// shutdown may proceed.
type HeartbeatReply struct {
	RPCStatus
	Fenced         bool
	ShouldShutdown bool
	// Applied is the controller's applied metadata offset when it answered: a broker
	// whose lease had lapsed counts it again only once it has applied as much
	// (Store.LeaseLapsed), so it does not lead on the image it had while cut off.
	Applied uint64
}

// QuorumArgs asks the active controller for the state of the quorum.
type QuorumArgs struct{}

// QuorumReply is DescribeQuorum's answer.
type QuorumReply struct {
	RPCStatus
	Quorum Quorum
}

// Quorum is the metadata quorum as the active controller sees it, for DescribeQuorum.
type Quorum struct {
	LeaderID      int32
	LeaderEpoch   int32 // the Raft term
	HighWatermark int64 // the commit index
	Voters        []ReplicaProgress
	Observers     []ReplicaProgress
}

// ReplicaProgress is how far one node has applied the metadata log, as it last reported.
// Times are Unix milliseconds, -1 when unknown.
type ReplicaProgress struct {
	NodeID        int32
	LogEndOffset  int64
	LastFetch     int64
	LastCaughtUp  int64
	RaftAddress   string
	IsVoter       bool
	Registered    bool
	BrokerFenced  bool
	BrokerPresent bool
}

// controlService is the net/rpc receiver, served on voters.
type controlService struct{ s *Store }

func (c *controlService) Propose(args *ProposeArgs, reply *ProposeReply) error {
	ctx, cancel := context.WithTimeout(c.s.ctx, 30*time.Second)
	defer cancel()
	if !c.s.isLeader() {
		c.s.notController(&reply.RPCStatus)
		return nil
	}
	off, err := c.s.proposeLocal(ctx, args.Batch)
	reply.Offset = off
	reply.set(err)
	if reply.Code == kerr.NotController.Code {
		reply.LeaderID = c.s.leaderID()
	}
	return nil
}

func (c *controlService) Register(args *RegisterArgs, reply *RegisterReply) error {
	ctx, cancel := context.WithTimeout(c.s.ctx, 30*time.Second)
	defer cancel()
	if !c.s.isActiveController() {
		c.s.notController(&reply.RPCStatus)
		return nil
	}
	epoch, err := c.s.ctl.register(ctx, args)
	reply.Epoch = epoch
	reply.set(err)
	return nil
}

func (c *controlService) Heartbeat(args *HeartbeatArgs, reply *HeartbeatReply) error {
	ctx, cancel := context.WithTimeout(c.s.ctx, 30*time.Second)
	defer cancel()
	if !c.s.isActiveController() {
		c.s.notController(&reply.RPCStatus)
		return nil
	}
	*reply = c.s.ctl.heartbeat(ctx, args)
	return nil
}

func (c *controlService) Quorum(_ *QuorumArgs, reply *QuorumReply) error {
	if !c.s.isLeader() {
		c.s.notController(&reply.RPCStatus)
		return nil
	}
	reply.Quorum = c.s.ctl.quorum()
	return nil
}

func (s *Store) notController(st *RPCStatus) {
	st.Code = kerr.NotController.Code
	st.Message = fmt.Sprintf("node %d is not the active controller", s.cfg.NodeID)
	st.LeaderID = s.leaderID()
}

func (s *Store) isLeader() bool { return s.raft.State() == raft.Leader }

// isActiveController reports whether this node leads and has applied its own term's
// takeover: a new leader may not have applied every committed entry yet, and the
// controller plans its changes on its image.
func (s *Store) isActiveController() bool {
	if !s.isLeader() {
		return false
	}
	img := s.Image()
	return img.ControllerID == s.cfg.NodeID && img.ControllerEpoch == s.raft.CurrentTerm()
}

// leaderID is the node this node believes leads the quorum, or -1.
func (s *Store) leaderID() int32 {
	_, id := s.raft.LeaderWithID()
	if id == "" {
		return -1
	}
	var n int32
	if _, err := fmt.Sscan(string(id), &n); err != nil {
		return -1
	}
	return n
}

// serveControl serves controller RPCs on ln until it is closed.
func (s *Store) serveControl(ln net.Listener) error {
	srv := rpc.NewServer()
	if err := srv.RegisterName("Control", &controlService{s: s}); err != nil {
		return fmt.Errorf("register controller RPCs: %w", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.trackConn(c)
			go func() {
				srv.ServeConn(c)
				s.untrackConn(c)
			}()
		}
	}()
	return nil
}

func (s *Store) trackConn(c net.Conn) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
}

func (s *Store) untrackConn(c net.Conn) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	delete(s.conns, c)
}

func (s *Store) closeConns() {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	for c := range s.conns {
		c.Close()
	}
	for _, cl := range s.clients {
		cl.Close()
	}
	s.clients = nil
}

// rpcTimeout bounds one controller RPC.
const rpcTimeout = 10 * time.Second

// client returns a cached RPC client for the controller at addr.
func (s *Store) client(addr string) (*rpc.Client, error) {
	s.connsMu.Lock()
	cl := s.clients[addr]
	s.connsMu.Unlock()
	if cl != nil {
		return cl, nil
	}
	c, err := dialer(s.cfg)(addr, demux.ControlPrefix, 3*time.Second)
	if err != nil {
		return nil, err
	}
	cl = rpc.NewClient(c)
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.clients == nil {
		s.clients = map[string]*rpc.Client{}
	}
	if old := s.clients[addr]; old != nil {
		cl.Close()
		return old, nil
	}
	s.clients[addr] = cl
	return cl, nil
}

func (s *Store) dropClient(addr string, cl *rpc.Client) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.clients[addr] == cl {
		delete(s.clients, addr)
	}
	cl.Close()
}

// callController calls method on the active controller, following NOT_CONTROLLER hints
// and trying every voter in turn, until the call gets an answer other than
// NOT_CONTROLLER or ctx ends. The leader itself is called like any other voter: the
// RPC is cheap next to the Raft commit it asks for.
func (s *Store) callController(ctx context.Context, method string, args any, reply statusReply) error {
	backoff := 20 * time.Millisecond
	next := 0
	hint := s.leaderID()
	var last error
	for {
		addr := ""
		if a, ok := s.voterAddr(hint); ok {
			addr = a
		} else {
			addr = s.cfg.Voters[next%len(s.cfg.Voters)].Addr
			next++
		}
		hint = -1
		*reply.status() = RPCStatus{}
		err := s.callOne(ctx, addr, method, args, reply)
		switch {
		case err != nil:
			last = err
		case reply.status().Code == kerr.NotController.Code:
			last = reply.status().err()
			hint = reply.status().LeaderID
		default:
			return nil
		}
		if hint < 0 {
			hint = s.leaderID()
		}
		select {
		case <-ctx.Done():
			return errorf(kerr.RequestTimedOut, "no active controller answered %s: %v (last: %v)", method, ctx.Err(), last)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

func (s *Store) callOne(ctx context.Context, addr, method string, args any, reply any) error {
	cl, err := s.client(addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	call := cl.Go("Control."+method, args, reply, make(chan *rpc.Call, 1))
	select {
	case <-call.Done:
		if call.Error != nil {
			s.dropClient(addr, cl)
			return call.Error
		}
		return nil
	case <-ctx.Done():
		s.dropClient(addr, cl) // the reply may still come; a new connection avoids it
		return ctx.Err()
	}
}

func (s *Store) voterAddr(id int32) (string, bool) {
	if id < 0 {
		return "", false
	}
	for _, v := range s.cfg.Voters {
		if v.ID == id {
			return v.Addr, true
		}
	}
	return "", false
}

// controller is the active controller's own bookkeeping: when each node last
// heartbeated, how far it had applied the log, and which brokers are shutting down. It
// lives in memory only: a new controller starts by giving every broker a full session.
type controller struct {
	s *Store

	mu       sync.Mutex
	term     uint64 // the term the state below belongs to
	progress map[int32]*nodeProgress
	leaving  map[int32]bool // brokers in controlled shutdown
}

type nodeProgress struct {
	lastSeen     time.Time // any heartbeat (DescribeQuorum's last fetch)
	lastSession  time.Time // the last heartbeat of the registered incarnation: its session
	applied      uint64
	lastCaughtUp time.Time
}

func newController(s *Store) *controller {
	return &controller{s: s, progress: map[int32]*nodeProgress{}, leaving: map[int32]bool{}}
}

// reset starts a new term's bookkeeping: every registered broker gets a full session
// from now, as if it had just heartbeated.
func (c *controller) reset(term uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.term == term {
		return
	}
	c.term = term
	c.progress = map[int32]*nodeProgress{}
	c.leaving = map[int32]bool{}
	now := time.Now()
	for id := range c.s.Image().Brokers {
		c.progress[id] = &nodeProgress{lastSeen: now, lastSession: now}
	}
}

// renewSession records a heartbeat of broker id's registered incarnation.
func (c *controller) renewSession(id int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.progress[id]
	if p == nil {
		p = &nodeProgress{}
		c.progress[id] = p
	}
	p.lastSession = time.Now()
}

func (c *controller) seen(id int32, applied uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.progress[id]
	if p == nil {
		p = &nodeProgress{}
		c.progress[id] = p
	}
	now := time.Now()
	p.lastSeen = now
	p.applied = max(p.applied, applied)
	if applied >= c.s.raft.CommitIndex() {
		p.lastCaughtUp = now
	}
}

func (c *controller) register(ctx context.Context, args *RegisterArgs) (int64, error) {
	s := c.s
	reg := args.Registration
	if args.ClusterID != s.cfg.ClusterID {
		return 0, errorf(kerr.InconsistentClusterID, "broker %d is of cluster %s, this quorum of cluster %s",
			reg.NodeID, args.ClusterID, s.cfg.ClusterID)
	}
	if reg.NodeID < 0 {
		return 0, errorf(kerr.InvalidRequest, "invalid broker id %d", reg.NodeID)
	}
	if old := s.Image().Brokers[reg.NodeID]; old != nil && !old.Fenced && old.IncarnationID != reg.IncarnationID {
		c.mu.Lock()
		p := c.progress[reg.NodeID]
		alive := p != nil && time.Since(p.lastSession) < s.cfg.BrokerSessionTimeout
		c.mu.Unlock()
		if alive {
			return 0, errorf(kerr.DuplicateBrokerRegistration,
				"another incarnation of broker %d is registered and heartbeating", reg.NodeID)
		}
	}
	if _, isVoter := s.voterAddr(reg.NodeID); !isVoter && args.RaftAddr != "" {
		if err := c.ensureNonvoter(reg.NodeID, args.RaftAddr); err != nil {
			return 0, err
		}
	}
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return 0, lerr
	}
	defer unlock()
	img := s.Image()
	recs := []Record{&RegisterBrokerRecord{
		NodeID: reg.NodeID, Endpoints: reg.Endpoints, Rack: reg.Rack, IncarnationID: reg.IncarnationID, Fenced: true,
	}}
	// A registering broker has restarted: it leads nothing until it has caught up.
	recs = append(recs, planLeaderChanges(img, c.liveExcept(img, reg.NodeID))...)
	next, err := s.propose(ctx, recs)
	if err != nil {
		return 0, err
	}
	c.seen(reg.NodeID, 0)
	c.renewSession(reg.NodeID)
	c.mu.Lock()
	delete(c.leaving, reg.NodeID)
	c.mu.Unlock()
	s.log.Info("broker registered", "broker", reg.NodeID, "epoch", next.Brokers[reg.NodeID].Epoch)
	return next.Brokers[reg.NodeID].Epoch, nil
}

// ensureNonvoter adds a broker to the Raft configuration as a non-voter, or updates its
// address, so that it receives the metadata log.
func (c *controller) ensureNonvoter(id int32, addr string) error {
	f := c.s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("read quorum configuration: %w", err)
	}
	sid := raft.ServerID(fmt.Sprint(id))
	for _, srv := range f.Configuration().Servers {
		if srv.ID == sid && string(srv.Address) == addr {
			return nil
		}
	}
	if err := c.s.raft.AddNonvoter(sid, raft.ServerAddress(addr), 0, 10*time.Second).Error(); err != nil {
		return raftError(err)
	}
	c.s.log.Info("added broker to the metadata quorum as an observer", "broker", id, "addr", addr)
	return nil
}

// liveExcept returns the liveness rule for leader elections: registered, unfenced, not
// shutting down, and not except.
func (c *controller) liveExcept(img *Image, except ...int32) func(int32) bool {
	c.mu.Lock()
	leaving := maps.Clone(c.leaving)
	c.mu.Unlock()
	return func(id int32) bool {
		b := img.Brokers[id]
		return b != nil && !b.Fenced && !leaving[id] && !slices.Contains(except, id)
	}
}

func (c *controller) heartbeat(ctx context.Context, args *HeartbeatArgs) (reply HeartbeatReply) {
	s := c.s
	c.seen(args.NodeID, args.Applied)
	if !args.Broker {
		return reply
	}
	img := s.Image()
	b := img.Brokers[args.NodeID]
	switch {
	case b == nil:
		reply.set(errorf(kerr.BrokerIDNotRegistered, "broker %d is not registered", args.NodeID))
		return reply
	case b.Epoch != args.Epoch:
		reply.set(errorf(kerr.StaleBrokerEpoch, "broker %d has epoch %d, not %d", args.NodeID, b.Epoch, args.Epoch))
		return reply
	}
	c.renewSession(args.NodeID)
	if args.WantShutdown {
		c.mu.Lock()
		c.leaving[args.NodeID] = true
		c.mu.Unlock()
		if err := s.fence(ctx, args.NodeID, true); err != nil {
			reply.set(err)
			return reply
		}
		reply.Fenced, reply.ShouldShutdown = true, true
		return reply
	}
	c.mu.Lock()
	leaving := c.leaving[args.NodeID]
	c.mu.Unlock()
	if b.Fenced && !leaving && args.Applied >= uint64(b.Epoch) {
		if err := s.fence(ctx, args.NodeID, false); err != nil {
			reply.set(err)
			return reply
		}
		s.log.Info("broker caught up and unfenced", "broker", args.NodeID)
	}
	if nb := s.Image().Brokers[args.NodeID]; nb != nil {
		reply.Fenced = nb.Fenced
	}
	reply.Applied = s.AppliedOffset()
	return reply
}

// expire fences every unfenced broker whose session has lapsed.
func (c *controller) expire(ctx context.Context) {
	s := c.s
	img := s.Image()
	var stale []int32
	c.mu.Lock()
	now := time.Now()
	for id, b := range img.Brokers {
		if b.Fenced {
			continue
		}
		p := c.progress[id]
		if p == nil {
			p = &nodeProgress{lastSeen: now, lastSession: now}
			c.progress[id] = p
		}
		if now.Sub(p.lastSession) > s.cfg.BrokerSessionTimeout {
			stale = append(stale, id)
		}
	}
	c.mu.Unlock()
	for _, id := range stale {
		s.log.Warn("broker session expired; fencing it", "broker", id, "timeout", s.cfg.BrokerSessionTimeout)
		if err := s.fence(ctx, id, true); err != nil {
			s.log.Warn("fencing broker", "broker", id, "err", err)
		}
	}
}

func (c *controller) quorum() Quorum {
	s := c.s
	q := Quorum{
		LeaderID:      s.cfg.NodeID,
		LeaderEpoch:   int32(s.raft.CurrentTerm()),
		HighWatermark: int64(s.raft.CommitIndex()),
	}
	var servers []raft.Server
	if f := s.raft.GetConfiguration(); f.Error() == nil {
		servers = f.Configuration().Servers
	}
	img := s.Image()
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now().UnixMilli()
	for _, srv := range servers {
		var id int32
		if _, err := fmt.Sscan(string(srv.ID), &id); err != nil {
			continue
		}
		rp := ReplicaProgress{NodeID: id, LogEndOffset: -1, LastFetch: -1, LastCaughtUp: -1,
			RaftAddress: string(srv.Address), IsVoter: srv.Suffrage == raft.Voter}
		if b := img.Brokers[id]; b != nil {
			rp.BrokerPresent, rp.BrokerFenced = true, b.Fenced
		}
		if id == s.cfg.NodeID {
			rp.LogEndOffset, rp.LastFetch, rp.LastCaughtUp = int64(s.raft.LastIndex()), now, now
		} else if p := c.progress[id]; p != nil && p.applied > 0 {
			rp.LogEndOffset = int64(p.applied)
			rp.LastFetch = p.lastSeen.UnixMilli()
			if !p.lastCaughtUp.IsZero() {
				rp.LastCaughtUp = p.lastCaughtUp.UnixMilli()
			}
		}
		if rp.IsVoter {
			q.Voters = append(q.Voters, rp)
		} else {
			q.Observers = append(q.Observers, rp)
		}
	}
	return q
}

// DescribeQuorum returns the quorum as the active controller sees it, asking it when this
// node does not lead.
func (s *Store) DescribeQuorum(ctx context.Context) (Quorum, error) {
	if len(s.cfg.Voters) == 0 || s.isLeader() {
		if s.ctl == nil {
			return Quorum{}, errorf(kerr.NotController, "no controller")
		}
		return s.ctl.quorum(), nil
	}
	var reply QuorumReply
	if err := s.callController(ctx, "Quorum", &QuorumArgs{}, &reply); err != nil {
		return Quorum{}, err
	}
	return reply.Quorum, reply.err()
}

// fence fences or unfences a broker, moving leadership as that calls for, in one batch.
func (s *Store) fence(ctx context.Context, id int32, fenced bool) error {
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return lerr
	}
	defer unlock()
	img := s.Image()
	b := img.Brokers[id]
	if b == nil {
		return errorf(kerr.BrokerIDNotRegistered, "broker %d is not registered", id)
	}
	var live func(int32) bool
	if s.ctl != nil {
		live = s.ctl.liveExcept(img)
	} else {
		live = func(n int32) bool { bb := img.Brokers[n]; return bb != nil && !bb.Fenced }
	}
	liveAfter := func(n int32) bool {
		if n == id {
			return !fenced
		}
		return live(n)
	}
	var recs []Record
	if b.Fenced != fenced {
		recs = append(recs, &BrokerFenceRecord{NodeID: id, Fenced: fenced})
	}
	recs = append(recs, planLeaderChanges(img, liveAfter)...)
	if len(recs) == 0 {
		return nil
	}
	_, err := s.propose(ctx, recs)
	return err
}
