package server

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkProduceFrame measures the server's part of a Produce request of
// a given size sent over loopback: reading the frame, decoding it, and
// writing the (empty) reply. The handler does no work, so the figures are
// the framing's own cost, which frame reuse cuts (compare B/op).
func BenchmarkProduceFrame(b *testing.B) {
	for _, size := range []int{16 << 10, 1 << 20, 3 << 20} {
		b.Run(fmt.Sprintf("size=%dKiB", size>>10), func(b *testing.B) {
			m := NewMux()
			m.Register(0, 3, 9, func(_ context.Context, req *Request) *Reply {
				return &Reply{Msg: req.Msg.ResponseKind()}
			})
			ts := startServer(b, m, nil)
			c := dial(b, ts.addr)
			req := kmsg.NewPtrProduceRequest()
			req.SetVersion(9)
			req.Acks = 1
			topic := kmsg.NewProduceRequestTopic()
			topic.Topic = "t"
			part := kmsg.NewProduceRequestTopicPartition()
			part.Records = make([]byte, size)
			topic.Partitions = append(topic.Partitions, part)
			req.Topics = append(req.Topics, topic)
			id := "bench"
			one := frame(req, 1, &id)
			b.SetBytes(int64(len(one)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c.write(one)
				if _, err := c.readFrame(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
