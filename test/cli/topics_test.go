package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTopicsLifecycle(t *testing.T) {
	addr := startBroker(t)
	topic := topicName(t)

	r := ok(t, addr, nil, "topics", "create", topic, "--partitions", "3", "--replication-factor", "1", "--config", "retention.ms=3600000")
	if strings.TrimSpace(r.stdout) != "Created topic "+topic+"." {
		t.Fatalf("create: %q", r.stdout)
	}
	fails(t, addr, nil, []string{"TOPIC_ALREADY_EXISTS"}, "topics", "create", topic)
	ok(t, addr, nil, "topics", "create", topic, "--if-not-exists")
	fails(t, addr, nil, []string{"INVALID_CONFIG", "retention.ms"}, "topics", "create", topic+"-bad", "--config", "retention.ms=soon")

	if got := lines(ok(t, addr, nil, "topics", "list").stdout); !slices.Contains(got, topic) || slices.Contains(got, topic+"-bad") {
		t.Fatalf("list: %v", got)
	}

	desc := ok(t, addr, nil, "topics", "describe", topic).stdout
	for _, want := range []string{"Topic: " + topic + "\t", "PartitionCount: 3", "ReplicationFactor: 1", "Configs: retention.ms=3600000",
		"Partition: 2\tLeader: 1\tReplicas: 1\tIsr: 1"} {
		if !strings.Contains(desc, want) {
			t.Fatalf("describe lacks %q:\n%s", want, desc)
		}
	}
	fails(t, addr, nil, []string{"UNKNOWN_TOPIC_OR_PARTITION"}, "topics", "describe", topic+"-missing")

	ok(t, addr, nil, "topics", "alter-config", topic, "--config", "segment.bytes=1048576", "--delete-config", "retention.ms")
	desc = ok(t, addr, nil, "topics", "describe", "--topic", topic).stdout
	if !strings.Contains(desc, "Configs: segment.bytes=1048576\n") {
		t.Fatalf("after alter-config:\n%s", desc)
	}
	fails(t, addr, nil, []string{"Invalid value 10 for configuration segment.bytes", "INVALID_CONFIG"},
		"topics", "alter-config", topic, "--config", "segment.bytes=10")
	fails(t, addr, nil, []string{"Unknown topic config name: retention.weeks"}, "topics", "alter-config", topic, "--config", "retention.weeks=1")

	r = ok(t, addr, nil, "topics", "add-partitions", topic, "--partitions", "5")
	if !strings.Contains(r.stdout, "now has 5 partitions") {
		t.Fatalf("add-partitions: %s", r.stdout)
	}
	fails(t, addr, nil, []string{"INVALID_PARTITIONS", "higher than the requested 4"}, "topics", "add-partitions", topic, "--partitions", "4")
	fails(t, addr, nil, []string{"UNKNOWN_TOPIC_OR_PARTITION"}, "topics", "add-partitions", topic+"-missing", "--partitions", "4")
	if !strings.Contains(ok(t, addr, nil, "topics", "describe", topic).stdout, "PartitionCount: 5") {
		t.Fatal("describe after add-partitions does not show 5 partitions")
	}

	ok(t, addr, nil, "topics", "delete", topic)
	if got := lines(ok(t, addr, nil, "topics", "list").stdout); slices.Contains(got, topic) {
		t.Fatalf("deleted topic still listed: %v", got)
	}
	fails(t, addr, nil, []string{"UNKNOWN_TOPIC_OR_PARTITION"}, "topics", "delete", topic)
	ok(t, addr, nil, "topics", "delete", topic, "--if-exists")
}

