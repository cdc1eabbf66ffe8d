package server

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiVersionsKey is ApiVersions' API key. Its response header is always v0
// (no tag section), and a request for a version the broker does not serve
// is answered in v0 instead of closing the connection (KIP-511).
const apiVersionsKey = 18

// errBadRequest marks a request that closes the connection: Kafka's
// InvalidRequestException or UnsupportedVersionException, which its
// SocketServer answers by closing the channel with a log line.
var errBadRequest = errors.New("invalid request")

// decodeRequest parses one frame (the bytes after the 4-byte size): the
// request header v1 or v2, then the body with kmsg. ranger, when not nil,
// decides which keys and versions are served.
//
// The behaviour follows Kafka's SocketServer and RequestContext:
//   - an API key kmsg does not know, or one not served: closed connection;
//   - a version outside the served range: closed connection, except for
//     ApiVersions, which is passed on with an empty v0 body so that its
//     handler answers UNSUPPORTED_VERSION in v0. Such a request carries the
//     header version its asked version implies (v2 from v3 up), which is
//     parsed so that a malformed one still closes the connection;
//   - a truncated or malformed header or body: closed connection.
func decodeRequest(frame []byte, ranger VersionRanger) (*Request, error) {
	r := kbin.Reader{Src: frame}
	key := r.Int16()
	version := r.Int16()
	corr := r.Int32()
	clientID := r.NullableString()
	if !r.Ok() {
		return nil, fmt.Errorf("%w: truncated request header (%d bytes)", errBadRequest, len(frame))
	}
	req := &Request{Key: key, Version: version, CorrelationID: corr, ClientID: clientID}

	msg := kmsg.RequestForKey(key)
	if msg == nil {
		return req, fmt.Errorf("%w: unknown API key %d", errBadRequest, key)
	}
	min, max := int16(0), msg.MaxVersion()
	if ranger != nil {
		var ok bool
		if min, max, ok = ranger.VersionRange(key); !ok {
			return req, fmt.Errorf("%w: API %s (key %d) is not enabled", errBadRequest, kmsg.NameForKey(key), key)
		}
	}
	msg.SetVersion(version)
	// The header version follows the asked version, even for an
	// unsupported ApiVersions version (kmsg's IsFlexible is a comparison
	// with the first flexible version, so it answers for any version).
	if msg.IsFlexible() {
		skipTags(&r)
		if !r.Ok() {
			return req, fmt.Errorf("%w: truncated tag section in the request header of %s v%d", errBadRequest, kmsg.NameForKey(key), version)
		}
	}
	if version < min || version > max {
		if key != apiVersionsKey {
			return req, fmt.Errorf("%w: %s v%d is not supported (served: v%d-v%d)", errBadRequest, kmsg.NameForKey(key), version, min, max)
		}
		// Kafka treats it as a v0 request whose body is not parsed.
		v0 := kmsg.NewPtrApiVersionsRequest()
		v0.SetVersion(0)
		req.Msg = v0
		return req, nil
	}
	// Known issue (kmsg v1.15.0): kmsg's tagged-field loops keep counting
	// down after its reader has run out of input, so a flexible body whose
	// tag count is a uvarint near 2^32 costs about 100 s of CPU before
	// ReadFrom returns its error (a 2^24 count: 0.4 s). The fix belongs
	// upstream (stop the loop when the reader is no longer Ok); the header's
	// tags are skipped by skipTags above, which does stop.
	if err := msg.ReadFrom(r.Src); err != nil {
		return req, fmt.Errorf("%w: decode %s v%d body: %v", errBadRequest, kmsg.NameForKey(key), version, err)
	}
	req.Msg = msg
	return req, nil
}

// skipTags skips a tagged-field section. Unlike kmsg.SkipTags it stops at
// the first byte that is missing: a count near 2^32 in a few bytes of input
// must not cost billions of empty iterations.
func skipTags(r *kbin.Reader) {
	for n := r.Uvarint(); n > 0 && r.Ok(); n-- {
		r.Uvarint() // tag
		r.Span(int(r.Uvarint()))
	}
}

// appendResponseHeader appends the response header: the correlation id and,
// for flexible versions other than ApiVersions', an empty tag section
// (response header v1).
func appendResponseHeader(dst []byte, req *Request) []byte {
	dst = kbin.AppendInt32(dst, req.CorrelationID)
	if flexibleResponseHeader(req) {
		dst = append(dst, 0)
	}
	return dst
}

func flexibleResponseHeader(req *Request) bool {
	return req.Key != apiVersionsKey && req.Msg != nil && req.Msg.IsFlexible()
}
