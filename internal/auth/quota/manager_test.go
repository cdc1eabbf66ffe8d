package quota

import (
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

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

func managerWith(clock *fakeClock, q map[Entity]map[string]float64) *Manager {
	m := NewManager(Config{Now: clock.Now})
	m.Update(NewQuotas(q))
	return m
}

func TestResolvePrecedence(t *testing.T) {
	u, c := Named("alice"), Named("app")
	du, dc := Default(), Default()
	levels := []struct {
		entity Entity
		tags   Tags
	}{
		{Entity{User: u, ClientID: c}, Tags{"alice", "app"}},
		{Entity{User: u, ClientID: dc}, Tags{"alice", "app"}},
		{Entity{User: u}, Tags{User: "alice"}},
		{Entity{User: du, ClientID: c}, Tags{"alice", "app"}},
		{Entity{User: du, ClientID: dc}, Tags{"alice", "app"}},
		{Entity{User: du}, Tags{User: "alice"}},
		{Entity{ClientID: c}, Tags{ClientID: "app"}},
		{Entity{ClientID: dc}, Tags{ClientID: "app"}},
	}
	// With every level from i down set (each to a distinct value), level i wins.
	for i := range levels {
		entries := make(map[Entity]map[string]float64)
		for j := i; j < len(levels); j++ {
			entries[levels[j].entity] = map[string]float64{ProducerByteRate: float64(1000 + j)}
		}
		// Entities of other users and clients never apply.
		entries[Entity{User: Named("bob")}] = map[string]float64{ProducerByteRate: 1}
		entries[Entity{ClientID: Named("other")}] = map[string]float64{ProducerByteRate: 2}
		limit, tags, ok := NewQuotas(entries).Resolve(ProducerByteRate, "alice", "app")
		if !ok || limit != float64(1000+i) || tags != levels[i].tags {
			t.Errorf("level %d (%s): got %v %+v %v, want %v %+v", i, levels[i].entity, limit, tags, ok, 1000+i, levels[i].tags)
		}
	}
	if _, _, ok := NewQuotas(nil).Resolve(ProducerByteRate, "alice", "app"); ok {
		t.Error("a quota without settings")
	}
}

func TestResolveIsPerKey(t *testing.T) {
	q := NewQuotas(map[Entity]map[string]float64{
		{User: Named("alice")}:   {ProducerByteRate: 100},
		{ClientID: Named("app")}: {ConsumerByteRate: 200, ProducerByteRate: 300},
	})
	if l, tags, _ := q.Resolve(ProducerByteRate, "alice", "app"); l != 100 || tags != (Tags{User: "alice"}) {
		t.Errorf("produce: %v %+v", l, tags)
	}
	if l, tags, _ := q.Resolve(ConsumerByteRate, "alice", "app"); l != 200 || tags != (Tags{ClientID: "app"}) {
		t.Errorf("consume: %v %+v", l, tags)
	}
	if _, _, ok := q.Resolve(RequestPercentage, "alice", "app"); ok {
		t.Error("request_percentage resolved without a setting")
	}
	if !q.Has(ConsumerByteRate) || q.Has(RequestPercentage) {
		t.Error("Has")
	}
}

func TestThrottleTimeFormula(t *testing.T) {
	clock := newFakeClock()
	m := managerWith(clock, map[Entity]map[string]float64{{User: Named("alice")}: {ProducerByteRate: 1000}})
	// A new client's rate is measured over at least 10 windows (11 samples of 1 s):
	// 1000 bytes at once is 100 B/s.
	if d := m.Record(ProducerByteRate, "alice", "c", 1000); d != 0 {
		t.Fatalf("first 1000 bytes throttled %v", d)
	}
	// 21000 bytes over 10 s is 2100 B/s: (2100-1000)/1000 * 10 s = 11 s.
	if d := m.Record(ProducerByteRate, "alice", "c", 20000); d != 11*time.Second {
		t.Fatalf("throttle %v, want 11s", d)
	}
	// The usage was recorded although throttled.
	if r, _ := m.Rate(ProducerByteRate, "alice", "c"); r != 2100 {
		t.Fatalf("rate %v, want 2100", r)
	}
	// After the throttle time, with nothing recorded, the rate is back at the quota (the
	// span has grown to 21 s... but samples older than 11 windows expired: 0).
	clock.Advance(11 * time.Second)
	if r, _ := m.Rate(ProducerByteRate, "alice", "c"); r > 1000 {
		t.Fatalf("rate after the throttle %v, want <= 1000", r)
	}
}

func TestRateForgetsOldWindows(t *testing.T) {
	clock := newFakeClock()
	m := managerWith(clock, map[Entity]map[string]float64{{User: Default()}: {ProducerByteRate: 1e9}})
	for range 20 {
		m.Record(ProducerByteRate, "alice", "c", 1100)
		clock.Advance(time.Second)
	}
	// Steady 1100 B/s for 20 s.
	if r, _ := m.Rate(ProducerByteRate, "alice", "c"); math.Abs(r-1100) > 110 {
		t.Fatalf("steady rate %v, want about 1100", r)
	}
	clock.Advance(12 * time.Second)
	if r, _ := m.Rate(ProducerByteRate, "alice", "c"); r != 0 {
		t.Fatalf("rate after 12 idle seconds %v, want 0", r)
	}
	// A default user quota tracks each user apart.
	if r, _ := m.Rate(ProducerByteRate, "bob", "c"); r != 0 {
		t.Fatalf("bob's rate %v", r)
	}
}

// TestProducerThrottledToQuota simulates, in 1 ms steps of fake time, a producer that
// sends a 64 KiB request as soon as its last throttle time has passed, beside an unlimited
// producer that sends one every 5 ms, for two minutes. Kafka's windows let a new client
// burst up to (quota.window.num - 1) windows' worth at first; after that the limited
// producer runs within 10% of its 1 MB/s quota, and the unlimited one is never throttled.
func TestProducerThrottledToQuota(t *testing.T) {
	clock := newFakeClock()
	const quota = 1_000_000
	m := managerWith(clock, map[Entity]map[string]float64{{User: Named("limited")}: {ProducerByteRate: quota}})
	const batch = 64 << 10
	var firstMinute, steady, freeSent float64
	start := clock.Now()
	waitUntil := start
	for ms := 0; ms < 120_000; ms++ {
		if ms%5 == 0 {
			if d := m.Record(ProducerByteRate, "free", "c", batch); d != 0 {
				t.Fatalf("the unlimited producer was throttled %v", d)
			}
			freeSent += batch
		}
		if now := clock.Now(); !now.Before(waitUntil) {
			if ms < 60_000 {
				firstMinute += batch
			} else {
				steady += batch
			}
			waitUntil = now.Add(m.Record(ProducerByteRate, "limited", "c", batch))
		}
		clock.Advance(time.Millisecond)
	}
	t.Logf("limited producer: first minute %.0f B/s, second minute %.0f B/s", firstMinute/60, steady/60)
	if burst := firstMinute - quota*60; burst > quota*DefaultSamples {
		t.Fatalf("first minute: %.0f bytes over the quota, more than %d windows' worth", burst, DefaultSamples)
	}
	if rate := steady / 60; rate < 0.9*quota || rate > 1.1*quota {
		t.Fatalf("limited producer ran at %.0f B/s in the second minute, want 1 MB/s within 10%%", rate)
	}
	if freeRate := freeSent / 120; freeRate < 10e6 {
		t.Fatalf("unlimited producer ran at %.0f B/s", freeRate)
	}
}

func TestRequestPercentage(t *testing.T) {
	clock := newFakeClock()
	m := managerWith(clock, map[Entity]map[string]float64{{ClientID: Default()}: {RequestPercentage: 10}})
	// 5 s of handler time at once: far over 10% of a thread; the throttle is capped at
	// one window.
	if d := m.Record(RequestPercentage, "alice", "app", RequestTimeUsage(5*time.Second)); d != time.Second {
		t.Fatalf("throttle %v, want the 1 s cap", d)
	}
	if d := m.Record(RequestPercentage, "alice", "__admin", RequestTimeUsage(5*time.Second)); d != 0 {
		t.Fatalf("internal client throttled %v", d)
	}
	if RequestTimeUsage(20*time.Millisecond) != 2 {
		t.Fatal("RequestTimeUsage")
	}
}

func TestUnrecordAndMaxValue(t *testing.T) {
	clock := newFakeClock()
	m := managerWith(clock, map[Entity]map[string]float64{{User: Named("alice")}: {ConsumerByteRate: 1000}})
	if d := m.Record(ConsumerByteRate, "alice", "c", 50000); d == 0 {
		t.Fatal("50000 bytes not throttled")
	}
	m.Unrecord(ConsumerByteRate, "alice", "c", 50000)
	if r, _ := m.Rate(ConsumerByteRate, "alice", "c"); r != 0 {
		t.Fatalf("rate after unrecord %v", r)
	}
	if v, ok := m.MaxValueInWindow(ConsumerByteRate, "alice", "c"); !ok || v != 10000 {
		t.Fatalf("MaxValueInWindow = %v %v, want 10000", v, ok)
	}
	if _, ok := m.MaxValueInWindow(ConsumerByteRate, "bob", "c"); ok {
		t.Fatal("MaxValueInWindow for a user without quota")
	}
}

func TestZeroQuota(t *testing.T) {
	clock := newFakeClock()
	m := managerWith(clock, map[Entity]map[string]float64{{User: Named("blocked")}: {ProducerByteRate: 0}})
	if d := m.Record(ProducerByteRate, "blocked", "c", 1); d != 10*time.Second {
		t.Fatalf("zero quota throttle %v, want the 10 s span", d)
	}
}

func TestControllerMutationQuota(t *testing.T) {
	clock := newFakeClock()
	// 2 partitions/s: a bucket of 2 * 11 * 1 s = 22 permits.
	m := managerWith(clock, map[Entity]map[string]float64{{User: Named("alice")}: {ControllerMutationRate: 2}})

	q := m.ControllerMutation("alice", "c", true)
	if err := q.Record(20); err != nil {
		t.Fatalf("20 of 22 permits refused: %v", err)
	}
	// 2 left: a strict request may still go into debt...
	if err := q.Record(10); err != nil {
		t.Fatalf("strict record with tokens left refused: %v", err)
	}
	if q.ThrottleTime() != 0 {
		t.Fatalf("strict quota throttled without a refusal: %v", q.ThrottleTime())
	}
	// ...but not further: -8 tokens at 2/s is 4 s of debt.
	err := q.Record(1)
	if !errors.Is(err, kerr.ThrottlingQuotaExceeded) || q.ThrottleTime() != 4*time.Second {
		t.Fatalf("strict record in debt: %v, throttle %v", err, q.ThrottleTime())
	}
	clock.Advance(4 * time.Second)
	q = m.ControllerMutation("alice", "c", true)
	if err := q.Record(1); err != nil {
		t.Fatalf("after refilling to zero: %v", err)
	}

	// Permissive: always recorded, throttled by the debt.
	p := m.ControllerMutation("alice", "c", false)
	if err := p.Record(5); err != nil {
		t.Fatal(err)
	}
	// Tokens: 0 - 1 - 5 = -6 at 2/s: 3 s.
	if p.ThrottleTime() != 3*time.Second {
		t.Fatalf("permissive throttle %v, want 3s", p.ThrottleTime())
	}

	// No quota: nothing limits.
	free := m.ControllerMutation("bob", "c", true)
	for range 100 {
		if err := free.Record(1000); err != nil {
			t.Fatal(err)
		}
	}
	if free.ThrottleTime() != 0 {
		t.Fatal("unlimited user throttled")
	}
}

func TestPrune(t *testing.T) {
	clock := newFakeClock()
	m := managerWith(clock, map[Entity]map[string]float64{{User: Default()}: {ProducerByteRate: 1000}})
	m.Record(ProducerByteRate, "a", "c", 1)
	m.Record(ProducerByteRate, "b", "c", 1)
	clock.Advance(30 * time.Minute)
	m.Record(ProducerByteRate, "b", "c", 1)
	m.Prune(20 * time.Minute)
	if n := m.Sensors(); n != 1 {
		t.Fatalf("%d sensors after pruning, want 1", n)
	}
	// Sensors idle for an hour go on their own.
	clock.Advance(2 * time.Hour)
	m.Record(ProducerByteRate, "c", "c", 1)
	if n := m.Sensors(); n != 1 {
		t.Fatalf("%d sensors after two idle hours, want 1 (the new one)", n)
	}
}

func TestManagerConcurrentUse(t *testing.T) {
	clock := newFakeClock()
	m := managerWith(clock, map[Entity]map[string]float64{{User: Default()}: {ProducerByteRate: 1e6, ControllerMutationRate: 10}})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				user := []string{"a", "b"}[(g+i)%2]
				m.Record(ProducerByteRate, user, "c", 100)
				_ = m.ControllerMutation(user, "c", i%2 == 0).Record(1)
				if i%100 == 0 {
					clock.Advance(time.Second)
					m.Update(NewQuotas(map[Entity]map[string]float64{{User: Default()}: {ProducerByteRate: 1e6}}))
				}
			}
		})
	}
	wg.Wait()
	if r, ok := m.Rate(ProducerByteRate, "a", "c"); !ok || r <= 0 {
		t.Fatalf("rate %v %v", r, ok)
	}
}
