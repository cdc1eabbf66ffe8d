package server

import (
	"context"
	"crypto/tls"
	"net"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ConnInfo describes the connection a request arrived on. It is shared by
// every request of one connection. Its fields never change after the
// connection is accepted; the security slot (SetSecurity) is the one part a
// handler may change: authentication happens in requests (SASL).
type ConnInfo struct {
	// ID is unique among this server's connections.
	ID uint64
	// Listener is the name of the listener that accepted the connection
	// (Kafka's listener name, for example PLAINTEXT).
	Listener string
	// Remote and Local are the connection's addresses.
	Remote, Local net.Addr

	// tlsConn is the connection's TLS layer, nil on a plaintext connection.
	tlsConn *tls.Conn
	// security is the security layer's per-connection state.
	security atomic.Value
	// mutedUntil (Unix nanoseconds) is when the reader may read the
	// connection's next request again (Mute).
	mutedUntil atomic.Int64
}

// Mute holds back the connection's next requests for d from now: the reader
// reads nothing more from the socket until then, which is how Kafka mutes
// the channel of a client it throttles (KIP-219). Requests already read are
// still handled and answered; a later Mute that ends sooner does not shorten
// the hold. It is safe to call from any goroutine (a Then continuation, say).
func (c *ConnInfo) Mute(d time.Duration) {
	if d <= 0 {
		return
	}
	until := time.Now().Add(d).UnixNano()
	for {
		cur := c.mutedUntil.Load()
		if cur >= until || c.mutedUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// MutedFor is how much longer the connection stays muted (0 when it is not).
func (c *ConnInfo) MutedFor() time.Duration {
	until := c.mutedUntil.Load()
	if until == 0 {
		return 0
	}
	return max(time.Until(time.Unix(0, until)), 0)
}

// asTLS returns nc's TLS layer, or nil.
func asTLS(nc net.Conn) *tls.Conn {
	tc, _ := nc.(*tls.Conn)
	return tc
}

// TLSState returns the TLS state of a TLS connection, and false on a plaintext one. The
// handshake comes before the first request, so a handler sees it complete, with the
// client's verified certificate chain if it sent one.
func (c *ConnInfo) TLSState() (tls.ConnectionState, bool) {
	if c.tlsConn == nil {
		return tls.ConnectionState{}, false
	}
	return c.tlsConn.ConnectionState(), true
}

// Security returns what SetSecurity stored last, or nil. The server itself never reads
// or sets it: it is the slot where the security layer (internal/server/api) keeps a
// connection's principal and SASL exchange.
func (c *ConnInfo) Security() any { return c.security.Load() }

// SetSecurity stores the connection's security state. Every call must store the same
// concrete type.
func (c *ConnInfo) SetSecurity(v any) { c.security.Store(v) }

// Request is one decoded request.
//
// Byte fields inside Msg (a produce request's record batches, for example)
// alias the frame the request was read into. The frame of a Produce request
// is reused for a later request once its reply has been written or dropped,
// so a Produce handler (Handle and any Then) must not keep its byte fields
// beyond that: appending them to a log, which copies them, is the use they
// are for. The frames of other APIs are never reused, so their handlers may
// keep byte fields.
type Request struct {
	// Key and Version are the API key and version of the request header.
	// For an ApiVersions request whose version is outside the served range,
	// Version is the version asked for while Msg is an empty v0 request
	// (Kafka's rule: such a request is answered in v0 and its body is not
	// parsed).
	Key, Version int16
	// CorrelationID is echoed in the response header by the server.
	CorrelationID int32
	// ClientID is the header's client id (nullable).
	ClientID *string
	// Msg is the decoded body, with its version set.
	Msg kmsg.Request
	// Conn is the connection the request came from.
	Conn *ConnInfo
	// Size is the request's size on the wire: its frame (header and body)
	// without the 4-byte size prefix, as Kafka's request.sizeInBytes, which
	// producer_byte_rate counts.
	Size int
}

// Reply is a handler's answer to one request. Exactly one of the following
// shapes is used:
//
//   - Msg: a kmsg response with its version set (req.Msg.ResponseKind()
//     gives one). The server writes the size, the response header and
//     Msg.AppendTo.
//   - Body: a response body framed by hand (everything after the response
//     header), such as a zero-copy Fetch response. The server writes the
//     size and the header, then the chunks, and releases them.
//   - NoResponse: nothing is written (Produce with acks=0).
//   - Then: the answer is not known yet; see Then.
//
// Close closes the connection after the reply (if any) has been written.
// On a Reply returned by Handle it also stops the reading at once, so no
// later request of the connection is handled (Kafka reads nothing more
// after an acks=0 produce error). On a Reply returned by Then, requests
// read meanwhile may already have been handled; their replies are dropped.
type Reply struct {
	Msg        kmsg.Response
	Body       *Chunks
	NoResponse bool
	Close      bool

	// Then, when set, lets a handler do its ordered work in Handle (an
	// append, say) and wait for something else afterwards (an fsync, the
	// ISR, a long poll) without holding up the connection's next request.
	//
	// The server calls Then in its own goroutine as soon as Handle returns,
	// so the waits of pipelined requests overlap, and writes the Reply it
	// returns in request order. Then must therefore be safe to run
	// concurrently with the Handle and Then calls of later requests. ctx is
	// cancelled when the connection closes or the server stops; Then should
	// then return promptly (any Reply; it is discarded). The returned Reply
	// may itself carry a Then. The other fields of a Reply with Then set are
	// ignored.
	Then func(ctx context.Context) *Reply
}

// Handler serves decoded requests. Handle is called on the connection's read
// goroutine, one request at a time and in the order the requests arrived,
// so that (for example) an idempotent producer's batches are appended in
// order. It must not block for long: anything that waits belongs in
// Reply.Then. A nil Reply is a handler bug: the server logs it and closes
// the connection.
type Handler interface {
	Handle(ctx context.Context, req *Request) *Reply
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) *Reply

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, req *Request) *Reply { return f(ctx, req) }

// VersionRanger is implemented by handlers that know which API keys and
// versions they serve (Mux does). The server asks it before decoding a
// body: a key it does not serve, or a version outside its range, closes the
// connection as Kafka does, except for ApiVersions, which is answered in v0
// with UNSUPPORTED_VERSION. Without it, the server accepts every version
// kmsg can decode.
type VersionRanger interface {
	VersionRange(key int16) (min, max int16, ok bool)
}
