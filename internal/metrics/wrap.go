package metrics

import (
	"context"
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

// Wrap returns a handler that serves requests with next and observes what
// the server's Metrics cannot see: the topics of produced batches (counted
// once the partition's answer is NONE) and the replies that wait before
// they are answered (Reply.Then), per API.
//
// When next is a server.VersionRanger (a Mux), so is the wrapper: the
// server keeps refusing unadvertised versions before decoding them.
func (m *Metrics) Wrap(next server.Handler) server.Handler {
	w := &wrapped{m: m, next: next}
	if vr, ok := next.(server.VersionRanger); ok {
		return &rangedWrapped{wrapped: w, vr: vr}
	}
	return w
}

type wrapped struct {
	m    *Metrics
	next server.Handler
}

func (w *wrapped) Handle(ctx context.Context, req *server.Request) *server.Reply {
	reply := w.next.Handle(ctx, req)
	if p, ok := req.Msg.(*kmsg.ProduceRequest); ok && reply != nil {
		reply = w.m.observeProduce(p, reply)
	}
	return w.m.trackWait(req.Key, reply)
}

type rangedWrapped struct {
	*wrapped
	vr server.VersionRanger
}

func (r *rangedWrapped) VersionRange(key int16) (min, max int16, ok bool) {
	return r.vr.VersionRange(key)
}

// trackWait counts reply in its API's purgatory while its Then runs.
func (m *Metrics) trackWait(key int16, reply *server.Reply) *server.Reply {
	if reply == nil || reply.Then == nil {
		return reply
	}
	g := m.purgatory.WithLabelValues(apiName(key))
	g.Inc()
	then := reply.Then
	return &server.Reply{Then: func(ctx context.Context) *server.Reply {
		defer g.Dec()
		// A continuation may itself wait again; it stays counted.
		return m.trackWait(key, then(ctx))
	}}
}

// observeProduce counts the batches of a produce request that the reply
// reports appended, waiting for the reply's Then when there is one.
func (m *Metrics) observeProduce(req *kmsg.ProduceRequest, reply *server.Reply) *server.Reply {
	switch {
	case reply.Then != nil:
		then := reply.Then
		return &server.Reply{Then: func(ctx context.Context) *server.Reply {
			r := then(ctx)
			if r == nil {
				return r
			}
			return m.observeProduce(req, r)
		}}
	case reply.Close:
		return reply // refused, or acks=0 with an error: nothing counted
	case reply.NoResponse:
		m.countProduce(req, nil) // acks=0 that kept the connection: all appended
	default:
		resp, ok := reply.Msg.(*kmsg.ProduceResponse)
		if ok {
			m.countProduce(req, resp)
		}
	}
	return reply
}

// countProduce counts each partition of req whose answer in resp is NONE
// (every partition when resp is nil).
func (m *Metrics) countProduce(req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse) {
	for ti := range req.Topics {
		rt := &req.Topics[ti]
		topic := rt.Topic
		if req.Version >= 13 {
			name, ok := "", false
			if m.opts.TopicName != nil {
				name, ok = m.opts.TopicName(rt.TopicID)
			}
			if !ok {
				continue
			}
			topic = name
		}
		var bytes, records int
		for pi := range rt.Partitions {
			if resp != nil && !produceOK(resp, ti, pi) {
				continue
			}
			n, r := batchesSize(rt.Partitions[pi].Records)
			bytes += n
			records += r
		}
		if bytes > 0 {
			m.topicProduced(topic, bytes, records)
		}
	}
}

// produceOK reports whether the answer for partition pi of topic ti is
// NONE. The produce handler answers topics and partitions in request order.
func produceOK(resp *kmsg.ProduceResponse, ti, pi int) bool {
	if ti >= len(resp.Topics) || pi >= len(resp.Topics[ti].Partitions) {
		return false
	}
	return resp.Topics[ti].Partitions[pi].ErrorCode == 0
}

// batchesSize returns the bytes and the record count of a v2 record batch
// sequence, reading only batch headers. Anything malformed ends the count.
func batchesSize(b []byte) (bytes, records int) {
	const (
		lengthOffset  = 8  // after baseOffset
		headerLen     = 61 // through the record count
		countOffset   = 57
		lengthPrefix  = 12 // baseOffset + batchLength
		magicOffset   = 16
		currentFormat = 2
	)
	for len(b) >= headerLen {
		n := int(int32(binary.BigEndian.Uint32(b[lengthOffset:])))
		if n < headerLen-lengthPrefix || lengthPrefix+n > len(b) || b[magicOffset] != currentFormat {
			break
		}
		c := int(int32(binary.BigEndian.Uint32(b[countOffset:])))
		if c < 0 {
			c = 0
		}
		bytes += lengthPrefix + n
		records += c
		b = b[lengthPrefix+n:]
	}
	return bytes, records
}
