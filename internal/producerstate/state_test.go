package producerstate

import (
	"errors"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/record"
)

const (
	attrTransactional = 0x10
	attrControl       = 0x20
)

// batch is a test batch of n records from producer pid at epoch, starting at
// sequence seq, to be (or that was) written at offset.
type batch struct {
	pid    int64
	epoch  int16
	seq    int32
	n      int32
	offset int64
	ts     int64
	attrs  int16
}

func (b batch) header() *record.Header {
	return &record.Header{
		BaseOffset:      b.offset,
		Magic:           2,
		Attributes:      b.attrs,
		LastOffsetDelta: b.n - 1,
		BaseTimestamp:   b.ts,
		MaxTimestamp:    b.ts,
		ProducerID:      b.pid,
		ProducerEpoch:   b.epoch,
		BaseSequence:    b.seq,
		NumRecords:      b.n,
	}
}

// appendAll checks and records each batch as the log would, failing the
// test if one is refused or is a duplicate.
func appendAll(t *testing.T, s *State, bs ...batch) {
	t.Helper()
	for _, b := range bs {
		h := b.header()
		dup, err := s.Check(h)
		if err != nil || dup != nil {
			t.Fatalf("setup batch %+v: Check = %+v, %v; want accepted", b, dup, err)
		}
		s.Update(h)
	}
}

