package metadata

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A node's life in the quorum, seen from the node: it registers as a broker, heartbeats
// with how far it has applied the metadata log, is unfenced by the controller once it
// has caught up, and at the end asks to be shut down. Controllers that are not brokers
// only heartbeat, for DescribeQuorum.

// StartBroker registers this node as a broker with the active controller and returns
// once the controller has unfenced it, that is, once this node has applied the metadata
// log up to its own registration. raftAddr is where this node takes Raft traffic as an
// observer (ignored on voters). On a single node the broker is registered unfenced at
// once: it is live by definition.
func (s *Store) StartBroker(ctx context.Context, reg BrokerRegistration, raftAddr string) error {
	if !s.multi() {
		return s.RegisterBroker(ctx, reg)
	}
	s.brokerMu.Lock()
	s.brokerReg = &reg
	s.brokerMu.Unlock()
	var epoch int64
	for logged := false; ; {
		var err error
		epoch, err = s.registerBroker(ctx, raftAddr)
		if err == nil {
			break
		}
		if errors.Is(err, kerr.InvalidUpdateVersion) {
			// Planned on an image the controller had not caught up with (a new
			// controller); plan again.
			continue
		}
		if !errors.Is(err, kerr.DuplicateBrokerRegistration) {
			return err
		}
		// The previous incarnation of this broker (killed, say) has not missed a
		// heartbeat session yet: its registration stands until the controller
		// fences it, so try again, as Kafka's brokers do.
		if !logged {
			s.log.Info("the controller still holds this broker's previous incarnation; retrying until its session expires", "err", err)
			logged = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("register broker %d: %w (last: %v)", reg.NodeID, ctx.Err(), err)
		case <-time.After(s.cfg.BrokerHeartbeatInterval):
		}
	}
	s.log.Info("registered with the controller; waiting to be unfenced", "epoch", epoch)
	beaten := false
	for {
		img := s.Image()
		b := img.Brokers[reg.NodeID]
		if b != nil && b.Epoch >= epoch && !b.Fenced {
			return nil
		}
		if !beaten && img.Offset >= uint64(epoch) {
			// Caught up to the registration: tell the controller now rather than at
			// the next tick.
			s.beat()
			beaten = true
		}
		if err := s.fsm.waitApplied(ctx, img.Offset+1); err != nil {
			return fmt.Errorf("wait to be unfenced by the controller: %w", err)
		}
	}
}

// registerBroker registers the broker of s.brokerReg until the controller accepts, and
// makes its epoch the one heartbeats carry.
func (s *Store) registerBroker(ctx context.Context, raftAddr string) (int64, error) {
	s.brokerMu.Lock()
	reg := *s.brokerReg
	s.brokerMu.Unlock()
	args := &RegisterArgs{ClusterID: s.cfg.ClusterID, Registration: reg, RaftAddr: raftAddr}
	if s.isVoter() {
		args.RaftAddr = ""
	}
	var reply RegisterReply
	if err := s.callController(ctx, "Register", args, &reply); err != nil {
		return 0, fmt.Errorf("register broker %d: %w", reg.NodeID, err)
	}
	if err := reply.err(); err != nil {
		return 0, fmt.Errorf("register broker %d: %w", reg.NodeID, err)
	}
	s.brokerMu.Lock()
	s.brokerEpoch = reply.Epoch
	s.brokerMu.Unlock()
	return reply.Epoch, nil
}

