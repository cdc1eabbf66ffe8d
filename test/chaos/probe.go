package chaos

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// pollInterval is how often conditions are re-checked while waiting on them.
const pollInterval = 20 * time.Millisecond

// WaitFor polls cond until it reports true or ctx ends. what names the condition in
// the error; the last error cond returned, if any, is included. An error wrapped by
// Hopeless ends the wait at once: the condition can no longer come true.
func WaitFor(ctx context.Context, what string, cond func(context.Context) (bool, error)) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return nil
		}
		if h := (hopeless{}); errors.As(err, &h) {
			return fmt.Errorf("wait for %s: %w", what, h.err)
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("wait for %s: %w (last: %v)", what, ctx.Err(), last)
			}
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// Hopeless marks an error after which WaitFor stops waiting.
func Hopeless(err error) error { return hopeless{err} }

type hopeless struct{ err error }

func (h hopeless) Error() string { return h.err.Error() }
func (h hopeless) Unwrap() error { return h.err }

// ProbeAPIVersions sends one ApiVersions v0 request to addr and checks the answer: a
// node that answers serves the Kafka protocol.
func ProbeAPIVersions(ctx context.Context, addr string) error {
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(0)
	resp, err := roundTrip(ctx, addr, req)
	if err != nil {
		return err
	}
	av := resp.(*kmsg.ApiVersionsResponse)
	if err := kerr.ErrorForCode(av.ErrorCode); err != nil {
		return fmt.Errorf("ApiVersions: %w", err)
	}
	if len(av.ApiKeys) == 0 {
		return errors.New("ApiVersions response lists no APIs")
	}
	return nil
}

// ProbeRegistered asks addr for Metadata (v1, no topics) and checks that the cluster it
// describes lists broker id and names a controller: the node has registered and clients
// will be sent to it. (A broker whose metadata holds no registered broker yet lists
// itself alone, with no controller: that is not registered.) It returns the controller
// id the node reports.
func ProbeRegistered(ctx context.Context, addr string, id int32) (int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(1)
	req.Topics = []kmsg.MetadataRequestTopic{} // v1: empty means none
	resp, err := roundTrip(ctx, addr, req)
	if err != nil {
		return -1, err
	}
	md := resp.(*kmsg.MetadataResponse)
	for _, b := range md.Brokers {
		if b.NodeID == id && md.ControllerID >= 0 {
			return md.ControllerID, nil
		}
	}
	return md.ControllerID, fmt.Errorf("metadata from %s does not list broker %d with a controller yet (controller %d)", addr, id, md.ControllerID)
}

// LeaderOf asks addr for the leader of partition p of topic.
func LeaderOf(ctx context.Context, addr, topic string, p int32) (int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(1)
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := roundTrip(ctx, addr, req)
	if err != nil {
		return -1, err
	}
	for _, t := range resp.(*kmsg.MetadataResponse).Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return -1, fmt.Errorf("metadata of %s: %w", topic, err)
		}
		for _, part := range t.Partitions {
			if part.Partition == p {
				if err := kerr.ErrorForCode(part.ErrorCode); err != nil {
					return -1, fmt.Errorf("metadata of %s-%d: %w", topic, p, err)
				}
				return part.Leader, nil
			}
		}
	}
	return -1, fmt.Errorf("metadata from %s lacks %s-%d", addr, topic, p)
}

// PartitionState is one partition as a node's Metadata describes it.
type PartitionState struct {
	Leader      int32 // -1: none
	LeaderEpoch int32
	Replicas    []int32
	ISR         []int32
}

// TopicState asks addr for Metadata (v7, which carries leader epochs) of topic and
// returns each partition's leader, replicas and in-sync replicas, as that node knows
// them.
func TopicState(ctx context.Context, addr, topic string) (map[int32]PartitionState, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(7)
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := roundTrip(ctx, addr, req)
	if err != nil {
		return nil, err
	}
	for _, t := range resp.(*kmsg.MetadataResponse).Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return nil, fmt.Errorf("metadata of %s from %s: %w", topic, addr, err)
		}
		out := make(map[int32]PartitionState, len(t.Partitions))
		for _, p := range t.Partitions {
			// A partition without a leader, or with a replica down, is a state to report,
			// not a failure of the probe.
			err := kerr.ErrorForCode(p.ErrorCode)
			if err != nil && !errors.Is(err, kerr.LeaderNotAvailable) && !errors.Is(err, kerr.ReplicaNotAvailable) {
				return nil, fmt.Errorf("metadata of %s-%d from %s: %w", topic, p.Partition, addr, err)
			}
			out[p.Partition] = PartitionState{Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, Replicas: p.Replicas, ISR: p.ISR}
		}
		return out, nil
	}
	return nil, fmt.Errorf("metadata from %s lacks topic %s", addr, topic)
}