// history is six batches of 2 records from producer 7 at epoch 3:
// sequences 0-1, 2-3, ... 10-11, at offsets 100-101, 110-111, ... 150-151.
func history() []batch {
	var bs []batch
	for i := int32(0); i < 6; i++ {
		bs = append(bs, batch{pid: 7, epoch: 3, seq: 2 * i, n: 2, offset: 100 + 10*int64(i), ts: 1000 + int64(i)})
	}
	return bs
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		setup   []batch
		b       batch
		wantDup *BatchMeta // nil: not a duplicate
		wantErr error      // nil: accepted
	}{
		{name: "non-idempotent batch", setup: history(),
			b: batch{pid: -1, epoch: -1, seq: -1, n: 5}},
		{name: "producer id without a sequence", setup: history(),
			b: batch{pid: 7, epoch: 3, seq: -1, n: 1}, wantErr: kerr.InvalidRecord},
		{name: "unknown producer without a sequence",
			b: batch{pid: 8, epoch: 0, seq: -1, n: 1}, wantErr: kerr.InvalidRecord},
		{name: "next in sequence", setup: history(),
			b: batch{pid: 7, epoch: 3, seq: 12, n: 1}},
		{name: "dup of the newest batch", setup: history(),
			b:       batch{pid: 7, epoch: 3, seq: 10, n: 2},
			wantDup: &BatchMeta{FirstSeq: 10, LastSeq: 11, FirstOffset: 150, LastOffset: 151, MaxTimestamp: 1005}},
		{name: "dup of the 2nd newest batch", setup: history(),
			b:       batch{pid: 7, epoch: 3, seq: 8, n: 2},
			wantDup: &BatchMeta{FirstSeq: 8, LastSeq: 9, FirstOffset: 140, LastOffset: 141, MaxTimestamp: 1004}},
		{name: "dup of the 3rd newest batch", setup: history(),
			b:       batch{pid: 7, epoch: 3, seq: 6, n: 2},
			wantDup: &BatchMeta{FirstSeq: 6, LastSeq: 7, FirstOffset: 130, LastOffset: 131, MaxTimestamp: 1003}},
		{name: "dup of the 4th newest batch", setup: history(),
			b:       batch{pid: 7, epoch: 3, seq: 4, n: 2},
			wantDup: &BatchMeta{FirstSeq: 4, LastSeq: 5, FirstOffset: 120, LastOffset: 121, MaxTimestamp: 1002}},
		{name: "dup of the 5th newest batch", setup: history(),
			b:       batch{pid: 7, epoch: 3, seq: 2, n: 2},
			wantDup: &BatchMeta{FirstSeq: 2, LastSeq: 3, FirstOffset: 110, LastOffset: 111, MaxTimestamp: 1001}},
		{name: "6th newest batch is out of order, not a dup", setup: history(),
			b: batch{pid: 7, epoch: 3, seq: 0, n: 2}, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "same first sequence, other last sequence", setup: history(),
			b: batch{pid: 7, epoch: 3, seq: 10, n: 1}, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "gap", setup: history(),
			b: batch{pid: 7, epoch: 3, seq: 13, n: 1}, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "stale epoch", setup: history(),
			b: batch{pid: 7, epoch: 2, seq: 12, n: 1}, wantErr: kerr.InvalidProducerEpoch},
		{name: "stale epoch with a cached sequence is not a dup", setup: history(),
			b: batch{pid: 7, epoch: 2, seq: 10, n: 2}, wantErr: kerr.InvalidProducerEpoch},
		{name: "stale epoch marker", setup: history(),
			b: batch{pid: 7, epoch: 2, seq: -1, n: 1, attrs: attrControl | attrTransactional}, wantErr: kerr.InvalidProducerEpoch},
		{name: "epoch bump at sequence 0", setup: history(),
			b: batch{pid: 7, epoch: 4, seq: 0, n: 3}},
		{name: "epoch bump at sequence 12", setup: history(),
			b: batch{pid: 7, epoch: 4, seq: 12, n: 1}, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "epoch bump at a cached sequence is not a dup", setup: history(),
			b: batch{pid: 7, epoch: 4, seq: 10, n: 2}, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "unknown producer at sequence 0", setup: history(),
			b: batch{pid: 8, epoch: 0, seq: 0, n: 1}},
		{name: "unknown producer at any sequence",
			b: batch{pid: 8, epoch: 5, seq: 123456, n: 10}},
		{name: "wrap-around from MaxInt32 to 0",
			setup: []batch{{pid: 7, epoch: 1, seq: math.MaxInt32 - 1, n: 2, offset: 0}},
			b:     batch{pid: 7, epoch: 1, seq: 0, n: 1}},
		{name: "no wrap to 1",
			setup: []batch{{pid: 7, epoch: 1, seq: math.MaxInt32 - 1, n: 2, offset: 0}},
			b:     batch{pid: 7, epoch: 1, seq: 1, n: 1}, wantErr: kerr.OutOfOrderSequenceNumber},
		{name: "batch spanning the wrap, then its successor",
			setup: []batch{{pid: 7, epoch: 1, seq: math.MaxInt32 - 1, n: 4, offset: 0}},
			b:     batch{pid: 7, epoch: 1, seq: 2, n: 1}},
		{name: "dup of a batch spanning the wrap",
			setup:   []batch{{pid: 7, epoch: 1, seq: math.MaxInt32 - 1, n: 4, offset: 0, ts: 9}},
			b:       batch{pid: 7, epoch: 1, seq: math.MaxInt32 - 1, n: 4},
			wantDup: &BatchMeta{FirstSeq: math.MaxInt32 - 1, LastSeq: 1, FirstOffset: 0, LastOffset: 3, MaxTimestamp: 9}},
		{name: "same epoch after a marker restarts at 0",
			setup: []batch{
				{pid: 7, epoch: 1, seq: 0, n: 3, offset: 0, attrs: attrTransactional},
				{pid: 7, epoch: 1, seq: -1, n: 1, offset: 3, attrs: attrTransactional | attrControl},
			},
			b: batch{pid: 7, epoch: 1, seq: 3, n: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New()
			appendAll(t, s, tt.setup...)
			before := s.Clone()
			dup, err := s.Check(tt.b.header())
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Check err = %v, want %v", err, tt.wantErr)
				}
				if dup != nil {
					t.Errorf("Check dup = %+v with an error", dup)
				}
			case err != nil:
				t.Fatalf("Check err = %v, want nil", err)
			case tt.wantDup == nil && dup != nil:
				t.Fatalf("Check dup = %+v, want none", *dup)
			case tt.wantDup != nil && (dup == nil || *dup != *tt.wantDup):
				t.Fatalf("Check dup = %v, want %+v", dup, *tt.wantDup)
			}
			if !sameState(before, s) {
				t.Errorf("Check changed the state")
			}
		})
	}
}

