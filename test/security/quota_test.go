package security

import (
	"bufio"
	"context"
	"crypto/rand"
	byteorder "encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/record"
)

// Client quotas, measured against a broker of their own: PLAINTEXT, with
// quota.window.num=2 so that a rate settles within a second or two of
// throttling (with Kafka's 11 one-second windows a client may first burst 10
// windows' worth, and a steady rate is seen only after 11 s), and
// max.connections.per.ip=3 for every address but 127.0.0.1.

const mib = 1 << 20

// quotaBroker starts a broker for one test and returns its address; it is stopped when
// the test ends.
func quotaBroker(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	props := strings.Join([]string{
		"node.id=1",
		"log.dirs=" + filepath.Join(dir, "data"),
		"http.addr=",
		"listeners=PLAINTEXT://" + addr,
		"quota.window.num=2",
		"quota.window.size.seconds=1",
		"max.connections.per.ip=3",
		"max.connections.per.ip.overrides=127.0.0.1:1000",
		"group.initial.rebalance.delay.ms=0",
	}, "\n") + "\n"
	propsPath := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(propsPath, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "sluice.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "server", "--config", propsPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("broker log:\n%s", tail(string(b), 6000))
			}
		}
	})
	deadline := time.Now().Add(readyTimeout)
	for {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = cl.Ping(ctx)
		cancel()
		cl.Close()
		if err == nil {
			return addr
		}
		select {
		case werr := <-exited:
			t.Fatalf("the broker exited before it was ready: %v", werr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broker did not answer within %v: %v", readyTimeout, err)
		}
		time.Sleep(50 * time.Millisecond) // between connection attempts to a starting process
	}
}

// setQuota sets a client-id entity's quota key.
func setQuota(t *testing.T, adm *kadm.Client, clientID, key string, value float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: []kadm.ClientQuotaEntityComponent{{Type: "client-id", Name: &clientID}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: key, Value: value}},
	}})
	if err == nil {
		for _, r := range res {
			if r.Err != nil {
				err = r.Err
			}
		}
	}
	if err != nil {
		t.Fatalf("set %s=%v for client id %s: %v", key, value, clientID, err)
	}
}

// throttles counts the throttle times a kgo client was given.
type throttles struct {
	mu    sync.Mutex
	n     int
	total time.Duration
}

func (h *throttles) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	if d > 0 {
		h.mu.Lock()
		h.n++
		h.total += d
		h.mu.Unlock()
	}
}

func (h *throttles) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// progress is a cumulative byte count over time, to measure a steady rate.
type progress struct {
	mu     sync.Mutex
	start  time.Time
	at     []time.Duration
	totals []int64
}

func newProgress() *progress { return &progress{start: time.Now()} }

func (p *progress) add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	total := int64(n)
	if len(p.totals) > 0 {
		total += p.totals[len(p.totals)-1]
	}
	p.at = append(p.at, time.Since(p.start))
	p.totals = append(p.totals, total)
}

// total is the bytes counted up to d after the start.
func (p *progress) total(d time.Duration) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for i, at := range p.at {
		if at > d {
			break
		}
		n = p.totals[i]
	}
	return n
}

// rate is the bytes per second counted between from and to after the start.
func (p *progress) rate(from, to time.Duration) float64 {
	return float64(p.total(to)-p.total(from)) / (to - from).Seconds()
}

// steadyRate is the bytes per second between from and to, as the least-squares slope of
// the cumulative count sampled every 10 ms. Throttled bytes come in bursts a second or
// two apart, so a rate taken from two points depends on where the bursts fall against
// them (by up to a burst over the span); the slope of the whole curve does not.
func (p *progress) steadyRate(from, to time.Duration) float64 {
	const step = 10 * time.Millisecond
	var n, sumX, sumY, sumXY, sumXX float64
	for at := from; at <= to; at += step {
		x, y := at.Seconds(), float64(p.total(at))
		n++
		sumX += x
		sumY += y
		sumXY += x * y
		sumXX += x * x
	}
	return (n*sumXY - sumX*sumY) / (n*sumXX - sumX*sumX)
}

// within reports whether got is within frac of want.
func within(got, want, frac float64) bool { return math.Abs(got-want) <= frac*want }