func TestConfigsRecordsCluster(t *testing.T) {
	addr := startBroker(t)
	topic := topicName(t)
	ok(t, addr, nil, "topics", "create", topic, "--partitions", "2")

	// configs: Kafka's flags and Sluice's.
	ok(t, addr, nil, "configs", "alter", "--entity-type", "topics", "--entity-name", topic,
		"--add-config", "retention.ms=1000,cleanup.policy=[compact,delete]")
	d := ok(t, addr, nil, "configs", "describe", "--topic", topic).stdout
	for _, want := range []string{"Dynamic configs for topic " + topic + " are:", "  cleanup.policy=compact,delete sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete",
		"  retention.ms=1000 sensitive=false"} {
		if !strings.Contains(d, want) {
			t.Fatalf("configs describe lacks %q:\n%s", want, d)
		}
	}
	all := ok(t, addr, nil, "configs", "describe", "--topic", topic, "--all").stdout
	if !strings.Contains(all, "All configs for topic") || !strings.Contains(all, "  segment.bytes=1073741824 sensitive=false synonyms={DEFAULT_CONFIG:log.segment.bytes=1073741824}") {
		t.Fatalf("configs describe --all:\n%s", clip(all))
	}
	ok(t, addr, nil, "configs", "alter", "--topic", topic, "--delete-config", "retention.ms,cleanup.policy")
	if d := ok(t, addr, nil, "configs", "describe", "--topic", topic).stdout; len(lines(d)) != 1 {
		t.Fatalf("after deleting both overrides:\n%s", d)
	}
	ok(t, addr, nil, "configs", "alter", "--broker-defaults", "--config", "log.retention.ms=86400000")
	if d := ok(t, addr, nil, "configs", "describe", "--entity-type", "brokers", "--entity-default").stdout; !strings.Contains(d, "log.retention.ms=86400000") {
		t.Fatalf("broker defaults:\n%s", d)
	}
	if d := ok(t, addr, nil, "configs", "describe", "--broker", "1", "--all").stdout; !strings.Contains(d, "log.retention.ms=86400000 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=86400000") {
		t.Fatalf("broker 1 --all does not show the dynamic default:\n%s", clip(d))
	}
	fails(t, addr, nil, []string{"INVALID_CONFIG", "read-only"}, "configs", "alter", "--broker-defaults", "--config", "num.io.threads=2")
	ok(t, addr, nil, "configs", "alter", "--broker", "1", "--config", "log.retention.ms=172800000")
	if d := ok(t, addr, nil, "configs", "describe", "--broker", "1").stdout; !strings.Contains(d, "DYNAMIC_BROKER_CONFIG:log.retention.ms=172800000") {
		t.Fatalf("broker 1 does not show its own dynamic config:\n%s", clip(d))
	}
	fails(t, addr, nil, []string{"unknown broker"}, "configs", "alter", "--broker", "2", "--config", "log.retention.ms=2")

	// records delete.
	var in strings.Builder
	for i := 0; i < 20; i++ {
		in.WriteString("v\n")
	}
	ok(t, addr, []byte(in.String()), "produce", topic, "--partition", "0")
	r := ok(t, addr, nil, "records", "delete", topic, "--partition", "0", "--offset", "15")
	if !strings.Contains(r.stdout, "partition: "+topic+"-0\tlow_watermark: 15") {
		t.Fatalf("records delete: %s", r.stdout)
	}
	c := ok(t, addr, nil, "consume", topic, "-p", "0", "--from-beginning", "-e", "--property", "print.offset=true", "--property", "print.value=false")
	if got := lines(c.stdout); len(got) != 5 || got[0] != "Offset:15" {
		t.Fatalf("after deleting below 15, consumed %v", got)
	}
	r = fails(t, addr, nil, []string{"not deleted"}, "records", "delete", topic, "--offset", "100")
	if !strings.Contains(r.stdout, "OFFSET_OUT_OF_RANGE") {
		t.Fatalf("records delete past the end: %s", r)
	}
	file := filepath.Join(t.TempDir(), "offsets.json")
	os.WriteFile(file, []byte(`{"partitions":[{"topic":"`+topic+`","partition":0,"offset":-1}],"version":1}`), 0o644)
	if r := ok(t, addr, nil, "records", "delete", "--offset-json-file", file); !strings.Contains(r.stdout, "low_watermark: 20") {
		t.Fatalf("records delete --offset-json-file: %s", r.stdout)
	}

	// cluster info.
	info := ok(t, addr, nil, "cluster", "info").stdout
	for _, want := range []string{"Cluster ID:", "Controller:  1", "Brokers:     1", "  1  " + addr} {
		if !strings.Contains(info, want) {
			t.Fatalf("cluster info lacks %q:\n%s", want, info)
		}
	}
	var ci struct {
		ClusterID string `json:"cluster_id"`
		Brokers   []struct {
			NodeID int32 `json:"node_id"`
		} `json:"brokers"`
		Partitions int `json:"partitions"`
	}
	if err := json.Unmarshal([]byte(ok(t, addr, nil, "cluster", "info", "--json").stdout), &ci); err != nil {
		t.Fatal(err)
	}
	if ci.ClusterID == "" || len(ci.Brokers) != 1 || ci.Partitions != 2 {
		t.Fatalf("cluster info --json: %+v", ci)
	}
}

func TestUnreachableBroker(t *testing.T) {
	for _, args := range [][]string{
		{"topics", "list"},
		{"cluster", "info"},
		{"consume", "t", "-e"},
	} {
		r := fails(t, "", nil, []string{"cannot reach a broker at 127.0.0.1:1", "SLUICE_BROKERS"}, append(args, "--brokers", "127.0.0.1:1", "--timeout", "3s")...)
		if r.code != 1 {
			t.Errorf("%v: exit code %d, want 1", args, r.code)
		}
	}
	fails(t, "", []byte("x\n"), []string{"cannot reach a broker"}, "produce", "t", "-b", "127.0.0.1:1", "--timeout", "3s")
}
