package storage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/producerstate"
	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// Tests of transactions on the log: markers, the last stable offset and the
// aborted-transaction index. The index is checked against a model computed
// from the log's own batches (txnModelOf), so that after appends,
// replication, truncation, a clean restart or a crash, what the index
// answers is what a scan of the surviving log says.

// txnData builds a transactional batch of n records of producer pid.
func txnData(t testing.TB, pid int64, epoch int16, seq int32, n int, ts int64) []byte {
	t.Helper()
	b := record.NewBuilder(record.CodecNone).SetProducer(pid, epoch, seq).SetTransactional(true)
	for i := range n {
		b.Add(ts+int64(i), []byte(fmt.Sprintf("p%d-s%d-%d", pid, seq, i)), []byte("value"))
	}
	out, err := b.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// logBatches returns copies of the log's batches from its start to its end.
func logBatches(t testing.TB, l *Log) [][]byte {
	t.Helper()
	var out [][]byte
	for off := l.LogStartOffset(); off < l.LogEndOffset(); {
		r, err := l.Read(off, 1<<20, -1, true)
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		b, err := r.Bytes()
		r.Release()
		if err != nil || len(b) == 0 {
			t.Fatalf("read at %d: %d bytes, %v", off, len(b), err)
		}
		for len(b) > 0 {
			batch, rest, ok, err := record.NextBatch(b)
			if err != nil || !ok {
				t.Fatalf("partial batch at %d: %v", off, err)
			}
			h, _ := record.ParseHeader(batch)
			out = append(out, batch)
			off = h.LastOffset() + 1
			b = rest
		}
	}
	return out
}

// txnModel is what a scan of a log says of its transactions.
type txnModel struct {
	aborted []AbortedTxn    // in marker order
	open    map[int64]int64 // producer -> first offset of its open transaction
}

func txnModelOf(t testing.TB, l *Log) txnModel {
	t.Helper()
	m := txnModel{open: map[int64]int64{}}
	for _, b := range logBatches(t, l) {
		h, _ := record.ParseHeader(b)
		switch {
		case h.Control():
			commit, _, err := record.ParseControl(b)
			if err != nil {
				t.Fatalf("marker at %d: %v", h.BaseOffset, err)
			}
			first, ok := m.open[h.ProducerID]
			if !ok {
				first = h.BaseOffset
			}
			delete(m.open, h.ProducerID)
			if !commit {
				m.aborted = append(m.aborted, AbortedTxn{ProducerID: h.ProducerID, FirstOffset: first, LastOffset: h.BaseOffset})
			}
		case h.Transactional():
			if _, ok := m.open[h.ProducerID]; !ok {
				m.open[h.ProducerID] = h.BaseOffset
			}
		}
	}
	return m
}

// want is what AbortedTransactions(fetch, upper) must answer.
func (m txnModel) want(fetch, upper int64) []AbortedTxn {
	var out []AbortedTxn
	for _, a := range m.aborted {
		if a.LastOffset >= fetch && a.FirstOffset < upper {
			out = append(out, a)
		}
	}
	return out
}

// checkTxnIndex compares the log's answers with the model of its batches,
// over every interesting pair of offsets, and its last stable offset once
// the high watermark is at the log end.
func checkTxnIndex(t testing.TB, what string, l *Log) txnModel {
	t.Helper()
	m := txnModelOf(t, l)
	leo := l.LogEndOffset()
	points := []int64{l.LogStartOffset(), leo, leo + 5}
	for _, a := range m.aborted {
		points = append(points, a.FirstOffset, a.FirstOffset+1, a.LastOffset, a.LastOffset+1)
	}
	slices.Sort(points)
	points = slices.Compact(points)
	if len(points) > 40 {
		rng := rand.New(rand.NewPCG(uint64(len(points)), 3))
		rng.Shuffle(len(points), func(i, j int) { points[i], points[j] = points[j], points[i] })
		points = points[:40]
	}
	for _, f := range points {
		for _, u := range points {
			got, want := l.AbortedTransactions(f, u), m.want(f, u)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: AbortedTransactions(%d, %d) = %v, want %v (log end %d)", what, f, u, got, want, leo)
			}
		}
	}
	l.SetHighWatermark(leo)
	wantLSO := leo
	for _, o := range m.open {
		wantLSO = min(wantLSO, max(o, l.LogStartOffset()))
	}
	if got := l.LastStableOffset(); got != wantLSO {
		t.Fatalf("%s: last stable offset %d, want %d (open transactions %v)", what, got, wantLSO, m.open)
	}
	return m
}

