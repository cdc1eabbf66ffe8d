package runtime

import (
	"context"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// manualKey marks records whose Partition is already chosen (changelog
// records go to their task's partition).
type manualKey struct{}

var manualCtx = context.WithValue(context.Background(), manualKey{}, true)

// partitioner places keyed records as Kafka's default partitioner does
// (murmur2 of the key bytes), so that a Sluice Streams application and a
// Java one agree on where a key lives, spreads null-keyed records round
// robin, and honours a partition chosen by the runtime.
type partitioner struct{}

func (partitioner) ForTopic(string) kgo.TopicPartitioner { return &topicPartitioner{} }

type topicPartitioner struct{ next atomic.Uint32 }

func (*topicPartitioner) RequiresConsistency(*kgo.Record) bool { return true }

func (p *topicPartitioner) Partition(r *kgo.Record, n int) int {
	if r.Context == manualCtx {
		return int(r.Partition)
	}
	if r.Key == nil {
		return int(p.next.Add(1) % uint32(n))
	}
	return int(murmur2(r.Key)&0x7fffffff) % n
}

// murmur2 is the 32-bit MurmurHash2 with the seed Kafka uses.
func murmur2(b []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	h := uint32(seed) ^ uint32(len(b))
	for len(b) >= 4 {
		k := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
		b = b[4:]
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
