package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
)

// Broker is the broker's configuration: typed fields for what the broker
// reads, and the layers they were resolved from, which DescribeConfigs
// reports.
//
// Durations keep Kafka's units and names (…Ms in milliseconds) because
// several defaults are Long.MAX_VALUE, which overflows time.Duration.
type Broker struct {
	NodeID       int32
	ProcessRoles []string
	// ClusterID is empty unless cluster.id is set; the broker then
	// generates one when it formats a log directory.
	ClusterID string

	// Listeners are where the node listens, with their security protocol.
	Listeners []Listener
	// AdvertisedListeners are what Metadata returns: advertised.listeners,
	// or the non-controller listeners, with empty hosts replaced by the
	// host name.
	AdvertisedListeners     []Listener
	ControllerListenerNames []string
	// InterBrokerListenerName names the advertised listener brokers use
	// between themselves.
	InterBrokerListenerName          string
	ControllerQuorumVoters           []Voter
	ControllerQuorumBootstrapServers []string
	BrokerRack                       string

	// LogDirs is log.dirs, or log.dir when log.dirs is unset.
	LogDirs []string
	// MetadataLogDir is metadata.log.dir, or the first log directory.
	MetadataLogDir string

	// HTTPAddr is the metrics/health endpoint's address; "" means off.
	HTTPAddr                 string
	HTTPPprof                bool
	NumPartitions            int32
	DefaultReplicationFactor int32
	AutoCreateTopics         bool
	DeleteTopicEnable        bool
	MessageMaxBytes          int32
	SocketRequestMaxBytes    int32
	SocketSendBufferBytes    int32
	SocketReceiveBufferBytes int32
	ConnectionsMaxIdleMs     int64
	MaxConnections           int32
	MaxConnectionsPerIP      int32
	FetchMaxBytes            int32
	MinInsyncReplicas        int32

	MaxIncrementalFetchSessionCacheSlots int32
	NumRecoveryThreadsPerDataDir         int32

	LogRetentionCheckIntervalMs        int64
	LogFlushSchedulerIntervalMs        int64
	LogFlushOffsetCheckpointIntervalMs int32
	LogCleanerEnable                   bool
	LogCleanerThreads                  int32
	LogCleanerBackoffMs                int64

	OffsetsTopicNumPartitions       int32
	OffsetsTopicReplicationFactor   int16
	OffsetsTopicSegmentBytes        int32
	OffsetsRetentionMinutes         int32
	OffsetsRetentionCheckIntervalMs int64
	OffsetsCommitTimeoutMs          int32
	GroupMinSessionTimeoutMs        int32
	GroupMaxSessionTimeoutMs        int32
	GroupInitialRebalanceDelayMs    int32
	GroupMaxSize                    int32
	// The consumer protocol (KIP-848): whether it is served, and its
	// group.consumer.* settings.
	GroupConsumerProtocol            bool
	GroupConsumerSessionTimeoutMs    int32
	GroupConsumerHeartbeatIntervalMs int32
	GroupConsumerMaxSize             int32
	GroupConsumerAssignors           []string
	GroupConsumerMigrationPolicy     string
	TransactionStateLogNumPartitions int32
	TransactionStateLogReplication   int16
	TransactionStateLogSegmentBytes  int32
	TransactionStateLogMinISR        int32
	TransactionalIDExpirationMs      int32
	TransactionMaxTimeoutMs          int32
	ProducerIDExpirationMs           int32
	ProducerIDExpirationCheckMs      int32

	ReplicaLagTimeMaxMs               int64
	ReplicaFetchWaitMaxMs             int32
	ReplicaFetchMaxBytes              int32
	ReplicaFetchResponseMaxBytes      int32
	ReplicaFetchBackoffMs             int32
	AutoLeaderRebalanceEnable         bool
	MetadataSnapshotThreshold         int32
	MetadataSnapshotTrailing          int32
	MetadataSnapshotCheckIntervalMs   int32
	LeaderReplicationThrottledRate    int64
	FollowerReplicationThrottledRate  int64
	LeaderImbalanceCheckIntervalSecs  int64
	LeaderImbalancePerBrokerPercent   int32
	BrokerHeartbeatIntervalMs         int32
	BrokerSessionTimeoutMs            int32
	ControllerQuorumElectionTimeoutMs int32
	ControllerQuorumFetchTimeoutMs    int32

	// Security (security.go). SaslEnabledMechanisms is the plain setting;
	// ListenerSetting reads a listener's own.
	SaslEnabledMechanisms                 []string
	AuthorizerClassName                   string
	SuperUsers                            string
	SaslMechanismInterBrokerProtocol      string
	SaslMechanismControllerProtocol       string
	AllowEveryoneIfNoACLFound             bool
	ConnectionsMaxReauthMs                int64
	ConnectionFailedAuthenticationDelayMs int32
	QuotaWindowNum                        int32
	QuotaWindowSizeSeconds                int32

	// TopicDefaults are the settings of a topic without overrides.
	TopicDefaults Topic

	// Raw holds every static setting given (file, environment, --set),
	// unknown keys included, as text.
	Raw map[string]string

	dynDefault map[string]string // cluster-wide dynamic settings
	dynBroker  map[string]string // this broker's dynamic settings
	values     valueMap          // effective parsed value of every known key
	sources    map[string]Source // where each value came from
	hostname   string            // the host name advertised for empty hosts, if one was needed
}

