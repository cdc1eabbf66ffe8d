package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// conn is one client connection: a reader goroutine (serve) and a writer
// goroutine (write), joined by a bounded queue of replies in flight.
type conn struct {
	s     *Server
	nc    net.Conn
	info  *ConnInfo
	log   *slog.Logger
	br    *bufio.Reader
	queue chan *pending

	// ctx is given to handlers; it ends when the connection closes.
	ctx    context.Context
	cancel context.CancelFunc

	closeOnce sync.Once
	// noMoreReads is set when a reply asked to close the connection, so the
	// reader stops before handling anything after it.
	noMoreReads atomic.Bool
	// stopRead is closed by stopReading, to wake a reader held by Mute.
	stopRead     chan struct{}
	stopReadOnce sync.Once
}

// pending is one handled request whose reply has not been written yet.
type pending struct {
	req      *Request
	received time.Time
	size     int // request frame size, for metrics
	// reply is set before the pending is queued, or, when the handler
	// returned a Then, by the goroutine that closes done.
	reply *Reply
	done  chan struct{}
	// written and out record what encode queued: whether a response
	// goes out and its size with the header.
	written bool
	out     int
	// frame, when not nil, is the pooled buffer the request was read
	// into, given back once the reply has been written or dropped.
	frame *frameBuf
}

func newConn(s *Server, listener string, nc net.Conn) *conn {
	info := &ConnInfo{
		ID:       s.nextID.Add(1),
		Listener: listener,
		Remote:   nc.RemoteAddr(),
		Local:    nc.LocalAddr(),
		tlsConn:  asTLS(nc),
	}
	c := &conn{
		s:        s,
		nc:       nc,
		info:     info,
		log:      s.log.With("listener", listener, "remote", info.Remote.String(), "conn", info.ID),
		br:       bufio.NewReaderSize(nc, 64<<10),
		queue:    make(chan *pending, s.cfg.MaxInFlight),
		stopRead: make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	return c
}

// serve runs the connection until both of its goroutines are done.
func (c *conn) serve() {
	c.log.Debug("connection accepted")
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.write()
	}()
	c.read()
	<-done
	c.log.Debug("connection closed")
}

// shutdown closes the socket and ends the handlers' context. It is safe to
// call more than once and from either goroutine.
func (c *conn) shutdown() {
	c.closeOnce.Do(func() {
		c.cancel()
		c.nc.Close()
	})
}

// stopReading makes the reader stop at the next frame boundary (or abandon
// a partly read frame) during a graceful shutdown. Replies in flight are
// still written.
func (c *conn) stopReading() {
	c.stopReadOnce.Do(func() { close(c.stopRead) })
	c.nc.SetReadDeadline(time.Unix(1, 0))
}

// waitUnmuted holds the reader while the connection is muted (ConnInfo.Mute),
// and reports whether it may go on reading.
func (c *conn) waitUnmuted() bool {
	for {
		d := c.info.MutedFor()
		if d <= 0 {
			return true
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.stopRead:
			t.Stop()
			return false
		case <-c.ctx.Done():
			t.Stop()
			return false
		}
	}
}

func (c *conn) stopped() bool {
	return c.s.stopping.Load() || c.noMoreReads.Load()
}

