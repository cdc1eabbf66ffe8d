package compat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kcat 1.7.1 with librdkafka 2.0.2: metadata, produce and consume with keys and headers,
// and every compression codec, checked in the stored batches.

func TestKcatMetadata(t *testing.T) {
	kcat := lookPath(t, "kcat")
	b := startBroker(t)
	topic := topicName(t, "md")
	createTopic(t, b.Addr, topic, 3)

	// The plain listing a user reads.
	out := runClient(t, nil, nil, kcat, "-L", "-b", b.Addr)
	for _, want := range []string{
		"broker ",
		fmt.Sprintf("topic %q with 3 partitions:", topic),
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("kcat -L output lacks %q:\n%s", want, out)
		}
	}

	// The same listing as JSON, checked field by field.
	out = runClient(t, nil, nil, kcat, "-L", "-J", "-b", b.Addr, "-t", topic)
	var md struct {
		Brokers []struct {
			ID   int32  `json:"id"`
			Name string `json:"name"`
		} `json:"brokers"`
		Topics []struct {
			Topic      string `json:"topic"`
			Err        string `json:"error"`
			Partitions []struct {
				Partition int32  `json:"partition"`
				Leader    int32  `json:"leader"`
				Err       string `json:"error"`
				Replicas  []struct {
					ID int32 `json:"id"`
				} `json:"replicas"`
				ISRs []struct {
					ID int32 `json:"id"`
				} `json:"isrs"`
			} `json:"partitions"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(out, &md); err != nil {
		t.Fatalf("decode kcat -L -J output: %v\n%s", err, out)
	}
	if len(md.Brokers) != 1 || md.Brokers[0].Name != b.Addr {
		t.Fatalf("kcat -L -J brokers = %+v, want one broker at %s\n%s", md.Brokers, b.Addr, out)
	}
	brokerID := md.Brokers[0].ID
	if len(md.Topics) != 1 || md.Topics[0].Topic != topic || md.Topics[0].Err != "" {
		t.Fatalf("kcat -L -J topics = %+v, want only %s without error\n%s", md.Topics, topic, out)
	}
	parts := md.Topics[0].Partitions
	if len(parts) != 3 {
		t.Fatalf("kcat sees %d partitions of %s, want 3\n%s", len(parts), topic, out)
	}
	seen := make(map[int32]bool)
	for _, p := range parts {
		seen[p.Partition] = true
		if p.Err != "" || p.Leader != brokerID || len(p.Replicas) != 1 || p.Replicas[0].ID != brokerID ||
			len(p.ISRs) != 1 || p.ISRs[0].ID != brokerID {
			t.Errorf("partition %d: %+v, want leader, replica and ISR = broker %d, no error", p.Partition, p, brokerID)
		}
	}
	for p := int32(0); p < 3; p++ {
		if !seen[p] {
			t.Errorf("kcat -L -J lacks partition %d: %s", p, out)
		}
	}
}

// kcatRecord is one record as kcat -C prints it with kcatFormat.
type kcatRecord struct {
	Partition int32
	Offset    int64
	Key       string
	Headers   string
	Value     string
}

// kcatFormat prints partition, offset, key, headers and value, tab-separated, one record a line.
const kcatFormat = `%p\t%o\t%k\t%h\t%s\n`

func parseKcatRecords(t testing.TB, out []byte) []kcatRecord {
	t.Helper()
	var recs []kcatRecord
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			t.Fatalf("kcat -C line %q: %d tab-separated fields, want 5", line, len(f))
		}
		p, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("kcat -C line %q: bad partition or offset", line)
		}
		recs = append(recs, kcatRecord{Partition: int32(p), Offset: o, Key: f[2], Headers: f[3], Value: f[4]})
	}
	return recs
}

// kcatConsumeAll reads the whole topic with kcat's simple (group-less) consumer.
func kcatConsumeAll(t testing.TB, kcat, addr, topic string) []kcatRecord {
	t.Helper()
	out := runClient(t, nil, nil, kcat, "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q",
		"-f", kcatFormat)
	return parseKcatRecords(t, out)
}

func TestKcatKeysAndHeaders(t *testing.T) {
	kcat := lookPath(t, "kcat")
	b := startBroker(t)

	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{name: "plain"},
		// librdkafka enables idempotence only if InitProducerId is advertised.
		{name: "idempotent", extra: []string{"-X", "enable.idempotence=true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := topicName(t, "kh")
			createTopic(t, b.Addr, topic, 3)
			const n = 300
			var in bytes.Buffer
			want := make(map[string]string)
			for i := range n {
				k, v := fmt.Sprintf("key-%03d", i), fmt.Sprintf("value %d from kcat", i)
				want[k] = v
				fmt.Fprintf(&in, "%s:%s\n", k, v)
			}
			args := append([]string{"-P", "-b", b.Addr, "-t", topic, "-K:",
				"-H", "app=compat", "-H", "trace=t-1",
				"-X", "acks=all"}, tc.extra...)
			runClient(t, in.Bytes(), nil, kcat, args...)

			// What kcat reads back.
			got := kcatConsumeAll(t, kcat, b.Addr, topic)
			if len(got) != n {
				t.Fatalf("kcat consumed %d records, want %d", len(got), n)
			}
			byKey := make(map[string]kcatRecord)
			for _, r := range got {
				if _, dup := byKey[r.Key]; dup {
					t.Errorf("key %s consumed twice", r.Key)
				}
				byKey[r.Key] = r
				if want[r.Key] != r.Value {
					t.Errorf("key %q: value %q, want %q", r.Key, r.Value, want[r.Key])
				}
				if r.Headers != "app=compat,trace=t-1" {
					t.Errorf("key %q: headers %q, want app=compat,trace=t-1", r.Key, r.Headers)
				}
			}

			// What the broker stored, read by another client: same offsets, same headers.
			stored := readAll(t, b.Addr, topic)
			total := 0
			for p, recs := range stored {
				total += len(recs)
				for _, r := range recs {
					k := string(r.Key)
					kr, ok := byKey[k]
					if !ok || kr.Partition != p || kr.Offset != r.Offset {
						t.Errorf("stored %s[%d]@%d key %q: kcat saw it at %d@%d", topic, p, r.Offset, k, kr.Partition, kr.Offset)
					}
					if string(r.Value) != want[k] {
						t.Errorf("stored key %q: value %q, want %q", k, r.Value, want[k])
					}
					wantHeaders := []kgo.RecordHeader{{Key: "app", Value: []byte("compat")}, {Key: "trace", Value: []byte("t-1")}}
					if !equalHeaders(r.Headers, wantHeaders) {
						t.Errorf("stored key %q: headers %v, want %v", k, r.Headers, wantHeaders)
					}
				}
			}
			if total != n {
				t.Errorf("broker stores %d records, want %d", total, n)
			}
			if tc.name == "idempotent" {
				for p := range stored {
					for _, bt := range fetchRawBatches(t, b.Addr, topic, p) {
						if bt.ProducerID < 0 {
							t.Errorf("partition %d batch at %d has producer id %d: librdkafka did not produce idempotently",
								p, bt.FirstOffset, bt.ProducerID)
						}
					}
				}
			}
		})
	}
}

// kcatFeatures returns librdkafka's log of the protocol features it turned off for the
// broker, judged from the advertised ApiVersions ranges: the usual reason a codec is
// silently not used.
func kcatFeatures(t testing.TB, kcat, addr string) string {
	t.Helper()
	cmd := exec.Command(kcat, "-L", "-b", addr, "-m", "5", "-X", "debug=feature")
	out, err := cmd.CombinedOutput()
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "NOT supported") || strings.Contains(l, "Disabling feature") {
			if i := strings.Index(l, "]: "); i >= 0 {
				l = l[i+3:]
			}
			lines = append(lines, "  "+l)
		}
	}
	if err != nil {
		lines = append(lines, fmt.Sprintf("  (kcat -X debug=feature: %v)", err))
	}
	return strings.Join(lines, "\n")
}

func equalHeaders(a, b []kgo.RecordHeader) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func TestKcatCompression(t *testing.T) {
	kcat := lookPath(t, "kcat")
	b := startBroker(t)

	for _, tc := range []struct {
		codec string
		id    int16 // the codec bits of a v2 batch's attributes
	}{
		{"gzip", 1},
		{"snappy", 2},
		{"lz4", 3},
		{"zstd", 4},
	} {
		t.Run(tc.codec, func(t *testing.T) {
			topic := topicName(t, tc.codec)
			createTopic(t, b.Addr, topic, 1)
			const n = 500
			var in bytes.Buffer
			var want []string
			for i := range n {
				// Compressible values: librdkafka sends a batch uncompressed when
				// compression would not make it smaller.
				v := fmt.Sprintf("%s-%04d-%s", tc.codec, i, strings.Repeat("abcdefgh", 16))
				want = append(want, v)
				fmt.Fprintf(&in, "k%d:%s\n", i, v)
			}
			runClient(t, in.Bytes(), nil, kcat, "-P", "-b", b.Addr, "-t", topic, "-p", "0", "-K:",
				"-X", "compression.codec="+tc.codec, "-X", "linger.ms=20")

			batches := fetchRawBatches(t, b.Addr, topic, 0)
			records := 0
			explained := false
			for _, bt := range batches {
				records += int(bt.NumRecords)
				if bt.Codec() != tc.id {
					t.Errorf("stored batch at offset %d (%d records) has codec %d, want %d (%s)",
						bt.FirstOffset, bt.NumRecords, bt.Codec(), tc.id, tc.codec)
					if !explained {
						explained = true
						t.Errorf("librdkafka's feature detection for this broker:\n%s", kcatFeatures(t, kcat, b.Addr))
					}
				}
				if !bt.CRCValid {
					t.Errorf("stored batch at offset %d: CRC32C does not match", bt.FirstOffset)
				}
			}
			if records != n {
				t.Errorf("stored batches hold %d records, want %d", records, n)
			}
			t.Logf("%d records in %d %s batches", records, len(batches), tc.codec)

			got := kcatConsumeAll(t, kcat, b.Addr, topic)
			if len(got) != n {
				t.Fatalf("kcat consumed %d records, want %d", len(got), n)
			}
			for i, r := range got {
				if r.Offset != int64(i) || r.Key != fmt.Sprintf("k%d", i) || r.Value != want[i] {
					t.Errorf("record %d: offset %d key %q value %q, want offset %d key k%d value %q",
						i, r.Offset, r.Key, r.Value, i, i, want[i])
				}
			}
		})
	}
}