// envPrefix starts the environment variables Load reads.
const envPrefix = "SLUICE_"

// nonConfigEnv are SLUICE_ variables that are not broker settings: the CLI
// and the tests read them. Load neither maps nor warns about them, nor
// about variables starting with SLUICE_COMPAT_ or SLUICE_TEST_.
var nonConfigEnv = map[string]bool{
	"SLUICE_BROKERS":    true, // the CLI's client commands
	"SLUICE_CONFIG":     true, // default of --config
	"SLUICE_LOG_LEVEL":  true, // default of --log-level
	"SLUICE_LOG_FORMAT": true, // default of --log-format
	"SLUICE_LONG":       true, // long test variants
	"SLUICE_BIN":        true, // the binary under test
}

// isConfigEnv reports whether an environment variable name is a setting.
func isConfigEnv(name string) bool {
	return strings.HasPrefix(name, envPrefix) && len(name) > len(envPrefix) && !nonConfigEnv[name] &&
		!strings.HasPrefix(name, "SLUICE_COMPAT_") && !strings.HasPrefix(name, "SLUICE_TEST_")
}

// EnvToKey maps an environment variable name after the SLUICE_ prefix to a
// setting name: letters are lower-cased, "_" is ".", "__" is "_" and "___"
// is "-" (the convention of the Kafka container images). So LOG_DIRS is
// log.dirs and LISTENER_NAME_PLAINTEXT__HOST_SASL_ENABLED__MECHANISMS is
// listener.name.plaintext_host.sasl.enabled_mechanisms.
func EnvToKey(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '_' {
			c := s[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
			i++
			continue
		}
		n := 0
		for i < len(s) && s[i] == '_' {
			n++
			i++
		}
		for ; n >= 3; n -= 3 {
			b.WriteByte('-')
		}
		switch n {
		case 2:
			b.WriteByte('_')
		case 1:
			b.WriteByte('.')
		}
	}
	return b.String()
}

// KeyToEnv is the inverse of EnvToKey, prefix included: log.dirs is
// SLUICE_LOG_DIRS.
func KeyToEnv(key string) string {
	r := strings.NewReplacer("-", "___", "_", "__", ".", "_")
	return envPrefix + strings.ToUpper(r.Replace(key))
}

// Load builds the broker configuration. Later sources override earlier
// ones: defaults, then the properties file (if file is not ""), then
// SLUICE_* variables from environ (KEY=VALUE strings, as os.Environ gives),
// then sets, "key=value" strings in order, the last one winning.
//
// A key that is not a known broker setting is kept in Raw and reported in
// the returned warnings, as Kafka logs "was supplied but isn't a known
// config". An invalid value, or settings that contradict each other, is an
// error naming the key and the reason.
func Load(file string, sets []string, environ []string) (*Broker, []string, error) {
	return load(file, sets, environ, os.Hostname)
}

// origin records where a static key was last set, for warnings.
type origin map[string]string

