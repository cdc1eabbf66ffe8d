package runtime

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// clientKind is which client a setting is for.
type clientKind int

const (
	producerClient clientKind = iota
	consumerClient
	adminClient
)

// ClientOptions turns Kafka client settings (as given with the producer.,
// consumer. or admin. prefix, the prefix removed) into franz-go options.
// It knows the settings that matter to Connect; security settings other
// than PLAINTEXT are refused, others are ignored with a warning.
func ClientOptions(props map[string]string, kind clientKind, log *slog.Logger) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	ms := func(k, v string) (time.Duration, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s=%s: not a number of milliseconds", k, v)
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	num := func(k, v string) (int32, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s=%s: not a valid number", k, v)
		}
		return int32(n), nil
	}
	for k, v := range props {
		var err error
		var d time.Duration
		var n int32
		switch k {
		case "bootstrap.servers":
			opts = append(opts, kgo.SeedBrokers(splitServers(v)...))
		case "client.id":
			opts = append(opts, kgo.ClientID(v))
		case "security.protocol":
			if !strings.EqualFold(strings.TrimSpace(v), "PLAINTEXT") {
				return nil, fmt.Errorf("security.protocol=%s: only PLAINTEXT is supported by this version of the worker", v)
			}
		case "request.timeout.ms":
			if d, err = ms(k, v); err == nil {
				opts = append(opts, kgo.RequestTimeoutOverhead(d))
			}
		case "retry.backoff.ms":
			if d, err = ms(k, v); err == nil {
				opts = append(opts, kgo.RetryBackoffFn(func(int) time.Duration { return d }))
			}
		case "acks":
			if kind != producerClient {
				break
			}
			switch strings.TrimSpace(v) {
			case "all", "-1":
				opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
			case "1":
				opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
			case "0":
				opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
			default:
				err = fmt.Errorf("acks=%s: want all, -1, 1 or 0", v)
			}
		case "enable.idempotence":
			if kind == producerClient && strings.EqualFold(strings.TrimSpace(v), "false") {
				opts = append(opts, kgo.DisableIdempotentWrite())
			}
		case "linger.ms":
			if d, err = ms(k, v); err == nil && kind == producerClient {
				opts = append(opts, kgo.ProducerLinger(d))
			}
		case "batch.size":
			if n, err = num(k, v); err == nil && kind == producerClient && n > 0 {
				opts = append(opts, kgo.ProducerBatchMaxBytes(n))
			}
		case "max.request.size":
			if n, err = num(k, v); err == nil && kind == producerClient && n > 0 {
				opts = append(opts, kgo.ProducerBatchMaxBytes(n))
			}
		case "compression.type":
			var c kgo.CompressionCodec
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "none":
				c = kgo.NoCompression()
			case "gzip":
				c = kgo.GzipCompression()
			case "snappy":
				c = kgo.SnappyCompression()
			case "lz4":
				c = kgo.Lz4Compression()
			case "zstd":
				c = kgo.ZstdCompression()
			default:
				err = fmt.Errorf("compression.type=%s: want none, gzip, snappy, lz4 or zstd", v)
			}
			if err == nil && kind == producerClient {
				opts = append(opts, kgo.ProducerBatchCompression(c))
			}
		case "delivery.timeout.ms":
			if d, err = ms(k, v); err == nil && kind == producerClient {
				opts = append(opts, kgo.RecordDeliveryTimeout(d))
			}
		case "max.in.flight.requests.per.connection":
			if n, err = num(k, v); err == nil && kind == producerClient && n > 0 {
				opts = append(opts, kgo.MaxProduceRequestsInflightPerBroker(int(n)))
			}
		case "buffer.memory":
			var b int64
			if b, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && kind == producerClient && b > 0 {
				opts = append(opts, kgo.MaxBufferedBytes(int(b)))
			}
		case "fetch.min.bytes":
			if n, err = num(k, v); err == nil && kind == consumerClient {
				opts = append(opts, kgo.FetchMinBytes(n))
			}
		case "fetch.max.bytes":
			if n, err = num(k, v); err == nil && kind == consumerClient && n > 0 {
				opts = append(opts, kgo.FetchMaxBytes(n))
			}
		case "max.partition.fetch.bytes":
			if n, err = num(k, v); err == nil && kind == consumerClient && n > 0 {
				opts = append(opts, kgo.FetchMaxPartitionBytes(n))
			}
		case "fetch.max.wait.ms":
			if d, err = ms(k, v); err == nil && kind == consumerClient {
				opts = append(opts, kgo.FetchMaxWait(d))
			}
		case "auto.offset.reset":
			if kind != consumerClient {
				break
			}
			switch strings.TrimSpace(v) {
			case "earliest":
				opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			case "latest":
				opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
			case "none":
				opts = append(opts, kgo.ConsumeResetOffset(kgo.NoResetOffset()))
			default:
				err = fmt.Errorf("auto.offset.reset=%s: want earliest, latest or none", v)
			}
		case "isolation.level":
			if kind != consumerClient {
				break
			}
			switch strings.TrimSpace(v) {
			case "read_committed":
				opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
			case "read_uncommitted":
				opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
			default:
				err = fmt.Errorf("isolation.level=%s: want read_committed or read_uncommitted", v)
			}
		case "session.timeout.ms":
			if d, err = ms(k, v); err == nil && kind == consumerClient {
				opts = append(opts, kgo.SessionTimeout(d))
			}
		case "heartbeat.interval.ms":
			if d, err = ms(k, v); err == nil && kind == consumerClient {
				opts = append(opts, kgo.HeartbeatInterval(d))
			}
		case "max.poll.interval.ms":
			if d, err = ms(k, v); err == nil && kind == consumerClient {
				opts = append(opts, kgo.RebalanceTimeout(d))
			}
		case "group.instance.id":
			if kind == consumerClient {
				opts = append(opts, kgo.InstanceID(v))
			}
		case "max.poll.records", "enable.auto.commit", "group.id", "key.serializer", "value.serializer",
			"key.deserializer", "value.deserializer":
			// Set by the worker itself.
		default:
			if log != nil {
				log.Warn("connect: client setting not supported, ignored", "setting", k)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return opts, nil
}

func splitServers(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
