package server

import (
	"context"
	"encoding/binary"
	"log/slog"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// badInputMux serves ApiVersions 0-4 and Metadata 0-12 (a stub answering
// no topics); everything else is not served.
func badInputMux(t *testing.T) *Mux {
	m := newTestMux(t)
	m.Register(3, 0, 12, func(_ context.Context, req *Request) *Reply {
		resp := req.Msg.ResponseKind()
		return &Reply{Msg: resp}
	})
	return m
}

// header builds a request header v1 (v2 when tags is set) without a size.
func header(key, version int16, corr int32, clientID *string, tags bool) []byte {
	b := kbin.AppendInt16(nil, key)
	b = kbin.AppendInt16(b, version)
	b = kbin.AppendInt32(b, corr)
	b = kbin.AppendNullableString(b, clientID)
	if tags {
		b = append(b, 0)
	}
	return b
}

func sized(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func strp(s string) *string { return &s }

// TestBadInputClosesConnection sends, on a fresh connection each, a frame
// that Kafka answers by closing the connection, and checks that Sluice
// closes it too, logs why, and still serves a new connection afterwards.
func TestBadInputClosesConnection(t *testing.T) {
	const maxBytes = 4096
	ts := startServer(t, badInputMux(t), func(c *Config) { c.MaxRequestBytes = maxBytes })

	metadataV1 := func() []byte {
		// Metadata v1 announcing five topics and carrying none.
		b := header(3, 1, 1, strp("c"), false)
		return sized(kbin.AppendArrayLen(b, 5))
	}
	cases := []struct {
		name  string
		input []byte
		log   string // expected in a Warn line
	}{
		{"oversized frame", binary.BigEndian.AppendUint32(nil, maxBytes+1), "invalid receive"},
		{"negative size", []byte{0xff, 0xff, 0xff, 0xfe}, "invalid receive"},
		{"huge size", []byte{0x7f, 0xff, 0xff, 0xff}, "invalid receive"},
		{"empty frame", sized(nil), "truncated request header"},
		{"garbage header", sized([]byte("abc")), "truncated request header"},
		{"client id longer than the frame", sized(append(header(18, 0, 1, nil, false)[:8], 0x00, 0x50, 'a')), "truncated request header"},
		{"unknown api key", sized(header(9999, 0, 1, strp("c"), false)), "unknown API key 9999"},
		{"negative api key", sized(header(-1, 0, 1, strp("c"), false)), "unknown API key -1"},
		{"api key not served", sized(append(header(1, 4, 1, strp("c"), false), make([]byte, 40)...)), "is not enabled"},
		{"metadata version above range", sized(append(header(3, 13, 1, strp("c"), true), 1, 1, 0, 0)), "Metadata v13 is not supported"},
		{"metadata version far above range", sized(header(3, 99, 1, strp("c"), true)), "Metadata v99 is not supported"},
		{"metadata negative version", sized(header(3, -1, 1, strp("c"), false)), "Metadata v-1 is not supported"},
		{"truncated body", metadataV1(), "decode Metadata v1 body"},
		{"flexible header without its tag section", sized(header(3, 9, 1, strp("c"), false)), "tag section"},
		{"unsupported ApiVersions version with a truncated header", sized(header(18, 99, 1, strp("c"), false)), "tag section"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.logs.count(slog.LevelWarn, tc.log)
			c := dial(t, ts.addr)
			c.write(tc.input)
			c.expectClosed()
			waitFor(t, func() bool { return ts.logs.count(slog.LevelWarn, tc.log) > before },
				"a warning containing %q; logs:\n%s", tc.log, ts.logs)
			checkServing(t, ts.addr)
		})
	}
}

// TestUnsupportedApiVersionsVersion checks Kafka's exception to the rule
// above: ApiVersions at a version the broker does not serve is answered in
// v0 with UNSUPPORTED_VERSION and ApiVersions' own range, and the
// connection stays open.
func TestUnsupportedApiVersionsVersion(t *testing.T) {
	ts := startServer(t, badInputMux(t), nil)
	for _, v := range []int16{5, 99, -1, 0x7fff} {
		c := dial(t, ts.addr)
		resp := c.apiVersions(v)
		if resp.ErrorCode != 35 {
			t.Errorf("v%d: error code %d, want 35 (UNSUPPORTED_VERSION)", v, resp.ErrorCode)
		}
		if len(resp.ApiKeys) != 1 || resp.ApiKeys[0].ApiKey != 18 || resp.ApiKeys[0].MinVersion != 0 || resp.ApiKeys[0].MaxVersion != 4 {
			t.Errorf("v%d: ApiKeys %+v, want only ApiVersions 0-4", v, resp.ApiKeys)
		}
		// The same connection goes on, as a client retrying at v4 would.
		if again := c.apiVersions(4); again.ErrorCode != 0 || len(again.ApiKeys) != 2 {
			t.Errorf("v%d then v4 on the same connection: error %d, %d keys", v, again.ErrorCode, len(again.ApiKeys))
		}
	}
}

// TestClientDisconnectsMidRequest covers a client that goes away in the
// middle of a frame's size or body.
func TestClientDisconnectsMidRequest(t *testing.T) {
	ts := startServer(t, badInputMux(t), nil)
	for _, partial := range [][]byte{
		{0, 0},                                 // half a size
		append([]byte{0, 0, 0, 100}, 0, 18, 0), // a body cut short
	} {
		before := ts.logs.count(slog.LevelInfo, "middle of a request")
		c := dial(t, ts.addr)
		c.write(partial)
		c.c.Close()
		waitFor(t, func() bool { return ts.logs.count(slog.LevelInfo, "middle of a request") > before }, "the server to notice; logs:\n%s", ts.logs)
		checkServing(t, ts.addr)
	}
}

// TestManyConnections opens many connections at once, some well-behaved and
// some sending garbage, and checks that every well-behaved one is served.
func TestManyConnections(t *testing.T) {
	ts := startServer(t, badInputMux(t), nil)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, ts.addr)
			defer c.c.Close()
			if i%4 == 3 {
				c.c.Write(sized([]byte("not a kafka request")))
				return
			}
			req := kmsg.NewPtrApiVersionsRequest()
			req.SetVersion(int16(i % 4))
			req.ClientSoftwareName, req.ClientSoftwareVersion = "x", "1"
			id := "many"
			corr := int32(i)
			if _, err := c.c.Write(frame(req, corr, &id)); err != nil {
				errs <- err.Error()
				return
			}
			b, err := c.readFrame()
			if err != nil {
				errs <- err.Error()
				return
			}
			if got := int32(binary.BigEndian.Uint32(b)); got != corr {
				errs <- "wrong correlation id"
				return
			}
			resp := req.ResponseKind()
			if err := resp.ReadFrom(b[4:]); err != nil {
				errs <- err.Error()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	checkServing(t, ts.addr)
}
