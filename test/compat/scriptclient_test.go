package compat

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// scriptRecord is one JSON line printed by a client script.
type scriptRecord struct {
	I         int         `json:"i"`
	Partition int32       `json:"partition"`
	Offset    int64       `json:"offset"`
	Key       *string     `json:"key"`
	Value     *string     `json:"value"`
	Headers   [][2]string `json:"headers"`
}

func parseScriptRecords(t testing.TB, out []byte) []scriptRecord {
	t.Helper()
	var recs []scriptRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r scriptRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("client output line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read client output: %v", err)
	}
	return recs
}

// scriptClient describes a client script in testdata/. Every script speaks the same command
// line: `produce BOOTSTRAP TOPIC COUNT PARTITIONS` and `<consumeMode> BOOTSTRAP TOPIC
// PARTITION:OFFSET:COUNT...`, printing JSON lines (scriptRecord).
type scriptClient struct {
	command     []string // interpreter and script
	env         []string
	consumeMode string
	valuePrefix string // record i's value is valuePrefix + i
	headerSrc   string // every record carries the header src=headerSrc
	// checkStored, if set, inspects the topic after the produce step.
	checkStored func(t *testing.T, addr, topic string, stored map[int32][]*kgo.Record)
}

func (c scriptClient) run(t *testing.T, args ...string) []byte {
	t.Helper()
	all := append(append([]string{}, c.command[1:]...), args...)
	return runClient(t, nil, c.env, c.command[0], all...)
}

// testScriptClient produces with the script (acks=all, explicit partitions), checks every
// delivery report against what the broker stores, then consumes by partition and offset
// with the script and compares with the stored records.
func testScriptClient(t *testing.T, c scriptClient) {
	valuePrefix, headerSrc := c.valuePrefix, c.headerSrc
	b := startBroker(t)
	topic := topicName(t, "py")
	const partitions, n = 3, 900
	createTopic(t, b.Addr, topic, partitions)

	out := c.run(t, "produce", b.Addr, topic, strconv.Itoa(n), strconv.Itoa(partitions))
	reports := parseScriptRecords(t, out)
	if len(reports) != n {
		t.Fatalf("%d delivery reports, want %d", len(reports), n)
	}
	type place struct {
		partition int32
		offset    int64
	}
	delivered := make(map[int]place)
	for _, r := range reports {
		if r.Partition != int32(r.I%partitions) {
			t.Errorf("record %d delivered to partition %d, want %d", r.I, r.Partition, r.I%partitions)
		}
		delivered[r.I] = place{r.Partition, r.Offset}
	}

	stored := readAll(t, b.Addr, topic)
	total := 0
	for p, recs := range stored {
		total += len(recs)
		for _, r := range recs {
			var i int
			if _, err := fmt.Sscanf(string(r.Key), "key-%d", &i); err != nil {
				t.Fatalf("stored %s[%d]@%d: unexpected key %q", topic, p, r.Offset, r.Key)
			}
			if d, ok := delivered[i]; !ok || d != (place{p, r.Offset}) {
				t.Errorf("stored key-%d at %d@%d, delivery report said %d@%d", i, p, r.Offset, d.partition, d.offset)
			}
			if want := fmt.Sprintf("%s%d", valuePrefix, i); string(r.Value) != want {
				t.Errorf("stored key-%d: value %q, want %q", i, r.Value, want)
			}
			if len(r.Headers) != 1 || r.Headers[0].Key != "src" || string(r.Headers[0].Value) != headerSrc {
				t.Errorf("stored key-%d: headers %v, want src=%s", i, r.Headers, headerSrc)
			}
		}
	}
	if total != n {
		t.Fatalf("broker stores %d records, want %d", total, n)
	}
	if c.checkStored != nil {
		c.checkStored(t, b.Addr, topic, stored)
	}

	// Consume by partition and offset: partition 0 from the start, the others from the
	// middle, so the seek is exercised.
	var specs []string
	for p := range int32(partitions) {
		start := int64(0)
		if p > 0 {
			start = int64(len(stored[p]) / 2)
		}
		specs = append(specs, fmt.Sprintf("%d:%d:%d", p, start, int64(len(stored[p]))-start))
	}
	consumed := parseScriptRecords(t, c.run(t, append([]string{c.consumeMode, b.Addr, topic}, specs...)...))
	next := map[int32]int64{0: 0}
	for p := int32(1); p < partitions; p++ {
		next[p] = int64(len(stored[p]) / 2)
	}
	for _, c := range consumed {
		want, ok := next[c.Partition]
		if !ok || c.Offset != want {
			t.Fatalf("consumed partition %d offset %d, want offset %d next", c.Partition, c.Offset, want)
		}
		next[c.Partition]++
		s := stored[c.Partition][c.Offset]
		if c.Key == nil || *c.Key != string(s.Key) || c.Value == nil || *c.Value != string(s.Value) {
			t.Errorf("consumed %d@%d key %v value %v, stored key %q value %q",
				c.Partition, c.Offset, c.Key, c.Value, s.Key, s.Value)
		}
		if len(c.Headers) != 1 || c.Headers[0] != [2]string{"src", headerSrc} {
			t.Errorf("consumed %d@%d headers %v, want [[src %s]]", c.Partition, c.Offset, c.Headers, headerSrc)
		}
	}
	for p := range int32(partitions) {
		if next[p] != int64(len(stored[p])) {
			t.Errorf("partition %d: consumed up to offset %d, want %d", p, next[p], len(stored[p]))
		}
	}
}
