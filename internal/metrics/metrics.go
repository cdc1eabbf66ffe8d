// Package metrics is Sluice's Prometheus instrumentation: one registry per
// broker (never the global one), fed by the protocol server (requests,
// latency and connections, through server.Metrics), by a handler wrapper
// (bytes and records produced per topic, replies waiting in purgatory), by
// the fetch path (bytes consumed per topic) and, at scrape time, by the
// partition logs (count, sizes, offsets). Go runtime and process metrics are
// included. Names follow sluice_<subsystem>_<what>_<unit>.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// PartitionStats is one hosted partition as the log reports it.
type PartitionStats struct {
	Topic          string
	Partition      int32
	SizeBytes      int64
	Segments       int
	LogStartOffset int64
	LogEndOffset   int64
	HighWatermark  int64
}

// Options configures Metrics.
type Options struct {
	// Partitions lists the hosted partitions at scrape time; nil reports
	// none.
	Partitions func() []PartitionStats
	// TopicName resolves a topic ID (Produce v13+) to its name.
	TopicName func(id [16]byte) (string, bool)
}

// Metrics holds a broker's metrics. It implements server.Metrics and is
// safe for concurrent use.
type Metrics struct {
	reg  *prometheus.Registry
	opts Options

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	requestBytes    *prometheus.CounterVec
	responseBytes   *prometheus.CounterVec
	rejected        *prometheus.CounterVec
	connections     *prometheus.GaugeVec
	accepted        *prometheus.CounterVec
	purgatory       *prometheus.GaugeVec
	bytesIn         *prometheus.CounterVec
	recordsIn       *prometheus.CounterVec
	bytesOut        *prometheus.CounterVec
	refused         *prometheus.CounterVec
	throttled       *prometheus.CounterVec
	throttleTime    *prometheus.CounterVec

	// names caches the label value of each (key, version) pair, so that
	// the per-request path does not format numbers.
	names sync.Map // int32(key<<16|version) -> [2]string
}

// New returns Metrics with every collector registered on a fresh registry.
func New(opts Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), opts: opts}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_requests_total",
		Help: "Requests handled, by listener, API and version.",
	}, []string{"listener", "api", "version"})
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "sluice_request_duration_seconds",
		Help: "Time from a request fully read to its response handed to the kernel, by API and version.",
		// 100 µs to about 30 s: produce acks and fetch long polls alike.
		Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 15),
	}, []string{"api", "version"})
	m.requestBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_request_bytes_total",
		Help: "Bytes of requests received, by API.",
	}, []string{"api"})
	m.responseBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_response_bytes_total",
		Help: "Bytes of responses sent, by API.",
	}, []string{"api"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_requests_rejected_total",
		Help: "Requests that closed their connection before reaching a handler (oversized, unknown API, unsupported version, undecodable), by listener and API.",
	}, []string{"listener", "api"})
	m.connections = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sluice_connections",
		Help: "Open client connections, by listener.",
	}, []string{"listener"})
	m.accepted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_connections_accepted_total",
		Help: "Client connections accepted, by listener.",
	}, []string{"listener"})
	m.purgatory = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sluice_purgatory_size",
		Help: "Requests waiting for a condition before they are answered (produce acks waiting for an fsync, fetch long polls), by API.",
	}, []string{"api"})
	m.bytesIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_topic_bytes_in_total",
		Help: "Bytes of record batches appended by producers, by topic.",
	}, []string{"topic"})
	m.recordsIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_topic_records_in_total",
		Help: "Records appended by producers, by topic.",
	}, []string{"topic"})
	m.bytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_topic_bytes_out_total",
		Help: "Bytes of record batches sent to consumers and followers, by topic.",
	}, []string{"topic"})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_connections_refused_total",
		Help: "Client connections closed as soon as accepted, by listener and the limit that refused them (max.connections.per.ip).",
	}, []string{"listener", "reason"})
	m.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_quota_throttled_responses_total",
		Help: "Responses throttled for a client quota (their connection muted for the throttle time), by the quota that throttled them.",
	}, []string{"quota"})
	m.throttleTime = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_quota_throttle_time_seconds_total",
		Help: "Throttle time given to clients over their quotas, by quota.",
	}, []string{"quota"})
	m.reg.MustRegister(m.requests, m.requestDuration, m.requestBytes, m.responseBytes, m.rejected,
		m.connections, m.accepted, m.purgatory, m.bytesIn, m.recordsIn, m.bytesOut,
		m.refused, m.throttled, m.throttleTime,
		&partitionCollector{src: opts.Partitions},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Purgatories exist from the start, so a scrape shows them at zero.
	for _, api := range []string{"Produce", "Fetch"} {
		m.purgatory.WithLabelValues(api)
	}
	return m
}