func load(file string, sets []string, environ []string, hostname func() (string, error)) (*Broker, []string, error) {
	raw := map[string]string{}
	from := origin{}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, nil, fmt.Errorf("read config file: %w", err)
		}
		props, err := ReadProperties(f)
		f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("read config file %s: %w", file, err)
		}
		for _, p := range props {
			raw[p.Key] = p.Value
			from[p.Key] = fmt.Sprintf("%s line %d", file, p.Line)
		}
	}
	envNames := make([]string, 0)
	envVals := map[string]string{}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !isConfigEnv(name) {
			continue
		}
		envNames = append(envNames, name)
		envVals[name] = val
	}
	// Apply variables in a fixed order so that two spellings of one key
	// resolve the same way on every run.
	sort.Strings(envNames)
	for _, name := range envNames {
		key := EnvToKey(name[len(envPrefix):])
		raw[key] = envVals[name]
		from[key] = "environment variable " + name
	}
	for _, s := range sets {
		key, val, ok := strings.Cut(s, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, nil, fmt.Errorf("--set %q: expected key=value", s)
		}
		raw[key] = val
		from[key] = "--set"
	}

	var warnings []string
	for _, key := range sortedKeys(raw) {
		if !knownBrokerKey(key) {
			warnings = append(warnings, fmt.Sprintf("The configuration '%s' was supplied but isn't a known config (from %s)", key, from[key]))
		}
	}
	b, err := build(raw, nil, nil, hostname)
	if err != nil {
		return nil, warnings, err
	}
	return b, warnings, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// WithDynamic returns the configuration with dynamic settings applied on top
// of the static ones: clusterDefault (Kafka's cluster-wide default, the
// broker resource "") and perBroker (this broker's resource). Both come from
// the metadata log; nil means none. The receiver is not changed.
func (b *Broker) WithDynamic(clusterDefault, perBroker map[string]string) (*Broker, error) {
	if err := ValidateBrokerConfigs(clusterDefault, false); err != nil {
		return nil, err
	}
	if err := ValidateBrokerConfigs(perBroker, true); err != nil {
		return nil, err
	}
	hostname := func() (string, error) {
		if b.hostname != "" {
			return b.hostname, nil
		}
		return os.Hostname()
	}
	return build(b.Raw, clusterDefault, perBroker, hostname)
}

// ValidateBrokerConfigs checks dynamic broker settings, as AlterConfigs and
// IncrementalAlterConfigs on a broker resource receive them: each key must
// be known and changeable at run time (cluster-wide settings anywhere,
// per-broker settings only with perBroker), and each value valid.
func ValidateBrokerConfigs(updates map[string]string, perBroker bool) error {
	for _, key := range sortedKeys(updates) {
		d, ok := brokerIndex[key]
		if !ok {
			return &Error{Name: key, Unknown: true, Reason: "Unknown broker config name: " + key}
		}
		switch {
		case d.Mode == ReadOnly:
			return &Error{Name: key, Value: updates[key], Reason: "Cannot update this config dynamically; it is read-only and needs a restart"}
		case d.Mode == PerBroker && !perBroker:
			return &Error{Name: key, Value: updates[key], Reason: "Cannot update this config at the default cluster level; a broker id must be specified"}
		}
		if _, err := d.check(updates[key]); err != nil {
			return err
		}
	}
	return nil
}

