package record

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestBuildMarker checks a marker against kmsg's independent decoding of
// batches, control keys and end-transaction values: the layout a Kafka
// client reads.
func TestBuildMarker(t *testing.T) {
	for _, tc := range []struct {
		commit   bool
		wantType kmsg.ControlRecordKeyType
	}{{true, kmsg.ControlRecordKeyTypeCommit}, {false, kmsg.ControlRecordKeyTypeAbort}} {
		b, err := BuildMarker(nil, 4242, 7, 13, tc.commit, testNow)
		if err != nil {
			t.Fatal(err)
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			t.Fatalf("kmsg cannot read the marker: %v", err)
		}
		if !CheckCRC(b) {
			t.Errorf("marker CRC does not match")
		}
		const txnControl = 0x10 | 0x20
		if rb.Attributes != txnControl || rb.ProducerID != 4242 || rb.ProducerEpoch != 7 ||
			rb.FirstSequence != -1 || rb.NumRecords != 1 || rb.LastOffsetDelta != 0 ||
			rb.FirstTimestamp != testNow || rb.MaxTimestamp != testNow || rb.Magic != 2 {
			t.Errorf("commit=%v: batch header %+v", tc.commit, rb)
		}
		recs, err := ReadAll(b)
		if err != nil || len(recs) != 1 {
			t.Fatalf("records %v, %v", recs, err)
		}
		var key kmsg.ControlRecordKey
		if err := key.ReadFrom(recs[0].Key); err != nil || key.Version != 0 || key.Type != tc.wantType {
			t.Errorf("commit=%v: control key %+v (%v), want version 0 type %v", tc.commit, key, err, tc.wantType)
		}
		var val kmsg.EndTxnMarker
		if err := val.ReadFrom(recs[0].Value); err != nil || val.Version != 0 || val.CoordinatorEpoch != 13 {
			t.Errorf("commit=%v: marker value %+v (%v), want version 0, coordinator epoch 13", tc.commit, val, err)
		}

		commit, epoch, err := ParseControl(b)
		if err != nil || commit != tc.commit || epoch != 13 {
			t.Errorf("ParseControl = %v, %d, %v; want %v, 13", commit, epoch, err, tc.commit)
		}
		h, err := ParseHeader(b)
		if err != nil || !h.Control() || !h.Transactional() || !h.Idempotent() {
			t.Errorf("header %+v (%v): want a transactional control batch with a producer", h, err)
		}
	}
}

// TestParseControlRejects: data batches and control records that are not
// transaction markers are refused, and a later key or value version with
// the same leading fields still parses.
func TestParseControlRejects(t *testing.T) {
	data := NewBuilder(CodecNone).SetProducer(1, 0, 0).SetTransactional(true)
	data.Add(testNow, []byte("k"), []byte("v"))
	db, err := data.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ParseControl(db); !errors.Is(err, ErrNotControl) {
		t.Errorf("data batch: %v, want ErrNotControl", err)
	}

	control := func(key, value []byte) []byte {
		b := NewBuilder(CodecNone).SetProducer(1, 0, NoSequence).SetTransactional(true).SetControl(true)
		b.Add(testNow, key, value)
		out, err := b.Build(nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for name, b := range map[string][]byte{
		"short key":    control([]byte{0, 0, 0}, []byte{0, 0, 0, 0, 0, 1}),
		"unknown type": control([]byte{0, 0, 0, 5}, []byte{0, 0, 0, 0, 0, 1}),
		"short value":  control([]byte{0, 0, 0, 1}, []byte{0, 0, 0}),
		"null value":   control([]byte{0, 0, 0, 1}, nil),
	} {
		if _, _, err := ParseControl(b); !errors.Is(err, ErrNotControl) {
			t.Errorf("%s: %v, want ErrNotControl", name, err)
		}
	}
	// Value version 1 with a trailing field: the epoch is still read.
	commit, epoch, err := ParseControl(control([]byte{0, 0, 0, 1}, []byte{0, 1, 0, 0, 0, 9, 0}))
	if err != nil || !commit || epoch != 9 {
		t.Errorf("later value version: %v, %d, %v; want commit, 9", commit, epoch, err)
	}
}
