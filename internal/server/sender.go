package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"

	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// sender queues the bytes and file regions of one batch of replies and
// writes them in order on flush: runs of byte slices with one writev
// (net.Buffers), file regions with sendfile when the connection is a
// plaintext TCP connection and the file has a descriptor, and with ReadAt
// into a pooled buffer otherwise.
type sender struct {
	c   *conn
	raw syscall.RawConn // nil when sendfile cannot be used

	items     []chunk
	queued    int
	scratches []*[]byte // encode buffers in use until the flush
	releases  []*Chunks // bodies released after the flush
	bufs      net.Buffers
}

// scratchPool holds the buffers replies are encoded into.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// readPool holds the buffers file regions are copied through when sendfile
// cannot be used.
var readPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// maxPooledScratch keeps one huge reply from pinning its buffer in the pool.
const maxPooledScratch = 1 << 20

func newSender(c *conn) *sender {
	w := &sender{c: c}
	if tc, ok := c.nc.(*net.TCPConn); ok {
		if raw, err := tc.SyscallConn(); err == nil {
			w.raw = raw
		}
	}
	return w
}

// scratch returns a buffer to encode into, valid until the next flush.
func (w *sender) scratch() *[]byte {
	b := scratchPool.Get().(*[]byte)
	w.scratches = append(w.scratches, b)
	return b
}

func (w *sender) bytes(b []byte) {
	if len(b) == 0 {
		return
	}
	w.items = append(w.items, chunk{b: b, n: len(b)})
	w.queued += len(b)
}

// chunks queues body's parts; body is released after the flush.
func (w *sender) chunks(body *Chunks) {
	w.items = append(w.items, body.parts...)
	w.queued += body.n
	w.releases = append(w.releases, body)
}

// flush writes everything queued, in order, then recycles the buffers and
// releases the bodies whether or not the writes succeeded.
func (w *sender) flush() error {
	defer w.reset()
	for i := 0; i < len(w.items); {
		if w.items[i].file == nil {
			j := i
			w.bufs = w.bufs[:0]
			for ; j < len(w.items) && w.items[j].file == nil; j++ {
				w.bufs = append(w.bufs, w.items[j].b)
			}
			bufs := w.bufs // WriteTo consumes its receiver
			if _, err := bufs.WriteTo(w.c.nc); err != nil {
				return err
			}
			i = j
			continue
		}
		if err := w.sendFile(&w.items[i]); err != nil {
			return err
		}
		i++
	}
	return nil
}

// abort drops everything queued without writing it.
func (w *sender) abort() { w.reset() }

func (w *sender) reset() {
	for _, b := range w.releases {
		b.Release()
	}
	for _, b := range w.scratches {
		if cap(*b) <= maxPooledScratch {
			*b = (*b)[:0]
			scratchPool.Put(b)
		}
	}
	clear(w.items)
	clear(w.bufs[:cap(w.bufs)])
	clear(w.releases)
	clear(w.scratches)
	w.items, w.bufs, w.releases, w.scratches = w.items[:0], w.bufs[:0], w.releases[:0], w.scratches[:0]
	w.queued = 0
}

// sendFile writes one file region.
func (w *sender) sendFile(ch *chunk) error {
	off, n := ch.off, ch.n
	if of, ok := ch.file.(vfs.OSFile); ok && w.raw != nil {
		sent, err := sendfile(w.raw, of.OS(), off, n)
		w.c.s.sendfileBytes.Add(int64(sent))
		if err == nil {
			return nil
		}
		if !errors.Is(err, errSendfileUnsupported) {
			return fmt.Errorf("sendfile %d bytes at %d: %w", n, off, err)
		}
		off, n = off+int64(sent), n-sent
	}
	bp := readPool.Get().(*[]byte)
	defer readPool.Put(bp)
	buf := *bp
	for n > 0 {
		want := min(n, len(buf))
		got, err := ch.file.ReadAt(buf[:want], off)
		if got > 0 {
			if _, werr := w.c.nc.Write(buf[:got]); werr != nil {
				return werr
			}
		}
		if got < want {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read %d bytes at %d of a reply's file region: %w", want, off, err)
		}
		off += int64(got)
		n -= got
	}
	return nil
}
