package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func fixedHost() (string, error) { return "node-a", nil }

func TestLoadDefaults(t *testing.T) {
	b, warns, err := load("", nil, nil, fixedHost)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Fatalf("warnings: %v", warns)
	}
	want := []Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092, SecurityProtocol: "PLAINTEXT"}}
	if !slices.Equal(b.Listeners, want) || !slices.Equal(b.AdvertisedListeners, want) {
		t.Errorf("listeners %v advertised %v", b.Listeners, b.AdvertisedListeners)
	}
	if b.Listeners[0].Addr() != "127.0.0.1:9092" || b.Listeners[0].String() != "PLAINTEXT://127.0.0.1:9092" {
		t.Errorf("addr %s string %s", b.Listeners[0].Addr(), b.Listeners[0])
	}
	if !slices.Equal(b.LogDirs, []string{"./sluice-data"}) || b.MetadataLogDir != "./sluice-data" {
		t.Errorf("log dirs %v metadata %q", b.LogDirs, b.MetadataLogDir)
	}
	if b.NodeID != 1 || !b.HasRole("broker") || !b.HasRole("controller") {
		t.Errorf("node %d roles %v", b.NodeID, b.ProcessRoles)
	}
	if b.NumPartitions != 1 || b.DefaultReplicationFactor != 1 || !b.AutoCreateTopics || !b.DeleteTopicEnable {
		t.Errorf("topic creation defaults: %+v", b)
	}
	if b.MessageMaxBytes != 1048588 || b.SocketRequestMaxBytes != 104857600 || b.MinInsyncReplicas != 1 {
		t.Errorf("sizes %d %d %d", b.MessageMaxBytes, b.SocketRequestMaxBytes, b.MinInsyncReplicas)
	}
	if b.OffsetsTopicNumPartitions != 50 || b.OffsetsTopicReplicationFactor != 3 || b.TransactionStateLogReplication != 3 {
		t.Errorf("internal topics %d %d %d", b.OffsetsTopicNumPartitions, b.OffsetsTopicReplicationFactor, b.TransactionStateLogReplication)
	}
	if b.InterBrokerListenerName != "PLAINTEXT" || b.HTTPAddr != "127.0.0.1:9644" || b.ClusterID != "" {
		t.Errorf("inter-broker %q http %q cluster %q", b.InterBrokerListenerName, b.HTTPAddr, b.ClusterID)
	}
	if b.ProducerIDExpirationMs != 86400000 || b.LogRetentionCheckIntervalMs != 300000 {
		t.Errorf("producer id expiration %d retention check %d", b.ProducerIDExpirationMs, b.LogRetentionCheckIntervalMs)
	}
	td := b.TopicDefaults
	if td.RetentionMs != 168*3600000 || td.SegmentBytes != 1<<30 || td.SegmentMs != 168*3600000 || td.RetentionBytes != -1 ||
		td.MaxMessageBytes != 1048588 || td.CompressionType != "producer" || !td.Delete() || td.Compact() ||
		td.LogAppendTime() || td.MessageTimestampAfterMaxMs != 3600000 || td.FlushMessages != 1<<63-1 {
		t.Errorf("topic defaults %+v", td)
	}
	if v, ok := b.Get("log.retention.ms"); !ok || v != nil {
		t.Errorf("Get(log.retention.ms) = %v, %v; want nil (null default), true", v, ok)
	}
	if _, ok := b.Get("no.such.key"); ok {
		t.Error("Get of an unknown key says ok")
	}
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "server.properties")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadPrecedence(t *testing.T) {
	file := writeFile(t, `
# a Kafka-style file
num.partitions=2
default.replication.factor=2
log.retention.hours=24
message.max.bytes : 2000000
`)
	env := []string{"SLUICE_DEFAULT_REPLICATION_FACTOR=3", "SLUICE_LOG_RETENTION_HOURS=12", "PATH=/bin"}
	sets := []string{"log.retention.hours=6", "log.retention.hours=1", "listeners=PLAINTEXT://127.0.0.1:0,OTHER://127.0.0.1:0",
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT"}
	b, warns, err := load(file, sets, env, fixedHost)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings %v", warns)
	}
	if b.NumPartitions != 2 {
		t.Errorf("num.partitions %d, want 2 from the file", b.NumPartitions)
	}
	if b.DefaultReplicationFactor != 3 {
		t.Errorf("default.replication.factor %d, want 3 from the environment", b.DefaultReplicationFactor)
	}
	if b.TopicDefaults.RetentionMs != 3600000 {
		t.Errorf("retention %d, want 1 hour from the last --set", b.TopicDefaults.RetentionMs)
	}
	if b.MessageMaxBytes != 2000000 || b.TopicDefaults.MaxMessageBytes != 2000000 {
		t.Errorf("message.max.bytes %d / max.message.bytes %d", b.MessageMaxBytes, b.TopicDefaults.MaxMessageBytes)
	}
	if len(b.Listeners) != 2 || b.Listeners[1].Name != "OTHER" || b.Listeners[1].Port != 0 {
		t.Errorf("listeners %v", b.Listeners)
	}
	if b.Raw["log.retention.hours"] != "1" || b.Raw["num.partitions"] != "2" {
		t.Errorf("raw %v", b.Raw)
	}
	for key, want := range map[string]Source{"num.partitions": SourceStatic, "log.retention.hours": SourceStatic, "num.io.threads": SourceDefault} {
		if got := b.Source(key); got != want {
			t.Errorf("source of %s = %v, want %v", key, got, want)
		}
	}
}