// TestConsumerByteRate: a consumer whose client id has consumer_byte_rate=1 MiB/s reads
// at 1 MiB/s within 10%, measured once the first window's allowance is spent, while an
// unthrottled consumer reading the same topic beside it is never throttled and reads many
// times faster.
func TestConsumerByteRate(t *testing.T) {
	addr := quotaBroker(t)
	// Uncompressed random values: the bytes counted are the bytes fetched.
	cl := client(t, addr, kgo.ProducerLinger(0), kgo.ProducerBatchMaxBytes(64<<10),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	adm := kadm.NewClient(cl)
	topic := unique(t, "bytes")
	createTopic(t, adm, topic)
	const total = 14 * mib
	value := make([]byte, 8<<10)
	rand.Read(value)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range total / len(value) {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	setQuota(t, adm, "slow-consumer", "consumer_byte_rate", mib)

	consumer := func(id string, h *throttles, extra ...kgo.Opt) *kgo.Client {
		opts := append([]kgo.Opt{kgo.ClientID(id), kgo.ConsumeTopics(topic), kgo.WithHooks(h),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, extra...)
		return client(t, addr, opts...)
	}
	// Small fetches, so that bytes arrive smoothly enough to measure over seconds.
	var slowThrottles, fastThrottles throttles
	slow := consumer("slow-consumer", &slowThrottles, kgo.FetchMaxBytes(64<<10), kgo.FetchMaxPartitionBytes(64<<10))

	const measureFrom, measureTo = 2 * time.Second, 9 * time.Second
	slowProgress := newProgress()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(ctx, measureTo+500*time.Millisecond)
		defer cancel()
		for ctx.Err() == nil {
			fs := slow.PollFetches(ctx)
			n := 0
			fs.EachRecord(func(r *kgo.Record) { n += len(r.Value) })
			if n > 0 {
				slowProgress.add(n)
			}
		}
	}()
	// Meanwhile, once a second, an unthrottled consumer reads the whole topic.
	produced := total / len(value) * len(value)
	var passes []float64 // MiB/s of each pass
	go func() {
		defer wg.Done()
		for start := time.Now(); time.Since(start) < measureTo; {
			pass := time.Now()
			fast := consumer("fast-consumer", &fastThrottles)
			n := 0
			for n < produced && ctx.Err() == nil {
				fs := fast.PollFetches(ctx)
				fs.EachRecord(func(r *kgo.Record) { n += len(r.Value) })
			}
			fast.Close()
			passes = append(passes, float64(n)/time.Since(pass).Seconds()/mib)
			select {
			case <-time.After(time.Until(pass.Add(time.Second))): // the next pass's start
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()

	slowest := math.Inf(1)
	for _, r := range passes {
		slowest = min(slowest, r)
	}
	got := slowProgress.steadyRate(measureFrom, measureTo) / mib
	t.Logf("throttled consumer: %.3f MiB/s from %v to %v (%d throttled responses); unthrottled beside it: %d passes over the topic, the slowest at %.1f MiB/s (%d throttled responses)",
		got, measureFrom, measureTo, slowThrottles.count(), len(passes), slowest, fastThrottles.count())
	if !within(got, 1, 0.10) {
		var perSecond []string
		for s := time.Duration(0); s < measureTo; s += time.Second {
			perSecond = append(perSecond, fmt.Sprintf("%.2f", slowProgress.rate(s, s+time.Second)/mib))
		}
		t.Errorf("throttled consumer read %.3f MiB/s, want 1 MiB/s within 10%% (MiB/s in each second: %s)", got, strings.Join(perSecond, " "))
	}
	if slowThrottles.count() == 0 {
		t.Error("the throttled consumer was never given a throttle time")
	}
	if fastThrottles.count() != 0 {
		t.Errorf("the unthrottled consumer was throttled %d times", fastThrottles.count())
	}
	if len(passes) < 5 || slowest < 10 {
		t.Errorf("the unthrottled consumer made %d passes, the slowest at %.1f MiB/s; want one a second, each well above the quota (>= 10 MiB/s)", len(passes), slowest)
	}
}

// rawConn speaks the Kafka framing by hand, as a client that ignores throttle_time_ms.
type rawConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, local, addr string) (*rawConn, error) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{c: c, r: bufio.NewReader(c)}, nil
}

// frame encodes req with a v1 or v2 request header.
func frame(req kmsg.Request, corr int32, clientID string) []byte {
	b := make([]byte, 4, 64)
	b = kbin.AppendInt16(b, req.Key())
	b = kbin.AppendInt16(b, req.GetVersion())
	b = kbin.AppendInt32(b, corr)
	b = kbin.AppendNullableString(b, &clientID)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	byteorder.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// read reads one response to a request of req's kind.
func (c *rawConn) read(req kmsg.Request, deadline time.Time) (kmsg.Response, error) {
	c.c.SetReadDeadline(deadline)
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return nil, err
	}
	b := make([]byte, byteorder.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(c.r, b); err != nil {
		return nil, err
	}
	b = b[4:] // correlation id
	if req.IsFlexible() && req.Key() != 18 {
		b = b[1:] // empty tag section
	}
	resp := req.ResponseKind()
	return resp, resp.ReadFrom(b)
}

// TestProduceMutedIgnoringThrottle: a client with producer_byte_rate=1 MiB/s that
// ignores throttle_time_ms, writing Produce requests back to back without waiting for
// their responses, is still held to 1 MiB/s within 10%: the broker does not read its next
// request until the throttle time has passed. An unthrottled client doing the same beside
// it, for a second in the middle, runs many times faster.
func TestProduceMutedIgnoringThrottle(t *testing.T) {
	addr := quotaBroker(t)
	cl := client(t, addr)
	adm := kadm.NewClient(cl)
	topic := unique(t, "rude")
	createTopic(t, adm, topic)
	setQuota(t, adm, "rude-producer", "producer_byte_rate", mib)

	value := make([]byte, 64<<10)
	batch, err := record.NewBuilder(record.CodecNone).Add(time.Now().UnixMilli(), nil, value).Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks, req.TimeoutMillis = 1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

	// blast writes requests back to back for d and returns the acknowledged bytes over
	// time and the largest throttle time answered.
	blast := func(clientID string, d time.Duration) (*progress, int32) {
		p := newProgress()
		c, err := dialRaw(t, "", addr)
		if err != nil {
			t.Error(err)
			return p, 0
		}
		stop := time.Now().Add(d)
		go func() {
			for corr := int32(1); time.Now().Before(stop); corr++ {
				c.c.SetWriteDeadline(stop)
				if _, err := c.c.Write(frame(req, corr, clientID)); err != nil {
					return // the deadline
				}
			}
		}()
		var maxThrottle int32
		for {
			resp, err := c.read(req, stop)
			if err != nil {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Errorf("%s: read: %v", clientID, err)
				}
				return p, maxThrottle
			}
			pr := resp.(*kmsg.ProduceResponse)
			if code := pr.Topics[0].Partitions[0].ErrorCode; code != 0 {
				t.Errorf("%s: produce error %d", clientID, code)
				return p, maxThrottle
			}
			maxThrottle = max(maxThrottle, pr.ThrottleMillis)
			p.add(len(value))
		}
	}

	const measureFrom, measureTo = 2 * time.Second, 8 * time.Second
	var freeRate float64
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(4 * time.Second) // into the throttled client's measured stretch
		free, _ := blast("free-producer", time.Second)
		freeRate = free.rate(0, time.Second) / mib
	}()
	rude, maxThrottle := blast("rude-producer", measureTo)
	<-done
	got := rude.steadyRate(measureFrom, measureTo) / mib
	t.Logf("producer ignoring throttles: %.3f MiB/s from %v to %v (largest throttle %d ms); unthrottled beside it: %.1f MiB/s",
		got, measureFrom, measureTo, maxThrottle, freeRate)
	if !within(got, 1, 0.10) {
		t.Errorf("a producer ignoring throttle_time_ms wrote %.3f MiB/s, want 1 MiB/s within 10%%", got)
	}
	if maxThrottle <= 0 {
		t.Error("no response carried a throttle time")
	}
	if freeRate < 10 {
		t.Errorf("the unthrottled producer wrote %.1f MiB/s, want well above the quota (>= 10 MiB/s)", freeRate)
	}
}

// TestRequestPercentage: a client that hammers the broker with Metadata requests, each as
// soon as the last is answered and throttle times ignored, with request_percentage=0.2
// (0.2% of one thread's time: a Metadata request keeps the broker busy for microseconds,
// and an unthrottled hammer here uses a few percent), gets throttle times of at most one
// quota window and completes far fewer requests than an unthrottled client doing the same.
func TestRequestPercentage(t *testing.T) {
	addr := quotaBroker(t)
	cl := client(t, addr)
	adm := kadm.NewClient(cl)
	createTopic(t, adm, unique(t, "meta"))
	setQuota(t, adm, "hammer", "request_percentage", 0.2)

	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(12)
	// hammer sends Metadata requests one after another (each as soon as the previous is
	// answered, throttle time ignored) for d; it returns how many were answered and the
	// largest throttle time.
	hammer := func(clientID string, d time.Duration) (int, int32) {
		c, err := dialRaw(t, "", addr)
		if err != nil {
			t.Fatal(err)
		}
		stop := time.Now().Add(d)
		n, maxThrottle := 0, int32(0)
		for corr := int32(1); time.Now().Before(stop); corr++ {
			c.c.SetWriteDeadline(stop.Add(2 * time.Second))
			if _, err := c.c.Write(frame(req, corr, clientID)); err != nil {
				t.Fatalf("%s: write: %v", clientID, err)
			}
			resp, err := c.read(req, stop.Add(2*time.Second))
			if err != nil {
				t.Fatalf("%s: read: %v", clientID, err)
			}
			n++
			maxThrottle = max(maxThrottle, resp.(*kmsg.MetadataResponse).ThrottleMillis)
		}
		return n, maxThrottle
	}
	const d = 3 * time.Second
	free, freeThrottle := hammer("free-hammer", d)
	throttled, maxThrottle := hammer("hammer", d)
	t.Logf("in %v: unthrottled client %d Metadata requests (largest throttle %d ms), request_percentage=0.2 client %d (largest throttle %d ms)",
		d, free, freeThrottle, throttled, maxThrottle)
	if maxThrottle <= 0 || maxThrottle > 1000 {
		t.Errorf("largest throttle time %d ms, want > 0 and at most one quota window (1000 ms)", maxThrottle)
	}
	if freeThrottle != 0 {
		t.Errorf("the unthrottled client was given %d ms", freeThrottle)
	}
	if throttled == 0 || throttled*5 > free {
		t.Errorf("the throttled client completed %d requests, the unthrottled %d: want at most a fifth", throttled, free)
	}
}

// TestMaxConnectionsPerIP: with max.connections.per.ip=3, an address with three
// connections open has its fourth closed by the broker at once; once one of its
// connections closes, it may connect again. 127.0.0.1 (overridden to 1000) is not held.
func TestMaxConnectionsPerIP(t *testing.T) {
	addr := quotaBroker(t)
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "quota-test", "1"
	served := func(c *rawConn) error {
		c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.c.Write(frame(req, 1, "conns")); err != nil {
			return err
		}
		_, err := c.read(req, time.Now().Add(5*time.Second))
		return err
	}
	var conns []*rawConn
	for i := range 3 {
		c, err := dialRaw(t, "127.0.0.2", addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := served(c); err != nil {
			t.Fatalf("connection %d from 127.0.0.2: %v", i+1, err)
		}
		conns = append(conns, c)
	}
	extra, err := dialRaw(t, "127.0.0.2", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := served(extra); err == nil {
		t.Fatal("a fourth connection from 127.0.0.2 was served, beyond max.connections.per.ip=3")
	} else if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the fourth connection was left open unanswered, not closed: %v", err)
	}
	for range 5 { // 127.0.0.1 is overridden
		c, err := dialRaw(t, "127.0.0.1", addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := served(c); err != nil {
			t.Fatalf("127.0.0.1: %v", err)
		}
	}
	conns[0].c.Close()
	// The broker sees the close shortly after; poll until a new connection is served.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := dialRaw(t, "127.0.0.2", addr)
		if err != nil {
			t.Fatal(err)
		}
		if err = served(c); err == nil {
			break
		}
		c.c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("no new connection from 127.0.0.2 served after one closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // between attempts while the close is seen
	}
}