// read is the reader goroutine: frames in, requests handled in order,
// replies queued. It closes the queue when it stops, which tells the writer
// to finish what is queued and close the connection.
func (c *conn) read() {
	defer close(c.queue)
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic while reading requests; closing connection", "panic", v, "stack", string(debug.Stack()))
			c.shutdown()
		}
	}()
	for !c.stopped() {
		if idle := c.s.cfg.ConnectionsMaxIdle; idle > 0 {
			c.nc.SetReadDeadline(time.Now().Add(idle))
		} else {
			c.nc.SetReadDeadline(time.Time{})
		}
		// A shutdown that set its deadline before ours is seen here.
		if c.stopped() {
			return
		}
		frame, fb, err := c.readFrame()
		if err != nil {
			c.readFailed(err)
			return
		}
		// A throttled client's next request waits here until the mute has
		// passed; so do the requests after it, in the socket. The check comes
		// after the read because a reply resolved meanwhile (a Then) may
		// have muted the connection while the reader waited for this frame.
		if !c.waitUnmuted() {
			c.s.frames.put(fb)
			return
		}
		received := time.Now()
		req, err := decodeRequest(frame, c.s.ranger)
		if err != nil {
			c.s.frames.put(fb)
			key := int16(-1)
			if req != nil {
				key = req.Key
			}
			c.s.metrics.RequestRejected(c.info.Listener, key)
			attrs := []any{"err", err, "size", len(frame)}
			if req != nil {
				attrs = append(attrs, "correlation_id", req.CorrelationID, "client_id", strOrNil(req.ClientID))
			}
			c.log.Warn("closing connection: bad request", attrs...)
			return
		}
		req.Conn = c.info
		req.Size = len(frame)
		reply, ok := c.handle(req)
		if !ok {
			// fb is not put back: a handler that panicked may have left
			// work behind that still reads the request.
			return
		}
		p := &pending{req: req, received: received, size: len(frame), frame: fb}
		if reply.Then != nil {
			p.done = make(chan struct{})
			go c.resolve(p, reply)
		} else {
			p.reply = reply
			if reply.Close {
				c.noMoreReads.Store(true)
			}
		}
		select {
		case c.queue <- p:
		case <-c.ctx.Done():
			c.discard(p)
			return
		}
	}
}

func strOrNil(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// errFrameSize is Kafka's InvalidReceiveException.
var errFrameSize = errors.New("invalid frame size")

// produceKey is Produce's API key: the one request whose frame is reused
// (see framepool.go).
const produceKey = 0

// frameGrowStep is how much of a frame is read before its buffer grows.
const frameGrowStep = 1 << 20

// readFrame reads one size-prefixed frame. A Produce frame comes from the
// server's frame pool, and fb is the buffer to give back once the request
// is done with; other frames are allocated, and fb is nil.
//
// A buffer is never larger than twice the bytes that have arrived, plus
// 1 MiB, unless a free pooled buffer of the announced size exists (memory
// the broker holds already): a client that announces a large size and
// sends little costs little memory.
func (c *conn) readFrame() (frame []byte, fb *frameBuf, err error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return nil, nil, err
	}
	size := int32(binary.BigEndian.Uint32(hdr[:]))
	if size < 0 || int64(size) > int64(c.s.cfg.MaxRequestBytes) {
		return nil, nil, fmt.Errorf("%w: %d (socket.request.max.bytes is %d)", errFrameSize, size, c.s.cfg.MaxRequestBytes)
	}
	n := int(size)
	if !c.nextIsProduce(n) {
		frame, err := c.readAllocated(n)
		return frame, nil, err
	}
	fb, err = c.readPooled(n)
	if err != nil {
		return nil, nil, err
	}
	return fb.b[:n], fb, nil
}

// nextIsProduce reports whether the n-byte frame about to be read is a
// Produce request. The API key is its first two bytes: Peek waits for
// them, and when they do not come the frame's read reports why.
func (c *conn) nextIsProduce(n int) bool {
	if n < 2 {
		return false
	}
	k, err := c.br.Peek(2)
	return err == nil && binary.BigEndian.Uint16(k) == produceKey
}

// readAllocated reads an n-byte frame into a newly allocated buffer that
// grows as the bytes arrive.
func (c *conn) readAllocated(n int) ([]byte, error) {
	if n <= frameGrowStep {
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.br, buf); err != nil {
			return nil, unexpectedEOF(err)
		}
		return buf, nil
	}
	buf := make([]byte, 0, frameGrowStep)
	for len(buf) < n {
		want := min(n-len(buf), max(len(buf), frameGrowStep))
		if cap(buf)-len(buf) < want {
			buf = append(buf[:len(buf):len(buf)], make([]byte, want)...)[:len(buf)]
		}
		if _, err := io.ReadFull(c.br, buf[len(buf):len(buf)+want]); err != nil {
			return nil, unexpectedEOF(err)
		}
		buf = buf[:len(buf)+want]
	}
	return buf, nil
}

