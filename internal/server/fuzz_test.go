package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fuzzMux serves every API kmsg knows at every version kmsg knows, each
// answering the default response, so that arbitrary input reaches every
// decoder and the reply encoder.
func fuzzMux() *Mux {
	m := NewMux()
	for key := int16(0); key < 200; key++ {
		req := kmsg.RequestForKey(key)
		if req == nil {
			continue
		}
		if key == 18 {
			m.Register(key, 0, 4, stubApiVersions(m))
			continue
		}
		m.Register(key, 0, req.MaxVersion(), func(_ context.Context, req *Request) *Reply {
			return &Reply{Msg: req.Msg.ResponseKind()}
		})
	}
	return m
}

// serveStream runs one connection over an in-memory pipe, feeding it input
// as the client's byte stream, and returns what the server logged.
func serveStream(t testing.TB, h Handler, input []byte) *logRecorder {
	logs := &logRecorder{}
	s, err := New(Config{
		Listeners:       []Listener{{Name: "FUZZ", Addr: "unused"}},
		MaxRequestBytes: 1 << 16,
		Handler:         h,
		Logger:          slog.New(logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	client, server := net.Pipe()
	c := newConn(s, "FUZZ", server)
	served := make(chan struct{})
	go func() {
		defer close(served)
		c.serve()
	}()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		io.Copy(io.Discard, client)
	}()
	client.Write(input) // fails once the server closes; that is fine
	client.Close()
	<-served
	<-drained
	return logs
}

// FuzzServeRequest feeds arbitrary bytes to a connection: framing, header
// and body decoding, dispatch and reply encoding must never panic (a
// recovered panic is logged at Error and fails the fuzz). Plain go test
// runs only the seeds; go test -fuzz=FuzzServeRequest explores.
func FuzzServeRequest(f *testing.F) {
	id := "fuzz"
	seed := func(req kmsg.Request, v int16) {
		req.SetVersion(v)
		f.Add(frame(req, 1, &id))
	}
	for v := int16(0); v <= 5; v++ {
		seed(kmsg.NewPtrApiVersionsRequest(), v)
	}
	for _, v := range []int16{0, 1, 4, 9, 12} {
		req := kmsg.NewPtrMetadataRequest()
		topic := kmsg.NewMetadataRequestTopic()
		topic.Topic = kmsg.StringPtr("t")
		req.Topics = append(req.Topics, topic)
		seed(req, v)
	}
	for _, v := range []int16{3, 7, 9, 11} {
		req := kmsg.NewPtrProduceRequest()
		topic := kmsg.NewProduceRequestTopic()
		topic.Topic = "t"
		part := kmsg.NewProduceRequestTopicPartition()
		part.Records = make([]byte, 70)
		topic.Partitions = append(topic.Partitions, part)
		req.Topics = append(req.Topics, topic)
		seed(req, v)
	}
	for _, v := range []int16{4, 11, 12, 13, 16} {
		seed(kmsg.NewPtrFetchRequest(), v)
	}
	seed(kmsg.NewPtrCreateTopicsRequest(), 5)
	seed(kmsg.NewPtrInitProducerIDRequest(), 4)
	// Two pipelined requests, then garbage.
	two := append(frame(kmsg.NewPtrApiVersionsRequest(), 1, &id), frame(kmsg.NewPtrMetadataRequest(), 2, nil)...)
	f.Add(append(two, 0, 0, 0, 3, 'a', 'b', 'c'))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 10, 0, 18, 0, 99, 0, 0, 0, 1, 0xff, 0xff})

	h := fuzzMux()
	f.Fuzz(func(t *testing.T, input []byte) {
		logs := serveStream(t, h, input)
		if n := logs.count(slog.LevelError, ""); n > 0 {
			t.Fatalf("errors logged for input %x:\n%s", input, logs.dump())
		}
	})
}
