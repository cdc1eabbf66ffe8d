// Package replica holds the partitions this broker hosts: each one's log, leader
// epoch and high watermark, and the waits that depend on them (produce acks and
// fetch long polls). On a single node the in-sync replica set is the leader
// alone, so the high watermark follows the log end offset (or, in durable mode,
// the flushed offset). Leader/follower replication extends this package.
package replica

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/storage"
)

// Partition is one hosted partition.
type Partition struct {
	tp      storage.TopicPartition
	topicID [16]byte
	log     *storage.Log

	mu          sync.RWMutex
	leaderEpoch int32
}

// TopicPartition names the partition.
func (p *Partition) TopicPartition() storage.TopicPartition { return p.tp }

// TopicID is the topic's UUID.
func (p *Partition) TopicID() [16]byte { return p.topicID }

// Log is the partition's log.
func (p *Partition) Log() *storage.Log { return p.log }

// LeaderEpoch is the current leader epoch.
func (p *Partition) LeaderEpoch() int32 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.leaderEpoch
}

// CheckLeaderEpoch compares a client's current leader epoch with ours, as
// Kafka does: -1 means the client does not know it; older is fenced; newer
// means this broker has not caught up with the metadata yet.
func (p *Partition) CheckLeaderEpoch(clientEpoch int32) error {
	if clientEpoch < 0 {
		return nil
	}
	ours := p.LeaderEpoch()
	switch {
	case clientEpoch < ours:
		return kerr.FencedLeaderEpoch
	case clientEpoch > ours:
		return kerr.UnknownLeaderEpoch
	}
	return nil
}

// Append validates and appends one producer batch as the leader. Unless the
// partition is durable, the high watermark moves to the new log end at once
// (the ISR is the leader alone); a durable partition moves it in WaitDurable.
func (p *Partition) Append(batch []byte) (storage.AppendResult, error) {
	res, err := p.log.Append(batch, p.LeaderEpoch())
	if err != nil {
		return res, err
	}
	if !p.Durable() {
		p.log.SetHighWatermark(p.log.LogEndOffset())
	}
	return res, nil
}

// Durable reports whether appends must be flushed before they are
// acknowledged (flush.messages=1, from the topic or the broker default); it
// reads the log's live config, so a change applies to the next append.
func (p *Partition) Durable() bool { return p.log.Config().Durable() }

// WaitDurable waits until every offset below end is on stable storage and
// then advances the high watermark over it. On a partition that is not
// durable it returns at once.
func (p *Partition) WaitDurable(ctx context.Context, end int64) error {
	if !p.Durable() {
		return nil
	}
	if err := p.log.WaitFlushed(ctx, end); err != nil {
		return err
	}
	if end > p.log.HighWatermark() {
		p.log.SetHighWatermark(end)
	}
	return nil
}
