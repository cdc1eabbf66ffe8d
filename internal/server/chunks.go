package server

import (
	"fmt"
	"io"

	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// Chunks is a response body as an ordered list of byte slices and file
// regions, so that record batches can go from a segment file to the socket
// without passing through user space (DESIGN §1.6). On a plaintext TCP
// connection the server sends byte slices with writev and regions of
// vfs.OSFile files with sendfile(2) at an explicit offset; otherwise it
// reads regions with ReadAt into a pooled buffer.
//
// A Chunks is built by one goroutine and handed to the server in a Reply;
// the server then owns it and calls Release once the bytes are sent, or when
// the connection fails or closes first.
type Chunks struct {
	parts    []chunk
	n        int
	released bool
}

type chunk struct {
	b       []byte
	file    vfs.File
	off     int64
	n       int
	release func()
}

// AppendBytes appends b without copying it: b must not change until the
// Chunks is released.
func (c *Chunks) AppendBytes(b []byte) {
	if len(b) == 0 {
		return
	}
	c.parts = append(c.parts, chunk{b: b, n: len(b)})
	c.n += len(b)
}

// AppendFile appends n bytes of f starting at off. The file's shared offset
// is never used (concurrent readers share a file), so f may be read by
// others meanwhile. release, if not nil, is called exactly once: after the
// bytes have been sent, or when the reply is dropped (connection closed,
// server stopped, write error). It is how the storage engine keeps a segment
// alive until a send that reads it has finished.
func (c *Chunks) AppendFile(f vfs.File, off int64, n int, release func()) {
	if n <= 0 {
		if release != nil {
			release()
		}
		return
	}
	c.parts = append(c.parts, chunk{file: f, off: off, n: n, release: release})
	c.n += n
}

// Len returns the number of bytes in c.
func (c *Chunks) Len() int {
	if c == nil {
		return 0
	}
	return c.n
}

// Release calls the release function of every file region not yet
// released. It is idempotent; the server calls it, and a handler that
// builds a Chunks and then drops it instead of replying should call it too.
func (c *Chunks) Release() {
	if c == nil || c.released {
		return
	}
	c.released = true
	for i := range c.parts {
		if r := c.parts[i].release; r != nil {
			c.parts[i].release = nil
			r()
		}
	}
}

// WriteTo writes c's bytes to w in order, reading file regions with ReadAt.
// It is the plain path (TLS, tests); it does not release c.
func (c *Chunks) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for i := range c.parts {
		p := &c.parts[i]
		if p.file == nil {
			n, err := w.Write(p.b)
			total += int64(n)
			if err != nil {
				return total, err
			}
			continue
		}
		n, err := io.Copy(w, io.NewSectionReader(p.file, p.off, int64(p.n)))
		total += n
		if err != nil {
			return total, err
		}
		if n != int64(p.n) {
			return total, fmt.Errorf("file region of %d bytes at %d: %w", p.n, p.off, io.ErrUnexpectedEOF)
		}
	}
	return total, nil
}
