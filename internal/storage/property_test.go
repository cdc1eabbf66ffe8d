package storage_test

// Property test: random appends, reads, truncations, log start advances,
// high watermark moves, timestamp lookups, clean reopens and crashes,
// against a model that is a plain slice of batches. Segment and index sizes
// are small and random so that rolls, index lookups and the file-handle LRU
// are exercised all the time. Every append is flushed (durable mode), so a
// crash must lose nothing but the high watermark's latest value.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/storage"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

type modelBatch struct {
	base, last int64
	ts         []int64 // record timestamps, by offset delta
	bytes      []byte  // as stored
}

// logModel is what the log must look like.
type logModel struct {
	batches        []modelBatch // contiguous, ascending
	start, end, hw int64
	// ckStart is the log start offset as last checkpointed (at open, close
	// and AdvanceLogStartOffset). A truncation that lowers the log start is
	// not checkpointed at once (nor is it in Kafka), so a crash may bring
	// the checkpointed start back.
	ckStart int64
}

// holding returns the index of the first batch whose last offset is at or
// above o, or len(batches).
func (m *logModel) holding(o int64) int {
	i, _ := slices.BinarySearchFunc(m.batches, o, func(b modelBatch, o int64) int {
		if b.last < o {
			return -1
		}
		return 1
	})
	return i
}

// truncate drops every batch at and after the one holding o.
func (m *logModel) truncate(o int64) {
	if o >= m.end {
		return
	}
	i := m.holding(o)
	m.end = o
	if i < len(m.batches) {
		m.end = m.batches[i].base
	}
	m.batches = m.batches[:i]
	m.hw = min(m.hw, m.end)
	m.start = min(m.start, m.end)
}

type propRun struct {
	t     *testing.T
	rng   *rand.Rand
	mem   *vfs.MemFS
	m     *storage.Manager
	l     *storage.Log
	cfg   storage.Config
	model logModel
	seq   uint64
	trace []string
}

var propTP = storage.TopicPartition{Topic: "prop", Partition: 0}

func (p *propRun) fatalf(format string, args ...any) {
	p.t.Helper()
	n := 12
	if longRun() {
		n = len(p.trace)
	}
	tail := p.trace[max(0, len(p.trace)-n):]
	p.t.Fatalf("%s\nlast operations:\n  %s", fmt.Sprintf(format, args...), joinLines(tail))
}

func joinLines(s []string) string {
	var b bytes.Buffer
	for i, l := range s {
		if i > 0 {
			b.WriteString("\n  ")
		}
		b.WriteString(l)
	}
	return b.String()
}

func (p *propRun) open() {
	p.t.Helper()
	m, err := storage.OpenManager(context.Background(), storage.ManagerConfig{
		Dirs:              []string{"/data"},
		FS:                p.mem,
		Logger:            slog.New(slog.DiscardHandler),
		SchedulerInterval: -1,
		MaxOpenSegments:   2, // closed segments' files come and go
	})
	if err != nil {
		p.fatalf("open: %v", err)
	}
	l, err := m.GetOrCreate(propTP, testTopicID, p.cfg)
	if err != nil {
		p.fatalf("open partition: %v", err)
	}
	p.m, p.l = m, l
}

func (p *propRun) append() {
	n := 1 + p.rng.IntN(6)
	p.seq++
	baseTs := 1_700_000_000_000 + p.rng.Int64N(5000)
	batch := testBatch(n, p.rng.IntN(200), baseTs, p.seq)
	p.trace = append(p.trace, fmt.Sprintf("append %d records", n))
	res, err := p.l.Append(slices.Clone(batch), 2)
	if err != nil {
		p.fatalf("append: %v", err)
	}
	if res.BaseOffset != p.model.end || res.LastOffset != p.model.end+int64(n-1) {
		p.fatalf("append got offsets %d..%d, want %d..%d", res.BaseOffset, res.LastOffset, p.model.end, p.model.end+int64(n-1))
	}
	if err := p.l.WaitFlushed(context.Background(), res.LastOffset+1); err != nil {
		p.fatalf("flush: %v", err)
	}
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = baseTs + int64(i)
	}
	p.model.batches = append(p.model.batches, modelBatch{base: res.BaseOffset, last: res.LastOffset, ts: ts, bytes: placed(batch, res.BaseOffset, 2)})
	p.model.end = res.LastOffset + 1
}

