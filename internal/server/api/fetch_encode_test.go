package api

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// randomFetchResponse fills every field that version v carries with random
// values, including nulls, empty arrays, tagged fields and unknown tags.
func randomFetchResponse(rng *rand.Rand, v int16) *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(v)
	resp.ThrottleMillis = rng.Int32()
	resp.ErrorCode = int16(rng.IntN(100))
	resp.SessionID = rng.Int32()
	randBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	maybeTags := func(t *kmsg.Tags) {
		if rng.IntN(5) == 0 {
			t.Set(uint32(10+rng.IntN(5)), randBytes(rng.IntN(4)))
		}
	}
	for range rng.IntN(4) {
		t := kmsg.NewFetchResponseTopic()
		t.Topic = string(randBytes(rng.IntN(10)))
		copy(t.TopicID[:], randBytes(16))
		maybeTags(&t.UnknownTags)
		for range rng.IntN(5) {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition = rng.Int32()
			p.ErrorCode = int16(rng.IntN(100))
			p.HighWatermark = rng.Int64()
			p.LastStableOffset = rng.Int64()
			p.LogStartOffset = rng.Int64()
			switch rng.IntN(3) {
			case 0: // null
			case 1:
				p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			default:
				for range 1 + rng.IntN(3) {
					a := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
					a.ProducerID, a.FirstOffset = rng.Int64(), rng.Int64()
					maybeTags(&a.UnknownTags)
					p.AbortedTransactions = append(p.AbortedTransactions, a)
				}
			}
			p.PreferredReadReplica = rng.Int32()
			switch rng.IntN(4) {
			case 0: // null
			case 1:
				p.RecordBatches = []byte{}
			default:
				p.RecordBatches = randBytes(1 + rng.IntN(300))
			}
			if rng.IntN(3) == 0 {
				p.DivergingEpoch.Epoch, p.DivergingEpoch.EndOffset = rng.Int32(), rng.Int64()
				maybeTags(&p.DivergingEpoch.UnknownTags)
			}
			if rng.IntN(3) == 0 {
				p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = rng.Int32(), rng.Int32()
				maybeTags(&p.CurrentLeader.UnknownTags)
			}
			if rng.IntN(3) == 0 {
				p.SnapshotID.EndOffset, p.SnapshotID.Epoch = rng.Int64(), rng.Int32()
				maybeTags(&p.SnapshotID.UnknownTags)
			}
			maybeTags(&p.UnknownTags)
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	if rng.IntN(2) == 0 {
		for range 1 + rng.IntN(2) {
			b := kmsg.NewFetchResponseBroker()
			b.NodeID, b.Host, b.Port = rng.Int32(), string(randBytes(rng.IntN(8))), rng.Int32()
			if rng.IntN(2) == 0 {
				b.Rack = kmsg.StringPtr(string(randBytes(rng.IntN(5))))
			}
			maybeTags(&b.UnknownTags)
			resp.Brokers = append(resp.Brokers, b)
		}
	}
	maybeTags(&resp.UnknownTags)
	return resp
}

// fileRecords is a region of a file, counting its releases.
type fileRecords struct {
	f        vfs.File
	off      int64
	n        int
	releases *int
}

func (r fileRecords) Len() int { return r.n }
func (r fileRecords) AppendTo(c *server.Chunks) {
	c.AppendFile(r.f, r.off, r.n, func() { *r.releases++ })
}

func flatten(t *testing.T, c *server.Chunks) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if b.Len() != c.Len() {
		t.Fatalf("Chunks.Len %d, wrote %d", c.Len(), b.Len())
	}
	return b.Bytes()
}

