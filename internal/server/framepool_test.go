package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"runtime"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestFrameClass(t *testing.T) {
	for _, tc := range []struct {
		n     int
		class int
		ok    bool
	}{
		{0, 0, true},
		{1, 0, true},
		{4096, 0, true},
		{4097, 1, true},
		{8192, 1, true},
		{1 << 20, 8, true},
		{1<<20 + 1, 9, true},
		{3 << 20, 10, true},
		{1 << 27, numFrameClasses - 1, true},
		{1<<27 + 1, 0, false},
	} {
		c, ok := frameClass(tc.n)
		if c != tc.class || ok != tc.ok {
			t.Errorf("frameClass(%d) = %d, %v; want %d, %v", tc.n, c, ok, tc.class, tc.ok)
		}
		if ok && 1<<(c+minFrameClassShift) < tc.n {
			t.Errorf("class %d of %d bytes holds fewer bytes", c, tc.n)
		}
	}
}

func TestFramePoolGetPut(t *testing.T) {
	var p framePool
	if fb := p.tryGet(5000); fb != nil {
		t.Fatalf("tryGet on an empty pool returned a buffer of %d bytes", len(fb.b))
	}
	fb := p.get(5000)
	if len(fb.b) != 8192 {
		t.Fatalf("get(5000): %d bytes, want the 8 KiB class", len(fb.b))
	}
	big := p.get(1<<27 + 1)
	if len(big.b) != 1<<27+1 {
		t.Fatalf("get above the largest class: %d bytes, want exactly the size asked", len(big.b))
	}
	// Neither a buffer of another size nor nil goes into a class.
	p.put(big)
	p.put(&frameBuf{b: make([]byte, 5000)})
	p.put(nil)
	if got := p.tryGet(5000); got != nil && cap(got.b) != 8192 {
		t.Fatalf("tryGet(5000) returned a buffer of %d bytes", cap(got.b))
	}
}

// produceRequest returns a Produce v9 request whose one partition carries
// records (not a valid batch: the handlers here only look at the bytes).
func produceRequest(records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks = 1
	req.TimeoutMillis = 1000
	topic := kmsg.NewProduceRequestTopic()
	topic.Topic = "t"
	part := kmsg.NewProduceRequestTopicPartition()
	part.Records = records
	topic.Partitions = append(topic.Partitions, part)
	req.Topics = append(req.Topics, topic)
	return req
}

// TestProduceFramesIntact sends Produce requests of sizes below, at and
// above the 1 MiB growth step, each with distinct content, several times
// over, so that later ones are read into reused buffers: the handler must
// see every byte the client sent.
func TestProduceFramesIntact(t *testing.T) {
	var mu sync.Mutex
	var got [][32]byte
	m := NewMux()
	m.Register(0, 3, 9, func(_ context.Context, req *Request) *Reply {
		r := req.Msg.(*kmsg.ProduceRequest)
		mu.Lock()
		got = append(got, sha256.Sum256(r.Topics[0].Partitions[0].Records))
		mu.Unlock()
		return &Reply{Msg: r.ResponseKind()}
	})
	ts := startServer(t, m, nil)
	c := dial(t, ts.addr)
	sizes := []int{10, 4000, 70000, 1<<20 - 100, 1 << 20, 1<<20 + 5000, 3 << 20, 5<<20 + 3}
	var want [][32]byte
	for round := range 3 {
		for i, n := range sizes {
			records := bytes.Repeat([]byte{byte(round*len(sizes) + i + 1)}, n)
			records[n/2] ^= 0xff // something that is not one repeated byte
			want = append(want, sha256.Sum256(records))
			req := produceRequest(records)
			c.recv(req, c.send(req))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("handler saw %d requests, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d (%d bytes): the handler saw other bytes than were sent", i, sizes[i%len(sizes)])
		}
	}
}

// TestOtherFramesNotReused: a handler may keep the byte fields of any
// request but Produce. A JoinGroup's protocol metadata, kept by the
// handler, must still hold what was sent after many Produce requests of
// the same size have gone through the connection.
func TestOtherFramesNotReused(t *testing.T) {
	var (
		mu   sync.Mutex
		kept [][]byte
	)
	m := NewMux()
	m.Register(11, 0, 9, func(_ context.Context, req *Request) *Reply {
		r := req.Msg.(*kmsg.JoinGroupRequest)
		mu.Lock()
		kept = append(kept, r.Protocols[0].Metadata)
		mu.Unlock()
		return &Reply{Msg: r.ResponseKind()}
	})
	m.Register(0, 3, 9, func(_ context.Context, req *Request) *Reply {
		return &Reply{Msg: req.Msg.ResponseKind()}
	})
	ts := startServer(t, m, nil)
	c := dial(t, ts.addr)
	const n = 6000
	var want [][]byte
	for i := range 20 {
		meta := bytes.Repeat([]byte{byte(i + 1)}, n)
		want = append(want, meta)
		join := kmsg.NewPtrJoinGroupRequest()
		join.SetVersion(5)
		join.Group, join.ProtocolType = "g", "consumer"
		join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = 10000, 10000
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "range", meta
		join.Protocols = append(join.Protocols, p)
		c.recv(join, c.send(join))
		prod := produceRequest(bytes.Repeat([]byte{0xee}, n))
		c.recv(prod, c.send(prod))
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range want {
		if !bytes.Equal(kept[i], want[i]) {
			t.Fatalf("JoinGroup %d: the metadata the handler kept was overwritten", i)
		}
	}
}

// TestProduceFramesReused checks that the server does reuse Produce frames.
// Without reuse, every frame is allocated at least once: 39 requests of
// 2 MiB would allocate at least the 78 MiB they carry. With it, they
// allocate next to nothing; the bound leaves room for the race detector,
// whose sync.Pool drops a quarter of what is put back.
func TestProduceFramesReused(t *testing.T) {
	m := NewMux()
	m.Register(0, 3, 9, func(_ context.Context, req *Request) *Reply {
		return &Reply{Msg: req.Msg.ResponseKind()}
	})
	ts := startServer(t, m, nil)
	c := dial(t, ts.addr)
	req := produceRequest(make([]byte, 2<<20-1024)) // the frame fits the 2 MiB class
	id := "test"
	const count = 40
	frames := make([][]byte, count)
	for i := range frames {
		frames[i] = frame(req, int32(i+1), &id)
	}
	// The first request fills the pool.
	c.write(frames[0])
	c.recv(req, 1)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 1; i < count; i++ {
		c.write(frames[i])
		c.recv(req, int32(i+1))
	}
	runtime.ReadMemStats(&after)
	carried := uint64(count-1) * uint64(len(frames[0]))
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > carried*3/4 {
		t.Fatalf("%d Produce requests of 2 MiB allocated %d MiB in the test process; want under %d MiB with frames reused",
			count-1, alloc>>20, carried*3/4>>20)
	}
}
