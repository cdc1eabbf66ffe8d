// Package nullbroker is a Kafka-protocol responder that stores nothing: it
// acknowledges Produce requests without keeping their records, and answers
// Fetch requests with copies of one record batch prepared in memory. Driven
// by the same client and workload as a real broker, it measures the
// client's own ceiling on this machine, the figure a broker's throughput is
// a fraction of.
//
// It serves ApiVersions, Metadata, Produce, Fetch, ListOffsets,
// InitProducerId and CreateTopics, with one node (id 0) leading every
// partition of every topic; an unknown topic exists as soon as it is named,
// with the default partition count.
package nullbroker

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/record"
)

// Config sets up a Broker.
type Config struct {
	// Partitions of a topic that is named before it is created (0: 3).
	Partitions int
	// RecordSize and BatchRecords shape the batch that fetches serve
	// (0: 1024 bytes, 16 records).
	RecordSize   int
	BatchRecords int
	Logger       *slog.Logger
}

// Broker is a running null broker.
type Broker struct {
	cfg   Config
	ln    net.Listener
	host  string
	port  int32
	batch []byte // the prepared batch, base offset 0

	mu       sync.Mutex
	topics   map[string]*topic
	byID     map[[16]byte]*topic
	nextPID  int64
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
	closed   bool
	closeErr error
}

type topic struct {
	name string
	id   [16]byte
	ends []int64 // per partition: offsets acknowledged so far; under Broker.mu
}

// maxFrame bounds a request, as socket.request.max.bytes does.
const maxFrame = 100 << 20

// Listen starts a null broker on addr ("127.0.0.1:0" for any free port).
func Listen(addr string, cfg Config) (*Broker, error) {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 3
	}
	if cfg.RecordSize <= 0 {
		cfg.RecordSize = 1024
	}
	if cfg.BatchRecords <= 0 {
		cfg.BatchRecords = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	batch, err := prepareBatch(cfg.RecordSize, cfg.BatchRecords)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("null broker listen: %w", err)
	}
	tcp := ln.Addr().(*net.TCPAddr)
	b := &Broker{cfg: cfg, ln: ln, host: tcp.IP.String(), port: int32(tcp.Port), batch: batch,
		topics: map[string]*topic{}, byID: map[[16]byte]*topic{}, nextPID: 1000, conns: map[net.Conn]struct{}{}}
	b.wg.Go(b.accept)
	return b, nil
}

// prepareBatch builds the batch fetches serve: random (incompressible)
// values, CreateTime timestamps of now.
func prepareBatch(size, n int) ([]byte, error) {
	r := rand.New(rand.NewPCG(1, 2))
	bld := record.NewBuilder(record.CodecNone)
	now := time.Now().UnixMilli()
	for range n {
		v := make([]byte, size)
		for i := range v {
			v[i] = byte(r.Uint32())
		}
		bld.Add(now, nil, v)
	}
	b, err := bld.Build(nil)
	if err != nil {
		return nil, fmt.Errorf("prepare fetch batch: %w", err)
	}
	return b, nil
}

// Addr is the address the broker listens on.
func (b *Broker) Addr() string { return net.JoinHostPort(b.host, strconv.Itoa(int(b.port))) }

// Close stops listening, closes every connection and waits for them.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return b.closeErr
	}
	b.closed = true
	b.closeErr = b.ln.Close()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
	return b.closeErr
}

// Serve blocks until ctx ends, then closes the broker.
func (b *Broker) Serve(ctx context.Context) error {
	<-ctx.Done()
	return b.Close()
}

func (b *Broker) accept() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			c.Close()
			return
		}
		b.conns[c] = struct{}{}
		b.mu.Unlock()
		b.wg.Go(func() {
			defer func() {
				b.mu.Lock()
				delete(b.conns, c)
				b.mu.Unlock()
				c.Close()
			}()
			if err := b.serve(c); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				b.cfg.Logger.Info("null broker: connection closed", "remote", c.RemoteAddr().String(), "err", err)
			}
		})
	}
}

// conn is one connection's reusable state: requests are answered in order,
// and responses are flushed when no further request is already buffered,
// so pipelined requests share a write.
type conn struct {
	br      *bufio.Reader
	bw      *bufio.Writer
	frame   []byte
	out     []byte
	records []byte
}

func (b *Broker) serve(nc net.Conn) error {
	c := &conn{br: bufio.NewReaderSize(nc, 256<<10), bw: bufio.NewWriterSize(nc, 256<<10)}
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
			return err
		}
		n := int32(binary.BigEndian.Uint32(hdr[:]))
		if n < 8 || n > maxFrame {
			return fmt.Errorf("frame size %d", n)
		}
		if cap(c.frame) < int(n) {
			c.frame = make([]byte, n)
		}
		frame := c.frame[:n]
		if _, err := io.ReadFull(c.br, frame); err != nil {
			return err
		}
		resp, err := b.handle(c, frame)
		if err != nil {
			return err
		}
		if resp != nil {
			if _, err := c.bw.Write(resp); err != nil {
				return err
			}
		}
		if c.br.Buffered() == 0 {
			if err := c.bw.Flush(); err != nil {
				return err
			}
		}
	}
}

