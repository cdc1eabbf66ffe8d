package server

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// muteMux answers Metadata, muting the connection for the time the request's
// client id names ("mute" mutes for muteFor, anything else not at all), and records
// when each request reached the handler.
func muteMux(t *testing.T, muteFor time.Duration, handled chan<- time.Time, deferred bool) *Mux {
	m := newTestMux(t)
	m.Register(3, 0, 12, func(ctx context.Context, req *Request) *Reply {
		handled <- time.Now()
		resp := req.Msg.ResponseKind().(*kmsg.MetadataResponse)
		mute := func() {
			if req.ClientID != nil && *req.ClientID == "mute" {
				resp.ThrottleMillis = int32(muteFor.Milliseconds())
				req.Conn.Mute(muteFor)
			}
		}
		if !deferred {
			mute()
			return &Reply{Msg: resp}
		}
		return &Reply{Then: func(context.Context) *Reply {
			mute()
			return &Reply{Msg: resp}
		}}
	})
	return m
}

// TestMuteHoldsNextRequest: after a reply that mutes the connection, the next request a
// client sends at once (ignoring the throttle time) reaches the handler only once the
// mute has passed, whether the mute comes from Handle or from a Then; other connections
// are not held.
func TestMuteHoldsNextRequest(t *testing.T) {
	const muteFor = 300 * time.Millisecond
	for _, deferred := range []bool{false, true} {
		name := "Handle"
		if deferred {
			name = "Then"
		}
		t.Run(name, func(t *testing.T) {
			handled := make(chan time.Time, 16)
			ts := startServer(t, muteMux(t, muteFor, handled, deferred), nil)
			req := kmsg.NewPtrMetadataRequest()
			req.SetVersion(9)

			c := dial(t, ts.addr)
			id := "mute"
			c.write(frame(req, 1, &id))
			resp := c.recv(req, 1).(*kmsg.MetadataResponse)
			first := <-handled
			if resp.ThrottleMillis != int32(muteFor.Milliseconds()) {
				t.Fatalf("throttle %d ms", resp.ThrottleMillis)
			}
			// Another connection is served at once meanwhile.
			other := dial(t, ts.addr)
			free := "free"
			start := time.Now()
			other.write(frame(req, 1, &free))
			other.recv(req, 1)
			<-handled
			if d := time.Since(start); d > muteFor/2 {
				t.Errorf("another connection waited %v", d)
			}
			// The muted connection's next request waits out the mute.
			c.write(frame(req, 2, &free))
			c.recv(req, 2)
			second := <-handled
			if gap := second.Sub(first); gap < muteFor-10*time.Millisecond {
				t.Errorf("the next request was handled %v after the muting one; want >= %v", gap, muteFor)
			}
			// Unmuted now: a third request goes through at once.
			start = time.Now()
			c.write(frame(req, 3, &free))
			c.recv(req, 3)
			<-handled
			if d := time.Since(start); d > muteFor/2 {
				t.Errorf("an unmuted connection waited %v", d)
			}
		})
	}
}

// TestMutedConnectionShutdown: a graceful shutdown does not wait for a long mute.
func TestMutedConnectionShutdown(t *testing.T) {
	handled := make(chan time.Time, 4)
	ts := startServer(t, muteMux(t, time.Hour, handled, false), nil)
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(9)
	c := dial(t, ts.addr)
	id := "mute"
	c.write(frame(req, 1, &id))
	c.recv(req, 1)
	waitFor(t, func() bool { return ts.OpenConnections() == 1 }, "one open connection")
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v with a muted connection", d)
	}
	c.expectClosed()
}

// refusalMetrics counts refused connections too.
type refusalMetrics struct {
	countingMetrics
	refused atomic.Int32
}

func (m *refusalMetrics) ConnectionRefused(string, string) { m.refused.Add(1) }

// dialFrom connects to addr from the loopback address local.
func dialFrom(t *testing.T, local, addr string) *rawClient {
	t.Helper()
	d := net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c}
}

// TestMaxConnectionsPerIP: an address with max.connections.per.ip connections open has
// its next one closed, until one of its connections closes; an address with an override
// has its own bound; other addresses are not affected.
func TestMaxConnectionsPerIP(t *testing.T) {
	refused := &refusalMetrics{}
	ts := startServer(t, newTestMux(t), func(c *Config) {
		c.Limits = &ConnectionLimits{Max: NoLimit, PerIP: 2,
			PerIPOverrides: map[netip.Addr]int{netip.MustParseAddr("127.0.0.3"): 3}}
		c.Metrics = refused
	})
	a1, a2 := dialFrom(t, "127.0.0.2", ts.addr), dialFrom(t, "127.0.0.2", ts.addr)
	a1.apiVersions(3)
	a2.apiVersions(3)
	a3 := dialFrom(t, "127.0.0.2", ts.addr)
	a3.expectClosed()
	if n := refused.refused.Load(); n != 1 {
		t.Errorf("%d refusals counted, want 1", n)
	}
	ts.logs.waitLog(t, 0, "max.connections.per.ip")
	// The override allows three from 127.0.0.3, and 127.0.0.1 is counted apart.
	for range 3 {
		dialFrom(t, "127.0.0.3", ts.addr).apiVersions(3)
	}
	dialFrom(t, "127.0.0.3", ts.addr).expectClosed()
	dial(t, ts.addr).apiVersions(3)
	// A closed connection frees its address's slot.
	a1.c.Close()
	waitFor(t, func() bool { return ts.OpenConnections() == 5 }, "a1's close to be seen (open: %d)", ts.OpenConnections())
	dialFrom(t, "127.0.0.2", ts.addr).apiVersions(3)
	a2.apiVersions(3)
}

// TestMaxConnections: at max.connections, a new connection waits unserved until another
// closes, then is served; a protected (inter-broker) listener is served regardless.
func TestMaxConnections(t *testing.T) {
	ts := startServer(t, newTestMux(t), func(c *Config) {
		c.Listeners = append(c.Listeners, Listener{Name: "INTERNAL", Addr: "127.0.0.1:0"})
		c.Limits = &ConnectionLimits{Max: 2, PerIP: NoLimit, Protected: "INTERNAL"}
	})
	internal := ts.Addrs()[1].String()
	c1, c2 := dial(t, ts.addr), dial(t, ts.addr)
	c1.apiVersions(3)
	c2.apiVersions(3)
	c3 := dial(t, ts.addr) // TCP connects (the backlog), but is not served
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	c3.send(req)
	got := make(chan error, 1)
	go func() {
		_, err := c3.readFrame()
		got <- err
	}()
	// The inter-broker listener is served at the bound (and counts towards it).
	in := dial(t, internal)
	in.apiVersions(3)
	select {
	case err := <-got:
		t.Fatalf("a connection beyond max.connections was answered (err %v)", err)
	case <-time.After(200 * time.Millisecond): // the absence of an answer, given time to come
	}
	in.c.Close()
	c1.c.Close()
	if err := <-got; err != nil {
		t.Fatalf("after a slot freed: %v", err)
	}
}