// A marker at a newer epoch (as KIP-890 coordinators write) moves the
// producer to it with an empty cache, so only sequence 0 follows it.
func TestSameEpochAfterMarkerWantsZero(t *testing.T) {
	s := New()
	appendAll(t, s,
		batch{pid: 7, epoch: 1, seq: 0, n: 3, offset: 0, attrs: attrTransactional},
	)
	s.Update(batch{pid: 7, epoch: 2, seq: -1, n: 1, offset: 3, attrs: attrTransactional | attrControl}.header())
	if _, err := s.Check(batch{pid: 7, epoch: 2, seq: 5, n: 1}.header()); !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("seq 5 after a marker bumped the epoch: err = %v, want OutOfOrderSequenceNumber", err)
	}
	if _, err := s.Check(batch{pid: 7, epoch: 2, seq: 0, n: 1}.header()); err != nil {
		t.Fatalf("seq 0 after a marker bumped the epoch: err = %v", err)
	}
}

func sameState(a, b *State) bool {
	ea, eb := a.Entries(), b.Entries()
	if len(ea) != len(eb) {
		return false
	}
	for i := range ea {
		if !sameEntry(ea[i], eb[i]) {
			return false
		}
	}
	return true
}

func sameEntry(a, b Entry) bool {
	if a.ProducerID != b.ProducerID || a.Epoch != b.Epoch || a.CoordinatorEpoch != b.CoordinatorEpoch ||
		a.CurrentTxnFirstOffset != b.CurrentTxnFirstOffset || a.LastTimestamp != b.LastTimestamp ||
		len(a.Batches) != len(b.Batches) {
		return false
	}
	for i := range a.Batches {
		if a.Batches[i] != b.Batches[i] {
			return false
		}
	}
	return true
}

func TestUpdateKeepsLastFiveOldestFirst(t *testing.T) {
	s := New()
	appendAll(t, s, history()...)
	e, ok := s.Entry(7)
	if !ok {
		t.Fatal("Entry(7) missing")
	}
	if len(e.Batches) != NumBatchesToRetain {
		t.Fatalf("%d batches cached, want %d", len(e.Batches), NumBatchesToRetain)
	}
	for i, b := range e.Batches {
		wantSeq := int32(2 * (i + 1))
		if b.FirstSeq != wantSeq || b.LastSeq != wantSeq+1 || b.FirstOffset != 110+10*int64(i) || b.LastOffset != 111+10*int64(i) {
			t.Errorf("batch %d = %+v, want seq %d-%d", i, b, wantSeq, wantSeq+1)
		}
	}
	if e.Epoch != 3 || e.LastTimestamp != 1005 || e.CurrentTxnFirstOffset != -1 || e.CoordinatorEpoch != -1 {
		t.Errorf("entry = %+v", e)
	}
	// The copy is the caller's: changing it leaves the state alone.
	e.Batches[0].FirstSeq = 99
	if e2, _ := s.Entry(7); e2.Batches[0].FirstSeq != 2 {
		t.Errorf("Entry returned a slice aliasing the state")
	}
}

func TestUpdateNewEpochClearsBatches(t *testing.T) {
	s := New()
	appendAll(t, s, history()...)
	appendAll(t, s, batch{pid: 7, epoch: 4, seq: 0, n: 1, offset: 200, ts: 2000})
	e, _ := s.Entry(7)
	want := []BatchMeta{{FirstSeq: 0, LastSeq: 0, FirstOffset: 200, LastOffset: 200, MaxTimestamp: 2000}}
	if e.Epoch != 4 || len(e.Batches) != 1 || e.Batches[0] != want[0] || e.LastTimestamp != 2000 {
		t.Fatalf("entry after epoch bump = %+v, want epoch 4 with batches %+v", e, want)
	}
	// Sequence 10-11 of the old epoch is no longer a duplicate at epoch 4.
	if dup, err := s.Check(batch{pid: 7, epoch: 4, seq: 10, n: 2}.header()); dup != nil || !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("old-epoch sequence at the new epoch: %v, %v", dup, err)
	}
}