// handle decodes one request and returns its framed response (nil: none).
func (b *Broker) handle(c *conn, frame []byte) ([]byte, error) {
	key := int16(binary.BigEndian.Uint16(frame))
	version := int16(binary.BigEndian.Uint16(frame[2:]))
	corr := binary.BigEndian.Uint32(frame[4:])
	req := kmsg.RequestForKey(key)
	if req == nil {
		return nil, fmt.Errorf("unknown api key %d", key)
	}
	req.SetVersion(version)
	body, err := skipHeader(frame[8:], req.IsFlexible())
	if err != nil {
		return nil, err
	}
	if err := req.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode %s v%d: %w", kmsg.NameForKey(key), version, err)
	}
	var resp kmsg.Response
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest:
		resp = b.apiVersions(r)
	case *kmsg.MetadataRequest:
		resp = b.metadata(r)
	case *kmsg.ProduceRequest:
		resp = b.produce(r)
		if r.Acks == 0 {
			return nil, nil
		}
	case *kmsg.FetchRequest:
		resp = b.fetch(c, r)
	case *kmsg.ListOffsetsRequest:
		resp = b.listOffsets(r)
	case *kmsg.InitProducerIDRequest:
		resp = b.initProducerID(r)
	case *kmsg.CreateTopicsRequest:
		resp = b.createTopics(r)
	default:
		return nil, fmt.Errorf("api %s is not served", kmsg.NameForKey(key))
	}
	out := append(c.out[:0], 0, 0, 0, 0)
	out = binary.BigEndian.AppendUint32(out, corr)
	if resp.IsFlexible() && key != 18 { // ApiVersions answers with a v0 header
		out = append(out, 0)
	}
	out = resp.AppendTo(out)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	c.out = out
	return out, nil
}

// skipHeader skips the client id and, for flexible versions, the header's
// tagged fields, returning the body.
func skipHeader(b []byte, flexible bool) ([]byte, error) {
	if len(b) < 2 {
		return nil, errors.New("short request header")
	}
	n := int16(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n > 0 {
		if len(b) < int(n) {
			return nil, errors.New("short client id")
		}
		b = b[n:]
	}
	if !flexible {
		return b, nil
	}
	tags, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errors.New("bad header tags")
	}
	b = b[k:]
	for range tags {
		if _, k = binary.Uvarint(b); k <= 0 {
			return nil, errors.New("bad header tag")
		}
		b = b[k:]
		size, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < size {
			return nil, errors.New("bad header tag size")
		}
		b = b[k+int(size):]
	}
	return b, nil
}

// served are the APIs answered, each at every version kmsg knows from the
// lowest the Kafka clients send.
var served = []struct{ key, min int16 }{
	{0, 3},  // Produce
	{1, 4},  // Fetch
	{2, 1},  // ListOffsets
	{3, 0},  // Metadata
	{18, 0}, // ApiVersions
	{19, 0}, // CreateTopics
	{22, 0}, // InitProducerId
}

func (b *Broker) apiVersions(r *kmsg.ApiVersionsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ApiVersionsResponse)
	for _, s := range served {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion = s.key, s.min
		k.MaxVersion = kmsg.RequestForKey(s.key).MaxVersion()
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp
}

// topicLocked returns the named topic, creating it with n partitions (the
// default when n <= 0). Under mu.
func (b *Broker) topicLocked(name string, n int) *topic {
	if t, ok := b.topics[name]; ok {
		return t
	}
	if n <= 0 {
		n = b.cfg.Partitions
	}
	sum := sha256.Sum256([]byte(name))
	t := &topic{name: name, ends: make([]int64, n)}
	copy(t.id[:], sum[:16])
	b.topics[name] = t
	b.byID[t.id] = t
	return t
}

// lookup finds a topic by name, or by ID when the name is empty.
func (b *Broker) lookupLocked(name *string, id [16]byte) *topic {
	if name != nil && *name != "" {
		return b.topicLocked(*name, 0)
	}
	return b.byID[id]
}

func (b *Broker) metadata(r *kmsg.MetadataRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	bk := kmsg.NewMetadataResponseBroker()
	bk.NodeID, bk.Host, bk.Port = 0, b.host, b.port
	resp.Brokers = append(resp.Brokers, bk)
	cluster := "null-broker"
	resp.ClusterID = &cluster
	resp.ControllerID = 0
	b.mu.Lock()
	defer b.mu.Unlock()
	var ts []*topic
	if r.Topics == nil {
		for _, t := range b.topics {
			ts = append(ts, t)
		}
	} else {
		for _, rt := range r.Topics {
			if t := b.lookupLocked(rt.Topic, rt.TopicID); t != nil {
				ts = append(ts, t)
			}
		}
	}
	for _, t := range ts {
		mt := kmsg.NewMetadataResponseTopic()
		name := t.name
		mt.Topic, mt.TopicID = &name, t.id
		for p := range t.ends {
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Partition, mp.Leader = int32(p), 0
			mp.Replicas, mp.ISR = []int32{0}, []int32{0}
			mt.Partitions = append(mt.Partitions, mp)
		}
		resp.Topics = append(resp.Topics, mt)
	}
	return resp
}

