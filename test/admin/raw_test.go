package admin

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawConn sends kmsg requests at exactly the version set on them, which kgo
// does not (it picks the version and routes by resource), and decodes the
// answer strictly: the right correlation id, no trailing bytes.
type rawConn struct {
	t    testing.TB
	c    net.Conn
	corr int32
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c}
}

// do sends req (with its version already set) and returns the response.
func (r *rawConn) do(req kmsg.Request) kmsg.Response {
	r.t.Helper()
	resp, err := r.try(req)
	if err != nil {
		r.t.Fatalf("%s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp
}

func (r *rawConn) try(req kmsg.Request) (kmsg.Response, error) {
	r.corr++
	client := "sluice-admin-test"
	buf := []byte{0, 0, 0, 0}
	buf = kbin.AppendInt16(buf, req.Key())
	buf = kbin.AppendInt16(buf, req.GetVersion())
	buf = kbin.AppendInt32(buf, r.corr)
	buf = kbin.AppendNullableString(buf, &client)
	if req.IsFlexible() {
		buf = append(buf, 0)
	}
	buf = req.AppendTo(buf)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	_ = r.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.c.Write(buf); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(r.c, size[:]); err != nil {
		return nil, fmt.Errorf("read response size: %w", err)
	}
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r.c, frame); err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if len(frame) < 4 {
		return nil, fmt.Errorf("short response frame")
	}
	if corr := int32(binary.BigEndian.Uint32(frame)); corr != r.corr {
		return nil, fmt.Errorf("correlation id %d, want %d", corr, r.corr)
	}
	body := frame[4:]
	resp := req.ResponseKind()
	if resp.IsFlexible() && req.Key() != 18 {
		if len(body) == 0 || body[0] != 0 {
			return nil, fmt.Errorf("response header has tagged fields")
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	// ReadFrom ignores trailing bytes; re-encoding must give the same size.
	if n := len(resp.AppendTo(nil)); n != len(body) {
		return nil, fmt.Errorf("response body is %d bytes, but decodes to %d", len(body), n)
	}
	return resp, nil
}

// versioned sets req's version and returns it.
func versioned[R kmsg.Request](req R, v int16) R {
	req.SetVersion(v)
	return req
}
