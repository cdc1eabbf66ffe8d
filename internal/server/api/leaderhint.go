package api

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/metadata"
)

// leaderHint is KIP-951's answer to NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH in
// Produce (v10+) and Fetch (v12+; endpoints from v16): the partition's current leader
// and epoch, and that broker's endpoint on the client's listener, so that a client can
// retry at once instead of refreshing its metadata first.
type leaderHint struct {
	leader, epoch int32
	endpoint      *metadata.Endpoint
	rack          *string
}

// hintFor returns the hint for a partition whose request failed with err, or false when
// err calls for none or the image knows no live leader.
func hintFor(img *metadata.Image, t *metadata.Topic, partition int32, listener string, err error) (leaderHint, bool) {
	if t == nil || !(errors.Is(err, kerr.NotLeaderForPartition) || errors.Is(err, kerr.FencedLeaderEpoch)) {
		return leaderHint{}, false
	}
	if partition < 0 || int(partition) >= len(t.Partitions) {
		return leaderHint{}, false
	}
	p := t.Partitions[partition]
	h := leaderHint{leader: p.Leader, epoch: p.LeaderEpoch}
	if b := img.Brokers[p.Leader]; b != nil && !b.Fenced {
		for i := range b.Endpoints {
			if b.Endpoints[i].Listener == listener {
				h.endpoint, h.rack = &b.Endpoints[i], b.Rack
			}
		}
	}
	return h, p.Leader >= 0
}
