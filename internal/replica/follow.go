package replica

import (
	"context"
	"slices"
	"time"

	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/storage"
)

// follow brings every partition this broker is a replica of in line with img: hosted
// partitions take their new state; a follower's partition is opened and fetched from
// its leader's broker; a partition this broker now leads stops fetching. Leaders that
// are not open yet open on their first request.
func (m *Manager) follow(img *metadata.Image) {
	now := time.Now()
	for _, t := range img.Topics {
		for i, pm := range t.Partitions {
			if !slices.Contains(pm.Replicas, m.nodeID) {
				continue
			}
			tp := storage.TopicPartition{Topic: t.Name, Partition: int32(i)}
			m.mu.RLock()
			p, open := m.parts[tp]
			m.mu.RUnlock()
			if open && p.topicID != t.ID {
				continue // the old topic's partition is being deleted
			}
			if !open {
				if pm.Leader == m.nodeID {
					continue
				}
				var err error
				if p, err = m.open(t, int32(i)); err != nil {
					m.logger.Warn("open follower partition", "topic", t.Name, "partition", i, "err", err)
					continue
				}
			}
			newEpoch := p.applyState(m.stateOf(t, pm), now)
			switch {
			case pm.Leader == m.nodeID:
				m.unfollow(tp)
				if newEpoch {
					if err := p.log.AssignLeaderEpoch(pm.LeaderEpoch); err != nil {
						m.logger.Warn("record leader epoch", "topic", t.Name, "partition", i, "err", err)
					}
				}
				p.maybeAdvanceHW()
			case pm.Leader < 0:
				m.unfollow(tp)
			case newEpoch || !m.following(pm.Leader, tp):
				m.unfollow(tp)
				m.fetcherFor(pm.Leader).add(p)
			}
		}
	}
}

// following reports whether the fetcher of leader fetches tp.
func (m *Manager) following(leader int32, tp storage.TopicPartition) bool {
	m.fetchMu.Lock()
	defer m.fetchMu.Unlock()
	f := m.fetchers[leader]
	return f != nil && f.has(tp)
}

// unfollow stops fetching tp from any leader.
func (m *Manager) unfollow(tp storage.TopicPartition) {
	m.fetchMu.Lock()
	defer m.fetchMu.Unlock()
	for _, f := range m.fetchers {
		f.remove(tp)
	}
}

// fetcherFor returns the fetcher of the leader broker, starting it if needed.
func (m *Manager) fetcherFor(leader int32) *fetcher {
	m.fetchMu.Lock()
	defer m.fetchMu.Unlock()
	f := m.fetchers[leader]
	if f == nil {
		f = newFetcher(m, leader)
		m.fetchers[leader] = f
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			f.run(m.ctx)
		}()
	}
	return f
}

// alterFunc returns what p calls to change its ISR: an AlterPartition to the controller
// in the background. The outcome arrives with the next image; a refusal (a newer
// leader or partition epoch) just ends the attempt.
func (m *Manager) alterFunc(p *Partition) func(isr []int32) {
	return func(isr []int32) {
		if m.repl.AlterPartition == nil {
			p.alterDone(false)
			return
		}
		p.mu.RLock()
		le, pe := p.leaderEpoch, p.partitionEpoch
		p.mu.RUnlock()
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
			defer cancel()
			err := m.repl.AlterPartition(ctx, p.topicID, p.tp.Partition, le, pe, isr)
			if err != nil {
				m.logger.Info("ISR change refused", "topic", p.tp.Topic, "partition", p.tp.Partition, "isr", isr, "err", err)
			} else {
				m.logger.Info("ISR changed", "topic", p.tp.Topic, "partition", p.tp.Partition, "isr", isr)
			}
			p.alterDone(err != nil)
		}()
	}
}

// shrinkLoop takes lagging followers out of the ISRs of the partitions this broker
// leads, checking every half of replica.lag.time.max.ms.
func (m *Manager) shrinkLoop() {
	defer m.wg.Done()
	t := time.NewTicker(m.repl.LagTimeMax / 2)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case now := <-t.C:
			m.mu.RLock()
			parts := make([]*Partition, 0, len(m.parts))
			for _, p := range m.parts {
				parts = append(parts, p)
			}
			m.mu.RUnlock()
			for _, p := range parts {
				if isr := p.shrinkISR(now, m.repl.LagTimeMax); isr != nil {
					m.logger.Warn("follower out of sync; shrinking the ISR", "topic", p.tp.Topic,
						"partition", p.tp.Partition, "isr", isr)
				}
			}
		}
	}
}