func TestEnvMapping(t *testing.T) {
	for env, key := range map[string]string{
		"LOG_DIRS":                          "log.dirs",
		"NUM_PARTITIONS":                    "num.partitions",
		"LISTENER_SECURITY_PROTOCOL_MAP":    "listener.security.protocol.map",
		"LISTENER_NAME_PLAINTEXT__HOST_X":   "listener.name.plaintext_host.x",
		"LISTENER_NAME_X_SCRAM___SHA___256": "listener.name.x.scram-sha-256",
		"A____B":                            "a-.b",
	} {
		if got := EnvToKey(env); got != key {
			t.Errorf("EnvToKey(%s) = %s, want %s", env, got, key)
		}
	}
	for _, key := range []string{"log.dirs", "listener.name.plaintext_host.x", "listener.name.x.scram-sha-256", "a_b-c.d"} {
		if got := EnvToKey(strings.TrimPrefix(KeyToEnv(key), "SLUICE_")); got != key {
			t.Errorf("round trip of %s via %s gave %s", key, KeyToEnv(key), got)
		}
	}
	if KeyToEnv("log.retention.hours") != "SLUICE_LOG_RETENTION_HOURS" {
		t.Errorf("KeyToEnv = %s", KeyToEnv("log.retention.hours"))
	}

	env := []string{
		"SLUICE_LOG_DIRS=/d1,/d2",
		"SLUICE_NODE_ID=7",
		"SLUICE_BROKERS=ignored:9092", // the CLI's, not a setting
		"SLUICE_LOG_LEVEL=debug",
		"SLUICE_COMPAT_RECORDS=10",
		"SLUICE_=x",
		"SLUICE_NUM_PARTITION=3", // a typo: warned about
		"NOT_SLUICE_NODE_ID=9",
		"malformed",
	}
	b, warns, err := load("", nil, env, fixedHost)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.LogDirs, []string{"/d1", "/d2"}) || b.MetadataLogDir != "/d1" || b.NodeID != 7 {
		t.Errorf("log dirs %v metadata %s node %d", b.LogDirs, b.MetadataLogDir, b.NodeID)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "'num.partition' was supplied but isn't a known config") ||
		!strings.Contains(warns[0], "SLUICE_NUM_PARTITION") {
		t.Errorf("warnings %q", warns)
	}
}

func TestUnknownKeyWarnings(t *testing.T) {
	file := writeFile(t, "zookeeper.connect=localhost:2181\nnum.partitions=1\n")
	b, warns, err := load(file, []string{"my.custom=1", "log.retention.hour=2"}, nil, fixedHost)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"The configuration 'log.retention.hour' was supplied but isn't a known config (from --set)",
		"The configuration 'my.custom' was supplied but isn't a known config (from --set)",
		"The configuration 'zookeeper.connect' was supplied but isn't a known config (from " + file + " line 1)",
	}
	if !slices.Equal(warns, want) {
		t.Errorf("warnings\n%q\nwant\n%q", warns, want)
	}
	if b.Raw["my.custom"] != "1" {
		t.Error("unknown keys are kept in Raw")
	}
}

func TestLoadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.properties")
	if _, _, err := load(missing, nil, nil, fixedHost); err == nil || !strings.Contains(err.Error(), "nope.properties") {
		t.Errorf("missing file: %v", err)
	}
	bad := writeFile(t, "a=1\nb=\\uZZZZ\n")
	if _, _, err := load(bad, nil, nil, fixedHost); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("malformed file: %v", err)
	}
	for _, s := range []string{"novalue", "=v", " =v"} {
		if _, _, err := load("", []string{s}, nil, fixedHost); err == nil || !strings.Contains(err.Error(), "key=value") {
			t.Errorf("--set %q: %v", s, err)
		}
	}
	// Several bad values are all reported.
	_, _, err := load("", []string{"num.partitions=zero", "message.max.bytes=-5"}, nil, fixedHost)
	if err == nil || !strings.Contains(err.Error(), "num.partitions") || !strings.Contains(err.Error(), "message.max.bytes") {
		t.Errorf("two bad values: %v", err)
	}
	var ce *Error
	if !errors.As(err, &ce) || !errors.Is(err, kerr.InvalidConfig) {
		t.Errorf("error %v is not a *config.Error", err)
	}
}

// TestCrossChecks covers settings that are valid alone but contradict each
// other, as Kafka's KafkaConfig validation rejects them.
func TestCrossChecks(t *testing.T) {
	tests := []struct {
		name string
		sets []string
		want string // substring of the error; "" for success
	}{
		{"advertise all interfaces", []string{"listeners=PLAINTEXT://0.0.0.0:9092"}, "not a routable address"},
		{"advertise all interfaces explicitly", []string{"listeners=PLAINTEXT://:9092", "advertised.listeners=PLAINTEXT://0.0.0.0:9092"}, "not a routable address"},
		{"advertise unknown listener", []string{"advertised.listeners=OTHER://h:1"}, "not in listeners"},
		{"listener without protocol", []string{"listeners=EXTERNAL://:9092"}, "add EXTERNAL:PLAINTEXT"},
		{"listener with protocol", []string{"listeners=EXTERNAL://:9092", "listener.security.protocol.map=EXTERNAL:PLAINTEXT"}, ""},
		{"controller listener missing", []string{"controller.listener.names=CONTROLLER"}, "not in listeners"},
		{"controller listener present", []string{"listeners=PLAINTEXT://:9092,CONTROLLER://:9093", "controller.listener.names=CONTROLLER",
			"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"}, ""},
		{"only controller listeners on a broker", []string{"listeners=CONTROLLER://:9093", "controller.listener.names=CONTROLLER",
			"listener.security.protocol.map=CONTROLLER:PLAINTEXT"}, "at least one listener that is not a controller listener"},
		{"controller-only node", []string{"process.roles=controller", "listeners=CONTROLLER://:9093", "controller.listener.names=CONTROLLER",
			"listener.security.protocol.map=CONTROLLER:PLAINTEXT"}, ""},
		{"broker-only with controller listener", []string{"process.roles=broker", "controller.quorum.voters=2@c:9093",
			"listeners=PLAINTEXT://:9092,CONTROLLER://:9093", "controller.listener.names=CONTROLLER",
			"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"}, "broker-only node must not"},
		{"broker-only without quorum", []string{"process.roles=broker"}, "needs controller.quorum.voters"},
		{"broker-only with bootstrap", []string{"process.roles=broker", "controller.quorum.bootstrap.servers=c:9093"}, ""},
		{"controller not a voter", []string{"controller.quorum.voters=2@c:9093"}, "node.id 1 must be one of"},
		{"controller a voter", []string{"controller.quorum.voters=1@localhost:9093,2@c:9093"}, ""},
		{"broker in voters", []string{"process.roles=broker", "controller.quorum.voters=1@c:9093"}, "does not include controller"},
		{"empty roles", []string{"process.roles="}, "Empty list"},
		{"both inter-broker settings", []string{"inter.broker.listener.name=PLAINTEXT", "security.inter.broker.protocol=SSL"}, "only one of"},
		{"inter-broker unknown", []string{"inter.broker.listener.name=INTERNAL"}, "not an advertised listener"},
		{"group timeouts", []string{"group.min.session.timeout.ms=10", "group.max.session.timeout.ms=5"}, "must not exceed"},
		{"consumer heartbeat over session", []string{"group.consumer.heartbeat.interval.ms=50000", "group.consumer.max.heartbeat.interval.ms=60000"}, "less than"},
		{"compaction lags", []string{"log.cleaner.min.compaction.lag.ms=10", "log.cleaner.max.compaction.lag.ms=5"}, "max.compaction.lag.ms"},
		{"empty log.dirs", []string{"log.dirs="}, "at least one directory"},
		{"replication factor over a SHORT", []string{"default.replication.factor=40000"}, "no more than 32767"},
		{"retention ms below -1", []string{"log.retention.ms=-5"}, ""}, // negative broker retention means forever
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load("", tt.sets, nil, fixedHost)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestAdvertisedListeners(t *testing.T) {
	b, _, err := load("", []string{
		"listeners=PLAINTEXT://:9092,INTERNAL://10.0.0.1:9094,CONTROLLER://:9093",
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
		"controller.listener.names=controller",
		"inter.broker.listener.name=internal",
	}, nil, fixedHost)
	if err != nil {
		t.Fatal(err)
	}
	want := []Listener{
		{Name: "PLAINTEXT", Host: "node-a", Port: 9092, SecurityProtocol: "PLAINTEXT"},
		{Name: "INTERNAL", Host: "10.0.0.1", Port: 9094, SecurityProtocol: "SASL_PLAINTEXT"},
	}
	if !slices.Equal(b.AdvertisedListeners, want) {
		t.Errorf("advertised %v, want %v (no controller listener, host name filled in)", b.AdvertisedListeners, want)
	}
	if b.Listeners[0].Host != "" {
		t.Errorf("bind host %q, want empty (every interface)", b.Listeners[0].Host)
	}
	if b.InterBrokerListenerName != "INTERNAL" || !slices.Equal(b.ControllerListenerNames, []string{"CONTROLLER"}) {
		t.Errorf("inter-broker %q controller %v", b.InterBrokerListenerName, b.ControllerListenerNames)
	}

	// Without PLAINTEXT among the advertised listeners, the first one is used
	// between brokers.
	b, _, err = load("", []string{"listeners=EXTERNAL://h:1", "listener.security.protocol.map=EXTERNAL:PLAINTEXT"}, nil, fixedHost)
	if err != nil || b.InterBrokerListenerName != "EXTERNAL" {
		t.Errorf("inter-broker %q, %v", b.InterBrokerListenerName, err)
	}

	// Explicit advertised listeners are used as given.
	b, _, err = load("", []string{"listeners=PLAINTEXT://:9092", "advertised.listeners=PLAINTEXT://kafka1.example:19092"}, nil, fixedHost)
	if err != nil || len(b.AdvertisedListeners) != 1 || b.AdvertisedListeners[0].Addr() != "kafka1.example:19092" {
		t.Errorf("advertised %v, %v", b.AdvertisedListeners, err)
	}
}

func TestLogDirs(t *testing.T) {
	b, _, err := load("", []string{"log.dir=/one"}, nil, fixedHost)
	if err != nil || !slices.Equal(b.LogDirs, []string{"/one"}) {
		t.Errorf("log.dir: %v %v", b.LogDirs, err)
	}
	b, _, err = load("", []string{"log.dir=/one", "log.dirs=/a, /b", "metadata.log.dir=/meta"}, nil, fixedHost)
	if err != nil || !slices.Equal(b.LogDirs, []string{"/a", "/b"}) || b.MetadataLogDir != "/meta" {
		t.Errorf("log.dirs wins over log.dir: %v %q %v", b.LogDirs, b.MetadataLogDir, err)
	}
}
