package quota

import (
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Kafka's defaults for the quota windows.
const (
	DefaultSamples = 11          // quota.window.num
	DefaultWindow  = time.Second // quota.window.size.seconds
	// SensorExpiry is how long an idle client's usage is kept, as Kafka's quota sensors.
	SensorExpiry = time.Hour
)

// maxThrottleMs bounds every throttle time so that it fits the responses' int32 field.
const maxThrottleMs = math.MaxInt32

// Config configures a Manager.
type Config struct {
	Samples int           // quota.window.num; DefaultSamples when 0
	Window  time.Duration // quota.window.size.seconds; DefaultWindow when 0
	// Now is the clock; time.Now when nil. Tests pass a fake one.
	Now func() time.Time
}

// Manager records clients' usage and answers throttle times. It is safe for concurrent
// use: the sensor map is read-locked on the hot path, and each sensor has its own lock.
type Manager struct {
	samples  int
	windowMs int64
	now      func() time.Time
	quotas   atomic.Pointer[Quotas]

	mu        sync.RWMutex
	sensors   map[sensorKey]*sensor
	lastPrune atomic.Int64
}

type sensorKey struct {
	key  string
	tags Tags
}

type sensor struct {
	mu       sync.Mutex
	rate     *rate
	bucket   tokenBucket
	lastUsed int64
}

// NewManager makes a manager with no quotas.
func NewManager(cfg Config) *Manager {
	m := &Manager{samples: cfg.Samples, windowMs: cfg.Window.Milliseconds(), now: cfg.Now, sensors: make(map[sensorKey]*sensor)}
	if m.samples <= 0 {
		m.samples = DefaultSamples
	}
	if m.windowMs <= 0 {
		m.windowMs = DefaultWindow.Milliseconds()
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.quotas.Store(NewQuotas(nil))
	return m
}

// Update publishes new quota settings. Usage recorded so far is kept; it is judged against
// the new quotas from the next recording on.
func (m *Manager) Update(q *Quotas) { m.quotas.Store(q) }

// Quotas returns the current settings.
func (m *Manager) Quotas() *Quotas { return m.quotas.Load() }

func (m *Manager) nowMs() int64 { return m.now().UnixMilli() }

// sensor returns the sensor for key and tags, creating it. Sensors idle for SensorExpiry are
// dropped first, at most once a minute.
func (m *Manager) sensor(key string, tags Tags, now int64) *sensor {
	if last := m.lastPrune.Load(); now-last > time.Minute.Milliseconds() && m.lastPrune.CompareAndSwap(last, now) {
		m.prune(now - SensorExpiry.Milliseconds())
	}
	k := sensorKey{key, tags}
	m.mu.RLock()
	s := m.sensors[k]
	m.mu.RUnlock()
	if s == nil {
		m.mu.Lock()
		if s = m.sensors[k]; s == nil {
			s = &sensor{rate: newRate(m.samples, m.windowMs), lastUsed: now}
			m.sensors[k] = s
		}
		m.mu.Unlock()
	}
	return s
}

// Record adds value to the usage of key (ProducerByteRate, ConsumerByteRate or
// RequestPercentage) by user's client clientID, and returns how long the client must be
// throttled: 0 while within its quota, or when it has none. request_percentage throttles
// are capped at one window, as in Kafka.
func (m *Manager) Record(key, user, clientID string, value float64) time.Duration {
	if key == RequestPercentage && strings.HasPrefix(clientID, InternalClientIDPrefix) {
		return 0
	}
	limit, tags, ok := m.quotas.Load().Resolve(key, user, clientID)
	if !ok {
		return 0
	}
	now := m.nowMs()
	s := m.sensor(key, tags, now)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastUsed = now
	s.rate.record(value, now)
	r, span := s.rate.measure(now)
	t := throttleMs(r, limit, span, maxThrottleMs)
	if key == RequestPercentage {
		t = min(t, m.windowMs)
	}
	return time.Duration(t) * time.Millisecond
}

// Unrecord takes value back out of the usage, as Kafka does for a fetch it answers empty
// because the client is throttled.
func (m *Manager) Unrecord(key, user, clientID string, value float64) {
	_, tags, ok := m.quotas.Load().Resolve(key, user, clientID)
	if !ok {
		return
	}
	now := m.nowMs()
	s := m.sensor(key, tags, now)
	s.mu.Lock()
	s.lastUsed = now
	s.rate.record(-value, now)
	s.mu.Unlock()
}

// Rate returns the measured rate per second of key for user's client clientID, and whether
// a quota applies to it at all.
func (m *Manager) Rate(key, user, clientID string) (float64, bool) {
	_, tags, ok := m.quotas.Load().Resolve(key, user, clientID)
	if !ok {
		return 0, false
	}
	now := m.nowMs()
	s := m.sensor(key, tags, now)
	s.mu.Lock()
	defer s.mu.Unlock()
	r, _ := s.rate.measure(now)
	return r, true
}

// MaxValueInWindow is the most one recording may add without being sure to throttle: the
// quota over the window span less the current window (Kafka bounds a fetch response's size
// with it). ok is false when no quota applies.
func (m *Manager) MaxValueInWindow(key, user, clientID string) (float64, bool) {
	limit, _, ok := m.quotas.Load().Resolve(key, user, clientID)
	if !ok {
		return math.MaxFloat64, false
	}
	return limit * float64(m.samples-1) * float64(m.windowMs) / 1000, true
}

// RequestTimeUsage converts the time a request kept a handler busy into request_percentage
// usage: percent of one thread, times seconds.
func RequestTimeUsage(d time.Duration) float64 { return d.Seconds() * 100 }

// Prune forgets the usage of clients idle for longer than idle. Sensors idle for
// SensorExpiry are also pruned on their own, at most once a minute.
func (m *Manager) Prune(idle time.Duration) { m.prune(m.nowMs() - idle.Milliseconds()) }

func (m *Manager) prune(before int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, s := range m.sensors {
		s.mu.Lock()
		idle := s.lastUsed < before
		s.mu.Unlock()
		if idle {
			delete(m.sensors, k)
		}
	}
}

// Sensors is the number of usage trackers held, for tests and metrics.
func (m *Manager) Sensors() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.sensors)
}

