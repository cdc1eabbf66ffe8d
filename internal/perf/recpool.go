package perf

import (
	"math/bits"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// recordPool is franz-go's PoolRecords: the consumers decode fetched records
// into slices taken from it and give each record back (Record.Recycle) once
// counted, as a throughput-minded franz-go consumer does, so that a run
// measures the broker and not the client's allocation of a Record per
// record and the garbage collection that follows. Slices are kept in one
// sync.Pool per power of two of capacity.
type recordPool struct {
	classes [32]sync.Pool
}

var _ kgo.PoolRecords = (*recordPool)(nil)

// recordClass is the index of the smallest power of two holding n.
func recordClass(n int) int {
	if n <= 1 {
		return 0
	}
	return bits.Len(uint(n - 1))
}

// GetRecords returns a slice with capacity at least n.
func (p *recordPool) GetRecords(n int) []kgo.Record {
	c := recordClass(n)
	if c >= len(p.classes) {
		return make([]kgo.Record, 0, n)
	}
	if s, ok := p.classes[c].Get().(*[]kgo.Record); ok {
		return (*s)[:0]
	}
	return make([]kgo.Record, 0, 1<<c)
}

// PutRecords takes a slice back; slices whose capacity is not a class's are
// dropped.
func (p *recordPool) PutRecords(s []kgo.Record) {
	c := recordClass(cap(s))
	if c >= len(p.classes) || cap(s) != 1<<c {
		return
	}
	s = s[:cap(s)]
	clear(s)
	p.classes[c].Put(&s)
}