// readPooled reads an n-byte frame into a pooled buffer. A small frame, or
// one for which a free buffer is pooled, is read straight into it; a large
// one without grows through the pool's classes as its bytes arrive, as
// readAllocated does.
func (c *conn) readPooled(n int) (*frameBuf, error) {
	pool := &c.s.frames
	fb := pool.tryGet(n)
	if fb == nil && n <= frameGrowStep {
		fb = pool.get(n)
	}
	if fb != nil {
		if _, err := io.ReadFull(c.br, fb.b[:n]); err != nil {
			pool.put(fb)
			return nil, unexpectedEOF(err)
		}
		return fb, nil
	}
	fb = pool.get(frameGrowStep)
	have := 0
	for have < n {
		want := min(n-have, max(have, frameGrowStep))
		if len(fb.b) < have+want {
			bigger := pool.get(have + want)
			copy(bigger.b, fb.b[:have])
			pool.put(fb)
			fb = bigger
		}
		if _, err := io.ReadFull(c.br, fb.b[have:have+want]); err != nil {
			pool.put(fb)
			return nil, unexpectedEOF(err)
		}
		have += want
	}
	return fb, nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readFailed logs why the reader stopped.
func (c *conn) readFailed(err error) {
	switch {
	case errors.Is(err, errFrameSize):
		c.s.metrics.RequestRejected(c.info.Listener, -1)
		c.log.Warn("closing connection: invalid receive", "err", err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		// A graceful shutdown, or connections.max.idle: the replies in
		// flight are still written.
		if !c.s.stopping.Load() {
			c.log.Info("closing idle connection", "connections.max.idle", c.s.cfg.ConnectionsMaxIdle)
		}
	default:
		// The client is gone (or the socket broke): nobody will read the
		// replies in flight, so their work is cancelled, as Kafka drops
		// the in-flight responses of a disconnected channel.
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		case errors.Is(err, io.ErrUnexpectedEOF):
			c.log.Info("client closed the connection in the middle of a request")
		default:
			if c.ctx.Err() == nil {
				c.log.Info("connection read failed", "err", err)
			}
		}
		c.shutdown()
	}
}

// handle calls the handler, turning a panic or a nil reply into a closed
// connection.
func (c *conn) handle(req *Request) (reply *Reply, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic in request handler; closing connection",
				"api", kmsg.NameForKey(req.Key), "version", req.Version, "panic", v, "stack", string(debug.Stack()))
			reply, ok = nil, false
		}
	}()
	reply = c.s.cfg.Handler.Handle(c.ctx, req)
	if reply == nil {
		c.log.Error("request handler returned no reply; closing connection", "api", kmsg.NameForKey(req.Key), "version", req.Version)
		return nil, false
	}
	return reply, true
}

// resolve runs a reply's Then chain on its own goroutine.
func (c *conn) resolve(p *pending, r *Reply) {
	defer close(p.done)
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic in deferred reply; closing connection",
				"api", kmsg.NameForKey(p.req.Key), "version", p.req.Version, "panic", v, "stack", string(debug.Stack()))
			p.reply = &Reply{NoResponse: true, Close: true}
		}
	}()
	for r != nil && r.Then != nil {
		r = r.Then(c.ctx)
	}
	if r == nil {
		c.log.Error("deferred reply returned no reply; closing connection", "api", kmsg.NameForKey(p.req.Key), "version", p.req.Version)
		r = &Reply{NoResponse: true, Close: true}
	}
	p.reply = r
}

// discard drops a pending reply that will never be written, releasing its
// chunks once its Then (if any) is done. It never blocks.
func (c *conn) discard(p *pending) {
	if p.done == nil {
		c.dropped(p)
		return
	}
	go func() {
		<-p.done
		c.dropped(p)
	}()
}