// Quorum is what a node reports of the metadata quorum in DescribeQuorum.
type Quorum struct {
	LeaderID      int32 // -1: no leader known
	LeaderEpoch   int32
	HighWatermark int64
	// Voters and Observers are replica ids, in the order the node listed them.
	Voters, Observers []int32
	// LogEndOffset is each replica's log end offset as the node last knew it (-1:
	// unknown): the leader's view of how far each follower has replicated.
	LogEndOffset map[int32]int64
}

// ProbeQuorum asks addr (a client listener, or a controller's CONTROLLER listener)
// for DescribeQuorum v1 of the metadata log, __cluster_metadata-0.
func ProbeQuorum(ctx context.Context, addr string) (Quorum, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	req.SetVersion(1)
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	req.Topics = append(req.Topics, rt)
	resp, err := RoundTrip(ctx, addr, req)
	if err != nil {
		return Quorum{}, err
	}
	dq := resp.(*kmsg.DescribeQuorumResponse)
	if err := kerr.ErrorForCode(dq.ErrorCode); err != nil {
		return Quorum{}, fmt.Errorf("DescribeQuorum from %s: %w", addr, err)
	}
	for _, t := range dq.Topics {
		for _, p := range t.Partitions {
			if t.Topic != "__cluster_metadata" || p.Partition != 0 {
				continue
			}
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return Quorum{}, fmt.Errorf("DescribeQuorum from %s: __cluster_metadata-0: %w", addr, err)
			}
			q := Quorum{LeaderID: p.LeaderID, LeaderEpoch: p.LeaderEpoch, HighWatermark: p.HighWatermark, LogEndOffset: map[int32]int64{}}
			for _, v := range p.CurrentVoters {
				q.Voters = append(q.Voters, v.ReplicaID)
				q.LogEndOffset[v.ReplicaID] = v.LogEndOffset
			}
			for _, o := range p.Observers {
				q.Observers = append(q.Observers, o.ReplicaID)
				q.LogEndOffset[o.ReplicaID] = o.LogEndOffset
			}
			return q, nil
		}
	}
	return Quorum{}, fmt.Errorf("DescribeQuorum from %s lacks __cluster_metadata-0", addr)
}

// RoundTrip sends one request over a new connection to addr and returns the decoded
// response: a probe of one node, with no client library deciding where it goes. The
// request's version must be set; ctx's deadline (default 5s) bounds the exchange.
func RoundTrip(ctx context.Context, addr string, req kmsg.Request) (kmsg.Response, error) {
	return roundTrip(ctx, addr, req)
}

// roundTrip sends one request over a new connection and returns the decoded response.
// Flexible versions get request header v2 and response header v1 (tag sections), except
// ApiVersions, whose response header is always v0.
func roundTrip(ctx context.Context, addr string, req kmsg.Request) (kmsg.Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(5 * time.Second)
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
	}

	const correlationID = 7
	clientID := "sluice-chaos-probe"
	// Request header v1: key, version, correlation id, nullable client id.
	frame := make([]byte, 4, 64)
	frame = binary.BigEndian.AppendUint16(frame, uint16(req.Key()))
	frame = binary.BigEndian.AppendUint16(frame, uint16(req.GetVersion()))
	frame = binary.BigEndian.AppendUint32(frame, correlationID)
	frame = binary.BigEndian.AppendUint16(frame, uint16(len(clientID)))
	frame = append(frame, clientID...)
	if req.IsFlexible() {
		frame = append(frame, 0) // no tagged fields
	}
	frame = req.AppendTo(frame)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	name := kmsg.NameForKey(req.Key())
	if _, err := conn.Write(frame); err != nil {
		return nil, fmt.Errorf("send %s: %w", name, err)
	}

	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return nil, fmt.Errorf("read %s response size: %w", name, err)
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 64<<20 {
		return nil, fmt.Errorf("%s response size %d out of range", name, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return nil, fmt.Errorf("read %s response: %w", name, err)
	}
	if got := binary.BigEndian.Uint32(body); got != correlationID {
		return nil, fmt.Errorf("%s response correlation id %d, want %d", name, got, correlationID)
	}
	body = body[4:]
	if req.IsFlexible() && req.Key() != 18 { // response header v1: skip its tags
		if body, err = skipTags(body); err != nil {
			return nil, fmt.Errorf("read %s response header: %w", name, err)
		}
	}
	resp := req.ResponseKind()
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode %s response: %w", name, err)
	}
	return resp, nil
}

// skipTags returns b after the tagged-field section at its start.
func skipTags(b []byte) ([]byte, error) {
	next := func() (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, errors.New("truncated tagged fields")
		}
		b = b[n:]
		return v, nil
	}
	count, err := next()
	if err != nil {
		return nil, err
	}
	for range count {
		if _, err := next(); err != nil { // tag
			return nil, err
		}
		size, err := next()
		if err != nil {
			return nil, err
		}
		if size > uint64(len(b)) {
			return nil, errors.New("truncated tagged field")
		}
		b = b[size:]
	}
	return b, nil
}