func TestUpdateIgnoresNonIdempotent(t *testing.T) {
	s := New()
	s.Update(batch{pid: -1, epoch: -1, seq: -1, n: 3}.header())
	if s.Len() != 0 {
		t.Fatalf("Len = %d after a non-idempotent batch", s.Len())
	}
}

func TestTransactions(t *testing.T) {
	s := New()
	appendAll(t, s,
		batch{pid: 1, epoch: 0, seq: 0, n: 2, offset: 10, attrs: attrTransactional},
		batch{pid: 2, epoch: 0, seq: 0, n: 1, offset: 12},
		batch{pid: 1, epoch: 0, seq: 2, n: 2, offset: 13, attrs: attrTransactional},
		batch{pid: 3, epoch: 0, seq: 0, n: 2, offset: 15, attrs: attrTransactional},
	)
	if off, ok := s.FirstUnstableOffset(); !ok || off != 10 {
		t.Fatalf("FirstUnstableOffset = %d, %v; want 10", off, ok)
	}
	marker := batch{pid: 1, epoch: 0, seq: -1, n: 1, offset: 17, attrs: attrTransactional | attrControl}
	if dup, err := s.Check(marker.header()); dup != nil || err != nil {
		t.Fatalf("Check marker = %v, %v", dup, err)
	}
	s.Update(marker.header())
	s.SetCoordinatorEpoch(1, 9)
	e, _ := s.Entry(1)
	if e.CurrentTxnFirstOffset != -1 || e.CoordinatorEpoch != 9 || len(e.Batches) != 2 {
		t.Fatalf("producer 1 after its marker = %+v", e)
	}
	if off, ok := s.FirstUnstableOffset(); !ok || off != 15 {
		t.Fatalf("FirstUnstableOffset = %d, %v; want 15", off, ok)
	}
}

func TestRemoveExpired(t *testing.T) {
	const exp = DefaultProducerIDExpirationMs
	s := New()
	appendAll(t, s,
		batch{pid: 1, epoch: 0, seq: 0, n: 1, offset: 0, ts: 1000},
		batch{pid: 2, epoch: 0, seq: 0, n: 1, offset: 1, ts: 5000},
		// Open transaction: kept however old.
		batch{pid: 3, epoch: 0, seq: 0, n: 1, offset: 2, ts: 0, attrs: attrTransactional},
	)
	s.RemoveExpired(1000+exp-1, exp)
	if s.Len() != 3 {
		t.Fatalf("Len = %d before anything expired, want 3", s.Len())
	}
	s.RemoveExpired(1000+exp, exp)
	if _, ok := s.Entry(1); ok {
		t.Errorf("producer 1 not expired at exactly the expiration time")
	}
	if _, ok := s.Entry(2); !ok {
		t.Errorf("producer 2 expired early")
	}
	if _, ok := s.Entry(3); !ok {
		t.Errorf("producer 3 with an open transaction expired")
	}
	// An expired producer is unknown again: any sequence is accepted.
	if dup, err := s.Check(batch{pid: 1, epoch: 0, seq: 77, n: 1}.header()); dup != nil || err != nil {
		t.Fatalf("expired producer: Check = %v, %v", dup, err)
	}
}

func TestCloneIsIndependent(t *testing.T) {
	s := New()
	appendAll(t, s, history()[:2]...)
	c := s.Clone()
	appendAll(t, s, history()[2:]...)
	s.Remove(7)
	e, ok := c.Entry(7)
	if !ok || len(e.Batches) != 2 || e.Batches[1].LastSeq != 3 {
		t.Fatalf("clone changed with the original: %+v, %v", e, ok)
	}
}

func BenchmarkCheckUpdate(b *testing.B) {
	s := New()
	h := batch{pid: 7, epoch: 0, seq: 0, n: 10}.header()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.BaseSequence = int32(i*10) & math.MaxInt32
		h.BaseOffset = int64(i) * 10
		if _, err := s.Check(h); err != nil {
			b.Fatal(err)
		}
		s.Update(h)
	}
}
