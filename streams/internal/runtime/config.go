// Package runtime runs a topology against a Kafka cluster with franz-go:
// the consumer group and its task assignment, the producer of results and
// changelogs, restoration of state stores, commits, checkpoints, global
// stores and internal topics.
package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/streams/internal/task"
	"github.com/sluicehq/sluice/streams/topology"
)

// The processing guarantees (processing.guarantee).
const (
	AtLeastOnce   = "at_least_once"
	ExactlyOnceV2 = "exactly_once_v2"
)

// Config configures an application instance. Field comments give the Kafka
// Streams property each one stands for.
type Config struct {
	// ApplicationID (application.id) names the consumer group, the prefix
	// of internal topics and the directory under StateDir. Required.
	ApplicationID string
	// Brokers (bootstrap.servers). Required.
	Brokers []string
	// StateDir (state.dir) holds persistent stores and checkpoints.
	// Default: <os temp dir>/sluice-streams.
	StateDir string
	// CommitInterval (commit.interval.ms), default 30s; 100ms under
	// exactly_once_v2, where a commit also ends a transaction and output
	// becomes visible to read_committed consumers only then.
	CommitInterval time.Duration
	// CacheMaxBytes (statestore.cache.max.bytes) is the record cache budget
	// of the instance. 0 means the default, 10 MiB; a negative value turns
	// caching off (Kafka's 0).
	CacheMaxBytes int64
	// ProcessingGuarantee (processing.guarantee): "at_least_once" (default)
	// or "exactly_once_v2": one transaction per commit holds the output,
	// the changelog writes and the input offsets, and consumers read
	// read_committed. Kafka 4 removed "exactly_once" and
	// "exactly_once_beta"; they are refused.
	ProcessingGuarantee string
	// ReplicationFactor (replication.factor) of internal topics; 0 or -1:
	// the broker's default.
	ReplicationFactor int16
	// MaxPollRecords (max.poll.records), default 1000.
	MaxPollRecords int
	// TimestampExtractor (default.timestamp.extractor); default: the
	// record's timestamp, failing on a negative one.
	TimestampExtractor topology.TimestampExtractor
	// DeserializationHandler (default.deserialization.exception.handler);
	// default: fail.
	DeserializationHandler task.DeserializationHandler
	// ProcessingHandler (processing.exception.handler); default: fail.
	ProcessingHandler task.ProcessingHandler
	// ApplicationServer (application.server) is the host:port at which this
	// instance answers interactive queries; it is shared with the other
	// instances through the group protocol, so that any of them can tell
	// which instance holds a key. Empty: not advertised.
	ApplicationServer string
	// Logger; default: discard.
	Logger *slog.Logger
	// ClientOptions are extra franz-go options (TLS, SASL, timeouts) for
	// every client the instance opens.
	ClientOptions []kgo.Opt
}

func (c *Config) setDefaults() error {
	if c.ApplicationID == "" {
		return errors.New("streams config: application.id is required")
	}
	if len(c.Brokers) == 0 {
		return errors.New("streams config: bootstrap.servers is required")
	}
	if c.StateDir == "" {
		c.StateDir = filepath.Join(os.TempDir(), "sluice-streams")
	}
	switch c.ProcessingGuarantee {
	case "", AtLeastOnce:
		c.ProcessingGuarantee = AtLeastOnce
	case ExactlyOnceV2:
	case "exactly_once", "exactly_once_beta":
		return fmt.Errorf("streams config: processing.guarantee %q was deprecated and is removed in Kafka 4; use %s", c.ProcessingGuarantee, ExactlyOnceV2)
	default:
		return fmt.Errorf("streams config: processing.guarantee %q is not supported (%s or %s)", c.ProcessingGuarantee, AtLeastOnce, ExactlyOnceV2)
	}
	if c.CommitInterval <= 0 {
		c.CommitInterval = 30 * time.Second
		if c.ProcessingGuarantee == ExactlyOnceV2 {
			c.CommitInterval = 100 * time.Millisecond
		}
	}
	if c.CacheMaxBytes == 0 {
		c.CacheMaxBytes = 10 << 20
	} else if c.CacheMaxBytes < 0 {
		c.CacheMaxBytes = 0
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1
	}
	if c.MaxPollRecords <= 0 {
		c.MaxPollRecords = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// ConfigFromProperties reads Kafka Streams property names into a Config.
// Unknown names are an error, so that a typo does not pass silently.
func ConfigFromProperties(props map[string]string) (Config, error) {
	var c Config
	for k, v := range props {
		var err error
		switch k {
		case "application.id":
			c.ApplicationID = v
		case "bootstrap.servers":
			c.Brokers = splitList(v)
		case "state.dir":
			c.StateDir = v
		case "commit.interval.ms":
			var ms int64
			ms, err = strconv.ParseInt(v, 10, 64)
			c.CommitInterval = time.Duration(ms) * time.Millisecond
		case "statestore.cache.max.bytes", "cache.max.bytes.buffering":
			c.CacheMaxBytes, err = strconv.ParseInt(v, 10, 64)
			if err == nil && c.CacheMaxBytes == 0 {
				c.CacheMaxBytes = -1
			}
		case "processing.guarantee":
			c.ProcessingGuarantee = v
		case "replication.factor":
			var n int64
			n, err = strconv.ParseInt(v, 10, 16)
			c.ReplicationFactor = int16(n)
		case "application.server":
			c.ApplicationServer = v
		case "max.poll.records":
			c.MaxPollRecords, err = strconv.Atoi(v)
		default:
			return c, fmt.Errorf("streams config: unknown property %s", k)
		}
		if err != nil {
			return c, fmt.Errorf("streams config: %s=%q: %w", k, v, err)
		}
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