// txnDriver appends a random mix of plain batches, transactional batches of
// a few producers and their commit and abort markers.
type txnDriver struct {
	t     testing.TB
	l     *Log
	rng   *rand.Rand
	ts    int64
	epoch int16 // of every producer
	seq   map[int64]int32
	open  map[int64]bool
}

func newTxnDriver(t testing.TB, l *Log, seed uint64) *txnDriver {
	return &txnDriver{t: t, l: l, rng: rand.New(rand.NewPCG(seed, 99)), ts: 1_700_000_000_000,
		seq: map[int64]int32{}, open: map[int64]bool{}}
}

// bumpEpoch moves every producer to a new epoch (aborting what it had
// open), as a producer re-initialised after a truncation took its
// sequence numbers away.
func (d *txnDriver) bumpEpoch() {
	d.t.Helper()
	d.epoch++
	for pid := int64(1); pid <= 4; pid++ {
		if _, err := d.l.AppendMarker(pid, d.epoch, 0, false, 0); err != nil {
			d.t.Fatal(err)
		}
	}
	d.seq, d.open = map[int64]int32{}, map[int64]bool{}
}

// step appends one batch or marker; it returns the error of the append.
func (d *txnDriver) step() error {
	d.ts++
	pid := int64(1 + d.rng.IntN(4))
	switch x := d.rng.IntN(10); {
	case x < 2:
		_, err := d.l.Append(build(d.t, batchSpec{n: 1 + d.rng.IntN(3), ts: d.ts, valueSize: 20}), 0)
		return err
	case x < 7 || !d.open[pid] && x < 9:
		n := 1 + d.rng.IntN(3)
		_, err := d.l.Append(txnData(d.t, pid, d.epoch, d.seq[pid], n, d.ts), 0)
		if err == nil {
			d.seq[pid] += int32(n)
			d.open[pid] = true
		}
		return err
	default:
		// Ends the producer's transaction; now and then one it never wrote
		// to (a partition added but left empty), which aborts nothing.
		_, err := d.l.AppendMarker(pid, d.epoch, 0, d.rng.IntN(2) == 0, 0)
		if err == nil {
			d.open[pid] = false
		}
		return err
	}
}

func (d *txnDriver) run(n int) {
	d.t.Helper()
	for range n {
		if err := d.step(); err != nil {
			d.t.Fatalf("append: %v", err)
		}
	}
}

func txnTestConfig() Config {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 900 // a few batches per segment: transactions span segments
	return cfg
}

