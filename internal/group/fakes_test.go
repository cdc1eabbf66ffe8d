package group

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// fakeClock is a Clock that moves only when Advance is called; timers fire
// in time order from Advance's goroutine.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	seq     int
	f       func()
	stopped bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, at: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Advance moves time forward by d, firing every timer due on the way.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		live := c.timers[:0]
		for _, t := range c.timers {
			if !t.stopped {
				live = append(live, t)
			}
		}
		c.timers = live
		sort.Slice(c.timers, func(i, j int) bool {
			if !c.timers[i].at.Equal(c.timers[j].at) {
				return c.timers[i].at.Before(c.timers[j].at)
			}
			return c.timers[i].seq < c.timers[j].seq
		})
		if len(c.timers) == 0 || c.timers[0].at.After(target) {
			c.now = target
			c.mu.Unlock()
			return
		}
		t := c.timers[0]
		c.timers = c.timers[1:]
		t.stopped = true
		if t.at.After(c.now) {
			c.now = t.at
		}
		c.mu.Unlock()
		t.f()
	}
}

// memStore is an in-memory __consumer_offsets. With hold set, appends are
// acknowledged only when release is called.
type memStore struct {
	mu       sync.Mutex
	parts    map[int32][]memRecord
	failErr  error
	hold     bool
	held     []chan error
	loadGate chan struct{} // when set, Load waits for it
	loadFail int           // Load fails this many more times
}

// memRecord is a stored record: a key and value, transactional when pid is
// set (>= 0), or a transaction marker of pid when control is set.
type memRecord struct {
	key, value []byte
	pid        int64
	epoch      int16
	control    bool
	commit     bool
}

func newMemStore() *memStore { return &memStore{parts: make(map[int32][]memRecord)} }

func (s *memStore) Append(p int32, recs []Record) (int64, func(context.Context) error, error) {
	return s.append(p, -1, -1, recs)
}

func (s *memStore) AppendTransactional(p int32, pid int64, epoch int16, recs []Record) (int64, func(context.Context) error, error) {
	return s.append(p, pid, epoch, recs)
}

// marker appends a transaction marker of pid to partition p, as the
// WriteTxnMarkers handler does before it calls CompleteTransaction.
func (s *memStore) marker(p int32, pid int64, epoch int16, commit bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parts[p] = append(s.parts[p], memRecord{pid: pid, epoch: epoch, control: true, commit: commit})
}

func (s *memStore) append(p int32, pid int64, epoch int16, recs []Record) (int64, func(context.Context) error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failErr != nil {
		return 0, nil, s.failErr
	}
	for _, r := range recs {
		s.parts[p] = append(s.parts[p], memRecord{key: r.Key, value: r.Value, pid: pid, epoch: epoch})
	}
	last := int64(len(s.parts[p]) - 1)
	if !s.hold {
		return last, nil, nil
	}
	ch := make(chan error, 1)
	s.held = append(s.held, ch)
	return last, func(ctx context.Context) error {
		select {
		case err := <-ch:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}, nil
}

// release acknowledges the oldest held append with err.
func (s *memStore) release(t *testing.T, err error) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.held) == 0 {
		t.Fatal("no held append to release")
	}
	s.held[0] <- err
	s.held = s.held[1:]
}

func (s *memStore) Load(ctx context.Context, p int32, fn func(LoadedRecord) error) error {
	if s.loadGate != nil {
		select {
		case <-s.loadGate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	if s.loadFail > 0 {
		s.loadFail--
		s.mu.Unlock()
		return errors.New("injected load failure")
	}
	recs := append([]memRecord(nil), s.parts[p]...)
	s.mu.Unlock()
	for i, r := range recs {
		lr := LoadedRecord{Offset: int64(i), Key: r.key, Value: r.value, ProducerID: r.pid, ProducerEpoch: r.epoch, Control: r.control, Commit: r.commit}
		if err := fn(lr); err != nil {
			return err
		}
	}
	return nil
}

// records decodes partition p.
func (s *memStore) records(t *testing.T, p int32) []decoded {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []decoded
	for _, r := range s.parts[p] {
		if r.control {
			continue
		}
		d, err := decodeRecord(r.key, r.value)
		if err != nil {
			t.Fatalf("stored record: %v", err)
		}
		out = append(out, d)
	}
	return out
}

// harness is a coordinator leading every partition of a 1-partition
// __consumer_offsets, over a memStore and a fake clock.
type harness struct {
	t     *testing.T
	c     *Coordinator
	clock *fakeClock
	store *memStore
	cfg   Config
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.InitialRebalanceDelay = 0
	return cfg
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	cfg := testConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	h := &harness{t: t, clock: newFakeClock(), store: newMemStore(), cfg: cfg}
	h.start()
	return h
}

// start (re)creates the coordinator over the harness's store, as after a
// broker restart, and waits for it to load.
func (h *harness) start() {
	h.t.Helper()
	if h.c != nil {
		h.c.Stop()
	}
	h.c = New(h.cfg, h.store, h.clock, nil)
	h.t.Cleanup(h.c.Stop)
	h.c.Start()
	h.c.Lead([16]byte{1}, 1, []int32{0})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.c.waitLoaded(ctx, 0); err != nil {
		h.t.Fatalf("load: %v", err)
	}
}

// now returns what is already on ch, failing the test if nothing is.
func now[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	default:
		t.Fatal("no answer yet")
		var zero T
		return zero
	}
}

// eventually waits (bounded) for an answer that comes from a background
// wait.
func eventually[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("no answer within 10s")
		var zero T
		return zero
	}
}

func notYet[T any](t *testing.T, ch <-chan T) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("answered too early: %+v", v)
	default:
	}
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("%s: error %v, want none", what, got)
		}
		return
	}
	if !errors.Is(got, want) {
		t.Fatalf("%s: error %v, want %v", what, got, want)
	}
}

var _ = kerr.UnknownMemberID