// TestEncodeFetchResponseMatchesKmsg encodes random responses of every
// version three ways (records from the RecordBatches fields, as bytes, and
// as file regions) and compares the bytes with kmsg's AppendTo, then checks
// that kmsg decodes them to the same response.
func TestEncodeFetchResponseMatchesKmsg(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	segment, err := vfs.OS().OpenFile(filepath.Join(t.TempDir(), "segment"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer segment.Close()
	for v := int16(FetchEncodeMinVersion); v <= FetchEncodeMaxVersion; v++ {
		for iter := range 200 {
			resp := randomFetchResponse(rng, v)
			want := resp.AppendTo(nil)

			// 1. No callback: the RecordBatches fields are written.
			c, err := EncodeFetchResponse(resp, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := flatten(t, c); !bytes.Equal(got, want) {
				t.Fatalf("v%d iteration %d (fields): bytes differ from kmsg\n got %x\nwant %x", v, iter, got, want)
			}

			// 2 and 3. The records come from the callback, the fields
			// are empty (nil records stay null).
			batches := make(map[[2]int][]byte)
			stripped := *resp
			stripped.Topics = make([]kmsg.FetchResponseTopic, len(resp.Topics))
			for ti := range resp.Topics {
				stripped.Topics[ti] = resp.Topics[ti]
				stripped.Topics[ti].Partitions = append([]kmsg.FetchResponseTopicPartition(nil), resp.Topics[ti].Partitions...)
				for pi := range stripped.Topics[ti].Partitions {
					p := &stripped.Topics[ti].Partitions[pi]
					if p.RecordBatches != nil {
						batches[[2]int{ti, pi}] = p.RecordBatches
					}
					p.RecordBatches = nil
				}
			}
			asBytes := func(ti, pi int) Records {
				if b, ok := batches[[2]int{ti, pi}]; ok {
					return RecordBytes(b)
				}
				return nil
			}
			c, err = EncodeFetchResponse(&stripped, asBytes)
			if err != nil {
				t.Fatal(err)
			}
			got := flatten(t, c)
			if !bytes.Equal(got, want) {
				t.Fatalf("v%d iteration %d (bytes): bytes differ from kmsg\n got %x\nwant %x", v, iter, got, want)
			}

			if err := segment.Truncate(0); err != nil {
				t.Fatal(err)
			}
			offsets := make(map[[2]int]int64)
			var end int64
			for k, b := range batches {
				if _, err := segment.WriteAt(b, end); err != nil {
					t.Fatal(err)
				}
				offsets[k] = end
				end += int64(len(b))
			}
			releases := 0
			asFile := func(ti, pi int) Records {
				if b, ok := batches[[2]int{ti, pi}]; ok {
					return fileRecords{segment, offsets[[2]int{ti, pi}], len(b), &releases}
				}
				return nil
			}
			c, err = EncodeFetchResponse(&stripped, asFile)
			if err != nil {
				t.Fatal(err)
			}
			if got := flatten(t, c); !bytes.Equal(got, want) {
				t.Fatalf("v%d iteration %d (file): bytes differ from kmsg", v, iter)
			}
			c.Release()
			if releases != len(batches) {
				t.Fatalf("v%d: %d releases for %d regions", v, releases, len(batches))
			}

			// kmsg reads it back as the response it encoded.
			dec, ref := kmsg.NewPtrFetchResponse(), kmsg.NewPtrFetchResponse()
			dec.SetVersion(v)
			ref.SetVersion(v)
			if err := dec.ReadFrom(got); err != nil {
				t.Fatalf("v%d: kmsg cannot decode the encoding: %v", v, err)
			}
			if err := ref.ReadFrom(want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(dec, ref) {
				t.Fatalf("v%d iteration %d: decoded responses differ", v, iter)
			}
		}
	}
}

// lyingRecords announces more bytes than it appends.
type lyingRecords struct{}

func (lyingRecords) Len() int                  { return 10 }
func (lyingRecords) AppendTo(c *server.Chunks) { c.AppendBytes([]byte("short")) }

func TestEncodeFetchResponseErrors(t *testing.T) {
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(3)
	if _, err := EncodeFetchResponse(resp, nil); err == nil {
		t.Error("v3 encoded; want an error (the encoder frames v4-18)")
	}
	resp.SetVersion(12)
	topic := kmsg.NewFetchResponseTopic()
	topic.Partitions = append(topic.Partitions, kmsg.NewFetchResponseTopicPartition())
	resp.Topics = append(resp.Topics, topic)
	// The lying Records comes first; the one after it must still be handed
	// over (and so released with the Chunks).
	topic.Partitions = append(topic.Partitions, kmsg.NewFetchResponseTopicPartition())
	resp.Topics[0] = topic
	releases := 0
	calls := 0
	_, err := EncodeFetchResponse(resp, func(_, p int) Records {
		calls++
		if p == 0 {
			return lyingRecords{}
		}
		return fileRecords{f: memFile{data: "abc"}, off: 0, n: 3, releases: &releases}
	})
	if err == nil {
		t.Error("a Records whose AppendTo does not match its Len was accepted")
	}
	if calls != 2 || releases != 1 {
		t.Errorf("after the error: %d callbacks, %d releases; want 2 and 1", calls, releases)
	}
}

// memFile is a file without a descriptor, for tests that only count.
type memFile struct {
	vfs.File
	data string
}

func (f memFile) ReadAt(p []byte, off int64) (int, error) {
	return copy(p, f.data[off:]), nil
}
