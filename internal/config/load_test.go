package config

import (
	"errors"
	"slices"
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
	if !slices.Equal(b.LogDirs, []string{"./sluice-data"}) || b.MetadataLogDir != "./sluice-data" {
		t.Errorf("log dirs %v metadata %q", b.LogDirs, b.MetadataLogDir)
	}
	if b.NodeID != 1 || !b.HasRole("broker") || !b.HasRole("controller") {
		t.Errorf("node %d roles %v", b.NodeID, b.ProcessRoles)
	}
	if b.NumPartitions != 1 || b.DefaultReplicationFactor != 1 || !b.AutoCreateTopics || !b.DeleteTopicEnable {
		t.Errorf("topic creation defaults: %+v", b)
	}
	if b.MessageMaxBytes != 1048588 || b.SocketRequestMaxBytes != 104857600 {
		t.Errorf("sizes %d %d", b.MessageMaxBytes, b.SocketRequestMaxBytes)
	}
	if b.InterBrokerListenerName != "PLAINTEXT" {
		t.Errorf("inter-broker %q", b.InterBrokerListenerName)
	}
	td := b.TopicDefaults
	if td.RetentionMs != 168*3600000 || td.SegmentBytes != 1<<30 || td.SegmentMs != 168*3600000 || td.RetentionBytes != -1 {
		t.Errorf("topic defaults %+v", td)
	}
	if err := ValidateTopicConfigs(map[string]string{"nope": "1"}); !errors.Is(err, kerr.InvalidConfig) || err.Error() != "Unknown topic config name: nope" {
		t.Errorf("unknown topic key: %v", err)
	}
}
