package server

import (
	"math/bits"
	"sync"
)

// Frame buffers of Produce requests are reused.
//
// A Produce request is nearly all record batches, and a producer sends one
// after another: with 1 KiB records and franz-go's default batching each
// request is about 3 MB. Allocating a fresh frame for each one cost a
// third of the broker's CPU in a produce benchmark (zeroing new memory,
// and the GC that follows), for bytes that live only until the batches
// are appended. So the frame of a Produce request comes from a pool and
// goes back to it once the request's reply has been written or dropped.
//
// This is safe because the Produce handler appends its batches (the write
// copies them into the page cache) before Handle returns and keeps no
// byte of the request afterwards; Request's documentation states that
// contract. Frames of other APIs are never reused: their handlers may keep
// byte fields (a JoinGroup's protocol metadata, for example).
const (
	// minFrameClassShift and maxFrameClassShift bound the pooled sizes:
	// 4 KiB up to 128 MiB, one pool per power of two. Frames above the
	// largest class (socket.request.max.bytes can be raised) are
	// allocated and left to the GC.
	minFrameClassShift = 12
	maxFrameClassShift = 27
	numFrameClasses    = maxFrameClassShift - minFrameClassShift + 1
)

// frameBuf is a pooled buffer. Pools hold *frameBuf, not []byte, so that
// putting one back does not allocate a slice header.
type frameBuf struct {
	b []byte // len == cap == the size of its class
}

// framePool holds free frame buffers by size class. Its zero value is
// ready to use. Buffers stay only as long as sync.Pool keeps them: two
// garbage collections without use free them.
type framePool struct {
	classes [numFrameClasses]sync.Pool
}

// frameClass returns the index of the smallest class that holds n bytes,
// or false when n is above the largest.
func frameClass(n int) (int, bool) {
	if n <= 1<<minFrameClassShift {
		return 0, true
	}
	shift := bits.Len(uint(n - 1)) // 2^shift >= n
	if shift > maxFrameClassShift {
		return 0, false
	}
	return shift - minFrameClassShift, true
}

// get returns a buffer of at least n bytes, from the pool when it has one
// of n's class, otherwise newly allocated. A buffer too large for any class
// is allocated to size and is never pooled.
func (p *framePool) get(n int) *frameBuf {
	if fb := p.tryGet(n); fb != nil {
		return fb
	}
	c, ok := frameClass(n)
	if !ok {
		return &frameBuf{b: make([]byte, n)}
	}
	return &frameBuf{b: make([]byte, 1<<(c+minFrameClassShift))}
}

// tryGet returns a pooled buffer of n's class, or nil when the pool has
// none: it never allocates.
func (p *framePool) tryGet(n int) *frameBuf {
	c, ok := frameClass(n)
	if !ok {
		return nil
	}
	fb, _ := p.classes[c].Get().(*frameBuf)
	return fb
}

// put returns a buffer to its class. nil, and buffers that are not of a
// class size, are ignored.
func (p *framePool) put(fb *frameBuf) {
	if fb == nil {
		return
	}
	n := cap(fb.b)
	c, ok := frameClass(n)
	if !ok || n != 1<<(c+minFrameClassShift) {
		return
	}
	fb.b = fb.b[:n]
	p.classes[c].Put(fb)
}