// TestLastStableOffset follows the last stable offset through two
// producers' transactions, and the abort's index entry.
func TestLastStableOffset(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	ts := e.clock.Ms()
	appendHW := func(b []byte) {
		t.Helper()
		if _, err := l.Append(b, 0); err != nil {
			t.Fatal(err)
		}
		l.SetHighWatermark(l.LogEndOffset())
	}
	appendHW(build(t, batchSpec{n: 2, ts: ts})) // 0-1
	appendHW(txnData(t, 7, 0, 0, 3, ts))        // 2-4: producer 7 opens
	appendHW(build(t, batchSpec{n: 1, ts: ts})) // 5
	appendHW(txnData(t, 8, 0, 0, 2, ts))        // 6-7: producer 8 opens
	if got := l.LastStableOffset(); got != 2 {
		t.Fatalf("LSO %d with producer 7 open from 2, want 2", got)
	}
	if o, ok := l.FirstUnstableOffset(); !ok || o != 2 {
		t.Fatalf("first unstable offset %d %v, want 2", o, ok)
	}
	off, err := l.AppendMarker(7, 0, 3, true, 0) // 8: commit 7
	if err != nil || off != 8 {
		t.Fatalf("commit marker at %d, %v; want 8", off, err)
	}
	if got := l.LastStableOffset(); got != 6 {
		t.Fatalf("LSO %d after producer 7 commits, want 6 (the high watermark is still 8)", got)
	}
	l.SetHighWatermark(9)
	if off, err := l.AppendMarker(8, 0, 3, false, 0); err != nil || off != 9 { // 9: abort 8
		t.Fatalf("abort marker at %d, %v; want 9", off, err)
	}
	if got := l.LastStableOffset(); got != 9 {
		t.Fatalf("LSO %d with nothing open, want the high watermark 9", got)
	}
	l.SetHighWatermark(10)
	if got := l.LastStableOffset(); got != 10 {
		t.Fatalf("LSO %d, want the high watermark 10", got)
	}
	want := []AbortedTxn{{ProducerID: 8, FirstOffset: 6, LastOffset: 9}}
	if got := l.AbortedTransactions(0, 10); !slices.Equal(got, want) {
		t.Fatalf("aborted %v, want %v", got, want)
	}
	if got := l.AbortedTransactions(0, 6); len(got) != 0 {
		t.Fatalf("aborted below 6: %v, want none", got)
	}
	if got := l.AbortedTransactions(10, 20); len(got) != 0 {
		t.Fatalf("aborted from 10: %v, want none", got)
	}
	var ce int32
	var open int64
	l.ProducerState(func(ps *producerstate.State) {
		en, _ := ps.Entry(8)
		ce, open = en.CoordinatorEpoch, en.CurrentTxnFirstOffset
	})
	if ce != 3 || open != -1 {
		t.Fatalf("producer 8: coordinator epoch %d, open transaction at %d; want 3 and none", ce, open)
	}
	// Read says where its region ends, for the aborted list's bound.
	r, err := l.Read(2, 1<<20, l.LastStableOffset(), true)
	if err != nil {
		t.Fatal(err)
	}
	if r.FirstOffset != 2 || r.NextOffset != 10 {
		t.Fatalf("read from 2: first %d next %d, want 2 and 10", r.FirstOffset, r.NextOffset)
	}
	r.Release()
	r, err = l.Read(0, 1, 10, true) // one batch only
	if err != nil {
		t.Fatal(err)
	}
	if r.NextOffset != 2 {
		t.Fatalf("read of the first batch: next %d, want 2", r.NextOffset)
	}
	r.Release()
}