func (p *propRun) read() {
	md := &p.model
	offset := md.start - 2 + p.rng.Int64N(md.end-md.start+5)
	maxBytes := 1 + p.rng.IntN(3000)
	maxOffset := int64(-1)
	if p.rng.IntN(2) == 0 && md.end > md.start {
		maxOffset = md.start + p.rng.Int64N(md.end-md.start+2)
	}
	minOne := p.rng.IntN(2) == 0
	p.trace = append(p.trace, fmt.Sprintf("read offset=%d maxBytes=%d maxOffset=%d minOneBatch=%v (log [%d, %d))", offset, maxBytes, maxOffset, minOne, md.start, md.end))
	r, err := p.l.Read(offset, maxBytes, maxOffset, minOne)
	if offset < md.start || offset > md.end {
		if !errors.Is(err, kerr.OffsetOutOfRange) {
			p.fatalf("read at %d outside [%d, %d]: got %v, want OFFSET_OUT_OF_RANGE", offset, md.start, md.end, err)
		}
		return
	}
	if err != nil {
		p.fatalf("read: %v", err)
	}
	got, err := r.Bytes()
	r.Release()
	if err != nil {
		p.fatalf("read bytes: %v", err)
	}
	limit := maxOffset
	if limit < 0 || limit > md.end {
		limit = md.end
	}
	i := md.holding(offset)
	// What the read may return: whole batches from the one holding offset,
	// each ending below limit, within maxBytes (or one batch with
	// minOneBatch), possibly fewer (a read stops at a segment's end).
	var want []byte
	var served int
	for pos := 0; pos < len(got); served++ {
		if i+served >= len(md.batches) {
			p.fatalf("read returned more batches than the log holds")
		}
		b := md.batches[i+served]
		if !bytes.Equal(got[pos:min(len(got), pos+len(b.bytes))], b.bytes) {
			p.fatalf("read batch %d differs from the batch appended at %d", served, b.base)
		}
		if b.last >= limit {
			p.fatalf("read returned batch %d..%d at or past the limit %d", b.base, b.last, limit)
		}
		want = append(want, b.bytes...)
		pos += len(b.bytes)
	}
	if len(got) > maxBytes && !(minOne && served == 1) {
		p.fatalf("read returned %d bytes in %d batches, more than maxBytes %d", len(got), served, maxBytes)
	}
	if served > 0 && r.FirstOffset != md.batches[i].base {
		p.fatalf("FirstOffset %d, want %d", r.FirstOffset, md.batches[i].base)
	}
	// Something must come back when the first batch qualifies.
	if served == 0 && offset < md.end && i < len(md.batches) {
		b := md.batches[i]
		if b.last < limit && (minOne || len(b.bytes) <= maxBytes) {
			p.fatalf("read at %d returned nothing, but batch %d..%d (%d bytes) qualifies", offset, b.base, b.last, len(b.bytes))
		}
	}
}

func (p *propRun) truncate() {
	md := &p.model
	o := md.start + p.rng.Int64N(md.end-md.start+2)
	segs := p.l.SegmentBaseOffsets()
	p.trace = append(p.trace, fmt.Sprintf("truncate to %d (log [%d, %d), segments %v)", o, md.start, md.end, segs))
	if err := p.l.TruncateTo(o); err != nil {
		p.fatalf("truncate to %d: %v", o, err)
	}
	if o < md.end && o <= segs[0] {
		// Nothing of the log is left below o: it restarts empty at o.
		md.batches, md.start, md.end, md.hw = nil, o, o, o
		return
	}
	md.truncate(o)
}

