package compat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// TestConfluentTransactions: librdkafka's transactional producer (confluent-kafka-python)
// commits some transactions and aborts others across 3 partitions. A read_committed
// consumer must see exactly the committed records, in order within each partition; a
// read_uncommitted consumer sees every record, aborted ones included.
func TestConfluentTransactions(t *testing.T) {
	lookPath(t, debianPython)
	b := startBroker(t)
	topic := topicName(t, "txn")
	const partitions, txns, perTxn = 3, 9, 12
	createTopic(t, b.Addr, topic, partitions)

	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(debianPython, append([]string{"testdata/txn_confluent.py"}, args...)...)
		cmd.Env = append(os.Environ(), pythonEnv...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("txn_confluent.py %v: %v\n%s\n--- broker log:\n%s", args, err, stderr.String(), b.logTail())
		}
		return out
	}

	committed := map[int]bool{}
	for _, line := range bytes.Split(bytes.TrimSpace(run("produce", b.Addr, topic, strconv.Itoa(txns), strconv.Itoa(perTxn), strconv.Itoa(partitions))), []byte("\n")) {
		var r struct {
			Txn       int  `json:"txn"`
			Committed bool `json:"committed"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("producer output %q: %v", line, err)
		}
		committed[r.Txn] = r.Committed
	}
	if len(committed) != txns {
		t.Fatalf("the producer finished %d transactions, want %d", len(committed), txns)
	}

	// want lists, per partition, the values a consumer must see in order.
	want := func(all bool) map[int32][]string {
		w := map[int32][]string{}
		for i := range txns {
			if !committed[i] && !all {
				continue
			}
			for j := range perTxn {
				p := int32(j % partitions)
				w[p] = append(w[p], fmt.Sprintf("t%d-%d", i, j))
			}
		}
		return w
	}
	read := func(isolation string) map[int32][]string {
		got := map[int32][]string{}
		last := map[int32]int64{}
		for _, line := range bytes.Split(bytes.TrimSpace(run("consume", b.Addr, topic, strconv.Itoa(partitions), isolation)), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var r struct {
				Partition int32  `json:"partition"`
				Offset    int64  `json:"offset"`
				Value     string `json:"value"`
			}
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatalf("consumer output %q: %v", line, err)
			}
			if o, ok := last[r.Partition]; ok && r.Offset <= o {
				t.Errorf("%s: partition %d offset %d after %d", isolation, r.Partition, r.Offset, o)
			}
			last[r.Partition] = r.Offset
			got[r.Partition] = append(got[r.Partition], r.Value)
		}
		return got
	}
	for _, tc := range []struct {
		isolation string
		all       bool
	}{{"read_committed", false}, {"read_uncommitted", true}} {
		got, w := read(tc.isolation), want(tc.all)
		for p := range int32(partitions) {
			if fmt.Sprint(got[p]) != fmt.Sprint(w[p]) {
				t.Errorf("%s, partition %d:\n got %v\nwant %v", tc.isolation, p, got[p], w[p])
			}
		}
	}
}