func (c *conn) dropped(p *pending) {
	if p.reply != nil && p.reply.Body != nil {
		p.reply.Body.Release()
	}
	c.s.metrics.RequestDone(c.info.Listener, p.req.Key, p.req.Version, time.Since(p.received), p.size, 0, false)
	c.s.frames.put(p.frame)
	p.frame = nil
}

// write is the writer goroutine: replies out in request order. Replies
// already resolved are coalesced into one writev. It closes the connection
// when the reader has stopped and everything queued is written, on a write
// error, or after a reply that asks to close.
func (c *conn) write() {
	w := newSender(c)
	var (
		held    *pending // taken from the queue but not ready for this batch
		batch   []*pending
		closing bool
	)
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic while writing replies; closing connection", "panic", v, "stack", string(debug.Stack()))
		}
		w.abort()
		c.shutdown()
		for _, p := range batch {
			c.discard(p)
		}
		if held != nil {
			c.discard(held)
		}
		for p := range c.queue {
			c.discard(p)
		}
	}()
	for !closing {
		p := held
		held = nil
		if p == nil {
			var ok bool
			if p, ok = <-c.queue; !ok {
				return
			}
		}
		if p.done != nil {
			select {
			case <-p.done:
			case <-c.ctx.Done():
				held = p
				return
			}
		}
		batch = append(batch[:0], p)
		closing = c.encode(w, p)
		// Coalesce the replies that are ready right now.
	coalesce:
		for !closing && w.queued < 1<<20 {
			select {
			case q, ok := <-c.queue:
				if !ok {
					break coalesce
				}
				if q.done != nil && !isClosed(q.done) {
					held = q
					break coalesce
				}
				batch = append(batch, q)
				closing = c.encode(w, q)
			default:
				break coalesce
			}
		}
		if err := w.flush(); err != nil {
			if c.ctx.Err() == nil {
				c.log.Info("closing connection: write failed", "err", err)
			}
			return
		}
		now := time.Now()
		for _, q := range batch {
			c.s.metrics.RequestDone(c.info.Listener, q.req.Key, q.req.Version, now.Sub(q.received), q.size, q.out, q.written)
			c.s.frames.put(q.frame)
			q.frame = nil
		}
		batch = batch[:0]
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// encode queues p's reply on w and reports whether the connection must
// close after it.
func (c *conn) encode(w *sender, p *pending) (closeAfter bool) {
	r := p.reply
	switch {
	case r.NoResponse:
		if r.Body != nil {
			r.Body.Release()
		}
	case r.Body != nil:
		size := 4 + r.Body.Len()
		if flexibleResponseHeader(p.req) {
			size++
		}
		if size > math.MaxInt32 {
			c.log.Error("reply too large to frame; closing connection", "api", kmsg.NameForKey(p.req.Key), "size", size)
			r.Body.Release()
			return true
		}
		hdr := w.scratch()
		*hdr = appendResponseHeader(binary.BigEndian.AppendUint32((*hdr)[:0], uint32(size)), p.req)
		w.bytes(*hdr)
		w.chunks(r.Body)
		p.written, p.out = true, 4+size
	case r.Msg != nil:
		if r.Msg.Key() != p.req.Key {
			c.log.Error("handler replied with another API's response; closing connection",
				"api", kmsg.NameForKey(p.req.Key), "response", kmsg.NameForKey(r.Msg.Key()))
			return true
		}
		buf := w.scratch()
		b := append((*buf)[:0], 0, 0, 0, 0)
		b = appendResponseHeader(b, p.req)
		b = r.Msg.AppendTo(b)
		if len(b)-4 > math.MaxInt32 {
			c.log.Error("reply too large to frame; closing connection", "api", kmsg.NameForKey(p.req.Key), "size", len(b)-4)
			return true
		}
		binary.BigEndian.PutUint32(b, uint32(len(b)-4))
		*buf = b
		w.bytes(b)
		p.written, p.out = true, len(b)
	default:
		c.log.Error("handler reply has neither Msg, Body nor NoResponse; closing connection", "api", kmsg.NameForKey(p.req.Key))
		return true
	}
	return r.Close
}
