package storage_test

// Crash tests on the strict in-memory filesystem (vfs.MemFS).
//
// Each trial runs a few rounds against one MemFS. A round opens the log
// manager, checks what it finds against the model, lets writers append in
// durable mode (FlushMessages 1, WaitFlushed before counting a write as
// acknowledged) until the filesystem "crashes" at a random mutating
// operation (an append's write, a flush's fsync, a segment roll's create, an
// index write, a directory sync...), and then takes what a restarted process
// would find on disk: only synced state (Crash), or synced state plus a
// random prefix of what was not synced (CrashTorn). The next round reopens
// that image and checks that
//   - every acknowledged batch is there, byte for byte, in order;
//   - the log validates end to end: every batch's CRC, offsets contiguous
//     from the log start offset to the log end offset;
//   - whatever else is there is a batch the writers really appended;
//   - appending and reading still work.
// Some rounds end with a clean Close instead; after it everything appended
// must survive even a crash.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/storage"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// longRun reports whether the long variants were asked for.
func longRun() bool { return os.Getenv("SLUICE_LONG") == "1" }

// ---- batches ----

// testBatch builds a v2 record batch of n uncompressed records, each with a
// value of valueSize bytes derived from seed, base offset 0, CRC set.
func testBatch(n, valueSize int, baseTs int64, seed uint64) []byte {
	return appendTestBatch(nil, n, valueSize, baseTs, seed)
}

func appendTestBatch(dst []byte, n, valueSize int, baseTs int64, seed uint64) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, record.HeaderSize)...)
	value := make([]byte, valueSize)
	x := seed*0x9e3779b97f4a7c15 + 1
	for i := range value {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		value[i] = byte(x)
	}
	var body []byte
	for i := range n {
		body = body[:0]
		body = append(body, 0)                              // attributes
		body = binary.AppendVarint(body, int64(i))          // timestamp delta
		body = binary.AppendVarint(body, int64(i))          // offset delta
		body = binary.AppendVarint(body, -1)                // null key
		body = binary.AppendVarint(body, int64(len(value))) // value length
		body = append(body, value...)
		body = binary.AppendVarint(body, 0) // no headers
		dst = binary.AppendVarint(dst, int64(len(body)))
		dst = append(dst, body...)
		if len(value) > 0 {
			value[0]++ // records differ within a batch
		}
	}
	b := dst[start:]
	be := binary.BigEndian
	be.PutUint64(b[0:], 0)
	be.PutUint32(b[8:], uint32(len(b)-record.LogOverhead))
	be.PutUint32(b[12:], 0)
	b[16] = 2
	be.PutUint16(b[21:], 0)
	be.PutUint32(b[23:], uint32(n-1))
	be.PutUint64(b[27:], uint64(baseTs))
	be.PutUint64(b[35:], uint64(baseTs+int64(n-1)))
	be.PutUint64(b[43:], ^uint64(0)) // producer id -1
	be.PutUint16(b[51:], ^uint16(0)) // producer epoch -1
	be.PutUint32(b[53:], ^uint32(0)) // base sequence -1
	be.PutUint32(b[57:], uint32(n))
	record.SetCRC(b)
	return dst
}

// placed returns a copy of batch as the log stores it: base offset and
// partition leader epoch patched in (neither is covered by the CRC).
func placed(batch []byte, base int64, epoch int32) []byte {
	b := slices.Clone(batch)
	binary.BigEndian.PutUint64(b[0:], uint64(base))
	binary.BigEndian.PutUint32(b[12:], uint32(epoch))
	return b
}

// sameBatchContent reports whether two batches are the same producer batch,
// whatever offset and epoch the log gave them.
func sameBatchContent(a, b []byte) bool {
	return len(a) == len(b) && len(a) >= record.HeaderSize && bytes.Equal(a[16:], b[16:])
}

// ---- reading and validating a whole log ----

type storedBatch struct {
	base, last int64
	bytes      []byte
}