// ShutdownBroker is Kafka's controlled shutdown: it asks the controller to move this
// broker's leaderships away and fence it, and returns once it has, or when ctx ends.
func (s *Store) ShutdownBroker(ctx context.Context) error {
	if !s.multi() {
		return nil
	}
	s.brokerMu.Lock()
	s.wantShutdown = true
	epoch := s.brokerEpoch
	s.brokerMu.Unlock()
	if epoch == 0 {
		return nil
	}
	var leaderless time.Time // since when no leader has been known
	for {
		if s.leaderID() < 0 {
			if leaderless.IsZero() {
				leaderless = time.Now()
			}
			// The last nodes of a stopping cluster lose the quorum: nobody can move
			// their leaderships, so waiting longer only delays the stop.
			if time.Since(leaderless) > 2*orDefault(s.cfg.ElectionTimeout, time.Second) {
				return errors.New("controlled shutdown: the metadata quorum has no leader")
			}
		} else {
			leaderless = time.Time{}
		}
		actx, cancel := context.WithTimeout(ctx, time.Second)
		reply, err := s.heartbeatOnce(actx)
		cancel()
		if err == nil && reply.ShouldShutdown {
			s.log.Info("controlled shutdown: the controller has moved this broker's leaderships")
			// Wait to see the change here, so that the broker stops serving only
			// after its own metadata says others lead.
			b := s.Image().Brokers[s.cfg.NodeID]
			for b != nil && !b.Fenced {
				if err := s.fsm.waitApplied(ctx, s.AppliedOffset()+1); err != nil {
					return err
				}
				b = s.Image().Brokers[s.cfg.NodeID]
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("controlled shutdown: %w (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// beat makes the heartbeat loop send a heartbeat now.
func (s *Store) beat() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// heartbeatLoop reports this node's progress to the active controller every
// BrokerHeartbeatInterval, and re-registers the broker when the controller no longer
// knows its epoch (it was fenced and replaced, or the registration was lost).
func (s *Store) heartbeatLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.BrokerHeartbeatInterval)
	defer t.Stop()
	s.beat() // report at once, not a whole interval after start
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		ctx, cancel := context.WithTimeout(s.ctx, 2*s.cfg.BrokerHeartbeatInterval)
		sent := time.Now()
		reply, err := s.heartbeatOnce(ctx)
		if err == nil && reply.Code == 0 && !reply.Fenced {
			// A fenced broker's lease stays lapsed until it is unfenced again. A
			// lease renewed after it lapsed counts once this node has applied what
			// the controller had: the leadership moves made while it was cut off.
			if prev := s.lastBeat.Load(); prev != 0 && sent.Sub(time.Unix(0, prev)) > s.cfg.BrokerSessionTimeout {
				s.catchUp.Store(reply.Applied)
			}
			s.lastBeat.Store(sent.UnixNano())
		}
		switch {
		case err != nil:
			s.log.Debug("heartbeat to the controller failed", "err", err)
		case reply.Code == kerr.StaleBrokerEpoch.Code || reply.Code == kerr.BrokerIDNotRegistered.Code:
			s.brokerMu.Lock()
			registered := s.brokerReg != nil && !s.wantShutdown
			s.brokerMu.Unlock()
			if registered {
				s.log.Warn("the controller does not know this broker's epoch; registering again", "reason", reply.Message)
				if _, err := s.registerBroker(ctx, s.cfg.RaftAddr); err != nil {
					s.log.Warn("registering again", "err", err)
				}
			}
		}
		cancel()
	}
}

// LeaseLapsed reports whether this broker's session has lapsed by its own clock: no
// heartbeat the controller accepted was sent within the last broker session timeout,
// or, since it was renewed after lapsing, this node has not yet applied the metadata the
// controller had then.
// The controller fences a broker at least that long after the last heartbeat it
// received, and only then moves its leaderships; a broker that stops serving as a
// leader once its lease lapses therefore stops before a new leader can take writes, so
// a client that reaches it with stale metadata (from the broker itself, cut off from
// the quorum) cannot read a log that ends before what it has already read. A node that
// has not yet had a heartbeat accepted has no lease to lapse (it does not serve until
// it is unfenced), and a single node is its own controller.
func (s *Store) LeaseLapsed() bool {
	last := s.lastBeat.Load()
	if last == 0 || !s.multi() {
		return false
	}
	if time.Since(time.Unix(0, last)) > s.cfg.BrokerSessionTimeout {
		return true
	}
	return s.AppliedOffset() < s.catchUp.Load()
}

// heartbeatOnce sends one heartbeat to the active controller, which may be this node.
func (s *Store) heartbeatOnce(ctx context.Context) (HeartbeatReply, error) {
	s.brokerMu.Lock()
	args := &HeartbeatArgs{
		NodeID:       s.cfg.NodeID,
		Applied:      s.AppliedOffset(),
		Broker:       s.brokerEpoch > 0,
		Epoch:        s.brokerEpoch,
		WantShutdown: s.wantShutdown,
	}
	s.brokerMu.Unlock()
	if s.isLeader() {
		return s.ctl.heartbeat(ctx, args), nil
	}
	var reply HeartbeatReply
	err := s.callController(ctx, "Heartbeat", args, &reply)
	return reply, err
}

// controllerLoop, while this node leads, fences brokers whose sessions lapse.
func (s *Store) controllerLoop() {
	defer s.wg.Done()
	t := time.NewTicker(min(s.cfg.BrokerSessionTimeout/8, 250*time.Millisecond))
	defer t.Stop()
	var rebalance <-chan time.Time
	if s.cfg.LeaderRebalanceInterval > 0 {
		rt := time.NewTicker(s.cfg.LeaderRebalanceInterval)
		defer rt.Stop()
		rebalance = rt.C
	}
	for {
		balance := false
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		case <-rebalance:
			balance = true
		}
		if !s.isLeader() {
			continue
		}
		img := s.Image()
		if img.ControllerID != s.cfg.NodeID || img.ControllerEpoch != s.raft.CurrentTerm() {
			continue // this term's takeover is not applied yet
		}
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		s.ctl.expire(ctx)
		if balance {
			s.rebalanceLeaders(ctx)
		}
		cancel()
	}
}

// rebalanceLeaders is Kafka's automatic preferred-leader election: for each broker
// whose share of partitions led by someone else, among those it is the preferred
// (first) replica of, exceeds LeaderImbalancePercent, it moves those leaderships back
// to it where it is live and in sync.
func (s *Store) rebalanceLeaders(ctx context.Context) {
	img := s.Image()
	type part struct {
		topic string
		index int32
	}
	preferred := map[int32]int{}
	misled := map[int32][]part{}
	for _, name := range img.TopicNames() {
		for _, p := range img.Topics[name].Partitions {
			if len(p.Replicas) == 0 || p.Reassigning() {
				continue
			}
			pref := p.Replicas[0]
			preferred[pref]++
			b := img.Brokers[pref]
			if p.Leader != pref && b != nil && !b.Fenced && slices.Contains(p.ISR, pref) {
				misled[pref] = append(misled[pref], part{name, p.Index})
			}
		}
	}
	for id, parts := range misled {
		if 100*len(parts) <= s.cfg.LeaderImbalancePercent*preferred[id] {
			continue
		}
		s.log.Info("moving leaderships back to their preferred broker", "broker", id, "partitions", len(parts))
		for _, p := range parts {
			if err := s.ElectLeaders(ctx, p.topic, p.index, false); err != nil && !errors.Is(err, kerr.ElectionNotNeeded) {
				s.log.Info("preferred leader election", "topic", p.topic, "partition", p.index, "err", err)
			}
		}
	}
}
