package conformance

import (
	"errors"
	"log/slog"
	"maps"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fuzzWait bounds how long one fuzz input may keep its connection busy. A
// long-poll Fetch may legitimately take longer; such inputs are cut off,
// not failed.
const fuzzWait = time.Second

// seedRequests are valid requests of every advertised API at every
// advertised version, the fuzzer's starting points.
func seedRequests(t testing.TB) []kmsg.Request {
	topic := "fuzz-seed"
	now := nowMs()
	var out []kmsg.Request
	for _, key := range slices.Sorted(maps.Keys(shared.ranges)) {
		r := shared.ranges[key]
		for v := r[0]; v <= r[1]; v++ {
			var req kmsg.Request
			switch key {
			case 0:
				req = produceReq(v, topic, [16]byte{1}, 0, -1, simpleBatch(now, "seed", 2))
			case 1:
				f := fetchReq(v, topic, [16]byte{1}, 0, 0, 1<<20, 1<<20)
				f.MaxWaitMillis = 10
				req = f
			case 2:
				l := versioned(kmsg.NewPtrListOffsetsRequest(), v)
				rt := kmsg.NewListOffsetsRequestTopic()
				rt.Topic = topic
				rp := kmsg.NewListOffsetsRequestTopicPartition()
				rp.Timestamp = -1
				rt.Partitions = append(rt.Partitions, rp)
				l.Topics = append(l.Topics, rt)
				req = l
			case 3:
				m := metaReq(v, []string{topic})
				m.AllowAutoTopicCreation = true
				req = m
			case 18:
				a := versioned(kmsg.NewPtrApiVersionsRequest(), v)
				a.ClientSoftwareName, a.ClientSoftwareVersion = "fuzz", "1"
				req = a
			case 19:
				c := versioned(kmsg.NewPtrCreateTopicsRequest(), v)
				rt := kmsg.NewCreateTopicsRequestTopic()
				rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "fuzz-created", 1, 1
				cfg := kmsg.NewCreateTopicsRequestTopicConfig()
				cfg.Name, cfg.Value = "retention.ms", kmsg.StringPtr("60000")
				rt.Configs = append(rt.Configs, cfg)
				c.Topics = append(c.Topics, rt)
				req = c
			case 20:
				d := versioned(kmsg.NewPtrDeleteTopicsRequest(), v)
				if v >= 6 {
					dt := kmsg.NewDeleteTopicsRequestTopic()
					dt.Topic = kmsg.StringPtr("fuzz-created")
					d.Topics = append(d.Topics, dt)
				} else {
					d.TopicNames = []string{"fuzz-created"}
				}
				req = d
			case 22:
				req = versioned(kmsg.NewPtrInitProducerIDRequest(), v)
			default:
				// An empty request of the API: a valid encoding at
				// least, for the fuzzer to grow.
				req = kmsg.RequestForKey(key)
				req.SetVersion(v)
			}
			out = append(out, req)
		}
	}
	return out
}

// FuzzBrokerRequest sends arbitrary bytes as one request frame (the size
// is added) to the running broker, followed on the same connection by an
// ApiVersions v0 sentinel. The broker must either close the connection or
// answer: with a response whose correlation id is the request's and which
// decodes strictly at the request's version, then the sentinel's. Only a
// Produce (acks=0) may go unanswered on an open connection. Every input
// starts with a fresh connection, so a dead broker fails the next input,
// and a recovered panic in the broker's log fails the input that caused it.
//
// Plain `go test` runs the seeds: one valid frame of every advertised API
// at every advertised version, and some malformed ones.
func FuzzBrokerRequest(f *testing.F) {
	for i, req := range seedRequests(f) {
		f.Add(appendRequest(nil, req, int32(i), &clientID)[4:])
	}
	f.Add([]byte{})
	f.Add([]byte("garbage"))
	f.Add(header(18, 127, 9, true))
	f.Add(append(header(3, 1, 9, false), 0x40, 0, 0, 0))

	// Topics the seeds name, so that produce and fetch reach the log.
	c := dial(f, shared.addr)
	if mt := metadataTopic(f, c, "fuzz-seed"); mt.ErrorCode != 0 {
		createTopic(f, c, "fuzz-seed", 1, nil)
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 1<<20 {
			return
		}
		panicsBefore := shared.logs.count(slog.LevelError, "panic")
		conn, err := net.DialTimeout("tcp", shared.addr, ioTimeout)
		if err != nil {
			t.Fatalf("the broker no longer accepts connections: %v", err)
		}
		defer conn.Close()

		// What the frame claims to be, if its header parses.
		r := kbin.Reader{Src: body}
		key, version, corr := r.Int16(), r.Int16(), r.Int32()
		headerOK := r.Ok()
		sentinelCorr := int32(-7)
		if headerOK && corr == sentinelCorr {
			sentinelCorr = -8
		}
		sentinel := versioned(kmsg.NewPtrApiVersionsRequest(), 0)

		out := frame(body)
		out = appendRequest(out, sentinel, sentinelCorr, &clientID)
		conn.SetDeadline(time.Now().Add(fuzzWait))
		if _, err := conn.Write(out); err != nil {
			return // closed on us while writing: a refusal
		}

		first, err := readFrame(conn)
		switch {
		case errors.Is(err, errClosed), isTimeout(err):
			checkNoPanic(t, panicsBefore)
			return
		case err != nil:
			t.Fatalf("read the answer: %v", err)
		}
		if len(first) >= 4 && int32(first[0])<<24|int32(first[1])<<16|int32(first[2])<<8|int32(first[3]) == sentinelCorr {
			if !headerOK || key != 0 {
				t.Fatalf("%s v%d got no answer on an open connection (only acks=0 Produce may)", kmsg.NameForKey(key), version)
			}
			checkNoPanic(t, panicsBefore)
			return
		}
		if !headerOK {
			t.Fatalf("a frame with no parsable header was answered")
		}
		req := kmsg.RequestForKey(key)
		if req == nil {
			t.Fatalf("unknown API key %d was answered", key)
		}
		req.SetVersion(version)
		respVersion := version
		if key == 18 {
			if min, max := apiVersionsRange(); version < min || version > max {
				respVersion = 0
			}
		}
		if _, err := decodeResponse(req, respVersion, corr, first); err != nil {
			t.Fatalf("answer to %s v%d: %v", kmsg.NameForKey(key), version, err)
		}
		second, err := readFrame(conn)
		switch {
		case errors.Is(err, errClosed), isTimeout(err):
			// Closed after answering, or a slow answer; both are fine.
		case err != nil:
			t.Fatalf("read the sentinel's answer: %v", err)
		default:
			if _, err := decodeResponse(sentinel, 0, sentinelCorr, second); err != nil {
				t.Fatalf("sentinel after %s v%d: %v", kmsg.NameForKey(key), version, err)
			}
		}
		checkNoPanic(t, panicsBefore)
	})
}

// checkNoPanic fails when the broker logged a recovered panic since before.
func checkNoPanic(t *testing.T, before int) {
	t.Helper()
	if shared.logs.count(slog.LevelError, "panic") > before {
		t.Fatalf("the broker logged a panic:\n%s", shared.logs.matching(slog.LevelError, "panic"))
	}
}
