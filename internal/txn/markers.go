package txn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/brokerclient"
	"github.com/sluicehq/sluice/internal/metadata"
)

// BrokerMarkers is the coordinator's Markers on a broker: it sends WriteTxnMarkers to
// the leader of each partition, on the inter-broker listener, grouped by leader.
type BrokerMarkers struct {
	client   *brokerclient.Client
	image    func() *metadata.Image
	listener string

	verifyOnce sync.Once
	verify     *brokerclient.Client // for AddPartitionsToTxn
}

// NewBrokerMarkers returns Markers that reach leaders through client on listener.
func NewBrokerMarkers(client *brokerclient.Client, image func() *metadata.Image, listener string) *BrokerMarkers {
	return &BrokerMarkers{client: client, image: image, listener: listener}
}

// Write sends the markers and returns once every partition has one; a partition whose
// leader is unknown, or that answers an error, fails the call (the coordinator retries
// it whole: a second marker for a closed transaction changes nothing, and under
// transactions v2 the leader answers it without writing it again). Markers of v2
// transactions go as WriteTxnMarkers v2 with their TransactionVersion (KIP-1228).
func (b *BrokerMarkers) Write(ctx context.Context, pid int64, epoch int16, coordinatorEpoch int32, tv int16, commit bool, parts []TopicPartition) error {
	img := b.image()
	byLeader := map[int32]map[string][]int32{}
	for _, tp := range parts {
		p := img.Partition(tp.Topic, tp.Partition)
		if p == nil {
			continue // the topic is gone: nothing to mark
		}
		if p.Leader < 0 {
			return fmt.Errorf("%s-%d has no leader: %w", tp.Topic, tp.Partition, kerr.LeaderNotAvailable)
		}
		if byLeader[p.Leader] == nil {
			byLeader[p.Leader] = map[string][]int32{}
		}
		byLeader[p.Leader][tp.Topic] = append(byLeader[p.Leader][tp.Topic], tp.Partition)
	}
	var errs []error
	for leader, topics := range byLeader {
		addr, err := b.addr(img, leader)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		req := kmsg.NewPtrWriteTxnMarkersRequest()
		req.Version = 1
		m := kmsg.NewWriteTxnMarkersRequestMarker()
		m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = pid, epoch, commit, coordinatorEpoch
		if tv >= 2 {
			req.Version, m.TransactionVersion = 2, int8(tv)
		}
		for t, ps := range topics {
			mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			mt.Topic = t
			mt.Partitions = slices.Sorted(slices.Values(ps))
			m.Topics = append(m.Topics, mt)
		}
		req.Markers = append(req.Markers, m)
		kresp, err := b.client.Request(ctx, addr, req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		resp := kresp.(*kmsg.WriteTxnMarkersResponse)
		for _, rm := range resp.Markers {
			for _, rt := range rm.Topics {
				for _, rp := range rt.Partitions {
					if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
						errs = append(errs, fmt.Errorf("marker for %s-%d on broker %d: %w", rt.Topic, rp.Partition, leader, err))
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

func (b *BrokerMarkers) addr(img *metadata.Image, id int32) (string, error) {
	br := img.Brokers[id]
	if br == nil || br.Fenced {
		return "", fmt.Errorf("broker %d is not live: %w", id, kerr.LeaderNotAvailable)
	}
	for _, ep := range br.Endpoints {
		if ep.Listener == b.listener || b.listener == "" {
			return brokerclient.Addr(ep.Host, ep.Port), nil
		}
	}
	return "", fmt.Errorf("broker %d has no %s endpoint", id, b.listener)
}

// AddPartitionsToTxn sends req (AddPartitionsToTxn v4+, the brokers' form) to the
// leader of partition p of __transaction_state: the coordinator of the transactions it
// names. It has its own connections, so that a partition leader's question does not
// wait behind markers.
func (b *BrokerMarkers) AddPartitionsToTxn(ctx context.Context, p int32, req *kmsg.AddPartitionsToTxnRequest) (*kmsg.AddPartitionsToTxnResponse, error) {
	img := b.image()
	part := img.Partition(Topic, p)
	if part == nil || part.Leader < 0 {
		return nil, fmt.Errorf("%s-%d has no leader: %w", Topic, p, kerr.CoordinatorNotAvailable)
	}
	addr, err := b.addr(img, part.Leader)
	if err != nil {
		return nil, fmt.Errorf("coordinator %d: %w", part.Leader, kerr.CoordinatorNotAvailable)
	}
	b.verifyOnce.Do(func() { b.verify = brokerclient.NewWithDial("sluice-txn-verify", b.client.Dial()) })
	kresp, err := b.verify.Request(ctx, addr, req)
	if err != nil {
		return nil, err
	}
	return kresp.(*kmsg.AddPartitionsToTxnResponse), nil
}

// Close closes the connections AddPartitionsToTxn opened.
func (b *BrokerMarkers) Close() {
	b.verifyOnce.Do(func() {})
	if b.verify != nil {
		b.verify.Close()
	}
}