// readAllBatches reads the log from its start offset to its end offset and
// validates it end to end: every batch parses, fits, passes its CRC, and
// offsets are contiguous.
func readAllBatches(l *storage.Log) ([]storedBatch, error) {
	start, end := l.LogStartOffset(), l.LogEndOffset()
	var out []storedBatch
	next := start
	for next < end {
		r, err := l.Read(next, 64<<10, end, true)
		if err != nil {
			return out, fmt.Errorf("read at %d (log %d..%d): %w", next, start, end, err)
		}
		b, err := r.Bytes()
		r.Release()
		if err != nil {
			return out, fmt.Errorf("read at %d: %w", next, err)
		}
		if len(b) == 0 {
			return out, fmt.Errorf("read at %d returned nothing below the log end offset %d", next, end)
		}
		for len(b) > 0 {
			h, err := record.ParseHeader(b)
			if err != nil {
				return out, fmt.Errorf("batch near offset %d: %w", next, err)
			}
			if h.Size() > len(b) {
				return out, fmt.Errorf("batch at %d: %d bytes, only %d read", h.BaseOffset, h.Size(), len(b))
			}
			bb := b[:h.Size()]
			if !record.CheckCRC(bb) {
				return out, fmt.Errorf("batch at %d: CRC mismatch served", h.BaseOffset)
			}
			first := len(out) == 0
			switch {
			case first && (h.BaseOffset > next || h.LastOffset() < next):
				return out, fmt.Errorf("first batch %d..%d does not hold the start offset %d", h.BaseOffset, h.LastOffset(), next)
			case !first && h.BaseOffset != next:
				return out, fmt.Errorf("batch at %d after offset %d: offsets not contiguous", h.BaseOffset, next-1)
			case h.LastOffset() < h.BaseOffset:
				return out, fmt.Errorf("batch at %d: last offset %d below base", h.BaseOffset, h.LastOffset())
			}
			out = append(out, storedBatch{base: h.BaseOffset, last: h.LastOffset(), bytes: slices.Clone(bb)})
			next = h.LastOffset() + 1
			b = b[h.Size():]
		}
	}
	if next != end {
		return out, fmt.Errorf("batches end at %d, log end offset is %d", next, end)
	}
	return out, nil
}

// ---- the crash scenario ----

// crashParams are one trial's random choices.
type crashParams struct {
	seed       uint64
	partitions int
	writers    int
	rounds     int
	cfg        storage.Config
	torn       bool // CrashTorn instead of Crash
	noSync     bool // wrap the filesystem in vfs.NoSync (fsync removed)
}

// partModel is what the test knows of one partition.
type partModel struct {
	mu       sync.Mutex
	batches  map[int64][]byte // base offset -> stored bytes, of every append that returned
	failed   [][]byte         // batches whose Append returned an error (may or may not be there)
	acked    int64            // highest offset acknowledged durable (-1: none)
	durable  []storedBatch    // what the last check found: must never shrink
	nextSeed uint64
}

// crashReport is what a trial found. violations are durability or
// validity failures; errs are unexpected errors of the harness or engine.
type crashReport struct {
	mu         sync.Mutex
	crashes    int
	crashOps   map[string]int
	violations []string
	acked      int
}

// hangTimeout is how long a WaitFlushed may take before the trial calls it
// hung: far beyond any in-memory fsync.
const hangTimeout = 5 * time.Second

func (r *crashReport) hang(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.violations = append(r.violations, fmt.Sprintf(format, args...))
}

func (r *crashReport) violate(format string, args ...any) {
	r.violations = append(r.violations, fmt.Sprintf(format, args...))
}

