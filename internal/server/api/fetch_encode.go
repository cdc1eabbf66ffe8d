// Package api: the Fetch response encoder (key 1), versions 4-18.
//
// Behaviour: frames a Fetch response by hand around each partition's record
// batches, so that they can go from a segment file to the socket with
// sendfile (DESIGN §1.6): kmsg only encodes bytes held in memory. Every
// other field is written exactly as kmsg's FetchResponse.AppendTo writes it
// (the tests compare the bytes for every version), including the flexible
// versions' (v12+) tagged fields: per partition DivergingEpoch (tag 0),
// CurrentLeader (1) and SnapshotID (2) when they differ from their defaults,
// the top-level NodeEndpoints (kmsg's Brokers, tag 0) when not empty, and
// any unknown tags. Records are NULLABLE_BYTES: an int32 length, or from v12
// a uvarint of length+1, with null for a partition without records.
package api

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

// The Fetch response versions EncodeFetchResponse frames.
const (
	FetchEncodeMinVersion = 4
	FetchEncodeMaxVersion = 18
)

// Records is one partition's record batches in a Fetch response: bytes in
// memory or a region of a segment file. AppendTo must append exactly Len
// bytes (EncodeFetchResponse checks).
type Records interface {
	Len() int
	AppendTo(c *server.Chunks)
}

// RecordBytes are records held in memory.
type RecordBytes []byte

// Len returns len(b).
func (b RecordBytes) Len() int { return len(b) }

// AppendTo appends b to c without copying it.
func (b RecordBytes) AppendTo(c *server.Chunks) { c.AppendBytes(b) }

// EncodeFetchResponse encodes resp (everything after the response header)
// into a Chunks for a server.Reply's Body. records(t, p) gives the records
// of resp.Topics[t].Partitions[p]; when records is nil or returns nil, that
// partition's RecordBatches field is written instead (nil meaning null).
//
// Ownership: every non-nil Records the callback returns is appended to the
// Chunks, which then owns it (its file regions are released by
// Chunks.Release), including when an error is returned: the Chunks is then
// released before returning nil. The callback is called once per partition,
// in order, and never when the version is outside 4-18; so a caller only
// ever releases the records it did not hand over.
//
// Errors: a version outside 4-18, or a Records whose AppendTo did not append
// Len bytes (a bug in that Records).
func EncodeFetchResponse(resp *kmsg.FetchResponse, records func(topic, partition int) Records) (*server.Chunks, error) {
	v := resp.Version
	if v < FetchEncodeMinVersion || v > FetchEncodeMaxVersion {
		return nil, fmt.Errorf("encode fetch response: version %d outside %d-%d", v, FetchEncodeMinVersion, FetchEncodeMaxVersion)
	}
	e := fetchEncoder{v: v, flex: v >= 12, c: &server.Chunks{}, buf: make([]byte, 0, 256)}
	e.response(resp, records)
	if e.err != nil {
		e.c.Release()
		return nil, e.err
	}
	e.flush()
	return e.c, nil
}

type fetchEncoder struct {
	v    int16
	flex bool
	c    *server.Chunks
	// buf holds the bytes encoded since the last records region; start
	// is where they begin. Slices handed to c are never written again:
	// later appends go past them.
	buf     []byte
	start   int
	scratch []byte // tagged-field contents, to measure their size
	// err is the first Records that appended other than its Len; the
	// encoding goes on so that every Records is handed over.
	err error
}

// flush hands the pending bytes to the Chunks.
func (e *fetchEncoder) flush() {
	if len(e.buf) > e.start {
		e.c.AppendBytes(e.buf[e.start:len(e.buf):len(e.buf)])
	}
	e.start = len(e.buf)
}

func (e *fetchEncoder) arrayLen(n int) {
	if e.flex {
		e.buf = kbin.AppendCompactArrayLen(e.buf, n)
	} else {
		e.buf = kbin.AppendArrayLen(e.buf, n)
	}
}

// appendUnknownTags writes a tag section holding only unknown tags (none,
// usually).
func appendUnknownTags(dst []byte, t *kmsg.Tags) []byte {
	dst = kbin.AppendUvarint(dst, uint32(t.Len()))
	return t.AppendEach(dst)
}