// produce acknowledges every batch, advancing the partition's offsets by
// the batch's record count, and keeps nothing.
func (b *Broker) produce(r *kmsg.ProduceRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, rt := range r.Topics {
		ot := kmsg.NewProduceResponseTopic()
		ot.Topic, ot.TopicID = rt.Topic, rt.TopicID
		name := &rt.Topic
		t := b.lookupLocked(name, rt.TopicID)
		for _, rp := range rt.Partitions {
			op := kmsg.NewProduceResponseTopicPartition()
			op.Partition = rp.Partition
			op.LogAppendTime, op.LogStartOffset = -1, 0
			h, err := record.ParseHeader(rp.Records)
			switch {
			case t == nil:
				op.ErrorCode = kerr.UnknownTopicID.Code
			case rp.Partition < 0 || int(rp.Partition) >= len(t.ends):
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case err != nil:
				op.ErrorCode = kerr.CorruptMessage.Code
			default:
				op.BaseOffset = t.ends[rp.Partition]
				t.ends[rp.Partition] += int64(h.NumRecords)
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp
}

// fetch answers every partition with copies of the prepared batch from the
// fetch offset, as many as fit the partition's max bytes (at least one).
// The high watermark is the end of what is returned, so a consumer always
// has more to read.
func (b *Broker) fetch(c *conn, r *kmsg.FetchRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	budget := int(r.MaxBytes)
	if budget <= 0 {
		budget = 50 << 20
	}
	per := int64(b.cfg.BatchRecords)
	c.records = c.records[:0]
	type span struct{ t, p, from, to int }
	var spans []span
	b.mu.Lock()
	for ti, rt := range r.Topics {
		ot := kmsg.NewFetchResponseTopic()
		ot.Topic, ot.TopicID = rt.Topic, rt.TopicID
		t := b.lookupLocked(&rt.Topic, rt.TopicID)
		for pi, rp := range rt.Partitions {
			op := kmsg.NewFetchResponseTopicPartition()
			op.Partition = rp.Partition
			if t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.ends) {
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
				op.HighWatermark, op.LastStableOffset, op.LogStartOffset = -1, -1, -1
				ot.Partitions = append(ot.Partitions, op)
				continue
			}
			copies := max(1, min(int(rp.PartitionMaxBytes), budget)/len(b.batch))
			if budget <= 0 {
				copies = 0
			}
			from := len(c.records)
			for i := range copies {
				at := len(c.records)
				c.records = append(c.records, b.batch...)
				record.SetBaseOffset(c.records[at:], rp.FetchOffset+int64(i)*per)
			}
			budget -= copies * len(b.batch)
			spans = append(spans, span{ti, pi, from, len(c.records)})
			end := rp.FetchOffset + int64(copies)*per
			op.HighWatermark, op.LastStableOffset, op.LogStartOffset = end, end, 0
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	b.mu.Unlock()
	// c.records is complete: slice it only now that it no longer moves.
	for _, s := range spans {
		resp.Topics[s.t].Partitions[s.p].RecordBatches = c.records[s.from:s.to]
	}
	return resp
}

func (b *Broker) listOffsets(r *kmsg.ListOffsetsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, rt := range r.Topics {
		ot := kmsg.NewListOffsetsResponseTopic()
		ot.Topic = rt.Topic
		t := b.topicLocked(rt.Topic, 0)
		for _, rp := range rt.Partitions {
			op := kmsg.NewListOffsetsResponseTopicPartition()
			op.Partition, op.Timestamp, op.LeaderEpoch = rp.Partition, -1, 0
			switch {
			case rp.Partition < 0 || int(rp.Partition) >= len(t.ends):
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rp.Timestamp == -1: // latest
				op.Offset = t.ends[rp.Partition]
			default: // earliest, and any timestamp: the log starts at 0
				op.Offset = 0
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp
}

func (b *Broker) initProducerID(r *kmsg.InitProducerIDRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	b.mu.Lock()
	b.nextPID++
	resp.ProducerID, resp.ProducerEpoch = b.nextPID, 0
	b.mu.Unlock()
	return resp
}

func (b *Broker) createTopics(r *kmsg.CreateTopicsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, rt := range r.Topics {
		ot := kmsg.NewCreateTopicsResponseTopic()
		ot.Topic = rt.Topic
		if _, ok := b.topics[rt.Topic]; ok {
			ot.ErrorCode = kerr.TopicAlreadyExists.Code
		} else {
			t := b.topicLocked(rt.Topic, int(rt.NumPartitions))
			ot.TopicID = t.id
			ot.NumPartitions, ot.ReplicationFactor = int32(len(t.ends)), 1
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp
}