var testTopicID = [16]byte{0x51, 0x75, 0x1c, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

func randomCrashParams(seed uint64) crashParams {
	rng := rand.New(rand.NewPCG(seed, 0xc4a54))
	p := crashParams{
		seed:       seed,
		partitions: 1 + rng.IntN(3),
		writers:    1 + rng.IntN(4),
		rounds:     3 + rng.IntN(4),
		torn:       rng.IntN(2) == 0,
	}
	p.cfg = storage.Config{
		SegmentBytes:       int64(512 + rng.IntN(8<<10)),
		SegmentIndexBytes:  12 * (2 + rng.IntN(30)), // a handful of entries: index-full rolls
		IndexIntervalBytes: 32 + rng.IntN(1024),
		FlushMessages:      1,
	}
	return p
}

func partitionName(i int) storage.TopicPartition {
	return storage.TopicPartition{Topic: "crash", Partition: int32(i)}
}

// runCrashTrial runs one trial and reports what it found. It fails t only
// for harness errors; durability failures are returned as violations so
// that TestCrashCheckerDetectsMissingFsync can expect them.
func runCrashTrial(t testing.TB, p crashParams) *crashReport {
	rng := rand.New(rand.NewPCG(p.seed, 0x5eed))
	rep := &crashReport{crashOps: map[string]int{}}
	mem := vfs.NewMem()
	if err := mem.MkdirAll("/data", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := mem.SyncDir("/"); err != nil {
		t.Fatal(err)
	}
	models := make([]*partModel, p.partitions)
	for i := range models {
		models[i] = &partModel{batches: map[int64][]byte{}, acked: -1, nextSeed: uint64(i) << 32}
	}
	opsEstimate := int64(150)
	for round := 0; round < p.rounds; round++ {
		var fsys vfs.FS = mem
		if p.noSync {
			fsys = vfs.NoSync(mem)
		}
		ctx := context.Background()
		m, err := openCrashManager(fsys)
		if err != nil {
			rep.violate("round %d: reopen failed: %v", round, err)
			return rep
		}
		logs := make([]*storage.Log, p.partitions)
		for i := range logs {
			logs[i], err = m.GetOrCreate(partitionName(i), testTopicID, p.cfg)
			if err != nil {
				rep.violate("round %d: open partition %d: %v", round, i, err)
				m.Close()
				return rep
			}
		}
		// Check what survived against the model.
		for i, l := range logs {
			checkRecovered(rep, round, i, l, models[i])
		}
		if len(rep.violations) > 0 {
			rep.violate("the files found at reopen (name, size, batches):\n%s", dumpFS(mem, "/data"))
			m.Close()
			return rep
		}
		// Appending and reading still work after recovery.
		for i, l := range logs {
			if !appendAndReadBack(rep, round, i, l, models[i]) {
				m.Close()
				return rep
			}
		}

		clean := rng.IntN(5) == 0
		before := mem.Ops()
		if !clean {
			mem.CrashAfter(rng.Int64N(opsEstimate + 1))
		}
		appends := 10 + rng.IntN(40)
		runWriters(ctx, p, rng.Uint64(), m, logs, models, appends, round, mem.Halted, rep)
		if clean {
			if err := m.Close(); err != nil {
				rep.violate("round %d: clean close: %v", round, err)
				return rep
			}
			// After a clean shutdown everything appended is durable.
			for _, pm := range models {
				pm.mu.Lock()
				for base, b := range pm.batches {
					if last := base + int64(binary.BigEndian.Uint32(b[23:])); last > pm.acked {
						pm.acked = last
					}
				}
				pm.mu.Unlock()
			}
			mem = mem.Crash()
			continue
		}
		if !mem.Halted() {
			mem.Halt() // the writers finished first: crash now, idle
		}
		// Crash points are drawn from [0, opsEstimate]; a round that ends
		// before its crash point shows how many operations a round takes.
		if op, ok := mem.CrashPoint(); ok {
			rep.crashOps[classifyOp(op)]++
		} else {
			rep.crashOps["idle (after the writers finished)"]++
			opsEstimate = max(20, (mem.Ops()-before)*11/10)
		}
		m.Close() // errors expected: the filesystem is dead
		if p.torn {
			mem = mem.CrashTorn(rng)
		} else {
			mem = mem.Crash()
		}
		rep.crashes++
	}
	// A final reopen checks the last crash.
	m, err := openCrashManager(mem)
	if err != nil {
		rep.violate("final reopen: %v", err)
		return rep
	}
	defer m.Close()
	for i := range models {
		l, err := m.GetOrCreate(partitionName(i), testTopicID, p.cfg)
		if err != nil {
			rep.violate("final open partition %d: %v", i, err)
			return rep
		}
		checkRecovered(rep, p.rounds, i, l, models[i])
		appendAndReadBack(rep, p.rounds, i, l, models[i])
	}
	for _, pm := range models {
		rep.acked += int(pm.acked + 1)
	}
	return rep
}

// runWriters appends from p.writers goroutines in durable mode until each
// did its share of appends or the filesystem died.
func runWriters(ctx context.Context, p crashParams, seed uint64, m *storage.Manager, logs []*storage.Log, models []*partModel, appends int, round int, halted func() bool, rep *crashReport) {
	var wg sync.WaitGroup
	for w := range p.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for range appends / p.writers {
				i := rng.IntN(len(logs))
				pm := models[i]
				// Now and then, the other writes the engine does: an
				// explicit flush (active indexes) and the checkpoints.
				switch rng.IntN(16) {
				case 0:
					// Flush waits like WaitFlushed but takes no context.
					done := make(chan struct{})
					go func() { _ = logs[i].Flush(); close(done) }()
					select {
					case <-done:
					case <-time.After(hangTimeout):
						rep.hang("round %d partition %d: Flush still waiting after %v (the filesystem halted: %v)",
							round, i, hangTimeout, halted())
						return
					}
				case 1:
					_ = m.WriteCheckpoints()
				}
				pm.mu.Lock()
				pm.nextSeed++
				s := pm.nextSeed
				pm.mu.Unlock()
				batch := testBatch(1+rng.IntN(5), rng.IntN(300), 1_700_000_000_000+int64(s), s)
				res, err := logs[i].Append(slices.Clone(batch), 7)
				if err != nil {
					pm.mu.Lock()
					pm.failed = append(pm.failed, batch)
					pm.mu.Unlock()
					return
				}
				pm.mu.Lock()
				pm.batches[res.BaseOffset] = placed(batch, res.BaseOffset, 7)
				pm.mu.Unlock()
				wctx, cancel := context.WithTimeout(ctx, hangTimeout)
				err = logs[i].WaitFlushed(wctx, res.LastOffset+1)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					rep.hang("round %d partition %d: WaitFlushed(%d) still waiting after %v (the filesystem halted: %v)",
						round, i, res.LastOffset+1, hangTimeout, halted())
				}
				if err != nil {
					return
				}
				pm.mu.Lock()
				if res.LastOffset > pm.acked {
					pm.acked = res.LastOffset
				}
				pm.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// checkRecovered compares a reopened partition with its model, then makes
// what it found the model's new durable floor.
func checkRecovered(rep *crashReport, round, part int, l *storage.Log, pm *partModel) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	got, err := readAllBatches(l)
	if err != nil {
		rep.violate("round %d partition %d: log does not validate: %v", round, part, err)
		return
	}
	if l.LogStartOffset() != 0 {
		rep.violate("round %d partition %d: log start offset %d, want 0", round, part, l.LogStartOffset())
	}
	if leo := l.LogEndOffset(); leo <= pm.acked {
		rep.violate("round %d partition %d: acknowledged offset %d lost: log end offset %d", round, part, pm.acked, leo)
	}
	// Every batch found must be one the writers appended: at its offset if
	// its Append returned, or one whose Append failed mid-way.
	for _, b := range got {
		if want, ok := pm.batches[b.base]; ok {
			if !bytes.Equal(want, b.bytes) {
				rep.violate("round %d partition %d: batch at %d differs from what was appended", round, part, b.base)
			}
			continue
		}
		idx := slices.IndexFunc(pm.failed, func(f []byte) bool { return sameBatchContent(f, b.bytes) })
		if idx < 0 {
			rep.violate("round %d partition %d: batch at %d was never appended", round, part, b.base)
			continue
		}
		pm.failed = slices.Delete(pm.failed, idx, idx+1)
	}
	// Every acknowledged batch, and everything an earlier check found, is
	// still there unchanged.
	have := map[int64][]byte{}
	for _, b := range got {
		have[b.base] = b.bytes
	}
	for _, d := range pm.durable {
		if !bytes.Equal(have[d.base], d.bytes) {
			rep.violate("round %d partition %d: batch %d..%d survived an earlier restart but is gone now", round, part, d.base, d.last)
			return
		}
	}
	for base, b := range pm.batches {
		if base <= pm.acked && !bytes.Equal(have[base], b) {
			rep.violate("round %d partition %d: acknowledged batch at %d missing or changed", round, part, base)
			return
		}
	}
	// The new model: exactly what is there now, all durable.
	pm.durable = got
	pm.batches = map[int64][]byte{}
	for _, b := range got {
		pm.batches[b.base] = b.bytes
	}
	pm.failed = nil
	pm.acked = -1
	if len(got) > 0 {
		pm.acked = got[len(got)-1].last
	}
}

// appendAndReadBack appends one durable batch and reads it back.
func appendAndReadBack(rep *crashReport, round, part int, l *storage.Log, pm *partModel) bool {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	pm.nextSeed++
	batch := testBatch(2, 50, 1_700_000_000_000, pm.nextSeed)
	res, err := l.Append(slices.Clone(batch), 7)
	if err != nil {
		rep.violate("round %d partition %d: append after recovery: %v", round, part, err)
		return false
	}
	if err := l.WaitFlushed(context.Background(), res.LastOffset+1); err != nil {
		rep.violate("round %d partition %d: flush after recovery: %v", round, part, err)
		return false
	}
	if res.BaseOffset != pm.acked+1 {
		rep.violate("round %d partition %d: append after recovery got offset %d, want %d", round, part, res.BaseOffset, pm.acked+1)
		return false
	}
	r, err := l.Read(res.BaseOffset, 1<<20, l.LogEndOffset(), true)
	if err != nil {
		rep.violate("round %d partition %d: read back: %v", round, part, err)
		return false
	}
	got, err := r.Bytes()
	r.Release()
	want := placed(batch, res.BaseOffset, 7)
	if err != nil || !bytes.HasPrefix(got, want) {
		rep.violate("round %d partition %d: read back differs", round, part)
		return false
	}
	pm.batches[res.BaseOffset] = want
	pm.durable = append(pm.durable, storedBatch{base: res.BaseOffset, last: res.LastOffset, bytes: want})
	pm.acked = res.LastOffset
	return true
}

// classifyOp names the part of the engine a crash point hit.
func classifyOp(op vfs.Op) string {
	ext := op.Path[strings.LastIndexByte(op.Path, '/')+1:]
	if i := strings.IndexByte(ext, '.'); i >= 0 {
		ext = ext[i:]
	} else {
		ext = "(" + ext + ")"
	}
	switch {
	case op.Kind == vfs.OpWrite && ext == ".log":
		return "append: write .log"
	case op.Kind == vfs.OpSync && ext == ".log":
		return "flush: fsync .log"
	case op.Kind == vfs.OpCreate && ext == ".log":
		return "roll: create .log"
	case ext == ".index" || ext == ".timeindex":
		return "index: " + op.Kind.String() + " " + ext
	}
	return op.Kind.String() + " " + ext
}

func summarize(ops map[string]int) string {
	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %-28s %d", k, ops[k])
	}
	return b.String()
}

// TestCrashRecovery runs crash trials until at least minCrashes simulated
// crashes have been checked.
func TestCrashRecovery(t *testing.T) {
	minCrashes := 1000
	if longRun() {
		minCrashes = 20000
	}
	if testing.Short() {
		minCrashes = 100
	}
	// SLUICE_CRASH_KEEPGOING=1 reports every failing seed instead of the
	// first: a debugging aid.
	keepGoing := os.Getenv("SLUICE_CRASH_KEEPGOING") == "1"
	start := time.Now()
	total := &crashReport{crashOps: map[string]int{}}
	for seed := uint64(1); total.crashes < minCrashes; seed++ {
		p := randomCrashParams(seed)
		rep := runCrashTrial(t, p)
		total.crashes += rep.crashes
		total.acked += rep.acked
		for k, v := range rep.crashOps {
			total.crashOps[k] += v
		}
		if len(rep.violations) > 0 {
			if keepGoing {
				t.Errorf("seed %d (%+v): %s", seed, p, strings.Join(rep.violations, "\n"))
				continue
			}
			t.Fatalf("seed %d (%+v): %s", seed, p, strings.Join(rep.violations, "\n"))
		}
	}
	t.Logf("%d crashes checked in %v, %d acknowledged offsets verified; crash points:%s",
		total.crashes, time.Since(start).Round(time.Millisecond), total.acked, summarize(total.crashOps))
	// The crash points must really cover the engine's write paths.
	for _, want := range []string{"append: write .log", "flush: fsync .log", "roll: create .log"} {
		if total.crashOps[want] == 0 {
			t.Errorf("no crash ever hit %q", want)
		}
	}
}

// TestCrashCheckerDetectsMissingFsync runs the same scenario with File.Sync
// turned into a no-op: acknowledged writes are then never durable, and the
// checker must notice. If this test fails, TestCrashRecovery proves nothing.
func TestCrashCheckerDetectsMissingFsync(t *testing.T) {
	detected := 0
	for seed := uint64(1); seed <= 20; seed++ {
		p := randomCrashParams(seed)
		p.noSync = true
		p.torn = false
		rep := runCrashTrial(t, p)
		for _, v := range rep.violations {
			if strings.Contains(v, "acknowledged") {
				detected++
				t.Logf("seed %d: detected: %s", seed, v)
				break
			}
		}
	}
	if detected == 0 {
		t.Fatal("with fsync removed, no trial lost an acknowledged write: the crash checker is blind")
	}
	t.Logf("%d of 20 trials caught acknowledged data lost without fsync", detected)
}

// openCrashManager opens the manager of a crash trial: no background
// scheduler (the writers call Flush and WriteCheckpoints themselves), and
// the engine's logs discarded, since they are all about the expected
// failures.
func openCrashManager(fsys vfs.FS) (*storage.Manager, error) {
	return storage.OpenManager(context.Background(), storage.ManagerConfig{
		Dirs:              []string{"/data"},
		FS:                fsys,
		Logger:            slog.New(slog.DiscardHandler),
		SchedulerInterval: -1,
	})
}

// TestRecoveryTruncatesAtLostSegmentTail: the files a crash can leave when
// a rolled segment's last bytes never reached the disk but the next
// segment's file (and maybe its data: roll finishers fsync segments
// concurrently) did. Recovery must cut the log at the first missing offset:
// no gap in the offsets, and no log end offset above the data.
func TestRecoveryTruncatesAtLostSegmentTail(t *testing.T) {
	tests := []struct {
		name    string
		damage  []string // .log files (by base offset) emptied before reopening
		wantLEO int64
	}{
		{"middle segment lost, later data survived", []string{"00000000000000000002"}, 2},
		{"middle and last segments lost", []string{"00000000000000000002", "00000000000000000004"}, 2},
		{"last closed segment lost, active segment empty", []string{"00000000000000000004"}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := vfs.NewMem()
			m, err := openCrashManager(mem)
			if err != nil {
				t.Fatal(err)
			}
			// Each 175-byte batch fills a 300-byte segment: segments 0, 2, 4, 6.
			cfg := storage.Config{SegmentBytes: 300, FlushMessages: 1}
			tp := storage.TopicPartition{Topic: "gap", Partition: 0}
			l, err := m.GetOrCreate(tp, testTopicID, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 4 {
				res, err := l.Append(testBatch(2, 50, 1_700_000_000_000, uint64(i)), 1)
				if err != nil {
					t.Fatal(err)
				}
				if err := l.WaitFlushed(context.Background(), res.LastOffset+1); err != nil {
					t.Fatal(err)
				}
			}
			if got := l.SegmentBaseOffsets(); !slices.Equal(got, []int64{0, 2, 4, 6}) {
				t.Fatalf("segments %v, want [0 2 4 6]", got)
			}
			crashed := mem.Crash()
			m.Close()
			for _, base := range tt.damage {
				f, err := crashed.OpenFile("/data/gap-0/"+base+".log", os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				if err := f.Truncate(0); err != nil {
					t.Fatal(err)
				}
				f.Sync()
				f.Close()
			}
			m, err = openCrashManager(crashed)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			l, err = m.GetOrCreate(tp, testTopicID, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := readAllBatches(l); err != nil {
				t.Errorf("log does not validate: %v", err)
			}
			if got := l.LogEndOffset(); got != tt.wantLEO {
				t.Errorf("log end offset %d, want %d (the first offset whose data is gone)", got, tt.wantLEO)
			}
		})
	}
}

// dumpFS lists the files under dir with their sizes, the offsets of the
// batches of each .log and the contents of checkpoint files: the state a
// failing crash trial found.
func dumpFS(fsys vfs.FS, dir string) string {
	var b strings.Builder
	var walk func(d string)
	walk = func(d string) {
		es, err := fsys.ReadDir(d)
		if err != nil {
			return
		}
		for _, e := range es {
			p := path.Join(d, e.Name())
			if e.IsDir() {
				walk(p)
				continue
			}
			info, _ := e.Info()
			fmt.Fprintf(&b, "%s %d", p, info.Size())
			if strings.HasSuffix(p, ".log") {
				f, _ := fsys.OpenFile(p, os.O_RDONLY, 0)
				data, _ := io.ReadAll(f)
				f.Close()
				for pos := 0; pos+record.HeaderSize <= len(data); {
					h, err := record.ParseHeader(data[pos:])
					if err != nil || pos+h.Size() > len(data) {
						fmt.Fprintf(&b, " [bad at %d]", pos)
						break
					}
					fmt.Fprintf(&b, " %d-%d", h.BaseOffset, h.LastOffset())
					pos += h.Size()
				}
			}
			if strings.HasSuffix(p, "checkpoint") {
				f, _ := fsys.OpenFile(p, os.O_RDONLY, 0)
				data, _ := io.ReadAll(f)
				f.Close()
				fmt.Fprintf(&b, " %q", data)
			}
			b.WriteString("\n")
		}
	}
	walk(dir)
	return b.String()
}
