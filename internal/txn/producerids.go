// Package txn holds producer-id allocation and, later, the transaction
// coordinator. Per-partition idempotence state lives with the log
// (internal/producerstate), because its checks must be atomic with the append.
package txn

import (
	"context"
	"fmt"
	"sync"
)

// BlockSize is how many producer ids one metadata record reserves, as KRaft
// controllers hand them out.
const BlockSize = 1000

// Allocator reserves a block of n producer ids in the metadata log and returns
// the first.
type Allocator func(ctx context.Context, n int64) (first int64, err error)

// ProducerIDs hands out producer ids from blocks reserved in the metadata log,
// so an id is never given twice, even across restarts (an unused rest of a
// block is skipped, not reused).
type ProducerIDs struct {
	alloc Allocator

	mu   sync.Mutex
	next int64
	end  int64 // exclusive
}

// NewProducerIDs returns an allocator over alloc.
func NewProducerIDs(alloc Allocator) *ProducerIDs { return &ProducerIDs{alloc: alloc} }

// Next returns a fresh producer id.
func (p *ProducerIDs) Next(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next >= p.end {
		first, err := p.alloc(ctx, BlockSize)
		if err != nil {
			return 0, fmt.Errorf("reserve producer ids: %w", err)
		}
		p.next, p.end = first, first+BlockSize
	}
	id := p.next
	p.next++
	return id, nil
}
