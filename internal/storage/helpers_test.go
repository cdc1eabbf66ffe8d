package storage

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Ms() int64 { return c.Now().UnixMilli() }

var testTP = TopicPartition{Topic: "events", Partition: 0}

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// testEnv is a Manager over a filesystem with a fake clock.
type testEnv struct {
	t     testing.TB
	fs    vfs.FS
	clock *fakeClock
	dirs  []string
	m     *Manager
	max   int
}

func newEnv(t testing.TB, fsys vfs.FS) *testEnv {
	t.Helper()
	if fsys == nil {
		fsys = vfs.NewMem()
	}
	e := &testEnv{t: t, fs: fsys, clock: newFakeClock(), dirs: []string{"/data"}}
	e.open()
	t.Cleanup(func() {
		if e.m != nil {
			_ = e.m.Close()
		}
	})
	return e
}

func (e *testEnv) open() {
	e.t.Helper()
	m, err := OpenManager(context.Background(), ManagerConfig{
		Dirs:              e.dirs,
		FS:                e.fs,
		Logger:            quietLogger,
		Now:               e.clock.Now,
		SchedulerInterval: -1,
		MaxOpenSegments:   e.max,
	})
	if err != nil {
		e.t.Fatalf("OpenManager: %v", err)
	}
	e.m = m
}

func (e *testEnv) reopen() {
	e.t.Helper()
	if err := e.m.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.m = nil
	e.open()
}

func (e *testEnv) log(cfg Config) *Log {
	e.t.Helper()
	l, err := e.m.GetOrCreate(testTP, [16]byte{1, 2, 3}, cfg)
	if err != nil {
		e.t.Fatalf("GetOrCreate: %v", err)
	}
	return l
}

// batchSpec describes a test batch.
type batchSpec struct {
	n          int   // records
	ts         int64 // first record's timestamp; records step by 1 ms
	valueSize  int
	pid        int64 // producer id, -1 for none
	epoch      int16
	seq        int32
	codec      record.Codec
	timestamps []int64 // explicit per-record timestamps (overrides n/ts)
}

// build makes a producer batch (base offset 0).
func build(t testing.TB, s batchSpec) []byte {
	t.Helper()
	b := record.NewBuilder(s.codec)
	if s.pid == 0 {
		s.pid = -1
	}
	if s.pid >= 0 {
		b.SetProducer(s.pid, s.epoch, s.seq)
	}
	val := make([]byte, s.valueSize)
	for i := range val {
		val[i] = byte('a' + i%26)
	}
	ts := s.timestamps
	if ts == nil {
		for i := 0; i < max(s.n, 1); i++ {
			ts = append(ts, s.ts+int64(i))
		}
	}
	for i, t := range ts {
		b.Add(t, []byte(fmt.Sprintf("k%d", i)), val)
	}
	out, err := b.Build(nil)
	if err != nil {
		t.Fatalf("build batch: %v", err)
	}
	return out
}

// appendN appends n batches of recs records each and returns their results.
func appendN(t testing.TB, l *Log, n, recs, valueSize int, ts int64) []AppendResult {
	t.Helper()
	var out []AppendResult
	for i := 0; i < n; i++ {
		r, err := l.Append(build(t, batchSpec{n: recs, ts: ts + int64(i*recs), valueSize: valueSize}), 0)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		out = append(out, r)
	}
	return out
}

// readAll reads the log from start to the log end batch by batch and
// returns every batch's header, checking CRCs and offset continuity.
func readAll(t testing.TB, l *Log, from int64) []record.Header {
	t.Helper()
	var hs []record.Header
	off := from
	for off < l.LogEndOffset() {
		r, err := l.Read(off, 1<<20, -1, true)
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		b, err := r.Bytes()
		r.Release()
		if err != nil {
			t.Fatalf("bytes at %d: %v", off, err)
		}
		if len(b) == 0 {
			t.Fatalf("empty read at %d below the log end %d", off, l.LogEndOffset())
		}
		for len(b) > 0 {
			batch, rest, ok, err := record.NextBatch(b)
			if err != nil || !ok {
				t.Fatalf("read at %d returned a partial batch: %v", off, err)
			}
			h, err := record.ParseHeader(batch)
			if err != nil {
				t.Fatalf("parse header: %v", err)
			}
			if !record.CheckCRC(batch) {
				t.Fatalf("batch at %d fails its CRC", h.BaseOffset)
			}
			if h.LastOffset() < off {
				t.Fatalf("batch [%d,%d] returned for offset %d", h.BaseOffset, h.LastOffset(), off)
			}
			hs = append(hs, h)
			off = h.LastOffset() + 1
			b = rest
		}
	}
	return hs
}