// TestAppendMarkerFencing: a marker from an older producer epoch, or from a
// coordinator older than the one that wrote the producer's last marker, is
// refused and leaves the log as it was.
func TestAppendMarkerFencing(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	if _, err := l.Append(txnData(t, 5, 2, 0, 1, e.clock.Ms()), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendMarker(5, 2, 4, false, 0); err != nil {
		t.Fatal(err)
	}
	leo := l.LogEndOffset()
	if _, err := l.AppendMarker(5, 1, 4, true, 0); !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("older producer epoch: %v, want INVALID_PRODUCER_EPOCH", err)
	}
	if _, err := l.AppendMarker(5, 2, 3, true, 0); !errors.Is(err, kerr.TransactionCoordinatorFenced) {
		t.Fatalf("older coordinator epoch: %v, want TRANSACTION_COORDINATOR_FENCED", err)
	}
	if l.LogEndOffset() != leo {
		t.Fatalf("refused markers moved the log end from %d to %d", leo, l.LogEndOffset())
	}
	// The same coordinator epoch, or a newer one, and a newer producer
	// epoch pass; an unknown producer's marker too.
	for _, m := range []struct {
		pid   int64
		epoch int16
		coord int32
	}{{5, 2, 4}, {5, 3, 9}, {6, 0, 0}} {
		if _, err := l.AppendMarker(m.pid, m.epoch, m.coord, true, 0); err != nil {
			t.Fatalf("marker %+v: %v", m, err)
		}
	}
	if _, err := l.AppendMarker(5, 3, 8, true, 0); !errors.Is(err, kerr.TransactionCoordinatorFenced) {
		t.Fatalf("coordinator epoch 8 after 9: %v, want TRANSACTION_COORDINATOR_FENCED", err)
	}
	// Markers keep the timestamp type of the topic.
	cfg := DefaultConfig()
	cfg.TimestampType = LogAppendTime
	lat, err := e.m.GetOrCreate(TopicPartition{Topic: "lat", Partition: 0}, [16]byte{9}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lat.AppendMarker(1, 0, 0, true, 0); err != nil {
		t.Fatal(err)
	}
	h, _ := record.ParseHeader(logBatches(t, lat)[0])
	if !h.LogAppendTime() || h.MaxTimestamp != e.clock.Ms() || !h.Control() {
		t.Fatalf("marker on a LogAppendTime topic: %+v", h)
	}
}

// TestTxnIndexAgreesWithLog runs random workloads and checks the index
// against the log after appends, a clean reopen, truncations, and on a
// follower fed by AppendReplicated.
func TestTxnIndexAgreesWithLog(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			e := newEnv(t, nil)
			l := e.log(txnTestConfig())
			d := newTxnDriver(t, l, seed)
			d.run(150)
			if l.NumSegments() < 5 {
				t.Fatalf("%d segments: the workload should span several", l.NumSegments())
			}
			m := checkTxnIndex(t, "after appends", l)
			if len(m.aborted) < 5 {
				t.Fatalf("only %d aborted transactions: the workload is too tame", len(m.aborted))
			}

			// A follower copying the leader's batches indexes the same.
			f, err := e.m.GetOrCreate(TopicPartition{Topic: "follower", Partition: 0}, [16]byte{4}, txnTestConfig())
			if err != nil {
				t.Fatal(err)
			}
			bs := logBatches(t, l)
			for i := 0; i < len(bs); {
				n := min(len(bs)-i, 1+int(seed)%4)
				var chunk []byte
				for _, b := range bs[i : i+n] {
					chunk = append(chunk, b...)
				}
				if err := f.AppendReplicated(chunk); err != nil {
					t.Fatal(err)
				}
				i += n
			}
			fm := checkTxnIndex(t, "follower", f)
			if !slices.Equal(fm.aborted, m.aborted) {
				t.Fatalf("follower aborted %v, leader %v", fm.aborted, m.aborted)
			}

			// Through a clean restart, from the files.
			e.reopen()
			l, _ = e.m.Get(testTP)
			checkTxnIndex(t, "after a clean reopen", l)

			// Truncation trims the index; appends after it index on.
			rng := rand.New(rand.NewPCG(seed, 5))
			for range 3 {
				cut := l.LogStartOffset() + rng.Int64N(l.LogEndOffset()-l.LogStartOffset())
				if err := l.TruncateTo(cut); err != nil {
					t.Fatal(err)
				}
				checkTxnIndex(t, fmt.Sprintf("after truncation to %d", cut), l)
				d.l = l
				d.bumpEpoch()
				d.run(30)
				checkTxnIndex(t, "after appends past the truncation", l)
			}
			e.reopen()
			l, _ = e.m.Get(testTP)
			checkTxnIndex(t, "after a second reopen", l)
		})
	}
}