func (e *fetchEncoder) response(resp *kmsg.FetchResponse, records func(int, int) Records) {
	v := e.v
	if v >= 1 {
		e.buf = kbin.AppendInt32(e.buf, resp.ThrottleMillis)
	}
	if v >= 7 {
		e.buf = kbin.AppendInt16(e.buf, resp.ErrorCode)
		e.buf = kbin.AppendInt32(e.buf, resp.SessionID)
	}
	e.arrayLen(len(resp.Topics))
	for ti := range resp.Topics {
		t := &resp.Topics[ti]
		if v <= 12 {
			if e.flex {
				e.buf = kbin.AppendCompactString(e.buf, t.Topic)
			} else {
				e.buf = kbin.AppendString(e.buf, t.Topic)
			}
		}
		if v >= 13 {
			e.buf = kbin.AppendUuid(e.buf, t.TopicID)
		}
		e.arrayLen(len(t.Partitions))
		for pi := range t.Partitions {
			var r Records
			if records != nil {
				r = records(ti, pi)
			}
			if err := e.partition(&t.Partitions[pi], r); err != nil && e.err == nil {
				e.err = fmt.Errorf("encode fetch response: topic %d partition %d: %w", ti, pi, err)
			}
		}
		if e.flex {
			e.buf = appendUnknownTags(e.buf, &t.UnknownTags)
		}
	}
	if e.flex {
		n := boolInt(len(resp.Brokers) > 0)
		e.buf = kbin.AppendUvarint(e.buf, uint32(n+resp.UnknownTags.Len()))
		if len(resp.Brokers) > 0 {
			s := kbin.AppendCompactArrayLen(e.scratch[:0], len(resp.Brokers))
			for i := range resp.Brokers {
				b := &resp.Brokers[i]
				s = kbin.AppendInt32(s, b.NodeID)
				s = kbin.AppendCompactString(s, b.Host)
				s = kbin.AppendInt32(s, b.Port)
				s = kbin.AppendCompactNullableString(s, b.Rack)
				s = appendUnknownTags(s, &b.UnknownTags)
			}
			e.tag(0, s)
		}
		e.buf = resp.UnknownTags.AppendEach(e.buf)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// tag appends one tagged field: its key, the size of its contents, then
// the contents (built in e.scratch).
func (e *fetchEncoder) tag(key uint32, contents []byte) {
	e.buf = kbin.AppendUvarint(e.buf, key)
	e.buf = kbin.AppendUvarint(e.buf, uint32(len(contents)))
	e.buf = append(e.buf, contents...)
	e.scratch = contents[:0]
}

func (e *fetchEncoder) partition(p *kmsg.FetchResponseTopicPartition, r Records) error {
	v := e.v
	e.buf = kbin.AppendInt32(e.buf, p.Partition)
	e.buf = kbin.AppendInt16(e.buf, p.ErrorCode)
	e.buf = kbin.AppendInt64(e.buf, p.HighWatermark)
	e.buf = kbin.AppendInt64(e.buf, p.LastStableOffset) // v4+
	if v >= 5 {
		e.buf = kbin.AppendInt64(e.buf, p.LogStartOffset)
	}
	if e.flex {
		e.buf = kbin.AppendCompactNullableArrayLen(e.buf, len(p.AbortedTransactions), p.AbortedTransactions == nil)
	} else {
		e.buf = kbin.AppendNullableArrayLen(e.buf, len(p.AbortedTransactions), p.AbortedTransactions == nil)
	}
	for i := range p.AbortedTransactions {
		a := &p.AbortedTransactions[i]
		e.buf = kbin.AppendInt64(e.buf, a.ProducerID)
		e.buf = kbin.AppendInt64(e.buf, a.FirstOffset)
		if e.flex {
			e.buf = appendUnknownTags(e.buf, &a.UnknownTags)
		}
	}
	if v >= 11 {
		e.buf = kbin.AppendInt32(e.buf, p.PreferredReadReplica)
	}
	if r == nil {
		if e.flex {
			e.buf = kbin.AppendCompactNullableBytes(e.buf, p.RecordBatches)
		} else {
			e.buf = kbin.AppendNullableBytes(e.buf, p.RecordBatches)
		}
	} else {
		n := r.Len()
		if e.flex {
			e.buf = kbin.AppendUvarint(e.buf, uint32(n)+1)
		} else {
			e.buf = kbin.AppendInt32(e.buf, int32(n))
		}
		e.flush()
		before := e.c.Len()
		r.AppendTo(e.c)
		if got := e.c.Len() - before; got != n {
			return fmt.Errorf("records appended %d bytes, announced %d", got, n)
		}
	}
	if !e.flex {
		return nil
	}
	de, cl, sn := p.DivergingEpoch, p.CurrentLeader, p.SnapshotID
	hasDE := de.Epoch != -1 || de.EndOffset != -1 || de.UnknownTags.Len() > 0
	hasCL := cl.LeaderID != -1 || cl.LeaderEpoch != -1 || cl.UnknownTags.Len() > 0
	hasSN := sn.EndOffset != -1 || sn.Epoch != -1 || sn.UnknownTags.Len() > 0
	e.buf = kbin.AppendUvarint(e.buf, uint32(boolInt(hasDE)+boolInt(hasCL)+boolInt(hasSN)+p.UnknownTags.Len()))
	if hasDE {
		s := kbin.AppendInt32(e.scratch[:0], de.Epoch)
		s = kbin.AppendInt64(s, de.EndOffset)
		e.tag(0, appendUnknownTags(s, &de.UnknownTags))
	}
	if hasCL {
		s := kbin.AppendInt32(e.scratch[:0], cl.LeaderID)
		s = kbin.AppendInt32(s, cl.LeaderEpoch)
		e.tag(1, appendUnknownTags(s, &cl.UnknownTags))
	}
	if hasSN {
		s := kbin.AppendInt64(e.scratch[:0], sn.EndOffset)
		s = kbin.AppendInt32(s, sn.Epoch)
		e.tag(2, appendUnknownTags(s, &sn.UnknownTags))
	}
	e.buf = p.UnknownTags.AppendEach(e.buf)
	return nil
}