func (p *propRun) advanceStart() {
	md := &p.model
	o := md.start - 1 + p.rng.Int64N(md.end-md.start+3)
	p.trace = append(p.trace, fmt.Sprintf("advance log start to %d (log [%d, %d))", o, md.start, md.end))
	err := p.l.AdvanceLogStartOffset(o)
	if o > md.end {
		if !errors.Is(err, kerr.OffsetOutOfRange) {
			p.fatalf("advance log start past the end: got %v, want OFFSET_OUT_OF_RANGE", err)
		}
		return
	}
	if err != nil {
		p.fatalf("advance log start to %d: %v", o, err)
	}
	if o > md.start {
		md.start = o
		md.hw = max(md.hw, o)
		// Batches wholly below the start are unreachable: drop them.
		md.batches = md.batches[md.holding(o):]
	}
	md.ckStart = md.start
}

func (p *propRun) setHW() {
	md := &p.model
	o := md.start - 2 + p.rng.Int64N(md.end-md.start+5)
	p.trace = append(p.trace, fmt.Sprintf("set high watermark %d", o))
	p.l.SetHighWatermark(o)
	md.hw = min(max(o, md.start), md.end)
}

func (p *propRun) offsetForTimestamp() {
	md := &p.model
	ts := 1_700_000_000_000 - 10 + p.rng.Int64N(5020)
	p.trace = append(p.trace, fmt.Sprintf("offset for timestamp %d", ts))
	off, gotTs, ok, err := p.l.OffsetForTimestamp(ts)
	if err != nil {
		p.fatalf("offset for timestamp: %v", err)
	}
	wantOff, wantTs, wantOK := int64(-1), int64(-1), false
	for _, b := range md.batches {
		for d, rts := range b.ts {
			if o := b.base + int64(d); o >= md.start && rts >= ts {
				wantOff, wantTs, wantOK = o, rts, true
				break
			}
		}
		if wantOK {
			break
		}
	}
	if ok != wantOK || (ok && (off != wantOff || gotTs != wantTs)) {
		p.fatalf("offset for timestamp %d: got (%d, %d, %v), want (%d, %d, %v)", ts, off, gotTs, ok, wantOff, wantTs, wantOK)
	}
}

func (p *propRun) reopen(crash bool) {
	p.trace = append(p.trace, fmt.Sprintf("reopen (crash %v)", crash))
	if crash {
		crashed := p.mem.Crash()
		p.m.Close()
		p.mem = crashed
	} else {
		if err := p.m.Close(); err != nil {
			p.fatalf("close: %v", err)
		}
	}
	p.open()
	if crash {
		md := &p.model
		if s := min(max(md.start, md.ckStart), md.end); s != md.start {
			md.start = s
			md.hw = max(md.hw, s)
			md.batches = md.batches[md.holding(s):]
		}
	}
	p.model.ckStart = p.model.start // open writes the checkpoints
	if crash {
		// The high watermark is checkpointed now and then, not on every
		// change: after a crash it may be older, within the log.
		if hw := p.l.HighWatermark(); hw < p.l.LogStartOffset() || hw > p.l.LogEndOffset() {
			p.fatalf("high watermark %d outside [%d, %d] after a crash", hw, p.l.LogStartOffset(), p.l.LogEndOffset())
		}
		p.model.hw = p.l.HighWatermark()
	}
}

// check compares every offset and every byte of the log with the model.
func (p *propRun) check() {
	md := &p.model
	if s, e, h := p.l.LogStartOffset(), p.l.LogEndOffset(), p.l.HighWatermark(); s != md.start || e != md.end || h != md.hw {
		p.fatalf("log start/end/hw = %d/%d/%d, model %d/%d/%d", s, e, h, md.start, md.end, md.hw)
	}
	got, err := readAllBatches(p.l)
	if err != nil {
		p.fatalf("log does not validate: %v", err)
	}
	if len(got) != len(md.batches) {
		p.fatalf("log holds %d batches, model %d", len(got), len(md.batches))
	}
	for i, b := range got {
		if !bytes.Equal(b.bytes, md.batches[i].bytes) {
			p.fatalf("batch %d (offset %d) differs from the model", i, b.base)
		}
	}
}