// Registry is the registry the metrics are registered on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// labels returns the api and version label values of a request.
func (m *Metrics) labels(key, version int16) (api, ver string) {
	k := int32(key)<<16 | int32(uint16(version))
	if v, ok := m.names.Load(k); ok {
		p := v.([2]string)
		return p[0], p[1]
	}
	p := [2]string{apiName(key), strconv.Itoa(int(version))}
	m.names.Store(k, p)
	return p[0], p[1]
}

// apiName is Kafka's name of an API key, or its number when unknown.
func apiName(key int16) string {
	if n := kmsg.NameForKey(key); n != "" {
		return n
	}
	return "Unknown" + strconv.Itoa(int(key))
}

// ConnectionOpened implements server.Metrics.
func (m *Metrics) ConnectionOpened(listener string) {
	m.connections.WithLabelValues(listener).Inc()
	m.accepted.WithLabelValues(listener).Inc()
}

// ConnectionClosed implements server.Metrics.
func (m *Metrics) ConnectionClosed(listener string) {
	m.connections.WithLabelValues(listener).Dec()
}

// RequestDone implements server.Metrics.
func (m *Metrics) RequestDone(listener string, key, version int16, latency time.Duration, requestBytes, responseBytes int, written bool) {
	api, ver := m.labels(key, version)
	m.requests.WithLabelValues(listener, api, ver).Inc()
	m.requestDuration.WithLabelValues(api, ver).Observe(latency.Seconds())
	m.requestBytes.WithLabelValues(api).Add(float64(requestBytes))
	if written {
		m.responseBytes.WithLabelValues(api).Add(float64(responseBytes))
	}
}

// RequestRejected implements server.Metrics.
func (m *Metrics) RequestRejected(listener string, key int16) {
	api := "Unreadable"
	if key >= 0 {
		api = apiName(key)
	}
	m.rejected.WithLabelValues(listener, api).Inc()
}

// ConnectionRefused implements server.ConnectionRefusedMetrics.
func (m *Metrics) ConnectionRefused(listener, reason string) {
	m.refused.WithLabelValues(listener, reason).Inc()
}

// QuotaThrottled counts a response throttled for quota key (producer_byte_rate,
// consumer_byte_rate, request_percentage) and its throttle time.
func (m *Metrics) QuotaThrottled(key string, t time.Duration) {
	m.throttled.WithLabelValues(key).Inc()
	m.throttleTime.WithLabelValues(key).Add(t.Seconds())
}

// TopicFetched counts bytes of a topic's record batches sent in a Fetch
// response. The fetch path calls it.
func (m *Metrics) TopicFetched(topic string, bytes int) {
	if bytes > 0 {
		m.bytesOut.WithLabelValues(topic).Add(float64(bytes))
	}
}

// topicProduced counts a topic's appended batches.
func (m *Metrics) topicProduced(topic string, bytes, records int) {
	m.bytesIn.WithLabelValues(topic).Add(float64(bytes))
	m.recordsIn.WithLabelValues(topic).Add(float64(records))
}

// partitionCollector reports the hosted partitions at scrape time.
type partitionCollector struct {
	src func() []PartitionStats
}

var (
	descPartitions = prometheus.NewDesc("sluice_partitions", "Partitions hosted by this broker.", nil, nil)
	descSize       = prometheus.NewDesc("sluice_log_size_bytes", "Size of a partition's log segments.", []string{"topic", "partition"}, nil)
	descSegments   = prometheus.NewDesc("sluice_log_segments", "Segments of a partition's log.", []string{"topic", "partition"}, nil)
	descStart      = prometheus.NewDesc("sluice_log_start_offset", "First offset a consumer may read.", []string{"topic", "partition"}, nil)
	descEnd        = prometheus.NewDesc("sluice_log_end_offset", "Offset the next appended record gets.", []string{"topic", "partition"}, nil)
	descHW         = prometheus.NewDesc("sluice_log_high_watermark", "Offset below which records are committed and readable.", []string{"topic", "partition"}, nil)
)

func (c *partitionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPartitions, descSize, descSegments, descStart, descEnd, descHW} {
		ch <- d
	}
}

func (c *partitionCollector) Collect(ch chan<- prometheus.Metric) {
	var parts []PartitionStats
	if c.src != nil {
		parts = c.src()
	}
	ch <- prometheus.MustNewConstMetric(descPartitions, prometheus.GaugeValue, float64(len(parts)))
	for _, p := range parts {
		l := []string{p.Topic, strconv.Itoa(int(p.Partition))}
		ch <- prometheus.MustNewConstMetric(descSize, prometheus.GaugeValue, float64(p.SizeBytes), l...)
		ch <- prometheus.MustNewConstMetric(descSegments, prometheus.GaugeValue, float64(p.Segments), l...)
		ch <- prometheus.MustNewConstMetric(descStart, prometheus.GaugeValue, float64(p.LogStartOffset), l...)
		ch <- prometheus.MustNewConstMetric(descEnd, prometheus.GaugeValue, float64(p.LogEndOffset), l...)
		ch <- prometheus.MustNewConstMetric(descHW, prometheus.GaugeValue, float64(p.HighWatermark), l...)
	}
}