// build resolves every known key through the layers and checks the result.
func build(raw, dynDefault, dynBroker map[string]string, hostname func() (string, error)) (*Broker, error) {
	b := &Broker{
		Raw:        maps.Clone(raw),
		dynDefault: maps.Clone(dynDefault),
		dynBroker:  maps.Clone(dynBroker),
		values:     make(valueMap, len(brokerDefs)),
		sources:    make(map[string]Source, len(brokerDefs)),
	}
	var errs []error
	for i := range brokerDefs {
		d := &brokerDefs[i]
		text, src, ok := b.lookup(d.Name)
		if !ok {
			v, err := d.defaultValue()
			if err != nil {
				errs = append(errs, err)
			}
			b.values[d.Name], b.sources[d.Name] = v, SourceDefault
			continue
		}
		v, err := d.check(text)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.values[d.Name], b.sources[d.Name] = v, src
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	b.fill()
	if err := b.resolve(hostname); err != nil {
		return nil, err
	}
	td, err := TopicConfig(b, nil)
	if err != nil {
		return nil, fmt.Errorf("broker defaults for topics: %w", err)
	}
	b.TopicDefaults = td
	return b, nil
}

// lookup finds the text of a key in the highest layer that sets it.
func (b *Broker) lookup(name string) (string, Source, bool) {
	if v, ok := b.dynBroker[name]; ok {
		return v, SourceDynamicBroker, true
	}
	if v, ok := b.dynDefault[name]; ok {
		return v, SourceDynamicDefault, true
	}
	if v, ok := b.Raw[name]; ok {
		return v, SourceStatic, true
	}
	return "", SourceDefault, false
}

// Get returns the effective parsed value of a known broker setting: bool,
// int16, int32, int64, float64, string or []string, or nil when it is unset
// with a null default. ok is false for an unknown name.
func (b *Broker) Get(name string) (v any, ok bool) {
	v, ok = b.values[name]
	if l, isList := v.([]string); isList {
		v = append([]string(nil), l...)
	}
	return v, ok
}

// Source returns where the effective value of a known broker setting came
// from.
func (b *Broker) Source(name string) Source { return b.sources[name] }

// valueMap holds parsed values by key. Its accessors return the zero value
// on a type mismatch rather than panic: the table and parse guarantee the
// types, and the table tests would catch a mismatch.
type valueMap map[string]any

func (m valueMap) bool(n string) bool     { v, _ := m[n].(bool); return v }
func (m valueMap) i16(n string) int16     { v, _ := m[n].(int16); return v }
func (m valueMap) i32(n string) int32     { v, _ := m[n].(int32); return v }
func (m valueMap) i64(n string) int64     { v, _ := m[n].(int64); return v }
func (m valueMap) f64(n string) float64   { v, _ := m[n].(float64); return v }
func (m valueMap) str(n string) string    { v, _ := m[n].(string); return v }
func (m valueMap) list(n string) []string { v, _ := m[n].([]string); return slices.Clone(v) }
func (m valueMap) isSet(n string) bool    { return m[n] != nil }

func (b *Broker) fill() {
	b.NodeID = b.values.i32(KeyNodeID)
	b.ProcessRoles = b.values.list(KeyProcessRoles)
	b.ClusterID = b.values.str(KeyClusterID)
	b.ControllerListenerNames = upperAll(b.values.list(KeyControllerListenerNames))
	b.ControllerQuorumBootstrapServers = b.values.list(KeyControllerQuorumBootstrap)
	b.BrokerRack = b.values.str("broker.rack")
	b.HTTPAddr = b.values.str(KeyHTTPAddr)
	b.HTTPPprof = b.values.bool("http.pprof.enable")
	b.NumPartitions = b.values.i32("num.partitions")
	b.DefaultReplicationFactor = b.values.i32("default.replication.factor")
	b.AutoCreateTopics = b.values.bool("auto.create.topics.enable")
	b.DeleteTopicEnable = b.values.bool("delete.topic.enable")
	b.MessageMaxBytes = b.values.i32("message.max.bytes")
	b.SocketRequestMaxBytes = b.values.i32("socket.request.max.bytes")
	b.SocketSendBufferBytes = b.values.i32("socket.send.buffer.bytes")
	b.SocketReceiveBufferBytes = b.values.i32("socket.receive.buffer.bytes")
	b.ConnectionsMaxIdleMs = b.values.i64("connections.max.idle.ms")
	b.MaxConnections = b.values.i32("max.connections")
	b.MaxConnectionsPerIP = b.values.i32("max.connections.per.ip")
	b.FetchMaxBytes = b.values.i32("fetch.max.bytes")
	b.MinInsyncReplicas = b.values.i32("min.insync.replicas")
	b.MaxIncrementalFetchSessionCacheSlots = b.values.i32("max.incremental.fetch.session.cache.slots")
	b.NumRecoveryThreadsPerDataDir = b.values.i32("num.recovery.threads.per.data.dir")
	b.LogRetentionCheckIntervalMs = b.values.i64("log.retention.check.interval.ms")
	b.LogFlushSchedulerIntervalMs = b.values.i64("log.flush.scheduler.interval.ms")
	b.LogFlushOffsetCheckpointIntervalMs = b.values.i32("log.flush.offset.checkpoint.interval.ms")
	b.LogCleanerEnable = b.values.bool("log.cleaner.enable")
	b.LogCleanerThreads = b.values.i32("log.cleaner.threads")
	b.LogCleanerBackoffMs = b.values.i64("log.cleaner.backoff.ms")
	b.OffsetsTopicNumPartitions = b.values.i32("offsets.topic.num.partitions")
	b.OffsetsTopicReplicationFactor = b.values.i16("offsets.topic.replication.factor")
	b.OffsetsTopicSegmentBytes = b.values.i32("offsets.topic.segment.bytes")
	b.OffsetsRetentionMinutes = b.values.i32("offsets.retention.minutes")
	b.OffsetsRetentionCheckIntervalMs = b.values.i64("offsets.retention.check.interval.ms")
	b.OffsetsCommitTimeoutMs = b.values.i32("offsets.commit.timeout.ms")
	b.GroupMinSessionTimeoutMs = b.values.i32("group.min.session.timeout.ms")
	b.GroupMaxSessionTimeoutMs = b.values.i32("group.max.session.timeout.ms")
	b.GroupInitialRebalanceDelayMs = b.values.i32("group.initial.rebalance.delay.ms")
	b.GroupMaxSize = b.values.i32("group.max.size")
	b.GroupConsumerProtocol = slices.Contains(b.values.list("group.coordinator.rebalance.protocols"), "consumer")
	b.GroupConsumerSessionTimeoutMs = b.values.i32("group.consumer.session.timeout.ms")
	b.GroupConsumerHeartbeatIntervalMs = b.values.i32("group.consumer.heartbeat.interval.ms")
	b.GroupConsumerMaxSize = b.values.i32("group.consumer.max.size")
	b.GroupConsumerAssignors = b.values.list("group.consumer.assignors")
	b.GroupConsumerMigrationPolicy = b.values.str("group.consumer.migration.policy")
	b.TransactionStateLogNumPartitions = b.values.i32("transaction.state.log.num.partitions")
	b.TransactionStateLogReplication = b.values.i16("transaction.state.log.replication.factor")
	b.TransactionStateLogSegmentBytes = b.values.i32("transaction.state.log.segment.bytes")
	b.TransactionStateLogMinISR = b.values.i32("transaction.state.log.min.isr")
	b.TransactionalIDExpirationMs = b.values.i32("transactional.id.expiration.ms")
	b.TransactionMaxTimeoutMs = b.values.i32("transaction.max.timeout.ms")
	b.ProducerIDExpirationMs = b.values.i32("producer.id.expiration.ms")
	b.ProducerIDExpirationCheckMs = b.values.i32("producer.id.expiration.check.interval.ms")
	b.ReplicaLagTimeMaxMs = b.values.i64("replica.lag.time.max.ms")
	b.ReplicaFetchWaitMaxMs = b.values.i32("replica.fetch.wait.max.ms")
	b.ReplicaFetchMaxBytes = b.values.i32("replica.fetch.max.bytes")
	b.ReplicaFetchResponseMaxBytes = b.values.i32("replica.fetch.response.max.bytes")
	b.ReplicaFetchBackoffMs = b.values.i32("replica.fetch.backoff.ms")
	b.AutoLeaderRebalanceEnable = b.values.bool("auto.leader.rebalance.enable")
	b.MetadataSnapshotThreshold = b.values.i32("metadata.snapshot.threshold.entries")
	b.MetadataSnapshotTrailing = b.values.i32("metadata.snapshot.trailing.entries")
	b.MetadataSnapshotCheckIntervalMs = b.values.i32("metadata.snapshot.check.interval.ms")
	b.LeaderReplicationThrottledRate = b.values.i64("leader.replication.throttled.rate")
	b.FollowerReplicationThrottledRate = b.values.i64("follower.replication.throttled.rate")
	b.LeaderImbalanceCheckIntervalSecs = b.values.i64("leader.imbalance.check.interval.seconds")
	b.LeaderImbalancePerBrokerPercent = b.values.i32("leader.imbalance.per.broker.percentage")
	b.BrokerHeartbeatIntervalMs = b.values.i32("broker.heartbeat.interval.ms")
	b.BrokerSessionTimeoutMs = b.values.i32("broker.session.timeout.ms")
	b.ControllerQuorumElectionTimeoutMs = b.values.i32("controller.quorum.election.timeout.ms")
	b.ControllerQuorumFetchTimeoutMs = b.values.i32("controller.quorum.fetch.timeout.ms")
	b.fillSecurity()
}

func upperAll(l []string) []string {
	for i := range l {
		l[i] = strings.ToUpper(l[i])
	}
	return l
}

// HasRole reports whether process.roles includes role ("broker" or
// "controller").
func (b *Broker) HasRole(role string) bool { return slices.Contains(b.ProcessRoles, role) }

// resolve derives the fields that depend on several settings and checks
// that the settings agree, as Kafka's KafkaConfig validation does.
func (b *Broker) resolve(hostname func() (string, error)) error {
	isBroker, isController := b.HasRole("broker"), b.HasRole("controller")
	if !isBroker && !isController {
		return &Error{Name: KeyProcessRoles, Value: "", Reason: "must contain broker, controller or both"}
	}

	protos, err := parseProtocolMap(b.values.str(KeyListenerSecurityProtocol))
	if err != nil { // the validator accepted it already; kept for safety
		return &Error{Name: KeyListenerSecurityProtocol, Value: b.values.str(KeyListenerSecurityProtocol), Reason: err.Error()}
	}
	withProtocol := func(key string, ls []Listener) ([]Listener, error) {
		for i := range ls {
			p, ok := protos[ls[i].Name]
			if !ok {
				return nil, fmt.Errorf("listener %s in %s has no security protocol: add %s:PLAINTEXT (or another protocol) to %s",
					ls[i].Name, key, ls[i].Name, KeyListenerSecurityProtocol)
			}
			ls[i].SecurityProtocol = p
		}
		return ls, nil
	}
	listeners, _ := ParseListeners(strings.Join(b.values.list(KeyListeners), ","))
	if b.Listeners, err = withProtocol(KeyListeners, listeners); err != nil {
		return err
	}
	names := map[string]bool{}
	for _, l := range b.Listeners {
		names[l.Name] = true
	}
	ctrl := map[string]bool{}
	for _, n := range b.ControllerListenerNames {
		ctrl[n] = true
		switch {
		case isController && !names[n]:
			return fmt.Errorf("%s contains %s, which is not in %s; a controller must listen on its controller listeners",
				KeyControllerListenerNames, n, KeyListeners)
		case !isController && names[n]:
			return fmt.Errorf("%s contains %s, which a broker-only node must not have in %s",
				KeyControllerListenerNames, n, KeyListeners)
		}
	}
	if isBroker {
		hasClient := false
		for _, l := range b.Listeners {
			hasClient = hasClient || !ctrl[l.Name]
		}
		if !hasClient {
			return fmt.Errorf("%s needs at least one listener that is not a controller listener on a node with the broker role", KeyListeners)
		}
	}

	// Advertised listeners: explicit, or the client listeners.
	var adv []Listener
	if b.values.isSet(KeyAdvertisedListeners) {
		adv, _ = ParseListeners(strings.Join(b.values.list(KeyAdvertisedListeners), ","))
		for _, l := range adv {
			if !names[l.Name] {
				return fmt.Errorf("%s names listener %s, which is not in %s", KeyAdvertisedListeners, l.Name, KeyListeners)
			}
		}
	} else {
		for _, l := range b.Listeners {
			if !ctrl[l.Name] {
				adv = append(adv, l)
			}
		}
	}
	for i := range adv {
		switch adv[i].Host {
		case "0.0.0.0", "::":
			key := KeyAdvertisedListeners
			if !b.values.isSet(key) {
				key = KeyListeners + " (advertised because " + KeyAdvertisedListeners + " is unset)"
			}
			return fmt.Errorf("%s: %s cannot be advertised: %s is not a routable address; set %s to a host clients can reach",
				key, adv[i], adv[i].Host, KeyAdvertisedListeners)
		case "":
			h, err := hostname()
			if err != nil || h == "" {
				return fmt.Errorf("%s has no host and the host name is unknown (%v); set %s", adv[i], err, KeyAdvertisedListeners)
			}
			adv[i].Host, b.hostname = h, h
		}
	}
	if b.AdvertisedListeners, err = withProtocol(KeyAdvertisedListeners, adv); err != nil {
		return err
	}

	// Inter-broker listener.
	if b.values.isSet(KeyInterBrokerListenerName) && b.sources[KeySecurityInterBroker] != SourceDefault {
		return fmt.Errorf("only one of %s and %s should be set", KeyInterBrokerListenerName, KeySecurityInterBroker)
	}
	b.InterBrokerListenerName = ""
	advNames := map[string]bool{}
	for _, l := range b.AdvertisedListeners {
		advNames[l.Name] = true
	}
	if b.values.isSet(KeyInterBrokerListenerName) {
		n := strings.ToUpper(b.values.str(KeyInterBrokerListenerName))
		if isBroker && !advNames[n] {
			return fmt.Errorf("%s is %s, which is not an advertised listener (%s)", KeyInterBrokerListenerName, n, listenerNames(b.AdvertisedListeners))
		}
		if ctrl[n] {
			return fmt.Errorf("%s is %s, which is a controller listener", KeyInterBrokerListenerName, n)
		}
		b.InterBrokerListenerName = n
	} else if p := b.values.str(KeySecurityInterBroker); advNames[p] && !ctrl[p] {
		b.InterBrokerListenerName = p
	} else {
		for _, l := range b.AdvertisedListeners {
			if !ctrl[l.Name] {
				b.InterBrokerListenerName = l.Name
				break
			}
		}
	}

	// Quorum.
	voters, _ := parseVoters(b.values.list(KeyControllerQuorumVoters))
	b.ControllerQuorumVoters = voters
	isVoter := false
	for _, v := range voters {
		isVoter = isVoter || v.ID == b.NodeID
	}
	switch {
	case isController && len(voters) > 0 && !isVoter:
		return fmt.Errorf("%s has the controller role, so node.id %d must be one of %s", KeyProcessRoles, b.NodeID, KeyControllerQuorumVoters)
	case !isController && isVoter:
		return fmt.Errorf("node.id %d is in %s, but %s does not include controller", b.NodeID, KeyControllerQuorumVoters, KeyProcessRoles)
	case !isController && len(voters) == 0 && len(b.ControllerQuorumBootstrapServers) == 0:
		return fmt.Errorf("a broker-only node needs %s or %s to find the controllers", KeyControllerQuorumVoters, KeyControllerQuorumBootstrap)
	}

	// Directories.
	if b.values.isSet(KeyLogDirs) {
		b.LogDirs = b.values.list(KeyLogDirs)
		if len(b.LogDirs) == 0 {
			return &Error{Name: KeyLogDirs, Value: "", Reason: "at least one directory is needed"}
		}
	} else {
		b.LogDirs = []string{b.values.str(KeyLogDir)}
	}
	b.MetadataLogDir = b.LogDirs[0]
	if b.values.isSet(KeyMetadataLogDir) {
		b.MetadataLogDir = b.values.str(KeyMetadataLogDir)
	}

	// Groups.
	if b.GroupMinSessionTimeoutMs > b.GroupMaxSessionTimeoutMs {
		return fmt.Errorf("group.min.session.timeout.ms (%d) must not exceed group.max.session.timeout.ms (%d)",
			b.GroupMinSessionTimeoutMs, b.GroupMaxSessionTimeoutMs)
	}
	cMin, cDef, cMax := b.values.i32("group.consumer.min.session.timeout.ms"), b.values.i32("group.consumer.session.timeout.ms"), b.values.i32("group.consumer.max.session.timeout.ms")
	if cMin > cDef || cDef > cMax {
		return fmt.Errorf("group.consumer.session.timeout.ms (%d) must lie between group.consumer.min.session.timeout.ms (%d) and group.consumer.max.session.timeout.ms (%d)", cDef, cMin, cMax)
	}
	hMin, hDef, hMax := b.values.i32("group.consumer.min.heartbeat.interval.ms"), b.values.i32("group.consumer.heartbeat.interval.ms"), b.values.i32("group.consumer.max.heartbeat.interval.ms")
	if hMin > hDef || hDef > hMax {
		return fmt.Errorf("group.consumer.heartbeat.interval.ms (%d) must lie between group.consumer.min.heartbeat.interval.ms (%d) and group.consumer.max.heartbeat.interval.ms (%d)", hDef, hMin, hMax)
	}
	if hDef >= cDef {
		return fmt.Errorf("group.consumer.heartbeat.interval.ms (%d) must be less than group.consumer.session.timeout.ms (%d)", hDef, cDef)
	}
	if b.DefaultReplicationFactor > 32767 {
		return &Error{Name: "default.replication.factor", Value: fmt.Sprint(b.DefaultReplicationFactor), Reason: "Value must be no more than 32767"}
	}
	return b.checkSecurity()
}

func listenerNames(ls []Listener) string {
	n := make([]string, len(ls))
	for i, l := range ls {
		n[i] = l.Name
	}
	return strings.Join(n, ", ")
}