func runProperty(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 0x9e09))
	p := &propRun{t: t, rng: rng, mem: vfs.NewMem()}
	p.cfg = storage.Config{
		SegmentBytes:       int64(300 + rng.IntN(3000)),
		SegmentIndexBytes:  12 * (1 + rng.IntN(20)),
		IndexIntervalBytes: 1 + rng.IntN(600),
		FlushMessages:      1,
	}
	p.open()
	defer func() { p.m.Close() }()
	for step := 0; step < steps; step++ {
		switch x := rng.IntN(100); {
		case x < 40:
			p.append()
		case x < 70:
			p.read()
		case x < 76:
			p.truncate()
		case x < 82:
			p.advanceStart()
		case x < 88:
			p.setHW()
		case x < 94:
			p.offsetForTimestamp()
		case x < 97:
			p.reopen(false)
		default:
			p.reopen(true)
		}
		if step%10 == 0 {
			p.check()
		}
	}
	p.check()
}

func TestLogMatchesModel(t *testing.T) {
	seeds, steps := 40, 400
	if longRun() {
		seeds, steps = 400, 1000
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runProperty(t, seed, steps) })
	}
}

// TestRecoveredSegmentTimeIndexAfterRoll: the segment that is active when
// an unclean stop happens is rebuilt by recovery and later rolled; its
// indexes must then be complete on disk, since the next restart trusts
// them. A query by timestamp after that restart must still find its
// records.
func TestRecoveredSegmentTimeIndexAfterRoll(t *testing.T) {
	for _, clean := range []bool{false, true} {
		t.Run(fmt.Sprintf("second restart clean=%v", clean), func(t *testing.T) {
			mem := vfs.NewMem()
			cfg := storage.Config{SegmentBytes: 1000, IndexIntervalBytes: 1, FlushMessages: 1}
			tp := storage.TopicPartition{Topic: "ts", Partition: 0}
			open := func() (*storage.Manager, *storage.Log) {
				t.Helper()
				m, err := openCrashManager(mem)
				if err != nil {
					t.Fatal(err)
				}
				l, err := m.GetOrCreate(tp, testTopicID, cfg)
				if err != nil {
					t.Fatal(err)
				}
				return m, l
			}
			appendTs := func(l *storage.Log, ts int64) {
				t.Helper()
				res, err := l.Append(testBatch(1, 50, ts, uint64(ts)), 0)
				if err != nil {
					t.Fatal(err)
				}
				if err := l.WaitFlushed(context.Background(), res.LastOffset+1); err != nil {
					t.Fatal(err)
				}
			}
			m, l := open()
			// Offsets 0..2 in segment 0; the newest record (ts +500) is offset 1.
			for _, d := range []int64{100, 500, 200} {
				appendTs(l, 1_700_000_000_000+d)
			}
			crashed := mem.Crash()
			m.Close()
			mem = crashed
			m, l = open() // recovery rebuilds segment 0, still active
			for i := range 20 {
				appendTs(l, 1_700_000_000_000+int64(i))
			}
			if l.NumSegments() < 2 {
				t.Fatalf("segment 0 did not roll: %v", l.SegmentBaseOffsets())
			}
			if err := m.WriteCheckpoints(); err != nil { // the recovery point passes segment 0
				t.Fatal(err)
			}
			if clean {
				if err := m.Close(); err != nil {
					t.Fatal(err)
				}
				mem = mem.Crash()
			} else {
				crashed := mem.Crash()
				m.Close()
				mem = crashed
			}
			m, l = open()
			defer m.Close()
			off, ts, ok, err := l.OffsetForTimestamp(1_700_000_000_300)
			if err != nil || !ok || off != 1 || ts != 1_700_000_000_500 {
				t.Errorf("OffsetForTimestamp(+300) = (%d, %d, %v, %v), want offset 1 at +500", off, ts, ok, err)
			}
		})
	}
}
