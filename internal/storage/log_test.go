package storage

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/record"
)

func TestAppendReadReopen(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	res := appendN(t, l, 10, 5, 100, e.clock.Ms())
	for i, r := range res {
		if r.BaseOffset != int64(i*5) || r.LastOffset != int64(i*5+4) {
			t.Fatalf("append %d got offsets [%d,%d], want [%d,%d]", i, r.BaseOffset, r.LastOffset, i*5, i*5+4)
		}
		if r.LogAppendTime != -1 || r.Duplicate {
			t.Fatalf("append %d: unexpected %+v", i, r)
		}
	}
	if got := l.LogEndOffset(); got != 50 {
		t.Fatalf("LEO %d, want 50", got)
	}
	hs := readAll(t, l, 0)
	if len(hs) != 10 {
		t.Fatalf("read %d batches, want 10", len(hs))
	}
	// Reading in the middle of a batch returns that batch.
	r, err := l.Read(7, 1<<20, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	if r.FirstOffset != 5 {
		t.Fatalf("read at 7 starts at batch %d, want 5", r.FirstOffset)
	}
	r.Release()

	e.reopen()
	l2, ok := e.m.Get(testTP)
	if !ok {
		t.Fatal("log missing after reopen")
	}
	if got := l2.LogEndOffset(); got != 50 {
		t.Fatalf("LEO after reopen %d, want 50", got)
	}
	if got := l2.TopicID(); got != ([16]byte{1, 2, 3}) {
		t.Fatalf("topic id after reopen %x", got)
	}
	if n := len(readAll(t, l2, 0)); n != 10 {
		t.Fatalf("read %d batches after reopen, want 10", n)
	}
	// Appends continue at the log end.
	r2, err := l2.Append(build(t, batchSpec{n: 1, ts: e.clock.Ms()}), 0)
	if err != nil || r2.BaseOffset != 50 {
		t.Fatalf("append after reopen: %+v %v", r2, err)
	}
}

func TestReadBounds(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	appendN(t, l, 4, 10, 1000, e.clock.Ms()) // batches of ~10 KB

	r, err := l.Read(40, 100, -1, true)
	if err != nil || r.Size() != 0 {
		t.Fatalf("read at LEO: size %d err %v", r.Size(), err)
	}
	if _, err := l.Read(41, 100, -1, true); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("read past LEO: %v, want OFFSET_OUT_OF_RANGE", err)
	}
	if _, err := l.Read(-1, 100, -1, true); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("read below start: %v, want OFFSET_OUT_OF_RANGE", err)
	}
	// minOneBatch returns one whole batch although it exceeds maxBytes.
	r, err = l.Read(0, 100, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	one := r.Size()
	r.Release()
	if one < 10000 {
		t.Fatalf("minOneBatch read %d bytes, want one whole batch", one)
	}
	r, _ = l.Read(0, 100, -1, false)
	if r.Size() != 0 {
		t.Fatalf("read without minOneBatch returned %d bytes", r.Size())
	}
	// Whole batches only.
	r, _ = l.Read(0, 2*one+one/2, -1, false)
	if r.Size() != 2*one {
		t.Fatalf("read of 2.5 batches returned %d bytes, want %d", r.Size(), 2*one)
	}
	r.Release()
	// maxOffset (the high watermark) stops before the batch holding it.
	r, _ = l.Read(0, 1<<20, 25, false)
	if r.Size() != 2*one {
		t.Fatalf("read to HW 25 returned %d bytes, want 2 batches (%d)", r.Size(), 2*one)
	}
	r.Release()
	r, _ = l.Read(20, 1<<20, 20, false)
	if r.Size() != 0 {
		t.Fatalf("read at HW returned %d bytes", r.Size())
	}
}

func TestAppendRefusesBadBatchUntouched(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	appendN(t, l, 1, 1, 10, e.clock.Ms())
	good := build(t, batchSpec{n: 2, ts: e.clock.Ms()})
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-1] ^= 0xff
	cfgSmall := DefaultConfig()
	cfgSmall.MaxMessageBytes = 50
	tests := []struct {
		name  string
		batch []byte
		cfg   *Config
		want  *kerr.Error
	}{
		{"crc", corrupt, nil, kerr.CorruptMessage},
		{"short", good[:30], nil, kerr.CorruptMessage},
		{"too large", good, &cfgSmall, kerr.MessageTooLarge},
		{"future timestamp", build(t, batchSpec{n: 1, ts: e.clock.Ms() + 2*3600*1000}), nil, kerr.InvalidTimestamp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg != nil {
				if err := l.SetConfig(*tc.cfg); err != nil {
					t.Fatal(err)
				}
				defer l.SetConfig(DefaultConfig())
			}
			size := l.Size()
			_, err := l.Append(tc.batch, 0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if l.LogEndOffset() != 1 || l.Size() != size {
				t.Fatalf("log changed: LEO %d size %d->%d", l.LogEndOffset(), size, l.Size())
			}
		})
	}
}

func TestLogAppendTime(t *testing.T) {
	e := newEnv(t, nil)
	cfg := DefaultConfig()
	cfg.TimestampType = LogAppendTime
	l := e.log(cfg)
	res, err := l.Append(build(t, batchSpec{n: 3, ts: 1000}), 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.LogAppendTime != e.clock.Ms() {
		t.Fatalf("LogAppendTime %d, want %d", res.LogAppendTime, e.clock.Ms())
	}
	hs := readAll(t, l, 0)
	if !hs[0].LogAppendTime() || hs[0].MaxTimestamp != e.clock.Ms() {
		t.Fatalf("stored batch not stamped: %+v", hs[0])
	}
}

func TestIdempotentDuplicate(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	ts := e.clock.Ms()
	b0 := build(t, batchSpec{n: 3, ts: ts, pid: 7, epoch: 0, seq: 0})
	r0, err := l.Append(append([]byte(nil), b0...), 0)
	if err != nil {
		t.Fatal(err)
	}
	r1, err := l.Append(build(t, batchSpec{n: 2, ts: ts, pid: 7, epoch: 0, seq: 3}), 0)
	if err != nil {
		t.Fatal(err)
	}
	dup, err := l.Append(append([]byte(nil), b0...), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !dup.Duplicate || dup.BaseOffset != r0.BaseOffset || dup.LastOffset != r0.LastOffset {
		t.Fatalf("retry answered %+v, want duplicate of %+v", dup, r0)
	}
	if l.LogEndOffset() != r1.LastOffset+1 {
		t.Fatalf("duplicate appended: LEO %d", l.LogEndOffset())
	}
	_, err = l.Append(build(t, batchSpec{n: 1, ts: ts, pid: 7, epoch: 0, seq: 9}), 0)
	if !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("gap: %v, want OUT_OF_ORDER_SEQUENCE_NUMBER", err)
	}
	// Producer state survives a restart (snapshot at close).
	e.reopen()
	l = e.log(DefaultConfig())
	dup, err = l.Append(append([]byte(nil), b0...), 0)
	if err != nil || !dup.Duplicate || dup.BaseOffset != r0.BaseOffset {
		t.Fatalf("retry after reopen: %+v %v", dup, err)
	}
}

func TestCompressedBatchRoundTrip(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	for _, c := range []record.Codec{record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd} {
		if _, err := l.Append(build(t, batchSpec{n: 5, ts: e.clock.Ms(), valueSize: 200, codec: c}), 0); err != nil {
			t.Fatalf("%v: %v", c, err)
		}
	}
	hs := readAll(t, l, 0)
	if len(hs) != 4 || hs[3].LastOffset() != 19 {
		t.Fatalf("read %d batches", len(hs))
	}
}