// TestTxnIndexRetention: segments deleted by DeleteRecords (and so by
// retention) take their aborted transactions along, files included.
func TestTxnIndexRetention(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(txnTestConfig())
	d := newTxnDriver(t, l, 11)
	d.run(120)
	m := checkTxnIndex(t, "before", l)
	bases := l.SegmentBaseOffsets()
	start := bases[len(bases)/2]
	if err := l.AdvanceLogStartOffset(start); err != nil {
		t.Fatal(err)
	}
	// The entries of the markers in the remaining segments stay, whatever
	// their first offsets.
	var want []AbortedTxn
	for _, a := range m.aborted {
		if a.LastOffset >= start {
			want = append(want, a)
		}
	}
	if got := l.AbortedTransactions(0, math.MaxInt64); !slices.Equal(got, want) {
		t.Fatalf("after the log start moved to %d: %v, want %v", start, got, want)
	}
	e.reopen()
	l, _ = e.m.Get(testTP)
	if got := l.AbortedTransactions(0, math.MaxInt64); !slices.Equal(got, want) {
		t.Fatalf("after a reopen: %v, want %v", got, want)
	}
	ents, err := e.fs.ReadDir(l.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range ents {
		if b, ok := parseSegmentName(de.Name(), txnIndexSuffix); ok && b < start {
			t.Fatalf("%s left behind by deleted segments", de.Name())
		}
	}
}

// TestTxnIndexCrashes: the index agrees with the log that survives a crash
// at any point of a transactional workload, torn or not, durable writes or
// not, and goes on agreeing as the recovered log takes more.
func TestTxnIndexCrashes(t *testing.T) {
	trials := 60
	if os.Getenv("SLUICE_LONG") == "1" {
		trials = 600
	}
	rng := rand.New(rand.NewPCG(17, 4))
	for trial := range trials {
		cfg := txnTestConfig()
		if trial%2 == 0 {
			cfg.FlushMessages = 1
		}
		fsys := vfs.NewMem()
		m := openCrashEnv(t, fsys, cfg)
		l, err := m.GetOrCreate(testTP, [16]byte{1}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		d := newTxnDriver(t, l, uint64(trial))
		d.run(40 + rng.IntN(40)) // a history, synced (the log's creation with it)
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		fsys.CrashAfter(rng.Int64N(120))
		for range 200 {
			if d.step() != nil {
				break
			}
			if cfg.FlushMessages == 1 {
				if l.WaitFlushed(context.Background(), l.LogEndOffset()) != nil {
					break
				}
			}
		}
		var after *vfs.MemFS
		if rng.IntN(2) == 0 {
			after = fsys.Crash()
		} else {
			after = fsys.CrashTorn(rng)
		}
		what := fmt.Sprintf("trial %d", trial)
		m2 := openCrashEnv(t, after, cfg)
		l2, ok := m2.Get(testTP)
		if !ok {
			t.Fatalf("%s: log gone", what)
		}
		checkTxnIndex(t, what+": recovered", l2)
		d2 := newTxnDriver(t, l2, uint64(trial)+1000)
		d2.bumpEpoch()
		d2.run(20)
		checkTxnIndex(t, what+": appended after recovery", l2)
		if err := m2.Close(); err != nil {
			t.Fatalf("%s: close: %v", what, err)
		}
		m3 := openCrashEnv(t, after, cfg)
		l3, _ := m3.Get(testTP)
		checkTxnIndex(t, what+": reopened cleanly", l3)
		_ = m3.Close()
	}
}

// TestCleanerKeepsTxnIndex: compaction keeps the markers (no transaction
// filter) and carries their index entries into the segments it writes,
// through a restart; and it stops below an open transaction.
func TestCleanerKeepsTxnIndex(t *testing.T) {
	e := newEnv(t, nil)
	cfg := txnTestConfig()
	cfg.CleanupPolicy = CleanupCompact
	l := e.log(cfg)
	d := newTxnDriver(t, l, 21)
	d.run(120)
	for pid := int64(1); pid <= 4; pid++ { // close every transaction
		if _, err := l.AppendMarker(pid, 0, 0, false, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Producer 9 opens a transaction and leaves it open; more follows.
	openAt := l.LogEndOffset()
	if _, err := l.Append(txnData(t, 9, 0, 0, 2, e.clock.Ms()), 0); err != nil {
		t.Fatal(err)
	}
	d.open = map[int64]bool{}
	for range 40 {
		if _, err := l.Append(build(t, batchSpec{n: 2, ts: e.clock.Ms(), valueSize: 30}), 0); err != nil {
			t.Fatal(err)
		}
	}
	before := checkTxnIndex(t, "before the clean", l)
	settle(l)
	st, err := l.Compact(context.Background())
	if err != nil || st == nil || st.SegmentsWritten == 0 {
		t.Fatalf("clean: %+v, %v", st, err)
	}
	if st.EndOffset > openAt {
		t.Fatalf("the clean mapped up to %d, past the open transaction at %d", st.EndOffset, openAt)
	}
	got := l.AbortedTransactions(0, math.MaxInt64)
	if !slices.Equal(got, before.aborted) {
		t.Fatalf("after the clean: %v, want %v", got, before.aborted)
	}
	e.reopen()
	l, _ = e.m.Get(testTP)
	if got := l.AbortedTransactions(0, math.MaxInt64); !slices.Equal(got, before.aborted) {
		t.Fatalf("after the clean and a reopen: %v, want %v", got, before.aborted)
	}
}

// TestTxnIndexConcurrentReaders: readers of the index and the last stable
// offset run beside appends, rolls, flushes and truncations (run with -race).
func TestTxnIndexConcurrentReaders(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(txnTestConfig())
	d := newTxnDriver(t, l, 31)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			leo := l.LogEndOffset()
			for _, a := range l.AbortedTransactions(0, leo) {
				if a.FirstOffset > a.LastOffset {
					t.Errorf("aborted transaction %+v ends before it starts", a)
					return
				}
			}
			if lso := l.LastStableOffset(); lso > l.LogEndOffset() {
				t.Errorf("last stable offset %d past the log end", lso)
				return
			}
		}
	}()
	for i := range 6 {
		d.run(40)
		l.SetHighWatermark(l.LogEndOffset())
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			if err := l.TruncateTo(l.LogEndOffset() - 10); err != nil {
				t.Fatal(err)
			}
			d.bumpEpoch()
		}
	}
	close(stop)
	<-done
	checkTxnIndex(t, "after concurrent reads", l)
}

// TestLastStableOffsetWhileAppending races a reader against the appender as a leader's
// follower fetch does: the reader spins on the log end, and as soon as a transaction's
// first batch is there, raises the high watermark to it (a follower that replicated it
// at once) and reads the LSO. The batch's transaction is open, so the LSO must stay at
// its first offset: a read_committed fetch must not return it. The appender writes the
// commit marker only once the reader has looked, so what the reader sees is never a
// committed transaction. Before the producer state was applied ahead of publishing the
// log end, the reader could find the batch in the log with its transaction not yet
// open, and the LSO past it (a chaos run on five nodes read a record before its commit).
func TestLastStableOffsetWhileAppending(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	ts := e.clock.Ms()
	const rounds = 3000
	looked := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		var last int64
		for range rounds {
			// Spin rather than wait on WaitAppend: a woken goroutine comes too late to
			// see the moment between the log end moving and the producer state.
			for l.LogEndOffset() == last {
			}
			base := last
			l.SetHighWatermark(l.LogEndOffset())
			if lso := l.LastStableOffset(); lso > base {
				errs <- fmt.Errorf("LSO %d with the transaction opened at %d not yet committed (high watermark %d)", lso, base, l.HighWatermark())
				return
			}
			looked <- struct{}{}
			// The commit marker follows at base+1; wait until it is there.
			for l.LogEndOffset() < base+2 {
			}
			last = base + 2
		}
	}()
	for r := range rounds {
		pid := int64(r + 1)
		if _, err := l.Append(txnData(t, pid, 0, 0, 1, ts), 0); err != nil {
			t.Fatal(err)
		}
		select {
		case <-looked:
		case err := <-errs:
			t.Fatalf("round %d: %v", r, err)
		}
		if _, err := l.AppendMarker(pid, 0, 0, true, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}