// MutationQuota is one request's view of controller_mutation_rate (KIP-599): Record each
// topic's partition count before creating, extending or deleting it.
type MutationQuota struct {
	m        *Manager
	s        *sensor
	limit    float64
	strict   bool
	throttle int64
}

// ControllerMutation returns the mutation quota of user's client clientID for one request.
// strict is for CreateTopics v6+, CreatePartitions v3+ and DeleteTopics v5+: a mutation over
// the quota is refused; older versions are permissive: the mutation happens and the response
// is throttled.
func (m *Manager) ControllerMutation(user, clientID string, strict bool) *MutationQuota {
	limit, tags, ok := m.quotas.Load().Resolve(ControllerMutationRate, user, clientID)
	if !ok {
		return &MutationQuota{m: m}
	}
	return &MutationQuota{m: m, s: m.sensor(ControllerMutationRate, tags, m.nowMs()), limit: limit, strict: strict}
}

// Record takes permits (partitions) from the bucket. Strict: refused with
// THROTTLING_QUOTA_EXCEEDED, taking nothing, when the bucket is already below zero; else
// taken, even into debt. Permissive: always taken. In both, a bucket in debt sets the
// throttle time to the time it takes to refill to zero.
func (q *MutationQuota) Record(permits float64) error {
	if q.s == nil {
		return nil
	}
	now := q.m.nowMs()
	burst := q.limit * float64(q.m.samples) * float64(q.m.windowMs) / 1000
	q.s.mu.Lock()
	defer q.s.mu.Unlock()
	q.s.lastUsed = now
	q.s.bucket.refill(q.limit, burst, now)
	if q.strict && q.s.bucket.tokens < 0 {
		q.throttle = max(q.throttle, q.debtMs())
		return &Error{Code: kerr.ThrottlingQuotaExceeded, Message: "The throttling quota has been exceeded."}
	}
	q.s.bucket.tokens = math.Min(burst, q.s.bucket.tokens-permits)
	if !q.strict && q.s.bucket.tokens < 0 {
		q.throttle = max(q.throttle, q.debtMs())
	}
	return nil
}

// debtMs is how long the bucket takes to refill to zero.
func (q *MutationQuota) debtMs() int64 {
	if q.limit <= 0 {
		return int64(q.m.samples) * q.m.windowMs
	}
	return int64(min(math.Round(-q.s.bucket.tokens/q.limit*1000), maxThrottleMs))
}

// ThrottleTime is the throttle time the response carries.
func (q *MutationQuota) ThrottleTime() time.Duration {
	return time.Duration(q.throttle) * time.Millisecond
}
