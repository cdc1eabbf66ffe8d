package compat

import (
	"os"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkajs drives kafkajs 2.2.4 (installed in test/compat/node_modules by
// scripts/install-test-deps.sh).
//
// Covered: produce with acks=-1, plain and idempotent with GZIP, checked record by record
// against the broker's offsets; reading by partition and offset through kafkajs's own
// Fetch request and batch decoding (its internal Cluster/Broker API, since kafkajs has no
// consumer without a group). Not covered until consumer groups exist (issue #7): kafkajs's
// Consumer (group join, sync, heartbeats, offset commits).
func TestKafkajs(t *testing.T) {
	lookPath(t, "node")
	if _, err := os.Stat("node_modules/kafkajs/package.json"); err != nil {
		t.Fatalf("kafkajs is not installed in test/compat/node_modules (%v): run scripts/install-test-deps.sh", err)
	}
	testScriptClient(t, scriptClient{
		command:     []string{"node", "testdata/kafkajs_client.js"},
		env:         []string{"KAFKAJS_NO_PARTITIONER_WARNING=1"},
		consumeMode: "fetch",
		valuePrefix: "kafkajs-",
		headerSrc:   "kafkajs",
		checkStored: checkKafkajsBatches,
	})
}

// checkKafkajsBatches checks that the second half of the records (keys key-<n/2>...) went
// out as kafkajs's idempotent producer sends them: gzip batches with a producer id.
func checkKafkajsBatches(t *testing.T, addr, topic string, stored map[int32][]*kgo.Record) {
	idempotentBatches := 0
	for p := range stored {
		for _, bt := range fetchRawBatches(t, addr, topic, p) {
			if !bt.CRCValid {
				t.Errorf("partition %d batch at %d: CRC32C does not match", p, bt.FirstOffset)
			}
			if bt.ProducerID < 0 {
				if bt.Codec() != 0 {
					t.Errorf("partition %d batch at %d: plain producer batch has codec %d, want 0", p, bt.FirstOffset, bt.Codec())
				}
				continue
			}
			idempotentBatches++
			if bt.Codec() != 1 {
				t.Errorf("partition %d batch at %d: idempotent producer batch has codec %d, want 1 (gzip)", p, bt.FirstOffset, bt.Codec())
			}
		}
	}
	if idempotentBatches == 0 {
		t.Errorf("no stored batch carries a producer id: kafkajs did not produce idempotently")
	}
}
